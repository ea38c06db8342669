/* vs_metrics_domain(): the complete list of values for captured records
 * (identifiers, data source kinds, unit conversions) in virtscale's own and
 * in the bundled virt plugin's naming, group selection, device filters,
 * device naming options, single-direction fallbacks, and conformance of
 * every emitted value list to collectd's types.db. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/vs_idfield.h"
#include "vs_config.h"
#include "vs_metrics.h"
#include "vs_test_fixtures.h"

#define FIXTURE "bulk_qemu.records"
#define KIB 1024.0

/* --- collecting what vs_metrics_domain() emits --------------------------- */

typedef struct {
  char id[2 * VS_IDENT_MAX]; /* "type-type_instance", or "type" */
  const char *type;
  char type_instance[VS_IDENT_MAX];
  unsigned nvalues;
  vs_value_t values[2];
} got_t;

#define SINK_MAX 256

typedef struct {
  got_t m[SINK_MAX];
  size_t n;
} sink_t;

static void collect(void *ud, const vs_metric_t *m) {
  sink_t *s = ud;
  assert_true(s->n < SINK_MAX);
  assert_non_null(m->type);
  assert_non_null(m->type_instance);
  assert_true(m->nvalues == 1 || m->nvalues == 2);
  assert_true(strlen(m->type_instance) < VS_IDENT_MAX);
  got_t *g = &s->m[s->n++];
  g->type = m->type;
  snprintf(g->type_instance, sizeof(g->type_instance), "%s", m->type_instance);
  if (m->type_instance[0])
    snprintf(g->id, sizeof(g->id), "%s-%s", m->type, m->type_instance);
  else
    snprintf(g->id, sizeof(g->id), "%s", m->type);
  g->nvalues = m->nvalues;
  g->values[0] = m->values[0];
  g->values[1] = m->values[1];
}

#define S(x)                                                                   \
  { .type = VS_CONF_STRING, .string = (x) }
#define B(x)                                                                   \
  { .type = VS_CONF_BOOLEAN, .boolean = (x) }

typedef struct {
  const char *key;
  vs_conf_value_t v[2];
  size_t n;
} line_t;

static void config_from(vs_config_t *cfg, const line_t *lines, size_t n) {
  vs_config_init(cfg);
  for (size_t i = 0; i < n && lines[i].key; i++) {
    vs_error_t err = {0};
    if (vs_config_set(cfg, lines[i].key, lines[i].v, lines[i].n, &err) != 0)
      fail_msg("config %s: %s", lines[i].key, err.msg);
  }
  vs_error_t err = {0};
  if (vs_config_finish(cfg, &err) != 0)
    fail_msg("config: %s", err.msg);
}

/* Run vs_metrics_domain() for st under the config lines into a new sink
 * (caller frees). */
static sink_t *run_stats(const vs_domain_stats_t *st, const char *domain,
                         const line_t *lines, size_t nlines,
                         const vs_metrics_extra_t *extra_in) {
  vs_config_t cfg;
  config_from(&cfg, lines, nlines);
  vs_metrics_opts_t opts = vs_metrics_opts_from_config(&cfg);
  vs_metrics_extra_t extra = {.domain_name = domain};
  if (extra_in)
    extra = *extra_in;
  sink_t *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  size_t count = vs_metrics_domain(&opts, st, &extra, collect, s);
  vs_config_clear(&cfg);
  assert_int_equal(count, s->n);
  return s;
}

static sink_t *run_record(const vs_fx_set_t *set, const char *record,
                          const line_t *lines, size_t nlines,
                          const vs_metrics_extra_t *extra) {
  vs_domain_stats_t st = {0};
  vs_fx_stats(set, record, &st);
  sink_t *s = run_stats(&st, record, lines, nlines, extra);
  vs_domain_stats_clear(&st);
  return s;
}

static sink_t *run_params(const virTypedParameter *p, int n,
                          const line_t *lines, size_t nlines,
                          const vs_metrics_extra_t *extra) {
  vs_domain_stats_t st = {0};
  vs_error_t err = {0};
  if (vs_domain_stats_parse(p, n, &st, &err) != 0)
    fail_msg("inline record does not parse: %s", err.msg);
  sink_t *s = run_stats(&st, "inline", lines, nlines, extra);
  vs_domain_stats_clear(&st);
  return s;
}

static const got_t *find(const sink_t *s, const char *id) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->m[i].id, id) == 0)
      return &s->m[i];
  return NULL;
}

/* Position of id in the emission order; fails when it is not there. */
static size_t index_of(const sink_t *s, const char *id) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->m[i].id, id) == 0)
      return i;
  fail_msg("%s not emitted", id);
  return 0;
}

/* Number of metrics whose type instance ends in suffix. */
static size_t count_instance_suffix(const sink_t *s, const char *suffix) {
  size_t n = 0, len = strlen(suffix);
  for (size_t i = 0; i < s->n; i++) {
    size_t tl = strlen(s->m[i].type_instance);
    n += tl >= len && strcmp(s->m[i].type_instance + tl - len, suffix) == 0;
  }
  return n;
}

/* --- comparing with an expected list ------------------------------------- */

typedef struct {
  const char *id;
  vs_ds_kind_t kind;
  unsigned n;
  double v[2]; /* DERIVE values compared exactly as integers */
} want_t;

#define G1(id, a)                                                              \
  {                                                                            \
    id, VS_DS_GAUGE, 1, { a, 0 }                                               \
  }
#define G2(id, a, b)                                                           \
  {                                                                            \
    id, VS_DS_GAUGE, 2, { a, b }                                               \
  }
#define D1(id, a)                                                              \
  {                                                                            \
    id, VS_DS_DERIVE, 1, { a, 0 }                                              \
  }
#define D2(id, a, b)                                                           \
  {                                                                            \
    id, VS_DS_DERIVE, 2, { a, b }                                              \
  }

static bool value_matches(const vs_value_t *v, vs_ds_kind_t kind, double w) {
  if (v->kind != kind)
    return false;
  if (kind == VS_DS_DERIVE)
    return v->derive == (int64_t)w;
  return v->gauge == w || fabs(v->gauge - w) <= 1e-9 * fabs(w);
}

static void print_got(const got_t *g) {
  print_error("    %s %s", g->id, g->values[0].kind == VS_DS_GAUGE ? "G" : "D");
  for (unsigned i = 0; i < g->nvalues; i++) {
    if (g->values[i].kind == VS_DS_GAUGE)
      print_error(" %.17g", g->values[i].gauge);
    else
      print_error(" %lld", (long long)g->values[i].derive);
  }
  print_error("\n");
}

/* Exactly the metrics in want (any order), each once, with kinds and
 * values; lists every difference before failing. */
