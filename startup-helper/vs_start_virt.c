#include "vs_start_virt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_virt.h"

static pthread_once_t events_once = PTHREAD_ONCE_INIT;
static int events_result; /* written once under events_once */

static void register_events(void) {
  events_result = virEventRegisterDefaultImpl() < 0 ? -EIO : 0;
}

int vs_virt_events_init(vs_error_t *err) {
  int r = vs_virt_init(err);
  if (r < 0)
    return r;
  pthread_once(&events_once, register_events);
  if (events_result < 0)
    return vs_error_set_virt(err, events_result,
                             "cannot register libvirt's event loop");
  return 0;
}

static void wake_cb(int timer, void *opaque) {
  /* Only there to make virEventRunDefaultImpl() return; disarm again. */
  virEventUpdateTimeout(timer, -1);
}

static void *event_thread(void *arg) {
  vs_virt_pool_t *p = arg;
  while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
    if (virEventRunDefaultImpl() < 0)
      break;
  return NULL;
}

static int open_conn(vs_virt_pool_t *p, vs_error_t *err) {
  virConnectPtr c = vs_virt_open(p->uri, false, err);
  if (!c)
    return err ? err->code : -ECONNREFUSED;
  /* Keepalive notices a dead libvirtd; drivers without it (test:///) say
   * so with 1 and that is fine. */
  virConnectSetKeepAlive(c, 5, 3);
  p->conns[p->n] = c;
  p->calls[p->n] = 0;
  p->n++;
  return 0;
}

int vs_virt_pool_open(vs_virt_pool_t *p, const char *uri, vs_error_t *err) {
  memset(p, 0, sizeof(*p));
  p->cb_id = -1;
  p->wake_timer = -1;
  pthread_mutex_init(&p->lock, NULL);
  pthread_mutex_init(&p->cb_lock, NULL);
  p->locks_init = true;
  int r = vs_virt_events_init(err);
  if (r < 0)
    return r;
  p->conns = calloc(VS_VIRT_MAX_CONNS, sizeof(*p->conns));
  p->calls = calloc(VS_VIRT_MAX_CONNS, sizeof(*p->calls));
  if (uri && !(p->uri = strdup(uri)))
    r = -ENOMEM;
  if (!p->conns || !p->calls || r < 0) {
    vs_virt_pool_close(p);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  p->wake_timer = virEventAddTimeout(-1, wake_cb, NULL, NULL);
  if (p->wake_timer < 0 ||
      pthread_create(&p->thread, NULL, event_thread, p) != 0) {
    vs_virt_pool_close(p);
    return vs_error_set(err, -EAGAIN, "cannot start the event thread");
  }
  p->thread_started = true;
  r = open_conn(p, err);
  if (r < 0)
    vs_virt_pool_close(p);
  return r;
}

int vs_virt_pool_grow(vs_virt_pool_t *p, unsigned calls_needed,
                      vs_error_t *err) {
  unsigned want =
      (calls_needed + VS_VIRT_CALLS_PER_CONN - 1) / VS_VIRT_CALLS_PER_CONN;
  if (want > VS_VIRT_MAX_CONNS)
    want = VS_VIRT_MAX_CONNS;
  while (p->n < want) {
    int r = open_conn(p, err);
    if (r < 0)
      return r;
  }
  return 0;
}

static void lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
                         int detail, void *opaque) {
  vs_virt_pool_t *p = opaque;
  unsigned char uuid[VIR_UUID_BUFLEN];
  if (virDomainGetUUID(dom, uuid) < 0) /* local, no RPC */
    return;
  pthread_mutex_lock(&p->cb_lock);
  if (p->fn)
    p->fn(p->opaque, uuid, event, detail);
  pthread_mutex_unlock(&p->cb_lock);
}

int vs_virt_pool_watch(vs_virt_pool_t *p, vs_lifecycle_fn fn, void *opaque,
                       vs_error_t *err) {
  pthread_mutex_lock(&p->cb_lock);
  p->fn = fn;
  p->opaque = opaque;
  pthread_mutex_unlock(&p->cb_lock);
  if (p->cb_id >= 0)
    return 0;
  p->cb_id = virConnectDomainEventRegisterAny(
      p->conns[0], NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), p, NULL);
  if (p->cb_id < 0)
    return vs_error_set_virt(err, -EIO, "cannot watch lifecycle events");
  return 0;
}

void vs_virt_pool_unwatch(vs_virt_pool_t *p) {
  pthread_mutex_lock(&p->cb_lock);
  p->fn = NULL;
  p->opaque = NULL;
  pthread_mutex_unlock(&p->cb_lock);
}

virConnectPtr vs_virt_pool_get(vs_virt_pool_t *p, unsigned *ret_idx) {
  pthread_mutex_lock(&p->lock);
  unsigned best = 0;
  for (unsigned i = 1; i < p->n; i++)
    if (p->calls[i] < p->calls[best])
      best = i;
  p->calls[best]++;
  pthread_mutex_unlock(&p->lock);
  *ret_idx = best;
  return p->conns[best];
}

void vs_virt_pool_put(vs_virt_pool_t *p, unsigned idx) {
  pthread_mutex_lock(&p->lock);
  if (p->calls[idx] > 0)
    p->calls[idx]--;
  pthread_mutex_unlock(&p->lock);
}

void vs_virt_pool_close(vs_virt_pool_t *p) {
  if (!p)
    return;
  if (p->cb_id >= 0 && p->n > 0)
    virConnectDomainEventDeregisterAny(p->conns[0], p->cb_id);
  p->cb_id = -1;
  for (unsigned i = 0; i < p->n; i++)
    vs_virt_conn_close(p->conns[i]);
  p->n = 0;
  if (p->thread_started) {
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
    virEventUpdateTimeout(p->wake_timer, 0);
    pthread_join(p->thread, NULL);
    p->thread_started = false;
  }
  if (p->wake_timer >= 0)
    virEventRemoveTimeout(p->wake_timer);
  p->wake_timer = -1;
  if (p->locks_init) {
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->cb_lock);
    p->locks_init = false;
  }
  free(p->conns);
  free(p->calls);
  free(p->uri);
  p->conns = NULL;
  p->calls = NULL;
  p->uri = NULL;
}
