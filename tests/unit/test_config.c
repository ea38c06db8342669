/* vs_config_*: defaults, every key with valid values, every kind of invalid
 * value (error names key and value, config unchanged), the cross-key checks
 * of vs_config_finish(). */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "vs_config.h"
#include "vs_stats.h"
#include "vs_test_fixtures.h"

#define S(x)                                                                   \
  { .type = VS_CONF_STRING, .string = (x) }
#define N(x)                                                                   \
  { .type = VS_CONF_NUMBER, .number = (x) }
#define B(x)                                                                   \
  { .type = VS_CONF_BOOLEAN, .boolean = (x) }

#define MAX_VALUES 6

/* --- comparing two configs ----------------------------------------------- */

/* Where got differs from want, written into why; false when equal. */
static bool filter_diff(const char *what, const vs_filter_t *a,
                        const vs_filter_t *b, char *why, size_t len) {
  if (a->n != b->n || a->invert != b->invert) {
    snprintf(why, len, "%s: %zu entries (invert %d), expected %zu (invert %d)",
             what, a->n, a->invert, b->n, b->invert);
    return true;
  }
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->entries[i].text, b->entries[i].text) != 0 ||
        a->entries[i].is_regex != b->entries[i].is_regex) {
      snprintf(why, len,
               "%s[%zu]: \"%s\" (regex %d), expected \"%s\" (regex %d)", what,
               i, a->entries[i].text, a->entries[i].is_regex,
               b->entries[i].text, b->entries[i].is_regex);
      return true;
    }
  return false;
}

static bool format_diff(const char *what, const vs_format_t *a,
                        const vs_format_t *b, char *why, size_t len) {
  if (a->n != b->n) {
    snprintf(why, len, "%s: %zu parts, expected %zu", what, a->n, b->n);
    return true;
  }
  for (size_t i = 0; i < a->n; i++)
    if (a->parts[i] != b->parts[i]) {
      snprintf(why, len, "%s part %zu: %d, expected %d", what, i,
               (int)a->parts[i], (int)b->parts[i]);
      return true;
    }
  return false;
}

#define INT_DIFF(field)                                                        \
  do {                                                                         \
    if ((int)got->field != (int)want->field) {                                 \
      snprintf(why, len, #field ": %d, expected %d", (int)got->field,          \
               (int)want->field);                                              \
      return true;                                                             \
    }                                                                          \
  } while (0)

static bool config_diff(const vs_config_t *got, const vs_config_t *want,
                        char *why, size_t len) {
  if ((got->uri == NULL) != (want->uri == NULL) ||
      (got->uri && strcmp(got->uri, want->uri) != 0)) {
    snprintf(why, len, "uri: \"%s\", expected \"%s\"",
             got->uri ? got->uri : "(null)", want->uri ? want->uri : "(null)");
    return true;
  }
  INT_DIFF(mode);
  INT_DIFF(groups);
  INT_DIFF(compat);
  INT_DIFF(block_format);
  INT_DIFF(block_format_basename);
  INT_DIFF(if_format);
  return filter_diff("domains", &got->domains, &want->domains, why, len) ||
         filter_diff("block_devs", &got->block_devs, &want->block_devs, why,
                     len) ||
         filter_diff("if_devs", &got->if_devs, &want->if_devs, why, len) ||
         format_diff("host_format", &got->host_format, &want->host_format, why,
                     len) ||
         format_diff("plugin_instance_format", &got->plugin_instance_format,
                     &want->plugin_instance_format, why, len);
}

/* Every field of got equals want; fails naming the first that differs. */
static void config_equal(const vs_config_t *got, const vs_config_t *want) {
  char why[512];
  if (config_diff(got, want, why, sizeof(why)))
    fail_msg("config differs: %s", why);
}

