/* virtscale - domain lifecycle events as collectd notifications. The texts
 * are the ones collectd's bundled virt plugin sends ("Domain state: %s.
 * Reason: %s"), so notification filters written for it keep matching. */
#include "vs_lifecycle.h"

#include <libvirt/libvirt.h>
#include <stdio.h>

#include "common/vs_event_text.h"
#include "vs_domain_names.h"

const char *vs_state_text(int state) {
  switch (state) {
  case VIR_DOMAIN_RUNNING:
    return "the domain is running";
  case VIR_DOMAIN_BLOCKED:
    return "the domain is blocked on resource";
  case VIR_DOMAIN_PAUSED:
    return "the domain is paused by user";
  case VIR_DOMAIN_SHUTDOWN:
    return "the domain is being shut down";
  case VIR_DOMAIN_SHUTOFF:
    return "the domain is shut off";
  case VIR_DOMAIN_CRASHED:
    return "the domain is crashed";
  case VIR_DOMAIN_PMSUSPENDED:
    return "the domain is suspended by guest power management";
  default:
    return "no state";
  }
}

/* The state an event leaves the domain in, and how bad that is. */
static int event_state(int event, int detail, vs_severity_t *sev) {
  *sev = VS_NOTE_OKAY;
  switch (event) {
  case VIR_DOMAIN_EVENT_STARTED:
  case VIR_DOMAIN_EVENT_RESUMED:
    return VIR_DOMAIN_RUNNING;
  case VIR_DOMAIN_EVENT_SUSPENDED:
    *sev = detail == VIR_DOMAIN_EVENT_SUSPENDED_PAUSED ? VS_NOTE_OKAY
                                                       : VS_NOTE_WARNING;
    if (detail == VIR_DOMAIN_EVENT_SUSPENDED_IOERROR)
      *sev = VS_NOTE_FAILURE;
    return VIR_DOMAIN_PAUSED;
  case VIR_DOMAIN_EVENT_STOPPED:
    if (detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ||
        detail == VIR_DOMAIN_EVENT_STOPPED_FAILED)
      *sev = VS_NOTE_FAILURE;
    return VIR_DOMAIN_SHUTOFF;
  case VIR_DOMAIN_EVENT_SHUTDOWN:
    return VIR_DOMAIN_SHUTDOWN;
  case VIR_DOMAIN_EVENT_PMSUSPENDED:
    *sev = VS_NOTE_WARNING;
    return VIR_DOMAIN_PMSUSPENDED;
  case VIR_DOMAIN_EVENT_CRASHED:
    *sev = VS_NOTE_FAILURE;
    return VIR_DOMAIN_CRASHED;
  default:
    return -1; /* defined, undefined: configuration, not state */
  }
}

void vs_lifecycle_note(const vs_config_t *cfg, const char *hostname,
                       const vs_sink_t *sink, const vs_event_domain_t *d,
                       int event, int detail) {
  vs_severity_t sev;
  int state = event_state(event, detail, &sev);
  if (state < 0)
    return;
  const char *names[] = {d->name};
  if (!vs_filter_selects(&cfg->domains, names, 1))
    return;
  char host[VS_IDENT_MAX], pinst[VS_IDENT_MAX];
  vs_domain_names(cfg, d->name, d->uuid, hostname, host, pinst);
  vs_sink_note(sink, sev, host, pinst, "domain_state", "",
               "Domain state: %s. Reason: %s", vs_state_text(state),
               vs_event_reason(event, detail));
}
