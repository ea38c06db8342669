/* virtscale - the host and plugin-instance fields of a domain's
 * identifiers, from HostnameFormat / PluginInstanceFormat. */
#pragma once

#include "common/vs_ident.h"
#include "vs_config.h"

/* Build a field from fmt's parts (domain name, UUID, hypervisor host name),
 * joined with ':' as the bundled virt plugin does, made safe with
 * vs_ident_field(). An empty format gives "". Thread-safe. */
void vs_identity_field(const vs_format_t *fmt, const char *name,
                       const char *uuid, const char *hostname,
                       char out[VS_IDENT_MAX]);

/* Both fields of a domain's identifiers under cfg's HostnameFormat and
 * PluginInstanceFormat. Thread-safe. */
void vs_identity_fields(const vs_config_t *cfg, const char *name,
                        const char *uuid, const char *hostname,
                        char host[VS_IDENT_MAX],
                        char plugin_instance[VS_IDENT_MAX]);
