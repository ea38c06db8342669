/* virtscale-start - the spool: collectd commands that could not be
 * delivered, kept on disk in order until a later run (or --replay)
 * delivers them.
 *
 * Layout: DIR/<start time ns, 20 digits>-<pid>.spool, one file per run,
 * holding a header line, optionally "# attempts N" (see below), and then
 * ready-made unixsock command lines (PUTVAL, PUTNOTIF; their times are the
 * original ones). Lines are delivered oldest file first, in order, so a
 * value is never sent after a newer one of the same identifier (collectd's
 * cache drops a value older than the one it has, silently: the unixsock
 * reply is still "0 Success"). DIR/.lock serialises replays.
 *
 * Trust: DIR must be a directory owned by the effective user and not
 * writable by group or others (as created: mode 0700). Anyone else who
 * could write there could make the helper send any command to collectd.
 * Every file in it is opened relative to the directory checked once, with
 * O_NOFOLLOW (a symbolic link is refused, never followed) and must be a
 * regular file.
 *
 * A run's file and replay: a run creates its file as <name>.open (a name
 * replay ignores), takes an exclusive flock on it, writes the header and
 * only then renames it to <name>.spool, holding the lock until it closes
 * the file. So every file replay can see by its final name is either
 * locked by a run still writing it (replay skips it) or complete; replay
 * never takes a file between its creation and its lock. A .open file left
 * by a crash in that instant holds no command line. A run whose collectd
 * answers again releases its file (vs_spool_release(): synced, unlocked,
 * complete) and replays the spool itself; what it appends afterwards goes
 * to a new file.
 *
 * What replay sends: only lines as the helper writes them (see
 * vs_spool_check_line()), complete (ending in a newline). Anything else -
 * a malformed or foreign line, a line cut by a crash or a full disk, a
 * line that got no answer from collectd in VS_SPOOL_MAX_ATTEMPTS replays -
 * goes to DIR/quarantine.log with its reason, never to collectd. Lines
 * collectd refuses (negative status) go to DIR/rejected.log verbatim, not
 * retried. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/vs_error.h"

#define VS_SPOOL_HEADER "# virtscale-start spool 1"
/* Second line of a file whose first line failed replays: how many. */
#define VS_SPOOL_ATTEMPTS "# attempts "
/* Replays a line may fail (no answer, connection lost while it was sent)
 * before it is quarantined so that it no longer blocks the ones behind. */
#define VS_SPOOL_MAX_ATTEMPTS 3
#define VS_SPOOL_REJECTED "rejected.log"
#define VS_SPOOL_QUARANTINE "quarantine.log"

typedef struct {
  size_t delivered, rejected, left, files_done;
  size_t damaged;  /* lines moved to quarantine.log (malformed, cut, or
                      unanswered in VS_SPOOL_MAX_ATTEMPTS replays) */
  size_t problems; /* files that could not be replayed: kept as they were */
} vs_spool_stats_t;

typedef struct {
  char *dir;  /* owned */
  int dfd;    /* the checked directory (every file opened relative) */
  char *path; /* this run's file, NULL until the first append (owned) */
  int fd;     /* this run's file, -1 until the first append */
  off_t good; /* end of its last complete line (rollback point) */
  size_t appended;
  bool untrusted;  /* vs_spool_open() refused the directory (-EPERM) */
  char **released; /* names of this run's released files (owned) */
  size_t n_released;
  /* What this process's replays did to its released files: counts summed
   * over the replays, left as of the last one. */
  vs_spool_stats_t mine;
} vs_spool_t;

/* Prepare the spool in dir (created with mode 0700 if missing; parents
 * must exist). A directory owned by another user than the effective one,
 * or writable by group or others, is refused: -EPERM, s->untrusted set,
 * err naming the directory, its owner and mode. Returns 0 or a negative
 * errno with err set; s needs vs_spool_close() only after success. */
int vs_spool_open(vs_spool_t *s, const char *dir, vs_error_t *err);

/* Append one command line (no newline in it) to this run's file, creating
 * it on first use. A write that fails part-way (a full disk) is rolled
 * back, so the next line never joins a cut one. Data reaches the disk at
 * vs_spool_sync(). Returns 0 or a negative errno with err set (a spool
 * that cannot be written). */
int vs_spool_append(vs_spool_t *s, const char *line, vs_error_t *err);

/* fdatasync this run's file (no-op before the first append). */
int vs_spool_sync(vs_spool_t *s, vs_error_t *err);

/* Hand this run's file over to replay: fdatasync it, then close it (which
 * drops its lock), so that a replay - this run's own (counted in s->mine)
 * or another's - takes it like any complete file of an earlier run. The
 * next vs_spool_append() starts a new file. No-op before the first append.
 * Returns 0, or a negative errno with err set and the file kept (a failed
 * sync: its lines cannot be counted on). */
int vs_spool_release(vs_spool_t *s, vs_error_t *err);

/* Whether line (len bytes, no newline) is one the helper writes:
 *   PUTVAL "<host>/virtscale_start[-<pinst>]/<type>[-<tinst>]"
 *          [interval=N] <time>:<value>[:<value>...]
 *   PUTNOTIF severity=failure|warning|okay time=T [host="..."]
 *          plugin="virtscale_start" [plugin_instance="..."] [type="..."]
 *          [type_instance="..."] message="..."
 * each identifier field as vs_idfield() writes it, quoted as
 * vs_unixsock_quote() does, no control character, at most
 * VS_UNIXSOCK_LINE_MAX bytes. Returns 0, or -EINVAL with *reason set (a
 * static string). Pure. */
int vs_spool_check_line(const char *line, size_t len, const char **reason);

/* Deliver one line: 0 delivered, -EPROTO refused by collectd (moved to
 * rejected.log), any other negative errno: the transport failed (stop). */
typedef int (*vs_spool_send_fn)(void *ctx, const char *line);

/* Deliver every spooled line of complete, unlocked files (other runs' and
 * this run's released ones), oldest first, through send: stats counts the
 * other runs' lines, s->mine this run's. Stops sending at the first transport
 * failure and keeps what was not delivered. A file that cannot be opened,
 * read or rewritten (a directory or a symbolic link by that name, EACCES,
 * EIO, ENOSPC) is left as it was, counted in stats->problems with the
 * first such error in err, and the next file is replayed; quarantined
 * lines are reported in err too. Returns 0 (see stats) or a negative errno
 * with err set when the spool directory itself could not be locked or
 * listed. */
int vs_spool_replay(vs_spool_t *s, vs_spool_send_fn send, void *ctx,
                    vs_spool_stats_t *stats, vs_error_t *err);

/* Number of command lines waiting in dir (all files, well-formed or not).
 * Returns 0 or a negative errno (-ENOENT: no spool directory, i.e. nothing
 * waits). */
int vs_spool_count(const char *dir, size_t *ret);

/* Close this run's file and free s (NULL-safe). */
void vs_spool_close(vs_spool_t *s);
