#include "vs_start_virt.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_eventloop.h"
#include "common/vs_thread.h"
#include "common/vs_time.h"
#include "common/vs_virt.h"

/* Closing waits this long for libvirtd: nothing depends on it any more
 * (the helper is about to exit), so a stalled libvirtd must not hold the
 * exit up for a whole call timeout. */
#define CLOSE_TIMEOUT_NS (5 * VS_NS_PER_SEC)
/* Keepalive on every connection: a ping after 5 s of silence, the
 * connection closed after 3 unanswered ones. */
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3

uint64_t vs_virt_call_deadline(uint64_t limit_ns) {
  uint64_t d = vs_now_ns() + VS_VIRT_CALL_TIMEOUT_S * VS_NS_PER_SEC;
  return limit_ns && limit_ns < d ? limit_ns : d;
}

/* --- deadline-bound calls ------------------------------------------------ */

struct job {
  vs_vcall_t *c;
  bool ran; /* the worker ran c->fn (written by the worker before it can
               be abandoned-and-released, read in release) */
};

vs_vcall_t *vs_vcall_new(void (*fn)(vs_vcall_t *c), void (*undo)(vs_vcall_t *c),
                         virConnectPtr conn, virDomainPtr dom) {
  vs_vcall_t *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->fn = fn;
  c->undo = undo;
  c->rc = -EIO;
  if (conn && virConnectRef(conn) == 0)
    c->conn = conn;
  if (dom && virDomainRef(dom) == 0)
    c->dom = dom;
  return c;
}

void vs_vcall_free(vs_vcall_t *c) {
  if (!c)
    return;
  if (c->st)
    virStreamFree(c->st);
  vs_virt_domain_free(c->dom);
  vs_virt_domain_free(c->dom_out);
  for (int i = 0; c->doms_out && i < c->n_out; i++)
    vs_virt_domain_free(c->doms_out[i]);
  free(c->doms_out);
  vs_virt_conn_close(c->conn_out);
  vs_virt_conn_close(c->conn);
  free(c->str);
  free(c);
}

void vs_vcall_fail(vs_vcall_t *c, int code) {
  c->rc = code;
  snprintf(c->msg, sizeof(c->msg), "%s", virGetLastErrorMessage());
}

static void run_job(void *arg) {
  struct job *j = arg;
  j->c->fn(j->c);
  j->ran = true;
}

/* The caller gave up: undo what a late success did, release the rest. */
static void release_job(void *arg) {
  struct job *j = arg;
  if (j->ran && j->c->rc >= 0 && j->c->undo)
    j->c->undo(j->c);
  vs_vcall_free(j->c);
  free(j);
}

int vs_vcall_run(vs_executor_t *ex, vs_vcall_t *c, const char *what,
                 uint64_t deadline_ns, vs_error_t *err) {
  if (!c)
    return vs_error_set(err, -ENOMEM, "%s: out of memory", what);
  struct job *j = calloc(1, sizeof(*j));
  if (!j) {
    vs_vcall_free(c);
    return vs_error_set(err, -ENOMEM, "%s: out of memory", what);
  }
  j->c = c;
  uint64_t t0 = vs_now_ns();
  double s = deadline_ns > t0 ? (double)(deadline_ns - t0) / 1e9 : 0;
  int r = vs_executor_run(ex, run_job, release_job, j, deadline_ns);
  if (r == -ETIMEDOUT)
    return vs_error_set(err, -ETIMEDOUT,
                        "%s: libvirt did not answer within %.3g s", what, s);
  if (r == -EBUSY)
    return vs_error_set(err, -ETIMEDOUT,
                        "%s: not started within %.3g s: every worker is "
                        "waiting for libvirt",
                        what, s);
  if (r < 0)
    return vs_error_set(err, r, "%s: cannot run the call: %s", what,
                        strerror(-r));
  free(j);
  if (c->rc < 0) {
    r = vs_error_set(err, c->rc, "%s: %s", what, c->msg);
    vs_vcall_free(c);
  }
  return r < 0 ? r : c->rc;
}

/* Run c; on success hand over its domain result and free it. */
static int run_dom(vs_executor_t *ex, vs_vcall_t *c, const char *what,
                   uint64_t deadline_ns, virDomainPtr *ret, vs_error_t *err) {
  int r = vs_vcall_run(ex, c, what, deadline_ns, err);
  if (r < 0)
    return r;
  *ret = c->dom_out;
  c->dom_out = NULL;
  vs_vcall_free(c);
  return r;
}

/* Run c; on success free it and return its result. */
static int run_rc(vs_executor_t *ex, vs_vcall_t *c, const char *what,
                  uint64_t deadline_ns, vs_error_t *err) {
  int r = vs_vcall_run(ex, c, what, deadline_ns, err);
  if (r >= 0)
    vs_vcall_free(c);
  return r;
}

