/* The JSON plan (startup-helper/vs_start_plan.h): valid plans, precedence of
 * the command line, and every kind of malformed input with its line and
 * column; plus the strict number parsers and the CLI checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vs_start_cli.h"
#include "vs_start_plan.h"

static int parse(const char *text, vs_start_opts_t *o, vs_error_t *err) {
  memset(o, 0, sizeof(*o));
  memset(err, 0, sizeof(*err));
  return vs_start_plan_parse(text, strlen(text), "plan.json", o, err);
}

static void test_groups(void **state) {
  const char *text =
      "{\n"
      "  // comments are fine\n"
      "  \"connect\": \"qemu:///system\",\n"
      "  \"max_parallel\": 4,\n"
      "  \"spacing_ms\": 250,\n"
      "  \"hold_until\": \"running\",\n"
      "  \"ready\": \"console:login:\",\n"
      "  \"timeout_s\": 90.5,\n"
      "  \"groups\": [\n"
      "    {\"name\": \"infra\", \"domains\": [\"dns\", {\"name\": \"db\",\n"
      "      \"ready\": \"agent\", \"timeout_s\": 30}]},\n"
      "    {\"domains\": [\"web 1\", \"w\\\"eb\\\\2\", \"\xc3\xbc\"]}\n"
      "  ]\n"
      "}\n";
  vs_start_opts_t o;
  vs_error_t err;
  assert_int_equal(parse(text, &o, &err), 0);
  assert_string_equal(o.uri, "qemu:///system");
  assert_false(o.auto_parallel);
  assert_int_equal(o.max_parallel, 4);
  assert_int_equal(o.spacing_ms, 250);
  assert_int_equal(o.hold, VS_HOLD_RUNNING);
  assert_int_equal(o.ready.kind, VS_READY_CONSOLE);
  assert_string_equal(o.ready.text, "login:");
  assert_true(o.timeout_s == 90.5);
  assert_int_equal(o.n_groups, 2);
  assert_string_equal(o.group_names[0], "infra");
  assert_string_equal(o.group_names[1], "group2");
  assert_int_equal(o.n_targets, 5);
  assert_string_equal(o.targets[0].name, "dns");
  assert_int_equal(o.targets[0].group, 0);
  assert_string_equal(o.targets[0].where, "plan.json:10:35");
  assert_string_equal(o.targets[1].name, "db");
  assert_int_equal(o.targets[1].ready.kind, VS_READY_AGENT);
  assert_true(o.targets[1].timeout_s == 30);
  assert_string_equal(o.targets[2].name, "web 1");
  assert_int_equal(o.targets[2].group, 1);
  assert_string_equal(o.targets[3].name, "w\"eb\\2");
  assert_string_equal(o.targets[4].name, "\xc3\xbc");
  vs_start_opts_free(&o);
}

static void test_domains_and_auto(void **state) {
  vs_start_opts_t o;
  vs_error_t err;
  assert_int_equal(
      parse("{\"max_parallel\": \"auto\", \"domains\": [\"a\", \"b\"]}", &o,
            &err),
      0);
  assert_true(o.auto_parallel);
  assert_int_equal(o.n_groups, 1);
  assert_int_equal(o.n_targets, 2);
  vs_start_opts_free(&o);
}

static void test_command_line_wins(void **state) {
  vs_start_opts_t o = {0};
  vs_error_t err = {0};
  o.set.parallel = o.set.hold = o.set.timeout = true;
  o.max_parallel = 2;
  o.hold = VS_HOLD_CREATE;
  o.timeout_s = 5;
  const char *text = "{\"max_parallel\": 9, \"hold_until\": \"ready\", "
                     "\"timeout_s\": 100, \"spacing_ms\": 7, "
                     "\"domains\": [\"a\"]}";
  assert_int_equal(vs_start_plan_parse(text, strlen(text), "p", &o, &err), 0);
  assert_int_equal(o.max_parallel, 2);
  assert_int_equal(o.hold, VS_HOLD_CREATE);
  assert_true(o.timeout_s == 5);
  assert_int_equal(o.spacing_ms, 7);
  vs_start_opts_free(&o);
}

/* Malformed plans: each must fail with exactly this message. */
static void test_errors(void **state) {
  static const struct {
    const char *text, *msg;
  } cases[] = {
      {"", "plan.json:1:1: parse error: premature EOF"},
      {"{\"domains\": [\"a\"]", "plan.json:1:18: parse error: premature EOF"},
      {"{\n  \"domains\": [\"a\",]\n}",
       "plan.json:2:20: parse error: unallowed token at this point in JSON "
       "text"},
      {"{\"domains\": [\"a\"]} x",
       "plan.json:1:21: parse error: trailing garbage"},
      {"{\n \"domains\": [tru]}",
       "plan.json:2:17: lexical error: invalid string in json text."},
      {"[1]", "plan.json:1:1: plan: expected an object, found an array"},
      {"{\n  \"max_parralel\": 4, \"domains\": [\"a\"]}",
       "plan.json:2:3: plan: unknown key \"max_parralel\" (expected connect, "
       "max_parallel, spacing_ms, hold_until, ready, timeout_s, groups, "
       "domains)"},
      {"{\"max_parallel\": -1, \"domains\": [\"a\"]}",
       "plan.json:1:18: max_parallel: expected a whole number 0..4096 or "
       "\"auto\""},
      {"{\"max_parallel\": 2.5, \"domains\": [\"a\"]}",
       "plan.json:1:18: max_parallel: expected a whole number 0..4096 or "
       "\"auto\""},
      {"{\"max_parallel\": \"many\", \"domains\": [\"a\"]}",
       "plan.json:1:18: max_parallel: expected a whole number 0..4096 or "
       "\"auto\""},
      {"{\"spacing_ms\": 1e3, \"domains\": [\"a\"]}",
       "plan.json:1:16: spacing_ms: expected a whole number of milliseconds"},
      {"{\"hold_until\": \"boot\", \"domains\": [\"a\"]}",
       "plan.json:1:16: hold_until: \"boot\" is not create, running or ready"},
      {"{\"ready\": \"console:\", \"domains\": [\"a\"]}",
       "plan.json:1:11: ready: \"console:\" is not running, agent or "
       "console:TEXT"},
      {"{\"timeout_s\": 0, \"domains\": [\"a\"]}",
       "plan.json:1:15: timeout_s: 0 is not a number of seconds > 0"},
      {"{\"timeout_s\": \"10\", \"domains\": [\"a\"]}",
       "plan.json:1:15: timeout_s: expected a number, found a string"},
      {"{}", "plan.json:1:1: plan: no \"groups\" or \"domains\": nothing to "
             "start"},
      {"{\"domains\": [\"a\"], \"groups\": []}",
       "plan.json:1:2: plan: give either \"groups\" or \"domains\", not both"},
      {"{\"domains\": []}", "plan.json:1:13: domains: empty list"},
      {"{\"domains\": [\"a\", \"web\\u0000x\"]}",
       "plan.json:1:19: a string with \\u0000 (a NUL character)"},
      {"{\"dom\\u0000ains\": [\"a\"]}",
       "plan.json:1:2: a string with \\u0000 (a NUL character)"},
      {"{\"domains\": \"a\"}",
       "plan.json:1:13: domains: expected an array, found a string"},
      {"{\"domains\": [1]}",
       "plan.json:1:14: domain: expected a name or an object, found a "
       "number"},
      {"{\"domains\": [\"\"]}", "plan.json:1:14: domain: empty name"},
      {"{\"domains\": [{\"ready\": \"running\"}]}",
       "plan.json:1:14: domain: \"name\" is missing"},
      {"{\"domains\": [{\"name\": \"a\", \"nmae\": 1}]}",
       "plan.json:1:28: domain: unknown key \"nmae\" (expected name, ready, "
       "timeout_s)"},
      {"{\"domains\": [\"a\"], \"domains\": [\"b\"]}",
       "plan.json:1:20: plan: duplicate key \"domains\""},
      {"{\"groups\": [{\"name\": \"g\"}]}",
       "plan.json:1:13: group: \"domains\" is missing"},
      {"{\"groups\": [[]]}",
       "plan.json:1:13: group: expected an object, found an array"},
      {"{\"groups\": []}", "plan.json:1:12: groups: empty list"},
      {"{\"domains\": [[[[[[[[[[[[[[[[[[\"a\"]]]]]]]]]]]]]]]]]]}",
       "plan.json:1:28: nested deeper than 16 levels"},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    vs_start_opts_t o;
    vs_error_t err;
    int r = parse(cases[i].text, &o, &err);
    if (r != -EINVAL || strcmp(err.msg, cases[i].msg) != 0) {
      print_error("case %zu: %s\n  got %d \"%s\"\n want \"%s\"\n", i,
                  cases[i].text, r, err.msg, cases[i].msg);
      failures++;
    }
    vs_start_opts_free(&o);
  }
  assert_int_equal(failures, 0);
}

