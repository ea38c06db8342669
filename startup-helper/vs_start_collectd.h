/* virtscale-start - timings into collectd through its unixsock plugin,
 * with the spool as a fallback.
 *
 * Identifiers (stock types only, so every writer handles them):
 *   per VM:  <vm>/virtscale_start/duration-<phase>, phase = wait, create,
 *            running, ready, total (seconds; only phases the VM reached).
 *            <vm> is the domain name made safe with vs_idfield() —
 *            the same host field the virtscale plugin writes by default,
 *            so a VM's boot timings sit next to its other metrics.
 *   batch:   <host>/virtscale_start/count-{vms,ready,failed,bound},
 *            duration-wall, duration-<phase>_{p50,p95,max}.
 * Each value carries the time its phase ended, so a spooled value keeps
 * its time. Notifications: FAILURE per failed VM (host = the VM, message
 * names it and libvirt's error), one per batch (OKAY or WARNING).
 *
 * Delivery: at open, the spool is replayed first (oldest first), so values
 * reach collectd in time order per identifier. Once the socket fails
 * during a run the run's lines go to the spool, and the reporter tries
 * to reconnect at a later line (VS_REPORTER_RETRY_MIN_S after the failure,
 * the wait doubling after each failed attempt up to VS_REPORTER_RETRY_MAX_S)
 * and once more at vs_reporter_finish(). When collectd answers again, this
 * run's spool file is released and the whole spool replayed (earlier
 * runs' files first, then this run's), and only when nothing is left
 * behind do lines go to collectd directly again: a run's timings reach
 * collectd before it exits whenever collectd is back by then. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "vs_start_batch.h"
#include "vs_start_spool.h"
#include "vs_start_unixsock.h"

#define VS_START_PLUGIN "virtscale_start"

/* Interval the one-shot values are sent with (seconds). collectd forgets a
 * value Timeout (2) x its interval after it arrived: with collectd's own
 * interval (10 s) a boot timing would vanish from GETVAL, write_prometheus
 * and the like seconds after the boot. An hour keeps it for two; the
 * threshold example's `Interesting false` keeps it from being reported as
 * missing afterwards. */
#define VS_START_VALUE_INTERVAL 3600.0

/* Reconnection attempts after a failure: the first this long after it,
 * then after twice the previous wait, at most VS_REPORTER_RETRY_MAX_S (s).
 * An absent socket costs a refused connect; a hung collectd costs
 * --socket-timeout on the batch's thread, hence the growing wait. */
#define VS_REPORTER_RETRY_MIN_S 1
#define VS_REPORTER_RETRY_MAX_S 30

/* Receives one command line; returns 0 or a negative errno. */
typedef int (*vs_line_fn)(void *ctx, const char *line);

/* Build the PUTVAL lines of a finished VM (and its PUTNOTIF if it failed)
 * and hand each to fn. t0/wall0: the batch's monotonic and wall-clock
 * origins (ns). Returns 0 or the first error of fn / -E2BIG. Pure. */
int vs_collectd_vm_lines(const vs_vm_t *vm, uint64_t t0, uint64_t wall0,
                         vs_line_fn fn, void *ctx);

/* Build the batch summary lines (values and one PUTNOTIF) for host.
 * Returns 0 or a negative errno. Pure. */
int vs_collectd_batch_lines(const vs_batch_t *b, const char *host,
                            vs_line_fn fn, void *ctx);

typedef struct {
  char *socket_path; /* NULL: collectd disabled (owned) */
  vs_unixsock_t sock;
  double timeout_s;
  bool down; /* the socket failed in this run: spool the rest */
  vs_spool_t spool;
  bool spool_open; /* false: collectd disabled, or the spool refused */
  vs_spool_stats_t replayed; /* what the replay at open did */
  bool replay_failed;        /* earlier timings could not all be replayed */
  /* This run's lines: delivered directly, refused by collectd, written to
   * the spool (and synced), lost (neither, or quarantined from this run's
   * own file); of the spooled ones, recovered = delivered by this run's
   * replays once collectd answered again, waiting = still in the spool. */
  size_t delivered, refused, spooled, lost, recovered, waiting;
  size_t unsynced;    /* spooled since the last successful sync */
  uint64_t retry_at;  /* while down: no reconnection before (monotonic ns) */
  uint64_t retry_ns;  /* the wait after the next failure */
  vs_error_t problem; /* first delivery or spool problem */
} vs_reporter_t;

/* Open the spool in spool_dir and, unless socket_path is NULL, connect
 * to collectd and replay the spool. An unreachable collectd is not an
 * error (the run spools), nor are earlier spool files that cannot be
 * replayed or lines of them quarantined (replay_failed, problem: they stay
 * as they were), nor a spool directory refused as untrusted (owned by
 * another user or writable by others: spool_open false, replay_failed,
 * problem; nothing is replayed or spooled, lines collectd does not take
 * are counted in lost); a spool this run cannot create or open is.
 * Returns 0 or a negative errno with err set. */
int vs_reporter_open(vs_reporter_t *r, const char *socket_path,
                     const char *spool_dir, double timeout_s, vs_error_t *err);

/* Deliver one line, or spool it, or count it as lost when it can be
 * neither (the first reason in problem). While collectd is down and a
 * reconnection is due, tries one first (see above). Returns 0: every line
 * is accounted for in the counters, and a caller building several lines
 * goes on with the next. */
int vs_reporter_line(void *reporter, const char *line);

/* Make spooled lines durable (call after each VM). */
int vs_reporter_sync(vs_reporter_t *r);

/* At the end of a run (after its last line and vs_reporter_sync()): if
 * collectd was down, try to reconnect now, whatever the wait, and replay
 * the spool, this run's lines included. Afterwards waiting is what a later
 * run or --replay has to deliver. */
void vs_reporter_finish(vs_reporter_t *r);

/* Close the socket and the spool. NULL-safe. */
void vs_reporter_close(vs_reporter_t *r);
