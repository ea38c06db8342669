/* vs_domain_stats_parse() on records captured from QEMU (bulk_qemu.records)
 * and on small inline records for what the capture lacks; group names;
 * vs_cpu_percent(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/vs_tparam.h"
#include "vs_stats.h"
#include "vs_test_fixtures.h"

#define FIXTURE "bulk_qemu.records"

typedef struct {
  vs_fx_set_t set;
  char *text; /* the fixture file as text, for cross-checking the tables */
} fx_state_t;

static int group_setup(void **state) {
  fx_state_t *fx = calloc(1, sizeof(*fx));
  if (!fx)
    return -1;
  *state = fx;
  vs_fx_load(FIXTURE, &fx->set);
  fx->text = vs_fx_read(FIXTURE);
  return 0;
}

static int group_teardown(void **state) {
  fx_state_t *fx = *state;
  if (fx) {
    vs_fx_free(&fx->set);
    free(fx->text);
    free(fx);
  }
  return 0;
}

/* The VALUE of "FIELD TYPE VALUE" in record `record` of the fixture text,
 * found without the loader, or NULL. Returns a pointer into a static buffer
 * (tests run one at a time). */
static const char *fixture_text_value(const char *text, const char *record,
                                      const char *field) {
  static char value[256];
  char head[128];
  snprintf(head, sizeof(head), "\nrecord %s\n", record);
  const char *p = strstr(text, head);
  if (!p)
    return NULL;
  p += strlen(head);
  const char *end = strstr(p, "\nend\n");
  size_t flen = strlen(field);
  while (p && (!end || p < end)) {
    if (strncmp(p, field, flen) == 0 && p[flen] == ' ') {
      const char *v = strchr(p + flen + 1, ' ');
      if (!v)
        return NULL;
      v++;
      size_t n = strcspn(v, "\n");
      snprintf(value, sizeof(value), "%.*s", (int)n, v);
      return value;
    }
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  return NULL;
}

/* --- fixture: field values -------------------------------------------- */

typedef enum { SEC_CPU, SEC_BAL, SEC_VCPU, SEC_NET, SEC_BLK } section_t;

typedef struct {
  const char *record;
  const char *field; /* libvirt's name, as written in the fixture */
  section_t sec;
  unsigned dev; /* vCPU or device index */
  unsigned idx; /* vs_*_field_t */
  bool present;
  uint64_t value; /* copied from the fixture text */
} field_case_t;

static const field_case_t field_cases[] = {
    /* fx-full: running, 2 disks, 2 NICs */
    {"fx-full", "cpu.time", SEC_CPU, 0, VS_CPU_TIME, true, 1276676000},
    {"fx-full", "cpu.user", SEC_CPU, 0, VS_CPU_USER, true, 92345000},
    {"fx-full", "cpu.system", SEC_CPU, 0, VS_CPU_SYSTEM, true, 1184331000},
    {"fx-full", "balloon.current", SEC_BAL, 0, VS_BAL_CURRENT, true, 65536},
    {"fx-full", "balloon.maximum", SEC_BAL, 0, VS_BAL_MAXIMUM, true, 65536},
    {"fx-full", "balloon.last-update", SEC_BAL, 0, VS_BAL_LAST_UPDATE, true, 0},
    {"fx-full", "balloon.rss", SEC_BAL, 0, VS_BAL_RSS, true, 40792},
    {"fx-full", "balloon.swap_in", SEC_BAL, 0, VS_BAL_SWAP_IN, false, 0},
    {"fx-full", "balloon.usable", SEC_BAL, 0, VS_BAL_USABLE, false, 0},
    {"fx-full", "vcpu.0.state", SEC_VCPU, 0, VS_VCPU_STATE, true, 1},
    {"fx-full", "vcpu.0.time", SEC_VCPU, 0, VS_VCPU_TIME, true, 940000000},
    {"fx-full", "vcpu.0.wait", SEC_VCPU, 0, VS_VCPU_WAIT, true, 0},
    {"fx-full", "vcpu.0.delay", SEC_VCPU, 0, VS_VCPU_DELAY, true, 67253931},
    {"fx-full", "net.0.rx.bytes", SEC_NET, 0, VS_NET_RX_BYTES, true, 90},
    {"fx-full", "net.0.rx.pkts", SEC_NET, 0, VS_NET_RX_PKTS, true, 1},
    {"fx-full", "net.0.tx.bytes", SEC_NET, 0, VS_NET_TX_BYTES, true, 0},
    {"fx-full", "net.0.tx.drop", SEC_NET, 0, VS_NET_TX_DROP, true, 0},
    {"fx-full", "net.1.rx.bytes", SEC_NET, 1, VS_NET_RX_BYTES, true, 90},
    {"fx-full", "net.1.rx.errs", SEC_NET, 1, VS_NET_RX_ERRS, true, 0},
    {"fx-full", "block.0.rd.reqs", SEC_BLK, 0, VS_BLK_RD_REQS, true, 0},
    {"fx-full", "block.0.fl.times", SEC_BLK, 0, VS_BLK_FL_TIMES, true, 0},
    {"fx-full", "block.0.allocation", SEC_BLK, 0, VS_BLK_ALLOCATION, true, 0},
    {"fx-full", "block.0.capacity", SEC_BLK, 0, VS_BLK_CAPACITY, true,
     67108864},
    {"fx-full", "block.0.physical", SEC_BLK, 0, VS_BLK_PHYSICAL, true, 204800},
    {"fx-full", "block.1.capacity", SEC_BLK, 1, VS_BLK_CAPACITY, true,
     67108864},
    {"fx-full", "block.1.wr.bytes", SEC_BLK, 1, VS_BLK_WR_BYTES, true, 0},
    /* fx-sparse: no balloon last-update; sda an empty CD-ROM */
    {"fx-sparse", "cpu.time", SEC_CPU, 0, VS_CPU_TIME, true, 302861000},
    {"fx-sparse", "cpu.system", SEC_CPU, 0, VS_CPU_SYSTEM, true, 217448000},
    {"fx-sparse", "balloon.rss", SEC_BAL, 0, VS_BAL_RSS, true, 37144},
    {"fx-sparse", "balloon.last-update", SEC_BAL, 0, VS_BAL_LAST_UPDATE, false,
     0},
    {"fx-sparse", "vcpu.0.time", SEC_VCPU, 0, VS_VCPU_TIME, true, 20000000},
    {"fx-sparse", "vcpu.0.delay", SEC_VCPU, 0, VS_VCPU_DELAY, true, 30056984},
    {"fx-sparse", "net.0.rx.bytes", SEC_NET, 0, VS_NET_RX_BYTES, true, 90},
    {"fx-sparse", "block.0.physical", SEC_BLK, 0, VS_BLK_PHYSICAL, true,
     204800},
    {"fx-sparse", "block.1.rd.reqs", SEC_BLK, 1, VS_BLK_RD_REQS, true, 0},
    {"fx-sparse", "block.1.fl.times", SEC_BLK, 1, VS_BLK_FL_TIMES, true, 0},
    {"fx-sparse", "block.1.allocation", SEC_BLK, 1, VS_BLK_ALLOCATION, false,
     0},
    {"fx-sparse", "block.1.capacity", SEC_BLK, 1, VS_BLK_CAPACITY, false, 0},
    {"fx-sparse", "block.1.physical", SEC_BLK, 1, VS_BLK_PHYSICAL, false, 0},
    /* fx-paused */
    {"fx-paused", "cpu.time", SEC_CPU, 0, VS_CPU_TIME, true, 369758000},
    {"fx-paused", "cpu.user", SEC_CPU, 0, VS_CPU_USER, true, 67594000},
    {"fx-paused", "balloon.rss", SEC_BAL, 0, VS_BAL_RSS, true, 36404},
    {"fx-paused", "vcpu.0.delay", SEC_VCPU, 0, VS_VCPU_DELAY, true, 12232915},
    {"fx-paused", "net.0.rx.bytes", SEC_NET, 0, VS_NET_RX_BYTES, true, 176},
    {"fx-paused", "net.1.rx.pkts", SEC_NET, 1, VS_NET_RX_PKTS, true, 2},
    {"fx-paused", "block.1.physical", SEC_BLK, 1, VS_BLK_PHYSICAL, true,
     204800},
};

static const vs_fields_t *section_fields(const vs_domain_stats_t *st,
                                         section_t sec, unsigned dev) {
  switch (sec) {
  case SEC_CPU:
    return &st->cpu;
  case SEC_BAL:
    return &st->balloon;
  case SEC_VCPU:
    assert_true(dev < st->nvcpu);
    return &st->vcpu[dev];
  case SEC_NET:
    assert_true(dev < st->nnet);
    return &st->net[dev].f;
  case SEC_BLK:
    assert_true(dev < st->nblock);
    return &st->block[dev].f;
  }
  fail_msg("bad section %d", (int)sec);
  return NULL;
}

/* The table above agrees with the fixture file itself (read as text, not
 * through the loader), so the expectations cannot drift from the data. */
static void test_field_table_matches_fixture_text(void **state) {
  const fx_state_t *fx = *state;
  for (size_t i = 0; i < VS_NELEM(field_cases); i++) {
    const field_case_t *c = &field_cases[i];
    const char *v = fixture_text_value(fx->text, c->record, c->field);
    if (!c->present) {
      if (v)
        fail_msg("%s %s: expected absent from the fixture, found \"%s\"",
                 c->record, c->field, v);
      continue;
    }
    if (!v)
      fail_msg("%s %s: not in the fixture text", c->record, c->field);
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)c->value);
    if (strcmp(buf, v) != 0)
      fail_msg("%s %s: table says %s, fixture says %s", c->record, c->field,
               buf, v);
  }
}

