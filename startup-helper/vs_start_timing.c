#include "vs_start_timing.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool span(uint64_t from, uint64_t to, double *ret) {
  if (from == 0 || to == 0 || to < from)
    return false;
  *ret = (double)(to - from) / 1e9;
  return true;
}

bool vs_phase_seconds(const vs_vm_times_t *t, vs_phase_t p, double *ret) {
  switch (p) {
  case VS_PHASE_WAIT:
    return span(t->request, t->create_start, ret);
  case VS_PHASE_CREATE:
    return span(t->create_start, t->create_end, ret);
  case VS_PHASE_RUNNING:
    return span(t->create_start, t->running, ret);
  case VS_PHASE_READY:
    return span(t->create_start, t->ready, ret);
  case VS_PHASE_TOTAL:
    return span(t->request, t->ready, ret);
  default:
    return false;
  }
}

const char *vs_phase_name(vs_phase_t p) {
  static const char *names[] = {"wait", "create", "running", "ready", "total"};
  return p < VS_PHASE_COUNT ? names[p] : "?";
}

const char *vs_vm_state_name(vs_vm_state_t s) {
  static const char *names[] = {"pending", "waiting", "starting", "running",
                                "ready",   "failed",  "skipped"};
  return s < VS_VM_STATE_COUNT ? names[s] : "?";
}

bool vs_vm_state_done(vs_vm_state_t s) {
  return s == VS_VM_READY || s == VS_VM_FAILED || s == VS_VM_SKIPPED;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values: the smallest value with at
 * least q of all values at or below it. */
static double rank(const double *sorted, size_t n, double q) {
  size_t k = (size_t)ceil(q * (double)n);
  if (k < 1)
    k = 1;
  return sorted[k - 1];
}

int vs_summary_compute(const double *values, size_t n, vs_summary_t *ret) {
  memset(ret, 0, sizeof(*ret));
  if (n == 0)
    return 0;
  double *s = malloc(n * sizeof(*s));
  if (!s)
    return -ENOMEM;
  memcpy(s, values, n * sizeof(*s));
  qsort(s, n, sizeof(*s), cmp_double);
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += s[i];
  ret->n = n;
  ret->mean = sum / (double)n;
  ret->p50 = rank(s, n, 0.50);
  ret->p95 = rank(s, n, 0.95);
  ret->max = s[n - 1];
  free(s);
  return 0;
}

int vs_summary_phase(const vs_vm_t *vms, size_t n, vs_phase_t p,
                     vs_summary_t *ret) {
  double *v = malloc((n ? n : 1) * sizeof(*v));
  if (!v)
    return -ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (vs_phase_seconds(&vms[i].t, p, &v[k]))
      k++;
  int r = vs_summary_compute(v, k, ret);
  free(v);
  return r;
}

void vs_vm_clear(vs_vm_t *vm) {
  if (!vm)
    return;
  free(vm->name);
  free(vm->error);
  vs_ready_free(&vm->ready);
  memset(vm, 0, sizeof(*vm));
}
