/* virtscale - what one read hands the collectd glue: plain data, no libvirt
 * and no collectd types. Statistics answered since the last read (each with
 * the time libvirt answered and the cadence of its groups), the state of
 * every running domain, what changed, and the plugin's own figures. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "common/vs_idfield.h"
#include "vs_stats.h"

/* How a domain appears in identifiers. Shared (reference counted) between
 * the core's domain table, the block-info thread and the samples that name
 * it, so a sample stays valid when the domain goes away. Immutable once
 * made; the count is atomic. */
typedef struct {
  atomic_uint refs;
  char *name;                         /* the domain's name; owned */
  char uuid[37];                      /* string form */
  char host[VS_IDENT_MAX];            /* identifier host field */
  char plugin_instance[VS_IDENT_MAX]; /* identifier plugin instance */
} vs_domain_label_t;

vs_domain_label_t *vs_domain_label_ref(vs_domain_label_t *l);
/* Whether two domains' values would carry one identifier. */
bool vs_domain_label_same_id(const vs_domain_label_t *a,
                             const vs_domain_label_t *b);
void vs_domain_label_unref(vs_domain_label_t *l); /* NULL-safe */

/* Statistics of one domain from one answer. A domain may have several in a
 * read (the job-free groups and the monitor-bound ones come from different
 * calls, and a call of an earlier read may answer late). */
typedef struct {
  vs_domain_label_t *label; /* reference */
  vs_domain_stats_t st;     /* st.groups: the groups answered */
  uint64_t wall_ns;         /* when libvirt answered: the values' time */
  uint64_t interval_ns;     /* how often these groups are sampled */
  bool have_cpu_percent;
  double cpu_percent; /* see vs_cpu_percent(); host-relative in compat mode */
} vs_domain_result_t;

/* Every running domain, once per read. */
typedef struct {
  vs_domain_label_t *label; /* reference */
  bool unresponsive;        /* its QEMU monitor is stuck */
} vs_domain_status_t;

/* Something that went wrong with one domain (the rest were sampled). */
typedef struct {
  char *domain;  /* owned */
  char *message; /* owned */
  bool first;    /* the domain had no problem in the previous read */
} vs_problem_t;

/* The plugin's own figures for one read (self-metrics). */
typedef struct {
  uint64_t duration_ns;      /* wall time of the read */
  unsigned domains;          /* running domains known */
  unsigned calls;            /* libvirt API calls answered (RPCs) */
  unsigned errors;           /* calls that failed */
  unsigned unresponsive;     /* domains whose QEMU does not answer */
  unsigned sampled;          /* domains with fresh values in this read */
  unsigned late;             /* domains with a call still out at the end */
  unsigned skipped;          /* running domains neither sampled nor late */
  unsigned in_flight;        /* calls queued or on the wire at the end */
  unsigned lanes;            /* connections sending statistics calls */
  unsigned cadence;          /* intervals between two samples of the
                                monitor-bound groups of one domain */
  uint64_t round_free_ns;    /* the job-free call's wall */
  uint64_t round_monitor_ns; /* a full monitor-tier round (estimate) */
  uint64_t age_p50_ns, age_max_ns; /* values' age when handed over */
  unsigned abandoned_now;          /* workers inside abandoned calls */
  uint64_t abandoned_total;        /* calls abandoned, ever */
  uint64_t reconnects_total;       /* connections re-opened after a loss */
  uint64_t blockinfo_timeouts_total;
} vs_self_t;

typedef enum {
  VS_SAMPLE_BULK = 1,
  VS_SAMPLE_PER_DOMAIN,
} vs_sample_mode_t;

typedef struct {
  vs_domain_result_t *results; /* owned */
  size_t nresults, capresults;
  vs_domain_status_t *status; /* owned */
  size_t nstatus;
  char **gone; /* names of domains no longer running; owned */
  size_t ngone;
  vs_problem_t *problems; /* owned */
  size_t nproblems;
  vs_sample_mode_t mode;
  bool connected; /* a new connection was opened in this read */
  bool stalled;   /* libvirtd answered nothing in time */
  /* Every call answered in this read failed: libvirt's message ("" when
   * none did). */
  char failure[VS_ERROR_MSG_MAX];
  /* A change of plan worth one log line ("" when none), numbers included. */
  char plan[320];
  vs_self_t self;
} vs_sample_t;

/* Release what s owns and zero it (NULL-safe). */
void vs_sample_clear(vs_sample_t *s);

/* Append a result for label (a reference is taken; st is moved in and
 * zeroed). Returns it, or NULL on ENOMEM (st is cleared then). */
vs_domain_result_t *vs_sample_add_result(vs_sample_t *s,
                                         vs_domain_label_t *label,
                                         vs_domain_stats_t *st);

/* Record a per-domain problem (message already formatted); first: the
 * domain had none in the previous read. */
void vs_sample_add_problem(vs_sample_t *s, const char *domain, const char *msg,
                           bool first);

/* Record a domain that is no longer running. */
void vs_sample_add_gone(vs_sample_t *s, const char *name);
