#!/usr/bin/env python3
"""Boot-storm sweep of virtscale-start on tiny real guests: which bound is best here?

    VIRTSCALE_BUILD_DIR=build python3 tests/bench/bench_start_sweep.py \\
        [--vms 20] [--levels 1,2,4,8,16,0,auto] [--repeat 1] [--out DIR]

Defines --vms tiny guests (Debian kernel + busybox initramfs, TCG, 128 MiB, built by
tests/rig/guest.py) that print a marker on their serial console when booted, then runs
`virtscale-start sweep --ready console:MARKER` over them: at each bound every guest is
stopped, the host gets a cool-down, and the storm runs with that bound, each throttle slot
held until the guest is ready. The helper prints the table (wall, mean/p95 time to ready,
throttle wait, helper and whole-host CPU) and the recommended bound, and writes DIR/sweep.json,
.dat and .png. This script adds how far `auto` is from the best fixed bound.

It prints figures and asserts nothing (a benchmark, not a test); it fails only when the
world cannot be set up or the helper fails. Not run by ctest: 20 guests take ~10 minutes."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rig"))
import guest  # noqa: E402
import rig  # noqa: E402

MARKER = "VS-BENCH-READY"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--levels", default="1,2,4,8,16,0,auto")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cooldown", default="5")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="virtscale-sweep-")
    os.makedirs(out, exist_ok=True)
    helper = os.path.join(rig.build_dir(), "startup-helper", "virtscale-start")
    if not os.access(helper, os.X_OK):
        raise rig.RigError(f"{helper} not built")
    kernel, initrd = guest.build()
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=0, nics=0) as vms:
        names = [vms.create_one(f"{vms.prefix}{i:02d}", define_only=True,
                                xml_edit=guest.xml_edit(kernel, initrd, marker=MARKER))
                 for i in range(a.vms)]
        cmd = [helper, "sweep", "--levels", a.levels, "--repeat", str(a.repeat),
               "--cooldown", a.cooldown, "--ready", f"console:{MARKER}", "--timeout", "900",
               "--progress", "plain", "--out", os.path.join(out, "sweep"), *names]
        print("$", " ".join(cmd[:12]), "...", flush=True)
        cp = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, timeout=6 * 3600)
        print(cp.stdout, flush=True)
        if cp.returncode != 0:
            raise rig.RigError(f"virtscale-start sweep exited {cp.returncode}")
    with open(os.path.join(out, "sweep.json")) as f:
        data = json.load(f)
    rows = data["levels"]
    fixed = [r for r in rows if r["level"] != "auto" and r["failed_runs"] == 0]
    if fixed:
        best_wall = min(fixed, key=lambda r: r["wall_s"])
        best_mean = min(fixed, key=lambda r: r["mean_time_to_ready_s"])
    for r in rows:
        if r["level"] == "auto" and fixed:
            print(f"auto (final bound {r['final_bound']:.1f}): wall {r['wall_s']:.2f} s = "
                  f"{100 * (r['wall_s'] / best_wall['wall_s'] - 1):+.1f} % vs best fixed wall "
                  f"(bound {best_wall['level']}, {best_wall['wall_s']:.2f} s); mean time to "
                  f"ready {r['mean_time_to_ready_s']:.2f} s = "
                  f"{100 * (r['mean_time_to_ready_s'] / best_mean['mean_time_to_ready_s'] - 1):+.1f}"
                  f" % vs best fixed mean (bound {best_mean['level']}, "
                  f"{best_mean['mean_time_to_ready_s']:.2f} s)")
    for r in rows:
        print(f"bound {r['level']:>4}: helper CPU {r['helper_cpu_s']:.3f} s of "
              f"{r['host_cpu_s']:.1f} s host CPU during the storm "
              f"({100 * r['helper_cpu_s'] / max(r['host_cpu_s'], 1e-9):.3f} %)")
    print(f"outputs in {out}: sweep.json sweep.dat sweep.png")


if __name__ == "__main__":
    main()
