/* virtscale - select-lists of names: exact strings or /regex/ (POSIX ERE). */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/vs_error.h"

typedef struct {
  char *text;    /* the exact name, or the regex source without slashes */
  bool is_regex; /* re is compiled */
  regex_t re;
} vs_filter_entry_t;

typedef struct {
  vs_filter_entry_t *entries; /* owned */
  size_t n;
  bool invert; /* true: report everything *except* the matches */
} vs_filter_t;

/* Add a pattern: "/.../" is a POSIX extended regex, anything else an exact
 * name. Returns 0, -EINVAL (bad regex, message in err) or -ENOMEM. */
int vs_filter_add(vs_filter_t *f, const char *pattern, vs_error_t *err);

/* Whether an item is to be reported. An empty list selects everything.
 * Each of the n_names candidate names is tried (a block device is matched
 * as "vda" and as "domain:vda"). Thread-safe for concurrent readers. */
bool vs_filter_selects(const vs_filter_t *f, const char *const *names,
                       size_t n_names);

/* Drop the entries added after the first n. */
void vs_filter_truncate(vs_filter_t *f, size_t n);

/* Release f's contents and zero it (NULL-safe). */
void vs_filter_clear(vs_filter_t *f);
