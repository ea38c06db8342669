#include "vs_start_throttle.h"

#include <string.h>

#define EWMA_WEIGHT 0.3

static unsigned clamp(const vs_throttle_t *t, unsigned b) {
  if (b < 1)
    return 1;
  return b > t->conf.max_bound ? t->conf.max_bound : b;
}

/* A new bound: measurements of the old one no longer apply. */
static void set_bound(vs_throttle_t *t, unsigned b, uint64_t now) {
  t->bound = clamp(t, b);
  t->level_since_ns = now;
  t->fresh_n = 0;
  t->fresh_hold_s = 0;
  t->busy_sum = 0;
  t->busy_n = 0;
  t->limited = false;
}

void vs_throttle_init(vs_throttle_t *t, const vs_throttle_conf_t *conf,
                      uint64_t now) {
  memset(t, 0, sizeof(*t));
  t->conf = *conf;
  if (t->conf.ncpu == 0)
    t->conf.ncpu = 1;
  if (t->conf.max_bound == 0)
    t->conf.max_bound = 1;
  t->last_decision_ns = now;
  if (conf->auto_mode)
    set_bound(t, VS_THROTTLE_AUTO_START * t->conf.ncpu, now);
  else
    t->bound = conf->bound;
}

/* Auto mode: the VMs still waiting would make an under-filled last wave. */
static bool tail(const vs_throttle_t *t) {
  return t->conf.auto_mode && !t->backed_off && t->waiting > 0 &&
         t->waiting <= t->bound / 2;
}

void vs_throttle_set_waiting(vs_throttle_t *t, unsigned waiting) {
  t->waiting = waiting;
}

uint64_t vs_throttle_next_ns(vs_throttle_t *t, uint64_t now) {
  if (t->bound != 0 && t->in_flight >= t->bound && !tail(t)) {
    t->limited = true;
    return VS_THROTTLE_FULL;
  }
  if (t->any_started && t->conf.spacing_ns > 0) {
    uint64_t next = t->last_start_ns + t->conf.spacing_ns;
    if (now < next)
      return next - now;
  }
  return 0;
}

void vs_throttle_acquire(vs_throttle_t *t, uint64_t now) {
  if (t->bound != 0 && t->in_flight >= t->bound)
    t->tail_starts++;
  if (t->waiting > 0)
    t->waiting--;
  t->in_flight++;
  t->last_start_ns = now;
  t->any_started = true;
}

void vs_throttle_release(vs_throttle_t *t, uint64_t now, uint64_t acquired_ns,
                         bool ok) {
  if (t->in_flight > 0)
    t->in_flight--;
  if (!ok) {
    t->failures++;
    return;
  }
  /* Only VMs that ran their whole start at this bound measure it. */
  if (acquired_ns >= t->level_since_ns && now >= acquired_ns) {
    t->fresh_n++;
    t->fresh_hold_s += (double)(now - acquired_ns) / 1e9;
  }
}

vs_throttle_reason_t vs_throttle_adapt(vs_throttle_t *t, uint64_t now,
                                       const vs_host_load_t *load) {
  if (!t->conf.auto_mode || now - t->last_decision_ns < VS_THROTTLE_DECIDE_NS)
    return VS_THROTTLE_KEEP;
  t->last_decision_ns = now;
  unsigned ncpu = load && load->valid && load->ncpu ? load->ncpu : t->conf.ncpu;

  if (t->failures > 0) {
    t->failures = 0;
    unsigned old = t->bound;
    set_bound(t, t->bound / 2, now);
    t->settled = false;
    t->backed_off = true;
    t->prev_bound = 0;
    t->prev_x = 0;
    return t->bound == old ? VS_THROTTLE_KEEP : VS_THROTTLE_DOWN_FAILURE;
  }
  if (load && load->valid &&
      load->runnable > VS_THROTTLE_MAX_RUNNABLE * (double)ncpu &&
      t->bound > ncpu) {
    unsigned b = t->bound * 3 / 4;
    set_bound(t, b < ncpu ? ncpu : b, now);
    t->settled = true;
    t->backed_off = true;
    return VS_THROTTLE_DOWN_OVERLOAD;
  }
  if (load && load->valid) {
    t->busy_sum += load->busy;
    t->busy_n++;
  }
  unsigned need = t->bound / 4 > 1 ? t->bound / 4 : 1;
  if (t->settled || t->fresh_n < need || !t->limited)
    return VS_THROTTLE_KEEP;

  /* CPUs saturated at this bound: a higher one would not start VMs faster,
   * only make each wait longer. */
  if (t->busy_n > 0 &&
      t->busy_sum / (double)t->busy_n >= VS_THROTTLE_SATURATED_BUSY) {
    t->settled = true;
    return VS_THROTTLE_CPU_SATURATED;
  }

  /* Little's law with every slot in use: throughput = bound / hold time. */
  double x = (double)t->bound / (t->fresh_hold_s / (double)t->fresh_n);
  t->last_x = x;
  if (t->prev_bound == 0 || x >= t->prev_x * (1 + VS_THROTTLE_GAIN)) {
    if (t->bound >= t->conf.max_bound) {
      t->settled = true;
      return VS_THROTTLE_SETTLED;
    }
    t->prev_bound = t->bound;
    t->prev_x = x;
    set_bound(t, t->bound * 2, now);
    return VS_THROTTLE_UP_THROUGHPUT;
  }
  t->settled = true;
  if (x < t->prev_x * (1 - VS_THROTTLE_GAIN)) {
    set_bound(t, t->prev_bound, now);
    return VS_THROTTLE_DOWN_THROUGHPUT;
  }
  return VS_THROTTLE_SETTLED;
}

const char *vs_throttle_reason_name(vs_throttle_reason_t r) {
  switch (r) {
  case VS_THROTTLE_UP_THROUGHPUT:
    return "throughput-up";
  case VS_THROTTLE_DOWN_THROUGHPUT:
    return "throughput-down";
  case VS_THROTTLE_DOWN_FAILURE:
    return "failure";
  case VS_THROTTLE_DOWN_OVERLOAD:
    return "overload";
  case VS_THROTTLE_SETTLED:
    return "settled";
  case VS_THROTTLE_CPU_SATURATED:
    return "saturated";
  default:
    return "keep";
  }
}
