/* The reporter when collectd goes away and comes back during a run
 * (startup-helper/vs_start_collectd.h): the lines meanwhile are spooled,
 * a reconnection is tried no sooner than VS_REPORTER_RETRY_MIN_S after the
 * failure (the wait doubling up to VS_REPORTER_RETRY_MAX_S), and once it
 * succeeds the spool is replayed - earlier runs' files, then this run's own
 * lines - before the next line goes directly; vs_reporter_finish() does the
 * same at the end whatever the wait. Every line reaches the server once and
 * in order, and the spool is empty afterwards. The server is a forked
 * process answering like collectd's unixsock plugin ("0 Success"), killed
 * by its PID to go away. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/vs_time.h"
#include "vs_start_collectd.h"
#include "vs_start_spool.h"

static char dir[64], spool[96], sock[96], got[96];
static pid_t server = -1; /* the running server, for teardown */

static int setup(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/vs-test-reconnect-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(spool, sizeof(spool), "%s/spool", dir);
  snprintf(sock, sizeof(sock), "%s/collectd.sock", dir);
  snprintf(got, sizeof(got), "%s/got", dir);
  return 0;
}

static int teardown(void **state) {
  if (server > 0) { /* a failed test left it running */
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    server = -1;
  }
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A process listening on sock: every line it reads is appended to got and
 * answered "0 Success". Returns its PID once it listens. */
static pid_t server_start(void) {
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(lfd >= 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
  unlink(sock);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(lfd, 4), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid > 0) {
    close(lfd);
    server = pid;
    return pid;
  }
  /* Dies with the test; holds none of the test's descriptors (an
   * inherited spool file descriptor would keep that file's lock). */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (int fd = 3; fd < 1024; fd++)
    if (fd != lfd)
      close(fd);
  signal(SIGPIPE, SIG_IGN);
  int out = open(got, O_WRONLY | O_CREAT | O_APPEND, 0600);
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
      _exit(1);
    FILE *in = fdopen(fd, "r");
    char line[1100];
    while (in && fgets(line, sizeof(line), in)) {
      if (write(out, line, strlen(line)) < 0 ||
          write(fd, "0 Success: 1 value has been dispatched.\n", 40) < 0)
        break;
    }
    if (in)
      fclose(in);
  }
}

/* Kill the server by its PID (its connections break) and remove its
 * socket, as collectd's unixsock plugin does when it stops. */
static void server_stop(pid_t pid) {
  assert_int_equal(kill(pid, SIGKILL), 0);
  assert_int_equal(waitpid(pid, NULL, 0), pid);
  server = -1;
  unlink(sock);
}

/* What the server received, in order. */
static char *received(void) {
  FILE *f = fopen(got, "r");
  char *buf = calloc(1, 1 << 16);
  assert_non_null(buf);
  if (f) {
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
  }
  return buf;
}

static void line(char *buf, size_t size, const char *vm, double value) {
  vs_unixsock_ident_t id = {.host = vm,
                            .plugin = VS_START_PLUGIN,
                            .type = "duration",
                            .type_instance = "ready"};
  assert_true(vs_unixsock_putval(buf, size, &id, VS_START_VALUE_INTERVAL,
                                 1700000000.0 + value, value) > 0);
}

/* Send the line of vm through r. */
static void put(vs_reporter_t *r, const char *vm, double value) {
  char buf[1100];
  line(buf, sizeof(buf), vm, value);
  assert_int_equal(vs_reporter_line(r, buf), 0);
}

/* Whether the server received the lines of vms[0..n), in this order and
 * each once, and nothing else. */
static void assert_received(const char *const *vms, size_t n) {
  char *buf = received(), want[1 << 12] = "";
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    line(want + o, sizeof(want) - o, vms[i], (double)i);
    o += strlen(want + o);
    want[o++] = '\n';
    want[o] = '\0';
  }
  assert_string_equal(buf, want);
  free(buf);
}

static void wait_until(uint64_t t) {
  while (vs_now_ns() < t)
    usleep(10000);
}

static size_t waiting_in_spool(void) {
  size_t n = 99;
  assert_int_equal(vs_spool_count(spool, &n), 0);
  return n;
}

/* collectd goes away mid-run and comes back: the run spools meanwhile,
 * reconnects once the wait has passed, replays its own lines, then
 * delivers directly. */
