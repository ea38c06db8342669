#include "vs_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_eventloop.h"
#include "common/vs_executor.h"
#include "common/vs_time.h"
#include "vs_blockinfo.h"
#include "vs_calls.h"
#include "vs_connections.h"
#include "vs_control_probe.h"
#include "vs_domain_names.h"
#include "vs_domain_table.h"
#include "vs_lifecycle.h"
#include "vs_schedule.h"

/* How long shutdown waits for workers that are not stuck. */
#define SHUTDOWN_WAIT_NS (2 * VS_NS_PER_SEC)
/* Calls on the wire looked at once, at most. */
#define MAX_WIRE 16

struct vs_core {
  const vs_config_t *cfg; /* borrowed, immutable */
  char *hostname;         /* owned, immutable */
  vs_sink_t sink;         /* immutable */
  uint64_t interval_ns;
  const vs_virt_api_t *api;

  vs_executor_t *ex; /* runs every libvirt call */
  vs_conns_t *conns;
  vs_calls_t *calls;
  vs_plan_t plan;
  vs_stats_mode_t mode; /* resolved; VS_MODE_AUTO until the driver is known */
  bool no_block_stats_flags; /* per-domain: driver lacks BlockStatsFlags */
  vs_token_t *probe_busy;    /* a control probe is out */

  vs_domain_table_t table;
  uint64_t tick;    /* reads */
  uint64_t listing; /* tier-0 answers taken */
  bool all_out;     /* the tier-0 call is queued or sent */
  uint64_t abandoned_total;

  vs_blockinfo_t *blockinfo; /* NULL when off */
  bool blockinfo_failed;     /* it could not start: not retried */
};

/* What one read collects besides the sample itself. */
typedef struct {
  vs_sample_t *s;
  uint64_t deadline;
  unsigned answers; /* calls answered in this read */
  unsigned failed;  /* of these, calls that failed as a whole */
  bool silent;      /* libvirtd did not answer a probe */
  uint64_t next_probe;
  char call_error[VS_ERROR_MSG_MAX];
} round_t;

/* --- connections and events ----------------------------------------------- */

static const char *close_reason(vs_close_reason_t reason) {
  switch (reason) {
  case VS_CLOSE_ERROR:
    return "I/O error";
  case VS_CLOSE_EOF:
    return "libvirtd closed it";
  case VS_CLOSE_KEEPALIVE:
    return "keepalive timeout: libvirtd does not answer";
  default:
    return "closed by the client";
  }
}

/* Event loop thread: only immutable fields of c are read. */
static void on_lifecycle(void *ud, const vs_event_domain_t *d, int event,
                         int detail) {
  const vs_core_t *c = ud;
  vs_lifecycle_note(c->cfg, c->hostname, &c->sink, d, event, detail);
}

int vs_core_new(const vs_config_t *cfg, const char *hostname,
                uint64_t interval_ns, const vs_sink_t *sink,
                const vs_virt_api_t *api, vs_core_t **ret, vs_error_t *err) {
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
  c->api = api ? api : &vs_virt_api_libvirt;
  c->mode = cfg->mode;
  c->hostname = strdup(hostname ? hostname : "");
  c->probe_busy = vs_token_new();
  unsigned lanes = (unsigned)cfg->max_connections;
  if (lanes == 0)
    lanes = 1;
  /* Workers: one per lane (and the lane reserved for job-free calls), the
   * probe, and connection opening. */
  vs_executor_opts_t eo = {.name = "vs-sample",
                           .max_workers = lanes + 3,
                           .max_abandoned = (unsigned)cfg->max_abandoned};
  vs_conns_opts_t co = {
      .api = c->api,
      .opts = {.uri = cfg->uri,
               .read_only = true,
               .keepalive_interval = (int)cfg->keepalive_interval,
               .keepalive_count = (unsigned)cfg->keepalive_count},
      .max_lanes = lanes + 1, /* the last: job-free calls only */
      .max_retired = (unsigned)cfg->max_abandoned,
      .lifecycle = cfg->state_notifications ? on_lifecycle : NULL,
      .ud = c};
  if (!c->hostname || !c->probe_busy ||
      (r = vs_executor_new(&eo, &c->ex, err)) < 0 ||
      (co.ex = c->ex, r = vs_conns_new(&co, &c->conns, err)) < 0 ||
      (r = vs_calls_new(c->ex, lanes + 1, &c->calls, err)) < 0) {
    vs_core_free(c);
    return r < 0 ? r : vs_error_set(err, -ENOMEM, "out of memory");
  }
  vs_plan_init(&c->plan, cfg->groups, cfg->mode == VS_MODE_PER_DOMAIN,
               cfg->group_interval, interval_ns, lanes,
               (uint64_t)(cfg->stuck_threshold * 1e9));
  *ret = c;
  return 0;
}

void vs_core_free(vs_core_t *c) {
  if (!c)
    return;
  vs_blockinfo_stop(c->blockinfo);
  vs_calls_free(c->calls);
  vs_conns_free(c->conns, vs_now_ns() + SHUTDOWN_WAIT_NS);
  vs_executor_free(c->ex, SHUTDOWN_WAIT_NS);
  vs_domain_table_clear(&c->table);
  vs_token_unref(c->probe_busy);
  free(c->hostname);
  free(c);
  vs_eventloop_unref();
}

const char *vs_core_uri(const vs_core_t *c) { return vs_conns_uri(c->conns); }

/* --- domains ---------------------------------------------------------------
 */

/* Another tracked domain whose values would carry e's identifier, or NULL.
 * The configuration refuses formats without the name or the UUID and the
 * identifier fields are one-to-one up to a 64-bit hash of long names: this
 * is the net under that, never mixing two domains' values. */
