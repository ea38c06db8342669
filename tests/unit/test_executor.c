/* The timed executor with slow fake calls: deadlines, abandoning a running
 * call, replacing its worker, the bound on threads, shutdown with calls still
 * stuck, and many concurrent submitters (run under ThreadSanitizer in CI). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/vs_executor.h"
#include "common/vs_thread.h"
#include "common/vs_time.h"

#define MS VS_NS_PER_MS

/* A call that blocks until its gate opens: a stuck QEMU monitor. */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool open;
} gate_t;

static void gate_init(gate_t *g) {
  vs_mutex_init(&g->lock);
  vs_cond_init(&g->cond);
  g->open = false;
}

static void gate_open(gate_t *g) {
  vs_lock(&g->lock);
  g->open = true;
  pthread_cond_broadcast(&g->cond);
  vs_unlock(&g->lock);
}

static atomic_int released; /* release() calls */
static atomic_int ran;      /* calls that returned */

typedef struct {
  gate_t *gate; /* NULL: return at once */
  unsigned sleep_ms;
  int result;
} call_t;

static void call_fn(void *arg) {
  call_t *c = arg;
  if (c->sleep_ms)
    usleep(c->sleep_ms * 1000);
  if (c->gate) {
    vs_lock(&c->gate->lock);
    while (!c->gate->open)
      pthread_cond_wait(&c->gate->cond, &c->gate->lock);
    vs_unlock(&c->gate->lock);
  }
  c->result = 42;
  atomic_fetch_add(&ran, 1);
}

static void call_release(void *arg) {
  atomic_fetch_add(&released, 1);
  free(arg);
}

static call_t *new_call(gate_t *g, unsigned sleep_ms) {
  call_t *c = calloc(1, sizeof(*c));
  assert_non_null(c);
  c->gate = g;
  c->sleep_ms = sleep_ms;
  return c;
}

static vs_executor_t *new_executor(unsigned workers, unsigned abandoned) {
  vs_executor_opts_t o = {
      .name = "test", .max_workers = workers, .max_abandoned = abandoned};
  vs_executor_t *ex = NULL;
  vs_error_t err = {0};
  assert_int_equal(vs_executor_new(&o, &ex, &err), 0);
  return ex;
}

static void wait_until(bool (*pred)(void *), void *ud) {
  uint64_t end = vs_now_ns() + 5000 * MS;
  while (!pred(ud)) {
    assert_true(vs_now_ns() < end);
    usleep(1000);
  }
}

static bool released_is(void *n) { return atomic_load(&released) == *(int *)n; }

static void reset(void **state) {
  atomic_store(&released, 0);
  atomic_store(&ran, 0);
}

/* A call that finishes in time: result back, argument still the caller's. */
static void test_run_in_time(void **state) {
  reset(state);
  vs_executor_t *ex = new_executor(2, 2);
  call_t *c = new_call(NULL, 0);
  assert_int_equal(
      vs_executor_run(ex, call_fn, call_release, c, vs_now_ns() + 2000 * MS),
      0);
  assert_int_equal(c->result, 42);
  assert_int_equal(atomic_load(&released), 0);
  free(c);
  assert_int_equal(vs_executor_free(ex, 1000 * MS), 0);
}

/* A stuck call: the wait ends at the deadline, not later; the worker
 * releases the argument when the call returns. */
static void test_deadline_and_abandon(void **state) {
  reset(state);
  gate_t g;
  gate_init(&g);
  vs_executor_t *ex = new_executor(1, 2);
  uint64_t t0 = vs_now_ns();
  int r = vs_executor_run(ex, call_fn, call_release, new_call(&g, 0),
                          t0 + 100 * MS);
  uint64_t waited = vs_now_ns() - t0;
  assert_int_equal(r, -ETIMEDOUT);
  assert_true(waited >= 100 * MS && waited < 600 * MS);
  vs_executor_stats_t st;
  vs_executor_stats(ex, &st);
  assert_int_equal(st.abandoned, 1);
  assert_int_equal(st.abandoned_total, 1);
  assert_int_equal(atomic_load(&released), 0); /* still running */
  gate_open(&g);
  int one = 1;
  wait_until(released_is, &one);
  vs_executor_stats(ex, &st);
  assert_int_equal(st.abandoned, 0);
  assert_int_equal(vs_executor_free(ex, 1000 * MS), 0);
}

static atomic_bool stop_flag;

static void *set_stop_later(void *arg) {
  usleep(150 * 1000);
  atomic_store(&stop_flag, true);
  return arg;
}

/* A stuck call waited for with a stop flag: the wait ends soon after the flag
 * is set, long before the deadline, and the call is abandoned like one that
 * missed it; without the flag set, a quick call answers as usual. */
static void test_run_stoppable(void **state) {
  reset(state);
  gate_t g;
  gate_init(&g);
  vs_executor_t *ex = new_executor(1, 2);
  atomic_store(&stop_flag, false);
  call_t *quick = new_call(NULL, 0);
  assert_int_equal(vs_executor_run_stoppable(ex, call_fn, call_release, quick,
                                             vs_now_ns() + 2000 * MS,
                                             &stop_flag),
                   0);
  assert_int_equal(quick->result, 42);
  free(quick);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, set_stop_later, NULL), 0);
  uint64_t t0 = vs_now_ns();
  int r = vs_executor_run_stoppable(ex, call_fn, call_release, new_call(&g, 0),
                                    t0 + 10000 * MS, &stop_flag);
  uint64_t waited = vs_now_ns() - t0;
  pthread_join(t, NULL);
  assert_int_equal(r, -ETIMEDOUT);
  assert_true(waited >= 150 * MS);
  assert_true(waited < 150 * MS + VS_EXECUTOR_STOP_CHECK_NS + 1000 * MS);
  vs_executor_stats_t st;
  vs_executor_stats(ex, &st);
  assert_int_equal(st.abandoned, 1);
  gate_open(&g);
  int one = 1;
  wait_until(released_is, &one);
  assert_int_equal(vs_executor_free(ex, 1000 * MS), 0);
}

