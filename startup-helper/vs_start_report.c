#include "vs_start_report.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs_start_throttle.h"

void vs_json_num(yajl_gen g, double v) {
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "%.6f", v);
  yajl_gen_number(g, buf, (size_t)n);
}

void vs_json_str(yajl_gen g, const char *s) {
  if (s)
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
  else
    yajl_gen_null(g);
}

void vs_json_key(yajl_gen g, const char *k) { vs_json_str(g, k); }

/* Written to a fresh temporary file beside path (mkstemp: O_EXCL, so a
 * symlink planted at a predictable name is never followed; mode 0600, the
 * report names every VM), flushed to disk, then renamed over path and the
 * directory synced: a crash leaves the old report or the new one. */
int vs_json_save(yajl_gen g, const char *path, vs_error_t *err) {
  const unsigned char *buf;
  size_t len;
  if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
    return vs_error_set(err, -EINVAL, "%s: JSON generation failed", path);
  size_t plen = strlen(path) + 16;
  char *tmp = malloc(plen);
  char *dir = strdup(path);
  if (!tmp || !dir) {
    free(tmp);
    free(dir);
    return vs_error_set(err, -ENOMEM, "out of memory");
  }
  snprintf(tmp, plen, "%s.XXXXXX", path);
  int fd = mkstemp(tmp);
  int r = 0;
  if (fd < 0) {
    r = vs_error_set(err, -errno, "%s: %s", tmp, strerror(errno));
  } else {
    FILE *f = fdopen(fd, "w");
    if (!f) {
      r = vs_error_set(err, -errno, "%s: %s", tmp, strerror(errno));
      close(fd);
    } else {
      if (fwrite(buf, 1, len, f) != len || fputc('\n', f) == EOF ||
          fflush(f) != 0)
        r = vs_error_set(err, -EIO, "%s: write failed", tmp);
      else if (fsync(fileno(f)) < 0)
        r = vs_error_set(err, -errno, "%s: %s", tmp, strerror(errno));
      if (fclose(f) != 0 && r == 0)
        r = vs_error_set(err, -errno, "%s: %s", tmp, strerror(errno));
    }
    if (r == 0 && rename(tmp, path) < 0)
      r = vs_error_set(err, -errno, "%s: %s", path, strerror(errno));
    if (r < 0) {
      unlink(tmp);
    } else {
      int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        (void)fsync(dfd); /* best effort: the file itself is on disk */
        close(dfd);
      }
    }
  }
  free(tmp);
  free(dir);
  return r;
}

static void time_or_null(yajl_gen g, const vs_batch_t *b, uint64_t t) {
  if (t)
    vs_json_num(g, vs_batch_rel(b, t));
  else
    yajl_gen_null(g);
}

static void summary(yajl_gen g, const vs_summary_t *s) {
  yajl_gen_map_open(g);
  vs_json_key(g, "n");
  yajl_gen_integer(g, (long long)s->n);
  vs_json_key(g, "mean");
  vs_json_num(g, s->mean);
  vs_json_key(g, "p50");
  vs_json_num(g, s->p50);
  vs_json_key(g, "p95");
  vs_json_num(g, s->p95);
  vs_json_key(g, "max");
  vs_json_num(g, s->max);
  yajl_gen_map_close(g);
}

static void vm_json(yajl_gen g, const vs_batch_t *b, const vs_vm_t *vm) {
  yajl_gen_map_open(g);
  vs_json_key(g, "name");
  vs_json_str(g, vm->name);
  vs_json_key(g, "uuid");
  vs_json_str(g, vm->uuid);
  vs_json_key(g, "group");
  vs_json_str(g, vm->group < b->n_groups ? b->group_names[vm->group] : NULL);
  vs_json_key(g, "state");
  vs_json_str(g, vs_vm_state_name(vm->state));
  vs_json_key(g, "error");
  vs_json_str(g, vm->error);
  vs_json_key(g, "ready_probe");
  vs_json_str(g, vs_ready_name(vm->ready.kind));
  if (vm->ready.text) {
    vs_json_key(g, "ready_text");
    vs_json_str(g, vm->ready.text);
  }
  vs_json_key(g, "timeout_s");
  vs_json_num(g, vm->timeout_s);
  vs_json_key(g, "t");
  yajl_gen_map_open(g);
  const struct {
    const char *k;
    uint64_t v;
  } ts[] = {{"request", vm->t.request},
            {"create_start", vm->t.create_start},
            {"create_end", vm->t.create_end},
            {"running", vm->t.running},
            {"ready", vm->t.ready},
            {"slot_released", vm->t.released},
            {"done", vm->t.done}};
  for (size_t k = 0; k < sizeof(ts) / sizeof(ts[0]); k++) {
    vs_json_key(g, ts[k].k);
    time_or_null(g, b, ts[k].v);
  }
  yajl_gen_map_close(g);
  vs_json_key(g, "durations");
  yajl_gen_map_open(g);
  for (vs_phase_t p = 0; p < VS_PHASE_COUNT; p++) {
    double s;
    vs_json_key(g, vs_phase_name(p));
    if (vs_phase_seconds(&vm->t, p, &s))
      vs_json_num(g, s);
    else
      yajl_gen_null(g);
  }
  yajl_gen_map_close(g);
  yajl_gen_map_close(g);
}

