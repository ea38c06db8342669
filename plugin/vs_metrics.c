#include "vs_metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_cleanup.h"
#include "common/vs_idfield.h"
#include "common/vs_time.h"

#define KIB 1024

typedef struct {
  const vs_metrics_opts_t *o;
  const vs_metrics_extra_t *x;
  vs_metric_cb cb;
  void *ud;
  size_t count;
} emitter_t;

static vs_value_t gauge(double v) {
  return (vs_value_t){.kind = VS_DS_GAUGE, .gauge = v};
}

/* DERIVE is a signed 64-bit counter in collectd; libvirt's counters are
 * unsigned but never reach 2^63 (292 years of nanoseconds). */
static vs_value_t derive(uint64_t v) {
  return (vs_value_t){.kind = VS_DS_DERIVE, .derive = (int64_t)v};
}

static void emit(emitter_t *e, const char *type, const char *ti, unsigned n,
                 vs_value_t v0, vs_value_t v1) {
  vs_metric_t m = {.type = type, .type_instance = ti, .nvalues = n};
  m.values[0] = v0;
  m.values[1] = v1;
  e->cb(e->ud, &m);
  e->count++;
}

static void emit1(emitter_t *e, const char *type, const char *ti,
                  vs_value_t v) {
  emit(e, type, ti, 1, v, (vs_value_t){0});
}

/* A two-source counter (read/write, rx/tx). When libvirt reports only one
 * direction, that one still goes out, under the single-value type named by
 * `single` ("if_rx_octets"-style types take the device as instance, the
 * generic ones take "<dir>-<device>"). Values are scaled by 1/div. dev is
 * the device's identifier field, name the same before vs_idfield(): the
 * "<dir>-<device>" instance is made safe as a whole from it (escaping dev
 * again would escape its escapes). */
typedef struct {
  const char *pair_type;
  const char *single[2];  /* per direction: single-value type */
  bool single_dir_prefix; /* instance "<dir>-<dev>" instead of "<dev>" */
  const char *dir[2];     /* "read"/"write" or "rx"/"tx" */
} pair_spec_t;

static void emit_pair(emitter_t *e, const pair_spec_t *spec, const char *dev,
                      const char *name, const vs_fields_t *f, unsigned i0,
                      unsigned i1, uint64_t div) {
  bool h0 = vs_fields_has(f, i0), h1 = vs_fields_has(f, i1);
  if (h0 && h1) {
    emit(e, spec->pair_type, dev, 2, derive(f->v[i0] / div),
         derive(f->v[i1] / div));
    return;
  }
  unsigned idx[2] = {i0, i1};
  bool have[2] = {h0, h1};
  for (int d = 0; d < 2; d++) {
    if (!have[d])
      continue;
    char ti[VS_IDENT_MAX];
    if (spec->single_dir_prefix) {
      const char *parts[] = {spec->dir[d], name};
      vs_idfield_join(ti, sizeof(ti), parts, 2, '-');
    } else {
      snprintf(ti, sizeof(ti), "%s", dev);
    }
    emit1(e, spec->single[d], ti, derive(f->v[idx[d]] / div));
  }
}

vs_metrics_opts_t vs_metrics_opts_from_config(const vs_config_t *cfg) {
  return (vs_metrics_opts_t){
      .compat = cfg->compat,
      .groups = cfg->groups,
      .block_devs = &cfg->block_devs,
      .if_devs = &cfg->if_devs,
      .block_format = cfg->block_format,
      .block_format_basename = cfg->block_format_basename,
      .if_format = cfg->if_format,
  };
}

const char *vs_metrics_plugin_name(vs_compat_t compat) {
  return compat == VS_COMPAT_VIRT ? "virt" : "virtscale";
}

/* 1 while the domain's QEMU does not answer (its other values are withheld),
 * 0 otherwise: a threshold on it alerts on stuck domains. */
static void unresponsive_metric(emitter_t *e) {
  if (e->x && e->x->have_unresponsive)
    emit1(e, "gauge", "unresponsive", gauge(e->x->unresponsive ? 1 : 0));
}

static void state_metrics(emitter_t *e, const vs_domain_stats_t *st) {
  if (!(e->o->groups & VS_GROUP_STATE) || !st->have_state)
    return;
  emit(e, "domain_state", "", 2, gauge(st->state), gauge(st->reason));
}

