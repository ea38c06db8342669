#include "vs_start_batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/vs_event_text.h"
#include "common/vs_thread.h"
#include "common/vs_time.h"
#include "common/vs_virt.h"
#include "vs_start_agent.h"
#include "vs_start_console.h"

#define TICK_NS (100 * VS_NS_PER_MS)
#define AGENT_RETRY_NS (200 * VS_NS_PER_MS)

/* Per-VM state of the engine; guarded by the batch lock. */
struct vs_batch_aux {
  vs_batch_t *b;
  size_t i;
  pthread_t th;
  bool thread_started, joined;
  bool slot_held;    /* holds a throttle slot (main thread's bookkeeping) */
  uint64_t acquired; /* when it took the slot */
  uint64_t deadline; /* its timeout ends (shortened by a stop request) */
  bool reported;     /* on_done called */
  bool paused_start; /* started paused (console probe), resumed after */
  bool stopped;      /* a lifecycle event said it stopped while starting */
  char stop_why[128];
  int console; /* 0 waiting, 1 marker seen, -1 console closed */
  uint64_t console_t;
  char console_why[64];
};

double vs_batch_wall(const vs_batch_t *b, uint64_t t) {
  return ((double)b->wall0 + (double)(t - b->t0)) / 1e9;
}

double vs_batch_rel(const vs_batch_t *b, uint64_t t) {
  return t ? ((double)t - (double)b->t0) / 1e9 : 0;
}

static void wait_until(vs_batch_t *b, uint64_t deadline) {
  vs_cond_wait_until(&b->cond, &b->lock, deadline);
}

/* Event thread. */
static void on_lifecycle(void *opaque, const unsigned char uuid[16], int event,
                         int detail) {
  vs_batch_t *b = opaque;
  uint64_t now = vs_now_ns();
  vs_lock(&b->lock);
  for (size_t i = 0; i < b->n; i++) {
    vs_vm_t *vm = &b->vms[i];
    struct vs_batch_aux *a = &b->aux[i];
    if (memcmp(vm->uuid_raw, uuid, 16) != 0)
      continue;
    if (vm->state < VS_VM_STARTING || vs_vm_state_done(vm->state))
      break;
    if (event == VIR_DOMAIN_EVENT_STARTED && !a->paused_start &&
        !vm->t.running) {
      vm->t.running = now;
    } else if (event == VIR_DOMAIN_EVENT_RESUMED && a->paused_start &&
               vm->t.create_end && !vm->t.running) {
      vm->t.running = now;
    } else if ((event == VIR_DOMAIN_EVENT_STOPPED ||
                event == VIR_DOMAIN_EVENT_CRASHED) &&
               (vm->t.create_end || vm->t.running)) {
      /* Only after our create call: a stop event of an earlier life of
       * the domain can still be on its way. */
      a->stopped = true;
      vs_event_describe(a->stop_why, sizeof(a->stop_why), event, detail,
                        "while starting");
    }
    pthread_cond_broadcast(&b->cond);
    break;
  }
  vs_unlock(&b->lock);
}

/* Event thread, probe lock held. */
static void on_console(void *opaque, int found, const char *why) {
  struct vs_batch_aux *a = opaque;
  vs_batch_t *b = a->b;
  uint64_t now = vs_now_ns();
  vs_lock(&b->lock);
  a->console = found ? 1 : -1;
  a->console_t = now;
  snprintf(a->console_why, sizeof(a->console_why), "%s", why ? why : "");
  pthread_cond_broadcast(&b->cond);
  vs_unlock(&b->lock);
}

/* Under the lock: the VM frees its slot now (once). */
static void release_slot(vs_vm_t *vm, uint64_t now) {
  if (!vm->t.released)
    vm->t.released = now;
}

/* Under the lock: the VM is done. */
static void finish(vs_batch_t *b, vs_vm_t *vm, bool ok, const char *why,
                   uint64_t now) {
  vm->state = ok ? VS_VM_READY : VS_VM_FAILED;
  vm->t.done = now;
  release_slot(vm, now);
  if (!ok && !vm->error)
    vm->error = strdup(why && *why ? why : "failed");
  pthread_cond_broadcast(&b->cond);
}

/* Why a call of vm failed: a call cut off by the VM's own deadline says
 * so; a create may still take effect inside libvirtd. */
