/* The spool (startup-helper/vs_start_spool.h): lines written by one run come
 * back, in order and unchanged, to the next; a failing transport keeps the
 * rest; refused lines go to rejected.log; a run's own (locked) file is not
 * replayed by another, not even in the instant it is created; a line cut by
 * a crash or a full disk is not sent and never glued to the next; only the
 * helper's own well-formed lines are sent, others are quarantined, as is a
 * line collectd keeps failing on; a directory others can write to is
 * refused, and no symbolic link in it is followed. Real files in a
 * temporary directory throughout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs_start_collectd.h"
#include "vs_start_spool.h"

typedef struct {
  char lines[128][1100];
  size_t n;
  size_t fail_after; /* transport fails on this call (0: never) */
  size_t calls;
  const char *refuse; /* lines containing this are refused (-EPROTO) */
  const char *stall;  /* lines containing this get no answer (-ETIMEDOUT) */
} sink_t;

static int sink(void *ctx, const char *line) {
  sink_t *s = ctx;
  assert_true(s->n < sizeof(s->lines) / sizeof(s->lines[0]));
  s->calls++;
  if (s->fail_after && s->calls >= s->fail_after)
    return -ECONNRESET;
  if (s->refuse && strstr(line, s->refuse))
    return -EPROTO;
  if (s->stall && strstr(line, s->stall))
    return -ETIMEDOUT;
  snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s", line);
  return 0;
}

static char dir[64];

