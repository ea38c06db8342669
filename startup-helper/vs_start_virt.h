/* virtscale-start - libvirt connections and events for the helper.
 *
 * libvirtd serves at most 5 calls at once per client connection
 * (max_client_requests), so a bound above 4 gets more connections: one per
 * 4 calls, the fifth left for events and keepalive. Lifecycle events and
 * console streams need the default event loop, registered before the first
 * connection is opened and run on a thread of our own. */
#pragma once

#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdbool.h>

#include "common/vs_error.h"

/* Calls one connection is given at once. */
#define VS_VIRT_CALLS_PER_CONN 4
#define VS_VIRT_MAX_CONNS 16

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
  pthread_t thread;     /* runs virEventRunDefaultImpl */
  bool thread_started;
  bool locks_init;
  int stop;                /* atomic: the event thread should exit */
  int wake_timer;          /* disabled timer, armed to wake the loop */
  int cb_id;               /* lifecycle callback on conns[0], -1 none */
  pthread_mutex_t cb_lock; /* guards fn, opaque; held while fn runs */
  vs_lifecycle_fn fn;
  void *opaque;
} vs_virt_pool_t;

/* Register libvirt's default event loop implementation (once per process,
 * before any connection is opened) and do vs_virt_init(). Thread-safe.
 * Returns 0 or a negative errno with err set. */
int vs_virt_events_init(vs_error_t *err);

/* Open one read-write connection to uri and start the event thread.
 * Returns 0 or a negative errno with err set (nothing left open). */
int vs_virt_pool_open(vs_virt_pool_t *p, const char *uri, vs_error_t *err);

/* Open more connections so that calls_needed concurrent calls fit
 * (ceil(calls_needed / VS_VIRT_CALLS_PER_CONN), at most VS_VIRT_MAX_CONNS).
 * Returns 0 or a negative errno with err set. Main thread only. */
int vs_virt_pool_grow(vs_virt_pool_t *p, unsigned calls_needed,
                      vs_error_t *err);

/* Call fn for every lifecycle event of any domain, on the event thread,
 * until vs_virt_pool_unwatch() (replaces an earlier fn). Returns 0 or a
 * negative errno with err set. */
int vs_virt_pool_watch(vs_virt_pool_t *p, vs_lifecycle_fn fn, void *opaque,
                       vs_error_t *err);

/* Stop calling fn; when this returns fn is not running and will not be
 * called again. Do not hold a lock fn takes. */
void vs_virt_pool_unwatch(vs_virt_pool_t *p);

/* The least busy connection (borrowed) with its call count raised; give it
 * back with vs_virt_pool_put(p, *ret_idx). Thread-safe. */
virConnectPtr vs_virt_pool_get(vs_virt_pool_t *p, unsigned *ret_idx);
void vs_virt_pool_put(vs_virt_pool_t *p, unsigned idx);

/* Unregister the callback, close the connections, stop and join the event
 * thread. NULL-safe, idempotent. */
void vs_virt_pool_close(vs_virt_pool_t *p);
