/* plugin/common/vs_tparam.h: numeric values, indexed field names, name
 * tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/vs_tparam.h"
#include "vs_test_fixtures.h"

static const struct {
  const char *what;
  virTypedParameter p;
  bool ok;
  uint64_t want;
} u64_cases[] = {
    {"uint", VS_TP_UINT("x", 4294967295u), true, 4294967295u},
    {"ullong max", VS_TP_ULL("x", UINT64_MAX), true, UINT64_MAX},
    {"ullong 0", VS_TP_ULL("x", 0), true, 0},
    {"int", VS_TP_INT("x", 5), true, 5},
    {"int max", VS_TP_INT("x", INT32_MAX), true, INT32_MAX},
    {"int -1", VS_TP_INT("x", -1), false, 0},
    {"int min", VS_TP_INT("x", INT32_MIN), false, 0},
    {"llong 2^40", VS_TP_LLONG("x", 1LL << 40), true, 1ULL << 40},
    {"llong -1", VS_TP_LLONG("x", -1), false, 0},
    {"double", VS_TP_DOUBLE("x", 3.0), false, 0},
    {"boolean", VS_TP_BOOL("x", 1), false, 0},
    {"string", VS_TP_STR("x", "7"), false, 0},
};

static void test_u64(void **state) {
  for (size_t i = 0; i < VS_NELEM(u64_cases); i++) {
    print_message("%s\n", u64_cases[i].what);
    uint64_t v = 0xdeadbeef;
    bool ok = vs_tparam_u64(&u64_cases[i].p, &v);
    assert_int_equal(ok, u64_cases[i].ok);
    if (ok)
      assert_true(v == u64_cases[i].want);
    else
      assert_int_equal(v, 0xdeadbeef); /* left alone */
  }
}

static const struct {
  const char *name, *prefix;
  unsigned max;
  int rc; /* 1: split, 0: not of that shape, -ERANGE: index too large */
  unsigned idx;
  const char *rest;
} split_cases[] = {
    {"block.12.rd.reqs", "block.", 4096, 1, 12, "rd.reqs"},
    {"block.0.name", "block.", 4096, 1, 0, "name"},
    {"net.7.x", "net.", 8, 1, 7, "x"},
    {"net.8.x", "net.", 8, -ERANGE, 0, NULL}, /* idx == max */
    {"block.4095.a", "block.", 4096, 1, 4095, "a"},
    {"block.4096.a", "block.", 4096, -ERANGE, 0, NULL},
    {"block.99999999999999999999999.a", "block.", 4096, -ERANGE, 0, NULL},
    {"block.01.a", "block.", 4096, 0, 0, NULL}, /* leading zero */
    {"block.00.a", "block.", 4096, 0, 0, NULL},
    {"block.-1.a", "block.", 4096, 0, 0, NULL},
    {"block.+1.a", "block.", 4096, 0, 0, NULL},
    {"block. 1.a", "block.", 4096, 0, 0, NULL},
    {"block.1a.b", "block.", 4096, 0, 0, NULL},
    {"block.1", "block.", 4096, 0, 0, NULL},  /* no rest */
    {"block.1.", "block.", 4096, 0, 0, NULL}, /* empty rest */
    {"block..a", "block.", 4096, 0, 0, NULL},
    {"block.", "block.", 4096, 0, 0, NULL},
    {"net.1.a", "block.", 4096, 0, 0, NULL}, /* other prefix */
    {"blk.1.a", "block.", 4096, 0, 0, NULL},
    {"", "block.", 4096, 0, 0, NULL},
    {"vcpu.3.exits.sum", "vcpu.", 16384, 1, 3, "exits.sum"},
};

static void test_split_index(void **state) {
  for (size_t i = 0; i < VS_NELEM(split_cases); i++) {
    print_message("\"%s\"\n", split_cases[i].name);
    unsigned idx = 12345;
    const char *rest = NULL;
    int rc = vs_tparam_split_index(split_cases[i].name, split_cases[i].prefix,
                                   split_cases[i].max, &idx, &rest);
    assert_int_equal(rc, split_cases[i].rc);
    if (rc == 1) {
      assert_int_equal(idx, split_cases[i].idx);
      assert_string_equal(rest, split_cases[i].rest);
      /* rest points into name, no copy */
      assert_true(rest > split_cases[i].name &&
                  rest < split_cases[i].name + strlen(split_cases[i].name));
    }
  }
}

static void test_name_index(void **state) {
  static const char *const table[] = {"time", NULL, "user", "system"};
  assert_int_equal(vs_name_index(table, 4, "time"), 0);
  assert_int_equal(vs_name_index(table, 4, "user"), 2);
  assert_int_equal(vs_name_index(table, 4, "system"), 3);
  assert_int_equal(vs_name_index(table, 4, "wait"), -1);
  assert_int_equal(vs_name_index(table, 4, ""), -1);
  assert_int_equal(vs_name_index(table, 4, "Time"), -1);   /* exact */
  assert_int_equal(vs_name_index(table, 3, "system"), -1); /* n respected */
  assert_int_equal(vs_name_index(table, 0, "time"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_u64),
      cmocka_unit_test(test_split_index),
      cmocka_unit_test(test_name_index),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
