/* virtscale - the domains the plugin knows, keyed by UUID.
 *
 * Entries survive list refreshes, so per-domain history (the previous CPU
 * reading for %CPU, the cached device list, identifier strings) is kept
 * while a domain runs and dropped when it is gone. A sorted array with
 * binary search: hundreds of entries, looked up once per domain per sample.
 * Not thread-safe: owned by one sampler at a time. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_ident.h"
#include "vs_domxml.h"
#include "vs_stats.h"
#include "vs_token.h"

typedef struct {
  unsigned char uuid[VIR_UUID_BUFLEN];
  char uuid_str[VIR_UUID_STRING_BUFLEN];
  char *name; /* owned */
  int id;     /* libvirt domain id; a new id means the domain restarted */

  char host[VS_IDENT_MAX];            /* identifier host field */
  char plugin_instance[VS_IDENT_MAX]; /* identifier plugin instance */

  unsigned nvcpu_cached; /* for %CPU without the vcpu group; 0: unknown */

  /* per-domain mode: devices from the domain XML, fetched once per id */
  bool devices_known;
  vs_domxml_devices_t devices; /* owned */

  /* the last reading handed out (moved in by vs_core_sample_done()) and
   * when libvirt gave it (monotonic ns): the base for %CPU and for catching
   * counters that go backwards; owned */
  vs_domain_stats_t prev;
  uint64_t prev_ns;

  bool unresponsive;       /* its QEMU did not answer (notified) */
  vs_token_t *outstanding; /* per-domain mode: a call on it is out */

  uint64_t seen;    /* sample generation that last saw the domain */
  size_t round_idx; /* its index in the round's samples, when seen */
  bool had_problem; /* the previous sample reported a problem for it */
} vs_domain_entry_t;

typedef struct {
  vs_domain_entry_t **entries; /* sorted by uuid; owned */
  size_t n, cap;
} vs_domain_table_t;

/* Find the entry for uuid, or NULL. */
vs_domain_entry_t *vs_domain_table_find(vs_domain_table_t *t,
                                        const unsigned char *uuid);

/* Find or insert the entry for uuid; *ret_new tells whether it was added.
 * Returns NULL on ENOMEM. */
vs_domain_entry_t *vs_domain_table_get(vs_domain_table_t *t,
                                       const unsigned char *uuid,
                                       bool *ret_new);

/* Forget the device list of e (the domain restarted or changed). */
void vs_domain_entry_forget_devices(vs_domain_entry_t *e);

/* Remove every entry whose `seen` differs from generation; each removed
 * entry's name is passed to gone(ud, name) first (may be NULL). */
void vs_domain_table_sweep(vs_domain_table_t *t, uint64_t generation,
                           void (*gone)(void *ud, const char *name), void *ud);

/* Free every entry and the table's storage (NULL-safe). */
void vs_domain_table_clear(vs_domain_table_t *t);