static void cpu_metrics(emitter_t *e, const vs_domain_stats_t *st) {
  if (!(e->o->groups & VS_GROUP_CPU))
    return;
  const vs_fields_t *c = &st->cpu;
  if (vs_fields_has(c, VS_CPU_TIME))
    emit1(e, "virt_cpu_total", "", derive(c->v[VS_CPU_TIME]));
  if (vs_fields_has(c, VS_CPU_USER) && vs_fields_has(c, VS_CPU_SYSTEM)) {
    /* ps_cputime is microseconds in collectd's processes plugin; the
     * bundled virt plugin sends nanoseconds, kept in compatibility mode so
     * existing graphs keep their scale. */
    uint64_t div = e->o->compat == VS_COMPAT_VIRT ? 1 : 1000;
    emit(e, "ps_cputime", "", 2, derive(c->v[VS_CPU_USER] / div),
         derive(c->v[VS_CPU_SYSTEM] / div));
  }
  if (e->x && e->x->have_cpu_percent)
    emit1(e, "percent", "virt_cpu_total", gauge(e->x->cpu_percent));
}

static void vcpu_metrics(emitter_t *e, const vs_domain_stats_t *st) {
  if (!(e->o->groups & VS_GROUP_VCPU))
    return;
  for (size_t i = 0; i < st->nvcpu; i++) {
    if (!vs_fields_has(&st->vcpu[i], VS_VCPU_TIME))
      continue;
    char ti[24];
    snprintf(ti, sizeof(ti), "%zu", i);
    emit1(e, "virt_vcpu", ti, derive(st->vcpu[i].v[VS_VCPU_TIME]));
  }
}

static void memory_metrics(emitter_t *e, const vs_domain_stats_t *st) {
  if (!(e->o->groups & VS_GROUP_BALLOON))
    return;
  static const struct {
    vs_balloon_field_t field;
    const char *ti;
  } sizes[] = {
      {VS_BAL_CURRENT, "total"},
      {VS_BAL_MAXIMUM, "maximum"},
      {VS_BAL_UNUSED, "unused"},
      {VS_BAL_AVAILABLE, "available"},
      {VS_BAL_RSS, "rss"},
      {VS_BAL_USABLE, "usable"},
      {VS_BAL_DISK_CACHES, "disk_caches"},
  };
  const vs_fields_t *b = &st->balloon;
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    if (vs_fields_has(b, sizes[i].field))
      emit1(e, "memory", sizes[i].ti,
            gauge((double)b->v[sizes[i].field] * KIB));
  /* The bundled plugin also reports the balloon size as "actual_balloon";
   * it is the same figure as "total". */
  if (e->o->compat == VS_COMPAT_VIRT && vs_fields_has(b, VS_BAL_CURRENT))
    emit1(e, "memory", "actual_balloon",
          gauge((double)b->v[VS_BAL_CURRENT] * KIB));
  /* Cumulative KiB swapped: counters in bytes, as the swap plugin sends. */
  if (vs_fields_has(b, VS_BAL_SWAP_IN))
    emit1(e, "swap_io", "in", derive(b->v[VS_BAL_SWAP_IN] * KIB));
  if (vs_fields_has(b, VS_BAL_SWAP_OUT))
    emit1(e, "swap_io", "out", derive(b->v[VS_BAL_SWAP_OUT] * KIB));
  if (vs_fields_has(b, VS_BAL_MINOR_FAULT) &&
      vs_fields_has(b, VS_BAL_MAJOR_FAULT))
    emit(e, "ps_pagefaults", "", 2, derive(b->v[VS_BAL_MINOR_FAULT]),
         derive(b->v[VS_BAL_MAJOR_FAULT]));
  if (vs_fields_has(b, VS_BAL_HUGETLB_PGALLOC))
    emit1(e, "vmpage_action", "hugetlb_pgalloc",
          derive(b->v[VS_BAL_HUGETLB_PGALLOC]));
  if (vs_fields_has(b, VS_BAL_HUGETLB_PGFAIL))
    emit1(e, "vmpage_action", "hugetlb_pgfail",
          derive(b->v[VS_BAL_HUGETLB_PGFAIL]));
}

/* Event values of perf are counters except these three: cache occupancy in
 * bytes and memory bandwidth in bytes/s. */
static void perf_metrics(emitter_t *e, const vs_domain_stats_t *st) {
  if (!(e->o->groups & VS_GROUP_PERF))
    return;
  for (size_t i = 0; i < st->nperf; i++) {
    const vs_perf_stat_t *p = &st->perf[i];
    const char *prefixed[] = {"perf", p->name}; /* "perf_<event>" */
    char ti[VS_IDENT_MAX];
    if (e->o->compat == VS_COMPAT_VIRT) {
      /* virt names them "perf_<event>", all as DERIVE. */
      vs_idfield_join(ti, sizeof(ti), prefixed, 2, '_');
      emit1(e, "perf", ti, derive(p->value));
    } else if (vs_perf_is_gauge(p->name)) {
      vs_idfield_join(ti, sizeof(ti), prefixed, 2, '_');
      emit1(e, "gauge", ti, gauge((double)p->value));
    } else {
      vs_idfield(ti, sizeof(ti), p->name);
      emit1(e, "perf", ti, derive(p->value));
    }
  }
}

