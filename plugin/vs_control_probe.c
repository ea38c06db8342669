#include "vs_control_probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  vs_conn_t *conn;  /* reference */
  vs_token_t *busy; /* reference */
  vs_uuid_t *uuids; /* owned copy */
  size_t n;
  vs_control_t *out; /* owned */
  unsigned rpcs;
  int rc;
  vs_error_t err;
} probe_job_t;

static void probe_fn(void *arg) {
  probe_job_t *j = arg;
  vs_conn_call_begin(j->conn);
  j->rc = vs_conn_api(j->conn)->control(vs_conn_handle(j->conn), j->uuids, j->n,
                                        j->out, &j->rpcs, &j->err);
  vs_conn_call_end(j->conn);
  vs_token_set(j->busy, false);
}

static void probe_release(void *arg) {
  probe_job_t *j = arg;
  vs_token_set(j->busy, false); /* also when the job never ran */
  vs_token_unref(j->busy);
  vs_conn_unref(j->conn);
  free(j->uuids);
  free(j->out);
  free(j);
}

int vs_control_probe(vs_executor_t *ex, vs_conn_t *conn, vs_token_t *busy,
                     const vs_uuid_t *uuids, size_t n, uint64_t deadline_ns,
                     vs_control_t *ret, unsigned *rpcs, vs_error_t *err) {
  if (vs_token_busy(busy))
    return vs_error_set(err, -ETIMEDOUT,
                        "libvirtd has not answered the last probe");
  if (!conn)
    return vs_error_set(err, -ETIMEDOUT, "no probe connection yet");
  probe_job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return vs_error_set(err, -ENOMEM, "out of memory");
  j->uuids = malloc((n ? n : 1) * sizeof(*j->uuids));
  j->out = calloc(n ? n : 1, sizeof(*j->out));
  if (!j->uuids || !j->out) {
    free(j->uuids);
    free(j->out);
    free(j);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  memcpy(j->uuids, uuids, n * sizeof(*uuids));
  j->n = n;
  j->conn = vs_conn_ref(conn);
  j->busy = vs_token_ref(busy);
  vs_token_set(busy, true);
  int r = vs_executor_run(ex, probe_fn, probe_release, j, deadline_ns);
  if (r < 0) {
    (*rpcs)++;
    return vs_error_set(err, r, "libvirtd did not answer the probe in time");
  }
  *rpcs += j->rpcs;
  r = j->rc;
  if (r < 0)
    vs_error_set(err, r, "%s", j->err.msg);
  else
    memcpy(ret, j->out, n * sizeof(*ret));
  probe_release(j);
  return r;
}
