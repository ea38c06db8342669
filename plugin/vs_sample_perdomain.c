/* virtscale - per-domain sampling, for drivers without bulk statistics:
 * one listing call, then a few calls per domain and device, each domain's
 * calls as one timed job, so a domain that does not answer costs at most its
 * share of the round and is skipped until its call returns. Produces the
 * same vs_domain_stats_t fields (and so the same identifiers) as bulk
 * sampling; perf events are bulk-only. */
#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_time.h"
#include "common/vs_tparam.h"
#include "vs_core_internal.h"
#include "vs_domxml.h"
#include "vs_probe.h"

/* virDomainBlockStatsFlags field names -> block fields. */
static const char *const block_param_names[VS_BLK__MAX] = {
    [VS_BLK_RD_REQS] = VIR_DOMAIN_BLOCK_STATS_READ_REQ,
    [VS_BLK_RD_BYTES] = VIR_DOMAIN_BLOCK_STATS_READ_BYTES,
    [VS_BLK_RD_TIMES] = VIR_DOMAIN_BLOCK_STATS_READ_TOTAL_TIMES,
    [VS_BLK_WR_REQS] = VIR_DOMAIN_BLOCK_STATS_WRITE_REQ,
    [VS_BLK_WR_BYTES] = VIR_DOMAIN_BLOCK_STATS_WRITE_BYTES,
    [VS_BLK_WR_TIMES] = VIR_DOMAIN_BLOCK_STATS_WRITE_TOTAL_TIMES,
    [VS_BLK_FL_REQS] = VIR_DOMAIN_BLOCK_STATS_FLUSH_REQ,
    [VS_BLK_FL_TIMES] = VIR_DOMAIN_BLOCK_STATS_FLUSH_TOTAL_TIMES,
};

/* virDomainMemoryStats tags -> balloon fields (-1: not used). */
static int balloon_field_of_tag(int tag) {
  switch (tag) {
  case VIR_DOMAIN_MEMORY_STAT_SWAP_IN:
    return VS_BAL_SWAP_IN;
  case VIR_DOMAIN_MEMORY_STAT_SWAP_OUT:
    return VS_BAL_SWAP_OUT;
  case VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT:
    return VS_BAL_MAJOR_FAULT;
  case VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT:
    return VS_BAL_MINOR_FAULT;
  case VIR_DOMAIN_MEMORY_STAT_UNUSED:
    return VS_BAL_UNUSED;
  case VIR_DOMAIN_MEMORY_STAT_AVAILABLE:
    return VS_BAL_AVAILABLE;
  case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON:
    return VS_BAL_CURRENT;
  case VIR_DOMAIN_MEMORY_STAT_RSS:
    return VS_BAL_RSS;
  case VIR_DOMAIN_MEMORY_STAT_USABLE:
    return VS_BAL_USABLE;
  case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE:
    return VS_BAL_LAST_UPDATE;
  case VIR_DOMAIN_MEMORY_STAT_DISK_CACHES:
    return VS_BAL_DISK_CACHES;
  case VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC:
    return VS_BAL_HUGETLB_PGALLOC;
  case VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL:
    return VS_BAL_HUGETLB_PGFAIL;
  default:
    return -1;
  }
}

/* One domain's calls: everything the worker touches is in here. */
typedef struct {
  /* Looked up by UUID on this job's own connection: the listing comes from
   * the probe connection, and a domain's calls go to its connection. */
  unsigned char uuid[VIR_UUID_BUFLEN];
  virDomainPtr dom;        /* reference, NULL until looked up */
  vs_conn_t *conn;         /* reference: counts the call in flight */
  vs_token_t *outstanding; /* reference: busy until the calls returned */
  unsigned groups;
  bool block_sizes;            /* virDomainGetBlockInfo here (no block-info
                                  thread) */
  bool no_flags;               /* in/out: driver lacks BlockStatsFlags */
  bool want_nvcpu;             /* cpu without vcpu, count unknown */
  vs_domxml_devices_t devices; /* in: known devices (copy); out: fetched */
  bool devices_known, devices_fetched;
  /* results */
  vs_domain_stats_t st;
  unsigned nvcpu;
  bool gone; /* the domain stopped after it was listed */
  char problem[VS_ERROR_MSG_MAX];
  unsigned calls, errors;
  uint64_t sampled_ns;
} pd_job_t;

