#define _GNU_SOURCE /* pthread_setname_np */
#include "vs_blockinfo.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_eventloop.h"
#include "common/vs_executor.h"
#include "common/vs_thread.h"
#include "common/vs_time.h"
#include "vs_connection.h"
#include "vs_core.h"
#include "vs_domain_names.h"
#include "vs_domxml.h"
#include "vs_schedule.h"
#include "vs_token.h"

/* A domain as the block-info thread knows it (its own table: the thread owns
 * it, the read thread never sees it). */
typedef struct {
  unsigned char uuid[VIR_UUID_BUFLEN];
  char uuid_str[VIR_UUID_STRING_BUFLEN];
  int id;
  char *name;
  vs_domain_label_t *label; /* how it is named in identifiers */
  vs_domxml_devices_t devices;
  bool devices_known;
  virDomainBlockInfo *sizes; /* per disk: its last sizes (arming thresholds) */
  bool *sizes_ok;            /* per disk: sizes holds an answer */
  uint64_t sizes_ns;         /* when the call that read sizes was sent */
  vs_token_t *outstanding;   /* busy while a call on it is out */
  bool timeout_noted;        /* the current stuck call was notified */
  bool problem_noted;        /* a failing call was notified */
  bool seen;
  uint64_t asked; /* the cycle it was last asked in */
  bool sampled;   /* answered at least once */
  uint64_t last;  /* the cycle it last answered in */
  bool collides;  /* its identifier is another domain's: never asked (the
                     read thread reports it) */
} bi_domain_t;

/* A block threshold virtscale set, by domain UUID and disk target. The
 * block-info thread adds it before the call that sets it; the event loop
 * thread marks it fired when libvirt says it was crossed. Only these are
 * reported: thresholds other tools set, on any domain, are theirs. */
typedef struct {
  char uuid[VIR_UUID_STRING_BUFLEN];
  char *dev;
  unsigned long long at; /* bytes */
  bool fired;
  uint64_t fired_ns; /* when (vs_now_ns) */
} bi_armed_t;

struct vs_blockinfo {
  const vs_config_t *cfg; /* borrowed, immutable */
  char *hostname;
  vs_sink_t sink;
  const vs_virt_api_t *api;
  /* results for the read thread to hand over (vs_blockinfo_take) */
  pthread_mutex_t mail_lock; /* guards mail, nmail, stuck, nstuck */
  vs_domain_result_t *mail;
  size_t nmail;
  vs_blockinfo_stuck_t *stuck; /* calls given up, until they return */
  size_t nstuck;
  uint64_t period_ns, timeout_ns;
  vs_executor_t *ex;
  vs_conn_t *conn;    /* the calls (read-write when arming thresholds) */
  vs_conn_t *ev_conn; /* threshold events, kept off the connection whose
                         calls can get stuck */
  bi_domain_t *doms;
  size_t ndoms;
  pthread_t thread;
  pthread_mutex_t lock; /* guards stop and wake */
  pthread_cond_t wake;
  bool stop;
  atomic_bool stopping;       /* stop, read between calls without the lock */
  pthread_mutex_t armed_lock; /* guards armed, narmed */
  bi_armed_t *armed;
  size_t narmed;
  atomic_uint_fast64_t timeouts;
  uint64_t cycle_no; /* the thread's own */
  /* The same budget logic as the sampler's monitor tier (vs_schedule.h):
   * when a round over every domain outgrows the period, each cycle asks a
   * share of the domains, longest unasked first. Thread's own. */
  vs_plan_t plan;
  char plan_note[320]; /* guarded by mail_lock: for the next read's log */
};

bool vs_blockinfo_wanted(const vs_config_t *cfg, vs_stats_mode_t mode) {
  if (cfg->blockinfo_set)
    return cfg->blockinfo;
  return mode == VS_MODE_PER_DOMAIN || cfg->block_threshold > 0 ||
         cfg->blockinfo_interval > 0;
}

/* --- thresholds virtscale set (armed_lock held) --------------------------- */

static bi_armed_t *armed_find(vs_blockinfo_t *b, const char *uuid,
                              const char *dev) {
  for (size_t i = 0; i < b->narmed; i++)
    if (strcmp(b->armed[i].uuid, uuid) == 0 &&
        strcmp(b->armed[i].dev, dev) == 0)
      return &b->armed[i];
  return NULL;
}