int vs_report_write(const char *path, const vs_start_opts_t *opts,
                    const vs_batch_t *b, const vs_reporter_t *rep,
                    vs_error_t *err) {
  yajl_gen g = yajl_gen_alloc(NULL);
  if (!g)
    return vs_error_set(err, -ENOMEM, "out of memory");
  yajl_gen_config(g, yajl_gen_beautify, 1);
  yajl_gen_config(g, yajl_gen_validate_utf8, 0);
  double wall = ((double)b->t_end - (double)b->t0) / 1e9;
  size_t counts[VS_VM_STATE_COUNT] = {0};
  for (size_t i = 0; i < b->n; i++)
    counts[b->vms[i].state]++;

  yajl_gen_map_open(g);
  vs_json_key(g, "version");
  yajl_gen_integer(g, 1);
  vs_json_key(g, "tool");
  vs_json_str(g, "virtscale-start " VS_VERSION);
  vs_json_key(g, "uri");
  vs_json_str(g, opts->uri);
  vs_json_key(g, "started");
  vs_json_num(g, (double)b->wall0 / 1e9);
  vs_json_key(g, "interrupted");
  vs_json_str(g, b->stopped == SIGINT    ? "SIGINT"
                 : b->stopped == SIGTERM ? "SIGTERM"
                 : b->stopped            ? "signal"
                                         : NULL);
  vs_json_key(g, "settings");
  yajl_gen_map_open(g);
  vs_json_key(g, "max_parallel");
  if (b->conf.auto_parallel)
    vs_json_str(g, "auto");
  else
    yajl_gen_integer(g, b->conf.max_parallel);
  vs_json_key(g, "spacing_ms");
  yajl_gen_integer(g, (long long)(b->conf.spacing_ns / 1000000));
  vs_json_key(g, "hold_until");
  vs_json_str(g, vs_hold_name(b->conf.hold));
  vs_json_key(g, "connections");
  yajl_gen_integer(g, b->connections);
  vs_json_key(g, "cpus");
  yajl_gen_integer(g, b->throttle.conf.ncpu);
  yajl_gen_map_close(g);

  vs_json_key(g, "wall_s");
  vs_json_num(g, wall);
  vs_json_key(g, "throughput_vms_per_s");
  vs_json_num(g, wall > 0 ? (double)counts[VS_VM_READY] / wall : 0);
  vs_json_key(g, "helper_cpu_s");
  vs_json_num(g, b->helper_cpu_s);
  vs_json_key(g, "host_cpu_s");
  vs_json_num(g, b->host_cpu_s);
  vs_json_key(g, "counts");
  yajl_gen_map_open(g);
  vs_json_key(g, "vms");
  yajl_gen_integer(g, (long long)b->n);
  for (vs_vm_state_t s = VS_VM_READY; s <= VS_VM_SKIPPED; s++) {
    vs_json_key(g, vs_vm_state_name(s));
    yajl_gen_integer(g, (long long)counts[s]);
  }
  yajl_gen_map_close(g);

  vs_json_key(g, "phases");
  yajl_gen_map_open(g);
  for (vs_phase_t p = 0; p < VS_PHASE_COUNT; p++) {
    vs_summary_t s;
    vs_summary_phase(b->vms, b->n, p, &s);
    vs_json_key(g, vs_phase_name(p));
    summary(g, &s);
  }
  yajl_gen_map_close(g);

  vs_json_key(g, "bound");
  yajl_gen_map_open(g);
  vs_json_key(g, "final");
  yajl_gen_integer(g, b->final_bound);
  vs_json_key(g, "trace");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < b->n_trace; i++) {
    yajl_gen_map_open(g);
    vs_json_key(g, "t");
    vs_json_num(g, b->trace[i].t);
    vs_json_key(g, "bound");
    yajl_gen_integer(g, b->trace[i].bound);
    vs_json_key(g, "reason");
    vs_json_str(g, b->trace[i].reason);
    yajl_gen_map_close(g);
  }
  yajl_gen_array_close(g);
  yajl_gen_map_close(g);

  vs_json_key(g, "groups");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < b->n_groups; i++)
    vs_json_str(g, b->group_names[i]);
  yajl_gen_array_close(g);

  vs_json_key(g, "vms");
  yajl_gen_array_open(g);
  for (size_t i = 0; i < b->n; i++)
    vm_json(g, b, &b->vms[i]);
  yajl_gen_array_close(g);

  vs_json_key(g, "collectd");
  if (rep && rep->socket_path) {
    yajl_gen_map_open(g);
    vs_json_key(g, "socket");
    vs_json_str(g, rep->socket_path);
    vs_json_key(g, "delivered");
    yajl_gen_integer(g, (long long)rep->delivered);
    vs_json_key(g, "refused");
    yajl_gen_integer(g, (long long)rep->refused);
    vs_json_key(g, "spooled");
    yajl_gen_integer(g, (long long)rep->spooled);
    vs_json_key(g, "recovered");
    yajl_gen_integer(g, (long long)rep->recovered);
    vs_json_key(g, "waiting");
    yajl_gen_integer(g, (long long)rep->waiting);
    vs_json_key(g, "lost");
    yajl_gen_integer(g, (long long)rep->lost);
    vs_json_key(g, "replayed_from_spool");
    yajl_gen_integer(g, (long long)rep->replayed.delivered);
    vs_json_key(g, "problem");
    vs_json_str(g, rep->problem.code ? rep->problem.msg : NULL);
    yajl_gen_map_close(g);
  } else {
    yajl_gen_null(g);
  }
  yajl_gen_map_close(g);

  int r = vs_json_save(g, path, err);
  yajl_gen_free(g);
  return r;
}
