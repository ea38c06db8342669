/* virtscale - the libvirt event loop thread.
 *
 * libvirt's default event implementation is process-wide, so is this
 * thread: every user (the plugin's connections, the block-info connection,
 * the start helper) takes a reference and the thread runs while any is
 * held. Keepalive, close callbacks and domain events are dispatched on it.
 * Thread-safe. */
#pragma once

#include "vs_error.h"

/* Take a reference, starting the thread on the first one. Returns 0 or a
 * negative errno with err set. */
int vs_eventloop_ref(vs_error_t *err);

/* Drop a reference; the last one stops the thread and joins it. */
void vs_eventloop_unref(void);
