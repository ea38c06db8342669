#include "vs_start_collectd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_idfield.h"
#include "common/vs_time.h"

#define LINE_SIZE 1100

static double wall_of(uint64_t t, uint64_t t0, uint64_t wall0) {
  return ((double)wall0 + ((double)t - (double)t0)) / 1e9;
}

/* Monotonic time at which phase p ended. */
static uint64_t phase_end(const vs_vm_times_t *t, vs_phase_t p) {
  switch (p) {
  case VS_PHASE_WAIT:
    return t->create_start;
  case VS_PHASE_CREATE:
    return t->create_end;
  case VS_PHASE_RUNNING:
    return t->running;
  default:
    return t->ready;
  }
}

int vs_collectd_vm_lines(const vs_vm_t *vm, uint64_t t0, uint64_t wall0,
                         vs_line_fn fn, void *ctx) {
  char host[VS_IDENT_MAX], line[LINE_SIZE];
  vs_idfield(host, sizeof(host), vm->name);
  for (vs_phase_t p = 0; p < VS_PHASE_COUNT; p++) {
    double secs;
    if (!vs_phase_seconds(&vm->t, p, &secs))
      continue;
    vs_unixsock_ident_t id = {.host = host,
                              .plugin = VS_START_PLUGIN,
                              .type = "duration",
                              .type_instance = vs_phase_name(p)};
    int n = vs_unixsock_putval(line, sizeof(line), &id, VS_START_VALUE_INTERVAL,
                               wall_of(phase_end(&vm->t, p), t0, wall0), secs);
    if (n < 0)
      return n;
    int r = fn(ctx, line);
    if (r < 0)
      return r;
  }
  if (vm->state == VS_VM_FAILED || vm->state == VS_VM_SKIPPED) {
    char msg[900];
    snprintf(msg, sizeof(msg), "virtscale-start: VM \"%s\" %s: %s", vm->name,
             vm->state == VS_VM_SKIPPED ? "skipped" : "failed to start",
             vm->error ? vm->error : "unknown error");
    vs_unixsock_ident_t id = {.host = host,
                              .plugin = VS_START_PLUGIN,
                              .type = "duration",
                              .type_instance = "ready"};
    uint64_t when = vm->t.done ? vm->t.done : t0;
    int n = vs_unixsock_putnotif(line, sizeof(line), "failure",
                                 wall_of(when, t0, wall0), &id, msg);
    if (n < 0)
      return n;
    return fn(ctx, line);
  }
  return 0;
}

static int put(const char *host, const char *type, const char *inst,
               double time, double value, vs_line_fn fn, void *ctx) {
  char line[LINE_SIZE];
  vs_unixsock_ident_t id = {.host = host,
                            .plugin = VS_START_PLUGIN,
                            .type = type,
                            .type_instance = inst};
  int n = vs_unixsock_putval(line, sizeof(line), &id, VS_START_VALUE_INTERVAL,
                             time, value);
  return n < 0 ? n : fn(ctx, line);
}

int vs_collectd_batch_lines(const vs_batch_t *b, const char *host_name,
                            vs_line_fn fn, void *ctx) {
  char host[VS_IDENT_MAX];
  vs_idfield(host, sizeof(host), host_name);
  double end = wall_of(b->t_end, b->t0, b->wall0);
  double wall = ((double)b->t_end - (double)b->t0) / 1e9;
  size_t ready = 0, failed = 0;
  for (size_t i = 0; i < b->n; i++) {
    if (b->vms[i].state == VS_VM_READY)
      ready++;
    else
      failed++;
  }
  int r;
  if ((r = put(host, "count", "vms", end, (double)b->n, fn, ctx)) < 0 ||
      (r = put(host, "count", "ready", end, (double)ready, fn, ctx)) < 0 ||
      (r = put(host, "count", "failed", end, (double)failed, fn, ctx)) < 0 ||
      (r = put(host, "count", "bound", end, (double)b->final_bound, fn, ctx)) <
          0 ||
      (r = put(host, "duration", "wall", end, wall, fn, ctx)) < 0)
    return r;
  vs_summary_t total = {0};
  for (vs_phase_t p = 0; p < VS_PHASE_COUNT; p++) {
    vs_summary_t s;
    if ((r = vs_summary_phase(b->vms, b->n, p, &s)) < 0)
      return r;
    if (p == VS_PHASE_TOTAL)
      total = s;
    if (s.n == 0)
      continue;
    char inst[64];
    static const char *const stat_names[] = {"p50", "p95", "max"};
    double stat_values[] = {s.p50, s.p95, s.max};
    for (int k = 0; k < 3; k++) {
      snprintf(inst, sizeof(inst), "%s_%s", vs_phase_name(p), stat_names[k]);
      if ((r = put(host, "duration", inst, end, stat_values[k], fn, ctx)) < 0)
        return r;
    }
  }
  char msg[900];
  int len =
      snprintf(msg, sizeof(msg),
               "virtscale-start: %zu of %zu VMs ready in %.1f s "
               "(bound %u%s); mean time to ready %.1f s, p95 %.1f s",
               ready, b->n, wall, b->final_bound,
               b->conf.auto_parallel ? ", auto" : "", total.mean, total.p95);
  if (failed && len > 0 && (size_t)len < sizeof(msg)) {
    size_t o = (size_t)len;
    o += (size_t)snprintf(msg + o, sizeof(msg) - o, "; failed:");
    for (size_t i = 0; i < b->n && o < sizeof(msg); i++)
      if (b->vms[i].state != VS_VM_READY)
        o += (size_t)snprintf(msg + o, sizeof(msg) - o, " %s", b->vms[i].name);
  }
  char line[LINE_SIZE];
  vs_unixsock_ident_t id = {.host = host,
                            .plugin = VS_START_PLUGIN,
                            .type = "duration",
                            .type_instance = "wall"};
  int n = vs_unixsock_putnotif(line, sizeof(line), failed ? "warning" : "okay",
                               end, &id, msg);
  return n < 0 ? n : fn(ctx, line);
}