static const vs_domain_entry_t *same_identifier(const vs_core_t *c,
                                                const vs_domain_entry_t *e) {
  for (size_t i = 0; i < c->table.n; i++) {
    const vs_domain_entry_t *f = c->table.entries[i];
    if (f != e && f->label && !f->collides &&
        vs_domain_label_same_id(f->label, e->label))
      return f;
  }
  return NULL;
}

/* Two domains never share an identifier: the one tracked later is left out
 * (reported once, when it starts to collide) until the other is gone. */
static void check_identifier(vs_core_t *c, round_t *rd, vs_domain_entry_t *e) {
  const vs_domain_entry_t *f = same_identifier(c, e);
  if (f && !e->collides) {
    char msg[VS_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg),
             "not reported: its identifier (host \"%s\", plugin instance "
             "\"%s\") is already domain \"%s\"'s",
             e->label->host, e->label->plugin_instance, f->label->name);
    vs_sample_add_problem(rd->s, e->label->name, msg, true);
  }
  e->collides = f != NULL;
}

/* The entry for a record, created or refreshed (a restart resets what was
 * known of the old run). NULL when the Domain filter leaves it out or on
 * ENOMEM. */
static vs_domain_entry_t *track(vs_core_t *c, round_t *rd,
                                const vs_record_t *rec) {
  const char *names[] = {rec->name};
  if (!vs_filter_selects(&c->cfg->domains, names, 1))
    return NULL;
  bool is_new;
  vs_domain_entry_t *e = vs_domain_table_get(&c->table, &rec->uuid, &is_new);
  if (!e)
    return NULL;
  if (is_new || e->id != rec->id || strcmp(e->label->name, rec->name) != 0) {
    char uuid[VS_UUID_STRING_LEN];
    vs_uuid_format(&rec->uuid, uuid);
    vs_domain_label_t *l =
        vs_domain_label_new(c->cfg, rec->name, uuid, c->hostname);
    if (!l)
      return NULL;
    vs_domain_label_unref(e->label);
    e->label = l;
    if (!is_new)
      vs_domain_entry_reset(e);
    e->id = rec->id;
    e->collides = false;
    check_identifier(c, rd, e);
  } else if (e->collides) {
    check_identifier(c, rd, e); /* the other one may be gone */
  }
  return e;
}

static void note_unresponsive(vs_core_t *c, vs_domain_entry_t *e,
                              const char *why) {
  if (e->unresponsive)
    return;
  e->unresponsive = true;
  vs_sink_note(&c->sink, VS_NOTE_FAILURE, e->label->host,
               e->label->plugin_instance, "gauge", "unresponsive",
               "domain %s does not answer (%s); its monitor-bound "
               "statistics are withheld until it does",
               e->label->name, why);
}

static void note_answers_again(vs_core_t *c, vs_domain_entry_t *e) {
  e->stuck = false;
  e->failed_since = 0;
  vs_token_unref(e->held);
  e->held = NULL;
  if (!e->unresponsive)
    return;
  e->unresponsive = false;
  vs_sink_note(&c->sink, VS_NOTE_OKAY, e->label->host,
               e->label->plugin_instance, "gauge", "unresponsive",
               "domain %s answers again", e->label->name);
}

static void on_gone(void *ud, const vs_domain_entry_t *e) {
  vs_sample_add_gone(ud, e->label ? e->label->name : "");
}

/* --- calls -------------------------------------------------------------- */

static unsigned tier_groups(const vs_core_t *c, unsigned mask) {
  unsigned g = 0;
  for (unsigned t = 0; t < c->plan.ntiers; t++)
    if (mask & (1u << t))
      g |= c->plan.tiers[t].groups;
  return g;
}

static vs_sampler_fn sampler(const vs_core_t *c) {
  return c->mode == VS_MODE_PER_DOMAIN ? vs_sampler_per_domain
                                       : vs_sampler_bulk;
}

static int uuid_key_cmp(const void *a, const void *b) {
  return vs_uuid_cmp(a, b);
}

/* A call of the tiers in mask for the n entries es[] (NULL: every running
 * domain, tier 0). Returns it or NULL (ENOMEM). */
static vs_call_t *new_call(vs_core_t *c, unsigned mask,
                           vs_domain_entry_t *const *es, size_t n) {
  vs_call_t *call = vs_call_new();
  if (!call)
    return NULL;
  call->run = sampler(c);
  call->tiers = mask;
  call->tick = c->tick;
  call->groups = tier_groups(c, mask);
  call->all = es == NULL;
  call->job_free = !(call->groups & VS_GROUPS_MONITOR) &&
                   (c->mode != VS_MODE_PER_DOMAIN || call->all);
  /* The state rides along in every bulk call: a domain that stops during
   * the call answers as shut off, and is recognised by it. */
  if (call->groups && c->mode != VS_MODE_PER_DOMAIN)
    call->groups |= VS_GROUP_STATE;
  bool per_domain = c->mode == VS_MODE_PER_DOMAIN;
  call->block_sizes = per_domain && !c->blockinfo;
  call->no_flags = c->no_block_stats_flags;
  bool want_nvcpu =
      (call->groups & VS_GROUP_CPU) && !(c->cfg->groups & VS_GROUP_VCPU);
  size_t cap = es ? n : c->table.n;
  call->uuids = calloc(cap ? cap : 1, sizeof(*call->uuids));
  call->need_nvcpu = calloc(cap ? cap : 1, sizeof(*call->need_nvcpu));
  if (per_domain && es) {
    call->devices = calloc(n ? n : 1, sizeof(*call->devices));
    call->devices_known = calloc(n ? n : 1, sizeof(*call->devices_known));
  }
  if (!call->uuids || !call->need_nvcpu ||
      (per_domain && es && (!call->devices || !call->devices_known))) {
    vs_call_free(call);
    return NULL;
  }
  for (size_t i = 0; es && i < n; i++) {
    const vs_domain_entry_t *e = es[i];
    call->uuids[call->n++] = e->uuid;
    if (call->devices && e->devices_known) {
      vs_error_t ignored;
      if (vs_domxml_devices_copy(&e->devices, &call->devices[i], &ignored) == 0)
        call->devices_known[i] = true;
    }
  }
  /* The vCPU count %CPU divides by, when the vcpu group is off: asked once
   * per domain start (the call's domains; all known ones for a call that
   * covers every domain). */
  size_t nknown = es ? n : c->table.n;
  for (size_t i = 0; want_nvcpu && i < nknown; i++) {
    const vs_domain_entry_t *e = es ? es[i] : c->table.entries[i];
    if (e->nvcpu_cached == 0)
      call->need_nvcpu[call->nneed++] = e->uuid;
  }
  qsort(call->need_nvcpu, call->nneed, sizeof(vs_uuid_t), uuid_key_cmp);
  if (per_domain && !es)
    call->groups = 0; /* the listing */
  return call;
}

