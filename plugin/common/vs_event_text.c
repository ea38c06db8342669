#include "vs_event_text.h"

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define ANY_DETAIL (-1)

/* Reasons by event and detail; the event tells more than the state's
 * reason. A SHUTDOWN event's details (finished, by the guest, by the host)
 * all read as the bundled plugin's one reason for the shutdown state. */
static const struct {
  int event, detail;
  const char *reason;
} reasons[] = {
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED,
     "normal startup from boot"},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED,
     "migrated from another host"},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED,
     "restored from a state file"},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT,
     "restored from snapshot"},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_WAKEUP,
     "returned from pmsuspended due to wakeup event"},

    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
     "paused on user request"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
     "paused for offline migration"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_IOERROR,
     "paused due to a disk I/O error"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG,
     "paused due to a watchdog event"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_RESTORED,
     "restored from a paused state file"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT,
     "paused after restoring from snapshot"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR,
     "paused after a failed libvirt call"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY,
     "paused for post-copy migration"},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED,
     "paused after failed post-copy"},

    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
     "returned from paused state"},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
     "returned from migration"},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT,
     "restored from snapshot"},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY,
     "running in post-copy migration mode"},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED,
     "running after failed post-copy"},

    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN,
     "normal shutdown"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
     "forced poweroff"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED,
     "domain crashed"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
     "migrated to another host"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED,
     "saved to a file"},
    /* "Host emulator/mgmt failed": a failed start, or a QEMU gone without
     * a shutdown (its state reason is then "crashed"). The bundled plugin
     * reads it as the state reason VIR_DOMAIN_SHUTOFF_FAILED. */
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED,
     "domain failed to start"},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT,
     "restored from a snapshot which was taken while domain was shutoff"},

    {VIR_DOMAIN_EVENT_SHUTDOWN, ANY_DETAIL, "shutting down on user request"},

    {VIR_DOMAIN_EVENT_PMSUSPENDED, VIR_DOMAIN_EVENT_PMSUSPENDED_MEMORY,
     "suspended to memory"},
    {VIR_DOMAIN_EVENT_PMSUSPENDED, VIR_DOMAIN_EVENT_PMSUSPENDED_DISK,
     "suspended to disk"},

    {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED,
     "the guest panicked"},
    {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED,
     "the guest crashed and loaded a crash kernel"},
};

const char *vs_event_what(int event) {
  switch (event) {
  case VIR_DOMAIN_EVENT_DEFINED:
    return "defined";
  case VIR_DOMAIN_EVENT_UNDEFINED:
    return "undefined";
  case VIR_DOMAIN_EVENT_STARTED:
    return "started";
  case VIR_DOMAIN_EVENT_SUSPENDED:
    return "suspended";
  case VIR_DOMAIN_EVENT_RESUMED:
    return "resumed";
  case VIR_DOMAIN_EVENT_STOPPED:
    return "stopped";
  case VIR_DOMAIN_EVENT_SHUTDOWN:
    return "shut down";
  case VIR_DOMAIN_EVENT_PMSUSPENDED:
    return "suspended by guest power management";
  case VIR_DOMAIN_EVENT_CRASHED:
    return "crashed";
  default:
    return "changed";
  }
}

const char *vs_event_reason(int event, int detail) {
  for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
    if (reasons[i].event == event &&
        (reasons[i].detail == detail || reasons[i].detail == ANY_DETAIL))
      return reasons[i].reason;
  return "the reason is unknown";
}

char *vs_event_describe(char *dst, size_t size, int event, int detail,
                        const char *when) {
  if (size == 0)
    return dst;
  bool has_when = when && *when;
  snprintf(dst, size, "domain %s%s%s: %s", vs_event_what(event),
           has_when ? " " : "", has_when ? when : "",
           vs_event_reason(event, detail));
  return dst;
}
