/* virtscale-start - the batch engine: start a set of VMs group by group
 * under the throttle, time each one, tell the caller as VMs change state.
 *
 * Threads: the caller's thread runs the schedule (throttle, progress,
 * callbacks); one worker thread per VM being started makes its libvirt
 * calls and waits for its probe; the libvirt event thread delivers
 * lifecycle events and console data. The VM records are guarded by the
 * batch lock; callbacks run on the caller's thread without it, and only
 * for VMs whose record no other thread writes any more (done ones). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "vs_start_hostload.h"
#include "vs_start_opts.h"
#include "vs_start_throttle.h"
#include "vs_start_timing.h"
#include "vs_start_virt.h"

typedef struct vs_batch vs_batch_t;

/* After a stop request, VMs being started get this long (at most their
 * own timeout) to come up; VMs not started yet are skipped. */
#define VS_BATCH_STOP_GRACE_S 10

typedef struct {
  bool auto_parallel;
  unsigned max_parallel; /* fixed bound, 0 = unbounded */
  uint64_t spacing_ns;
  vs_hold_t hold;
  /* Called on the batch's thread: a VM finished (ready, failed, skipped).
   * May block briefly (collectd delivery). */
  void (*on_done)(void *ctx, const vs_batch_t *b, size_t i);
  /* Called about every 100 ms and on state changes, on the batch's thread,
   * with the counts per state (VS_VM_STATE_COUNT entries). */
  void (*on_progress)(void *ctx, const vs_batch_t *b, const size_t *counts,
                      bool changed);
  void *ctx;
  /* When *stop becomes non-zero (a signal number, set from any thread) the
   * batch stops: no VM starts any more (the rest are skipped), those being
   * started get VS_BATCH_STOP_GRACE_S. NULL: never. */
  atomic_int *stop;
} vs_batch_conf_t;

/* A change of the auto bound. */
typedef struct {
  double t; /* seconds since the batch started */
  unsigned bound;
  const char *reason; /* static */
} vs_bound_change_t;

struct vs_batch {
  vs_vm_t *vms; /* borrowed from the caller */
  size_t n;
  char *const *group_names; /* borrowed */
  size_t n_groups;
  vs_batch_conf_t conf;

  uint64_t t0;              /* monotonic ns at start */
  uint64_t wall0;           /* wall clock ns at t0 */
  uint64_t t_end;           /* monotonic ns when the last VM finished */
  double helper_cpu_s;      /* CPU time of this process during the batch */
  double host_cpu_s;        /* CPU time of the whole host during the batch */
  unsigned final_bound;     /* the bound at the end (0 = unbounded) */
  unsigned connections;     /* libvirt connections used */
  vs_bound_change_t *trace; /* bound changes (auto mode) */
  size_t n_trace;
  int stopped; /* the *conf.stop value that stopped the batch, 0 if none */

  /* internal */
  pthread_mutex_t lock; /* guards vms[] state and times, aux[] */
  pthread_cond_t cond;  /* signalled on every change of a VM */
  struct vs_batch_aux *aux;
  vs_virt_pool_t *pool;
  vs_throttle_t throttle;
  vs_hostload_t load;
};

/* Start b->vms (set up by vs_start_select()) on pool's connections,
 * groups in order (a group starts when every VM of the previous one is
 * done; after a failure later groups are skipped). The pool gets enough
 * connections for the bound and its lifecycle watch. Fills the times,
 * states and errors of every VM and the batch figures. Returns 0 when the
 * batch ran (see the VM states) or a negative errno with err set when it
 * could not run at all. The caller's thread, one batch at a time per pool. */
int vs_batch_run(vs_batch_t *b, vs_vm_t *vms, size_t n,
                 char *const *group_names, size_t n_groups,
                 vs_virt_pool_t *pool, const vs_batch_conf_t *conf,
                 vs_error_t *err);

/* Free what vs_batch_run() allocated (not the VMs). NULL-safe. */
void vs_batch_clear(vs_batch_t *b);

/* Wall-clock seconds since the epoch of monotonic time t in batch b. */
double vs_batch_wall(const vs_batch_t *b, uint64_t t);

/* Seconds since the batch started of monotonic time t (0 if t is 0). */
double vs_batch_rel(const vs_batch_t *b, uint64_t t);