/* While a worker is stuck, a replacement serves the next call at once. */
static void test_replace(void **state) {
  reset(state);
  gate_t g;
  gate_init(&g);
  vs_executor_t *ex = new_executor(1, 2);
  assert_int_equal(vs_executor_run(ex, call_fn, call_release, new_call(&g, 0),
                                   vs_now_ns() + 50 * MS),
                   -ETIMEDOUT);
  call_t *c = new_call(NULL, 0);
  uint64_t t0 = vs_now_ns();
  assert_int_equal(
      vs_executor_run(ex, call_fn, call_release, c, vs_now_ns() + 1000 * MS),
      0);
  assert_true(vs_now_ns() - t0 < 500 * MS);
  free(c);
  vs_executor_stats_t st;
  vs_executor_stats(ex, &st);
  assert_int_equal(st.threads, 2); /* the stuck one and its replacement */
  gate_open(&g);
  int one = 1;
  wait_until(released_is, &one);
  assert_int_equal(vs_executor_free(ex, 1000 * MS), 0);
}

/* With every worker stuck and the abandoned bound reached, no new thread
 * starts: the next call is never started (-EBUSY) and the thread count stays
 * at max_workers + max_abandoned. */
static void test_bound(void **state) {
  reset(state);
  gate_t g;
  gate_init(&g);
  vs_executor_t *ex = new_executor(1, 1);
  for (int i = 0; i < 2; i++)
    assert_int_equal(vs_executor_run(ex, call_fn, call_release, new_call(&g, 0),
                                     vs_now_ns() + 50 * MS),
                     -ETIMEDOUT);
  int r = vs_executor_run(ex, call_fn, call_release, new_call(NULL, 0),
                          vs_now_ns() + 100 * MS);
  assert_int_equal(r, -EBUSY);
  vs_executor_stats_t st;
  vs_executor_stats(ex, &st);
  assert_int_equal(st.threads, 2);
  assert_int_equal(st.abandoned, 1);
  assert_int_equal(st.never_started, 1);
  assert_int_equal(atomic_load(&released), 1); /* the never-started one */
  gate_open(&g);
  int three = 3;
  wait_until(released_is, &three);
  /* Capacity is back. */
  call_t *c = new_call(NULL, 0);
  assert_int_equal(
      vs_executor_run(ex, call_fn, call_release, c, vs_now_ns() + 1000 * MS),
      0);
  free(c);
  assert_int_equal(vs_executor_free(ex, 1000 * MS), 0);
}

/* Shutdown with a call still stuck: free() returns, and the stuck worker
 * still releases its argument (and the shared state) when it returns. */
static void test_free_with_stuck_call(void **state) {
  reset(state);
  static gate_t g; /* outlives the executor handle */
  gate_init(&g);
  vs_executor_t *ex = new_executor(2, 2);
  assert_int_equal(vs_executor_run(ex, call_fn, call_release, new_call(&g, 0),
                                   vs_now_ns() + 20 * MS),
                   -ETIMEDOUT);
  uint64_t t0 = vs_now_ns();
  assert_int_equal(vs_executor_free(ex, 200 * MS), 1);
  assert_true(vs_now_ns() - t0 < 1000 * MS);
  gate_open(&g);
  int one = 1;
  wait_until(released_is, &one);
}

/* Many callers at once with mixed deadlines: every argument is released
 * exactly once or returned to its caller, and nothing races (TSan). */
typedef struct {
  vs_executor_t *ex;
  int returned;
} stress_t;

static void *stress_thread(void *arg) {
  stress_t *s = arg;
  for (int i = 0; i < 100; i++) {
    call_t *c = new_call(NULL, (unsigned)(i % 4));
    int r = vs_executor_run(s->ex, call_fn, call_release, c,
                            vs_now_ns() + (uint64_t)(i % 3) * MS);
    if (r == 0) {
      s->returned++;
      free(c);
    }
  }
  return NULL;
}

static void test_concurrent_callers(void **state) {
  reset(state);
  vs_executor_t *ex = new_executor(3, 16);
  pthread_t t[4];
  stress_t s[4];
  for (int i = 0; i < 4; i++) {
    s[i] = (stress_t){.ex = ex};
    assert_int_equal(pthread_create(&t[i], NULL, stress_thread, &s[i]), 0);
  }
  int returned = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    returned += s[i].returned;
  }
  int want = 400 - returned;
  wait_until(released_is, &want);
  vs_executor_stats_t st;
  vs_executor_stats(ex, &st);
  assert_true(st.threads <= 3 + 16);
  assert_int_equal(vs_executor_free(ex, 2000 * MS), 0);
  assert_int_equal(atomic_load(&released), want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_in_time),
      cmocka_unit_test(test_deadline_and_abandon),
      cmocka_unit_test(test_run_stoppable),
      cmocka_unit_test(test_replace),
      cmocka_unit_test(test_bound),
      cmocka_unit_test(test_free_with_stuck_call),
      cmocka_unit_test(test_concurrent_callers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
