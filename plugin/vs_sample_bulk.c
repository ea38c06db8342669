/* virtscale - bulk sampling: one virConnectGetAllDomainStats call answers
 * for every running domain. */
#include <errno.h>
#include <libvirt/virterror.h>

#include "common/vs_time.h"
#include "vs_core_internal.h"

int vs_sample_bulk(vs_core_t *c, vs_sample_t *s, bool probe, vs_error_t *err) {
  /* The state group is always asked for (it is the cheapest): a domain that
   * stopped while the call ran comes back shut off, with counters from
   * another source (QEMU's exit accounting), and must not be reported. */
  unsigned stats = vs_groups_to_virt(c->cfg->groups | VS_GROUP_STATE);
  /* NOWAIT: a domain whose job lock is held (a migration, a stuck monitor)
   * answers with its job-free fields instead of making the call wait. */
  unsigned flags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                   VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
  /* Probing: drivers that cannot produce a group (test:///) return empty
   * records unless told to enforce, and then fail. */
  if (probe)
    flags |= VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS;

  virDomainStatsRecordPtr *recs = NULL;
  s->calls++;
  int n = virConnectGetAllDomainStats(c->conn, stats, &recs, flags);
  uint64_t answered = vs_now_ns();
  if (n < 0) {
    s->errors++;
    if (probe && vs_core_error_is_unsupported())
      return vs_error_set_virt(err, -ENOTSUP,
                               "bulk statistics not supported by the driver");
    return vs_error_set_virt(err, -EIO, "virConnectGetAllDomainStats failed");
  }

  int r = 0;
  for (int i = 0; i < n && r == 0; i++) {
    int terr;
    vs_domain_sample_t *ds = vs_core_track(c, s, recs[i]->dom, &terr);
    if (!ds) {
      r = terr;
      continue;
    }
    ds->sampled_ns = answered;
    vs_error_t perr = {0};
    if (vs_domain_stats_parse(recs[i]->params, recs[i]->nparams, &ds->st,
                              &perr) < 0) {
      vs_core_problem(c, s, ds, false, "%s", perr.msg);
      if (perr.code == -ENOMEM)
        r = -ENOMEM;
      continue;
    }
    if (ds->st.have_state && ds->st.state == VIR_DOMAIN_SHUTOFF) {
      vs_core_untrack(c, s);
      continue;
    }
    vs_core_need_nvcpu(c, s, ds, recs[i]->dom);
  }
  virDomainStatsRecordListFree(recs);
  if (r < 0)
    return vs_error_set(err, r, "out of memory");
  return 0;
}
