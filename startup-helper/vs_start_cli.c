#include "vs_start_cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARALLEL_LIMIT 4096
#define MAX_SPACING_MS (24ULL * 3600 * 1000)
#define MAX_REPEAT 100

enum {
  OPT_MATCH = 256,
  OPT_ALL_INACTIVE,
  OPT_PLAN,
  OPT_MAX_PARALLEL,
  OPT_SPACING,
  OPT_HOLD,
  OPT_READY,
  OPT_TIMEOUT,
  OPT_REPORT,
  OPT_SOCKET,
  OPT_NO_COLLECTD,
  OPT_SPOOL,
  OPT_HOST,
  OPT_PROGRESS,
  OPT_SOCKET_TIMEOUT,
  OPT_REPLAY,
  OPT_LEVELS,
  OPT_REPEAT,
  OPT_COOLDOWN,
  OPT_OUT,
  OPT_VERSION,
};

static const struct option long_opts[] = {
    {"connect", required_argument, NULL, 'c'},
    {"match", required_argument, NULL, OPT_MATCH},
    {"all-inactive", no_argument, NULL, OPT_ALL_INACTIVE},
    {"plan", required_argument, NULL, OPT_PLAN},
    {"max-parallel", required_argument, NULL, OPT_MAX_PARALLEL},
    {"spacing", required_argument, NULL, OPT_SPACING},
    {"hold-until", required_argument, NULL, OPT_HOLD},
    {"ready", required_argument, NULL, OPT_READY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"report", required_argument, NULL, OPT_REPORT},
    {"collectd-socket", required_argument, NULL, OPT_SOCKET},
    {"no-collectd", no_argument, NULL, OPT_NO_COLLECTD},
    {"spool", required_argument, NULL, OPT_SPOOL},
    {"host", required_argument, NULL, OPT_HOST},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"socket-timeout", required_argument, NULL, OPT_SOCKET_TIMEOUT},
    {"replay", no_argument, NULL, OPT_REPLAY},
    {"levels", required_argument, NULL, OPT_LEVELS},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"cooldown", required_argument, NULL, OPT_COOLDOWN},
    {"out", required_argument, NULL, OPT_OUT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void vs_start_cli_usage(FILE *f) {
  fputs(
      "usage: virtscale-start [OPTIONS] DOMAIN...\n"
      "       virtscale-start [OPTIONS] --match REGEX | --all-inactive | "
      "--plan FILE\n"
      "       virtscale-start sweep [--levels 1,2,4,8,16,0,auto] [--repeat R]\n"
      "                             [--cooldown S] [--out PREFIX] [OPTIONS] "
      "DOMAIN...\n"
      "       virtscale-start --replay [--collectd-socket PATH] [--spool "
      "DIR]\n"
      "       virtscale-start --help | --version\n"
      "\n"
      "Starts defined, inactive libvirt domains under a throttle, times "
      "each one\n"
      "and reports the timings to collectd (unixsock) and as JSON.\n"
      "\n"
      "selection:\n"
      "  DOMAIN...               names or UUIDs\n"
      "  --match REGEX           inactive domains whose name matches (POSIX "
      "ERE)\n"
      "  --all-inactive          every defined, inactive domain\n"
      "  --plan FILE             JSON plan: groups started in order, per-VM "
      "probes\n"
      "  -c, --connect URI       libvirt URI (default: libvirt's default)\n"
      "throttle:\n"
      "  --max-parallel N|auto   VMs holding a slot at once (0 = unbounded; "
      "default auto)\n"
      "  --spacing MS            minimum gap between two starts\n"
      "  --hold-until create|running|ready   when a VM frees its slot "
      "(default ready)\n"
      "  --ready running|console:TEXT|agent  when a VM is ready (default "
      "running)\n"
      "  --timeout SECONDS       per VM, from leaving the throttle, every "
      "libvirt call included (default 300)\n"
      "output:\n"
      "  --report FILE           write every timing as JSON\n"
      "  --collectd-socket PATH  collectd unixsock "
      "(default " VS_START_DEFAULT_SOCKET ")\n"
      "  --no-collectd           do not report to collectd\n"
      "  --spool DIR             where undelivered timings wait "
      "(default " VS_START_DEFAULT_SPOOL ")\n"
      "  --host NAME             host field of the batch values (default: "
      "hostname)\n"
      "  --progress auto|tty|plain|none\n"
      "  --socket-timeout SECONDS  unixsock I/O timeout (default 5)\n"
      "  --replay                only deliver spooled timings, then exit\n"
      "sweep:\n"
      "  --levels LIST           bounds to try (0 = unbounded, auto)\n"
      "  --repeat R              runs per level (default 1)\n"
      "  --cooldown SECONDS      pause between runs (default 3)\n"
      "  --out PREFIX            PREFIX.json, .dat, .gp, .png "
      "(default virtscale-sweep)\n"
      "other:\n"
      "  -h, --help              print this help and exit\n"
      "  --version               print the version and exit\n"
      "\n"
      "exit status: 0 all ready, 1 some failed, 2 bad usage or input (nothing "
      "started),\n"
      "3 all ready but timings left in the spool (collectd unreachable\n"
      "until the end), 4 timings "
      "lost (spool failed),\n"
      "130 stopped by SIGINT, 143 by SIGTERM\n",
      f);
}

int vs_parse_uint(const char *s, unsigned long long max,
                  unsigned long long *ret) {
  if (!s || !*s || strlen(s) > 20)
    return -EINVAL;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9')
      return -EINVAL;
  errno = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno || v > max)
    return -EINVAL;
  *ret = v;
  return 0;
}

