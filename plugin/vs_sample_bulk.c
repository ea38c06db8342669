/* virtscale - bulk sampling: one virConnectGetAllDomainStats call answers
 * for every running domain. When that call does not answer in time (a QEMU
 * froze under it), the round goes on carefully: list the domains and ask
 * each for its monitor state with the job-free virDomainGetControlInfo, then
 * sample again on a connection without stuck calls (see careful_round). */
#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_time.h"
#include "vs_core_internal.h"
#include "vs_probe.h"

/* --- the stats call, as a job ------------------------------------------- */

typedef struct {
  vs_conn_t *conn; /* reference */
  unsigned stats, flags;
  unsigned char (*known)[VIR_UUID_BUFLEN]; /* sorted: vCPU count known */
  size_t nknown;
  bool want_nvcpu;
  /* results */
  virDomainStatsRecordPtr *recs;
  int n;
  unsigned *nvcpu; /* per record, 0: not fetched */
  unsigned calls, errors;
  int err_code;
  char err_msg[256];
  uint64_t answered_ns;
} stats_job_t;

static int uuid_cmp(const void *a, const void *b) {
  return memcmp(a, b, VIR_UUID_BUFLEN);
}

static void stats_fn(void *arg) {
  stats_job_t *j = arg;
  virConnectPtr conn = vs_conn_virt(j->conn);
  j->calls++;
  j->n = virConnectGetAllDomainStats(conn, j->stats, &j->recs, j->flags);
  j->answered_ns = vs_now_ns();
  if (j->n < 0) {
    virErrorPtr e = virGetLastError();
    j->err_code = e ? e->code : VIR_ERR_INTERNAL_ERROR;
    snprintf(j->err_msg, sizeof(j->err_msg), "%s", virGetLastErrorMessage());
    j->errors++;
  } else if (j->want_nvcpu && j->n > 0 &&
             (j->nvcpu = calloc((size_t)j->n, sizeof(*j->nvcpu)))) {
    /* The vCPU count %CPU divides by, when the vcpu group is off: once per
     * domain start (the caller passes the domains it knows). */
    for (int i = 0; i < j->n; i++) {
      unsigned char uuid[VIR_UUID_BUFLEN];
      virDomainInfo info;
      if (virDomainGetUUID(j->recs[i]->dom, uuid) < 0 ||
          bsearch(uuid, j->known, j->nknown, sizeof(*j->known), uuid_cmp))
        continue;
      j->calls++;
      if (virDomainGetInfo(j->recs[i]->dom, &info) == 0)
        j->nvcpu[i] = info.nrVirtCpu;
      else
        j->errors++;
    }
  }
  vs_conn_call_end(j->conn);
}

static void stats_release(void *arg) {
  stats_job_t *j = arg;
  if (j->recs)
    virDomainStatsRecordListFree(j->recs);
  free(j->known);
  free(j->nvcpu);
  vs_conn_unref(j->conn);
  free(j);
}

/* Domains whose vCPU count the table already has, sorted by UUID. */
static int known_nvcpu(const vs_core_t *c, stats_job_t *j) {
  if (!(c->cfg->groups & VS_GROUP_CPU) || (c->cfg->groups & VS_GROUP_VCPU))
    return 0;
  j->want_nvcpu = true;
  j->known = calloc(c->table.n ? c->table.n : 1, sizeof(*j->known));
  if (!j->known)
    return -ENOMEM;
  /* The table is sorted by UUID already. */
  for (size_t i = 0; i < c->table.n; i++)
    if (c->table.entries[i]->nvcpu_cached)
      memcpy(j->known[j->nknown++], c->table.entries[i]->uuid, VIR_UUID_BUFLEN);
  return 0;
}

/* Turn the records of a finished job into tracked, parsed domains. */
static int take_records(vs_core_t *c, vs_sample_t *s, stats_job_t *j) {
  s->calls += j->calls;
  s->errors += j->errors;
  for (int i = 0; i < j->n; i++) {
    int terr;
    vs_domain_sample_t *ds = vs_core_track(c, s, j->recs[i]->dom, &terr);
    if (!ds) {
      if (terr < 0)
        return terr;
      continue;
    }
    if (ds->unresponsive)
      continue;
    ds->sampled_ns = j->answered_ns;
    vs_error_t perr = {0};
    if (vs_domain_stats_parse(j->recs[i]->params, j->recs[i]->nparams, &ds->st,
                              &perr) < 0) {
      vs_core_problem(s, ds, perr.msg);
      if (perr.code == -ENOMEM)
        return -ENOMEM;
      continue;
    }
    /* A domain that stopped while the call ran comes back shut off, with
     * counters from another source: not reported. */
    if (ds->st.have_state && ds->st.state == VIR_DOMAIN_SHUTOFF) {
      vs_core_untrack(c, s);
      continue;
    }
    if (j->nvcpu && j->nvcpu[i])
      ds->entry->nvcpu_cached = j->nvcpu[i];
    /* Sizes come from the block-info thread when it runs: one source per
     * identifier. */
    for (size_t b = 0; c->blockinfo && b < ds->st.nblock; b++)
      ds->st.block[b].f.have &=
          ~((1u << VS_BLK_ALLOCATION) | (1u << VS_BLK_CAPACITY) |
            (1u << VS_BLK_PHYSICAL));
  }
  return 0;
}