static void assert_metrics(const sink_t *s, const want_t *want, size_t nwant) {
  size_t problems = 0;
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = i + 1; j < s->n; j++)
      if (strcmp(s->m[i].id, s->m[j].id) == 0) {
        print_error("  emitted twice: %s\n", s->m[i].id);
        problems++;
      }
  for (size_t i = 0; i < nwant; i++) {
    const got_t *g = find(s, want[i].id);
    if (!g) {
      print_error("  missing: %s\n", want[i].id);
      problems++;
      continue;
    }
    bool ok = g->nvalues == want[i].n;
    for (unsigned k = 0; ok && k < g->nvalues; k++)
      ok = value_matches(&g->values[k], want[i].kind, want[i].v[k]);
    if (!ok) {
      print_error("  wrong: %s, expected %s %u values %.17g %.17g, got\n",
                  want[i].id, want[i].kind == VS_DS_GAUGE ? "GAUGE" : "DERIVE",
                  want[i].n, want[i].v[0], want[i].v[1]);
      print_got(g);
      problems++;
    }
  }
  for (size_t i = 0; i < s->n; i++) {
    bool expected = false;
    for (size_t j = 0; j < nwant && !expected; j++)
      expected = strcmp(s->m[i].id, want[j].id) == 0;
    if (!expected) {
      print_error("  unexpected:\n");
      print_got(&s->m[i]);
      problems++;
    }
  }
  if (problems || s->n != nwant)
    fail_msg("%zu metrics emitted, %zu expected, %zu problems (listed above)",
             s->n, nwant, problems);
}

static void assert_has(const sink_t *s, const want_t *w) {
  const got_t *g = find(s, w->id);
  if (!g)
    fail_msg("%s not emitted", w->id);
  assert_int_equal(g->nvalues, w->n);
  for (unsigned k = 0; k < w->n; k++)
    if (!value_matches(&g->values[k], w->kind, w->v[k])) {
      print_got(g);
      fail_msg("%s: value %u differs from %.17g", w->id, k, w->v[k]);
    }
}

/* --- fixture state ---------------------------------------------------------
 */

static int group_setup(void **state) {
  vs_fx_set_t *set = calloc(1, sizeof(*set));
  if (!set)
    return -1;
  *state = set;
  vs_fx_load(FIXTURE, set);
  return 0;
}

static int group_teardown(void **state) {
  vs_fx_free(*state);
  free(*state);
  return 0;
}

/* --- fx-full and fx-sparse, complete lists ---------------------------------
 */

/* The nine value lists of a disk with every field (capacity > 0), values
 * from the fixture (all counters 0 right after boot). */
#define DISK_VALUES 9
#define DISK(dev, alloc, cap, phys)                                            \
  D2("disk_ops-" dev, 0, 0), D2("disk_octets-" dev, 0, 0),                     \
      D2("disk_time-" dev, 0, 0), D1("total_requests-flush-" dev, 0),          \
      D1("total_time_in_ms-flush-" dev, 0), G1("disk_allocation-" dev, alloc), \
      G1("disk_capacity-" dev, cap), G1("disk_physical-" dev, phys),           \
      G1("percent-disk_allocation-" dev, 100.0 * (alloc) / (cap))
#define NIC(dev, rxb, rxp)                                                     \
  D2("if_octets-" dev, rxb, 0), D2("if_packets-" dev, rxp, 0),                 \
      D2("if_errors-" dev, 0, 0), D2("if_dropped-" dev, 0, 0)

/* fx-full, default options: plugin "virtscale" */
static const want_t full_default[] = {
    G2("domain_state", 1, 1),
    D1("virt_cpu_total", 1276676000),  /* cpu.time, ns */
    D2("ps_cputime", 92345, 1184331),  /* cpu.user/system, us */
    D1("virt_vcpu-0", 940000000),      /* vcpu.0.time, ns */
    G1("memory-total", 65536 * KIB),   /* balloon.current KiB */
    G1("memory-maximum", 65536 * KIB), /* balloon.maximum KiB */
    G1("memory-rss", 40792 * KIB),     /* balloon.rss KiB */
    DISK("vda", 0, 67108864, 204800),
    DISK("vdb", 0, 67108864, 204800),
    NIC("vt2c9cb5n0", 90, 1),
    NIC("vt2c9cb5n1", 90, 1),
};

static void test_full_default(void **state) {
  assert_string_equal(vs_metrics_plugin_name(VS_COMPAT_NONE), "virtscale");
  sink_t *s = run_record(*state, "fx-full", NULL, 0, NULL);
  assert_metrics(s, full_default, VS_NELEM(full_default));
  /* the fill level comes right after the disk's sizes */
  assert_int_equal(index_of(s, "percent-disk_allocation-vda"),
                   index_of(s, "disk_physical-vda") + 1);
  assert_int_equal(index_of(s, "percent-disk_allocation-vdb"),
                   index_of(s, "disk_physical-vdb") + 1);
  free(s);
}

/* With a %CPU figure from the core, one more gauge in the cpu group. */
static void test_full_cpu_percent(void **state) {
  vs_metrics_extra_t x = {
      .domain_name = "fx-full", .have_cpu_percent = true, .cpu_percent = 37.5};
  sink_t *s = run_record(*state, "fx-full", NULL, 0, &x);
  want_t want[VS_NELEM(full_default) + 1];
  memcpy(want, full_default, sizeof(full_default));
  want[VS_NELEM(full_default)] = (want_t)G1("percent-virt_cpu_total", 37.5);
  assert_metrics(s, want, VS_NELEM(want));
  free(s);

  /* not without the cpu group */
  static const line_t no_cpu[] = {{"Stats", {S("state vcpu")}, 1}};
  s = run_record(*state, "fx-full", no_cpu, 1, &x);
  assert_null(find(s, "percent-virt_cpu_total"));
  free(s);
}

/* Compatibility "virt": the bundled plugin's names and units. */
static const want_t full_virt[] = {
    G2("domain_state", 1, 1),
    D1("virt_cpu_total", 1276676000),
    D2("ps_cputime", 92345000, 1184331000), /* ns, as virt sends */
    D1("virt_vcpu-0", 940000000),
    G1("memory-total", 65536 * KIB),
    G1("memory-maximum", 65536 * KIB),
    G1("memory-rss", 40792 * KIB),
    G1("memory-actual_balloon", 65536 * KIB),
    DISK("vda", 0, 67108864, 204800),
    DISK("vdb", 0, 67108864, 204800),
    NIC("vt2c9cb5n0", 90, 1),
    NIC("vt2c9cb5n1", 90, 1),
};

