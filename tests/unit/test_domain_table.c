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

#include "vs_domain_names.h"
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
static void make_uuids(vs_uuid_t *uuids, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    for (size_t b = 0; b < VS_UUID_LEN; b++)
      uuids[i].b[b] = (unsigned char)(rng_next(&seed) >> 56);
    uuids[i].b[7] = (unsigned char)(i >> 8);
    uuids[i].b[11] = (unsigned char)i;
  }
}

static void assert_sorted(const vs_domain_table_t *t) {
  for (size_t i = 1; i < t->n; i++)
    if (vs_uuid_cmp(&t->entries[i - 1]->uuid, &t->entries[i]->uuid) >= 0)
      fail_msg("entries %zu and %zu out of order", i - 1, i);
}

static void test_empty_table(void **state) {
  vs_domain_table_t t = {0};
  vs_uuid_t uuid = {{1}};
  assert_null(vs_domain_table_find(&t, &uuid));
  vs_domain_table_sweep(&t, 1, NULL, NULL);
  assert_int_equal(t.n, 0);
  vs_domain_table_clear(&t);
  vs_domain_table_clear(NULL);
}

static void test_insert_find_sorted(void **state) {
  static vs_uuid_t uuids[N_DOMAINS];
  static vs_domain_entry_t *got[N_DOMAINS];
  make_uuids(uuids, N_DOMAINS, 0x9E3779B97F4A7C15ULL);
  vs_domain_table_t t = {0};
  for (size_t i = 0; i < N_DOMAINS; i++) {
    bool is_new = false;
    got[i] = vs_domain_table_get(&t, &uuids[i], &is_new);
    assert_non_null(got[i]);
    assert_true(is_new);
    assert_memory_equal(got[i]->uuid.b, uuids[i].b, VS_UUID_LEN);
    assert_null(got[i]->label); /* a new entry is zeroed */
    assert_int_equal(got[i]->listed, 0);
    assert_int_equal(t.n, i + 1);
  }
  assert_true(t.cap >= t.n);
  assert_sorted(&t);
  for (size_t i = 0; i < N_DOMAINS; i++) {
    bool is_new = true;
    assert_ptr_equal(vs_domain_table_get(&t, &uuids[i], &is_new), got[i]);
    assert_false(is_new);
    assert_ptr_equal(vs_domain_table_find(&t, &uuids[i]), got[i]);
  }
  assert_int_equal(t.n, N_DOMAINS);

  vs_uuid_t absent = uuids[0];
  absent.b[15] ^= 0x01;
  assert_null(vs_domain_table_find(&t, &absent));
  static const vs_uuid_t lowest = {{0}},
                         highest = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff}};
  assert_null(vs_domain_table_find(&t, &lowest));
  assert_null(vs_domain_table_find(&t, &highest));
  vs_domain_table_clear(&t);
  assert_int_equal(t.n, 0);
  assert_null(t.entries);
}

/* The smallest and largest UUIDs go to the ends. */
static void test_insert_at_ends(void **state) {
  static const vs_uuid_t mid = {{0x80}}, low = {{0x00, 0x01}}, high = {{0xff}};
  vs_domain_table_t t = {0};
  bool is_new;
  assert_non_null(vs_domain_table_get(&t, &mid, &is_new));
  assert_non_null(vs_domain_table_get(&t, &high, &is_new));
  assert_non_null(vs_domain_table_get(&t, &low, &is_new));
  assert_int_equal(t.n, 3);
  assert_memory_equal(t.entries[0]->uuid.b, low.b, VS_UUID_LEN);
  assert_memory_equal(t.entries[1]->uuid.b, mid.b, VS_UUID_LEN);
  assert_memory_equal(t.entries[2]->uuid.b, high.b, VS_UUID_LEN);
  vs_domain_table_clear(&t);
}

typedef struct {
  char *names[N_DOMAINS];
  size_t n;
} gone_log_t;

