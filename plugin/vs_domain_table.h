/* virtscale - the domains the core knows, keyed by UUID.
 *
 * Entries survive rounds, so per-domain history (the previous readings for
 * %CPU and for catching counters that go backwards, the cached device list,
 * the identifier label, the plan's bookkeeping) is kept while a domain runs
 * and dropped when it is gone. A sorted array with binary search: hundreds
 * of entries, looked up once per domain per answer. Read thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vs_domxml.h"
#include "vs_sample.h"
#include "vs_schedule.h"
#include "vs_stats.h"
#include "vs_token.h"
#include "vs_virt_api.h"

typedef struct {
  vs_uuid_t uuid;
  int id; /* libvirt domain id; a new id means the domain restarted */
  vs_domain_label_t *label; /* reference */

  unsigned nvcpu_cached; /* for %CPU without the vcpu group; 0: unknown */

  /* per-domain mode: devices from the domain XML, fetched once per id */
  bool devices_known;
  vs_domxml_devices_t devices; /* owned */

  /* the last reading of each group handed out, and when libvirt gave the
   * CPU time (monotonic ns): the base for %CPU and for catching counters
   * that go backwards; owned */
  vs_domain_stats_t prev;
  uint64_t prev_cpu_ns;

  /* the plan's bookkeeping */
  uint64_t listed; /* the listing that last saw it running */
  unsigned out;    /* tiers with a call queued or sent for it */
  bool sampled[VS_TIERS_MAX];
  uint64_t last_tick[VS_TIERS_MAX]; /* the read each tier last sampled it */

  /* a call of ours got stuck on its monitor: left out of monitor-bound
   * calls until that call returned and the monitor is free */
  bool stuck;
  vs_token_t *held;      /* the stuck call's "returned" token (reference) */
  bool unresponsive;     /* declared (notified) */
  uint64_t failed_since; /* monotonic: its monitor was first seen failed */
  bool problem;          /* a problem was reported in this read */
  bool had_problem;      /* ... in the previous read */
  /* its identifier (host, plugin instance) is another tracked domain's:
   * nothing of it is dispatched while that one runs */
  bool collides;
} vs_domain_entry_t;

typedef struct {
  vs_domain_entry_t **entries; /* sorted by uuid; owned */
  size_t n, cap;
} vs_domain_table_t;

/* Find the entry for uuid, or NULL. */
vs_domain_entry_t *vs_domain_table_find(const vs_domain_table_t *t,
                                        const vs_uuid_t *uuid);

/* Find or insert the entry for uuid; *ret_new tells whether it was added.
 * Returns NULL on ENOMEM. */
vs_domain_entry_t *vs_domain_table_get(vs_domain_table_t *t,
                                       const vs_uuid_t *uuid, bool *ret_new);

/* Forget what e knew of the domain's run: devices, readings, vCPU count
 * (it restarted). */
void vs_domain_entry_reset(vs_domain_entry_t *e);

/* Remove every entry whose `listed` differs from listing; each removed
 * entry is passed to gone(ud, e) first (may be NULL). */
void vs_domain_table_sweep(vs_domain_table_t *t, uint64_t listing,
                           void (*gone)(void *ud, const vs_domain_entry_t *e),
                           void *ud);

/* Free every entry and the table's storage (NULL-safe). */
void vs_domain_table_clear(vs_domain_table_t *t);