static void test_full_compat_virt(void **state) {
  assert_string_equal(vs_metrics_plugin_name(VS_COMPAT_VIRT), "virt");
  static const line_t lines[] = {{"Compatibility", {S("virt")}, 1}};
  sink_t *s = run_record(*state, "fx-full", lines, 1, NULL);
  assert_metrics(s, full_virt, VS_NELEM(full_virt));
  free(s);
}

/* fx-sparse: no balloon last-update (which never becomes a metric anyway),
 * and the empty CD-ROM sda has counters but no allocation, capacity or
 * physical size: those value lists are simply absent. */
static const want_t sparse_default[] = {
    G2("domain_state", 1, 1),
    D1("virt_cpu_total", 302861000),
    D2("ps_cputime", 85412, 217448),
    D1("virt_vcpu-0", 20000000),
    G1("memory-total", 65536 * KIB),
    G1("memory-maximum", 65536 * KIB),
    G1("memory-rss", 37144 * KIB),
    DISK("vda", 0, 67108864, 204800),
    D2("disk_ops-sda", 0, 0),
    D2("disk_octets-sda", 0, 0),
    D2("disk_time-sda", 0, 0),
    D1("total_requests-flush-sda", 0),
    D1("total_time_in_ms-flush-sda", 0),
    NIC("vt347b04n0", 90, 1),
};

static void test_sparse_default(void **state) {
  sink_t *s = run_record(*state, "fx-sparse", NULL, 0, NULL);
  assert_metrics(s, sparse_default, VS_NELEM(sparse_default));
  free(s);
}

static void test_paused_state(void **state) {
  sink_t *s = run_record(*state, "fx-paused", NULL, 0, NULL);
  static const want_t want[] = {
      G2("domain_state", 3, 1), /* VIR_DOMAIN_PAUSED, reason 1 */
      D1("virt_cpu_total", 369758000),
      D2("ps_cputime", 67594, 302164),
      G1("percent-disk_allocation-vda", 0),
      G1("percent-disk_allocation-vdb", 0),
      NIC("vt4a48c8n0", 176, 2),
  };
  for (size_t i = 0; i < VS_NELEM(want); i++)
    assert_has(s, &want[i]);
  /* same shape as fx-full: two disks of nine, two NICs of four */
  assert_int_equal(s->n, VS_NELEM(full_default));
  assert_null(find(s, "gauge-unresponsive"));
  free(s);

  /* paused is not unresponsive: the core says so with a 0 */
  vs_metrics_extra_t x = {.domain_name = "fx-paused",
                          .have_unresponsive = true};
  s = run_record(*state, "fx-paused", NULL, 0, &x);
  assert_int_equal(s->n, VS_NELEM(full_default) + 1);
  assert_string_equal(s->m[0].id, "gauge-unresponsive");
  assert_has(s, &(want_t)G1("gauge-unresponsive", 0));
  for (size_t i = 0; i < VS_NELEM(want); i++)
    assert_has(s, &want[i]);
  free(s);
}

/* --- gauge-unresponsive --------------------------------------------------- */

/* With have_unresponsive the first value list is gauge-unresponsive, 1 or
 * 0; everything else is as without it. */
static void test_unresponsive(void **state) {
  for (int u = 0; u < 2; u++) {
    print_message("unresponsive %d\n", u);
    vs_metrics_extra_t x = {.domain_name = "fx-full",
                            .have_unresponsive = true,
                            .unresponsive = u != 0};
    sink_t *s = run_record(*state, "fx-full", NULL, 0, &x);
    want_t want[VS_NELEM(full_default) + 1];
    want[0] = (want_t)G1("gauge-unresponsive", u);
    memcpy(want + 1, full_default, sizeof(full_default));
    assert_metrics(s, want, VS_NELEM(want));
    assert_string_equal(s->m[0].id, "gauge-unresponsive");
    assert_int_equal(s->m[0].values[0].kind, VS_DS_GAUGE);
    free(s);
  }
  /* not without have_unresponsive, whatever unresponsive says */
  vs_metrics_extra_t x = {.domain_name = "fx-full", .unresponsive = true};
  sink_t *s = run_record(*state, "fx-full", NULL, 0, &x);
  assert_metrics(s, full_default, VS_NELEM(full_default));
  free(s);
}

/* It belongs to no statistics group and keeps its name in compatibility
 * mode. */
static void test_unresponsive_any_groups(void **state) {
  vs_metrics_extra_t x = {.domain_name = "fx-full",
                          .have_unresponsive = true,
                          .unresponsive = true};
  static const line_t lines[] = {{"Stats", {S("interface")}, 1},
                                 {"Compatibility", {S("virt")}, 1}};
  sink_t *s = run_record(*state, "fx-full", lines, 2, &x);
  static const want_t want[] = {
      G1("gauge-unresponsive", 1),
      NIC("vt2c9cb5n0", 90, 1),
      NIC("vt2c9cb5n1", 90, 1),
  };
  assert_metrics(s, want, VS_NELEM(want));
  assert_string_equal(s->m[0].id, "gauge-unresponsive");
  free(s);
}

/* A domain whose QEMU does not answer has no values at all: only the flag
 * goes out, under every group selection. */
static void test_unresponsive_empty_stats(void **state) {
  static const line_t variants[][2] = {
      {{NULL}},
      {{"Stats", {S("all")}, 1}},
      {{"Stats", {S("all")}, 1}, {"Compatibility", {S("virt")}, 1}},
  };
  for (size_t v = 0; v < VS_NELEM(variants); v++) {
    vs_domain_stats_t st;
    memset(&st, 0, sizeof(st));
    vs_metrics_extra_t x = {.domain_name = "stuck",
                            .have_unresponsive = true,
                            .unresponsive = true,
                            .have_cpu_percent = false};
    sink_t *s = run_stats(&st, "stuck", variants[v], 2, &x);
    static const want_t want[] = {G1("gauge-unresponsive", 1)};
    assert_metrics(s, want, VS_NELEM(want));
    free(s);

    /* and without the flag, nothing */
    x.have_unresponsive = false;
    s = run_stats(&st, "stuck", variants[v], 2, &x);
    assert_int_equal(s->n, 0);
    free(s);
  }
}

/* --- unit conversions on an inline record with distinct values ------------ */

