/* Identifier fields: vs_idfield() / vs_idfield_join() (common/vs_idfield.h)
 * and vs_domain_name_field() (vs_domain_names.h).
 *
 * Expected hash suffixes come from the Python model (safe_field() in
 * tests/integration/vstest.py, SHA-256 from hashlib), so the C code and the
 * model the integration tests use are checked against each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/vs_idfield.h"
#include "vs_domain_names.h"
#include "vs_test_fixtures.h"

#define HASH_LEN VS_IDFIELD_HASH_LEN           /* "~" + 16 hex digits */
#define READABLE (VS_IDENT_MAX - 1 - HASH_LEN) /* 110 bytes before it */
#define CANARY 0x5A

/* --- helpers ------------------------------------------------------------ */

/* Length of the well-formed UTF-8 character at p (avail bytes there), 0 if
 * there is none: decoded and range-checked, unlike the implementation's
 * lead-byte table. */
static size_t utf8_char(const unsigned char *p, size_t avail) {
  unsigned c = p[0], n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF)
    n = 1, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 2, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 3, cp = c & 0x07;
  else
    return 0;
  if (avail < n + 1)
    return 0;
  for (unsigned i = 1; i <= n; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n + 1;
}

/* Whether s is well-formed UTF-8 (shortest forms, no surrogates, at most
 * U+10FFFF). */
static bool utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t len = strlen(s);
  for (size_t i = 0; i < len;) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_char(p + i, len - i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

static void test_utf8_validator(void **state) {
  assert_true(utf8_valid(""));
  assert_true(utf8_valid("abc"));
  assert_true(utf8_valid("\xc3\xbc\xe6\x97\xa5\xf0\x9f\x98\x80")); /* ü日😀 */
  assert_false(utf8_valid("\xe6\x97"));                            /* cut 日 */
  assert_false(utf8_valid("\xe6"));             /* lead byte alone */
  assert_false(utf8_valid("\x97\xa5"));         /* continuation first */
  assert_false(utf8_valid("\xc0\xaf"));         /* overlong '/' */
  assert_false(utf8_valid("\xed\xa0\x80"));     /* surrogate */
  assert_false(utf8_valid("\xf4\x90\x80\x80")); /* > U+10FFFF */
}

static char *repeat(char *buf, size_t size, const char *unit, size_t times) {
  buf[0] = '\0';
  for (size_t i = 0; i < times; i++) {
    assert_true(strlen(buf) + strlen(unit) < size);
    strcat(buf, unit);
  }
  return buf;
}

static bool is_lower_hex(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_upper_hex(int c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* Whether s is exactly "~" and 16 lowercase hex digits. */
static bool is_hash_suffix(const char *s) {
  if (s[0] != '~' || strlen(s) != HASH_LEN)
    return false;
  for (size_t i = 1; i < HASH_LEN; i++)
    if (!is_lower_hex(s[i]))
      return false;
  return true;
}

static bool has_hash_suffix(const char *s) {
  size_t len = strlen(s);
  return len >= HASH_LEN && is_hash_suffix(s + len - HASH_LEN);
}

/* The rule of vs_idfield.h written again, on a whole name in memory: the
 * encoded text and where each character or escape ends. */
#define REF_SRC_MAX 1024
typedef struct {
  char text[3 * REF_SRC_MAX + 4];
  size_t len;
  size_t ends[REF_SRC_MAX + 1];
  size_t ntok;
} ref_t;

static void ref_put(ref_t *r, const char *tok, size_t n) {
  memcpy(r->text + r->len, tok, n);
  r->len += n;
  r->ends[r->ntok++] = r->len;
  r->text[r->len] = '\0';
}

static void ref_escape(ref_t *r, unsigned char c) {
  char tok[4];
  snprintf(tok, sizeof(tok), "%%%02X", c);
  ref_put(r, tok, 3);
}

static void ref_encode(ref_t *r, const char *src, size_t len) {
  const unsigned char *s = (const unsigned char *)src;
  assert_true(len <= REF_SRC_MAX);
  r->len = r->ntok = 0;
  r->text[0] = '\0';
  if (len == 0) {
    ref_put(r, "%00", 3);
    return;
  }
  if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
    for (size_t i = 0; i < len; i++)
      ref_escape(r, '.');
    return;
  }
  size_t tilde = SIZE_MAX;
  if (len >= HASH_LEN && s[len - HASH_LEN] == '~') {
    tilde = len - HASH_LEN;
    for (size_t i = len - HASH_LEN + 1; i < len; i++)
      if (!is_lower_hex(s[i]))
        tilde = SIZE_MAX;
  }
  for (size_t i = 0; i < len;) {
    size_t n = s[i] >= 0x80 ? utf8_char(s + i, len - i) : 0;
    if (n > 0) {
      ref_put(r, src + i, n);
      i += n;
    } else if (s[i] >= 0x20 && s[i] < 0x7F && s[i] != '/' && s[i] != '%' &&
               i != tilde) {
      ref_put(r, src + i, 1);
      i++;
    } else {
      ref_escape(r, s[i]);
      i++;
    }
  }
}

/* Check a field of VS_IDENT_MAX against the reference: the encoded name
 * itself when it fits, else its longest prefix of whole tokens within
 * READABLE bytes and a hash suffix. */
static void check_against_ref(const char *src, size_t len, const char *got,
                              const char *what) {
  static ref_t r; /* large; tests run one at a time */
  ref_encode(&r, src, len);
  if (r.len <= VS_IDENT_MAX - 1) {
    if (strcmp(got, r.text) != 0)
      fail_msg("%s: got \"%s\", expected \"%s\"", what, got, r.text);
    return;
  }
  size_t keep = 0;
  for (size_t i = 0; i < r.ntok && r.ends[i] <= READABLE; i++)
    keep = r.ends[i];
  if (strlen(got) != keep + HASH_LEN || memcmp(got, r.text, keep) != 0 ||
      !is_hash_suffix(got + keep))
    fail_msg("%s: got \"%s\", expected \"%.*s\" + hash", what, got, (int)keep,
             r.text);
}

/* Decode a field without hash suffix back into the name: '%' and two hex
 * digits is that byte, "%00" is "". Returns the length, -1 if malformed. */
static long decode(const char *field, char *out, size_t size) {
  if (strcmp(field, "%00") == 0)
    return 0;
  size_t n = 0;
  for (const char *p = field; *p; n++) {
    assert_true(n < size);
    if (*p == '%') {
      if (!is_upper_hex(p[1]) || !is_upper_hex(p[2]))
        return -1;
      unsigned v;
      sscanf(p + 1, "%2X", &v);
      out[n] = (char)v;
      p += 3;
    } else {
      out[n] = *p++;
    }
  }
  return (long)n;
}

/* Every promise of vs_idfield.h about one VS_IDENT_MAX field. */
static void check_invariants(const char *src, const char *got,
                             const char *what) {
  size_t len = strlen(got);
  if (len >= VS_IDENT_MAX || !utf8_valid(got) || strcmp(got, "") == 0 ||
      strcmp(got, ".") == 0 || strcmp(got, "..") == 0)
    fail_msg("%s: bad field \"%s\"", what, got);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)got[i];
    if (c == '/' || c < 0x20 || c == 0x7F)
      fail_msg("%s: byte 0x%02x at %zu of \"%s\"", what, c, i, got);
    if (c == '%' && !(is_upper_hex(got[i + 1]) && is_upper_hex(got[i + 2])))
      fail_msg("%s: bad escape at %zu of \"%s\"", what, i, got);
  }
  if (!has_hash_suffix(got)) {
    char back[VS_IDENT_MAX];
    long n = decode(got, back, sizeof(back));
    if (n < 0 || (size_t)n != strlen(src) || memcmp(back, src, (size_t)n))
      fail_msg("%s: \"%s\" does not decode to its name", what, got);
  }
}