int vs_parse_seconds(const char *s, bool allow_zero, double *ret) {
  if (!s || !*s)
    return -EINVAL;
  /* digits with at most one '.', no sign, exponent, hex, inf or nan */
  int dots = 0, digits = 0;
  for (const char *p = s; *p; p++) {
    if (*p == '.')
      dots++;
    else if (*p >= '0' && *p <= '9')
      digits++;
    else
      return -EINVAL;
  }
  if (dots > 1 || digits == 0)
    return -EINVAL;
  double v = strtod(s, NULL);
  if (!isfinite(v) || v > 1e7 || (v <= 0 && !(allow_zero && v == 0)))
    return -EINVAL;
  *ret = v;
  return 0;
}

int vs_parse_levels(const char *s, int **ret, size_t *n, vs_error_t *err) {
  int *levels = NULL;
  size_t count = 0;
  const char *p = s;
  if (!*s)
    return vs_error_set(err, -EINVAL, "--levels: empty list");
  for (;;) {
    size_t len = strcspn(p, ",");
    char item[32];
    if (len == 0 || len >= sizeof(item)) {
      free(levels);
      return vs_error_set(err, -EINVAL, "--levels '%s': empty or overlong item",
                          s);
    }
    memcpy(item, p, len);
    item[len] = '\0';
    int level;
    unsigned long long v;
    if (strcmp(item, "auto") == 0)
      level = -1;
    else if (vs_parse_uint(item, MAX_PARALLEL_LIMIT, &v) == 0)
      level = (int)v;
    else {
      free(levels);
      return vs_error_set(err, -EINVAL,
                          "--levels '%s': '%s' is not a bound (0..%d or "
                          "auto)",
                          s, item, MAX_PARALLEL_LIMIT);
    }
    int *grown = realloc(levels, (count + 1) * sizeof(*grown));
    if (!grown) {
      free(levels);
      return vs_error_set(err, -ENOMEM, "out of memory");
    }
    levels = grown;
    levels[count++] = level;
    p += len;
    if (!*p)
      break;
    p++;
  }
  *ret = levels;
  *n = count;
  return 0;
}

static int replace_str(char **dst, const char *src, vs_error_t *err) {
  char *copy = strdup(src);
  if (!copy)
    return vs_error_set(err, -ENOMEM, "out of memory");
  free(*dst);
  *dst = copy;
  return 0;
}

static int bad(vs_error_t *err, const char *flag, const char *value,
               const char *expected) {
  return vs_error_set(err, -EINVAL, "%s '%s': expected %s", flag, value,
                      expected);
}

