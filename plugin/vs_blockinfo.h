/* virtscale - the block-info thread: virDomainGetBlockInfo for every disk
 * on its own libvirt connection and cadence, one timed job per domain and
 * never a second call on a domain whose call has not returned. A call that
 * reaches a stuck QEMU takes a job on the domain and blocks in its monitor;
 * here it costs at most BlockInfoTimeout once, and the sampling connection
 * (libvirtd serves 5 calls at once per client) is not touched.
 *
 * Optionally arms virDomainSetBlockThreshold at BlockThreshold percent of
 * each disk's capacity and turns the BLOCK_THRESHOLD event into a WARNING
 * notification (needs a read-write connection). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/vs_error.h"
#include "vs_config.h"
#include "vs_sample.h"
#include "vs_sink.h"
#include "vs_token.h"
#include "vs_virt_api.h"

typedef struct vs_blockinfo vs_blockinfo_t;

typedef struct {
  unsigned abandoned_now;
  uint64_t abandoned_total;
  uint64_t timeouts_total; /* calls that did not answer in time */
} vs_blockinfo_counters_t;

/* Whether cfg asks for the thread, given the sampling mode in use
 * (BlockInfo unset: on for per-domain sampling, whose samplers would
 * otherwise make the call inline; on when BlockThreshold is set). */
bool vs_blockinfo_wanted(const vs_config_t *cfg, vs_stats_mode_t mode);

/* Start the thread (cfg borrowed, must outlive it; hostname copied).
 * Returns 0 or a negative errno with err set. */
int vs_blockinfo_start(const vs_config_t *cfg, const char *hostname,
                       uint64_t interval_ns, const vs_sink_t *sink,
                       const vs_virt_api_t *api, vs_blockinfo_t **ret,
                       vs_error_t *err);

/* Hand the sizes answered since the last call to s, each with the time its
 * call answered (read thread: values dispatched there carry the read's
 * plugin context and an interval). */
void vs_blockinfo_take(vs_blockinfo_t *b, vs_sample_t *s);

/* A domain a block-info call is stuck on, with that call's "outstanding"
 * token (busy until the call returns). */
typedef struct {
  vs_uuid_t uuid;
  vs_token_t *token; /* a reference, the caller's */
} vs_blockinfo_stuck_t;

/* The domains block-info calls are stuck on now (calls given up that have
 * not returned), for the read thread to judge like its own stuck calls: a
 * frozen QEMU the block-info call reached first holds its job, so the
 * sampler's NOWAIT calls skip it and never get stuck themselves. Returns the
 * count and sets *ret (free it after unref'ing each token); 0 and NULL when
 * there are none or memory is short. Thread-safe. */
size_t vs_blockinfo_stuck(vs_blockinfo_t *b, vs_blockinfo_stuck_t **ret);

/* A snapshot of the counters; thread-safe. */
void vs_blockinfo_counters(vs_blockinfo_t *b, vs_blockinfo_counters_t *ret);

/* Stop and join the thread, close its connection (NULL-safe). */
void vs_blockinfo_stop(vs_blockinfo_t *b);
