/* vs_domain_table: insert/find by UUID, sorted order, sweeping domains that
 * were not seen, freeing what entries own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vs_domain_table.h"
#include "vs_test_fixtures.h"

#define N_DOMAINS 1000

/* xorshift64*: fixed seed, so a failure reproduces. */
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

/* Random UUIDs, distinct by construction (index in bytes 7 and 11, which
 * random bytes around it keep from dominating the order). */
static void make_uuids(unsigned char (*uuids)[VIR_UUID_BUFLEN], size_t n,
                       uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    for (size_t b = 0; b < VIR_UUID_BUFLEN; b++)
      uuids[i][b] = (unsigned char)(rng_next(&seed) >> 56);
    uuids[i][7] = (unsigned char)(i >> 8);
    uuids[i][11] = (unsigned char)i;
  }
}

static void assert_sorted(const vs_domain_table_t *t) {
  for (size_t i = 1; i < t->n; i++)
    if (memcmp(t->entries[i - 1]->uuid, t->entries[i]->uuid, VIR_UUID_BUFLEN) >=
        0)
      fail_msg("entries %zu and %zu out of order", i - 1, i);
}

static void test_empty_table(void **state) {
  vs_domain_table_t t = {0};
  unsigned char uuid[VIR_UUID_BUFLEN] = {1};
  assert_null(vs_domain_table_find(&t, uuid));
  vs_domain_table_sweep(&t, 1, NULL, NULL);
  assert_int_equal(t.n, 0);
  vs_domain_table_clear(&t);
  vs_domain_table_clear(NULL);
}

static void test_insert_find_sorted(void **state) {
  static unsigned char uuids[N_DOMAINS][VIR_UUID_BUFLEN];
  static vs_domain_entry_t *got[N_DOMAINS];
  make_uuids(uuids, N_DOMAINS, 0x9E3779B97F4A7C15ULL);
  vs_domain_table_t t = {0};
  for (size_t i = 0; i < N_DOMAINS; i++) {
    bool is_new = false;
    got[i] = vs_domain_table_get(&t, uuids[i], &is_new);
    assert_non_null(got[i]);
    assert_true(is_new);
    assert_memory_equal(got[i]->uuid, uuids[i], VIR_UUID_BUFLEN);
    assert_null(got[i]->name); /* a new entry is zeroed */
    assert_int_equal(got[i]->seen, 0);
    assert_int_equal(t.n, i + 1);
  }
  assert_true(t.cap >= t.n);
  assert_sorted(&t);
  for (size_t i = 0; i < N_DOMAINS; i++) {
    bool is_new = true;
    assert_ptr_equal(vs_domain_table_get(&t, uuids[i], &is_new), got[i]);
    assert_false(is_new);
    assert_ptr_equal(vs_domain_table_find(&t, uuids[i]), got[i]);
  }
  assert_int_equal(t.n, N_DOMAINS);

  unsigned char absent[VIR_UUID_BUFLEN];
  memcpy(absent, uuids[0], VIR_UUID_BUFLEN);
  absent[15] ^= 0x01;
  assert_null(vs_domain_table_find(&t, absent));
  static const unsigned char lowest[VIR_UUID_BUFLEN] = {0},
                             highest[VIR_UUID_BUFLEN] = {
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff};
  assert_null(vs_domain_table_find(&t, lowest));
  assert_null(vs_domain_table_find(&t, highest));
  vs_domain_table_clear(&t);
  assert_int_equal(t.n, 0);
  assert_null(t.entries);
}

/* The smallest and largest UUIDs go to the ends. */
static void test_insert_at_ends(void **state) {
  static const unsigned char mid[VIR_UUID_BUFLEN] = {0x80},
                             low[VIR_UUID_BUFLEN] = {0x00, 0x01},
                             high[VIR_UUID_BUFLEN] = {0xff};
  vs_domain_table_t t = {0};
  bool is_new;
  assert_non_null(vs_domain_table_get(&t, mid, &is_new));
  assert_non_null(vs_domain_table_get(&t, high, &is_new));
  assert_non_null(vs_domain_table_get(&t, low, &is_new));
  assert_int_equal(t.n, 3);
  assert_memory_equal(t.entries[0]->uuid, low, VIR_UUID_BUFLEN);
  assert_memory_equal(t.entries[1]->uuid, mid, VIR_UUID_BUFLEN);
  assert_memory_equal(t.entries[2]->uuid, high, VIR_UUID_BUFLEN);
  vs_domain_table_clear(&t);
}

typedef struct {
  char *names[N_DOMAINS];
  size_t n;
} gone_log_t;

