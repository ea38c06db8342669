#define _GNU_SOURCE /* pthread_setname_np */
#include "vs_executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs_thread.h"
#include "vs_time.h"

/* Workers with nothing to do exit after this long. */
#define IDLE_EXIT_NS (30 * VS_NS_PER_SEC)

typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state_t;

typedef struct pool pool_t;

struct vs_job {
  vs_job_fn fn;
  vs_job_release_fn release;
  void *arg;
  pool_t *pool;
  /* guarded by pool->lock: */
  job_state_t state;
  bool abandoned;        /* the caller gave up */
  bool counts_abandoned; /* its worker is counted in pool->abandoned */
  pthread_cond_t done;   /* signalled (with pool->lock) when state = DONE */
  vs_job_t *next;        /* queue link while QUEUED */
};

/* Shared by the executor handle and every worker; freed by the last. */
struct pool {
  pthread_mutex_t lock;  /* guards every field below and the jobs' state */
  pthread_cond_t work;   /* a job was queued, or stop was set */
  pthread_cond_t exited; /* a worker exited */
  char name[11];
  unsigned max_workers, max_abandoned;
  unsigned refs; /* the handle + one per live worker */
  bool stop;
  vs_job_t *head, *tail;
  unsigned queued; /* jobs in the queue */
  unsigned threads, idle, busy, abandoned;
  uint64_t abandoned_total, never_started;
};

struct vs_executor {
  pool_t *pool;
};

static void pool_unref_locked(pool_t *p) {
  /* Called with p->lock held; unlocks it. */
  bool last = --p->refs == 0;
  vs_unlock(&p->lock);
  if (last) {
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->exited);
    free(p);
  }
}

static void job_destroy(vs_job_t *job) {
  pthread_cond_destroy(&job->done);
  free(job);
}

/* Non-stuck threads: the ones that can take a job now or later. */
static unsigned capacity(const pool_t *p) { return p->threads - p->abandoned; }

static void *worker(void *arg);

/* Start a worker if a queued job has nobody to run it: more jobs queued
 * than idle workers to take them (a signalled worker still counts as idle
 * until it wakes, so comparing with "any idle" would leave a job behind a
 * long one). Called locked. */
static void maybe_spawn(pool_t *p) {
  if (p->queued <= p->idle || capacity(p) >= p->max_workers || p->stop)
    return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  /* Detached: an abandoned worker may outlive the executor handle. */
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  p->threads++;
  p->refs++;
  if (pthread_create(&t, &attr, worker, p) != 0) {
    /* The job stays queued; its caller's wait reports -EBUSY. */
    p->threads--;
    p->refs--;
  } else {
    char name[16];
    snprintf(name, sizeof(name), "%s%u", p->name, p->threads);
    pthread_setname_np(t, name);
  }
  pthread_attr_destroy(&attr);
}

static void *worker(void *arg) {
  pool_t *p = arg;
  vs_lock(&p->lock);
  for (;;) {
    while (!p->head && !p->stop) {
      p->idle++;
      int r =
          vs_cond_wait_until(&p->work, &p->lock, vs_now_ns() + IDLE_EXIT_NS);
      p->idle--;
      if (r == ETIMEDOUT && !p->head)
        goto out;
    }
    if (!p->head)
      goto out; /* stopping */
    vs_job_t *job = p->head;
    p->head = job->next;
    if (!p->head)
      p->tail = NULL;
    p->queued--;
    job->state = JOB_RUNNING;
    p->busy++;
    vs_unlock(&p->lock);

    job->fn(job->arg); /* may block for ever; no lock held */

    vs_lock(&p->lock);
    job->state = JOB_DONE;
    if (job->counts_abandoned)
      p->abandoned--;
    else
      p->busy--;
    if (job->abandoned) {
      /* Nobody waits for it: the argument is ours to release. */
      vs_unlock(&p->lock);
      job->release(job->arg);
      job_destroy(job);
      vs_lock(&p->lock);
    } else {
      pthread_cond_signal(&job->done);
    }
    /* Replaced while stuck: leave if there are enough workers now. */
    if (capacity(p) > p->max_workers || p->stop)
      goto out;
  }
out:
  p->threads--;
  pthread_cond_broadcast(&p->exited);
  pool_unref_locked(p);
  return NULL;
}