static void set_ok(vs_config_t *cfg, const char *key, const vs_conf_value_t *v,
                   size_t n) {
  vs_error_t err = {0};
  int rc = vs_config_set(cfg, key, v, n, &err);
  if (rc != 0)
    fail_msg("%s: returned %d: %s", key, rc, err.msg);
}

static void add_filter(vs_filter_t *f, const char *pattern) {
  vs_error_t err = {0};
  if (vs_filter_add(f, pattern, &err) != 0)
    fail_msg("vs_filter_add(\"%s\"): %s", pattern, err.msg);
}

/* --- defaults ------------------------------------------------------------ */

static void test_defaults(void **state) {
  vs_config_t cfg;
  memset(&cfg, 0xA5, sizeof(cfg)); /* init must not rely on zeroed memory */
  vs_config_init(&cfg);
  assert_null(cfg.uri);
  assert_int_equal(cfg.mode, VS_MODE_AUTO);
  assert_int_equal(cfg.groups, VS_GROUPS_DEFAULT);
  assert_int_equal(cfg.groups & VS_GROUP_PERF, 0);
  assert_int_equal(cfg.domains.n, 0);
  assert_int_equal(cfg.block_devs.n, 0);
  assert_int_equal(cfg.if_devs.n, 0);
  assert_false(cfg.domains.invert);
  assert_false(cfg.block_devs.invert);
  assert_false(cfg.if_devs.invert);
  assert_int_equal(cfg.host_format.n, 1);
  assert_int_equal(cfg.host_format.parts[0], VS_PART_NAME);
  assert_int_equal(cfg.plugin_instance_format.n, 0);
  assert_int_equal(cfg.compat, VS_COMPAT_NONE);
  assert_int_equal(cfg.block_format, VS_BLOCK_FORMAT_TARGET);
  assert_false(cfg.block_format_basename);
  assert_int_equal(cfg.if_format, VS_IF_FORMAT_NAME);
  vs_error_t err = {0};
  assert_int_equal(vs_config_finish(&cfg, &err), 0);
  vs_config_clear(&cfg);
  vs_config_clear(NULL);
}

/* --- valid values -------------------------------------------------------- */

/* Each case: one line, and how it turns the defaults into the expected
 * config (which must then equal the parsed one in every field). */
typedef struct {
  const char *key;
  vs_conf_value_t v[MAX_VALUES];
  size_t n;
  void (*expect)(vs_config_t *cfg);
} good_case_t;

