/* unixsock command lines and replies (startup-helper/vs_start_unixsock.h)
 * and the collectd lines of a VM and a batch (vs_start_collectd.h):
 * quoting of hostile names, the 1023-byte line limit, reply parsing, and a
 * client round trip against a socketpair standing in for collectd. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/vs_idfield.h"
#include "common/vs_time.h"
#include "vs_start_collectd.h"
#include "vs_start_unixsock.h"

/* collectd's parse_string() for a quoted string, as a reference model:
 * returns the unquoted value, or NULL when collectd would reject it. */
static char *unquote(const char *s, const char **rest) {
  if (*s != '"')
    return NULL;
  char *out = malloc(strlen(s) + 1), *o = out;
  for (s++; *s != '"'; s++) {
    if (*s == '\\') {
      s++;
    }
    if (*s == '\0') {
      free(out);
      return NULL;
    }
    *o++ = *s;
  }
  *o = '\0';
  if (rest)
    *rest = s + 1;
  return out;
}

static void test_quote(void **state) {
  static const char *names[] = {
      "plain",        "with space",
      "q\"uote",      "back\\slash",
      "\\\"both\\\"", "\xc3\xbc \xe6\x97\xa5\xe6\x9c\xac",
      "'single'",     "",
  };
  char buf[512];
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    int n = vs_unixsock_quote(buf, sizeof(buf), names[i]);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    const char *rest;
    char *back = unquote(buf, &rest);
    assert_non_null(back);
    assert_string_equal(back, names[i]);
    assert_string_equal(rest, "");
    free(back);
  }
  /* Control characters (a newline would end the command) become spaces. */
  assert_int_equal(vs_unixsock_quote(buf, sizeof(buf), "a\nb\tc\x7f"), 8);
  assert_string_equal(buf, "\"a b c \"");
  /* Too small. */
  assert_int_equal(vs_unixsock_quote(buf, 4, "ab"), -E2BIG);
  assert_int_equal(vs_unixsock_quote(buf, 5, "ab"), 4);
  assert_int_equal(vs_unixsock_quote(buf, 5, "a\""), -E2BIG);
}

