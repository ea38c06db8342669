#include "vs_schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_time.h"

/* Job-free groups (no job, no monitor). */
#define GROUPS_JOB_FREE (VS_GROUP_STATE | VS_GROUP_INTERFACE | VS_GROUP_PERF)

/* Weight of a new measurement in the moving averages. */
#define EWMA_NEW 0.3
/* A call is late after twice its expected wall plus this (scheduling noise
 * of a loaded host). */
#define LATE_SLACK_NS (20 * VS_NS_PER_MS)

uint64_t vs_plan_default_stuck_ns(uint64_t interval_ns) {
  uint64_t s = interval_ns / 2;
  if (s < VS_NS_PER_SEC / 2)
    s = VS_NS_PER_SEC / 2;
  if (s > 5 * VS_NS_PER_SEC)
    s = 5 * VS_NS_PER_SEC;
  return s;
}

void vs_plan_init(vs_plan_t *p, unsigned groups, bool per_domain,
                  const double fixed_s[VS_NGROUPS], uint64_t interval_ns,
                  unsigned max_lanes, uint64_t stuck_ns) {
  memset(p, 0, sizeof(*p));
  p->interval_ns = interval_ns ? interval_ns : VS_NS_PER_SEC;
  p->max_lanes = max_lanes ? max_lanes : 1;
  p->per_domain = per_domain;
  p->stuck_ns = stuck_ns ? stuck_ns : vs_plan_default_stuck_ns(interval_ns);
  unsigned fixed = 0;
  for (unsigned g = 0; g < VS_NGROUPS; g++)
    if (fixed_s && fixed_s[g] > 0 && (groups & (1u << g)))
      fixed |= 1u << g;
  unsigned rest = groups & ~fixed;
  /* Tier 0: every running domain in one call. The state is always asked:
   * it is how a domain that stops during a call is recognised. */
  p->tiers[0] = (vs_tier_t){
      .groups = per_domain ? 0 : VS_GROUP_STATE | (rest & GROUPS_JOB_FREE),
      .all = true,
      .cadence = 1};
  p->tiers[1] = (vs_tier_t){.groups = per_domain ? rest & ~VS_GROUP_STATE
                                                 : rest & VS_GROUPS_MONITOR,
                            .cadence = 1};
  p->ntiers = 2;
  for (unsigned g = 0; g < VS_NGROUPS; g++) {
    if (!(fixed & (1u << g)))
      continue;
    double k = round(fixed_s[g] * 1e9 / (double)p->interval_ns);
    p->tiers[p->ntiers++] = (vs_tier_t){
        .groups = 1u << g, .fixed = true, .cadence = k < 1 ? 1 : (unsigned)k};
  }
}

size_t vs_plan_chunk(const vs_plan_t *p, size_t ndue, unsigned nlanes) {
  if (p->per_domain || ndue == 0)
    return 1;
  if (nlanes == 0)
    nlanes = 1;
  /* As many waves of calls over the lanes as the cap needs, and chunks of
   * equal size within them: 150 domains on 4 lanes are 12 calls of 13
   * (3 waves of 13 domains' time), not 10 of 16 (3 waves of 16). */
  size_t per_lane = (ndue + nlanes - 1) / nlanes;
  size_t waves = (per_lane + VS_PLAN_CHUNK_MAX - 1) / VS_PLAN_CHUNK_MAX;
  size_t c = (ndue + nlanes * waves - 1) / (nlanes * waves);
  double dom = p->tiers[VS_TIER_AUTO].dom_ns;
  if (dom > 0) {
    size_t worth = (size_t)ceil((double)VS_PLAN_CALL_MIN_NS / dom);
    if (c < worth)
      c = worth;
  }
  return c > VS_PLAN_CHUNK_MAX ? VS_PLAN_CHUNK_MAX : c;
}

