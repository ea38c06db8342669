#include "vs_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vs_stats.h"

typedef int (*handler_t)(vs_config_t *cfg, const char *key,
                         const vs_conf_value_t *v, size_t n, vs_error_t *err);

/* Quote a value for an error message: strings in double quotes, numbers and
 * booleans as collectd would print them. */
static const char *show(const vs_conf_value_t *v, char *buf, size_t len) {
  switch (v->type) {
  case VS_CONF_STRING:
    snprintf(buf, len, "\"%s\"", v->string);
    break;
  case VS_CONF_NUMBER:
    snprintf(buf, len, "%.10g", v->number);
    break;
  case VS_CONF_BOOLEAN:
    snprintf(buf, len, "%s", v->boolean ? "true" : "false");
    break;
  }
  return buf;
}

static int need_strings(const char *key, const vs_conf_value_t *v, size_t n,
                        size_t min, size_t max, vs_error_t *err) {
  char buf[160];
  if (n < min || n > max) {
    if (min == max)
      return vs_error_set(err, -EINVAL,
                          "%s: expected %zu string value%s, got %zu", key, min,
                          min == 1 ? "" : "s", n);
    return vs_error_set(err, -EINVAL,
                        "%s: expected %zu to %zu string values, got %zu", key,
                        min, max, n);
  }
  for (size_t i = 0; i < n; i++)
    if (v[i].type != VS_CONF_STRING)
      return vs_error_set(err, -EINVAL,
                          "%s: invalid value %s (expected a quoted string)",
                          key, show(&v[i], buf, sizeof(buf)));
  return 0;
}

static int need_bool(const char *key, const vs_conf_value_t *v, size_t n,
                     bool *ret, vs_error_t *err) {
  char buf[160];
  if (n != 1)
    return vs_error_set(err, -EINVAL, "%s: expected one boolean value, got %zu",
                        key, n);
  if (v->type == VS_CONF_BOOLEAN) {
    *ret = v->boolean;
    return 0;
  }
  /* collectd itself accepts these quoted forms for booleans. */
  static const char *const yes[] = {"true", "yes", "on"};
  static const char *const no[] = {"false", "no", "off"};
  for (size_t i = 0; v->type == VS_CONF_STRING && i < 3; i++) {
    if (strcasecmp(v->string, yes[i]) == 0 ||
        strcasecmp(v->string, no[i]) == 0) {
      *ret = strcasecmp(v->string, yes[i]) == 0;
      return 0;
    }
  }
  return vs_error_set(err, -EINVAL,
                      "%s: invalid value %s (expected true or false)", key,
                      show(v, buf, sizeof(buf)));
}

typedef struct {
  const char *word;
  int value;
} keyword_t;

/* Look a string value up in a keyword table; the error lists the choices. */
static int keyword(const char *key, const char *s, const keyword_t *kw,
                   size_t nkw, int *ret, vs_error_t *err) {
  for (size_t i = 0; i < nkw; i++)
    if (strcasecmp(kw[i].word, s) == 0) {
      *ret = kw[i].value;
      return 0;
    }
  char choices[256] = "";
  for (size_t i = 0; i < nkw; i++) {
    size_t len = strlen(choices);
    snprintf(choices + len, sizeof(choices) - len, "%s\"%s\"",
             i == 0 ? "" : (i + 1 == nkw ? " or " : ", "), kw[i].word);
  }
  return vs_error_set(err, -EINVAL, "%s: invalid value \"%s\" (expected %s)",
                      key, s, choices);
}

#define NKW(t) (sizeof(t) / sizeof((t)[0]))

/* A key that takes exactly one keyword from kw. */
static int one_keyword(const char *key, const vs_conf_value_t *v, size_t n,
                       const keyword_t *kw, size_t nkw, int *ret,
                       vs_error_t *err) {
  int r = need_strings(key, v, n, 1, 1, err);
  if (r < 0)
    return r;
  return keyword(key, v[0].string, kw, nkw, ret, err);
}