static const virTypedParameter every_field[] = {
    VS_TP_INT("state.state", 1),
    VS_TP_INT("state.reason", 5),
    VS_TP_ULL("cpu.time", 3000000000),
    VS_TP_ULL("cpu.user", 1999999), /* -> 1999 us: truncated */
    VS_TP_ULL("cpu.system", 1000),
    VS_TP_ULL("balloon.current", 1000),
    VS_TP_ULL("balloon.maximum", 2000),
    VS_TP_ULL("balloon.swap_in", 3),
    VS_TP_ULL("balloon.swap_out", 4),
    VS_TP_ULL("balloon.major_fault", 2),
    VS_TP_ULL("balloon.minor_fault", 10),
    VS_TP_ULL("balloon.unused", 100),
    VS_TP_ULL("balloon.available", 900),
    VS_TP_ULL("balloon.rss", 500),
    VS_TP_ULL("balloon.usable", 800),
    VS_TP_ULL("balloon.last-update", 1700000000),
    VS_TP_ULL("balloon.disk_caches", 50),
    VS_TP_ULL("balloon.hugetlb_pgalloc", 6),
    VS_TP_ULL("balloon.hugetlb_pgfail", 7),
    VS_TP_ULL("vcpu.0.time", 111),
    VS_TP_ULL("vcpu.1.time", 222),
    VS_TP_INT("vcpu.2.state", 1), /* no time: no value list */
    VS_TP_STR("block.0.name", "vda"),
    VS_TP_STR("block.0.path", "/images/a b.img"),
    VS_TP_ULL("block.0.rd.reqs", 10),
    VS_TP_ULL("block.0.wr.reqs", 20),
    VS_TP_ULL("block.0.rd.bytes", 4096),
    VS_TP_ULL("block.0.wr.bytes", 8192),
    VS_TP_ULL("block.0.rd.times", 3000000),
    VS_TP_ULL("block.0.wr.times", 4500000),
    VS_TP_ULL("block.0.fl.reqs", 5),
    VS_TP_ULL("block.0.fl.times", 7500000),
    VS_TP_ULL("block.0.allocation", 1048576),
    VS_TP_ULL("block.0.capacity", 2097152),
    VS_TP_ULL("block.0.physical", 1572864),
    VS_TP_STR("net.0.name", "vnet0"),
    VS_TP_ULL("net.0.rx.bytes", 1000),
    VS_TP_ULL("net.0.tx.bytes", 2000),
    VS_TP_ULL("net.0.rx.pkts", 10),
    VS_TP_ULL("net.0.tx.pkts", 20),
    VS_TP_ULL("net.0.rx.errs", 1),
    VS_TP_ULL("net.0.tx.errs", 2),
    VS_TP_ULL("net.0.rx.drop", 3),
    VS_TP_ULL("net.0.tx.drop", 4),
    VS_TP_ULL("perf.cpu_cycles", 123456),
    VS_TP_ULL("perf.cmt", 4096),
    VS_TP_ULL("perf.mbmt", 100),
};

/* The parts both namings share. */
#define EVERY_FIELD_COMMON                                                     \
  G2("domain_state", 1, 5), D1("virt_cpu_total", 3000000000),                  \
      D1("virt_vcpu-0", 111), D1("virt_vcpu-1", 222),                          \
      G1("memory-total", 1000 * KIB), G1("memory-maximum", 2000 * KIB),        \
      G1("memory-unused", 100 * KIB), G1("memory-available", 900 * KIB),       \
      G1("memory-rss", 500 * KIB), G1("memory-usable", 800 * KIB),             \
      G1("memory-disk_caches", 50 * KIB),                                      \
      D1("swap_io-in", 3 * 1024), /* KiB -> bytes */                           \
      D1("swap_io-out", 4 * 1024),                                             \
      D2("ps_pagefaults", 10, 2), /* minor, major */                           \
      D1("vmpage_action-hugetlb_pgalloc", 6),                                  \
      D1("vmpage_action-hugetlb_pgfail", 7), D2("disk_ops-vda", 10, 20),       \
      D2("disk_octets-vda", 4096, 8192),                                       \
      D2("disk_time-vda", 3000000, 4500000), /* ns, as virt sends */           \
      D1("total_requests-flush-vda", 5),                                       \
      D1("total_time_in_ms-flush-vda", 7), /* 7.5 ms, truncated */             \
      G1("disk_allocation-vda", 1048576), G1("disk_capacity-vda", 2097152),    \
      G1("disk_physical-vda", 1572864),                                        \
      G1("percent-disk_allocation-vda", 50), /* 1 MiB of 2 MiB */              \
      D2("if_octets-vnet0", 1000, 2000), D2("if_packets-vnet0", 10, 20),       \
      D2("if_errors-vnet0", 1, 2), D2("if_dropped-vnet0", 3, 4)

static const line_t all_groups[] = {{"Stats", {S("all")}, 1}};

static void test_every_field_units(void **state) {
  static const want_t want[] = {
      EVERY_FIELD_COMMON,
      D2("ps_cputime", 1999, 1), /* ns -> us */
      D1("perf-cpu_cycles", 123456),
      G1("gauge-perf_cmt", 4096), /* cache occupancy, bytes */
      G1("gauge-perf_mbmt", 100), /* bandwidth, bytes/s */
  };
  sink_t *s =
      run_params(every_field, VS_NELEM(every_field), all_groups, 1, NULL);
  assert_metrics(s, want, VS_NELEM(want));
  free(s);
}

static void test_every_field_compat_virt(void **state) {
  static const want_t want[] = {
      EVERY_FIELD_COMMON,
      D2("ps_cputime", 1999999, 1000),
      G1("memory-actual_balloon", 1000 * KIB),
      D1("perf-perf_cpu_cycles", 123456), /* virt: all "perf_<event>" */
      D1("perf-perf_cmt", 4096),
      D1("perf-perf_mbmt", 100),
  };
  static const line_t lines[] = {{"Stats", {S("all")}, 1},
                                 {"Compatibility", {S("virt")}, 1}};
  sink_t *s = run_params(every_field, VS_NELEM(every_field), lines, 2, NULL);
  assert_metrics(s, want, VS_NELEM(want));
  free(s);
}

/* --- groups --------------------------------------------------------------- */

/* The group a value list belongs to, by its type and, where the type is
 * shared, its type instance. */
static unsigned group_of(const got_t *g) {
  if (strcmp(g->type, "percent") == 0 &&
      strncmp(g->type_instance, "disk_allocation-", 16) == 0)
    return VS_GROUP_BLOCK;
  const char *type = g->type;
  static const struct {
    const char *prefix;
    unsigned group;
  } map[] = {
      {"domain_state", VS_GROUP_STATE},
      {"virt_cpu_total", VS_GROUP_CPU},
      {"ps_cputime", VS_GROUP_CPU},
      {"percent", VS_GROUP_CPU},
      {"virt_vcpu", VS_GROUP_VCPU},
      {"memory", VS_GROUP_BALLOON},
      {"swap_io", VS_GROUP_BALLOON},
      {"ps_pagefaults", VS_GROUP_BALLOON},
      {"vmpage_action", VS_GROUP_BALLOON},
      {"perf", VS_GROUP_PERF},
      {"gauge", VS_GROUP_PERF},
      {"disk_", VS_GROUP_BLOCK},
      {"total_", VS_GROUP_BLOCK},
      {"if_", VS_GROUP_INTERFACE},
  };
  for (size_t i = 0; i < VS_NELEM(map); i++)
    if (strncmp(type, map[i].prefix, strlen(map[i].prefix)) == 0)
      return map[i].group;
  fail_msg("type %s belongs to no group", type);
  return 0;
}

