#include "vs_connections.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vs_token.h"

struct vs_conns {
  vs_conns_opts_t o;
  vs_conn_t *lanes[VS_LANES_MAX];
  vs_conn_t *probe;
  vs_conn_t *events;
  vs_conn_t **retired;
  size_t nretired;
  /* Busy while an attempt to open a connection is out: while libvirtd does
   * not answer one, no further attempt is piled up behind it. */
  vs_token_t *open_token;
  bool lost;      /* a connection was lost and lane 0 not yet opened again */
  bool replacing; /* lane 0 was retired: its successor is no new connection
                     to report */
  uint64_t reconnects;
};

int vs_conns_new(const vs_conns_opts_t *o, vs_conns_t **ret, vs_error_t *err) {
  vs_conns_t *cs = calloc(1, sizeof(*cs));
  if (!cs || !(cs->open_token = vs_token_new())) {
    free(cs);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  cs->o = *o;
  if (cs->o.max_lanes > VS_LANES_MAX)
    cs->o.max_lanes = VS_LANES_MAX;
  if (cs->o.max_lanes == 0)
    cs->o.max_lanes = 1;
  *ret = cs;
  return 0;
}

static void close_slot(vs_conns_t *cs, vs_conn_t **slot, uint64_t deadline) {
  vs_conn_close(*slot, cs->o.ex, deadline);
  *slot = NULL;
}

/* Close retired connections whose stuck calls have returned (all of them
 * when all is set: their last reference then goes with the call). */
static void close_retired(vs_conns_t *cs, bool all, uint64_t deadline) {
  size_t out = 0;
  for (size_t i = 0; i < cs->nretired; i++) {
    if (all || vs_conn_inflight(cs->retired[i]) == 0)
      vs_conn_close(cs->retired[i], cs->o.ex, deadline);
    else
      cs->retired[out++] = cs->retired[i];
  }
  cs->nretired = out;
}

static void drop_all(vs_conns_t *cs, uint64_t deadline) {
  for (unsigned i = 0; i < cs->o.max_lanes; i++)
    close_slot(cs, &cs->lanes[i], deadline);
  close_slot(cs, &cs->probe, deadline);
  close_slot(cs, &cs->events, deadline);
}

void vs_conns_free(vs_conns_t *cs, uint64_t deadline_ns) {
  if (!cs)
    return;
  drop_all(cs, deadline_ns);
  close_retired(cs, true, deadline_ns);
  free(cs->retired);
  vs_token_unref(cs->open_token);
  free(cs);
}

/* Open one connection into *slot. */
static int open_slot(vs_conns_t *cs, vs_conn_t **slot,
                     const vs_conn_events_t *ev, uint64_t deadline,
                     vs_error_t *err) {
  if (vs_token_busy(cs->open_token))
    return vs_error_set(err, -ETIMEDOUT,
                        "still waiting for libvirtd to answer a connection");
  vs_token_set(cs->open_token, true);
  return vs_conn_open(cs->o.ex, cs->o.api, &cs->o.opts, ev,
                      vs_token_ref(cs->open_token), deadline, slot, err);
}

/* A connection libvirt reported closed, or NULL. */
static const vs_conn_t *any_closed(const vs_conns_t *cs) {
  for (unsigned i = 0; i < cs->o.max_lanes; i++)
    if (cs->lanes[i] && vs_conn_is_closed(cs->lanes[i]))
      return cs->lanes[i];
  if (cs->probe && vs_conn_is_closed(cs->probe))
    return cs->probe;
  if (cs->events && vs_conn_is_closed(cs->events))
    return cs->events;
  return NULL;
}

int vs_conns_ensure(vs_conns_t *cs, uint64_t deadline_ns, bool *ret_opened,
                    bool *ret_lost, vs_close_reason_t *ret_reason,
                    vs_error_t *err) {
  *ret_opened = *ret_lost = false;
  close_retired(cs, false, deadline_ns);
  const vs_conn_t *closed = any_closed(cs);
  if (closed) {
    *ret_reason = vs_conn_close_reason(closed);
    /* libvirtd went away (or stopped answering keepalive): every
     * connection to it is dead. */
    drop_all(cs, deadline_ns);
    cs->lost = *ret_lost = true;
    cs->replacing = false;
  }
  if (!cs->lanes[0] && cs->replacing && cs->nretired >= cs->o.max_retired)
    return vs_error_set(err, -EBUSY, "too many calls stuck in libvirt");
  if (!cs->lanes[0]) {
    vs_conn_events_t none = {0};
    int r = open_slot(cs, &cs->lanes[0], &none, deadline_ns, err);
    if (r < 0)
      return r;
    *ret_opened = !cs->replacing;
    cs->replacing = false;
    if (cs->lost) {
      cs->lost = false;
      cs->reconnects++;
    }
  }
  vs_error_t ignored = {0};
  vs_conn_events_t none = {0};
  if (!cs->probe)
    open_slot(cs, &cs->probe, &none, deadline_ns, &ignored);
  if (!cs->events && cs->o.lifecycle) {
    vs_conn_events_t ev = {.ud = cs->o.ud, .lifecycle = cs->o.lifecycle};
    open_slot(cs, &cs->events, &ev, deadline_ns, &ignored);
  }
  return 0;
}

bool vs_conns_want_lane(vs_conns_t *cs, unsigned i, uint64_t deadline_ns) {
  if (i >= cs->o.max_lanes)
    return false;
  /* Each retired connection holds a worker in a stuck call: no replacement
   * while as many are out as may be abandoned. Lane 0 is opened by
   * vs_conns_ensure(), here only when it was retired. */
  if (!cs->lanes[i] && (i > 0 || cs->replacing) &&
      cs->nretired < cs->o.max_retired) {
    vs_error_t ignored = {0};
    vs_conn_events_t none = {0};
    if (open_slot(cs, &cs->lanes[i], &none, deadline_ns, &ignored) == 0 &&
        i == 0)
      cs->replacing = false;
  }
  return cs->lanes[i] != NULL;
}

unsigned vs_conns_want_lanes(vs_conns_t *cs, unsigned n, uint64_t deadline_ns) {
  unsigned open = 0;
  for (unsigned i = 0; i < n && i < cs->o.max_lanes; i++)
    open += vs_conns_want_lane(cs, i, deadline_ns);
  return open;
}

vs_conn_t *vs_conns_lane(const vs_conns_t *cs, unsigned i) {
  return i < cs->o.max_lanes ? cs->lanes[i] : NULL;
}

vs_conn_t *vs_conns_probe(const vs_conns_t *cs) { return cs->probe; }

const char *vs_conns_uri(const vs_conns_t *cs) {
  return cs->lanes[0] ? vs_conn_uri(cs->lanes[0]) : NULL;
}

unsigned vs_conns_host_cpus(const vs_conns_t *cs) {
  return cs->lanes[0] ? vs_conn_host_cpus(cs->lanes[0]) : 0;
}

void vs_conns_retire(vs_conns_t *cs, unsigned i) {
  vs_conn_t *c = vs_conns_lane(cs, i);
  if (!c)
    return;
  vs_conn_t **p = realloc(cs->retired, (cs->nretired + 1) * sizeof(*p));
  if (!p)
    return; /* out of memory: the lane keeps it; its calls fail or wait */
  cs->retired = p;
  /* Its loss (keepalive may close it while the call is stuck) is not the
   * plugin's any more. */
  vs_conn_detach(c);
  cs->retired[cs->nretired++] = c;
  cs->lanes[i] = NULL;
  if (i == 0)
    cs->replacing = true;
}

unsigned vs_conns_retired(const vs_conns_t *cs) {
  return (unsigned)cs->nretired;
}

uint64_t vs_conns_reconnects(const vs_conns_t *cs) { return cs->reconnects; }
