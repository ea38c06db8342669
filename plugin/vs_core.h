/* virtscale - the sampling core: talks to libvirt (through vs_virt_api.h)
 * and never to collectd, never logs. Each read turns into a vs_sample_t of
 * plain data (vs_sample.h); notifications go to a vs_sink_t.
 *
 * What it owns and where each part lives:
 *  - the connections (vs_connections.h) and the calls in flight on them
 *    (vs_calls.h), sent by samplers (vs_sampler.h) on executor workers;
 *  - the plan (vs_schedule.h): tiers, cadence, chunks, slow or stuck;
 *  - the domains it knows (vs_domain_table.h);
 *  - every decision about a domain's state (stuck, unresponsive, answers
 *    again, gone) and the notifications that say so: here, in one place.
 *
 * A read never waits for libvirt past its deadline. A call that is slow is
 * left running and its answer is taken by a later read, with the time it
 * was sampled; only a call stuck on a QEMU monitor (vs_schedule.h) is
 * abandoned, and the domains it held up are asked again at once. Not
 * thread-safe: one read at a time. */
#pragma once

#include <stdint.h>

#include "common/vs_error.h"
#include "vs_config.h"
#include "vs_sample.h"
#include "vs_sink.h"
#include "vs_virt_api.h"

typedef struct vs_core vs_core_t;

/* Create a core for cfg (borrowed; must outlive the core). hostname is the
 * hypervisor's name for the "hostname" identifier part (copied);
 * interval_ns is collectd's read interval; sink receives notifications
 * (copied); api is the libvirt layer (NULL: libvirt itself; tests pass a
 * fake). Starts the event loop but does not connect yet. Returns 0 or a
 * negative errno with err set. */
int vs_core_new(const vs_config_t *cfg, const char *hostname,
                uint64_t interval_ns, const vs_sink_t *sink,
                const vs_virt_api_t *api, vs_core_t **ret, vs_error_t *err);

/* One read into s (zeroed by the caller, released with vs_sample_clear()):
 * takes the answers that came since the last read, sends the calls due now,
 * and waits for answers at most until deadline_ns (monotonic). Connects
 * first when needed. Returns 0 (possibly with nothing sampled: see
 * s->stalled), or a negative errno with err set when there is no
 * connection. */
int vs_core_sample(vs_core_t *c, uint64_t deadline_ns, vs_sample_t *s,
                   vs_error_t *err);

/* The URI of the open connection, or NULL. */
const char *vs_core_uri(const vs_core_t *c);

/* Stop the threads, close the connections and free the core (NULL-safe).
 * Waits a bounded time: calls stuck in libvirt are left to their workers. */
void vs_core_free(vs_core_t *c);