static int setup(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/vs-test-spool-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.outside'", dir, dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Contents of DIR/name (NULL when missing), malloc'd. */
static char *slurp(const char *name) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  char *buf = calloc(1, 1 << 20);
  assert_non_null(buf);
  size_t n = fread(buf, 1, (1 << 20) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static bool file_has(const char *name, const char *text) {
  char *buf = slurp(name);
  bool r = buf && strstr(buf, text);
  free(buf);
  return r;
}

static void put_file(const char *name, const char *content) {
  char path[256];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(content, f);
  assert_int_equal(fclose(f), 0);
}

static const char *lines[] = {
    "PUTVAL \"vm \\\"1\\\"/virtscale_start/duration-ready\" "
    "interval=3600.000 1700000000.000:5.000000",
    "PUTVAL \"\xc3\xbc/virtscale_start/duration-ready\" 1700000001.000:6",
    "PUTNOTIF severity=failure time=1700000002.000 host=\"vm\" "
    "plugin=\"virtscale_start\" type=\"duration\" type_instance=\"ready\" "
    "message=\"x\"",
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

/* One replay of the spool in dir by another run, through sink k. */
static int replay_once(sink_t *k, vs_spool_stats_t *st, vs_error_t *err) {
  vs_spool_t s;
  int r = vs_spool_open(&s, dir, err);
  if (r < 0)
    return r;
  r = vs_spool_replay(&s, sink, k, st, err);
  vs_spool_close(&s);
  return r;
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
  char want[512];
  snprintf(want, sizeof(want), "%s\n", lines[2]);
  assert_string_equal(buf, want);
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
  assert_int_equal(k.n, 1);
  assert_string_equal(k.lines[0], lines[0]);
  assert_true(file_has("quarantine.log", "PUTVAL \"cut"));
  assert_true(file_has("quarantine.log", "cut (no newline at the end)"));
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

/* A spool directory others could write to, or owned by another user, is
 * refused, naming it, its owner and mode; one the helper creates is fine.
 * The reporter then starts without a spool: nothing of the directory is
 * replayed or touched, and lines collectd does not take are lost. */
static void test_untrusted_dir(void **state) {
  vs_spool_t s;
  vs_error_t err = {0};
  char want[64];
  assert_int_equal(chmod(dir, 0777), 0);
  assert_int_equal(vs_spool_open(&s, dir, &err), -EPERM);
  assert_true(s.untrusted);
  assert_non_null(strstr(err.msg, dir));
  assert_non_null(strstr(err.msg, "mode 0777"));
  snprintf(want, sizeof(want), "owned by uid %u", (unsigned)geteuid());
  assert_non_null(strstr(err.msg, want));
  assert_int_equal(chmod(dir, 0720), 0); /* group-writable */
  assert_int_equal(vs_spool_open(&s, dir, &err), -EPERM);
  assert_non_null(strstr(err.msg, "mode 0720"));
  assert_int_equal(chmod(dir, 0700), 0);
  if (geteuid() == 0) { /* another owner (only root can give it away) */
    assert_int_equal(chown(dir, 65534, (gid_t)-1), 0);
    assert_int_equal(vs_spool_open(&s, dir, &err), -EPERM);
    assert_non_null(strstr(err.msg, "owned by uid 65534"));
    assert_int_equal(chown(dir, 0, (gid_t)-1), 0);
  }
  /* created by the helper: mode 0700 whatever the umask, accepted */
  char sub[128];
  snprintf(sub, sizeof(sub), "%s/new", dir);
  mode_t old = umask(0);
  assert_int_equal(vs_spool_open(&s, sub, &err), 0);
  umask(old);
  struct stat st;
  assert_int_equal(stat(sub, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0700);
  vs_spool_close(&s);
  assert_int_equal(vs_spool_open(&s, dir, &err), 0); /* 0700, ours */
  vs_spool_close(&s);

  /* The reporter: an earlier run's file waits in a refused directory. */
  write_run();
  assert_int_equal(chmod(dir, 0757), 0);
  char sock[128];
  snprintf(sock, sizeof(sock), "%s/no-collectd", dir);
  vs_reporter_t r;
  assert_int_equal(vs_reporter_open(&r, sock, dir, 1, &err), 0);
  assert_false(r.spool_open);
  assert_true(r.replay_failed);
  assert_non_null(strstr(r.problem.msg, "refused"));
  assert_non_null(strstr(r.problem.msg, dir));
  for (int i = 0; i < 3; i++)
    assert_int_equal(vs_reporter_line(&r, lines[i]), 0); /* counted lost */
  assert_int_equal(vs_reporter_sync(&r), 0);
  assert_int_equal(r.lost, 3);
  assert_int_equal(r.spooled, 0);
  assert_non_null(strstr(r.problem.msg, "refused")); /* still the first */
  vs_reporter_close(&r);
  assert_int_equal(chmod(dir, 0700), 0);
  size_t n;
  assert_int_equal(vs_spool_count(dir, &n), 0);
  assert_int_equal(n, 3); /* the earlier file as it was */
}

/* Symbolic links planted as rejected.log, quarantine.log, a spool file,
 * a .tmp or .lock are refused with an error naming them, never followed:
 * the files they point to stay as they were. */
static void test_symlinks_refused(void **state) {
  char outside[128], path[512];
  snprintf(outside, sizeof(outside), "%s.outside", dir);
  FILE *f = fopen(outside, "w");
  assert_non_null(f);
  fprintf(f, "%s\n%s\n", VS_SPOOL_HEADER, lines[0]);
  fclose(f);
  struct stat before, after;
  assert_int_equal(stat(outside, &before), 0);

  /* rejected.log: the refused line stays in the spool instead */
  write_run();
  snprintf(path, sizeof(path), "%s/rejected.log", dir);
  assert_int_equal(symlink(outside, path), 0);
  vs_error_t err = {0};
  sink_t k = {.refuse = "PUTNOTIF"};
  vs_spool_stats_t st;
  assert_int_equal(replay_once(&k, &st, &err), 0);
  assert_int_equal(st.delivered, 2);
  assert_int_equal(st.rejected, 0);
  assert_int_equal(st.left, 1);
  assert_int_equal(err.code, -ELOOP);
  assert_non_null(strstr(err.msg, "rejected.log: a symbolic link"));
  assert_int_equal(unlink(path), 0);
  /* quarantine.log */
  put_file("00000000000000000001-1.spool", "# virtscale-start spool 1\n"
                                           "FLUSH\n");
  snprintf(path, sizeof(path), "%s/quarantine.log", dir);
  assert_int_equal(symlink(outside, path), 0);
  k = (sink_t){0};
  assert_int_equal(replay_once(&k, &st, &err), 0);
  assert_int_equal(st.damaged, 0);
  assert_int_equal(err.code, -ELOOP);
  assert_non_null(strstr(err.msg, "quarantine.log: a symbolic link"));
  assert_int_equal(k.n, 1); /* the PUTNOTIF kept above */
  assert_int_equal(unlink(path), 0);
  snprintf(path, sizeof(path), "%s/00000000000000000001-1.spool", dir);
  assert_int_equal(unlink(path), 0);
  /* a spool file: its lines are not read, let alone sent */
  snprintf(path, sizeof(path), "%s/00000000000000000002-1.spool", dir);
  assert_int_equal(symlink(outside, path), 0);
  k = (sink_t){0};
  assert_int_equal(replay_once(&k, &st, &err), 0);
  assert_int_equal(st.problems, 1);
  assert_int_equal(k.n, 0);
  assert_non_null(strstr(err.msg, "00000000000000000002-1.spool: a symbolic"));
  assert_int_equal(unlink(path), 0);
  /* the .tmp of a rewrite (a transport failure after one line) */
  write_run();
  char name[256];
  DIR *d = opendir(dir);
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".spool"))
      snprintf(name, sizeof(name), "%s", e->d_name);
  closedir(d);
  char tmp[sizeof(name) + 8];
  snprintf(tmp, sizeof(tmp), "%s.tmp", name);
  snprintf(path, sizeof(path), "%s/%s", dir, tmp);
  assert_int_equal(symlink(outside, path), 0);
  k = (sink_t){.fail_after = 2};
  assert_int_equal(replay_once(&k, &st, &err), 0);
  assert_int_equal(st.delivered, 1);
  assert_int_equal(st.left, 2);
  assert_int_equal(st.problems, 0);
  assert_int_equal(stat(outside, &after), 0);
  assert_int_equal(after.st_size, before.st_size);
  assert_int_equal(after.st_ino, before.st_ino);
  size_t n;
  assert_int_equal(vs_spool_count(dir, &n), 0);
  assert_int_equal(n, 2);
  /* .lock */
  snprintf(path, sizeof(path), "%s/.lock", dir);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(symlink(outside, path), 0);
  assert_int_equal(replay_once(&k, &st, &err), -ELOOP);
  assert_non_null(strstr(err.msg, ".lock: a symbolic link"));
  /* nothing was written through any of them */
  assert_int_equal(stat(outside, &after), 0);
  assert_int_equal(after.st_size, before.st_size);
  assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
              after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  unlink(outside);
}

/* Lines the helper writes, for every odd VM name (built by the helper's
 * own code), pass vs_spool_check_line(); anything else is quarantined
 * with its reason and never sent. */
static void test_only_wellformed_lines_sent(void **state) {
  static char long_name[300];
  memset(long_name, 'n', sizeof(long_name) - 1);
  const char *names[] = {"plain",
                         "a/b",
                         "tab\there",
                         "..",
                         ".",
                         "",
                         "%41",
                         "q\"uo\\te",
                         "\x7f",
                         "\xff\xfe",
                         "x~0123456789abcdef",
                         long_name,
                         "\xc3\xbc ber"};
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  size_t good = 0;
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    vs_vm_t vm = {.name = (char *)names[i],
                  .state = i % 2 ? VS_VM_FAILED : VS_VM_READY,
                  .error = "libvirt said \"no\"\x01",
                  .t = {.request = 1000000000,
                        .create_start = 2000000000,
                        .create_end = 3000000000,
                        .running = 4000000000,
                        .ready = i % 2 ? 0 : 5000000000,
                        .done = 6000000000}};
    sink_t built = {0};
    assert_int_equal(
        vs_collectd_vm_lines(&vm, 0, 1700000000000000000ull, sink, &built), 0);
    for (size_t j = 0; j < built.n; j++) {
      const char *why = NULL;
      if (vs_spool_check_line(built.lines[j], strlen(built.lines[j]), &why))
        fail_msg("refused (%s): %s", why, built.lines[j]);
      assert_int_equal(vs_spool_append(&s, built.lines[j], &err), 0);
      good++;
    }
  }
  vs_spool_close(&s);

  static const struct {
    const char *line, *reason;
  } bad[] = {
      {"FLUSH", "not a PUTVAL or PUTNOTIF"},
      {"GETVAL \"h/virtscale_start/duration-ready\"", "not a PUTVAL"},
      {"PUTVAL h/virtscale_start/duration-ready 1:2", "not quoted"},
      {"PUTVAL \"h/cpu/duration-ready\" 1:2", "identifier not as"},
      {"PUTVAL \"h/virtscale_start-x/y/duration-ready\" 1:2",
       "identifier not as"},
      {"PUTVAL \"a%2fb/virtscale_start/duration-ready\" 1:2",
       "identifier not as"},
      {"PUTVAL \"./virtscale_start/duration-ready\" 1:2", "identifier not as"},
      {"PUTVAL \"/virtscale_start/duration-ready\" 1:2", "identifier not as"},
      {"PUTVAL \"h%00/virtscale_start/duration-ready\" 1:2",
       "identifier not as"},
      {"PUTVAL \"h/virtscale_start/duration-ready\" foo=1 1:2", "bad time"},
      {"PUTVAL \"h/virtscale_start/duration-ready\" interval=0 1:2",
       "bad interval"},
      {"PUTVAL \"h/virtscale_start/duration-ready\" 1:nan", "bad value"},
      {"PUTVAL \"h/virtscale_start/duration-ready\" 1:2 ", "bad value"},
      {"PUTVAL \"h\\x/virtscale_start/duration-ready\" 1:2", "not quoted"},
      {"PUTVAL \"h/virtscale_start/duration-ready\" 1:2\x1b[2J",
       "control character"},
      {"PUTNOTIF severity=failure time=1 message=\"x\"", "missing"},
      {"PUTNOTIF severity=failure time=1 plugin=\"virtscale_start\" "
       "message=\"x\" host=\"h\"",
       "text after the message"},
      {"PUTNOTIF severity=bad time=1 plugin=\"virtscale_start\" message=\"x\"",
       "bad severity"},
      {"PUTNOTIF severity=okay time=1 plugin=\"virtscale_start\" x=\"1\" "
       "message=\"x\"",
       "unknown option"},
      {"PUTNOTIF severity=okay time=1 plugin=\"cpu\" message=\"x\"",
       "identifier not as"},
      {"PUTNOTIF severity=okay severity=okay time=1 "
       "plugin=\"virtscale_start\" message=\"x\"",
       "twice"},
      {"# a comment", "not a PUTVAL"},
  };
  size_t nbad = sizeof(bad) / sizeof(*bad);
  char *content = calloc(1, 1 << 16);
  strcpy(content, VS_SPOOL_HEADER "\n");
  for (size_t i = 0; i < nbad; i++) {
    strcat(content, bad[i].line);
    strcat(content, "\n");
    strcat(content, lines[i % 3]); /* good lines between them go */
    strcat(content, "\n");
  }
  /* a NUL and a line longer than collectd reads */
  size_t off = strlen(content);
  memcpy(content + off, "PUTVAL \"h\0/virtscale_start/duration-x\" 1:2\n", 44);
  off += 44;
  memset(content + off, 'P', 1100);
  off += 1100;
  content[off++] = '\n';
  char path[256];
  snprintf(path, sizeof(path), "%s/00000000000000000000-1.spool", dir);
  FILE *f = fopen(path, "w");
  assert_int_equal(fwrite(content, 1, off, f), off);
  fclose(f);
  free(content);

  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  sink_t *k = calloc(1, sizeof(*k) * 4);
  vs_spool_stats_t st;
  assert_int_equal(vs_spool_replay(&s, sink, k, &st, &err), 0);
  assert_int_equal(st.damaged, nbad + 2);
  assert_int_equal(st.delivered, nbad + good);
  assert_int_equal(st.left, 0);
  assert_int_equal(err.code, -EBADMSG);
  assert_non_null(strstr(err.msg, "quarantine.log"));
  for (size_t i = 0; i < k->n; i++)
    assert_int_equal(strncmp(k->lines[i], "PUTVAL \"", 8) == 0 ||
                         strncmp(k->lines[i], "PUTNOTIF severity=", 18) == 0,
                     1);
  char *q = slurp("quarantine.log");
  assert_non_null(q);
  for (size_t i = 0; i < nbad; i++) {
    const char *why = NULL;
    assert_int_equal(
        vs_spool_check_line(bad[i].line, strlen(bad[i].line), &why), -EINVAL);
    if (!strstr(why, bad[i].reason))
      fail_msg("%s: reason \"%s\", want \"%s\"", bad[i].line, why,
               bad[i].reason);
    char record[1200];
    snprintf(record, sizeof(record), "00000000000000000000-1.spool: %s: ", why);
    assert_non_null(strstr(q, record));
  }
  assert_non_null(strstr(q, "control character: PUTVAL \"h\\x00/"));
  assert_non_null(strstr(q, "\\x1B[2J\n"));
  assert_non_null(strstr(q, "longer than collectd reads"));
  for (const char *c = q; *c; c++) /* one record per line, nothing raw */
    assert_true(*c == '\n' || ((unsigned char)*c >= 0x20 && *c != 0x7f));
  free(q);
  free(k);
  vs_spool_close(&s);
}

/* A write cut short by a full disk (here: RLIMIT_FSIZE, which cuts a
 * write at the limit just as ENOSPC does) is rolled back: the next line
 * starts on a line of its own. */
static void test_short_write_rolled_back(void **state) {
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  assert_int_equal(vs_spool_append(&s, lines[0], &err), 0);
  struct stat st;
  assert_int_equal(fstat(s.fd, &st), 0);
  struct rlimit old, small = {.rlim_cur = (rlim_t)st.st_size + 20};
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  small.rlim_max = old.rlim_max;
  void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  int r = vs_spool_append(&s, lines[1], &err);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, was);
  assert_int_equal(r, -EFBIG);
  assert_int_equal(vs_spool_append(&s, lines[2], &err), 0);
  char *content = NULL;
  {
    char path[256];
    snprintf(path, sizeof(path), "%s", strrchr(s.path, '/') + 1);
    content = slurp(path);
  }
  char want[1024];
  snprintf(want, sizeof(want), "%s\n%s\n%s\n", VS_SPOOL_HEADER, lines[0],
           lines[2]);
  assert_string_equal(content, want);
  free(content);
  vs_spool_close(&s);
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  sink_t k = {0};
  vs_spool_stats_t stats;
  assert_int_equal(vs_spool_replay(&s, sink, &k, &stats, &err), 0);
  assert_int_equal(stats.delivered, 2);
  assert_int_equal(stats.damaged, 0);
  assert_string_equal(k.lines[0], lines[0]);
  assert_string_equal(k.lines[1], lines[2]);
  vs_spool_close(&s);
}

/* A line collectd never answers blocks the lines behind it for
 * VS_SPOOL_MAX_ATTEMPTS replays at most, then goes to quarantine.log with
 * its reason; the count survives in the file between replays. */
static void test_unanswered_line_quarantined(void **state) {
  write_run(); /* lines[0..2]: lines[1] gets no answer */
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  vs_spool_stats_t st;
  sink_t k = {.stall = "\xc3\xbc/"};
  for (unsigned i = 1; i < VS_SPOOL_MAX_ATTEMPTS; i++) {
    assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
    assert_int_equal(st.left, 2);
    assert_int_equal(st.damaged, 0);
    size_t n;
    assert_int_equal(vs_spool_count(dir, &n), 0);
    assert_int_equal(n, 2);
  }
  assert_int_equal(k.n, 1); /* lines[0], once */
  assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
  assert_int_equal(st.damaged, 1);
  assert_int_equal(st.left, 1);
  assert_true(file_has("quarantine.log", "not taken by collectd in 3 "
                                         "replays (last: Connection timed "
                                         "out): PUTVAL \"\xc3\xbc/"));
  assert_int_equal(vs_spool_replay(&s, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 1);
  assert_int_equal(st.left, 0);
  assert_int_equal(k.n, 2);
  assert_string_equal(k.lines[1], lines[2]);
  vs_spool_close(&s);
}

/* A writer's file is never taken while it is written: a replay while a
 * run writes, then more lines, then a replay after it closed - every line
 * once. */
static void test_writer_then_replay(void **state) {
  vs_spool_t w, other;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&w, dir, &err), 0);
  assert_int_equal(vs_spool_open(&other, dir, &err), 0);
  sink_t k = {0};
  vs_spool_stats_t st;
  assert_int_equal(vs_spool_append(&w, lines[0], &err), 0);
  assert_int_equal(vs_spool_replay(&other, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered + st.left + st.damaged, 0);
  assert_int_equal(vs_spool_append(&w, lines[1], &err), 0);
  assert_int_equal(vs_spool_append(&w, lines[2], &err), 0);
  assert_int_equal(vs_spool_sync(&w, &err), 0);
  vs_spool_close(&w);
  assert_int_equal(vs_spool_replay(&other, sink, &k, &st, &err), 0);
  assert_int_equal(st.delivered, 3);
  assert_int_equal(k.n, 3);
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(k.lines[i], lines[i]);
  vs_spool_close(&other);
}

/* Two processes: one runs short runs (open, 3 lines, close) back to back,
 * the other replays in a loop meanwhile. Every line a run appended is
 * delivered exactly once: a replay never takes a file between its
 * creation and its writer's lock. */
#define RACE_RUNS 4000
static unsigned char race_seen[RACE_RUNS * 3];
static size_t race_dups;

static int race_sink(void *ctx, const char *line) {
  size_t *got = ctx;
  unsigned long v = strtoul(strrchr(line, ':') + 1, NULL, 10);
  if (v < sizeof(race_seen) && race_seen[v]++)
    race_dups++;
  (*got)++;
  return 0;
}

static void test_create_lock_race(void **state) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    size_t ok = 0, v = 0;
    for (int i = 0; i < RACE_RUNS; i++) {
      vs_spool_t s;
      vs_error_t e = {0};
      if (vs_spool_open(&s, dir, &e) < 0)
        _exit(2);
      for (int j = 0; j < 3; j++) {
        char l[128];
        snprintf(l, sizeof(l),
                 "PUTVAL \"h/virtscale_start/duration-ready\" "
                 "interval=3600.000 1700000000.000:%zu",
                 v++);
        ok += vs_spool_append(&s, l, &e) == 0;
      }
      vs_spool_close(&s);
    }
    _exit(write(p[1], &ok, sizeof(ok)) == sizeof(ok) ? 0 : 3);
  }
  close(p[1]);
  vs_spool_t s;
  vs_error_t err = {0};
  assert_int_equal(vs_spool_open(&s, dir, &err), 0);
  size_t got = 0, replays = 0;
  vs_spool_stats_t st;
  int status;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    assert_int_equal(vs_spool_replay(&s, race_sink, &got, &st, &err), 0);
    replays++;
  }
  assert_int_equal(vs_spool_replay(&s, race_sink, &got, &st, &err), 0);
  vs_spool_close(&s);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  size_t appended = 0;
  assert_int_equal(read(p[0], &appended, sizeof(appended)), sizeof(appended));
  close(p[0]);
  print_message("%zu lines appended in %d runs, %zu delivered by %zu "
                "replays, %zu twice\n",
                appended, RACE_RUNS, got, replays, race_dups);
  assert_int_equal(appended, RACE_RUNS * 3);
  assert_int_equal(race_dups, 0);
  assert_int_equal(got, appended);
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
      cmocka_unit_test_setup_teardown(test_untrusted_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_symlinks_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_only_wellformed_lines_sent, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_short_write_rolled_back, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unanswered_line_quarantined, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_writer_then_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_create_lock_race, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