/* A finished stats job into the round. Returns 0, -ENOTSUP (probe
 * refused), -EIO (libvirt error) or -ENOMEM. Releases j. */
static int collect_stats(vs_core_t *c, vs_sample_t *s, stats_job_t *j,
                         bool probe, vs_error_t *err) {
  int r;
  if (j->n < 0) {
    s->calls += j->calls;
    s->errors += j->errors;
    r = probe && vs_core_code_is_unsupported(j->err_code)
            ? vs_error_set(err, -ENOTSUP,
                           "bulk statistics not supported by the driver: %s",
                           j->err_msg)
            : vs_error_set(err, -EIO, "statistics call failed: %s", j->err_msg);
  } else {
    r = take_records(c, s, j);
    if (r < 0)
      vs_error_set(err, r, "out of memory");
  }
  stats_release(j);
  return r;
}

/* Give up a stats job that has not answered. */
static int abandon_stats(vs_sample_t *s, vs_job_t *job, vs_error_t *err) {
  vs_job_abandon(job);
  s->calls++;
  s->errors++;
  return vs_error_set(err, -ETIMEDOUT,
                      "statistics call did not answer in time");
}

/* Submit a stats job; *ret_job to wait on. Releases j on failure. */
static int submit_stats(vs_core_t *c, stats_job_t *j, vs_job_t **ret_job,
                        vs_error_t *err) {
  vs_conn_call_begin(j->conn);
  int r = vs_executor_submit(c->ex, stats_fn, stats_release, j, ret_job);
  if (r < 0) {
    vs_conn_call_end(j->conn);
    stats_release(j);
    return vs_error_set(err, r, "cannot submit the statistics call");
  }
  return 0;
}

/* Run a stats job until deadline: collect_stats() or -ETIMEDOUT/-EBUSY. */
static int run_stats(vs_core_t *c, vs_sample_t *s, stats_job_t *j, bool probe,
                     uint64_t deadline_ns, vs_error_t *err) {
  vs_job_t *job;
  int r = submit_stats(c, j, &job, err);
  if (r < 0)
    return r;
  r = vs_job_wait(job, deadline_ns);
  if (r < 0)
    return abandon_stats(s, job, err);
  vs_job_free(job);
  return collect_stats(c, s, j, probe, err);
}

static stats_job_t *new_stats_job(vs_core_t *c, bool probe) {
  stats_job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return NULL;
  j->conn = vs_conn_ref(c->conn);
  /* The state group is always asked for (it is the cheapest): it is how a
   * domain that stopped during the call is recognised. */
  j->stats = vs_groups_to_virt(c->cfg->groups | VS_GROUP_STATE);
  /* NOWAIT: a domain whose job lock is held (a migration, a call stuck in
   * its monitor) answers with its job-free fields instead of waiting. */
  j->flags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
  /* Probing: drivers that cannot produce a group (test:///) return empty
   * records unless told to enforce, and then fail. */
  if (probe)
    j->flags |= VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS;
  if (known_nvcpu(c, j) < 0) {
    stats_release(j);
    return NULL;
  }
  return j;
}

/* Keep the usual duration of a bulk call (moving average). */
static void note_bulk_time(vs_core_t *c, uint64_t took) {
  c->bulk_ns = c->bulk_ns ? (3 * c->bulk_ns + took) / 4 : took;
}

/* Wait for a slow bulk call until the deadline; give it up then. */
static int finish_pending(vs_core_t *c, vs_sample_t *s, vs_job_t *pending,
                          stats_job_t *pending_j, uint64_t budget_ns,
                          uint64_t deadline_ns, vs_error_t *err) {
  if (vs_job_wait(pending, deadline_ns) < 0)
    return abandon_stats(s, pending, err);
  vs_job_free(pending);
  s->careful = false;
  note_bulk_time(c, vs_now_ns() - (deadline_ns - budget_ns));
  return collect_stats(c, s, pending_j, false, err);
}

/* Domains of a probed listing: tracked in the round; those whose monitor
 * is stuck for good (>= limit) are declared unresponsive (their records are
 * dropped from the round). Returns how many domains look stuck right now
 * (occupied >= soft_ns), or -ENOMEM. */
static int classify(vs_core_t *c, vs_sample_t *s, const vs_listing_t *l,
                    uint64_t limit_ns, uint64_t soft_ns) {
  int stuck = 0;
  for (int i = 0; i < l->n; i++) {
    int terr;
    vs_domain_sample_t *ds = vs_core_track(c, s, l->doms[i], &terr);
    if (!ds) {
      if (terr < 0)
        return terr;
      continue;
    }
    char why[128];
    if (vs_listing_verdict(l, i, soft_ns, why, sizeof(why)))
      stuck++;
    const char *verdict = vs_listing_verdict(l, i, limit_ns, why, sizeof(why));
    if (verdict)
      vs_core_unresponsive(c, s, ds, verdict);
  }
  return stuck;
}

