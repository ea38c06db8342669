/* virtscale - the libvirt implementation of vs_virt_api_t. */
#include "vs_virt_api.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_virt.h"
#include "vs_stats_parse.h"

int vs_uuid_cmp(const vs_uuid_t *a, const vs_uuid_t *b) {
  return memcmp(a->b, b->b, VS_UUID_LEN);
}

void vs_uuid_format(const vs_uuid_t *u, char out[VS_UUID_STRING_LEN]) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < VS_UUID_LEN; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out[o++] = '-';
    out[o++] = hex[u->b[i] >> 4];
    out[o++] = hex[u->b[i] & 15];
  }
  out[o] = '\0';
}

void vs_records_free(vs_record_t *recs, size_t n) {
  for (size_t i = 0; recs && i < n; i++) {
    free(recs[i].name);
    free(recs[i].problem);
    vs_domain_stats_clear(&recs[i].st);
    vs_domxml_devices_clear(&recs[i].devices);
  }
  free(recs);
}

/* A domain handle known on this connection. */
typedef struct {
  vs_uuid_t uuid;
  virDomainPtr dom;
  int id; /* the domain's ID when known (a restart changes it), else -2 */
} handle_t;

/* One connection. Its calls come one at a time (a lane or the probe sends
 * them), so the handle cache needs no lock; the callbacks read only ev. */
typedef struct {
  virConnectPtr conn;
  vs_conn_events_t ev;
  int lifecycle_id, threshold_id; /* -1: not registered */
  bool close_cb;
  /* virDomainListGetStats and virDomainGetControlInfo take handles of the
   * connection they run on: the running domains as this connection last
   * listed them, sorted by UUID. */
  handle_t *handles;
  size_t nhandles;
} conn_t;

static int handle_cmp(const void *a, const void *b) {
  return vs_uuid_cmp(&((const handle_t *)a)->uuid,
                     &((const handle_t *)b)->uuid);
}

static void handles_clear(conn_t *c) {
  for (size_t i = 0; i < c->nhandles; i++)
    if (c->handles[i].dom)
      virDomainFree(c->handles[i].dom);
  free(c->handles);
  c->handles = NULL;
  c->nhandles = 0;
}

static handle_t *handle_find(const conn_t *c, const vs_uuid_t *u);

/* Replace the cache with doms, whose UUIDs and IDs are in recs (NULL: the
 * UUIDs are asked here). A domain already in the cache with the same ID
 * keeps its handle; the others are referenced. Fewer calls on domains than
 * a new reference for each: libvirt's client formats the domain's UUID for
 * its debug log in every public call on a domain, logging on or off (the
 * benchmark's callgrind part measures it). */
static int handles_set(conn_t *c, virDomainPtr *doms, const vs_record_t *recs,
                       size_t n) {
  handle_t *h = calloc(n ? n : 1, sizeof(*h));
  if (!h)
    return -ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    h[k].id = -2;
    if (recs) {
      h[k].uuid = recs[i].uuid;
      h[k].id = recs[i].id;
    } else if (virDomainGetUUID(doms[i], h[k].uuid.b) < 0) {
      continue;
    }
    handle_t *old = handle_find(c, &h[k].uuid);
    if (old && old->dom && old->id == h[k].id && h[k].id != -2) {
      h[k].dom = old->dom;
      old->dom = NULL; /* moved: not freed below */
    } else {
      virDomainRef(doms[i]);
      h[k].dom = doms[i];
    }
    k++;
  }
  qsort(h, k, sizeof(*h), handle_cmp);
  handles_clear(c);
  c->handles = h;
  c->nhandles = k;
  return 0;
}

static handle_t *handle_find(const conn_t *c, const vs_uuid_t *u) {
  /* bsearch's array must not be NULL, even with no element (the cache
   * before the first listing). */
  if (!c->nhandles)
    return NULL;
  handle_t key = {.uuid = *u};
  return bsearch(&key, c->handles, c->nhandles, sizeof(handle_t), handle_cmp);
}

static virDomainPtr handle_dom(const conn_t *c, const vs_uuid_t *u) {
  const handle_t *h = handle_find(c, u);
  return h ? h->dom : NULL;
}

