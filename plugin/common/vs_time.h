/* virtscale - clocks. */
#pragma once

#include <stdint.h>
#include <time.h>

#define VS_NS_PER_SEC 1000000000ULL
#define VS_NS_PER_MS 1000000ULL

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC); thread-safe. */
static inline uint64_t vs_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * VS_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Wall-clock time in nanoseconds since the epoch (CLOCK_REALTIME). */
static inline uint64_t vs_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * VS_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}