/* --- short names --------------------------------------------------------- */

static const struct {
  const char *src, *want;
  bool changed;
} short_cases[] = {
    /* ordinary names are their own field */
    {"vm01", "vm01", false},
    {"VM \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \"q\" \\b",
     "VM \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \"q\" \\b", false},
    {"it's a 'vm'", "it's a 'vm'", false},
    {"a-b_c.d:e@f", "a-b_c.d:e@f", false},
    {"~", "~", false},
    {"...", "...", false},
    {".hidden", ".hidden", false},
    {"_", "_", false},
    {"__", "__", false},
    {"a_b", "a_b", false},
    {"\xf0\x9f\x98\x80 <>|*?&#;", "\xf0\x9f\x98\x80 <>|*?&#;", false},
    /* '/', '%', control characters and DEL are escaped */
    {"a/b/c", "a%2Fb%2Fc", true},
    {"/", "%2F", true},
    {"/var/lib/x.qcow2", "%2Fvar%2Flib%2Fx.qcow2", true},
    {"./x", ".%2Fx", true},
    {"../", "..%2F", true},
    {"a\tb\nc\x7f", "a%09b%0Ac%7F", true},
    {"\x01\x1f z", "%01%1F z", true},
    {"\r", "%0D", true},
    {"100%", "100%25", true},
    {"%2F", "%252F", true},
    {"%00", "%2500", true},
    {"%2E%2E", "%252E%252E", true},
    /* names special as a path component */
    {"", "%00", true},
    {".", "%2E", true},
    {"..", "%2E%2E", true},
    /* invalid UTF-8: each stray byte escaped, valid characters kept */
    {"\xff", "%FF", true},
    {"\xc0\xaf", "%C0%AF", true},                  /* overlong '/' */
    {"a\xe6\x97", "a%E6%97", true},                /* cut 日 */
    {"\x97\xa5z", "%97%A5z", true},                /* continuation first */
    {"\xed\xa0\x80", "%ED%A0%80", true},           /* surrogate */
    {"\xf4\x90\x80\x80", "%F4%90%80%80", true},    /* > U+10FFFF */
    {"\xe6\x97\xa5\xe6", "\xe6\x97\xa5%E6", true}, /* 日 then a lead byte */
    {"\xc3\xc3\xbc", "%C3\xc3\xbc", true},         /* lead byte, then ü */
    /* a name that looks like a shortened one: its '~' is escaped */
    {"x~0123456789abcdef", "x%7E0123456789abcdef", true},
    {"~0123456789abcdef", "%7E0123456789abcdef", true},
    {"~~0123456789abcdef", "~%7E0123456789abcdef", true},
    /* ... but only exactly that: '~' and 16 digits 0-9a-f at the end */
    {"x~0123456789abcde", "x~0123456789abcde", false},
    {"x~0123456789abcdef0", "x~0123456789abcdef0", false},
    {"x~0123456789ABCDEF", "x~0123456789ABCDEF", false},
    {"x~0123456789abcdeg", "x~0123456789abcdeg", false},
    {"x~0123456789abcdef~", "x~0123456789abcdef~", false},
};

