#include "vs_connection.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_thread.h"
#include "common/vs_virt.h"

struct vs_conn {
  atomic_uint refs;
  virConnectPtr conn;
  char *uri;
  unsigned host_cpus;
  atomic_bool closed;
  atomic_uint inflight;
  int lifecycle_id, threshold_id; /* -1: not registered */
  bool close_cb;
  pthread_mutex_t cb_lock; /* guards detached and the use of ev */
  bool detached;           /* the owner closed it: callbacks do nothing */
  vs_conn_events_t ev;
};

vs_conn_t *vs_conn_ref(vs_conn_t *c) {
  atomic_fetch_add(&c->refs, 1);
  return c;
}

void vs_conn_unref(vs_conn_t *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
    return;
  vs_virt_conn_close(c->conn);
  pthread_mutex_destroy(&c->cb_lock);
  free(c->uri);
  free(c);
}

virConnectPtr vs_conn_virt(const vs_conn_t *c) { return c->conn; }
const char *vs_conn_uri(const vs_conn_t *c) { return c->uri; }
unsigned vs_conn_host_cpus(const vs_conn_t *c) { return c->host_cpus; }
bool vs_conn_is_closed(const vs_conn_t *c) { return atomic_load(&c->closed); }
void vs_conn_call_begin(vs_conn_t *c) { atomic_fetch_add(&c->inflight, 1); }
void vs_conn_call_end(vs_conn_t *c) { atomic_fetch_sub(&c->inflight, 1); }
unsigned vs_conn_inflight(const vs_conn_t *c) {
  return atomic_load(&c->inflight);
}

/* --- callbacks, on the event loop thread -------------------------------- */

static void on_close(virConnectPtr conn, int reason, void *opaque) {
  vs_conn_t *c = opaque;
  atomic_store(&c->closed, true);
  vs_lock(&c->cb_lock);
  if (!c->detached && c->ev.closed)
    c->ev.closed(c->ev.ud, reason);
  vs_unlock(&c->cb_lock);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
                        int detail, void *opaque) {
  vs_conn_t *c = opaque;
  vs_lock(&c->cb_lock);
  if (!c->detached)
    c->ev.lifecycle(c->ev.ud, dom, event, detail);
  vs_unlock(&c->cb_lock);
  return 0;
}

static void on_threshold(virConnectPtr conn, virDomainPtr dom, const char *dev,
                         const char *path, unsigned long long threshold,
                         unsigned long long excess, void *opaque) {
  vs_conn_t *c = opaque;
  vs_lock(&c->cb_lock);
  if (!c->detached)
    c->ev.block_threshold(c->ev.ud, dom, dev, threshold, excess);
  vs_unlock(&c->cb_lock);
}

/* --- opening ------------------------------------------------------------ */

typedef struct {
  vs_conn_opts_t opts;
  vs_token_t *token;
  char *uri_copy;
  vs_conn_t *c; /* result, owned by the job until collected */
  vs_error_t err;
} open_job_t;

static void close_now(vs_conn_t *c) {
  virConnectPtr conn = c->conn;
  if (c->lifecycle_id >= 0)
    virConnectDomainEventDeregisterAny(conn, c->lifecycle_id);
  if (c->threshold_id >= 0)
    virConnectDomainEventDeregisterAny(conn, c->threshold_id);
  if (c->close_cb)
    virConnectUnregisterCloseCallback(conn, on_close);
  c->lifecycle_id = c->threshold_id = -1;
  c->close_cb = false;
}

static void open_conn(open_job_t *j) {
  const vs_conn_opts_t *o = &j->opts;
  vs_conn_t *c = calloc(1, sizeof(*c));
  if (!c) {
    vs_error_set(&j->err, -ENOMEM, "out of memory");
    return;
  }
  atomic_init(&c->refs, 1);
  vs_mutex_init(&c->cb_lock);
  c->lifecycle_id = c->threshold_id = -1;
  c->ev = o->ev;
  c->conn = vs_virt_open(o->uri, o->read_only, &j->err);
  if (!c->conn) {
    vs_conn_unref(c);
    return;
  }
  /* Keepalive is refused by drivers without it (test:///): not an error. */
  if (o->keepalive_interval > 0)
    virConnectSetKeepAlive(c->conn, o->keepalive_interval, o->keepalive_count);
  if (virConnectRegisterCloseCallback(c->conn, on_close, c, NULL) == 0)
    c->close_cb = true;
  if (o->ev.lifecycle)
    c->lifecycle_id = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), c, NULL);
  if (o->ev.block_threshold)
    c->threshold_id = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD,
        VIR_DOMAIN_EVENT_CALLBACK(on_threshold), c, NULL);
  char *uri = virConnectGetURI(c->conn);
  c->uri = uri ? uri : strdup(o->uri ? o->uri : "");
  virNodeInfo ni;
  c->host_cpus = virNodeGetInfo(c->conn, &ni) == 0 ? ni.cpus : 0;
  j->c = c;
}

static void open_fn(void *arg) {
  open_job_t *j = arg;
  open_conn(j);
  if (j->token)
    vs_token_set(j->token, false);
}

static void open_release(void *arg) {
  open_job_t *j = arg;
  if (j->c) {
    /* Nobody took it: an abandoned open that succeeded late. */
    vs_lock(&j->c->cb_lock);
    j->c->detached = true;
    vs_unlock(&j->c->cb_lock);
    close_now(j->c);
    vs_conn_unref(j->c);
  }
  if (j->token) /* also when the job never ran */
    vs_token_set(j->token, false);
  vs_token_unref(j->token);
  free(j->uri_copy);
  free(j);
}

int vs_conn_open(vs_executor_t *ex, const vs_conn_opts_t *opts,
                 vs_token_t *token, uint64_t deadline_ns, vs_conn_t **ret,
                 vs_error_t *err) {
  open_job_t *j = calloc(1, sizeof(*j));
  if (!j) {
    if (token)
      vs_token_set(token, false);
    vs_token_unref(token);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  j->opts = *opts;
  j->token = token;
  if (opts->uri && !(j->uri_copy = strdup(opts->uri))) {
    if (token)
      vs_token_set(token, false);
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
  if (!j->c) {
    r = j->err.code ? j->err.code : -EIO;
    vs_error_set(err, r, "%s", j->err.msg);
    open_release(j);
    return r;
  }
  *ret = j->c;
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
  close_now(j->c);
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
  /* Deregistering talks to libvirtd; the owner's reference is dropped on
   * the worker too, since the last unref closes the connection. */
  close_job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return; /* out of memory: leak the connection rather than block */
  j->c = c;
  if (vs_executor_run(ex, close_fn, close_release, j, deadline_ns) == 0)
    close_release(j);
}