/* Queue calls of the tiers in mask for es[n], in chunks over the lanes, and
 * mark them out. front: ahead of what is queued (domains asked again after
 * a stuck call). */
static void send_chunks(vs_core_t *c, unsigned mask, vs_domain_entry_t **es,
                        size_t n, bool front) {
  size_t chunk = vs_plan_chunk(&c->plan, n, c->plan.max_lanes);
  for (size_t at = 0; at < n; at += chunk) {
    size_t k = n - at < chunk ? n - at : chunk;
    vs_call_t *call = new_call(c, mask, es + at, k);
    if (!call)
      return; /* out of memory: they are due again next read */
    for (size_t i = 0; i < k; i++)
      es[at + i]->out |= mask;
    vs_calls_queue(c->calls, call, front);
  }
}

/* Queue the call for every running domain (tier 0, plus the tiers in mask),
 * ahead of the chunks: the job-free values and the list of domains come
 * first. */
static void send_all(vs_core_t *c, unsigned mask) {
  vs_call_t *call = new_call(c, mask, NULL, 0);
  if (!call)
    return;
  c->all_out = true;
  vs_calls_queue(c->calls, call, true);
}

/* The calls due in this read: the job-free tier (every domain, when its
 * last call answered; not when `more`) and each other tier's share of the
 * domains. With `more`, called again in the read after answers came: the
 * domains that became free (their earlier call answered late) or new
 * (listed just now) and are still due in this read. */
static void plan_calls(vs_core_t *c, bool more) {
  size_t n = c->table.n;
  bool all_call = !more && !c->all_out;
  if (n == 0) {
    if (all_call)
      send_all(c, 1u << VS_TIER_ALL);
    return;
  }
  vs_plan_candidate_t *cand = calloc(n, sizeof(*cand));
  size_t *pick = calloc(n, sizeof(*pick));
  unsigned *due = calloc(n, sizeof(*due));
  vs_domain_entry_t **es = calloc(n, sizeof(*es));
  if (!cand || !pick || !due || !es)
    goto out;
  const unsigned job_tiers = ~(1u << VS_TIER_ALL);
  for (unsigned t = 1; t < c->plan.ntiers; t++) {
    if (c->plan.tiers[t].groups == 0 && !c->plan.per_domain)
      continue;
    for (size_t i = 0; i < n; i++) {
      const vs_domain_entry_t *e = c->table.entries[i];
      /* At most one job-taking call per domain out at a time; a stuck
       * monitor is left alone until its call returned. */
      cand[i] = (vs_plan_candidate_t){.eligible = e->listed == c->listing &&
                                                  !(e->out & job_tiers) &&
                                                  !e->stuck && !e->collides,
                                      .sampled = e->sampled[t],
                                      .last_tick = e->last_tick[t]};
    }
    size_t m = vs_plan_pick(&c->plan, t, c->tick, cand, n, n, pick);
    for (size_t i = 0; i < m; i++)
      due[pick[i]] |= 1u << t;
  }
  if (all_call) {
    /* When one call answers everything comfortably, the job-free tier's
     * call carries the monitor tier's groups too: the cheapest way for a
     * small host. */
    size_t running = 0, due1 = 0;
    for (size_t i = 0; i < n; i++) {
      running += c->table.entries[i]->listed == c->listing &&
                 !c->table.entries[i]->collides;
      due1 += (due[i] >> VS_TIER_AUTO) & 1u;
    }
    unsigned mask = 1u << VS_TIER_ALL;
    if (running > 0 && due1 == running && vs_plan_one_call(&c->plan, running)) {
      mask |= 1u << VS_TIER_AUTO;
      for (size_t i = 0; i < n; i++)
        if (due[i] & (1u << VS_TIER_AUTO)) {
          due[i] &= ~(1u << VS_TIER_AUTO);
          c->table.entries[i]->out |= 1u << VS_TIER_AUTO;
        }
    }
    send_all(c, mask);
  }
  /* Domains due in the same tiers share calls. */
  for (size_t i = 0; i < n; i++) {
    if (!due[i])
      continue;
    unsigned mask = due[i];
    size_t k = 0;
    for (size_t j = i; j < n; j++)
      if (due[j] == mask) {
        es[k++] = c->table.entries[j];
        due[j] = 0;
      }
    send_chunks(c, mask, es, k, false);
  }
out:
  free(cand);
  free(pick);
  free(due);
  free(es);
}

