/* LD_PRELOAD shim for fault tests: pthread_create fails with EAGAIN for the
 * first N calls made from threads whose name starts with a prefix.
 *
 *   VS_FAIL_THREADS=N           how many calls fail (default 0: none)
 *   VS_FAIL_THREADS_FROM=PREFIX caller thread name prefix (default "reader")
 *
 * collectd names its read threads "reader#N", so this makes a plugin's
 * set-up in its read callback fail the way a host out of threads does. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                         void *);

static atomic_int failed;

__attribute__((visibility("default"))) int
pthread_create(pthread_t *thread, const pthread_attr_t *attr,
               void *(*start)(void *), void *arg) {
  static create_fn real;
  if (!real)
    real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
  const char *n = getenv("VS_FAIL_THREADS");
  const char *from = getenv("VS_FAIL_THREADS_FROM");
  if (!from)
    from = "reader";
  char name[16] = "";
  if (n && pthread_getname_np(pthread_self(), name, sizeof(name)) == 0 &&
      strncmp(name, from, strlen(from)) == 0 &&
      atomic_fetch_add(&failed, 1) < atoi(n)) {
    fprintf(stderr, "vs_fail_threads: pthread_create from %s: EAGAIN\n", name);
    return EAGAIN;
  }
  return real(thread, attr, start, arg);
}