/* Set, not yet fired; -ENOMEM when it cannot be recorded. */
static int armed_set(vs_blockinfo_t *b, const char *uuid, const char *dev,
                     unsigned long long at) {
  bi_armed_t *a = armed_find(b, uuid, dev);
  if (!a) {
    char *d = strdup(dev);
    bi_armed_t *p = d ? realloc(b->armed, (b->narmed + 1) * sizeof(*p)) : NULL;
    if (!p) {
      free(d);
      return -ENOMEM;
    }
    b->armed = p;
    a = &p[b->narmed++];
    snprintf(a->uuid, sizeof(a->uuid), "%s", uuid);
    a->dev = d;
  }
  a->at = at;
  a->fired = false;
  return 0;
}

/* Forget the thresholds of one disk (dev) or of every disk (dev NULL). */
static void armed_drop(vs_blockinfo_t *b, const char *uuid, const char *dev) {
  size_t out = 0;
  for (size_t i = 0; i < b->narmed; i++) {
    bi_armed_t *a = &b->armed[i];
    if (strcmp(a->uuid, uuid) == 0 && (!dev || strcmp(a->dev, dev) == 0))
      free(a->dev);
    else
      b->armed[out++] = *a;
  }
  b->narmed = out;
}

static void armed_drop_locked(vs_blockinfo_t *b, const char *uuid,
                              const char *dev) {
  vs_lock(&b->armed_lock);
  armed_drop(b, uuid, dev);
  vs_unlock(&b->armed_lock);
}

/* --- event loop thread --------------------------------------------------- */

static void on_threshold(void *ud, const vs_event_domain_t *dom,
                         const char *dev, unsigned long long threshold,
                         unsigned long long excess) {
  vs_blockinfo_t *b = ud; /* immutable fields and the armed table */
  /* Ours only when we set exactly this threshold and it has not fired yet:
   * libvirt reports each crossing twice, by target ("vda") and by index
   * ("vda[1]"), and reports thresholds other tools set too. */
  vs_lock(&b->armed_lock);
  bi_armed_t *a = dom->uuid ? armed_find(b, dom->uuid, dev) : NULL;
  bool ours = a && a->at == threshold && !a->fired;
  if (ours) {
    a->fired = true;
    a->fired_ns = vs_now_ns();
  }
  vs_unlock(&b->armed_lock);
  if (!ours)
    return;
  const char *name = dom->name;
  char host[VS_IDENT_MAX], pinst[VS_IDENT_MAX], ti[VS_IDENT_MAX];
  vs_domain_names(b->cfg, name, dom->uuid, b->hostname, host, pinst);
  vs_idfield(ti, sizeof(ti), dev);
  vs_sink_note(
      &b->sink, VS_NOTE_WARNING, host, pinst, "disk_allocation", ti,
      "disk %s of domain %s passed %g%% of its capacity (threshold %llu "
      "bytes, %llu bytes over)",
      dev, name, b->cfg->block_threshold, threshold, excess);
}

/* --- one domain's calls, as a job --------------------------------------- */

typedef struct {
  virDomainPtr dom;
  vs_token_t *outstanding;
  bool need_xml;
  vs_domxml_devices_t devices; /* in (copy) or fetched */
  unsigned long long *arm_at;  /* in: per disk, the threshold to set (0: no) */
  /* results */
  virDomainBlockInfo *info;
  bool *ok;
  bool *armed;
  bool xml_ok; /* need_xml and the devices were read */
  char problem[VS_ERROR_MSG_MAX];
  uint64_t answered_wall_ns; /* the values' time */
} bi_job_t;