/* How many lanes the queued work wants, and give them connections. Lanes
 * 0..max_lanes-1 send any call; lane max_lanes only job-free ones. */
static void kick(vs_core_t *c, uint64_t deadline) {
  size_t queued, job_free;
  vs_calls_queued_split(c->calls, &queued, &job_free);
  unsigned nlanes = c->plan.max_lanes;
  unsigned busy = vs_calls_busy(c->calls);
  unsigned want = busy + (unsigned)(queued < nlanes ? queued : nlanes);
  if (want > nlanes)
    want = nlanes;
  if (want == 0)
    return;
  vs_conns_want_lanes(c->conns, want, deadline);
  if (job_free > 0)
    vs_conns_want_lane(c->conns, nlanes, deadline);
  vs_conn_t *lanes[VS_LANES_MAX] = {0};
  for (unsigned i = 0; i <= nlanes && i < VS_LANES_MAX; i++)
    lanes[i] = vs_conns_lane(c->conns, i);
  vs_calls_kick(c->calls, lanes, nlanes + 1);
}

/* --- answers ------------------------------------------------------------- */

/* %CPU from the previous reading of the same domain. The reading time is
 * when libvirt answered, so a slow call does not inflate it. */
static void cpu_percent(const vs_core_t *c, vs_domain_entry_t *e,
                        const vs_domain_stats_t *st, uint64_t answered_ns,
                        vs_domain_result_t *res) {
  if (st->have_vcpu_current && st->vcpu_current)
    e->nvcpu_cached = st->vcpu_current;
  if (!vs_fields_has(&st->cpu, VS_CPU_TIME) ||
      !vs_fields_has(&e->prev.cpu, VS_CPU_TIME) || e->prev_cpu_ns == 0)
    return;
  unsigned nvcpu = e->nvcpu_cached;
  double pct = vs_cpu_percent(e->prev.cpu.v[VS_CPU_TIME], e->prev_cpu_ns,
                              st->cpu.v[VS_CPU_TIME], answered_ns, nvcpu);
  if (pct < 0)
    return;
  /* Compatibility: the bundled plugin reports a share of the whole host, so
   * thresholds written for it keep their meaning. */
  if (c->cfg->compat == VS_COMPAT_VIRT) {
    unsigned host_cpus = vs_conns_host_cpus(c->conns);
    if (host_cpus == 0)
      return;
    pct = pct * nvcpu / host_cpus;
  }
  res->have_cpu_percent = true;
  res->cpu_percent = pct;
}

/* One domain's record of an answered call into the read. */
static void take_record(vs_core_t *c, round_t *rd, const vs_call_t *call,
                        vs_record_t *rec) {
  vs_domain_entry_t *e = call->all
                             ? track(c, rd, rec)
                             : vs_domain_table_find(&c->table, &rec->uuid);
  if (!e || rec->gone)
    return;
  if (call->all)
    e->listed = c->listing;
  else if (e->id != rec->id)
    return; /* restarted since it was asked: the listing resets it */
  if (e->collides)
    return;
  if (rec->problem) {
    e->problem = true;
    vs_sample_add_problem(rd->s, e->label->name, rec->problem, !e->had_problem);
  }
  if (rec->devices_fetched) {
    vs_domxml_devices_clear(&e->devices);
    e->devices = rec->devices; /* moved */
    memset(&rec->devices, 0, sizeof(rec->devices));
    e->devices_known = true;
  }
  if (rec->nvcpu)
    e->nvcpu_cached = rec->nvcpu;
  vs_domain_stats_t *st = &rec->st;
  /* A domain that stopped while the call ran answers shut off, with
   * counters from another source: not reported. */
  if (st->have_state && st->state == VS_STATE_SHUTOFF)
    return;
  /* Counted from the read that asked: an answer that came a read late
   * must not push the domain's next turn back by a read. */
  for (unsigned t = 0; t < c->plan.ntiers; t++)
    if (call->tiers & (1u << t)) {
      e->sampled[t] = true;
      e->last_tick[t] = call->tick;
    }
  /* Each group from one tier only: one source per identifier, so values
   * of one identifier always come in time order. */
  unsigned groups = tier_groups(c, call->tiers);
  if (c->mode == VS_MODE_PER_DOMAIN && !call->all)
    groups |= VS_GROUP_STATE;
  st->groups &= groups & (c->cfg->groups | VS_GROUP_STATE);
  if (!(c->cfg->groups & VS_GROUP_STATE))
    st->groups &= ~VS_GROUP_STATE;
  /* Sizes come from the block-info thread when it runs. */
  for (size_t b = 0; c->blockinfo && b < st->nblock; b++)
    st->block[b].f.have &= ~((1u << VS_BLK_ALLOCATION) |
                             (1u << VS_BLK_CAPACITY) | (1u << VS_BLK_PHYSICAL));
  if (st->groups == 0)
    return;
  vs_domain_stats_drop_regressions(st, &e->prev);
  vs_domain_result_t tmp = {0};
  cpu_percent(c, e, st, call->answered_ns, &tmp);
  if (vs_domain_stats_merge(&e->prev, st) == 0 &&
      vs_fields_has(&st->cpu, VS_CPU_TIME))
    e->prev_cpu_ns = call->answered_ns;
  unsigned cadence = 1;
  for (unsigned t = 0; t < c->plan.ntiers; t++)
    if ((call->tiers & (1u << t)) && c->plan.tiers[t].cadence > cadence)
      cadence = c->plan.tiers[t].cadence;
  vs_domain_result_t *res = vs_sample_add_result(rd->s, e->label, st);
  if (!res)
    return;
  res->wall_ns = call->answered_wall_ns;
  res->interval_ns = cadence * c->interval_ns;
  res->have_cpu_percent = tmp.have_cpu_percent;
  res->cpu_percent = tmp.cpu_percent;
}

