/* virtscale - libvirt's statistics records into vs_domain_stats_t.
 *
 * Pure functions, no I/O: a bulk record (virDomainStatsRecord's typed
 * parameters) becomes one vs_domain_stats_t. The only place besides the
 * libvirt layer that sees libvirt's types for statistics. */
#pragma once

#include <libvirt/libvirt.h>

#include "common/vs_error.h"
#include "vs_stats.h"

/* The libvirt VIR_DOMAIN_STATS_* bits for a set of vs_group_t. */
unsigned vs_groups_to_virt(unsigned groups);

/* Parse one bulk record's typed parameters into st (which must be zeroed or
 * cleared). Unknown fields are ignored; devices listed by index but without
 * a name are dropped. Returns 0, or -ENOMEM / -EINVAL (index out of bounds)
 * with err set; st is cleared on failure. Thread-safe. */
int vs_domain_stats_parse(const virTypedParameter *params, int nparams,
                          vs_domain_stats_t *st, vs_error_t *err);
