/* virtscale-start - host load for the auto throttle: CPU busy fraction and
 * runnable threads, from /proc/stat. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vs_start_throttle.h"

typedef struct {
  uint64_t busy_ticks;  /* user+nice+system+irq+softirq+steal, all CPUs */
  uint64_t total_ticks; /* busy + idle + iowait */
  unsigned running;     /* procs_running: runnable threads right now */
} vs_cpu_stat_t;

/* Parse the text of /proc/stat. Returns 0 or -EINVAL (no "cpu " line or no
 * procs_running). Pure. */
int vs_cpu_stat_parse(const char *text, vs_cpu_stat_t *ret);

/* Accumulates load over one decision interval. Owned by one thread. */
typedef struct {
  vs_cpu_stat_t start;
  bool have_start;
  double runnable_sum;
  unsigned samples;
  unsigned ncpu;
} vs_hostload_t;

/* Start measuring (reads /proc/stat). ncpu: online CPUs. */
void vs_hostload_begin(vs_hostload_t *h, unsigned ncpu);

/* Sample the runnable count (call every ~100 ms). */
void vs_hostload_tick(vs_hostload_t *h);

/* The load since vs_hostload_begin() / the previous call; starts the next
 * interval. .valid is false when /proc/stat could not be read. */
vs_host_load_t vs_hostload_take(vs_hostload_t *h);

/* Number of online CPUs (>= 1). */
unsigned vs_online_cpus(void);
