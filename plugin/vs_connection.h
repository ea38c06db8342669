/* virtscale - one connection to libvirtd as the core holds it: the libvirt
 * layer's handle plus a reference count, a "closed" flag set by the close
 * callback, and callbacks that stop when the owner lets go. Opened and
 * closed on executor workers, so a frozen libvirtd can never block the
 * caller past its deadline. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "common/vs_executor.h"
#include "vs_token.h"
#include "vs_virt_api.h"

/* Sampling connections held at once: MaxConnections (at most 16) and the
 * one reserved for job-free calls. */
#define VS_LANES_MAX 17

typedef struct vs_conn vs_conn_t;

/* Open a connection through api on a worker of ex, waiting until
 * deadline_ns. ev's callbacks (copied; NULL ones not registered) run on the
 * event loop thread until vs_conn_close() or vs_conn_detach(). Returns 0
 * and *ret; -ETIMEDOUT / -EBUSY when libvirtd did not answer in time (the
 * attempt goes on and closes what it opened); another negative errno with
 * libvirt's message in err when the open failed. token (a reference the job
 * takes over, may be NULL) is set not busy when the attempt has returned. */
int vs_conn_open(vs_executor_t *ex, const vs_virt_api_t *api,
                 const vs_conn_opts_t *opts, const vs_conn_events_t *ev,
                 vs_token_t *token, uint64_t deadline_ns, vs_conn_t **ret,
                 vs_error_t *err);

/* The libvirt layer and its handle (borrowed; a job keeps the connection
 * alive with vs_conn_ref()). */
const vs_virt_api_t *vs_conn_api(const vs_conn_t *c);
void *vs_conn_handle(const vs_conn_t *c);
/* Canonical URI and the hypervisor's logical CPU count (0: unknown). */
const char *vs_conn_uri(const vs_conn_t *c);
unsigned vs_conn_host_cpus(const vs_conn_t *c);
/* Whether libvirt reported the connection closed (keepalive, EOF), and
 * why. */
bool vs_conn_is_closed(const vs_conn_t *c);
vs_close_reason_t vs_conn_close_reason(const vs_conn_t *c);

/* A reference for a job that uses the connection: the connection lives
 * until the last reference is gone, even after vs_conn_close(). The last
 * unref closes the libvirt connection, which may block on a frozen
 * libvirtd: only jobs (workers) may drop what could be the last reference,
 * which is why vs_conn_close() does it on a worker. */
vs_conn_t *vs_conn_ref(vs_conn_t *c);
void vs_conn_unref(vs_conn_t *c);

/* Count a call in flight on the connection: begin before submitting a job,
 * end when the job's libvirt call has returned (on its worker). */
void vs_conn_call_begin(vs_conn_t *c);
void vs_conn_call_end(vs_conn_t *c);
unsigned vs_conn_inflight(const vs_conn_t *c);

/* Stop the callbacks (none runs after this returns) without closing: for a
 * connection retired because a call on it is stuck. */
void vs_conn_detach(vs_conn_t *c);

/* Stop the callbacks (none runs after this returns), then drop the owner's
 * reference on a worker of ex (the last reference closes), waiting at most
 * until deadline_ns. NULL-safe. */
void vs_conn_close(vs_conn_t *c, vs_executor_t *ex, uint64_t deadline_ns);