/* The domains of a call: its own list, or every running one for a call
 * that covers them all. Returns an allocated array (NULL on ENOMEM). */
static vs_uuid_t *call_domains(const vs_core_t *c, const vs_call_t *call,
                               size_t *n) {
  size_t cap = call->all ? c->table.n : call->n;
  vs_uuid_t *u = calloc(cap ? cap : 1, sizeof(*u));
  *n = 0;
  if (!u)
    return NULL;
  if (!call->all) {
    memcpy(u, call->uuids, call->n * sizeof(*u));
    *n = call->n;
    return u;
  }
  for (size_t i = 0; i < c->table.n; i++)
    if (c->table.entries[i]->listed == c->listing)
      u[(*n)++] = c->table.entries[i]->uuid;
  return u;
}

/* A call answered or was given up: its domains are free for the next call
 * of its tiers. */
static void release_domains(vs_core_t *c, const vs_call_t *call) {
  if (call->all) {
    c->all_out = false;
    for (size_t i = 0; i < c->table.n; i++)
      c->table.entries[i]->out &= ~call->tiers;
    return;
  }
  for (size_t i = 0; i < call->n; i++) {
    vs_domain_entry_t *e = vs_domain_table_find(&c->table, &call->uuids[i]);
    if (e)
      e->out &= ~call->tiers;
  }
}

/* The answer to the driver check: bulk, or per-domain sampling. */
static void decide_mode(vs_core_t *c, const vs_call_t *call) {
  if (c->mode != VS_MODE_AUTO || !call->enforce)
    return;
  bool per_domain = call->rc == -ENOTSUP;
  if (call->rc < 0 && !per_domain)
    return; /* no verdict: asked again next read */
  c->mode = per_domain ? VS_MODE_PER_DOMAIN : VS_MODE_BULK;
  vs_plan_init(&c->plan, c->cfg->groups, per_domain, c->cfg->group_interval,
               c->interval_ns, c->plan.max_lanes, c->plan.stuck_ns);
}

/* An answered call into the read; frees it. */
static void take_call(vs_core_t *c, round_t *rd, vs_call_t *call) {
  rd->answers++;
  decide_mode(c, call);
  vs_self_t *self = &rd->s->self;
  self->calls += call->rpcs;
  if (call->no_flags_seen)
    c->no_block_stats_flags = true;
  size_t n = call->all ? call->nrecs : call->n;
  vs_plan_note_call(&c->plan, call->tiers, n,
                    call->answered_ns - call->sent_ns);
  release_domains(c, call);
  self->errors += call->rpc_errors;
  if (call->rc < 0) {
    /* A refused driver check only says "per-domain sampling". */
    if (!(call->enforce && call->rc == -ENOTSUP)) {
      self->errors++;
      rd->failed++;
    }
    snprintf(rd->call_error, sizeof(rd->call_error), "%s", call->err.msg);
    vs_call_free(call);
    return;
  }
  if (call->all)
    c->listing++;
  for (size_t i = 0; i < call->nrecs; i++)
    take_record(c, rd, call, &call->recs[i]);
  if (call->all)
    vs_domain_table_sweep(&c->table, c->listing, on_gone, rd->s);
  vs_call_free(call);
}

/* Take every answer already there. */
static void take_ready(vs_core_t *c, round_t *rd) {
  vs_call_t *call;
  while (vs_calls_wait(c->calls, 0, &call) == 0)
    take_call(c, rd, call);
}

/* --- slow or stuck ------------------------------------------------------- */

/* The control probe of n domains; busy_ms[i] is UINT64_MAX when not known
 * and failed[i] tells a broken monitor. Returns 0 or a negative errno. */
static int probe(vs_core_t *c, round_t *rd, const vs_uuid_t *uuids, size_t n,
                 uint64_t *busy_ms, bool *failed) {
  vs_control_t *ctl = calloc(n ? n : 1, sizeof(*ctl));
  if (!ctl)
    return -ENOMEM;
  uint64_t until = vs_now_ns() + c->plan.stuck_ns / 2;
  if (until > rd->deadline)
    until = rd->deadline;
  vs_error_t err = {0};
  int r = vs_control_probe(c->ex, vs_conns_probe(c->conns), c->probe_busy,
                           uuids, n, until, ctl, &rd->s->self.calls, &err);
  for (size_t i = 0; r == 0 && i < n; i++) {
    busy_ms[i] = ctl[i].known ? ctl[i].occupied_ms : UINT64_MAX;
    failed[i] = ctl[i].known && ctl[i].failed;
  }
  free(ctl);
  if (r < 0)
    rd->silent = true; /* libvirtd itself does not answer: no verdict */
  return r;
}

/* A failed monitor is what a domain being destroyed shows while libvirtd
 * tears it down (seconds, until it leaves the listing): it is called
 * unresponsive only when it stays failed three intervals (at least 5 s). */
static bool failed_long(const vs_core_t *c, vs_domain_entry_t *e) {
  uint64_t now = vs_now_ns();
  if (!e->failed_since)
    e->failed_since = now;
  uint64_t grace = 3 * c->interval_ns;
  if (grace < 5 * VS_NS_PER_SEC)
    grace = 5 * VS_NS_PER_SEC;
  return now - e->failed_since >= grace;
}

