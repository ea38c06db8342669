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
/* procs_running above 4 per CPU */
static const vs_host_load_t overloaded = {
    .valid = true, .busy = 1.0, .runnable = 30, .ncpu = 2};

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
  vs_throttle_release(&t, 1 * S, 0, true);
  assert_int_equal(fill(&t, 1 * S, 20), 1);
  /* A failure frees its slot too. */
  vs_throttle_release(&t, 2 * S, 0, false);
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
  vs_throttle_release(&t, 200 * MS, 0, true);
  /* The slot is free but the gap is not over. */
  assert_int_equal(vs_throttle_next_ns(&t, 200 * MS), 800 * MS);
  assert_int_equal(vs_throttle_next_ns(&t, 1 * S), 0);
}

static void test_auto_starts_at_the_cpus(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 4, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  assert_int_equal(t.bound, 4);
  assert_int_equal(fill(&t, 0, 20), 4);
  /* Never above the number of VMs. */
  c.max_bound = 3;
  vs_throttle_init(&t, &c, 0);
  assert_int_equal(t.bound, 3);
}

/* Run one "level" on the fake clock: the bound is full, VMs wait, and
 * `done` of them (taken at `since`) finish after hold_s each. */
static vs_throttle_reason_t level(vs_throttle_t *t, uint64_t *now,
                                  unsigned done, double hold_s,
                                  const vs_host_load_t *load) {
  uint64_t since = *now;
  fill(t, since, 1000);
  vs_throttle_next_ns(t, since); /* a VM waits on the bound */
  *now += (uint64_t)(hold_s * 1e9);
  for (unsigned i = 0; i < done; i++) {
    vs_throttle_release(t, *now, since, true);
    fill(t, *now, 1000);
  }
  vs_throttle_next_ns(t, *now);
  if (*now - t->last_decision_ns < VS_THROTTLE_DECIDE_NS)
    *now = t->last_decision_ns + VS_THROTTLE_DECIDE_NS;
  return vs_throttle_adapt(t, *now, load);
}

static void test_auto_decides_at_most_every_interval(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 4, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  fill(&t, 0, 20);
  vs_throttle_release(&t, 100 * MS, 0, false);
  assert_int_equal(vs_throttle_adapt(&t, 100 * MS, &busy_host),
                   VS_THROTTLE_KEEP);
  assert_int_equal(t.bound, 4);
  assert_int_equal(vs_throttle_adapt(&t, VS_THROTTLE_DECIDE_NS, &busy_host),
                   VS_THROTTLE_DOWN_FAILURE);
  assert_int_equal(t.bound, 2);
}

static void test_auto_climbs_while_throughput_grows(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 4, .max_bound = 64};
  vs_throttle_init(&t, &c, 0);
  uint64_t now = 0;
  /* Nothing finished yet: no estimate, no change. */
  now += VS_THROTTLE_DECIDE_NS;
  vs_throttle_next_ns(&t, now);
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host), VS_THROTTLE_KEEP);
  /* 4 at once, 8 s each: 0.5 VMs/s, the first estimate -> double. */
  assert_int_equal(level(&t, &now, 1, 8, &idle_host),
                   VS_THROTTLE_UP_THROUGHPUT);
  assert_int_equal(t.bound, 8);
  assert_true(t.prev_x == 0.5);
  /* 8 at once, 12 s each: 0.67 VMs/s (+33 %) -> double; it takes 8/4 = 2
   * VMs finished at this bound. */
  uint64_t since = now;
  fill(&t, now, 1000);
  vs_throttle_next_ns(&t, now);
  vs_throttle_release(&t, now + 12 * S, since, true);
  now += 12 * S;
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host), VS_THROTTLE_KEEP);
  vs_throttle_release(&t, now, since, true);
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &idle_host),
                   VS_THROTTLE_UP_THROUGHPUT);
  assert_int_equal(t.bound, 16);
  /* 16 at once, 24 s each: 0.67 VMs/s, no gain -> settle at 16. */
  assert_int_equal(level(&t, &now, 4, 24, &idle_host), VS_THROTTLE_SETTLED);
  assert_int_equal(t.bound, 16);
  /* Settled: no more changes on good news. */
  assert_int_equal(level(&t, &now, 4, 1, &idle_host), VS_THROTTLE_KEEP);
  assert_int_equal(t.bound, 16);
}

