/* Fuzzes the spool reader (vs_spool_replay(), what --replay and every run
 * that reaches collectd do; vs_spool_count(); vs_spool_check_line() on
 * every line): the input is another run's spool file in a temporary spool
 * directory, replayed (as often as it takes to empty it, up to 16 times)
 * into a sink standing for collectd: a
 * PUTNOTIF with severity=warning is refused, a PUTVAL with a negative
 * value fails the transport, anything else is taken.
 *
 * Checks what the spool promises: every line ends up in exactly one place
 * (delivered, rejected.log, quarantine.log, or still spooled: none lost,
 * none doubled, the leftover is what vs_spool_count() sees); only lines
 * vs_spool_check_line() accepts reach the sink; a line the transport keeps
 * failing is quarantined after VS_SPOOL_MAX_ATTEMPTS replays, so the spool
 * always drains. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs_start_spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SPOOL_NAME "00000000000000000001-1.spool"

static char dir[PATH_MAX];

static void dir_path(char *dst, size_t size, const char *name) {
  snprintf(dst, size, "%s/%s", dir, name);
}

static void clear_dir(void) {
  static const char *const names[] = {SPOOL_NAME, SPOOL_NAME ".tmp",
                                      VS_SPOOL_REJECTED, VS_SPOOL_QUARANTINE};
  char path[PATH_MAX + 64];
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    dir_path(path, sizeof(path), names[i]);
    unlink(path);
  }
}

static void remove_dir(void) {
  char path[PATH_MAX + 64];
  clear_dir();
  dir_path(path, sizeof(path), ".lock");
  unlink(path);
  rmdir(dir);
}

static void make_dir(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof(dir), "%s/vs-fuzz-spool.XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) /* 0700, ours: a spool vs_spool_open() trusts */
    abort();
  atexit(remove_dir);
}

typedef struct {
  size_t calls, failed;
} sink_t;

static int sink(void *ctx, const char *line) {
  sink_t *k = ctx;
  const char *reason;
  k->calls++;
  if (vs_spool_check_line(line, strlen(line), &reason) != 0)
    abort(); /* a line the spool should have quarantined */
  if (strncmp(line, "PUTNOTIF ", 9) == 0 && strstr(line, " severity=warning"))
    return -EPROTO;
  const char *colon = strrchr(line, ':');
  if (strncmp(line, "PUTVAL ", 7) == 0 && colon && colon[1] == '-') {
    k->failed++;
    return -ECONNRESET;
  }
  return 0;
}

static size_t count_lines(const char *name) {
  char path[PATH_MAX + 64];
  dir_path(path, sizeof(path), name);
  FILE *f = fopen(path, "r");
  size_t n = 0;
  int c;
  if (!f)
    return 0;
  while ((c = getc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!*dir)
    make_dir();
  char path[PATH_MAX + 64];
  dir_path(path, sizeof(path), SPOOL_NAME);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) < 0)
    abort();

  size_t waiting, delivered = 0, rejected = 0, damaged = 0;
  if (vs_spool_count(dir, &waiting) < 0)
    abort();
  const size_t total = waiting;
  /* Rounds until it is empty (bounded: each failing line takes
   * VS_SPOOL_MAX_ATTEMPTS of them). */
  int progress = -1; /* last round that took a line out */
  for (int round = 0; round < 16; round++) {
    vs_spool_t s;
    vs_error_t err = {0};
    if (vs_spool_open(&s, dir, &err) < 0)
      abort();
    sink_t k = {0};
    vs_spool_stats_t st;
    int r = vs_spool_replay(&s, sink, &k, &st, &err);
    vs_spool_close(&s);
    if (r < 0 || st.problems)
      abort(); /* no I/O problem in a private temporary directory */
    size_t left;
    if (vs_spool_count(dir, &left) < 0)
      abort();
    /* Every line accounted for once. */
    if (st.delivered + st.rejected + st.damaged + st.left != waiting ||
        st.left != left || k.calls != st.delivered + st.rejected + k.failed ||
        k.failed > 1)
      abort();
    if ((left == 0) != (st.files_done == 1))
      abort();
    delivered += st.delivered;
    rejected += st.rejected;
    damaged += st.damaged;
    if (left < waiting)
      progress = round;
    else if (round - progress >= VS_SPOOL_MAX_ATTEMPTS)
      abort(); /* a failing line must not block the spool for ever */
    waiting = left;
    if (waiting == 0)
      break;
  }
  if (delivered + rejected + damaged + waiting != total ||
      count_lines(VS_SPOOL_REJECTED) != rejected ||
      count_lines(VS_SPOOL_QUARANTINE) != damaged)
    abort();
  if ((waiting == 0) != (access(path, F_OK) < 0))
    abort(); /* an emptied file goes, one with lines left stays */
  clear_dir();
  return 0;
}
