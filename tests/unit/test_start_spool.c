/* The spool (startup-helper/vs_start_spool.h): lines written by one run come
 * back, in order and unchanged, to the next; a failing transport keeps the
 * rest; refused lines go to rejected.log; a run's own (locked) file is not
 * replayed by another; a line cut by a crash is not sent. */
#include <errno.h>
#include <fcntl.h>
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

#include "vs_start_collectd.h"
#include "vs_start_spool.h"

typedef struct {
  char lines[64][256];
  size_t n;
  size_t fail_after; /* transport fails on this call (0: never) */
  size_t calls;
  const char *refuse; /* lines containing this are refused (-EPROTO) */
} sink_t;

static int sink(void *ctx, const char *line) {
  sink_t *s = ctx;
  s->calls++;
  if (s->fail_after && s->calls >= s->fail_after)
    return -ECONNRESET;
  if (s->refuse && strstr(line, s->refuse))
    return -EPROTO;
  snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s", line);
  return 0;
}

static char dir[64];

static int setup(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/vs-test-spool-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *lines[] = {
    "PUTVAL \"vm \\\"1\\\"/virtscale_start/duration-ready\" 1700000000.000:5",
    "PUTVAL \"\xc3\xbc/virtscale_start/duration-ready\" 1700000001.000:6",
    "PUTNOTIF severity=failure time=1700000002 message=\"x\"",
};

static void write_run(void) {
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(vs_spool_append(&s, lines[i], &err), 0);
  assert_int_equal(vs_spool_sync(&s, &err), 0);
  vs_spool_close(&s);
}

static void test_round_trip(void **state) {
  write_run();
  write_run();
  size_t n;
  assert_int_equal(vs_spool_count(dir, &n), 0);
  assert_int_equal(n, 6);
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  sink_t k = {0};
  vs_spool_stats_t st;
  assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 6);
  assert_int_equal(st.left, 0);
  assert_int_equal(st.files_done, 2);
  for (size_t i = 0; i < 6; i++)
    assert_string_equal(k.lines[i], lines[i % 3]);
  assert_int_equal(vs_spool_count(dir, &n), 0);
  assert_int_equal(n, 0);
  vs_spool_close(&s);
}

static void test_transport_failure_keeps_rest(void **state) {
  write_run();
  write_run();
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  sink_t k = {.fail_after = 3}; /* two delivered, then the socket dies */
  vs_spool_stats_t st;
  assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 2);
  assert_int_equal(st.left, 4);
  size_t n;
  assert_int_equal(vs_spool_count(dir, &n), 0);
  assert_int_equal(n, 4);
  /* The next replay continues exactly where it stopped. */
  sink_t k2 = {0};
  assert_int_equal(vs_spool_replay(&s, sink, &k2, &st, &err), 0);
  assert_int_equal(st.delivered, 4);
  assert_string_equal(k2.lines[0], lines[2]);
  assert_string_equal(k2.lines[1], lines[0]);
  vs_spool_close(&s);
}

static void test_refused_lines(void **state) {
  write_run();
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  sink_t k = {.refuse = "PUTNOTIF"};
  vs_spool_stats_t st;
  assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 2);
  assert_int_equal(st.rejected, 1);
  assert_int_equal(st.left, 0);
  char path[128], buf[256] = "";
  snprintf(path, sizeof(path), "%s/rejected.log", dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  assert_non_null(fgets(buf, sizeof(buf), f));
  fclose(f);
  assert_string_equal(buf, "PUTNOTIF severity=failure time=1700000002 "
                           "message=\"x\"\n");
  vs_spool_close(&s);
}