/* A domain that stopped after it was listed: its calls fail with these,
 * and it simply drops out of the next round. */
static bool domain_went_away(void) {
  virErrorPtr e = virGetLastError();
  return e &&
         (e->code == VIR_ERR_NO_DOMAIN || e->code == VIR_ERR_OPERATION_INVALID);
}

/* Count one call; on failure note the first problem (with libvirt's message,
 * which is per thread: read here, on the worker). */
static bool call_ok(pd_job_t *j, int rc, const char *what) {
  j->calls++;
  if (rc >= 0)
    return true;
  j->errors++;
  if (domain_went_away())
    j->gone = true;
  else if (!j->problem[0])
    snprintf(j->problem, sizeof(j->problem), "%s failed: %s", what,
             virGetLastErrorMessage());
  return false;
}

static void load_devices(pd_job_t *j) {
  if (j->devices_known)
    return;
  char *xml = virDomainGetXMLDesc(j->dom, 0);
  if (!call_ok(j, xml ? 0 : -1, "virDomainGetXMLDesc"))
    return;
  vs_error_t err = {0};
  if (vs_domxml_devices(xml, &j->devices, &err) < 0)
    snprintf(j->problem, sizeof(j->problem), "%s", err.msg);
  else
    j->devices_known = j->devices_fetched = true;
  free(xml);
}

/* Returns false when the domain is no longer running (stopped after it was
 * listed): it is then not sampled at all. */
static bool sample_state(pd_job_t *j) {
  int state, reason;
  if (!call_ok(j, virDomainGetState(j->dom, &state, &reason, 0),
               "virDomainGetState"))
    return !j->gone;
  if (state == VIR_DOMAIN_SHUTOFF) {
    j->gone = true;
    return false;
  }
  j->st.have_state = true;
  j->st.state = state;
  j->st.reason = reason;
  j->st.groups |= VS_GROUP_STATE;
  return true;
}

static void sample_cpu(pd_job_t *j) {
  /* cpu_time, user_time, system_time (+ driver extras we ignore). */
  virTypedParameter params[8];
  memset(params, 0, sizeof(params));
  int n = virDomainGetCPUStats(j->dom, params, 8, -1, 1, 0);
  j->sampled_ns = vs_now_ns();
  if (!call_ok(j, n, "virDomainGetCPUStats"))
    return;
  static const char *const names[VS_CPU__MAX] = {
      [VS_CPU_TIME] = VIR_DOMAIN_CPU_STATS_CPUTIME,
      [VS_CPU_USER] = VIR_DOMAIN_CPU_STATS_USERTIME,
      [VS_CPU_SYSTEM] = VIR_DOMAIN_CPU_STATS_SYSTEMTIME,
  };
  for (int i = 0; i < n; i++) {
    int f = vs_name_index(names, VS_CPU__MAX, params[i].field);
    uint64_t v;
    if (f >= 0 && vs_tparam_u64(&params[i], &v))
      vs_fields_set(&j->st.cpu, (unsigned)f, v);
  }
  virTypedParamsClear(params, n);
  j->st.groups |= VS_GROUP_CPU;
}

