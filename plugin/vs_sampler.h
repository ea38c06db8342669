/* virtscale - the sampler interface: what a lane runs for one statistics
 * call. A sampler sees only the call's inputs and one connection's libvirt
 * layer, writes only the call's answer, and has no other effect: no domain
 * table, no notification, no connection change. What an answer means (a
 * domain stopped, is stuck, answers again) is the core's to decide, in one
 * place.
 *
 * Two samplers: bulk (one virDomainListGetStats / virConnectGetAllDomainStats
 * per call) and per-domain (a few calls per domain and device, for drivers
 * without bulk statistics). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "vs_domxml.h"
#include "vs_token.h"
#include "vs_virt_api.h"

typedef struct vs_call vs_call_t;

typedef void (*vs_sampler_fn)(const vs_virt_api_t *api, void *handle,
                              vs_call_t *call);

struct vs_call {
  /* --- inputs: set before queueing, immutable while queued or sent --- */
  vs_sampler_fn run; /* the sampler that sends it */
  bool job_free;     /* takes no domain job: may use the reserved lane */
  unsigned tiers;    /* the core's tier bits (the sampler ignores them) */
  uint64_t tick;     /* the core's read that planned it (ignored too) */
  unsigned groups;   /* vs_group_t bits; 0: list the running domains */
  bool all;          /* every running domain; else uuids[n] */
  bool enforce;      /* fail with -ENOTSUP when a group cannot be answered */
  vs_uuid_t *uuids;
  size_t n;
  vs_uuid_t *need_nvcpu; /* sorted; their vCPU count is wanted */
  size_t nneed;
  /* per-domain sampling only, per uuid: the device list when known
   * (copies) */
  vs_domxml_devices_t *devices;
  bool *devices_known;
  bool block_sizes; /* per-domain: virDomainGetBlockInfo inline */
  bool no_flags;    /* per-domain: the driver lacks BlockStatsFlags */

  /* --- the answer: written by the sampler --- */
  int rc; /* 0, or a negative errno with err set */
  vs_error_t err;
  vs_record_t *recs;
  size_t nrecs;
  unsigned rpcs;       /* libvirt calls made */
  unsigned rpc_errors; /* per-domain: those that failed (a domain that went
                          away aside) */
  bool no_flags_seen;  /* per-domain: the driver lacks BlockStatsFlags */

  /* --- set by the lane that sends it (vs_calls.c) --- */
  uint64_t sent_ns, answered_ns; /* monotonic */
  uint64_t answered_wall_ns;     /* the values' time */
  unsigned lane;
  vs_token_t *returned; /* busy until the sampler returned */
  vs_call_t *next;
};

/* One bulk statistics call (api->stats). Thread-safe. */
void vs_sampler_bulk(const vs_virt_api_t *api, void *handle, vs_call_t *call);

/* Per-domain calls on the connection's virConnectPtr (libvirt only): for
 * groups == 0 a listing, else for each domain its state, CPU, balloon,
 * vCPUs, disks and interfaces. Thread-safe. */
void vs_sampler_per_domain(const vs_virt_api_t *api, void *handle,
                           vs_call_t *call);

/* A zeroed call with a "returned" token, or NULL (ENOMEM). */
vs_call_t *vs_call_new(void);
/* Free the call, its inputs and its answer (NULL-safe). */
void vs_call_free(vs_call_t *call);
