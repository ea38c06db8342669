#include "vs_core.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_eventloop.h"
#include "common/vs_time.h"
#include "common/vs_virt.h"
#include "vs_core_internal.h"
#include "vs_identity.h"

/* How long shutdown waits for workers that are not stuck. */
#define SHUTDOWN_WAIT_NS (2 * VS_NS_PER_SEC)

static void on_conn_closed(void *ud, int reason);

int vs_core_new(const vs_config_t *cfg, const char *hostname,
                uint64_t interval_ns, const vs_core_sink_t *sink,
                vs_core_t **ret, vs_error_t *err) {
  int r = vs_eventloop_ref(err);
  if (r < 0)
    return r;
  vs_core_t *c = calloc(1, sizeof(*c));
  if (!c) {
    vs_eventloop_unref();
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  c->cfg = cfg;
  c->sink = *sink;
  c->interval_ns = interval_ns;
  c->mode = cfg->mode;
  c->hostname = strdup(hostname ? hostname : "");
  c->open_token = vs_token_new();
  c->probe_token = vs_token_new();
  vs_executor_opts_t eo = {.name = "vs-sample",
                           .max_workers = 2,
                           .max_abandoned = (unsigned)cfg->max_abandoned};
  if (!c->hostname || !c->open_token || !c->probe_token ||
      (r = vs_executor_new(&eo, &c->ex, err)) < 0) {
    vs_core_free(c);
    return r < 0 ? r : vs_error_set(err, -ENOMEM, "out of memory");
  }
  *ret = c;
  return 0;
}

/* Close retired connections whose stuck calls have returned (all of them
 * when all is set). */
static void close_retired(vs_core_t *c, bool all, uint64_t deadline_ns) {
  size_t out = 0;
  for (size_t i = 0; i < c->nretired; i++) {
    if (all || vs_conn_inflight(c->retired[i]) == 0)
      vs_conn_close(c->retired[i], c->ex, deadline_ns);
    else
      c->retired[out++] = c->retired[i];
  }
  c->nretired = out;
}

static void drop_connection(vs_core_t *c, uint64_t deadline_ns) {
  vs_conn_close(c->conn, c->ex, deadline_ns);
  c->conn = NULL;
  vs_conn_close(c->probe_conn, c->ex, deadline_ns);
  c->probe_conn = NULL;
  vs_conn_close(c->events_conn, c->ex, deadline_ns);
  c->events_conn = NULL;
  /* The driver behind the URI may differ after a reconnect. */
  c->mode = c->cfg->mode;
  c->no_block_stats_flags = false;
}

void vs_core_free(vs_core_t *c) {
  if (!c)
    return;
  vs_blockinfo_stop(c->blockinfo);
  drop_connection(c, vs_now_ns() + SHUTDOWN_WAIT_NS);
  close_retired(c, true, vs_now_ns() + SHUTDOWN_WAIT_NS);
  free(c->retired);
  vs_executor_free(c->ex, SHUTDOWN_WAIT_NS);
  vs_domain_table_clear(&c->table);
  vs_token_unref(c->open_token);
  vs_token_unref(c->probe_token);
  free(c->hostname);
  free(c);
  vs_eventloop_unref();
}

const char *vs_core_uri(const vs_core_t *c) {
  return c->conn ? vs_conn_uri(c->conn) : NULL;
}

bool vs_core_code_is_unsupported(int code) {
  return code == VIR_ERR_NO_SUPPORT || code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
         code == VIR_ERR_OPERATION_UNSUPPORTED;
}

uint64_t vs_core_unresponsive_after(const vs_core_t *c, uint64_t budget_ns) {
  /* A healthy monitor answers in milliseconds; half the round's budget is
   * far beyond that and still reports a frozen QEMU in the round it froze. */
  return budget_ns / 2;
}

/* --- connection ----------------------------------------------------------- */

static const char *close_reason(int reason) {
  switch (reason) {
  case VIR_CONNECT_CLOSE_REASON_ERROR:
    return "I/O error";
  case VIR_CONNECT_CLOSE_REASON_EOF:
    return "libvirtd closed it";
  case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
    return "keepalive timeout: libvirtd does not answer";
  default:
    return "closed by the client";
  }
}

void vs_sink_note(const vs_core_sink_t *sink, vs_severity_t sev,
                  const char *host, const char *plugin_instance,
                  const char *type, const char *type_instance, const char *fmt,
                  ...) {
  vs_note_t n = {.severity = sev,
                 .host = host,
                 .plugin_instance = plugin_instance ? plugin_instance : "",
                 .type = type,
                 .type_instance = type_instance};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(n.message, sizeof(n.message), fmt, ap);
  va_end(ap);
  sink->notify(sink->ud, &n);
}

/* Event loop thread: only immutable fields of c are read. */
static void on_conn_closed(void *ud, int reason) {
  const vs_core_t *c = ud;
  vs_sink_note(&c->sink, VS_NOTE_FAILURE, NULL, NULL, "gauge", "connection",
               "connection to %s lost (%s)",
               c->cfg->uri ? c->cfg->uri : "libvirt", close_reason(reason));
}

/* An auxiliary connection (probes, events), (re)opened when missing or
 * closed; a failure is retried next round without complaint. */
static void ensure_aux(vs_core_t *c, vs_conn_t **slot,
                       const vs_conn_events_t *ev, uint64_t deadline_ns) {
  if (*slot && vs_conn_is_closed(*slot)) {
    vs_conn_close(*slot, c->ex, deadline_ns);
    *slot = NULL;
  }
  if (*slot || vs_token_busy(c->open_token))
    return;
  vs_conn_opts_t o = {
      .uri = c->cfg->uri,
      .read_only = true,
      .keepalive_interval = (int)c->cfg->keepalive_interval,
      .keepalive_count = (unsigned)c->cfg->keepalive_count,
      .ev = *ev,
  };
  vs_error_t err = {0};
  vs_token_set(c->open_token, true);
  vs_conn_open(c->ex, &o, vs_token_ref(c->open_token), deadline_ns, slot, &err);
}

static void ensure_aux_all(vs_core_t *c, uint64_t deadline_ns) {
  vs_conn_events_t none = {0};
  ensure_aux(c, &c->probe_conn, &none, deadline_ns);
  if (c->cfg->state_notifications) {
    vs_conn_events_t ev = {.ud = c, .lifecycle = vs_lifecycle_event};
    ensure_aux(c, &c->events_conn, &ev, deadline_ns);
  }
}

/* Open the sampling connection. */
static int open_sampling(vs_core_t *c, vs_sample_t *s, uint64_t deadline_ns,
                         vs_error_t *err) {
  if (vs_token_busy(c->open_token))
    return vs_error_set(err, -ETIMEDOUT,
                        "still waiting for libvirtd to answer a connection");
  vs_conn_opts_t o = {
      .uri = c->cfg->uri,
      .read_only = true,
      .keepalive_interval = (int)c->cfg->keepalive_interval,
      .keepalive_count = (unsigned)c->cfg->keepalive_count,
      .ev = {.ud = c, .closed = on_conn_closed},
  };
  s->calls++;
  vs_token_set(c->open_token, true);
  int r = vs_conn_open(c->ex, &o, vs_token_ref(c->open_token), deadline_ns,
                       &c->conn, err);
  if (r < 0)
    s->errors++;
  return r;
}

int vs_core_replace_conn(vs_core_t *c, vs_sample_t *s, uint64_t deadline_ns,
                         vs_error_t *err) {
  if (c->conn) {
    vs_conn_t **p = realloc(c->retired, (c->nretired + 1) * sizeof(*p));
    if (!p)
      return vs_error_set(err, -ENOMEM, "out of memory");
    c->retired = p;
    vs_conn_detach(c->conn); /* its loss is not the plugin's any more */
    c->retired[c->nretired++] = c->conn;
    c->conn = NULL;
  }
  /* Each retired connection holds a worker in a stuck call: no more of
   * them than workers may be abandoned. */
  if (c->nretired >= (size_t)c->cfg->max_abandoned)
    return vs_error_set(err, -EBUSY, "too many calls stuck in libvirt");
  return open_sampling(c, s, deadline_ns, err);
}

static int ensure_connected(vs_core_t *c, vs_sample_t *s, uint64_t deadline_ns,
                            vs_error_t *err) {
  close_retired(c, false, deadline_ns);
  if (c->conn && vs_conn_is_closed(c->conn)) {
    drop_connection(c, deadline_ns);
    c->conn_lost = true;
  }
  if (!c->conn) {
    int r = open_sampling(c, s, deadline_ns, err);
    if (r < 0)
      return r;
    s->connected = true;
    if (c->conn_lost) {
      c->conn_lost = false;
      c->reconnects++;
      vs_sink_note(&c->sink, VS_NOTE_OKAY, NULL, NULL, "gauge", "connection",
                   "connection to %s restored", vs_conn_uri(c->conn));
    }
  }
  ensure_aux_all(c, deadline_ns);
  return 0;
}

/* --- domains in a round -----------------------------------------------------
 */

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
  /* Tracked already in this round (careful mode lists, then samples). */
  vs_domain_entry_t *known = vs_domain_table_find(&c->table, uuid);
  if (known && known->seen == c->generation)
    return &s->domains[known->round_idx];
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
    vs_identity_fields(c->cfg, e->name, e->uuid_str, c->hostname, e->host,
                       e->plugin_instance);
  }
  e->seen = c->generation;
  e->round_idx = s->n;

  vs_domain_sample_t *ds = &s->domains[s->n++];
  memset(ds, 0, sizeof(*ds));
  ds->entry = e;
  return ds;
}