static void uri_qemu(vs_config_t *c) { c->uri = strdup("qemu:///system"); }
static void mode_bulk(vs_config_t *c) { c->mode = VS_MODE_BULK; }
static void mode_per_domain(vs_config_t *c) { c->mode = VS_MODE_PER_DOMAIN; }
static void mode_auto(vs_config_t *c) { c->mode = VS_MODE_AUTO; }
static void groups_state_cpu_block(vs_config_t *c) {
  c->groups = VS_GROUP_STATE | VS_GROUP_CPU | VS_GROUP_BLOCK;
}
static void groups_all(vs_config_t *c) { c->groups = VS_GROUPS_ALL; }
static void groups_perf_vcpu(vs_config_t *c) {
  c->groups = VS_GROUP_PERF | VS_GROUP_VCPU;
}
static void groups_if_balloon(vs_config_t *c) {
  c->groups = VS_GROUP_INTERFACE | VS_GROUP_BALLOON;
}
static void domains_a_re_b(vs_config_t *c) {
  add_filter(&c->domains, "a");
  add_filter(&c->domains, "/^b/");
}
static void block_qualified(vs_config_t *c) {
  add_filter(&c->block_devs, "fx:vda");
}
static void if_regex(vs_config_t *c) { add_filter(&c->if_devs, "/^vnet/"); }
static void invert_all(vs_config_t *c) {
  c->domains.invert = c->block_devs.invert = c->if_devs.invert = true;
}
static void invert_domains(vs_config_t *c) { c->domains.invert = true; }
static void invert_block(vs_config_t *c) { c->block_devs.invert = true; }
static void invert_if(vs_config_t *c) { c->if_devs.invert = true; }
static void host_uuid_name(vs_config_t *c) {
  c->host_format = (vs_format_t){{VS_PART_UUID, VS_PART_NAME}, 2};
}
static void host_three(vs_config_t *c) {
  c->host_format =
      (vs_format_t){{VS_PART_HOSTNAME, VS_PART_NAME, VS_PART_UUID}, 3};
}
static void pi_none(vs_config_t *c) { c->plugin_instance_format.n = 0; }
static void pi_name(vs_config_t *c) {
  c->plugin_instance_format = (vs_format_t){{VS_PART_NAME}, 1};
}
static void pi_name_uuid(vs_config_t *c) {
  c->plugin_instance_format = (vs_format_t){{VS_PART_NAME, VS_PART_UUID}, 2};
}
static void compat_virt(vs_config_t *c) { c->compat = VS_COMPAT_VIRT; }
static void compat_none(vs_config_t *c) { c->compat = VS_COMPAT_NONE; }
static void block_source(vs_config_t *c) {
  c->block_format = VS_BLOCK_FORMAT_SOURCE;
}
static void block_target(vs_config_t *c) {
  c->block_format = VS_BLOCK_FORMAT_TARGET;
}
static void basename_on(vs_config_t *c) { c->block_format_basename = true; }
static void basename_off(vs_config_t *c) { c->block_format_basename = false; }
static void if_number(vs_config_t *c) { c->if_format = VS_IF_FORMAT_NUMBER; }
static void if_name(vs_config_t *c) { c->if_format = VS_IF_FORMAT_NAME; }

static const good_case_t good_cases[] = {
    {"Connection", {S("qemu:///system")}, 1, uri_qemu},
    {"StatsMode", {S("bulk")}, 1, mode_bulk},
    {"StatsMode", {S("PER-DOMAIN")}, 1, mode_per_domain},
    {"StatsMode", {S("Auto")}, 1, mode_auto},
    {"Stats", {S("state cpu"), S("block")}, 2, groups_state_cpu_block},
    {"Stats", {S("all")}, 1, groups_all},
    {"Stats", {S("cpu"), S("all")}, 2, groups_all},
    {"Stats", {S("perf,vcpu")}, 1, groups_perf_vcpu},
    {"Stats", {S(" interface\tballoon ")}, 1, groups_if_balloon},
    {"Domain", {S("a"), S("/^b/")}, 2, domains_a_re_b},
    {"BlockDevice", {S("fx:vda")}, 1, block_qualified},
    {"InterfaceDevice", {S("/^vnet/")}, 1, if_regex},
    {"IgnoreSelected", {B(true)}, 1, invert_all},
    {"IgnoreSelected", {S("Yes")}, 1, invert_all}, /* quoted, as collectd */
    {"DomainIgnoreSelected", {B(true)}, 1, invert_domains},
    {"DomainIgnoreSelected", {S("on")}, 1, invert_domains},
    {"BlockDeviceIgnoreSelected", {B(true)}, 1, invert_block},
    {"InterfaceDeviceIgnoreSelected", {B(true)}, 1, invert_if},
    {"HostnameFormat", {S("uuid"), S("Name")}, 2, host_uuid_name},
    {"HostnameFormat", {S("hostname"), S("name"), S("UUID")}, 3, host_three},
    {"PluginInstanceFormat", {S("none")}, 1, pi_none},
    {"PluginInstanceFormat", {S("NONE")}, 1, pi_none},
    {"PluginInstanceFormat", {S("NAME")}, 1, pi_name},
    {"PluginInstanceFormat", {S("name"), S("uuid")}, 2, pi_name_uuid},
    {"PluginInstanceFormat", {S("name, uuid")}, 1, pi_name_uuid},
    {"HostnameFormat", {S("uuid name")}, 1, host_uuid_name},
    {"HostnameFormat", {S("hostname,name"), S("uuid")}, 2, host_three},
    {"Compatibility", {S("Virt")}, 1, compat_virt},
    {"Compatibility", {S("none")}, 1, compat_none},
    {"BlockDeviceFormat", {S("SOURCE")}, 1, block_source},
    {"BlockDeviceFormat", {S("target")}, 1, block_target},
    {"BlockDeviceFormatBasename", {B(true)}, 1, basename_on},
    {"BlockDeviceFormatBasename", {B(false)}, 1, basename_off},
    {"BlockDeviceFormatBasename", {S("TRUE")}, 1, basename_on},
    {"BlockDeviceFormatBasename", {S("off")}, 1, basename_off},
    {"InterfaceFormat", {S("Number")}, 1, if_number},
    {"InterfaceFormat", {S("name")}, 1, if_name},
};