/* Whether a device is selected by its filter: matched on its raw name
 * (target, source path or interface name), on "domain:raw" and on the name
 * shown in the identifier. */
static bool device_selected(const emitter_t *e, const vs_filter_t *f,
                            const char *raw, const char *shown) {
  if (!f || f->n == 0)
    return true;
  const char *dom = e->x && e->x->domain_name ? e->x->domain_name : "";
  size_t len = strlen(dom) + 1 + strlen(raw) + 1;
  char *qualified = malloc(len);
  if (!qualified)
    return true; /* out of memory: report rather than silently drop */
  snprintf(qualified, len, "%s:%s", dom, raw);
  const char *names[] = {raw, qualified, shown};
  bool sel = vs_filter_selects(f, names, 3);
  free(qualified);
  return sel;
}

/* The block device's names, per BlockDeviceFormat: *raw is what filters
 * match (target or source path), *name the device's name before
 * vs_idfield() and *flush the name "flush-" is joined with. A source path
 * gets every '/' turned into '_' as collectd does (the documented DEV;
 * only the disks of one domain could meet there), *name without its
 * leading one; that copy is returned in *owned for the caller to free.
 * Returns 0, -ENOENT when the chosen attribute is missing (no source
 * path) or -ENOMEM. */
static int block_name(const emitter_t *e, const vs_device_stats_t *d,
                      const char **raw, const char **name, const char **flush,
                      char **owned) {
  *owned = NULL;
  if (e->o->block_format == VS_BLOCK_FORMAT_TARGET) {
    *raw = *name = *flush = d->name;
    return 0;
  }
  if (!d->path || !d->path[0])
    return -ENOENT;
  *raw = d->path;
  bool drop_lead = false;
  if (e->o->block_format_basename) {
    const char *slash = strrchr(d->path, '/');
    if (slash && slash[1]) {
      *name = *flush = slash + 1;
      return 0;
    }
  } else {
    /* collectd drops one leading '/' of every field; do the same so the
     * identifier reads "var_lib_..." as with the bundled plugin. */
    drop_lead = d->path[0] == '/';
  }
  char *copy = strdup(d->path);
  if (!copy)
    return -ENOMEM;
  for (char *c = copy; *c; c++)
    if (*c == '/')
      *c = '_';
  *owned = copy;
  *flush = copy;
  *name = copy + (drop_lead ? 1 : 0);
  return 0;
}

