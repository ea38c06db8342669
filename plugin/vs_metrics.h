/* virtscale - domain statistics to collectd values (types, instances, data
 * source kinds and units), for virtscale's own identifiers and for the
 * identifiers of collectd's bundled virt plugin.
 *
 * Pure: no collectd or libvirt calls. Every metric is handed to a callback,
 * so the glue dispatches without an intermediate allocation and the unit
 * tests collect them into an array. docs/metrics.md lists the result. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vs_config.h"
#include "vs_stats.h"

typedef enum { VS_DS_GAUGE, VS_DS_DERIVE } vs_ds_kind_t;

typedef struct {
  vs_ds_kind_t kind;
  double gauge;   /* when kind == VS_DS_GAUGE */
  int64_t derive; /* when kind == VS_DS_DERIVE */
} vs_value_t;

/* One value list: a stock types.db type with 1 or 2 data sources. */
typedef struct {
  const char *type;          /* static string */
  const char *type_instance; /* valid during the callback only */
  unsigned nvalues;
  vs_value_t values[2];
} vs_metric_t;

typedef void (*vs_metric_cb)(void *ud, const vs_metric_t *m);

/* Options that shape the metrics (taken from vs_config_t). */
typedef struct {
  vs_compat_t compat;
  unsigned groups;
  const vs_filter_t *block_devs;
  const vs_filter_t *if_devs;
  vs_block_format_t block_format;
  bool block_format_basename;
  vs_if_format_t if_format;
} vs_metrics_opts_t;

/* The options of a configuration (borrows its filters). */
vs_metrics_opts_t vs_metrics_opts_from_config(const vs_config_t *cfg);

/* Derived figures that need history or host facts, computed by the core. */
typedef struct {
  const char *domain_name; /* for "domain:device" filter matching */
  bool have_unresponsive;  /* emit gauge-unresponsive (read path only) */
  bool unresponsive;
  bool have_cpu_percent;
  double cpu_percent; /* see vs_cpu_percent(); already scaled for compat */
} vs_metrics_extra_t;

/* The plugin name for the identifiers ("virtscale" or "virt"). */
const char *vs_metrics_plugin_name(vs_compat_t compat);

/* Emit every metric of st selected by opts through cb. Returns the number of
 * metrics emitted. Thread-safe (no shared state). */
size_t vs_metrics_domain(const vs_metrics_opts_t *opts,
                         const vs_domain_stats_t *st,
                         const vs_metrics_extra_t *extra, vs_metric_cb cb,
                         void *ud);
