/* virtscale - shared between the core and its two samplers
 * (vs_sample_bulk.c, vs_sample_perdomain.c). Not a public interface. */
#pragma once

#include <libvirt/libvirt.h>

#include "vs_core.h"

struct vs_core {
  const vs_config_t *cfg;    /* borrowed */
  char *hostname;            /* owned */
  virConnectPtr conn;        /* NULL while disconnected */
  char *uri;                 /* canonical URI of conn; owned */
  vs_stats_mode_t mode;      /* resolved mode; VS_MODE_AUTO until probed */
  unsigned host_cpus;        /* logical CPUs of the hypervisor, 0: unknown */
  bool no_block_stats_flags; /* driver lacks virDomainBlockStatsFlags */
  vs_domain_table_t table;
  uint64_t generation; /* sample counter, marks entries as seen */
};

/* Register dom (a running domain) as sampled in this round: finds or
 * creates its table entry, refreshes identity and device cache when the
 * domain is new or restarted, and appends a zeroed vs_domain_sample_t to s.
 * The pointer is valid until the next call (s->domains may move).
 * Returns NULL when the domain is filtered out (*ret_err = 0) or on ENOMEM
 * (*ret_err = -ENOMEM). */
vs_domain_sample_t *vs_core_track(vs_core_t *c, vs_sample_t *s,
                                  virDomainPtr dom, int *ret_err);

/* Drop the domain vs_core_track() appended last: it stopped while being
 * sampled. Its table entry goes at the end of the round like any domain
 * that is no longer running. */
void vs_core_untrack(vs_core_t *c, vs_sample_t *s);

/* The vCPU count %CPU divides by, when the vcpu group is not sampled: one
 * virDomainGetInfo per domain start, cached in its table entry. */
void vs_core_need_nvcpu(vs_core_t *c, vs_sample_t *s, vs_domain_sample_t *ds,
                        virDomainPtr dom);

/* Record a per-domain problem; the message gets libvirt's last error on
 * this thread appended when with_virt_error is true. */
void vs_core_problem(vs_core_t *c, vs_sample_t *s, vs_domain_sample_t *ds,
                     bool with_virt_error, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Whether the last libvirt error on this thread says "this driver or
 * hypervisor cannot do that". */
bool vs_core_error_is_unsupported(void);

/* The samplers. Both return 0 or a negative errno with err set when the
 * round could not run at all. With probe set, the bulk sampler asks libvirt
 * to enforce the groups and returns -ENOTSUP when the driver cannot answer
 * them. */
int vs_sample_bulk(vs_core_t *c, vs_sample_t *s, bool probe, vs_error_t *err);
int vs_sample_perdomain(vs_core_t *c, vs_sample_t *s, vs_error_t *err);
