/* virtscale - the sampling plan, as pure decisions: which statistics groups
 * go in which tier, how often each tier samples each domain, how many
 * domains one call carries, and what a late call and the monitors' state
 * say (slow, or stuck on which domain). No I/O, no threads, no clock: every
 * time is passed in, so the decisions are unit-tested on a fake clock.
 *
 * Tiers, by what a group costs libvirtd (libvirt 9.0,
 * src/qemu/qemu_driver.c, qemuDomainGetStatsWorkers[]):
 *  - the job-free tier: state, interface and perf take no domain job and
 *    never talk to a QEMU monitor (cgroup, /proc and perf counters); one
 *    call answers for every running domain, every interval. It also lists
 *    the domains, and it is what keeps a frozen QEMU's state and traffic
 *    visible.
 *  - the monitor tier: cpu-total (its halt-poll figures come from the
 *    monitor's query-stats), balloon, vcpu and block take the domain's job
 *    and query its monitor; libvirtd walks the domains of one call one after
 *    another, waiting on each monitor. These calls carry chunks of domains
 *    spread over several connections, and when a full round over every
 *    domain takes longer than an interval, each domain is sampled every
 *    `cadence` intervals (a share of the domains each interval).
 *  - fixed tiers: one per group given a GroupInterval.
 * In per-domain mode the job-free tier is a listing and every group is
 * sampled by per-domain calls, one domain per call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vs_stats.h"

#define VS_TIERS_MAX (2 + VS_NGROUPS)
#define VS_TIER_ALL 0  /* the job-free tier (a listing in per-domain mode) */
#define VS_TIER_AUTO 1 /* the monitor tier, automatic cadence */

/* Fraction of an interval the monitor tier's work may fill: the rest is for
 * the job-free call, probes and variation. */
#define VS_PLAN_FILL 0.9
/* At most this many domains in one call: a call stuck on a frozen QEMU
 * holds up the domains after it in its chunk until it is found stuck. */
#define VS_PLAN_CHUNK_MAX 16
/* A call should carry at least this much work (ns). */
#define VS_PLAN_CALL_MIN_NS (50 * 1000 * 1000ULL)

typedef struct {
  unsigned groups;  /* vs_group_t bits asked in this tier's calls; 0 in tier
                       0 means a listing */
  bool all;         /* one call for every running domain */
  bool fixed;       /* cadence set by GroupInterval */
  unsigned cadence; /* intervals between two samples of one domain */
  double dom_ns;    /* measured wall per domain in a call (moving average),
                       0 until measured */
  uint64_t call_ns; /* the last call's wall (tier 0) */
  /* how many domains vs_plan_pick() took in read picked_tick: picking again
   * in the same read takes only what is left of the quota */
  uint64_t picked_tick;
  size_t picked;
} vs_tier_t;

typedef struct {
  uint64_t interval_ns;
  unsigned max_lanes;
  bool per_domain;
  uint64_t stuck_ns; /* a monitor busy this long: the domain is unresponsive */
  size_t ntiers;     /* tiers 0 and 1 always exist (1 may have no groups) */
  vs_tier_t tiers[VS_TIERS_MAX];
  /* the auto tier's full round (every domain once) as last estimated */
  uint64_t round_ns;
  unsigned round_domains, round_lanes;
  bool outgrown;       /* a full round does not fit an interval */
  unsigned fits_lower; /* adapts in a row that a lower cadence would fit */
} vs_plan_t;

/* A lower cadence is taken only after this many reads in a row found it
 * fitting with a margin (the round under this share of the room): a round
 * near a boundary does not flap. A wider margin (0.6) kept 150 domains at
 * Interval 1 every 2 intervals for good: measured with half the calls out,
 * their round (0.6-0.8 s) never looked small enough. */
#define VS_PLAN_DOWN_AFTER 3
#define VS_PLAN_DOWN_MARGIN 0.8

/* Monitor-bound groups (take a job, query the monitor). */
#define VS_GROUPS_MONITOR                                                      \
  (VS_GROUP_CPU | VS_GROUP_BALLOON | VS_GROUP_VCPU | VS_GROUP_BLOCK)

/* A call held up this long (a quarter of the stuck threshold) by one busy
 * monitor is given up and its other domains asked again; the domain is
 * called unresponsive only at the whole threshold. */
static inline uint64_t vs_plan_soft_ns(uint64_t stuck_ns) {
  return stuck_ns / 4;
}