static void test_fixture_field_values(void **state) {
  const fx_state_t *fx = *state;
  for (size_t i = 0; i < VS_NELEM(field_cases); i++) {
    const field_case_t *c = &field_cases[i];
    vs_domain_stats_t st = {0};
    vs_fx_stats(&fx->set, c->record, &st);
    const vs_fields_t *f = section_fields(&st, c->sec, c->dev);
    if (vs_fields_has(f, c->idx) != c->present)
      fail_msg("%s %s: present=%d, expected %d", c->record, c->field,
               vs_fields_has(f, c->idx), c->present);
    if (c->present && f->v[c->idx] != c->value)
      fail_msg("%s %s: %llu, expected %llu", c->record, c->field,
               (unsigned long long)f->v[c->idx], (unsigned long long)c->value);
    vs_domain_stats_clear(&st);
  }
}

/* --- fixture: shape of each record --------------------------------------- */

#define BIT(i) (1u << (i))
#define ALL_BLOCK_COUNTERS                                                     \
  (BIT(VS_BLK_RD_REQS) | BIT(VS_BLK_RD_BYTES) | BIT(VS_BLK_RD_TIMES) |         \
   BIT(VS_BLK_WR_REQS) | BIT(VS_BLK_WR_BYTES) | BIT(VS_BLK_WR_TIMES) |         \
   BIT(VS_BLK_FL_REQS) | BIT(VS_BLK_FL_TIMES))
#define ALL_BLOCK_SIZES                                                        \
  (BIT(VS_BLK_ALLOCATION) | BIT(VS_BLK_CAPACITY) | BIT(VS_BLK_PHYSICAL))
#define ALL_NET ((1u << VS_NET__MAX) - 1)
#define ALL_VCPU ((1u << VS_VCPU__MAX) - 1)
#define ALL_CPU ((1u << VS_CPU__MAX) - 1)
#define BAL_CUR_MAX_RSS                                                        \
  (BIT(VS_BAL_CURRENT) | BIT(VS_BAL_MAXIMUM) | BIT(VS_BAL_RSS))

typedef struct {
  const char *record;
  int state, reason;
  unsigned groups;
  unsigned vcpu_current, vcpu_maximum;
  size_t nvcpu, nnet, nblock;
  uint32_t cpu_have, balloon_have, vcpu0_have;
} shape_case_t;

static const shape_case_t shape_cases[] = {
    {"fx-full", 1, 1, VS_GROUPS_DEFAULT, 1, 1, 1, 2, 2, ALL_CPU,
     BAL_CUR_MAX_RSS | BIT(VS_BAL_LAST_UPDATE), ALL_VCPU},
    {"fx-sparse", 1, 1, VS_GROUPS_DEFAULT, 1, 1, 1, 1, 2, ALL_CPU,
     BAL_CUR_MAX_RSS, ALL_VCPU},
    {"fx-paused", 3, 1, VS_GROUPS_DEFAULT, 1, 1, 1, 2, 2, ALL_CPU,
     BAL_CUR_MAX_RSS | BIT(VS_BAL_LAST_UPDATE), ALL_VCPU},
};

/* State, counts and exactly which fields are present: the many extras of a
 * real record (vcpu.0.exits.sum, cpu.haltpoll.*, block.0.backingIndex) are
 * ignored and create nothing. */