static void bi_fn(void *arg) {
  bi_job_t *j = arg;
  if (j->need_xml) {
    char *xml = virDomainGetXMLDesc(j->dom, 0);
    vs_error_t err = {0};
    if (!xml)
      snprintf(j->problem, sizeof(j->problem), "virDomainGetXMLDesc: %s",
               virGetLastErrorMessage());
    else if (vs_domxml_devices(xml, &j->devices, &err) < 0)
      snprintf(j->problem, sizeof(j->problem), "%s", err.msg);
    else
      j->xml_ok = true;
    free(xml);
  }
  size_t n = j->devices.ndisks;
  j->info = calloc(n ? n : 1, sizeof(*j->info));
  j->ok = calloc(n ? n : 1, sizeof(*j->ok));
  j->armed = calloc(n ? n : 1, sizeof(*j->armed));
  for (size_t i = 0; j->info && j->ok && j->armed && i < n; i++) {
    if (!j->devices.disk_sources[i])
      continue; /* an empty drive has no size */
    const char *dev = j->devices.disk_targets[i];
    j->ok[i] = virDomainGetBlockInfo(j->dom, dev, &j->info[i], 0) == 0;
    if (!j->ok[i] && !j->problem[0])
      snprintf(j->problem, sizeof(j->problem), "virDomainGetBlockInfo(%s): %s",
               dev, virGetLastErrorMessage());
    if (j->arm_at && j->arm_at[i] > 0) {
      j->armed[i] =
          virDomainSetBlockThreshold(j->dom, dev, j->arm_at[i], 0) == 0;
      if (!j->armed[i] && !j->problem[0])
        snprintf(j->problem, sizeof(j->problem),
                 "virDomainSetBlockThreshold(%s): %s", dev,
                 virGetLastErrorMessage());
    }
  }
  j->answered_wall_ns = vs_wall_ns();
  vs_token_set(j->outstanding, false);
}

static void bi_release(void *arg) {
  bi_job_t *j = arg;
  vs_token_set(j->outstanding, false); /* also when the job never ran */
  virDomainFree(j->dom);
  vs_token_unref(j->outstanding);
  vs_domxml_devices_clear(&j->devices);
  free(j->arm_at);
  free(j->info);
  free(j->ok);
  free(j->armed);
  free(j);
}

/* --- the thread ------------------------------------------------------------
 */

static bi_domain_t *find_domain(vs_blockinfo_t *b, const unsigned char *uuid) {
  for (size_t i = 0; i < b->ndoms; i++)
    if (memcmp(b->doms[i].uuid, uuid, VIR_UUID_BUFLEN) == 0)
      return &b->doms[i];
  return NULL;
}

static void domain_clear(bi_domain_t *d) {
  free(d->name);
  vs_domxml_devices_clear(&d->devices);
  free(d->sizes);
  free(d->sizes_ok);
  vs_token_unref(d->outstanding);
  vs_domain_label_unref(d->label);
  memset(d, 0, sizeof(*d));
}

/* Whether another domain, not itself left out, has d's identifier. */
static bool same_identifier(const vs_blockinfo_t *b, const bi_domain_t *d) {
  for (size_t i = 0; i < b->ndoms; i++) {
    const bi_domain_t *f = &b->doms[i];
    if (f != d && f->label && !f->collides &&
        vs_domain_label_same_id(f->label, d->label))
      return true;
  }
  return false;
}

/* The entry for dom, (re)initialised when new or restarted. */
static bi_domain_t *track(vs_blockinfo_t *b, virDomainPtr dom) {
  unsigned char uuid[VIR_UUID_BUFLEN];
  const char *name = virDomainGetName(dom);
  if (!name || virDomainGetUUID(dom, uuid) < 0)
    return NULL;
  const char *names[] = {name};
  if (!vs_filter_selects(&b->cfg->domains, names, 1))
    return NULL;
  int id = (int)virDomainGetID(dom);
  bi_domain_t *d = find_domain(b, uuid);
  if (d && d->id != id) {
    /* Restarted: a call still out on the old run keeps its own token, and
     * the new QEMU has none of the old one's thresholds. */
    armed_drop_locked(b, d->uuid_str, NULL);
    domain_clear(d);
  } else if (!d) {
    bi_domain_t *p = realloc(b->doms, (b->ndoms + 1) * sizeof(*p));
    if (!p)
      return NULL;
    b->doms = p;
    d = &b->doms[b->ndoms++];
    memset(d, 0, sizeof(*d));
  }
  if (!d->name) {
    virDomainGetUUIDString(dom, d->uuid_str);
    memcpy(d->uuid, uuid, VIR_UUID_BUFLEN);
    d->id = id;
    d->name = strdup(name);
    d->outstanding = vs_token_new();
    d->label = vs_domain_label_new(b->cfg, name, d->uuid_str, b->hostname);
    if (!d->name || !d->outstanding || !d->label)
      return NULL;
    d->collides = same_identifier(b, d);
  } else if (d->collides) {
    d->collides = same_identifier(b, d); /* the other one may be gone */
  }
  d->seen = true;
  return d;
}

