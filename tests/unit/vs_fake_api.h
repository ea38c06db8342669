/* A fake libvirt layer (vs_virt_api_t) for the core's unit tests: a
 * hypervisor of domains whose monitors answer after a set delay, or freeze
 * until thawed, and a libvirtd that can stop answering. It keeps libvirt's
 * rules that shape the core: a monitor-bound call takes the domain's job and
 * walks its domains one after another; NOWAIT passes a domain whose job is
 * held with its job-free fields; job-free groups and the control probe never
 * wait on a monitor. It counts what was asked, so tests can check that no
 * call was sent twice for a domain and nothing was thrown away.
 * Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vs_virt_api.h"

#define FAKE_MAX_DOMAINS 512

typedef struct {
  vs_uuid_t uuid;
  char name[64];
  int id;
  bool running;
  unsigned monitor_ms; /* a monitor-bound call waits this long on it */
  bool frozen;         /* its monitor never answers until thawed */
  /* counters (read under fake_lock) */
  unsigned monitor_calls; /* monitor-bound calls that took its job */
  unsigned overlaps;      /* monitor-bound calls sent for it while
                             another one was still out */
  unsigned nowait_passes; /* calls that found its job held */
  /* state */
  bool job_held;
  unsigned calls_out;     /* monitor-bound calls covering it, not returned */
  uint64_t busy_since_ns; /* its monitor is busy since (0: free) */
  uint64_t cpu_ns;        /* its cpu.time, grows with every answer */
} fake_domain_t;

/* The fake hypervisor. Reset with fake_reset(); reconfigure between reads
 * under fake_lock()/fake_unlock(). */
typedef struct {
  fake_domain_t doms[FAKE_MAX_DOMAINS];
  size_t n;
  bool silent;            /* libvirtd answers nothing (every call blocks) */
  bool no_bulk;           /* the driver refuses enforced groups (test:///) */
  unsigned stats_calls;   /* stats calls answered */
  unsigned control_calls; /* control probes answered */
  unsigned opens;
} fake_hv_t;

extern fake_hv_t fake;
extern const vs_virt_api_t fake_api;

/* n running domains "dom-000".. with the given monitor delay. */
void fake_reset(size_t n, unsigned monitor_ms);
void fake_lock(void);
void fake_unlock(void);
/* Wake calls waiting on a monitor or on a silent libvirtd (after a change
 * made under the lock). */
void fake_wake(void);
/* Thaw everything and let every blocked call return, then wait until none
 * is inside the fake (for teardown). */
void fake_release_all(void);