static void test_own_and_locked_files_skipped(void **state) {
  vs_spool_t writer, other;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&writer, dir, &err), 0);
  assert_int_equal(vs_spool_append(&writer, lines[0], &err), 0);
  /* Another run replays while the writer's run goes on: nothing taken. */
  assert_int_equal(vs_spool_open(&other, dir, &err), 0);
  sink_t k = {0};
  vs_spool_stats_t st;
  assert_int_equal(vs_spool_replay(&other, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 0);
  /* Nor does the writer replay its own file. */
  assert_int_equal(vs_spool_replay(&writer, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 0);
  vs_spool_close(&writer);
  assert_int_equal(vs_spool_replay(&other, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 1);
  vs_spool_close(&other);
}

static void test_damaged_tail(void **state) {
  char path[128];
  snprintf(path, sizeof(path), "%s/00000000000000000001-1.spool", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "%s\n%s\nPUTVAL \"cut", VS_SPOOL_HEADER, lines[0]);
  fclose(f);
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  sink_t k = {0};
  vs_spool_stats_t st;
  assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 1);
  assert_int_equal(st.damaged, 1);
  assert_string_equal(k.lines[0], lines[0]);
  vs_spool_close(&s);
}

/* A spool file that cannot be replayed (here a directory by that name)
 * is reported and left as it was; the other files are still replayed. */
static void test_problem_file_skipped(void **state) {
  char bad[128];
  snprintf(bad, sizeof(bad), "%s/00000000000000000000-1.spool", dir);
  assert_int_equal(mkdir(bad, 0700), 0);
  write_run();
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  sink_t k = {0};
  vs_spool_stats_t st;
  assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
  assert_int_equal(st.problems, 1);
  assert_int_equal(st.delivered, 3);
  assert_int_equal(st.files_done, 1);
  assert_int_equal(err.code, -EISDIR);
  assert_non_null(strstr(err.msg, bad));
  struct stat sb;
  assert_int_equal(stat(bad, &sb), 0); /* left as it was */
  /* a clean replay clears the error */
  assert_int_equal(rmdir(bad), 0);
  assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
  assert_int_equal(st.problems, 0);
  assert_int_equal(err.code, 0);
  vs_spool_close(&s);
}

/* A failed sync counts the lines spooled since the last good one as lost,
 * once: not every spooled line, and not again at the next failed sync. */
static void test_reporter_sync_failure(void **state) {
  char sock[128];
  snprintf(sock, sizeof(sock), "%s/no-collectd", dir);
  vs_reporter_t r;
  vs_error_t err = {0};
  assert_int_equal(vs_reporter_open(&r, sock, dir, 1, &err), 0);
  assert_true(r.down); /* no collectd: everything goes to the spool */
  for (int i = 0; i < 3; i++)
    assert_int_equal(vs_reporter_line(&r, lines[i]), 0);
  assert_int_equal(vs_reporter_sync(&r), 0);
  assert_int_equal(r.spooled, 3);
  /* the spool file turns into something fdatasync refuses (a pipe) */
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_true(dup2(p[1], r.spool.fd) >= 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(vs_reporter_line(&r, lines[i]), 0);
  assert_true(vs_reporter_sync(&r) < 0);
  assert_int_equal(r.lost, 2);
  assert_int_equal(r.spooled, 3);
  assert_true(vs_reporter_sync(&r) < 0);
  assert_int_equal(r.lost, 2);
  assert_int_equal(r.spooled, 3);
  vs_reporter_close(&r);
  close(p[0]);
  close(p[1]);
}

static void test_errors(void **state) {
  vs_spool_t s;
  vs_error_t err = {0};
  char path[128];
  snprintf(path, sizeof(path), "%s/file", dir);
  FILE *f = fopen(path, "w");
  fclose(f);
  assert_int_equal(vs_spool_open(&s, path, &err), -ENOTDIR);
  assert_non_null(strstr(err.msg, "not a directory"));
  assert_int_equal(vs_spool_open(&s, "/nonexistent/a/b", &err), -ENOENT);
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  assert_int_equal(vs_spool_append(&s, "two\nlines", &err), -EINVAL);
  vs_spool_close(&s);
  size_t n;
  assert_int_equal(vs_spool_count("/nonexistent/spool", &n), -ENOENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_transport_failure_keeps_rest, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_refused_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_own_and_locked_files_skipped, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_damaged_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_problem_file_skipped, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_reporter_sync_failure, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
