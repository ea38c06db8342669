/* virtscale-start - per-VM timings and batch statistics.
 *
 * Every timestamp is CLOCK_MONOTONIC nanoseconds (vs_now_ns()); 0 means
 * "not reached". A batch keeps its own epoch offset to turn them into wall
 * time for collectd and the report. Pure functions, no locking: the batch
 * engine owns the records and takes its lock around them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vs_start_opts.h"

typedef enum {
  VS_VM_PENDING = 0, /* its group has not started */
  VS_VM_WAITING,     /* waiting for a throttle slot */
  VS_VM_STARTING,    /* create call issued */
  VS_VM_RUNNING,     /* libvirt reports it running, not ready yet */
  VS_VM_READY,       /* done: ready */
  VS_VM_FAILED,      /* done: failed (error says why) */
  VS_VM_SKIPPED,     /* done: never started (an earlier group failed) */
  VS_VM_STATE_COUNT
} vs_vm_state_t;

typedef enum {
  VS_PHASE_WAIT = 0, /* request -> create call issued (throttle wait) */
  VS_PHASE_CREATE,   /* create call issued -> returned */
  VS_PHASE_RUNNING,  /* create call issued -> libvirt reports running */
  VS_PHASE_READY,    /* create call issued -> ready probe succeeded */
  VS_PHASE_TOTAL,    /* request -> ready (what a user waiting sees) */
  VS_PHASE_COUNT
} vs_phase_t;

typedef struct {
  uint64_t request;      /* the VM's group started: it wants to start */
  uint64_t create_start; /* create call issued */
  uint64_t create_end;   /* create call returned */
  uint64_t running;      /* lifecycle event: running */
  uint64_t ready;        /* ready probe succeeded */
  uint64_t done;         /* finished, ready or not */
  uint64_t released;     /* throttle slot freed */
} vs_vm_times_t;

/* One VM of a batch. */
typedef struct {
  char *name;    /* libvirt's name (owned) */
  char uuid[37]; /* UUID string */
  unsigned char uuid_raw[16];
  unsigned group;
  vs_ready_t ready; /* probe (text owned) */
  double timeout_s;
  vs_vm_state_t state;
  vs_vm_times_t t;
  char *error;   /* why it failed (owned), NULL otherwise */
  bool reported; /* timings handed to collectd */
} vs_vm_t;

/* Duration of phase p in seconds; false when the phase was not reached. */
bool vs_phase_seconds(const vs_vm_times_t *t, vs_phase_t p, double *ret);

/* Stable short name of a phase ("wait", "create", "running", "ready",
 * "total"): collectd type instance and JSON key. */
const char *vs_phase_name(vs_phase_t p);

/* Name of a state for progress and reports ("waiting", ...). */
const char *vs_vm_state_name(vs_vm_state_t s);

/* True for READY, FAILED, SKIPPED. */
bool vs_vm_state_done(vs_vm_state_t s);

typedef struct {
  size_t n;
  double mean, p50, p95, max;
} vs_summary_t;

/* Summary of n values (not modified); nearest-rank percentiles. n == 0
 * gives all zeros. Returns 0 or -ENOMEM. */
int vs_summary_compute(const double *values, size_t n, vs_summary_t *ret);

/* Summary of phase p over the VMs that reached it. Returns 0 or -ENOMEM. */
int vs_summary_phase(const vs_vm_t *vms, size_t n, vs_phase_t p,
                     vs_summary_t *ret);

/* Free what vm owns (NULL-safe). */
void vs_vm_clear(vs_vm_t *vm);