static void test_auto_goes_back_when_throughput_drops(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 4, .max_bound = 64};
  vs_throttle_init(&t, &c, 0);
  uint64_t now = 0;
  assert_int_equal(level(&t, &now, 1, 8, &idle_host),
                   VS_THROTTLE_UP_THROUGHPUT); /* 0.5 VMs/s at 4 */
  /* 8 at once, 20 s each: 0.4 VMs/s -> back to 4, settled. */
  assert_int_equal(level(&t, &now, 2, 20, &idle_host),
                   VS_THROTTLE_DOWN_THROUGHPUT);
  assert_int_equal(t.bound, 4);
  assert_int_equal(level(&t, &now, 2, 1, &idle_host), VS_THROTTLE_KEEP);
  assert_int_equal(t.bound, 4);
}

static void test_auto_only_counts_vms_of_this_bound(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 4, .max_bound = 64};
  vs_throttle_init(&t, &c, 0);
  uint64_t now = 0;
  assert_int_equal(level(&t, &now, 1, 8, &idle_host),
                   VS_THROTTLE_UP_THROUGHPUT);
  /* A VM that took its slot before the change says nothing about 8. */
  vs_throttle_release(&t, now + 1 * S, 0, true);
  vs_throttle_release(&t, now + 1 * S, 0, true);
  vs_throttle_next_ns(&t, now + 1 * S);
  assert_int_equal(vs_throttle_adapt(&t, now + 1 * S, &idle_host),
                   VS_THROTTLE_KEEP);
  assert_int_equal(t.fresh_n, 0);
}

static void test_auto_needs_waiting_vms(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 4, .max_bound = 64};
  vs_throttle_init(&t, &c, 0);
  /* One VM, finished fast, nobody waiting: the bound is not the limit. */
  vs_throttle_acquire(&t, 0);
  vs_throttle_release(&t, 1 * S, 0, true);
  assert_int_equal(vs_throttle_adapt(&t, 1 * S, &busy_host), VS_THROTTLE_KEEP);
  assert_int_equal(t.bound, 4);
}

static void test_auto_backs_off_when_oversubscribed(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 4, .max_bound = 64};
  vs_throttle_init(&t, &c, 0);
  uint64_t now = 0;
  level(&t, &now, 1, 8, &idle_host);  /* -> 8 */
  level(&t, &now, 2, 12, &idle_host); /* -> 16 */
  assert_int_equal(t.bound, 16);
  vs_host_load_t crowded = {
      .valid = true, .busy = 1, .runnable = 14, .ncpu = 2};
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &crowded),
                   VS_THROTTLE_DOWN_OVERLOAD);
  assert_int_equal(t.bound, 12);
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &crowded),
                   VS_THROTTLE_DOWN_OVERLOAD);
  assert_int_equal(t.bound, 9);
  /* Settled after backing off: good throughput does not climb again. */
  assert_int_equal(level(&t, &now, 4, 1, &busy_host), VS_THROTTLE_KEEP);
  /* Never below the CPU count for load alone. */
  for (int i = 0; i < 20; i++) {
    now += VS_THROTTLE_DECIDE_NS;
    vs_throttle_adapt(&t, now, &overloaded);
  }
  assert_int_equal(t.bound, 2);
  (void)idle_host;
}

/* CPUs saturated at the first bound: it stays there, whatever throughput
 * the estimate shows, and the decision is traced as "saturated". A host
 * with spare CPU climbs from the same measurements. */
