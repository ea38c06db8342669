#include "vs_idfield.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HASH_SUFFIX_LEN 9 /* "~" + 8 hex digits */

/* 32-bit FNV-1a: a few lines, stable across versions and machines, which is
 * all a disambiguating suffix needs; no library dependency is worth it. */
static uint32_t fnv1a32(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

/* Largest length <= max that does not split a UTF-8 sequence of s. */
static size_t utf8_cut(const char *s, size_t max) {
  size_t n = max;
  /* Step back over continuation bytes (10xxxxxx) to a lead byte, then drop
   * the lead byte too: the character starting there would be cut. */
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

bool vs_idfield(char *dst, size_t dst_size, const char *src) {
  if (dst_size == 0)
    return true;
  size_t cap = dst_size < VS_IDENT_MAX ? dst_size : VS_IDENT_MAX;
  size_t len = strlen(src);
  bool changed = false;

  if (len == 0 || strcmp(src, ".") == 0 || strcmp(src, "..") == 0) {
    size_t n = len == 0 ? 1 : len;
    if (n > cap - 1)
      n = cap - 1;
    memset(dst, '_', n);
    dst[n] = '\0';
    return true;
  }

  size_t keep = len;
  if (len > cap - 1) {
    keep = cap - 1 > HASH_SUFFIX_LEN ? utf8_cut(src, cap - 1 - HASH_SUFFIX_LEN)
                                     : 0;
    changed = true;
  }
  for (size_t i = 0; i < keep; i++) {
    unsigned char c = (unsigned char)src[i];
    if (c == '/' || c < 0x20 || c == 0x7F) {
      dst[i] = '_';
      changed = true;
    } else {
      dst[i] = (char)c;
    }
  }
  dst[keep] = '\0';
  if (keep < len && cap - 1 >= HASH_SUFFIX_LEN)
    snprintf(dst + keep, cap - keep, "~%08x", fnv1a32(src));
  return changed;
}