void vs_core_untrack(vs_core_t *c, vs_sample_t *s) {
  vs_domain_sample_t *ds = &s->domains[--s->n];
  ds->entry->seen = c->generation - 1;
  vs_domain_stats_clear(&ds->st);
}

void vs_core_problem(vs_sample_t *s, vs_domain_sample_t *ds, const char *msg) {
  s->errors++;
  /* Only the first problem of a domain in a round is kept. */
  if (ds->problem)
    return;
  ds->problem = true;
  vs_problem_t *p = realloc(s->problems, (s->nproblems + 1) * sizeof(*p));
  if (!p)
    return;
  s->problems = p;
  p[s->nproblems].domain = strdup(ds->entry->name);
  p[s->nproblems].message = strdup(msg);
  p[s->nproblems].first = !ds->entry->had_problem;
  if (!p[s->nproblems].domain || !p[s->nproblems].message) {
    free(p[s->nproblems].domain);
    free(p[s->nproblems].message);
    return;
  }
  s->nproblems++;
}

void vs_core_unresponsive(vs_core_t *c, vs_sample_t *s, vs_domain_sample_t *ds,
                          const char *why) {
  if (ds->unresponsive)
    return;
  ds->unresponsive = true;
  vs_domain_stats_clear(&ds->st);
  s->unresponsive++;
  vs_domain_entry_t *e = ds->entry;
  if (e->unresponsive)
    return;
  e->unresponsive = true;
  vs_sink_note(&c->sink, VS_NOTE_FAILURE, e->host, e->plugin_instance, "gauge",
               "unresponsive",
               "domain %s does not answer (%s); its values are "
               "withheld until it does",
               e->name, why);
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
    unsigned host_cpus = c->conn ? vs_conn_host_cpus(c->conn) : 0;
    if (host_cpus == 0)
      return;
    pct = pct * nvcpu / host_cpus;
  }
  ds->have_cpu_percent = true;
  ds->cpu_percent = pct;
}