/* List the running domains into the cache (one RPC). */
static int refresh_handles(conn_t *c, unsigned *rpcs, vs_error_t *err) {
  virDomainPtr *doms = NULL;
  (*rpcs)++;
  int n =
      virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0)
    return vs_error_set_virt(err, -EIO, "cannot list domains");
  int r = handles_set(c, doms, NULL, (size_t)n);
  for (int i = 0; i < n; i++)
    virDomainFree(doms[i]);
  free(doms);
  return r < 0 ? vs_error_set(err, r, "out of memory") : 0;
}

/* Handles for n UUIDs, listing again when one is not known yet. A domain
 * still unknown after that stopped: its slot is NULL. */
static int lookup(conn_t *c, const vs_uuid_t *uuids, size_t n,
                  virDomainPtr *out, unsigned *rpcs, vs_error_t *err) {
  bool listed = false;
  for (size_t i = 0; i < n; i++) {
    out[i] = handle_dom(c, &uuids[i]);
    if (!out[i] && !listed) {
      int r = refresh_handles(c, rpcs, err);
      if (r < 0)
        return r;
      listed = true;
      i = (size_t)-1; /* the cache changed: look every one up again */
    }
  }
  return 0;
}

/* --- callbacks, on the event loop thread -------------------------------- */

static void on_close(virConnectPtr conn, int reason, void *opaque) {
  const conn_t *c = opaque;
  vs_close_reason_t r =
      reason == VIR_CONNECT_CLOSE_REASON_EOF         ? VS_CLOSE_EOF
      : reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ? VS_CLOSE_KEEPALIVE
      : reason == VIR_CONNECT_CLOSE_REASON_CLIENT    ? VS_CLOSE_CLIENT
                                                     : VS_CLOSE_ERROR;
  c->ev.closed(c->ev.ud, r);
}

static void event_domain(virDomainPtr dom, char uuid[VIR_UUID_STRING_BUFLEN],
                         vs_event_domain_t *d) {
  uuid[0] = '\0';
  virDomainGetUUIDString(dom, uuid);
  const char *name = virDomainGetName(dom);
  d->name = name ? name : "";
  d->uuid = uuid;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
                        int detail, void *opaque) {
  const conn_t *c = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];
  vs_event_domain_t d;
  event_domain(dom, uuid, &d);
  c->ev.lifecycle(c->ev.ud, &d, event, detail);
  return 0;
}

static void on_threshold(virConnectPtr conn, virDomainPtr dom, const char *dev,
                         const char *path, unsigned long long threshold,
                         unsigned long long excess, void *opaque) {
  const conn_t *c = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];
  vs_event_domain_t d;
  event_domain(dom, uuid, &d);
  c->ev.block_threshold(c->ev.ud, &d, dev, threshold, excess);
}

/* --- the table ------------------------------------------------------------ */

static void api_close(void *h) {
  conn_t *c = h;
  if (!c)
    return;
  if (c->lifecycle_id >= 0)
    virConnectDomainEventDeregisterAny(c->conn, c->lifecycle_id);
  if (c->threshold_id >= 0)
    virConnectDomainEventDeregisterAny(c->conn, c->threshold_id);
  if (c->close_cb)
    virConnectUnregisterCloseCallback(c->conn, on_close);
  handles_clear(c);
  vs_virt_conn_close(c->conn);
  free(c);
}

static int api_open(const vs_conn_opts_t *o, const vs_conn_events_t *ev,
                    void **ret, vs_error_t *err) {
  conn_t *c = calloc(1, sizeof(*c));
  if (!c)
    return vs_error_set(err, -ENOMEM, "out of memory");
  c->ev = *ev;
  c->lifecycle_id = c->threshold_id = -1;
  c->conn = vs_virt_open(o->uri, o->read_only, err);
  if (!c->conn) {
    free(c);
    return err->code ? err->code : -EIO;
  }
  /* Keepalive is refused by drivers without it (test:///): not an error. */
  if (o->keepalive_interval > 0)
    virConnectSetKeepAlive(c->conn, o->keepalive_interval, o->keepalive_count);
  if (ev->closed &&
      virConnectRegisterCloseCallback(c->conn, on_close, c, NULL) == 0)
    c->close_cb = true;
  if (ev->lifecycle)
    c->lifecycle_id = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), c, NULL);
  if (ev->block_threshold)
    c->threshold_id = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD,
        VIR_DOMAIN_EVENT_CALLBACK(on_threshold), c, NULL);
  *ret = c;
  return 0;
}