static void sweep(vs_blockinfo_t *b) {
  size_t out = 0;
  for (size_t i = 0; i < b->ndoms; i++) {
    if (b->doms[i].seen) {
      b->doms[i].seen = false;
      b->doms[out++] = b->doms[i];
    } else {
      armed_drop_locked(b, b->doms[i].uuid_str, NULL);
      domain_clear(&b->doms[i]);
    }
  }
  b->ndoms = out;
}

/* The sizes of an answered call, into the mailbox: the read thread hands
 * them to collectd, with the time the call answered. */
static void post_sizes(vs_blockinfo_t *b, const bi_domain_t *d,
                       const bi_job_t *j) {
  vs_domain_stats_t st = {.groups = VS_GROUP_BLOCK};
  for (size_t i = 0; i < j->devices.ndisks; i++) {
    if (!j->ok[i])
      continue;
    vs_device_stats_t *dev = vs_device_stats_append(&st.block, &st.nblock,
                                                    j->devices.disk_targets[i],
                                                    j->devices.disk_sources[i]);
    if (!dev)
      break;
    vs_fields_set(&dev->f, VS_BLK_ALLOCATION, j->info[i].allocation);
    vs_fields_set(&dev->f, VS_BLK_CAPACITY, j->info[i].capacity);
    vs_fields_set(&dev->f, VS_BLK_PHYSICAL, j->info[i].physical);
  }
  vs_lock(&b->mail_lock);
  vs_domain_result_t *p = realloc(b->mail, (b->nmail + 1) * sizeof(*p));
  if (p) {
    b->mail = p;
    p[b->nmail++] = (vs_domain_result_t){.label = vs_domain_label_ref(d->label),
                                         .st = st, /* moved */
                                         .wall_ns = j->answered_wall_ns,
                                         .interval_ns = b->period_ns};
  } else {
    vs_domain_stats_clear(&st);
  }
  vs_unlock(&b->mail_lock);
}

void vs_blockinfo_take(vs_blockinfo_t *b, vs_sample_t *s) {
  vs_lock(&b->mail_lock);
  vs_domain_result_t *mail = b->mail;
  size_t n = b->nmail;
  b->mail = NULL;
  b->nmail = 0;
  if (b->plan_note[0]) {
    size_t len = strlen(s->plan);
    snprintf(s->plan + len, sizeof(s->plan) - len, "%s%s", len ? "; " : "",
             b->plan_note);
    b->plan_note[0] = '\0';
  }
  vs_unlock(&b->mail_lock);
  for (size_t i = 0; i < n; i++) {
    vs_domain_result_t *r = vs_sample_add_result(s, mail[i].label, &mail[i].st);
    if (r) {
      r->wall_ns = mail[i].wall_ns;
      r->interval_ns = mail[i].interval_ns;
    }
    vs_domain_label_unref(mail[i].label);
  }
  free(mail);
}

/* The threshold to set on disk i now (recorded as set), or 0. From the
 * disk's last sizes: a disk is armed once, again when its capacity changed
 * (a grown thin disk gets the threshold at its new size) and, after the
 * threshold fired (libvirt removes it then), once its allocation is back
 * under it. Never again at the same size while the disk stays over it:
 * that would report every write. */
static unsigned long long arm_level(vs_blockinfo_t *b, const bi_domain_t *d,
                                    size_t i) {
  if (b->cfg->block_threshold <= 0 || !d->sizes_ok || !d->sizes_ok[i] ||
      d->sizes[i].capacity == 0)
    return 0;
  unsigned long long at = (unsigned long long)((double)d->sizes[i].capacity *
                                               b->cfg->block_threshold / 100);
  const char *dev = d->devices.disk_targets[i];
  vs_lock(&b->armed_lock);
  const bi_armed_t *a = armed_find(b, d->uuid_str, dev);
  /* Back under it: by sizes read after it fired. */
  bool under =
      a && a->fired && d->sizes_ns > a->fired_ns && d->sizes[i].allocation < at;
  bool arm = !a || a->at != at || under;
  if (arm)
    arm = armed_set(b, d->uuid_str, dev, at) == 0;
  vs_unlock(&b->armed_lock);
  return arm ? at : 0;
}