static void record_gone(void *ud, const char *name) {
  gone_log_t *log = ud;
  assert_non_null(name);
  assert_true(log->n < N_DOMAINS);
  log->names[log->n] = strdup(name);
  assert_non_null(log->names[log->n]);
  log->n++;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Give e everything an entry can own, so freeing it is checked too (ASan,
 * valgrind). */
static void fill_entry(vs_domain_entry_t *e, size_t i) {
  if (i % 3 == 0) {
    vs_error_t err = {0};
    int rc = vs_domxml_devices(
        "<domain><devices><disk><source file='/x'/><target dev='vda'/></disk>"
        "<interface><target dev='vnet0'/></interface></devices></domain>",
        &e->devices, &err);
    assert_int_equal(rc, 0);
    e->devices_known = true;
  }
  if (i % 4 == 0) {
    assert_non_null(
        vs_device_stats_append(&e->prev.block, &e->prev.nblock, "vda", "/x"));
    assert_int_equal(vs_domain_stats_set_nvcpu(&e->prev, 2), 0);
  }
}

/* Entries not seen in the current generation are removed, and the callback
 * gets each one's name (or its UUID string when it has no name). */
static void test_sweep(void **state) {
  static unsigned char uuids[N_DOMAINS][VIR_UUID_BUFLEN];
  static vs_domain_entry_t *entries[N_DOMAINS];
  make_uuids(uuids, N_DOMAINS, 42);
  vs_domain_table_t t = {0};
  gone_log_t log = {0};
  char *want[N_DOMAINS];
  size_t nwant = 0;

  for (size_t i = 0; i < N_DOMAINS; i++) {
    bool is_new;
    vs_domain_entry_t *e = vs_domain_table_get(&t, uuids[i], &is_new);
    assert_non_null(e);
    entries[i] = e;
    snprintf(e->uuid_str, sizeof(e->uuid_str), "uuid-%04zu", i);
    if (i != 1) { /* entry 1 never got a name */
      char name[32];
      snprintf(name, sizeof(name), "dom-%04zu", i);
      e->name = strdup(name);
      assert_non_null(e->name);
    }
    fill_entry(e, i);
    e->seen = i % 2 == 0 ? 7 : 6; /* odd ones were not seen in round 7 */
    if (i % 2)
      want[nwant++] = e->name ? e->name : e->uuid_str;
  }
  /* copy what the callback must report before the entries are freed */
  for (size_t i = 0; i < nwant; i++) {
    want[i] = strdup(want[i]);
    assert_non_null(want[i]);
  }

  vs_domain_table_sweep(&t, 7, record_gone, &log);

  assert_int_equal(log.n, nwant);
  qsort(log.names, log.n, sizeof(log.names[0]), cmp_str);
  qsort(want, nwant, sizeof(want[0]), cmp_str);
  for (size_t i = 0; i < nwant; i++)
    assert_string_equal(log.names[i], want[i]);
  assert_string_equal(want[0], "dom-0003"); /* sorted: "dom-..." < "uuid-" */
  assert_string_equal(want[nwant - 1], "uuid-0001");

  assert_int_equal(t.n, N_DOMAINS / 2);
  assert_sorted(&t);
  for (size_t i = 0; i < N_DOMAINS; i++) {
    vs_domain_entry_t *e = vs_domain_table_find(&t, uuids[i]);
    if (i % 2) {
      assert_null(e);
    } else {
      assert_ptr_equal(e, entries[i]); /* survivors are not moved or copied */
      char name[32];
      snprintf(name, sizeof(name), "dom-%04zu", i);
      assert_string_equal(e->name, name);
    }
  }

  /* nothing more to sweep in the same generation */
  size_t before = log.n;
  vs_domain_table_sweep(&t, 7, record_gone, &log);
  assert_int_equal(log.n, before);
  assert_int_equal(t.n, N_DOMAINS / 2);

  /* a removed domain that comes back is new */
  bool is_new = false;
  vs_domain_entry_t *back = vs_domain_table_get(&t, uuids[1], &is_new);
  assert_non_null(back);
  assert_true(is_new);
  assert_null(back->name);
  back->seen = 8;

  /* next round sees only that one; no callback given */
  vs_domain_table_sweep(&t, 8, NULL, NULL);
  assert_int_equal(t.n, 1);
  assert_ptr_equal(t.entries[0], back);

  vs_domain_table_clear(&t);
  for (size_t i = 0; i < log.n; i++)
    free(log.names[i]);
  for (size_t i = 0; i < nwant; i++)
    free(want[i]);
}

static void test_forget_devices(void **state) {
  vs_domain_table_t t = {0};
  static const unsigned char uuid[VIR_UUID_BUFLEN] = {7};
  bool is_new;
  vs_domain_entry_t *e = vs_domain_table_get(&t, uuid, &is_new);
  assert_non_null(e);
  fill_entry(e, 0);
  assert_true(e->devices_known);
  assert_int_equal(e->devices.ndisks, 1);
  vs_domain_entry_forget_devices(e);
  assert_false(e->devices_known);
  assert_int_equal(e->devices.ndisks, 0);
  assert_int_equal(e->devices.nnics, 0);
  assert_null(e->devices.disk_targets);
  vs_domain_entry_forget_devices(e); /* twice */
  vs_domain_table_clear(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_table),
      cmocka_unit_test(test_insert_find_sorted),
      cmocka_unit_test(test_insert_at_ends),
      cmocka_unit_test(test_sweep),
      cmocka_unit_test(test_forget_devices),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