static void test_short_names(void **state) {
  for (size_t i = 0; i < VS_NELEM(short_cases); i++) {
    char dst[VS_IDENT_MAX];
    bool changed = vs_idfield(dst, sizeof(dst), short_cases[i].src);
    if (strcmp(dst, short_cases[i].want) != 0 ||
        changed != short_cases[i].changed)
      fail_msg("case %zu: got \"%s\" (changed %d), expected \"%s\" (%d)", i,
               dst, changed, short_cases[i].want, short_cases[i].changed);
    check_invariants(short_cases[i].src, dst, short_cases[i].src);
  }
}

/* Names the old rule ('/' and controls to '_', "" "." ".." to "_" "_"
 * "__") mapped onto each other: each group is now pairwise distinct. */
static const char *const old_collisions[][8] = {
    {"a/b", "a\tb", "a_b",
     "a\x7f"
     "b",
     "a\rb", "a%2Fb", "a%09b", NULL},
    {"", ".", "_", "%00", "%2E", "%5F", NULL},
    {"..", "__", "%2E%2E", ".%2E", "%2E.", NULL},
    {"./x", "._x", ".%2Fx", NULL},
    {"\x01\x1f z", "__ z", "%01%1F z", NULL},
};

static void test_old_collisions_distinct(void **state) {
  for (size_t g = 0; g < VS_NELEM(old_collisions); g++) {
    char out[8][VS_IDENT_MAX];
    size_t n = 0;
    for (; n < 8 && old_collisions[g][n]; n++)
      vs_idfield(out[n], sizeof(out[n]), old_collisions[g][n]);
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++)
        if (strcmp(out[i], out[j]) == 0)
          fail_msg("group %zu: \"%s\" and \"%s\" both give \"%s\"", g,
                   old_collisions[g][i], old_collisions[g][j], out[i]);
  }
}

/* --- long names ---------------------------------------------------------- */

static void test_long_ascii(void **state) {
  char src[256], dst[VS_IDENT_MAX];
  repeat(src, sizeof(src), "a", 200);
  assert_true(vs_idfield(dst, sizeof(dst), src));
  assert_int_equal(strlen(dst), VS_IDENT_MAX - 1);
  assert_memory_equal(dst, src, READABLE);
  /* SHA-256 of the whole name: stable across versions and machines, so
   * identifiers do not move when the plugin is upgraded */
  assert_string_equal(dst + READABLE, "~c2a908d98f5df987");
}

/* Two long names with a long common prefix stay distinct; so do two that
 * differ only in their last byte. */
static void test_long_names_stay_distinct(void **state) {
  char a[256], b[256], c[256], da[VS_IDENT_MAX], db[VS_IDENT_MAX],
      dc[VS_IDENT_MAX];
  repeat(a, sizeof(a), "x", 150);
  strcpy(b, a);
  strcat(a, repeat(c, sizeof(c), "a", 50));
  strcat(b, repeat(c, sizeof(c), "b", 50));
  strcpy(c, a);
  c[199] = 'z';
  vs_idfield(da, sizeof(da), a);
  vs_idfield(db, sizeof(db), b);
  vs_idfield(dc, sizeof(dc), c);
  assert_int_equal(strlen(da), VS_IDENT_MAX - 1);
  assert_int_equal(strlen(db), VS_IDENT_MAX - 1);
  assert_string_not_equal(da, db);
  assert_string_not_equal(da, dc);
  /* the readable part is the same, only the hash tells them apart */
  assert_memory_equal(da, db, READABLE);
}

static int field_cmp(const void *a, const void *b) { return strcmp(a, b); }

/* Many names sharing a 120-byte prefix (more than the readable part) and
 * differing anywhere after it: all distinct. */
static void test_common_prefix_many(void **state) {
  enum { N = 2000 };
  static char out[N][VS_IDENT_MAX];
  char src[256];
  for (size_t i = 0; i < N; i++) {
    repeat(src, sizeof(src), "p", 120);
    /* the varying part at the end, or just past the prefix */
    if (i % 2)
      snprintf(src + 120, sizeof(src) - 120, "-and-then-at-the-end-%zu", i);
    else
      snprintf(src + 120, sizeof(src) - 120, "%zu%s", i, "-tail-of-the-name");
    vs_idfield(out[i], VS_IDENT_MAX, src);
    assert_true(has_hash_suffix(out[i]));
  }
  qsort(out, N, VS_IDENT_MAX, field_cmp);
  for (size_t i = 1; i < N; i++)
    if (strcmp(out[i - 1], out[i]) == 0)
      fail_msg("two names give \"%s\"", out[i]);
}

/* A short name spelled like a long name's field is not that field. */
static void test_forged_hash_suffix(void **state) {
  char src[256], longf[VS_IDENT_MAX], forged[VS_IDENT_MAX];
  repeat(src, sizeof(src), "a", 200);
  vs_idfield(longf, sizeof(longf), src);
  assert_true(has_hash_suffix(longf));
  /* the long name's field, as a name: fits (127 bytes) but its '~' is
   * escaped, so it no longer fits and gets a hash of its own */
  assert_true(vs_idfield(forged, sizeof(forged), longf));
  assert_string_not_equal(forged, longf);
  /* a shorter forgery that still fits after the escape */
  char shortname[64], shortf[VS_IDENT_MAX];
  snprintf(shortname, sizeof(shortname), "a%s", longf + READABLE);
  assert_true(vs_idfield(shortf, sizeof(shortf), shortname));
  assert_false(has_hash_suffix(shortf));
  assert_memory_equal(shortf, "a%7E", 4);
}