static void test_fixture_shape(void **state) {
  const fx_state_t *fx = *state;
  for (size_t i = 0; i < VS_NELEM(shape_cases); i++) {
    const shape_case_t *c = &shape_cases[i];
    vs_domain_stats_t st = {0};
    vs_fx_stats(&fx->set, c->record, &st);
    print_message("record %s\n", c->record);
    assert_true(st.have_state);
    assert_int_equal(st.state, c->state);
    assert_int_equal(st.reason, c->reason);
    assert_int_equal(st.groups, c->groups); /* no perf.* in the capture */
    assert_true(st.have_vcpu_current);
    assert_int_equal(st.vcpu_current, c->vcpu_current);
    assert_int_equal(st.vcpu_maximum, c->vcpu_maximum);
    assert_int_equal(st.nvcpu, c->nvcpu);
    assert_int_equal(st.nnet, c->nnet);
    assert_int_equal(st.nblock, c->nblock);
    assert_int_equal(st.nperf, 0);
    assert_null(st.perf);
    assert_int_equal(st.cpu.have, c->cpu_have);
    assert_int_equal(st.balloon.have, c->balloon_have);
    assert_int_equal(st.vcpu[0].have, c->vcpu0_have);
    for (size_t n = 0; n < st.nnet; n++)
      assert_int_equal(st.net[n].f.have, ALL_NET);
    vs_domain_stats_clear(&st);
  }
}

typedef struct {
  const char *record;
  section_t sec; /* SEC_NET or SEC_BLK */
  unsigned idx;
  const char *name;
  const char *path; /* NULL: no path */
  uint32_t have;
} device_case_t;

static const device_case_t device_cases[] = {
    {"fx-full", SEC_BLK, 0, "vda", "/var/lib/libvirt/images/fx-full-vda.qcow2",
     ALL_BLOCK_COUNTERS | ALL_BLOCK_SIZES},
    {"fx-full", SEC_BLK, 1, "vdb", "/var/lib/libvirt/images/fx-full-vdb.qcow2",
     ALL_BLOCK_COUNTERS | ALL_BLOCK_SIZES},
    {"fx-full", SEC_NET, 0, "vt2c9cb5n0", NULL, ALL_NET},
    {"fx-full", SEC_NET, 1, "vt2c9cb5n1", NULL, ALL_NET},
    {"fx-sparse", SEC_BLK, 0, "vda",
     "/var/lib/libvirt/images/fx-sparse-vda.qcow2",
     ALL_BLOCK_COUNTERS | ALL_BLOCK_SIZES},
    /* the empty CD-ROM: counters, but no path and no sizes */
    {"fx-sparse", SEC_BLK, 1, "sda", NULL, ALL_BLOCK_COUNTERS},
    {"fx-sparse", SEC_NET, 0, "vt347b04n0", NULL, ALL_NET},
    {"fx-paused", SEC_BLK, 0, "vda",
     "/var/lib/libvirt/images/fx-paused-vda.qcow2",
     ALL_BLOCK_COUNTERS | ALL_BLOCK_SIZES},
    {"fx-paused", SEC_BLK, 1, "vdb",
     "/var/lib/libvirt/images/fx-paused-vdb.qcow2",
     ALL_BLOCK_COUNTERS | ALL_BLOCK_SIZES},
    {"fx-paused", SEC_NET, 1, "vt4a48c8n1", NULL, ALL_NET},
};

static void test_fixture_devices(void **state) {
  const fx_state_t *fx = *state;
  for (size_t i = 0; i < VS_NELEM(device_cases); i++) {
    const device_case_t *c = &device_cases[i];
    vs_domain_stats_t st = {0};
    vs_fx_stats(&fx->set, c->record, &st);
    print_message("%s %s.%u\n", c->record, c->sec == SEC_NET ? "net" : "block",
                  c->idx);
    const vs_device_stats_t *d;
    if (c->sec == SEC_NET) {
      assert_true(c->idx < st.nnet);
      d = &st.net[c->idx];
    } else {
      assert_true(c->idx < st.nblock);
      d = &st.block[c->idx];
    }
    assert_string_equal(d->name, c->name);
    if (c->path)
      assert_string_equal(d->path, c->path);
    else
      assert_null(d->path);
    assert_int_equal(d->f.have, c->have);
    vs_domain_stats_clear(&st);
  }
}

/* --- inline records ------------------------------------------------------ */

static void parse_ok(const virTypedParameter *p, int n, vs_domain_stats_t *st) {
  vs_error_t err = {0};
  int rc = vs_domain_stats_parse(p, n, st, &err);
  if (rc != 0)
    fail_msg("parse failed (%d): %s", rc, err.msg);
  assert_int_equal(err.code, 0);
}

static void test_parse_empty(void **state) {
  vs_domain_stats_t st = {0}, zero = {0};
  parse_ok(NULL, 0, &st);
  assert_memory_equal(&st, &zero, sizeof(st));
}

static void test_parse_perf(void **state) {
  virTypedParameter p[] = {
      VS_TP_ULL("perf.cmt", 4096),
      VS_TP_ULL("perf.cpu_cycles", 123456789),
      VS_TP_STR("perf.bogus", "12"),   /* string: not a value */
      VS_TP_LLONG("perf.stalled", -1), /* -1: not available */
      VS_TP_ULL("perf.", 5),           /* no event name */
      VS_TP_DOUBLE("perf.ratio", 0.5), /* not a counter */
      VS_TP_INT("perf.instructions", 0),
      VS_TP_UINT("perf.cache_misses", 7),
  };
  vs_domain_stats_t st = {0};
  parse_ok(p, VS_NELEM(p), &st);
  assert_int_equal(st.groups, VS_GROUP_PERF);
  static const struct {
    const char *name;
    uint64_t value;
  } want[] = {{"cmt", 4096},
              {"cpu_cycles", 123456789},
              {"instructions", 0},
              {"cache_misses", 7}};
  assert_int_equal(st.nperf, VS_NELEM(want));
  for (size_t i = 0; i < VS_NELEM(want); i++) {
    assert_string_equal(st.perf[i].name, want[i].name);
    assert_int_equal(st.perf[i].value, want[i].value);
  }
  vs_domain_stats_clear(&st);
}

static void assert_stats_zeroed(const vs_domain_stats_t *st) {
  vs_domain_stats_t zero = {0};
  assert_memory_equal(st, &zero, sizeof(*st));
}

/* More perf events than VS_MAX_PERF: -EINVAL, message naming the field, and
 * the stats cleared (no leak of the events already parsed). */
