/* virtscale - the libvirt-facing core of the plugin.
 *
 * Owns the libvirt connection and the domain table, picks the sampling mode
 * and turns one sampling round into a vs_sample_t of plain structs. Never
 * includes collectd headers and never logs: problems come back in the sample
 * and in vs_error_t. Not thread-safe: one caller samples at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "vs_config.h"
#include "vs_domain_table.h"
#include "vs_metrics.h"
#include "vs_stats.h"

typedef struct vs_core vs_core_t;

typedef enum {
  VS_NOTE_FAILURE = 1, /* collectd's NOTIF_FAILURE, NOTIF_WARNING, NOTIF_OKAY */
  VS_NOTE_WARNING = 2,
  VS_NOTE_OKAY = 4,
} vs_severity_t;

/* A notification for collectd. */
typedef struct {
  vs_severity_t severity;
  const char *host;            /* NULL: the hypervisor (collectd's Hostname) */
  const char *plugin_instance; /* "" when none */
  const char *type, *type_instance;
  char message[256];
} vs_note_t;

/* Where the core's asynchronous output goes. Called from the read thread,
 * the event loop thread and the block-info thread: must be thread-safe
 * (collectd's dispatch functions are). */
typedef struct vs_core_sink {
  void *ud;
  void (*notify)(void *ud, const vs_note_t *n);
  /* A value for a domain outside the read path (block info), measured at
   * wall_ns (ns since the epoch). */
  void (*value)(void *ud, const char *host, const char *plugin_instance,
                const vs_metric_t *m, uint64_t wall_ns);
} vs_core_sink_t;

/* Format a notification (message from fmt) and hand it to sink->notify. A
 * NULL host is the hypervisor's, a NULL plugin instance is empty. */
void vs_sink_note(const vs_core_sink_t *sink, vs_severity_t sev,
                  const char *host, const char *plugin_instance,
                  const char *type, const char *type_instance, const char *fmt,
                  ...) __attribute__((format(printf, 7, 8)));

/* One sampled domain. */
typedef struct {
  vs_domain_stats_t st;
  /* identity (name, host and plugin-instance fields); borrowed from the
   * domain table (read-only outside the core), valid until the next
   * vs_core_sample() */
  vs_domain_entry_t *entry;
  uint64_t sampled_ns; /* monotonic time libvirt answered for the domain */
  bool problem;        /* a vs_problem_t was recorded for it this round */
  bool unresponsive;   /* its QEMU does not answer: st is empty */
  bool have_cpu_percent;
  double cpu_percent; /* see vs_cpu_percent(); host-relative in compat mode */
} vs_domain_sample_t;

/* Something that went wrong with one domain (the rest were sampled). */
typedef struct {
  char *domain;  /* owned */
  char *message; /* owned */
  bool first;    /* the domain had no problem in the previous sample */
} vs_problem_t;

typedef struct {
  vs_domain_sample_t *domains; /* owned */
  size_t n, cap;
  char **gone; /* names of domains no longer running; owned */
  size_t ngone;
  vs_problem_t *problems; /* owned */
  size_t nproblems;
  unsigned calls;       /* libvirt API calls made (RPCs) */
  unsigned errors;      /* calls that failed */
  uint64_t duration_ns; /* wall time of the round */
  vs_stats_mode_t mode; /* VS_MODE_BULK or VS_MODE_PER_DOMAIN as used */
  bool connected;       /* a new connection was opened in this round */
  bool careful;         /* a call got stuck: sampled around stuck domains */
  bool stalled;         /* libvirtd did not answer in time: no domain sampled */
  unsigned unresponsive; /* domains whose QEMU does not answer */

  /* self-metrics, as of the end of the round */
  unsigned abandoned_now;    /* workers inside abandoned calls */
  uint64_t abandoned_total;  /* calls abandoned, ever */
  uint64_t reconnects_total; /* connections re-opened after a loss */
  uint64_t blockinfo_timeouts_total;
} vs_sample_t;

/* Create a core for cfg (borrowed; must outlive the core). hostname is the
 * hypervisor's name for the "hostname" identifier part (copied); interval_ns
 * is collectd's read interval (the block-info thread's default cadence);
 * sink receives notifications and asynchronous values. Starts the event
 * loop but does not connect yet. Returns 0 or a negative errno with err
 * set. */
int vs_core_new(const vs_config_t *cfg, const char *hostname,
                uint64_t interval_ns, const vs_core_sink_t *sink,
                vs_core_t **ret, vs_error_t *err);

/* Run one sampling round into s (zeroed by the caller, cleared with
 * vs_core_sample_done()), never waiting for libvirt past deadline_ns
 * (monotonic): a call that does not answer in time is abandoned on its
 * worker and the round goes on around it. Connects first when needed.
 * Returns 0 when the round ran (possibly with problems, possibly with no
 * domain sampled: see s->stalled), or a negative errno with err set when
 * there is no connection. */
int vs_core_sample(vs_core_t *c, uint64_t deadline_ns, vs_sample_t *s,
                   vs_error_t *err);

/* The URI of the open connection, or NULL. */
const char *vs_core_uri(const vs_core_t *c);

/* Hand a dispatched sample back: each domain's reading becomes the
 * reference the next round's counters are checked against (counters lower
 * than it are left out, see vs_domain_stats_drop_regressions()); then s is
 * cleared. Call it before the next vs_core_sample(). */
void vs_core_sample_done(vs_core_t *c, vs_sample_t *s);

/* Release what s owns and zero it (NULL-safe). */
void vs_sample_clear(vs_sample_t *s);

/* Stop the threads, close the connections and free the core (NULL-safe).
 * Waits a bounded time: calls stuck in libvirt are left to their workers. */
void vs_core_free(vs_core_t *c);
