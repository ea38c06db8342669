#include "vs_start_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_utf8.h"

void vs_ready_free(vs_ready_t *r) {
  if (!r)
    return;
  free(r->text);
  r->text = NULL;
  r->kind = VS_READY_UNSET;
}

void vs_start_opts_free(vs_start_opts_t *opts) {
  if (!opts)
    return;
  free(opts->uri);
  free(opts->match);
  free(opts->plan_path);
  for (size_t i = 0; i < opts->n_targets; i++) {
    free(opts->targets[i].name);
    vs_ready_free(&opts->targets[i].ready);
  }
  free(opts->targets);
  for (size_t i = 0; i < opts->n_groups; i++)
    free(opts->group_names[i]);
  free(opts->group_names);
  vs_ready_free(&opts->ready);
  free(opts->report_path);
  free(opts->socket_path);
  free(opts->spool_dir);
  free(opts->host);
  free(opts->levels);
  free(opts->out_prefix);
  memset(opts, 0, sizeof(*opts));
}

int vs_ready_parse(const char *s, vs_ready_t *ret) {
  if (strcmp(s, "running") == 0) {
    *ret = (vs_ready_t){.kind = VS_READY_RUNNING};
    return 0;
  }
  if (strcmp(s, "agent") == 0) {
    *ret = (vs_ready_t){.kind = VS_READY_AGENT};
    return 0;
  }
  if (strncmp(s, "console:", 8) == 0 && s[8] != '\0') {
    char *text = strdup(s + 8);
    if (!text)
      return -ENOMEM;
    *ret = (vs_ready_t){.kind = VS_READY_CONSOLE, .text = text};
    return 0;
  }
  return -EINVAL;
}

int vs_hold_parse(const char *s, vs_hold_t *ret) {
  static const struct {
    const char *name;
    vs_hold_t hold;
  } table[] = {{"create", VS_HOLD_CREATE},
               {"running", VS_HOLD_RUNNING},
               {"ready", VS_HOLD_READY}};
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (strcmp(s, table[i].name) == 0) {
      *ret = table[i].hold;
      return 0;
    }
  return -EINVAL;
}

const char *vs_hold_name(vs_hold_t h) {
  switch (h) {
  case VS_HOLD_CREATE:
    return "create";
  case VS_HOLD_RUNNING:
    return "running";
  case VS_HOLD_READY:
    return "ready";
  default:
    return "unset";
  }
}

const char *vs_ready_name(vs_ready_kind_t k) {
  switch (k) {
  case VS_READY_RUNNING:
    return "running";
  case VS_READY_CONSOLE:
    return "console";
  case VS_READY_AGENT:
    return "agent";
  default:
    return "unset";
  }
}

int vs_start_opts_add_target(vs_start_opts_t *opts, const char *name,
                             unsigned group, const char *where) {
  if (opts->n_targets == opts->cap_targets) {
    /* doubling: a plan of 60,000 names grown one entry at a time copied the
     * array 60,000 times (minutes under ASan, whose realloc always moves) */
    size_t cap = opts->cap_targets ? 2 * opts->cap_targets : 16;
    vs_start_target_t *grown = realloc(opts->targets, cap * sizeof(*grown));
    if (!grown)
      return -ENOMEM;
    opts->targets = grown;
    opts->cap_targets = cap;
  }
  vs_start_target_t *t = &opts->targets[opts->n_targets];
  memset(t, 0, sizeof(*t));
  t->name = strdup(name);
  if (!t->name)
    return -ENOMEM;
  t->group = group;
  snprintf(t->where, sizeof(t->where), "%s", where);
  opts->n_targets++;
  return 0;
}

int vs_start_opts_add_group(vs_start_opts_t *opts, const char *name) {
  char **g = realloc(opts->group_names, (opts->n_groups + 1) * sizeof(*g));
  if (!g)
    return -ENOMEM;
  opts->group_names = g;
  g[opts->n_groups] = strdup(name);
  if (!g[opts->n_groups])
    return -ENOMEM;
  return (int)opts->n_groups++;
}

/* ---- text shown on terminals and in logs ------------------------------ */

/* One piece of s at i (len bytes in all): a character kept as it is, or
 * bytes written as \xHH. Sets *step to the bytes of s it covers and
 * returns the bytes it takes in the output; *escape tells which. */
static size_t text_piece(const unsigned char *u, size_t i, size_t len,
                         size_t *step, bool *escape) {
  int n = u[i] >= 0x80 ? vs_utf8_seq(u + i, len - i) : 1;
  /* C1 controls (U+0080..U+009F) drive some terminals as ESC does. */
  bool c1 = n == 2 && u[i] == 0xC2 && u[i + 1] < 0xA0;
  *escape = n <= 0 || c1 || u[i] < 0x20 || u[i] == 0x7F || u[i] == '\\';
  *step = n > 0 ? (size_t)n : 1;
  return *escape ? 4 * *step : *step;
}

char *vs_text_safe(char *dst, size_t size, const char *s) {
  static const char more[] = "...";
  if (size == 0)
    return dst;
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), total = 0, step;
  bool escape;
  for (size_t i = 0; i < len; i += step)
    total += text_piece(u, i, len, &step, &escape);
  /* cut: leave room for the mark */
  size_t limit = total < size          ? total
                 : size > sizeof(more) ? size - sizeof(more)
                                       : 0;
  size_t o = 0;
  for (size_t i = 0; i < len; i += step) {
    size_t out = text_piece(u, i, len, &step, &escape);
    if (o + out > limit)
      break;
    if (!escape) {
      memcpy(dst + o, s + i, step);
      o += step;
      continue;
    }
    for (size_t k = 0; k < step; k++)
      o += (size_t)snprintf(dst + o, size - o, "\\x%02X", u[i + k]);
  }
  if (total >= size && o + sizeof(more) <= size) {
    memcpy(dst + o, more, sizeof(more) - 1);
    o += sizeof(more) - 1;
  }
  dst[o] = '\0';
  return dst;
}
