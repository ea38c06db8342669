/* virtscale - listing the running domains and probing their QEMU monitors
 * with the job-free virDomainGetControlInfo, as one timed job. Used by both
 * samplers when calls got stuck. Read thread only. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "vs_core.h"

typedef struct {
  virDomainPtr *doms; /* n references */
  int n;
  virDomainControlInfo *ci; /* per domain when probed, else NULL */
  bool *ci_ok;              /* the control call worked for that domain */
} vs_listing_t;

/* List the running domains and, with control set, probe each monitor, until
 * deadline_ns. Returns 0 and *ret (free with vs_listing_free()), -ETIMEDOUT
 * or -EBUSY when libvirtd did not answer (and, with control, when an earlier
 * probe is still out), or -EIO with libvirt's message. Counts calls in s. */
int vs_probe_list(vs_core_t *c, vs_sample_t *s, bool control,
                  uint64_t deadline_ns, vs_listing_t **ret, vs_error_t *err);

void vs_listing_free(vs_listing_t *l);

/* Why domain i of a probed listing is unresponsive (into buf), or NULL when
 * its monitor answers or cannot be judged. limit_ns: how long a monitor may
 * stay occupied. */
const char *vs_listing_verdict(const vs_listing_t *l, int i, uint64_t limit_ns,
                               char *buf, size_t len);