static bi_job_t *new_job(vs_blockinfo_t *b, bi_domain_t *d, virDomainPtr dom) {
  bi_job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return NULL;
  virDomainRef(dom);
  j->dom = dom;
  j->outstanding = vs_token_ref(d->outstanding);
  j->need_xml = !d->devices_known;
  if (d->devices_known) {
    size_t n = d->devices.ndisks;
    j->devices.ndisks = n;
    j->devices.disk_targets = calloc(n ? n : 1, sizeof(char *));
    j->devices.disk_sources = calloc(n ? n : 1, sizeof(char *));
    j->arm_at = calloc(n ? n : 1, sizeof(*j->arm_at));
    bool oom =
        !j->devices.disk_targets || !j->devices.disk_sources || !j->arm_at;
    for (size_t i = 0; !oom && i < n; i++)
      oom =
          !(j->devices.disk_targets[i] = strdup(d->devices.disk_targets[i])) ||
          (d->devices.disk_sources[i] &&
           !(j->devices.disk_sources[i] = strdup(d->devices.disk_sources[i])));
    if (oom) {
      bi_release(j);
      return NULL;
    }
    for (size_t i = 0; i < n; i++)
      j->arm_at[i] = arm_level(b, d, i);
  }
  return j;
}

/* How long a close waits for a worker once the thread is to stop: every
 * worker may be stuck, and shutdown must not wait out BlockInfoTimeout. */
#define STOP_CLOSE_NS (1 * VS_NS_PER_SEC)

/* The deadline for closing a connection now. */
static uint64_t close_deadline(const vs_blockinfo_t *b) {
  return vs_now_ns() +
         (atomic_load(&b->stopping) ? STOP_CLOSE_NS : b->timeout_ns);
}

/* Calls whose token is no longer busy have returned (mail_lock held). */
static void prune_stuck_locked(vs_blockinfo_t *b) {
  size_t k = 0;
  for (size_t i = 0; i < b->nstuck; i++) {
    if (vs_token_busy(b->stuck[i].token))
      b->stuck[k++] = b->stuck[i];
    else
      vs_token_unref(b->stuck[i].token);
  }
  b->nstuck = k;
}

/* d's call was given up while still out: the read thread judges d. */
static void post_stuck(vs_blockinfo_t *b, bi_domain_t *d) {
  vs_lock(&b->mail_lock);
  prune_stuck_locked(b);
  vs_blockinfo_stuck_t *p = realloc(b->stuck, (b->nstuck + 1) * sizeof(*p));
  if (p) {
    b->stuck = p;
    memcpy(p[b->nstuck].uuid.b, d->uuid, sizeof(p[b->nstuck].uuid.b));
    p[b->nstuck++].token = vs_token_ref(d->outstanding);
  }
  vs_unlock(&b->mail_lock);
}

size_t vs_blockinfo_stuck(vs_blockinfo_t *b, vs_blockinfo_stuck_t **ret) {
  *ret = NULL;
  vs_lock(&b->mail_lock);
  prune_stuck_locked(b);
  size_t n = b->nstuck;
  vs_blockinfo_stuck_t *out = n ? malloc(n * sizeof(*out)) : NULL;
  for (size_t i = 0; out && i < n; i++)
    out[i] = (vs_blockinfo_stuck_t){.uuid = b->stuck[i].uuid,
                                    .token = vs_token_ref(b->stuck[i].token)};
  vs_unlock(&b->mail_lock);
  *ret = out;
  return out ? n : 0;
}

