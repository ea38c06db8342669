#include "vs_stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const vs_cpu_field_names[VS_CPU__MAX] = {
    [VS_CPU_TIME] = "time",
    [VS_CPU_USER] = "user",
    [VS_CPU_SYSTEM] = "system",
};

const char *const vs_balloon_field_names[VS_BAL__MAX] = {
    [VS_BAL_CURRENT] = "current",
    [VS_BAL_MAXIMUM] = "maximum",
    [VS_BAL_SWAP_IN] = "swap_in",
    [VS_BAL_SWAP_OUT] = "swap_out",
    [VS_BAL_MAJOR_FAULT] = "major_fault",
    [VS_BAL_MINOR_FAULT] = "minor_fault",
    [VS_BAL_UNUSED] = "unused",
    [VS_BAL_AVAILABLE] = "available",
    [VS_BAL_RSS] = "rss",
    [VS_BAL_USABLE] = "usable",
    [VS_BAL_LAST_UPDATE] = "last-update",
    [VS_BAL_DISK_CACHES] = "disk_caches",
    [VS_BAL_HUGETLB_PGALLOC] = "hugetlb_pgalloc",
    [VS_BAL_HUGETLB_PGFAIL] = "hugetlb_pgfail",
};

const char *const vs_vcpu_field_names[VS_VCPU__MAX] = {
    [VS_VCPU_STATE] = "state",
    [VS_VCPU_TIME] = "time",
    [VS_VCPU_WAIT] = "wait",
    [VS_VCPU_DELAY] = "delay",
};

const char *const vs_net_field_names[VS_NET__MAX] = {
    [VS_NET_RX_BYTES] = "rx.bytes", [VS_NET_RX_PKTS] = "rx.pkts",
    [VS_NET_RX_ERRS] = "rx.errs",   [VS_NET_RX_DROP] = "rx.drop",
    [VS_NET_TX_BYTES] = "tx.bytes", [VS_NET_TX_PKTS] = "tx.pkts",
    [VS_NET_TX_ERRS] = "tx.errs",   [VS_NET_TX_DROP] = "tx.drop",
};

const char *const vs_block_field_names[VS_BLK__MAX] = {
    [VS_BLK_RD_REQS] = "rd.reqs",       [VS_BLK_RD_BYTES] = "rd.bytes",
    [VS_BLK_RD_TIMES] = "rd.times",     [VS_BLK_WR_REQS] = "wr.reqs",
    [VS_BLK_WR_BYTES] = "wr.bytes",     [VS_BLK_WR_TIMES] = "wr.times",
    [VS_BLK_FL_REQS] = "fl.reqs",       [VS_BLK_FL_TIMES] = "fl.times",
    [VS_BLK_ALLOCATION] = "allocation", [VS_BLK_CAPACITY] = "capacity",
    [VS_BLK_PHYSICAL] = "physical",
};

static const struct {
  vs_group_t group;
  const char *name;
} group_table[] = {
    {VS_GROUP_STATE, "state"},         {VS_GROUP_CPU, "cpu"},
    {VS_GROUP_BALLOON, "balloon"},     {VS_GROUP_VCPU, "vcpu"},
    {VS_GROUP_INTERFACE, "interface"}, {VS_GROUP_BLOCK, "block"},
    {VS_GROUP_PERF, "perf"},
};
#define N_GROUPS (sizeof(group_table) / sizeof(group_table[0]))

const char *vs_group_name(vs_group_t group) {
  for (size_t i = 0; i < N_GROUPS; i++)
    if (group_table[i].group == group)
      return group_table[i].name;
  return NULL;
}

vs_group_t vs_group_from_name(const char *name) {
  for (size_t i = 0; i < N_GROUPS; i++)
    if (strcasecmp(group_table[i].name, name) == 0)
      return group_table[i].group;
  return 0;
}

static void device_array_free(vs_device_stats_t *arr, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(arr[i].name);
    free(arr[i].path);
  }
  free(arr);
}

void vs_domain_stats_clear(vs_domain_stats_t *st) {
  if (!st)
    return;
  free(st->vcpu);
  device_array_free(st->net, st->nnet);
  device_array_free(st->block, st->nblock);
  for (size_t i = 0; i < st->nperf; i++)
    free(st->perf[i].name);
  free(st->perf);
  memset(st, 0, sizeof(*st));
}

