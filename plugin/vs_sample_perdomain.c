/* virtscale - per-domain sampling, for drivers without bulk statistics:
 * one listing call, then a few calls per domain and device. Produces the
 * same vs_domain_stats_t fields (and so the same identifiers) as bulk
 * sampling; perf events are bulk-only. */
#include <errno.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_time.h"
#include "common/vs_tparam.h"
#include "vs_core_internal.h"
#include "vs_domxml.h"

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

typedef struct {
  vs_core_t *c;
  vs_sample_t *s;
  size_t idx; /* index of the domain's entry in s->domains */
  virDomainPtr dom;
} job_t;

static vs_domain_sample_t *ds_of(const job_t *j) {
  return &j->s->domains[j->idx];
}

/* A domain that stopped after it was listed: its calls fail with these,
 * and it simply drops out of the next round. */
static bool domain_went_away(void) {
  virErrorPtr e = virGetLastError();
  return e &&
         (e->code == VIR_ERR_NO_DOMAIN || e->code == VIR_ERR_OPERATION_INVALID);
}

/* Count one call; on failure record a problem naming what failed. */
static bool call_ok(job_t *j, int rc, const char *what) {
  j->s->calls++;
  if (rc >= 0)
    return true;
  if (domain_went_away())
    j->s->errors++;
  else
    vs_core_problem(j->c, j->s, ds_of(j), true, "%s failed", what);
  return false;
}

static int load_devices(job_t *j) {
  vs_domain_entry_t *e = ds_of(j)->entry;
  if (e->devices_known)
    return 0;
  char *xml = virDomainGetXMLDesc(j->dom, 0);
  if (!call_ok(j, xml ? 0 : -1, "virDomainGetXMLDesc"))
    return -EIO;
  vs_domxml_devices_t d = {0};
  vs_error_t err = {0};
  int r = vs_domxml_devices(xml, &d, &err);
  free(xml);
  if (r < 0) {
    vs_core_problem(j->c, j->s, ds_of(j), false, "%s", err.msg);
    return r;
  }
  e->devices = d;
  e->devices_known = true;
  return 0;
}

/* Returns false when the domain is no longer running (stopped after it was
 * listed): it is then not sampled at all. */
static bool sample_state(job_t *j) {
  int state, reason;
  if (!call_ok(j, virDomainGetState(j->dom, &state, &reason, 0),
               "virDomainGetState"))
    return !domain_went_away();
  if (state == VIR_DOMAIN_SHUTOFF)
    return false;
  vs_domain_stats_t *st = &ds_of(j)->st;
  st->have_state = true;
  st->state = state;
  st->reason = reason;
  st->groups |= VS_GROUP_STATE;
  return true;
}

static void sample_cpu(job_t *j) {
  /* cpu_time, user_time, system_time (+ driver extras we ignore). */
  virTypedParameter params[8];
  memset(params, 0, sizeof(params));
  int n = virDomainGetCPUStats(j->dom, params, 8, -1, 1, 0);
  ds_of(j)->sampled_ns = vs_now_ns();
  if (!call_ok(j, n, "virDomainGetCPUStats"))
    return;
  vs_domain_stats_t *st = &ds_of(j)->st;
  static const char *const names[VS_CPU__MAX] = {
      [VS_CPU_TIME] = VIR_DOMAIN_CPU_STATS_CPUTIME,
      [VS_CPU_USER] = VIR_DOMAIN_CPU_STATS_USERTIME,
      [VS_CPU_SYSTEM] = VIR_DOMAIN_CPU_STATS_SYSTEMTIME,
  };
  for (int i = 0; i < n; i++) {
    int f = vs_name_index(names, VS_CPU__MAX, params[i].field);
    uint64_t v;
    if (f >= 0 && vs_tparam_u64(&params[i], &v))
      vs_fields_set(&st->cpu, (unsigned)f, v);
  }
  virTypedParamsClear(params, n);
  st->groups |= VS_GROUP_CPU;
}

