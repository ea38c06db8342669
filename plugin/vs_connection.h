/* virtscale - a libvirt connection with keepalive, a close callback and
 * domain event callbacks, opened and closed on executor workers so a frozen
 * libvirtd can never block the caller past its deadline. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "vs_executor.h"
#include "vs_token.h"

/* Called on the event loop thread; never after vs_conn_close() returned. */
typedef struct {
  void *ud;
  /* The connection went away (VIR_CONNECT_CLOSE_REASON_*). */
  void (*closed)(void *ud, int reason);
  /* A domain lifecycle event (virDomainEventType, detail). */
  void (*lifecycle)(void *ud, virDomainPtr dom, int event, int detail);
  /* A block threshold set with virDomainSetBlockThreshold was crossed. */
  void (*block_threshold)(void *ud, virDomainPtr dom, const char *dev,
                          unsigned long long threshold,
                          unsigned long long excess);
} vs_conn_events_t;

typedef struct {
  const char *uri; /* NULL: libvirt's default */
  bool read_only;
  int keepalive_interval;   /* seconds; 0: no keepalive */
  unsigned keepalive_count; /* unanswered probes before closing */
  vs_conn_events_t ev;      /* callbacks left NULL are not registered */
} vs_conn_opts_t;

typedef struct vs_conn vs_conn_t;

/* Open a connection on a worker of ex, waiting until deadline_ns. Returns 0
 * and *ret; -ETIMEDOUT / -EBUSY when libvirtd did not answer in time (the
 * attempt goes on and closes what it opened); another negative errno with
 * libvirt's message in err when the open failed. token (a reference the job
 * takes over, may be NULL) is set not busy when the attempt has returned. */
int vs_conn_open(vs_executor_t *ex, const vs_conn_opts_t *opts,
                 vs_token_t *token, uint64_t deadline_ns, vs_conn_t **ret,
                 vs_error_t *err);

/* The libvirt connection (borrowed; take virConnectRef for a job). */
virConnectPtr vs_conn_virt(const vs_conn_t *c);
/* Canonical URI and the hypervisor's logical CPU count (0: unknown). */
const char *vs_conn_uri(const vs_conn_t *c);
unsigned vs_conn_host_cpus(const vs_conn_t *c);
/* Whether libvirt reported the connection closed (keepalive, EOF). */
bool vs_conn_is_closed(const vs_conn_t *c);

/* A reference for a job that uses the connection: the connection lives
 * until the last reference is gone, even after vs_conn_close(). The last
 * unref closes the libvirt connection, which may block on a frozen
 * libvirtd: only jobs (workers) may drop what could be the last reference,
 * which is why vs_conn_close() does it on a worker. */
vs_conn_t *vs_conn_ref(vs_conn_t *c);
void vs_conn_unref(vs_conn_t *c);

/* Count a call in flight on the connection: begin before submitting a job,
 * end when the job's libvirt call has returned (on its worker). Calls still
 * in flight when a new round starts are stuck calls of earlier rounds. */
void vs_conn_call_begin(vs_conn_t *c);
void vs_conn_call_end(vs_conn_t *c);
unsigned vs_conn_inflight(const vs_conn_t *c);

/* Stop the callbacks (none runs after this returns) without closing: for a
 * connection retired because a call on it is stuck. */
void vs_conn_detach(vs_conn_t *c);

/* Stop the callbacks (none runs after this returns), then deregister them
 * and close the connection on a worker of ex, waiting at most until
 * deadline_ns. Drops the owner's reference. NULL-safe. */
void vs_conn_close(vs_conn_t *c, vs_executor_t *ex, uint64_t deadline_ns);
