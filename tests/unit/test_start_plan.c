/* The JSON plan (startup-helper/vs_start_plan.h): valid plans, precedence of
 * the command line, and every kind of malformed input with its line and
 * column; plus the strict number parsers and the CLI checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* A file over VS_PLAN_MAX_BYTES is refused before it is parsed (a 16 MB
 * plan used to be read and parsed into a tree of hundreds of MB). */
static void test_load_too_big(void **state) {
  char path[] = "/tmp/vs-test-plan-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs("{\"domains\": [", f);
  for (size_t i = 0; i < 2 * 1024 * 1024 / 6; i++)
    fputs("\"vm\", ", f);
  fputs("\"vm\"]}", f);
  fclose(f);
  vs_start_opts_t o = {0};
  vs_error_t err = {0};
  assert_int_equal(vs_start_plan_load(path, &o, &err), -EFBIG);
  char want[200];
  snprintf(want, sizeof(want),
           "--plan %s: larger than 1048576 bytes (the limit for a plan)", path);
  assert_string_equal(err.msg, want);
  assert_int_equal(o.n_targets, 0);
  vs_start_opts_free(&o);
  unlink(path);
}

/* A plan of many small values is refused at the value over the limit; one
 * just under it parses (every target's file:line:col was found by walking
 * the text from its start: quadratic, minutes for 10 MB; the CPU time is
 * printed). */
static void test_many_values(void **state) {
  size_t size = 16 * (VS_PLAN_MAX_VALUES + 8);
  char *text = malloc(size);
  assert_non_null(text);
  size_t o = (size_t)snprintf(text, size, "{\"domains\": [");
  for (int i = 0; i < VS_PLAN_MAX_VALUES + 1; i++)
    o += (size_t)snprintf(text + o, size - o, "%s1", i ? "," : "");
  snprintf(text + o, size - o, "]}");
  vs_start_opts_t opts = {0};
  vs_error_t err = {0};
  assert_int_equal(
      vs_start_plan_parse(text, strlen(text), "plan.json", &opts, &err),
      -EINVAL);
  /* the root object and the array are values too */
  char want[100];
  snprintf(want, sizeof(want),
           "plan.json:1:%d: more than %d values (the limit for a plan)",
           (int)strlen("{\"domains\": [") + 1 + 2 * (VS_PLAN_MAX_VALUES - 2),
           VS_PLAN_MAX_VALUES);
  assert_string_equal(err.msg, want);
  vs_start_opts_free(&opts);

  /* 60,000 distinct names, one a line: accepted, each with its line */
  o = (size_t)snprintf(text, size, "{\"domains\": [\n");
  for (int i = 0; i < 60000; i++)
    o += (size_t)snprintf(text + o, size - o, "%s\"v%d\"\n", i ? "," : "", i);
  snprintf(text + o, size - o, "]}");
  clock_t c0 = clock();
  assert_int_equal(
      vs_start_plan_parse(text, strlen(text), "plan.json", &opts, &err), 0);
  double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
  assert_int_equal(opts.n_targets, 60000);
  assert_string_equal(opts.targets[59999].where, "plan.json:60001:2");
  /* A figure, not a limit (no timed assertions): the quadratic parser took
   * minutes here, the linear one takes milliseconds. */
  print_message("60000 domains parsed in %.3f s of CPU\n", cpu);
  vs_start_opts_free(&opts);
  free(text);
}

/* Messages that quote the plan or its file name are cut between UTF-8
 * characters, never inside one. */