/* Ask one domain; returns whether its call got stuck (timed out). */
static bool cycle_domain(vs_blockinfo_t *b, bi_domain_t *d, virDomainPtr dom) {
  if (d->collides)
    return false;
  if (vs_token_busy(d->outstanding))
    return false; /* never a second call on a domain that has not answered */
  bi_job_t *j = new_job(b, d, dom);
  if (!j)
    return false;
  vs_token_set(d->outstanding, true);
  uint64_t t0 = vs_now_ns();
  int r = vs_executor_run_stoppable(b->ex, bi_fn, bi_release, j,
                                    t0 + b->timeout_ns, &b->stopping);
  if (r == 0) {
    vs_plan_note_call(&b->plan, 1u << VS_TIER_AUTO, 1, vs_now_ns() - t0);
    d->sampled = true;
    d->last = b->cycle_no;
  }
  if (r < 0 && atomic_load(&b->stopping))
    return true; /* cut short by stop, not a timeout */
  if (r == -ETIMEDOUT)
    post_stuck(b, d);
  if (r < 0) {
    atomic_fetch_add(&b->timeouts, 1);
    if (!d->timeout_noted) {
      d->timeout_noted = true;
      vs_sink_note(&b->sink, VS_NOTE_WARNING, d->label->host,
                   d->label->plugin_instance, "disk_allocation", "",
                   "block info of domain %s did not answer within %.2f s; no "
                   "further call until it does",
                   d->name, (double)b->timeout_ns / VS_NS_PER_SEC);
    }
    return true;
  }
  if (d->timeout_noted) {
    d->timeout_noted = false;
    vs_sink_note(&b->sink, VS_NOTE_OKAY, d->label->host,
                 d->label->plugin_instance, "disk_allocation", "",
                 "block info of domain %s answers again", d->name);
  }
  if (j->problem[0] && !d->problem_noted)
    vs_sink_note(&b->sink, VS_NOTE_WARNING, d->label->host,
                 d->label->plugin_instance, "disk_allocation", "",
                 "block info of domain %s: %s", d->name, j->problem);
  d->problem_noted = j->problem[0] != '\0';
  if (j->info && j->ok)
    post_sizes(b, d, j);
  size_t nj = j->devices.ndisks; /* j->info and j->ok have nj entries */
  /* A threshold that could not be set is tried again next cycle. */
  for (size_t i = 0; j->arm_at && j->armed && i < j->devices.ndisks; i++)
    if (j->arm_at[i] > 0 && !j->armed[i])
      armed_drop_locked(b, d->uuid_str, j->devices.disk_targets[i]);
  if (j->xml_ok) {
    vs_domxml_devices_clear(&d->devices);
    d->devices = j->devices; /* moved */
    memset(&j->devices, 0, sizeof(j->devices));
    d->devices_known = true;
    size_t n = d->devices.ndisks ? d->devices.ndisks : 1;
    free(d->sizes);
    free(d->sizes_ok);
    d->sizes = calloc(n, sizeof(*d->sizes));
    d->sizes_ok = calloc(n, sizeof(*d->sizes_ok));
  }
  for (size_t i = 0; d->sizes && d->sizes_ok && j->info && j->ok && i < nj &&
                     i < d->devices.ndisks;
       i++) {
    d->sizes_ok[i] = j->ok[i];
    if (j->ok[i])
      d->sizes[i] = j->info[i];
  }
  d->sizes_ns = t0;
  bi_release(j);
  return false;
}

typedef struct {
  vs_conn_t *conn;
  virDomainPtr *doms;
  int n;
} list_job_t;

