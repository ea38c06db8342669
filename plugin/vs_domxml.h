/* virtscale - the device lists of a domain from its XML description (used
 * by per-domain sampling, which has to name each disk and interface). */
#pragma once

#include <stddef.h>

#include "common/vs_error.h"

typedef struct {
  char **disk_targets; /* "vda"; owned */
  char **disk_sources; /* source file/dev, NULL when none; owned */
  size_t ndisks;
  char **nic_targets; /* host-side device "vnet0"; owned */
  size_t nnics;
} vs_domxml_devices_t;

/* Parse xml (a <domain> document) into ret (zeroed by the caller): every
 * <disk> with a <target dev>, every <interface> with a <target dev>, in
 * document order (the order libvirt's bulk statistics use). Returns 0,
 * -EINVAL (not a domain document) or -ENOMEM, with err set. */
int vs_domxml_devices(const char *xml, vs_domxml_devices_t *ret,
                      vs_error_t *err);

/* Free what d owns and zero it (NULL-safe). */
void vs_domxml_devices_clear(vs_domxml_devices_t *d);

/* Deep copy of src into dst (zeroed by the caller). Returns 0 or -ENOMEM
 * with err set (dst cleared). */
int vs_domxml_devices_copy(const vs_domxml_devices_t *src,
                           vs_domxml_devices_t *dst, vs_error_t *err);