static void sample_balloon_vcpu(pd_job_t *j) {
  vs_domain_stats_t *st = &j->st;
  virDomainInfo info;
  if (!call_ok(j, virDomainGetInfo(j->dom, &info), "virDomainGetInfo"))
    return;
  j->nvcpu = info.nrVirtCpu;

  if (j->groups & VS_GROUP_BALLOON) {
    st->groups |= VS_GROUP_BALLOON;
    vs_fields_set(&st->balloon, VS_BAL_CURRENT, info.memory);
    vs_fields_set(&st->balloon, VS_BAL_MAXIMUM, info.maxMem);
    virDomainMemoryStatStruct ms[VIR_DOMAIN_MEMORY_STAT_NR];
    int n = virDomainMemoryStats(j->dom, ms, VIR_DOMAIN_MEMORY_STAT_NR, 0);
    if (call_ok(j, n, "virDomainMemoryStats"))
      for (int i = 0; i < n; i++) {
        int f = balloon_field_of_tag(ms[i].tag);
        if (f >= 0)
          vs_fields_set(&st->balloon, (unsigned)f, ms[i].val);
      }
  }

  if ((j->groups & VS_GROUP_VCPU) && info.nrVirtCpu > 0) {
    st->groups |= VS_GROUP_VCPU;
    unsigned nv = info.nrVirtCpu;
    if (nv > VS_MAX_VCPUS)
      nv = VS_MAX_VCPUS;
    virVcpuInfoPtr vi = calloc(nv, sizeof(*vi));
    if (!vi)
      return;
    int n = virDomainGetVcpus(j->dom, vi, (int)nv, NULL, 0);
    if (call_ok(j, n, "virDomainGetVcpus")) {
      st->have_vcpu_current = true;
      st->vcpu_current = (unsigned)n;
      st->vcpu_maximum = info.nrVirtCpu;
      size_t max = 0;
      for (int i = 0; i < n; i++)
        if (vi[i].number < VS_MAX_VCPUS && vi[i].number + 1 > max)
          max = vi[i].number + 1;
      if (vs_domain_stats_set_nvcpu(st, max) == 0)
        for (int i = 0; i < n; i++) {
          if (vi[i].number >= max)
            continue;
          vs_fields_set(&st->vcpu[vi[i].number], VS_VCPU_STATE,
                        (uint64_t)vi[i].state);
          vs_fields_set(&st->vcpu[vi[i].number], VS_VCPU_TIME, vi[i].cpuTime);
        }
    }
    free(vi);
  }
}

/* Counters of one disk: virDomainBlockStatsFlags, or the older
 * virDomainBlockStats (no times, no flush) where the driver lacks the former
 * (test:///). Returns false when the disk has no statistics this round. */
static bool block_counters(pd_job_t *j, const char *dev, bool has_source,
                           vs_fields_t *f) {
  int rc;
  if (!j->no_flags) {
    virTypedParameter params[16];
    memset(params, 0, sizeof(params));
    int n = 16;
    rc = virDomainBlockStatsFlags(j->dom, dev, params, &n, 0);
    virErrorPtr e = rc < 0 ? virGetLastError() : NULL;
    if (e && vs_core_code_is_unsupported(e->code)) {
      j->calls++;
      j->no_flags = true;
      return block_counters(j, dev, has_source, f);
    }
    for (int p = 0; rc >= 0 && p < n; p++) {
      int i = vs_name_index(block_param_names, VS_BLK__MAX, params[p].field);
      uint64_t v;
      if (i >= 0 && vs_tparam_u64(&params[p], &v))
        vs_fields_set(f, (unsigned)i, v);
    }
    if (rc >= 0)
      virTypedParamsClear(params, n);
  } else {
    virDomainBlockStatsStruct bs = {0};
    rc = virDomainBlockStats(j->dom, dev, &bs, sizeof(bs));
    const struct {
      vs_block_field_t field;
      long long value; /* -1: the driver does not have it */
    } old[] = {{VS_BLK_RD_REQS, bs.rd_req},
               {VS_BLK_RD_BYTES, bs.rd_bytes},
               {VS_BLK_WR_REQS, bs.wr_req},
               {VS_BLK_WR_BYTES, bs.wr_bytes}};
    for (size_t i = 0; rc >= 0 && i < sizeof(old) / sizeof(old[0]); i++)
      if (old[i].value >= 0)
        vs_fields_set(f, old[i].field, (uint64_t)old[i].value);
  }
  if (rc < 0 && !has_source) {
    j->calls++; /* an empty CD-ROM drive has no statistics */
    return false;
  }
  return call_ok(j, rc, "block statistics");
}

static void sample_blocks(pd_job_t *j) {
  vs_domain_stats_t *st = &j->st;
  st->groups |= VS_GROUP_BLOCK;
  for (size_t i = 0; i < j->devices.ndisks; i++) {
    const char *dev = j->devices.disk_targets[i];
    const char *src = j->devices.disk_sources[i];
    vs_fields_t f = {0};
    if (!block_counters(j, dev, src != NULL, &f))
      continue;
    vs_device_stats_t *d =
        vs_device_stats_append(&st->block, &st->nblock, dev, src);
    if (!d)
      return;
    d->f = f;
    virDomainBlockInfo bi;
    if (j->block_sizes && src &&
        call_ok(j, virDomainGetBlockInfo(j->dom, dev, &bi, 0),
                "virDomainGetBlockInfo")) {
      vs_fields_set(&d->f, VS_BLK_ALLOCATION, bi.allocation);
      vs_fields_set(&d->f, VS_BLK_CAPACITY, bi.capacity);
      vs_fields_set(&d->f, VS_BLK_PHYSICAL, bi.physical);
    }
  }
}

