/* virtscale-start - the JSON report (--report FILE), written with yajl.
 *
 * Times of a VM are seconds since the batch started (monotonic clock),
 * null when not reached; "started" is the wall-clock epoch of that origin.
 * The layout is documented in docs/startup-helper.md. */
#pragma once

#include "common/vs_error.h"
#include "vs_start_batch.h"
#include "vs_start_collectd.h"
#include "vs_start_opts.h"

/* Write the report of batch b (run with opts; rep may be NULL) to path,
 * atomically (temporary file + rename). Returns 0 or a negative errno with
 * err set. */
int vs_report_write(const char *path, const vs_start_opts_t *opts,
                    const vs_batch_t *b, const vs_reporter_t *rep,
                    vs_error_t *err);

/* Generation helpers shared with the sweep's JSON: a number with 6
 * decimals (yajl's own doubles print 17 digits), a string or null. */
#include <yajl/yajl_gen.h>
void vs_json_num(yajl_gen g, double v);
void vs_json_str(yajl_gen g, const char *s);
void vs_json_key(yajl_gen g, const char *k);

/* Write the generator's buffer to path atomically and durably: a fresh
 * 0600 temporary file beside it (never a symlink planted there), fsync,
 * rename. Returns 0 or a negative errno with err set. */
int vs_json_save(yajl_gen g, const char *path, vs_error_t *err);
