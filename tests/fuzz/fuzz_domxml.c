/* Fuzz harness: the device lists of a domain from its XML description
 * (vs_domxml_devices, libxml2), as per-domain sampling reads libvirtd's
 * answer, then the copy the read path keeps (vs_domxml_devices_copy).
 *
 * Input: the XML document itself (cut at an embedded NUL, as the C string
 * libvirt returns would be), in an allocation of exactly its size.
 *
 * Checked beyond memory safety: libxml2 never loads anything from outside
 * the document (no external DTD, entity or XInclude, by file or network:
 * the harness's entity loader aborts when asked); a failure returns
 * -EINVAL or -ENOMEM with a message and leaves nothing behind; every
 * listed device has a target name, and the copy equals the original. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "vs_domxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static void check(const vs_domxml_devices_t *d, const vs_domxml_devices_t *c) {
  bool bad = c->ndisks != d->ndisks || c->nnics != d->nnics;
  for (size_t i = 0; i < d->ndisks && !bad; i++)
    bad = !d->disk_targets[i] ||
          !same(d->disk_targets[i], c->disk_targets[i]) ||
          !same(d->disk_sources[i], c->disk_sources[i]);
  for (size_t i = 0; i < d->nnics && !bad; i++)
    bad = !d->nic_targets[i] || !same(d->nic_targets[i], c->nic_targets[i]);
  if (bad) {
    fprintf(stderr, "device lists differ or lack a target\n");
    abort();
  }
}

/* Every external resource libxml2 would read goes through this loader. */
static xmlParserInputPtr no_loading(const char *url, const char *id,
                                    xmlParserCtxtPtr ctxt) {
  fprintf(stderr, "libxml2 asked to load \"%s\" (public id \"%s\")\n",
          url ? url : "", id ? id : "");
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool loader_set;
  if (!loader_set) {
    xmlSetExternalEntityLoader(no_loading);
    loader_set = true;
  }
  char *xml = malloc(size + 1);
  if (!xml)
    abort();
  memcpy(xml, data, size);
  xml[size] = '\0';
  vs_domxml_devices_t d = {0}, c = {0};
  vs_error_t err = {0};
  int r = vs_domxml_devices(xml, &d, &err);
  if (r < 0) {
    if ((r != -EINVAL && r != -ENOMEM) || err.code != r || !err.msg[0] ||
        d.ndisks || d.nnics || d.disk_targets || d.nic_targets) {
      fprintf(stderr, "bad failure %d: %s\n", r, err.msg);
      abort();
    }
  } else {
    if (vs_domxml_devices_copy(&d, &c, &err) == 0)
      check(&d, &c);
    vs_domxml_devices_clear(&c);
  }
  vs_domxml_devices_clear(&d);
  free(xml);
  return 0;
}