/* Applies the case with key spelt as given; "" when the result equals the
 * expected config, else what went wrong (in why). */
static bool good_fails(const good_case_t *c, const char *key, char *why,
                       size_t len) {
  vs_config_t got, want;
  vs_config_init(&got);
  vs_config_init(&want);
  c->expect(&want);
  vs_error_t err = {0};
  int rc = vs_config_set(&got, key, c->v, c->n, &err);
  bool failed = true;
  if (rc != 0)
    snprintf(why, len, "returned %d: %.400s", rc, err.msg);
  else
    failed = config_diff(&got, &want, why, len);
  vs_config_clear(&got);
  vs_config_clear(&want);
  return failed;
}

/* Every case as written, and with the key in lower and upper case. All
 * cases run; failures are listed together. */
static void run_good_cases(const good_case_t *cases, size_t n) {
  size_t failures = 0;
  for (size_t i = 0; i < n; i++) {
    const good_case_t *c = &cases[i];
    char keys[3][64];
    size_t len = strlen(c->key);
    assert_true(len < sizeof(keys[0]));
    for (size_t j = 0; j <= len; j++) {
      keys[0][j] = c->key[j];
      keys[1][j] = (char)tolower((unsigned char)c->key[j]);
      keys[2][j] = (char)toupper((unsigned char)c->key[j]);
    }
    for (size_t k = 0; k < 3; k++) {
      char why[512];
      if (good_fails(c, keys[k], why, sizeof(why))) {
        print_error("case %zu: %s \"%s\"...: %s\n", i, keys[k],
                    c->v[0].type == VS_CONF_STRING ? c->v[0].string : "", why);
        failures++;
      }
    }
  }
  assert_int_equal(failures, 0);
}

static void test_valid_values(void **state) {
  run_good_cases(good_cases, VS_NELEM(good_cases));
}

/* vs_config.h: "Keys and keyword values are case-insensitive" - the
 * statistics group words too. */
static const good_case_t stats_case_cases[] = {
    {"Stats", {S("ALL")}, 1, groups_all},
    {"Stats", {S("State CPU"), S("Block")}, 2, groups_state_cpu_block},
    {"Stats", {S("PERF,vCPU")}, 1, groups_perf_vcpu},
    {"Stats", {S("INTERFACE Balloon")}, 1, groups_if_balloon},
};

static void test_stats_words_case_insensitive(void **state) {
  run_good_cases(stats_case_cases, VS_NELEM(stats_case_cases));
}

/* Filter keys add to what earlier lines gave. */
static void test_filter_lines_accumulate(void **state) {
  vs_config_t cfg, want;
  vs_config_init(&cfg);
  vs_config_init(&want);
  const vs_conf_value_t a[] = {S("a")}, b[] = {S("/b/"), S("c")};
  set_ok(&cfg, "Domain", a, 1);
  set_ok(&cfg, "domain", b, 2);
  add_filter(&want.domains, "a");
  add_filter(&want.domains, "/b/");
  add_filter(&want.domains, "c");
  config_equal(&cfg, &want);
  vs_config_clear(&cfg);
  vs_config_clear(&want);
}

