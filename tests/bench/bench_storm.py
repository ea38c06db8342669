#!/usr/bin/env python3
"""A boot storm beside steady VMs: do the steady VMs keep their values every interval?

    VIRTSCALE_BUILD_DIR=build tests/bench/bench_storm.py [--steady 20] [--storm 20]
        [--interval 10] [--after 30]

--steady tiny OS-less VMs run (KVM when there is /dev/kvm); collectd samples them with
virtscale (its defaults) at --interval. Then `virtscale-start --max-parallel 0` boots
--storm tiny real guests at once (Debian kernel + busybox, TCG, ready on a console
marker: tests/rig/guest.py), the way a host comes back after maintenance. From the storm's
start until --after seconds after it ended, LISTVAL is polled three times an interval
and, per group, the share of steady VMs with a value in every interval is counted
(bench_scale.freshness: no gap over 1.5 intervals). Also printed: the reads' wall
(duration-sample) during the storm, collectd's "took ... seconds" lines, and the
unresponsive FAILURE notifications (a guest slow to boot is not stuck). Prints figures;
asserts nothing."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "rig"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import bench_scale  # noqa: E402
import guest  # noqa: E402
import rig  # noqa: E402
from vstest import notifications  # noqa: E402

MARKER = "VS-STORM-READY"
HOST = "hv-storm"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steady", type=int, default=20)
    ap.add_argument("--storm", type=int, default=20)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--after", type=float, default=30.0)
    a = ap.parse_args()
    kernel, initrd = guest.build()
    helper = os.path.join(rig.build_dir(), "startup-helper", "virtscale-start")
    work = tempfile.mkdtemp(prefix="vs-bench-storm-")
    conf = bench_scale.NETWORK + bench_scale.VIRTSCALE
    with rig.ensure_libvirtd(), rig.VMs(n=a.steady, disks=1, nics=1) as vms:
        steady = vms.create(parallel=4)
        edit = guest.xml_edit(kernel, initrd, marker=MARKER)
        storm = [vms.create_one(f"{vms.prefix}g{i:02d}", define_only=True, xml_edit=edit)
                 for i in range(a.storm)]
        with rig.Collectd(os.path.join(rig.build_dir(), "plugin"), conf,
                          interval=a.interval, hostname=HOST, csv=False,
                          allow_errors=[r"."]) as cd:  # counted below, not fatal
            cd.start()
            time.sleep(3 * a.interval)  # steady state first
            seen, reads = {}, []

            def poll():
                for ident, t in bench_scale.listval(cd).items():
                    seen.setdefault(ident, set()).add(t)
                v = bench_scale.selfval(cd, "duration-sample", HOST)
                if v is not None:
                    reads.append(v)

            t0 = time.time()
            proc = subprocess.Popen(
                [helper, "--max-parallel", "0", "--ready", f"console:{MARKER}",
                 "--timeout", "300", "--no-collectd", "--progress", "none",
                 "--report", os.path.join(work, "report.json"), *storm],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            while proc.poll() is None:
                poll()
                time.sleep(a.interval / 3)
            t_storm = time.time()
            end = t_storm + a.after
            while time.time() < end:
                poll()
                time.sleep(a.interval / 3)
            t1 = time.time()
            out = proc.stdout.read()
            log = cd.log()
            cd.stop()
    fresh, every = bench_scale.freshness(seen, steady, "virtscale", t0, t1, a.interval)
    took = [ln for ln in log.splitlines() if "took" in ln and "seconds" in ln]
    errors = [ln for ln in log.splitlines() if "[error]" in ln]
    fails = [n for t, n in notifications(log)
             if n.get("severity") == "FAILURE" and t0 - 1 <= t <= t1 + 1]
    print(f"storm: {a.storm} guests booted at once in {t_storm - t0:.1f} s "
          f"(virtscale-start exit {proc.returncode}); {a.steady} steady VMs, Interval "
          f"{a.interval:g}, {int((t1 - t0) // a.interval)} intervals observed")
    print("steady VMs with a value in every interval:")
    for g in bench_scale.PROBES:
        print(f"  {g:10s} {100 * fresh[g]:5.1f} %   (the worst: one value every {every[g]} "
              f"intervals)")
    print(f"reads during the storm: max {max(reads or [0]):.2f} s, "
          f"p50 {bench_scale.pct(reads, 50):.2f} s (SampleTimeout {0.75 * a.interval:g} s)")
    print(f"collectd 'took ... seconds' lines: {len(took)}; error lines: {len(errors)} "
          f"{errors[:2]}; FAILURE notifications: {len(fails)} "
          f"{[n.get('message') for n in fails][:3]}")
    ok = all(v >= 0.999 for v in fresh.values()) and not took
    print(f"[{'met' if ok else 'MISSED'}] Interval {a.interval:g}, a boot storm of "
          f"{a.storm} guests (unbounded) beside {a.steady} running VMs: every running VM "
          f"has its values in every interval")
    try:
        with open(os.path.join(work, "report.json")) as f:
            report = json.load(f)
        failed = [(v["name"], v["error"]) for v in report["vms"] if v["state"] != "ready"]
        print(f"virtscale-start: {report['counts']}; not ready: {failed[:5]}")
    except (OSError, ValueError, KeyError) as e:
        print(f"virtscale-start report unreadable ({e}); output:\n{out[-2000:]}")


if __name__ == "__main__":
    main()
