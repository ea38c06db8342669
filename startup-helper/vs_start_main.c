/* virtscale-start - main: parse, select, start (or sweep, or replay),
 * report. Exit status: 0 all ready, 1 some failed, 2 bad usage or input
 * (nothing started), 3 all ready but timings left in the spool, 4 timings
 * lost,
 * 128 + signal: a batch interrupted by SIGINT (130) or SIGTERM (143). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/vs_idfield.h"
#include "common/vs_time.h"
#include "vs_start_batch.h"
#include "vs_start_cli.h"
#include "vs_start_collectd.h"
#include "vs_start_plan.h"
#include "vs_start_progress.h"
#include "vs_start_report.h"
#include "vs_start_select.h"
#include "vs_start_sweep.h"

enum {
  EXIT_ALL_READY = 0,
  EXIT_SOME_FAILED = 1,
  EXIT_BAD_INPUT = 2,
  EXIT_SPOOLED = 3,
  EXIT_LOST = 4,
  EXIT_SIGNAL = 128, /* + the signal */
};

/* Messages quote VM names and libvirt's errors: printed safe (no control
 * characters reach the terminal or split a log line). */
static void fail_msg(const char *what, const vs_error_t *err) {
  char msg[4 * VS_ERROR_MSG_MAX];
  fprintf(stderr, "virtscale-start: %s%s%s\n", what ? what : "",
          what ? ": " : "", vs_text_safe(msg, sizeof(msg), err->msg));
}

/* SIGINT and SIGTERM are blocked in every thread (before any starts) and
 * taken by one thread with sigwait(): during a batch the first one stops
 * it (no new VM; those being started get VS_BATCH_STOP_GRACE_S; then the
 * spool is synced, the report written and what was started printed);
 * a second one, or one outside a batch, exits at once with 128 + signal. */
typedef struct {
  sigset_t set;
  pthread_t th;
  atomic_int stop;      /* the signal that stops the batch, 0 before */
  atomic_bool graceful; /* a batch runs that can stop cleanly */
} signals_t;

static void *signal_thread(void *arg) {
  signals_t *s = arg;
  for (;;) {
    int sig, none = 0;
    if (sigwait(&s->set, &sig) != 0)
      continue;
    if (atomic_load(&s->graceful) &&
        atomic_compare_exchange_strong(&s->stop, &none, sig)) {
      static const char msg[] =
          "\nvirtscale-start: interrupted: starting no more VMs, waiting for "
          "those being started; again to exit at once\n";
      if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* nothing to do: the exit status tells */
      }
      continue;
    }
    _exit(EXIT_SIGNAL + sig);
  }
  return NULL;
}

static int signals_start(signals_t *s) {
  sigemptyset(&s->set);
  sigaddset(&s->set, SIGINT);
  sigaddset(&s->set, SIGTERM);
  atomic_init(&s->stop, 0);
  atomic_init(&s->graceful, false);
  int r = pthread_sigmask(SIG_BLOCK, &s->set, NULL);
  if (r == 0)
    r = pthread_create(&s->th, NULL, signal_thread, s);
  return -r;
}

static void signals_stop(signals_t *s) {
  pthread_cancel(s->th); /* sigwait() is a cancellation point */
  pthread_join(s->th, NULL);
}

static const char *signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

/* After an interrupted batch: what was started, on stdout. */
static void print_interrupted(const vs_batch_t *b) {
  size_t started = 0;
  for (size_t i = 0; i < b->n; i++)
    started += b->vms[i].t.create_start != 0;
  printf("\ninterrupted by %s: %zu of %zu VM(s) started, %zu not started\n",
         signal_name(b->stopped), started, b->n, b->n - started);
  for (size_t i = 0; i < b->n; i++) {
    const vs_vm_t *vm = &b->vms[i];
    char name[1024];
    if (vm->t.create_start)
      printf("started: %s (%s)\n", vs_text_safe(name, sizeof(name), vm->name),
             vs_vm_state_name(vm->state));
  }
}

typedef struct {
  vs_progress_t progress;
  vs_reporter_t *rep;
} run_ctx_t;

static void on_done(void *ctx, const vs_batch_t *b, size_t i) {
  run_ctx_t *c = ctx;
  vs_progress_vm_done(&c->progress, b, i);
  if (c->rep) {
    vs_collectd_vm_lines(&b->vms[i], b->t0, b->wall0, vs_reporter_line, c->rep);
    vs_reporter_sync(c->rep);
  }
}