static void call_failed(char *why, size_t len, const vs_vm_t *vm,
                        const char *call, int r, const vs_error_t *err,
                        uint64_t deadline) {
  if (r == -ETIMEDOUT && vs_now_ns() >= deadline)
    snprintf(why, len,
             "timed out after %g s: libvirt did not answer the %s call%s",
             vm->timeout_s, call,
             strcmp(call, "create") == 0
                 ? " (libvirtd may still start the domain: see virsh "
                   "domstate)"
                 : "");
  else
    snprintf(why, len, "%s", err->msg);
}

/* Under the lock: why a VM's wait (what) ended at its deadline. */
static void wait_failed(char *why, size_t len, const vs_batch_t *b,
                        const vs_vm_t *vm, const char *what) {
  if (b->stopped)
    snprintf(why, len, "interrupted %s: the batch was stopped", what);
  else
    snprintf(why, len, "timed out after %g s %s", vm->timeout_s, what);
}

/* The deadline for closing what a VM opened: at most the call timeout,
 * and a second even when the VM's deadline has passed. */
static uint64_t closing_deadline(uint64_t deadline) {
  uint64_t d = vs_virt_call_deadline(deadline),
           min = vs_now_ns() + VS_NS_PER_SEC;
  return d > min ? d : min;
}

static void *worker(void *arg) {
  struct vs_batch_aux *a = arg;
  vs_batch_t *b = a->b;
  vs_vm_t *vm = &b->vms[a->i];
  vs_executor_t *ex = b->pool->ex;
  vs_error_t err = {0};
  char why[VS_ERROR_MSG_MAX] = "";
  bool ok = false;
  unsigned idx;
  vs_console_probe_t *probe = NULL;
  virDomainPtr dom = NULL;
  bool console = vm->ready.kind == VS_READY_CONSOLE;

  vs_lock(&b->lock);
  /* The VM's timeout runs from the moment it left the throttle (set in
   * schedule()), and every libvirt call below ends by then: a stalled
   * libvirtd costs the VM its timeout, never the batch a hang. */
  uint64_t deadline = a->deadline;
  vs_unlock(&b->lock);

  virConnectPtr conn = vs_virt_pool_get(b->pool, &idx);
  int r = vs_vcall_lookup_uuid(ex, conn, vm->uuid_raw,
                               vs_virt_call_deadline(deadline), &dom, &err);
  if (r < 0) {
    vs_virt_pool_put(b->pool, idx);
    call_failed(why, sizeof(why), vm, "lookup", r, &err, deadline);
    goto done;
  }

  vs_lock(&b->lock);
  /* The console probe starts the domain paused, attaches to the console
   * and resumes it: a serial console drops what is written before anybody
   * listens, and a fast guest would print its marker before we attach. */
  a->paused_start = console;
  vm->t.create_start = vs_now_ns();
  vm->state = VS_VM_STARTING;
  pthread_cond_broadcast(&b->cond);
  vs_unlock(&b->lock);

  r = vs_vcall_create(ex, dom, console ? VIR_DOMAIN_START_PAUSED : 0, deadline,
                      &err);
  uint64_t now = vs_now_ns();
  if (!console || r < 0) /* the console is opened on the same connection */
    vs_virt_pool_put(b->pool, idx);

  vs_lock(&b->lock);
  if (r != -ETIMEDOUT) /* it returned */
    vm->t.create_end = now;
  if (r == 0 && b->conf.hold == VS_HOLD_CREATE)
    release_slot(vm, now);
  pthread_cond_broadcast(&b->cond);
  vs_unlock(&b->lock);
  if (r < 0) {
    call_failed(why, sizeof(why), vm, "create", r, &err, deadline);
    goto done;
  }

  if (console) {
    /* A stream must belong to the domain's own connection. */
    r = vs_console_probe_start(ex, conn, dom, vm->ready.text, on_console, a,
                               deadline, &probe, &err);
    const char *call = "console open";
    if (r == 0) {
      call = "resume";
      r = vs_vcall_resume(ex, dom, deadline, &err);
    }
    vs_virt_pool_put(b->pool, idx);
    if (r < 0) {
      call_failed(why, sizeof(why), vm, call, r, &err, deadline);
      goto done;
    }
  }

  vs_lock(&b->lock);
  deadline = a->deadline;
  while (!vm->t.running && !a->stopped && vs_now_ns() < a->deadline)
    wait_until(b, a->deadline);
  if (!vm->t.running) {
    if (a->stopped)
      snprintf(why, sizeof(why), "%s", a->stop_why);
    else
      wait_failed(why, sizeof(why), b, vm,
                  "waiting for libvirt to report it running");
    vs_unlock(&b->lock);
    goto done;
  }
  vm->state = VS_VM_RUNNING;
  if (b->conf.hold == VS_HOLD_RUNNING)
    release_slot(vm, vm->t.running);
  pthread_cond_broadcast(&b->cond);

  if (vm->ready.kind == VS_READY_RUNNING) {
    vm->t.ready = vm->t.running;
    ok = true;
  } else if (console) {
    while (a->console == 0 && !a->stopped && vs_now_ns() < a->deadline)
      wait_until(b, a->deadline);
    if (a->console == 1) {
      vm->t.ready = a->console_t;
      ok = true;
    } else if (a->stopped) {
      snprintf(why, sizeof(why), "%s", a->stop_why);
    } else if (a->console < 0) {
      snprintf(why, sizeof(why), "%s before \"%s\" appeared", a->console_why,
               vm->ready.text);
    } else {
      char what[VS_ERROR_MSG_MAX / 2];
      snprintf(what, sizeof(what), "waiting for \"%s\" on the console",
               vm->ready.text);
      wait_failed(why, sizeof(why), b, vm, what);
    }
  }
  vs_unlock(&b->lock);

  if (vm->ready.kind == VS_READY_AGENT) {
    for (;;) {
      r = vs_agent_ping(ex, dom, 1, vs_virt_call_deadline(deadline), &err);
      now = vs_now_ns();
      vs_lock(&b->lock);
      bool stopped = a->stopped;
      deadline = a->deadline;
      if (r == 0 && !stopped) {
        vm->t.ready = now;
        ok = true;
      } else if (!stopped && r != -ETIMEDOUT && r != -ENOTSUP &&
                 now >= deadline) {
        wait_failed(why, sizeof(why), b, vm, "waiting for the guest agent");
      } else if (stopped) {
        snprintf(why, sizeof(why), "%s", a->stop_why);
      }
      vs_unlock(&b->lock);
      if (ok || stopped)
        break;
      if (r == -ETIMEDOUT || r == -ENOTSUP) {
        call_failed(why, sizeof(why), vm, "guest agent", r, &err, deadline);
        break;
      }
      if (now >= deadline)
        break;
      uint64_t left = deadline - now;
      struct timespec ts = {
          0, (long)(left < AGENT_RETRY_NS ? left : AGENT_RETRY_NS)};
      nanosleep(&ts, NULL);
      if (vs_now_ns() >= deadline) {
        /* A ping started now would end at once, blamed on libvirt. */
        vs_lock(&b->lock);
        wait_failed(why, sizeof(why), b, vm, "waiting for the guest agent");
        vs_unlock(&b->lock);
        break;
      }
    }
  }

done:
  /* outside the batch lock: see its doc */
  vs_console_probe_stop(ex, probe, closing_deadline(deadline));
  vs_lock(&b->lock);
  finish(b, vm, ok, why, ok ? vm->t.ready : vs_now_ns());
  vs_unlock(&b->lock);
  vs_virt_domain_free(dom);
  return NULL;
}