static void call_open(vs_vcall_t *c) {
  c->conn_out = virConnectOpen(c->str);
  if (!c->conn_out) {
    vs_vcall_fail(c, -ECONNREFUSED);
    return;
  }
  /* Notices a dead libvirtd; drivers without it (test:///) say so with 1
   * and that is fine. */
  virConnectSetKeepAlive(c->conn_out, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT);
  c->rc = 0;
}

static void call_lookup_uuid(vs_vcall_t *c) {
  c->dom_out = virDomainLookupByUUID(c->conn, c->uuid);
  if (c->dom_out)
    c->rc = 0;
  else
    vs_vcall_fail(c, -ENOENT);
}

static void call_lookup_name(vs_vcall_t *c) {
  c->dom_out = virDomainLookupByName(c->conn, c->str);
  if (!c->dom_out)
    c->dom_out = virDomainLookupByUUIDString(c->conn, c->str);
  if (c->dom_out)
    c->rc = 0;
  else
    vs_vcall_fail(c, -ENOENT);
}

static void call_list(vs_vcall_t *c) {
  c->n_out = virConnectListAllDomains(c->conn, &c->doms_out, c->flags);
  if (c->n_out < 0)
    vs_vcall_fail(c, -EIO);
  else
    c->rc = c->n_out;
}

static void call_is_active(vs_vcall_t *c) {
  if ((c->rc = virDomainIsActive(c->dom)) < 0)
    vs_vcall_fail(c, -EIO);
}

static void call_is_persistent(vs_vcall_t *c) {
  if ((c->rc = virDomainIsPersistent(c->dom)) < 0)
    vs_vcall_fail(c, -EIO);
}

static void call_create(vs_vcall_t *c) {
  if ((c->rc = virDomainCreateWithFlags(c->dom, c->flags)) < 0)
    vs_vcall_fail(c, -EIO);
}

static void call_resume(vs_vcall_t *c) {
  if ((c->rc = virDomainResume(c->dom)) < 0)
    vs_vcall_fail(c, -EIO);
}

static void call_destroy(vs_vcall_t *c) {
  if ((c->rc = virDomainDestroy(c->dom)) < 0)
    vs_vcall_fail(c, -EIO);
}

static void call_open_console(vs_vcall_t *c) {
  if ((c->rc = virDomainOpenConsole(c->dom, NULL, c->st, c->flags)) < 0)
    vs_vcall_fail(c, -EIO);
}

static void undo_open_console(vs_vcall_t *c) { virStreamAbort(c->st); }

static void call_stream_close(vs_vcall_t *c) {
  /* A stream that already failed refuses the abort: nothing to close. */
  virStreamAbort(c->st);
  c->rc = 0;
}

int vs_vcall_lookup_uuid(vs_executor_t *ex, virConnectPtr conn,
                         const unsigned char uuid[16], uint64_t deadline_ns,
                         virDomainPtr *ret, vs_error_t *err) {
  vs_vcall_t *c = vs_vcall_new(call_lookup_uuid, NULL, conn, NULL);
  if (c)
    memcpy(c->uuid, uuid, sizeof(c->uuid));
  return run_dom(ex, c, "lookup", deadline_ns, ret, err);
}

int vs_vcall_lookup_name(vs_executor_t *ex, virConnectPtr conn,
                         const char *name_or_uuid, uint64_t deadline_ns,
                         virDomainPtr *ret, vs_error_t *err) {
  vs_vcall_t *c = vs_vcall_new(call_lookup_name, NULL, conn, NULL);
  if (c && !(c->str = strdup(name_or_uuid))) {
    vs_vcall_free(c);
    c = NULL;
  }
  return run_dom(ex, c, "lookup", deadline_ns, ret, err);
}

int vs_vcall_list(vs_executor_t *ex, virConnectPtr conn, unsigned flags,
                  uint64_t deadline_ns, virDomainPtr **ret, vs_error_t *err) {
  vs_vcall_t *c = vs_vcall_new(call_list, NULL, conn, NULL);
  if (c)
    c->flags = flags;
  int r = vs_vcall_run(ex, c, "listing domains", deadline_ns, err);
  if (r < 0)
    return r;
  *ret = c->doms_out;
  c->doms_out = NULL;
  vs_vcall_free(c);
  return r;
}

int vs_vcall_is_active(vs_executor_t *ex, virDomainPtr dom,
                       uint64_t deadline_ns, vs_error_t *err) {
  return run_rc(ex, vs_vcall_new(call_is_active, NULL, NULL, dom),
                "virDomainIsActive", deadline_ns, err);
}