/* After the samplers: derived values, recoveries, problems, gone domains. */
static void finish_round(vs_core_t *c, vs_sample_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    vs_domain_sample_t *ds = &s->domains[i];
    vs_domain_entry_t *e = ds->entry;
    if (!ds->unresponsive) {
      vs_domain_stats_drop_regressions(&ds->st, &e->prev);
      compute_percent(c, ds);
      if (e->unresponsive) {
        e->unresponsive = false;
        vs_sink_note(&c->sink, VS_NOTE_OKAY, e->host, e->plugin_instance,
                     "gauge", "unresponsive", "domain %s answers again",
                     e->name);
      }
    }
    e->had_problem = ds->problem;
  }
  vs_domain_table_sweep(&c->table, c->generation, note_gone, s);
}

static void self_metrics(const vs_core_t *c, vs_sample_t *s) {
  vs_executor_stats_t st;
  vs_executor_stats(c->ex, &st);
  s->abandoned_now = st.abandoned;
  s->abandoned_total = st.abandoned_total;
  s->reconnects_total = c->reconnects;
  if (c->blockinfo) {
    vs_blockinfo_counters_t bc;
    vs_blockinfo_counters(c->blockinfo, &bc);
    s->abandoned_now += bc.abandoned_now;
    s->abandoned_total += bc.abandoned_total;
    s->blockinfo_timeouts_total = bc.timeouts_total;
  }
}

