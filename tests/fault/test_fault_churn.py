#!/usr/bin/env python3
"""Domains defined, started, stopped and undefined in a tight loop for 2 minutes while
collectd samples at Interval 1 (PluginInstanceFormat "uuid", so every life of a name
has identifiers of its own; 2 steady VMs, 3 churn slots mixing transient and
persistent domains that also stay defined while stopped, 2 slots of domains that are
defined and undefined again without ever starting):

* collectd keeps running and logs no error line (the rig fails on any "[error]");
* no stale identifiers: every row of a domain falls inside one of its running
  windows (a destroyed domain's identifiers get no row after it is gone), and every
  life of a name, re-created with a new UUID, is reported under that UUID;
* each real change is logged once, nothing else: one "no longer running" line per
  stop; per start exactly the two state notifications of libvirt's two events (vCPUs
  resumed, domain started), per destroy its two (shutting down, shut off), no other;
  a domain defined and never started is never mentioned (neither is a define or an
  undefine);
* the steady VMs keep their values through the churn.
"""
import collections
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from vstest import (Checks, notifications, plugin_dir, plugin_lines, rig,  # noqa: E402
                    virtscale_block, wait_steady)

INTERVAL = 1.0
CHURN = 120.0
MIN_HOLD = 3.0  # each state (running, defined) lasts this long at least: seen by reads
# A row carries the time libvirt answered its call, which can come up to ~2.5 s after
# the values were read when the call waits for a domain being torn down (libvirtd
# holds its lock for about 2 s; seen: a row 2.0 s after destroy returned).
SLACK = 3 * INTERVAL
HOST = "hv-churn"
BOOTED = "the domain is running. Reason: normal startup from boot"
RESUMED = "the domain is running. Reason: returned from paused state"
SHUTDOWN = "the domain is being shut down. Reason: shutting down on user request"
DESTROYED = "the domain is shut off. Reason: forced poweroff"


class Slot:
    """One churn name: its state ("empty", "running", "defined") and since when."""

    def __init__(self, name, define_only):
        self.name, self.define_only = name, define_only
        self.state, self.since, self.persistent = "empty", 0.0, False