static void test_load_missing_file(void **state) {
  vs_start_opts_t o = {0};
  vs_error_t err = {0};
  assert_int_equal(vs_start_plan_load("/nonexistent/plan.json", &o, &err),
                   -ENOENT);
  assert_string_equal(
      err.msg, "--plan /nonexistent/plan.json: No such file or directory");
}

static void test_numbers(void **state) {
  unsigned long long u;
  double d;
  assert_int_equal(vs_parse_uint("0", 10, &u), 0);
  assert_int_equal(vs_parse_uint("10", 10, &u), 0);
  assert_int_equal(u, 10);
  const char *bad_uint[] = {"",    "-1",  "+1",
                            "11",  " 1",  "1 ",
                            "0x1", "1e2", "99999999999999999999999",
                            "1.0", "abc"};
  for (size_t i = 0; i < sizeof(bad_uint) / sizeof(*bad_uint); i++)
    assert_int_equal(vs_parse_uint(bad_uint[i], 10, &u), -EINVAL);
  assert_int_equal(vs_parse_seconds("2.5", false, &d), 0);
  assert_true(d == 2.5);
  assert_int_equal(vs_parse_seconds("0", true, &d), 0);
  const char *bad_secs[] = {"",    "0",    "-1", "1e3", "inf",
                            "nan", "1..2", ".",  "1s",  "99999999"};
  for (size_t i = 0; i < sizeof(bad_secs) / sizeof(*bad_secs); i++)
    assert_int_equal(vs_parse_seconds(bad_secs[i], false, &d), -EINVAL);
}