static void test_long_utf8(void **state) {
  char src[512], dst[VS_IDENT_MAX], want[512];
  repeat(src, sizeof(src), "\xe6\x97\xa5", 100); /* 100 x 日, 300 bytes */
  assert_true(vs_idfield(dst, sizeof(dst), src));
  assert_true(utf8_valid(dst));
  assert_true(strlen(dst) <= VS_IDENT_MAX - 1);
  /* 36 whole characters (108 bytes) fit before the hash */
  repeat(want, sizeof(want), "\xe6\x97\xa5", 36);
  strcat(want, "~892b6e959e1b899b");
  assert_string_equal(dst, want);
}

/* Where the cut falls relative to a multi-byte character or an escape: the
 * readable part has room for 110 bytes. */
static const struct {
  size_t ascii;     /* leading ASCII bytes */
  const char *unit; /* then this character up to 200+ bytes */
  size_t keep;      /* bytes kept before "~hash" */
} cut_cases[] = {
    {108, "\xe6\x97\xa5", 108}, /* 日 at 108..110: does not fit */
    {109, "\xe6\x97\xa5", 109}, /* 日 at 109..111: does not fit */
    {107, "\xe6\x97\xa5", 110}, /* 日 at 107..109 fits exactly */
    {110, "\xe6\x97\xa5", 110},
    {109, "\xc3\xbc", 109},         /* ü at 109..110 */
    {108, "\xc3\xbc", 110},         /* ü at 108..109 */
    {107, "\xf0\x9f\x98\x80", 107}, /* 😀 at 107..110 */
    {106, "\xf0\x9f\x98\x80", 110}, /* 😀 at 106..109 */
    {0, "\xf0\x9f\x98\x80", 108},
    {108, "/", 108}, /* "%2F" at 108..110 */
    {109, "/", 109}, /* "%2F" at 109..111 */
    {107, "/", 110}, /* "%2F" at 107..109 */
    {0, "/", 108},
    {1, "%", 109},
    {0, "\xff", 108}, /* invalid UTF-8: escapes, never half of one */
    {109, "\x01", 109},
};

static void test_cut_at_character_boundary(void **state) {
  for (size_t i = 0; i < VS_NELEM(cut_cases); i++) {
    char src[512], dst[VS_IDENT_MAX];
    repeat(src, sizeof(src), "a", cut_cases[i].ascii);
    while (strlen(src) < 200)
      strcat(src, cut_cases[i].unit);
    vs_idfield(dst, sizeof(dst), src);
    if (!utf8_valid(dst) || strlen(dst) != cut_cases[i].keep + HASH_LEN ||
        memcmp(dst, src,
               cut_cases[i].ascii < cut_cases[i].keep
                   ? cut_cases[i].ascii
                   : cut_cases[i].keep) != 0 ||
        !is_hash_suffix(dst + cut_cases[i].keep))
      fail_msg("case %zu: \"%s\": %zu bytes, valid UTF-8 %d; expected %zu + "
               "hash",
               i, dst, strlen(dst), utf8_valid(dst), cut_cases[i].keep);
    check_against_ref(src, strlen(src), dst, "cut case");
  }
}

static void test_length_limit_exact(void **state) {
  char src[256], dst[VS_IDENT_MAX];
  repeat(src, sizeof(src), "b", VS_IDENT_MAX - 1); /* 127: fits */
  assert_false(vs_idfield(dst, sizeof(dst), src));
  assert_string_equal(dst, src);
  strcat(src, "b"); /* 128: does not */
  assert_true(vs_idfield(dst, sizeof(dst), src));
  assert_int_equal(strlen(dst), VS_IDENT_MAX - 1);
  assert_true(is_hash_suffix(dst + READABLE));
  /* an escape counts with its three bytes */
  repeat(src, sizeof(src), "b", VS_IDENT_MAX - 4);
  strcat(src, "/"); /* 124 + "%2F" = 127: fits */
  assert_true(vs_idfield(dst, sizeof(dst), src));
  assert_int_equal(strlen(dst), VS_IDENT_MAX - 1);
  assert_false(has_hash_suffix(dst));
  memmove(src + 1, src, strlen(src) + 1); /* 125 + "%2F" = 128: does not */
  vs_idfield(dst, sizeof(dst), src);
  assert_true(is_hash_suffix(dst + READABLE));
}

/* Unsafe characters are escaped in the kept part of a long name too. */
static void test_long_name_escaped(void **state) {
  char src[256], dst[VS_IDENT_MAX];
  repeat(src, sizeof(src), "c", 200);
  src[0] = '/';
  src[10] = '\n';
  assert_true(vs_idfield(dst, sizeof(dst), src));
  assert_memory_equal(dst, "%2Fccccccccc%0Accc", 18);
  assert_null(strchr(dst, '/'));
  assert_int_equal(strlen(dst), VS_IDENT_MAX - 1);
}

/* The hash suffix against hashlib's SHA-256 (via the Python model), over
 * names whose lengths meet every padding case of SHA-256's 64-byte blocks
 * (55, 56, 63, 64, 65, 119, 120 bytes) and long ones. The names are mostly
 * escapes, so even the short ones are shortened. */
