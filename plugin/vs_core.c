#include "vs_core.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_time.h"
#include "common/vs_virt.h"
#include "vs_core_internal.h"
#include "vs_identity.h"

int vs_core_new(const vs_config_t *cfg, const char *hostname, vs_core_t **ret,
                vs_error_t *err) {
  int r = vs_virt_init(err);
  if (r < 0)
    return r;
  vs_core_t *c = calloc(1, sizeof(*c));
  if (!c)
    return vs_error_set(err, -ENOMEM, "out of memory");
  c->cfg = cfg;
  c->hostname = strdup(hostname ? hostname : "");
  if (!c->hostname) {
    free(c);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  c->mode = cfg->mode;
  *ret = c;
  return 0;
}

static void disconnect(vs_core_t *c) {
  vs_virt_conn_close(c->conn);
  c->conn = NULL;
  free(c->uri);
  c->uri = NULL;
  /* The driver behind the URI may differ after a reconnect. */
  c->mode = c->cfg->mode;
  c->no_block_stats_flags = false;
}

void vs_core_free(vs_core_t *c) {
  if (!c)
    return;
  disconnect(c);
  vs_domain_table_clear(&c->table);
  free(c->hostname);
  free(c);
}

const char *vs_core_uri(const vs_core_t *c) { return c->uri; }

static int connect_once(vs_core_t *c, vs_sample_t *s, vs_error_t *err) {
  c->conn = vs_virt_open(c->cfg->uri, true, err);
  s->calls++;
  if (!c->conn) {
    s->errors++;
    return err ? err->code : -ECONNREFUSED;
  }
  s->connected = true;
  char *uri = virConnectGetURI(c->conn);
  s->calls++;
  c->uri = uri ? uri : strdup(c->cfg->uri ? c->cfg->uri : "");
  virNodeInfo ni;
  s->calls++;
  c->host_cpus = virNodeGetInfo(c->conn, &ni) == 0 ? ni.cpus : 0;
  return 0;
}

bool vs_core_error_is_unsupported(void) {
  virErrorPtr e = virGetLastError();
  return e && (e->code == VIR_ERR_NO_SUPPORT ||
               e->code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
               e->code == VIR_ERR_OPERATION_UNSUPPORTED);
}

static int grow_samples(vs_sample_t *s) {
  if (s->n < s->cap)
    return 0;
  size_t cap = s->cap ? 2 * s->cap : 32;
  vs_domain_sample_t *p = realloc(s->domains, cap * sizeof(*p));
  if (!p)
    return -ENOMEM;
  s->domains = p;
  s->cap = cap;
  return 0;
}

vs_domain_sample_t *vs_core_track(vs_core_t *c, vs_sample_t *s,
                                  virDomainPtr dom, int *ret_err) {
  *ret_err = 0;
  /* Name, UUID and ID are held in the virDomainPtr: no RPC here. */
  const char *name = virDomainGetName(dom);
  unsigned char uuid[VIR_UUID_BUFLEN];
  if (!name || virDomainGetUUID(dom, uuid) < 0)
    return NULL;
  const char *names[] = {name};
  if (!vs_filter_selects(&c->cfg->domains, names, 1))
    return NULL;

  bool is_new;
  vs_domain_entry_t *e = vs_domain_table_get(&c->table, uuid, &is_new);
  if (!e || grow_samples(s) < 0) {
    *ret_err = -ENOMEM;
    return NULL;
  }
  int id = (int)virDomainGetID(dom);
  if (is_new || !e->name || strcmp(e->name, name) != 0 || e->id != id) {
    char *copy = strdup(name);
    if (!copy) {
      *ret_err = -ENOMEM;
      return NULL;
    }
    free(e->name);
    e->name = copy;
    e->id = id;
    virDomainGetUUIDString(dom, e->uuid_str);
    vs_domain_entry_forget_devices(e);
    vs_domain_stats_clear(&e->prev);
    e->nvcpu_cached = 0;
    vs_identity_field(&c->cfg->host_format, e->name, e->uuid_str, c->hostname,
                      e->host);
    vs_identity_field(&c->cfg->plugin_instance_format, e->name, e->uuid_str,
                      c->hostname, e->plugin_instance);
  }
  e->seen = c->generation;

  vs_domain_sample_t *ds = &s->domains[s->n++];
  memset(ds, 0, sizeof(*ds));
  ds->entry = e;
  return ds;
}

void vs_core_untrack(vs_core_t *c, vs_sample_t *s) {
  vs_domain_sample_t *ds = &s->domains[--s->n];
  (ds->entry)->seen = c->generation - 1;
  vs_domain_stats_clear(&ds->st);
}

void vs_core_problem(vs_core_t *c, vs_sample_t *s, vs_domain_sample_t *ds,
                     bool with_virt_error, const char *fmt, ...) {
  s->errors++;
  /* Only the first problem of a domain in a round is kept. */
  if (ds->problem)
    return;
  ds->problem = true;
  vs_domain_entry_t *e = ds->entry;
  bool first = !e->had_problem;
  char msg[VS_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (with_virt_error) {
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof(msg) - len, ": %s", virGetLastErrorMessage());
  }
  vs_problem_t *p = realloc(s->problems, (s->nproblems + 1) * sizeof(*p));
  if (!p)
    return;
  s->problems = p;
  p[s->nproblems].domain = strdup(e->name);
  p[s->nproblems].message = strdup(msg);
  p[s->nproblems].first = first;
  if (!p[s->nproblems].domain || !p[s->nproblems].message) {
    free(p[s->nproblems].domain);
    free(p[s->nproblems].message);
    return;
  }
  s->nproblems++;
}

static void note_gone(void *ud, const char *name) {
  vs_sample_t *s = ud;
  char **p = realloc(s->gone, (s->ngone + 1) * sizeof(*p));
  if (!p)
    return;
  s->gone = p;
  if ((p[s->ngone] = strdup(name)))
    s->ngone++;
}

/* %CPU from the previous reading of the same domain (by UUID). The reading
 * time is when libvirt answered, so a slow round does not inflate it. */
static void compute_percent(vs_core_t *c, vs_domain_sample_t *ds) {
  vs_domain_entry_t *e = ds->entry;
  const vs_domain_stats_t *st = &ds->st;
  if (st->have_vcpu_current)
    e->nvcpu_cached = st->vcpu_current;
  if (!vs_fields_has(&st->cpu, VS_CPU_TIME) ||
      !vs_fields_has(&e->prev.cpu, VS_CPU_TIME))
    return;
  unsigned nvcpu = e->nvcpu_cached;
  double pct = vs_cpu_percent(e->prev.cpu.v[VS_CPU_TIME], e->prev_ns,
                              st->cpu.v[VS_CPU_TIME], ds->sampled_ns, nvcpu);
  if (pct < 0)
    return;
  /* Compatibility: the bundled plugin reports a share of the whole host, so
   * thresholds written for it keep their meaning. */
  if (c->cfg->compat == VS_COMPAT_VIRT) {
    if (c->host_cpus == 0)
      return;
    pct = pct * nvcpu / c->host_cpus;
  }
  ds->have_cpu_percent = true;
  ds->cpu_percent = pct;
}

void vs_core_need_nvcpu(vs_core_t *c, vs_sample_t *s, vs_domain_sample_t *ds,
                        virDomainPtr dom) {
  vs_domain_entry_t *e = ds->entry;
  if (!(c->cfg->groups & VS_GROUP_CPU) || (c->cfg->groups & VS_GROUP_VCPU) ||
      e->nvcpu_cached)
    return;
  virDomainInfo info;
  s->calls++;
  if (virDomainGetInfo(dom, &info) == 0)
    e->nvcpu_cached = info.nrVirtCpu;
  else
    s->errors++;
}

int vs_core_sample(vs_core_t *c, vs_sample_t *s, vs_error_t *err) {
  uint64_t t0 = vs_now_ns();
  c->generation++;

  if (!c->conn) {
    int r = connect_once(c, s, err);
    if (r < 0) {
      s->duration_ns = vs_now_ns() - t0;
      return r;
    }
  }

  int r;
  if (c->mode == VS_MODE_AUTO) {
    r = vs_sample_bulk(c, s, true, err);
    if (r == -ENOTSUP) {
      c->mode = VS_MODE_PER_DOMAIN;
      r = vs_sample_perdomain(c, s, err);
    } else if (r == 0) {
      c->mode = VS_MODE_BULK;
    }
  } else if (c->mode == VS_MODE_BULK) {
    r = vs_sample_bulk(c, s, false, err);
  } else {
    r = vs_sample_perdomain(c, s, err);
  }
  s->mode = c->mode == VS_MODE_AUTO ? VS_MODE_BULK : c->mode;

  if (r < 0) {
    /* A dead connection is reopened on the next round. */
    if (virConnectIsAlive(c->conn) != 1)
      disconnect(c);
    s->duration_ns = vs_now_ns() - t0;
    return r;
  }

  for (size_t i = 0; i < s->n; i++) {
    vs_domain_sample_t *ds = &s->domains[i];
    vs_domain_stats_drop_regressions(&ds->st, &ds->entry->prev);
    compute_percent(c, ds);
    ds->entry->had_problem = ds->problem;
  }
  vs_domain_table_sweep(&c->table, c->generation, note_gone, s);
  s->duration_ns = vs_now_ns() - t0;
  return 0;
}

void vs_core_sample_done(vs_core_t *c, vs_sample_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    vs_domain_entry_t *e = s->domains[i].entry;
    vs_domain_stats_clear(&e->prev);
    e->prev = s->domains[i].st; /* moved */
    e->prev_ns = s->domains[i].sampled_ns;
    memset(&s->domains[i].st, 0, sizeof(s->domains[i].st));
  }
  vs_sample_clear(s);
}

void vs_sample_clear(vs_sample_t *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++)
    vs_domain_stats_clear(&s->domains[i].st);
  free(s->domains);
  for (size_t i = 0; i < s->ngone; i++)
    free(s->gone[i]);
  free(s->gone);
  for (size_t i = 0; i < s->nproblems; i++) {
    free(s->problems[i].domain);
    free(s->problems[i].message);
  }
  free(s->problems);
  memset(s, 0, sizeof(*s));
}
