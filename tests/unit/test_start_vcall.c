/* The helper's deadline-bound calls (startup-helper/vs_start_virt.h) with
 * stand-in calls that block on a gate, as a libvirt call does on a stalled
 * libvirtd: the result of a call that answers, a failure with its message,
 * a deadline that passes (the call is abandoned and a late success undone
 * on its worker, a late failure not), a call no worker was free for, and
 * the fixed call deadline. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/vs_executor.h"
#include "common/vs_thread.h"
#include "common/vs_time.h"
#include "common/vs_virt.h"
#include "vs_start_virt.h"

#define MS VS_NS_PER_MS

/* What a stand-in call does and what happened to it. */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool open;  /* the gate: a blocked call returns once it opens */
  int result; /* the call's result (< 0: fails) */
  int ran;    /* calls that returned */
  int undone; /* late successes undone */
} gate_t;

static void gate_init(gate_t *g, bool open, int result) {
  memset(g, 0, sizeof(*g));
  vs_mutex_init(&g->lock);
  vs_cond_init(&g->cond);
  g->open = open;
  g->result = result;
}

static void gate_open(gate_t *g) {
  vs_lock(&g->lock);
  g->open = true;
  pthread_cond_broadcast(&g->cond);
  vs_unlock(&g->lock);
}

/* Wait until *field reaches want (or 5 s pass); returns its value. */
static int gate_wait(gate_t *g, const int *field, int want) {
  uint64_t deadline = vs_now_ns() + 5000 * MS;
  vs_lock(&g->lock);
  while (*field < want)
    if (vs_cond_wait_until(&g->cond, &g->lock, deadline) != 0)
      break;
  int v = *field;
  vs_unlock(&g->lock);
  return v;
}

static void call_gated(vs_vcall_t *c) {
  gate_t *g = c->opaque;
  vs_lock(&g->lock);
  while (!g->open)
    pthread_cond_wait(&g->cond, &g->lock);
  g->ran++;
  pthread_cond_broadcast(&g->cond);
  vs_unlock(&g->lock);
  if (g->result < 0)
    vs_vcall_fail(c, g->result);
  else
    c->rc = g->result;
}

static void undo_gated(vs_vcall_t *c) {
  gate_t *g = c->opaque;
  vs_lock(&g->lock);
  g->undone++;
  pthread_cond_broadcast(&g->cond);
  vs_unlock(&g->lock);
}

static vs_vcall_t *gated(gate_t *g) {
  vs_vcall_t *c = vs_vcall_new(call_gated, undo_gated, NULL, NULL);
  assert_non_null(c);
  c->opaque = g;
  return c;
}

static vs_executor_t *executor(unsigned workers, unsigned abandoned) {
  vs_executor_opts_t o = {
      .name = "t-vcall", .max_workers = workers, .max_abandoned = abandoned};
  vs_executor_t *ex = NULL;
  assert_int_equal(vs_executor_new(&o, &ex, NULL), 0);
  return ex;
}

static void test_answered(void **state) {
  vs_executor_t *ex = executor(1, 1);
  gate_t g;
  gate_init(&g, true, 7);
  vs_error_t err = {0};
  vs_vcall_t *c = gated(&g);
  assert_int_equal(
      vs_vcall_run(ex, c, "answered", vs_now_ns() + 5000 * MS, &err), 7);
  assert_int_equal(c->rc, 7); /* still ours */
  vs_vcall_free(c);
  assert_int_equal(err.code, 0);
  assert_int_equal(g.undone, 0);
  vs_executor_free(ex, 1000 * MS);
}

static void test_failed(void **state) {
  vs_executor_t *ex = executor(1, 1);
  gate_t g;
  gate_init(&g, true, -ENOENT);
  vs_error_t err = {0};
  assert_int_equal(
      vs_vcall_run(ex, gated(&g), "lookup", vs_now_ns() + 5000 * MS, &err),
      -ENOENT);
  assert_int_equal(err.code, -ENOENT);
  assert_true(strncmp(err.msg, "lookup: ", 8) == 0);
  assert_int_equal(g.undone, 0);
  vs_executor_free(ex, 1000 * MS);
}