static void test_putval(void **state) {
  char line[1100];
  vs_unixsock_ident_t id = {.host = "vm \"1\" \\ \xc3\xbc",
                            .plugin = "virtscale_start",
                            .type = "duration",
                            .type_instance = "ready"};
  int n = vs_unixsock_putval(line, sizeof(line), &id, 0, 1700000000.1234, 5.25);
  assert_true(n > 0);
  assert_string_equal(line, "PUTVAL \"vm \\\"1\\\" \\\\ \xc3\xbc/"
                            "virtscale_start/duration-ready\" "
                            "1700000000.123:5.250000");
  /* Instances are optional. */
  vs_unixsock_ident_t id2 = {
      .host = "h", .plugin = "p", .plugin_instance = "pi", .type = "count"};
  vs_unixsock_putval(line, sizeof(line), &id2, 10, 1, 2);
  assert_string_equal(line,
                      "PUTVAL \"h/p-pi/count\" interval=10.000 1.000:2.000000");
  /* The longest safe host (127 bytes of quotes) still fits one line. */
  char host[VS_IDENT_MAX];
  memset(host, '"', VS_IDENT_MAX - 1);
  host[VS_IDENT_MAX - 1] = '\0';
  id.host = host;
  n = vs_unixsock_putval(line, sizeof(line), &id, 3600, 1700000000, 1);
  assert_true(n > 0 && n <= VS_UNIXSOCK_LINE_MAX);
  /* A line collectd would split is refused. */
  char huge[700];
  memset(huge, '\\', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = '\0';
  id.host = huge;
  assert_int_equal(vs_unixsock_putval(line, sizeof(line), &id, 0, 1, 1),
                   -E2BIG);
}

static void test_putnotif(void **state) {
  char line[1100];
  vs_unixsock_ident_t id = {.host = "my vm",
                            .plugin = "virtscale_start",
                            .type = "duration",
                            .type_instance = "ready"};
  int n = vs_unixsock_putnotif(line, sizeof(line), "failure", 1700000000.5, &id,
                               "start failed: \"disk\"\nmissing");
  assert_true(n > 0);
  assert_string_equal(line, "PUTNOTIF severity=failure time=1700000000.500 "
                            "host=\"my vm\" plugin=\"virtscale_start\" "
                            "type=\"duration\" type_instance=\"ready\" "
                            "message=\"start failed: \\\"disk\\\" missing\"");
  /* A long message is cut (at a character boundary) to fit one line. */
  char msg[3000];
  size_t o = 0;
  while (o + 2 < sizeof(msg)) {
    msg[o++] = '\xc3';
    msg[o++] = '\xbc';
  }
  msg[o] = '\0';
  n = vs_unixsock_putnotif(line, sizeof(line), "failure", 1, &id, msg);
  assert_true(n > 0 && n <= VS_UNIXSOCK_LINE_MAX);
  assert_non_null(strstr(line, "...\""));
  const char *m = strstr(line, "message=") + 8;
  char *back = unquote(m, NULL);
  assert_non_null(back);
  /* Only whole two-byte characters before the "..." */
  size_t blen = strlen(back);
  assert_string_equal(back + blen - 3, "...");
  assert_int_equal((blen - 3) % 2, 0);
  free(back);
  /* A message its caller cut inside a character (a fixed buffer): the
   * broken character is left out, never sent to collectd. */
  n = vs_unixsock_putnotif(line, sizeof(line), "failure", 1, &id,
                           "VM \xc3\xbc\xe2\x82");
  assert_true(n > 0);
  assert_non_null(strstr(line, "message=\"VM \xc3\xbc\"\0"));
  assert_string_equal(strstr(line, "message="), "message=\"VM \xc3\xbc\"");
}

static void test_reply(void **state) {
  vs_unixsock_reply_t r;
  assert_int_equal(
      vs_unixsock_parse_reply("0 Success: 1 value has been dispatched.", &r),
      0);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.message, "Success: 1 value has been dispatched.");
  assert_int_equal(vs_unixsock_parse_reply("-1 No such value", &r), 0);
  assert_int_equal(r.status, -1);
  assert_string_equal(r.message, "No such value");
  assert_int_equal(vs_unixsock_parse_reply("2 Values found", &r), 0);
  assert_int_equal(r.status, 2);
  assert_int_equal(vs_unixsock_parse_reply("3", &r), 0);
  const char *bad[] = {"",   "Success",       "-",    "- 1",
                       "1x", "99999999999 x", " 0 ok"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    assert_int_equal(vs_unixsock_parse_reply(bad[i], &r), -EPROTO);
  /* A long message is kept up to a character boundary (it goes into error
   * messages and logs), whichever byte the buffer's end falls on. */
  for (int shift = 0; shift < 2; shift++) {
    char line[1024];
    size_t o = (size_t)snprintf(line, sizeof(line), "-1 %s", shift ? "x" : "");
    while (o + 3 < sizeof(line)) {
      line[o++] = '\xc3';
      line[o++] = '\xa9';
    }
    line[o] = '\0';
    assert_int_equal(vs_unixsock_parse_reply(line, &r), 0);
    size_t len = strlen(r.message);
    assert_true(len >= sizeof(r.message) - 2);
    assert_int_equal((unsigned char)r.message[len - 1], 0xa9);
  }
}

/* A fake collectd on a unix socket: answers each line with the next reply
 * of a script (NULL: say nothing, so the client must time out). */
typedef struct {
  int listen_fd;
  const char *const *replies;
  size_t n;
  char got[8][1100];
} fake_t;

static void *fake_collectd(void *arg) {
  fake_t *f = arg;
  int fd = accept(f->listen_fd, NULL, NULL);
  FILE *in = fdopen(fd, "r");
  for (size_t i = 0; i < f->n; i++) {
    if (!fgets(f->got[i], sizeof(f->got[i]), in))
      break;
    if (f->replies[i]) {
      if (write(fd, f->replies[i], strlen(f->replies[i])) < 0)
        break;
    } else {
      sleep(1);
    }
  }
  fclose(in);
  return NULL;
}

static void test_client(void **state) {
  char path[] = "/tmp/vs-test-unixsock-XXXXXX";
  assert_non_null(mkdtemp(path));
  char sock[200];
  snprintf(sock, sizeof(sock), "%s/s", path);
  vs_unixsock_t c;
  vs_error_t err = {0};
  /* No socket yet. */
  assert_int_equal(vs_unixsock_connect(&c, sock, 1, &err), -ENOENT);
  assert_non_null(strstr(err.msg, "No such file"));

  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, sock);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(lfd, 4), 0);
  static const char *const replies[] = {
      "0 Success: 1 value has been dispatched.\n",
      "-1 Parsing the identifier failed.\n", "2 Values found\nv=1\nw=2\n",
      "0 ok\n", NULL};
  fake_t f = {.listen_fd = lfd, .replies = replies, .n = 5};
  pthread_t th;
  pthread_create(&th, NULL, fake_collectd, &f);

  assert_int_equal(vs_unixsock_connect(&c, sock, 0.3, &err), 0);
  vs_unixsock_reply_t r;
  assert_int_equal(vs_unixsock_command(&c, "PUTVAL \"a/b/c\" 1:1", &r, &err),
                   0);
  assert_int_equal(vs_unixsock_command(&c, "PUTVAL x", &r, &err), -EPROTO);
  assert_non_null(strstr(err.msg, "Parsing the identifier failed."));
  /* Extra lines announced by the status are read and dropped. */
  assert_int_equal(vs_unixsock_command(&c, "GETVAL \"a/b/c\"", &r, &err), 0);
  assert_int_equal(r.status, 2);
  assert_int_equal(vs_unixsock_command(&c, "FLUSH", &r, &err), 0);
  assert_string_equal(r.message, "ok");
  /* No reply: times out and closes instead of hanging. */
  assert_int_equal(vs_unixsock_command(&c, "SILENCE", &r, &err), -ETIMEDOUT);
  assert_int_equal(c.fd, -1);
  assert_int_equal(vs_unixsock_command(&c, "X", &r, &err), -ENOTCONN);
  pthread_join(th, NULL);
  assert_string_equal(f.got[0], "PUTVAL \"a/b/c\" 1:1\n");
  assert_string_equal(f.got[4], "SILENCE\n");

  /* A timeout of 35 days (over INT_MAX ms) still waits for the reply. */
  static const char *const ok[] = {"0 ok\n"};
  fake_t g = {.listen_fd = lfd, .replies = ok, .n = 1};
  pthread_create(&th, NULL, fake_collectd, &g);
  assert_int_equal(vs_unixsock_connect(&c, sock, 3e6, &err), 0);
  assert_true(c.timeout_ns == 3000000ULL * 1000000000ULL);
  assert_int_equal(vs_unixsock_command(&c, "FLUSH", &r, &err), 0);
  assert_string_equal(r.message, "ok");
  vs_unixsock_close(&c);
  pthread_join(th, NULL);
  close(lfd);
  unlink(sock);
  rmdir(path);
}

