/* vs_schedule: the plan's decisions on a fake clock (every time is an
 * argument): tiers from the configured groups, chunk sizes, who is sampled
 * in which read, the cadence a measured round needs (and that it does not
 * flap), when a late call is worth a probe, and which busy monitor a call
 * is stuck on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/vs_time.h"
#include "vs_schedule.h"

#define MS VS_NS_PER_MS
#define SEC VS_NS_PER_SEC

static void bulk_plan(vs_plan_t *p, unsigned lanes) {
  vs_plan_init(p, VS_GROUPS_DEFAULT, false, NULL, 1 * SEC, lanes, 0);
}

static void test_tiers_from_groups(void **state) {
  vs_plan_t p;
  bulk_plan(&p, 4);
  assert_int_equal(p.ntiers, 2);
  assert_true(p.tiers[VS_TIER_ALL].all);
  assert_int_equal(p.tiers[VS_TIER_ALL].groups,
                   VS_GROUP_STATE | VS_GROUP_INTERFACE);
  assert_int_equal(p.tiers[VS_TIER_AUTO].groups,
                   VS_GROUP_CPU | VS_GROUP_BALLOON | VS_GROUP_VCPU |
                       VS_GROUP_BLOCK);
  /* perf is job-free: with the state; the state is always asked */
  vs_plan_init(&p, VS_GROUP_CPU | VS_GROUP_PERF, false, NULL, SEC, 4, 0);
  assert_int_equal(p.tiers[0].groups, VS_GROUP_STATE | VS_GROUP_PERF);
  assert_int_equal(p.tiers[1].groups, VS_GROUP_CPU);
  /* a fixed interval makes a tier of its own, in reads */
  double fixed[VS_NGROUPS] = {0};
  fixed[vs_group_index(VS_GROUP_BLOCK)] = 30;
  fixed[vs_group_index(VS_GROUP_INTERFACE)] = 5;
  vs_plan_init(&p, VS_GROUPS_DEFAULT, false, fixed, 10 * SEC, 4, 0);
  assert_int_equal(p.ntiers, 4);
  assert_int_equal(p.tiers[0].groups, VS_GROUP_STATE);
  assert_int_equal(p.tiers[1].groups,
                   VS_GROUP_CPU | VS_GROUP_BALLOON | VS_GROUP_VCPU);
  assert_int_equal(p.tiers[2].groups, VS_GROUP_INTERFACE);
  assert_int_equal(p.tiers[2].cadence, 1); /* 5 s at 10 s: every read */
  assert_true(p.tiers[2].fixed);
  assert_int_equal(p.tiers[3].groups, VS_GROUP_BLOCK);
  assert_int_equal(p.tiers[3].cadence, 3);
  /* a fixed interval for a group not asked for is ignored */
  vs_plan_init(&p, VS_GROUP_CPU, false, fixed, SEC, 4, 0);
  assert_int_equal(p.ntiers, 2);
  /* per-domain: tier 0 lists, tier 1 asks every group */
  vs_plan_init(&p, VS_GROUPS_DEFAULT, true, NULL, SEC, 4, 0);
  assert_int_equal(p.tiers[0].groups, 0);
  assert_int_equal(p.tiers[1].groups, VS_GROUPS_DEFAULT & ~VS_GROUP_STATE);
}

static void test_stuck_threshold_default(void **state) {
  assert_int_equal(vs_plan_default_stuck_ns(SEC / 10), SEC / 2);
  assert_int_equal(vs_plan_default_stuck_ns(SEC), SEC / 2);
  assert_int_equal(vs_plan_default_stuck_ns(4 * SEC), 2 * SEC);
  assert_int_equal(vs_plan_default_stuck_ns(60 * SEC), 5 * SEC);
  vs_plan_t p;
  vs_plan_init(&p, VS_GROUPS_DEFAULT, false, NULL, SEC, 4, 3 * SEC);
  assert_int_equal(p.stuck_ns, 3 * SEC);
}

static void test_chunks(void **state) {
  vs_plan_t p;
  bulk_plan(&p, 4);
  /* not measured yet: spread over the lanes, at most the cap */
  assert_int_equal(vs_plan_chunk(&p, 0, 4), 1);
  assert_int_equal(vs_plan_chunk(&p, 10, 4), 3);
  assert_int_equal(vs_plan_chunk(&p, 64, 4), VS_PLAN_CHUNK_MAX);
  /* more than one wave: equal chunks, none over the cap */
  assert_int_equal(vs_plan_chunk(&p, 150, 4), 13); /* 12 calls, 3 waves */
  assert_int_equal(vs_plan_chunk(&p, 300, 4), 15); /* 20 calls, 5 waves */
  /* measured at 5 ms a domain: a call carries 50 ms of work at least */
  vs_plan_note_call(&p, 1u << VS_TIER_AUTO, 10, 50 * MS);
  assert_int_equal(vs_plan_chunk(&p, 20, 4), 10);
  assert_int_equal(vs_plan_chunk(&p, 100, 4), 13);
  /* per-domain sampling: one domain per call */
  vs_plan_init(&p, VS_GROUPS_DEFAULT, true, NULL, SEC, 4, 0);
  assert_int_equal(vs_plan_chunk(&p, 100, 4), 1);
}

