/* virtscale-start - the guest agent ready probe: the QEMU guest agent
 * answers "guest-ping" (libvirt-qemu's virDomainQemuAgentCommand). The
 * domain needs an org.qemu.guest_agent.0 virtio channel. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "common/vs_executor.h"

/* One ping, run on ex, with a timeout of timeout_s seconds (>= 1) inside
 * libvirt, waited for until deadline_ns. Returns 0 when the agent
 * answered, -EAGAIN when it did not (yet: not connected, no answer),
 * -ENOTSUP when the domain has no agent channel (waiting is pointless),
 * -ETIMEDOUT when libvirt itself did not answer by deadline_ns, with err
 * set. Thread-safe. */
int vs_agent_ping(vs_executor_t *ex, virDomainPtr dom, int timeout_s,
                  uint64_t deadline_ns, vs_error_t *err);