/* A call that answers only after the deadline: -ETIMEDOUT at the deadline;
 * its late success is undone on the worker (a late failure is not). */
static void run_late(int result, int want_undone) {
  vs_executor_t *ex = executor(1, 1);
  gate_t g;
  gate_init(&g, false, result);
  vs_error_t err = {0};
  uint64_t t0 = vs_now_ns();
  assert_int_equal(vs_vcall_run(ex, gated(&g), "create", t0 + 200 * MS, &err),
                   -ETIMEDOUT);
  uint64_t took = vs_now_ns() - t0;
  assert_true(took >= 200 * MS);
  assert_true(took < 3000 * MS); /* the deadline, not the call */
  assert_int_equal(err.code, -ETIMEDOUT);
  assert_non_null(strstr(err.msg, "create: libvirt did not answer within"));
  assert_int_equal(g.ran, 0);
  gate_open(&g);
  assert_int_equal(gate_wait(&g, &g.ran, 1), 1);
  if (want_undone)
    assert_int_equal(gate_wait(&g, &g.undone, 1), 1);
  /* Either way the worker is done with the call soon after. */
  vs_executor_stats_t st;
  uint64_t deadline = vs_now_ns() + 5000 * MS;
  do
    vs_executor_stats(ex, &st);
  while (st.abandoned > 0 && vs_now_ns() < deadline);
  assert_int_equal(st.abandoned, 0);
  assert_int_equal(g.undone, want_undone);
  vs_executor_free(ex, 1000 * MS);
}

static void test_late_success_undone(void **state) { run_late(0, 1); }
static void test_late_failure_kept(void **state) { run_late(-EIO, 0); }

/* Every worker stuck and none may be replaced: the next call never starts,
 * is reported as a timeout at its deadline and never runs. */
static void test_no_worker(void **state) {
  vs_executor_t *ex = executor(1, 0);
  gate_t stuck, next;
  gate_init(&stuck, false, 0);
  gate_init(&next, true, 0);
  vs_error_t err = {0};
  assert_int_equal(
      vs_vcall_run(ex, gated(&stuck), "first", vs_now_ns() + 50 * MS, &err),
      -ETIMEDOUT);
  assert_int_equal(
      vs_vcall_run(ex, gated(&next), "second", vs_now_ns() + 100 * MS, &err),
      -ETIMEDOUT);
  assert_non_null(strstr(err.msg, "second: not started within"));
  gate_open(&stuck);
  assert_int_equal(gate_wait(&stuck, &stuck.undone, 1), 1);
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
  assert_int_equal(next.ran, 0);
  assert_int_equal(next.undone, 0);
  vs_executor_free(ex, 1000 * MS);
}

static void test_call_deadline(void **state) {
  uint64_t now = vs_now_ns();
  uint64_t full = (uint64_t)VS_VIRT_CALL_TIMEOUT_S * VS_NS_PER_SEC;
  uint64_t d = vs_virt_call_deadline(0);
  assert_true(d >= now + full && d < now + full + 1000 * MS);
  assert_true(vs_virt_call_deadline(now + 10 * MS) == now + 10 * MS);
  d = vs_virt_call_deadline(now + 10 * full);
  assert_true(d >= now + full && d < now + full + 1000 * MS);
}

static int setup(void **state) { return vs_virt_init(NULL) < 0 ? -1 : 0; }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_answered),
      cmocka_unit_test(test_failed),
      cmocka_unit_test(test_late_success_undone),
      cmocka_unit_test(test_late_failure_kept),
      cmocka_unit_test(test_no_worker),
      cmocka_unit_test(test_call_deadline),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
