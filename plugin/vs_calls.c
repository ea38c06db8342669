#include "vs_calls.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/vs_thread.h"
#include "common/vs_time.h"

/* Shared by the handle and every lane's job; freed by the last of them (an
 * abandoned lane may outlive the handle). */
typedef struct {
  pthread_mutex_t lock;    /* guards every field below and the lanes' fields */
  pthread_cond_t answered; /* an answer was posted */
  unsigned refs;
  unsigned reserved;      /* the lane that sends only job-free calls */
  vs_call_t *head, *tail; /* queued */
  size_t nqueued, njob_free;
  vs_call_t *ans_head, *ans_tail; /* answered, not taken yet */
} shared_t;

/* One busy lane: the argument of its drain job. */
typedef struct {
  shared_t *s;
  vs_conn_t *conn; /* reference */
  unsigned index;
  /* guarded by s->lock: */
  vs_call_t *wire; /* on the wire, or NULL */
  bool abandoned;  /* the read thread gave it up: post nothing more */
  bool done;       /* the drain found the queue empty and ended */
} lane_t;

struct vs_calls {
  shared_t *s;
  vs_executor_t *ex;
  unsigned max_lanes;
  struct {
    lane_t *lane; /* NULL: idle */
    vs_job_t *job;
  } slot[VS_LANES_MAX];
};

static void shared_unref_locked(shared_t *s) {
  /* Called with s->lock held; unlocks it. */
  bool last = --s->refs == 0;
  vs_unlock(&s->lock);
  if (!last)
    return;
  while (s->head) {
    vs_call_t *c = s->head;
    s->head = c->next;
    vs_call_free(c);
  }
  while (s->ans_head) {
    vs_call_t *c = s->ans_head;
    s->ans_head = c->next;
    vs_call_free(c);
  }
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->answered);
  free(s);
}

static vs_call_t *pop(vs_call_t **head, vs_call_t **tail) {
  vs_call_t *c = *head;
  if (c) {
    *head = c->next;
    if (!*head)
      *tail = NULL;
    c->next = NULL;
  }
  return c;
}

/* The first job-free call of the queue, taken off it (or NULL). */
static vs_call_t *pop_job_free(vs_call_t **head, vs_call_t **tail) {
  vs_call_t *prev = NULL;
  for (vs_call_t *c = *head; c; prev = c, c = c->next) {
    if (!c->job_free)
      continue;
    if (prev)
      prev->next = c->next;
    else
      *head = c->next;
    if (*tail == c)
      *tail = prev;
    c->next = NULL;
    return c;
  }
  return NULL;
}

static void push(vs_call_t **head, vs_call_t **tail, vs_call_t *c) {
  c->next = NULL;
  if (*tail)
    (*tail)->next = c;
  else
    *head = c;
  *tail = c;
}

/* --- the drain, on a worker ---------------------------------------------- */

static void drain_fn(void *arg) {
  lane_t *l = arg;
  shared_t *s = l->s;
  const vs_virt_api_t *api = vs_conn_api(l->conn);
  void *h = vs_conn_handle(l->conn);
  vs_lock(&s->lock);
  while (!l->abandoned) {
    vs_call_t *c = l->index == s->reserved ? pop_job_free(&s->head, &s->tail)
                                           : pop(&s->head, &s->tail);
    if (!c)
      break;
    s->nqueued--;
    s->njob_free -= c->job_free;
    c->lane = l->index;
    c->sent_ns = vs_now_ns();
    l->wire = c;
    vs_unlock(&s->lock);

    vs_conn_call_begin(l->conn);
    c->run(api, h, c); /* may block for ever; no lock held */
    vs_conn_call_end(l->conn);
    c->answered_ns = vs_now_ns();
    c->answered_wall_ns = vs_wall_ns();
    vs_token_set(c->returned, false);

    vs_lock(&s->lock);
    l->wire = NULL;
    if (l->abandoned) {
      /* Given up while it ran: the domains were asked again elsewhere. */
      vs_unlock(&s->lock);
      vs_call_free(c);
      vs_lock(&s->lock);
      break;
    }
    push(&s->ans_head, &s->ans_tail, c);
    pthread_cond_signal(&s->answered);
  }
  l->done = true;
  vs_unlock(&s->lock);
  /* Dropped here, on the worker: it may be the last reference, and the
   * last one closes the connection, which talks to libvirtd. */
  vs_conn_unref(l->conn);
  l->conn = NULL;
}

/* Releases a lane: run by the worker of an abandoned drain when it ends, by
 * vs_job_abandon() for one that never started, or by the read thread for
 * one it collected. */
static void drain_release(void *arg) {
  lane_t *l = arg;
  shared_t *s = l->s;
  vs_conn_unref(l->conn); /* NULL unless the drain never ran */
  free(l);
  vs_lock(&s->lock);
  shared_unref_locked(s);
}

/* --- the read thread ------------------------------------------------------ */