int vs_executor_new(const vs_executor_opts_t *opts, vs_executor_t **ret,
                    vs_error_t *err) {
  if (opts->max_workers == 0)
    return vs_error_set(err, -EINVAL, "executor needs at least one worker");
  vs_executor_t *ex = calloc(1, sizeof(*ex));
  pool_t *p = calloc(1, sizeof(*p));
  if (!ex || !p) {
    free(ex);
    free(p);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  vs_mutex_init(&p->lock);
  vs_cond_init(&p->work);
  vs_cond_init(&p->exited);
  snprintf(p->name, sizeof(p->name), "%s", opts->name ? opts->name : "vs-exec");
  p->max_workers = opts->max_workers;
  p->max_abandoned = opts->max_abandoned;
  p->refs = 1;
  ex->pool = p;
  *ret = ex;
  return 0;
}

int vs_executor_submit(vs_executor_t *ex, vs_job_fn fn,
                       vs_job_release_fn release, void *arg, vs_job_t **ret) {
  pool_t *p = ex->pool;
  vs_job_t *job = calloc(1, sizeof(*job));
  if (!job)
    return -ENOMEM;
  job->fn = fn;
  job->release = release;
  job->arg = arg;
  job->pool = p;
  vs_cond_init(&job->done);
  vs_lock(&p->lock);
  if (p->stop) {
    vs_unlock(&p->lock);
    job_destroy(job);
    return -ESHUTDOWN;
  }
  job->state = JOB_QUEUED;
  if (p->tail)
    p->tail->next = job;
  else
    p->head = job;
  p->tail = job;
  p->queued++;
  if (p->idle > 0)
    pthread_cond_signal(&p->work);
  maybe_spawn(p);
  vs_unlock(&p->lock);
  *ret = job;
  return 0;
}

int vs_job_wait(vs_job_t *job, uint64_t deadline_ns) {
  pool_t *p = job->pool;
  vs_lock(&p->lock);
  while (job->state != JOB_DONE)
    if (vs_cond_wait_until(&job->done, &p->lock, deadline_ns) == ETIMEDOUT)
      break;
  int r = job->state == JOB_DONE      ? 0
          : job->state == JOB_RUNNING ? -ETIMEDOUT
                                      : -EBUSY;
  vs_unlock(&p->lock);
  return r;
}

static void unqueue(pool_t *p, vs_job_t *job) {
  vs_job_t **pp = &p->head, *prev = NULL;
  while (*pp && *pp != job) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (!*pp)
    return;
  *pp = job->next;
  if (p->tail == job)
    p->tail = prev;
  p->queued--;
}

void vs_job_abandon(vs_job_t *job) {
  pool_t *p = job->pool;
  vs_lock(&p->lock);
  if (job->state == JOB_RUNNING) {
    job->abandoned = true;
    p->abandoned_total++;
    if (p->abandoned < p->max_abandoned) {
      /* Its worker no longer counts as capacity: a replacement may start. */
      job->counts_abandoned = true;
      p->busy--;
      p->abandoned++;
      maybe_spawn(p);
    }
    vs_unlock(&p->lock);
    return;
  }
  if (job->state == JOB_QUEUED) {
    unqueue(p, job);
    p->never_started++;
  }
  vs_unlock(&p->lock);
  job->release(job->arg);
  job_destroy(job);
}

void vs_job_free(vs_job_t *job) {
  if (job)
    job_destroy(job);
}

int vs_executor_run(vs_executor_t *ex, vs_job_fn fn, vs_job_release_fn release,
                    void *arg, uint64_t deadline_ns) {
  return vs_executor_run_stoppable(ex, fn, release, arg, deadline_ns, NULL);
}

int vs_executor_run_stoppable(vs_executor_t *ex, vs_job_fn fn,
                              vs_job_release_fn release, void *arg,
                              uint64_t deadline_ns, const atomic_bool *stop) {
  vs_job_t *job;
  int r = vs_executor_submit(ex, fn, release, arg, &job);
  if (r < 0) {
    release(arg);
    return r;
  }
  /* Waits in slices only when it may have to stop early. */
  for (;;) {
    uint64_t until = deadline_ns;
    if (stop) {
      uint64_t check = vs_now_ns() + VS_EXECUTOR_STOP_CHECK_NS;
      if (check < until)
        until = check;
    }
    r = vs_job_wait(job, until);
    if (r == 0 || until == deadline_ns || vs_now_ns() >= deadline_ns ||
        atomic_load(stop))
      break;
  }
  if (r == 0)
    vs_job_free(job);
  else
    vs_job_abandon(job);
  return r;
}

void vs_executor_stats(vs_executor_t *ex, vs_executor_stats_t *ret) {
  pool_t *p = ex->pool;
  vs_lock(&p->lock);
  *ret = (vs_executor_stats_t){.threads = p->threads,
                               .busy = p->busy,
                               .abandoned = p->abandoned,
                               .abandoned_total = p->abandoned_total,
                               .never_started = p->never_started};
  vs_unlock(&p->lock);
}

unsigned vs_executor_free(vs_executor_t *ex, uint64_t wait_ns) {
  if (!ex)
    return 0;
  pool_t *p = ex->pool;
  free(ex);
  vs_lock(&p->lock);
  p->stop = true;
  vs_job_t *queued = p->head;
  p->head = p->tail = NULL;
  p->queued = 0;
  pthread_cond_broadcast(&p->work);
  uint64_t deadline = vs_now_ns() + wait_ns;
  while (capacity(p) > 0)
    if (vs_cond_wait_until(&p->exited, &p->lock, deadline) == ETIMEDOUT)
      break;
  unsigned left = p->threads;
  pool_unref_locked(p);
  /* Jobs nobody started: their callers were told -EBUSY or never waited. */
  while (queued) {
    vs_job_t *next = queued->next;
    queued->release(queued->arg);
    job_destroy(queued);
    queued = next;
  }
  return left;
}
