#include "vs_tparam.h"

#include <errno.h>
#include <string.h>

bool vs_tparam_u64(const virTypedParameter *p, uint64_t *ret) {
  switch (p->type) {
  case VIR_TYPED_PARAM_UINT:
    *ret = p->value.ui;
    return true;
  case VIR_TYPED_PARAM_ULLONG:
    *ret = p->value.ul;
    return true;
  case VIR_TYPED_PARAM_INT:
    if (p->value.i < 0)
      return false;
    *ret = (uint64_t)p->value.i;
    return true;
  case VIR_TYPED_PARAM_LLONG:
    if (p->value.l < 0)
      return false;
    *ret = (uint64_t)p->value.l;
    return true;
  default:
    return false;
  }
}

int vs_tparam_split_index(const char *name, const char *prefix, unsigned max,
                          unsigned *ret_idx, const char **ret_rest) {
  size_t plen = strlen(prefix);
  if (strncmp(name, prefix, plen) != 0)
    return 0;
  const char *p = name + plen;
  if (*p < '0' || *p > '9' || (*p == '0' && p[1] != '.'))
    return 0;
  unsigned long idx = 0;
  bool too_large = false;
  for (; *p >= '0' && *p <= '9'; p++) {
    /* keep scanning past the limit so the shape is still checked */
    if (!too_large)
      idx = idx * 10 + (unsigned long)(*p - '0');
    too_large = too_large || idx >= max;
  }
  if (*p != '.' || p[1] == '\0')
    return 0;
  if (too_large)
    return -ERANGE;
  *ret_idx = (unsigned)idx;
  *ret_rest = p + 1;
  return 1;
}

int vs_name_index(const char *const *table, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (table[i] && strcmp(table[i], name) == 0)
      return (int)i;
  return -1;
}