static void test_one_call(void **state) {
  vs_plan_t p;
  bulk_plan(&p, 4);
  assert_true(vs_plan_one_call(&p, 10)); /* not measured: small is fine */
  assert_false(vs_plan_one_call(&p, 100));
  vs_plan_note_call(&p, (1u << VS_TIER_ALL) | (1u << VS_TIER_AUTO), 20,
                    100 * MS);           /* 5 ms a domain */
  assert_true(vs_plan_one_call(&p, 50)); /* 250 ms of a 1 s interval */
  assert_false(vs_plan_one_call(&p, 51));
}

/* Who is sampled: never-sampled first, then the most overdue, a quota of
 * ceil(n / cadence) per read; a fixed cadence takes everyone due. */
static void test_pick(void **state) {
  vs_plan_t p;
  bulk_plan(&p, 4);
  p.tiers[1].cadence = 3;
  enum { N = 9 };
  vs_plan_candidate_t c[N];
  size_t out[N];
  for (size_t i = 0; i < N; i++)
    c[i] = (vs_plan_candidate_t){.eligible = true};
  /* nobody sampled yet: everyone, quota or not */
  assert_int_equal(vs_plan_pick(&p, 1, 10, c, N, N, out), N);
  /* their first values came in this read: not asked again in it (the
   * quota the first values did not use notwithstanding) */
  for (size_t i = 0; i < N; i++)
    c[i] = (vs_plan_candidate_t){
        .eligible = true, .sampled = true, .last_tick = 10};
  assert_int_equal(vs_plan_pick(&p, 1, 10, c, N, N, out), 0);
  /* all sampled in read 10: due again in read 13, 3 a read */
  for (size_t i = 0; i < N; i++)
    c[i] = (vs_plan_candidate_t){
        .eligible = true, .sampled = true, .last_tick = 10 - (i % 3)};
  assert_int_equal(vs_plan_pick(&p, 1, 11, c, N, N, out), 3);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(c[out[i]].last_tick, 8); /* the longest unsampled */
  /* not eligible (a call of theirs out, or stuck): skipped */
  for (size_t i = 0; i < N; i++)
    c[i].eligible = i != 2 && i != 5;
  size_t m = vs_plan_pick(&p, 1, 20, c, N, N, out);
  assert_int_equal(m, 3);
  for (size_t i = 0; i < m; i++)
    assert_true(out[i] != 2 && out[i] != 5);
  /* picking again in the same read takes what is left of the quota: none */
  assert_int_equal(vs_plan_pick(&p, 1, 20, c, N, N, out), 0);
  /* ... unless some were given back, not asked after all */
  vs_plan_unpick(&p, 1, 2);
  assert_int_equal(vs_plan_pick(&p, 1, 20, c, N, N, out), 2);
  /* ... but a domain never sampled is always taken */
  c[4].sampled = false;
  assert_int_equal(vs_plan_pick(&p, 1, 20, c, N, N, out), 1);
  assert_int_equal(out[0], 4);
  c[4].sampled = true;
  /* a fixed cadence: every domain whose interval has passed */
  p.tiers[1].fixed = true;
  for (size_t i = 0; i < N; i++)
    c[i].eligible = true;
  assert_int_equal(vs_plan_pick(&p, 1, 30, c, N, N, out), N);
  assert_int_equal(vs_plan_pick(&p, 1, 12, c, N, N, out), 6); /* 8, 9 */
  assert_int_equal(vs_plan_pick(&p, 1, 10, c, N, N, out), 0);
}

/* Over many reads with a quota, every domain is sampled every `cadence`
 * reads: the round-robin the quota makes. */
static void test_pick_round_robin(void **state) {
  vs_plan_t p;
  bulk_plan(&p, 4);
  p.tiers[1].cadence = 4;
  enum { N = 30 };
  vs_plan_candidate_t c[N];
  size_t out[N];
  for (size_t i = 0; i < N; i++)
    c[i] = (vs_plan_candidate_t){.eligible = true};
  uint64_t last[N] = {0};
  unsigned worst = 0;
  for (uint64_t tick = 1; tick <= 40; tick++) {
    size_t m = vs_plan_pick(&p, 1, tick, c, N, N, out);
    for (size_t i = 0; i < m; i++) {
      size_t d = out[i];
      if (c[d].sampled && tick - c[d].last_tick > worst)
        worst = (unsigned)(tick - c[d].last_tick);
      c[d].sampled = true;
      c[d].last_tick = tick;
      last[d] = tick;
    }
  }
  for (size_t i = 0; i < N; i++)
    assert_true(last[i] >= 36);
  if (worst > 4)
    fail_msg("a domain waited %u reads at cadence 4", worst);
}

/* The cadence follows the measured round: up at once, down only after it
 * fitted with a margin for VS_PLAN_DOWN_AFTER reads; one change of
 * "outgrown" each way. */