static void test_auto_stays_when_cpus_are_saturated(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 50};
  vs_throttle_init(&t, &c, 0);
  uint64_t now = 0;
  assert_int_equal(level(&t, &now, 1, 7, &busy_host),
                   VS_THROTTLE_CPU_SATURATED);
  assert_int_equal(t.bound, 2);
  assert_string_equal(vs_throttle_reason_name(VS_THROTTLE_CPU_SATURATED),
                      "saturated");
  /* Settled: faster VMs later do not make it climb. */
  assert_int_equal(level(&t, &now, 2, 1, &busy_host), VS_THROTTLE_KEEP);
  assert_int_equal(t.bound, 2);
  /* The busy share is the mean over the bound's decisions: one busy
   * interval among idle ones does not stop the climb. */
  vs_throttle_init(&t, &c, 0);
  now = 0;
  fill(&t, 0, 1000);
  vs_throttle_next_ns(&t, 0);
  for (int i = 0; i < 3; i++) {
    now += VS_THROTTLE_DECIDE_NS;
    assert_int_equal(vs_throttle_adapt(&t, now, &idle_host), VS_THROTTLE_KEEP);
  }
  assert_int_equal(level(&t, &now, 1, 7, &busy_host),
                   VS_THROTTLE_UP_THROUGHPUT);
  assert_int_equal(t.bound, 4);
}

static void test_auto_failures_halve_and_restart(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 16, .max_bound = 64};
  vs_throttle_init(&t, &c, 0);
  assert_int_equal(t.bound, 16);
  fill(&t, 0, 64);
  vs_throttle_release(&t, 0, 0, false);
  vs_throttle_release(&t, 0, 0, false);
  uint64_t now = VS_THROTTLE_DECIDE_NS;
  assert_int_equal(vs_throttle_adapt(&t, now, &busy_host),
                   VS_THROTTLE_DOWN_FAILURE);
  assert_int_equal(t.bound, 8);
  /* Failures are counted per interval. */
  now += VS_THROTTLE_DECIDE_NS;
  assert_int_not_equal(vs_throttle_adapt(&t, now, &busy_host),
                       VS_THROTTLE_DOWN_FAILURE);
  /* And never below 1. */
  for (int i = 0; i < 10; i++) {
    vs_throttle_release(&t, now, 0, false);
    now += VS_THROTTLE_DECIDE_NS;
    vs_throttle_adapt(&t, now, &busy_host);
  }
  assert_int_equal(t.bound, 1);
  assert_string_equal(vs_throttle_reason_name(VS_THROTTLE_DOWN_FAILURE),
                      "failure");
}

/* 5 VMs at bound 2: waves of 2 and 3, not 2, 2 and 1. */
static void test_auto_tail_starts_the_last_few_together(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 5};
  vs_throttle_init(&t, &c, 0);
  vs_throttle_set_waiting(&t, 5);
  assert_int_equal(fill(&t, 0, 5), 2);
  assert_int_equal(t.waiting, 3);
  vs_throttle_release(&t, 6 * S, 0, true);
  vs_throttle_release(&t, 6 * S, 0, true);
  /* 3 waiting > 2 / 2: the bound first; the last one then joins them */
  assert_int_equal(fill(&t, 6 * S, 3), 3);
  assert_int_equal(t.in_flight, 3);
  assert_int_equal(t.tail_starts, 1);
  assert_int_equal(t.bound, 2);
  assert_true(vs_throttle_next_ns(&t, 6 * S) == VS_THROTTLE_FULL);
  assert_string_equal(vs_throttle_reason_name(VS_THROTTLE_KEEP), "keep");
}

/* More waiting than half the bound, a fixed bound, or a bound lowered by a
 * failure: no tail. */