/* ---- a collectd that misbehaves ---- */

typedef enum {
  H_STALL,     /* reads the command, never answers */
  H_TRICKLE,   /* answers one byte every 50 ms (3 s for the line) */
  H_CLOSE_MID, /* half a reply, then closes */
  H_HUGE_LINE, /* a 5000-byte reply line */
  H_LONG_UTF8, /* a 3 KB refusal of two-byte characters */
} hostile_t;

typedef struct {
  int listen_fd;
  hostile_t how;
} hostile_srv_t;

static void *hostile_collectd(void *arg) {
  hostile_srv_t *h = arg;
  int fd = accept(h->listen_fd, NULL, NULL);
  if (fd < 0)
    return NULL;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n')
    ;
  static char buf[6000];
  size_t n = 0;
  switch (h->how) {
  case H_STALL:
    usleep(1500 * 1000);
    break;
  case H_TRICKLE:
    for (const char *p = "0 Success: 1 value has been dispatched, slowly.\n";
         *p; p++) {
      if (send(fd, p, 1, MSG_NOSIGNAL) != 1)
        break;
      usleep(50 * 1000);
    }
    break;
  case H_CLOSE_MID:
    if (send(fd, "0 Succ", 6, MSG_NOSIGNAL) != 6)
      break;
    break;
  case H_HUGE_LINE:
    memset(buf, 'x', 5000);
    memcpy(buf, "0 ", 2);
    n = 5000;
    break;
  case H_LONG_UTF8:
    n = (size_t)snprintf(buf, sizeof(buf), "-1 ");
    while (n < 3000) {
      buf[n++] = '\xc3';
      buf[n++] = '\xa9';
    }
    buf[n++] = '\n';
    break;
  }
  /* the client may have gone: no SIGPIPE */
  if (n && send(fd, buf, n, MSG_NOSIGNAL) < 0)
    n = 0;
  if (h->how == H_HUGE_LINE)
    usleep(500 * 1000); /* the client must not wait for the rest */
  close(fd);
  return NULL;
}