static const struct {
  size_t len;
  const char *suffix;
} hash_cases[] = {
    {55, "~660643219fe22cbc"},   {56, "~67f891b581630fad"},
    {63, "~27092ecc116c4eb0"},   {64, "~e0cc55e9fc011f92"},
    {65, "~d70638a83cd23e60"},   {119, "~c95acaddb054c0f4"},
    {120, "~1ebeb1277f3c637d"},  {128, "~a76bccfe03a0d27d"},
    {200, "~6d564271fcbfcaf8"},  {1000, "~ace5b6d9bdfdff60"},
    {5000, "~6fc152f032c0b509"},
};

static void test_hash_vectors(void **state) {
  static const char pattern[] = "/%\x7f\xff\x01"
                                "a";
  for (size_t i = 0; i < VS_NELEM(hash_cases); i++) {
    size_t len = hash_cases[i].len;
    char *src = malloc(len + 1), dst[VS_IDENT_MAX];
    assert_non_null(src);
    for (size_t j = 0; j < len; j++)
      src[j] = pattern[j % (sizeof(pattern) - 1)];
    src[len] = '\0';
    vs_idfield(dst, sizeof(dst), src);
    size_t n = strlen(dst);
    if (n < HASH_LEN || strcmp(dst + n - HASH_LEN, hash_cases[i].suffix) != 0)
      fail_msg("length %zu: \"%s\", expected suffix %s", len, dst,
               hash_cases[i].suffix);
    if (len <= REF_SRC_MAX)
      check_against_ref(src, len, dst, "hash case");
    free(src);
  }
}

/* --- small and large buffers --------------------------------------------- */

static const struct {
  const char *src;
  size_t size;
  const char *want;   /* NULL: only bounds are checked */
  const char *prefix; /* the field starts with this, then (part of) a hash */
} size_cases[] = {
    {"abcdefghijklmnopqrstu", 20, NULL, "ab"}, /* "ab" + whole suffix */
    {"abcdefghijklmnop", 12, NULL, ""},        /* part of the suffix */
    {"abcdefghijklmnop", 10, NULL, ""},
    {"abc", 4, "abc", NULL}, /* fits exactly */
    {"a/b", 6, "a%2Fb", NULL},
    {"a/b", 5, NULL, ""},
    {"", 4, "%00", NULL},
    {"", 3, NULL, ""},
    {".", 4, "%2E", NULL},
    {"..", 7, "%2E%2E", NULL},
    {"..", 2, "~", NULL},
    {"", 1, "", NULL},
    {"abcdefgh", 5, NULL, ""},
    {"abcdefgh", 1, "", NULL},
};

static void test_small_buffers(void **state) {
  for (size_t i = 0; i < VS_NELEM(size_cases); i++) {
    char buf[64];
    memset(buf, CANARY, sizeof(buf));
    vs_idfield(buf, size_cases[i].size, size_cases[i].src);
    assert_true(strlen(buf) < size_cases[i].size);
    for (size_t j = size_cases[i].size; j < sizeof(buf); j++)
      if ((unsigned char)buf[j] != CANARY)
        fail_msg("case %zu: byte %zu written (dst_size %zu)", i, j,
                 size_cases[i].size);
    if (size_cases[i].want && strcmp(buf, size_cases[i].want) != 0)
      fail_msg("case %zu: \"%s\", expected \"%s\"", i, buf, size_cases[i].want);
    if (size_cases[i].prefix) {
      /* the prefix, then as much of "~" + hex as fits: all the room */
      size_t p = strlen(size_cases[i].prefix);
      if (strlen(buf) != size_cases[i].size - 1 ||
          memcmp(buf, size_cases[i].prefix, p) != 0 || buf[p] != '~')
        fail_msg("case %zu: \"%s\"", i, buf);
      for (size_t j = p + 1; buf[j]; j++)
        assert_true(is_lower_hex(buf[j]));
    }
  }
  char buf[16];
  memset(buf, CANARY, sizeof(buf));
  assert_true(vs_idfield(buf, 0, "abc")); /* nothing written */
  assert_int_equal((unsigned char)buf[0], CANARY);
  /* whether dst holds src unchanged, also at the edges */
  assert_false(vs_idfield(buf, 1, ""));
  assert_true(vs_idfield(buf, 1, "a"));
  assert_false(vs_idfield(buf, 2, "a"));
}

/* Every buffer size from 1 to past VS_IDENT_MAX: in bounds, terminated,
 * valid UTF-8, never more than VS_IDENT_MAX bytes used, never "." or "..";
 * the same field from VS_IDENT_MAX on. */
