/* virtscale-start - what to start and how: the options shared by the CLI,
 * the plan parser, the batch engine and the sweep.
 *
 * Plain data, no libvirt: vs_start_cli.c and vs_start_plan.c fill it in and
 * validate it, everything else only reads it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vs_utf8.h" /* vs_utf8_cut() for text in logs */

/* Default unixsock path of Debian's collectd unixsock plugin. */
#define VS_START_DEFAULT_SOCKET "/var/run/collectd-unixsock"
/* Default spool directory for timings collectd could not take. */
#define VS_START_DEFAULT_SPOOL "/var/spool/virtscale-start"
/* Default per-VM timeout, seconds (from leaving the throttle to ready,
 * every libvirt call included). */
#define VS_START_DEFAULT_TIMEOUT_S 300.0

/* How a VM counts as ready. */
typedef enum {
  VS_READY_UNSET = 0, /* not given: inherit (a VM from its batch) */
  VS_READY_RUNNING,   /* libvirt reports it running (lifecycle event) */
  VS_READY_CONSOLE,   /* a text appears on the serial console */
  VS_READY_AGENT,     /* the QEMU guest agent answers guest-ping */
} vs_ready_kind_t;

typedef struct {
  vs_ready_kind_t kind;
  char *text; /* VS_READY_CONSOLE: the marker (owned); NULL otherwise */
} vs_ready_t;

/* How long a VM holds its throttle slot. */
typedef enum {
  VS_HOLD_UNSET = 0,
  VS_HOLD_CREATE,  /* until virDomainCreateWithFlags() returns */
  VS_HOLD_RUNNING, /* until libvirt reports it running */
  VS_HOLD_READY,   /* until the ready probe succeeds (default) */
} vs_hold_t;

/* Progress output. */
typedef enum {
  VS_PROGRESS_AUTO = 0, /* live line on a TTY, plain lines otherwise */
  VS_PROGRESS_TTY,
  VS_PROGRESS_PLAIN,
  VS_PROGRESS_NONE,
} vs_progress_mode_t;

/* One domain to start, as named by the user. */
typedef struct {
  char *name;       /* name or UUID string, as given (owned) */
  unsigned group;   /* start-order group, 0-based */
  vs_ready_t ready; /* VS_READY_UNSET: the batch's probe */
  double timeout_s; /* <= 0: the batch's timeout */
  char where[64];   /* where it was named: "argument 3", "plan.json:4:9" */
} vs_start_target_t;

typedef struct {
  /* selection */
  char *uri;         /* libvirt URI, NULL = libvirt's default (owned) */
  char *match;       /* --match REGEX (POSIX ERE) or NULL (owned) */
  bool all_inactive; /* --all-inactive */
  char *plan_path;   /* --plan FILE or NULL (owned) */
  vs_start_target_t *targets; /* named domains, in start order (owned) */
  size_t n_targets;
  size_t cap_targets; /* entries allocated in targets */
  char **group_names; /* one per group, from the plan or "default" (owned) */
  size_t n_groups;

  /* throttle */
  bool auto_parallel;    /* --max-parallel auto */
  unsigned max_parallel; /* fixed bound; 0 = unbounded */
  uint64_t spacing_ms;   /* minimum gap between two create calls */
  vs_hold_t hold;
  vs_ready_t ready;
  double timeout_s;

  /* output */
  char *report_path; /* --report FILE or NULL (owned) */
  char *socket_path; /* collectd unixsock path (owned); NULL = disabled */
  char *spool_dir;   /* spool directory (owned) */
  char *host;        /* host field of batch values; NULL = gethostname() */
  vs_progress_mode_t progress;
  double socket_timeout_s; /* unixsock I/O timeout */

  /* modes */
  bool replay_only; /* --replay: deliver the spool and exit */
  bool sweep;       /* `sweep` sub-command */
  int *levels;      /* sweep bounds; 0 = unbounded, -1 = auto (owned) */
  size_t n_levels;
  unsigned repeat;   /* sweep repetitions per level */
  double cooldown_s; /* sweep pause between runs */
  char *out_prefix;  /* sweep output prefix (PREFIX.json/.png/.dat) */

  /* which of the settings above came from the command line (they win
   * over the plan file) */
  struct {
    bool uri, parallel, spacing, hold, ready, timeout;
  } set;
} vs_start_opts_t;

/* Free everything opts owns and zero it (NULL-safe). */
void vs_start_opts_free(vs_start_opts_t *opts);

/* Free the text of r and reset it (NULL-safe). */
void vs_ready_free(vs_ready_t *r);

/* Parse a ready probe spec: "running", "agent" or "console:TEXT" (TEXT not
 * empty). Returns 0 with *ret filled (text owned by the caller) or -EINVAL. */
int vs_ready_parse(const char *s, vs_ready_t *ret);

/* Parse "create" | "running" | "ready". Returns 0 or -EINVAL. */
int vs_hold_parse(const char *s, vs_hold_t *ret);

/* Name of a hold / ready kind for messages and reports (static strings). */
const char *vs_hold_name(vs_hold_t h);
const char *vs_ready_name(vs_ready_kind_t k);

/* Append a target (name copied). Returns 0 or -ENOMEM. */
int vs_start_opts_add_target(vs_start_opts_t *opts, const char *name,
                             unsigned group, const char *where);

/* Append a group name (copied); returns its index or -ENOMEM. */
int vs_start_opts_add_group(vs_start_opts_t *opts, const char *name);

/* ---- text shown on terminals and in logs ------------------------------ */

/* Write s into dst (size bytes, NUL-terminated) safe for a terminal or a
 * log line: control characters, DEL, backslash and bytes that are not
 * well-formed UTF-8 become \xHH (so a VM name cannot move the cursor,
 * clear the screen or start a new log line), everything else is kept.
 * What does not fit is cut between characters and marked with "...".
 * Returns dst. */
char *vs_text_safe(char *dst, size_t size, const char *s);