/* Each misbehaviour ends the command within the timeout (0.3 s) or at
 * once, with a message that says what happened; the connection is closed
 * (a refusal keeps it). */
static void test_client_hostile(void **state) {
  char path[] = "/tmp/vs-test-unixsock-XXXXXX";
  assert_non_null(mkdtemp(path));
  char sock[200];
  snprintf(sock, sizeof(sock), "%s/s", path);
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, sock);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(lfd, 4), 0);
  static const struct {
    hostile_t how;
    int code;
    const char *msg;
    double max_s; /* the command ends within (generous: a loaded host) */
  } cases[] = {
      {H_STALL, -ETIMEDOUT,
       "collectd socket: timed out after 0.3 s: collectd took no command or "
       "sent no complete reply",
       1.2},
      {H_TRICKLE, -ETIMEDOUT, "collectd socket: timed out after 0.3 s", 1.2},
      {H_CLOSE_MID, -ECONNRESET,
       "collectd socket: collectd closed the connection before its reply was "
       "complete",
       1.2},
      {H_HUGE_LINE, -EIO,
       "collectd socket: a reply line longer than 4095 bytes", 0.29},
      {H_LONG_UTF8, -EPROTO, "collectd refused 'PUTVAL \"a/b/c\" 1:1': ", 1.2},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hostile_srv_t h = {.listen_fd = lfd, .how = cases[i].how};
    pthread_t th;
    pthread_create(&th, NULL, hostile_collectd, &h);
    vs_unixsock_t c;
    vs_error_t err = {0};
    vs_unixsock_reply_t r;
    assert_int_equal(vs_unixsock_connect(&c, sock, 0.3, &err), 0);
    uint64_t t0 = vs_now_ns();
    int rc = vs_unixsock_command(&c, "PUTVAL \"a/b/c\" 1:1", &r, &err);
    double took = (double)(vs_now_ns() - t0) / 1e9;
    print_message("case %zu: %d in %.3f s: %s\n", i, rc, took, err.msg);
    assert_int_equal(rc, cases[i].code);
    assert_memory_equal(err.msg, cases[i].msg, strlen(cases[i].msg));
    assert_true(took < cases[i].max_s);
    size_t len = strlen(err.msg);
    assert_int_equal(vs_utf8_cut(err.msg, len, len), len); /* whole chars */
    assert_int_equal(c.fd >= 0, cases[i].code == -EPROTO);
    vs_unixsock_close(&c);
    pthread_join(th, NULL);
  }
  close(lfd);
  unlink(sock);
  rmdir(path);
}

/* ---- collectd lines of VMs and batches ---- */

typedef struct {
  char lines[32][1100];
  size_t n;
} sink_t;

static int collect(void *ctx, const char *line) {
  sink_t *s = ctx;
  if (s->n == 32)
    return -ENOSPC;
  snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s", line);
  return 0;
}

#define T0 1000000000000ULL          /* monotonic origin */
#define WALL0 1700000000000000000ULL /* its wall time: 1700000000 s */
#define SEC 1000000000ULL

