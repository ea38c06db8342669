#include "vs_start_plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "common/vs_utf8.h"
#include "vs_start_cli.h"

#define MAX_DEPTH 16

/* A JSON document as a small tree whose nodes remember where they start in
 * the text: yajl_tree would parse the same but forgets positions, and every
 * error about a value's meaning must say where the value is. */
typedef enum { N_NULL, N_BOOL, N_NUMBER, N_STRING, N_OBJECT, N_ARRAY } ntype_t;

typedef struct node {
  ntype_t type;
  size_t offset; /* byte offset of the value's first character */
  char *str;     /* N_STRING: the value; N_NUMBER: its text */
  bool b;
  struct node **items; /* N_OBJECT, N_ARRAY */
  char **keys;         /* N_OBJECT */
  size_t *key_offsets; /* N_OBJECT */
  size_t n;
  size_t cap; /* room in items, keys, key_offsets */
} node_t;

typedef struct {
  yajl_handle h;
  const char *text;
  node_t *root;
  node_t *stack[MAX_DEPTH];
  int depth;
  char *key; /* pending key of the innermost object (owned) */
  size_t key_offset;
  bool nomem, too_deep, too_many;
  size_t deep_offset; /* where the container that went too deep opens */
  size_t values;      /* nodes made so far */
  size_t many_offset; /* where the value over VS_PLAN_MAX_VALUES starts */
  bool has_nul;       /* a string or key held \u0000 */
  size_t nul_offset;  /* where it opens */
} builder_t;

static void node_free(node_t *n) {
  if (!n)
    return;
  for (size_t i = 0; i < n->n; i++) {
    node_free(n->items[i]);
    if (n->keys)
      free(n->keys[i]);
  }
  free(n->items);
  free(n->keys);
  free(n->key_offsets);
  free(n->str);
  free(n);
}

static void node_freep(node_t **n) { node_free(*n); }
#define _cleanup_node_ __attribute__((cleanup(node_freep)))

static size_t consumed(builder_t *b) { return yajl_get_bytes_consumed(b->h); }

/* Offset of the opening quote of the string token that ends just before
 * end (end - 1 is the closing quote). */
static size_t string_start(const char *text, size_t end) {
  size_t i = end - 1;
  while (i > 0) {
    i--;
    if (text[i] != '"')
      continue;
    size_t bs = 0;
    while (i > bs && text[i - 1 - bs] == '\\')
      bs++;
    if (bs % 2 == 0)
      return i;
  }
  return 0;
}

static int attach(builder_t *b, node_t *n) {
  if (b->depth == 0) {
    b->root = n;
    return 1;
  }
  node_t *parent = b->stack[b->depth - 1];
  if (parent->n == parent->cap) {
    /* doubling: a long array costs linear time, not quadratic */
    size_t cap = parent->cap ? 2 * parent->cap : 4;
    node_t **items = realloc(parent->items, cap * sizeof(*items));
    if (!items)
      goto nomem;
    parent->items = items;
    if (parent->type == N_OBJECT) {
      char **keys = realloc(parent->keys, cap * sizeof(*keys));
      if (!keys)
        goto nomem;
      parent->keys = keys;
      size_t *offs = realloc(parent->key_offsets, cap * sizeof(*offs));
      if (!offs)
        goto nomem;
      parent->key_offsets = offs;
    }
    parent->cap = cap;
  }
  if (parent->type == N_OBJECT) {
    parent->keys[parent->n] = b->key;
    parent->key_offsets[parent->n] = b->key_offset;
    b->key = NULL;
  }
  parent->items[parent->n++] = n;
  return 1;
nomem:
  node_free(n);
  b->nomem = true;
  return 0;
}

static node_t *new_node(builder_t *b, ntype_t type, size_t offset) {
  /* The tree costs about 100 bytes a value: bounded by their number. */
  if (++b->values > VS_PLAN_MAX_VALUES) {
    b->too_many = true;
    b->many_offset = offset;
    return NULL;
  }
  node_t *n = calloc(1, sizeof(*n));
  if (!n) {
    b->nomem = true;
    return NULL;
  }
  n->type = type;
  n->offset = offset;
  return n;
}