/* ---- delivery ------------------------------------------------------------ */

static void note(vs_reporter_t *r, const vs_error_t *e) {
  if (r->problem.code == 0 && e->code != 0)
    r->problem = *e;
}

/* collectd is down: the next reconnection is due after the current wait,
 * and the one after that waits twice as long. */
static void went_down(vs_reporter_t *r) {
  r->down = true;
  r->retry_at = vs_now_ns() + r->retry_ns;
  r->retry_ns *= 2;
  if (r->retry_ns > VS_REPORTER_RETRY_MAX_S * VS_NS_PER_SEC)
    r->retry_ns = VS_REPORTER_RETRY_MAX_S * VS_NS_PER_SEC;
}

/* Send through the socket: 0, -EPROTO (refused) or a transport error. */
static int send_line(void *ctx, const char *line) {
  vs_reporter_t *r = ctx;
  vs_unixsock_reply_t reply;
  vs_error_t e = {0};
  int rc = vs_unixsock_command(&r->sock, line, &reply, &e);
  if (rc < 0 && rc != -EPROTO) {
    went_down(r);
    note(r, &e);
  } else if (rc == -EPROTO) {
    note(r, &e);
  }
  return rc;
}

/* Replay the spool through the connected socket (which send_line() marks
 * down on a transport failure) and account for this run's own released
 * lines. Returns whether lines were left behind (or the spool could not
 * be replayed): then this run's lines go on to the spool, in order. */
static bool replay(vs_reporter_t *r) {
  vs_spool_stats_t before = r->spool.mine, st;
  vs_error_t se = {0};
  int rc = vs_spool_replay(&r->spool, send_line, r, &st, &se);
  r->replayed.delivered += st.delivered;
  r->replayed.rejected += st.rejected;
  r->replayed.files_done += st.files_done;
  r->replayed.damaged += st.damaged;
  r->replayed.problems += st.problems;
  r->replayed.left = st.left;
  if (rc < 0 || st.problems > 0 || st.damaged > 0) {
    r->replay_failed = true;
    note(r, &se);
  }
  const vs_spool_stats_t *mine = &r->spool.mine;
  size_t recovered = mine->delivered - before.delivered;
  size_t rejected = mine->rejected - before.rejected;
  size_t damaged = mine->damaged - before.damaged;
  if (rejected || damaged || mine->problems > before.problems)
    note(r, &se);
  r->recovered += recovered;
  r->refused += rejected;
  r->lost += damaged; /* in quarantine.log: no run will send them */
  /* Lines once counted lost by a failed sync may still be in the file and
   * be delivered now: never below 0. */
  size_t gone = recovered + rejected + damaged;
  r->waiting = gone < r->waiting ? r->waiting - gone : 0;
  return rc < 0 || st.left > 0 || mine->left > 0;
}

/* Reconnect, hand this run's spool file to replay and replay the spool;
 * collectd is up again when nothing was left behind. */
