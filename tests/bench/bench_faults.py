#!/usr/bin/env python3
"""Figures for the never-blocking design (prints, asserts nothing).

    VIRTSCALE_BUILD_DIR=build tests/bench/bench_faults.py [--vms 20] [--freeze 20]
        [--paused] [--only-freeze]

1. One of N VMs frozen (QEMU SIGSTOPped) at Interval 1: share of the other VMs'
   expected points delivered during the freeze, read latency p50/max (the plugin's
   duration-sample), collectd's thread count before and during.
2. Sampling CPU per interval (collectd + libvirtd, ms) without and with the block-info
   thread (BlockInfo true, BlockInfoInterval 1), same VMs.
3. libvirtd killed and restarted after 8 s: seconds from libvirtd answering again to the
   first value of every VM (target <= 1 interval)."""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rig"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import rig  # noqa: E402
from vstest import wait_steady  # noqa: E402

INTERVAL = 1.0


def plugin_dir():
    return os.path.join(rig.build_dir(), "plugin")


def block(*lines):
    return ("LoadPlugin virtscale\n<Plugin virtscale>\n  Connection \"qemu:///system\"\n"
            + "".join(f"  {ln}\n" for ln in lines) + "</Plugin>\n")


def freeze(vms, names, seconds, settle=True):
    victim, others = names[len(names) // 2], [n for n in names if n != names[len(names) // 2]]
    with rig.Collectd(plugin_dir(), block(), interval=INTERVAL, hostname="hv-bench") as cd:
        cd.start()
        if settle:
            wait_steady(cd, "hv-bench", INTERVAL)  # VMs past their firmware
        else:
            time.sleep(15)  # many VMs: reads never get short; a fixed warm-up
        base = cd.thread_count()
        with rig.thread_counts(cd) as counts, rig.stopped(vms.qemu_pid(victim)):
            t0 = time.time()
            time.sleep(seconds)
            t1 = time.time()
        time.sleep(3)
        cd.stop()
        expected = int((t1 - t0) / INTERVAL) * len(others)
        got = sum(len([t for t, _ in cd.csv_rows(f"{n}/virtscale/virt_cpu_total")
                       if t0 <= t <= t1]) for n in others)
        lat = sorted(v[0] for t, v in cd.csv_rows("hv-bench/virtscale/duration-sample")
                     if t0 <= t <= t1)
        print(f"1. freeze of 1 of {len(names)} VMs for {seconds:g} s: other VMs' points "
              f"{got}/{expected} ({100.0 * got / expected:.1f} %); read latency p50 "
              f"{lat[len(lat) // 2] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms; collectd "
              f"threads {base} before, max {max(counts)} during", flush=True)


def cpu(label, conf, seconds=20):
    libvirtd = rig.libvirtd_pid()
    with rig.Collectd(plugin_dir(), conf, interval=INTERVAL, csv=False) as cd:
        cd.start()
        time.sleep(5)
        c0, l0, t0 = rig.proc_cpu_ns(cd.pid), rig.proc_cpu_ns(libvirtd), time.monotonic()
        time.sleep(seconds)
        c1, l1, t1 = rig.proc_cpu_ns(cd.pid), rig.proc_cpu_ns(libvirtd), time.monotonic()
        cd.stop()
    n = (t1 - t0) / INTERVAL
    cm, lm = (c1 - c0) / 1e6 / n, (l1 - l0) / 1e6 / n
    print(f"2. {label:28s} collectd {cm:6.2f} ms, libvirtd {lm:6.2f} ms, "
          f"total {cm + lm:6.2f} ms per interval", flush=True)


def restart(handle, names):
    with rig.Collectd(plugin_dir(), block(), interval=INTERVAL,
                      allow_errors=[r"virtscale plugin: not connected"]) as cd:
        cd.start()
        time.sleep(5)
        t_kill = time.time()
        rig.restart_libvirtd(handle, down=8.0, kill=True)
        t_up = time.time()
        time.sleep(6)
        cd.stop()
        firsts = []
        for n in names:
            after = [t for t, _ in cd.csv_rows(f"{n}/virtscale/virt_cpu_total")
                     if t > t_kill + 0.5]
            firsts.append(after[0] - t_up if after else float("inf"))
    print(f"3. libvirtd down {t_up - t_kill:.1f} s: first value of every VM "
          f"{max(firsts):.2f} s after libvirtd answered again (median "
          f"{statistics.median(firsts):.2f} s; target <= {INTERVAL:g} s)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--freeze", type=float, default=20.0)
    ap.add_argument("--paused", action="store_true", help="create the VMs paused")
    ap.add_argument("--only-freeze", action="store_true", help="part 1 only")
    a = ap.parse_args()
    with rig.ensure_libvirtd() as handle, rig.VMs(n=a.vms, disks=1, nics=1) as vms:
        names = vms.create(paused=a.paused, parallel=6)
        time.sleep(10)  # past the firmware
        freeze(vms, names, a.freeze, settle=a.vms <= 20)
        if a.only_freeze:
            return
        cpu("sampling, no block-info thread", block("BlockInfo false"))
        cpu("sampling + block-info thread",
            block("BlockInfo true", "BlockInfoInterval 1", "BlockInfoTimeout 0.5"))
        restart(handle, names)


if __name__ == "__main__":
    main()
