#include "vs_test_fixtures.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

typedef struct {
  const char *origin;
  size_t line;
  char *msg;
  size_t msg_size;
} where_t;

static int bad(const where_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bad(const where_t *w, const char *fmt, ...) {
  int len = snprintf(w->msg, w->msg_size, "%s:%zu: ", w->origin, w->line);
  if (len >= 0 && (size_t)len < w->msg_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg + len, w->msg_size - (size_t)len, fmt, ap);
    va_end(ap);
  }
  return -EINVAL;
}

/* Whole-string integer conversions: no leading blanks, no trailing junk,
 * no silent wrap-around (strtoull accepts "-1"). */
static bool parse_signed(const char *s, long long min, long long max,
                         long long *ret) {
  if (!(isdigit((unsigned char)s[0]) || (s[0] == '-' && s[1])))
    return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < min || v > max)
    return false;
  *ret = v;
  return true;
}

static bool parse_unsigned(const char *s, unsigned long long max,
                           unsigned long long *ret) {
  if (!isdigit((unsigned char)s[0]))
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max)
    return false;
  *ret = v;
  return true;
}

/* Fill p's type and value from TYPE and VALUE. */
static int parse_value(const where_t *w, const char *type, const char *value,
                       virTypedParameter *p) {
  long long sv;
  unsigned long long uv;

  if (strcmp(type, "string") == 0) {
    p->type = VIR_TYPED_PARAM_STRING;
    p->value.s = strdup(value);
    return p->value.s ? 0 : -ENOMEM;
  }
  if (strcmp(type, "int") == 0) {
    if (!parse_signed(value, INT_MIN, INT_MAX, &sv))
      return bad(w, "bad int value \"%s\"", value);
    p->type = VIR_TYPED_PARAM_INT;
    p->value.i = (int)sv;
  } else if (strcmp(type, "uint") == 0) {
    if (!parse_unsigned(value, UINT_MAX, &uv))
      return bad(w, "bad uint value \"%s\"", value);
    p->type = VIR_TYPED_PARAM_UINT;
    p->value.ui = (unsigned)uv;
  } else if (strcmp(type, "llong") == 0) {
    if (!parse_signed(value, LLONG_MIN, LLONG_MAX, &sv))
      return bad(w, "bad llong value \"%s\"", value);
    p->type = VIR_TYPED_PARAM_LLONG;
    p->value.l = sv;
  } else if (strcmp(type, "ullong") == 0) {
    if (!parse_unsigned(value, ULLONG_MAX, &uv))
      return bad(w, "bad ullong value \"%s\"", value);
    p->type = VIR_TYPED_PARAM_ULLONG;
    p->value.ul = uv;
  } else if (strcmp(type, "double") == 0) {
    if (!value[0] || isspace((unsigned char)value[0]))
      return bad(w, "bad double value \"%s\"", value);
    char *end;
    errno = 0;
    double d = strtod(value, &end);
    if (errno || *end)
      return bad(w, "bad double value \"%s\"", value);
    p->type = VIR_TYPED_PARAM_DOUBLE;
    p->value.d = d;
  } else if (strcmp(type, "boolean") == 0) {
    if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
      return bad(w, "bad boolean value \"%s\" (0 or 1)", value);
    p->type = VIR_TYPED_PARAM_BOOLEAN;
    p->value.b = value[0] == '1';
  } else {
    return bad(w, "unknown type \"%s\"", type);
  }
  return 0;
}

static void record_free(vs_fx_record_t *r) {
  for (int i = 0; i < r->nparams; i++)
    if (r->params[i].type == VIR_TYPED_PARAM_STRING)
      free(r->params[i].value.s);
  free(r->params);
  free(r->name);
}

/* "FIELD TYPE VALUE" appended to r. line is modified. */
static int parse_field_line(const where_t *w, char *line, vs_fx_record_t *r) {
  char *sp1 = strchr(line, ' ');
  char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp2)
    return bad(w,
               "expected \"FIELD TYPE VALUE\", \"end\" or a comment, got "
               "\"%s\"",
               line);
  *sp1 = *sp2 = '\0';
  const char *field = line, *type = sp1 + 1, *value = sp2 + 1;
  if (!field[0])
    return bad(w, "empty field name");
  if (strlen(field) >= VIR_TYPED_PARAM_FIELD_LENGTH)
    return bad(w, "field name \"%s\" longer than %d bytes", field,
               VIR_TYPED_PARAM_FIELD_LENGTH - 1);

  virTypedParameter p;
  memset(&p, 0, sizeof(p));
  /* Length checked above: the copy always fits with its NUL. */
  memcpy(p.field, field, strlen(field) + 1);
  int rc = parse_value(w, type, value, &p);
  if (rc < 0)
    return rc;
  virTypedParameter *grown =
      realloc(r->params, ((size_t)r->nparams + 1) * sizeof(*grown));
  if (!grown) {
    if (p.type == VIR_TYPED_PARAM_STRING)
      free(p.value.s);
    return -ENOMEM;
  }
  r->params = grown;
  r->params[r->nparams++] = p;
  return 0;
}

