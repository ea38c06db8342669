/* plugin/common/vs_error.h: messages cut to the buffer end between UTF-8
 * characters, never inside one, for the formatted part and for libvirt's
 * message appended by vs_error_set_virt(); plugin/common/vs_utf8.h. */
#include <errno.h>
#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/vs_error.h"
#include "common/vs_utf8.h"
#include "vs_test_fixtures.h"

#define LIMIT (VS_ERROR_MSG_MAX - 1) /* bytes of a message, NUL not counted */

static const struct {
  const char *what, *ch; /* one character */
} chars[] = {
    {"2-byte", "\xc3\xbc"},         /* ü */
    {"3-byte", "\xe6\x97\xa5"},     /* 日 */
    {"4-byte", "\xf0\x9f\x98\x80"}, /* 😀 */
};

/* The message in err is want: whole characters only, as many as fit. Says
 * what is wrong and counts it in *bad (a test checks every case, then
 * fails once). */
static void check(const vs_error_t *err, const char *want, const char *what,
                  int *bad) {
  size_t got = strlen(err->msg);
  bool valid = g_utf8_validate(err->msg, -1, NULL);
  if (valid && strcmp(err->msg, want) == 0)
    return;
  print_error("%s: got %zu bytes (%s UTF-8), want %zu\n", what, got,
              valid ? "valid" : "invalid", strlen(want));
  (*bad)++;
}

/* The limit falls on each byte of a multibyte character after an ASCII
 * prefix: the character is left out whole, nothing before it is lost. */
static void test_cut_formatted(void **state) {
  (void)state;
  int bad = 0;
  for (size_t c = 0; c < VS_NELEM(chars); c++) {
    size_t clen = strlen(chars[c].ch);
    for (size_t inside = 1; inside < clen; inside++) {
      /* prefix ends where the character's byte `inside` is at LIMIT */
      size_t prefix = LIMIT - inside;
      char name[2 * VS_ERROR_MSG_MAX];
      memset(name, 'a', prefix);
      name[prefix] = '\0';
      for (size_t k = 0; k < 4; k++)
        strcat(name, chars[c].ch);
      char want[VS_ERROR_MSG_MAX];
      memcpy(want, name, prefix);
      want[prefix] = '\0';
      vs_error_t err = {0};
      assert_int_equal(vs_error_set(&err, -EINVAL, "%s", name), -EINVAL);
      assert_int_equal(err.code, -EINVAL);
      char what[64];
      snprintf(what, sizeof(what), "%s, byte %zu at the limit", chars[c].what,
               inside + 1);
      check(&err, want, what, &bad);
    }
  }
  assert_int_equal(bad, 0);
}

/* A name of multibyte characters only, as a VM name can be: the message
 * keeps every whole character that fits. */
static void test_cut_all_multibyte(void **state) {
  (void)state;
  int bad = 0;
  for (size_t c = 0; c < VS_NELEM(chars); c++) {
    size_t clen = strlen(chars[c].ch);
    char name[4 * VS_ERROR_MSG_MAX] = "";
    for (size_t k = 0; k < 300; k++)
      strcat(name, chars[c].ch);
    /* "domain \"" is 8 bytes */
    size_t keep = (LIMIT - 8) / clen * clen;
    char want[VS_ERROR_MSG_MAX];
    snprintf(want, sizeof(want), "domain \"%.*s", (int)keep, name);
    vs_error_t err = {0};
    vs_error_set(&err, -EIO, "domain \"%s\" failed", name);
    check(&err, want, chars[c].what, &bad);
  }
  assert_int_equal(bad, 0);
}

/* A message already cut inside a character by its caller loses the
 * partial character; one that fits is kept as it is. */
static void test_short_messages(void **state) {
  (void)state;
  int bad = 0;
  vs_error_t err = {0};
  vs_error_set(&err, -EINVAL, "vm %s", "\xe6\x97\xa5\xe6\x97");
  check(&err, "vm \xe6\x97\xa5", "cut by the caller", &bad);
  vs_error_set(&err, -EINVAL, "vm %s: %d", "\xf0\x9f\x98\x80", 7);
  check(&err, "vm \xf0\x9f\x98\x80: 7", "fits", &bad);
  vs_error_set(&err, -EINVAL, "%s", "");
  check(&err, "", "empty", &bad);
  vs_error_clear(&err);
  assert_int_equal(err.code, 0);
  assert_string_equal(err.msg, "");
  assert_int_equal(vs_error_set(NULL, -EIO, "x"), -EIO);
  assert_int_equal(bad, 0);
}

/* test:///default, open for the whole run: every libvirt call (closing
 * too) clears the thread's last error. */
static virConnectPtr conn;

/* Make libvirt's last error on this thread a message holding ch; copy it to
 * buf and return the offset of ch in it. */