static void on_progress(void *ctx, const vs_batch_t *b, const size_t *counts,
                        bool changed) {
  run_ctx_t *c = ctx;
  vs_progress_update(&c->progress, b, counts, changed);
}

static int replay_only(const vs_start_opts_t *opts) {
  char pm[4 * VS_ERROR_MSG_MAX]; /* a problem, printed safe */
  vs_reporter_t rep;
  vs_error_t err = {0};
  if (!opts->socket_path) {
    fprintf(stderr, "virtscale-start: --replay needs collectd "
                    "(--no-collectd given)\n");
    return EXIT_BAD_INPUT;
  }
  if (vs_reporter_open(&rep, opts->socket_path, opts->spool_dir,
                       opts->socket_timeout_s, &err) < 0) {
    fail_msg("replay", &err);
    return EXIT_LOST;
  }
  printf("replay: %zu delivered, %zu refused by collectd (kept in "
         "%s/rejected.log), %zu still spooled, %zu damaged\n",
         rep.replayed.delivered, rep.replayed.rejected, opts->spool_dir,
         rep.replayed.left, rep.replayed.damaged);
  if (rep.problem.code)
    fprintf(stderr, "virtscale-start: %s\n",
            vs_text_safe(pm, sizeof(pm), rep.problem.msg));
  int code =
      rep.replayed.left > 0 || rep.problem.code ? EXIT_SPOOLED : EXIT_ALL_READY;
  vs_reporter_close(&rep);
  return code;
}