static void test_back_mid_run(void **state) {
  static const char *const vms[] = {"a", "b", "c", "d", "e", "f"};
  pid_t pid = server_start();
  vs_reporter_t r;
  vs_error_t err = {0};
  assert_int_equal(vs_reporter_open(&r, sock, spool, 2, &err), 0);
  assert_false(r.down);
  put(&r, vms[0], 0);
  server_stop(pid);
  uint64_t before = vs_now_ns();
  put(&r, vms[1], 1); /* the broken connection: spooled */
  assert_true(r.down);
  assert_true(r.retry_at >= before + VS_REPORTER_RETRY_MIN_S * VS_NS_PER_SEC);
  put(&r, vms[2], 2); /* not yet due */
  assert_int_equal(vs_reporter_sync(&r), 0);
  pid = server_start();
  uint64_t due = r.retry_at;
  r.retry_at = UINT64_MAX; /* however slow this machine: not yet due */
  put(&r, vms[3], 3);      /* so spooled, though the server is up */
  r.retry_at = due;
  assert_int_equal(vs_reporter_sync(&r), 0);
  assert_int_equal(r.spooled, 3);
  assert_int_equal(waiting_in_spool(), 3);
  wait_until(r.retry_at);
  put(&r, vms[4], 4); /* reconnects, replays b c d, then sends e */
  assert_false(r.down);
  put(&r, vms[5], 5);
  assert_int_equal(vs_reporter_sync(&r), 0);
  vs_reporter_finish(&r);
  assert_int_equal(r.delivered, 3);
  assert_int_equal(r.spooled, 3);
  assert_int_equal(r.recovered, 3);
  assert_int_equal(r.waiting, 0);
  assert_int_equal(r.lost + r.refused, 0);
  assert_int_equal(r.replayed.delivered, 0); /* no earlier run's line */
  assert_int_equal(r.retry_ns, VS_REPORTER_RETRY_MIN_S * VS_NS_PER_SEC);
  vs_reporter_close(&r);
  assert_int_equal(waiting_in_spool(), 0);
  assert_received(vms, 6);
  server_stop(pid);
}

/* collectd down from the start, an earlier run's file waiting, collectd
 * back before the end: vs_reporter_finish() delivers the earlier run's
 * lines, then this run's, without waiting for the retry time. */
static void test_back_before_the_end(void **state) {
  static const char *const vms[] = {"old1", "old2", "new1", "new2"};
  vs_reporter_t r;
  vs_error_t err = {0};
  /* an earlier run, spooled */
  assert_int_equal(vs_reporter_open(&r, sock, spool, 2, &err), 0);
  assert_true(r.down); /* no socket */
  put(&r, vms[0], 0);
  put(&r, vms[1], 1);
  assert_int_equal(vs_reporter_sync(&r), 0);
  vs_reporter_finish(&r); /* still no collectd */
  assert_int_equal(r.waiting, 2);
  vs_reporter_close(&r);
  /* this run: spools, collectd comes back before its end */
  assert_int_equal(vs_reporter_open(&r, sock, spool, 2, &err), 0);
  assert_true(r.down);
  put(&r, vms[2], 2);
  put(&r, vms[3], 3);
  assert_int_equal(vs_reporter_sync(&r), 0);
  assert_int_equal(waiting_in_spool(), 4);
  pid_t pid = server_start();
  assert_true(vs_now_ns() < r.retry_at); /* finish does not wait for it */
  vs_reporter_finish(&r);
  assert_false(r.down);
  assert_int_equal(r.replayed.delivered, 2);
  assert_int_equal(r.recovered, 2);
  assert_int_equal(r.waiting, 0);
  assert_int_equal(r.delivered, 0);
  vs_reporter_close(&r);
  assert_int_equal(waiting_in_spool(), 0);
  assert_received(vms, 4);
  server_stop(pid);
}

/* collectd stays away: each failed attempt doubles the wait, up to the
 * maximum; every line stays in the spool, counted as waiting. */
static void test_backoff(void **state) {
  vs_reporter_t r;
  vs_error_t err = {0};
  assert_int_equal(vs_reporter_open(&r, sock, spool, 2, &err), 0);
  assert_true(r.down);
  uint64_t wait = VS_REPORTER_RETRY_MIN_S * VS_NS_PER_SEC;
  for (int i = 0; i < 8; i++) {
    wait = wait * 2 > VS_REPORTER_RETRY_MAX_S * VS_NS_PER_SEC
               ? VS_REPORTER_RETRY_MAX_S * VS_NS_PER_SEC
               : wait * 2;
    assert_true(r.retry_ns == wait);
    r.retry_at = 0; /* due now */
    uint64_t before = vs_now_ns();
    put(&r, "vm", i);
    assert_true(r.down);
    assert_true(r.retry_at >= before + wait &&
                r.retry_at <= vs_now_ns() + wait);
    assert_int_equal(vs_reporter_sync(&r), 0);
  }
  assert_true(r.retry_ns == VS_REPORTER_RETRY_MAX_S * VS_NS_PER_SEC);
  vs_reporter_finish(&r);
  assert_int_equal(r.spooled, 8);
  assert_int_equal(r.waiting, 8);
  assert_int_equal(r.recovered + r.lost + r.delivered, 0);
  assert_non_null(strstr(r.problem.msg, sock));
  vs_reporter_close(&r);
  assert_int_equal(waiting_in_spool(), 8);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_back_mid_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_back_before_the_end, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
