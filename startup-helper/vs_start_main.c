/* virtscale-start - main: parse, select, start (or sweep, or replay),
 * report. Exit status: 0 all ready, 1 some failed, 2 bad usage or input
 * (nothing started), 3 all ready but timings spooled, 4 timings lost. */
#include <errno.h>
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
};

static void fail_msg(const char *what, const vs_error_t *err) {
  fprintf(stderr, "virtscale-start: %s%s%s\n", what ? what : "",
          what ? ": " : "", err->msg);
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
    fprintf(stderr, "virtscale-start: %s\n", rep.problem.msg);
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
              rep.problem.msg, opts.spool_dir);
    if (rep.down)
      fprintf(stderr,
              "virtscale-start: collectd unreachable (%s): timings go to "
              "the spool %s\n",
              rep.problem.code ? rep.problem.msg : "replay incomplete",
              opts.spool_dir);
  }

  run_ctx_t ctx = {.rep = rep_open ? &rep : NULL};
  vs_progress_init(&ctx.progress, opts.progress, stderr);
  vs_batch_conf_t conf = {.auto_parallel = opts.auto_parallel,
                          .max_parallel = opts.max_parallel,
                          .spacing_ns = opts.spacing_ms * VS_NS_PER_MS,
                          .hold = opts.hold,
                          .on_done = on_done,
                          .on_progress = on_progress,
                          .ctx = &ctx};
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
  }
  if (opts.progress != VS_PROGRESS_NONE)
    vs_progress_summary(stdout, &b);
  if (opts.report_path && vs_report_write(opts.report_path, &opts, &b,
                                          rep_open ? &rep : NULL, &err) < 0)
    fail_msg("report", &err);

  size_t failed = 0;
  for (size_t i = 0; i < n; i++)
    failed += vms[i].state != VS_VM_READY;
  code = failed ? EXIT_SOME_FAILED : EXIT_ALL_READY;
  if (rep_open) {
    if (opts.progress != VS_PROGRESS_NONE)
      printf("collectd: %zu value(s)/notification(s) delivered, %zu "
             "spooled, %zu refused, %zu lost\n",
             rep.delivered, rep.spooled, rep.refused, rep.lost);
    if (rep.lost) {
      fprintf(stderr,
              "virtscale-start: %zu timing line(s) LOST: collectd "
              "unreachable and the spool failed: %s\n",
              rep.lost, rep.problem.msg);
      code = EXIT_LOST;
    } else if (rep.spooled && !failed) {
      fprintf(stderr,
              "virtscale-start: %zu timing line(s) spooled in %s (%s); "
              "`virtscale-start --replay` or the next run delivers them\n",
              rep.spooled, opts.spool_dir, rep.problem.msg);
      code = EXIT_SPOOLED;
    }
    if (rep.refused)
      fprintf(stderr, "virtscale-start: collectd refused %zu line(s): %s\n",
              rep.refused, rep.problem.msg);
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
  return code;
}