bool vs_plan_one_call(const vs_plan_t *p, size_t n) {
  const vs_tier_t *t = &p->tiers[VS_TIER_AUTO];
  if (p->per_domain || t->groups == 0 || t->cadence != 1)
    return false;
  if (t->dom_ns <= 0)
    return n <= VS_PLAN_CHUNK_MAX;
  return t->dom_ns * (double)n <= 0.25 * (double)p->interval_ns;
}

size_t vs_plan_quota(const vs_plan_t *p, unsigned t, size_t ndomains) {
  unsigned k = p->tiers[t].cadence ? p->tiers[t].cadence : 1;
  return (ndomains + k - 1) / k;
}

typedef struct {
  size_t idx;
  bool sampled;
  uint64_t last;
} order_t;

static int overdue_cmp(const void *a, const void *b) {
  const order_t *x = a, *y = b;
  if (x->sampled != y->sampled)
    return x->sampled ? 1 : -1; /* never sampled first */
  if (x->last != y->last)
    return x->last < y->last ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

size_t vs_plan_pick(vs_plan_t *p, unsigned t, uint64_t tick,
                    const vs_plan_candidate_t *c, size_t n, size_t ndomains,
                    size_t *out) {
  vs_tier_t *tier = &p->tiers[t];
  if (tier->picked_tick != tick) {
    tier->picked_tick = tick;
    tier->picked = 0;
  }
  unsigned k = tier->cadence ? tier->cadence : 1;
  order_t *o = malloc((n ? n : 1) * sizeof(*o));
  if (!o)
    return 0;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    /* One sample per tier and read: a domain whose values of this read
     * are in (its first call answered) is not asked twice. */
    if (!c[i].eligible || (c[i].sampled && c[i].last_tick == tick))
      continue;
    /* A fixed cadence samples a domain when its interval has passed. */
    if (tier->fixed && c[i].sampled && tick < c[i].last_tick + k)
      continue;
    o[m++] =
        (order_t){.idx = i, .sampled = c[i].sampled, .last = c[i].last_tick};
  }
  qsort(o, m, sizeof(*o), overdue_cmp);
  /* The automatic cadence takes the quota's share of the domains each
   * read, the longest unsampled first: a round robin that samples every
   * domain every `cadence` reads in the steady state and spreads a burst
   * (domains that all started, or all became due, at once) over the next
   * reads. A domain never sampled is not held back by the quota: it gets
   * its first values at once. */
  size_t quota = tier->fixed ? m : vs_plan_quota(p, t, ndomains);
  quota = quota > tier->picked ? quota - tier->picked : 0;
  size_t taken = 0, counted = 0;
  for (size_t i = 0; i < m; i++)
    if (counted < quota || !o[i].sampled) {
      out[taken++] = o[i].idx;
      counted += o[i].sampled;
    }
  tier->picked += counted;
  free(o);
  return taken;
}

void vs_plan_unpick(vs_plan_t *p, unsigned t, size_t n) {
  vs_tier_t *tier = &p->tiers[t];
  tier->picked = tier->picked > n ? tier->picked - n : 0;
}

static void ewma(double *avg, double x) {
  *avg = *avg > 0 ? (1 - EWMA_NEW) * *avg + EWMA_NEW * x : x;
}

void vs_plan_note_call(vs_plan_t *p, unsigned mask, size_t n,
                       uint64_t wall_ns) {
  if (mask & (1u << VS_TIER_ALL))
    p->tiers[0].call_ns = wall_ns;
  if (n == 0 || mask == (1u << VS_TIER_ALL))
    return;
  /* A call of several tiers costs like the monitor tier's: it is measured
   * there when it includes it. */
  for (unsigned t = 1; t < p->ntiers; t++)
    if (mask & (1u << t)) {
      ewma(&p->tiers[t].dom_ns, (double)wall_ns / (double)n);
      return;
    }
}

uint64_t vs_plan_expected_ns(const vs_plan_t *p, unsigned mask, size_t n) {
  if (mask == (1u << VS_TIER_ALL))
    return p->tiers[0].call_ns;
  for (unsigned t = 1; t < p->ntiers; t++)
    if (mask & (1u << t))
      return (uint64_t)(p->tiers[t].dom_ns * (double)n);
  return 0;
}

