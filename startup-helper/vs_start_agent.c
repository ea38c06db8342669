#include "vs_start_agent.h"

#include <errno.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <stdlib.h>

#include "vs_start_virt.h"

/* On a worker of the executor. */
static void call_ping(vs_vcall_t *c) {
  char *reply = virDomainQemuAgentCommand(
      c->dom, "{\"execute\":\"guest-ping\"}", c->num, 0);
  if (reply) {
    free(reply);
    c->rc = 0;
    return;
  }
  /* libvirt says VIR_ERR_ARGUMENT_UNSUPPORTED ("QEMU guest agent is not
   * configured") when the domain has no agent channel at all. */
  virErrorPtr e = virGetLastError();
  vs_vcall_fail(c, e && e->code == VIR_ERR_ARGUMENT_UNSUPPORTED ? -ENOTSUP
                                                                : -EAGAIN);
}

int vs_agent_ping(vs_executor_t *ex, virDomainPtr dom, int timeout_s,
                  uint64_t deadline_ns, vs_error_t *err) {
  vs_vcall_t *c = vs_vcall_new(call_ping, NULL, NULL, dom);
  if (c)
    c->num = timeout_s < 1 ? 1 : timeout_s;
  int r = vs_vcall_run(ex, c, "guest agent", deadline_ns, err);
  if (r >= 0)
    vs_vcall_free(c);
  return r < 0 ? r : 0;
}