static void test_parse_perf_too_many(void **state) {
  size_t n = VS_MAX_PERF + 1;
  virTypedParameter *p = calloc(n, sizeof(*p));
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) {
    snprintf(p[i].field, sizeof(p[i].field), "perf.event%zu", i);
    p[i].type = VIR_TYPED_PARAM_ULLONG;
    p[i].value.ul = i;
  }
  vs_domain_stats_t st = {0};
  vs_error_t err = {0};
  int rc = vs_domain_stats_parse(p, (int)n, &st, &err);
  assert_int_equal(rc, -EINVAL);
  assert_int_equal(err.code, -EINVAL);
  char want[64];
  snprintf(want, sizeof(want), "perf.event%d", VS_MAX_PERF);
  assert_non_null(strstr(err.msg, want));
  assert_stats_zeroed(&st);
  free(p);

  /* exactly VS_MAX_PERF is fine */
  p = calloc(VS_MAX_PERF, sizeof(*p));
  assert_non_null(p);
  for (size_t i = 0; i < VS_MAX_PERF; i++) {
    snprintf(p[i].field, sizeof(p[i].field), "perf.event%zu", i);
    p[i].type = VIR_TYPED_PARAM_ULLONG;
  }
  parse_ok(p, VS_MAX_PERF, &st);
  assert_int_equal(st.nperf, VS_MAX_PERF);
  vs_domain_stats_clear(&st);
  free(p);
}

/* A value libvirt marks as unavailable (-1 in a signed type) or of the wrong
 * type for a counter leaves the field absent; the rest still parses. */
typedef struct {
  const char *what;
  virTypedParameter p[3];
  int n;
  section_t sec;
  unsigned dev, idx;
} absent_case_t;

static const absent_case_t absent_cases[] = {
    {"cpu.time -1", {VS_TP_LLONG("cpu.time", -1)}, 1, SEC_CPU, 0, VS_CPU_TIME},
    {"cpu.user string",
     {VS_TP_STR("cpu.user", "5")},
     1,
     SEC_CPU,
     0,
     VS_CPU_USER},
    {"balloon.current int -1",
     {VS_TP_INT("balloon.current", -1)},
     1,
     SEC_BAL,
     0,
     VS_BAL_CURRENT},
    {"balloon.rss double",
     {VS_TP_DOUBLE("balloon.rss", 10.0)},
     1,
     SEC_BAL,
     0,
     VS_BAL_RSS},
    {"vcpu.0.time llong -1",
     {VS_TP_LLONG("vcpu.0.time", -1), VS_TP_ULL("vcpu.0.wait", 3)},
     2,
     SEC_VCPU,
     0,
     VS_VCPU_TIME},
    {"vcpu.0.state int -2",
     {VS_TP_INT("vcpu.0.state", -2), VS_TP_ULL("vcpu.0.wait", 3)},
     2,
     SEC_VCPU,
     0,
     VS_VCPU_STATE},
    {"block.0.allocation llong -1",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_LLONG("block.0.allocation", -1)},
     2,
     SEC_BLK,
     0,
     VS_BLK_ALLOCATION},
    {"block.0.rd.reqs string",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_STR("block.0.rd.reqs", "12")},
     2,
     SEC_BLK,
     0,
     VS_BLK_RD_REQS},
    {"block.0.wr.reqs boolean",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_BOOL("block.0.wr.reqs", 1)},
     2,
     SEC_BLK,
     0,
     VS_BLK_WR_REQS},
    {"net.0.rx.bytes double",
     {VS_TP_STR("net.0.name", "vnet0"), VS_TP_DOUBLE("net.0.rx.bytes", 1.0)},
     2,
     SEC_NET,
     0,
     VS_NET_RX_BYTES},
    {"net.0.tx.pkts int -1",
     {VS_TP_STR("net.0.name", "vnet0"), VS_TP_INT("net.0.tx.pkts", -1)},
     2,
     SEC_NET,
     0,
     VS_NET_TX_PKTS},
};

static void test_parse_absent_values(void **state) {
  for (size_t i = 0; i < VS_NELEM(absent_cases); i++) {
    const absent_case_t *c = &absent_cases[i];
    print_message("%s\n", c->what);
    vs_domain_stats_t st = {0};
    parse_ok(c->p, c->n, &st);
    const vs_fields_t *f = section_fields(&st, c->sec, c->dev);
    assert_false(vs_fields_has(f, c->idx));
    vs_domain_stats_clear(&st);
  }
}

static void test_parse_state_and_vcpu_count_absent(void **state) {
  virTypedParameter p[] = {
      VS_TP_INT("state.state", -1),
      VS_TP_INT("state.reason", 2),
      VS_TP_INT("vcpu.current", -1),
  };
  vs_domain_stats_t st = {0};
  parse_ok(p, VS_NELEM(p), &st);
  assert_false(st.have_state);
  assert_false(st.have_vcpu_current);
  assert_int_equal(st.groups, VS_GROUP_STATE | VS_GROUP_VCPU);
  vs_domain_stats_clear(&st);
}

/* Only one direction reported: the other stays absent, nothing invented. */
static void test_parse_single_direction(void **state) {
  virTypedParameter p[] = {
      VS_TP_STR("net.0.name", "vnet0"),
      VS_TP_ULL("net.0.rx.bytes", 1234),
      VS_TP_STR("block.0.name", "vda"),
      VS_TP_ULL("block.0.wr.times", 5000000),
  };
  vs_domain_stats_t st = {0};
  parse_ok(p, VS_NELEM(p), &st);
  assert_int_equal(st.nnet, 1);
  assert_int_equal(st.net[0].f.have, BIT(VS_NET_RX_BYTES));
  assert_int_equal(st.net[0].f.v[VS_NET_RX_BYTES], 1234);
  assert_int_equal(st.nblock, 1);
  assert_int_equal(st.block[0].f.have, BIT(VS_BLK_WR_TIMES));
  assert_int_equal(st.block[0].f.v[VS_BLK_WR_TIMES], 5000000);
  vs_domain_stats_clear(&st);
}

/* vs_stats.h: "Returns ... -EINVAL (index out of bounds) with err set; st
 * is cleared on failure". */
static const char *const out_of_range_fields[] = {
    "block.99999.rd.reqs",
    "block.4096.rd.reqs", /* VS_MAX_DEVICES */
    "net.4096.rx.bytes",
    "vcpu.16384.time", /* VS_MAX_VCPUS */
    "block.99999999999999999999.rd.reqs",
};

static void test_parse_index_out_of_range(void **state) {
  for (size_t i = 0; i < VS_NELEM(out_of_range_fields); i++) {
    virTypedParameter p[] = {
        VS_TP_STR("block.0.name", "vda"),
        VS_TP_ULL("block.0.rd.reqs", 1),
        VS_TP_ULL("", 7),
    };
    snprintf(p[2].field, sizeof(p[2].field), "%s", out_of_range_fields[i]);
    print_message("%s\n", p[2].field);
    vs_domain_stats_t st = {0};
    vs_error_t err = {0};
    int rc = vs_domain_stats_parse(p, VS_NELEM(p), &st, &err);
    vs_domain_stats_t copy = st;
    vs_domain_stats_clear(&st); /* no leak if the assertions below fail */
    if (rc != -EINVAL)
      fail_msg("%s: returned %d, expected -EINVAL (vs_stats.h: index out of "
               "bounds)",
               p[2].field, rc);
    assert_int_equal(err.code, -EINVAL);
    assert_non_null(strstr(err.msg, p[2].field));
    assert_stats_zeroed(&copy);
  }
}

