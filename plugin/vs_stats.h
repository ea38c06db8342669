/* virtscale - libvirt domain statistics as plain structs.
 *
 * Plain data and pure functions, no libvirt types: the one shape the rest
 * of the plugin sees (vs_stats_parse.h turns libvirt's records into it).
 * Fields keep libvirt's units (noted per field); conversion to collectd's
 * units happens in vs_metrics.c. A field libvirt did not report (absent or
 * -1) is simply not marked present. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"

/* Statistics groups, as selected by the "Stats" option. */
typedef enum {
  VS_GROUP_STATE = 1 << 0,
  VS_GROUP_CPU = 1 << 1,
  VS_GROUP_BALLOON = 1 << 2,
  VS_GROUP_VCPU = 1 << 3,
  VS_GROUP_INTERFACE = 1 << 4,
  VS_GROUP_BLOCK = 1 << 5,
  VS_GROUP_PERF = 1 << 6,
} vs_group_t;

#define VS_GROUPS_ALL 0x7F
#define VS_NGROUPS 7

/* The index (0..VS_NGROUPS-1) of one group bit. */
static inline unsigned vs_group_index(vs_group_t g) {
  return (unsigned)__builtin_ctz((unsigned)g);
}
#define VS_GROUPS_DEFAULT (VS_GROUPS_ALL & ~VS_GROUP_PERF)

/* Name of one group as written in the config ("cpu"), or NULL. */
const char *vs_group_name(vs_group_t group);
/* Group for a config word, or 0 when unknown. */
vs_group_t vs_group_from_name(const char *name);

/* A fixed set of counters, each present or not. */
#define VS_FIELDS_MAX 16
typedef struct {
  uint64_t v[VS_FIELDS_MAX];
  uint32_t have; /* bit i set: v[i] is valid */
} vs_fields_t;

static inline void vs_fields_set(vs_fields_t *f, unsigned i, uint64_t v) {
  f->v[i] = v;
  f->have |= 1u << i;
}
static inline bool vs_fields_has(const vs_fields_t *f, unsigned i) {
  return (f->have >> i) & 1u;
}

/* cpu.* (nanoseconds) */
typedef enum {
  VS_CPU_TIME,
  VS_CPU_USER,
  VS_CPU_SYSTEM,
  VS_CPU__MAX
} vs_cpu_field_t;

/* balloon.* : sizes in KiB, faults as counts, last_update in epoch seconds,
 * swap_in/out in KiB (cumulative). */
typedef enum {
  VS_BAL_CURRENT,
  VS_BAL_MAXIMUM,
  VS_BAL_SWAP_IN,
  VS_BAL_SWAP_OUT,
  VS_BAL_MAJOR_FAULT,
  VS_BAL_MINOR_FAULT,
  VS_BAL_UNUSED,
  VS_BAL_AVAILABLE,
  VS_BAL_RSS,
  VS_BAL_USABLE,
  VS_BAL_LAST_UPDATE,
  VS_BAL_DISK_CACHES,
  VS_BAL_HUGETLB_PGALLOC,
  VS_BAL_HUGETLB_PGFAIL,
  VS_BAL__MAX
} vs_balloon_field_t;

/* vcpu.<n>.* : state (virVcpuState), time/wait/delay in nanoseconds */
typedef enum {
  VS_VCPU_STATE,
  VS_VCPU_TIME,
  VS_VCPU_WAIT,
  VS_VCPU_DELAY,
  VS_VCPU__MAX
} vs_vcpu_field_t;

/* net.<n>.* : bytes and packet counts */
typedef enum {
  VS_NET_RX_BYTES,
  VS_NET_RX_PKTS,
  VS_NET_RX_ERRS,
  VS_NET_RX_DROP,
  VS_NET_TX_BYTES,
  VS_NET_TX_PKTS,
  VS_NET_TX_ERRS,
  VS_NET_TX_DROP,
  VS_NET__MAX
} vs_net_field_t;

/* block.<n>.* : requests, bytes, times in nanoseconds, sizes in bytes */
typedef enum {
  VS_BLK_RD_REQS,
  VS_BLK_RD_BYTES,
  VS_BLK_RD_TIMES,
  VS_BLK_WR_REQS,
  VS_BLK_WR_BYTES,
  VS_BLK_WR_TIMES,
  VS_BLK_FL_REQS,
  VS_BLK_FL_TIMES,
  VS_BLK_ALLOCATION,
  VS_BLK_CAPACITY,
  VS_BLK_PHYSICAL,
  VS_BLK__MAX
} vs_block_field_t;