static void test_cut_between_characters(void **state) {
  /* an unknown key of 600 bytes of two-byte characters */
  char text[1400];
  size_t o = (size_t)snprintf(text, sizeof(text), "{\"");
  for (int i = 0; i < 300; i++)
    o += (size_t)snprintf(text + o, sizeof(text) - o, "\xc3\xa9");
  snprintf(text + o, sizeof(text) - o, "\": 1}");
  for (int shift = 0; shift < 2; shift++) {
    /* a one-byte longer file name moves the cut by one byte */
    const char *name = shift ? "plan.json" : "plan.jso";
    vs_start_opts_t opts = {0};
    vs_error_t err = {0};
    assert_int_equal(vs_start_plan_parse(text, strlen(text), name, &opts, &err),
                     -EINVAL);
    size_t len = strlen(err.msg);
    assert_true(len > 400);
    assert_int_equal(vs_utf8_cut(err.msg, len, len), len);
    assert_true(((unsigned char)err.msg[len - 1] & 0xC0) == 0x80);
    vs_start_opts_free(&opts);
  }
  /* a target's place: the file name cut to 40 bytes, between characters */
  char name[64];
  o = (size_t)snprintf(name, sizeof(name), "d");
  for (int i = 0; i < 20; i++)
    o += (size_t)snprintf(name + o, sizeof(name) - o, "\xc3\xa9");
  vs_start_opts_t opts = {0};
  vs_error_t err = {0};
  const char *plan = "{\"domains\": [\"a\"]}";
  assert_int_equal(vs_start_plan_parse(plan, strlen(plan), name, &opts, &err),
                   0);
  char want[64];
  snprintf(want, sizeof(want), "%.39s:1:14", name);
  assert_string_equal(opts.targets[0].where, want);
  vs_start_opts_free(&opts);
}

/* Text for terminals and logs: control characters, backslashes, invalid
 * UTF-8 and C1 controls escaped, UTF-8 kept, cut between characters. */
static void test_text_safe(void **state) {
  static const struct {
    const char *in;
    size_t size;
    const char *out;
  } cases[] = {
      {"web1", 64, "web1"},
      {"a\x1b[2Jb\rc\x07"
       "d\ne",
       64, "a\\x1B[2Jb\\x0Dc\\x07d\\x0Ae"},
      {"back\\slash", 64, "back\\x5Cslash"},
      {"del\x7f", 64, "del\\x7F"},
      {"\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", 64,
       "\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80"},
      {"csi\xc2\x9b", 64, "csi\\xC2\\x9B"},
      {"bad\xff\xc3(", 64, "bad\\xFF\\xC3("},
      {"cut\xe2\x82", 64, "cut\\xE2\\x82"},
      {"surrogate\xed\xa0\x80", 64, "surrogate\\xED\\xA0\\x80"},
      /* cut: never inside a character or an escape, marked */
      {"abcdef", 7, "abcdef"},
      {"abcdefg", 7, "abc..."},
      {"\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", 8, "\xc3\xbc\xc3\xbc..."},
      {"\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", 7, "\xc3\xbc..."},
      {"a\x1b\x1b\x1b", 8, "a..."},
      {"a\x1b\x1b\x1b", 9, "a\\x1B..."},
      {"a\x1b\x1b\x1b", 14, "a\\x1B\\x1B\\x1B"},
      {"a\x1b\x1b\x1b", 13, "a\\x1B\\x1B..."},
      {"abcd", 4, "..."},
      {"abcd", 3, ""},
      {"", 1, ""},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[64];
    vs_text_safe(buf, cases[i].size, cases[i].in);
    if (strcmp(buf, cases[i].out) != 0 || strlen(buf) >= cases[i].size) {
      print_error("case %zu: got \"%s\" want \"%s\"\n", i, buf, cases[i].out);
      failures++;
    }
  }
  assert_int_equal(failures, 0);
  /* vs_utf8_cut */
  const char *s = "a\xc3\xbc\xe2\x82\xac";
  assert_int_equal(vs_utf8_cut(s, 6, 6), 6);
  assert_int_equal(vs_utf8_cut(s, 6, 5), 3);
  assert_int_equal(vs_utf8_cut(s, 6, 2), 1);
  assert_int_equal(vs_utf8_cut(s, 6, 0), 0);
  assert_int_equal(vs_utf8_cut("\xff\xfe", 2, 1), 1);
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
      cmocka_unit_test(test_load_too_big),
      cmocka_unit_test(test_many_values),
      cmocka_unit_test(test_cut_between_characters),
      cmocka_unit_test(test_text_safe),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_cli),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
