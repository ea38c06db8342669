#include "vs_filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vs_filter_add(vs_filter_t *f, const char *pattern, vs_error_t *err) {
  size_t len = strlen(pattern);
  vs_filter_entry_t e = {0};

  if (len == 0)
    return vs_error_set(err, -EINVAL, "empty name");
  if (len >= 2 && pattern[0] == '/' && pattern[len - 1] == '/') {
    e.text = strndup(pattern + 1, len - 2);
    if (!e.text)
      return vs_error_set(err, -ENOMEM, "out of memory");
    int rc = regcomp(&e.re, e.text, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char buf[256];
      regerror(rc, &e.re, buf, sizeof(buf));
      free(e.text);
      return vs_error_set(err, -EINVAL, "invalid regular expression %s: %s",
                          pattern, buf);
    }
    e.is_regex = true;
  } else {
    e.text = strdup(pattern);
    if (!e.text)
      return vs_error_set(err, -ENOMEM, "out of memory");
  }

  vs_filter_entry_t *p = realloc(f->entries, (f->n + 1) * sizeof(*p));
  if (!p) {
    if (e.is_regex)
      regfree(&e.re);
    free(e.text);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  p[f->n++] = e;
  f->entries = p;
  return 0;
}

static bool entry_matches(const vs_filter_entry_t *e, const char *name) {
  if (e->is_regex)
    return regexec(&e->re, name, 0, NULL, 0) == 0;
  return strcmp(e->text, name) == 0;
}

bool vs_filter_selects(const vs_filter_t *f, const char *const *names,
                       size_t n_names) {
  if (f->n == 0)
    return true;
  bool matched = false;
  for (size_t i = 0; i < f->n && !matched; i++)
    for (size_t j = 0; j < n_names && !matched; j++)
      matched = names[j] && entry_matches(&f->entries[i], names[j]);
  return matched != f->invert;
}

void vs_filter_truncate(vs_filter_t *f, size_t n) {
  for (size_t i = n; i < f->n; i++) {
    if (f->entries[i].is_regex)
      regfree(&f->entries[i].re);
    free(f->entries[i].text);
  }
  if (n < f->n)
    f->n = n;
}

void vs_filter_clear(vs_filter_t *f) {
  if (!f)
    return;
  vs_filter_truncate(f, 0);
  free(f->entries);
  memset(f, 0, sizeof(*f));
}
