/* virtscale-start - the guest agent ready probe: the QEMU guest agent
 * answers "guest-ping" (libvirt-qemu's virDomainQemuAgentCommand). The
 * domain needs an org.qemu.guest_agent.0 virtio channel. */
#pragma once

#include <libvirt/libvirt.h>

#include "common/vs_error.h"

/* One ping with a timeout of timeout_s seconds (>= 1). Returns 0 when the
 * agent answered, -EAGAIN when it did not (yet: not connected, no answer),
 * -ENOTSUP when the domain has no agent channel (waiting is pointless),
 * with err set. Thread-safe. */
int vs_agent_ping(virDomainPtr dom, int timeout_s, vs_error_t *err);