/* The careful round: list the domains and probe their monitors (job-free).
 * If the bulk call (pending, may be NULL) is stuck on a monitor, or calls of
 * earlier rounds are, sample again on a connection without stuck calls: the
 * stuck call holds its domain's job, so NOWAIT passes that domain by; the
 * unresponsive domains' records are dropped. A bulk call that is merely slow
 * is waited for instead. */
static int careful_round(vs_core_t *c, vs_sample_t *s, vs_job_t *pending,
                         stats_job_t *pending_j, uint64_t budget_ns,
                         uint64_t deadline_ns, vs_error_t *err) {
  s->careful = true;
  uint64_t limit = vs_core_unresponsive_after(c, budget_ns);
  /* A healthy monitor answers a bulk call's commands in milliseconds: one
   * busy for half the usual whole call is what the call is stuck on. */
  uint64_t soft =
      c->bulk_ns / 2 > 50 * VS_NS_PER_MS ? c->bulk_ns / 2 : 50 * VS_NS_PER_MS;
  soft = soft < limit ? soft : limit;
  for (int look = 0;; look++) {
    vs_listing_t *l;
    int r = vs_probe_list(c, s, true, vs_part_of_remaining(deadline_ns, 1, 2),
                          &l, err);
    if (r < 0) {
      /* No verdict: the bulk call may still just be slow. */
      if (!pending)
        return r;
      return finish_pending(c, s, pending, pending_j, budget_ns, deadline_ns,
                            err);
    }
    int stuck = classify(c, s, l, limit, soft);
    vs_listing_free(l);
    if (stuck < 0) {
      if (pending)
        abandon_stats(s, pending, err);
      return vs_error_set(err, stuck, "out of memory");
    }
    if (!pending || stuck > 0 || s->unresponsive > 0)
      break;
    /* No monitor stuck (yet): the call may be slow, or only just have
     * reached a frozen QEMU. Wait half the time left, then look again. */
    if (look == 1)
      return finish_pending(c, s, pending, pending_j, budget_ns, deadline_ns,
                            err);
    if (vs_job_wait(pending, vs_part_of_remaining(deadline_ns, 1, 2)) == 0)
      return finish_pending(c, s, pending, pending_j, budget_ns, deadline_ns,
                            err);
  }
  int r;
  if (pending)
    /* Stuck: give the call up. */
    abandon_stats(s, pending, err);
  if (vs_conn_inflight(c->conn) > 0) {
    /* Leave the connection to its stuck call (this round's or an earlier
     * one's): another call on it may never be sent. Only now that libvirtd
     * answered the probe: while libvirtd itself does not answer, the old
     * connection stays, and its keepalive is what notices. */
    r = vs_core_replace_conn(c, s, vs_part_of_remaining(deadline_ns, 1, 2),
                             err);
    if (r < 0)
      return r;
  }
  stats_job_t *j = new_stats_job(c, false);
  if (!j)
    return vs_error_set(err, -ENOMEM, "out of memory");
  r = run_stats(c, s, j, false, deadline_ns, err);
  /* Another QEMU froze under this call too: the others were listed and are
   * reported next round; no domain is blamed without evidence. */
  return r == -ETIMEDOUT || r == -EBUSY ? 0 : r;
}

/* Whether calls of earlier rounds are still stuck or a domain is known
 * unresponsive: then every round starts with the control probe. */
static bool suspect(const vs_core_t *c) {
  if (c->nretired > 0 || vs_conn_inflight(c->conn) > 0)
    return true;
  for (size_t i = 0; i < c->table.n; i++)
    if (c->table.entries[i]->unresponsive)
      return true;
  return false;
}

int vs_sample_bulk(vs_core_t *c, vs_sample_t *s, bool probe,
                   uint64_t deadline_ns, vs_error_t *err) {
  uint64_t t0 = vs_now_ns();
  uint64_t budget = deadline_ns > t0 ? deadline_ns - t0 : 0;
  if (!probe && suspect(c))
    return careful_round(c, s, NULL, NULL, budget, deadline_ns, err);

  stats_job_t *j = new_stats_job(c, probe);
  if (!j)
    return vs_error_set(err, -ENOMEM, "out of memory");
  vs_job_t *job;
  int r = submit_stats(c, j, &job, err);
  if (r < 0)
    return r;
  /* Look for a stuck monitor once the call takes twice its usual time (at
   * most half the budget, at least 15 %); the rest is for sampling around
   * a stuck domain. */
  uint64_t look = 2 * c->bulk_ns;
  if (look > budget / 2 || c->bulk_ns == 0)
    look = budget / 2;
  if (look < budget * 15 / 100)
    look = budget * 15 / 100;
  if (vs_job_wait(job, t0 + look) < 0)
    return careful_round(c, s, job, j, budget, deadline_ns, err);
  vs_job_free(job);
  note_bulk_time(c, vs_now_ns() - t0);
  return collect_stats(c, s, j, probe, err);
}