bool vs_plan_adapt(vs_plan_t *p, size_t ndomains, unsigned nlanes) {
  vs_tier_t *t = &p->tiers[VS_TIER_AUTO];
  if (nlanes == 0)
    nlanes = 1;
  if (t->groups == 0 && !p->per_domain)
    return false;
  if (t->dom_ns <= 0 || ndomains == 0)
    return false;
  /* Lanes work in parallel, a call at a time: the round is as many waves
   * of calls as the chunks make, each as long as a chunk. */
  unsigned lanes = ndomains < nlanes ? (unsigned)ndomains : nlanes;
  size_t chunk = vs_plan_chunk(p, ndomains, lanes);
  size_t calls = (ndomains + chunk - 1) / chunk;
  size_t waves = (calls + lanes - 1) / lanes;
  p->round_ns = (uint64_t)(t->dom_ns * (double)(waves * chunk));
  p->round_domains = (unsigned)ndomains;
  p->round_lanes = lanes;
  double room = VS_PLAN_FILL * (double)p->interval_ns;
  unsigned need = (unsigned)ceil((double)p->round_ns / room);
  if (need < 1)
    need = 1;
  /* Up at once; down only when the lower cadence has fitted with a margin
   * for a while, so a round near a boundary does not flap. */
  if (need >= t->cadence) {
    t->cadence = need;
    p->fits_lower = 0;
  } else if ((double)p->round_ns <
                 VS_PLAN_DOWN_MARGIN * room * (t->cadence - 1) &&
             ++p->fits_lower >= VS_PLAN_DOWN_AFTER) {
    t->cadence = need;
    p->fits_lower = 0;
  } else if ((double)p->round_ns >=
             VS_PLAN_DOWN_MARGIN * room * (t->cadence - 1)) {
    p->fits_lower = 0;
  }
  bool outgrown = t->cadence > 1;
  bool changed = outgrown != p->outgrown;
  p->outgrown = outgrown;
  return changed;
}

uint64_t vs_plan_check_at(const vs_plan_t *p, uint64_t sent_ns,
                          uint64_t expected_ns) {
  uint64_t late = 2 * expected_ns + LATE_SLACK_NS;
  uint64_t soft = vs_plan_soft_ns(p->stuck_ns);
  return sent_ns + (late > soft ? late : soft);
}

long vs_plan_stuck_on(const vs_plan_t *p, const uint64_t *busy_ms, size_t n) {
  long best = -1;
  for (size_t i = 0; i < n; i++)
    if (busy_ms[i] != UINT64_MAX &&
        (best < 0 || busy_ms[i] > busy_ms[(size_t)best]))
      best = (long)i;
  if (best >= 0 &&
      busy_ms[(size_t)best] * VS_NS_PER_MS >= vs_plan_soft_ns(p->stuck_ns))
    return best;
  return -1;
}

bool vs_plan_unresponsive(const vs_plan_t *p, uint64_t busy_ms) {
  return busy_ms != UINT64_MAX && busy_ms * VS_NS_PER_MS >= p->stuck_ns;
}

void vs_plan_describe(const vs_plan_t *p, const char *what, const char *which,
                      char *buf, size_t len) {
  double round = (double)p->round_ns / VS_NS_PER_SEC;
  double interval = (double)p->interval_ns / VS_NS_PER_SEC;
  const char *conns = p->round_lanes == 1 ? "connection" : "connections";
  if (p->outgrown)
    snprintf(buf, len,
             "%s over %u domains takes %.2f s with %u %s, more than the %.3g s "
             "interval allows: %s every %u intervals",
             what, p->round_domains, round, p->round_lanes, conns, interval,
             which, p->tiers[VS_TIER_AUTO].cadence);
  else
    snprintf(buf, len,
             "%s over %u domains fits the %.3g s interval again (%.2f s with "
             "%u %s)",
             what, p->round_domains, interval, round, p->round_lanes, conns);
}
