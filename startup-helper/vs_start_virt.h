/* virtscale-start - libvirt connections, events and deadline-bound calls
 * for the helper.
 *
 * Every libvirt call the helper makes that talks to libvirtd runs on a
 * worker of the timed executor (common/vs_executor.h) and is waited for
 * only until a deadline: a libvirtd that stalls (stopped, overloaded, a
 * worker stuck in a QEMU monitor) costs a timeout, never a hang. A call
 * given up on is abandoned, not cancelled: it may still complete inside
 * libvirtd (a create can still start its domain), and when it returns its
 * worker drops what the call held (closing a connection it opened, aborting
 * a console stream it opened).
 *
 * libvirtd serves at most 5 calls at once per client connection
 * (max_client_requests), so a bound above 4 gets more connections: one per
 * 4 calls, the fifth left for events and keepalive. Lifecycle events and
 * console streams need libvirt's event loop: the process-wide one of
 * common/vs_eventloop.h. */
#pragma once

#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "common/vs_executor.h"

/* Calls one connection is given at once. */
#define VS_VIRT_CALLS_PER_CONN 4
#define VS_VIRT_MAX_CONNS 16

/* The deadline of a call that has no deadline of its own (opening a
 * connection, lookups, event registration, closing): 30 s. A lookup takes
 * milliseconds; libvirtd gives up waiting for a domain's job lock after
 * 30 s ("cannot acquire state change lock"), and keepalive (5 s x 3 here)
 * declares a silent libvirtd dead after about 20 s: anything slower is a
 * stalled libvirtd. */
#define VS_VIRT_CALL_TIMEOUT_S 30

/* Workers of a pool's executor: one per call libvirtd can serve at once on
 * all connections; calls beyond wait for a worker (inside their deadline).
 * Workers abandoned inside stalled calls are replaced up to the same
 * number again, so the helper never runs more than twice this many. */
#define VS_VIRT_WORKERS (VS_VIRT_CALLS_PER_CONN * VS_VIRT_MAX_CONNS)

/* A lifecycle event for a domain (VIR_DOMAIN_EVENT_*, detail), called on
 * the event thread. */
typedef void (*vs_lifecycle_fn)(void *opaque, const unsigned char uuid[16],
                                int event, int detail);

typedef struct {
  char *uri;            /* NULL = default (owned) */
  virConnectPtr *conns; /* n open connections (owned) */
  unsigned n;
  unsigned *calls;      /* calls in flight per connection; under lock */
  pthread_mutex_t lock; /* guards calls */
  vs_executor_t *ex;    /* runs every libvirt call of the helper */
  bool loop_ref;        /* holds a reference on the event loop */
  bool locks_init;
  int cb_id;               /* lifecycle callback on conns[0], -1 none */
  pthread_mutex_t cb_lock; /* guards fn, opaque; held while fn runs */
  vs_lifecycle_fn fn;
  void *opaque;
} vs_virt_pool_t;

/* The monotonic deadline of a call with no deadline of its own that must
 * also end by limit_ns (0: no limit): now + VS_VIRT_CALL_TIMEOUT_S or
 * limit_ns, whichever comes first. Thread-safe. */
uint64_t vs_virt_call_deadline(uint64_t limit_ns);

/* Open one read-write connection to uri (within VS_VIRT_CALL_TIMEOUT_S)
 * and take a reference on the event loop. Returns 0 or a negative errno
 * with err set (-ETIMEDOUT: libvirtd did not answer; nothing left open). */
int vs_virt_pool_open(vs_virt_pool_t *p, const char *uri, vs_error_t *err);

/* Open more connections so that calls_needed concurrent calls fit
 * (ceil(calls_needed / VS_VIRT_CALLS_PER_CONN), at most VS_VIRT_MAX_CONNS),
 * each within VS_VIRT_CALL_TIMEOUT_S. Returns 0 or a negative errno with
 * err set. Main thread only. */
int vs_virt_pool_grow(vs_virt_pool_t *p, unsigned calls_needed,
                      vs_error_t *err);

/* Call fn for every lifecycle event of any domain, on the event thread,
 * until vs_virt_pool_unwatch() (replaces an earlier fn). Registering takes
 * at most VS_VIRT_CALL_TIMEOUT_S. Returns 0 or a negative errno with err
 * set. */
int vs_virt_pool_watch(vs_virt_pool_t *p, vs_lifecycle_fn fn, void *opaque,
                       vs_error_t *err);

/* Stop calling fn; when this returns fn is not running and will not be
 * called again. Do not hold a lock fn takes. */
void vs_virt_pool_unwatch(vs_virt_pool_t *p);

/* The least busy connection (borrowed) with its call count raised; give it
 * back with vs_virt_pool_put(p, *ret_idx). Thread-safe. */
virConnectPtr vs_virt_pool_get(vs_virt_pool_t *p, unsigned *ret_idx);
void vs_virt_pool_put(vs_virt_pool_t *p, unsigned idx);

/* Unregister the callback and close the connections (waiting at most
 * VS_VIRT_CALL_TIMEOUT_S for libvirtd: a stalled one keeps them), stop the
 * executor without waiting for workers stuck in libvirt, drop the event
 * loop reference. NULL-safe, idempotent. */
void vs_virt_pool_close(vs_virt_pool_t *p);

/* A deadline-bound libvirt call: what a worker needs to run it and what it
 * produced. The call owns the references it holds (conn, dom, st) and its
 * results (conn_out, dom_out, doms_out), so an abandoned call finishes on
 * its worker and releases them there. */
