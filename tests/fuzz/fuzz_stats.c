/* Fuzz harness: libvirt's bulk statistics records into vs_domain_stats_t
 * (vs_domain_stats_parse), and what the read path does with two readings
 * of one domain: vs_domain_stats_drop_regressions() against the kept
 * reading, vs_domain_stats_merge() into it, and vs_metrics_domain() on the
 * new one, under options picked by the input.
 *
 * Input:
 *   O       options: bit 0 compat virt, bit 1 BlockDeviceFormat source,
 *           bit 2 its basename, bit 3 InterfaceFormat number, bits 4-5
 *           which groups are on (all, default, only block+interface,
 *           state+cpu+perf), bit 6 block and interface filters, bit 7
 *           the interface filter inverted
 *   then typed parameters, each
 *     F     field: F < 0xF0 picks a name pattern from the table below
 *           (F % count); a pattern with "%u" takes an index byte I (0xFF: 4
 *           more bytes, little-endian, for indices past the bounds); F ==
 *           0xFF ends the first record and starts the second; other F: a
 *           string as the name, cut to VIR_TYPED_PARAM_FIELD_LENGTH
 *     T     type: VIR_TYPED_PARAM_INT + T % 7 (int, uint, llong, ullong,
 *           double, boolean, string)
 *     value int/uint 4 bytes, llong/ullong/double 8, boolean 1, string
 * (strings as vs_fuzz_take_string() reads them). A truncated input ends the
 * record. Strings and the parameter arrays each get their own allocation
 * of exactly their size. */
#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_idfield.h"
#include "fuzz_input.h"
#include "vs_config.h"
#include "vs_filter.h"
#include "vs_metrics.h"
#include "vs_stats.h"
#include "vs_stats_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARAMS 512

/* Field names as libvirt sends them (tests/fixtures/bulk_qemu.records),
 * plus near misses. */
static const char *const patterns[] = {
    "state.state",
    "state.reason",
    "cpu.time",
    "cpu.user",
    "cpu.system",
    "cpu.haltpoll.success.time",
    "balloon.current",
    "balloon.maximum",
    "balloon.swap_in",
    "balloon.swap_out",
    "balloon.major_fault",
    "balloon.minor_fault",
    "balloon.unused",
    "balloon.available",
    "balloon.rss",
    "balloon.usable",
    "balloon.last-update",
    "balloon.disk_caches",
    "balloon.hugetlb_pgalloc",
    "balloon.hugetlb_pgfail",
    "vcpu.current",
    "vcpu.maximum",
    "vcpu.%u.state",
    "vcpu.%u.time",
    "vcpu.%u.wait",
    "vcpu.%u.delay",
    "vcpu.%u.halt_poll_success_ns.sum",
    "net.count",
    "net.%u.name",
    "net.%u.rx.bytes",
    "net.%u.rx.pkts",
    "net.%u.rx.errs",
    "net.%u.rx.drop",
    "net.%u.tx.bytes",
    "net.%u.tx.pkts",
    "net.%u.tx.errs",
    "net.%u.tx.drop",
    "block.count",
    "block.%u.name",
    "block.%u.path",
    "block.%u.backingIndex",
    "block.%u.rd.reqs",
    "block.%u.rd.bytes",
    "block.%u.rd.times",
    "block.%u.wr.reqs",
    "block.%u.wr.bytes",
    "block.%u.wr.times",
    "block.%u.fl.reqs",
    "block.%u.fl.times",
    "block.%u.allocation",
    "block.%u.capacity",
    "block.%u.physical",
    "perf.cmt",
    "perf.mbmt",
    "perf.mbml",
    "perf.cpu_cycles",
    "perf.instructions",
    "perf.",
    "vcpu.%u.",
    "block.%u",
    "net.%u.",
    "block.0%u.rd.reqs",
};
#define N_PATTERNS (sizeof(patterns) / sizeof(patterns[0]))

/* One parameter's field name into field; false at the end of the record
 * (input exhausted or the separator). */
