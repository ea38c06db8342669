/* vslvbench - the benchmarks' libvirt client (section "libvirt" of
 * tests/bench/benchmarks.py, tests/bench/section_libvirt.py): times what
 * statistics sampling costs at the client-daemon boundary, one question per
 * subcommand.
 *
 *   vslvbench [--sync] groups URI SECONDS GROUP
 *       One statistics group (or all six, or a call with no driver work)
 *       over every running domain, again and again for SECONDS.
 *   vslvbench [--sync] perdomain URI SECONDS bulk|each
 *       Rounds of all six groups: one bulk call, or one call per domain.
 *   vslvbench [--sync] clients URI N SECONDS GROUPS [wait]
 *       N threads, each on its own connection, calling bulk statistics of
 *       GROUPS (comma-separated) for SECONDS; "wait" drops NOWAIT.
 *   vslvbench [--sync] blockinfo URI SECONDS [DEADLINE_MS]
 *       virDomainGetBlockInfo per disk, direct and through the timed
 *       executor (deadline DEADLINE_MS, default 5000), against the block
 *       group of bulk statistics; plus a no-op job through the executor.
 *   vslvbench executor ITER
 *       A no-op job through the executor ITER times, against a direct call.
 *
 * GROUP: state cpu-total balloon vcpu interface block perf all (the six the
 * plugin samples: state to block), or a call with no statistics work:
 * version (virConnectGetLibVersion), numofdomains, listall.
 *
 * Bulk calls ask for running domains only and pass NOWAIT, as the plugin
 * does. Times are microseconds. One JSON object goes to stdout; errors go to
 * stderr with exit status 1.
 *
 * --sync: print "ready" before the timed calls and "done" after them, and
 * after each wait for a line on stdin, so the caller can read the daemons'
 * CPU counters (and attach perf) around exactly the timed calls: connection
 * set-up, the warm-up call and the teardown stay outside. */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vs_error.h"
#include "common/vs_eventloop.h"
#include "common/vs_executor.h"
#include "common/vs_time.h"
#include "common/vs_virt.h"

/* Fewest timed calls whatever SECONDS says: a median needs a few. */
#define MIN_CALLS 3

#define GROUPS_SIX                                                             \
  (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |                       \
   VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |                          \
   VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK)

#define BULK_FLAGS                                                             \
  (VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |                                  \
   VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)

static const struct {
  const char *name;
  unsigned stats;
} group_names[] = {
    {"state", VIR_DOMAIN_STATS_STATE},
    {"cpu-total", VIR_DOMAIN_STATS_CPU_TOTAL},
    {"balloon", VIR_DOMAIN_STATS_BALLOON},
    {"vcpu", VIR_DOMAIN_STATS_VCPU},
    {"interface", VIR_DOMAIN_STATS_INTERFACE},
    {"block", VIR_DOMAIN_STATS_BLOCK},
    {"perf", VIR_DOMAIN_STATS_PERF},
    {"all", GROUPS_SIX},
};

static bool sync_mode;

__attribute__((noreturn)) static void usage(void) {
  fputs("usage: vslvbench [--sync] groups URI SECONDS GROUP\n"
        "       vslvbench [--sync] perdomain URI SECONDS bulk|each\n"
        "       vslvbench [--sync] clients URI N SECONDS GROUPS [wait]\n"
        "       vslvbench [--sync] blockinfo URI SECONDS [DEADLINE_MS]\n"
        "       vslvbench executor ITER\n",
        stderr);
  exit(2);
}

__attribute__((noreturn)) static void die(const char *msg) {
  fprintf(stderr, "vslvbench: %s\n", msg);
  exit(1);
}

__attribute__((noreturn)) static void die_err(const vs_error_t *err) {
  die(err->msg);
}

/* libvirt's last error on this thread, after what failed. */
__attribute__((noreturn)) static void die_virt(const char *what) {
  fprintf(stderr, "vslvbench: %s: %s\n", what, virGetLastErrorMessage());
  exit(1);
}

static double parse_num(const char *s, double min, const char *what) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || v < min) {
    fprintf(stderr, "vslvbench: bad %s '%s'\n", what, s);
    exit(2);
  }
  return v;
}

/* See --sync above; EOF on stdin just carries on. */
static void sync_point(const char *what) {
  if (!sync_mode)
    return;
  printf("%s\n", what);
  fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof(line), stdin))
    clearerr(stdin);
}