static void block_metrics(emitter_t *e, const vs_domain_stats_t *st) {
  if (!(e->o->groups & VS_GROUP_BLOCK))
    return;
  static const pair_spec_t ops = {"disk_ops",
                                  {"total_operations", "total_operations"},
                                  true,
                                  {"read", "write"}};
  static const pair_spec_t octets = {
      "disk_octets", {"total_bytes", "total_bytes"}, true, {"read", "write"}};
  static const pair_spec_t times = {"disk_time",
                                    {"total_time_in_ms", "total_time_in_ms"},
                                    true,
                                    {"read", "write"}};
  for (size_t i = 0; i < st->nblock; i++) {
    const vs_device_stats_t *d = &st->block[i];
    const vs_fields_t *f = &d->f;
    const char *raw, *name, *flush;
    _cleanup_free_ char *owned = NULL;
    char dev[VS_IDENT_MAX], ti[VS_IDENT_MAX];
    /* Without memory for the path's copy the disk is left out of this read
     * rather than written under another identifier. */
    if (block_name(e, d, &raw, &name, &flush, &owned) < 0)
      continue;
    vs_idfield(dev, sizeof(dev), name);
    if (!device_selected(e, e->o->block_devs, raw, dev))
      continue;

    emit_pair(e, &ops, dev, name, f, VS_BLK_RD_REQS, VS_BLK_WR_REQS, 1);
    emit_pair(e, &octets, dev, name, f, VS_BLK_RD_BYTES, VS_BLK_WR_BYTES, 1);
    /* disk_time: nanoseconds, as the bundled plugin sends them; the
     * single-direction fallback type is named in ms and gets ms. */
    if (vs_fields_has(f, VS_BLK_RD_TIMES) && vs_fields_has(f, VS_BLK_WR_TIMES))
      emit_pair(e, &times, dev, name, f, VS_BLK_RD_TIMES, VS_BLK_WR_TIMES, 1);
    else
      emit_pair(e, &times, dev, name, f, VS_BLK_RD_TIMES, VS_BLK_WR_TIMES,
                VS_NS_PER_MS);

    /* Flush: "flush-<dev>" as the bundled plugin; with a source path
     * collectd turns every '/' into '_' there, leading one included. */
    const char *flush_parts[] = {"flush", flush};
    vs_idfield_join(ti, sizeof(ti), flush_parts, 2, '-');
    if (vs_fields_has(f, VS_BLK_FL_REQS))
      emit1(e, "total_requests", ti, derive(f->v[VS_BLK_FL_REQS]));
    if (vs_fields_has(f, VS_BLK_FL_TIMES))
      emit1(e, "total_time_in_ms", ti,
            derive(f->v[VS_BLK_FL_TIMES] / VS_NS_PER_MS));

    if (vs_fields_has(f, VS_BLK_ALLOCATION))
      emit1(e, "disk_allocation", dev, gauge((double)f->v[VS_BLK_ALLOCATION]));
    if (vs_fields_has(f, VS_BLK_CAPACITY))
      emit1(e, "disk_capacity", dev, gauge((double)f->v[VS_BLK_CAPACITY]));
    if (vs_fields_has(f, VS_BLK_PHYSICAL))
      emit1(e, "disk_physical", dev, gauge((double)f->v[VS_BLK_PHYSICAL]));
    /* How full the disk is, for thresholds that do not know its size. */
    if (vs_fields_has(f, VS_BLK_ALLOCATION) &&
        vs_fields_has(f, VS_BLK_CAPACITY) && f->v[VS_BLK_CAPACITY] > 0) {
      const char *alloc_parts[] = {"disk_allocation", name};
      vs_idfield_join(ti, sizeof(ti), alloc_parts, 2, '-');
      /* qcow2 metadata can put the highest written offset past the
       * virtual size: the type's range ends at 100. */
      double pct = 100.0 * (double)f->v[VS_BLK_ALLOCATION] /
                   (double)f->v[VS_BLK_CAPACITY];
      emit1(e, "percent", ti, gauge(pct > 100.0 ? 100.0 : pct));
    }
  }
}

static void net_metrics(emitter_t *e, const vs_domain_stats_t *st) {
  if (!(e->o->groups & VS_GROUP_INTERFACE))
    return;
  static const pair_spec_t specs[] = {
      {"if_octets", {"if_rx_octets", "if_tx_octets"}, false, {"rx", "tx"}},
      {"if_packets", {"if_rx_packets", "if_tx_packets"}, false, {"rx", "tx"}},
      {"if_errors", {"if_rx_errors", "if_tx_errors"}, false, {"rx", "tx"}},
      {"if_dropped", {"if_rx_dropped", "if_tx_dropped"}, false, {"rx", "tx"}},
  };
  static const unsigned fields[][2] = {
      {VS_NET_RX_BYTES, VS_NET_TX_BYTES},
      {VS_NET_RX_PKTS, VS_NET_TX_PKTS},
      {VS_NET_RX_ERRS, VS_NET_TX_ERRS},
      {VS_NET_RX_DROP, VS_NET_TX_DROP},
  };
  for (size_t i = 0; i < st->nnet; i++) {
    const vs_device_stats_t *d = &st->net[i];
    char dev[VS_IDENT_MAX];
    if (e->o->if_format == VS_IF_FORMAT_NUMBER)
      snprintf(dev, sizeof(dev), "interface-%zu", i + 1);
    else
      vs_idfield(dev, sizeof(dev), d->name);
    if (!device_selected(e, e->o->if_devs, d->name, dev))
      continue;
    const char *name = e->o->if_format == VS_IF_FORMAT_NUMBER ? dev : d->name;
    for (size_t s = 0; s < 4; s++)
      emit_pair(e, &specs[s], dev, name, &d->f, fields[s][0], fields[s][1], 1);
  }
}

size_t vs_metrics_domain(const vs_metrics_opts_t *opts,
                         const vs_domain_stats_t *st,
                         const vs_metrics_extra_t *extra, vs_metric_cb cb,
                         void *ud) {
  emitter_t e = {.o = opts, .x = extra, .cb = cb, .ud = ud};
  unresponsive_metric(&e);
  state_metrics(&e, st);
  cpu_metrics(&e, st);
  vcpu_metrics(&e, st);
  memory_metrics(&e, st);
  perf_metrics(&e, st);
  block_metrics(&e, st);
  net_metrics(&e, st);
  return e.count;
}
