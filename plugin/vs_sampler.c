/* virtscale - calls and the bulk sampler. */
#include "vs_sampler.h"

#include <stdlib.h>

vs_call_t *vs_call_new(void) {
  vs_call_t *c = calloc(1, sizeof(*c));
  if (c && !(c->returned = vs_token_new())) {
    free(c);
    return NULL;
  }
  if (c)
    vs_token_set(c->returned, true);
  return c;
}

void vs_call_free(vs_call_t *c) {
  if (!c)
    return;
  free(c->uuids);
  free(c->need_nvcpu);
  for (size_t i = 0; c->devices && i < c->n; i++)
    vs_domxml_devices_clear(&c->devices[i]);
  free(c->devices);
  free(c->devices_known);
  vs_records_free(c->recs, c->nrecs);
  vs_token_set(c->returned, false);
  vs_token_unref(c->returned);
  free(c);
}

void vs_sampler_bulk(const vs_virt_api_t *api, void *handle, vs_call_t *c) {
  vs_stats_req_t req = {.uuids = c->all ? NULL : c->uuids,
                        .n = c->all ? 0 : c->n,
                        .groups = c->groups,
                        .enforce = c->enforce,
                        .need_nvcpu = c->need_nvcpu,
                        .nneed = c->nneed};
  c->rc = api->stats(handle, &req, &c->recs, &c->nrecs, &c->rpcs, &c->err);
}