/* The default stuck threshold for a read interval: half of it, at least
 * 0.5 s and at most 5 s. A healthy monitor answers a command in
 * milliseconds, a loaded one in tens or hundreds; a frozen QEMU is reported
 * within two intervals at short intervals, and a slow one is not called
 * stuck at long ones. */
uint64_t vs_plan_default_stuck_ns(uint64_t interval_ns);

/* Set p up for the groups asked for (vs_group_t bits), the mode, per-group
 * fixed intervals (seconds by vs_group_index(); 0: automatic), the read
 * interval, the lanes and the stuck threshold (0: the default). */
void vs_plan_init(vs_plan_t *p, unsigned groups, bool per_domain,
                  const double fixed_s[VS_NGROUPS], uint64_t interval_ns,
                  unsigned max_lanes, uint64_t stuck_ns);

/* Domains per call for ndue domains due with nlanes lanes: spread over the
 * lanes, at most VS_PLAN_CHUNK_MAX, and not so few that a call is mostly
 * overhead (a call is worth VS_PLAN_CALL_MIN_NS of work). */
size_t vs_plan_chunk(const vs_plan_t *p, size_t ndue, unsigned nlanes);

/* Whether one call for every domain, with the job-free and the monitor
 * tier's groups, answers n domains comfortably within an interval (a
 * quarter of it): then one call does it all, the cheapest way. */
bool vs_plan_one_call(const vs_plan_t *p, size_t n);

/* How many domains tier t samples this interval out of ndomains running
 * (ceil(ndomains / cadence)). */
size_t vs_plan_quota(const vs_plan_t *p, unsigned t, size_t ndomains);

/* One domain in the choice of who is sampled this interval. */
typedef struct {
  bool eligible;      /* running, not stuck, no job-taking call of its out */
  bool sampled;       /* sampled by this tier before */
  uint64_t last_tick; /* the read it was last sampled in */
} vs_plan_candidate_t;

/* Choose who tier t samples in read `tick`, out of n candidates: the
 * automatic cadence takes the quota's share of ndomains, longest unsampled
 * first (a round robin: every domain every `cadence` reads); a fixed one
 * every eligible domain whose interval has passed. Domains never sampled
 * are always taken. Called again in the same read (domains whose calls
 * answered meanwhile became eligible), it takes what is left of the quota.
 * Writes their indices into out (room for n) and returns how many. */
size_t vs_plan_pick(vs_plan_t *p, unsigned t, uint64_t tick,
                    const vs_plan_candidate_t *c, size_t n, size_t ndomains,
                    size_t *out);

/* Give back n sampled domains vs_plan_pick() took for tier t in this read
 * but that were not asked after all (the caller stopped early): the quota
 * is theirs again in the same read. */
void vs_plan_unpick(vs_plan_t *p, unsigned t, size_t n);

/* A call of the tiers in mask over n domains answered after wall_ns:
 * update the measured cost. */
void vs_plan_note_call(vs_plan_t *p, unsigned mask, size_t n, uint64_t wall_ns);

/* The expected wall of a call of the tiers in mask over n domains (0: not
 * measured yet). */
uint64_t vs_plan_expected_ns(const vs_plan_t *p, unsigned mask, size_t n);

/* Re-estimate the auto tier's full round over ndomains with nlanes lanes and
 * its cadence (up at once, down with hysteresis). Returns true when the
 * round started or stopped outgrowing the interval (p->outgrown tells
 * which): worth one log line. */
bool vs_plan_adapt(vs_plan_t *p, size_t ndomains, unsigned nlanes);

/* When a call sent at sent_ns is worth probing: it is late (twice its
 * expected wall) and old enough that a stuck monitor would show
 * (vs_plan_soft_ns()). Returns the monotonic time it becomes so. */
uint64_t vs_plan_check_at(const vs_plan_t *p, uint64_t sent_ns,
                          uint64_t expected_ns);

/* Which domain a late call is stuck on, from the monitor busy times (ms) of
 * its n domains (UINT64_MAX: not known): the longest busy one, if that is at
 * least vs_plan_soft_ns(). Returns its index or -1 (slow, not
 * stuck). */
long vs_plan_stuck_on(const vs_plan_t *p, const uint64_t *busy_ms, size_t n);

/* Whether a monitor busy for busy_ms makes its domain unresponsive. */
bool vs_plan_unresponsive(const vs_plan_t *p, uint64_t busy_ms);

/* One log line for p's latest change of "outgrown" into buf: "<what> over N
 * domains takes X s with L connections, more than the I s interval allows:
 * <which> every K intervals", or that it fits again. */
void vs_plan_describe(const vs_plan_t *p, const char *what, const char *which,
                      char *buf, size_t len);