static const char *const all_keys[] = {
    "Connection",
    "StatsMode",
    "Stats",
    "Domain",
    "BlockDevice",
    "InterfaceDevice",
    "IgnoreSelected",
    "DomainIgnoreSelected",
    "BlockDeviceIgnoreSelected",
    "InterfaceDeviceIgnoreSelected",
    "HostnameFormat",
    "PluginInstanceFormat",
    "Compatibility",
    "BlockDeviceFormat",
    "BlockDeviceFormatBasename",
    "InterfaceFormat",
};

/* vs_config_key() lists exactly the keys above, and every listed key has a
 * valid-value case in good_cases (so a new key cannot go untested). */
static void test_key_enumeration(void **state) {
  size_t n = 0;
  while (vs_config_key(n))
    n++;
  assert_int_equal(n, VS_NELEM(all_keys));
  assert_null(vs_config_key(n + 1));
  for (size_t i = 0; i < n; i++) {
    const char *key = vs_config_key(i);
    bool known = false;
    for (size_t j = 0; j < VS_NELEM(all_keys); j++)
      known = known || strcmp(all_keys[j], key) == 0;
    if (!known)
      fail_msg("vs_config_key(%zu) = \"%s\": not an expected key", i, key);
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(vs_config_key(j), key);
    const good_case_t *c = NULL;
    for (size_t j = 0; j < VS_NELEM(good_cases) && !c; j++)
      if (strcmp(good_cases[j].key, key) == 0)
        c = &good_cases[j];
    if (!c)
      fail_msg("key \"%s\" has no valid-value case", key);
    vs_config_t cfg;
    vs_config_init(&cfg);
    set_ok(&cfg, key, c->v, c->n);
    vs_config_clear(&cfg);
  }
}

/* --- invalid values ------------------------------------------------------ */

