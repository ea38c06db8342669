#include "vs_fake_api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_thread.h"
#include "common/vs_time.h"
#include "vs_schedule.h"

fake_hv_t fake;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond; /* anything changed */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned inside; /* calls inside the fake */

static void init_cond(void) { vs_cond_init(&cond); }

void fake_lock(void) {
  pthread_once(&once, init_cond);
  pthread_mutex_lock(&lock);
}
void fake_unlock(void) { pthread_mutex_unlock(&lock); }
void fake_wake(void) { pthread_cond_broadcast(&cond); }

void fake_reset(size_t n, unsigned monitor_ms) {
  fake_lock();
  memset(&fake, 0, sizeof(fake));
  fake.n = n;
  for (size_t i = 0; i < n; i++) {
    fake_domain_t *d = &fake.doms[i];
    for (size_t b = 0; b < VS_UUID_LEN; b++)
      d->uuid.b[b] = (unsigned char)(0x10 + b);
    d->uuid.b[14] = (unsigned char)(i >> 8);
    d->uuid.b[15] = (unsigned char)i;
    snprintf(d->name, sizeof(d->name), "dom-%03zu", i);
    d->id = (int)i + 1;
    d->running = true;
    d->monitor_ms = monitor_ms;
  }
  fake_unlock();
}

void fake_release_all(void) {
  fake_lock();
  fake.silent = false;
  for (size_t i = 0; i < fake.n; i++)
    fake.doms[i].frozen = false;
  fake_wake();
  while (inside > 0)
    vs_cond_wait_until(&cond, &lock, vs_now_ns() + VS_NS_PER_SEC / 10);
  fake_unlock();
}

/* Called locked: wait while libvirtd is silent. */
static void wait_voice(void) {
  while (fake.silent)
    vs_cond_wait_until(&cond, &lock, vs_now_ns() + VS_NS_PER_SEC);
}

static fake_domain_t *find(const vs_uuid_t *u) {
  for (size_t i = 0; i < fake.n; i++)
    if (vs_uuid_cmp(&fake.doms[i].uuid, u) == 0)
      return &fake.doms[i];
  return NULL;
}

static int f_open(const vs_conn_opts_t *o, const vs_conn_events_t *ev,
                  void **ret, vs_error_t *err) {
  fake_lock();
  inside++;
  wait_voice();
  fake.opens++;
  inside--;
  fake_wake();
  fake_unlock();
  *ret = malloc(1);
  return *ret ? 0 : vs_error_set(err, -ENOMEM, "out of memory");
}

static void f_close(void *h) { free(h); }
static char *f_uri(void *h) { return strdup("fake:///"); }
static unsigned f_host_cpus(void *h) { return 2; }
static void *f_virt(void *h) { return NULL; }

/* The fields a domain answers; full: its job was taken (monitor-bound
 * fields too). */
static void fill(fake_domain_t *d, unsigned groups, bool full, vs_record_t *r) {
  r->uuid = d->uuid;
  r->name = strdup(d->name);
  r->id = d->id;
  vs_domain_stats_t *st = &r->st;
  d->cpu_ns += 1000000;
  if (groups & VS_GROUP_STATE) {
    st->groups |= VS_GROUP_STATE;
    st->have_state = true;
    st->state = 1; /* running */
  }
  if (groups & VS_GROUP_INTERFACE) {
    st->groups |= VS_GROUP_INTERFACE;
    vs_device_stats_t *n =
        vs_device_stats_append(&st->net, &st->nnet, "vnet0", NULL);
    if (n)
      vs_fields_set(&n->f, VS_NET_RX_BYTES, d->cpu_ns / 1000);
  }
  /* cgroup CPU time and the balloon's configured sizes need no job */
  if (groups & VS_GROUP_CPU) {
    st->groups |= VS_GROUP_CPU;
    vs_fields_set(&st->cpu, VS_CPU_TIME, d->cpu_ns);
  }
  if (groups & VS_GROUP_BALLOON) {
    st->groups |= VS_GROUP_BALLOON;
    vs_fields_set(&st->balloon, VS_BAL_CURRENT, 65536);
    vs_fields_set(&st->balloon, VS_BAL_MAXIMUM, 65536);
    if (full)
      vs_fields_set(&st->balloon, VS_BAL_RSS, 40000);
  }
  if (groups & VS_GROUP_VCPU) {
    st->groups |= VS_GROUP_VCPU;
    st->have_vcpu_current = true;
    st->vcpu_current = st->vcpu_maximum = 1;
    if (vs_domain_stats_set_nvcpu(st, 1) == 0)
      vs_fields_set(&st->vcpu[0], VS_VCPU_TIME, d->cpu_ns / 2);
  }
  if ((groups & VS_GROUP_BLOCK) && full) {
    st->groups |= VS_GROUP_BLOCK;
    vs_device_stats_t *b =
        vs_device_stats_append(&st->block, &st->nblock, "vda", "/img");
    if (b)
      vs_fields_set(&b->f, VS_BLK_RD_REQS, d->cpu_ns / 1000000);
  }
}