/* CLI: argv arrays and the message each bad one gets. */
static int cli(vs_start_opts_t *o, vs_error_t *err, int argc, char **argv) {
  memset(o, 0, sizeof(*o));
  memset(err, 0, sizeof(*err));
  int r = vs_start_cli_parse(argc, argv, o, err);
  if (r == 0)
    r = vs_start_opts_finish(o, err);
  return r;
}

static void test_cli(void **state) {
  vs_start_opts_t o;
  vs_error_t err;
  char *ok[] = {
      "virtscale-start", "--max-parallel", "4",  "--spacing", "100", "--ready",
      "console:OK",      "--timeout",      "60", "vm1",       "vm 2"};
  assert_int_equal(cli(&o, &err, 11, ok), 0);
  assert_int_equal(o.max_parallel, 4);
  assert_false(o.auto_parallel);
  assert_int_equal(o.n_targets, 2);
  assert_string_equal(o.targets[1].name, "vm 2");
  assert_string_equal(o.targets[1].where, "domain argument 2");
  assert_int_equal(o.hold, VS_HOLD_READY);
  assert_string_equal(o.socket_path, VS_START_DEFAULT_SOCKET);
  vs_start_opts_free(&o);

  char *sweep[] = {"virtscale-start", "sweep", "--levels", "1,2,0,auto", "a"};
  assert_int_equal(cli(&o, &err, 5, sweep), 0);
  assert_true(o.sweep);
  assert_int_equal(o.n_levels, 4);
  assert_int_equal(o.levels[2], 0);
  assert_int_equal(o.levels[3], -1);
  vs_start_opts_free(&o);

  static const struct {
    int argc;
    char *argv[6];
    const char *msg;
  } bad[] = {
      {3,
       {"x", "--max-parallel", "-3"},
       "--max-parallel '-3': expected a "
       "whole number 0..4096 (0 = unbounded) or 'auto'"},
      {4,
       {"x", "--max-parallel", "four", "a"},
       "--max-parallel 'four': "
       "expected a whole number 0..4096 (0 = unbounded) or 'auto'"},
      {4,
       {"x", "--spacing", "1.5", "a"},
       "--spacing '1.5': expected "
       "milliseconds, a whole number 0..86400000"},
      {4,
       {"x", "--timeout", "0", "a"},
       "--timeout '0': expected seconds > 0 "
       "(e.g. 120 or 2.5)"},
      {4,
       {"x", "--ready", "console:", "a"},
       "--ready 'console:': expected "
       "running, agent or console:TEXT (TEXT not empty)"},
      {4,
       {"x", "--hold-until", "boot", "a"},
       "--hold-until 'boot': expected "
       "create, running or ready"},
      {3,
       {"x", "--frobnicate", "a"},
       "unknown option '--frobnicate' (see "
       "--help)"},
      {2, {"x", "--max-parallel"}, "--max-parallel needs a value"},
      {1,
       {"x"},
       "nothing to start: name domains, or use --match, "
       "--all-inactive or --plan"},
      {4,
       {"x", "--plan", "p.json", "a"},
       "--plan cannot be combined with "
       "--match, --all-inactive or domain arguments"},
      {4, {"x", "--match", "(", "a"}, "--match '(': Unmatched ( or \\("},
      {4,
       {"x", "--levels", "1,2", "a"},
       "--levels, --repeat, --cooldown and "
       "--out belong to the 'sweep' sub-command"},
      {5,
       {"x", "sweep", "--levels", "1,,2", "a"},
       "--levels '1,,2': empty "
       "or overlong item"},
      {5,
       {"x", "sweep", "--levels", "1,x", "a"},
       "--levels '1,x': 'x' is "
       "not a bound (0..4096 or auto)"},
      {3,
       {"x", "--replay", "a"},
       "--replay only delivers the spool: give no "
       "domains"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int r = cli(&o, &err, bad[i].argc, (char **)bad[i].argv);
    if (r != -EINVAL || strcmp(err.msg, bad[i].msg) != 0)
      print_error("case %zu: got %d \"%s\"\n", i, r, err.msg);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg, bad[i].msg);
    vs_start_opts_free(&o);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_groups),
      cmocka_unit_test(test_domains_and_auto),
      cmocka_unit_test(test_command_line_wins),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_load_missing_file),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_cli),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
