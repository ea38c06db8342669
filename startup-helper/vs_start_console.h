/* virtscale-start - the console ready probe: watch a domain's serial
 * console, through a libvirt stream, for a marker text.
 *
 * The stream is non-blocking and read from stream event callbacks on the
 * libvirt event thread (common/vs_eventloop.h), so a probe costs no thread and
 * notices the marker the moment its bytes arrive. A marker split across two
 * reads is found too (the last bytes are kept). */
#pragma once

#include <libvirt/libvirt.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "common/vs_executor.h"

typedef struct vs_console_probe vs_console_probe_t;

/* What the probe saw, called once, on the event thread, with the probe's
 * own lock held (so fn must not stop the probe): found = 1 the marker, 0
 * the console closed (why says how). */
typedef void (*vs_console_fn)(void *opaque, int found, const char *why);

/* Open dom's console (VIR_DOMAIN_CONSOLE_FORCE: take it over) on conn
 * (dom's connection) and watch it for text; the opening call runs on ex
 * and is given up at deadline_ns (-ETIMEDOUT). Returns 0 with *ret (stop
 * it with vs_console_probe_stop()) or a negative errno with err set. */
int vs_console_probe_start(vs_executor_t *ex, virConnectPtr conn,
                           virDomainPtr dom, const char *text, vs_console_fn fn,
                           void *opaque, uint64_t deadline_ns,
                           vs_console_probe_t **ret, vs_error_t *err);

/* Stop watching and close the stream (the closing call runs on ex and is
 * waited for until deadline_ns); fn is not called after this returns. The
 * probe is freed (by libvirt, once no callback runs). NULL-safe. Do not
 * hold a lock fn takes. */
void vs_console_probe_stop(vs_executor_t *ex, vs_console_probe_t *p,
                           uint64_t deadline_ns);
