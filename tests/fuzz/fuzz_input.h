/* Reading a fuzz input front to back: fixed-size fields and length-prefixed
 * strings, each string in its own allocation of exactly its size so ASan
 * sees any over-read. For the harnesses in this directory. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const uint8_t *p;
  size_t left;
} vs_fuzz_input_t;

/* The next n bytes into out; false (nothing taken) when fewer are left. */
static inline bool vs_fuzz_take(vs_fuzz_input_t *in, void *out, size_t n) {
  if (in->left < n)
    return false;
  memcpy(out, in->p, n);
  in->p += n;
  in->left -= n;
  return true;
}

/* A string: a length byte L (0xFF: the length is in the next two bytes,
 * little-endian), then L bytes; an embedded NUL ends the C string early.
 * Returns it malloc'ed (the caller frees), or NULL when the input ran out. */
static inline char *vs_fuzz_take_string(vs_fuzz_input_t *in) {
  uint8_t l8, l16[2];
  if (!vs_fuzz_take(in, &l8, 1))
    return NULL;
  size_t len = l8;
  if (l8 == 0xFF) {
    if (!vs_fuzz_take(in, l16, 2))
      return NULL;
    len = (size_t)l16[0] | (size_t)l16[1] << 8;
  }
  if (in->left < len)
    return NULL;
  size_t n = strnlen((const char *)in->p, len);
  char *s = malloc(n + 1);
  if (!s)
    abort();
  memcpy(s, in->p, n);
  s[n] = '\0';
  in->p += len;
  in->left -= len;
  return s;
}