int vs_calls_new(vs_executor_t *ex, unsigned max_lanes, vs_calls_t **ret,
                 vs_error_t *err) {
  vs_calls_t *q = calloc(1, sizeof(*q));
  shared_t *s = calloc(1, sizeof(*s));
  if (!q || !s) {
    free(q);
    free(s);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  vs_mutex_init(&s->lock);
  vs_cond_init(&s->answered);
  s->refs = 1;
  q->s = s;
  q->max_lanes = max_lanes > VS_LANES_MAX ? VS_LANES_MAX : max_lanes;
  /* With a single lane there is none to reserve. */
  s->reserved = q->max_lanes > 1 ? q->max_lanes - 1 : UINT32_MAX;
  q->ex = ex;
  *ret = q;
  return 0;
}

void vs_calls_abandon(vs_calls_t *q, unsigned lane) {
  if (lane >= q->max_lanes || !q->slot[lane].lane)
    return;
  vs_lock(&q->s->lock);
  q->slot[lane].lane->abandoned = true;
  vs_unlock(&q->s->lock);
  vs_job_abandon(q->slot[lane].job); /* the lane is its worker's now */
  q->slot[lane].lane = NULL;
  q->slot[lane].job = NULL;
}

void vs_calls_free(vs_calls_t *q) {
  if (!q)
    return;
  vs_call_t *c = vs_calls_unqueue(q);
  while (c) {
    vs_call_t *next = c->next;
    vs_call_free(c);
    c = next;
  }
  for (unsigned i = 0; i < q->max_lanes; i++)
    vs_calls_abandon(q, i);
  vs_lock(&q->s->lock);
  shared_unref_locked(q->s);
  free(q);
}

void vs_calls_queue(vs_calls_t *q, vs_call_t *call, bool front) {
  shared_t *s = q->s;
  vs_lock(&s->lock);
  if (front) {
    call->next = s->head;
    s->head = call;
    if (!s->tail)
      s->tail = call;
  } else {
    push(&s->head, &s->tail, call);
  }
  s->nqueued++;
  s->njob_free += call->job_free;
  vs_unlock(&s->lock);
}

/* Collect a lane whose drain has ended. Returns whether it is idle now. */
static bool reap(vs_calls_t *q, unsigned i) {
  lane_t *l = q->slot[i].lane;
  if (!l)
    return true;
  vs_lock(&q->s->lock);
  bool done = l->done;
  vs_unlock(&q->s->lock);
  /* done is set just before the job returns: wait for that moment. */
  if (!done || vs_job_wait(q->slot[i].job, vs_now_ns()) != 0)
    return false;
  vs_job_free(q->slot[i].job);
  drain_release(l);
  q->slot[i].lane = NULL;
  q->slot[i].job = NULL;
  return true;
}

unsigned vs_calls_kick(vs_calls_t *q, vs_conn_t *const *conns, size_t nconns) {
  shared_t *s = q->s;
  unsigned busy = 0;
  for (unsigned i = 0; i < q->max_lanes; i++)
    if (!reap(q, i))
      busy++;
  vs_lock(&s->lock);
  size_t want = s->nqueued, job_free = s->njob_free;
  vs_unlock(&s->lock);
  /* A drain takes calls until the queue is empty: one idle lane per queued
   * call beyond what the busy lanes will take is enough. */
  for (unsigned i = 0; i < q->max_lanes && i < nconns && want > 0; i++) {
    if (q->slot[i].lane || !conns[i] || (i == s->reserved && job_free == 0))
      continue;
    lane_t *l = calloc(1, sizeof(*l));
    if (!l)
      break;
    l->s = s;
    l->conn = vs_conn_ref(conns[i]);
    l->index = i;
    vs_lock(&s->lock);
    s->refs++;
    vs_unlock(&s->lock);
    vs_job_t *job;
    if (vs_executor_submit(q->ex, drain_fn, drain_release, l, &job) < 0) {
      drain_release(l);
      break;
    }
    q->slot[i].lane = l;
    q->slot[i].job = job;
    busy++;
    want--;
  }
  return busy;
}

int vs_calls_wait(vs_calls_t *q, uint64_t deadline_ns, vs_call_t **ret) {
  shared_t *s = q->s;
  vs_lock(&s->lock);
  while (!s->ans_head)
    if (vs_cond_wait_until(&s->answered, &s->lock, deadline_ns) == ETIMEDOUT)
      break;
  vs_call_t *c = pop(&s->ans_head, &s->ans_tail);
  vs_unlock(&s->lock);
  if (!c)
    return -ETIMEDOUT;
  *ret = c;
  return 0;
}

size_t vs_calls_on_wire(vs_calls_t *q, vs_wire_t *out, size_t max) {
  size_t n = 0;
  vs_lock(&q->s->lock);
  for (unsigned i = 0; i < q->max_lanes && n < max; i++) {
    const lane_t *l = q->slot[i].lane;
    if (l && l->wire)
      out[n++] =
          (vs_wire_t){.lane = i, .call = l->wire, .sent_ns = l->wire->sent_ns};
  }
  vs_unlock(&q->s->lock);
  return n;
}

vs_call_t *vs_calls_unqueue(vs_calls_t *q) {
  vs_lock(&q->s->lock);
  vs_call_t *list = q->s->head;
  q->s->head = q->s->tail = NULL;
  q->s->nqueued = q->s->njob_free = 0;
  vs_unlock(&q->s->lock);
  return list;
}

size_t vs_calls_queued(vs_calls_t *q) {
  vs_lock(&q->s->lock);
  size_t n = q->s->nqueued;
  vs_unlock(&q->s->lock);
  return n;
}

unsigned vs_calls_busy(vs_calls_t *q) {
  unsigned n = 0;
  vs_lock(&q->s->lock);
  for (unsigned i = 0; i < q->max_lanes; i++)
    if (q->slot[i].lane && q->slot[i].lane->wire)
      n++;
  vs_unlock(&q->s->lock);
  return n;
}

void vs_calls_queued_split(vs_calls_t *q, size_t *all, size_t *job_free) {
  vs_lock(&q->s->lock);
  *all = q->s->nqueued;
  *job_free = q->s->njob_free;
  vs_unlock(&q->s->lock);
}