/* Domains a block-info call is stuck on are judged like those a sampling
 * call is stuck on: that call holds the domain's job, so the sampler's
 * NOWAIT calls skip its monitor and would never find it stuck. */
static void adopt_blockinfo_stuck(vs_core_t *c) {
  if (!c->blockinfo)
    return;
  vs_blockinfo_stuck_t *st;
  size_t n = vs_blockinfo_stuck(c->blockinfo, &st);
  for (size_t i = 0; i < n; i++) {
    vs_domain_entry_t *e = vs_domain_table_find(&c->table, &st[i].uuid);
    if (e && !e->stuck && !e->collides) {
      e->stuck = true;
      e->held = st[i].token; /* moved */
    } else {
      vs_token_unref(st[i].token);
    }
  }
  free(st);
}

/* Verdicts for domains a call of ours got stuck on: unresponsive when the
 * monitor stays busy past the stuck threshold (or broke), answering again
 * once the stuck call returned and the monitor is free. */
static void judge_stuck(vs_core_t *c, round_t *rd) {
  adopt_blockinfo_stuck(c);
  size_t n = 0;
  for (size_t i = 0; i < c->table.n; i++)
    n += c->table.entries[i]->stuck;
  if (n == 0)
    return;
  vs_uuid_t *uuids = calloc(n, sizeof(*uuids));
  vs_domain_entry_t **es = calloc(n, sizeof(*es));
  uint64_t *busy = calloc(n, sizeof(*busy));
  bool *failed = calloc(n, sizeof(*failed));
  if (uuids && es && busy && failed) {
    size_t k = 0;
    for (size_t i = 0; i < c->table.n; i++)
      if (c->table.entries[i]->stuck) {
        es[k] = c->table.entries[i];
        uuids[k++] = c->table.entries[i]->uuid;
      }
    if (probe(c, rd, uuids, n, busy, failed) == 0)
      for (size_t i = 0; i < n; i++) {
        char why[128];
        if (failed[i]) {
          if (failed_long(c, es[i]))
            note_unresponsive(c, es[i], "its QEMU monitor failed");
        } else if (vs_plan_unresponsive(&c->plan, busy[i])) {
          snprintf(why, sizeof(why),
                   "its QEMU monitor has been busy for %.1f s",
                   (double)busy[i] / 1000.0);
          note_unresponsive(c, es[i], why);
        } else if (busy[i] == 0 && !vs_token_busy(es[i]->held)) {
          note_answers_again(c, es[i]);
        }
      }
  }
  free(uuids);
  free(es);
  free(busy);
  free(failed);
}

/* A call on lane is stuck on domain uuids[index] of its n domains: give
 * the call up, leave its connection to it, and ask the others again at
 * once. */
static void give_up(vs_core_t *c, const vs_wire_t *w, const vs_uuid_t *uuids,
                    size_t n, size_t index, uint64_t busy_ms) {
  const vs_call_t *call = w->call;
  unsigned mask = call->tiers & ~(1u << VS_TIER_ALL);
  bool all = call->all;
  release_domains(c, call);
  vs_domain_entry_t **again = calloc(n ? n : 1, sizeof(*again));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    vs_domain_entry_t *e = vs_domain_table_find(&c->table, &uuids[i]);
    if (!e)
      continue;
    if (i == index) {
      e->stuck = true;
      vs_token_unref(e->held);
      e->held = vs_token_ref(call->returned);
      if (busy_ms == UINT64_MAX - 1) { /* failed: judged by later reads */
        failed_long(c, e);
      } else if (vs_plan_unresponsive(&c->plan, busy_ms)) {
        char why[128];
        snprintf(why, sizeof(why), "its QEMU monitor has been busy for %.1f s",
                 (double)busy_ms / 1000.0);
        note_unresponsive(c, e, why);
      }
    } else if (again) {
      again[k++] = e;
    }
  }
  /* From here on the call is its worker's: not touched again. */
  vs_calls_abandon(c->calls, w->lane);
  vs_conns_retire(c->conns, w->lane);
  c->abandoned_total++;
  if (again && mask)
    send_chunks(c, mask, again, k, true);
  /* A call for every domain also carried the job-free groups and the
   * listing: asked again on their own. */
  if (all)
    send_all(c, 1u << VS_TIER_ALL);
  free(again);
}

/* Look at the calls on the wire: probe those late enough to tell, give up
 * the stuck ones. Returns when to look again (UINT64_MAX: nothing to look
 * at). */