int vs_array_grow(void **arr, size_t *n, size_t idx, size_t elem) {
  if (idx < *n)
    return 0;
  size_t want = idx + 1;
  void *p = realloc(*arr, want * elem);
  if (!p)
    return -ENOMEM;
  memset((char *)p + *n * elem, 0, (want - *n) * elem);
  *arr = p;
  *n = want;
  return 0;
}

vs_device_stats_t *vs_device_stats_append(vs_device_stats_t **arr, size_t *n,
                                          const char *name, const char *path) {
  char *name_copy = strdup(name);
  char *path_copy = path ? strdup(path) : NULL;
  if (!name_copy || (path && !path_copy) ||
      vs_array_grow((void **)arr, n, *n, sizeof(**arr)) < 0) {
    free(name_copy);
    free(path_copy);
    return NULL;
  }
  vs_device_stats_t *d = &(*arr)[*n - 1];
  d->name = name_copy;
  d->path = path_copy;
  return d;
}

int vs_domain_stats_set_nvcpu(vs_domain_stats_t *st, size_t n) {
  free(st->vcpu);
  st->vcpu = NULL;
  st->nvcpu = 0;
  if (n == 0)
    return 0;
  st->vcpu = calloc(n, sizeof(*st->vcpu));
  if (!st->vcpu)
    return -ENOMEM;
  st->nvcpu = n;
  return 0;
}

/* Which fields of each kind are counters (only ever grow). */
#define ALL(n) ((1u << (n)) - 1)
#define BIT(i) (1u << (i))
static const uint32_t cpu_counters = ALL(VS_CPU__MAX);
static const uint32_t balloon_counters =
    BIT(VS_BAL_SWAP_IN) | BIT(VS_BAL_SWAP_OUT) | BIT(VS_BAL_MAJOR_FAULT) |
    BIT(VS_BAL_MINOR_FAULT) | BIT(VS_BAL_HUGETLB_PGALLOC) |
    BIT(VS_BAL_HUGETLB_PGFAIL);
static const uint32_t vcpu_counters =
    BIT(VS_VCPU_TIME) | BIT(VS_VCPU_WAIT) | BIT(VS_VCPU_DELAY);
static const uint32_t net_counters = ALL(VS_NET__MAX);
static const uint32_t block_counters =
    ALL(VS_BLK__MAX) &
    ~(BIT(VS_BLK_ALLOCATION) | BIT(VS_BLK_CAPACITY) | BIT(VS_BLK_PHYSICAL));

static size_t drop_fields(vs_fields_t *cur, const vs_fields_t *prev,
                          uint32_t counters) {
  size_t dropped = 0;
  uint32_t both = cur->have & prev->have & counters;
  for (unsigned i = 0; both; i++, both >>= 1)
    if ((both & 1u) && cur->v[i] < prev->v[i]) {
      cur->have &= ~BIT(i);
      dropped++;
    }
  return dropped;
}

static const vs_device_stats_t *find_device(const vs_device_stats_t *arr,
                                            size_t n, const char *name,
                                            size_t hint) {
  if (hint < n && strcmp(arr[hint].name, name) == 0)
    return &arr[hint];
  for (size_t i = 0; i < n; i++)
    if (strcmp(arr[i].name, name) == 0)
      return &arr[i];
  return NULL;
}

static size_t drop_devices(vs_device_stats_t *cur, size_t ncur,
                           const vs_device_stats_t *prev, size_t nprev,
                           uint32_t counters) {
  size_t dropped = 0;
  for (size_t i = 0; i < ncur; i++) {
    const vs_device_stats_t *p = find_device(prev, nprev, cur[i].name, i);
    if (p)
      dropped += drop_fields(&cur[i].f, &p->f, counters);
  }
  return dropped;
}

bool vs_perf_is_gauge(const char *event) {
  return strcmp(event, "cmt") == 0 || strcmp(event, "mbmt") == 0 ||
         strcmp(event, "mbml") == 0;
}