/* Field names as libvirt's bulk API spells them after the group prefix,
 * indexed by the enums above. */
extern const char *const vs_cpu_field_names[VS_CPU__MAX];
extern const char *const vs_balloon_field_names[VS_BAL__MAX];
extern const char *const vs_vcpu_field_names[VS_VCPU__MAX];
extern const char *const vs_net_field_names[VS_NET__MAX];
extern const char *const vs_block_field_names[VS_BLK__MAX];

typedef struct {
  char *name; /* target ("vda") or interface name ("vnet3"); owned */
  char *path; /* block: source path, may be NULL; owned */
  vs_fields_t f;
} vs_device_stats_t;

typedef struct {
  char *name; /* perf event name without "perf." ("cpu_cycles"); owned */
  uint64_t value;
} vs_perf_stat_t;

/* virDomainState's VIR_DOMAIN_SHUTOFF. */
#define VS_STATE_SHUTOFF 5

/* Upper bounds on indices accepted from a record, so a hostile or broken
 * reply cannot make us allocate without limit. */
#define VS_MAX_DEVICES 4096
#define VS_MAX_VCPUS 16384
#define VS_MAX_PERF 256

typedef struct {
  unsigned groups; /* vs_group_t bits present in the record */

  bool have_state;
  int state;  /* virDomainState (VS_STATE_SHUTOFF: not running) */
  int reason; /* state-specific reason */

  vs_fields_t cpu;
  vs_fields_t balloon;

  bool have_vcpu_current;
  unsigned vcpu_current, vcpu_maximum;
  vs_fields_t *vcpu; /* nvcpu entries; owned */
  size_t nvcpu;

  vs_device_stats_t *net; /* nnet entries; owned */
  size_t nnet;
  vs_device_stats_t *block; /* nblock entries; owned */
  size_t nblock;

  vs_perf_stat_t *perf; /* nperf entries; owned */
  size_t nperf;
} vs_domain_stats_t;

/* Release everything st owns and zero it (NULL-safe). */
void vs_domain_stats_clear(vs_domain_stats_t *st);

/* Grow a zero-filled array of elem-sized entries so that index idx exists
 * (*n becomes idx + 1 when it was smaller). Returns 0 or -ENOMEM. */
int vs_array_grow(void **arr, size_t *n, size_t idx, size_t elem);

/* Append a device to an array (per-domain sampling builds stats this way).
 * Takes copies of name and path. Returns the new entry or NULL (ENOMEM). */
vs_device_stats_t *vs_device_stats_append(vs_device_stats_t **arr, size_t *n,
                                          const char *name, const char *path);

/* Resize st's vCPU array to n zeroed entries. Returns 0 or -ENOMEM. */
int vs_domain_stats_set_nvcpu(vs_domain_stats_t *st, size_t n);

/* Whether a perf event's value is a level (cache occupancy, memory
 * bandwidth: cmt, mbmt, mbml) rather than a counter. */
bool vs_perf_is_gauge(const char *event);

/* Counters of cur that are lower than in prev (the same domain's previous
 * reading) are marked absent in cur (perf counters are removed). libvirt
 * returns such readings for a domain that is being torn down (vCPU times of 0,
 * CPU time from another source); dispatching them would make collectd compute a
 * huge rate on the next reading. Devices are matched by name, vCPUs by number.
 * Returns the number of counters dropped. Sizes and states are not touched. */
size_t vs_domain_stats_drop_regressions(vs_domain_stats_t *cur,
                                        const vs_domain_stats_t *prev);

/* Make dst's groups that src has (src->groups) a copy of src's, leaving
 * dst's other groups alone: dst keeps the last reading of every group when
 * groups are sampled at different cadences. Returns 0 or -ENOMEM (dst may
 * then lack some of src's groups). */
int vs_domain_stats_merge(vs_domain_stats_t *dst, const vs_domain_stats_t *src);

/* CPU utilisation in percent of the domain's vCPUs (0..100) from two cpu.time
 * readings (ns) taken at monotonic times t0 < t1 (ns). Returns a negative
 * value when the inputs do not allow a figure (no time elapsed, counter went
 * backwards, no vCPUs). */
double vs_cpu_percent(uint64_t cpu0, uint64_t t0, uint64_t cpu1, uint64_t t1,
                      unsigned nvcpu);