static const struct {
  const char *words;
  size_t full, every; /* metrics for fx-full (with %CPU) / every_field */
} group_cases[] = {
    {"state", 1, 1},    {"cpu", 3, 3},           {"vcpu", 1, 2},
    {"balloon", 3, 12}, {"interface", 8, 4},     {"block", 18, 9},
    {"perf", 0, 3},     {"state block", 19, 10}, {"all", 34, 34},
};

/* Only the selected groups emit; each group's count is what the complete
 * lists above hold for it. */
static void test_groups(void **state) {
  vs_domain_stats_t full = {0}, every = {0};
  vs_fx_stats(*state, "fx-full", &full);
  vs_error_t err = {0};
  assert_int_equal(
      vs_domain_stats_parse(every_field, VS_NELEM(every_field), &every, &err),
      0);
  vs_metrics_extra_t x = {.have_cpu_percent = true, .cpu_percent = 1};
  for (size_t i = 0; i < VS_NELEM(group_cases); i++) {
    line_t lines[] = {{"Stats", {S(group_cases[i].words)}, 1}};
    vs_config_t cfg;
    config_from(&cfg, lines, 1);
    print_message("Stats \"%s\"\n", group_cases[i].words);
    const vs_domain_stats_t *sts[] = {&full, &every};
    const size_t want[] = {group_cases[i].full, group_cases[i].every};
    for (size_t k = 0; k < 2; k++) {
      sink_t *s = run_stats(sts[k], "d", lines, 1, &x);
      for (size_t j = 0; j < s->n; j++)
        if (!(group_of(&s->m[j]) & cfg.groups))
          fail_msg("%s emitted outside its group", s->m[j].id);
      size_t n = s->n;
      free(s);
      assert_int_equal(n, want[k]);
      /* the unresponsive flag comes on top, under any selection */
      vs_metrics_extra_t xu = x;
      xu.have_unresponsive = true;
      s = run_stats(sts[k], "d", lines, 1, &xu);
      n = s->n;
      bool first = n > 0 && strcmp(s->m[0].id, "gauge-unresponsive") == 0;
      free(s);
      assert_int_equal(n, want[k] + 1);
      assert_true(first);
    }
    vs_config_clear(&cfg);
  }
  vs_domain_stats_clear(&full);
  vs_domain_stats_clear(&every);
}

/* --- device filters ---------------------------------------------------------
 */

static const struct {
  const char *key, *pattern;
  bool invert;
  bool vda, vdb, n0, n1; /* devices expected in the output */
} filter_cases[] = {
    {"BlockDevice", "vdb", false, false, true, true, true},
    {"BlockDevice", "fx-full:vda", false, true, false, true, true},
    {"BlockDevice", "other:vda", false, false, false, true, true},
    {"BlockDevice", "/^vd/", false, true, true, true, true},
    {"BlockDevice", "/^fx-full:vdb$/", false, false, true, true, true},
    {"BlockDevice", "vd", false, false, false, true, true}, /* exact */
    {"BlockDevice", "vda", true, false, true, true, true},
    {"BlockDevice", "/nothing/", true, true, true, true, true},
    {"InterfaceDevice", "vt2c9cb5n1", false, true, true, false, true},
    {"InterfaceDevice", "fx-full:vt2c9cb5n0", false, true, true, true, false},
    {"InterfaceDevice", "/n0$/", true, true, true, false, true},
    {"InterfaceDevice", "/^vt/", false, true, true, true, true},
};

static void test_device_filters(void **state) {
  for (size_t i = 0; i < VS_NELEM(filter_cases); i++) {
    char inv_key[64];
    snprintf(inv_key, sizeof(inv_key), "%sIgnoreSelected", filter_cases[i].key);
    line_t lines[] = {{filter_cases[i].key, {S(filter_cases[i].pattern)}, 1},
                      {inv_key, {B(filter_cases[i].invert)}, 1}};
    print_message("%s \"%s\" invert %d\n", filter_cases[i].key,
                  filter_cases[i].pattern, filter_cases[i].invert);
    sink_t *s = run_record(*state, "fx-full", lines, 2, NULL);
    size_t vda = count_instance_suffix(s, "vda"),
           vdb = count_instance_suffix(s, "vdb"),
           n0 = count_instance_suffix(s, "vt2c9cb5n0"),
           n1 = count_instance_suffix(s, "vt2c9cb5n1");
    free(s);
    /* a device is in or out with all of its value lists */
    assert_int_equal(vda, filter_cases[i].vda ? DISK_VALUES : 0);
    assert_int_equal(vdb, filter_cases[i].vdb ? DISK_VALUES : 0);
    assert_int_equal(n0, filter_cases[i].n0 ? 4 : 0);
    assert_int_equal(n1, filter_cases[i].n1 ? 4 : 0);
  }
}

/* Without extra (no domain name), qualified patterns match nothing and
 * nothing crashes; an unqualified one still works. */
static void test_filter_without_extra(void **state) {
  vs_domain_stats_t st = {0};
  vs_fx_stats(*state, "fx-full", &st);
  vs_config_t cfg;
  static const line_t lines[] = {{"BlockDevice", {S("vdb")}, 1}};
  config_from(&cfg, lines, 1);
  vs_metrics_opts_t opts = vs_metrics_opts_from_config(&cfg);
  sink_t *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  vs_metrics_domain(&opts, &st, NULL, collect, s);
  assert_int_equal(count_instance_suffix(s, "vda"), 0);
  assert_int_equal(count_instance_suffix(s, "vdb"), DISK_VALUES);
  assert_null(find(s, "percent-virt_cpu_total"));
  free(s);
  /* NULL filters select everything */
  opts.block_devs = opts.if_devs = NULL;
  s = calloc(1, sizeof(*s));
  assert_non_null(s);
  vs_metrics_domain(&opts, &st, NULL, collect, s);
  assert_metrics(s, full_default, VS_NELEM(full_default));
  free(s);
  vs_config_clear(&cfg);
  vs_domain_stats_clear(&st);
}

/* --- device naming
 * ------------------------------------------------------------ */

#define SRC_VDA "var_lib_libvirt_images_fx-full-vda.qcow2"
#define SRC_VDB "var_lib_libvirt_images_fx-full-vdb.qcow2"