/* Perf counters of cur lower than the same event in prev: removed. */
static size_t drop_perf(vs_domain_stats_t *cur, const vs_domain_stats_t *prev) {
  size_t out = 0, dropped = 0;
  for (size_t i = 0; i < cur->nperf; i++) {
    const vs_perf_stat_t *p = NULL;
    for (size_t j = 0; !p && j < prev->nperf; j++)
      if (strcmp(prev->perf[j].name, cur->perf[i].name) == 0)
        p = &prev->perf[j];
    if (p && !vs_perf_is_gauge(cur->perf[i].name) &&
        cur->perf[i].value < p->value) {
      free(cur->perf[i].name);
      dropped++;
      continue;
    }
    cur->perf[out++] = cur->perf[i];
  }
  cur->nperf = out;
  return dropped;
}

size_t vs_domain_stats_drop_regressions(vs_domain_stats_t *cur,
                                        const vs_domain_stats_t *prev) {
  size_t dropped = drop_fields(&cur->cpu, &prev->cpu, cpu_counters) +
                   drop_fields(&cur->balloon, &prev->balloon, balloon_counters);
  for (size_t i = 0; i < cur->nvcpu && i < prev->nvcpu; i++)
    dropped += drop_fields(&cur->vcpu[i], &prev->vcpu[i], vcpu_counters);
  dropped +=
      drop_devices(cur->net, cur->nnet, prev->net, prev->nnet, net_counters);
  dropped += drop_devices(cur->block, cur->nblock, prev->block, prev->nblock,
                          block_counters);
  return dropped + drop_perf(cur, prev);
}

static int copy_devices(vs_device_stats_t **dst, size_t *ndst,
                        const vs_device_stats_t *src, size_t nsrc) {
  device_array_free(*dst, *ndst);
  *dst = NULL;
  *ndst = 0;
  for (size_t i = 0; i < nsrc; i++) {
    vs_device_stats_t *d =
        vs_device_stats_append(dst, ndst, src[i].name, src[i].path);
    if (!d)
      return -ENOMEM;
    d->f = src[i].f;
  }
  return 0;
}

int vs_domain_stats_merge(vs_domain_stats_t *dst,
                          const vs_domain_stats_t *src) {
  unsigned g = src->groups;
  int r = 0;
  if (g & VS_GROUP_STATE) {
    dst->have_state = src->have_state;
    dst->state = src->state;
    dst->reason = src->reason;
  }
  if (g & VS_GROUP_CPU)
    dst->cpu = src->cpu;
  if (g & VS_GROUP_BALLOON)
    dst->balloon = src->balloon;
  if (g & VS_GROUP_VCPU) {
    dst->have_vcpu_current = src->have_vcpu_current;
    dst->vcpu_current = src->vcpu_current;
    dst->vcpu_maximum = src->vcpu_maximum;
    if (vs_domain_stats_set_nvcpu(dst, src->nvcpu) < 0)
      r = -ENOMEM;
    else if (src->nvcpu)
      memcpy(dst->vcpu, src->vcpu, src->nvcpu * sizeof(*src->vcpu));
  }
  if ((g & VS_GROUP_INTERFACE) &&
      copy_devices(&dst->net, &dst->nnet, src->net, src->nnet) < 0)
    r = -ENOMEM;
  if ((g & VS_GROUP_BLOCK) &&
      copy_devices(&dst->block, &dst->nblock, src->block, src->nblock) < 0)
    r = -ENOMEM;
  if (g & VS_GROUP_PERF) {
    for (size_t i = 0; i < dst->nperf; i++)
      free(dst->perf[i].name);
    free(dst->perf);
    dst->perf = NULL;
    dst->nperf = 0;
    if (src->nperf && !(dst->perf = calloc(src->nperf, sizeof(*dst->perf))))
      r = -ENOMEM;
    for (size_t i = 0; dst->perf && i < src->nperf; i++) {
      if (!(dst->perf[i].name = strdup(src->perf[i].name))) {
        r = -ENOMEM;
        break;
      }
      dst->perf[i].value = src->perf[i].value;
      dst->nperf++;
    }
  }
  dst->groups |= g;
  return r;
}

double vs_cpu_percent(uint64_t cpu0, uint64_t t0, uint64_t cpu1, uint64_t t1,
                      unsigned nvcpu) {
  if (t1 <= t0 || cpu1 < cpu0 || nvcpu == 0)
    return -1.0;
  double pct =
      100.0 * (double)(cpu1 - cpu0) / ((double)(t1 - t0) * (double)nvcpu);
  /* Sampling jitter (the two readings are not taken at exactly t0 and t1)
   * can push a busy domain a little over 100. */
  return pct > 100.0 ? 100.0 : pct;
}
