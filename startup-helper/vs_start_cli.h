/* virtscale-start - command line parsing.
 *
 * Pure: argv in, vs_start_opts_t out, nothing touched outside. Every bad
 * flag or value is an error naming the flag and the value. */
#pragma once

#include <stdio.h>

#include "common/vs_error.h"
#include "vs_start_opts.h"

/* Parse argv into opts (which must be zeroed). Returns 0 to run, 1 when
 * --help or --version printed what was asked (exit 0), or -EINVAL /
 * -ENOMEM with err set (exit 2). On error opts may hold partial values:
 * free it with vs_start_opts_free(). Not thread-safe (getopt). */
int vs_start_cli_parse(int argc, char **argv, vs_start_opts_t *opts,
                       vs_error_t *err);

/* After the plan (if any) is loaded: fill in defaults (hold ready, ready
 * running, timeout, one "default" group), check combinations (a plan and
 * domain arguments, console/agent probes with --hold-until, an empty
 * selection). Returns 0 or -EINVAL with err set. */
int vs_start_opts_finish(vs_start_opts_t *opts, vs_error_t *err);

/* Strict number parsers for flag values (also used by the plan parser).
 * vs_parse_uint: decimal digits only, <= max. vs_parse_seconds: a finite
 * decimal number > 0 (or >= 0 with allow_zero). Return 0 or -EINVAL. */
int vs_parse_uint(const char *s, unsigned long long max,
                  unsigned long long *ret);
int vs_parse_seconds(const char *s, bool allow_zero, double *ret);

/* Parse a sweep level list "1,2,4,0,auto" (0 = unbounded, auto = -1).
 * Returns 0 with *ret (malloc'ed) and *n, or -EINVAL with err set. */
int vs_parse_levels(const char *s, int **ret, size_t *n, vs_error_t *err);

/* Print the usage text to f. */
void vs_start_cli_usage(FILE *f);
