/* The start throttle (startup-helper/vs_start_throttle.h) on a fake clock:
 * fixed bound, unbounded, spacing, and every rule of the auto mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vs_start_throttle.h"

#define MS 1000000ULL
#define S 1000000000ULL

static const vs_host_load_t busy_host = {
    .valid = true, .busy = 0.98, .runnable = 2.2, .ncpu = 2};
static const vs_host_load_t idle_host = {
    .valid = true, .busy = 0.40, .runnable = 0.8, .ncpu = 2};
static const vs_host_load_t overloaded = {
    .valid = true, .busy = 1.0, .runnable = 3.4, .ncpu = 2};

/* Start as many as allowed at now; returns how many started. */
static unsigned fill(vs_throttle_t *t, uint64_t now, unsigned want) {
  unsigned n = 0;
  while (n < want && vs_throttle_next_ns(t, now) == 0) {
    vs_throttle_acquire(t, now);
    n++;
  }
  return n;
}

static void test_fixed_bound(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.bound = 4, .ncpu = 2, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  assert_int_equal(fill(&t, 0, 20), 4);
  assert_true(vs_throttle_next_ns(&t, 0) == VS_THROTTLE_FULL);
  vs_throttle_release(&t, 1 * S, 1 * S, true);
  assert_int_equal(fill(&t, 1 * S, 20), 1);
  /* A failure frees its slot too. */
  vs_throttle_release(&t, 2 * S, 2 * S, false);
  assert_int_equal(fill(&t, 2 * S, 20), 1);
  assert_int_equal(t.in_flight, 4);
  /* Fixed mode never adapts. */
  assert_int_equal(vs_throttle_adapt(&t, 10 * S, &idle_host), VS_THROTTLE_KEEP);
  assert_int_equal(t.bound, 4);
}

static void test_unbounded(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.bound = 0, .ncpu = 2, .max_bound = 50};
  vs_throttle_init(&t, &c, 0);
  assert_int_equal(fill(&t, 0, 50), 50);
  assert_int_equal(vs_throttle_next_ns(&t, 0), 0);
}

static void test_spacing(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {
      .bound = 0, .ncpu = 2, .max_bound = 10, .spacing_ns = 300 * MS};
  vs_throttle_init(&t, &c, 5 * S);
  /* The first start is not delayed. */
  assert_int_equal(vs_throttle_next_ns(&t, 5 * S), 0);
  vs_throttle_acquire(&t, 5 * S);
  assert_int_equal(vs_throttle_next_ns(&t, 5 * S), 300 * MS);
  assert_int_equal(vs_throttle_next_ns(&t, 5 * S + 100 * MS), 200 * MS);
  assert_int_equal(vs_throttle_next_ns(&t, 5 * S + 300 * MS), 0);
  vs_throttle_acquire(&t, 5 * S + 450 * MS);
  /* Spacing counts from the last start, not from the schedule. */
  assert_int_equal(vs_throttle_next_ns(&t, 5 * S + 600 * MS), 150 * MS);
}

static void test_spacing_with_bound(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {
      .bound = 1, .ncpu = 2, .max_bound = 10, .spacing_ns = 1 * S};
  vs_throttle_init(&t, &c, 0);
  vs_throttle_acquire(&t, 0);
  vs_throttle_release(&t, 200 * MS, 200 * MS, true);
  /* The slot is free but the gap is not over. */
  assert_int_equal(vs_throttle_next_ns(&t, 200 * MS), 800 * MS);
  assert_int_equal(vs_throttle_next_ns(&t, 1 * S), 0);
}

static void test_auto_starts_at_cpus(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  assert_int_equal(t.bound, 2);
  assert_int_equal(fill(&t, 0, 20), 2);
  /* Never above the number of VMs. */
  c.max_bound = 1;
  vs_throttle_init(&t, &c, 0);
  assert_int_equal(t.bound, 1);
}

static void test_auto_decides_at_most_every_interval(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  fill(&t, 0, 20);
  vs_throttle_release(&t, 100 * MS, 100 * MS, false);
  assert_int_equal(vs_throttle_adapt(&t, 100 * MS, &busy_host),
                   VS_THROTTLE_KEEP);
  assert_int_equal(t.bound, 2);
  assert_int_equal(vs_throttle_adapt(&t, VS_THROTTLE_DECIDE_NS, &busy_host),
                   VS_THROTTLE_DOWN_FAILURE);
  assert_int_equal(t.bound, 1);
}