static bool take_field(vs_fuzz_input_t *in,
                       char field[VIR_TYPED_PARAM_FIELD_LENGTH],
                       bool *separator) {
  uint8_t f;
  if (!vs_fuzz_take(in, &f, 1))
    return false;
  if (f == 0xFF) {
    *separator = true;
    return false;
  }
  if (f >= 0xF0) {
    char *s = vs_fuzz_take_string(in);
    if (!s)
      return false;
    snprintf(field, VIR_TYPED_PARAM_FIELD_LENGTH, "%s", s);
    free(s);
    return true;
  }
  const char *pat = patterns[f % N_PATTERNS];
  const char *pct = strstr(pat, "%u");
  if (!pct) {
    snprintf(field, VIR_TYPED_PARAM_FIELD_LENGTH, "%s", pat);
    return true;
  }
  uint8_t i8;
  if (!vs_fuzz_take(in, &i8, 1))
    return false;
  uint32_t idx = i8;
  if (i8 == 0xFF) {
    uint8_t b[4];
    if (!vs_fuzz_take(in, b, 4))
      return false;
    idx = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
          (uint32_t)b[3] << 24;
  }
  snprintf(field, VIR_TYPED_PARAM_FIELD_LENGTH, "%.*s%u%s", (int)(pct - pat),
           pat, idx, pct + 2);
  return true;
}

static bool take_value(vs_fuzz_input_t *in, virTypedParameter *p) {
  uint8_t t, b;
  if (!vs_fuzz_take(in, &t, 1))
    return false;
  p->type = VIR_TYPED_PARAM_INT + t % 7;
  switch (p->type) {
  case VIR_TYPED_PARAM_INT:
    return vs_fuzz_take(in, &p->value.i, sizeof(p->value.i));
  case VIR_TYPED_PARAM_UINT:
    return vs_fuzz_take(in, &p->value.ui, sizeof(p->value.ui));
  case VIR_TYPED_PARAM_LLONG:
    return vs_fuzz_take(in, &p->value.l, sizeof(p->value.l));
  case VIR_TYPED_PARAM_ULLONG:
    return vs_fuzz_take(in, &p->value.ul, sizeof(p->value.ul));
  case VIR_TYPED_PARAM_DOUBLE:
    return vs_fuzz_take(in, &p->value.d, sizeof(p->value.d));
  case VIR_TYPED_PARAM_BOOLEAN:
    if (!vs_fuzz_take(in, &b, 1))
      return false;
    p->value.b = b & 1;
    return true;
  default:
    return (p->value.s = vs_fuzz_take_string(in)) != NULL;
  }
}

/* One record's parameters (an exact-size array); *separator tells whether
 * a second record follows. */
static virTypedParameter *take_record(vs_fuzz_input_t *in, int *n,
                                      bool *separator) {
  virTypedParameter tmp[MAX_PARAMS];
  int count = 0;
  *separator = false;
  while (count < MAX_PARAMS) {
    virTypedParameter *p = &tmp[count];
    memset(p, 0, sizeof(*p));
    if (!take_field(in, p->field, separator) || !take_value(in, p))
      break;
    count++;
  }
  virTypedParameter *out = malloc((size_t)count * sizeof(*out) + 1);
  if (!out)
    abort();
  memcpy(out, tmp, (size_t)count * sizeof(*out));
  *n = count;
  return out;
}

static void free_record(virTypedParameter *params, int n) {
  for (int i = 0; i < n; i++)
    if (params[i].type == VIR_TYPED_PARAM_STRING)
      free(params[i].value.s);
  free(params);
}

/* What vs_idfield() promises of every instance the plugin writes. */
static void check_metric(void *ud, const vs_metric_t *m) {
  (void)ud;
  const char *ti = m->type_instance;
  size_t len = strlen(ti);
  bool bad = !m->type || m->nvalues < 1 || m->nvalues > 2 ||
             len >= VS_IDENT_MAX || strcmp(ti, ".") == 0 ||
             strcmp(ti, "..") == 0;
  for (size_t i = 0; i < len && !bad; i++)
    bad = ti[i] == '/' || (unsigned char)ti[i] < 0x20 || ti[i] == 0x7F;
  if (bad) {
    fprintf(stderr, "bad metric %s/%s (%u values)\n",
            m->type ? m->type : "(null)", ti, m->nvalues);
    abort();
  }
}

