/* virtscale-start - the JSON plan file (--plan FILE).
 *
 *   {
 *     "connect": "qemu:///system",          optional
 *     "max_parallel": 4,                    or "auto"; 0 = unbounded
 *     "spacing_ms": 0,
 *     "hold_until": "ready",                create | running | ready
 *     "ready": "running",                   running | agent | console:TEXT
 *     "timeout_s": 300,
 *     "groups": [                           started one after the other
 *       {"name": "infra", "domains": ["dns", {"name": "db",
 *                                             "ready": "console:login:",
 *                                             "timeout_s": 120}]},
 *       {"name": "apps", "domains": ["web1", "web2"]}
 *     ]
 *   }
 *
 * "domains": [...] at the top level instead of "groups" is one group.
 * Comments are allowed. Settings given on the command line win over the
 * plan's. Parsed with yajl's event API so every error, syntax or meaning,
 * names the file, line and column. */
#pragma once

#include <stddef.h>

#include "common/vs_error.h"
#include "vs_start_opts.h"

/* Limits on a plan, so that a wrong or hostile file is refused with an
 * error instead of taking the host's memory: its size (a plan naming a
 * thousand domains with settings each is under 100 KB) and the number of
 * JSON values in it (the parse tree keeps each one). */
#define VS_PLAN_MAX_BYTES (1024 * 1024)
#define VS_PLAN_MAX_VALUES 65536

/* Parse the plan text (len bytes, need not be NUL-terminated) into opts:
 * groups, targets and the settings opts->set does not mark as given.
 * name is the file name used in messages ("plan.json:3:17: ...").
 * Returns 0 or -EINVAL / -ENOMEM with err set; on error opts may have been
 * partly filled (the caller exits). Thread-safe for distinct opts. */
int vs_start_plan_parse(const char *text, size_t len, const char *name,
                        vs_start_opts_t *opts, vs_error_t *err);

/* Read the file at path and vs_start_plan_parse() it. Returns 0 or a
 * negative errno with err set (a missing file names the path; one over
 * VS_PLAN_MAX_BYTES is -EFBIG). */
int vs_start_plan_load(const char *path, vs_start_opts_t *opts,
                       vs_error_t *err);
