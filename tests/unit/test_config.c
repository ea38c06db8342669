/* vs_config_*: defaults, every key with valid values, every kind of invalid
 * value (error names key and value, config unchanged), the cross-key checks
 * of vs_config_finish(). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
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

#define NUM_DIFF(field)                                                        \
  do {                                                                         \
    if (got->field != want->field) {                                           \
      snprintf(why, len, #field ": %.17g, expected %.17g", got->field,         \
               want->field);                                                   \
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
  NUM_DIFF(sample_timeout);
  NUM_DIFF(max_abandoned);
  NUM_DIFF(keepalive_interval);
  NUM_DIFF(keepalive_count);
  NUM_DIFF(blockinfo_interval);
  NUM_DIFF(blockinfo_timeout);
  NUM_DIFF(block_threshold);
  INT_DIFF(blockinfo);
  INT_DIFF(blockinfo_set);
  INT_DIFF(state_notifications);
  NUM_DIFF(max_connections);
  NUM_DIFF(stuck_threshold);
  for (unsigned g = 0; g < VS_NGROUPS; g++)
    NUM_DIFF(group_interval[g]);
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

/* Exact: the values are the literals the config was given. */
static void assert_number(const char *what, double got, double want) {
  if (got != want)
    fail_msg("%s: %.17g, expected %.17g", what, got, want);
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
  assert_number("sample_timeout", cfg.sample_timeout, 0); /* half interval */
  assert_number("max_abandoned", cfg.max_abandoned, 4);
  assert_number("keepalive_interval", cfg.keepalive_interval, 5);
  assert_number("keepalive_count", cfg.keepalive_count, 5);
  assert_number("blockinfo_interval", cfg.blockinfo_interval, 0); /* read */
  assert_number("blockinfo_timeout", cfg.blockinfo_timeout, 2);
  assert_number("block_threshold", cfg.block_threshold, 0); /* off */
  assert_false(cfg.blockinfo);
  assert_false(cfg.blockinfo_set);
  assert_true(cfg.state_notifications);
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

/* Numeric keys: one expectation per value. */
#define SET_NUMBER(fn, field, x)                                               \
  static void fn(vs_config_t *c) { c->field = (x); }
SET_NUMBER(sample_timeout_min, sample_timeout, 0.01)
SET_NUMBER(sample_timeout_2_5, sample_timeout, 2.5)
SET_NUMBER(sample_timeout_max, sample_timeout, 3600)
SET_NUMBER(max_abandoned_min, max_abandoned, 1)
SET_NUMBER(max_abandoned_10, max_abandoned, 10)
SET_NUMBER(max_abandoned_max, max_abandoned, 64)
SET_NUMBER(keepalive_interval_off, keepalive_interval, 0)
SET_NUMBER(keepalive_interval_30, keepalive_interval, 30)
SET_NUMBER(keepalive_interval_max, keepalive_interval, 3600)
SET_NUMBER(keepalive_count_min, keepalive_count, 1)
SET_NUMBER(keepalive_count_max, keepalive_count, 100)
SET_NUMBER(blockinfo_interval_min, blockinfo_interval, 0.1)
SET_NUMBER(blockinfo_interval_60_5, blockinfo_interval, 60.5)
SET_NUMBER(blockinfo_interval_max, blockinfo_interval, 86400)
SET_NUMBER(blockinfo_timeout_min, blockinfo_timeout, 0.01)
SET_NUMBER(blockinfo_timeout_0_5, blockinfo_timeout, 0.5)
SET_NUMBER(blockinfo_timeout_max, blockinfo_timeout, 3600)
SET_NUMBER(block_threshold_min, block_threshold, 1)
SET_NUMBER(block_threshold_85_5, block_threshold, 85.5)
SET_NUMBER(block_threshold_max, block_threshold, 99.9)
SET_NUMBER(max_connections_min, max_connections, 1)
SET_NUMBER(max_connections_max, max_connections, 16)
SET_NUMBER(stuck_threshold_min, stuck_threshold, 0.05)
SET_NUMBER(stuck_threshold_2_5, stuck_threshold, 2.5)
SET_NUMBER(block_every_30, group_interval[vs_group_index(VS_GROUP_BLOCK)], 30)
SET_NUMBER(cpu_every_0_5, group_interval[vs_group_index(VS_GROUP_CPU)], 0.5)
static void blockinfo_on(vs_config_t *c) {
  c->blockinfo = true;
  c->blockinfo_set = true;
}
static void blockinfo_off(vs_config_t *c) {
  c->blockinfo = false;
  c->blockinfo_set = true; /* given, though equal to the default */
}
static void notifications_off(vs_config_t *c) {
  c->state_notifications = false;
}
static void notifications_on(vs_config_t *c) { c->state_notifications = true; }

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
    {"SampleTimeout", {N(0.01)}, 1, sample_timeout_min},
    {"SampleTimeout", {N(2.5)}, 1, sample_timeout_2_5},
    {"SampleTimeout", {N(3600)}, 1, sample_timeout_max},
    {"MaxAbandonedWorkers", {N(1)}, 1, max_abandoned_min},
    {"MaxAbandonedWorkers", {N(10)}, 1, max_abandoned_10},
    {"MaxAbandonedWorkers", {N(64)}, 1, max_abandoned_max},
    {"KeepAliveInterval", {N(0)}, 1, keepalive_interval_off},
    {"KeepAliveInterval", {N(30)}, 1, keepalive_interval_30},
    {"KeepAliveInterval", {N(3600)}, 1, keepalive_interval_max},
    {"KeepAliveCount", {N(1)}, 1, keepalive_count_min},
    {"KeepAliveCount", {N(100)}, 1, keepalive_count_max},
    {"BlockInfo", {B(true)}, 1, blockinfo_on},
    {"BlockInfo", {B(false)}, 1, blockinfo_off},
    {"BlockInfo", {S("Yes")}, 1, blockinfo_on},
    {"BlockInfo", {S("off")}, 1, blockinfo_off},
    {"BlockInfoInterval", {N(0.1)}, 1, blockinfo_interval_min},
    {"BlockInfoInterval", {N(60.5)}, 1, blockinfo_interval_60_5},
    {"BlockInfoInterval", {N(86400)}, 1, blockinfo_interval_max},
    {"BlockInfoTimeout", {N(0.01)}, 1, blockinfo_timeout_min},
    {"BlockInfoTimeout", {N(0.5)}, 1, blockinfo_timeout_0_5},
    {"BlockInfoTimeout", {N(3600)}, 1, blockinfo_timeout_max},
    {"BlockThreshold", {N(1)}, 1, block_threshold_min},
    {"BlockThreshold", {N(85.5)}, 1, block_threshold_85_5},
    {"BlockThreshold", {N(99.9)}, 1, block_threshold_max},
    {"StateNotifications", {B(false)}, 1, notifications_off},
    {"StateNotifications", {S("NO")}, 1, notifications_off},
    {"StateNotifications", {B(true)}, 1, notifications_on},
    {"MaxConnections", {N(1)}, 1, max_connections_min},
    {"MaxConnections", {N(16)}, 1, max_connections_max},
    {"StuckThreshold", {N(0.05)}, 1, stuck_threshold_min},
    {"StuckThreshold", {N(2.5)}, 1, stuck_threshold_2_5},
    {"GroupInterval", {S("block"), N(30)}, 2, block_every_30},
    {"GroupInterval", {S("CPU"), N(0.5)}, 2, cpu_every_0_5},
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
    "SampleTimeout",
    "MaxAbandonedWorkers",
    "KeepAliveInterval",
    "KeepAliveCount",
    "BlockInfo",
    "BlockInfoInterval",
    "BlockInfoTimeout",
    "BlockThreshold",
    "StateNotifications",
    "MaxConnections",
    "StuckThreshold",
    "GroupInterval",
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
    /* numbers: unquoted, one, in range, whole where noted */
    {"SampleTimeout", {S("5")}, 1, "\"5\""},
    {"SampleTimeout", {B(true)}, 1, "true"},
    {"SampleTimeout", {N(0.009)}, 1, "0.009"},
    {"SampleTimeout", {N(0)}, 1, "0"},
    {"SampleTimeout", {N(-1)}, 1, "-1"},
    {"SampleTimeout", {N(3600.5)}, 1, "3600.5"},
    {"SampleTimeout", {N(NAN)}, 1, "nan"},
    {"SampleTimeout", {N(INFINITY)}, 1, "inf"},
    {"SampleTimeout", {N(1), N(2)}, 2, "got 2"},
    {"SampleTimeout", {{0}}, 0, "got 0"},
    {"MaxAbandonedWorkers", {S("4")}, 1, "\"4\""},
    {"MaxAbandonedWorkers", {B(false)}, 1, "false"},
    {"MaxAbandonedWorkers", {N(0)}, 1, "0"},
    {"MaxAbandonedWorkers", {N(65)}, 1, "65"},
    {"MaxAbandonedWorkers", {N(2.5)}, 1, "2.5"},
    {"MaxAbandonedWorkers", {N(63.999)}, 1, "63.999"},
    {"MaxAbandonedWorkers", {N(4), N(4)}, 2, "got 2"},
    {"KeepAliveInterval", {S("")}, 1, "\"\""},
    {"KeepAliveInterval", {B(true)}, 1, "true"},
    {"KeepAliveInterval", {N(-1)}, 1, "-1"},
    {"KeepAliveInterval", {N(3601)}, 1, "3601"},
    {"KeepAliveInterval", {N(0.5)}, 1, "0.5"},
    {"KeepAliveInterval", {N(5), N(3)}, 2, "got 2"},
    {"KeepAliveCount", {S("five")}, 1, "\"five\""},
    {"KeepAliveCount", {B(true)}, 1, "true"},
    {"KeepAliveCount", {N(0)}, 1, "0"},
    {"KeepAliveCount", {N(101)}, 1, "101"},
    {"KeepAliveCount", {N(1.5)}, 1, "1.5"},
    {"KeepAliveCount", {N(5), S("x")}, 2, "got 2"},
    {"KeepAliveCount", {{0}}, 0, "got 0"},
    {"BlockInfoInterval", {S("60")}, 1, "\"60\""},
    {"BlockInfoInterval", {B(true)}, 1, "true"},
    {"BlockInfoInterval", {N(0)}, 1, "0"}, /* the default, not settable */
    {"BlockInfoInterval", {N(0.09)}, 1, "0.09"},
    {"BlockInfoInterval", {N(86401)}, 1, "86401"},
    {"BlockInfoInterval", {N(1), N(2)}, 2, "got 2"},
    {"BlockInfoTimeout", {S("2")}, 1, "\"2\""},
    {"BlockInfoTimeout", {B(false)}, 1, "false"},
    {"BlockInfoTimeout", {N(0)}, 1, "0"},
    {"BlockInfoTimeout", {N(0.001)}, 1, "0.001"},
    {"BlockInfoTimeout", {N(3600.01)}, 1, "3600.01"},
    {"BlockInfoTimeout", {N(1), N(1)}, 2, "got 2"},
    {"BlockThreshold", {S("90")}, 1, "\"90\""},
    {"BlockThreshold", {S("90%")}, 1, "\"90%\""},
    {"BlockThreshold", {B(true)}, 1, "true"},
    {"BlockThreshold", {N(0)}, 1, "0"}, /* "off" is the default, not a value */
    {"BlockThreshold", {N(0.5)}, 1, "0.5"},
    {"BlockThreshold", {N(99.95)}, 1, "99.95"},
    {"BlockThreshold", {N(100)}, 1, "100"},
    {"BlockThreshold", {N(80), N(90)}, 2, "got 2"},
    {"BlockThreshold", {{0}}, 0, "got 0"},
    /* booleans */
    {"BlockInfo", {S("maybe")}, 1, "\"maybe\""},
    {"BlockInfo", {N(1)}, 1, "1"},
    {"BlockInfo", {{0}}, 0, "got 0"},
    {"BlockInfo", {B(true), B(true)}, 2, "got 2"},
    {"StateNotifications", {S("enabled")}, 1, "\"enabled\""},
    {"StateNotifications", {N(0)}, 1, "0"},
    {"StateNotifications", {{0}}, 0, "got 0"},
    {"StateNotifications", {B(false), B(true)}, 2, "got 2"},
    {"MaxConnections", {N(0)}, 1, "0"},
    {"MaxConnections", {N(17)}, 1, "17"},
    {"MaxConnections", {N(2.5)}, 1, "2.5"},
    {"MaxConnections", {S("4")}, 1, "\"4\""},
    {"StuckThreshold", {N(0)}, 1, "0"}, /* automatic is the default */
    {"StuckThreshold", {N(0.01)}, 1, "0.01"},
    {"StuckThreshold", {S("1")}, 1, "\"1\""},
    {"GroupInterval", {S("state"), N(10)}, 2, "\"state\""},
    {"GroupInterval", {S("disk"), N(10)}, 2, "\"disk\""},
    {"GroupInterval", {S("block"), N(0)}, 2, "0"},
    {"GroupInterval", {S("block"), N(86401)}, 2, "86401"},
    {"GroupInterval", {S("block")}, 1, "GroupInterval"},
    {"GroupInterval", {N(30), S("block")}, 2, "GroupInterval"},
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
      {"SampleTimeout", {N(7.5)}, 1},
      {"MaxAbandonedWorkers", {N(9)}, 1},
      {"KeepAliveInterval", {N(11)}, 1},
      {"KeepAliveCount", {N(12)}, 1},
      {"BlockInfo", {B(true)}, 1},
      {"BlockInfoInterval", {N(120)}, 1},
      {"BlockInfoTimeout", {N(3)}, 1},
      {"BlockThreshold", {N(75)}, 1},
      {"StateNotifications", {B(false)}, 1},
      {"MaxConnections", {N(3)}, 1},
      {"StuckThreshold", {N(4)}, 1},
      {"GroupInterval", {S("vcpu"), N(20)}, 2},
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

/* The same for the number and boolean keys: a rejected line leaves the
 * value of the line before (or the default), and a rejected BlockInfo does
 * not count as given. */
static const struct {
  const char *key;
  vs_conf_value_t good, bad;
  void (*expect)(vs_config_t *cfg); /* what good gives */
} keep_cases[] = {
    {"SampleTimeout", N(2.5), N(0), sample_timeout_2_5},
    {"SampleTimeout", N(3600), N(3600.5), sample_timeout_max},
    {"MaxAbandonedWorkers", N(10), N(10.5), max_abandoned_10},
    {"MaxAbandonedWorkers", N(64), N(65), max_abandoned_max},
    {"KeepAliveInterval", N(30), N(-5), keepalive_interval_30},
    {"KeepAliveInterval", N(0), S("0"), keepalive_interval_off},
    {"KeepAliveCount", N(100), S("3"), keepalive_count_max},
    {"KeepAliveCount", N(1), N(0), keepalive_count_min},
    {"BlockInfoInterval", N(60.5), N(1e9), blockinfo_interval_60_5},
    {"BlockInfoInterval", N(0.1), N(0), blockinfo_interval_min},
    {"BlockInfoTimeout", N(0.5), B(true), blockinfo_timeout_0_5},
    {"BlockInfoTimeout", N(0.01), N(0.001), blockinfo_timeout_min},
    {"BlockThreshold", N(85.5), N(100), block_threshold_85_5},
    {"BlockThreshold", N(99.9), N(0), block_threshold_max},
    {"BlockInfo", B(false), S("perhaps"), blockinfo_off},
    {"BlockInfo", B(true), N(0), blockinfo_on},
    {"StateNotifications", B(false), N(1), notifications_off},
    {"StateNotifications", B(true), S(""), notifications_on},
};

static void test_failed_line_keeps_value(void **state) {
  for (size_t i = 0; i < VS_NELEM(keep_cases); i++) {
    print_message("%s\n", keep_cases[i].key);
    vs_config_t cfg, defaults, want;
    vs_config_init(&cfg);
    vs_config_init(&defaults);
    vs_config_init(&want);
    keep_cases[i].expect(&want);
    vs_error_t err = {0};
    /* before any line: the default stays */
    assert_int_equal(
        vs_config_set(&cfg, keep_cases[i].key, &keep_cases[i].bad, 1, &err),
        -EINVAL);
    assert_non_null(strstr(err.msg, keep_cases[i].key));
    config_equal(&cfg, &defaults);
    /* after a good line: its value stays */
    set_ok(&cfg, keep_cases[i].key, &keep_cases[i].good, 1);
    config_equal(&cfg, &want);
    vs_error_clear(&err);
    assert_int_equal(
        vs_config_set(&cfg, keep_cases[i].key, &keep_cases[i].bad, 1, &err),
        -EINVAL);
    config_equal(&cfg, &want);
    /* and with two values, the first of them valid */
    const vs_conf_value_t two[] = {keep_cases[i].good, keep_cases[i].good};
    vs_error_clear(&err);
    assert_int_equal(vs_config_set(&cfg, keep_cases[i].key, two, 2, &err),
                     -EINVAL);
    config_equal(&cfg, &want);
    vs_config_clear(&cfg);
    vs_config_clear(&defaults);
    vs_config_clear(&want);
  }
}

/* A later line overrides an earlier one (numbers and booleans do not
 * accumulate like the filters). */
static void test_number_lines_override(void **state) {
  vs_config_t cfg, want;
  vs_config_init(&cfg);
  vs_config_init(&want);
  const vs_conf_value_t a[] = {N(10)}, b[] = {N(20.5)}, t[] = {B(true)},
                        f[] = {B(false)};
  set_ok(&cfg, "BlockInfoInterval", a, 1);
  set_ok(&cfg, "blockinfointerval", b, 1);
  set_ok(&cfg, "BlockInfo", t, 1);
  set_ok(&cfg, "BLOCKINFO", f, 1);
  want.blockinfo_interval = 20.5;
  want.blockinfo = false;
  want.blockinfo_set = true;
  config_equal(&cfg, &want);
  vs_config_clear(&cfg);
  vs_config_clear(&want);
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
    /* BlockInfoTimeout below BlockInfoInterval when that is given */
    {"block-info interval above the default timeout",
     {{"BlockInfoInterval", {N(10)}, 1}},
     1,
     0,
     {NULL, NULL}},
    {"block-info interval below the default timeout (2)",
     {{"BlockInfoInterval", {N(1)}, 1}},
     1,
     -EINVAL,
     {"BlockInfoTimeout", "BlockInfoInterval"}},
    {"block-info timeout equal to the interval",
     {{"BlockInfoInterval", {N(5)}, 1}, {"BlockInfoTimeout", {N(5)}, 1}},
     2,
     -EINVAL,
     {"BlockInfoTimeout", "BlockInfoInterval"}},
    {"block-info timeout above the interval",
     {{"BlockInfoTimeout", {N(30)}, 1}, {"BlockInfoInterval", {N(0.5)}, 1}},
     2,
     -EINVAL,
     {"BlockInfoTimeout: 30", "(0.5)"}},
    {"block-info timeout just below the interval",
     {{"BlockInfoInterval", {N(5)}, 1}, {"BlockInfoTimeout", {N(4.99)}, 1}},
     2,
     0,
     {NULL, NULL}},
    {"block-info timeout with the default interval (the read interval)",
     {{"BlockInfoTimeout", {N(3600)}, 1}},
     1,
     0,
     {NULL, NULL}},
    {"block-info interval and timeout at their lower bounds",
     {{"BlockInfoInterval", {N(0.1)}, 1}, {"BlockInfoTimeout", {N(0.01)}, 1}},
     2,
     0,
     {NULL, NULL}},
    /* BlockThreshold needs the block-info thread */
    {"threshold with BlockInfo false",
     {{"BlockInfo", {B(false)}, 1}, {"BlockThreshold", {N(90)}, 1}},
     2,
     -EINVAL,
     {"BlockThreshold", "BlockInfo false"}},
    {"threshold before BlockInfo false",
     {{"BlockThreshold", {N(1)}, 1}, {"BlockInfo", {S("off")}, 1}},
     2,
     -EINVAL,
     {"BlockThreshold", "BlockInfo false"}},
    {"threshold with BlockInfo true",
     {{"BlockThreshold", {N(90)}, 1}, {"BlockInfo", {B(true)}, 1}},
     2,
     0,
     {NULL, NULL}},
    {"threshold without BlockInfo",
     {{"BlockThreshold", {N(99.9)}, 1}},
     1,
     0,
     {NULL, NULL}},
    {"BlockInfo false without threshold",
     {{"BlockInfo", {B(false)}, 1}},
     1,
     0,
     {NULL, NULL}},
    {"threshold with BlockInfo false, then true",
     {{"BlockInfo", {B(false)}, 1},
      {"BlockThreshold", {N(90)}, 1},
      {"BlockInfo", {B(true)}, 1}},
     3,
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
      cmocka_unit_test(test_failed_line_keeps_value),
      cmocka_unit_test(test_number_lines_override),
      cmocka_unit_test(test_stats_too_many_values),
      cmocka_unit_test(test_finish),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