static double cpu_seconds_self(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double host_cpu_seconds(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f)
    return 0;
  char buf[16384];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  vs_cpu_stat_t s;
  if (vs_cpu_stat_parse(buf, &s) < 0)
    return 0;
  return (double)s.busy_ticks / (double)sysconf(_SC_CLK_TCK);
}

static int add_trace_bound(vs_batch_t *b, uint64_t now, unsigned bound,
                           const char *reason) {
  vs_bound_change_t *t = realloc(b->trace, (b->n_trace + 1) * sizeof(*t));
  if (!t)
    return -ENOMEM;
  b->trace = t;
  t[b->n_trace++] = (vs_bound_change_t){
      .t = vs_batch_rel(b, now), .bound = bound, .reason = reason};
  return 0;
}

static int add_trace(vs_batch_t *b, uint64_t now, const char *reason) {
  return add_trace_bound(b, now, b->throttle.bound, reason);
}

/* Under the lock: account freed slots, start what the throttle allows. */
static void schedule(vs_batch_t *b, unsigned group, uint64_t now,
                     uint64_t *next_wake) {
  for (size_t i = 0; i < b->n; i++) {
    struct vs_batch_aux *a = &b->aux[i];
    vs_vm_t *vm = &b->vms[i];
    if (a->slot_held && vm->t.released) {
      a->slot_held = false;
      vs_throttle_release(&b->throttle, vm->t.released, a->acquired,
                          vm->state != VS_VM_FAILED);
    }
  }
  if (b->conf.auto_parallel &&
      now - b->throttle.last_decision_ns >= VS_THROTTLE_DECIDE_NS) {
    vs_host_load_t load = vs_hostload_take(&b->load);
    vs_throttle_reason_t why = vs_throttle_adapt(&b->throttle, now, &load);
    if (why != VS_THROTTLE_KEEP)
      add_trace(b, now, vs_throttle_reason_name(why));
  }
  unsigned waiting = 0;
  for (size_t i = 0; i < b->n; i++)
    waiting += b->vms[i].group == group && b->vms[i].state == VS_VM_WAITING &&
               !b->aux[i].thread_started;
  vs_throttle_set_waiting(&b->throttle, waiting);
  unsigned tail_before = b->throttle.tail_starts;
  for (size_t i = 0; i < b->n; i++) {
    vs_vm_t *vm = &b->vms[i];
    if (vm->group != group || vm->state != VS_VM_WAITING ||
        b->aux[i].thread_started)
      continue;
    uint64_t wait = vs_throttle_next_ns(&b->throttle, now);
    if (wait != 0) {
      if (wait != VS_THROTTLE_FULL && now + wait < *next_wake)
        *next_wake = now + wait;
      break;
    }
    vs_throttle_acquire(&b->throttle, now);
    b->aux[i].slot_held = true;
    b->aux[i].acquired = now;
    b->aux[i].deadline =
        now + (uint64_t)(vm->timeout_s * (double)VS_NS_PER_SEC);
    if (pthread_create(&b->aux[i].th, NULL, worker, &b->aux[i]) != 0) {
      finish(b, vm, false, "cannot create a thread", now);
      vm->t.create_start = now;
      continue;
    }
    b->aux[i].thread_started = true;
  }
  /* the tail rule started VMs over the bound: traced with the slots held */
  if (b->throttle.tail_starts != tail_before)
    add_trace_bound(b, now, b->throttle.in_flight, "tail");
}