/* The last index below the bounds is accepted. */
static void test_parse_index_at_limit(void **state) {
  virTypedParameter p[] = {
      VS_TP_STR("block.4095.name", "vdzz"),
      VS_TP_ULL("block.4095.rd.reqs", 3),
      VS_TP_ULL("vcpu.16383.time", 11),
  };
  vs_domain_stats_t st = {0};
  parse_ok(p, VS_NELEM(p), &st);
  assert_int_equal(st.nblock, 1); /* 4095 nameless slots dropped */
  assert_string_equal(st.block[0].name, "vdzz");
  assert_int_equal(st.block[0].f.v[VS_BLK_RD_REQS], 3);
  assert_int_equal(st.nvcpu, VS_MAX_VCPUS);
  assert_int_equal(st.vcpu[VS_MAX_VCPUS - 1].have, BIT(VS_VCPU_TIME));
  assert_int_equal(st.vcpu[VS_MAX_VCPUS - 1].v[VS_VCPU_TIME], 11);
  assert_int_equal(st.vcpu[0].have, 0);
  vs_domain_stats_clear(&st);
}

/* Field names that are not "<prefix><index>.<field>" with a plain decimal
 * index are not device fields: they neither create a device nor change
 * device 0. */
static const char *const malformed_index_fields[] = {
    "net.01.rx.bytes",  "net.00.rx.bytes", "net.-1.rx.bytes",
    "net.+0.rx.bytes",  "net. 0.rx.bytes", "net.x.rx.bytes",
    "net.0x1.rx.bytes", "net.1",           "net.1.",
    "net..rx.bytes",    "net.0",           "block.01.rd.reqs",
    "block.1a.rd.reqs", "vcpu.01.time",
};

static void test_parse_malformed_index_ignored(void **state) {
  for (size_t i = 0; i < VS_NELEM(malformed_index_fields); i++) {
    virTypedParameter p[] = {
        VS_TP_STR("net.0.name", "vnet0"),
        VS_TP_STR("block.0.name", "vda"),
        VS_TP_ULL("", 5),
    };
    snprintf(p[2].field, sizeof(p[2].field), "%s", malformed_index_fields[i]);
    print_message("%s\n", p[2].field);
    vs_domain_stats_t st = {0};
    parse_ok(p, VS_NELEM(p), &st);
    assert_int_equal(st.nnet, 1);
    assert_int_equal(st.net[0].f.have, 0);
    assert_int_equal(st.nblock, 1);
    assert_int_equal(st.block[0].f.have, 0);
    assert_int_equal(st.nvcpu, 0);
    vs_domain_stats_clear(&st);
  }
}

/* Devices that never got a name (or got a non-string one) are dropped, with
 * whatever they owned; the named ones keep their data and order. */
static void test_parse_device_without_name_dropped(void **state) {
  virTypedParameter p[] = {
      VS_TP_STR("block.0.path", "/img/zero"), /* no name */
      VS_TP_ULL("block.0.rd.reqs", 1),
      VS_TP_STR("block.1.name", "vdb"),
      VS_TP_ULL("block.1.rd.reqs", 2),
      VS_TP_ULL("block.2.rd.reqs", 3), /* no name */
      VS_TP_ULL("block.3.name", 3),    /* a number is no name */
      VS_TP_STR("block.4.name", "vde"),
      VS_TP_STR("block.4.path", "/img/four"),
      VS_TP_ULL("net.0.rx.bytes", 10), /* no name */
      VS_TP_STR("net.1.name", "vnet1"),
      VS_TP_ULL("net.1.rx.bytes", 11),
  };
  vs_domain_stats_t st = {0};
  parse_ok(p, VS_NELEM(p), &st);
  assert_int_equal(st.nblock, 2);
  assert_string_equal(st.block[0].name, "vdb");
  assert_null(st.block[0].path);
  assert_int_equal(st.block[0].f.v[VS_BLK_RD_REQS], 2);
  assert_string_equal(st.block[1].name, "vde");
  assert_string_equal(st.block[1].path, "/img/four");
  assert_int_equal(st.block[1].f.have, 0);
  assert_int_equal(st.nnet, 1);
  assert_string_equal(st.net[0].name, "vnet1");
  assert_int_equal(st.net[0].f.v[VS_NET_RX_BYTES], 11);
  vs_domain_stats_clear(&st);
}

/* Names and paths are copies: the record can go away after parsing; a
 * repeated name replaces the first one (no leak). */
static void test_parse_strings_copied(void **state) {
  char *name = strdup("vda"), *path = strdup("/img/a");
  assert_non_null(name);
  assert_non_null(path);
  virTypedParameter p[] = {
      VS_TP_STR("block.0.name", "old"),
      VS_TP_STR("block.0.name", name),
      VS_TP_STR("block.0.path", path),
  };
  vs_domain_stats_t st = {0};
  parse_ok(p, VS_NELEM(p), &st);
  free(name);
  free(path);
  assert_int_equal(st.nblock, 1);
  assert_string_equal(st.block[0].name, "vda");
  assert_string_equal(st.block[0].path, "/img/a");
  vs_domain_stats_clear(&st);
}

/* vcpu.<n>.<extra> (hypervisor-specific statistics) creates no vCPU. */
static void test_parse_vcpu_extras_ignored(void **state) {
  virTypedParameter p[] = {
      VS_TP_ULL("vcpu.0.exits.sum", 3672),
      VS_TP_BOOL("vcpu.0.blocking.cur", 0),
      VS_TP_ULL("vcpu.3.halt_wakeup.sum", 1),
      VS_TP_ULL("vcpu.1.time", 5),
  };
  vs_domain_stats_t st = {0};
  parse_ok(p, VS_NELEM(p), &st);
  assert_int_equal(st.nvcpu, 2); /* up to vcpu.1, not vcpu.3 */
  assert_int_equal(st.vcpu[0].have, 0);
  assert_int_equal(st.vcpu[1].have, BIT(VS_VCPU_TIME));
  assert_int_equal(st.groups, VS_GROUP_VCPU);
  vs_domain_stats_clear(&st);
}

/* Each prefix marks its group even when the field itself is unknown;
 * fields of no group mark nothing. */