static int on_null(void *ctx) {
  builder_t *b = ctx;
  node_t *n = new_node(b, N_NULL, consumed(b) - 4);
  return n ? attach(b, n) : 0;
}

static int on_boolean(void *ctx, int v) {
  builder_t *b = ctx;
  node_t *n = new_node(b, N_BOOL, consumed(b) - (v ? 4 : 5));
  if (!n)
    return 0;
  n->b = v;
  return attach(b, n);
}

/* A node holding its text (numbers keep theirs for exact parsing later). */
static int text_node(builder_t *b, ntype_t type, size_t offset, const char *s,
                     size_t len) {
  node_t *n = new_node(b, type, offset);
  if (!n)
    return 0;
  n->str = strndup(s, len);
  if (!n->str) {
    node_free(n);
    b->nomem = true;
    return 0;
  }
  return attach(b, n);
}

static int on_number(void *ctx, const char *s, size_t len) {
  builder_t *b = ctx;
  return text_node(b, N_NUMBER, consumed(b) - len, s, len);
}

/* A string holding \u0000 would be cut there by every C string after it
 * (a VM name "web\u0000x" read as "web"): refused, with its place. */
static bool nul_inside(builder_t *b, const unsigned char *s, size_t len) {
  if (!memchr(s, '\0', len))
    return false;
  b->has_nul = true;
  b->nul_offset = string_start(b->text, consumed(b));
  return true;
}

static int on_string(void *ctx, const unsigned char *s, size_t len) {
  builder_t *b = ctx;
  if (nul_inside(b, s, len))
    return 0;
  return text_node(b, N_STRING, string_start(b->text, consumed(b)),
                   (const char *)s, len);
}

static int on_key(void *ctx, const unsigned char *s, size_t len) {
  builder_t *b = ctx;
  if (nul_inside(b, s, len))
    return 0;
  free(b->key);
  b->key = strndup((const char *)s, len);
  b->key_offset = string_start(b->text, consumed(b));
  if (!b->key)
    b->nomem = true;
  return b->key != NULL;
}

static int open_container(builder_t *b, ntype_t type) {
  if (b->depth == MAX_DEPTH) {
    b->too_deep = true;
    b->deep_offset = consumed(b) - 1;
    return 0;
  }
  node_t *n = new_node(b, type, consumed(b) - 1);
  if (!n || !attach(b, n))
    return 0;
  b->stack[b->depth++] = n;
  return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, N_OBJECT); }
