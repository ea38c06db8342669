/* virtscale - words for libvirt's domain lifecycle events.
 *
 * One table turns a lifecycle event (virDomainEventType and its detail) into
 * text for both the plugin's state notifications and the start helper's
 * messages about a VM that stopped while starting. The reasons are worded as
 * collectd's bundled virt plugin words libvirt's state reasons ("forced
 * poweroff", "domain failed to start"), so notification filters written for
 * it keep matching. */
#pragma once

#include <stddef.h>

/* What the event did to the domain, as a past participle: "defined",
 * "undefined", "started", "suspended", "resumed", "stopped", "shut down",
 * "suspended by guest power management", "crashed"; "changed" for an event
 * this table does not know. A static string. Thread-safe. */
const char *vs_event_what(int event);

/* Why, by the event's detail: "normal startup from boot", "forced poweroff",
 * "domain crashed", "domain failed to start" (STOPPED_FAILED, "host
 * emulator/mgmt failed": a start that failed, or a QEMU that died without
 * shutting down; the bundled plugin words it as the state reason
 * VIR_DOMAIN_SHUTOFF_FAILED), "the guest panicked"; "the reason is unknown"
 * for a detail (or event) this table does not know. A static string.
 * Thread-safe. */
const char *vs_event_reason(int event, int detail);

/* Write "domain <what> <when>: <reason>" into dst (size bytes, cut to fit,
 * NUL-terminated; when may be NULL or ""), e.g. "domain stopped while
 * starting: forced poweroff". Returns dst. Thread-safe. */
char *vs_event_describe(char *dst, size_t size, int event, int detail,
                        const char *when);
