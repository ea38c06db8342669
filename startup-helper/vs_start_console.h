/* virtscale-start - the console ready probe: watch a domain's serial
 * console, through a libvirt stream, for a marker text.
 *
 * The stream is non-blocking and read from stream event callbacks on the
 * libvirt event thread (vs_start_virt.h), so a probe costs no thread and
 * notices the marker the moment its bytes arrive. A marker split across two
 * reads is found too (the last bytes are kept). */
#pragma once

#include <libvirt/libvirt.h>

#include "common/vs_error.h"

typedef struct vs_console_probe vs_console_probe_t;

/* What the probe saw, called once, on the event thread, with the probe's
 * own lock held (so fn must not stop the probe): found = 1 the marker, 0
 * the console closed (why says how). */
typedef void (*vs_console_fn)(void *opaque, int found, const char *why);

/* Open dom's console (VIR_DOMAIN_CONSOLE_FORCE: take it over) on conn and
 * watch it for text. Returns 0 with *ret (stop it with
 * vs_console_probe_stop()) or a negative errno with err set. */
int vs_console_probe_start(virConnectPtr conn, virDomainPtr dom,
                           const char *text, vs_console_fn fn, void *opaque,
                           vs_console_probe_t **ret, vs_error_t *err);

/* Stop watching and close the stream; fn is not called after this returns.
 * The probe is freed (by libvirt, once no callback runs). NULL-safe. Do
 * not hold a lock fn takes. */
void vs_console_probe_stop(vs_console_probe_t *p);