static void test_auto_tail_only_when_it_fills_cpus(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 4, .max_bound = 20};
  vs_throttle_init(&t, &c, 0);
  vs_throttle_set_waiting(&t, 7);
  assert_int_equal(fill(&t, 0, 7), 4);
  /* 3 waiting > 4 / 2 */
  assert_true(vs_throttle_next_ns(&t, 0) == VS_THROTTLE_FULL);
  vs_throttle_set_waiting(&t, 2);
  assert_int_equal(fill(&t, 0, 2), 2);
  assert_int_equal(t.tail_starts, 2);

  vs_throttle_conf_t f = {.bound = 2, .ncpu = 2, .max_bound = 5};
  vs_throttle_init(&t, &f, 0);
  vs_throttle_set_waiting(&t, 3);
  assert_int_equal(fill(&t, 0, 3), 2);
  vs_throttle_set_waiting(&t, 1);
  assert_true(vs_throttle_next_ns(&t, 0) == VS_THROTTLE_FULL);

  vs_throttle_init(&t, &c, 0);
  vs_throttle_set_waiting(&t, 10);
  assert_int_equal(fill(&t, 0, 10), 4);
  vs_throttle_release(&t, 1 * S, 0, false);
  assert_int_equal(vs_throttle_adapt(&t, 1 * S, &busy_host),
                   VS_THROTTLE_DOWN_FAILURE);
  assert_int_equal(t.bound, 2);
  vs_throttle_set_waiting(&t, 1);
  assert_true(vs_throttle_next_ns(&t, 1 * S) == VS_THROTTLE_FULL);
  assert_int_equal(t.tail_starts, 0);
}

/* CPUs saturated at the bound: the bound stays, and the last VM still joins
 * the wave before it (the tail fills the CPU the last wave would leave idle).
 */
static void test_auto_tail_when_cpus_are_saturated(void **state) {
  vs_throttle_t t;
  vs_throttle_conf_t c = {.auto_mode = true, .ncpu = 2, .max_bound = 5};
  vs_throttle_init(&t, &c, 0);
  vs_throttle_set_waiting(&t, 5);
  assert_int_equal(fill(&t, 0, 5), 2);
  assert_true(vs_throttle_next_ns(&t, 0) == VS_THROTTLE_FULL);
  vs_throttle_release(&t, 6 * S, 0, true);
  assert_int_equal(vs_throttle_adapt(&t, 6 * S, &busy_host),
                   VS_THROTTLE_CPU_SATURATED);
  vs_throttle_release(&t, 6 * S, 0, true);
  /* 3 waiting: the bound's 2 start, then the last one with them */
  assert_int_equal(fill(&t, 6 * S, 3), 3);
  assert_int_equal(t.waiting, 0);
  assert_int_equal(t.tail_starts, 1);
  assert_int_equal(t.bound, 2);
  /* settled: no later decision moves the bound */
  assert_int_equal(vs_throttle_adapt(&t, 12 * S, &busy_host), VS_THROTTLE_KEEP);
  assert_int_equal(t.bound, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_bound),
      cmocka_unit_test(test_unbounded),
      cmocka_unit_test(test_spacing),
      cmocka_unit_test(test_spacing_with_bound),
      cmocka_unit_test(test_auto_starts_at_the_cpus),
      cmocka_unit_test(test_auto_decides_at_most_every_interval),
      cmocka_unit_test(test_auto_climbs_while_throughput_grows),
      cmocka_unit_test(test_auto_goes_back_when_throughput_drops),
      cmocka_unit_test(test_auto_only_counts_vms_of_this_bound),
      cmocka_unit_test(test_auto_needs_waiting_vms),
      cmocka_unit_test(test_auto_backs_off_when_oversubscribed),
      cmocka_unit_test(test_auto_stays_when_cpus_are_saturated),
      cmocka_unit_test(test_auto_failures_halve_and_restart),
      cmocka_unit_test(test_auto_tail_starts_the_last_few_together),
      cmocka_unit_test(test_auto_tail_only_when_it_fills_cpus),
      cmocka_unit_test(test_auto_tail_when_cpus_are_saturated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