static const struct {
  const char *field;
  unsigned group;
} group_prefix_cases[] = {
    {"state.other", VS_GROUP_STATE},
    {"cpu.haltpoll.fail.time", VS_GROUP_CPU},
    {"balloon.foo", VS_GROUP_BALLOON},
    {"vcpu.maximum", VS_GROUP_VCPU},
    {"net.count", VS_GROUP_INTERFACE},
    {"block.count", VS_GROUP_BLOCK},
    {"perf.", VS_GROUP_PERF},
    {"dirtyrate.calc_status", 0},
    {"memory.bandwidth.monitor.count", 0},
    {"cpustate", 0},
};

static void test_parse_group_bits(void **state) {
  for (size_t i = 0; i < VS_NELEM(group_prefix_cases); i++) {
    virTypedParameter p[] = {VS_TP_UINT("", 2)};
    snprintf(p[0].field, sizeof(p[0].field), "%s", group_prefix_cases[i].field);
    print_message("%s\n", p[0].field);
    vs_domain_stats_t st = {0};
    parse_ok(p, 1, &st);
    assert_int_equal(st.groups, group_prefix_cases[i].group);
    vs_domain_stats_clear(&st);
  }
}

/* --- group names --------------------------------------------------------- */

static const struct {
  vs_group_t group;
  const char *name;
  unsigned virt;
} group_cases[] = {
    {VS_GROUP_STATE, "state", VIR_DOMAIN_STATS_STATE},
    {VS_GROUP_CPU, "cpu", VIR_DOMAIN_STATS_CPU_TOTAL},
    {VS_GROUP_BALLOON, "balloon", VIR_DOMAIN_STATS_BALLOON},
    {VS_GROUP_VCPU, "vcpu", VIR_DOMAIN_STATS_VCPU},
    {VS_GROUP_INTERFACE, "interface", VIR_DOMAIN_STATS_INTERFACE},
    {VS_GROUP_BLOCK, "block", VIR_DOMAIN_STATS_BLOCK},
    {VS_GROUP_PERF, "perf", VIR_DOMAIN_STATS_PERF},
};

static void test_group_names(void **state) {
  unsigned all = 0, all_virt = 0;
  for (size_t i = 0; i < VS_NELEM(group_cases); i++) {
    assert_string_equal(vs_group_name(group_cases[i].group),
                        group_cases[i].name);
    assert_int_equal(vs_group_from_name(group_cases[i].name),
                     group_cases[i].group);
    assert_int_equal(vs_groups_to_virt(group_cases[i].group),
                     group_cases[i].virt);
    all |= group_cases[i].group;
    all_virt |= group_cases[i].virt;
  }
  assert_int_equal(all, VS_GROUPS_ALL);
  assert_int_equal(vs_groups_to_virt(VS_GROUPS_ALL), all_virt);
  assert_int_equal(vs_groups_to_virt(0), 0);
  assert_int_equal(vs_groups_to_virt(VS_GROUPS_DEFAULT),
                   all_virt & ~(unsigned)VIR_DOMAIN_STATS_PERF);
  assert_null(vs_group_name(0));
  assert_null(vs_group_name(VS_GROUP_STATE | VS_GROUP_CPU));
  assert_int_equal(vs_group_from_name("disk"), 0);
  assert_int_equal(vs_group_from_name(""), 0);
  assert_int_equal(vs_group_from_name("all"), 0); /* a config word only */
}

/* --- building stats by hand (per-domain sampling) ----------------------- */

static void test_device_append_and_nvcpu(void **state) {
  vs_domain_stats_t st = {0};
  vs_device_stats_t *d =
      vs_device_stats_append(&st.block, &st.nblock, "vda", "/img/a");
  assert_non_null(d);
  vs_fields_set(&d->f, VS_BLK_RD_REQS, 9);
  d = vs_device_stats_append(&st.block, &st.nblock, "sda", NULL);
  assert_non_null(d);
  assert_int_equal(st.nblock, 2);
  assert_string_equal(st.block[0].name, "vda");
  assert_string_equal(st.block[0].path, "/img/a");
  assert_int_equal(st.block[0].f.v[VS_BLK_RD_REQS], 9);
  assert_string_equal(st.block[1].name, "sda");
  assert_null(st.block[1].path);
  assert_int_equal(st.block[1].f.have, 0);

  assert_int_equal(vs_domain_stats_set_nvcpu(&st, 3), 0);
  assert_int_equal(st.nvcpu, 3);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(st.vcpu[i].have, 0);
  vs_fields_set(&st.vcpu[2], VS_VCPU_TIME, 1);
  assert_int_equal(vs_domain_stats_set_nvcpu(&st, 2), 0);
  assert_int_equal(st.vcpu[1].have, 0);
  assert_int_equal(vs_domain_stats_set_nvcpu(&st, 0), 0);
  assert_null(st.vcpu);
  assert_int_equal(st.nvcpu, 0);

  vs_domain_stats_clear(&st);
  assert_stats_zeroed(&st);
  vs_domain_stats_clear(NULL);
}

/* --- vs_cpu_percent ------------------------------------------------------ */

static const struct {
  const char *what;
  uint64_t cpu0, t0, cpu1, t1;
  unsigned nvcpu;
  double want; /* < 0: "no figure" */
} percent_cases[] = {
    {"half a vCPU", 1000, 5000, 500001000, 1000005000, 1, 50.0},
    {"one of two vCPUs", 0, 0, 1000000000, 1000000000, 2, 50.0},
    {"idle", 7, 0, 7, 1000000000, 4, 0.0},
    {"all of four", 0, 0, 4000000000, 1000000000, 4, 100.0},
    {"jitter over 100 clamped", 0, 0, 1050000000, 1000000000, 1, 100.0},
    {"far over 100 clamped", 0, 0, 9000000000, 1000000000, 1, 100.0},
    {"no time elapsed", 0, 10, 100, 10, 1, -1.0},
    {"clock went back", 0, 10, 100, 5, 1, -1.0},
    {"counter went back", 200, 0, 100, 1000000000, 1, -1.0},
    {"no vCPUs", 0, 0, 100, 1000000000, 0, -1.0},
};

static void test_cpu_percent(void **state) {
  for (size_t i = 0; i < VS_NELEM(percent_cases); i++) {
    print_message("%s\n", percent_cases[i].what);
    double got = vs_cpu_percent(percent_cases[i].cpu0, percent_cases[i].t0,
                                percent_cases[i].cpu1, percent_cases[i].t1,
                                percent_cases[i].nvcpu);
    if (percent_cases[i].want < 0)
      assert_true(got < 0);
    else
      assert_float_equal(got, percent_cases[i].want, 1e-9);
  }
}

/* --- vs_domain_stats_drop_regressions ----------------------------------- */

