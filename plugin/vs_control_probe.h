/* virtscale - the control probe: the job-free monitor state of some domains
 * (virDomainGetControlInfo, which takes no job and never waits on a QEMU
 * monitor), as one timed job on the probe connection. It is how the core
 * tells a stuck call (a monitor busy past the stuck threshold) from a slow
 * one. One probe at a time: while one has not answered, libvirtd itself is
 * what does not answer. Read thread only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "common/vs_executor.h"
#include "vs_connection.h"
#include "vs_token.h"
#include "vs_virt_api.h"

/* Probe n domains on conn until deadline_ns; ret[n] is filled on success.
 * busy is the "a probe is out" token (shared with the job). Returns 0,
 * -ETIMEDOUT / -EBUSY when libvirtd did not answer in time (or the last
 * probe still has not), or another negative errno with err set. *rpcs
 * counts the libvirt calls made. */
int vs_control_probe(vs_executor_t *ex, vs_conn_t *conn, vs_token_t *busy,
                     const vs_uuid_t *uuids, size_t n, uint64_t deadline_ns,
                     vs_control_t *ret, unsigned *rpcs, vs_error_t *err);
