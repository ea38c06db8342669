#include "vs_start_throttle.h"

#include <string.h>

#define EWMA_WEIGHT 0.3

void vs_throttle_init(vs_throttle_t *t, const vs_throttle_conf_t *conf,
                      uint64_t now) {
  memset(t, 0, sizeof(*t));
  t->conf = *conf;
  if (t->conf.ncpu == 0)
    t->conf.ncpu = 1;
  if (t->conf.max_bound == 0)
    t->conf.max_bound = 1;
  if (conf->auto_mode)
    t->bound =
        t->conf.ncpu < t->conf.max_bound ? t->conf.ncpu : t->conf.max_bound;
  else
    t->bound = conf->bound;
  t->last_decision_ns = now;
  t->decisions_since_down = 2; /* no decrease to wait out yet */
}

uint64_t vs_throttle_next_ns(vs_throttle_t *t, uint64_t now) {
  if (t->bound != 0 && t->in_flight >= t->bound) {
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
  t->in_flight++;
  t->last_start_ns = now;
  t->any_started = true;
}

void vs_throttle_release(vs_throttle_t *t, uint64_t now, uint64_t held_ns,
                         bool ok) {
  if (t->in_flight > 0)
    t->in_flight--;
  if (!ok) {
    t->failures++;
    return;
  }
  double s = (double)held_ns / 1e9;
  if (t->completed == 0 || s < t->fastest_s)
    t->fastest_s = s;
  t->recent_s =
      t->completed == 0 ? s : EWMA_WEIGHT * s + (1 - EWMA_WEIGHT) * t->recent_s;
  t->completed++;
}

static unsigned clamp(const vs_throttle_t *t, unsigned b) {
  if (b < 1)
    return 1;
  return b > t->conf.max_bound ? t->conf.max_bound : b;
}

vs_throttle_reason_t vs_throttle_adapt(vs_throttle_t *t, uint64_t now,
                                       const vs_host_load_t *load) {
  if (!t->conf.auto_mode || now - t->last_decision_ns < VS_THROTTLE_DECIDE_NS)
    return VS_THROTTLE_KEEP;
  t->last_decision_ns = now;
  unsigned old = t->bound;
  vs_throttle_reason_t why = VS_THROTTLE_KEEP;
  unsigned ncpu = load && load->valid && load->ncpu ? load->ncpu : t->conf.ncpu;

  if (t->failures > 0) {
    t->bound = clamp(t, t->bound / 2);
    why = VS_THROTTLE_DOWN_FAILURE;
  } else if (load && load->valid && load->runnable >= ncpu + 1.0 &&
             t->bound > 1) {
    t->bound = clamp(t, t->bound - 1);
    why = VS_THROTTLE_DOWN_OVERLOAD;
  } else if (t->completed > 0 &&
             t->recent_s > VS_THROTTLE_LATENCY_FACTOR * t->fastest_s &&
             t->bound > ncpu) {
    t->bound = clamp(t, t->bound - 1);
    why = VS_THROTTLE_DOWN_LATENCY;
  } else if (load && load->valid && load->busy < VS_THROTTLE_IDLE_BUSY &&
             load->runnable < ncpu && t->limited && t->completed > 0 &&
             t->decisions_since_down >= 2) {
    unsigned step = t->bound / 2 > 1 ? t->bound / 2 : 1;
    t->bound = clamp(t, t->bound + step);
    why = VS_THROTTLE_UP_IDLE;
  }
  if (why == VS_THROTTLE_DOWN_FAILURE || why == VS_THROTTLE_DOWN_OVERLOAD ||
      why == VS_THROTTLE_DOWN_LATENCY)
    t->decisions_since_down = 0;
  else
    t->decisions_since_down++;
  t->failures = 0;
  t->limited = false;
  return t->bound == old ? VS_THROTTLE_KEEP : why;
}

const char *vs_throttle_reason_name(vs_throttle_reason_t r) {
  switch (r) {
  case VS_THROTTLE_UP_IDLE:
    return "idle";
  case VS_THROTTLE_DOWN_FAILURE:
    return "failure";
  case VS_THROTTLE_DOWN_OVERLOAD:
    return "overload";
  case VS_THROTTLE_DOWN_LATENCY:
    return "latency";
  default:
    return "keep";
  }
}
