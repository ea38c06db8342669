/* virtscale-start - the sweep: the same storm at several bounds, to find
 * which bound is best on this host for these guests.
 *
 * For each level (and repetition) every VM is made inactive (destroyed if
 * running), the host is left alone for the cool-down, and the batch runs
 * with that bound. Prints a table (wall, mean and p95 time to running and
 * to ready, throttle wait, CPU) and the recommended bound, and writes
 * PREFIX.json, PREFIX.dat, PREFIX.gp and PREFIX.png (gnuplot).
 *
 * Recommended bound: among fixed levels whose runs all succeeded, those
 * within 10 % of the best mean wall time; of these the one with the lowest
 * mean time to ready (request -> ready, throttle wait included), then the
 * smaller bound. */
#pragma once

#include <stdio.h>

#include "common/vs_error.h"
#include "vs_start_opts.h"
#include "vs_start_timing.h"
#include "vs_start_virt.h"

/* Figures of one level, averaged over its repetitions. */
typedef struct {
  int level; /* 0 = unbounded, -1 = auto */
  unsigned runs, failed_runs;
  double wall, mean_total, p95_total, mean_running, p95_running, mean_wait;
  double helper_cpu, host_cpu, final_bound;
} vs_sweep_row_t;

/* Index of the recommended row among n (see above), or -1 when no fixed
 * level qualifies. Pure. */
int vs_sweep_recommend(const vs_sweep_row_t *rows, size_t n);

/* Run the sweep over template (n VMs from vs_start_select(): their names,
 * UUIDs and probes; not modified) on pool. Progress lines go to stderr,
 * the table to out. Returns 0 when every run could be made (VMs failing
 * inside a run are counted, not fatal) or a negative errno with err set. */
int vs_sweep_run(const vs_start_opts_t *opts, vs_virt_pool_t *pool,
                 const vs_vm_t *template, size_t n, FILE *out, vs_error_t *err);
