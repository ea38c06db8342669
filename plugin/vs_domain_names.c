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
  /* Room for every part at full length: vs_idfield() then shortens the
   * whole with a hash, so two long names never collapse into one. */
  char raw[VS_FORMAT_PARTS_MAX * 1024];
  size_t len = 0;
  for (size_t i = 0; i < fmt->n && len < sizeof(raw) - 1; i++) {
    const char *part = "";
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
    int w = snprintf(raw + len, sizeof(raw) - len, "%s%s", i ? ":" : "",
                     part ? part : "");
    len = w < 0 ? len : len + (size_t)w;
    if (len > sizeof(raw) - 1)
      len = sizeof(raw) - 1;
  }
  vs_idfield(out, VS_IDENT_MAX, raw);
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