static int set_connection(vs_config_t *cfg, const char *key,
                          const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  int r = need_strings(key, v, n, 1, 1, err);
  if (r < 0)
    return r;
  if (v[0].string[0] == '\0')
    return vs_error_set(err, -EINVAL,
                        "%s: invalid value \"\" (expected a libvirt URI)", key);
  char *uri = strdup(v[0].string);
  if (!uri)
    return vs_error_set(err, -ENOMEM, "out of memory");
  free(cfg->uri);
  cfg->uri = uri;
  return 0;
}

static int set_mode(vs_config_t *cfg, const char *key, const vs_conf_value_t *v,
                    size_t n, vs_error_t *err) {
  static const keyword_t kw[] = {{"auto", VS_MODE_AUTO},
                                 {"bulk", VS_MODE_BULK},
                                 {"per-domain", VS_MODE_PER_DOMAIN}};
  int mode;
  int r = one_keyword(key, v, n, kw, NKW(kw), &mode, err);
  if (r == 0)
    cfg->mode = (vs_stats_mode_t)mode;
  return r;
}

/* The words of a list-valued key: `Stats "state cpu" "block"` and
 * `HostnameFormat name uuid` alike; words may be separated by blanks or
 * commas and split over several strings. *ret is one allocation holding a
 * NULL-terminated array and the words; free() it. */
static int split_words(const char *key, const vs_conf_value_t *v, size_t n,
                       char ***ret, size_t *ret_n, vs_error_t *err) {
  int r = need_strings(key, v, n, 1, 64, err);
  if (r < 0)
    return r;
  size_t chars = 0;
  for (size_t i = 0; i < n; i++)
    chars += strlen(v[i].string) + 1;
  /* at most one word per two characters, plus the NULL */
  size_t max_words = chars / 2 + 1;
  char **words = malloc((max_words + 1) * sizeof(char *) + chars);
  if (!words)
    return vs_error_set(err, -ENOMEM, "out of memory");
  char *buf = (char *)(words + max_words + 1), *save = NULL;
  size_t nw = 0;
  for (size_t i = 0; i < n; i++) {
    strcpy(buf, v[i].string);
    for (char *w = strtok_r(buf, " \t,", &save); w;
         w = strtok_r(NULL, " \t,", &save))
      words[nw++] = w;
    buf += strlen(v[i].string) + 1;
  }
  words[nw] = NULL;
  if (nw == 0) {
    free(words);
    return vs_error_set(err, -EINVAL, "%s: invalid value \"%s\" (no words)",
                        key, v[0].string);
  }
  *ret = words;
  *ret_n = nw;
  return 0;
}

static int set_stats(vs_config_t *cfg, const char *key,
                     const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  char **words;
  size_t nw;
  int r = split_words(key, v, n, &words, &nw, err);
  if (r < 0)
    return r;
  unsigned groups = 0;
  for (size_t i = 0; i < nw && r == 0; i++) {
    vs_group_t g = strcasecmp(words[i], "all") == 0
                       ? VS_GROUPS_ALL
                       : vs_group_from_name(words[i]);
    if (g == 0)
      r = vs_error_set(err, -EINVAL,
                       "%s: invalid value \"%s\" (expected any of \"state\", "
                       "\"cpu\", \"balloon\", \"vcpu\", \"interface\", "
                       "\"block\", \"perf\", \"all\")",
                       key, words[i]);
    groups |= g;
  }
  free(words);
  if (r == 0)
    cfg->groups = groups;
  return r;
}

static vs_filter_t *filter_for(vs_config_t *cfg, const char *key) {
  if (strncasecmp(key, "Domain", 6) == 0)
    return &cfg->domains;
  if (strncasecmp(key, "BlockDevice", 11) == 0)
    return &cfg->block_devs;
  return &cfg->if_devs;
}

static int set_filter(vs_config_t *cfg, const char *key,
                      const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  int r = need_strings(key, v, n, 1, 256, err);
  if (r < 0)
    return r;
  vs_filter_t *f = filter_for(cfg, key);
  size_t before = f->n;
  for (size_t i = 0; i < n; i++) {
    vs_error_t e = {0};
    r = vs_filter_add(f, v[i].string, &e);
    if (r < 0) {
      vs_filter_truncate(f, before); /* the line changes nothing */
      return vs_error_set(err, r, "%s: invalid value \"%s\": %s", key,
                          v[i].string, e.msg);
    }
  }
  return 0;
}