static int f_stats(void *h, const vs_stats_req_t *req, vs_record_t **ret,
                   size_t *nret, unsigned *rpcs, vs_error_t *err) {
  fake_lock();
  inside++;
  (*rpcs)++;
  wait_voice();
  int r = 0;
  size_t n = 0;
  fake_domain_t *targets[FAKE_MAX_DOMAINS];
  if (req->uuids) {
    for (size_t i = 0; i < req->n; i++) {
      fake_domain_t *d = find(&req->uuids[i]);
      if (d && d->running)
        targets[n++] = d;
    }
  } else {
    for (size_t i = 0; i < fake.n; i++)
      if (fake.doms[i].running)
        targets[n++] = &fake.doms[i];
  }
  vs_record_t *recs = calloc(n ? n : 1, sizeof(*recs));
  bool monitor = req->groups & VS_GROUPS_MONITOR;
  if (!recs) {
    r = vs_error_set(err, -ENOMEM, "out of memory");
  } else if (req->enforce && fake.no_bulk && (req->groups & ~VS_GROUP_STATE)) {
    r = vs_error_set(err, -ENOTSUP, "groups not supported by this driver");
  } else {
    /* Another monitor-bound call for the same domain still out: the core
     * should never send one. */
    if (monitor)
      for (size_t i = 0; i < n; i++)
        if (targets[i]->calls_out++ > 0)
          targets[i]->overlaps++;
    /* One domain after another, as libvirtd walks them. */
    for (size_t i = 0; i < n; i++) {
      fake_domain_t *d = targets[i];
      bool full = false;
      if (monitor && d->job_held) {
        d->nowait_passes++; /* NOWAIT: job-free fields only */
      } else if (monitor) {
        d->job_held = full = true;
        d->monitor_calls++;
        uint64_t now = vs_now_ns();
        d->busy_since_ns = now;
        uint64_t until = now + (uint64_t)d->monitor_ms * VS_NS_PER_MS;
        while (d->frozen || vs_now_ns() < until)
          vs_cond_wait_until(&cond, &lock,
                             d->frozen ? vs_now_ns() + VS_NS_PER_SEC : until);
        d->busy_since_ns = 0;
        d->job_held = false;
      }
      if (req->groups)
        fill(d, req->groups, full, &recs[i]);
      else
        fill(d, 0, false, &recs[i]);
    }
    if (monitor)
      for (size_t i = 0; i < n; i++)
        targets[i]->calls_out--;
    fake.stats_calls++;
  }
  inside--;
  fake_wake();
  fake_unlock();
  if (r < 0) {
    vs_records_free(recs, n);
    return r;
  }
  *ret = recs;
  *nret = n;
  return 0;
}

static int f_control(void *h, const vs_uuid_t *uuids, size_t n,
                     vs_control_t *ret, unsigned *rpcs, vs_error_t *err) {
  fake_lock();
  inside++;
  wait_voice();
  uint64_t now = vs_now_ns();
  for (size_t i = 0; i < n; i++) {
    const fake_domain_t *d = find(&uuids[i]);
    (*rpcs)++;
    ret[i] = (vs_control_t){.uuid = uuids[i]};
    if (!d || !d->running)
      continue;
    ret[i].known = true;
    if (d->busy_since_ns)
      ret[i].occupied_ms = (now - d->busy_since_ns) / VS_NS_PER_MS + 1;
  }
  fake.control_calls++;
  inside--;
  fake_wake();
  fake_unlock();
  return 0;
}

const vs_virt_api_t fake_api = {
    .open = f_open,
    .close = f_close,
    .uri = f_uri,
    .host_cpus = f_host_cpus,
    .stats = f_stats,
    .control = f_control,
    .virt = f_virt,
};