/* Under the lock: a stop was requested. VMs waiting for a slot are
 * skipped, those being started get the grace period. */
static void stop(vs_batch_t *b, uint64_t now) {
  b->stopped = atomic_load(b->conf.stop);
  uint64_t grace = now + VS_BATCH_STOP_GRACE_S * VS_NS_PER_SEC;
  for (size_t i = 0; i < b->n; i++) {
    vs_vm_t *vm = &b->vms[i];
    struct vs_batch_aux *a = &b->aux[i];
    if (vm->state == VS_VM_WAITING && !a->thread_started) {
      vm->state = VS_VM_SKIPPED;
      vm->t.done = now;
      vm->error = strdup("not started: the batch was stopped");
    } else if (a->thread_started && a->deadline > grace) {
      a->deadline = grace;
    }
  }
  pthread_cond_broadcast(&b->cond);
}

static void count_states(const vs_batch_t *b, size_t *counts) {
  memset(counts, 0, VS_VM_STATE_COUNT * sizeof(*counts));
  for (size_t i = 0; i < b->n; i++)
    counts[b->vms[i].state]++;
}

/* Join finished workers and report done VMs (drops the lock meanwhile). */
static bool reap(vs_batch_t *b) {
  bool any = false;
  for (size_t i = 0; i < b->n; i++) {
    struct vs_batch_aux *a = &b->aux[i];
    vs_vm_t *vm = &b->vms[i];
    if (!vs_vm_state_done(vm->state) || a->reported)
      continue;
    a->reported = true;
    any = true;
    vs_unlock(&b->lock);
    if (a->thread_started && !a->joined) {
      pthread_join(a->th, NULL);
      a->joined = true;
    }
    if (b->conf.on_done)
      b->conf.on_done(b->conf.ctx, b, i);
    vs_lock(&b->lock);
  }
  return any;
}

