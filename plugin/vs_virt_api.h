/* virtscale - the narrow libvirt layer under the sampling core.
 *
 * Everything the core asks of libvirt goes through one table of functions,
 * called on executor workers (any of them may block for ever): open and
 * close a connection, the statistics of some or all running domains, and
 * the job-free monitor state of some domains. The real table talks to
 * libvirt (vs_virt_api_libvirt); the unit tests pass a fake one whose calls
 * answer, fail, crawl or hang on demand, so the core's rounds, its slow/stuck
 * decisions and its tiers are tested without QEMU.
 *
 * Inputs and outputs are plain data: records carry the parsed
 * vs_domain_stats_t, never a libvirt type. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "vs_domxml.h"
#include "vs_stats.h"

#define VS_UUID_LEN 16 /* VIR_UUID_BUFLEN */
#define VS_UUID_STRING_LEN 37

typedef struct {
  unsigned char b[VS_UUID_LEN];
} vs_uuid_t;

int vs_uuid_cmp(const vs_uuid_t *a, const vs_uuid_t *b);
/* "xxxxxxxx-xxxx-..." into out (VS_UUID_STRING_LEN bytes). */
void vs_uuid_format(const vs_uuid_t *u, char out[VS_UUID_STRING_LEN]);

/* Why a connection closed (libvirt's VIR_CONNECT_CLOSE_REASON_*). */
typedef enum {
  VS_CLOSE_ERROR,
  VS_CLOSE_EOF,
  VS_CLOSE_KEEPALIVE,
  VS_CLOSE_CLIENT,
} vs_close_reason_t;

/* A domain named by an event (strings valid during the callback only). */
typedef struct {
  const char *name;
  const char *uuid; /* string form */
} vs_event_domain_t;

/* Callbacks a connection delivers on the event loop thread; those left NULL
 * are not registered. */
typedef struct {
  void *ud;
  void (*closed)(void *ud, vs_close_reason_t reason);
  /* virDomainEventType and its detail */
  void (*lifecycle)(void *ud, const vs_event_domain_t *d, int event,
                    int detail);
  /* a threshold set with virDomainSetBlockThreshold was crossed */
  void (*block_threshold)(void *ud, const vs_event_domain_t *d, const char *dev,
                          unsigned long long threshold,
                          unsigned long long excess);
} vs_conn_events_t;

typedef struct {
  const char *uri; /* NULL: libvirt's default */
  bool read_only;
  int keepalive_interval;   /* seconds; 0: no keepalive */
  unsigned keepalive_count; /* unanswered probes before closing */
} vs_conn_opts_t;

/* One domain of a statistics answer. */
typedef struct {
  vs_uuid_t uuid;
  char *name; /* owned */
  int id;     /* libvirt's domain id: a new one means it restarted */
  vs_domain_stats_t st;
  unsigned nvcpu; /* vCPU count when asked for (need_nvcpu), else 0 */
  bool gone;      /* it stopped while being asked (per-domain sampling) */
  /* per-domain sampling: the device list read from its XML (when the
   * caller did not know it) */
  bool devices_fetched;
  vs_domxml_devices_t devices;
  char *problem; /* the first thing that failed for it, or NULL; owned */
} vs_record_t;

/* Free n records and the array (NULL-safe). */
void vs_records_free(vs_record_t *recs, size_t n);

/* The monitor state of one domain, from virDomainGetControlInfo. */
typedef struct {
  vs_uuid_t uuid;
  bool known;           /* libvirt answered for it (false: not running) */
  bool failed;          /* VIR_DOMAIN_CONTROL_ERROR: the monitor is broken */
  uint64_t occupied_ms; /* how long the monitor has been busy (0: free) */
} vs_control_t;

typedef struct {
  const vs_uuid_t *uuids; /* the domains, in order; NULL: every running */
  size_t n;
  unsigned groups; /* vs_group_t bits; 0: list the running domains only */
  bool enforce;    /* -ENOTSUP when the driver cannot answer a group */
  /* domains whose vCPU count the caller needs (record.nvcpu) */
  const vs_uuid_t *need_nvcpu; /* sorted */
  size_t nneed;
} vs_stats_req_t;

typedef struct vs_virt_api {
  /* Open a connection and register the callbacks of ev (copied). Returns 0
   * and *ret, or a negative errno with err set. Blocks. */
  int (*open)(const vs_conn_opts_t *o, const vs_conn_events_t *ev, void **ret,
              vs_error_t *err);
  /* Deregister the callbacks and close. Blocks. */
  void (*close)(void *h);
  /* The canonical URI (malloc'd, NULL when unknown) and the host's logical
   * CPU count (0: unknown); asked once after opening. Block. */
  char *(*uri)(void *h);
  unsigned (*host_cpus)(void *h);
  /* Statistics of the requested domains, without waiting for a domain's
   * job (NOWAIT: a domain whose job is held answers its job-free fields).
   * Returns 0 and the records in *ret, *nret (free with
   * vs_records_free()), -ENOTSUP (enforce refused), or another negative
   * errno with err set. *rpcs counts the
   * libvirt calls made. Blocks; may block for ever on a stuck monitor. */
  int (*stats)(void *h, const vs_stats_req_t *req, vs_record_t **ret,
               size_t *nret, unsigned *rpcs, vs_error_t *err);
  /* The job-free monitor state of n domains into ret[n]. Returns 0 or a
   * negative errno with err set; *rpcs as above. Blocks (not on a monitor:
   * only on libvirtd itself). */
  int (*control)(void *h, const vs_uuid_t *uuids, size_t n, vs_control_t *ret,
                 unsigned *rpcs, vs_error_t *err);
  /* The virConnectPtr, for the per-domain sampler; NULL on a fake. */
  void *(*virt)(void *h);
} vs_virt_api_t;

/* The table that talks to libvirt. */
extern const vs_virt_api_t vs_virt_api_libvirt;
