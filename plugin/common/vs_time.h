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

/* The monotonic time a fraction (num/den) of the way from now to deadline_ns;
 * now when the deadline has passed. */
static inline uint64_t vs_part_of_remaining(uint64_t deadline_ns, unsigned num,
                                            unsigned den) {
  uint64_t now = vs_now_ns();
  return deadline_ns > now ? now + (deadline_ns - now) / den * num : now;
}
