#include "vs_start_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  vs_start_target_t *t =
      realloc(opts->targets, (opts->n_targets + 1) * sizeof(*t));
  if (!t)
    return -ENOMEM;
  opts->targets = t;
  t = &opts->targets[opts->n_targets];
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