static void list_fn(void *arg) {
  list_job_t *j = arg;
  j->n = virConnectListAllDomains(
      (virConnectPtr)vs_conn_api(j->conn)->virt(vs_conn_handle(j->conn)),
      &j->doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
}

static void list_release(void *arg) {
  list_job_t *j = arg;
  for (int i = 0; i < j->n; i++)
    virDomainFree(j->doms[i]);
  free(j->doms);
  vs_conn_unref(j->conn);
  free(j);
}

/* Have b->conn (and the threshold events connection when wanted). */
static bool connect_calls(vs_blockinfo_t *b, uint64_t deadline) {
  if (b->conn && vs_conn_is_closed(b->conn)) {
    vs_conn_close(b->conn, b->ex, deadline);
    b->conn = NULL;
  }
  if (b->ev_conn && vs_conn_is_closed(b->ev_conn)) {
    vs_conn_close(b->ev_conn, b->ex, deadline);
    b->ev_conn = NULL;
  }
  vs_conn_opts_t o = {
      .uri = b->cfg->uri,
      /* Setting block thresholds needs a read-write connection. */
      .read_only = b->cfg->block_threshold <= 0,
      .keepalive_interval = (int)b->cfg->keepalive_interval,
      .keepalive_count = (unsigned)b->cfg->keepalive_count,
  };
  vs_error_t err = {0};
  vs_conn_events_t none = {0};
  if (!b->conn && vs_conn_open(b->ex, b->api, &o, &none, NULL, deadline,
                               &b->conn, &err) < 0)
    return false; /* the sampler reports the connection; try next cycle */
  if (!b->ev_conn && b->cfg->block_threshold > 0) {
    o.read_only = true;
    vs_conn_events_t ev = {.ud = b, .block_threshold = on_threshold};
    vs_conn_open(b->ex, b->api, &o, &ev, NULL, deadline, &b->ev_conn, &err);
  }
  return true;
}

/* List the domains and ask each one not yet asked in this cycle, one call
 * at a time. A call that gets stuck holds its connection up: calls sent
 * after it on the same connection were seen to miss their deadline with it
 * (as the sampler found, see docs/design.md). So the connection is left to
 * the stuck call and the pass ends. Returns 1 when the rest is to be asked
 * on a fresh connection, 0 when done, -1 when there was no listing. */
static int pass(vs_blockinfo_t *b) {
  uint64_t deadline = vs_now_ns() + b->timeout_ns;
  if (!connect_calls(b, deadline))
    return -1;
  list_job_t *l = calloc(1, sizeof(*l));
  if (!l)
    return -1;
  l->conn = vs_conn_ref(b->conn);
  if (vs_executor_run_stoppable(b->ex, list_fn, list_release, l, deadline,
                                &b->stopping) < 0)
    return -1;
  bool stuck = false;
  size_t n = l->n > 0 ? (size_t)l->n : 0;
  /* Indices into b->doms, not pointers: tracking a new domain may move it. */
  long *ds = calloc(n ? n : 1, sizeof(*ds));
  vs_plan_candidate_t *cand = calloc(n ? n : 1, sizeof(*cand));
  size_t *pick = calloc(n ? n : 1, sizeof(*pick));
  size_t m = 0;
  if (ds && cand && pick) {
    for (size_t i = 0; i < n; i++) {
      const bi_domain_t *d = track(b, l->doms[i]); /* seen, asked or not */
      ds[i] = d ? d - b->doms : -1;
    }
    for (size_t i = 0; i < n; i++) {
      const bi_domain_t *d = ds[i] >= 0 ? &b->doms[ds[i]] : NULL;
      cand[i] =
          (vs_plan_candidate_t){.eligible = d && d->asked != b->cycle_no &&
                                            !vs_token_busy(d->outstanding),
                                .sampled = d && d->sampled,
                                .last_tick = d ? d->last : 0};
    }
    m = vs_plan_pick(&b->plan, VS_TIER_AUTO, b->cycle_no, cand, n, n, pick);
  }
  size_t k = 0;
  for (; k < m && !stuck && !atomic_load(&b->stopping); k++) {
    bi_domain_t *d = &b->doms[ds[pick[k]]];
    d->asked = b->cycle_no;
    stuck = cycle_domain(b, d, l->doms[pick[k]]);
  }
  /* Left for the second pass on a fresh connection: their turn is not
   * used up. */
  size_t left = 0;
  for (; k < m; k++)
    left += b->doms[ds[pick[k]]].sampled;
  vs_plan_unpick(&b->plan, VS_TIER_AUTO, left);
  free(ds);
  free(cand);
  free(pick);
  list_release(l);
  if (stuck) {
    /* Closing only drops our reference: the stuck call's domain keeps the
     * libvirt connection until that call returns. */
    vs_conn_close(b->conn, b->ex, close_deadline(b));
    b->conn = NULL;
  }
  return stuck ? 1 : 0;
}

static void cycle(vs_blockinfo_t *b) {
  b->cycle_no++;
  int r = pass(b);
  if (r < 0)
    return; /* nothing listed: keep every domain's state */
  if (r > 0 && !atomic_load(&b->stopping))
    pass(b); /* a second QEMU stuck in the same cycle waits for the next */
  sweep(b);
  /* One connection, one call at a time: a round over n domains takes n
   * calls' wall. */
  if (vs_plan_adapt(&b->plan, b->ndoms, 1)) {
    const vs_plan_t *p = &b->plan;
    vs_lock(&b->mail_lock);
    vs_plan_describe(p, "block info", "each domain's disk sizes", b->plan_note,
                     sizeof(b->plan_note));
    vs_unlock(&b->mail_lock);
  }
}

static void *thread_main(void *arg) {
  vs_blockinfo_t *b = arg;
  uint64_t next = vs_now_ns();
  vs_lock(&b->lock);
  while (!b->stop) {
    vs_unlock(&b->lock);
    cycle(b);
    vs_lock(&b->lock);
    /* Fixed cadence, start to start; a slow cycle skips missed ticks. */
    uint64_t now = vs_now_ns();
    do
      next += b->period_ns;
    while (next <= now);
    while (!b->stop && vs_now_ns() < next)
      vs_cond_wait_until(&b->wake, &b->lock, next);
  }
  vs_unlock(&b->lock);
  return NULL;
}

int vs_blockinfo_start(const vs_config_t *cfg, const char *hostname,
                       uint64_t interval_ns, const vs_sink_t *sink,
                       const vs_virt_api_t *api, vs_blockinfo_t **ret,
                       vs_error_t *err) {
  vs_blockinfo_t *b = calloc(1, sizeof(*b));
  if (!b)
    return vs_error_set(err, -ENOMEM, "out of memory");
  b->cfg = cfg;
  b->sink = *sink;
  b->api = api;
  b->hostname = strdup(hostname);
  b->period_ns = cfg->blockinfo_interval > 0
                     ? (uint64_t)(cfg->blockinfo_interval * VS_NS_PER_SEC)
                     : interval_ns;
  b->timeout_ns = (uint64_t)(cfg->blockinfo_timeout * VS_NS_PER_SEC);
  if (b->timeout_ns >= b->period_ns)
    b->timeout_ns = b->period_ns / 2;
  vs_plan_init(&b->plan, VS_GROUP_BLOCK, true, NULL, b->period_ns, 1,
               b->timeout_ns);
  vs_mutex_init(&b->lock);
  vs_mutex_init(&b->mail_lock);
  vs_mutex_init(&b->armed_lock);
  vs_cond_init(&b->wake);
  vs_executor_opts_t eo = {.name = "vs-blkinfo",
                           .max_workers = 1,
                           .max_abandoned = (unsigned)cfg->max_abandoned};
  int r = b->hostname ? vs_executor_new(&eo, &b->ex, err)
                      : vs_error_set(err, -ENOMEM, "out of memory");
  if (r == 0 && (r = vs_eventloop_ref(err)) < 0) {
    vs_executor_free(b->ex, 0);
    b->ex = NULL;
  }
  if (r == 0 && pthread_create(&b->thread, NULL, thread_main, b) != 0) {
    vs_eventloop_unref();
    r = vs_error_set(err, -EAGAIN, "cannot start the block-info thread");
  }
  if (r < 0) {
    vs_executor_free(b->ex, 0);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->mail_lock);
    pthread_mutex_destroy(&b->armed_lock);
    pthread_cond_destroy(&b->wake);
    free(b->hostname);
    free(b);
    return r;
  }
  pthread_setname_np(b->thread, "vs-blockinfo");
  *ret = b;
  return 0;
}

