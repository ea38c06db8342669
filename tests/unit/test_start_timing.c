/* Per-VM phases and batch statistics (startup-helper/vs_start_timing.h),
 * and the sweep's recommendation rule (vs_start_sweep.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vs_start_sweep.h"
#include "vs_start_timing.h"

#define SEC 1000000000ULL

static void test_phases(void **state) {
  vs_vm_times_t t = {.request = 10 * SEC,
                     .create_start = 12 * SEC,
                     .create_end = 13 * SEC,
                     .running = 13 * SEC + SEC / 2,
                     .ready = 20 * SEC};
  double s;
  assert_true(vs_phase_seconds(&t, VS_PHASE_WAIT, &s) && s == 2.0);
  assert_true(vs_phase_seconds(&t, VS_PHASE_CREATE, &s) && s == 1.0);
  assert_true(vs_phase_seconds(&t, VS_PHASE_RUNNING, &s) && s == 1.5);
  assert_true(vs_phase_seconds(&t, VS_PHASE_READY, &s) && s == 8.0);
  assert_true(vs_phase_seconds(&t, VS_PHASE_TOTAL, &s) && s == 10.0);
  t.ready = 0; /* not reached */
  assert_false(vs_phase_seconds(&t, VS_PHASE_READY, &s));
  assert_false(vs_phase_seconds(&t, VS_PHASE_TOTAL, &s));
  assert_string_equal(vs_phase_name(VS_PHASE_TOTAL), "total");
  assert_string_equal(vs_vm_state_name(VS_VM_SKIPPED), "skipped");
}

static void test_summary(void **state) {
  double v[20];
  for (int i = 0; i < 20; i++)
    v[i] = 20 - i; /* 20 .. 1, unsorted on purpose */
  vs_summary_t s;
  assert_int_equal(vs_summary_compute(v, 20, &s), 0);
  assert_int_equal(s.n, 20);
  assert_true(s.mean == 10.5);
  assert_true(s.p50 == 10); /* nearest rank: ceil(0.5 * 20) = 10th */
  assert_true(s.p95 == 19); /* ceil(0.95 * 20) = 19th */
  assert_true(s.max == 20);
  assert_true(v[0] == 20); /* input untouched */
  assert_int_equal(vs_summary_compute(v, 1, &s), 0);
  assert_true(s.p50 == 20 && s.p95 == 20 && s.max == 20);
  assert_int_equal(vs_summary_compute(v, 0, &s), 0);
  assert_int_equal(s.n, 0);
}

static void test_summary_phase_skips_unreached(void **state) {
  vs_vm_t vms[3] = {0};
  vms[0].t = (vs_vm_times_t){.request = 1, .create_start = 1 + 2 * SEC};
  vms[1].t = (vs_vm_times_t){.request = 1, .create_start = 1 + 4 * SEC};
  vs_summary_t s;
  assert_int_equal(vs_summary_phase(vms, 3, VS_PHASE_WAIT, &s), 0);
  assert_int_equal(s.n, 2);
  assert_true(s.mean == 3.0);
}

static void test_recommend(void **state) {
  /* Like the 10 TCG guests: 2 at a time is best on mean latency
   * and within 10 % of the best wall time. */
  vs_sweep_row_t rows[] = {
      {.level = 1, .runs = 1, .wall = 54.6, .mean_total = 29.9},
      {.level = 2, .runs = 1, .wall = 30.2, .mean_total = 17.9},
      {.level = 4, .runs = 1, .wall = 29.0, .mean_total = 22.0},
      {.level = 0, .runs = 1, .wall = 38.2, .mean_total = 37.4},
      {.level = -1, .runs = 1, .wall = 28.0, .mean_total = 15.0},
  };
  assert_int_equal(vs_sweep_recommend(rows, 5), 1);
  /* A level with failed runs never qualifies, nor sets the best wall. */
  rows[1].failed_runs = 1;
  assert_int_equal(vs_sweep_recommend(rows, 5), 2);
  /* Ties on mean latency go to the smaller bound; unbounded is largest. */
  vs_sweep_row_t tie[] = {
      {.level = 0, .runs = 1, .wall = 10, .mean_total = 5},
      {.level = 8, .runs = 1, .wall = 10, .mean_total = 5},
  };
  assert_int_equal(vs_sweep_recommend(tie, 2), 1);
  vs_sweep_row_t none[] = {{.level = -1, .runs = 1, .wall = 1}};
  assert_int_equal(vs_sweep_recommend(none, 1), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_phases),
      cmocka_unit_test(test_summary),
      cmocka_unit_test(test_summary_phase_skips_unreached),
      cmocka_unit_test(test_recommend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