static void sample_nics(pd_job_t *j) {
  vs_domain_stats_t *st = &j->st;
  st->groups |= VS_GROUP_INTERFACE;
  for (size_t i = 0; i < j->devices.nnics; i++) {
    const char *dev = j->devices.nic_targets[i];
    virDomainInterfaceStatsStruct is;
    if (!call_ok(j, virDomainInterfaceStats(j->dom, dev, &is, sizeof(is)),
                 "virDomainInterfaceStats"))
      continue;
    vs_device_stats_t *d =
        vs_device_stats_append(&st->net, &st->nnet, dev, NULL);
    if (!d)
      return;
    /* -1 marks a counter the driver does not have. */
    long long v[VS_NET__MAX] = {
        [VS_NET_RX_BYTES] = is.rx_bytes, [VS_NET_RX_PKTS] = is.rx_packets,
        [VS_NET_RX_ERRS] = is.rx_errs,   [VS_NET_RX_DROP] = is.rx_drop,
        [VS_NET_TX_BYTES] = is.tx_bytes, [VS_NET_TX_PKTS] = is.tx_packets,
        [VS_NET_TX_ERRS] = is.tx_errs,   [VS_NET_TX_DROP] = is.tx_drop,
    };
    for (unsigned f = 0; f < VS_NET__MAX; f++)
      if (v[f] >= 0)
        vs_fields_set(&d->f, f, (uint64_t)v[f]);
  }
}

static void pd_fn(void *arg) {
  pd_job_t *j = arg;
  unsigned groups = j->groups;
  j->dom = virDomainLookupByUUID(vs_conn_virt(j->conn), j->uuid);
  /* The state is always read: a shut-off domain is not reported. */
  if (call_ok(j, j->dom ? 0 : -1, "virDomainLookupByUUID") && sample_state(j)) {
    if (groups & VS_GROUP_CPU)
      sample_cpu(j);
    if ((groups & (VS_GROUP_BALLOON | VS_GROUP_VCPU)) || j->want_nvcpu)
      sample_balloon_vcpu(j);
    if (groups & (VS_GROUP_BLOCK | VS_GROUP_INTERFACE)) {
      load_devices(j);
      if (j->devices_known && (groups & VS_GROUP_BLOCK))
        sample_blocks(j);
      if (j->devices_known && (groups & VS_GROUP_INTERFACE))
        sample_nics(j);
    }
  }
  vs_conn_call_end(j->conn);
  vs_token_set(j->outstanding, false);
}

static void pd_release(void *arg) {
  pd_job_t *j = arg;
  vs_token_set(j->outstanding, false); /* also when the job never ran */
  if (j->dom)
    virDomainFree(j->dom);
  vs_conn_unref(j->conn);
  vs_token_unref(j->outstanding);
  vs_domxml_devices_clear(&j->devices);
  vs_domain_stats_clear(&j->st);
  free(j);
}

