#!/usr/bin/env python3
"""collectd stops within a few seconds whatever the block-info thread is doing.

8 VMs with 2 disks each; virtscale with `BlockInfo true`, `BlockInfoInterval 60`,
`BlockInfoTimeout 20`. The sampler takes only job-free groups (`Stats "state
interface"`), so the block-info thread is the only caller that reaches a QEMU monitor
and `virsh domcontrol` shows where it is. A fresh collectd is stopped (SIGTERM, then
wait until the process is gone) in four situations:

(a) between cycles: the first cycle has answered for every VM and the thread waits for
    the next one, 60 s later;
(b) in the middle of a cycle: every QEMU is sluggish (SIGSTOPped but for 20 ms
    every SLUG_STOP s), so a cycle over the 8 VMs takes many seconds; collectd is
    stopped once a VM has answered and at least 3 have not;
(c) while a block-info call is stuck: one QEMU is SIGSTOPped (its virDomainGetBlockInfo
    never answers) and collectd is stopped while that call is out, a second after
    `virsh domcontrol` shows its monitor occupied; SIGCONT once collectd is gone;
(d) while every worker is stuck: `MaxAbandonedWorkers 1` and two frozen QEMUs, so the
    second stuck call's worker is not replaced and closing the connection it held up
    finds no worker; collectd is stopped a second after both calls are out.

In each case collectd must be gone within BOUND seconds (far below BlockInfoInterval
and BlockInfoTimeout, which a shutdown that waits for the next cycle, for the rest of a
cycle or for a stuck call's deadline takes), exit 0, and log no [error] line. The
measured stop times are printed.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from vstest import Checks, plugin_dir, rig, virtscale_block  # noqa: E402

N_VMS, DISKS = 8, 2
PERIOD = 60.0    # BlockInfoInterval
TIMEOUT = 20.0   # BlockInfoTimeout (below BlockInfoInterval, as the config requires)
BOUND = 8.0      # collectd gone within this long after SIGTERM (case d: ~3 s here)
GIVE_UP = 80.0   # then SIGKILL: past PERIOD, so a failing shutdown is measured whole
SLUG_STOP, SLUG_RUN = 1.0, 0.02  # case (b): the QEMUs stopped / running per round


def config(*extra):
    return virtscale_block('Connection "qemu:///system"', 'Stats "state interface"',
                           "BlockInfo true", f"BlockInfoInterval {PERIOD:g}",
                           f"BlockInfoTimeout {TIMEOUT:g}", *extra)


def answered(cd, names):
    """The VMs whose every disk has a block-info value in the csv output."""
    have = cd.identifiers()
    disks = ["vd" + chr(ord("a") + d) for d in range(DISKS)]
    return [n for n in names
            if all(f"{n}/virtscale/disk_allocation-{d}" in have for d in disks)]


def stop_timed(cd):
    """SIGTERM collectd (as rig.Collectd.stop does) and time it until the process is
    gone; SIGKILL after GIVE_UP s. Returns (seconds, exit code or None if killed)."""
    proc = cd.proc
    t0 = time.monotonic()
    for sig in (signal.SIGTERM, signal.SIGCONT):
        proc.send_signal(sig)
    try:
        rc = proc.wait(GIVE_UP)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    took = time.monotonic() - t0
    cd.stop()  # collects the log's [error] lines; the process is gone already
    return took, rc


@contextmanager
def sluggish(pids):
    """Keep the QEMUs pids stopped but for SLUG_RUN s every SLUG_STOP s (a monitor that
    answers, slowly), until the with block ends; then SIGCONT them for good."""
    done = threading.Event()

    def signal_all(sig):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass

    def loop():
        while not done.is_set():
            signal_all(signal.SIGSTOP)
            done.wait(SLUG_STOP)
            signal_all(signal.SIGCONT)
            time.sleep(SLUG_RUN)

    t = threading.Thread(target=loop)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join()
        signal_all(signal.SIGCONT)


def monitor_busy(name):
    """Whether VM name's QEMU monitor has a call out (`virsh domcontrol`, job-free)."""
    return rig.virsh("domcontrol", name).strip().startswith("occupied")