int vs_vcall_is_persistent(vs_executor_t *ex, virDomainPtr dom,
                           uint64_t deadline_ns, vs_error_t *err) {
  return run_rc(ex, vs_vcall_new(call_is_persistent, NULL, NULL, dom),
                "virDomainIsPersistent", deadline_ns, err);
}

int vs_vcall_create(vs_executor_t *ex, virDomainPtr dom, unsigned flags,
                    uint64_t deadline_ns, vs_error_t *err) {
  vs_vcall_t *c = vs_vcall_new(call_create, NULL, NULL, dom);
  if (c)
    c->flags = flags;
  return run_rc(ex, c, "start failed", deadline_ns, err);
}

int vs_vcall_resume(vs_executor_t *ex, virDomainPtr dom, uint64_t deadline_ns,
                    vs_error_t *err) {
  return run_rc(ex, vs_vcall_new(call_resume, NULL, NULL, dom),
                "cannot resume after attaching the console", deadline_ns, err);
}

int vs_vcall_destroy(vs_executor_t *ex, virDomainPtr dom, uint64_t deadline_ns,
                     vs_error_t *err) {
  return run_rc(ex, vs_vcall_new(call_destroy, NULL, NULL, dom), "destroy",
                deadline_ns, err);
}

int vs_vcall_open_console(vs_executor_t *ex, virDomainPtr dom, virStreamPtr st,
                          unsigned flags, uint64_t deadline_ns,
                          vs_error_t *err) {
  vs_vcall_t *c = vs_vcall_new(call_open_console, undo_open_console, NULL, dom);
  if (c && virStreamRef(st) == 0) {
    c->st = st;
    c->flags = flags;
  } else if (c) {
    vs_vcall_free(c);
    c = NULL;
  }
  return run_rc(ex, c, "cannot open the console", deadline_ns, err);
}

int vs_vcall_stream_close(vs_executor_t *ex, virStreamPtr st,
                          uint64_t deadline_ns, vs_error_t *err) {
  vs_vcall_t *c = vs_vcall_new(call_stream_close, NULL, NULL, NULL);
  if (!c) {
    /* Drop the reference at least; the stream stays open. */
    virStreamFree(st);
    return vs_error_set(err, -ENOMEM, "closing the console: out of memory");
  }
  c->st = st;
  return run_rc(ex, c, "closing the console", deadline_ns, err);
}

/* --- the pool --------------------------------------------------------------
 */

static int open_conn(vs_virt_pool_t *p, vs_error_t *err) {
  vs_vcall_t *c = vs_vcall_new(call_open, NULL, NULL, NULL);
  if (c && p->uri && !(c->str = strdup(p->uri))) {
    vs_vcall_free(c);
    c = NULL;
  }
  char what[300];
  snprintf(what, sizeof(what), "cannot connect to %s",
           p->uri ? p->uri : "libvirt's default URI");
  int r = vs_vcall_run(p->ex, c, what, vs_virt_call_deadline(0), err);
  if (r < 0)
    return r;
  p->conns[p->n] = c->conn_out;
  c->conn_out = NULL;
  vs_vcall_free(c);
  p->calls[p->n] = 0;
  p->n++;
  return 0;
}

int vs_virt_pool_open(vs_virt_pool_t *p, const char *uri, vs_error_t *err) {
  memset(p, 0, sizeof(*p));
  p->cb_id = -1;
  vs_mutex_init(&p->lock);
  vs_mutex_init(&p->cb_lock);
  p->locks_init = true;
  /* Registers libvirt's event implementation (before any connection
   * opens, as keepalive and events need) and runs it on its thread. */
  int r = vs_eventloop_ref(err);
  if (r < 0) {
    vs_virt_pool_close(p);
    return r;
  }
  p->loop_ref = true;
  vs_executor_opts_t eo = {.name = "vs-virt",
                           .max_workers = VS_VIRT_WORKERS,
                           .max_abandoned = VS_VIRT_WORKERS};
  if ((r = vs_executor_new(&eo, &p->ex, err)) < 0) {
    vs_virt_pool_close(p);
    return r;
  }
  p->conns = calloc(VS_VIRT_MAX_CONNS, sizeof(*p->conns));
  p->calls = calloc(VS_VIRT_MAX_CONNS, sizeof(*p->calls));
  if (!p->conns || !p->calls || (uri && !(p->uri = strdup(uri)))) {
    vs_virt_pool_close(p);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  r = open_conn(p, err);
  if (r < 0)
    vs_virt_pool_close(p);
  return r;
}

int vs_virt_pool_grow(vs_virt_pool_t *p, unsigned calls_needed,
                      vs_error_t *err) {
  unsigned want =
      (calls_needed + VS_VIRT_CALLS_PER_CONN - 1) / VS_VIRT_CALLS_PER_CONN;
  if (want > VS_VIRT_MAX_CONNS)
    want = VS_VIRT_MAX_CONNS;
  while (p->n < want) {
    int r = open_conn(p, err);
    if (r < 0)
      return r;
  }
  return 0;
}

static void lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
                         int detail, void *opaque) {
  vs_virt_pool_t *p = opaque;
  unsigned char uuid[VIR_UUID_BUFLEN];
  if (virDomainGetUUID(dom, uuid) < 0) /* local, no RPC */
    return;
  vs_lock(&p->cb_lock);
  if (p->fn)
    p->fn(p->opaque, uuid, event, detail);
  vs_unlock(&p->cb_lock);
}