def main():
    c = Checks("fault_churn")
    rnd = random.Random(8)
    with rig.ensure_libvirtd(), rig.VMs(n=2, disks=1, nics=1) as vms:
        steady = vms.create()
        slots = [Slot(f"{vms.prefix}c{i}", False) for i in range(3)] + \
                [Slot(f"{vms.prefix}d{i}", True) for i in range(2)]
        conf = virtscale_block('Connection "qemu:///system"', 'PluginInstanceFormat "uuid"')
        with rig.Collectd(plugin_dir(), conf, interval=INTERVAL, hostname=HOST) as cd:
            cd.start()
            wait_steady(cd, HOST, INTERVAL)
            windows = collections.defaultdict(list)  # uuid -> [[start, stop]]
            name_of = {}  # uuid -> name
            starts, stops = collections.Counter(), collections.Counter()
            never_started = set()  # uuids of the define-only slots' domains
            uuid_of = {}  # slot name -> uuid of its current domain
            ops = collections.Counter()

            def uuid(name):
                return rig.virsh("domuuid", name).strip()

            def begin(s, now):
                windows[uuid_of[s.name]].append([now, None])
                starts[s.name] += 1

            t0 = time.time()
            while time.time() - t0 < CHURN:
                ready = [s for s in slots if time.time() - s.since >= MIN_HOLD]
                if not ready:
                    time.sleep(0.1)
                    continue
                s = rnd.choice(ready)
                t_before = time.time()
                if s.state == "empty" and s.define_only:
                    vms.create_one(s.name, define_only=True)
                    s.state, s.persistent = "defined", True
                    uuid_of[s.name] = uuid(s.name)
                    name_of[uuid_of[s.name]] = s.name
                    never_started.add(uuid_of[s.name])
                    ops["define"] += 1
                elif s.state == "empty":
                    s.persistent = rnd.random() < 0.5
                    vms.create_one(s.name, persistent=s.persistent)
                    uuid_of[s.name] = uuid(s.name)
                    name_of[uuid_of[s.name]] = s.name
                    s.state = "running"
                    begin(s, t_before)
                    ops["define+start" if s.persistent else "create"] += 1
                elif s.state == "running":
                    keep = s.persistent and rnd.random() < 0.5
                    vms.destroy(s.name, undefine=not keep)
                    windows[uuid_of[s.name]][-1][1] = time.time()
                    stops[s.name] += 1
                    s.state = "defined" if keep else "empty"
                    ops["destroy" if keep else
                        "destroy+undefine" if s.persistent else "destroy"] += 1
                elif s.state == "defined" and (s.define_only or rnd.random() < 0.3):
                    vms.destroy(s.name)  # not running: undefine only
                    s.state = "empty"
                    ops["undefine"] += 1
                else:  # defined, stopped: start it again (same UUID)
                    vms.start(s.name)
                    s.state = "running"
                    begin(s, t_before)
                    ops["start"] += 1
                s.since = time.time()
            t_churn_end = time.time()
            time.sleep(3 * INTERVAL)
            c.check(cd.running(), "collectd died during the churn")
            cd.stop()
            log = cd.log()
            print(f"churn: {sum(ops.values())} operations in {t_churn_end - t0:.0f} s: "
                  f"{dict(ops)}; {len(windows)} domains ran")

            # -- no stale identifiers, every life reported -------------------------------
            idents = cd.identifiers()
            for u, wins in windows.items():
                ident = f"{name_of[u]}/virtscale-{u}/domain_state"
                if ident not in idents:
                    c.check(False, f"{ident}: never reported (ran {wins})")
                    continue
                rows = [t for t, _ in cd.csv_rows(ident)]
                for w in wins:
                    end = w[1] if w[1] is not None else t_churn_end + 3 * INTERVAL
                    c.check(end - w[0] < MIN_HOLD or any(w[0] <= t <= end for t in rows),
                            f"{ident}: no row while it ran {w[0] - t0:.1f}..{end - t0:.1f} s")
                stale = [t for t in rows if not any(
                    w[0] - SLACK <= t <= (w[1] if w[1] is not None else 1e12) + SLACK
                    for w in wins)]
                shown = [(round(a - t0, 1), b and round(b - t0, 1)) for a, b in wins]
                c.check(not stale, f"{ident}: {len(stale)} rows outside its running windows "
                                   f"(first at {stale[0] - t0:.1f} s; windows {shown})"
                        if stale else "")
            ghost = [i for i in idents if any(f"virtscale-{u}/" in i for u in never_started)]
            c.check(not ghost, f"identifiers of domains that never started: {ghost[:5]}")

            # -- each change logged once -------------------------------------------------
            notes = notifications(log)
            for s in slots:
                gone = plugin_lines(log, f'domain "{s.name}" is no longer running')
                c.check(len(gone) == stops[s.name],
                        f"{s.name}: {len(gone)} 'no longer running' lines for "
                        f"{stops[s.name]} stops")
                # libvirt sends two lifecycle events for each start (RESUMED as QEMU's
                # vCPUs start, then STARTED) and for each destroy (SHUTDOWN as QEMU
                # gets its signal, then STOPPED); each is one notification.
                msgs = collections.Counter(n["message"].split("Domain state: ", 1)[-1]
                                           for _, n in notes if n.get("host") == s.name)
                want = {BOOTED: starts[s.name], RESUMED: starts[s.name],
                        SHUTDOWN: stops[s.name], DESTROYED: stops[s.name]}
                c.check(msgs == +collections.Counter(want),
                        f"{s.name}: state notifications {dict(msgs)} for "
                        f"{starts[s.name]} starts and {stops[s.name]} stops")
            for s in slots:
                if s.define_only:
                    lines = [ln for ln in log.splitlines() if s.name in ln]
                    c.check(not lines, f"{s.name} (never started) was logged: {lines[:3]}")

            # -- the steady VMs kept their values ----------------------------------------
            for n in steady:
                rows = [t for t, _ in cd.csv_rows(f"{n}/virtscale-{uuid(n)}/virt_cpu_total")
                        if t0 <= t <= t_churn_end]
                c.check(len(rows) >= 0.8 * (t_churn_end - t0) / INTERVAL,
                        f"{n}: {len(rows)} values in {t_churn_end - t0:.0f} s of churn")
    c.done()


if __name__ == "__main__":
    main()
