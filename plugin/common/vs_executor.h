/* virtscale - timed executor: run calls that may block for ever (libvirt
 * calls that reach a stuck QEMU monitor or a frozen libvirtd) on worker
 * threads, and wait for them only until a deadline.
 *
 * A job whose caller gives up is *abandoned*: its worker keeps running it,
 * holding no lock of ours, and when the call finally returns the worker
 * releases the job's argument (with the release function given at submit)
 * and frees the job. The job's argument must therefore own everything the
 * call touches (its own libvirt references, its own result buffers).
 * Abandoned workers are replaced, up to a bound; the process never runs more
 * than max_workers + max_abandoned of these threads. Thread-safe. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vs_error.h"

typedef struct vs_executor vs_executor_t;
typedef struct vs_job vs_job_t;

typedef void (*vs_job_fn)(void *arg);
typedef void (*vs_job_release_fn)(void *arg);

typedef struct {
  const char *name;       /* thread name prefix (at most 10 chars) */
  unsigned max_workers;   /* threads serving jobs (>= 1) */
  unsigned max_abandoned; /* threads left inside abandoned jobs */
} vs_executor_opts_t;

typedef struct {
  unsigned threads;         /* live worker threads */
  unsigned busy;            /* running a job someone waits for */
  unsigned abandoned;       /* running an abandoned job now */
  uint64_t abandoned_total; /* jobs abandoned while running, ever */
  uint64_t never_started;   /* jobs dropped before a worker took them */
} vs_executor_stats_t;

/* Create an executor; no thread starts before the first job. Returns 0, or
 * -EINVAL / -ENOMEM with err set. */
int vs_executor_new(const vs_executor_opts_t *opts, vs_executor_t **ret,
                    vs_error_t *err);

/* Queue fn(arg) for a worker. release(arg) is called exactly once: by
 * vs_job_abandon() or by the worker of an abandoned job, never when the job
 * finished and was collected with vs_job_free() (then the caller still owns
 * arg). Returns 0 and the job, or -ESHUTDOWN / -ENOMEM. */
int vs_executor_submit(vs_executor_t *ex, vs_job_fn fn,
                       vs_job_release_fn release, void *arg, vs_job_t **ret);

/* Wait until job finished or the monotonic deadline (ns) passed. Returns 0
 * (finished), -ETIMEDOUT (a worker is running it) or -EBUSY (no worker took
 * it yet: every worker is busy or stuck). */
int vs_job_wait(vs_job_t *job, uint64_t deadline_ns);

/* Give up on a job (any state). A finished or never started job has its arg
 * released here; a running one is released by its worker later. The caller
 * must not touch job or arg afterwards. */
void vs_job_abandon(vs_job_t *job);

/* Free a finished job (vs_job_wait() returned 0); arg stays the caller's. */
void vs_job_free(vs_job_t *job);

/* Submit, wait until deadline_ns, and: on success free the job and return 0
 * (the caller owns arg and releases it); otherwise abandon it and return
 * -ETIMEDOUT or -EBUSY (arg will be released by the executor). */
int vs_executor_run(vs_executor_t *ex, vs_job_fn fn, vs_job_release_fn release,
                    void *arg, uint64_t deadline_ns);

/* vs_executor_run() whose wait also ends, within VS_EXECUTOR_STOP_CHECK_NS,
 * once *stop is set (the job is then abandoned like one that missed its
 * deadline: -ETIMEDOUT or -EBUSY). For a thread that must not wait out a
 * stuck call when told to stop; stop NULL waits like vs_executor_run(). */
#define VS_EXECUTOR_STOP_CHECK_NS 100000000ULL /* 0.1 s */
int vs_executor_run_stoppable(vs_executor_t *ex, vs_job_fn fn,
                              vs_job_release_fn release, void *arg,
                              uint64_t deadline_ns, const atomic_bool *stop);

/* A snapshot of the counters. */
void vs_executor_stats(vs_executor_t *ex, vs_executor_stats_t *ret);

/* Stop: drop queued jobs (releasing their args), let idle workers exit and
 * wait up to wait_ns for every worker that is not abandoned to finish. Workers
 * inside abandoned jobs exit when their call returns; the executor's shared
 * state lives until the last of them is gone. NULL-safe. Returns the number
 * of workers still running when it gave up waiting. */
unsigned vs_executor_free(vs_executor_t *ex, uint64_t wait_ns);