static void test_adapt(void **state) {
  vs_plan_t p;
  bulk_plan(&p, 4);
  /* 150 domains at 20 ms each over 4 lanes: 0.78 s, within 0.9 of 1 s */
  vs_plan_note_call(&p, 1u << VS_TIER_AUTO, 1, 20 * MS);
  assert_false(vs_plan_adapt(&p, 150, 4));
  assert_int_equal(p.tiers[1].cadence, 1);
  assert_int_equal(p.round_ns, 780 * MS); /* 3 waves of 13 */
  /* 300 domains: 1.5 s, two reads */
  assert_true(vs_plan_adapt(&p, 300, 4));
  assert_true(p.outgrown);
  assert_int_equal(p.tiers[1].cadence, 2);
  assert_int_equal(p.round_domains, 300);
  /* 145 domains (0.78 s) would fit, but not with the margin: stays */
  for (int i = 0; i < 2 * VS_PLAN_DOWN_AFTER; i++)
    assert_false(vs_plan_adapt(&p, 145, 4));
  assert_int_equal(p.tiers[1].cadence, 2);
  /* 60 (0.3 s) fits with the margin, but only after holding for a while */
  for (int i = 0; i < VS_PLAN_DOWN_AFTER - 1; i++) {
    assert_false(vs_plan_adapt(&p, 60, 4));
    assert_int_equal(p.tiers[1].cadence, 2);
  }
  assert_true(vs_plan_adapt(&p, 60, 4));
  assert_false(p.outgrown);
  assert_int_equal(p.tiers[1].cadence, 1);
  /* near the boundary (0.84 s of the 0.9 s room) it stays where it is */
  assert_false(vs_plan_adapt(&p, 160, 4));
  assert_int_equal(p.tiers[1].cadence, 1);
  /* fewer domains than lanes: they cannot go faster than one a lane */
  vs_plan_t q;
  bulk_plan(&q, 4);
  vs_plan_note_call(&q, 1u << VS_TIER_AUTO, 1, 500 * MS);
  vs_plan_adapt(&q, 2, 4);
  assert_int_equal(q.round_ns, 500 * MS);
  assert_int_equal(q.round_lanes, 2);
}

static void test_late_and_stuck(void **state) {
  vs_plan_t p;
  vs_plan_init(&p, VS_GROUPS_DEFAULT, false, NULL, SEC, 4, SEC);
  /* a call expected to take 100 ms: looked at after 220 ms at the
   * earliest, and not before a quarter of the stuck threshold */
  assert_int_equal(vs_plan_check_at(&p, 1000 * MS, 100 * MS), 1250 * MS);
  assert_int_equal(vs_plan_check_at(&p, 1000 * MS, 400 * MS), 1820 * MS);
  /* the longest busy monitor, when at least a quarter of the threshold */
  uint64_t busy[] = {0, 240, UINT64_MAX, 30};
  assert_int_equal(vs_plan_stuck_on(&p, busy, 4), -1); /* slow, not stuck */
  busy[1] = 250;
  assert_int_equal(vs_plan_stuck_on(&p, busy, 4), 1);
  busy[1] = 600;
  assert_int_equal(vs_plan_stuck_on(&p, busy, 4), 1);
  assert_false(vs_plan_unresponsive(&p, 600));
  assert_true(vs_plan_unresponsive(&p, 1000));
  assert_false(vs_plan_unresponsive(&p, UINT64_MAX)); /* not known */
  assert_int_equal(vs_plan_stuck_on(&p, busy, 0), -1);
}

/* The expected wall of a call, from what was measured. */
static void test_expected(void **state) {
  vs_plan_t p;
  bulk_plan(&p, 4);
  assert_int_equal(vs_plan_expected_ns(&p, 1u << VS_TIER_AUTO, 10), 0);
  vs_plan_note_call(&p, 1u << VS_TIER_AUTO, 10, 100 * MS);
  assert_int_equal(vs_plan_expected_ns(&p, 1u << VS_TIER_AUTO, 16), 160 * MS);
  vs_plan_note_call(&p, 1u << VS_TIER_ALL, 150, 40 * MS);
  assert_int_equal(vs_plan_expected_ns(&p, 1u << VS_TIER_ALL, 150), 40 * MS);
  /* a moving average: one slow call moves it a part of the way */
  vs_plan_note_call(&p, 1u << VS_TIER_AUTO, 10, 200 * MS);
  uint64_t e = vs_plan_expected_ns(&p, 1u << VS_TIER_AUTO, 10);
  assert_true(e > 100 * MS && e < 200 * MS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tiers_from_groups),
      cmocka_unit_test(test_stuck_threshold_default),
      cmocka_unit_test(test_chunks),
      cmocka_unit_test(test_one_call),
      cmocka_unit_test(test_pick),
      cmocka_unit_test(test_pick_round_robin),
      cmocka_unit_test(test_adapt),
      cmocka_unit_test(test_late_and_stuck),
      cmocka_unit_test(test_expected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