typedef struct vs_vcall vs_vcall_t;
struct vs_vcall {
  /* Runs on a worker: makes the call, stores its result in rc (and the
   * *_out fields) and, when it fails, libvirt's message in msg (kept per
   * thread: only the worker can read it). */
  void (*fn)(vs_vcall_t *c);
  /* Undoes a call that succeeded after its caller gave up (closes what it
   * opened); run by the worker, may be NULL. */
  void (*undo)(vs_vcall_t *c);
  virConnectPtr conn; /* references of the call's own, or NULL */
  virDomainPtr dom;
  virStreamPtr st;
  unsigned flags;
  int num;
  char *str;    /* owned */
  void *opaque; /* not owned */
  unsigned char uuid[16];
  int rc;                 /* the call's result; < 0 failed */
  virConnectPtr conn_out; /* owned until taken (set to NULL) */
  virDomainPtr dom_out;   /* likewise */
  virDomainPtr *doms_out; /* likewise, n_out entries */
  int n_out;
  char msg[VS_ERROR_MSG_MAX]; /* libvirt's message when rc < 0 */
};

/* A new call running fn (undo may be NULL), holding references of its own
 * on conn and dom (either may be NULL). NULL when out of memory. */
vs_vcall_t *vs_vcall_new(void (*fn)(vs_vcall_t *c), void (*undo)(vs_vcall_t *c),
                         virConnectPtr conn, virDomainPtr dom);

/* On the worker, in fn: the call failed with code (a negative errno);
 * keeps libvirt's last message of this thread in c->msg. */
void vs_vcall_fail(vs_vcall_t *c, int code);

/* Release c: its references and the results not taken. NULL-safe. */
void vs_vcall_free(vs_vcall_t *c);

/* Run c on ex and wait until deadline_ns. Returns c->rc (>= 0) with c
 * still the caller's (take its results, then vs_vcall_free() it);
 * otherwise c is gone (freed, or abandoned to its worker, which undoes and
 * frees it) and the return is c->rc < 0 (the call failed: err has
 * libvirt's message), -ETIMEDOUT (libvirt did not answer in time, or no
 * worker was free: all are stuck in libvirt) or -ENOMEM, with err naming
 * `what`. */
int vs_vcall_run(vs_executor_t *ex, vs_vcall_t *c, const char *what,
                 uint64_t deadline_ns, vs_error_t *err);

/* Deadline-bound libvirt calls, run on ex (a pool's p->ex). Each returns 0
 * (or the call's non-negative result) or a negative errno with err set:
 * -ETIMEDOUT / -EBUSY when libvirt did not answer by deadline_ns (the call
 * is abandoned: it may still take effect in libvirtd), -EIO with libvirt's
 * message when the call failed. `what` names the call in messages. The
 * domains and connections passed in stay the caller's (the call takes
 * references of its own). Thread-safe. */

/* virDomainLookupByUUID / ByName / ByUUIDString: *ret is a new reference
 * (free with vs_virt_domain_free()). name_or_uuid: the name, then the
 * UUID string is tried. */
int vs_vcall_lookup_uuid(vs_executor_t *ex, virConnectPtr conn,
                         const unsigned char uuid[16], uint64_t deadline_ns,
                         virDomainPtr *ret, vs_error_t *err);
int vs_vcall_lookup_name(vs_executor_t *ex, virConnectPtr conn,
                         const char *name_or_uuid, uint64_t deadline_ns,
                         virDomainPtr *ret, vs_error_t *err);

/* virConnectListAllDomains(flags): *ret (n new references, free each and
 * the array) and the count as the return value. */
int vs_vcall_list(vs_executor_t *ex, virConnectPtr conn, unsigned flags,
                  uint64_t deadline_ns, virDomainPtr **ret, vs_error_t *err);

/* virDomainIsActive / virDomainIsPersistent: 1, 0 or a negative errno. */
int vs_vcall_is_active(vs_executor_t *ex, virDomainPtr dom,
                       uint64_t deadline_ns, vs_error_t *err);
int vs_vcall_is_persistent(vs_executor_t *ex, virDomainPtr dom,
                           uint64_t deadline_ns, vs_error_t *err);

/* virDomainCreateWithFlags, virDomainResume, virDomainDestroy. */
int vs_vcall_create(vs_executor_t *ex, virDomainPtr dom, unsigned flags,
                    uint64_t deadline_ns, vs_error_t *err);
int vs_vcall_resume(vs_executor_t *ex, virDomainPtr dom, uint64_t deadline_ns,
                    vs_error_t *err);
int vs_vcall_destroy(vs_executor_t *ex, virDomainPtr dom, uint64_t deadline_ns,
                     vs_error_t *err);

/* virDomainOpenConsole(dom, NULL, st, flags) on the stream st (created by
 * the caller on dom's connection). A console opened after the deadline is
 * aborted by the abandoned worker. */
int vs_vcall_open_console(vs_executor_t *ex, virDomainPtr dom, virStreamPtr st,
                          unsigned flags, uint64_t deadline_ns,
                          vs_error_t *err);

/* virStreamAbort(st) then drop the caller's reference on st (taken over
 * by the call whatever happens). */
int vs_vcall_stream_close(vs_executor_t *ex, virStreamPtr st,
                          uint64_t deadline_ns, vs_error_t *err);