int vs_core_sample(vs_core_t *c, uint64_t deadline_ns, vs_sample_t *s,
                   vs_error_t *err) {
  uint64_t t0 = vs_now_ns();
  uint64_t budget = deadline_ns > t0 ? deadline_ns - t0 : 0;
  c->generation++;

  /* Connecting gets half the budget: a refused connection fails at once, a
   * frozen libvirtd must leave time to report it. */
  int r = ensure_connected(c, s, t0 + budget / 2, err);
  if (r == 0) {
    if (c->mode == VS_MODE_AUTO) {
      r = vs_sample_bulk(c, s, true, deadline_ns, err);
      if (r == -ENOTSUP) {
        c->mode = VS_MODE_PER_DOMAIN;
        r = vs_sample_perdomain(c, s, deadline_ns, err);
      } else if (r == 0) {
        c->mode = VS_MODE_BULK;
      }
    } else if (c->mode == VS_MODE_BULK) {
      r = vs_sample_bulk(c, s, false, deadline_ns, err);
    } else {
      r = vs_sample_perdomain(c, s, deadline_ns, err);
    }
    s->mode = c->mode == VS_MODE_AUTO ? VS_MODE_BULK : c->mode;
    /* The block-info thread starts once the mode is known (per-domain
     * sampling hands it the blocking virDomainGetBlockInfo). */
    if (r == 0 && !c->blockinfo && !c->blockinfo_failed &&
        vs_blockinfo_wanted(c->cfg, s->mode)) {
      vs_error_t berr = {0};
      if (vs_blockinfo_start(c->cfg, c->hostname, c->interval_ns, &c->sink,
                             &c->blockinfo, &berr) < 0) {
        c->blockinfo_failed = true;
        vs_sink_note(&c->sink, VS_NOTE_FAILURE, NULL, NULL, "gauge",
                     "blockinfo", "block-info thread not started: %s",
                     berr.msg);
      }
    }
    if (r == -ETIMEDOUT || r == -EBUSY) {
      /* libvirtd itself does not answer: keepalive will close the
       * connection; nothing is sampled meanwhile. */
      s->stalled = true;
      r = 0;
    }
  }
  /* A stalled round saw no domain: nothing is gone, nothing recovered. */
  if (r == 0 && !s->stalled)
    finish_round(c, s);
  self_metrics(c, s);
  s->duration_ns = vs_now_ns() - t0;
  return r;
}

void vs_core_sample_done(vs_core_t *c, vs_sample_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    vs_domain_entry_t *e = s->domains[i].entry;
    /* An unresponsive domain, or one whose call ran out of time, keeps its
     * last real reading as the reference. */
    if (s->domains[i].unresponsive || s->domains[i].st.groups == 0)
      continue;
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