static int set_invert(vs_config_t *cfg, const char *key,
                      const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  bool b = false;
  int r = need_bool(key, v, n, &b, err);
  if (r < 0)
    return r;
  if (strcasecmp(key, "IgnoreSelected") == 0) {
    cfg->domains.invert = cfg->block_devs.invert = cfg->if_devs.invert = b;
  } else {
    filter_for(cfg, key)->invert = b;
  }
  return 0;
}

static int set_format(vs_config_t *cfg, const char *key,
                      const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  static const keyword_t kw[] = {{"none", 0},
                                 {"name", VS_PART_NAME},
                                 {"uuid", VS_PART_UUID},
                                 {"hostname", VS_PART_HOSTNAME}};
  bool is_host = strcasecmp(key, "HostnameFormat") == 0;
  /* "none" (an empty field) only makes sense for the plugin instance. */
  const keyword_t *choices = is_host ? kw + 1 : kw;
  size_t nchoices = is_host ? NKW(kw) - 1 : NKW(kw);
  char **words;
  size_t nw;
  int r = split_words(key, v, n, &words, &nw, err);
  if (r < 0)
    return r;
  vs_format_t fmt = {0};
  for (size_t i = 0; i < nw && r == 0; i++) {
    int part;
    r = keyword(key, words[i], choices, nchoices, &part, err);
    if (r < 0)
      break;
    if (part == 0) {
      if (nw != 1)
        r = vs_error_set(err, -EINVAL,
                         "%s: invalid value \"%s\" (it cannot be combined "
                         "with other parts)",
                         key, words[i]);
      continue;
    }
    for (size_t j = 0; j < fmt.n && r == 0; j++)
      if (fmt.parts[j] == (vs_ident_part_t)part)
        r = vs_error_set(err, -EINVAL, "%s: invalid value \"%s\" (given twice)",
                         key, words[i]);
    if (r == 0 && fmt.n == VS_FORMAT_PARTS_MAX)
      r = vs_error_set(err, -EINVAL,
                       "%s: invalid value \"%s\" (too many parts)", key,
                       words[i]);
    if (r == 0)
      fmt.parts[fmt.n++] = (vs_ident_part_t)part;
  }
  free(words);
  if (r < 0)
    return r;
  if (is_host)
    cfg->host_format = fmt;
  else
    cfg->plugin_instance_format = fmt;
  return 0;
}

static int set_compat(vs_config_t *cfg, const char *key,
                      const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  static const keyword_t kw[] = {{"none", VS_COMPAT_NONE},
                                 {"virt", VS_COMPAT_VIRT}};
  int c;
  int r = one_keyword(key, v, n, kw, NKW(kw), &c, err);
  if (r == 0)
    cfg->compat = (vs_compat_t)c;
  return r;
}

/* Numeric keys: where they go and their bounds. */
static const struct {
  const char *key;
  size_t offset;
  double min, max;
  bool integer;
} numbers[] = {
    {"SampleTimeout", offsetof(vs_config_t, sample_timeout), 0.01, 3600, false},
    {"MaxAbandonedWorkers", offsetof(vs_config_t, max_abandoned), 1, 64, true},
    {"KeepAliveInterval", offsetof(vs_config_t, keepalive_interval), 0, 3600,
     true},
    {"KeepAliveCount", offsetof(vs_config_t, keepalive_count), 1, 100, true},
    {"BlockInfoInterval", offsetof(vs_config_t, blockinfo_interval), 0.1, 86400,
     false},
    {"BlockInfoTimeout", offsetof(vs_config_t, blockinfo_timeout), 0.01, 3600,
     false},
    {"BlockThreshold", offsetof(vs_config_t, block_threshold), 1, 99.9, false},
    {"MaxConnections", offsetof(vs_config_t, max_connections), 1, 16, true},
    {"StuckThreshold", offsetof(vs_config_t, stuck_threshold), 0.05, 3600,
     false},
};
#define N_NUMBERS (sizeof(numbers) / sizeof(numbers[0]))