void vs_blockinfo_counters(vs_blockinfo_t *b, vs_blockinfo_counters_t *ret) {
  vs_executor_stats_t st;
  vs_executor_stats(b->ex, &st);
  ret->abandoned_now = st.abandoned;
  ret->abandoned_total = st.abandoned_total;
  ret->timeouts_total = atomic_load(&b->timeouts);
}

void vs_blockinfo_stop(vs_blockinfo_t *b) {
  if (!b)
    return;
  vs_lock(&b->lock);
  b->stop = true;
  atomic_store(&b->stopping, true);
  pthread_cond_signal(&b->wake);
  vs_unlock(&b->lock);
  pthread_join(b->thread, NULL);
  vs_conn_close(b->conn, b->ex, close_deadline(b));
  vs_conn_close(b->ev_conn, b->ex, close_deadline(b));
  vs_executor_free(b->ex, 2 * VS_NS_PER_SEC);
  for (size_t i = 0; i < b->ndoms; i++)
    domain_clear(&b->doms[i]);
  free(b->doms);
  for (size_t i = 0; i < b->nmail; i++) {
    vs_domain_stats_clear(&b->mail[i].st);
    vs_domain_label_unref(b->mail[i].label);
  }
  free(b->mail);
  for (size_t i = 0; i < b->nstuck; i++)
    vs_token_unref(b->stuck[i].token);
  free(b->stuck);
  for (size_t i = 0; i < b->narmed; i++)
    free(b->armed[i].dev);
  free(b->armed);
  vs_eventloop_unref();
  pthread_mutex_destroy(&b->lock);
  pthread_mutex_destroy(&b->mail_lock);
  pthread_mutex_destroy(&b->armed_lock);
  pthread_cond_destroy(&b->wake);
  free(b->hostname);
  free(b);
}