static uint64_t check_wire(vs_core_t *c, round_t *rd, uint64_t now) {
  vs_wire_t w[MAX_WIRE];
  size_t nw = vs_calls_on_wire(c->calls, w, MAX_WIRE);
  uint64_t next = UINT64_MAX;
  vs_uuid_t *doms[MAX_WIRE] = {0};
  size_t ndoms[MAX_WIRE] = {0}, total = 0;
  for (size_t i = 0; i < nw; i++) {
    const vs_call_t *call = w[i].call;
    /* Job-free groups never wait on a monitor: such a call can only be
     * held up by libvirtd itself, which the probe would not answer. */
    if (!(call->groups & VS_GROUPS_MONITOR) && c->mode != VS_MODE_PER_DOMAIN)
      continue;
    if (call->groups == 0)
      continue; /* a listing */
    size_t n = call->all ? c->table.n : call->n;
    uint64_t at = vs_plan_check_at(
        &c->plan, w[i].sent_ns, vs_plan_expected_ns(&c->plan, call->tiers, n));
    if (at > now || rd->silent || now < rd->next_probe) {
      uint64_t when = at > rd->next_probe ? at : rd->next_probe;
      next = when < next ? when : next;
      continue;
    }
    doms[i] = call_domains(c, call, &ndoms[i]);
    total += ndoms[i];
  }
  if (total == 0) {
    for (size_t i = 0; i < nw; i++)
      free(doms[i]);
    return next;
  }
  vs_uuid_t *uuids = calloc(total, sizeof(*uuids));
  uint64_t *busy = calloc(total, sizeof(*busy));
  bool *failed = calloc(total, sizeof(*failed));
  if (uuids && busy && failed) {
    size_t k = 0;
    for (size_t i = 0; i < nw; i++)
      for (size_t j = 0; j < ndoms[i]; j++)
        uuids[k++] = doms[i][j];
    if (probe(c, rd, uuids, total, busy, failed) == 0) {
      size_t at = 0;
      for (size_t i = 0; i < nw; i++) {
        size_t cn = ndoms[i];
        for (size_t j = 0; j < cn; j++)
          if (failed[at + j])
            busy[at + j] = UINT64_MAX - 1; /* broken: stuck for sure */
        long s = cn ? vs_plan_stuck_on(&c->plan, busy + at, cn) : -1;
        if (s >= 0)
          give_up(c, &w[i], doms[i], cn, (size_t)s, busy[at + (size_t)s]);
        at += cn;
      }
    }
  }
  for (size_t i = 0; i < nw; i++)
    free(doms[i]);
  free(uuids);
  free(busy);
  free(failed);
  /* Slow, not stuck (yet): look again when a stuck monitor would have
   * grown by half the soft threshold. */
  rd->next_probe = vs_now_ns() + vs_plan_soft_ns(c->plan.stuck_ns) / 2;
  return rd->next_probe < next ? rd->next_probe : next;
}

/* --- the read ------------------------------------------------------------ */

/* A connection was lost: calls on its wire die with it, queued ones wait
 * for the new connections. */
static void connection_lost(vs_core_t *c) {
  vs_wire_t w[MAX_WIRE];
  size_t nw = vs_calls_on_wire(c->calls, w, MAX_WIRE);
  for (size_t i = 0; i < nw; i++) {
    release_domains(c, w[i].call);
    vs_calls_abandon(c->calls, w[i].lane);
  }
  /* The driver behind the URI may differ after a reconnect. */
  c->mode = c->cfg->mode;
  c->no_block_stats_flags = false;
}

/* In mode auto, the first call for every domain finds out whether the
 * driver answers bulk statistics: the job-free groups, enforced (libvirt's
 * test driver, for one, answers only the state). Its answer decides the
 * mode (take_call). */
static void check_driver(vs_core_t *c) {
  if (c->all_out)
    return; /* the check (or an earlier call) is still out */
  vs_call_t *call = new_call(c, 1u << VS_TIER_ALL, NULL, 0);
  if (!call)
    return;
  call->enforce = true;
  c->all_out = true;
  vs_calls_queue(c->calls, call, true);
}

static int age_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The end of a read: every running domain's state, the figures, and the
 * plan for the next reads. */
static void finish(vs_core_t *c, round_t *rd, uint64_t t0) {
  vs_sample_t *s = rd->s;
  vs_self_t *self = &s->self;
  size_t n = 0;
  for (size_t i = 0; i < c->table.n; i++)
    n += c->table.entries[i]->listed == c->listing;
  s->status = calloc(n ? n : 1, sizeof(*s->status));
  uint64_t wall = vs_wall_ns();
  uint64_t *ages = calloc(s->nresults ? s->nresults : 1, sizeof(*ages));
  for (size_t i = 0; ages && i < s->nresults; i++)
    ages[i] = wall > s->results[i].wall_ns ? wall - s->results[i].wall_ns : 0;
  if (ages && s->nresults) {
    qsort(ages, s->nresults, sizeof(*ages), age_cmp);
    self->age_p50_ns = ages[s->nresults / 2];
    self->age_max_ns = ages[s->nresults - 1];
  }
  free(ages);
  for (size_t i = 0; i < c->table.n; i++) {
    vs_domain_entry_t *e = c->table.entries[i];
    bool sampled = false;
    for (unsigned t = 0; t < c->plan.ntiers; t++)
      sampled = sampled || (e->sampled[t] && e->last_tick[t] == c->tick);
    e->had_problem = e->problem;
    e->problem = false;
    if (e->listed != c->listing || e->collides)
      continue;
    if (s->status)
      s->status[s->nstatus++] =
          (vs_domain_status_t){.label = vs_domain_label_ref(e->label),
                               .unresponsive = e->unresponsive};
    self->unresponsive += e->unresponsive;
    if (sampled)
      self->sampled++;
    else if (e->out)
      self->late++;
    else
      self->skipped++;
  }
  self->domains = (unsigned)n;
  self->in_flight =
      (unsigned)vs_calls_queued(c->calls) + vs_calls_busy(c->calls);
  unsigned lanes = 0;
  for (unsigned i = 0; i <= c->plan.max_lanes; i++)
    lanes += vs_conns_lane(c->conns, i) != NULL;
  self->lanes = lanes;
  if (vs_plan_adapt(&c->plan, n, c->plan.max_lanes)) {
    const vs_plan_t *p = &c->plan;
    vs_plan_describe(p, "a full round",
                     "job-free groups every interval, monitor-bound groups",
                     s->plan, sizeof(s->plan));
  }
  self->cadence = c->plan.tiers[VS_TIER_AUTO].cadence;
  self->round_free_ns = c->plan.tiers[VS_TIER_ALL].call_ns;
  self->round_monitor_ns = c->plan.round_ns;
  vs_executor_stats_t es;
  vs_executor_stats(c->ex, &es);
  self->abandoned_now = es.abandoned;
  self->abandoned_total = c->abandoned_total;
  self->reconnects_total = vs_conns_reconnects(c->conns);
  if (c->blockinfo) {
    vs_blockinfo_counters_t bc;
    vs_blockinfo_counters(c->blockinfo, &bc);
    self->abandoned_now += bc.abandoned_now;
    self->abandoned_total += bc.abandoned_total;
    self->blockinfo_timeouts_total = bc.timeouts_total;
    vs_blockinfo_take(c->blockinfo, s);
  }
  s->mode =
      c->mode == VS_MODE_PER_DOMAIN ? VS_SAMPLE_PER_DOMAIN : VS_SAMPLE_BULK;
  /* Nothing answered during the whole read while a call waited since
   * before it: libvirtd does not answer. */
  vs_wire_t w[MAX_WIRE];
  size_t nw = vs_calls_on_wire(c->calls, w, MAX_WIRE);
  bool waited = rd->silent;
  for (size_t i = 0; i < nw; i++)
    waited = waited || w[i].sent_ns < t0;
  s->stalled = rd->answers == 0 && self->in_flight > 0 && waited;
  if (rd->answers > 0 && rd->answers == rd->failed)
    snprintf(s->failure, sizeof(s->failure), "%s", rd->call_error);
  self->duration_ns = vs_now_ns() - t0;
}