static int set_number(vs_config_t *cfg, const char *key,
                      const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  char buf[160];
  size_t i = 0;
  while (i < N_NUMBERS - 1 && strcasecmp(numbers[i].key, key) != 0)
    i++;
  if (n != 1)
    return vs_error_set(err, -EINVAL, "%s: expected one number, got %zu values",
                        key, n);
  if (v->type != VS_CONF_NUMBER)
    return vs_error_set(err, -EINVAL,
                        "%s: invalid value %s (expected a number, unquoted)",
                        key, show(v, buf, sizeof(buf)));
  double x = v->number;
  if (!(x >= numbers[i].min && x <= numbers[i].max) ||
      (numbers[i].integer && x != (double)(long long)x))
    return vs_error_set(
        err, -EINVAL, "%s: invalid value %.10g (expected %s from %g to %g)",
        key, x, numbers[i].integer ? "a whole number" : "a number",
        numbers[i].min, numbers[i].max);
  /* Every numeric field is a double (see the table); memcpy keeps the
   * store free of type-punned pointers. */
  memcpy((char *)cfg + numbers[i].offset, &x, sizeof(x));
  return 0;
}

/* GroupInterval "block" 30: a fixed sampling interval for one group. */
static int set_group_interval(vs_config_t *cfg, const char *key,
                              const vs_conf_value_t *v, size_t n,
                              vs_error_t *err) {
  char buf[160];
  if (n != 2 || v[0].type != VS_CONF_STRING || v[1].type != VS_CONF_NUMBER)
    return vs_error_set(err, -EINVAL,
                        "%s: expected a group name and a number of seconds "
                        "(GroupInterval \"block\" 30)",
                        key);
  vs_group_t g = vs_group_from_name(v[0].string);
  if (g == 0 || g == VS_GROUP_STATE)
    return vs_error_set(err, -EINVAL,
                        "%s: invalid group \"%s\" (expected any of \"cpu\", "
                        "\"balloon\", \"vcpu\", \"interface\", \"block\", "
                        "\"perf\"; the state is sampled every interval)",
                        key, v[0].string);
  double x = v[1].number;
  if (!(x >= 0.01 && x <= 86400))
    return vs_error_set(err, -EINVAL,
                        "%s: invalid value %s for \"%s\" (expected seconds "
                        "from 0.01 to 86400)",
                        key, show(&v[1], buf, sizeof(buf)), v[0].string);
  cfg->group_interval[vs_group_index(g)] = x;
  return 0;
}

static int set_bool_field(vs_config_t *cfg, const char *key,
                          const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  if (strcasecmp(key, "BlockInfo") == 0) {
    int r = need_bool(key, v, n, &cfg->blockinfo, err);
    if (r == 0)
      cfg->blockinfo_set = true;
    return r;
  }
  return need_bool(key, v, n, &cfg->state_notifications, err);
}

static int set_block_format(vs_config_t *cfg, const char *key,
                            const vs_conf_value_t *v, size_t n,
                            vs_error_t *err) {
  static const keyword_t kw[] = {{"target", VS_BLOCK_FORMAT_TARGET},
                                 {"source", VS_BLOCK_FORMAT_SOURCE}};
  int f;
  int r = one_keyword(key, v, n, kw, NKW(kw), &f, err);
  if (r == 0)
    cfg->block_format = (vs_block_format_t)f;
  return r;
}

static int set_block_basename(vs_config_t *cfg, const char *key,
                              const vs_conf_value_t *v, size_t n,
                              vs_error_t *err) {
  return need_bool(key, v, n, &cfg->block_format_basename, err);
}

static int set_if_format(vs_config_t *cfg, const char *key,
                         const vs_conf_value_t *v, size_t n, vs_error_t *err) {
  static const keyword_t kw[] = {{"name", VS_IF_FORMAT_NAME},
                                 {"number", VS_IF_FORMAT_NUMBER}};
  int f;
  int r = one_keyword(key, v, n, kw, NKW(kw), &f, err);
  if (r == 0)
    cfg->if_format = (vs_if_format_t)f;
  return r;
}

