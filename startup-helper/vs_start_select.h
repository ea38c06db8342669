/* virtscale-start - which domains to start: names, UUIDs, --match,
 * --all-inactive and plan entries resolved on a libvirt connection.
 *
 * Everything is checked before anything starts: an unknown domain, one
 * that is already running, a transient one, a domain named twice or an
 * empty selection is an error naming where it was given. */
#pragma once

#include <libvirt/libvirt.h>
#include <stddef.h>

#include "common/vs_error.h"
#include "vs_start_opts.h"
#include "vs_start_timing.h"

/* Resolve opts' selection on conn into *ret (n VMs, in start order: by
 * group, then as given; --match / --all-inactive by name). Each VM gets
 * its probe and timeout (its own or opts'). Free with vs_vms_free().
 * Each libvirt call is given VS_VIRT_CALL_TIMEOUT_S. Returns 0 or -EINVAL
 * (bad selection) / -ENOMEM / -EIO (libvirt failed) / -ETIMEDOUT (libvirt
 * did not answer) with err set. */
int vs_start_select(virConnectPtr conn, const vs_start_opts_t *opts,
                    vs_vm_t **ret, size_t *n, vs_error_t *err);

/* Free n VMs and the array (NULL-safe). */
void vs_vms_free(vs_vm_t *vms, size_t n);
