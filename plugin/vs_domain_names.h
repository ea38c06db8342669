/* virtscale - the host and plugin-instance fields of a domain's
 * identifiers, from HostnameFormat / PluginInstanceFormat. */
#pragma once

#include "common/vs_idfield.h"
#include "vs_config.h"
#include "vs_sample.h"

/* Build a field from fmt's parts (domain name, UUID, hypervisor host name),
 * joined with ':' as the bundled virt plugin does, made safe with
 * vs_idfield(). An empty format gives "". Thread-safe. */
void vs_domain_name_field(const vs_format_t *fmt, const char *name,
                          const char *uuid, const char *hostname,
                          char out[VS_IDENT_MAX]);

/* Both fields of a domain's identifiers under cfg's HostnameFormat and
 * PluginInstanceFormat. Thread-safe. */
void vs_domain_names(const vs_config_t *cfg, const char *name, const char *uuid,
                     const char *hostname, char host[VS_IDENT_MAX],
                     char plugin_instance[VS_IDENT_MAX]);

/* A new label (one reference) for a domain, or NULL (ENOMEM). */
vs_domain_label_t *vs_domain_label_new(const vs_config_t *cfg, const char *name,
                                       const char *uuid, const char *hostname);