static char *api_uri(void *h) {
  conn_t *c = h;
  return virConnectGetURI(c->conn);
}

static unsigned api_host_cpus(void *h) {
  conn_t *c = h;
  virNodeInfo ni;
  return virNodeGetInfo(c->conn, &ni) == 0 ? ni.cpus : 0;
}

static void *api_virt(void *h) { return ((conn_t *)h)->conn; }

static bool code_is_unsupported(int code) {
  return code == VIR_ERR_NO_SUPPORT || code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
         code == VIR_ERR_OPERATION_UNSUPPORTED;
}

static int uuid_key_cmp(const void *a, const void *b) {
  return vs_uuid_cmp(a, b);
}

/* One libvirt record into out (zeroed); the vCPU count when asked for. */
static int take_record(virDomainStatsRecordPtr rec, const vs_stats_req_t *req,
                       vs_record_t *out, unsigned *rpcs) {
  const char *name = virDomainGetName(rec->dom);
  if (virDomainGetUUID(rec->dom, out->uuid.b) < 0 || !name)
    return 1; /* not a usable record: skipped */
  out->id = (int)virDomainGetID(rec->dom);
  if (!(out->name = strdup(name)))
    return -ENOMEM;
  vs_error_t perr = {0};
  if (vs_domain_stats_parse(rec->params, rec->nparams, &out->st, &perr) < 0) {
    if (perr.code == -ENOMEM)
      return -ENOMEM;
    out->problem = strdup(perr.msg);
  }
  if (req->nneed && bsearch(&out->uuid, req->need_nvcpu, req->nneed,
                            sizeof(vs_uuid_t), uuid_key_cmp)) {
    /* The vCPU count %CPU divides by when the vcpu group is off: asked
     * once per domain start (the caller names the domains). */
    virDomainInfo info;
    (*rpcs)++;
    if (virDomainGetInfo(rec->dom, &info) == 0)
      out->nvcpu = info.nrVirtCpu;
  }
  return 0;
}

/* kept (n slots, may be NULL): the domain of each record taken, in order. */
static int take_records(virDomainStatsRecordPtr *recs, int n,
                        const vs_stats_req_t *req, vs_record_t **ret,
                        size_t *nret, virDomainPtr *kept, unsigned *rpcs,
                        vs_error_t *err) {
  vs_record_t *out = calloc(n > 0 ? (size_t)n : 1, sizeof(*out));
  if (!out)
    return vs_error_set(err, -ENOMEM, "out of memory");
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    int r = take_record(recs[i], req, &out[k], rpcs);
    if (r < 0) {
      vs_records_free(out, k + 1);
      return vs_error_set(err, r, "out of memory");
    }
    if (r == 0) {
      if (kept)
        kept[k] = recs[i]->dom;
      k++;
    } else
      memset(&out[k], 0, sizeof(out[k]));
  }
  *ret = out;
  *nret = k;
  return 0;
}

/* The running domains, names only (no statistics). */
static int list_only(conn_t *c, vs_record_t **ret, size_t *nret, unsigned *rpcs,
                     vs_error_t *err) {
  int r = refresh_handles(c, rpcs, err);
  if (r < 0)
    return r;
  vs_record_t *out = calloc(c->nhandles ? c->nhandles : 1, sizeof(*out));
  if (!out)
    return vs_error_set(err, -ENOMEM, "out of memory");
  for (size_t i = 0; i < c->nhandles; i++) {
    const char *name = virDomainGetName(c->handles[i].dom);
    out[i].uuid = c->handles[i].uuid;
    out[i].id = (int)virDomainGetID(c->handles[i].dom);
    if (!(out[i].name = strdup(name ? name : ""))) {
      vs_records_free(out, i + 1);
      return vs_error_set(err, -ENOMEM, "out of memory");
    }
  }
  *ret = out;
  *nret = c->nhandles;
  return 0;
}

