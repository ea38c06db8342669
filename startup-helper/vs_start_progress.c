#include "vs_start_progress.h"

#include <string.h>
#include <unistd.h>

#include "common/vs_time.h"

void vs_progress_init(vs_progress_t *p, vs_progress_mode_t mode, FILE *f) {
  p->f = f;
  p->line_shown = false;
  if (mode == VS_PROGRESS_AUTO)
    mode = isatty(fileno(f)) ? VS_PROGRESS_TTY : VS_PROGRESS_PLAIN;
  p->mode = mode;
}

static void clear_line(vs_progress_t *p) {
  if (p->mode == VS_PROGRESS_TTY && p->line_shown) {
    fputs("\r\033[K", p->f);
    p->line_shown = false;
  }
}

void vs_progress_update(vs_progress_t *p, const vs_batch_t *b,
                        const size_t *counts, bool changed) {
  if (p->mode == VS_PROGRESS_NONE || (p->mode == VS_PROGRESS_PLAIN && !changed))
    return;
  double t = vs_batch_rel(b, vs_now_ns());
  size_t done =
      counts[VS_VM_READY] + counts[VS_VM_FAILED] + counts[VS_VM_SKIPPED];
  char eta[32] = "ETA ?";
  if (done > 0 && done < b->n)
    snprintf(eta, sizeof(eta), "ETA %.0fs",
             t / (double)done * (double)(b->n - done));
  else if (done == b->n)
    snprintf(eta, sizeof(eta), "done");
  char bound[24];
  if (b->throttle.bound)
    snprintf(bound, sizeof(bound), "%u%s", b->throttle.bound,
             b->conf.auto_parallel ? " auto" : "");
  else
    snprintf(bound, sizeof(bound), "unbounded");
  if (p->mode == VS_PROGRESS_TTY)
    fputs("\r\033[K", p->f);
  fprintf(p->f,
          "%7.1fs  waiting %zu  starting %zu  running %zu  ready %zu  "
          "failed %zu  bound %s  %s",
          t, counts[VS_VM_WAITING] + counts[VS_VM_PENDING],
          counts[VS_VM_STARTING], counts[VS_VM_RUNNING], counts[VS_VM_READY],
          counts[VS_VM_FAILED] + counts[VS_VM_SKIPPED], bound, eta);
  if (p->mode == VS_PROGRESS_TTY)
    p->line_shown = true;
  else
    fputc('\n', p->f);
  fflush(p->f);
}

static void fmt_phase(char *buf, size_t size, const vs_vm_t *vm,
                      vs_phase_t ph) {
  double s;
  if (vs_phase_seconds(&vm->t, ph, &s))
    snprintf(buf, size, "%.3f", s);
  else
    snprintf(buf, size, "-");
}

/* A VM's name (or its error) as printed: control characters from libvirt
 * names must not drive the terminal or split a log line. */
typedef struct {
  char s[4 * VS_ERROR_MSG_MAX];
} safe_t;

static const char *safe(safe_t *buf, const char *s) {
  return vs_text_safe(buf->s, sizeof(buf->s), s ? s : "?");
}

void vs_progress_vm_done(vs_progress_t *p, const vs_batch_t *b, size_t i) {
  if (p->mode == VS_PROGRESS_NONE)
    return;
  const vs_vm_t *vm = &b->vms[i];
  safe_t name, error;
  clear_line(p);
  double t = vs_batch_rel(b, vm->t.done);
  if (vm->state == VS_VM_READY) {
    char w[16], c[16], r[16], rd[16];
    fmt_phase(w, sizeof(w), vm, VS_PHASE_WAIT);
    fmt_phase(c, sizeof(c), vm, VS_PHASE_CREATE);
    fmt_phase(r, sizeof(r), vm, VS_PHASE_RUNNING);
    fmt_phase(rd, sizeof(rd), vm, VS_PHASE_READY);
    fprintf(p->f,
            "%7.1fs  ready   %s  (wait %s, create %s, running %s, ready %s "
            "s)\n",
            t, safe(&name, vm->name), w, c, r, rd);
  } else {
    fprintf(p->f, "%7.1fs  %-7s %s: %s\n", t, vs_vm_state_name(vm->state),
            safe(&name, vm->name), safe(&error, vm->error));
  }
  fflush(p->f);
}

void vs_progress_end(vs_progress_t *p) {
  clear_line(p);
  fflush(p->f);
}

void vs_progress_summary(FILE *f, const vs_batch_t *b) {
  fprintf(f, "\n%-32s %-7s %8s %8s %8s %8s %8s\n", "VM", "state", "wait",
          "create", "running", "ready", "total");
  safe_t name, error;
  for (size_t i = 0; i < b->n; i++) {
    const vs_vm_t *vm = &b->vms[i];
    char cols[VS_PHASE_COUNT][16];
    char col0[33]; /* the name column: 32 bytes, cut between characters */
    for (vs_phase_t ph = 0; ph < VS_PHASE_COUNT; ph++)
      fmt_phase(cols[ph], sizeof(cols[ph]), vm, ph);
    fprintf(f, "%-32s %-7s %8s %8s %8s %8s %8s\n",
            vs_text_safe(col0, sizeof(col0), vm->name),
            vs_vm_state_name(vm->state), cols[0], cols[1], cols[2], cols[3],
            cols[4]);
  }
  fprintf(f, "\n%-8s %4s %8s %8s %8s %8s   (seconds)\n", "phase", "n", "mean",
          "p50", "p95", "max");
  for (vs_phase_t ph = 0; ph < VS_PHASE_COUNT; ph++) {
    vs_summary_t s;
    vs_summary_phase(b->vms, b->n, ph, &s);
    fprintf(f, "%-8s %4zu %8.3f %8.3f %8.3f %8.3f\n", vs_phase_name(ph), s.n,
            s.mean, s.p50, s.p95, s.max);
  }
  size_t ready = 0, failed = 0;
  for (size_t i = 0; i < b->n; i++)
    if (b->vms[i].state == VS_VM_READY)
      ready++;
    else
      failed++;
  double wall = ((double)b->t_end - (double)b->t0) / 1e9;
  char bound[32];
  if (b->conf.auto_parallel)
    snprintf(bound, sizeof(bound), "auto, ended at %u", b->final_bound);
  else if (b->conf.max_parallel)
    snprintf(bound, sizeof(bound), "%u", b->conf.max_parallel);
  else
    snprintf(bound, sizeof(bound), "unbounded");
  fprintf(f,
          "\n%zu of %zu VMs ready, %zu failed; wall %.2f s, %.2f VMs/s; "
          "bound %s, hold until %s; %u connection(s)\n"
          "CPU: helper %.2f s, whole host %.1f s\n",
          ready, b->n, failed, wall, wall > 0 ? (double)ready / wall : 0, bound,
          vs_hold_name(b->conf.hold), b->connections, b->helper_cpu_s,
          b->host_cpu_s);
  for (size_t i = 0; i < b->n; i++)
    if (b->vms[i].state != VS_VM_READY)
      fprintf(f, "%s %s: %s\n", vs_vm_state_name(b->vms[i].state),
              safe(&name, b->vms[i].name), safe(&error, b->vms[i].error));
}