static void test_every_buffer_size(void **state) {
  char ascii[256], utf8[512], escapes[256];
  repeat(ascii, sizeof(ascii), "a", 200);
  repeat(utf8, sizeof(utf8), "\xe6\x97\xa5", 100);
  repeat(escapes, sizeof(escapes), "/a\xff", 60);
  const char *srcs[] = {ascii, utf8, escapes, "", ".", "..", "a/b"};
  for (size_t s = 0; s < VS_NELEM(srcs); s++) {
    char full[VS_IDENT_MAX];
    vs_idfield(full, sizeof(full), srcs[s]);
    for (size_t size = 1; size <= 2 * VS_IDENT_MAX; size++) {
      char buf[2 * VS_IDENT_MAX + 16];
      memset(buf, CANARY, sizeof(buf));
      vs_idfield(buf, size, srcs[s]);
      size_t used = size < VS_IDENT_MAX ? size : VS_IDENT_MAX;
      if (strlen(buf) >= used || !utf8_valid(buf) ||
          (size > 1 && (strcmp(buf, "") == 0 || strcmp(buf, ".") == 0 ||
                        strcmp(buf, "..") == 0)))
        fail_msg("source %zu, dst_size %zu: \"%s\" (%zu bytes), valid %d", s,
                 size, buf, strlen(buf), utf8_valid(buf));
      for (size_t j = used; j < sizeof(buf); j++)
        if ((unsigned char)buf[j] != CANARY)
          fail_msg("source %zu, dst_size %zu: byte %zu written", s, size, j);
      for (size_t j = 0; buf[j]; j++)
        if (buf[j] == '%' &&
            !(is_upper_hex(buf[j + 1]) && is_upper_hex(buf[j + 2])))
          fail_msg("source %zu, dst_size %zu: escape cut in \"%s\"", s, size,
                   buf);
      if (size >= VS_IDENT_MAX)
        assert_string_equal(buf, full);
    }
  }
}

/* --- joined names ------------------------------------------------------- */

static void test_join(void **state) {
  char a[VS_IDENT_MAX], b[VS_IDENT_MAX];
  const char *p1[] = {"vm1", "8c3a", "hv"};
  assert_false(vs_idfield_join(a, sizeof(a), p1, 3, ':'));
  assert_string_equal(a, "vm1:8c3a:hv");
  const char *p2[] = {"a/b", NULL, "", "."};
  assert_true(vs_idfield_join(a, sizeof(a), p2, 4, ':'));
  assert_string_equal(a, "a%2Fb:::.");
  assert_true(vs_idfield_join(a, sizeof(a), p2, 4, '\0'));
  assert_string_equal(a, "a%2Fb.");
  /* the special names and the '~' rule apply to the joined name */
  const char *p3[] = {".", "."};
  vs_idfield_join(a, sizeof(a), p3, 2, '\0');
  assert_string_equal(a, "%2E%2E");
  const char *p4[] = {"", ""};
  vs_idfield_join(a, sizeof(a), p4, 2, '\0');
  assert_string_equal(a, "%00");
  vs_idfield_join(a, sizeof(a), p4, 2, ':');
  assert_string_equal(a, ":");
  vs_idfield_join(a, sizeof(a), NULL, 0, ':');
  assert_string_equal(a, "%00");
  const char *p5[] = {"x~0123", "456789abc", "def"};
  vs_idfield_join(a, sizeof(a), p5, 3, '\0');
  assert_string_equal(a, "x%7E0123456789abcdef");
  /* a UTF-8 character split over two parts is still one character */
  const char *p6[] = {"\xe6", "\x97\xa5", "\xe6\x97"};
  vs_idfield_join(a, sizeof(a), p6, 3, '\0');
  assert_string_equal(a, "\xe6\x97\xa5%E6%97");
  vs_idfield_join(a, sizeof(a), p6, 3, ':');
  assert_string_equal(a, "%E6:%97%A5:%E6%97");

  /* long: hashed as the whole joined name */
  char big[300];
  repeat(big, sizeof(big), "q", 250);
  const char *p7[] = {big, "tail"};
  vs_idfield_join(a, sizeof(a), p7, 2, ':');
  strcat(big, ":tail");
  vs_idfield(b, sizeof(b), big);
  assert_string_equal(a, b);
}

/* Joined names longer than any fixed buffer are hashed whole: two that
 * differ only far past 4 KiB (the old code's buffer) stay apart. */
static void test_join_very_long(void **state) {
  enum { LEN = 10000 };
  char *x = malloc(LEN + 1), *y = malloc(LEN + 1);
  assert_non_null(x);
  assert_non_null(y);
  memset(x, 'v', LEN);
  x[LEN] = '\0';
  strcpy(y, x);
  y[LEN - 1] = 'w';
  char a[VS_IDENT_MAX], b[VS_IDENT_MAX];
  const char *px[] = {x, "u"}, *py[] = {y, "u"};
  vs_idfield_join(a, sizeof(a), px, 2, ':');
  vs_idfield_join(b, sizeof(b), py, 2, ':');
  assert_string_not_equal(a, b);
  assert_memory_equal(a, b, READABLE);

  static const vs_format_t fmt = {{VS_PART_NAME}, 1};
  vs_domain_name_field(&fmt, x, "u", "hv", a);
  vs_domain_name_field(&fmt, y, "u", "hv", b);
  assert_string_not_equal(a, b);
  vs_idfield(b, sizeof(b), x);
  assert_string_equal(a, b); /* one part: the same as vs_idfield() */
  free(x);
  free(y);
}

/* --- randomized: injective, and every promise, on many odd names -------- */

typedef struct {
  uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r) { /* xorshift64* */
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 2685821657736338717ull;
}

static size_t rng_below(rng_t *r, size_t n) {
  return (size_t)(rng_next(r) % n);
}

