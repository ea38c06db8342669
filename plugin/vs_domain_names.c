#include "vs_domain_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vs_domain_name_field(const vs_format_t *fmt, const char *name,
                          const char *uuid, const char *hostname,
                          char out[VS_IDENT_MAX]) {
  if (fmt->n == 0) {
    out[0] = '\0';
    return;
  }
  /* The parts are encoded and hashed as one joined name, read in place:
   * nothing is cut before the hash, so two long names never collapse into
   * one. The join is one-to-one among one host's domains: only the name
   * varies freely, the UUID has a fixed form and the host name is the
   * same for all. */
  const char *parts[VS_FORMAT_PARTS_MAX];
  size_t n = 0;
  for (size_t i = 0; i < fmt->n && n < VS_FORMAT_PARTS_MAX; i++) {
    const char *part = NULL; /* counts as "" (no host name known) */
    switch (fmt->parts[i]) {
    case VS_PART_NAME:
      part = name;
      break;
    case VS_PART_UUID:
      part = uuid;
      break;
    case VS_PART_HOSTNAME:
      part = hostname;
      break;
    }
    parts[n++] = part;
  }
  vs_idfield_join(out, VS_IDENT_MAX, parts, n, ':');
}

void vs_domain_names(const vs_config_t *cfg, const char *name, const char *uuid,
                     const char *hostname, char host[VS_IDENT_MAX],
                     char plugin_instance[VS_IDENT_MAX]) {
  vs_domain_name_field(&cfg->host_format, name, uuid, hostname, host);
  vs_domain_name_field(&cfg->plugin_instance_format, name, uuid, hostname,
                       plugin_instance);
}

vs_domain_label_t *vs_domain_label_new(const vs_config_t *cfg, const char *name,
                                       const char *uuid, const char *hostname) {
  vs_domain_label_t *l = calloc(1, sizeof(*l));
  if (!l || !(l->name = strdup(name))) {
    free(l);
    return NULL;
  }
  atomic_init(&l->refs, 1);
  snprintf(l->uuid, sizeof(l->uuid), "%s", uuid);
  vs_domain_names(cfg, name, uuid, hostname, l->host, l->plugin_instance);
  return l;
}