static void test_auto_grows_on_idle_host(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  uint64_t now = 0;
  fill(&t, now, 20);
  /* Nothing finished yet: no evidence, no growth. */
  now += VS_THROTTLE_DECIDE_NS;
  vs_throttle_next_ns(&t, now); /* a VM waits on the bound */
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host), VS_THROTTLE_KEEP);
  /* One finished fast; VMs wait; host idle -> grow by half. */
  vs_throttle_release(&t, now, 500 * MS, true);
  fill(&t, now, 20);
  vs_throttle_next_ns(&t, now);
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host), VS_THROTTLE_UP_IDLE);
  assert_int_equal(t.bound, 3);
  fill(&t, now, 20);
  vs_throttle_next_ns(&t, now);
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host), VS_THROTTLE_UP_IDLE);
  assert_int_equal(t.bound, 4);
  fill(&t, now, 20);
  vs_throttle_next_ns(&t, now);
  now += VS_THROTTLE_DECIDE_NS;
  vs_throttle_adapt(&t, now, &idle_host);
  assert_int_equal(t.bound, 6);
  /* Not limited by the bound (no VM waited): no growth. */
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host), VS_THROTTLE_KEEP);
  /* Capped at max_bound. */
  for (int i = 0; i < 10; i++) {
    fill(&t, now, 20);
    vs_throttle_next_ns(&t, now);
    now += VS_THROTTLE_DECIDE_NS;
    vs_throttle_adapt(&t, now, &idle_host);
  }
  assert_int_equal(t.bound, 20);
}

static void test_auto_holds_on_busy_host(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  uint64_t now = 0;
  fill(&t, now, 20);
  for (int i = 0; i < 20; i++) {
    vs_throttle_release(&t, now, 6 * S, true);
    fill(&t, now, 20);
    vs_throttle_next_ns(&t, now);
    now += VS_THROTTLE_DECIDE_NS;
    assert_int_equal(vs_throttle_adapt(&t, now, &busy_host), VS_THROTTLE_KEEP);
  }
  assert_int_equal(t.bound, 2);
}

static void test_auto_backs_off_when_oversubscribed(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  t.bound = 5;
  uint64_t now = VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &overloaded),
                   VS_THROTTLE_DOWN_OVERLOAD);
  assert_int_equal(t.bound, 4);
  /* Right after a decrease an idle reading does not grow it again. */
  vs_throttle_release(&t, now, 1 * S, true);
  vs_throttle_next_ns(&t, now);
  t.in_flight = t.bound;
  vs_throttle_next_ns(&t, now);
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host), VS_THROTTLE_KEEP);
  /* Never below 1. */
  for (int i = 0; i < 10; i++) {
    now += VS_THROTTLE_DECIDE_NS;
    vs_throttle_adapt(&t, now, &overloaded);
  }
  assert_int_equal(t.bound, 1);
}

static void test_auto_latency_rule(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  t.bound = 6;
  /* Fast first, then much slower: latency grew > 3x with CPU not the
   * limit (load unknown) -> shrink while above the CPU count. */
  vs_throttle_release(&t, 0, 1 * S, true);
  for (int i = 0; i < 5; i++)
    vs_throttle_release(&t, 0, 10 * S, true);
  uint64_t now = VS_THROTTLE_DECIDE_NS;
  vs_host_load_t unknown = {.valid = false};
  assert_int_equal(vs_throttle_adapt(&t, now, &unknown),
                   VS_THROTTLE_DOWN_LATENCY);
  assert_int_equal(t.bound, 5);
  t.bound = 2; /* at the CPU count: the rule stops */
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &unknown), VS_THROTTLE_KEEP);
}

static void test_auto_failures_halve(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 8, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  assert_int_equal(t.bound, 8);
  fill(&t, 0, 20);
  vs_throttle_release(&t, 0, 1 * S, false);
  vs_throttle_release(&t, 0, 1 * S, false);
  uint64_t now = VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host),
                   VS_THROTTLE_DOWN_FAILURE);
  assert_int_equal(t.bound, 4);
  /* Failures are counted per interval. */
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_not_equal(vs_throttle_adapt(&t, now, &busy_host),
                       VS_THROTTLE_DOWN_FAILURE);
  assert_string_equal(vs_throttle_reason_name(VS_THROTTLE_DOWN_FAILURE),
                      "failure");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_bound),
      cmocka_unit_test(test_unbounded),
      cmocka_unit_test(test_spacing),
      cmocka_unit_test(test_spacing_with_bound),
      cmocka_unit_test(test_auto_starts_at_cpus),
      cmocka_unit_test(test_auto_decides_at_most_every_interval),
      cmocka_unit_test(test_auto_grows_on_idle_host),
      cmocka_unit_test(test_auto_holds_on_busy_host),
      cmocka_unit_test(test_auto_backs_off_when_oversubscribed),
      cmocka_unit_test(test_auto_latency_rule),
      cmocka_unit_test(test_auto_failures_halve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