static void test_block_format_source(void **state) {
  static const want_t want[] = {
      D2("disk_ops-" SRC_VDA, 0, 0),
      D2("disk_octets-" SRC_VDA, 0, 0),
      D2("disk_time-" SRC_VDA, 0, 0),
      D1("total_requests-flush-_" SRC_VDA, 0),
      D1("total_time_in_ms-flush-_" SRC_VDA, 0),
      G1("disk_allocation-" SRC_VDA, 0),
      G1("disk_capacity-" SRC_VDA, 67108864),
      G1("disk_physical-" SRC_VDA, 204800),
      G1("percent-disk_allocation-" SRC_VDA, 0),
      D2("disk_ops-" SRC_VDB, 0, 0),
      D2("disk_octets-" SRC_VDB, 0, 0),
      D2("disk_time-" SRC_VDB, 0, 0),
      D1("total_requests-flush-_" SRC_VDB, 0),
      D1("total_time_in_ms-flush-_" SRC_VDB, 0),
      G1("disk_allocation-" SRC_VDB, 0),
      G1("disk_capacity-" SRC_VDB, 67108864),
      G1("disk_physical-" SRC_VDB, 204800),
      G1("percent-disk_allocation-" SRC_VDB, 0),
  };
  static const line_t lines[] = {{"Stats", {S("block")}, 1},
                                 {"BlockDeviceFormat", {S("source")}, 1}};
  sink_t *s = run_record(*state, "fx-full", lines, 2, NULL);
  assert_metrics(s, want, VS_NELEM(want));
  free(s);
}

static void test_block_format_basename(void **state) {
  static const want_t want[] = {
      DISK("fx-full-vda.qcow2", 0, 67108864, 204800),
      DISK("fx-full-vdb.qcow2", 0, 67108864, 204800),
  };
  static const line_t lines[] = {{"Stats", {S("block")}, 1},
                                 {"BlockDeviceFormat", {S("source")}, 1},
                                 {"BlockDeviceFormatBasename", {B(true)}, 1}};
  sink_t *s = run_record(*state, "fx-full", lines, 3, NULL);
  assert_metrics(s, want, VS_NELEM(want));
  free(s);
}

/* A drive without a source (the empty CD-ROM) has no name in the source
 * format: it is left out, the other disk is not. */
static void test_block_format_source_without_path(void **state) {
  static const want_t want[] = {
      D2("disk_ops-var_lib_libvirt_images_fx-sparse-vda.qcow2", 0, 0),
  };
  static const line_t lines[] = {{"Stats", {S("block")}, 1},
                                 {"BlockDeviceFormat", {S("source")}, 1}};
  sink_t *s = run_record(*state, "fx-sparse", lines, 2, NULL);
  assert_has(s, &want[0]);
  assert_int_equal(s->n, DISK_VALUES);
  assert_int_equal(count_instance_suffix(s, "sda"), 0);
  free(s);
}

/* In the source format a filter matches the path, "domain:path" and the
 * name shown in the identifier. */
static const struct {
  const char *format, *pattern;
  bool basename;
  bool vda, vdb;
} source_filter_cases[] = {
    {"source", "/var/lib/libvirt/images/fx-full-vdb.qcow2", false, false, true},
    {"source", "fx-full:/var/lib/libvirt/images/fx-full-vda.qcow2", false, true,
     false},
    {"source", SRC_VDA, false, true, false},
    {"source", "/-vdb\\.qcow2$/", false, false, true},
    {"source", "fx-full-vda.qcow2", true, true, false},
    {"source", "vda", false, false, false}, /* the target is not a name here */
};

static void test_block_format_source_filters(void **state) {
  for (size_t i = 0; i < VS_NELEM(source_filter_cases); i++) {
    line_t lines[] = {
        {"Stats", {S("block")}, 1},
        {"BlockDeviceFormat", {S(source_filter_cases[i].format)}, 1},
        {"BlockDeviceFormatBasename", {B(source_filter_cases[i].basename)}, 1},
        {"BlockDevice", {S(source_filter_cases[i].pattern)}, 1}};
    print_message("BlockDevice \"%s\"\n", source_filter_cases[i].pattern);
    sink_t *s = run_record(*state, "fx-full", lines, VS_NELEM(lines), NULL);
    size_t vda = count_instance_suffix(s, "vda.qcow2"),
           vdb = count_instance_suffix(s, "vdb.qcow2");
    free(s);
    assert_int_equal(vda, source_filter_cases[i].vda ? DISK_VALUES : 0);
    assert_int_equal(vdb, source_filter_cases[i].vdb ? DISK_VALUES : 0);
  }
}

static void test_interface_format_number(void **state) {
  static const want_t want[] = {
      NIC("interface-1", 90, 1),
      NIC("interface-2", 90, 1),
  };
  static const line_t lines[] = {{"Stats", {S("interface")}, 1},
                                 {"InterfaceFormat", {S("number")}, 1}};
  sink_t *s = run_record(*state, "fx-full", lines, 2, NULL);
  assert_metrics(s, want, VS_NELEM(want));
  free(s);

  /* the filter still sees the interface name, and the shown name */
  static const char *const patterns[] = {"vt2c9cb5n1", "interface-2",
                                         "fx-full:vt2c9cb5n1"};
  for (size_t i = 0; i < VS_NELEM(patterns); i++) {
    line_t f[] = {{"Stats", {S("interface")}, 1},
                  {"InterfaceFormat", {S("number")}, 1},
                  {"InterfaceDevice", {S(patterns[i])}, 1}};
    s = run_record(*state, "fx-full", f, 3, NULL);
    assert_int_equal(count_instance_suffix(s, "interface-1"), 0);
    assert_int_equal(count_instance_suffix(s, "interface-2"), 4);
    free(s);
  }
}

/* Device names are made safe like every identifier field. */
static void test_device_names_sanitized(void **state) {
  static const virTypedParameter p[] = {
      VS_TP_STR("block.0.name", "hd/a"), VS_TP_ULL("block.0.capacity", 1),
      VS_TP_STR("net.0.name", ".."),     VS_TP_ULL("net.0.rx.bytes", 1),
      VS_TP_ULL("net.0.tx.bytes", 2),
  };
  static const want_t want[] = {
      G1("disk_capacity-hd%2Fa", 1),
      D2("if_octets-%2E%2E", 1, 2),
  };
  sink_t *s = run_params(p, VS_NELEM(p), NULL, 0, NULL);
  assert_metrics(s, want, VS_NELEM(want));
  free(s);
}

/* --- disk fill level ------------------------------------------------------ */

/* percent-disk_allocation-<dev> needs both allocation and a capacity above
 * 0; it is 100 * allocation / capacity. */