static int parse_lines(const char *text, where_t *w, vs_fx_set_t *set) {
  vs_fx_record_t *cur = NULL;
  const char *p = text;

  while (*p) {
    w->line++;
    size_t len = strcspn(p, "\n");
    char *line = strndup(p, len);
    if (!line)
      return -ENOMEM;
    p += len + (p[len] == '\n');

    int rc = 0;
    if (line[0] == '#') {
      /* comment */
    } else if (!cur) {
      if (strncmp(line, "record ", 7) != 0 || !line[7]) {
        rc = bad(w, "expected \"record NAME\" or a comment, got \"%s\"", line);
      } else {
        for (size_t i = 0; i < set->n && rc == 0; i++)
          if (strcmp(set->records[i].name, line + 7) == 0)
            rc = bad(w, "record \"%s\" given twice", line + 7);
        vs_fx_record_t *grown =
            rc ? NULL : realloc(set->records, (set->n + 1) * sizeof(*grown));
        if (rc == 0 && !grown)
          rc = -ENOMEM;
        if (rc == 0) {
          set->records = grown;
          cur = &set->records[set->n];
          memset(cur, 0, sizeof(*cur));
          cur->name = strdup(line + 7);
          set->n++; /* counted before the name check: freed either way */
          if (!cur->name)
            rc = -ENOMEM;
        }
      }
    } else if (strcmp(line, "end") == 0) {
      if (cur->nparams == 0)
        rc = bad(w, "record \"%s\" has no fields", cur->name);
      cur = NULL;
    } else if (strncmp(line, "record ", 7) == 0) {
      rc = bad(w, "record \"%s\" starts before \"%s\" ended", line + 7,
               cur->name);
    } else {
      rc = parse_field_line(w, line, cur);
    }
    free(line);
    if (rc < 0)
      return rc;
  }
  if (cur)
    return bad(w, "record \"%s\" not closed with \"end\"", cur->name);
  if (set->n == 0)
    return bad(w, "no records");
  return 0;
}

int vs_fx_parse(const char *text, const char *origin, vs_fx_set_t *ret,
                char *msg, size_t msg_size) {
  where_t w = {.origin = origin, .msg = msg, .msg_size = msg_size};
  int rc = parse_lines(text, &w, ret);
  if (rc == -ENOMEM)
    snprintf(msg, msg_size, "%s:%zu: out of memory", origin, w.line);
  if (rc < 0)
    vs_fx_free(ret);
  return rc;
}

void vs_fx_free(vs_fx_set_t *set) {
  if (!set)
    return;
  for (size_t i = 0; i < set->n; i++)
    record_free(&set->records[i]);
  free(set->records);
  memset(set, 0, sizeof(*set));
}

char *vs_fx_read(const char *file) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", VS_FIXTURE_DIR, file);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open fixture %s: %s", path, strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (cap - len < 4096) {
      cap = cap ? 2 * cap : 65536;
      char *grown = realloc(buf, cap);
      if (!grown) {
        free(buf);
        fclose(f);
        fail_msg("out of memory reading %s", path);
      }
      buf = grown;
    }
    size_t got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0)
      break;
  }
  bool failed = ferror(f);
  fclose(f);
  if (failed) {
    free(buf);
    fail_msg("cannot read fixture %s", path);
  }
  buf[len] = '\0';
  if (strlen(buf) != len) {
    free(buf);
    fail_msg("fixture %s contains a NUL byte", path);
  }
  return buf;
}

void vs_fx_load(const char *file, vs_fx_set_t *ret) {
  char *text = vs_fx_read(file);
  char msg[512];
  int rc = vs_fx_parse(text, file, ret, msg, sizeof(msg));
  free(text);
  if (rc < 0)
    fail_msg("fixture %s does not load: %s", file, msg);
}

const vs_fx_record_t *vs_fx_find(const vs_fx_set_t *set, const char *name) {
  for (size_t i = 0; i < set->n; i++)
    if (strcmp(set->records[i].name, name) == 0)
      return &set->records[i];
  fail_msg("fixture has no record \"%s\"", name);
  return NULL; /* not reached */
}

void vs_fx_stats(const vs_fx_set_t *set, const char *name,
                 vs_domain_stats_t *st) {
  const vs_fx_record_t *r = vs_fx_find(set, name);
  vs_error_t err = {0};
  int rc = vs_domain_stats_parse(r->params, r->nparams, st, &err);
  if (rc < 0)
    fail_msg("record \"%s\" does not parse (%d): %s", name, rc, err.msg);
}