/* Append one random piece (1..4 bytes, never NUL) at buf[*len]. */
static void random_piece(rng_t *r, unsigned char *buf, size_t *len) {
  static const char hex[] = "0123456789abcdef";
  size_t k = rng_below(r, 100);
  unsigned char *p = buf + *len;
  if (k < 25) { /* printable ASCII */
    p[0] = (unsigned char)(0x20 + rng_below(r, 0x5F));
    *len += 1;
  } else if (k < 33) {
    p[0] = '%';
    *len += 1;
  } else if (k < 41) {
    p[0] = '~';
    *len += 1;
  } else if (k < 46) {
    p[0] = '/';
    *len += 1;
  } else if (k < 51) { /* control characters and DEL */
    size_t c = rng_below(r, 32);
    p[0] = (unsigned char)(c == 0 ? 0x7F : c);
    *len += 1;
  } else if (k < 56) {
    p[0] = '.';
    *len += 1;
  } else if (k < 66) {
    p[0] = (unsigned char)hex[rng_below(r, 16)];
    *len += 1;
  } else if (k < 72) { /* two-byte character */
    uint32_t cp = 0x80 + (uint32_t)rng_below(r, 0x780);
    p[0] = (unsigned char)(0xC0 | cp >> 6);
    p[1] = (unsigned char)(0x80 | (cp & 0x3F));
    *len += 2;
  } else if (k < 80) { /* three-byte character, surrogates excluded */
    uint32_t cp;
    do
      cp = 0x800 + (uint32_t)rng_below(r, 0xF800);
    while (cp >= 0xD800 && cp <= 0xDFFF);
    p[0] = (unsigned char)(0xE0 | cp >> 12);
    p[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    p[2] = (unsigned char)(0x80 | (cp & 0x3F));
    *len += 3;
  } else if (k < 86) { /* four-byte character */
    uint32_t cp = 0x10000 + (uint32_t)rng_below(r, 0x100000);
    p[0] = (unsigned char)(0xF0 | cp >> 18);
    p[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (unsigned char)(0x80 | (cp & 0x3F));
    *len += 4;
  } else { /* any high byte: mostly invalid UTF-8 */
    p[0] = (unsigned char)(0x80 + rng_below(r, 0x80));
    *len += 1;
  }
}

#define RAND_N 20000
#define RAND_MAX_LEN 400

typedef struct {
  char *in;
  char out[VS_IDENT_MAX];
} sample_t;

static int sample_cmp(const void *a, const void *b) {
  return strcmp(((const sample_t *)a)->out, ((const sample_t *)b)->out);
}

/* A random name: random pieces, sometimes a hash-like tail, another
 * name's field (a forgery), or another name with its end changed. */
static char *random_name(rng_t *r, const sample_t *done, size_t ndone) {
  unsigned char buf[RAND_MAX_LEN + 64];
  size_t len = 0, k = rng_below(r, 100);
  size_t want = k < 50 ? rng_below(r, 41) : rng_below(r, RAND_MAX_LEN + 1);
  if (k >= 90 && ndone > 0) { /* someone's field as a name */
    const char *f = done[rng_below(r, ndone)].out;
    len = strlen(f);
    memcpy(buf, f, len);
    want = len;
  } else if (k >= 80 && ndone > 0) { /* a long common prefix */
    const char *o = done[rng_below(r, ndone)].in;
    len = strlen(o);
    len = len > 8 ? len - 1 - rng_below(r, 8) : len;
    memcpy(buf, o, len);
    want = len + 1 + rng_below(r, 8);
  }
  while (len < want && len < RAND_MAX_LEN)
    random_piece(r, buf, &len);
  if (rng_below(r, 10) == 0) { /* ends like a hash suffix */
    static const char hex[] = "0123456789abcdef";
    if (len > RAND_MAX_LEN - HASH_LEN)
      len = RAND_MAX_LEN - HASH_LEN;
    buf[len++] = '~';
    for (int i = 0; i < 16; i++)
      buf[len++] = (unsigned char)hex[rng_below(r, 16)];
  }
  char *s = malloc(len + 1);
  assert_non_null(s);
  memcpy(s, buf, len);
  s[len] = '\0';
  return s;
}

static void test_random_injective(void **state) {
  rng_t r = {0x9E3779B97F4A7C15ull};
  sample_t *v = calloc(RAND_N + 3, sizeof(*v));
  assert_non_null(v);
  size_t n = 0;
  static const char *const fixed[] = {"", ".", ".."};
  for (; n < VS_NELEM(fixed); n++) {
    v[n].in = strdup(fixed[n]);
    assert_non_null(v[n].in);
    vs_idfield(v[n].out, VS_IDENT_MAX, v[n].in);
    check_invariants(v[n].in, v[n].out, "special name");
  }
  for (; n < RAND_N + VS_NELEM(fixed); n++) {
    v[n].in = random_name(&r, v, n);
    bool changed = vs_idfield(v[n].out, VS_IDENT_MAX, v[n].in);
    if (changed != (strcmp(v[n].out, v[n].in) != 0))
      fail_msg("sample %zu: changed %d for \"%s\"", n, changed, v[n].out);
    check_invariants(v[n].in, v[n].out, "random name");
    check_against_ref(v[n].in, strlen(v[n].in), v[n].out, "random name");

    /* the same name in up to 4 parts, joined without separator and with
     * one: the same field as the whole */
    char parts_buf[RAND_MAX_LEN + 16], joined[RAND_MAX_LEN + 16];
    const char *parts[4];
    size_t len = strlen(v[n].in), np = 1 + rng_below(&r, 4), at = 0, o = 0;
    for (size_t i = 0; i < np; i++) {
      size_t take = i + 1 == np ? len - at : rng_below(&r, len - at + 1);
      parts[i] = parts_buf + o;
      memcpy(parts_buf + o, v[n].in + at, take);
      o += take;
      parts_buf[o++] = '\0';
      at += take;
    }
    char a[VS_IDENT_MAX];
    vs_idfield_join(a, sizeof(a), parts, np, '\0');
    assert_string_equal(a, v[n].out);
    o = 0;
    for (size_t i = 0; i < np; i++)
      o += (size_t)sprintf(joined + o, "%s%s", i ? ":" : "", parts[i]);
    char b[VS_IDENT_MAX];
    vs_idfield_join(a, sizeof(a), parts, np, ':');
    vs_idfield(b, sizeof(b), joined);
    assert_string_equal(a, b);
  }

  qsort(v, n, sizeof(*v), sample_cmp);
  size_t hashed = 0;
  for (size_t i = 0; i < n; i++) {
    hashed += has_hash_suffix(v[i].out);
    if (i > 0 && strcmp(v[i - 1].out, v[i].out) == 0 &&
        strcmp(v[i - 1].in, v[i].in) != 0)
      fail_msg("\"%s\" from two names", v[i].out);
  }
  /* the set exercised both kinds of field */
  assert_true(hashed > n / 10 && hashed < n - n / 10);
  for (size_t i = 0; i < n; i++)
    free(v[i].in);
  free(v);
}

/* --- vs_domain_name_field ---------------------------------------------------
 */

#define UUID "8c3a7f0e-1b2d-4e5f-9a6b-7c8d9e0f1a2b"

static const struct {
  vs_format_t fmt;
  const char *name, *hostname;
  const char *want;
} identity_cases[] = {
    {{{VS_PART_NAME}, 1}, "vm1", "hv.example.org", "vm1"},
    {{{VS_PART_UUID}, 1}, "vm1", "hv.example.org", UUID},
    {{{VS_PART_HOSTNAME}, 1}, "vm1", "hv.example.org", "hv.example.org"},
    {{{VS_PART_NAME, VS_PART_UUID}, 2}, "vm1", "hv", "vm1:" UUID},
    {{{VS_PART_HOSTNAME, VS_PART_NAME}, 2}, "vm1", "hv", "hv:vm1"},
    {{{VS_PART_UUID, VS_PART_NAME, VS_PART_HOSTNAME}, 3},
     "vm1",
     "hv",
     UUID ":vm1:hv"},
    {{{0}, 0}, "vm1", "hv", ""},
    {{{VS_PART_NAME}, 1}, "a/b", "hv", "a%2Fb"},
    {{{VS_PART_NAME}, 1}, "VM \xc3\xbc \"q\"", "hv", "VM \xc3\xbc \"q\""},
    {{{VS_PART_NAME}, 1}, "..", "hv", "%2E%2E"},
    {{{VS_PART_NAME}, 1}, "", "hv", "%00"},
    {{{VS_PART_NAME, VS_PART_UUID}, 2}, ".", "hv", ".:" UUID},
    {{{VS_PART_NAME, VS_PART_UUID}, 2}, "a:b", "hv", "a:b:" UUID},
    {{{VS_PART_HOSTNAME}, 1}, "vm1", NULL, "%00"}, /* no host name known */
    {{{VS_PART_HOSTNAME, VS_PART_NAME}, 2}, "vm1", NULL, ":vm1"},
};

static void test_identity_field(void **state) {
  for (size_t i = 0; i < VS_NELEM(identity_cases); i++) {
    char out[VS_IDENT_MAX];
    memset(out, CANARY, sizeof(out));
    vs_domain_name_field(&identity_cases[i].fmt, identity_cases[i].name, UUID,
                         identity_cases[i].hostname, out);
    if (strcmp(out, identity_cases[i].want) != 0)
      fail_msg("case %zu: \"%s\", expected \"%s\"", i, out,
               identity_cases[i].want);
  }
}

/* A long name joined with the UUID is shortened as a whole: the UUID falls
 * off the readable part but still separates two domains of the same
 * (long) name. */
static void test_identity_long_name(void **state) {
  static const vs_format_t fmt = {{VS_PART_NAME, VS_PART_UUID}, 2};
  char name[256], a[VS_IDENT_MAX], b[VS_IDENT_MAX];
  repeat(name, sizeof(name), "n", 200);
  vs_domain_name_field(&fmt, name, UUID, "hv", a);
  vs_domain_name_field(&fmt, name, "00000000-0000-0000-0000-000000000000", "hv",
                       b);
  assert_int_equal(strlen(a), VS_IDENT_MAX - 1);
  assert_true(is_hash_suffix(a + READABLE));
  assert_string_not_equal(a, b);
  /* the hash of the joined name, as safe_field(name + ":" + uuid) */
  assert_string_equal(a + READABLE, "~06cf4d36eafb1268");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8_validator),
      cmocka_unit_test(test_short_names),
      cmocka_unit_test(test_old_collisions_distinct),
      cmocka_unit_test(test_long_ascii),
      cmocka_unit_test(test_long_names_stay_distinct),
      cmocka_unit_test(test_common_prefix_many),
      cmocka_unit_test(test_forged_hash_suffix),
      cmocka_unit_test(test_long_utf8),
      cmocka_unit_test(test_cut_at_character_boundary),
      cmocka_unit_test(test_length_limit_exact),
      cmocka_unit_test(test_long_name_escaped),
      cmocka_unit_test(test_hash_vectors),
      cmocka_unit_test(test_small_buffers),
      cmocka_unit_test(test_every_buffer_size),
      cmocka_unit_test(test_join),
      cmocka_unit_test(test_join_very_long),
      cmocka_unit_test(test_random_injective),
      cmocka_unit_test(test_identity_field),
      cmocka_unit_test(test_identity_long_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