static void sample_balloon_vcpu(job_t *j) {
  const vs_config_t *cfg = j->c->cfg;
  vs_domain_stats_t *st = &ds_of(j)->st;
  virDomainInfo info;
  if (!call_ok(j, virDomainGetInfo(j->dom, &info), "virDomainGetInfo"))
    return;
  (ds_of(j)->entry)->nvcpu_cached = info.nrVirtCpu;

  if (cfg->groups & VS_GROUP_BALLOON) {
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

  if ((cfg->groups & VS_GROUP_VCPU) && info.nrVirtCpu > 0) {
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
        if (vi[i].number + 1 > max)
          max = vi[i].number + 1;
      if (vs_domain_stats_set_nvcpu(st, max) == 0)
        for (int i = 0; i < n; i++) {
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
 * (test:///); the core remembers which one works. Returns false when the
 * disk has no statistics this round. */
static bool block_counters(job_t *j, const char *dev, bool has_source,
                           vs_fields_t *f) {
  vs_core_t *c = j->c;
  int rc;
  if (!c->no_block_stats_flags) {
    virTypedParameter params[16];
    memset(params, 0, sizeof(params));
    int n = 16;
    rc = virDomainBlockStatsFlags(j->dom, dev, params, &n, 0);
    if (rc < 0 && vs_core_error_is_unsupported()) {
      j->s->calls++;
      c->no_block_stats_flags = true;
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
    j->s->calls++; /* an empty CD-ROM drive has no statistics */
    return false;
  }
  return call_ok(j, rc, "block statistics");
}

static void sample_blocks(job_t *j) {
  vs_domain_entry_t *e = ds_of(j)->entry;
  vs_domain_stats_t *st = &ds_of(j)->st;
  st->groups |= VS_GROUP_BLOCK;
  for (size_t i = 0; i < e->devices.ndisks; i++) {
    const char *dev = e->devices.disk_targets[i];
    const char *src = e->devices.disk_sources[i];
    vs_fields_t f = {0};
    if (!block_counters(j, dev, src != NULL, &f))
      continue;
    vs_device_stats_t *d =
        vs_device_stats_append(&st->block, &st->nblock, dev, src);
    if (!d)
      return;
    d->f = f;
    virDomainBlockInfo bi;
    if (src && call_ok(j, virDomainGetBlockInfo(j->dom, dev, &bi, 0),
                       "virDomainGetBlockInfo")) {
      vs_fields_set(&d->f, VS_BLK_ALLOCATION, bi.allocation);
      vs_fields_set(&d->f, VS_BLK_CAPACITY, bi.capacity);
      vs_fields_set(&d->f, VS_BLK_PHYSICAL, bi.physical);
    }
  }
}

static void sample_nics(job_t *j) {
  vs_domain_entry_t *e = ds_of(j)->entry;
  vs_domain_stats_t *st = &ds_of(j)->st;
  st->groups |= VS_GROUP_INTERFACE;
  for (size_t i = 0; i < e->devices.nnics; i++) {
    const char *dev = e->devices.nic_targets[i];
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

/* Returns false when the domain turned out not to be running. */
static bool sample_domain(job_t *j) {
  unsigned groups = j->c->cfg->groups;
  /* The state is always read: see vs_sample_bulk(). */
  if (!sample_state(j))
    return false;
  if (groups & VS_GROUP_CPU)
    sample_cpu(j);
  if ((groups & (VS_GROUP_BALLOON | VS_GROUP_VCPU)) ||
      ((groups & VS_GROUP_CPU) && (ds_of(j)->entry)->nvcpu_cached == 0))
    sample_balloon_vcpu(j);
  if ((groups & (VS_GROUP_BLOCK | VS_GROUP_INTERFACE)) &&
      load_devices(j) == 0) {
    if (groups & VS_GROUP_BLOCK)
      sample_blocks(j);
    if (groups & VS_GROUP_INTERFACE)
      sample_nics(j);
  }
  return true;
}

int vs_sample_perdomain(vs_core_t *c, vs_sample_t *s, vs_error_t *err) {
  virDomainPtr *doms = NULL;
  s->calls++;
  int n =
      virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0) {
    s->errors++;
    return vs_error_set_virt(err, -EIO, "virConnectListAllDomains failed");
  }
  int r = 0;
  for (int i = 0; i < n; i++) {
    if (r == 0) {
      int terr;
      vs_domain_sample_t *ds = vs_core_track(c, s, doms[i], &terr);
      if (ds) {
        job_t j = {.c = c, .s = s, .idx = s->n - 1, .dom = doms[i]};
        if (!sample_domain(&j))
          vs_core_untrack(c, s);
      } else if (terr < 0) {
        r = terr;
      }
    }
    virDomainFree(doms[i]);
  }
  free(doms);
  if (r < 0)
    return vs_error_set(err, r, "out of memory");
  return 0;
}