static const struct {
  const char *what;
  virTypedParameter p[4];
  int n;
  want_t want[4];
  size_t nwant;
} percent_cases[] = {
    {"capacity 0: no percentage",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.allocation", 4096),
      VS_TP_ULL("block.0.capacity", 0)},
     3,
     {G1("disk_allocation-vda", 4096), G1("disk_capacity-vda", 0)},
     2},
    {"capacity 0, allocation 0: no percentage",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.allocation", 0),
      VS_TP_ULL("block.0.capacity", 0), VS_TP_ULL("block.0.physical", 0)},
     4,
     {G1("disk_allocation-vda", 0), G1("disk_capacity-vda", 0),
      G1("disk_physical-vda", 0)},
     3},
    {"allocation without capacity",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.allocation", 10)},
     2,
     {G1("disk_allocation-vda", 10)},
     1},
    {"capacity without allocation",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.capacity", 10)},
     2,
     {G1("disk_capacity-vda", 10)},
     1},
    {"a third",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.allocation", 1),
      VS_TP_ULL("block.0.capacity", 3)},
     3,
     {G1("disk_allocation-vda", 1), G1("disk_capacity-vda", 3),
      G1("percent-disk_allocation-vda", 100.0 / 3)},
     3},
    {"full, without physical",
     {VS_TP_STR("block.0.name", "vdc"),
      VS_TP_ULL("block.0.allocation", 10737418240),
      VS_TP_ULL("block.0.capacity", 10737418240)},
     3,
     {G1("disk_allocation-vdc", 10737418240),
      G1("disk_capacity-vdc", 10737418240),
      G1("percent-disk_allocation-vdc", 100)},
     3},
    {"sanitized name",
     {VS_TP_STR("block.0.name", "hd/a"), VS_TP_ULL("block.0.allocation", 1),
      VS_TP_ULL("block.0.capacity", 4)},
     3,
     {G1("disk_allocation-hd%2Fa", 1), G1("disk_capacity-hd%2Fa", 4),
      G1("percent-disk_allocation-hd%2Fa", 25)},
     3},
};

static void test_disk_allocation_percent(void **state) {
  for (size_t i = 0; i < VS_NELEM(percent_cases); i++) {
    print_message("%s\n", percent_cases[i].what);
    sink_t *s =
        run_params(percent_cases[i].p, percent_cases[i].n, all_groups, 1, NULL);
    assert_metrics(s, percent_cases[i].want, percent_cases[i].nwant);
    free(s);
  }

  /* only with the block group, and per device: a second disk of capacity 0
   * next to one with a size */
  static const virTypedParameter two[] = {
      VS_TP_STR("block.0.name", "vda"),   VS_TP_ULL("block.0.allocation", 3),
      VS_TP_ULL("block.0.capacity", 4),   VS_TP_STR("block.1.name", "sr0"),
      VS_TP_ULL("block.1.allocation", 0), VS_TP_ULL("block.1.capacity", 0),
  };
  static const line_t no_block[] = {{"Stats", {S("state cpu")}, 1}};
  sink_t *s = run_params(two, VS_NELEM(two), no_block, 1, NULL);
  assert_int_equal(s->n, 0);
  free(s);
  s = run_params(two, VS_NELEM(two), all_groups, 1, NULL);
  static const want_t want[] = {
      G1("disk_allocation-vda", 3),
      G1("disk_capacity-vda", 4),
      G1("percent-disk_allocation-vda", 75),
      G1("disk_allocation-sr0", 0),
      G1("disk_capacity-sr0", 0),
  };
  assert_metrics(s, want, VS_NELEM(want));
  free(s);

  /* the block filter drops it with its device */
  static const line_t only_vda[] = {
      {"BlockDevice", {S("sr0")}, 1},
      {"BlockDeviceIgnoreSelected", {B(true)}, 1}};
  s = run_params(two, VS_NELEM(two), only_vda, 2, NULL);
  assert_metrics(s, want, 3);
  free(s);
}

/* --- one direction only --------------------------------------------------- */

static const struct {
  const char *what;
  virTypedParameter p[3];
  int n;
  want_t want[2];
  size_t nwant;
} single_cases[] = {
    {"rx bytes only",
     {VS_TP_STR("net.0.name", "vnet0"), VS_TP_ULL("net.0.rx.bytes", 1234)},
     2,
     {D1("if_rx_octets-vnet0", 1234)},
     1},
    {"tx packets only",
     {VS_TP_STR("net.0.name", "vnet0"), VS_TP_ULL("net.0.tx.pkts", 5)},
     2,
     {D1("if_tx_packets-vnet0", 5)},
     1},
    {"rx errors and tx drops",
     {VS_TP_STR("net.0.name", "vnet0"), VS_TP_ULL("net.0.rx.errs", 1),
      VS_TP_ULL("net.0.tx.drop", 2)},
     3,
     {D1("if_rx_errors-vnet0", 1), D1("if_tx_dropped-vnet0", 2)},
     2},
    {"read ops only",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.rd.reqs", 7)},
     2,
     {D1("total_operations-read-vda", 7)},
     1},
    {"write bytes only",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.wr.bytes", 512)},
     2,
     {D1("total_bytes-write-vda", 512)},
     1},
    {"write times only: ms",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.wr.times", 5000000)},
     2,
     {D1("total_time_in_ms-write-vda", 5)},
     1},
    {"read times only: ms, truncated",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.rd.times", 2999999)},
     2,
     {D1("total_time_in_ms-read-vda", 2)},
     1},
    {"read times and write ops",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.rd.times", 1000000),
      VS_TP_ULL("block.0.wr.reqs", 3)},
     3,
     {D1("total_time_in_ms-read-vda", 1), D1("total_operations-write-vda", 3)},
     2},
    {"flush requests only",
     {VS_TP_STR("block.0.name", "vda"), VS_TP_ULL("block.0.fl.reqs", 9)},
     2,
     {D1("total_requests-flush-vda", 9)},
     1},
    {"escaped name: \"<dir>-\" and \"flush-\" escape it once",
     {VS_TP_STR("block.0.name", "hd/a%"), VS_TP_ULL("block.0.rd.reqs", 7),
      VS_TP_ULL("block.0.fl.reqs", 9)},
     3,
     {D1("total_operations-read-hd%2Fa%25", 7),
      D1("total_requests-flush-hd%2Fa%25", 9)},
     2},
    {"user time without system time",
     {VS_TP_ULL("cpu.user", 5000)},
     1,
     {{0}},
     0},
    {"minor faults without major faults",
     {VS_TP_ULL("balloon.minor_fault", 5)},
     1,
     {{0}},
     0},
};

static void test_single_direction(void **state) {
  for (size_t i = 0; i < VS_NELEM(single_cases); i++) {
    print_message("%s\n", single_cases[i].what);
    sink_t *s =
        run_params(single_cases[i].p, single_cases[i].n, all_groups, 1, NULL);
    assert_metrics(s, single_cases[i].want, single_cases[i].nwant);
    free(s);
  }
}