static void reconnect(vs_reporter_t *r) {
  vs_unixsock_close(&r->sock);
  vs_error_t e = {0};
  if (vs_unixsock_connect(&r->sock, r->socket_path, r->timeout_s, &e) < 0) {
    went_down(r);
    note(r, &e);
    return;
  }
  r->down = false; /* until a send fails (send_line()) */
  if (r->spool_open) {
    /* The lines spooled since the last sync are counted lost if that
     * fails; the file is then kept (and locked) as it is. */
    if (vs_reporter_sync(r) < 0 || vs_spool_release(&r->spool, &e) < 0) {
      note(r, &e);
      vs_unixsock_close(&r->sock);
      went_down(r);
      return;
    }
    if (replay(r) && !r->down)
      went_down(r); /* a file not replayed: keep the order */
  }
  if (!r->down)
    r->retry_ns = VS_REPORTER_RETRY_MIN_S * VS_NS_PER_SEC;
}

int vs_reporter_open(vs_reporter_t *r, const char *socket_path,
                     const char *spool_dir, double timeout_s, vs_error_t *err) {
  memset(r, 0, sizeof(*r));
  r->sock.fd = -1;
  r->timeout_s = timeout_s;
  r->retry_ns = VS_REPORTER_RETRY_MIN_S * VS_NS_PER_SEC;
  if (!socket_path) {
    r->down = true;
    return 0; /* collectd disabled: no spool either */
  }
  int rc = vs_spool_open(&r->spool, spool_dir, err);
  if (rc < 0 && !r->spool.untrusted)
    return rc;
  /* A spool directory others could write to (or owned by another user) is
   * not used at all, and never keeps VMs from starting: its files are not
   * replayed (they stay), and what collectd does not take is lost,
   * counted and reported (exit 4), with the refusal as the problem. */
  r->spool_open = rc == 0;
  r->replay_failed = !r->spool_open;
  if (!r->spool_open)
    note(r, err);
  *err = (vs_error_t){0};
  if (!(r->socket_path = strdup(socket_path)))
    return vs_error_set(err, -ENOMEM, "out of memory");
  vs_error_t e = {0};
  if (vs_unixsock_connect(&r->sock, socket_path, timeout_s, &e) < 0) {
    went_down(r);
    note(r, &e);
    return 0;
  }
  /* Earlier runs' timings never keep VMs from starting: a file that cannot
   * be replayed is reported (r->problem, replay_failed) and stays in the
   * spool as it was; this run still delivers (waiting behind a file that
   * may never be readable would spool every later run). */
  if (!r->spool_open)
    return 0;
  replay(r);
  if (r->replayed.left > 0 && !r->down)
    went_down(r); /* keep the order: this run spools too, for now */
  return 0;
}

int vs_reporter_line(void *reporter, const char *line) {
  vs_reporter_t *r = reporter;
  if (r->down && r->socket_path && vs_now_ns() >= r->retry_at)
    reconnect(r);
  if (!r->down && r->socket_path) {
    int rc = send_line(r, line);
    if (rc == 0) {
      r->delivered++;
      return 0;
    }
    if (rc == -EPROTO) {
      r->refused++;
      return 0;
    }
  }
  if (!r->socket_path)
    return 0; /* collectd disabled: nothing to keep */
  /* A lost line is counted and returns 0, so that the builders go on with
   * the next lines (each of them is counted too, not dropped unseen). */
  if (!r->spool_open) {
    r->lost++; /* the refused spool is r->problem */
    return 0;
  }
  vs_error_t e = {0};
  int rc = vs_spool_append(&r->spool, line, &e);
  if (rc < 0) {
    r->lost++;
    note(r, &e);
    return 0;
  }
  r->spooled++;
  r->waiting++;
  r->unsynced++;
  return 0;
}

int vs_reporter_sync(vs_reporter_t *r) {
  if (!r->spool_open)
    return 0;
  vs_error_t e = {0};
  int rc = vs_spool_sync(&r->spool, &e);
  if (rc < 0) {
    /* What was synced before is on disk; of the lines since, none can be
     * counted on. Counted once, as lost, not also as spooled. */
    note(r, &e);
    r->lost += r->unsynced;
    r->spooled -= r->unsynced;
    r->waiting -= r->unsynced;
  }
  r->unsynced = 0;
  return rc;
}

void vs_reporter_finish(vs_reporter_t *r) {
  if (r->down && r->socket_path)
    reconnect(r);
}

void vs_reporter_close(vs_reporter_t *r) {
  if (!r)
    return;
  vs_unixsock_close(&r->sock);
  if (r->spool_open)
    vs_spool_close(&r->spool);
  r->spool_open = false;
  free(r->socket_path);
  r->socket_path = NULL;
}