/* Whether the field libvirt calls `field` ("cpu.time", "vcpu.0.time",
 * "block.1.rd.reqs") is present in st; devices by position. */
static bool field_present(const vs_domain_stats_t *st, const char *field) {
  static const struct {
    const char *prefix;
    section_t sec;
    const char *const *names;
    size_t n;
    bool indexed;
  } map[] = {
      {"cpu.", SEC_CPU, vs_cpu_field_names, VS_CPU__MAX, false},
      {"balloon.", SEC_BAL, vs_balloon_field_names, VS_BAL__MAX, false},
      {"vcpu.", SEC_VCPU, vs_vcpu_field_names, VS_VCPU__MAX, true},
      {"net.", SEC_NET, vs_net_field_names, VS_NET__MAX, true},
      {"block.", SEC_BLK, vs_block_field_names, VS_BLK__MAX, true},
  };
  for (size_t i = 0; i < VS_NELEM(map); i++) {
    size_t plen = strlen(map[i].prefix);
    if (strncmp(field, map[i].prefix, plen) != 0)
      continue;
    unsigned dev = 0;
    const char *rest = field + plen;
    if (map[i].indexed) {
      char *end;
      dev = (unsigned)strtoul(rest, &end, 10);
      assert_true(*end == '.');
      rest = end + 1;
    }
    int idx = vs_name_index(map[i].names, map[i].n, rest);
    if (idx < 0)
      fail_msg("test table: unknown field %s", field);
    return vs_fields_has(section_fields(st, map[i].sec, dev), (unsigned)idx);
  }
  fail_msg("test table: unknown field %s", field);
  return false;
}

typedef struct {
  const char *what;
  virTypedParameter prev[6], cur[6];
  int nprev, ncur;
  size_t dropped;
  const char *gone[4]; /* fields of cur that must now be absent */
  const char *kept[4]; /* fields of cur that must still be present */
} regress_case_t;

static const regress_case_t regress_cases[] = {
    {"cpu counters",
     {VS_TP_ULL("cpu.time", 100), VS_TP_ULL("cpu.user", 50),
      VS_TP_ULL("cpu.system", 50)},
     {VS_TP_ULL("cpu.time", 99), VS_TP_ULL("cpu.user", 50),
      VS_TP_ULL("cpu.system", 51)},
     3,
     3,
     1,
     {"cpu.time"},
     {"cpu.user", "cpu.system"}},
    {"balloon: sizes may shrink, counters may not",
     {VS_TP_ULL("balloon.current", 2000), VS_TP_ULL("balloon.swap_in", 9),
      VS_TP_ULL("balloon.minor_fault", 9), VS_TP_ULL("balloon.rss", 900)},
     {VS_TP_ULL("balloon.current", 1000), VS_TP_ULL("balloon.swap_in", 8),
      VS_TP_ULL("balloon.minor_fault", 10), VS_TP_ULL("balloon.rss", 800)},
     4,
     4,
     1,
     {"balloon.swap_in"},
     {"balloon.current", "balloon.minor_fault", "balloon.rss"}},
    {"vCPU times by number; state is no counter; new vCPU untouched",
     {VS_TP_ULL("vcpu.0.time", 500), VS_TP_INT("vcpu.0.state", 1),
      VS_TP_ULL("vcpu.0.delay", 5)},
     {VS_TP_ULL("vcpu.0.time", 0), VS_TP_INT("vcpu.0.state", 0),
      VS_TP_ULL("vcpu.0.delay", 5), VS_TP_ULL("vcpu.1.time", 1)},
     3,
     4,
     1,
     {"vcpu.0.time"},
     {"vcpu.0.state", "vcpu.0.delay", "vcpu.1.time"}},
    {"block devices matched by name, not position; sizes may shrink",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.rd.reqs", 10),
      VS_TP_STR("block.1.name", "vdb"), VS_TP_ULL("block.1.rd.reqs", 5),
      VS_TP_ULL("block.1.allocation", 900)},
     {VS_TP_STR("block.0.name", "vdb"), VS_TP_ULL("block.0.rd.reqs", 4),
      VS_TP_ULL("block.0.allocation", 800), VS_TP_STR("block.1.name", "vda"),
      VS_TP_ULL("block.1.rd.reqs", 11)},
     5,
     5,
     1,
     {"block.0.rd.reqs"},
     {"block.0.allocation", "block.1.rd.reqs"}},
    {"a new interface is not compared",
     {VS_TP_STR("net.0.name", "vnet0"), VS_TP_ULL("net.0.rx.bytes", 100)},
     {VS_TP_STR("net.0.name", "vnet1"), VS_TP_ULL("net.0.rx.bytes", 1),
      VS_TP_STR("net.1.name", "vnet0"), VS_TP_ULL("net.1.rx.bytes", 99)},
     2,
     4,
     1,
     {"net.1.rx.bytes"},
     {"net.0.rx.bytes"}},
    {"absent before: kept",
     {VS_TP_ULL("cpu.user", 5)},
     {VS_TP_ULL("cpu.time", 1), VS_TP_ULL("cpu.user", 5)},
     1,
     2,
     0,
     {NULL},
     {"cpu.time", "cpu.user"}},
    {"no previous reading",
     {{{0}}},
     {VS_TP_ULL("cpu.time", 1), VS_TP_STR("block.0.name", "vda"),
      VS_TP_ULL("block.0.rd.reqs", 0)},
     0,
     3,
     0,
     {NULL},
     {"cpu.time", "block.0.rd.reqs"}},
};

static void test_drop_regressions(void **state) {
  for (size_t i = 0; i < VS_NELEM(regress_cases); i++) {
    const regress_case_t *c = &regress_cases[i];
    print_message("%s\n", c->what);
    vs_domain_stats_t prev = {0}, cur = {0};
    parse_ok(c->prev, c->nprev, &prev);
    parse_ok(c->cur, c->ncur, &cur);
    assert_int_equal(vs_domain_stats_drop_regressions(&cur, &prev), c->dropped);
    for (size_t k = 0; k < VS_NELEM(c->gone) && c->gone[k]; k++)
      if (field_present(&cur, c->gone[k]))
        fail_msg("%s still present", c->gone[k]);
    for (size_t k = 0; k < VS_NELEM(c->kept) && c->kept[k]; k++)
      if (!field_present(&cur, c->kept[k]))
        fail_msg("%s dropped", c->kept[k]);
    vs_domain_stats_clear(&prev);
    vs_domain_stats_clear(&cur);
  }
}

/* On captured records: a reading against itself drops nothing; fx-paused
 * against fx-full (lower CPU and vCPU times, same disk names, other NIC
 * names) drops exactly the lower counters. */
