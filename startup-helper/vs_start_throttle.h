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
 * Auto mode (--max-parallel auto) climbs towards the bound with the best
 * measured throughput, deciding at most every VS_THROTTLE_DECIDE_NS (the
 * reasons and the measurements behind them are in docs/startup-helper.md):
 *  - it starts at VS_THROTTLE_AUTO_START x CPUs;
 *  - the throughput of a bound b is estimated with Little's law as
 *    b / (mean slot hold time) over VMs that took their slot at that bound
 *    and finished (at least max(1, b/4) of them), while VMs were waiting;
 *  - saturated: when the host's CPUs were on average at least
 *    VS_THROTTLE_SATURATED_BUSY busy while this bound was the limit, it
 *    stays ("saturated", then settled): more VMs at once cannot start more per
 * second, they only wait longer each (Little's law);
 *  - climb: otherwise the first estimate, or one at least VS_THROTTLE_GAIN
 *    better than the previous bound's, doubles the bound; one worse by the
 *    same margin goes back to the previous bound; either way, once a
 *    doubling no longer pays, the bound stays ("settled");
 *  - failures: a start failed since the last decision -> halve the bound and
 *    climb again from there (a host that fails starts is not helped by more);
 *  - host load: more than VS_THROTTLE_MAX_RUNNABLE runnable threads per CPU
 *    (procs_running, averaged over the interval) -> bound x 3/4 and settle:
 *    each booting guest would get less than a quarter of a CPU, and guest
 *    watchdogs and timeouts start to fire;
 *  - tail: when the VMs still waiting to start are at most half the bound
 *    (vs_throttle_set_waiting()), they start at once, over the bound: held
 *    back, they would boot as a last wave that leaves CPUs idle (5 guests at
 *    bound 2: waves of 2, 2 and 1); started with the wave before, they fill
 *    them, saturated CPUs too (5 TCG guests on 2 CPUs, 7 storms with the
 *    tail against 4 at bound 2: wall -10 %, mean time to ready +5 %). Not
 *    after a failure or an overload lowered the bound.
 * It stays within [1, max_bound] (the tail aside). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define VS_THROTTLE_FULL UINT64_MAX
#define VS_THROTTLE_DECIDE_NS 500000000ULL /* 0.5 s */
#define VS_THROTTLE_AUTO_START 1           /* initial bound per CPU */
#define VS_THROTTLE_GAIN 0.05        /* throughput gain a doubling must show */
#define VS_THROTTLE_MAX_RUNNABLE 4.0 /* runnable threads per CPU */
#define VS_THROTTLE_SATURATED_BUSY 0.9 /* mean CPU busy: no climbing */

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
  unsigned ncpu;       /* auto: online CPUs (the initial bound); >= 1 */
  unsigned max_bound;  /* auto: upper limit (e.g. number of VMs); >= 1 */
  uint64_t spacing_ns; /* minimum gap between two starts */
} vs_throttle_conf_t;

typedef enum {
  VS_THROTTLE_KEEP = 0,
  VS_THROTTLE_UP_THROUGHPUT,   /* the bound paid: doubled */
  VS_THROTTLE_DOWN_THROUGHPUT, /* the last doubling lost: back */
  VS_THROTTLE_DOWN_FAILURE,
  VS_THROTTLE_DOWN_OVERLOAD,
  VS_THROTTLE_SETTLED, /* the last doubling did not pay: stay (no change) */
  VS_THROTTLE_CPU_SATURATED, /* CPUs saturated at this bound: stay */
} vs_throttle_reason_t;

typedef struct {
  vs_throttle_conf_t conf;
  unsigned bound;     /* current bound, 0 = unbounded */
  unsigned in_flight; /* slots held */
  uint64_t last_start_ns;
  bool any_started;
  /* auto mode */
  uint64_t last_decision_ns;
  uint64_t level_since_ns; /* when the bound last changed */
  bool limited;            /* a VM waited on the bound since the change */
  bool settled;            /* stop climbing (until a failure) */
  unsigned failures;       /* since the last decision */
  unsigned fresh_n;        /* VMs that took a slot at this bound, done */
  double fresh_hold_s;     /* their total hold time */
  double busy_sum;         /* CPU busy of the decisions at this bound */
  unsigned busy_n;         /* how many were measured */
  unsigned prev_bound;     /* the bound before the last doubling, 0 none */
  double prev_x;           /* its throughput estimate, VMs/s */
  double last_x;           /* the latest estimate (reports, tests) */
  unsigned waiting;        /* VMs still to start (vs_throttle_set_waiting) */
  bool backed_off;         /* a failure or an overload lowered the bound */
  unsigned tail_starts;    /* VMs started over the bound by the tail rule */
} vs_throttle_t;

/* Set t up from conf at time now. */
void vs_throttle_init(vs_throttle_t *t, const vs_throttle_conf_t *conf,
                      uint64_t now);

/* Nanoseconds until the next start is allowed: 0 = now, VS_THROTTLE_FULL =
 * every slot is held (wait for a release). Notes that a VM is waiting on
 * the bound (auto mode uses it). */
uint64_t vs_throttle_next_ns(vs_throttle_t *t, uint64_t now);

/* How many VMs are still waiting to start (auto mode's tail rule); each
 * vs_throttle_acquire() counts one off. */
void vs_throttle_set_waiting(vs_throttle_t *t, unsigned waiting);

/* A VM takes a slot at now (call only when vs_throttle_next_ns() said 0). */
void vs_throttle_acquire(vs_throttle_t *t, uint64_t now);

/* A VM frees its slot at now; it took it at acquired_ns (the time given to
 * vs_throttle_acquire()); ok whether its start succeeded. */
void vs_throttle_release(vs_throttle_t *t, uint64_t now, uint64_t acquired_ns,
                         bool ok);

/* Auto mode: decide whether to change the bound; does nothing before
 * VS_THROTTLE_DECIDE_NS since the last decision (returns KEEP then, too).
 * load: the host load over that interval (may be NULL or invalid). Returns
 * what it decided (KEEP when nothing happened). */
vs_throttle_reason_t vs_throttle_adapt(vs_throttle_t *t, uint64_t now,
                                       const vs_host_load_t *load);

/* Short name of a reason ("idle", "failure", ...), static. */
const char *vs_throttle_reason_name(vs_throttle_reason_t r);