static int on_start_array(void *ctx) { return open_container(ctx, N_ARRAY); }
static int on_end(void *ctx) {
  builder_t *b = ctx;
  b->depth--;
  return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* ---- positions and errors ---------------------------------------------- */

typedef struct {
  const char *text;
  size_t len;
  const char *name;
  vs_error_t *err;
  vs_start_opts_t *opts;
  /* line and column of offset at: positions are asked for in text order,
   * so each walk starts where the last one ended (a plan naming 50,000
   * domains walked the text from its start for each: quadratic) */
  size_t at;
  unsigned at_line, at_col;
} plan_ctx_t;

static void line_col(plan_ctx_t *p, size_t offset, unsigned *line,
                     unsigned *col) {
  if (offset < p->at || p->at_line == 0) {
    p->at = 0;
    p->at_line = p->at_col = 1;
  }
  for (; p->at < offset && p->at < p->len; p->at++) {
    if (p->text[p->at] == '\n') {
      p->at_line++;
      p->at_col = 1;
    } else {
      p->at_col++;
    }
  }
  *line = p->at_line;
  *col = p->at_col;
}

/* The file name for messages: at most 200 bytes, whole characters. */
static int name_len(const plan_ctx_t *p) {
  return (int)vs_utf8_cut(p->name, strlen(p->name), 200);
}

static int fail_at(plan_ctx_t *p, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(plan_ctx_t *p, size_t offset, const char *fmt, ...) {
  char msg[VS_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  unsigned line, col;
  line_col(p, offset, &line, &col);
  char where[300];
  snprintf(where, sizeof(where), "%.*s:%u:%u: ", name_len(p), p->name, line,
           col);
  /* a long message (it quotes the plan) is cut between characters */
  size_t room = sizeof(p->err->msg) - 1 - strlen(where);
  int keep = (int)vs_utf8_cut(msg, strlen(msg), room);
  return vs_error_set(p->err, -EINVAL, "%s%.*s", where, keep, msg);
}

static const char *type_name(ntype_t t) {
  static const char *names[] = {"null",     "a boolean", "a number",
                                "a string", "an object", "an array"};
  return names[t];
}

/* ---- meaning ------------------------------------------------------------ */

static int want_type(plan_ctx_t *p, const node_t *n, ntype_t t,
                     const char *what) {
  if (n->type != t)
    return fail_at(p, n->offset, "%s: expected %s, found %s", what,
                   type_name(t), type_name(n->type));
  return 0;
}

/* Reject unknown and duplicate keys of an object. */
static int check_keys(plan_ctx_t *p, const node_t *obj, const char *what,
                      const char *const *allowed, const char *allowed_text) {
  for (size_t i = 0; i < obj->n; i++) {
    bool ok = false;
    for (const char *const *a = allowed; *a; a++)
      if (strcmp(obj->keys[i], *a) == 0)
        ok = true;
    if (!ok)
      return fail_at(p, obj->key_offsets[i],
                     "%s: unknown key \"%s\" (expected %s)", what, obj->keys[i],
                     allowed_text);
    for (size_t j = 0; j < i; j++)
      if (strcmp(obj->keys[i], obj->keys[j]) == 0)
        return fail_at(p, obj->key_offsets[i], "%s: duplicate key \"%s\"", what,
                       obj->keys[i]);
  }
  return 0;
}

static const node_t *get(const node_t *obj, const char *key) {
  for (size_t i = 0; i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0)
      return obj->items[i];
  return NULL;
}

static size_t key_offset(const node_t *obj, const char *key) {
  for (size_t i = 0; i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0)
      return obj->key_offsets[i];
  return obj->offset;
}

static int parse_ready(plan_ctx_t *p, const node_t *n, vs_ready_t *ret) {
  int r = want_type(p, n, N_STRING, "ready");
  if (r < 0)
    return r;
  vs_ready_t parsed;
  r = vs_ready_parse(n->str, &parsed);
  if (r == -ENOMEM)
    return vs_error_set(p->err, r, "out of memory");
  if (r < 0)
    return fail_at(p, n->offset,
                   "ready: \"%s\" is not running, agent or console:TEXT",
                   n->str);
  vs_ready_free(ret);
  *ret = parsed;
  return 0;
}

static int parse_timeout(plan_ctx_t *p, const node_t *n, double *ret) {
  int r = want_type(p, n, N_NUMBER, "timeout_s");
  if (r < 0)
    return r;
  if (vs_parse_seconds(n->str, false, ret) < 0)
    return fail_at(p, n->offset, "timeout_s: %s is not a number of seconds > 0",
                   n->str);
  return 0;
}

static int parse_domain(plan_ctx_t *p, const node_t *n, unsigned group) {
  static const char *const keys[] = {"name", "ready", "timeout_s", NULL};
  const node_t *name = n;
  if (n->type == N_OBJECT) {
    int r = check_keys(p, n, "domain", keys, "name, ready, timeout_s");
    if (r < 0)
      return r;
    name = get(n, "name");
    if (!name)
      return fail_at(p, n->offset, "domain: \"name\" is missing");
  } else if (n->type != N_STRING) {
    return fail_at(p, n->offset,
                   "domain: expected a name or an object, found %s",
                   type_name(n->type));
  }
  int r = want_type(p, name, N_STRING, "domain name");
  if (r < 0)
    return r;
  if (!*name->str)
    return fail_at(p, name->offset, "domain: empty name");
  char where[sizeof(p->opts->targets[0].where)];
  unsigned line, col;
  line_col(p, name->offset, &line, &col);
  snprintf(where, sizeof(where), "%.*s:%u:%u",
           (int)vs_utf8_cut(p->name, strlen(p->name), 40), p->name, line, col);
  if (vs_start_opts_add_target(p->opts, name->str, group, where) < 0)
    return vs_error_set(p->err, -ENOMEM, "out of memory");
  vs_start_target_t *t = &p->opts->targets[p->opts->n_targets - 1];
  if (n->type == N_OBJECT) {
    const node_t *v;
    if ((v = get(n, "ready")) && (r = parse_ready(p, v, &t->ready)) < 0)
      return r;
    if ((v = get(n, "timeout_s")) &&
        (r = parse_timeout(p, v, &t->timeout_s)) < 0)
      return r;
  }
  return 0;
}

static int parse_domains(plan_ctx_t *p, const node_t *arr, unsigned group) {
  int r = want_type(p, arr, N_ARRAY, "domains");
  if (r < 0)
    return r;
  if (arr->n == 0)
    return fail_at(p, arr->offset, "domains: empty list");
  for (size_t i = 0; i < arr->n; i++)
    if ((r = parse_domain(p, arr->items[i], group)) < 0)
      return r;
  return 0;
}

static int parse_group(plan_ctx_t *p, const node_t *g, size_t index) {
  static const char *const keys[] = {"name", "domains", NULL};
  int r = want_type(p, g, N_OBJECT, "group");
  if (r < 0 || (r = check_keys(p, g, "group", keys, "name, domains")) < 0)
    return r;
  const node_t *name = get(g, "name");
  char fallback[32];
  snprintf(fallback, sizeof(fallback), "group%zu", index + 1);
  if (name && (r = want_type(p, name, N_STRING, "group name")) < 0)
    return r;
  const node_t *domains = get(g, "domains");
  if (!domains)
    return fail_at(p, g->offset, "group: \"domains\" is missing");
  int gi = vs_start_opts_add_group(p->opts, name ? name->str : fallback);
  if (gi < 0)
    return vs_error_set(p->err, -ENOMEM, "out of memory");
  return parse_domains(p, domains, (unsigned)gi);
}

static int parse_settings(plan_ctx_t *p, const node_t *root) {
  vs_start_opts_t *o = p->opts;
  const node_t *v;
  int r;
  unsigned long long u;
  if ((v = get(root, "connect"))) {
    if ((r = want_type(p, v, N_STRING, "connect")) < 0)
      return r;
    if (!o->set.uri) {
      free(o->uri);
      if (!(o->uri = strdup(v->str)))
        return vs_error_set(p->err, -ENOMEM, "out of memory");
    }
  }
  if ((v = get(root, "max_parallel"))) {
    bool is_auto = v->type == N_STRING && strcmp(v->str, "auto") == 0;
    if (!is_auto &&
        (v->type != N_NUMBER || vs_parse_uint(v->str, 4096, &u) < 0))
      return fail_at(p, v->offset,
                     "max_parallel: expected a whole number 0..4096 or "
                     "\"auto\"");
    if (!o->set.parallel) {
      o->auto_parallel = is_auto;
      o->max_parallel = is_auto ? 0 : (unsigned)u;
    }
  }
  if ((v = get(root, "spacing_ms"))) {
    if (v->type != N_NUMBER || vs_parse_uint(v->str, 86400000, &u) < 0)
      return fail_at(p, v->offset,
                     "spacing_ms: expected a whole number of milliseconds");
    if (!o->set.spacing)
      o->spacing_ms = u;
  }
  if ((v = get(root, "hold_until"))) {
    vs_hold_t h;
    if ((r = want_type(p, v, N_STRING, "hold_until")) < 0)
      return r;
    if (vs_hold_parse(v->str, &h) < 0)
      return fail_at(p, v->offset,
                     "hold_until: \"%s\" is not create, running or ready",
                     v->str);
    if (!o->set.hold)
      o->hold = h;
  }
  if ((v = get(root, "ready"))) {
    vs_ready_t ready = {0};
    if ((r = parse_ready(p, v, &ready)) < 0)
      return r;
    if (!o->set.ready) {
      vs_ready_free(&o->ready);
      o->ready = ready;
    } else {
      vs_ready_free(&ready);
    }
  }
  if ((v = get(root, "timeout_s"))) {
    double t;
    if ((r = parse_timeout(p, v, &t)) < 0)
      return r;
    if (!o->set.timeout)
      o->timeout_s = t;
  }
  return 0;
}

int vs_start_plan_parse(const char *text, size_t len, const char *name,
                        vs_start_opts_t *opts, vs_error_t *err) {
  builder_t b = {.text = text};
  plan_ctx_t p = {
      .text = text, .len = len, .name = name, .err = err, .opts = opts};
  b.h = yajl_alloc(&callbacks, NULL, &b);
  if (!b.h)
    return vs_error_set(err, -ENOMEM, "out of memory");
  yajl_config(b.h, yajl_allow_comments, 1);
  yajl_status st = yajl_parse(b.h, (const unsigned char *)text, len);
  size_t at = yajl_get_bytes_consumed(b.h);
  if (st == yajl_status_ok) {
    st = yajl_complete_parse(b.h);
    if (st != yajl_status_ok)
      at = len;
  }
  _cleanup_node_ node_t *root = b.root;
  free(b.key);
  int r = 0;
  if (b.nomem) {
    r = vs_error_set(err, -ENOMEM, "out of memory");
  } else if (b.too_many) {
    r = fail_at(&p, b.many_offset, "more than %d values (the limit for a plan)",
                VS_PLAN_MAX_VALUES);
  } else if (b.too_deep) {
    r = fail_at(&p, b.deep_offset, "nested deeper than %d levels", MAX_DEPTH);
  } else if (b.has_nul) {
    r = fail_at(&p, b.nul_offset, "a string with \\u0000 (a NUL character)");
  } else if (st != yajl_status_ok) {
    unsigned char *msg = yajl_get_error(b.h, 0, NULL, 0);
    char *nl = strchr((char *)msg, '\n');
    if (nl)
      *nl = '\0';
    r = fail_at(&p, at > 0 && at == len ? len : at, "%s", (char *)msg);
    yajl_free_error(b.h, msg);
  }
  yajl_free(b.h);
  if (r < 0)
    return r;
  if (!root)
    return fail_at(&p, 0, "empty plan");

  static const char *const keys[] = {"connect",    "max_parallel", "spacing_ms",
                                     "hold_until", "ready",        "timeout_s",
                                     "groups",     "domains",      NULL};
  if ((r = want_type(&p, root, N_OBJECT, "plan")) < 0 ||
      (r = check_keys(&p, root, "plan", keys,
                      "connect, max_parallel, spacing_ms, hold_until, ready, "
                      "timeout_s, groups, domains")) < 0 ||
      (r = parse_settings(&p, root)) < 0)
    return r;
  const node_t *groups = get(root, "groups");
  const node_t *domains = get(root, "domains");
  if (groups && domains)
    return fail_at(&p, key_offset(root, "domains"),
                   "plan: give either \"groups\" or \"domains\", not both");
  if (!groups && !domains)
    return fail_at(&p, root->offset,
                   "plan: no \"groups\" or \"domains\": nothing to start");
  if (domains) {
    int gi = vs_start_opts_add_group(opts, "default");
    if (gi < 0)
      return vs_error_set(err, -ENOMEM, "out of memory");
    return parse_domains(&p, domains, (unsigned)gi);
  }
  if ((r = want_type(&p, groups, N_ARRAY, "groups")) < 0)
    return r;
  if (groups->n == 0)
    return fail_at(&p, groups->offset, "groups: empty list");
  for (size_t i = 0; i < groups->n; i++)
    if ((r = parse_group(&p, groups->items[i], i)) < 0)
      return r;
  return 0;
}

int vs_start_plan_load(const char *path, vs_start_opts_t *opts,
                       vs_error_t *err) {
  FILE *f = fopen(path, "r");
  if (!f)
    return vs_error_set(err, -errno, "--plan %s: %s", path, strerror(errno));
  char *buf = malloc(VS_PLAN_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  size_t len = fread(buf, 1, VS_PLAN_MAX_BYTES + 1, f);
  int rerr = ferror(f);
  fclose(f);
  int r;
  if (rerr)
    r = vs_error_set(err, -EIO, "--plan %s: read error", path);
  else if (len > VS_PLAN_MAX_BYTES)
    r = vs_error_set(err, -EFBIG,
                     "--plan %s: larger than %d bytes (the limit for a plan)",
                     path, VS_PLAN_MAX_BYTES);
  else
    r = vs_start_plan_parse(buf, len, path, opts, err);
  free(buf);
  return r;
}
