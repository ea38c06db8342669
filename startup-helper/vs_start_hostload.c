#include "vs_start_hostload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int vs_cpu_stat_parse(const char *text, vs_cpu_stat_t *ret) {
  unsigned long long v[8] = {0};
  const char *cpu =
      strncmp(text, "cpu ", 4) == 0 ? text : strstr(text, "\ncpu ");
  if (!cpu)
    return -EINVAL;
  if (*cpu == '\n')
    cpu++;
  /* user nice system idle iowait irq softirq steal */
  if (sscanf(cpu, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
             &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 4)
    return -EINVAL;
  const char *pr = strstr(text, "\nprocs_running ");
  unsigned running;
  if (!pr || sscanf(pr, "\nprocs_running %u", &running) != 1)
    return -EINVAL;
  ret->busy_ticks = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  ret->total_ticks = ret->busy_ticks + v[3] + v[4];
  ret->running = running;
  return 0;
}

static int read_stat(vs_cpu_stat_t *ret) {
  char buf[16384];
  FILE *f = fopen("/proc/stat", "r");
  if (!f)
    return -errno;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  return vs_cpu_stat_parse(buf, ret);
}

void vs_hostload_begin(vs_hostload_t *h, unsigned ncpu) {
  memset(h, 0, sizeof(*h));
  h->ncpu = ncpu ? ncpu : 1;
  h->have_start = read_stat(&h->start) == 0;
}

void vs_hostload_tick(vs_hostload_t *h) {
  vs_cpu_stat_t s;
  if (read_stat(&s) < 0)
    return;
  /* procs_running counts the thread reading it. */
  h->runnable_sum += s.running > 0 ? s.running - 1 : 0;
  h->samples++;
}

vs_host_load_t vs_hostload_take(vs_hostload_t *h) {
  vs_host_load_t load = {.ncpu = h->ncpu};
  vs_cpu_stat_t now;
  if (read_stat(&now) == 0) {
    if (h->have_start && now.total_ticks > h->start.total_ticks &&
        h->samples > 0) {
      load.valid = true;
      load.busy = (double)(now.busy_ticks - h->start.busy_ticks) /
                  (double)(now.total_ticks - h->start.total_ticks);
      load.runnable = h->runnable_sum / h->samples;
    }
    h->start = now;
    h->have_start = true;
  }
  h->runnable_sum = 0;
  h->samples = 0;
  return load;
}

unsigned vs_online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}
