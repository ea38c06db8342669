/* Unit tests of the report/sweep JSON writer (vs_json_save): atomic,
 * private, durable, and never through a symlink planted beside the report. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs_start_report.h"

static char dir[64];

static int setup(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/vs-test-report-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int save(const char *path, const char *value, vs_error_t *err) {
  yajl_gen g = yajl_gen_alloc(NULL);
  yajl_gen_map_open(g);
  vs_json_key(g, "k");
  vs_json_str(g, value);
  yajl_gen_map_close(g);
  int r = vs_json_save(g, path, err);
  yajl_gen_free(g);
  return r;
}

static void read_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  fclose(f);
}

/* The old name "<report>.tmp" followed a symlink: a victim file elsewhere
 * was overwritten. Now the report is written beside it, 0600, and the
 * planted link and its target are left alone. */
static void test_no_symlink_private(void **state) {
  char path[128], link[160], victim[128], buf[256];
  snprintf(path, sizeof(path), "%s/report.json", dir);
  snprintf(link, sizeof(link), "%s.tmp", path);
  snprintf(victim, sizeof(victim), "%s/victim", dir);
  FILE *f = fopen(victim, "w");
  fputs("precious\n", f);
  fclose(f);
  assert_int_equal(symlink(victim, link), 0);
  vs_error_t err = {0};
  assert_int_equal(save(path, "one", &err), 0);
  read_file(victim, buf, sizeof(buf));
  assert_string_equal(buf, "precious\n");
  read_file(path, buf, sizeof(buf));
  assert_string_equal(buf, "{\"k\":\"one\"}\n");
  struct stat st;
  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0600);
  /* replaced whole, and no temporary file left behind */
  assert_int_equal(save(path, "two", &err), 0);
  read_file(path, buf, sizeof(buf));
  assert_string_equal(buf, "{\"k\":\"two\"}\n");
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 3", dir);
  assert_int_equal(system(cmd), 0); /* report.json, its .tmp link, victim */
}

static void test_error_names_path(void **state) {
  char path[128];
  snprintf(path, sizeof(path), "%s/missing/report.json", dir);
  vs_error_t err = {0};
  assert_int_equal(save(path, "x", &err), -ENOENT);
  assert_non_null(strstr(err.msg, path));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_symlink_private, setup, teardown),
      cmocka_unit_test_setup_teardown(test_error_names_path, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