def main():
    c = Checks("blockinfo_shutdown")
    times = {}
    with rig.ensure_libvirtd(), rig.VMs(n=N_VMS, disks=DISKS, nics=1) as vms:
        names = vms.create()

        def check_stop(case, took, rc, cd):
            times[case] = took
            print(f"{case}: collectd gone {took:.2f} s after SIGTERM (exit {rc})",
                  flush=True)
            c.check(rc == 0, f"{case}: collectd exit {rc} (None: killed after "
                             f"{GIVE_UP:.0f} s)")
            c.check(took <= BOUND, f"{case}: collectd took {took:.2f} s to stop "
                                   f"(bound {BOUND:.0f} s)")

        # -- (a) between cycles -----------------------------------------------------------
        with rig.Collectd(plugin_dir(), config(), interval=1, hostname="hv-bis") as cd:
            cd.start()
            rig.wait_for(lambda: len(answered(cd, names)) == N_VMS, 60, 0.2,
                         "the first block-info cycle to answer for every VM")
            time.sleep(2)  # the thread now waits for its next cycle
            took, rc = stop_timed(cd)
            check_stop("(a) between cycles", took, rc, cd)

        # -- (b) in the middle of a cycle ---------------------------------------------------
        with rig.Collectd(plugin_dir(), config(), interval=1, hostname="hv-bis") as cd:
            with sluggish([vms.qemu_pid(n) for n in names]):
                t0 = time.monotonic()
                cd.start()
                got = rig.wait_for(lambda: answered(cd, names), 120, 0.1,
                                   "a sluggish block-info cycle to answer for a VM")
                c.check(len(got) <= N_VMS - 3,
                        f"(b): {len(got)} of {N_VMS} VMs answered before the stop "
                        f"(cycle too quick to stop in its middle)")
                print(f"(b): {len(got)} of {N_VMS} VMs answered "
                      f"{time.monotonic() - t0:.1f} s after start; stopping", flush=True)
                took, rc = stop_timed(cd)
            check_stop("(b) mid-cycle", took, rc, cd)

        # -- (c) a block-info call stuck on a frozen QEMU ---------------------------------
        victim = names[N_VMS // 2]
        with rig.Collectd(plugin_dir(), config(), interval=1, hostname="hv-bis") as cd:
            with rig.stopped(vms.qemu_pid(victim)):
                cd.start()
                rig.wait_for(lambda: monitor_busy(victim), 60, 0.2,
                             f"the block-info call to reach frozen {victim}")
                time.sleep(1)
                c.check(monitor_busy(victim), f"(c): {victim}'s call no longer out")
                took, rc = stop_timed(cd)
            check_stop("(c) stuck call", took, rc, cd)

        # -- (d) every worker stuck: the first stuck call's worker was replaced, the
        # second's is not (MaxAbandonedWorkers 1) ------------------------------------------
        frozen = [names[2], names[5]]
        with rig.Collectd(plugin_dir(), config("MaxAbandonedWorkers 1"), interval=1,
                          hostname="hv-bis") as cd:
            with rig.stopped(vms.qemu_pid(frozen[0])), rig.stopped(vms.qemu_pid(frozen[1])):
                cd.start()
                # The second call goes out once the first missed BlockInfoTimeout.
                rig.wait_for(lambda: all(monitor_busy(n) for n in frozen), TIMEOUT + 40,
                             0.2, f"block-info calls to reach both frozen {frozen}")
                time.sleep(1)
                took, rc = stop_timed(cd)
            check_stop("(d) every worker stuck", took, rc, cd)

    print("stop times: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
    c.done()


if __name__ == "__main__":
    main()