static int api_stats(void *h, const vs_stats_req_t *req, vs_record_t **ret,
                     size_t *nret, unsigned *rpcs, vs_error_t *err) {
  conn_t *c = h;
  *ret = NULL;
  *nret = 0;
  if (req->groups == 0)
    return list_only(c, ret, nret, rpcs, err);
  /* NOWAIT: a domain whose job is held (a call stuck in its monitor, a
   * migration, its start) answers its job-free fields instead of waiting.
   * ACTIVE: defined domains that do not run are not asked at all. */
  unsigned flags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT |
                   VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE;
  /* Drivers that cannot produce a group (test:///) return empty records
   * unless told to enforce, and then fail. */
  if (req->enforce)
    flags |= VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS;
  unsigned stats = vs_groups_to_virt(req->groups);
  virDomainStatsRecordPtr *recs = NULL;
  int n;
  if (!req->uuids) {
    (*rpcs)++;
    n = virConnectGetAllDomainStats(c->conn, stats, &recs, flags);
  } else {
    virDomainPtr *doms = calloc(req->n + 1, sizeof(*doms));
    if (!doms)
      return vs_error_set(err, -ENOMEM, "out of memory");
    int r = lookup(c, req->uuids, req->n, doms, rpcs, err);
    size_t k = 0;
    for (size_t i = 0; r == 0 && i < req->n; i++)
      if (doms[i])
        doms[k++] = doms[i];
    doms[k] = NULL;
    if (r < 0 || k == 0) {
      free(doms);
      return r; /* none of them runs any more: an empty answer */
    }
    (*rpcs)++;
    n = virDomainListGetStats(doms, stats, &recs, flags);
    free(doms); /* borrowed from the cache */
  }
  if (n < 0) {
    virErrorPtr e = virGetLastError();
    int code =
        e && req->enforce && code_is_unsupported(e->code) ? -ENOTSUP : -EIO;
    return vs_error_set_virt(err, code, "statistics call failed");
  }
  /* An answer for every running domain lists them too. */
  virDomainPtr *kept = req->uuids ? NULL : calloc((size_t)n + 1, sizeof(*kept));
  int r = take_records(recs, n, req, ret, nret, kept, rpcs, err);
  if (r == 0 && kept)
    handles_set(c, kept, *ret, *nret);
  free(kept);
  virDomainStatsRecordListFree(recs);
  return r;
}

static int api_control(void *h, const vs_uuid_t *uuids, size_t n,
                       vs_control_t *ret, unsigned *rpcs, vs_error_t *err) {
  conn_t *c = h;
  virDomainPtr *doms = calloc(n ? n : 1, sizeof(*doms));
  if (!doms)
    return vs_error_set(err, -ENOMEM, "out of memory");
  int r = lookup(c, uuids, n, doms, rpcs, err);
  for (size_t i = 0; r == 0 && i < n; i++) {
    memset(&ret[i], 0, sizeof(ret[i]));
    ret[i].uuid = uuids[i];
    virDomainControlInfo ci;
    if (!doms[i])
      continue;
    (*rpcs)++;
    if (virDomainGetControlInfo(doms[i], &ci, 0) < 0)
      continue; /* stopped meanwhile */
    ret[i].known = true;
    ret[i].failed = ci.state == VIR_DOMAIN_CONTROL_ERROR;
    if (ci.state == VIR_DOMAIN_CONTROL_OCCUPIED)
      ret[i].occupied_ms = ci.stateTime ? ci.stateTime : 1;
  }
  free(doms);
  return r;
}

const vs_virt_api_t vs_virt_api_libvirt = {
    .open = api_open,
    .close = api_close,
    .uri = api_uri,
    .host_cpus = api_host_cpus,
    .stats = api_stats,
    .control = api_control,
    .virt = api_virt,
};