/* --- types.db ------------------------------------------------------------- */

typedef struct {
  char type[64];
  unsigned nds;
  vs_ds_kind_t kind[2];
  double min[2], max[2];
} db_type_t;

static bool db_lookup(const char *path, const char *type, db_type_t *ret) {
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("cannot open %s (collectd's types.db; set VS_TYPES_DB): %s", path,
             strerror(errno));
  char line[1024];
  bool found = false;
  while (!found && fgets(line, sizeof(line), f)) {
    char name[64];
    int off = 0;
    if (line[0] == '#' || sscanf(line, "%63s%n", name, &off) != 1 ||
        strcmp(name, type) != 0)
      continue;
    memset(ret, 0, sizeof(*ret));
    snprintf(ret->type, sizeof(ret->type), "%s", name);
    for (char *tok = strtok(line + off, ", \t\n"); tok;
         tok = strtok(NULL, ", \t\n")) {
      char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL,
           *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
      if (!c3 || ret->nds == 2)
        fail_msg("%s: cannot read data source \"%s\" of %s", path, tok, type);
      ret->kind[ret->nds] =
          strncmp(c1 + 1, "GAUGE:", 6) == 0 ? VS_DS_GAUGE : VS_DS_DERIVE;
      if (strncmp(c1 + 1, "GAUGE:", 6) != 0 &&
          strncmp(c1 + 1, "DERIVE:", 7) != 0)
        fail_msg("%s: %s is neither GAUGE nor DERIVE", path, tok);
      ret->min[ret->nds] = c2[1] == 'U' ? -INFINITY : strtod(c2 + 1, NULL);
      ret->max[ret->nds] = c3[1] == 'U' ? INFINITY : strtod(c3 + 1, NULL);
      ret->nds++;
    }
    found = true;
  }
  fclose(f);
  return found;
}

/* Every value list of every scenario above uses a stock type with the right
 * number and kind of data sources, within its range. */
static void check_types(const char *path, const sink_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    const got_t *g = &s->m[i];
    db_type_t t;
    if (!db_lookup(path, g->type, &t))
      fail_msg("%s: type %s is not in %s", g->id, g->type, path);
    if (t.nds != g->nvalues)
      fail_msg("%s: %u values, %s has %u data sources", g->id, g->nvalues,
               g->type, t.nds);
    for (unsigned k = 0; k < t.nds; k++) {
      if (g->values[k].kind != t.kind[k])
        fail_msg("%s: value %u is %s, types.db says %s", g->id, k,
                 g->values[k].kind == VS_DS_GAUGE ? "GAUGE" : "DERIVE",
                 t.kind[k] == VS_DS_GAUGE ? "GAUGE" : "DERIVE");
      double v = g->values[k].kind == VS_DS_GAUGE ? g->values[k].gauge
                                                  : (double)g->values[k].derive;
      if (v < t.min[k] || v > t.max[k])
        fail_msg("%s: value %u = %g outside [%g, %g]", g->id, k, v, t.min[k],
                 t.max[k]);
    }
    if (strchr(g->type_instance, '/'))
      fail_msg("%s: '/' in the type instance", g->id);
  }
}

static void test_types_db_conformance(void **state) {
  const char *path = getenv("VS_TYPES_DB");
  if (!path)
    path = "/usr/share/collectd/types.db";
  static const char *const records[] = {"fx-full", "fx-sparse", "fx-paused"};
  static const line_t variants[][4] = {
      {{"Stats", {S("all")}, 1}},
      {{"Stats", {S("all")}, 1}, {"Compatibility", {S("virt")}, 1}},
      {{"BlockDeviceFormat", {S("source")}, 1},
       {"InterfaceFormat", {S("number")}, 1}},
      {{"BlockDeviceFormat", {S("source")}, 1},
       {"BlockDeviceFormatBasename", {B(true)}, 1}},
  };
  vs_metrics_extra_t x = {.have_cpu_percent = true,
                          .cpu_percent = 100,
                          .have_unresponsive = true,
                          .unresponsive = true};
  size_t checked = 0;
  for (size_t v = 0; v < VS_NELEM(variants); v++) {
    for (size_t r = 0; r < VS_NELEM(records); r++) {
      x.domain_name = records[r];
      sink_t *s = run_record(*state, records[r], variants[v], 4, &x);
      check_types(path, s);
      checked += s->n;
      free(s);
    }
    sink_t *s =
        run_params(every_field, VS_NELEM(every_field), variants[v], 4, &x);
    check_types(path, s);
    checked += s->n;
    free(s);
  }
  for (size_t i = 0; i < VS_NELEM(single_cases); i++) {
    sink_t *s =
        run_params(single_cases[i].p, single_cases[i].n, all_groups, 1, NULL);
    check_types(path, s);
    checked += s->n;
    free(s);
  }
  for (size_t i = 0; i < VS_NELEM(percent_cases); i++) {
    sink_t *s =
        run_params(percent_cases[i].p, percent_cases[i].n, all_groups, 1, &x);
    check_types(path, s);
    checked += s->n;
    free(s);
  }
  vs_domain_stats_t empty;
  memset(&empty, 0, sizeof(empty));
  vs_metrics_extra_t stuck = {.have_unresponsive = true, .unresponsive = true};
  sink_t *s = run_stats(&empty, "stuck", all_groups, 1, &stuck);
  assert_int_equal(s->n, 1);
  check_types(path, s);
  checked += s->n;
  free(s);
  assert_true(checked > 300);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_default),
      cmocka_unit_test(test_full_cpu_percent),
      cmocka_unit_test(test_full_compat_virt),
      cmocka_unit_test(test_sparse_default),
      cmocka_unit_test(test_paused_state),
      cmocka_unit_test(test_unresponsive),
      cmocka_unit_test(test_unresponsive_any_groups),
      cmocka_unit_test(test_unresponsive_empty_stats),
      cmocka_unit_test(test_every_field_units),
      cmocka_unit_test(test_every_field_compat_virt),
      cmocka_unit_test(test_groups),
      cmocka_unit_test(test_device_filters),
      cmocka_unit_test(test_filter_without_extra),
      cmocka_unit_test(test_block_format_source),
      cmocka_unit_test(test_block_format_basename),
      cmocka_unit_test(test_block_format_source_without_path),
      cmocka_unit_test(test_block_format_source_filters),
      cmocka_unit_test(test_interface_format_number),
      cmocka_unit_test(test_device_names_sanitized),
      cmocka_unit_test(test_disk_allocation_percent),
      cmocka_unit_test(test_single_direction),
      cmocka_unit_test(test_types_db_conformance),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
