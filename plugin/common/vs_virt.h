/* virtscale - libvirt connection handling shared by the plugin and the
 * start helper. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>

#include "vs_error.h"

/* Process-wide libvirt set-up, done once (thread-safe, idempotent):
 * virInitialize(), a silent error handler, because libvirt otherwise
 * prints every error to stderr (errors reach us through
 * virGetLastErrorMessage() on the failing thread instead), and libvirt's
 * default event implementation, which must exist before any connection is
 * opened for keepalive and events to work (vs_eventloop.h runs it).
 * Returns 0 or a negative errno with err set. */
int vs_virt_init(vs_error_t *err);

/* Open a connection to uri (NULL: libvirt's default URI), read-only when
 * read_only is true. Returns a new reference (free with vs_virt_conn_close)
 * or NULL with err set. */
virConnectPtr vs_virt_open(const char *uri, bool read_only, vs_error_t *err);

/* NULL-safe releases; libvirt's own free functions reject NULL. */
void vs_virt_conn_close(virConnectPtr conn);
void vs_virt_domain_free(virDomainPtr dom);

static inline void vs_virt_conn_closep(virConnectPtr *p) {
  vs_virt_conn_close(*p);
}
static inline void vs_virt_domain_freep(virDomainPtr *p) {
  vs_virt_domain_free(*p);
}
#define _cleanup_conn_ __attribute__((cleanup(vs_virt_conn_closep)))
#define _cleanup_domain_ __attribute__((cleanup(vs_virt_domain_freep)))