static void call_register(vs_vcall_t *c) {
  /* opaque: the pool, the callback's own opaque (not owned) */
  c->rc = virConnectDomainEventRegisterAny(
      c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), c->opaque, NULL);
  if (c->rc < 0)
    vs_vcall_fail(c, -EIO);
}

static void undo_register(vs_vcall_t *c) {
  virConnectDomainEventDeregisterAny(c->conn, c->rc);
}

int vs_virt_pool_watch(vs_virt_pool_t *p, vs_lifecycle_fn fn, void *opaque,
                       vs_error_t *err) {
  vs_lock(&p->cb_lock);
  p->fn = fn;
  p->opaque = opaque;
  vs_unlock(&p->cb_lock);
  if (p->cb_id >= 0)
    return 0;
  vs_vcall_t *c = vs_vcall_new(call_register, undo_register, p->conns[0], NULL);
  if (c)
    c->opaque = p;
  int r = vs_vcall_run(p->ex, c, "cannot watch lifecycle events",
                       vs_virt_call_deadline(0), err);
  if (r < 0)
    return r;
  p->cb_id = r;
  vs_vcall_free(c);
  return 0;
}

void vs_virt_pool_unwatch(vs_virt_pool_t *p) {
  vs_lock(&p->cb_lock);
  p->fn = NULL;
  p->opaque = NULL;
  vs_unlock(&p->cb_lock);
}

virConnectPtr vs_virt_pool_get(vs_virt_pool_t *p, unsigned *ret_idx) {
  vs_lock(&p->lock);
  unsigned best = 0;
  for (unsigned i = 1; i < p->n; i++)
    if (p->calls[i] < p->calls[best])
      best = i;
  p->calls[best]++;
  vs_unlock(&p->lock);
  *ret_idx = best;
  return p->conns[best];
}

void vs_virt_pool_put(vs_virt_pool_t *p, unsigned idx) {
  vs_lock(&p->lock);
  if (p->calls[idx] > 0)
    p->calls[idx]--;
  vs_unlock(&p->lock);
}

/* Closing: the job owns the connections and the callback id. */
typedef struct {
  virConnectPtr *conns;
  unsigned n;
  int cb_id;
} close_job_t;

static void close_run(void *arg) {
  close_job_t *j = arg;
  if (j->cb_id >= 0)
    virConnectDomainEventDeregisterAny(j->conns[0], j->cb_id);
  for (unsigned i = 0; i < j->n; i++)
    vs_virt_conn_close(j->conns[i]);
  j->n = 0;
}

static void close_release(void *arg) {
  /* Run late, or never when no worker was free: then the connections are
   * left to the process's exit, as a stalled libvirtd would not close
   * them anyway. */
  close_job_t *j = arg;
  free(j->conns);
  free(j);
}

void vs_virt_pool_close(vs_virt_pool_t *p) {
  if (!p)
    return;
  if (p->n > 0) {
    close_job_t *j = calloc(1, sizeof(*j));
    if (j) {
      *j = (close_job_t){.conns = p->conns, .n = p->n, .cb_id = p->cb_id};
      p->conns = NULL;
      if (vs_executor_run(p->ex, close_run, close_release, j,
                          vs_now_ns() + CLOSE_TIMEOUT_NS) == 0)
        close_release(j);
    }
  }
  p->cb_id = -1;
  p->n = 0;
  /* Workers stuck in libvirt are left behind (they hold none of our
   * locks and free what they own when their call returns). */
  vs_executor_free(p->ex, VS_NS_PER_SEC);
  p->ex = NULL;
  if (p->loop_ref)
    vs_eventloop_unref(); /* joins the event thread: no callback after */
  p->loop_ref = false;
  if (p->locks_init) {
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->cb_lock);
    p->locks_init = false;
  }
  free(p->conns);
  free(p->calls);
  free(p->uri);
  p->conns = NULL;
  p->calls = NULL;
  p->uri = NULL;
}
