#include "vs_probe.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/vs_time.h"
#include "vs_core_internal.h"

typedef struct {
  vs_conn_t *conn;   /* reference */
  vs_token_t *token; /* reference, or NULL */
  bool control;
  vs_listing_t l;
  char err_msg[256];
} probe_job_t;

static void probe_fn(void *arg) {
  probe_job_t *j = arg;
  vs_listing_t *l = &j->l;
  l->n = virConnectListAllDomains(vs_conn_virt(j->conn), &l->doms,
                                  VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (l->n < 0) {
    snprintf(j->err_msg, sizeof(j->err_msg), "%s", virGetLastErrorMessage());
  } else if (j->control && l->n > 0) {
    l->ci = calloc((size_t)l->n, sizeof(*l->ci));
    l->ci_ok = calloc((size_t)l->n, sizeof(*l->ci_ok));
    for (int i = 0; l->ci && l->ci_ok && i < l->n; i++)
      l->ci_ok[i] = virDomainGetControlInfo(l->doms[i], &l->ci[i], 0) == 0;
  }
  vs_conn_call_end(j->conn);
  if (j->token)
    vs_token_set(j->token, false);
}

static void listing_clear(vs_listing_t *l) {
  for (int i = 0; i < l->n; i++)
    virDomainFree(l->doms[i]);
  free(l->doms);
  free(l->ci);
  free(l->ci_ok);
}

static void probe_release(void *arg) {
  probe_job_t *j = arg;
  if (j->token) /* also when the job never ran */
    vs_token_set(j->token, false);
  listing_clear(&j->l);
  vs_token_unref(j->token);
  vs_conn_unref(j->conn);
  free(j);
}

void vs_listing_free(vs_listing_t *l) {
  if (!l)
    return;
  listing_clear(l);
  free(l);
}

int vs_probe_list(vs_core_t *c, vs_sample_t *s, bool control,
                  uint64_t deadline_ns, vs_listing_t **ret, vs_error_t *err) {
  /* One probe at a time: while one is stuck, libvirtd itself is. */
  if (control && vs_token_busy(c->probe_token))
    return vs_error_set(err, -ETIMEDOUT,
                        "libvirtd has not answered the last probe");
  if (!c->probe_conn)
    return vs_error_set(err, -ETIMEDOUT, "no probe connection yet");
  probe_job_t *j = calloc(1, sizeof(*j));
  vs_listing_t *l = calloc(1, sizeof(*l));
  if (!j || !l) {
    free(j);
    free(l);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  j->conn = vs_conn_ref(c->probe_conn);
  j->control = control;
  if (control) {
    j->token = vs_token_ref(c->probe_token);
    vs_token_set(j->token, true);
  }
  vs_conn_call_begin(j->conn);
  int r = vs_executor_run(c->ex, probe_fn, probe_release, j, deadline_ns);
  if (r < 0) {
    free(l);
    s->calls++;
    s->errors++;
    return vs_error_set(err, r, "libvirtd did not answer the domain list");
  }
  s->calls += 1 + (control && j->l.n > 0 ? (unsigned)j->l.n : 0);
  if (j->l.n < 0) {
    s->errors++;
    r = vs_error_set(err, -EIO, "cannot list domains: %s", j->err_msg);
    free(l);
    probe_release(j);
    return r;
  }
  *l = j->l; /* moved */
  j->l = (vs_listing_t){0};
  probe_release(j);
  *ret = l;
  return 0;
}

const char *vs_listing_verdict(const vs_listing_t *l, int i, uint64_t limit_ns,
                               char *buf, size_t len) {
  if (!l->ci || !l->ci_ok || !l->ci_ok[i])
    return NULL;
  const virDomainControlInfo *ci = &l->ci[i];
  if (ci->state == VIR_DOMAIN_CONTROL_ERROR) {
    snprintf(buf, len, "its QEMU monitor failed");
    return buf;
  }
  if (ci->state == VIR_DOMAIN_CONTROL_OCCUPIED &&
      (uint64_t)ci->stateTime * VS_NS_PER_MS >= limit_ns) {
    snprintf(buf, len, "its QEMU monitor has been busy for %.1f s",
             ci->stateTime / 1000.0);
    return buf;
  }
  return NULL;
}
