#include "vs_start_sweep.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/vs_time.h"
#include "common/vs_virt.h"
#include "vs_start_batch.h"
#include "vs_start_progress.h"
#include "vs_start_report.h"

#define STOP_TIMEOUT_NS (120 * VS_NS_PER_SEC)

int vs_sweep_recommend(const vs_sweep_row_t *rows, size_t n) {
  double best_wall = INFINITY;
  for (size_t i = 0; i < n; i++)
    if (rows[i].level >= 0 && rows[i].failed_runs == 0 && rows[i].runs > 0 &&
        rows[i].wall < best_wall)
      best_wall = rows[i].wall;
  int pick = -1;
  for (size_t i = 0; i < n; i++) {
    const vs_sweep_row_t *r = &rows[i];
    if (r->level < 0 || r->failed_runs > 0 || r->runs == 0 ||
        r->wall > 1.10 * best_wall)
      continue;
    if (pick < 0 || r->mean_total < rows[pick].mean_total ||
        (r->mean_total == rows[pick].mean_total &&
         (unsigned)(r->level - 1) < (unsigned)(rows[pick].level - 1)))
      pick = (int)i;
  }
  return pick;
}

static void sleep_s(double s) {
  struct timespec ts = {.tv_sec = (time_t)s,
                        .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Destroy whatever of the VMs runs and wait until all are inactive. */
static int stop_all(vs_virt_pool_t *pool, const vs_vm_t *vms, size_t n,
                    vs_error_t *err) {
  uint64_t deadline = vs_now_ns() + STOP_TIMEOUT_NS;
  for (;;) {
    size_t active = 0;
    for (size_t i = 0; i < n; i++) {
      virDomainPtr dom = NULL;
      int r = vs_vcall_lookup_uuid(pool->ex, pool->conns[0], vms[i].uuid_raw,
                                   vs_virt_call_deadline(deadline), &dom, err);
      if (r == -ENOENT)
        return vs_error_set(err, -EIO, "sweep: domain %s vanished",
                            vms[i].name);
      if (r < 0)
        return r;
      int a = vs_vcall_is_active(pool->ex, dom, vs_virt_call_deadline(deadline),
                                 err);
      if (a > 0) {
        active++;
        vs_vcall_destroy(pool->ex, dom, vs_virt_call_deadline(deadline), NULL);
      }
      vs_virt_domain_free(dom);
      if (a < 0)
        return a;
    }
    if (active == 0)
      return 0;
    if (vs_now_ns() > deadline)
      return vs_error_set(err, -ETIMEDOUT,
                          "sweep: %zu VMs still running after 120 s", active);
    sleep_s(0.2);
  }
}

static int copy_vms(const vs_vm_t *src, size_t n, vs_vm_t **ret) {
  vs_vm_t *v = calloc(n, sizeof(*v));
  if (!v)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    v[i].name = strdup(src[i].name);
    memcpy(v[i].uuid, src[i].uuid, sizeof(v[i].uuid));
    memcpy(v[i].uuid_raw, src[i].uuid_raw, sizeof(v[i].uuid_raw));
    v[i].group = src[i].group;
    v[i].ready.kind = src[i].ready.kind;
    v[i].ready.text = src[i].ready.text ? strdup(src[i].ready.text) : NULL;
    v[i].timeout_s = src[i].timeout_s;
    if (!v[i].name || (src[i].ready.text && !v[i].ready.text)) {
      for (size_t k = 0; k <= i; k++)
        vs_vm_clear(&v[k]);
      free(v);
      return -ENOMEM;
    }
  }
  *ret = v;
  return 0;
}

static void level_name(char *buf, size_t size, int level) {
  if (level < 0)
    snprintf(buf, size, "auto");
  else if (level == 0)
    snprintf(buf, size, "all");
  else
    snprintf(buf, size, "%d", level);
}

typedef struct {
  vs_progress_t progress;
} sweep_ctx_t;

static void on_progress(void *ctx, const vs_batch_t *b, const size_t *counts,
                        bool changed) {
  sweep_ctx_t *s = ctx;
  if (s->progress.mode == VS_PROGRESS_TTY)
    vs_progress_update(&s->progress, b, counts, changed);
}

static int write_outputs(const vs_start_opts_t *opts,
                         const vs_sweep_row_t *rows, size_t nrows, int pick,
                         size_t nvms, FILE *out, vs_error_t *err) {
  const char *prefix = opts->out_prefix;
  size_t plen = strlen(prefix) + 8;
  char *path = malloc(plen);
  if (!path)
    return vs_error_set(err, -ENOMEM, "out of memory");
  int r = 0;

  /* JSON */
  yajl_gen g = yajl_gen_alloc(NULL);
  if (!g) {
    free(path);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  yajl_gen_config(g, yajl_gen_beautify, 1);
  yajl_gen_map_open(g);
  vs_json_key(g, "tool");
  vs_json_str(g, "virtscale-start " VS_VERSION " sweep");
  vs_json_key(g, "vms");
  yajl_gen_integer(g, (long long)nvms);
  vs_json_key(g, "hold_until");
  vs_json_str(g, vs_hold_name(opts->hold));
  vs_json_key(g, "ready");
  vs_json_str(g, vs_ready_name(opts->ready.kind));
  vs_json_key(g, "repeat");
  yajl_gen_integer(g, opts->repeat);
  vs_json_key(g, "levels");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < nrows; i++) {
    const vs_sweep_row_t *row = &rows[i];
    char name[16];
    level_name(name, sizeof(name), row->level);
    yajl_gen_map_open(g);
    vs_json_key(g, "level");
    vs_json_str(g, name);
    vs_json_key(g, "runs");
    yajl_gen_integer(g, row->runs);
    vs_json_key(g, "failed_runs");
    yajl_gen_integer(g, row->failed_runs);
    const struct {
      const char *k;
      double v;
    } f[] = {{"wall_s", row->wall},
             {"mean_time_to_ready_s", row->mean_total},
             {"p95_time_to_ready_s", row->p95_total},
             {"mean_time_to_running_s", row->mean_running},
             {"p95_time_to_running_s", row->p95_running},
             {"mean_wait_s", row->mean_wait},
             {"helper_cpu_s", row->helper_cpu},
             {"host_cpu_s", row->host_cpu},
             {"final_bound", row->final_bound}};
    for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
      vs_json_key(g, f[k].k);
      vs_json_num(g, f[k].v);
    }
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
  vs_json_key(g, "recommended");
  if (pick >= 0)
    yajl_gen_integer(g, rows[pick].level);
  else
    yajl_gen_null(g);
  yajl_gen_map_close(g);
  snprintf(path, plen, "%s.json", prefix);
  r = vs_json_save(g, path, err);
  yajl_gen_free(g);

  /* gnuplot data + script */
  FILE *dat = NULL, *gp = NULL;
  if (r == 0) {
    snprintf(path, plen, "%s.dat", prefix);
    dat = fopen(path, "w");
    if (!dat)
      r = vs_error_set(err, -errno, "%s: %s", path, strerror(errno));
  }
  if (r == 0) {
    fprintf(dat, "# level wall mean_ready p95_ready mean_running mean_wait\n");
    for (size_t i = 0; i < nrows; i++) {
      char name[16];
      level_name(name, sizeof(name), rows[i].level);
      fprintf(dat, "%s %.3f %.3f %.3f %.3f %.3f\n", name, rows[i].wall,
              rows[i].mean_total, rows[i].p95_total, rows[i].mean_running,
              rows[i].mean_wait);
    }
    if (fclose(dat) != 0)
      r = vs_error_set(err, -EIO, "%s: write failed", path);
  }
  if (r == 0) {
    snprintf(path, plen, "%s.gp", prefix);
    gp = fopen(path, "w");
    if (!gp)
      r = vs_error_set(err, -errno, "%s: %s", path, strerror(errno));
  }
  if (r == 0) {
    const char *base = strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : prefix;
    fprintf(gp,
            "# virtscale-start sweep plot: gnuplot %s.gp (in its directory)\n"
            "set terminal pngcairo size 900,520 noenhanced\n"
            "set output '%s.png'\n"
            "set title 'virtscale-start sweep: %zu VMs, hold until %s, "
            "ready = %s'\n"
            "set xlabel 'bound (VMs starting at once)'\n"
            "set ylabel 'seconds'\n"
            "set yrange [0:*]\n"
            "set grid ytics\n"
            "set key below\n"
            "set style data linespoints\n"
            "plot '%s.dat' using 0:2:xtic(1) title 'wall time' lw 2 pt 7, \\\n"
            "     '' using 0:3 title 'mean time to ready' lw 2 pt 5, \\\n"
            "     '' using 0:4 title 'p95 time to ready' dt 2 pt 4, \\\n"
            "     '' using 0:6 title 'mean throttle wait' dt 3 pt 6\n",
            base, base, nvms, vs_hold_name(opts->hold),
            vs_ready_name(opts->ready.kind), base);
    if (fclose(gp) != 0)
      r = vs_error_set(err, -EIO, "%s: write failed", path);
  }
  if (r == 0) {
    /* gnuplot runs in the output directory so the script's relative names
     * work; the prefix may hold any character, so no shell is involved. */
    char *dir = strdup(prefix);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    const char *base = strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : prefix;
    char script[300];
    snprintf(script, sizeof(script), "%s.gp", base);
    pid_t pid = fork();
    if (pid == 0) {
      if (slash) {
        *slash = '\0';
        if (chdir(*dir ? dir : "/") < 0)
          _exit(126);
      }
      execlp("gnuplot", "gnuplot", script, (char *)NULL);
      _exit(127);
    }
    int status = -1;
    if (pid > 0)
      waitpid(pid, &status, 0);
    free(dir);
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fprintf(out,
              "plot: gnuplot failed or is missing (exit %d); data in "
              "%s.dat, script %s.gp\n",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, prefix, prefix);
    else
      fprintf(out, "plot: %s.png\n", prefix);
  }
  fprintf(out, "table: %s.json, %s.dat\n", prefix, prefix);
  free(path);
  return r;
}

int vs_sweep_run(const vs_start_opts_t *opts, vs_virt_pool_t *pool,
                 const vs_vm_t *template, size_t n, FILE *out,
                 vs_error_t *err) {
  vs_sweep_row_t *rows = calloc(opts->n_levels, sizeof(*rows));
  if (!rows)
    return vs_error_set(err, -ENOMEM, "out of memory");
  sweep_ctx_t ctx;
  vs_progress_init(&ctx.progress, opts->progress, stderr);
  int r = 0;
  for (size_t li = 0; r == 0 && li < opts->n_levels; li++) {
    vs_sweep_row_t *row = &rows[li];
    row->level = opts->levels[li];
    char name[16];
    level_name(name, sizeof(name), row->level);
    for (unsigned rep = 0; r == 0 && rep < opts->repeat; rep++) {
      if ((r = stop_all(pool, template, n, err)) < 0)
        break;
      sleep_s(opts->cooldown_s);
      vs_vm_t *vms = NULL;
      if (copy_vms(template, n, &vms) < 0) {
        r = vs_error_set(err, -ENOMEM, "out of memory");
        break;
      }
      vs_batch_conf_t conf = {.auto_parallel =
                                  row->level<0, .max_parallel = row->level> 0
                                      ? (unsigned)row->level
                                      : 0,
                              .spacing_ns = opts->spacing_ms * VS_NS_PER_MS,
                              .hold = opts->hold,
                              .on_progress = on_progress,
                              .ctx = &ctx};
      vs_batch_t b;
      char *const groups[] = {"sweep"};
      r = vs_batch_run(&b, vms, n, groups, 1, pool, &conf, err);
      vs_progress_end(&ctx.progress);
      if (r == 0) {
        vs_summary_t total, running, wait;
        vs_summary_phase(vms, n, VS_PHASE_TOTAL, &total);
        vs_summary_phase(vms, n, VS_PHASE_RUNNING, &running);
        vs_summary_phase(vms, n, VS_PHASE_WAIT, &wait);
        size_t failed = 0;
        for (size_t i = 0; i < n; i++)
          failed += vms[i].state != VS_VM_READY;
        double wall = ((double)b.t_end - (double)b.t0) / 1e9;
        fprintf(stderr,
                "sweep: bound %-4s run %u: wall %.2f s, mean to ready %.2f s, "
                "%zu failed, final bound %u\n",
                name, rep + 1, wall, total.mean, failed, b.final_bound);
        for (size_t i = 0; i < n; i++)
          if (vms[i].state != VS_VM_READY)
            fprintf(stderr, "sweep:   %s %s: %s\n",
                    vs_vm_state_name(vms[i].state), vms[i].name,
                    vms[i].error ? vms[i].error : "?");
        row->runs++;
        row->failed_runs += failed > 0;
        row->wall += wall;
        row->mean_total += total.mean;
        row->p95_total += total.p95;
        row->mean_running += running.mean;
        row->p95_running += running.p95;
        row->mean_wait += wait.mean;
        row->helper_cpu += b.helper_cpu_s;
        row->host_cpu += b.host_cpu_s;
        row->final_bound += b.final_bound;
      }
      vs_batch_clear(&b);
      for (size_t i = 0; i < n; i++)
        vs_vm_clear(&vms[i]);
      free(vms);
    }
    if (row->runs > 0) {
      double k = row->runs;
      row->wall /= k;
      row->mean_total /= k;
      row->p95_total /= k;
      row->mean_running /= k;
      row->p95_running /= k;
      row->mean_wait /= k;
      row->helper_cpu /= k;
      row->host_cpu /= k;
      row->final_bound /= k;
    }
  }
  if (r == 0)
    r = stop_all(pool, template, n, err);
  if (r < 0) {
    free(rows);
    return r;
  }

  int pick = vs_sweep_recommend(rows, opts->n_levels);
  fprintf(out,
          "\nsweep: %zu VMs, hold until %s, ready = %s, %u run(s) per level "
          "(means)\n",
          n, vs_hold_name(opts->hold), vs_ready_name(opts->ready.kind),
          opts->repeat);
  fprintf(out, "%-6s %8s %10s %10s %10s %10s %9s %9s %9s %6s\n", "bound",
          "wall s", "ready mean", "ready p95", "run mean", "run p95",
          "wait mean", "helper s", "host s", "fails");
  for (size_t i = 0; i < opts->n_levels; i++) {
    const vs_sweep_row_t *row = &rows[i];
    char name[24];
    level_name(name, sizeof(name), row->level);
    if (row->level < 0) {
      size_t len = strlen(name);
      snprintf(name + len, sizeof(name) - len, "(%.0f)", row->final_bound);
    }
    fprintf(out,
            "%-6s %8.2f %10.2f %10.2f %10.2f %10.2f %9.2f %9.3f %9.1f "
            "%3u/%-2u%s\n",
            name, row->wall, row->mean_total, row->p95_total, row->mean_running,
            row->p95_running, row->mean_wait, row->helper_cpu, row->host_cpu,
            row->failed_runs, row->runs,
            (int)i == pick ? "  <- recommended" : "");
  }
  if (pick >= 0) {
    char name[16];
    level_name(name, sizeof(name), rows[pick].level);
    fprintf(out, "recommended bound: %s (--max-parallel %d)\n", name,
            rows[pick].level);
    for (size_t i = 0; i < opts->n_levels; i++)
      if (rows[i].level < 0 && rows[i].runs > 0)
        fprintf(out,
                "auto vs recommended: wall %+.1f %%, mean time to ready "
                "%+.1f %%\n",
                100 * (rows[i].wall / rows[pick].wall - 1),
                100 * (rows[i].mean_total / rows[pick].mean_total - 1));
  } else {
    fprintf(out, "recommended bound: none (every fixed level had failures)\n");
  }
  r = write_outputs(opts, rows, opts->n_levels, pick, n, out, err);
  free(rows);
  return r;
}