typedef struct {
  const char *key;
  vs_conf_value_t v[MAX_VALUES];
  size_t n;
  const char *want; /* the offending value as the message must show it */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"Connection", {N(1.5)}, 1, "1.5"},
    {"Connection", {B(true)}, 1, "true"},
    {"Connection", {{0}}, 0, "got 0"},
    {"Connection", {S("a:///"), S("b:///")}, 2, "got 2"},
    {"Connection", {S("")}, 1, "\"\""},
    {"StatsMode", {S("fast")}, 1, "\"fast\""},
    {"StatsMode", {S("")}, 1, "\"\""},
    {"StatsMode", {S("bulk auto")}, 1, "\"bulk auto\""},
    {"StatsMode", {N(2)}, 1, "2"},
    {"StatsMode", {B(false)}, 1, "false"},
    {"StatsMode", {{0}}, 0, "got 0"},
    {"StatsMode", {S("bulk"), S("auto")}, 2, "got 2"},
    {"Stats", {S("cpu disk")}, 1, "\"disk\""},
    {"Stats", {S("cpu"), N(3)}, 2, "3"},
    {"Stats", {B(true)}, 1, "true"},
    {"Stats", {{0}}, 0, "got 0"},
    {"Stats", {S("")}, 1, "\"\""},
    {"Stats", {S(" , ")}, 1, "\" , \""},
    {"Domain", {S("/[/")}, 1, "\"/[/\""},
    {"Domain", {S("ok"), S("/[/")}, 2, "\"/[/\""},
    {"Domain", {S("")}, 1, "\"\""},
    {"Domain", {N(7)}, 1, "7"},
    {"Domain", {{0}}, 0, "got 0"},
    {"BlockDevice", {S("/(/")}, 1, "\"/(/\""},
    {"BlockDevice", {B(false)}, 1, "false"},
    {"InterfaceDevice", {S("/[[:nope:]]/")}, 1, "\"/[[:nope:]]/\""},
    {"InterfaceDevice", {S("vnet0"), B(true)}, 2, "true"},
    {"IgnoreSelected", {S("maybe")}, 1, "\"maybe\""},
    {"IgnoreSelected", {N(1)}, 1, "1"},
    {"IgnoreSelected", {{0}}, 0, "got 0"},
    {"IgnoreSelected", {B(true), B(false)}, 2, "got 2"},
    {"DomainIgnoreSelected", {S("1")}, 1, "\"1\""},
    {"BlockDeviceIgnoreSelected", {N(0)}, 1, "0"},
    {"InterfaceDeviceIgnoreSelected", {S("")}, 1, "\"\""},
    {"HostnameFormat", {S("none")}, 1, "\"none\""},
    {"HostnameFormat", {S("ip")}, 1, "\"ip\""},
    {"HostnameFormat", {S("")}, 1, "\"\""},
    {"HostnameFormat", {S("name"), S("name")}, 2, "\"name\""},
    {"HostnameFormat", {S("uuid"), S("UUID")}, 2, "\"UUID\""},
    {"HostnameFormat", {N(1)}, 1, "1"},
    {"HostnameFormat", {{0}}, 0, "got 0"},
    {"HostnameFormat",
     {S("name"), S("uuid"), S("hostname"), S("name"), S("uuid")},
     5,
     "\"name\""},
    {"HostnameFormat", {S("name none")}, 1, "\"none\""},
    {"HostnameFormat", {S("name"), S("uuid name")}, 2, "\"name\""},
    {"PluginInstanceFormat", {S("none"), S("name")}, 2, "\"none\""},
    {"PluginInstanceFormat", {S("name"), S("none")}, 2, "\"none\""},
    {"PluginInstanceFormat", {S("bogus")}, 1, "\"bogus\""},
    {"PluginInstanceFormat", {S("name,none")}, 1, "\"none\""},
    {"PluginInstanceFormat", {S("hostname"), S("hostname")}, 2, "\"hostname\""},
    {"PluginInstanceFormat", {B(true)}, 1, "true"},
    {"Compatibility", {S("collectd")}, 1, "\"collectd\""},
    {"Compatibility", {N(1)}, 1, "1"},
    {"Compatibility", {S("virt"), S("none")}, 2, "got 2"},
    {"BlockDeviceFormat", {S("path")}, 1, "\"path\""},
    {"BlockDeviceFormat", {B(true)}, 1, "true"},
    {"BlockDeviceFormatBasename", {S("enabled")}, 1, "\"enabled\""},
    {"BlockDeviceFormatBasename", {N(1)}, 1, "1"},
    {"BlockDeviceFormatBasename", {{0}}, 0, "got 0"},
    {"InterfaceFormat", {S("mac")}, 1, "\"mac\""},
    {"InterfaceFormat", {N(0)}, 1, "0"},
    {"InterfaceFormat", {S("")}, 1, "\"\""},
    /* unknown keys: the key is what is wrong */
    {"Frobnicate", {S("x")}, 1, "\"Frobnicate\""},
    {"Stat", {S("cpu")}, 1, "\"Stat\""},
    {"DomainX", {S("a")}, 1, "\"DomainX\""},
    {"", {S("a")}, 1, "\"\""},
};

/* A config with every key set away from its default, so "unchanged" is
 * checked against something a broken handler could overwrite. */
static void baseline(vs_config_t *cfg) {
  static const struct {
    const char *key;
    vs_conf_value_t v[2];
    size_t n;
  } lines[] = {
      {"Connection", {S("test:///default")}, 1},
      {"StatsMode", {S("bulk")}, 1},
      {"Stats", {S("cpu block")}, 1},
      {"Domain", {S("keep")}, 1},
      {"BlockDevice", {S("/^vd/")}, 1},
      {"InterfaceDevice", {S("vnet0")}, 1},
      {"IgnoreSelected", {B(true)}, 1},
      {"BlockDeviceIgnoreSelected", {B(false)}, 1},
      {"HostnameFormat", {S("uuid")}, 1},
      {"PluginInstanceFormat", {S("name")}, 1},
      {"Compatibility", {S("virt")}, 1},
      {"BlockDeviceFormat", {S("source")}, 1},
      {"BlockDeviceFormatBasename", {B(true)}, 1},
      {"InterfaceFormat", {S("number")}, 1},
  };
  vs_config_init(cfg);
  for (size_t i = 0; i < VS_NELEM(lines); i++)
    set_ok(cfg, lines[i].key, lines[i].v, lines[i].n);
}

