#include "vs_start_agent.h"

#include <errno.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <stdlib.h>

int vs_agent_ping(virDomainPtr dom, int timeout_s, vs_error_t *err) {
  char *reply = virDomainQemuAgentCommand(dom, "{\"execute\":\"guest-ping\"}",
                                          timeout_s < 1 ? 1 : timeout_s, 0);
  if (reply) {
    free(reply);
    return 0;
  }
  /* libvirt says VIR_ERR_ARGUMENT_UNSUPPORTED ("QEMU guest agent is not
   * configured") when the domain has no agent channel at all. */
  virErrorPtr e = virGetLastError();
  int code = e && e->code == VIR_ERR_ARGUMENT_UNSUPPORTED ? -ENOTSUP : -EAGAIN;
  return vs_error_set_virt(err, code, "guest agent");
}
