#include "vs_domxml.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static xmlNodePtr child(xmlNodePtr n, const char *name) {
  for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST name) == 0)
      return c;
  return NULL;
}

/* strdup of an attribute, NULL when absent; *oom set on allocation failure. */
static char *attr(xmlNodePtr n, const char *name, bool *oom) {
  if (!n)
    return NULL;
  xmlChar *v = xmlGetProp(n, BAD_CAST name);
  if (!v)
    return NULL;
  char *s = strdup((const char *)v);
  xmlFree(v);
  if (!s)
    *oom = true;
  return s;
}

static int push(char ***arr, size_t n, char *s) {
  char **p = realloc(*arr, (n + 1) * sizeof(*p));
  if (!p)
    return -ENOMEM;
  p[n] = s;
  *arr = p;
  return 0;
}

int vs_domxml_devices(const char *xml, vs_domxml_devices_t *ret,
                      vs_error_t *err) {
  /* NONET: never fetch external entities; the XML comes from libvirtd. */
  xmlDocPtr doc =
      xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc)
    return vs_error_set(err, -EINVAL, "domain XML does not parse");
  int r = 0;
  bool oom = false;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  xmlNodePtr devices = root && xmlStrcmp(root->name, BAD_CAST "domain") == 0
                           ? child(root, "devices")
                           : NULL;
  if (!root || xmlStrcmp(root->name, BAD_CAST "domain") != 0) {
    r = vs_error_set(err, -EINVAL, "domain XML has no <domain> root");
    goto out;
  }
  for (xmlNodePtr d = devices ? devices->children : NULL; d && !oom;
       d = d->next) {
    if (d->type != XML_ELEMENT_NODE)
      continue;
    bool is_disk = xmlStrcmp(d->name, BAD_CAST "disk") == 0;
    bool is_nic = xmlStrcmp(d->name, BAD_CAST "interface") == 0;
    if (!is_disk && !is_nic)
      continue;
    char *target = attr(child(d, "target"), "dev", &oom);
    if (!target)
      continue;
    if (is_nic) {
      if (push(&ret->nic_targets, ret->nnics, target) < 0) {
        free(target);
        oom = true;
        break;
      }
      ret->nnics++;
      continue;
    }
    xmlNodePtr src = child(d, "source");
    char *source = attr(src, "file", &oom);
    if (!source)
      source = attr(src, "dev", &oom);
    if (push(&ret->disk_targets, ret->ndisks, target) < 0 ||
        push(&ret->disk_sources, ret->ndisks, source) < 0) {
      /* disk_targets may hold target already: count stays consistent by
       * trimming it below. */
      free(target);
      free(source);
      oom = true;
      break;
    }
    ret->ndisks++;
  }
  if (oom) {
    vs_domxml_devices_clear(ret);
    r = vs_error_set(err, -ENOMEM, "out of memory");
  }
out:
  xmlFreeDoc(doc);
  return r;
}

static void strv_free(char **v, size_t n) {
  if (!v)
    return;
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void vs_domxml_devices_clear(vs_domxml_devices_t *d) {
  if (!d)
    return;
  strv_free(d->disk_targets, d->ndisks);
  strv_free(d->disk_sources, d->ndisks);
  strv_free(d->nic_targets, d->nnics);
  memset(d, 0, sizeof(*d));
}

static char **strv_copy(char *const *v, size_t n, bool *oom) {
  char **out = calloc(n ? n : 1, sizeof(*out));
  if (!out) {
    *oom = true;
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if (v[i] && !(out[i] = strdup(v[i])))
      *oom = true;
  return out;
}

int vs_domxml_devices_copy(const vs_domxml_devices_t *src,
                           vs_domxml_devices_t *dst, vs_error_t *err) {
  bool oom = false;
  dst->disk_targets = strv_copy(src->disk_targets, src->ndisks, &oom);
  dst->disk_sources = strv_copy(src->disk_sources, src->ndisks, &oom);
  dst->ndisks = src->ndisks;
  dst->nic_targets = strv_copy(src->nic_targets, src->nnics, &oom);
  dst->nnics = src->nnics;
  if (oom) {
    vs_domxml_devices_clear(dst);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  return 0;
}
