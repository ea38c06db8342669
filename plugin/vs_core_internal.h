/* virtscale - shared between the core (vs_core.c), its samplers
 * (vs_sample_bulk.c, vs_sample_perdomain.c) and the lifecycle notifications
 * (vs_lifecycle.c). Not a public interface.
 *
 * Threads: the read thread owns struct vs_core and the domain table; libvirt
 * calls run as jobs on the executor's workers and only touch their job's
 * memory; lifecycle and close callbacks run on the event loop thread and only
 * read the immutable configuration and identity settings. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdatomic.h>

#include "vs_blockinfo.h"
#include "vs_connection.h"
#include "vs_core.h"
#include "vs_executor.h"
#include "vs_token.h"

struct vs_core {
  const vs_config_t *cfg; /* borrowed, immutable */
  char *hostname;         /* owned, immutable */
  vs_core_sink_t sink;    /* immutable */
  uint64_t interval_ns;

  vs_executor_t *ex; /* runs every libvirt call of the read path */
  vs_conn_t *conn;   /* sampling connection, NULL while disconnected */
  /* The monitor probes (list + job-free control info) run on a connection
   * of their own: while a call is stuck on a connection, libvirt 9.0's
   * client may not send a second call on it. For the same reason a sampling
   * connection with a stuck call is retired and replaced. */
  vs_conn_t *probe_conn;
  vs_conn_t **retired; /* stuck calls still out; closed when they return */
  size_t nretired;
  /* Lifecycle events come on a connection of their own, which never carries
   * a call that can get stuck (and is never retired with the sampling one).
   * NULL while disconnected or not wanted. */
  vs_conn_t *events_conn;
  bool conn_lost;            /* a connection was lost and not yet restored */
  vs_stats_mode_t mode;      /* resolved mode; VS_MODE_AUTO until probed */
  bool no_block_stats_flags; /* driver lacks virDomainBlockStatsFlags */
  vs_token_t *open_token;    /* busy while a connection attempt is out */
  vs_token_t *probe_token;   /* busy while a control probe is out */
  uint64_t reconnects;
  uint64_t bulk_ns; /* usual duration of a bulk call (moving average) */

  vs_domain_table_t table;
  uint64_t generation; /* sample counter, marks entries as seen */

  vs_blockinfo_t *blockinfo; /* NULL when off */
  bool blockinfo_failed;     /* it could not start: not retried */
};

/* --- tracking domains in a round ---------------------------------------- */

/* Register dom (a running domain) as sampled in this round: finds or
 * creates its table entry, refreshes identity and device cache when the
 * domain is new or restarted, and appends a zeroed vs_domain_sample_t to s
 * (or returns the one it already has in this round).
 * The pointer is valid until the next call (s->domains may move).
 * Returns NULL when the domain is filtered out (*ret_err = 0) or on ENOMEM
 * (*ret_err = -ENOMEM). */
vs_domain_sample_t *vs_core_track(vs_core_t *c, vs_sample_t *s,
                                  virDomainPtr dom, int *ret_err);

/* Drop the domain vs_core_track() appended last: it stopped while being
 * sampled. Its table entry goes at the end of the round like any domain
 * that is no longer running. */
void vs_core_untrack(vs_core_t *c, vs_sample_t *s);

/* Record a per-domain problem (message already formatted). */
void vs_core_problem(vs_sample_t *s, vs_domain_sample_t *ds, const char *msg);

/* Mark a tracked domain unresponsive for this round (its values are
 * withheld) and notify when it just became so. */
void vs_core_unresponsive(vs_core_t *c, vs_sample_t *s, vs_domain_sample_t *ds,
                          const char *why);

/* A call on the sampling connection is stuck: retire the connection (it is
 * closed once its calls have returned) and open a new one with the given
 * deadline. Returns 0 or a negative errno with err set (then c->conn is
 * NULL until the next round). */
int vs_core_replace_conn(vs_core_t *c, vs_sample_t *s, uint64_t deadline_ns,
                         vs_error_t *err);

/* Whether libvirt error code says "this driver cannot do that". */
bool vs_core_code_is_unsupported(int code);

/* --- the samplers ------------------------------------------------------- */

/* Both run one round until deadline_ns and return 0, or a negative errno with
 * err set when the round could not run at all (-ETIMEDOUT when libvirtd did
 * not answer in time). With probe set, the bulk sampler asks libvirt to
 * enforce the groups and returns -ENOTSUP when the driver cannot answer
 * them. */
int vs_sample_bulk(vs_core_t *c, vs_sample_t *s, bool probe,
                   uint64_t deadline_ns, vs_error_t *err);
int vs_sample_perdomain(vs_core_t *c, vs_sample_t *s, uint64_t deadline_ns,
                        vs_error_t *err);

/* A monitor occupied this long (ns) or in error marks the domain
 * unresponsive. */
uint64_t vs_core_unresponsive_after(const vs_core_t *c, uint64_t budget_ns);

/* --- lifecycle events (vs_lifecycle.c) ----------------------------------- */

/* The lifecycle callback registered on the sampling connection: turns an
 * event into a state notification (none for define/undefine). Event loop
 * thread; ud is the core. */
void vs_lifecycle_event(void *ud, virDomainPtr dom, int event, int detail);

/* Text of a domain state, as the bundled virt plugin words it ("the domain
 * is running"). */
const char *vs_state_text(int state);
