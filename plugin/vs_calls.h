/* virtscale - statistics calls in flight: a queue of calls to send, and
 * lanes that send them.
 *
 * A lane is one sampling connection (vs_connections.h) with at most one call
 * on it at a time. One call per connection is deliberate: libvirt 9.0's
 * client lets one thread do the socket I/O for every call on a connection;
 * a second caller wakes it with g_main_loop_quit(), which is lost when it
 * comes before that thread has entered its poll loop, and the second call
 * then waits for the first one's reply - for ever, when the first is stuck
 * on a frozen QEMU (src/rpc/virnetclient.c, virNetClientIO and
 * virNetClientIOEventLoop). Concurrency therefore comes from several
 * connections, and a stuck call blocks exactly one lane.
 *
 * The last lane is reserved for job-free calls (call->job_free): they never
 * wait behind monitor-bound calls, however many of those are queued, so the
 * job-free values of every domain come every interval under any load.
 *
 * A busy lane is an executor job that drains the queue: it takes the next
 * call, runs the sampler on it without holding a lock, posts the answer and
 * takes the next one. The read thread queues calls, takes answers until its
 * deadline (calls still out keep going and are taken by a later read), and
 * abandons a lane whose call is stuck: that call's answer is thrown away
 * when it comes. Thread-safe; the read thread is the only caller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "common/vs_executor.h"
#include "vs_connection.h"
#include "vs_sampler.h"

typedef struct vs_calls vs_calls_t;

/* A call on the wire, as vs_calls_on_wire() shows it. call is borrowed and
 * only its inputs may be read, until the next vs_calls_* call. */
typedef struct {
  unsigned lane;
  const vs_call_t *call;
  uint64_t sent_ns;
} vs_wire_t;

/* New queue with max_lanes lanes, sending on ex's workers (each call with
 * its own sampler, call->run); lane max_lanes - 1 is the reserved one.
 * Returns 0 or -ENOMEM with err set. */
int vs_calls_new(vs_executor_t *ex, unsigned max_lanes, vs_calls_t **ret,
                 vs_error_t *err);

/* Drop queued calls and abandon every lane (their calls' answers are thrown
 * away when they come); NULL-safe. */
void vs_calls_free(vs_calls_t *q);

/* Queue a call (q owns it until vs_calls_wait() hands it back); front puts
 * it ahead of every queued call. */
void vs_calls_queue(vs_calls_t *q, vs_call_t *call, bool front);

/* Put idle lanes to work while calls are queued: lane i sends on conns[i]
 * (NULL: that lane has no connection now). Returns how many lanes are busy.
 */
unsigned vs_calls_kick(vs_calls_t *q, vs_conn_t *const *conns, size_t nconns);

/* The next answered call, waiting until deadline_ns. Returns 0 and *ret
 * (the caller owns it), or -ETIMEDOUT. */
int vs_calls_wait(vs_calls_t *q, uint64_t deadline_ns, vs_call_t **ret);

/* The calls on the wire now, at most max of them into out; returns how
 * many. */
size_t vs_calls_on_wire(vs_calls_t *q, vs_wire_t *out, size_t max);

/* The call on lane's wire is stuck: the lane is given up (its worker stays
 * with libvirt; the call's answer is thrown away when it comes, and the
 * call's "returned" token clears then) and becomes idle, to be given a new
 * connection. */
void vs_calls_abandon(vs_calls_t *q, unsigned lane);

/* Take every queued (not yet sent) call off the queue: a list linked by
 * next, for the caller to free. */
vs_call_t *vs_calls_unqueue(vs_calls_t *q);

/* Counts: calls queued, and lanes with a call on the wire. */
size_t vs_calls_queued(vs_calls_t *q);
/* Counts of queued calls: all of them, and the job-free ones. */
void vs_calls_queued_split(vs_calls_t *q, size_t *all, size_t *job_free);
unsigned vs_calls_busy(vs_calls_t *q);
