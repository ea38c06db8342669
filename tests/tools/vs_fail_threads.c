/* LD_PRELOAD shim for fault tests: pthread_create fails with EAGAIN for the
 * first N threads whose start routine lives in a given shared object.
 *
 *   VS_FAIL_THREADS=N         how many calls fail (default 0: none)
 *   VS_FAIL_THREADS_IN=TEXT   part of that object's path (default
 *                             "virtscale.so")
 *
 * The plugin's first thread is its event loop's, started when the read
 * callback sets the plugin up: this makes that set-up fail the way a host
 * out of threads does, whichever collectd thread runs it (collectd names its
 * read threads only after they started, so a name cannot tell). */
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
  const char *in = getenv("VS_FAIL_THREADS_IN");
  if (!in)
    in = "virtscale.so";
  Dl_info info;
  if (n && dladdr((void *)start, &info) && info.dli_fname &&
      strstr(info.dli_fname, in) && atomic_fetch_add(&failed, 1) < atoi(n)) {
    fprintf(stderr, "vs_fail_threads: pthread_create in %s: EAGAIN\n",
            info.dli_fname);
    return EAGAIN;
  }
  return real(thread, attr, start, arg);
}