static size_t virt_error_with(const char *ch, char *buf, size_t size) {
  /* "unsupported configuration: unknown on_poweroff action: x<ch>y" */
  char xml[256];
  snprintf(xml, sizeof(xml),
           "<domain type='test'><name>t</name><memory>1024</memory>"
           "<on_poweroff>x%sy</on_poweroff><os><type>hvm</type></os>"
           "</domain>",
           ch);
  assert_null(virDomainDefineXML(conn, xml));
  snprintf(buf, size, "%s", virGetLastErrorMessage());
  const char *p = strstr(buf, ch);
  if (!p)
    fail_msg("libvirt's message holds no %s: %s", ch, buf);
  return (size_t)(p - buf);
}

/* vs_error_set_virt: the limit falls inside a multibyte character of
 * libvirt's message. */
static void test_cut_virt_message(void **state) {
  (void)state;
  int bad = 0;
  for (size_t c = 0; c < VS_NELEM(chars); c++) {
    size_t clen = strlen(chars[c].ch);
    for (size_t inside = 1; inside < clen; inside++) {
      char vmsg[VS_ERROR_MSG_MAX];
      size_t at = virt_error_with(chars[c].ch, vmsg, sizeof(vmsg));
      /* prefix + ": " + vmsg[0..at) + the character's bytes up to LIMIT */
      size_t prefix = LIMIT - inside - 2 - at;
      char fmt_part[VS_ERROR_MSG_MAX];
      memset(fmt_part, 'p', prefix);
      fmt_part[prefix] = '\0';
      char want[2 * VS_ERROR_MSG_MAX];
      snprintf(want, sizeof(want), "%s: %.*s", fmt_part, (int)at, vmsg);
      vs_error_t err = {0};
      assert_int_equal(vs_error_set_virt(&err, -ENOENT, "%s", fmt_part),
                       -ENOENT);
      char what[64];
      snprintf(what, sizeof(what), "libvirt's %s, byte %zu at the limit",
               chars[c].what, inside + 1);
      check(&err, want, what, &bad);
    }
  }
  assert_int_equal(bad, 0);
}

/* The formatted part cut inside a character leaves no room for libvirt's
 * message but still ends whole. */
static void test_virt_no_room(void **state) {
  (void)state;
  int bad = 0;
  char vmsg[VS_ERROR_MSG_MAX];
  virt_error_with("\xc3\xbc", vmsg, sizeof(vmsg));
  char name[VS_ERROR_MSG_MAX + 8];
  memset(name, 'n', LIMIT - 1);
  strcpy(name + LIMIT - 1, "\xe6\x97\xa5");
  char want[VS_ERROR_MSG_MAX];
  memset(want, 'n', LIMIT - 1);
  want[LIMIT - 1] = '\0';
  strcat(want, ":"); /* what fits of ": " */
  vs_error_t err = {0};
  vs_error_set_virt(&err, -EIO, "%s", name);
  check(&err, want, "formatted part at the limit", &bad);
  assert_int_equal(bad, 0);
}

/* vs_utf8_cut, the cut vs_error uses. */
static void test_utf8_cut(void **state) {
  (void)state;
  const char *s = "a\xc3\xbc\xe6\x97\xa5\xf0\x9f\x98\x80"; /* aü日😀 */
  size_t len = strlen(s);
  const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 10};
  for (size_t max = 0; max < VS_NELEM(want); max++)
    if (vs_utf8_cut(s, len, max) != want[max])
      fail_msg("max %zu: %zu, want %zu", max, vs_utf8_cut(s, len, max),
               want[max]);
  /* a character cut short at the end is left out */
  assert_int_equal(vs_utf8_cut(s, 9, 9), 6);
  /* bytes that are no UTF-8 count as one-byte characters */
  assert_int_equal(vs_utf8_cut("\xff\x80x", 3, 3), 3);
  assert_int_equal(vs_utf8_cut("\xc0\xaf", 2, 1), 1); /* overlong */
  assert_int_equal(vs_utf8_seq((const unsigned char *)"\xed\xa0\x80", 3), 0);
  assert_int_equal(vs_utf8_seq((const unsigned char *)"\xf4\x90\x80\x80", 4),
                   0);
  assert_int_equal(vs_utf8_seq((const unsigned char *)"\xf0\x9f\x98", 3), -1);
}

static void quiet(void *ud, virErrorPtr e) {
  (void)ud;
  (void)e;
}

static int setup(void **state) {
  (void)state;
  /* libvirt's errors go to the thread's last error only, not stderr */
  virSetErrorFunc(NULL, quiet);
  conn = virConnectOpen("test:///default");
  return conn ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  if (conn)
    virConnectClose(conn);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cut_formatted),
      cmocka_unit_test(test_cut_all_multibyte),
      cmocka_unit_test(test_short_messages),
      cmocka_unit_test(test_cut_virt_message),
      cmocka_unit_test(test_virt_no_room),
      cmocka_unit_test(test_utf8_cut),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