static void start_blockinfo(vs_core_t *c) {
  if (c->blockinfo || c->blockinfo_failed ||
      !vs_blockinfo_wanted(c->cfg, c->mode))
    return;
  vs_error_t berr = {0};
  if (vs_blockinfo_start(c->cfg, c->hostname, c->interval_ns, &c->sink, c->api,
                         &c->blockinfo, &berr) < 0) {
    c->blockinfo_failed = true;
    vs_sink_note(&c->sink, VS_NOTE_FAILURE, NULL, NULL, "gauge", "blockinfo",
                 "block-info thread not started: %s", berr.msg);
  }
}

/* After answers were taken: the calls they make due. */
static void replan(vs_core_t *c, vs_stats_mode_t *mode) {
  if (c->mode != *mode) {
    /* The driver check answered: sample the way it said. The check was
     * this read's call for every domain, so below only the other tiers
     * are asked (a second one would send the same values twice). */
    *mode = c->mode;
    start_blockinfo(c);
  }
  /* Domains just listed, and domains whose earlier call answered only now,
   * are asked in this read still when due. */
  if (c->mode != VS_MODE_AUTO)
    plan_calls(c, true);
}

int vs_core_sample(vs_core_t *c, uint64_t deadline_ns, vs_sample_t *s,
                   vs_error_t *err) {
  uint64_t t0 = vs_now_ns();
  uint64_t budget = deadline_ns > t0 ? deadline_ns - t0 : 0;
  round_t rd = {.s = s, .deadline = deadline_ns};
  c->tick++;

  /* Connecting gets half the budget: a refused connection fails at once, a
   * frozen libvirtd must leave time to report it. */
  bool opened, lost;
  vs_close_reason_t why = VS_CLOSE_ERROR;
  uint64_t reconnects = vs_conns_reconnects(c->conns);
  int r = vs_conns_ensure(c->conns, t0 + budget / 2, &opened, &lost, &why, err);
  if (lost) {
    vs_sink_note(&c->sink, VS_NOTE_FAILURE, NULL, NULL, "gauge", "connection",
                 "connection to %s lost (%s)",
                 c->cfg->uri ? c->cfg->uri : "libvirt", close_reason(why));
    connection_lost(c);
  }
  if (r < 0) {
    finish(c, &rd, t0);
    return r;
  }
  s->connected = opened;
  if (vs_conns_reconnects(c->conns) != reconnects)
    vs_sink_note(&c->sink, VS_NOTE_OKAY, NULL, NULL, "gauge", "connection",
                 "connection to %s restored", vs_core_uri(c));
  take_ready(c, &rd);
  if (c->mode == VS_MODE_AUTO) {
    check_driver(c);
  } else {
    start_blockinfo(c);
    judge_stuck(c, &rd);
    plan_calls(c, false);
  }
  vs_stats_mode_t mode = c->mode;
  for (;;) {
    kick(c, deadline_ns);
    uint64_t now = vs_now_ns();
    if (now >= deadline_ns)
      break;
    if (vs_calls_queued(c->calls) == 0 && vs_calls_busy(c->calls) == 0) {
      /* Everything asked has answered; an answer posted just now may
       * still wait to be taken (and ask for more). */
      size_t before = rd.answers;
      take_ready(c, &rd);
      if (rd.answers == before)
        break;
      replan(c, &mode);
      continue;
    }
    uint64_t next = check_wire(c, &rd, now);
    /* A call just handed to a lane is not on the wire yet: look again
     * soon rather than at the deadline. */
    uint64_t soon = now + vs_plan_soft_ns(c->plan.stuck_ns) / 2;
    if (next > soon)
      next = soon;
    uint64_t until = next < deadline_ns ? next : deadline_ns;
    vs_call_t *call;
    if (vs_calls_wait(c->calls, until, &call) == 0) {
      take_call(c, &rd, call);
      take_ready(c, &rd);
      replan(c, &mode);
    }
  }
  finish(c, &rd, t0);
  if (s->stalled)
    vs_error_set(err, -ETIMEDOUT, "no call answered within %.2f s (%u waiting)",
                 (double)budget / VS_NS_PER_SEC, s->self.in_flight);
  return 0;
}
