/* virtscale - the one owner of the core's connections to libvirtd:
 *  - lanes: up to max_lanes sampling connections, each carrying at most one
 *    statistics call at a time (vs_calls.h says why);
 *  - the probe connection: job-free calls only (the control probe), so it
 *    answers while any monitor is stuck;
 *  - the events connection: lifecycle events and nothing else, so event
 *    delivery never waits behind a stuck call;
 *  - retired connections: lanes left to a stuck call, closed once that call
 *    has returned. At most max_retired of them; while that many are out, no
 *    replacement lane is opened.
 * Every connection is opened and closed on executor workers with a
 * deadline. Read thread only (not thread-safe). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "common/vs_executor.h"
#include "vs_connection.h"
#include "vs_virt_api.h"

typedef struct vs_conns vs_conns_t;

typedef struct {
  const vs_virt_api_t *api;
  vs_executor_t *ex;
  vs_conn_opts_t opts; /* every connection is opened read-only with these;
                          uri borrowed, must outlive the owner */
  unsigned max_lanes;
  unsigned max_retired;
  /* Lifecycle events for the events connection; NULL: no events
   * connection. */
  void (*lifecycle)(void *ud, const vs_event_domain_t *d, int event,
                    int detail);
  void *ud;
} vs_conns_opts_t;

/* A new owner with nothing open. Returns 0 or -ENOMEM with err set. */
int vs_conns_new(const vs_conns_opts_t *o, vs_conns_t **ret, vs_error_t *err);

/* Close everything (waiting at most until deadline_ns) and free (NULL-safe). */
void vs_conns_free(vs_conns_t *cs, uint64_t deadline_ns);

/* Start of a round: close retired connections whose calls returned; when a
 * connection was lost (libvirtd restarted, keepalive), drop them all and
 * set *ret_lost (and *ret_reason); make sure lane 0 is open (its opening
 * sets *ret_opened), then the probe and events connections (a failure
 * there is retried next round). Returns 0, or a negative errno with err set
 * when lane 0 cannot be opened (not connected). */
int vs_conns_ensure(vs_conns_t *cs, uint64_t deadline_ns, bool *ret_opened,
                    bool *ret_lost, vs_close_reason_t *ret_reason,
                    vs_error_t *err);

/* Open lanes 1..n-1 that are missing, until deadline_ns; a lane that cannot
 * be opened stays empty (fewer lanes this round). Returns how many lanes are
 * open. */
unsigned vs_conns_want_lanes(vs_conns_t *cs, unsigned n, uint64_t deadline_ns);

/* Open lane i when it is missing (as vs_conns_want_lanes()). Returns whether
 * it is open. */
bool vs_conns_want_lane(vs_conns_t *cs, unsigned i, uint64_t deadline_ns);

/* Lane i's connection or NULL (borrowed: take vs_conn_ref() for a job). */
vs_conn_t *vs_conns_lane(const vs_conns_t *cs, unsigned i);
/* The probe connection or NULL (borrowed). */
vs_conn_t *vs_conns_probe(const vs_conns_t *cs);
/* The canonical URI and host CPU count of lane 0 (NULL / 0 when closed). */
const char *vs_conns_uri(const vs_conns_t *cs);
unsigned vs_conns_host_cpus(const vs_conns_t *cs);

/* A call on lane i is stuck: the lane's connection is retired (left to the
 * call, closed once it returned) and the lane is empty until
 * vs_conns_want_lanes() opens a new one. */
void vs_conns_retire(vs_conns_t *cs, unsigned i);

/* Retired connections whose calls have not returned yet. */
unsigned vs_conns_retired(const vs_conns_t *cs);

/* Times lane 0 was opened again after a loss. */
uint64_t vs_conns_reconnects(const vs_conns_t *cs);