int main(int argc, char **argv) {
  vs_start_opts_t opts = {0};
  vs_error_t err = {0};
  int code = EXIT_BAD_INPUT;
  vs_vm_t *vms = NULL;
  size_t n = 0;
  vs_virt_pool_t pool = {0};
  bool pool_open = false;
  vs_reporter_t rep = {0};
  bool rep_open = false;
  char pm[4 * VS_ERROR_MSG_MAX]; /* a problem, printed safe */
  signals_t sig;

  if (signals_start(&sig) < 0) {
    fprintf(stderr, "virtscale-start: cannot start the signal thread\n");
    return EXIT_BAD_INPUT;
  }
  int r = vs_start_cli_parse(argc, argv, &opts, &err);
  if (r == 1) {
    code = EXIT_ALL_READY;
    goto out;
  }
  if (r < 0) {
    fail_msg(NULL, &err);
    fprintf(stderr, "(see virtscale-start --help)\n");
    goto out;
  }
  if (opts.replay_only) {
    code = replay_only(&opts);
    goto out;
  }
  if (opts.plan_path && vs_start_plan_load(opts.plan_path, &opts, &err) < 0) {
    fail_msg("plan", &err);
    goto out;
  }
  if (vs_start_opts_finish(&opts, &err) < 0) {
    fail_msg(NULL, &err);
    goto out;
  }
  if (vs_virt_pool_open(&pool, opts.uri, &err) < 0) {
    fail_msg(NULL, &err);
    goto out;
  }
  pool_open = true;
  if (vs_start_select(pool.conns[0], &opts, &vms, &n, &err) < 0) {
    fail_msg(NULL, &err);
    goto out;
  }

  if (opts.sweep) {
    code = vs_sweep_run(&opts, &pool, vms, n, stdout, &err) < 0
               ? EXIT_SOME_FAILED
               : EXIT_ALL_READY;
    if (code != EXIT_ALL_READY)
      fail_msg("sweep", &err);
    goto out;
  }

  /* From here a signal stops the run cleanly: even while earlier spool
   * files are replayed (the batch then starts nothing). */
  atomic_store(&sig.graceful, true);

  /* The spool must be usable before anything starts (else exit 2);
   * earlier runs' files that cannot be replayed are reported, and never
   * keep VMs from starting. */
  if (opts.socket_path) {
    if (vs_reporter_open(&rep, opts.socket_path, opts.spool_dir,
                         opts.socket_timeout_s, &err) < 0) {
      fail_msg("collectd spool", &err);
      goto out;
    }
    rep_open = true;
    if (rep.replayed.delivered || rep.replayed.left)
      fprintf(stderr,
              "virtscale-start: spool: delivered %zu earlier timing(s), %zu "
              "still waiting\n",
              rep.replayed.delivered, rep.replayed.left);
    if (rep.replay_failed)
      fprintf(stderr,
              "virtscale-start: spool: earlier timings not all replayed "
              "(%s); they stay in %s\n",
              vs_text_safe(pm, sizeof(pm), rep.problem.msg), opts.spool_dir);
    if (rep.down)
      fprintf(stderr,
              "virtscale-start: collectd unreachable (%s): timings go to "
              "%s%s\n",
              rep.problem.code ? vs_text_safe(pm, sizeof(pm), rep.problem.msg)
                               : "replay incomplete",
              rep.spool_open ? "the spool " : "nowhere (spool refused): lost",
              rep.spool_open ? opts.spool_dir : "");
  }

  run_ctx_t ctx = {.rep = rep_open ? &rep : NULL};
  vs_progress_init(&ctx.progress, opts.progress, stderr);
  vs_batch_conf_t conf = {.auto_parallel = opts.auto_parallel,
                          .max_parallel = opts.max_parallel,
                          .spacing_ns = opts.spacing_ms * VS_NS_PER_MS,
                          .hold = opts.hold,
                          .on_done = on_done,
                          .on_progress = on_progress,
                          .ctx = &ctx,
                          .stop = &sig.stop};
  vs_batch_t b;
  if (vs_batch_run(&b, vms, n, opts.group_names, opts.n_groups, &pool, &conf,
                   &err) < 0) {
    fail_msg(NULL, &err);
    vs_batch_clear(&b);
    code = EXIT_SOME_FAILED;
    goto out;
  }
  vs_progress_end(&ctx.progress);

  if (rep_open) {
    char host[256];
    if (opts.host)
      snprintf(host, sizeof(host), "%s", opts.host);
    else if (gethostname(host, sizeof(host)) < 0)
      snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    vs_collectd_batch_lines(&b, host, vs_reporter_line, &rep);
    vs_reporter_sync(&rep);
    vs_reporter_finish(&rep); /* collectd back: nothing waits for later */
  }
  if (opts.progress != VS_PROGRESS_NONE)
    vs_progress_summary(stdout, &b);
  if (b.stopped)
    print_interrupted(&b);
  if (opts.report_path && vs_report_write(opts.report_path, &opts, &b,
                                          rep_open ? &rep : NULL, &err) < 0)
    fail_msg("report", &err);

  size_t failed = 0;
  for (size_t i = 0; i < n; i++)
    failed += vms[i].state != VS_VM_READY;
  code = failed ? EXIT_SOME_FAILED : EXIT_ALL_READY;
  if (b.stopped)
    code = EXIT_SIGNAL + b.stopped;
  if (rep_open) {
    if (opts.progress != VS_PROGRESS_NONE)
      printf("collectd: %zu value(s)/notification(s) delivered, %zu "
             "spooled (%zu delivered from the spool once collectd was back, "
             "%zu still waiting), %zu refused, %zu lost\n",
             rep.delivered, rep.spooled, rep.recovered, rep.waiting,
             rep.refused, rep.lost);
    if (rep.lost) {
      fprintf(stderr,
              "virtscale-start: %zu timing line(s) LOST: collectd "
              "unreachable and the spool failed: %s\n",
              rep.lost, vs_text_safe(pm, sizeof(pm), rep.problem.msg));
      code = EXIT_LOST;
    } else if (rep.waiting && !failed && !b.stopped) {
      fprintf(stderr,
              "virtscale-start: %zu timing line(s) spooled in %s (%s); "
              "`virtscale-start --replay` or the next run delivers them\n",
              rep.waiting, opts.spool_dir,
              vs_text_safe(pm, sizeof(pm), rep.problem.msg));
      code = EXIT_SPOOLED;
    }
    if (rep.recovered)
      fprintf(stderr,
              "virtscale-start: collectd was unreachable for a while (%s): "
              "%zu timing line(s) went to the spool, %zu of them delivered "
              "once it answered again\n",
              vs_text_safe(pm, sizeof(pm), rep.problem.msg), rep.spooled,
              rep.recovered);
    if (rep.refused)
      fprintf(stderr, "virtscale-start: collectd refused %zu line(s): %s\n",
              rep.refused, vs_text_safe(pm, sizeof(pm), rep.problem.msg));
  }
  vs_batch_clear(&b);

out:
  if (rep_open)
    vs_reporter_close(&rep);
  vs_vms_free(vms, n);
  if (pool_open)
    vs_virt_pool_close(&pool);
  vs_start_opts_free(&opts);
  fflush(stdout);
  signals_stop(&sig);
  return code;
}
