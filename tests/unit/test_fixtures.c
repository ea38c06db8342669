/* The fixture loader itself: every type parses, and a damaged fixture is an
 * error naming the line, never a silently shorter record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vs_test_fixtures.h"

static void test_parse_every_type(void **state) {
  const char *text = "# comment\n"
                     "record one\n"
                     "a int -5\n"
                     "# comment inside a record\n"
                     "b uint 4294967295\n"
                     "c llong -9223372036854775808\n"
                     "d ullong 18446744073709551615\n"
                     "e double 0.25\n"
                     "f boolean 1\n"
                     "g string /path with spaces\n"
                     "h string \n"
                     "end\n"
                     "record two\n"
                     "x boolean 0\n"
                     "end"; /* no final newline */
  vs_fx_set_t set = {0};
  char msg[256] = "";
  int rc = vs_fx_parse(text, "inline", &set, msg, sizeof(msg));
  if (rc != 0)
    fail_msg("%s", msg);
  assert_int_equal(set.n, 2);
  const vs_fx_record_t *r = vs_fx_find(&set, "one");
  assert_int_equal(r->nparams, 8);
  static const struct {
    const char *field;
    int type;
  } want[] = {
      {"a", VIR_TYPED_PARAM_INT},    {"b", VIR_TYPED_PARAM_UINT},
      {"c", VIR_TYPED_PARAM_LLONG},  {"d", VIR_TYPED_PARAM_ULLONG},
      {"e", VIR_TYPED_PARAM_DOUBLE}, {"f", VIR_TYPED_PARAM_BOOLEAN},
      {"g", VIR_TYPED_PARAM_STRING}, {"h", VIR_TYPED_PARAM_STRING},
  };
  for (size_t i = 0; i < VS_NELEM(want); i++) {
    assert_string_equal(r->params[i].field, want[i].field);
    assert_int_equal(r->params[i].type, want[i].type);
  }
  assert_int_equal(r->params[0].value.i, -5);
  assert_int_equal(r->params[1].value.ui, 4294967295u);
  assert_true(r->params[2].value.l == INT64_MIN);
  assert_true(r->params[3].value.ul == UINT64_MAX);
  assert_float_equal(r->params[4].value.d, 0.25, 0);
  assert_int_equal(r->params[5].value.b, 1);
  assert_string_equal(r->params[6].value.s, "/path with spaces");
  assert_string_equal(r->params[7].value.s, "");
  r = vs_fx_find(&set, "two");
  assert_int_equal(r->nparams, 1);
  assert_int_equal(r->params[0].value.b, 0);
  vs_fx_free(&set);
  assert_null(set.records);
  vs_fx_free(NULL);
}

static const struct {
  const char *text;
  const char *want; /* in the message, after "inline:" */
} bad_cases[] = {
    {"", "inline:0: no records"},
    {"# only a comment\n", "inline:1: no records"},
    {"a int 1\n", "inline:1: expected \"record NAME\""},
    {"record \n", "inline:1: expected \"record NAME\""},
    {"\nrecord r\na int 1\nend\n", "inline:1: expected \"record NAME\""},
    {"record r\n\nend\n", "inline:2: expected \"FIELD TYPE VALUE\""},
    {"record r\na int\nend\n", "inline:2: expected \"FIELD TYPE VALUE\""},
    {"record r\na\nend\n", "inline:2: expected"},
    {"record r\n int 1\nend\n", "inline:2: empty field name"},
    {"record r\na float 1\nend\n", "inline:2: unknown type \"float\""},
    {"record r\na int 1x\nend\n", "inline:2: bad int value \"1x\""},
    {"record r\na int 2147483648\nend\n", "bad int value"},
    {"record r\na int  1\nend\n", "bad int value \" 1\""},
    {"record r\na int \nend\n", "bad int value \"\""},
    {"record r\na int -\nend\n", "bad int value \"-\""},
    {"record r\na uint -1\nend\n", "inline:2: bad uint value \"-1\""},
    {"record r\na uint 4294967296\nend\n", "bad uint value"},
    {"record r\na ullong -1\nend\n", "bad ullong value \"-1\""},
    {"record r\na ullong 18446744073709551616\nend\n", "bad ullong value"},
    {"record r\na ullong 1\r\nend\n", "bad ullong value"},
    {"record r\na llong 9223372036854775808\nend\n", "bad llong value"},
    {"record r\na double abc\nend\n", "bad double value \"abc\""},
    {"record r\na double \nend\n", "bad double value"},
    {"record r\na boolean 2\nend\n", "bad boolean value \"2\""},
    {"record r\na boolean true\nend\n", "bad boolean value"},
    {"record r\n"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aa"
     "aaaaa int 1\nend\n",
     "inline:2: field name"},
    {"record r\na int 1\n", "not closed with \"end\""},
    {"record r\na int 1\nrecord s\n", "inline:3: record \"s\" starts before"},
    {"record r\nend\n", "inline:2: record \"r\" has no fields"},
    {"end\n", "inline:1: expected \"record NAME\""},
    {"record r\na int 1\nend\nrecord r\nb int 1\nend\n",
     "inline:4: record \"r\" given twice"},
    {"record r\na int 1\nend\ntrailing\n", "inline:4:"},
};

static void test_malformed_rejected(void **state) {
  for (size_t i = 0; i < VS_NELEM(bad_cases); i++) {
    vs_fx_set_t set = {0};
    char msg[256] = "";
    int rc = vs_fx_parse(bad_cases[i].text, "inline", &set, msg, sizeof(msg));
    if (rc != -EINVAL || !strstr(msg, bad_cases[i].want))
      fail_msg("case %zu: rc %d, message \"%s\", expected -EINVAL and \"%s\"",
               i, rc, msg, bad_cases[i].want);
    assert_null(set.records); /* nothing half-loaded */
    assert_int_equal(set.n, 0);
  }
}

/* The real fixture loads with its three records. */
static void test_real_fixture_loads(void **state) {
  vs_fx_set_t set = {0};
  vs_fx_load("bulk_qemu.records", &set);
  assert_int_equal(set.n, 3);
  static const struct {
    const char *name;
    int nparams;
  } want[] = {{"fx-full", 108}, {"fx-sparse", 93}, {"fx-paused", 108}};
  for (size_t i = 0; i < VS_NELEM(want); i++) {
    assert_string_equal(set.records[i].name, want[i].name);
    assert_int_equal(set.records[i].nparams, want[i].nparams);
  }
  vs_fx_free(&set);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_every_type),
      cmocka_unit_test(test_malformed_rejected),
      cmocka_unit_test(test_real_fixture_loads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
