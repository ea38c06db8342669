#include "vs_connection.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_thread.h"

struct vs_conn {
  atomic_uint refs;
  const vs_virt_api_t *api;
  void *h; /* the layer's handle, NULL until opened */
  char *uri;
  unsigned host_cpus;
  atomic_bool closed;
  atomic_int reason; /* vs_close_reason_t, once closed */
  atomic_uint inflight;
  pthread_mutex_t cb_lock; /* guards detached and the use of ev */
  bool detached;           /* the owner let go: callbacks do nothing */
  vs_conn_events_t ev;     /* the owner's callbacks */
};

vs_conn_t *vs_conn_ref(vs_conn_t *c) {
  atomic_fetch_add(&c->refs, 1);
  return c;
}

void vs_conn_unref(vs_conn_t *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
    return;
  if (c->h)
    c->api->close(c->h); /* deregisters the callbacks first */
  pthread_mutex_destroy(&c->cb_lock);
  free(c->uri);
  free(c);
}

const vs_virt_api_t *vs_conn_api(const vs_conn_t *c) { return c->api; }
void *vs_conn_handle(const vs_conn_t *c) { return c->h; }
const char *vs_conn_uri(const vs_conn_t *c) { return c->uri; }
unsigned vs_conn_host_cpus(const vs_conn_t *c) { return c->host_cpus; }
bool vs_conn_is_closed(const vs_conn_t *c) { return atomic_load(&c->closed); }
vs_close_reason_t vs_conn_close_reason(const vs_conn_t *c) {
  return (vs_close_reason_t)atomic_load(&c->reason);
}
void vs_conn_call_begin(vs_conn_t *c) { atomic_fetch_add(&c->inflight, 1); }
void vs_conn_call_end(vs_conn_t *c) { atomic_fetch_sub(&c->inflight, 1); }
unsigned vs_conn_inflight(const vs_conn_t *c) {
  return atomic_load(&c->inflight);
}

/* --- callbacks, on the event loop thread -------------------------------- */

static void on_closed(void *ud, vs_close_reason_t reason) {
  vs_conn_t *c = ud;
  atomic_store(&c->reason, (int)reason);
  atomic_store(&c->closed, true);
  vs_lock(&c->cb_lock);
  if (!c->detached && c->ev.closed)
    c->ev.closed(c->ev.ud, reason);
  vs_unlock(&c->cb_lock);
}

static void on_lifecycle(void *ud, const vs_event_domain_t *d, int event,
                         int detail) {
  vs_conn_t *c = ud;
  vs_lock(&c->cb_lock);
  if (!c->detached)
    c->ev.lifecycle(c->ev.ud, d, event, detail);
  vs_unlock(&c->cb_lock);
}

static void on_threshold(void *ud, const vs_event_domain_t *d, const char *dev,
                         unsigned long long threshold,
                         unsigned long long excess) {
  vs_conn_t *c = ud;
  vs_lock(&c->cb_lock);
  if (!c->detached)
    c->ev.block_threshold(c->ev.ud, d, dev, threshold, excess);
  vs_unlock(&c->cb_lock);
}

/* --- opening ------------------------------------------------------------ */

typedef struct {
  vs_conn_opts_t opts;
  char *uri_copy;
  vs_token_t *token;
  vs_conn_t *c; /* the result, the job's until collected */
  vs_error_t err;
} open_job_t;

static void open_fn(void *arg) {
  open_job_t *j = arg;
  vs_conn_t *c = j->c;
  /* The close callback is always wanted: it is how a lost connection is
   * noticed. */
  vs_conn_events_t ev = {.ud = c,
                         .closed = on_closed,
                         .lifecycle = c->ev.lifecycle ? on_lifecycle : NULL,
                         .block_threshold =
                             c->ev.block_threshold ? on_threshold : NULL};
  if (c->api->open(&j->opts, &ev, &c->h, &j->err) == 0) {
    char *uri = c->api->uri(c->h);
    c->uri = uri ? uri : strdup(j->opts.uri ? j->opts.uri : "");
    c->host_cpus = c->api->host_cpus(c->h);
  }
  if (j->token)
    vs_token_set(j->token, false);
}

static void open_release(void *arg) {
  open_job_t *j = arg;
  if (j->c) {
    /* Nobody took it (an abandoned open that answered late, or a failed
     * one): no callback may reach the owner, who may be gone. */
    vs_conn_detach(j->c);
    vs_conn_unref(j->c);
  }
  if (j->token) /* also when the job never ran */
    vs_token_set(j->token, false);
  vs_token_unref(j->token);
  free(j->uri_copy);
  free(j);
}

int vs_conn_open(vs_executor_t *ex, const vs_virt_api_t *api,
                 const vs_conn_opts_t *opts, const vs_conn_events_t *ev,
                 vs_token_t *token, uint64_t deadline_ns, vs_conn_t **ret,
                 vs_error_t *err) {
  open_job_t *j = calloc(1, sizeof(*j));
  vs_conn_t *c = calloc(1, sizeof(*c));
  if (!j || !c) {
    free(j);
    free(c);
    if (token)
      vs_token_set(token, false);
    vs_token_unref(token);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  atomic_init(&c->refs, 1);
  vs_mutex_init(&c->cb_lock);
  /* Detached until the caller has it: an open that answers after its
   * caller gave up must never call into an owner that may be gone. */
  c->detached = true;
  c->api = api;
  c->ev = *ev;
  j->c = c;
  j->opts = *opts;
  j->token = token;
  if (opts->uri && !(j->uri_copy = strdup(opts->uri))) {
    open_release(j);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  j->opts.uri = j->uri_copy;
  int r = vs_executor_run(ex, open_fn, open_release, j, deadline_ns);
  if (r == -ETIMEDOUT || r == -EBUSY)
    return vs_error_set(err, r,
                        "libvirtd did not answer the connection in "
                        "time");
  if (r < 0)
    return vs_error_set(err, r, "cannot run the connection job");
  if (!c->h) {
    r = j->err.code ? j->err.code : -EIO;
    vs_error_set(err, r, "%s", j->err.msg);
    open_release(j);
    return r;
  }
  vs_lock(&c->cb_lock);
  c->detached = false;
  vs_unlock(&c->cb_lock);
  *ret = c;
  j->c = NULL;
  open_release(j);
  return 0;
}

/* --- closing ------------------------------------------------------------ */

typedef struct {
  vs_conn_t *c;
  bool dropped; /* close_fn dropped the owner's reference */
} close_job_t;

static void close_fn(void *arg) {
  close_job_t *j = arg;
  vs_conn_unref(j->c);
  j->dropped = true;
}

static void close_release(void *arg) {
  close_job_t *j = arg;
  if (!j->dropped) /* never ran (no worker): drop it here */
    vs_conn_unref(j->c);
  free(j);
}

void vs_conn_detach(vs_conn_t *c) {
  vs_lock(&c->cb_lock);
  c->detached = true; /* from here on no callback reaches the owner */
  vs_unlock(&c->cb_lock);
}

void vs_conn_close(vs_conn_t *c, vs_executor_t *ex, uint64_t deadline_ns) {
  if (!c)
    return;
  vs_conn_detach(c);
  /* The last reference closes, which talks to libvirtd: drop it on a
   * worker. */
  close_job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return; /* out of memory: leak the connection rather than block */
  j->c = c;
  if (vs_executor_run(ex, close_fn, close_release, j, deadline_ns) == 0)
    close_release(j);
}
