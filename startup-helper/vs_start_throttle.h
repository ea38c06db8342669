/* virtscale-start - the throttle: how many VMs may hold a start slot, and
 * when the next may start.
 *
 * Pure logic on a caller-supplied clock (nanoseconds, any monotonic origin)
 * and caller-supplied host load, so it is unit-tested on a fake clock. Not
 * thread-safe: the batch engine calls it under its lock.
 *
 * Fixed mode: at most `bound` slots (0 = unbounded), and at least
 * `spacing_ns` between two starts.
 *
 * Auto mode (--max-parallel auto) adapts the bound every VS_THROTTLE_DECIDE_NS
 * from three measurements (the reasons are in docs/startup-helper.md):
 *  1. failures: a start failed since the last decision -> halve the bound
 *     (a host that fails starts is not helped by more of them);
 *  2. host over-subscription: on average at least one runnable thread more
 *     than CPUs (procs_running) -> bound - 1: booting guests queue for CPU,
 *     which only stretches every VM's boot;
 *  3. start latency: the recent hold time (slot taken -> slot freed, EWMA)
 *     is over VS_THROTTLE_LATENCY_FACTOR times the fastest seen and the bound
 *     is above the CPU count -> bound - 1: something other than CPU (disk,
 *     libvirtd) is the bottleneck;
 *  4. idle host: CPU busy < VS_THROTTLE_IDLE_BUSY and fewer runnable threads
 *     than CPUs, VMs waited for a slot, at least one VM has finished, and no
 *     decrease in the last two decisions -> bound + max(1, bound / 2).
 * It starts at the number of CPUs and stays within [1, max_bound]. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define VS_THROTTLE_FULL UINT64_MAX
#define VS_THROTTLE_DECIDE_NS 500000000ULL /* 0.5 s */
#define VS_THROTTLE_IDLE_BUSY 0.85
#define VS_THROTTLE_LATENCY_FACTOR 3.0

/* Host load over the last decision interval (vs_start_hostload.h). */
typedef struct {
  bool valid;      /* false: no measurement (auto then only reacts to
                      failures and latency) */
  double busy;     /* fraction of all CPUs busy, 0..1 */
  double runnable; /* average runnable threads (excluding the sampler) */
  unsigned ncpu;
} vs_host_load_t;

typedef struct {
  bool auto_mode;
  unsigned bound;      /* fixed: the bound, 0 = unbounded. auto: ignored */
  unsigned ncpu;       /* auto: initial bound; >= 1 */
  unsigned max_bound;  /* auto: upper limit (e.g. number of VMs); >= 1 */
  uint64_t spacing_ns; /* minimum gap between two starts */
} vs_throttle_conf_t;

typedef enum {
  VS_THROTTLE_KEEP = 0,
  VS_THROTTLE_UP_IDLE,
  VS_THROTTLE_DOWN_FAILURE,
  VS_THROTTLE_DOWN_OVERLOAD,
  VS_THROTTLE_DOWN_LATENCY,
} vs_throttle_reason_t;

typedef struct {
  vs_throttle_conf_t conf;
  unsigned bound;     /* current bound, 0 = unbounded */
  unsigned in_flight; /* slots held */
  uint64_t last_start_ns;
  bool any_started;
  /* auto mode */
  uint64_t last_decision_ns;
  unsigned decisions_since_down;
  bool limited;       /* a VM waited on the bound since the last decision */
  unsigned failures;  /* since the last decision */
  unsigned completed; /* ever */
  double fastest_s;   /* shortest hold time seen */
  double recent_s;    /* EWMA of hold times */
} vs_throttle_t;

/* Set t up from conf at time now. */
void vs_throttle_init(vs_throttle_t *t, const vs_throttle_conf_t *conf,
                      uint64_t now);

/* Nanoseconds until the next start is allowed: 0 = now, VS_THROTTLE_FULL =
 * every slot is held (wait for a release). Notes that a VM is waiting on
 * the bound (auto mode uses it). */
uint64_t vs_throttle_next_ns(vs_throttle_t *t, uint64_t now);

/* A VM takes a slot at now (call only when vs_throttle_next_ns() said 0). */
void vs_throttle_acquire(vs_throttle_t *t, uint64_t now);

/* A VM frees its slot: held_ns is how long it held it, ok whether its start
 * succeeded. */
void vs_throttle_release(vs_throttle_t *t, uint64_t now, uint64_t held_ns,
                         bool ok);

/* Auto mode: decide whether to change the bound; does nothing before
 * VS_THROTTLE_DECIDE_NS since the last decision (returns KEEP then, too).
 * load: the host load over that interval. Returns why the bound changed. */
vs_throttle_reason_t vs_throttle_adapt(vs_throttle_t *t, uint64_t now,
                                       const vs_host_load_t *load);

/* Short name of a reason ("idle", "failure", ...), static. */
const char *vs_throttle_reason_name(vs_throttle_reason_t r);
