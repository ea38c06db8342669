/* virtscale - per-domain sampling, for drivers without bulk statistics: a
 * few calls per domain and device. Produces the same vs_domain_stats_t
 * fields (and so the same identifiers) as bulk sampling; perf events are
 * bulk-only. A call carries one domain (see vs_schedule.h), so a domain that
 * does not answer holds up only its own call. */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_tparam.h"
#include "vs_sampler.h"

static bool code_is_unsupported(int code) {
  return code == VIR_ERR_NO_SUPPORT || code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
         code == VIR_ERR_OPERATION_UNSUPPORTED;
}

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

/* One domain's calls, on the sampler's worker. */
typedef struct {
  virDomainPtr dom;
  unsigned groups;
  bool block_sizes;            /* virDomainGetBlockInfo here */
  bool no_flags;               /* in/out: driver lacks BlockStatsFlags */
  bool want_nvcpu;             /* cpu without vcpu: the count is needed */
  vs_domxml_devices_t devices; /* known (borrowed copy) or fetched */
  bool devices_known, devices_fetched;
  /* results */
  vs_domain_stats_t st;
  unsigned nvcpu;
  bool gone; /* the domain stopped after it was listed */
  char problem[VS_ERROR_MSG_MAX];
  unsigned calls, errors;
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
  if (domain_went_away()) {
    j->gone = true;
    return false;
  }
  j->errors++;
  if (!j->problem[0])
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
    if (e && code_is_unsupported(e->code)) {
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

/* Sample one domain of the call into rec. */
static void sample_domain(vs_call_t *c, size_t i, virConnectPtr conn,
                          vs_record_t *rec) {
  pd_job_t j = {.groups = c->groups,
                .block_sizes = c->block_sizes,
                .no_flags = c->no_flags || c->no_flags_seen};
  rec->uuid = c->uuids[i];
  j.want_nvcpu =
      c->nneed > 0 &&
      bsearch(&c->uuids[i], c->need_nvcpu, c->nneed, sizeof(vs_uuid_t),
              (int (*)(const void *, const void *))vs_uuid_cmp);
  if (c->devices_known && c->devices_known[i]) {
    j.devices = c->devices[i]; /* borrowed: not cleared here */
    j.devices_known = true;
  }
  j.dom = virDomainLookupByUUID(conn, c->uuids[i].b);
  /* The state is always read: a shut-off domain is not reported. */
  if (call_ok(&j, j.dom ? 0 : -1, "virDomainLookupByUUID") &&
      sample_state(&j)) {
    const char *name = virDomainGetName(j.dom);
    rec->name = strdup(name ? name : "");
    rec->id = (int)virDomainGetID(j.dom);
    if (j.groups & VS_GROUP_CPU)
      sample_cpu(&j);
    if ((j.groups & (VS_GROUP_BALLOON | VS_GROUP_VCPU)) || j.want_nvcpu)
      sample_balloon_vcpu(&j);
    if (j.groups & (VS_GROUP_BLOCK | VS_GROUP_INTERFACE)) {
      load_devices(&j);
      if (j.devices_known && (j.groups & VS_GROUP_BLOCK))
        sample_blocks(&j);
      if (j.devices_known && (j.groups & VS_GROUP_INTERFACE))
        sample_nics(&j);
    }
  }
  if (j.dom)
    virDomainFree(j.dom);
  c->rpcs += j.calls;
  c->rpc_errors += j.errors;
  c->no_flags_seen = c->no_flags_seen || j.no_flags;
  rec->gone = j.gone || !rec->name;
  rec->st = j.st; /* moved */
  rec->nvcpu = j.nvcpu;
  if (j.devices_fetched) {
    rec->devices = j.devices; /* moved */
    rec->devices_fetched = true;
  }
  if (j.problem[0])
    rec->problem = strdup(j.problem);
}

void vs_sampler_per_domain(const vs_virt_api_t *api, void *handle,
                           vs_call_t *c) {
  virConnectPtr conn = api->virt ? api->virt(handle) : NULL;
  if (c->groups == 0 || c->all) {
    /* The listing: which domains run. */
    vs_stats_req_t req = {0};
    c->rc = api->stats(handle, &req, &c->recs, &c->nrecs, &c->rpcs, &c->err);
    return;
  }
  if (!conn) {
    c->rc = vs_error_set(&c->err, -ENOTSUP,
                         "per-domain sampling needs a libvirt connection");
    return;
  }
  c->recs = calloc(c->n ? c->n : 1, sizeof(*c->recs));
  if (!c->recs) {
    c->rc = vs_error_set(&c->err, -ENOMEM, "out of memory");
    return;
  }
  c->nrecs = c->n;
  for (size_t i = 0; i < c->n; i++)
    sample_domain(c, i, conn, &c->recs[i]);
  c->rc = 0;
}