static const unsigned group_sets[] = {
    VS_GROUPS_ALL,
    VS_GROUPS_DEFAULT,
    VS_GROUP_BLOCK | VS_GROUP_INTERFACE,
    VS_GROUP_STATE | VS_GROUP_CPU | VS_GROUP_PERF,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vs_fuzz_input_t in = {data, size};
  uint8_t o;
  if (!vs_fuzz_take(&in, &o, 1))
    return 0;
  vs_config_t cfg;
  vs_config_init(&cfg);
  cfg.compat = (o & 1) ? VS_COMPAT_VIRT : VS_COMPAT_NONE;
  cfg.block_format = (o & 2) ? VS_BLOCK_FORMAT_SOURCE : VS_BLOCK_FORMAT_TARGET;
  cfg.block_format_basename = (o & 4) != 0;
  cfg.if_format = (o & 8) ? VS_IF_FORMAT_NUMBER : VS_IF_FORMAT_NAME;
  cfg.groups = group_sets[(o >> 4) & 3];
  if (o & 0x40) {
    /* Device filters, matched on raw, "domain:raw" and shown names. */
    if (vs_filter_add(&cfg.block_devs, "/^fuzz-domain:vd[a-c]$/", NULL) < 0 ||
        vs_filter_add(&cfg.if_devs, "vnet0", NULL) < 0)
      abort();
    cfg.if_devs.invert = (o & 0x80) != 0;
  }
  vs_metrics_opts_t opts = vs_metrics_opts_from_config(&cfg);

  int n1 = 0, n2 = 0;
  bool second = false, unused;
  virTypedParameter *p1 = take_record(&in, &n1, &second);
  virTypedParameter *p2 = second ? take_record(&in, &n2, &unused) : NULL;

  vs_domain_stats_t prev = {0}, cur = {0}, kept = {0};
  vs_error_t err = {0};
  if (vs_domain_stats_parse(p1, n1, &prev, &err) < 0 && err.msg[0] == '\0')
    abort();
  /* The kept reading: what the read path merges every answer into. */
  (void)vs_domain_stats_merge(&kept, &prev);
  vs_metrics_extra_t extra = {.domain_name = "fuzz-domain"};
  if (p2) {
    if (vs_domain_stats_parse(p2, n2, &cur, &err) == 0) {
      vs_domain_stats_drop_regressions(&cur, &kept);
      /* %CPU over one second between the two readings, as the core
       * computes it: 0 to 100, or negative when there is no figure. */
      if (vs_fields_has(&cur.cpu, VS_CPU_TIME) &&
          vs_fields_has(&kept.cpu, VS_CPU_TIME)) {
        double pct = vs_cpu_percent(kept.cpu.v[VS_CPU_TIME], 1000000000,
                                    cur.cpu.v[VS_CPU_TIME], 2000000000,
                                    cur.vcpu_current);
        if (!(pct < 0 || (pct >= 0 && pct <= 100))) {
          fprintf(stderr, "cpu percent %g\n", pct);
          abort();
        }
        extra.have_cpu_percent = pct >= 0;
        extra.cpu_percent = pct;
      }
      (void)vs_domain_stats_merge(&kept, &cur);
    }
  }
  vs_metrics_domain(&opts, p2 ? &cur : &prev, &extra, check_metric, NULL);
  vs_metrics_domain(&opts, &kept, NULL, check_metric, NULL);

  vs_domain_stats_clear(&prev);
  vs_domain_stats_clear(&cur);
  vs_domain_stats_clear(&kept);
  free_record(p1, n1);
  free_record(p2, n2);
  vs_config_clear(&cfg);
  return 0;
}
