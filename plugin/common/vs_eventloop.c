#define _GNU_SOURCE /* pthread_setname_np */
#include "vs_eventloop.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vs_thread.h"
#include "vs_virt.h"

/* Process-wide, like the libvirt event implementation it drives. */
static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER; /* guards: */
static unsigned loop_refs;
static pthread_t loop_thread;
static atomic_bool loop_stop;

static void wake_cb(int timer, void *opaque) {
  /* Only here to make virEventRunDefaultImpl() return. */
  virEventRemoveTimeout(timer);
}

static void *loop_main(void *arg) {
  while (!atomic_load(&loop_stop))
    virEventRunDefaultImpl();
  return NULL;
}

int vs_eventloop_ref(vs_error_t *err) {
  int r = vs_virt_init(err);
  if (r < 0)
    return r;
  vs_lock(&loop_lock);
  if (loop_refs == 0) {
    atomic_store(&loop_stop, false);
    if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0) {
      vs_unlock(&loop_lock);
      return vs_error_set(err, -EAGAIN, "cannot start the event loop thread");
    }
    pthread_setname_np(loop_thread, "vs-events");
  }
  loop_refs++;
  vs_unlock(&loop_lock);
  return 0;
}

void vs_eventloop_unref(void) {
  vs_lock(&loop_lock);
  if (loop_refs > 0 && --loop_refs == 0) {
    atomic_store(&loop_stop, true);
    /* A zero timeout wakes the loop; it removes itself when it fires. */
    virEventAddTimeout(0, wake_cb, NULL, NULL);
    pthread_join(loop_thread, NULL);
  }
  vs_unlock(&loop_lock);
}
