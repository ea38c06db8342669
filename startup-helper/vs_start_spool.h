/* virtscale-start - the spool: collectd commands that could not be
 * delivered, kept on disk in order until a later run (or --replay)
 * delivers them.
 *
 * Layout: DIR/<start time ns, 20 digits>-<pid>.spool, one file per run,
 * holding a header line and then ready-made unixsock command lines (PUTVAL,
 * PUTNOTIF; their times are the original ones). A run holds an exclusive
 * flock on its own file while it writes it, and replay skips locked files,
 * so a replay never takes lines from a run still going; DIR/.lock
 * serialises replays. Lines are delivered oldest file first, in order, so
 * a value is never sent after a newer one of the same identifier
 * (collectd's cache drops a value older than the one it has, silently: the
 * unixsock reply is still "0 Success"). Lines collectd refuses are moved to
 * DIR/rejected.log, not retried. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/vs_error.h"

#define VS_SPOOL_HEADER "# virtscale-start spool 1"

typedef struct {
  char *dir;  /* owned */
  char *path; /* this run's file, NULL until the first append (owned) */
  int fd;     /* this run's file, -1 until the first append */
  size_t appended;
} vs_spool_t;

/* Prepare the spool in dir (created with mode 0700 if missing; parents
 * must exist). Returns 0 or a negative errno with err set. */
int vs_spool_open(vs_spool_t *s, const char *dir, vs_error_t *err);

/* Append one command line (no newline in it) to this run's file, creating
 * it on first use. Data reaches the disk at vs_spool_sync(). Returns 0 or a
 * negative errno with err set (a spool that cannot be written). */
int vs_spool_append(vs_spool_t *s, const char *line, vs_error_t *err);

/* fdatasync this run's file (no-op before the first append). */
int vs_spool_sync(vs_spool_t *s, vs_error_t *err);

/* Deliver one line: 0 delivered, -EPROTO refused by collectd (moved to
 * rejected.log), any other negative errno: the transport failed (stop). */
typedef int (*vs_spool_send_fn)(void *ctx, const char *line);

typedef struct {
  size_t delivered, rejected, left, damaged, files_done;
  size_t problems; /* files that could not be replayed: kept as they were */
} vs_spool_stats_t;

/* Deliver every spooled line of other runs' (unlocked) files, oldest
 * first, through send. Stops at the first transport failure and keeps what
 * was not delivered. A file that cannot be opened, read or rewritten (a
 * directory by that name, EACCES, EIO, ENOSPC) is left as it was, counted
 * in stats->problems with the first such error in err, and the next file is
 * replayed. Returns 0 (see stats) or a negative errno with err set when the
 * spool directory itself could not be locked or listed. */
int vs_spool_replay(vs_spool_t *s, vs_spool_send_fn send, void *ctx,
                    vs_spool_stats_t *stats, vs_error_t *err);

/* Number of command lines waiting in dir (all files). Returns 0 or a
 * negative errno (-ENOENT: no spool directory, i.e. nothing waits). */
int vs_spool_count(const char *dir, size_t *ret);

/* Close this run's file and free s (NULL-safe). */
void vs_spool_close(vs_spool_t *s);