static void record_gone(void *ud, const vs_domain_entry_t *e) {
  gone_log_t *log = ud;
  const char *name = e->label->name;
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

/* Entries not seen in the current listing are removed, and the callback
 * gets each one (its label names it). */
static void test_sweep(void **state) {
  static vs_uuid_t uuids[N_DOMAINS];
  static vs_domain_entry_t *entries[N_DOMAINS];
  make_uuids(uuids, N_DOMAINS, 42);
  vs_domain_table_t t = {0};
  gone_log_t log = {0};
  vs_config_t cfg;
  vs_config_init(&cfg);
  char *want[N_DOMAINS];
  size_t nwant = 0;

  for (size_t i = 0; i < N_DOMAINS; i++) {
    bool is_new;
    vs_domain_entry_t *e = vs_domain_table_get(&t, &uuids[i], &is_new);
    assert_non_null(e);
    entries[i] = e;
    char name[32], uuid[40];
    snprintf(name, sizeof(name), "dom-%04zu", i);
    snprintf(uuid, sizeof(uuid), "uuid-%04zu", i);
    e->label = vs_domain_label_new(&cfg, name, uuid, "hv");
    assert_non_null(e->label);
    fill_entry(e, i);
    e->listed = i % 2 == 0 ? 7 : 6; /* odd ones were not in listing 7 */
    if (i % 2)
      want[nwant++] = e->label->name;
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
  assert_string_equal(want[0], "dom-0001");
  assert_string_equal(want[nwant - 1], "dom-0999");

  assert_int_equal(t.n, N_DOMAINS / 2);
  assert_sorted(&t);
  for (size_t i = 0; i < N_DOMAINS; i++) {
    vs_domain_entry_t *e = vs_domain_table_find(&t, &uuids[i]);
    if (i % 2) {
      assert_null(e);
    } else {
      assert_ptr_equal(e, entries[i]); /* survivors are not moved or copied */
      char name[32];
      snprintf(name, sizeof(name), "dom-%04zu", i);
      assert_string_equal(e->label->name, name);
    }
  }

  /* nothing more to sweep in the same generation */
  size_t before = log.n;
  vs_domain_table_sweep(&t, 7, record_gone, &log);
  assert_int_equal(log.n, before);
  assert_int_equal(t.n, N_DOMAINS / 2);

  /* a removed domain that comes back is new */
  bool is_new = false;
  vs_domain_entry_t *back = vs_domain_table_get(&t, &uuids[1], &is_new);
  assert_non_null(back);
  assert_true(is_new);
  assert_null(back->label);
  back->listed = 8;

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

/* A restart forgets what was known of the old run. */
static void test_reset(void **state) {
  vs_domain_table_t t = {0};
  static const vs_uuid_t uuid = {{7}};
  bool is_new;
  vs_domain_entry_t *e = vs_domain_table_get(&t, &uuid, &is_new);
  assert_non_null(e);
  fill_entry(e, 0);
  e->nvcpu_cached = 2;
  e->prev_cpu_ns = 10;
  assert_true(e->devices_known);
  assert_int_equal(e->devices.ndisks, 1);
  vs_domain_entry_reset(e);
  assert_false(e->devices_known);
  assert_int_equal(e->devices.ndisks, 0);
  assert_int_equal(e->devices.nnics, 0);
  assert_null(e->devices.disk_targets);
  assert_int_equal(e->prev.nblock, 0);
  assert_int_equal(e->prev.nvcpu, 0);
  assert_int_equal(e->nvcpu_cached, 0);
  assert_int_equal(e->prev_cpu_ns, 0);
  vs_domain_entry_reset(e); /* twice */
  vs_domain_table_clear(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_table),
      cmocka_unit_test(test_insert_find_sorted),
      cmocka_unit_test(test_insert_at_ends),
      cmocka_unit_test(test_sweep),
      cmocka_unit_test(test_reset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