static void test_vm_lines(void **state) {
  vs_vm_t vm = {.name = "web \"1\"", .state = VS_VM_READY};
  vm.t = (vs_vm_times_t){.request = T0,
                         .create_start = T0 + 2 * SEC,
                         .create_end = T0 + 3 * SEC,
                         .running = T0 + 3 * SEC,
                         .ready = T0 + 7 * SEC};
  sink_t s = {0};
  assert_int_equal(vs_collectd_vm_lines(&vm, T0, WALL0, collect, &s), 0);
  assert_int_equal(s.n, 5);
  assert_string_equal(
      s.lines[0], "PUTVAL \"web \\\"1\\\"/virtscale_start/"
                  "duration-wait\" interval=3600.000 1700000002.000:2.000000");
  assert_string_equal(
      s.lines[1],
      "PUTVAL \"web \\\"1\\\"/virtscale_start/"
      "duration-create\" interval=3600.000 1700000003.000:1.000000");
  assert_string_equal(
      s.lines[2],
      "PUTVAL \"web \\\"1\\\"/virtscale_start/"
      "duration-running\" interval=3600.000 1700000003.000:1.000000");
  assert_string_equal(
      s.lines[3], "PUTVAL \"web \\\"1\\\"/virtscale_start/"
                  "duration-ready\" interval=3600.000 1700000007.000:5.000000");
  assert_string_equal(
      s.lines[4], "PUTVAL \"web \\\"1\\\"/virtscale_start/"
                  "duration-total\" interval=3600.000 1700000007.000:7.000000");

  /* A failed VM: the phases it reached, and a FAILURE notification. */
  vs_vm_t bad = {.name = "db/1",
                 .state = VS_VM_FAILED,
                 .error = "start failed: Cannot access storage file"};
  bad.t = (vs_vm_times_t){.request = T0,
                          .create_start = T0,
                          .create_end = T0 + SEC / 2,
                          .done = T0 + SEC / 2};
  s.n = 0;
  assert_int_equal(vs_collectd_vm_lines(&bad, T0, WALL0, collect, &s), 0);
  assert_int_equal(s.n, 3);
  assert_string_equal(
      s.lines[2],
      "PUTNOTIF severity=failure time=1700000000.500 host=\"db%2F1\" "
      "plugin=\"virtscale_start\" type=\"duration\" type_instance=\"ready\" "
      "message=\"virtscale-start: VM \\\"db/1\\\" failed to start: start "
      "failed: Cannot access storage file\"");

  /* A 200-byte name: the host field is the safe 127-byte form. */
  char long_name[201];
  memset(long_name, 'L', 200);
  long_name[200] = '\0';
  vm.name = long_name;
  s.n = 0;
  vs_collectd_vm_lines(&vm, T0, WALL0, collect, &s);
  char host[VS_IDENT_MAX];
  vs_idfield(host, sizeof(host), long_name);
  assert_int_equal(strlen(host), 127);
  char want[300];
  snprintf(want, sizeof(want), "PUTVAL \"%s/virtscale_start/duration-wait\"",
           host);
  assert_memory_equal(s.lines[0], want, strlen(want));
}

static void test_batch_lines(void **state) {
  vs_vm_t vms[2] = {{.name = "a", .state = VS_VM_READY},
                    {.name = "b", .state = VS_VM_FAILED, .error = "x"}};
  vms[0].t = (vs_vm_times_t){.request = T0,
                             .create_start = T0,
                             .create_end = T0 + SEC,
                             .running = T0 + SEC,
                             .ready = T0 + 4 * SEC,
                             .done = T0 + 4 * SEC};
  vms[1].t = (vs_vm_times_t){.request = T0,
                             .create_start = T0,
                             .create_end = T0 + SEC,
                             .done = T0 + SEC};
  vs_batch_t b = {.vms = vms,
                  .n = 2,
                  .t0 = T0,
                  .wall0 = WALL0,
                  .t_end = T0 + 4 * SEC,
                  .final_bound = 3};
  b.conf.auto_parallel = true;
  sink_t s = {0};
  assert_int_equal(vs_collectd_batch_lines(&b, "hv 1", collect, &s), 0);
  assert_string_equal(s.lines[0], "PUTVAL \"hv 1/virtscale_start/count-vms\" "
                                  "interval=3600.000 1700000004.000:2.000000");
  assert_string_equal(
      s.lines[2], "PUTVAL \"hv 1/virtscale_start/"
                  "count-failed\" interval=3600.000 1700000004.000:1.000000");
  assert_string_equal(
      s.lines[3], "PUTVAL \"hv 1/virtscale_start/"
                  "count-bound\" interval=3600.000 1700000004.000:3.000000");
  assert_string_equal(
      s.lines[4], "PUTVAL \"hv 1/virtscale_start/"
                  "duration-wall\" interval=3600.000 1700000004.000:4.000000");
  bool found_total = false;
  for (size_t i = 0; i < s.n; i++)
    if (strstr(
            s.lines[i],
            "duration-total_p95\" interval=3600.000 1700000004.000:4.000000"))
      found_total = true;
  assert_true(found_total);
  assert_non_null(strstr(s.lines[s.n - 1], "PUTNOTIF severity=warning"));
  assert_non_null(strstr(s.lines[s.n - 1], "1 of 2 VMs ready in 4.0 s "
                                           "(bound 3, auto)"));
  assert_non_null(strstr(s.lines[s.n - 1], "failed: b\""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quote),    cmocka_unit_test(test_putval),
      cmocka_unit_test(test_putnotif), cmocka_unit_test(test_reply),
      cmocka_unit_test(test_client),   cmocka_unit_test(test_client_hostile),
      cmocka_unit_test(test_vm_lines), cmocka_unit_test(test_batch_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