static void test_drop_regressions_fixture(void **state) {
  const fx_state_t *fx = *state;
  vs_domain_stats_t full = {0}, again = {0}, paused = {0};
  vs_fx_stats(&fx->set, "fx-full", &full);
  vs_fx_stats(&fx->set, "fx-full", &again);
  vs_fx_stats(&fx->set, "fx-paused", &paused);
  assert_int_equal(vs_domain_stats_drop_regressions(&again, &full), 0);
  assert_int_equal(again.cpu.have, full.cpu.have);
  assert_int_equal(vs_domain_stats_drop_regressions(&paused, &full), 5);
  assert_int_equal(paused.cpu.have, 0);
  assert_int_equal(paused.vcpu[0].have, BIT(VS_VCPU_STATE) | BIT(VS_VCPU_WAIT));
  assert_int_equal(paused.net[0].f.have, ALL_NET);
  assert_int_equal(paused.block[0].f.have,
                   ALL_BLOCK_COUNTERS | ALL_BLOCK_SIZES);
  vs_domain_stats_clear(&full);
  vs_domain_stats_clear(&again);
  vs_domain_stats_clear(&paused);
}

static vs_perf_stat_t perf_stat(const char *name, uint64_t v) {
  vs_perf_stat_t p = {.name = strdup(name), .value = v};
  assert_non_null(p.name);
  return p;
}

/* Perf counters that go backwards are dropped, levels (cmt) are not. */
static void test_drop_regressions_perf(void **state) {
  vs_domain_stats_t prev = {.groups = VS_GROUP_PERF}, cur = prev;
  prev.perf = calloc(3, sizeof(*prev.perf));
  cur.perf = calloc(3, sizeof(*cur.perf));
  assert_non_null(prev.perf);
  assert_non_null(cur.perf);
  prev.perf[0] = perf_stat("context_switches", 30);
  prev.perf[1] = perf_stat("cmt", 500);
  prev.perf[2] = perf_stat("page_faults", 7);
  prev.nperf = 3;
  cur.perf[0] = perf_stat("context_switches", 0); /* went back: dropped */
  cur.perf[1] = perf_stat("cmt", 100);            /* a level: kept */
  cur.perf[2] = perf_stat("page_faults", 9);
  cur.nperf = 3;
  assert_int_equal(vs_domain_stats_drop_regressions(&cur, &prev), 1);
  assert_int_equal(cur.nperf, 2);
  assert_string_equal(cur.perf[0].name, "cmt");
  assert_string_equal(cur.perf[1].name, "page_faults");
  vs_domain_stats_clear(&cur);
  vs_domain_stats_clear(&prev);
}

/* Merging replaces only the groups the newer reading has, with copies. */
static void test_merge_groups(void **state) {
  vs_domain_stats_t dst = {0}, a = {0}, b = {0};
  a.groups = VS_GROUP_STATE | VS_GROUP_INTERFACE;
  a.have_state = true;
  a.state = 1;
  vs_device_stats_t *n = vs_device_stats_append(&a.net, &a.nnet, "vnet0", NULL);
  assert_non_null(n);
  vs_fields_set(&n->f, VS_NET_RX_BYTES, 100);
  b.groups = VS_GROUP_CPU | VS_GROUP_BLOCK | VS_GROUP_VCPU | VS_GROUP_PERF;
  vs_fields_set(&b.cpu, VS_CPU_TIME, 5000);
  assert_non_null(vs_device_stats_append(&b.block, &b.nblock, "vda", "/x"));
  assert_int_equal(vs_domain_stats_set_nvcpu(&b, 2), 0);
  vs_fields_set(&b.vcpu[1], VS_VCPU_TIME, 42);
  b.perf = calloc(1, sizeof(*b.perf));
  assert_non_null(b.perf);
  b.perf[0] = perf_stat("cpu_cycles", 9);
  b.nperf = 1;
  assert_int_equal(vs_domain_stats_merge(&dst, &a), 0);
  assert_int_equal(vs_domain_stats_merge(&dst, &b), 0);
  vs_domain_stats_clear(&a);
  vs_domain_stats_clear(&b); /* dst holds copies */
  assert_int_equal(dst.groups, VS_GROUP_STATE | VS_GROUP_INTERFACE |
                                   VS_GROUP_CPU | VS_GROUP_BLOCK |
                                   VS_GROUP_VCPU | VS_GROUP_PERF);
  assert_true(dst.have_state);
  assert_int_equal(dst.nnet, 1);
  assert_string_equal(dst.net[0].name, "vnet0");
  assert_int_equal(dst.net[0].f.v[VS_NET_RX_BYTES], 100);
  assert_int_equal(dst.cpu.v[VS_CPU_TIME], 5000);
  assert_int_equal(dst.nblock, 1);
  assert_string_equal(dst.block[0].path, "/x");
  assert_int_equal(dst.nvcpu, 2);
  assert_int_equal(dst.vcpu[1].v[VS_VCPU_TIME], 42);
  assert_int_equal(dst.nperf, 1);
  assert_string_equal(dst.perf[0].name, "cpu_cycles");
  /* a newer interface reading replaces the older one, the rest stays */
  vs_domain_stats_t c = {.groups = VS_GROUP_INTERFACE};
  assert_int_equal(vs_domain_stats_merge(&dst, &c), 0);
  assert_int_equal(dst.nnet, 0);
  assert_int_equal(dst.nblock, 1);
  vs_domain_stats_clear(&dst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_field_table_matches_fixture_text),
      cmocka_unit_test(test_fixture_field_values),
      cmocka_unit_test(test_fixture_shape),
      cmocka_unit_test(test_fixture_devices),
      cmocka_unit_test(test_parse_empty),
      cmocka_unit_test(test_parse_perf),
      cmocka_unit_test(test_parse_perf_too_many),
      cmocka_unit_test(test_parse_absent_values),
      cmocka_unit_test(test_parse_state_and_vcpu_count_absent),
      cmocka_unit_test(test_parse_single_direction),
      cmocka_unit_test(test_parse_index_out_of_range),
      cmocka_unit_test(test_parse_index_at_limit),
      cmocka_unit_test(test_parse_malformed_index_ignored),
      cmocka_unit_test(test_parse_device_without_name_dropped),
      cmocka_unit_test(test_parse_strings_copied),
      cmocka_unit_test(test_parse_vcpu_extras_ignored),
      cmocka_unit_test(test_parse_group_bits),
      cmocka_unit_test(test_group_names),
      cmocka_unit_test(test_device_append_and_nvcpu),
      cmocka_unit_test(test_cpu_percent),
      cmocka_unit_test(test_drop_regressions),
      cmocka_unit_test(test_drop_regressions_fixture),
      cmocka_unit_test(test_drop_regressions_perf),
      cmocka_unit_test(test_merge_groups),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
