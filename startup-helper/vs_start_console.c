#define _GNU_SOURCE /* memmem */
#include "vs_start_console.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_thread.h"
#include "vs_start_virt.h"

#define READ_CHUNK 4096

struct vs_console_probe {
  pthread_mutex_t lock; /* guards st, stopped, told; held while reading */
  virStreamPtr st;      /* NULL once stopped */
  bool stopped;         /* no more callbacks to fn */
  bool told;            /* fn was called */
  vs_console_fn fn;
  void *opaque;
  size_t text_len;
  size_t keep;  /* bytes of the previous read kept in window */
  char *window; /* text_len - 1 kept bytes + one read */
  char text[];  /* the marker */
};

/* Freed by libvirt when the callback is removed and none is running. */
static void probe_free(void *opaque) {
  vs_console_probe_t *p = opaque;
  pthread_mutex_destroy(&p->lock);
  free(p->window);
  free(p);
}

static void tell(vs_console_probe_t *p, int found, const char *why) {
  if (p->told || p->stopped)
    return;
  p->told = true;
  p->fn(p->opaque, found, why);
}

static void on_stream(virStreamPtr st, int events, void *opaque) {
  vs_console_probe_t *p = opaque;
  vs_lock(&p->lock);
  if (p->stopped || !p->st || p->told) {
    vs_unlock(&p->lock);
    return;
  }
  if (events & VIR_STREAM_EVENT_READABLE) {
    for (;;) {
      int n = virStreamRecv(p->st, p->window + p->keep, READ_CHUNK);
      if (n == -2)
        break; /* nothing more for now */
      if (n <= 0) {
        tell(p, 0, n == 0 ? "console closed" : "console read failed");
        break;
      }
      size_t len = p->keep + (size_t)n;
      if (memmem(p->window, len, p->text, p->text_len)) {
        tell(p, 1, NULL);
        break;
      }
      /* Keep the tail that could start a marker split across reads. */
      size_t keep = p->text_len - 1 < len ? p->text_len - 1 : len;
      memmove(p->window, p->window + len - keep, keep);
      p->keep = keep;
    }
  } else if (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP)) {
    tell(p, 0, "console closed");
  }
  vs_unlock(&p->lock);
}

int vs_console_probe_start(vs_executor_t *ex, virConnectPtr conn,
                           virDomainPtr dom, const char *text, vs_console_fn fn,
                           void *opaque, uint64_t deadline_ns,
                           vs_console_probe_t **ret, vs_error_t *err) {
  size_t len = strlen(text);
  if (len == 0)
    return vs_error_set(err, -EINVAL, "empty console marker");
  vs_console_probe_t *p = calloc(1, sizeof(*p) + len + 1);
  if (!p)
    return vs_error_set(err, -ENOMEM, "out of memory");
  p->window = malloc(len + READ_CHUNK);
  if (!p->window) {
    free(p);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  memcpy(p->text, text, len + 1);
  p->text_len = len;
  p->fn = fn;
  p->opaque = opaque;
  vs_mutex_init(&p->lock);
  p->st = virStreamNew(conn, VIR_STREAM_NONBLOCK); /* local, no RPC */
  if (!p->st) {
    vs_error_set_virt(err, -EIO, "cannot create a console stream");
    probe_free(p);
    return err ? err->code : -EIO;
  }
  int r = vs_vcall_open_console(ex, dom, p->st, VIR_DOMAIN_CONSOLE_FORCE,
                                deadline_ns, err);
  if (r < 0) {
    /* A console opened after the deadline is aborted by its call. */
    virStreamFree(p->st);
    probe_free(p);
    return r;
  }
  if (virStreamEventAddCallback(p->st,
                                VIR_STREAM_EVENT_READABLE |
                                    VIR_STREAM_EVENT_ERROR |
                                    VIR_STREAM_EVENT_HANGUP,
                                on_stream, p, probe_free) < 0) {
    vs_error_set_virt(err, -EIO, "cannot watch the console stream");
    vs_vcall_stream_close(ex, p->st, deadline_ns, NULL);
    probe_free(p);
    return err ? err->code : -EIO;
  }
  *ret = p;
  return 0;
}

void vs_console_probe_stop(vs_executor_t *ex, vs_console_probe_t *p,
                           uint64_t deadline_ns) {
  if (!p)
    return;
  /* Wait out a running callback (it holds the lock), then make later ones
   * return at once; from RemoveCallback on, libvirt may free p. */
  vs_lock(&p->lock);
  virStreamPtr st = p->st;
  p->st = NULL;
  p->stopped = true;
  vs_unlock(&p->lock);
  virStreamEventRemoveCallback(st); /* local, no RPC */
  vs_vcall_stream_close(ex, st, deadline_ns, NULL);
}
