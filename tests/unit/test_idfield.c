/* Identifier fields: vs_idfield() (common/vs_idfield.h) and
 * vs_domain_name_field() (vs_domain_names.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/vs_idfield.h"
#include "vs_domain_names.h"
#include "vs_test_fixtures.h"

#define HASH_LEN 9 /* "~" + 8 hex digits */
#define CANARY 0x5A

/* Whether s is well-formed UTF-8 (shortest forms, no surrogates, at most
 * U+10FFFF). */
static bool utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p, n;
    uint32_t cp;
    if (c < 0x80) {
      p++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    for (unsigned i = 1; i <= n; i++) {
      if ((p[i] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    p += n + 1;
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

static bool is_hash_suffix(const char *s) {
  if (s[0] != '~' || strlen(s) != HASH_LEN)
    return false;
  for (size_t i = 1; i < HASH_LEN; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

/* --- short names --------------------------------------------------------- */

static const struct {
  const char *src, *want;
  bool changed;
} short_cases[] = {
    {"vm01", "vm01", false},
    {"VM \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \"q\" \\b",
     "VM \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \"q\" \\b", false},
    {"it's a 'vm'", "it's a 'vm'", false},
    {"a-b_c.d:e@f", "a-b_c.d:e@f", false},
    {"~", "~", false},
    {"...", "...", false},
    {".hidden", ".hidden", false},
    {"a/b/c", "a_b_c", true},
    {"/", "_", true},
    {"/var/lib/x.qcow2", "_var_lib_x.qcow2", true},
    {"./x", "._x", true},
    {"a\tb\nc\x7f", "a_b_c_", true},
    {"\x01\x1f z", "__ z", true},
    {"\r", "_", true},
    {"", "_", true},
    {".", "_", true},
    {"..", "__", true},
};

static void test_short_names(void **state) {
  for (size_t i = 0; i < VS_NELEM(short_cases); i++) {
    char dst[VS_IDENT_MAX];
    bool changed = vs_idfield(dst, sizeof(dst), short_cases[i].src);
    if (strcmp(dst, short_cases[i].want) != 0 ||
        changed != short_cases[i].changed)
      fail_msg("case %zu: got \"%s\" (changed %d), expected \"%s\" (%d)", i,
               dst, changed, short_cases[i].want, short_cases[i].changed);
  }
}

/* --- long names ---------------------------------------------------------- */

static void test_long_ascii(void **state) {
  char src[256], dst[VS_IDENT_MAX];
  repeat(src, sizeof(src), "a", 200);
  assert_true(vs_idfield(dst, sizeof(dst), src));
  assert_int_equal(strlen(dst), VS_IDENT_MAX - 1);
  assert_true(is_hash_suffix(dst + VS_IDENT_MAX - 1 - HASH_LEN));
  assert_memory_equal(dst, src, VS_IDENT_MAX - 1 - HASH_LEN);
  /* FNV-1a of the whole name: stable across versions and machines, so
   * identifiers do not move when the plugin is upgraded */
  assert_string_equal(dst + VS_IDENT_MAX - 1 - HASH_LEN, "~4e48052d");
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
  assert_memory_equal(da, db, VS_IDENT_MAX - 1 - HASH_LEN);
}

static void test_long_utf8(void **state) {
  char src[512], dst[VS_IDENT_MAX], want[512];
  repeat(src, sizeof(src), "\xe6\x97\xa5", 100); /* 100 x 日, 300 bytes */
  assert_true(vs_idfield(dst, sizeof(dst), src));
  assert_true(utf8_valid(dst));
  assert_true(strlen(dst) <= VS_IDENT_MAX - 1);
  /* 39 whole characters (117 bytes) fit before the hash */
  repeat(want, sizeof(want), "\xe6\x97\xa5", 39);
  strcat(want, "~7dfbfc45");
  assert_string_equal(dst, want);
}

/* Where the cut falls relative to a multi-byte character: the readable
 * part has room for 118 bytes. */
static const struct {
  size_t ascii;     /* leading ASCII bytes */
  const char *unit; /* then this character up to 200+ bytes */
  size_t keep;      /* bytes kept before "~hash" */
} cut_cases[] = {
    {116, "\xe6\x97\xa5", 116}, /* 日 at 116..118: does not fit */
    {117, "\xe6\x97\xa5", 117}, /* 日 at 117..119: does not fit */
    {115, "\xe6\x97\xa5", 118}, /* 日 at 115..117 fits exactly */
    {118, "\xe6\x97\xa5", 118},     {117, "\xc3\xbc", 117}, /* ü at 117..118 */
    {116, "\xc3\xbc", 118},                                 /* ü at 116..117 */
    {115, "\xf0\x9f\x98\x80", 115}, /* 😀 at 115..118 */
    {114, "\xf0\x9f\x98\x80", 118}, /* 😀 at 114..117 */
    {0, "\xf0\x9f\x98\x80", 116},
};

static void test_cut_at_character_boundary(void **state) {
  for (size_t i = 0; i < VS_NELEM(cut_cases); i++) {
    char src[512], dst[VS_IDENT_MAX];
    repeat(src, sizeof(src), "a", cut_cases[i].ascii);
    while (strlen(src) < 200)
      strcat(src, cut_cases[i].unit);
    vs_idfield(dst, sizeof(dst), src);
    if (!utf8_valid(dst) || strlen(dst) != cut_cases[i].keep + HASH_LEN ||
        memcmp(dst, src, cut_cases[i].keep) != 0 ||
        !is_hash_suffix(dst + cut_cases[i].keep))
      fail_msg("case %zu: %zu bytes, valid UTF-8 %d; expected %zu + hash", i,
               strlen(dst), utf8_valid(dst), cut_cases[i].keep);
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
  assert_true(is_hash_suffix(dst + VS_IDENT_MAX - 1 - HASH_LEN));
}

/* Unsafe characters are replaced in the kept part of a long name too. */
static void test_long_name_sanitized(void **state) {
  char src[256], dst[VS_IDENT_MAX];
  repeat(src, sizeof(src), "c", 200);
  src[0] = '/';
  src[10] = '\n';
  assert_true(vs_idfield(dst, sizeof(dst), src));
  assert_int_equal(dst[0], '_');
  assert_int_equal(dst[10], '_');
  assert_null(strchr(dst, '/'));
  assert_int_equal(strlen(dst), VS_IDENT_MAX - 1);
}

/* --- small and large buffers --------------------------------------------- */

static const struct {
  const char *src;
  size_t size;
  const char *want; /* NULL: only bounds are checked */
} size_cases[] = {
    {"abcdefghijklmnop", 12, NULL}, /* "ab" + hash, checked below */
    {"abcdefghijklmnop", 10, NULL}, /* hash only */
    {"abc", 4, "abc"},              /* fits exactly */
    {"..", 2, "_"},
    {"", 1, ""},
    {"abcdefgh", 5, NULL},
    {"abcdefgh", 1, ""},
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
    if (size_cases[i].want)
      assert_string_equal(buf, size_cases[i].want);
  }
  char buf[16];
  vs_idfield(buf, 12, "abcdefghijklmnop");
  assert_memory_equal(buf, "ab~", 3);
  assert_true(is_hash_suffix(buf + 2));
  vs_idfield(buf, 10, "abcdefghijklmnop");
  assert_true(is_hash_suffix(buf));

  memset(buf, CANARY, sizeof(buf));
  assert_true(vs_idfield(buf, 0, "abc")); /* nothing written */
  assert_int_equal((unsigned char)buf[0], CANARY);
}

/* Every buffer size from 1 to past VS_IDENT_MAX: in bounds, terminated,
 * valid UTF-8, never more than VS_IDENT_MAX bytes used. */
static void test_every_buffer_size(void **state) {
  char ascii[256], utf8[512];
  repeat(ascii, sizeof(ascii), "a", 200);
  repeat(utf8, sizeof(utf8), "\xe6\x97\xa5", 100);
  const char *srcs[] = {ascii, utf8};
  for (size_t s = 0; s < VS_NELEM(srcs); s++)
    for (size_t size = 1; size <= 2 * VS_IDENT_MAX; size++) {
      char buf[2 * VS_IDENT_MAX + 16];
      memset(buf, CANARY, sizeof(buf));
      vs_idfield(buf, size, srcs[s]);
      size_t used = size < VS_IDENT_MAX ? size : VS_IDENT_MAX;
      if (strlen(buf) >= used || !utf8_valid(buf))
        fail_msg("source %zu, dst_size %zu: %zu bytes, valid %d", s, size,
                 strlen(buf), utf8_valid(buf));
      for (size_t j = used; j < sizeof(buf); j++)
        if ((unsigned char)buf[j] != CANARY)
          fail_msg("source %zu, dst_size %zu: byte %zu written", s, size, j);
    }
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
    {{{VS_PART_NAME}, 1}, "a/b", "hv", "a_b"},
    {{{VS_PART_NAME}, 1}, "VM \xc3\xbc \"q\"", "hv", "VM \xc3\xbc \"q\""},
    {{{VS_PART_NAME}, 1}, "..", "hv", "__"},
    {{{VS_PART_NAME}, 1}, "", "hv", "_"},
    {{{VS_PART_NAME, VS_PART_UUID}, 2}, ".", "hv", ".:" UUID},
    {{{VS_PART_HOSTNAME}, 1}, "vm1", NULL, "_"}, /* no host name known */
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
  assert_true(is_hash_suffix(a + VS_IDENT_MAX - 1 - HASH_LEN));
  assert_string_not_equal(a, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8_validator),
      cmocka_unit_test(test_short_names),
      cmocka_unit_test(test_long_ascii),
      cmocka_unit_test(test_long_names_stay_distinct),
      cmocka_unit_test(test_long_utf8),
      cmocka_unit_test(test_cut_at_character_boundary),
      cmocka_unit_test(test_length_limit_exact),
      cmocka_unit_test(test_long_name_sanitized),
      cmocka_unit_test(test_small_buffers),
      cmocka_unit_test(test_every_buffer_size),
      cmocka_unit_test(test_identity_field),
      cmocka_unit_test(test_identity_long_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
