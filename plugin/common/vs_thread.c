#include "vs_thread.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "vs_time.h"

void vs_mutex_init(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
#ifdef VS_DEBUG
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
#endif
  pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
}

void vs_cond_init(pthread_cond_t *c) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(c, &a);
  pthread_condattr_destroy(&a);
}

int vs_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                       uint64_t deadline_ns) {
  struct timespec ts = {.tv_sec = (time_t)(deadline_ns / VS_NS_PER_SEC),
                        .tv_nsec = (long)(deadline_ns % VS_NS_PER_SEC)};
  return pthread_cond_timedwait(c, m, &ts);
}

void vs_lock(pthread_mutex_t *m) {
  if (pthread_mutex_lock(m) != 0)
    abort();
}

void vs_unlock(pthread_mutex_t *m) {
  if (pthread_mutex_unlock(m) != 0)
    abort();
}
