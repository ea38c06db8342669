#include "vs_domain_table.h"

#include <stdlib.h>
#include <string.h>

void vs_domain_entry_reset(vs_domain_entry_t *e) {
  vs_domxml_devices_clear(&e->devices);
  e->devices_known = false;
  vs_domain_stats_clear(&e->prev);
  e->prev_cpu_ns = 0;
  e->nvcpu_cached = 0;
}

static void entry_free(vs_domain_entry_t *e) {
  if (!e)
    return;
  vs_domain_entry_reset(e);
  vs_token_unref(e->held);
  vs_domain_label_unref(e->label);
  free(e);
}

/* Index of uuid, or -(insertion point) - 1. */
static long search(const vs_domain_table_t *t, const vs_uuid_t *uuid) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = vs_uuid_cmp(&t->entries[mid]->uuid, uuid);
    if (c == 0)
      return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -(long)lo - 1;
}

vs_domain_entry_t *vs_domain_table_find(const vs_domain_table_t *t,
                                        const vs_uuid_t *uuid) {
  long i = search(t, uuid);
  return i >= 0 ? t->entries[i] : NULL;
}

vs_domain_entry_t *vs_domain_table_get(vs_domain_table_t *t,
                                       const vs_uuid_t *uuid, bool *ret_new) {
  long i = search(t, uuid);
  if (i >= 0) {
    *ret_new = false;
    return t->entries[i];
  }
  size_t at = (size_t)(-i - 1);
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    vs_domain_entry_t **p = realloc(t->entries, cap * sizeof(*p));
    if (!p)
      return NULL;
    t->entries = p;
    t->cap = cap;
  }
  vs_domain_entry_t *e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->uuid = *uuid;
  memmove(&t->entries[at + 1], &t->entries[at],
          (t->n - at) * sizeof(*t->entries));
  t->entries[at] = e;
  t->n++;
  *ret_new = true;
  return e;
}

void vs_domain_table_sweep(vs_domain_table_t *t, uint64_t listing,
                           void (*gone)(void *ud, const vs_domain_entry_t *e),
                           void *ud) {
  size_t out = 0;
  for (size_t i = 0; i < t->n; i++) {
    vs_domain_entry_t *e = t->entries[i];
    if (e->listed == listing) {
      t->entries[out++] = e;
      continue;
    }
    if (gone)
      gone(ud, e);
    entry_free(e);
  }
  t->n = out;
}

void vs_domain_table_clear(vs_domain_table_t *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->n; i++)
    entry_free(t->entries[i]);
  free(t->entries);
  memset(t, 0, sizeof(*t));
}