/* -EINVAL; the message names the key and the offending value; the config is
 * exactly as before. All cases run; failures are listed together. */
static void test_invalid_values(void **state) {
  size_t failures = 0;
  for (size_t i = 0; i < VS_NELEM(bad_cases); i++) {
    const bad_case_t *c = &bad_cases[i];
    vs_config_t cfg, before;
    baseline(&cfg);
    baseline(&before);
    vs_error_t err = {0};
    int rc = vs_config_set(&cfg, c->key, c->v, c->n, &err);
    const char *problem = NULL;
    char why[512] = "";
    if (rc != -EINVAL)
      problem = "did not return -EINVAL";
    else if (err.code != -EINVAL)
      problem = "err.code is not -EINVAL";
    else if (c->key[0] && !strstr(err.msg, c->key))
      problem = "message does not name the key";
    else if (!strstr(err.msg, c->want))
      problem = "message does not show the offending value";
    else if (config_diff(&cfg, &before, why, sizeof(why)))
      problem = "config changed";
    if (problem) {
      print_error("case %zu: %s: %s: rc %d, message \"%s\" (expected %s)%s%s\n",
                  i, c->key, problem, rc, err.msg, c->want, why[0] ? "; " : "",
                  why);
      failures++;
    }
    vs_config_clear(&cfg);
    vs_config_clear(&before);
  }
  assert_int_equal(failures, 0);
}

/* A failing line leaves the key as an earlier line set it, for each key
 * separately (the baseline covers all keys at once). */
static void test_failed_filter_line_adds_nothing(void **state) {
  vs_config_t cfg, want;
  vs_config_init(&cfg);
  vs_config_init(&want);
  const vs_conf_value_t first[] = {S("keep")};
  const vs_conf_value_t bad[] = {S("new"), S("/[/")};
  set_ok(&cfg, "Domain", first, 1);
  add_filter(&want.domains, "keep");
  vs_error_t err = {0};
  assert_int_equal(vs_config_set(&cfg, "Domain", bad, 2, &err), -EINVAL);
  /* "new" must not have been added before "/[/" failed */
  char why[512];
  bool differs = config_diff(&cfg, &want, why, sizeof(why));
  vs_config_clear(&cfg);
  vs_config_clear(&want);
  if (differs)
    fail_msg("after the failed line: %s", why);
}

static void test_stats_too_many_values(void **state) {
  vs_conf_value_t v[65];
  for (size_t i = 0; i < VS_NELEM(v); i++)
    v[i] = (vs_conf_value_t)S("cpu");
  vs_config_t cfg;
  vs_config_init(&cfg);
  vs_error_t err = {0};
  assert_int_equal(vs_config_set(&cfg, "Stats", v, 64, &err), 0);
  assert_int_equal(vs_config_set(&cfg, "Stats", v, 65, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "Stats"));
  assert_non_null(strstr(err.msg, "got 65"));
  assert_int_equal(cfg.groups, VS_GROUP_CPU);
  vs_config_clear(&cfg);
}

/* --- vs_config_finish ---------------------------------------------------- */

typedef struct {
  const char *key;
  vs_conf_value_t v[3];
  size_t n;
} line_t;