static char **strv_copy(char **v, size_t n, bool *oom) {
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

static pd_job_t *new_pd_job(vs_core_t *c, vs_domain_entry_t *e) {
  pd_job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return NULL;
  if (!e->outstanding && !(e->outstanding = vs_token_new())) {
    free(j);
    return NULL;
  }
  memcpy(j->uuid, e->uuid, VIR_UUID_BUFLEN);
  j->conn = vs_conn_ref(c->conn);
  j->outstanding = vs_token_ref(e->outstanding);
  j->groups = c->cfg->groups;
  j->block_sizes = !c->blockinfo;
  j->no_flags = c->no_block_stats_flags;
  j->want_nvcpu = (j->groups & VS_GROUP_CPU) && e->nvcpu_cached == 0;
  if (e->devices_known) {
    bool oom = false;
    const vs_domxml_devices_t *d = &e->devices;
    j->devices.disk_targets = strv_copy(d->disk_targets, d->ndisks, &oom);
    j->devices.disk_sources = strv_copy(d->disk_sources, d->ndisks, &oom);
    j->devices.nic_targets = strv_copy(d->nic_targets, d->nnics, &oom);
    j->devices.ndisks = d->ndisks;
    j->devices.nnics = d->nnics;
    j->devices_known = true;
    if (oom) {
      pd_release(j);
      return NULL;
    }
  }
  return j;
}

/* Results of a finished job into the round. */
static void take_pd(vs_core_t *c, vs_sample_t *s, vs_domain_sample_t *ds,
                    pd_job_t *j) {
  vs_domain_entry_t *e = ds->entry;
  s->calls += j->calls;
  s->errors += j->errors;
  c->no_block_stats_flags = j->no_flags;
  if (j->devices_fetched) {
    vs_domain_entry_forget_devices(e);
    e->devices = j->devices; /* moved */
    e->devices_known = true;
    memset(&j->devices, 0, sizeof(j->devices));
  }
  if (j->nvcpu)
    e->nvcpu_cached = j->nvcpu;
  ds->st = j->st; /* moved */
  memset(&j->st, 0, sizeof(j->st));
  ds->sampled_ns = j->sampled_ns;
  if (j->problem[0])
    vs_core_problem(s, ds, j->problem);
}

int vs_sample_perdomain(vs_core_t *c, vs_sample_t *s, uint64_t deadline_ns,
                        vs_error_t *err) {
  uint64_t t0 = vs_now_ns();
  uint64_t budget = deadline_ns > t0 ? deadline_ns - t0 : 0;
  /* Probe the monitors when calls of earlier rounds are still out. */
  bool probe = c->nretired > 0 || vs_conn_inflight(c->conn) > 0;
  vs_listing_t *l;
  int r = vs_probe_list(c, s, probe, t0 + budget / 4, &l, err);
  if (r < 0)
    return r;
  s->careful = probe;
  /* A domain may take a quarter of the budget before it is given up. */
  uint64_t per_domain = budget / 4;
  uint64_t limit = vs_core_unresponsive_after(c, budget);
  for (int i = 0; i < l->n && r == 0; i++) {
    int terr;
    vs_domain_sample_t *ds = vs_core_track(c, s, l->doms[i], &terr);
    if (!ds) {
      r = terr;
      continue;
    }
    size_t idx = (size_t)(ds - s->domains);
    vs_domain_entry_t *e = ds->entry;
    char why[128];
    const char *verdict = vs_listing_verdict(l, i, limit, why, sizeof(why));
    if (!verdict && vs_token_busy(e->outstanding))
      verdict = "a call to it from an earlier round has not returned";
    if (verdict) {
      vs_core_unresponsive(c, s, ds, verdict);
      continue;
    }
    uint64_t now = vs_now_ns();
    if (now >= deadline_ns)
      break; /* out of time: the rest are sampled next round */
    if (!c->conn)
      break; /* no sampling connection left this round */
    pd_job_t *j = new_pd_job(c, e);
    if (!j) {
      r = -ENOMEM;
      break;
    }
    vs_token_set(j->outstanding, true);
    vs_conn_call_begin(j->conn);
    uint64_t until =
        now + per_domain < deadline_ns ? now + per_domain : deadline_ns;
    int jr = vs_executor_run(c->ex, pd_fn, pd_release, j, until);
    ds = &s->domains[idx];
    if (jr < 0) {
      s->calls++;
      s->errors++;
      snprintf(why, sizeof(why), "its calls did not answer within %.2f s",
               (double)(until - now) / VS_NS_PER_SEC);
      vs_core_unresponsive(c, s, ds, why);
      /* The connection has a stuck call now: the next domains need another. */
      now = vs_now_ns();
      if (vs_core_replace_conn(c, s, vs_part_of_remaining(deadline_ns, 1, 2),
                               err) < 0)
        break;
      continue;
    }
    bool gone = j->gone;
    take_pd(c, s, ds, j);
    pd_release(j);
    if (gone && (size_t)(s->n - 1) == idx)
      vs_core_untrack(c, s);
  }
  vs_listing_free(l);
  if (r < 0)
    return vs_error_set(err, r, "out of memory");
  return 0;
}
