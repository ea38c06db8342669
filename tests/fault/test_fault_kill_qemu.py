#!/usr/bin/env python3
"""QEMUs SIGKILLed under collectd at Interval 1 (6 VMs):

* one QEMU is killed while it runs; another is first frozen (SIGSTOP) for 3 s, so
  statistics calls wait on its monitor, and killed in the middle of them;
* collectd keeps running and logs no error line (the rig fails on any "[error]");
* libvirt notices each death (the transient domain is gone) and the plugin drops the
  dead domain: no row of it from 2 intervals after libvirt lists it gone, and one
  "no longer running" line for it;
* every other VM keeps its values from the first kill to the end: monitor-bound
  (cpu, disk) and job-free state at most 3.5 intervals apart (see JOB_FREE_GAP: a
  dying domain holds libvirtd's lock on it for about 2 s, and a call covering it
  waits), and no FAILURE notification.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from vstest import (Checks, notifications, plugin_dir, plugin_lines, rig,  # noqa: E402
                    virtscale_block, wait_steady)

INTERVAL = 1.0
FROZEN = 3.0
# libvirt tears down a QEMU killed in the middle of a monitor call with the domain
# object locked (seen here: about 2 s from SIGKILL to the domain being gone), and a
# job-free bulk call that walks every domain waits for that lock: the job-free values
# (domain_state) of the other VMs miss up to two intervals then. Measured: gaps of
# 2.4 and 2.6 s.
JOB_FREE_GAP = 3.5 * INTERVAL
# The monitor-bound values wait for the same lock when one call covers every domain
# (a small host: one bulk call does it all), so they may miss as much (seen: 2.56 s);
# what must hold is that they come back, within the same bound.
MONITOR_GAP = JOB_FREE_GAP


def gone_from_libvirt(name):
    """True once libvirt no longer lists the (transient) domain name."""
    return name not in rig.virsh("list", "--all", "--name").splitlines()


def main():
    c = Checks("fault_kill_qemu")
    with rig.ensure_libvirtd(), rig.VMs(n=6, disks=1, nics=1) as vms:
        names = vms.create()
        plain, frozen = names[1], names[4]
        victims = (plain, frozen)
        others = [n for n in names if n not in victims]
        conf = virtscale_block('Connection "qemu:///system"', "MaxAbandonedWorkers 4")
        with rig.Collectd(plugin_dir(), conf, interval=INTERVAL, hostname="hv-kill") as cd:
            cd.start()
            wait_steady(cd, "hv-kill", INTERVAL)  # VMs past their firmware
            gone_at, events = {}, {}

            def marks(t0):
                """The events, in seconds after t0, for failure messages."""
                ev = {**events, **{f"{v} gone": t for v, t in gone_at.items()}}
                return ", ".join(f"{k} {t - t0:.2f}" for k, t in sorted(ev.items(),
                                                                      key=lambda e: e[1]))

            # -- a running QEMU killed ---------------------------------------------------
            t_first = time.time()
            os.kill(vms.qemu_pid(plain), signal.SIGKILL)
            rig.wait_for(lambda: gone_from_libvirt(plain), 30, 0.1,
                         f"libvirt to notice that {plain}'s QEMU died")
            gone_at[plain] = time.time()
            time.sleep(3 * INTERVAL)

            # -- a QEMU killed while calls wait on its frozen monitor --------------------
            pid = vms.qemu_pid(frozen)
            os.kill(pid, signal.SIGSTOP)
            t_stop = time.time()
            time.sleep(FROZEN)
            os.kill(pid, signal.SIGKILL)
            t_kill = time.time()
            rig.wait_for(lambda: gone_from_libvirt(frozen), 30, 0.1,
                         f"libvirt to notice that {frozen}'s QEMU died")
            gone_at[frozen] = time.time()
            events["frozen"], events["killed"] = t_stop, t_kill
            time.sleep(6 * INTERVAL)
            t_end = time.time()
            c.check(cd.running(), "collectd died")
            cd.stop()
            log = cd.log()

            # -- the dead domains drop out -------------------------------------------------
            for v in victims:
                late = [t for t, _ in cd.csv_rows(f"{v}/virtscale/domain_state")
                        if t > gone_at[v] + 2 * INTERVAL]
                c.check(not late, f"{v}: {len(late)} rows after its QEMU was gone "
                                  f"(first {late[0] - gone_at[v]:.2f} s after)" if late
                        else "")
                lines = plugin_lines(log, f'domain "{v}" is no longer running')
                c.check(len(lines) == 1, f"{v}: {len(lines)} 'no longer running' lines")

            # -- the others: a value every interval, no FAILURE ----------------------------
            for n in others:
                for metric, bound in (("domain_state", JOB_FREE_GAP),
                                      ("virt_cpu_total", MONITOR_GAP),
                                      ("disk_ops-vda", MONITOR_GAP)):
                    ident = f"{n}/virtscale/{metric}"
                    ts = [t for t, _ in cd.csv_rows(ident) if t_first - INTERVAL <= t <= t_end]
                    gaps = [b - a for a, b in zip(ts, ts[1:])] + [t_end - ts[-1]] if ts \
                        else [t_end - t_first]
                    worst = gaps.index(max(gaps))
                    c.check(max(gaps) <= bound,
                            f"{ident}: gap of {max(gaps):.2f} s after the kills, from "
                            f"{(ts[worst] if ts else t_first) - t_first:.2f} s after the "
                            f"first ({marks(t_first)})")
            notes = notifications(log)
            false_alarms = [n for _, n in notes if n.get("host") in others
                            and n.get("severity") == "FAILURE"]
            c.check(not false_alarms, f"FAILURE for a healthy VM: {false_alarms}")
            crash = [n for _, n in notes if n.get("host") in victims
                     and n.get("type") == "domain_state"]
            print(f"kill_qemu: {len(others)} healthy VMs kept their values; "
                  f"state notifications of the killed VMs: "
                  f"{[(n['host'], n['severity'], n['message']) for n in crash]}")
    c.done()


if __name__ == "__main__":
    main()
