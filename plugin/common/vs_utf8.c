#include "vs_utf8.h"

#include <string.h>

int vs_utf8_seq(const unsigned char *s, size_t n) {
  static const struct {
    unsigned char first_lo, first_hi, second_lo, second_hi, len;
  } forms[] = {
      {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
      {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3},
      {0xEE, 0xEF, 0x80, 0xBF, 3}, {0xF0, 0xF0, 0x90, 0xBF, 4},
      {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
  };
  for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
    if (s[0] < forms[f].first_lo || s[0] > forms[f].first_hi)
      continue;
    size_t len = forms[f].len;
    for (size_t i = 1; i < len; i++) {
      if (i == n)
        return -1;
      unsigned char lo = i == 1 ? forms[f].second_lo : 0x80,
                    hi = i == 1 ? forms[f].second_hi : 0xBF;
      if (s[i] < lo || s[i] > hi)
        return 0;
    }
    return (int)len;
  }
  return 0;
}

size_t vs_utf8_cut(const char *s, size_t len, size_t max) {
  const unsigned char *u = (const unsigned char *)s;
  size_t o = 0;
  while (o < len) {
    int n = u[o] >= 0x80 ? vs_utf8_seq(u + o, len - o) : 1;
    if (n < 0)
      break;                         /* a character cut short at the end */
    size_t step = n ? (size_t)n : 1; /* a byte that is no character */
    if (o + step > max)
      break;
    o += step;
  }
  return o;
}

size_t vs_utf8_trim(char *s) {
  size_t len = strlen(s);
  len = vs_utf8_cut(s, len, len);
  s[len] = '\0';
  return len;
}
