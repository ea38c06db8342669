/* virtscale - small threading helpers shared by the plugin and the helper. */
#pragma once

#include <pthread.h>
#include <stdint.h>

/* Initialise a mutex: error-checking in debug builds (VS_DEBUG), so a lock
 * misuse aborts instead of deadlocking silently. */
void vs_mutex_init(pthread_mutex_t *m);

/* Initialise a condition variable that waits on CLOCK_MONOTONIC, so
 * deadlines from vs_now_ns() are immune to wall-clock jumps. */
void vs_cond_init(pthread_cond_t *c);

/* Wait on c until signalled or the monotonic deadline (ns) passes.
 * Returns 0 or ETIMEDOUT (positive, as pthread does). */
int vs_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                       uint64_t deadline_ns);

/* Lock / unlock that abort on failure (a failing mutex is a bug). */
void vs_lock(pthread_mutex_t *m);
void vs_unlock(pthread_mutex_t *m);
