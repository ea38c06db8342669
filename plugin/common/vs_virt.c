#include "vs_virt.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <pthread.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result; /* written once under init_once */

static void silent_error_func(void *opaque, virErrorPtr error) {
  /* Intentionally empty: errors are read back per thread, never printed. */
}

static void do_init(void) {
  if (virInitialize() < 0) {
    init_result = -EIO;
    return;
  }
  virSetErrorFunc(NULL, silent_error_func);
  /* Keepalive and event callbacks need an event implementation registered
   * before the first connection opens; vs_event_loop runs it. */
  init_result = virEventRegisterDefaultImpl() < 0 ? -EIO : 0;
}

int vs_virt_init(vs_error_t *err) {
  pthread_once(&init_once, do_init);
  if (init_result < 0)
    return vs_error_set(err, init_result, "virInitialize failed");
  return 0;
}

virConnectPtr vs_virt_open(const char *uri, bool read_only, vs_error_t *err) {
  if (vs_virt_init(err) < 0)
    return NULL;
  virConnectPtr conn =
      read_only ? virConnectOpenReadOnly(uri) : virConnectOpen(uri);
  if (!conn)
    vs_error_set_virt(err, -ECONNREFUSED, "cannot connect to %s",
                      uri ? uri : "libvirt's default URI");
  return conn;
}

void vs_virt_conn_close(virConnectPtr conn) {
  if (conn)
    virConnectClose(conn);
}

void vs_virt_domain_free(virDomainPtr dom) {
  if (dom)
    virDomainFree(dom);
}