int vs_start_cli_parse(int argc, char **argv, vs_start_opts_t *opts,
                       vs_error_t *err) {
  int first = 1;
  bool sweep_flags = false, report_flag = false;
  if (argc > 1 && strcmp(argv[1], "sweep") == 0) {
    opts->sweep = true;
    first = 2;
  }
  opts->progress = VS_PROGRESS_AUTO;
  opts->repeat = 1;
  opts->cooldown_s = 3;
  opts->socket_timeout_s = 5;
  opts->auto_parallel = true;
  if (replace_str(&opts->socket_path, VS_START_DEFAULT_SOCKET, err) < 0 ||
      replace_str(&opts->spool_dir, VS_START_DEFAULT_SPOOL, err) < 0)
    return -ENOMEM;

  /* getopt on the arguments after an optional sub-command; ":" first so a
   * missing argument is told apart from an unknown flag. */
  int sub_argc = argc - first + 1;
  char **sub_argv = argv + first - 1;
  optind = 0; /* full re-initialisation (GNU), so tests can call us again */
  opterr = 0;
  int c, r;
  unsigned long long v;
  while ((c = getopt_long(sub_argc, sub_argv, ":c:h", long_opts, NULL)) != -1) {
    const char *flag = sub_argv[optind - 1];
    switch (c) {
    case 'c':
      if (replace_str(&opts->uri, optarg, err) < 0)
        return -ENOMEM;
      opts->set.uri = true;
      break;
    case OPT_MATCH: {
      regex_t re;
      int rc = regcomp(&re, optarg, REG_EXTENDED | REG_NOSUB);
      if (rc != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof(msg));
        return vs_error_set(err, -EINVAL, "--match '%s': %s", optarg, msg);
      }
      regfree(&re);
      if (replace_str(&opts->match, optarg, err) < 0)
        return -ENOMEM;
      break;
    }
    case OPT_ALL_INACTIVE:
      opts->all_inactive = true;
      break;
    case OPT_PLAN:
      if (replace_str(&opts->plan_path, optarg, err) < 0)
        return -ENOMEM;
      break;
    case OPT_MAX_PARALLEL:
      if (strcmp(optarg, "auto") == 0) {
        opts->auto_parallel = true;
      } else if (vs_parse_uint(optarg, MAX_PARALLEL_LIMIT, &v) == 0) {
        opts->auto_parallel = false;
        opts->max_parallel = (unsigned)v;
      } else {
        return bad(err, "--max-parallel", optarg,
                   "a whole number 0..4096 (0 = unbounded) or 'auto'");
      }
      opts->set.parallel = true;
      break;
    case OPT_SPACING:
      if (vs_parse_uint(optarg, MAX_SPACING_MS, &v) < 0)
        return bad(err, "--spacing", optarg,
                   "milliseconds, a whole number 0..86400000");
      opts->spacing_ms = v;
      opts->set.spacing = true;
      break;
    case OPT_HOLD:
      if (vs_hold_parse(optarg, &opts->hold) < 0)
        return bad(err, "--hold-until", optarg, "create, running or ready");
      opts->set.hold = true;
      break;
    case OPT_READY:
      vs_ready_free(&opts->ready);
      r = vs_ready_parse(optarg, &opts->ready);
      if (r == -ENOMEM)
        return vs_error_set(err, r, "out of memory");
      if (r < 0)
        return bad(err, "--ready", optarg,
                   "running, agent or console:TEXT (TEXT not empty)");
      opts->set.ready = true;
      break;
    case OPT_TIMEOUT:
      if (vs_parse_seconds(optarg, false, &opts->timeout_s) < 0)
        return bad(err, "--timeout", optarg, "seconds > 0 (e.g. 120 or 2.5)");
      opts->set.timeout = true;
      break;
    case OPT_REPORT:
      if (replace_str(&opts->report_path, optarg, err) < 0)
        return -ENOMEM;
      report_flag = true;
      break;
    case OPT_SOCKET:
      if (!*optarg)
        return bad(err, "--collectd-socket", optarg,
                   "a path (use --no-collectd to disable)");
      if (replace_str(&opts->socket_path, optarg, err) < 0)
        return -ENOMEM;
      break;
    case OPT_NO_COLLECTD:
      free(opts->socket_path);
      opts->socket_path = NULL;
      break;
    case OPT_SPOOL:
      if (!*optarg)
        return bad(err, "--spool", optarg, "a directory");
      if (replace_str(&opts->spool_dir, optarg, err) < 0)
        return -ENOMEM;
      break;
    case OPT_HOST:
      if (!*optarg)
        return bad(err, "--host", optarg, "a host name");
      if (replace_str(&opts->host, optarg, err) < 0)
        return -ENOMEM;
      break;
    case OPT_PROGRESS:
      if (strcmp(optarg, "auto") == 0)
        opts->progress = VS_PROGRESS_AUTO;
      else if (strcmp(optarg, "tty") == 0)
        opts->progress = VS_PROGRESS_TTY;
      else if (strcmp(optarg, "plain") == 0)
        opts->progress = VS_PROGRESS_PLAIN;
      else if (strcmp(optarg, "none") == 0)
        opts->progress = VS_PROGRESS_NONE;
      else
        return bad(err, "--progress", optarg, "auto, tty, plain or none");
      break;
    case OPT_SOCKET_TIMEOUT:
      if (vs_parse_seconds(optarg, false, &opts->socket_timeout_s) < 0)
        return bad(err, "--socket-timeout", optarg, "seconds > 0");
      break;
    case OPT_REPLAY:
      opts->replay_only = true;
      break;
    case OPT_LEVELS:
      free(opts->levels);
      opts->levels = NULL;
      r = vs_parse_levels(optarg, &opts->levels, &opts->n_levels, err);
      if (r < 0)
        return r;
      sweep_flags = true;
      break;
    case OPT_REPEAT:
      if (vs_parse_uint(optarg, MAX_REPEAT, &v) < 0 || v == 0)
        return bad(err, "--repeat", optarg, "a whole number 1..100");
      opts->repeat = (unsigned)v;
      sweep_flags = true;
      break;
    case OPT_COOLDOWN:
      if (vs_parse_seconds(optarg, true, &opts->cooldown_s) < 0)
        return bad(err, "--cooldown", optarg, "seconds >= 0");
      sweep_flags = true;
      break;
    case OPT_OUT:
      if (!*optarg)
        return bad(err, "--out", optarg, "a path prefix");
      if (replace_str(&opts->out_prefix, optarg, err) < 0)
        return -ENOMEM;
      sweep_flags = true;
      break;
    case 'h':
      vs_start_cli_usage(stdout);
      return 1;
    case OPT_VERSION:
      puts("virtscale-start " VS_VERSION);
      return 1;
    case ':':
      return vs_error_set(err, -EINVAL, "%s needs a value", flag);
    default:
      return vs_error_set(err, -EINVAL, "unknown option '%s' (see --help)",
                          flag);
    }
  }

  if (sweep_flags && !opts->sweep)
    return vs_error_set(err, -EINVAL,
                        "--levels, --repeat, --cooldown and --out belong to "
                        "the 'sweep' sub-command");
  if (opts->sweep && (opts->set.parallel || report_flag || opts->replay_only))
    return vs_error_set(err, -EINVAL,
                        "sweep takes --levels instead of --max-parallel and "
                        "--out instead of --report; --replay is not a sweep "
                        "option");
  if (opts->sweep && !opts->levels) {
    r = vs_parse_levels("1,2,4,8,16,0,auto", &opts->levels, &opts->n_levels,
                        err);
    if (r < 0)
      return r;
  }
  if (opts->sweep && !opts->out_prefix &&
      replace_str(&opts->out_prefix, "virtscale-sweep", err) < 0)
    return -ENOMEM;

  /* getopt moved the domain arguments behind the options: number them
   * among themselves, which is what the user can count. */
  for (int i = optind; i < sub_argc; i++) {
    char where[40];
    if (!*sub_argv[i])
      return vs_error_set(err, -EINVAL, "domain argument %d: empty name",
                          i - optind + 1);
    snprintf(where, sizeof(where), "domain argument %d", i - optind + 1);
    if (vs_start_opts_add_target(opts, sub_argv[i], 0, where) < 0)
      return vs_error_set(err, -ENOMEM, "out of memory");
  }
  if (opts->plan_path && (opts->n_targets || opts->match || opts->all_inactive))
    return vs_error_set(err, -EINVAL,
                        "--plan cannot be combined with --match, "
                        "--all-inactive or domain arguments");
  if (opts->replay_only &&
      (opts->n_targets || opts->match || opts->all_inactive || opts->plan_path))
    return vs_error_set(err, -EINVAL,
                        "--replay only delivers the spool: give no domains");
  return 0;
}

int vs_start_opts_finish(vs_start_opts_t *opts, vs_error_t *err) {
  if (opts->replay_only)
    return 0;
  bool selectors = opts->match || opts->all_inactive;
  if (opts->sweep && opts->plan_path)
    return vs_error_set(err, -EINVAL, "sweep does not take --plan");
  if (!opts->plan_path && opts->n_targets == 0 && !selectors)
    return vs_error_set(err, -EINVAL,
                        "nothing to start: name domains, or use --match, "
                        "--all-inactive or --plan");
  if (opts->n_groups == 0 && vs_start_opts_add_group(opts, "default") < 0)
    return vs_error_set(err, -ENOMEM, "out of memory");
  if (opts->hold == VS_HOLD_UNSET)
    opts->hold = VS_HOLD_READY;
  if (opts->ready.kind == VS_READY_UNSET)
    opts->ready.kind = VS_READY_RUNNING;
  if (opts->timeout_s <= 0)
    opts->timeout_s = VS_START_DEFAULT_TIMEOUT_S;
  return 0;
}