/* --- samples ------------------------------------------------------------ */

typedef struct {
  double *v; /* microseconds */
  size_t n, cap;
} samples_t;

static void samples_add(samples_t *s, double us) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    double *v = realloc(s->v, cap * sizeof(*v));
    if (!v)
      die("out of memory");
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = us;
}

static void samples_merge(samples_t *dst, const samples_t *src) {
  for (size_t i = 0; i < src->n; i++)
    samples_add(dst, src->v[i]);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The p-th percentile of sorted v[n] (nearest rank). */
static double pct(const double *v, size_t n, double p) {
  size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

/* "key":{"n":..,"median":..,...} (sorts s). */
static void print_samples(const char *key, samples_t *s) {
  printf("\"%s\":{\"n\":%zu", key, s->n);
  if (s->n) {
    qsort(s->v, s->n, sizeof(*s->v), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
      sum += s->v[i];
    printf(",\"median\":%.3f,\"mean\":%.3f,\"min\":%.3f,\"p90\":%.3f,"
           "\"p99\":%.3f,\"max\":%.3f",
           pct(s->v, s->n, 50), sum / (double)s->n, s->v[0],
           pct(s->v, s->n, 90), pct(s->v, s->n, 99), s->v[s->n - 1]);
  }
  printf("}");
}

static double median_of(samples_t *s) {
  if (!s->n)
    return 0;
  qsort(s->v, s->n, sizeof(*s->v), cmp_double);
  return pct(s->v, s->n, 50);
}

/* A JSON string (libvirt's messages may hold quotes). */
static void print_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static double us_since(uint64_t t0) { return (double)(vs_now_ns() - t0) / 1e3; }

/* --- connections and bulk calls ------------------------------------------ */

static virConnectPtr open_conn(const char *uri) {
  vs_error_t err = {0};
  virConnectPtr c = vs_virt_open(uri, true, &err);
  if (!c)
    die_err(&err);
  return c;
}

/* Keepalive replies and the like need the event loop running; it is the
 * plugin's, so the client behaves as the plugin's connections do. */
static void start_eventloop(void) {
  vs_error_t err = {0};
  if (vs_eventloop_ref(&err) < 0)
    die_err(&err);
}

static unsigned parse_groups(const char *list) {
  unsigned mask = 0;
  char *copy = strdup(list);
  if (!copy)
    die("out of memory");
  char *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t;
       t = strtok_r(NULL, ",", &save)) {
    size_t i;
    for (i = 0; i < sizeof(group_names) / sizeof(group_names[0]); i++)
      if (strcmp(t, group_names[i].name) == 0)
        break;
    if (i == sizeof(group_names) / sizeof(group_names[0])) {
      fprintf(stderr, "vslvbench: unknown statistics group '%s'\n", t);
      exit(2);
    }
    mask |= group_names[i].stats;
  }
  free(copy);
  return mask;
}

typedef struct {
  int domains;   /* records returned */
  size_t params; /* typed parameters in them */
} bulk_result_t;

/* One bulk statistics call: every running domain (doms NULL) or the
 * NULL-terminated doms. Returns 0, or -1 with libvirt's error on this
 * thread. */
static int bulk_call(virConnectPtr c, virDomainPtr *doms, unsigned stats,
                     unsigned flags, bulk_result_t *r) {
  virDomainStatsRecordPtr *recs = NULL;
  int n = doms ? virDomainListGetStats(doms, stats, &recs, flags)
               : virConnectGetAllDomainStats(c, stats, &recs, flags);
  if (n < 0)
    return -1;
  r->domains = n;
  r->params = 0;
  for (int i = 0; i < n; i++)
    r->params += (size_t)recs[i]->nparams;
  virDomainStatsRecordListFree(recs);
  return 0;
}

/* --- groups ---------------------------------------------------------------
 */

typedef enum { OP_STATS, OP_VERSION, OP_NUMOFDOMAINS, OP_LISTALL } op_t;

static int do_op(virConnectPtr c, op_t op, unsigned stats, bulk_result_t *r) {
  switch (op) {
  case OP_VERSION: {
    unsigned long v;
    r->domains = 0;
    return virConnectGetLibVersion(c, &v);
  }
  case OP_NUMOFDOMAINS:
    r->domains = virConnectNumOfDomains(c);
    return r->domains < 0 ? -1 : 0;
  case OP_LISTALL: {
    virDomainPtr *doms = NULL;
    r->domains =
        virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (r->domains < 0)
      return -1;
    for (int i = 0; i < r->domains; i++)
      virDomainFree(doms[i]);
    free(doms);
    return 0;
  }
  case OP_STATS:
    break;
  }
  return bulk_call(c, NULL, stats, BULK_FLAGS, r);
}

static int cmd_groups(int argc, char **argv) {
  if (argc != 3)
    usage();
  const char *uri = argv[0], *group = argv[2];
  double seconds = parse_num(argv[1], 0, "SECONDS");
  op_t op = OP_STATS;
  unsigned stats = 0;
  if (strcmp(group, "version") == 0)
    op = OP_VERSION;
  else if (strcmp(group, "numofdomains") == 0)
    op = OP_NUMOFDOMAINS;
  else if (strcmp(group, "listall") == 0)
    op = OP_LISTALL;
  else
    stats = parse_groups(group);

  start_eventloop();
  virConnectPtr c = open_conn(uri);
  bulk_result_t r = {0};
  /* Warm-up: libvirtd caches a domain's statistics schema on its first
   * vcpu call. */
  if (do_op(c, op, stats, &r) < 0)
    die_virt(group);
  sync_point("ready");
  samples_t calls = {0};
  size_t params = 0;
  long long domains = 0;
  uint64_t t0 = vs_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
  while (calls.n < MIN_CALLS || vs_now_ns() < end) {
    uint64_t c0 = vs_now_ns();
    if (do_op(c, op, stats, &r) < 0)
      die_virt(group);
    samples_add(&calls, us_since(c0));
    params += r.params;
    domains += r.domains;
  }
  double wall = (double)(vs_now_ns() - t0) / 1e9;
  sync_point("done");
  vs_virt_conn_close(c);
  printf("{\"cmd\":\"groups\",\"group\":");
  print_str(group);
  printf(",\"calls\":%zu,\"wall_s\":%.6f,\"domains_per_call\":%.2f,"
         "\"params_per_call\":%.2f,",
         calls.n, wall, (double)domains / (double)calls.n,
         (double)params / (double)calls.n);
  print_samples("call_us", &calls);
  printf("}\n");
  free(calls.v);
  return 0;
}

/* --- perdomain ------------------------------------------------------------
 */

static int cmd_perdomain(int argc, char **argv) {
  if (argc != 3)
    usage();
  const char *uri = argv[0], *mode = argv[2];
  double seconds = parse_num(argv[1], 0, "SECONDS");
  bool each = strcmp(mode, "each") == 0;
  if (!each && strcmp(mode, "bulk") != 0)
    usage();
  start_eventloop();
  virConnectPtr c = open_conn(uri);
  /* The per-domain sampler keeps its domains' handles: list them once. */
  virDomainPtr *doms = NULL;
  int ndoms =
      virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (ndoms < 0)
    die_virt("virConnectListAllDomains");
  bulk_result_t r = {0};
  if (bulk_call(c, NULL, GROUPS_SIX, BULK_FLAGS, &r) < 0)
    die_virt("virConnectGetAllDomainStats (warm-up)");
  sync_point("ready");
  samples_t rounds = {0}, calls = {0};
  size_t params = 0;
  long long domains = 0;
  uint64_t t0 = vs_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
  while (rounds.n < MIN_CALLS || vs_now_ns() < end) {
    uint64_t r0 = vs_now_ns();
    if (!each) {
      if (bulk_call(c, NULL, GROUPS_SIX, BULK_FLAGS, &r) < 0)
        die_virt("virConnectGetAllDomainStats");
      samples_add(&calls, us_since(r0));
      params += r.params;
      domains += r.domains;
    }
    for (int i = 0; each && i < ndoms; i++) {
      virDomainPtr one[2] = {doms[i], NULL};
      uint64_t c0 = vs_now_ns();
      if (bulk_call(c, one, GROUPS_SIX,
                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT, &r) < 0)
        die_virt("virDomainListGetStats");
      samples_add(&calls, us_since(c0));
      params += r.params;
      domains += r.domains;
    }
    samples_add(&rounds, us_since(r0));
  }
  double wall = (double)(vs_now_ns() - t0) / 1e9;
  sync_point("done");
  printf("{\"cmd\":\"perdomain\",\"mode\":\"%s\",\"domains\":%d,"
         "\"rounds\":%zu,\"calls\":%zu,\"wall_s\":%.6f,"
         "\"domains_per_round\":%.2f,\"params_per_round\":%.2f,",
         mode, ndoms, rounds.n, calls.n, wall,
         (double)domains / (double)rounds.n, (double)params / (double)rounds.n);
  print_samples("round_us", &rounds);
  printf(",");
  print_samples("call_us", &calls);
  printf("}\n");
  for (int i = 0; i < ndoms; i++)
    virDomainFree(doms[i]);
  free(doms);
  vs_virt_conn_close(c);
  free(rounds.v);
  free(calls.v);
  return 0;
}

/* --- clients --------------------------------------------------------------
 */

typedef struct {
  const char *uri;
  unsigned stats, flags;
  pthread_barrier_t *connected, *go;
  const uint64_t *end_ns; /* written by main before the go barrier */
  virConnectPtr conn;
  samples_t lat;
  long long domains;
  size_t params;
  vs_error_t err;
} client_t;

static void *client_main(void *arg) {
  client_t *cl = arg;
  bulk_result_t r;
  cl->conn = vs_virt_open(cl->uri, true, &cl->err);
  if (cl->conn &&
      bulk_call(cl->conn, NULL, cl->stats, cl->flags, &r) < 0) /* warm-up */
    vs_error_set_virt(&cl->err, -EIO, "virConnectGetAllDomainStats");
  /* Every client reaches both barriers, failed or not, or main waits for
   * ever. */
  pthread_barrier_wait(cl->connected);
  pthread_barrier_wait(cl->go);
  while (!cl->err.code && vs_now_ns() < *cl->end_ns) {
    uint64_t c0 = vs_now_ns();
    if (bulk_call(cl->conn, NULL, cl->stats, cl->flags, &r) < 0) {
      vs_error_set_virt(&cl->err, -EIO, "virConnectGetAllDomainStats");
      break;
    }
    samples_add(&cl->lat, us_since(c0));
    cl->domains += r.domains;
    cl->params += r.params;
  }
  return NULL;
}

static int cmd_clients(int argc, char **argv) {
  if (argc != 4 && argc != 5)
    usage();
  const char *uri = argv[0];
  unsigned n = (unsigned)parse_num(argv[1], 1, "N");
  double seconds = parse_num(argv[2], 0.1, "SECONDS");
  unsigned stats = parse_groups(argv[3]);
  bool waiting = argc == 5 && strcmp(argv[4], "wait") == 0;
  if (argc == 5 && !waiting)
    usage();
  start_eventloop();
  client_t *cls = calloc(n, sizeof(*cls));
  pthread_t *tids = calloc(n, sizeof(*tids));
  if (!cls || !tids)
    die("out of memory");
  pthread_barrier_t connected, go;
  pthread_barrier_init(&connected, NULL, n + 1);
  pthread_barrier_init(&go, NULL, n + 1);
  uint64_t end_ns = 0;
  for (unsigned i = 0; i < n; i++) {
    cls[i] =
        (client_t){.uri = uri,
                   .stats = stats,
                   .flags = waiting ? VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
                                    : BULK_FLAGS,
                   .connected = &connected,
                   .go = &go,
                   .end_ns = &end_ns};
    if (pthread_create(&tids[i], NULL, client_main, &cls[i]) != 0)
      die("cannot start a client thread");
  }
  pthread_barrier_wait(&connected);
  sync_point("ready");
  uint64_t t0 = vs_now_ns();
  end_ns = t0 + (uint64_t)(seconds * 1e9);
  pthread_barrier_wait(&go);
  for (unsigned i = 0; i < n; i++)
    pthread_join(tids[i], NULL);
  double wall = (double)(vs_now_ns() - t0) / 1e9;
  sync_point("done");
  samples_t all = {0};
  long long domains = 0;
  size_t params = 0;
  for (unsigned i = 0; i < n; i++) {
    if (cls[i].err.code)
      die_err(&cls[i].err);
    samples_merge(&all, &cls[i].lat);
    domains += cls[i].domains;
    params += cls[i].params;
  }
  printf("{\"cmd\":\"clients\",\"clients\":%u,\"groups\":", n);
  print_str(argv[3]);
  printf(",\"nowait\":%s,\"wall_s\":%.6f,\"calls\":%zu,\"calls_per_s\":%.3f,"
         "\"domains_per_s\":%.3f,\"domains_per_call\":%.2f,"
         "\"params_per_domain\":%.2f,\"calls_per_client\":[",
         waiting ? "false" : "true", wall, all.n, (double)all.n / wall,
         (double)domains / wall, all.n ? (double)domains / (double)all.n : 0.0,
         domains ? (double)params / (double)domains : 0.0);
  for (unsigned i = 0; i < n; i++)
    printf("%s%zu", i ? "," : "", cls[i].lat.n);
  printf("],");
  print_samples("call_us", &all);
  printf("}\n");
  for (unsigned i = 0; i < n; i++) {
    vs_virt_conn_close(cls[i].conn);
    free(cls[i].lat.v);
  }
  free(all.v);
  free(cls);
  free(tids);
  pthread_barrier_destroy(&connected);
  pthread_barrier_destroy(&go);
  return 0;
}

/* --- executor jobs ------------------------------------------------------- */

/* A job that does nothing: what the executor alone costs. */
static void noop_fn(void *arg) { ++*(volatile unsigned long *)arg; }
static void noop_release(void *arg) { (void)arg; }

static vs_executor_t *new_executor(void) {
  /* One worker, as the plugin's block-info thread calls one at a time. */
  vs_executor_opts_t o = {
      .name = "lvbench", .max_workers = 1, .max_abandoned = 4};
  vs_executor_t *ex = NULL;
  vs_error_t err = {0};
  if (vs_executor_new(&o, &ex, &err) < 0)
    die_err(&err);
  return ex;
}

/* ITER no-op jobs through ex and ITER direct calls into direct, and the
 * no-op's count in *timeouts when a job missed its (1 s) deadline. */
static void noop_runs(vs_executor_t *ex, unsigned iter, samples_t *direct,
                      samples_t *via, unsigned *timeouts) {
  static unsigned long counter;
  void (*volatile fn)(void *) = noop_fn; /* not inlined away */
  for (unsigned i = 0; i < iter; i++) {
    uint64_t c0 = vs_now_ns();
    fn(&counter);
    samples_add(direct, us_since(c0));
    c0 = vs_now_ns();
    if (vs_executor_run(ex, noop_fn, noop_release, &counter,
                        c0 + VS_NS_PER_SEC) < 0)
      ++*timeouts;
    samples_add(via, us_since(c0));
  }
}

static int cmd_executor(int argc, char **argv) {
  if (argc != 1)
    usage();
  unsigned iter = (unsigned)parse_num(argv[0], 1, "ITER");
  vs_executor_t *ex = new_executor();
  samples_t direct = {0}, via = {0};
  unsigned timeouts = 0;
  noop_runs(ex, iter, &direct, &via, &timeouts);
  double overhead = median_of(&via) - median_of(&direct);
  printf("{\"cmd\":\"executor\",\"iter\":%u,\"timeouts\":%u,"
         "\"overhead_us\":%.3f,",
         iter, timeouts, overhead);
  print_samples("direct_us", &direct);
  printf(",");
  print_samples("executor_us", &via);
  printf("}\n");
  vs_executor_free(ex, VS_NS_PER_SEC);
  free(direct.v);
  free(via.v);
  return 0;
}

/* --- blockinfo ------------------------------------------------------------
 */

typedef struct {
  virDomainPtr dom; /* a reference of its own */
  char *disk;
} disk_t;

/* One virDomainGetBlockInfo as an executor job: it owns its domain
 * reference and disk name, so an abandoned job stays valid until its call
 * returns; errors are read on the worker's thread, where libvirt keeps
 * them. */
typedef struct {
  virDomainPtr dom;
  char *disk;
  virDomainBlockInfo info;
  int rc;
  vs_error_t err;
} bi_job_t;

static void bi_fn(void *arg) {
  bi_job_t *j = arg;
  j->rc = virDomainGetBlockInfo(j->dom, j->disk, &j->info, 0);
  if (j->rc < 0)
    vs_error_set_virt(&j->err, -EIO, "virDomainGetBlockInfo %s", j->disk);
}

static void bi_release(void *arg) {
  bi_job_t *j = arg;
  vs_virt_domain_free(j->dom);
  free(j->disk);
  free(j);
}

/* virDomainGetBlockInfo through ex with a deadline; returns 0, 1 when the
 * deadline passed, and dies on a libvirt error. */
static int bi_timed(vs_executor_t *ex, const disk_t *d, uint64_t deadline_ns) {
  bi_job_t *j = calloc(1, sizeof(*j));
  if (!j || !(j->disk = strdup(d->disk)))
    die("out of memory");
  if (virDomainRef(d->dom) < 0)
    die_virt("virDomainRef");
  j->dom = d->dom;
  if (vs_executor_run(ex, bi_fn, bi_release, j, deadline_ns) < 0)
    return 1; /* abandoned: the executor releases j */
  if (j->rc < 0)
    die_err(&j->err);
  bi_release(j);
  return 0;
}

/* The running domains' disks, from the block group's block.N.name, and the
 * sizes the block group gives for the first disk. */
static size_t list_disks(virConnectPtr c, disk_t **ret,
                         unsigned long long bulk_sizes[3]) {
  virDomainStatsRecordPtr *recs = NULL;
  int n =
      virConnectGetAllDomainStats(c, VIR_DOMAIN_STATS_BLOCK, &recs, BULK_FLAGS);
  if (n < 0)
    die_virt("virConnectGetAllDomainStats (block)");
  size_t nd = 0, cap = 0;
  disk_t *ds = NULL;
  for (int i = 0; i < n; i++) {
    unsigned count = 0;
    virTypedParamsGetUInt(recs[i]->params, recs[i]->nparams, "block.count",
                          &count);
    for (unsigned b = 0; b < count; b++) {
      char key[64];
      const char *name = NULL;
      snprintf(key, sizeof(key), "block.%u.name", b);
      if (virTypedParamsGetString(recs[i]->params, recs[i]->nparams, key,
                                  &name) <= 0)
        continue;
      if (nd == 0) {
        static const char *const what[3] = {"capacity", "allocation",
                                            "physical"};
        for (int k = 0; k < 3; k++) {
          snprintf(key, sizeof(key), "block.%u.%s", b, what[k]);
          virTypedParamsGetULLong(recs[i]->params, recs[i]->nparams, key,
                                  &bulk_sizes[k]);
        }
      }
      if (nd == cap) {
        cap = cap ? cap * 2 : 64;
        disk_t *grown = realloc(ds, cap * sizeof(*ds));
        if (!grown)
          die("out of memory");
        ds = grown;
      }
      if (virDomainRef(recs[i]->dom) < 0)
        die_virt("virDomainRef");
      ds[nd].dom = recs[i]->dom;
      if (!(ds[nd].disk = strdup(name)))
        die("out of memory");
      nd++;
    }
  }
  virDomainStatsRecordListFree(recs);
  *ret = ds;
  return nd;
}

static int cmd_blockinfo(int argc, char **argv) {
  if (argc != 2 && argc != 3)
    usage();
  const char *uri = argv[0];
  double seconds = parse_num(argv[1], 0, "SECONDS");
  double deadline_ms = argc == 3 ? parse_num(argv[2], 0, "DEADLINE_MS") : 5000;
  uint64_t deadline = (uint64_t)(deadline_ms * 1e6);
  start_eventloop();
  virConnectPtr c = open_conn(uri);
  disk_t *disks = NULL;
  unsigned long long bulk_sizes[3] = {0, 0, 0};
  size_t nd = list_disks(c, &disks, bulk_sizes);
  if (nd == 0)
    die("no running domain has a disk");
  vs_executor_t *ex = new_executor();

  /* The first disk's sizes as virDomainGetBlockInfo gives them, and what
   * it says to a flag (it has no NOWAIT of its own). */
  virDomainBlockInfo info;
  if (virDomainGetBlockInfo(disks[0].dom, disks[0].disk, &info, 0) < 0)
    die_virt("virDomainGetBlockInfo");
  const char *flag_err = "accepted";
  if (virDomainGetBlockInfo(disks[0].dom, disks[0].disk, &info, 1) < 0)
    flag_err = virGetLastErrorMessage();
  char flag_msg[VS_ERROR_MSG_MAX];
  snprintf(flag_msg, sizeof(flag_msg), "%s", flag_err);
  if (virDomainGetBlockInfo(disks[0].dom, disks[0].disk, &info, 0) < 0)
    die_virt("virDomainGetBlockInfo");

  sync_point("ready");
  samples_t direct = {0}, via = {0}, bulk = {0};
  unsigned timeouts = 0;
  size_t rounds = 0;
  uint64_t t0 = vs_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
  /* Rounds over every disk, direct and timed calls alternating (which goes
   * first alternates too), then one bulk call of the block group: slow
   * drifts of the machine fall on all three alike. */
  while (rounds < MIN_CALLS || vs_now_ns() < end) {
    for (size_t i = 0; i < nd; i++) {
      for (int k = 0; k < 2; k++) {
        uint64_t c0 = vs_now_ns();
        if ((k + rounds) % 2 == 0) {
          virDomainBlockInfo bi;
          if (virDomainGetBlockInfo(disks[i].dom, disks[i].disk, &bi, 0) < 0)
            die_virt("virDomainGetBlockInfo");
          samples_add(&direct, us_since(c0));
        } else {
          timeouts += (unsigned)bi_timed(ex, &disks[i], c0 + deadline);
          samples_add(&via, us_since(c0));
        }
      }
    }
    bulk_result_t r;
    uint64_t c0 = vs_now_ns();
    if (bulk_call(c, NULL, VIR_DOMAIN_STATS_BLOCK, BULK_FLAGS, &r) < 0)
      die_virt("virConnectGetAllDomainStats (block)");
    samples_add(&bulk, us_since(c0));
    rounds++;
  }
  double wall = (double)(vs_now_ns() - t0) / 1e9;
  sync_point("done");
  samples_t nd_direct = {0}, nd_via = {0};
  unsigned nd_timeouts = 0;
  noop_runs(ex, 2000, &nd_direct, &nd_via, &nd_timeouts);

  double bulk_med = median_of(&bulk);
  double overhead = median_of(&via) - median_of(&direct);
  double noop = median_of(&nd_via) - median_of(&nd_direct);
  printf("{\"cmd\":\"blockinfo\",\"disks\":%zu,\"rounds\":%zu,"
         "\"wall_s\":%.6f,\"deadline_ms\":%.1f,\"timeouts\":%u,"
         "\"bulk_per_disk_us\":%.3f,\"executor_overhead_us\":%.3f,"
         "\"noop_overhead_us\":%.3f,",
         nd, rounds, wall, deadline_ms, timeouts + nd_timeouts,
         bulk_med / (double)nd, overhead, noop);
  print_samples("direct_us", &direct);
  printf(",");
  print_samples("executor_us", &via);
  printf(",");
  print_samples("bulk_block_us", &bulk);
  printf(",");
  print_samples("noop_executor_us", &nd_via);
  printf(",\"first_disk\":");
  print_str(disks[0].disk);
  printf(",\"blockinfo_sizes\":{\"capacity\":%llu,\"allocation\":%llu,"
         "\"physical\":%llu},\"bulk_sizes\":{\"capacity\":%llu,"
         "\"allocation\":%llu,\"physical\":%llu},\"blockinfo_flag_1\":",
         info.capacity, info.allocation, info.physical, bulk_sizes[0],
         bulk_sizes[1], bulk_sizes[2]);
  print_str(flag_msg);
  printf("}\n");

  vs_executor_free(ex, 10 * VS_NS_PER_SEC);
  for (size_t i = 0; i < nd; i++) {
    vs_virt_domain_free(disks[i].dom);
    free(disks[i].disk);
  }
  free(disks);
  vs_virt_conn_close(c);
  free(direct.v);
  free(via.v);
  free(bulk.v);
  free(nd_direct.v);
  free(nd_via.v);
  return 0;
}

int main(int argc, char **argv) {
  int i = 1;
  if (i < argc && strcmp(argv[i], "--sync") == 0) {
    sync_mode = true;
    i++;
  }
  if (i >= argc)
    usage();
  const char *cmd = argv[i++];
  int rest = argc - i;
  char **args = argv + i;
  int rc;
  if (strcmp(cmd, "groups") == 0)
    rc = cmd_groups(rest, args);
  else if (strcmp(cmd, "perdomain") == 0)
    rc = cmd_perdomain(rest, args);
  else if (strcmp(cmd, "clients") == 0)
    rc = cmd_clients(rest, args);
  else if (strcmp(cmd, "blockinfo") == 0)
    rc = cmd_blockinfo(rest, args);
  else if (strcmp(cmd, "executor") == 0)
    rc = cmd_executor(rest, args);
  else
    usage();
  fflush(stdout);
  vs_eventloop_unref();
  return rc;
}