int vs_batch_run(vs_batch_t *b, vs_vm_t *vms, size_t n,
                 char *const *group_names, size_t n_groups,
                 vs_virt_pool_t *pool, const vs_batch_conf_t *conf,
                 vs_error_t *err) {
  memset(b, 0, sizeof(*b));
  b->vms = vms;
  b->n = n;
  b->group_names = group_names;
  b->n_groups = n_groups;
  b->conf = *conf;
  b->pool = pool;
  /* The cond waits on CLOCK_MONOTONIC deadlines (vs_now_ns()). */
  vs_cond_init(&b->cond);
  vs_mutex_init(&b->lock);
  b->aux = calloc(n ? n : 1, sizeof(*b->aux));
  if (!b->aux)
    return vs_error_set(err, -ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    b->aux[i].b = b;
    b->aux[i].i = i;
  }
  unsigned calls =
      conf->auto_parallel || conf->max_parallel == 0 || conf->max_parallel > n
          ? (unsigned)n
          : conf->max_parallel;
  int r = vs_virt_pool_grow(pool, calls, err);
  if (r < 0)
    return r;
  b->connections = pool->n;

  if ((r = vs_virt_pool_watch(pool, on_lifecycle, b, err)) < 0)
    return r;

  unsigned ncpu = vs_online_cpus();
  vs_throttle_conf_t tc = {.auto_mode = conf->auto_parallel,
                           .bound = conf->max_parallel,
                           .ncpu = ncpu,
                           .max_bound = n ? (unsigned)n : 1,
                           .spacing_ns = conf->spacing_ns};
  double cpu0 = cpu_seconds_self(), host0 = host_cpu_seconds();
  b->t0 = vs_now_ns();
  b->wall0 = vs_wall_ns();
  vs_throttle_init(&b->throttle, &tc, b->t0);
  vs_hostload_begin(&b->load, ncpu);
  if (conf->auto_parallel)
    add_trace(b, b->t0, "start");

  size_t counts[VS_VM_STATE_COUNT];
  vs_lock(&b->lock);
  bool skip = false;
  for (unsigned g = 0; g < (n_groups ? n_groups : 1); g++) {
    uint64_t now = vs_now_ns();
    for (size_t i = 0; i < n; i++) {
      vs_vm_t *vm = &vms[i];
      if (vm->group != g)
        continue;
      vm->t.request = now;
      if (skip || b->stopped) {
        vm->state = VS_VM_SKIPPED;
        vm->t.done = now;
        vm->error =
            strdup(b->stopped ? "not started: the batch was stopped"
                              : "not started: an earlier group did not come "
                                "up");
      } else {
        vm->state = VS_VM_WAITING;
      }
    }
    uint64_t next_tick = now;
    for (;;) {
      now = vs_now_ns();
      uint64_t wake = now + TICK_NS;
      if (conf->stop && !b->stopped && atomic_load(conf->stop))
        stop(b, now);
      schedule(b, g, now, &wake);
      bool changed = reap(b);
      bool group_done = true;
      for (size_t i = 0; i < n; i++)
        if (vms[i].group == g &&
            !(vs_vm_state_done(vms[i].state) && b->aux[i].reported))
          group_done = false;
      now = vs_now_ns();
      if (changed || now >= next_tick || group_done) {
        if (now >= next_tick) {
          if (conf->auto_parallel)
            vs_hostload_tick(&b->load);
          next_tick = now + TICK_NS;
        }
        count_states(b, counts);
        if (conf->on_progress) {
          vs_unlock(&b->lock);
          conf->on_progress(conf->ctx, b, counts, changed);
          vs_lock(&b->lock);
        }
      }
      if (group_done)
        break;
      if (wake > next_tick)
        wake = next_tick;
      wait_until(b, wake);
    }
    for (size_t i = 0; i < n; i++)
      if (vms[i].group == g && vms[i].state != VS_VM_READY)
        skip = true;
  }
  for (size_t i = 0; i < n; i++)
    if (vms[i].t.done > b->t_end)
      b->t_end = vms[i].t.done;
  if (b->t_end == 0)
    b->t_end = vs_now_ns();
  b->final_bound = b->throttle.bound;
  vs_unlock(&b->lock);
  b->helper_cpu_s = cpu_seconds_self() - cpu0;
  b->host_cpu_s = host_cpu_seconds() - host0;
  return 0;
}

void vs_batch_clear(vs_batch_t *b) {
  if (!b || !b->pool)
    return;
  if (b->pool)
    vs_virt_pool_unwatch(b->pool);
  pthread_mutex_destroy(&b->lock);
  pthread_cond_destroy(&b->cond);
  free(b->aux);
  free(b->trace);
  b->aux = NULL;
  b->trace = NULL;
  b->pool = NULL;
}
