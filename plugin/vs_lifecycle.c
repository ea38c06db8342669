/* virtscale - domain lifecycle events as collectd notifications. The texts
 * are the ones collectd's bundled virt plugin sends ("Domain state: %s.
 * Reason: %s"), so notification filters written for it keep matching. */
#include "vs_lifecycle.h"

#include <libvirt/libvirt.h>
#include <stdio.h>

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

/* Reasons by event detail; the event tells more than the state's reason. */
static const char *event_reason(int event, int detail) {
  switch (event) {
  case VIR_DOMAIN_EVENT_STARTED:
    switch (detail) {
    case VIR_DOMAIN_EVENT_STARTED_BOOTED:
      return "normal startup from boot";
    case VIR_DOMAIN_EVENT_STARTED_MIGRATED:
      return "migrated from another host";
    case VIR_DOMAIN_EVENT_STARTED_RESTORED:
      return "restored from a state file";
    case VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT:
      return "restored from snapshot";
    case VIR_DOMAIN_EVENT_STARTED_WAKEUP:
      return "returned from pmsuspended due to wakeup event";
    }
    break;
  case VIR_DOMAIN_EVENT_SUSPENDED:
    switch (detail) {
    case VIR_DOMAIN_EVENT_SUSPENDED_PAUSED:
      return "paused on user request";
    case VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED:
      return "paused for offline migration";
    case VIR_DOMAIN_EVENT_SUSPENDED_IOERROR:
      return "paused due to a disk I/O error";
    case VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG:
      return "paused due to a watchdog event";
    case VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT:
      return "paused after restoring from snapshot";
    case VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY:
      return "paused for post-copy migration";
    case VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED:
      return "paused after failed post-copy";
    }
    break;
  case VIR_DOMAIN_EVENT_RESUMED:
    switch (detail) {
    case VIR_DOMAIN_EVENT_RESUMED_UNPAUSED:
      return "returned from paused state";
    case VIR_DOMAIN_EVENT_RESUMED_MIGRATED:
      return "returned from migration";
    case VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT:
      return "restored from snapshot";
    case VIR_DOMAIN_EVENT_RESUMED_POSTCOPY:
      return "running in post-copy migration mode";
    }
    break;
  case VIR_DOMAIN_EVENT_STOPPED:
    switch (detail) {
    case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
      return "normal shutdown";
    case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
      return "forced poweroff";
    case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
      return "domain crashed";
    case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
      return "migrated to another host";
    case VIR_DOMAIN_EVENT_STOPPED_SAVED:
      return "saved to a file";
    case VIR_DOMAIN_EVENT_STOPPED_FAILED:
      return "domain failed to start";
    case VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT:
      return "restored from a snapshot which was taken while domain was "
             "shutoff";
    }
    break;
  case VIR_DOMAIN_EVENT_SHUTDOWN:
    return "shutting down on user request";
  case VIR_DOMAIN_EVENT_CRASHED:
    if (detail == VIR_DOMAIN_EVENT_CRASHED_PANICKED)
      return "the guest panicked";
    break;
  }
  return "the reason is unknown";
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
               event_reason(event, detail));
}