static const struct {
  const char *key;
  handler_t fn;
} handlers[] = {
    {"Connection", set_connection},
    {"StatsMode", set_mode},
    {"Stats", set_stats},
    {"Domain", set_filter},
    {"BlockDevice", set_filter},
    {"InterfaceDevice", set_filter},
    {"IgnoreSelected", set_invert},
    {"DomainIgnoreSelected", set_invert},
    {"BlockDeviceIgnoreSelected", set_invert},
    {"InterfaceDeviceIgnoreSelected", set_invert},
    {"HostnameFormat", set_format},
    {"PluginInstanceFormat", set_format},
    {"Compatibility", set_compat},
    {"BlockDeviceFormat", set_block_format},
    {"BlockDeviceFormatBasename", set_block_basename},
    {"InterfaceFormat", set_if_format},
    {"SampleTimeout", set_number},
    {"MaxAbandonedWorkers", set_number},
    {"KeepAliveInterval", set_number},
    {"KeepAliveCount", set_number},
    {"BlockInfo", set_bool_field},
    {"BlockInfoInterval", set_number},
    {"BlockInfoTimeout", set_number},
    {"BlockThreshold", set_number},
    {"StateNotifications", set_bool_field},
    {"MaxConnections", set_number},
    {"StuckThreshold", set_number},
    {"GroupInterval", set_group_interval},
};
#define N_HANDLERS (sizeof(handlers) / sizeof(handlers[0]))

const char *vs_config_key(size_t i) {
  return i < N_HANDLERS ? handlers[i].key : NULL;
}

void vs_config_init(vs_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->mode = VS_MODE_AUTO;
  cfg->groups = VS_GROUPS_DEFAULT;
  cfg->host_format.parts[0] = VS_PART_NAME;
  cfg->host_format.n = 1;
  cfg->max_abandoned = 4;
  cfg->keepalive_interval = 5;
  cfg->keepalive_count = 5;
  cfg->blockinfo_timeout = 2;
  cfg->max_connections = 4;
  cfg->state_notifications = true;
}

int vs_config_set(vs_config_t *cfg, const char *key,
                  const vs_conf_value_t *values, size_t n, vs_error_t *err) {
  for (size_t i = 0; i < N_HANDLERS; i++)
    if (strcasecmp(handlers[i].key, key) == 0)
      return handlers[i].fn(cfg, handlers[i].key, values, n, err);
  return vs_error_set(err, -EINVAL, "unknown option \"%s\"", key);
}

static bool has_part(const vs_format_t *f, vs_ident_part_t p) {
  for (size_t i = 0; i < f->n; i++)
    if (f->parts[i] == p)
      return true;
  return false;
}

int vs_config_finish(vs_config_t *cfg, vs_error_t *err) {
  const vs_format_t *h = &cfg->host_format, *pi = &cfg->plugin_instance_format;
  if (!has_part(h, VS_PART_NAME) && !has_part(h, VS_PART_UUID) &&
      !has_part(pi, VS_PART_NAME) && !has_part(pi, VS_PART_UUID))
    return vs_error_set(err, -EINVAL,
                        "HostnameFormat / PluginInstanceFormat: neither names "
                        "the domain (\"name\" or \"uuid\"), so every domain "
                        "would write to the same identifiers");
  if (cfg->blockinfo_interval > 0 &&
      cfg->blockinfo_timeout >= cfg->blockinfo_interval)
    return vs_error_set(err, -EINVAL,
                        "BlockInfoTimeout: %g must be below BlockInfoInterval "
                        "(%g)",
                        cfg->blockinfo_timeout, cfg->blockinfo_interval);
  if (cfg->block_threshold > 0 && cfg->blockinfo_set && !cfg->blockinfo)
    return vs_error_set(err, -EINVAL,
                        "BlockThreshold: needs the block-info thread, which "
                        "BlockInfo false turns off");
  if (cfg->block_format_basename && cfg->block_format != VS_BLOCK_FORMAT_SOURCE)
    return vs_error_set(err, -EINVAL,
                        "BlockDeviceFormatBasename: true needs "
                        "BlockDeviceFormat \"source\"");
  return 0;
}

void vs_config_clear(vs_config_t *cfg) {
  if (!cfg)
    return;
  free(cfg->uri);
  vs_filter_clear(&cfg->domains);
  vs_filter_clear(&cfg->block_devs);
  vs_filter_clear(&cfg->if_devs);
  memset(cfg, 0, sizeof(*cfg));
}