static const struct {
  const char *what;
  line_t lines[3];
  size_t nlines;
  int rc;
  const char *want[2]; /* in the message when rc < 0 */
} finish_cases[] = {
    {"defaults", {{0}}, 0, 0, {NULL, NULL}},
    {"host hostname, plugin instance none",
     {{"HostnameFormat", {S("hostname")}, 1},
      {"PluginInstanceFormat", {S("none")}, 1}},
     2,
     -EINVAL,
     {"HostnameFormat", "PluginInstanceFormat"}},
    {"host hostname, plugin instance default (empty)",
     {{"HostnameFormat", {S("hostname")}, 1}},
     1,
     -EINVAL,
     {"HostnameFormat", "PluginInstanceFormat"}},
    {"host hostname, plugin instance hostname",
     {{"HostnameFormat", {S("hostname")}, 1},
      {"PluginInstanceFormat", {S("hostname")}, 1}},
     2,
     -EINVAL,
     {"HostnameFormat", "PluginInstanceFormat"}},
    {"host hostname, plugin instance name",
     {{"HostnameFormat", {S("hostname")}, 1},
      {"PluginInstanceFormat", {S("name")}, 1}},
     2,
     0,
     {NULL, NULL}},
    {"host hostname, plugin instance uuid",
     {{"HostnameFormat", {S("hostname")}, 1},
      {"PluginInstanceFormat", {S("uuid")}, 1}},
     2,
     0,
     {NULL, NULL}},
    {"host uuid, plugin instance none",
     {{"HostnameFormat", {S("uuid")}, 1},
      {"PluginInstanceFormat", {S("none")}, 1}},
     2,
     0,
     {NULL, NULL}},
    {"basename without source",
     {{"BlockDeviceFormatBasename", {B(true)}, 1}},
     1,
     -EINVAL,
     {"BlockDeviceFormatBasename", "source"}},
    {"basename with target",
     {{"BlockDeviceFormat", {S("target")}, 1},
      {"BlockDeviceFormatBasename", {B(true)}, 1}},
     2,
     -EINVAL,
     {"BlockDeviceFormatBasename", "source"}},
    {"basename with source",
     {{"BlockDeviceFormatBasename", {B(true)}, 1},
      {"BlockDeviceFormat", {S("source")}, 1}},
     2,
     0,
     {NULL, NULL}},
    {"basename false with target",
     {{"BlockDeviceFormatBasename", {B(false)}, 1}},
     1,
     0,
     {NULL, NULL}},
};

static void apply_lines(vs_config_t *cfg, const line_t *lines, size_t n) {
  vs_config_init(cfg);
  for (size_t j = 0; j < n; j++)
    set_ok(cfg, lines[j].key, lines[j].v, lines[j].n);
}

static void test_finish(void **state) {
  for (size_t i = 0; i < VS_NELEM(finish_cases); i++) {
    print_message("%s\n", finish_cases[i].what);
    vs_config_t cfg, before;
    apply_lines(&cfg, finish_cases[i].lines, finish_cases[i].nlines);
    apply_lines(&before, finish_cases[i].lines, finish_cases[i].nlines);
    vs_error_t err = {0};
    int rc = vs_config_finish(&cfg, &err);
    assert_int_equal(rc, finish_cases[i].rc);
    assert_int_equal(err.code, rc);
    for (size_t w = 0; w < 2; w++)
      if (finish_cases[i].want[w] && !strstr(err.msg, finish_cases[i].want[w]))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg,
                 finish_cases[i].want[w]);
    if (rc == 0)
      assert_string_equal(err.msg, "");
    config_equal(&cfg, &before); /* finish checks, it does not repair */
    vs_config_clear(&cfg);
    vs_config_clear(&before);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_valid_values),
      cmocka_unit_test(test_stats_words_case_insensitive),
      cmocka_unit_test(test_filter_lines_accumulate),
      cmocka_unit_test(test_key_enumeration),
      cmocka_unit_test(test_invalid_values),
      cmocka_unit_test(test_failed_filter_line_adds_nothing),
      cmocka_unit_test(test_stats_too_many_values),
      cmocka_unit_test(test_finish),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
