#!/usr/bin/env python3
"""The demo behind tests/demo.sh: tiny VMs booted by virtscale-start under collectd +
virtscale, their boot timings and sampled values read back from collectd, and a graph.

    VIRTSCALE_BUILD_DIR=build tests/demo.py OUTDIR [--vms 3] [--seconds 15]"""
import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "rig"))
import rig  # noqa: E402


def last(cd, ident, col=0):
    rows = cd.csv_rows(ident) if ident in cd.identifiers() else []
    return rows[-1][1][col] if rows else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--vms", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()

    conf = ("LoadPlugin virtscale\n<Plugin virtscale>\n"
            "  Connection \"qemu:///system\"\n</Plugin>\n")
    helper = os.path.join(rig.build_dir(), "startup-helper", "virtscale-start")
    print(f"== defining {a.vms} tiny VMs", flush=True)
    with rig.ensure_libvirtd(), rig.VMs(n=a.vms, disks=2, nics=2) as vms:
        names = vms.create(define_only=True)
        print("   " + ", ".join(names))
        with rig.Collectd(os.path.join(rig.build_dir(), "plugin"), conf, interval=1,
                          workdir=os.path.join(a.outdir, "collectd"),
                          hostname="demo-hypervisor") as cd:
            print("== collectd with virtscale (Interval 1) and unixsock", flush=True)
            cd.start()
            print("== virtscale-start: boot them, at most 2 at a time, timings into collectd",
                  flush=True)
            report = os.path.join(a.outdir, "start-report.json")
            subprocess.run([helper, "--connect", "qemu:///system", "--max-parallel", "2",
                            "--ready", "running", "--collectd-socket", cd.socket,
                            "--spool", os.path.join(a.outdir, "spool"), "--report", report,
                            "--progress", "plain", "--host", "demo-hypervisor"] + names,
                           check=True)
            print(f"\n== boot timings read back from collectd (report: {report})")
            for n in names:
                print(f"   collectdctl getval {n}/virtscale_start/duration-running: "
                      + " ".join(cd.collectdctl("getval", f"{n}/virtscale_start/duration-running")
                                 .split()))
            print(f"\n== sampling for {a.seconds:g} s", flush=True)
            time.sleep(a.seconds)
            print("\n== identifiers of", names[0])
            print("".join(f"   {ln}\n" for ln in cd.collectdctl("listval").splitlines()
                          if ln.split(" ", 1)[-1].startswith(names[0] + "/")), end="")
            print("== collectdctl getval", f"{names[0]}/virtscale/virt_cpu_total")
            print("   " + cd.collectdctl("getval", f"{names[0]}/virtscale/virt_cpu_total")
                  .strip())
            print("\n== latest values (csv)")
            print(f"   {'domain':22s} {'%CPU':>6s} {'memory MiB':>11s} "
                  f"{'vda rd ops':>11s} {'state':>6s}")
            for n in names:
                print(f"   {n:22s} {last(cd, f'{n}/virtscale/percent-virt_cpu_total'):6.2f} "
                      f"{last(cd, f'{n}/virtscale/memory-total') / 2**20:11.0f} "
                      f"{last(cd, f'{n}/virtscale/disk_ops-vda'):11.0f} "
                      f"{last(cd, f'{n}/virtscale/domain_state'):6.0f}")
            host = "demo-hypervisor/virtscale"
            print(f"\n== self-metrics ({host})")
            for t in ("duration-sample", "count-domains", "count-libvirt_calls",
                      "count-errors"):
                print(f"   {t:22s} {last(cd, f'{host}/{t}'):g}")
            cd.stop()

            png = os.path.join(a.outdir, "cpu.png")
            if shutil.which("gnuplot"):
                plot(cd, names, png)
                print(f"\n== graph of %CPU per VM: {png}")
    print(f"== collectd's csv files and log are in {os.path.join(a.outdir, 'collectd')}")


def plot(cd, names, png):
    data = []
    for n in names:
        path = os.path.join(os.path.dirname(png), f"{n}.dat")
        with open(path, "w") as f:
            rows = cd.csv_rows(f"{n}/virtscale/percent-virt_cpu_total")
            t0 = rows[0][0]
            for t, v in rows:
                f.write(f"{t - t0:.3f} {v[0]}\n")
        data.append((path, n))
    script = (f"set terminal png size 900,400 noenhanced\nset output '{png}'\n"
              "set xlabel 'seconds'\nset ylabel '% of the VM''s vCPUs'\n"
              "set title 'virtscale: percent-virt_cpu_total'\n"
              "plot " + ", ".join(f"'{p}' using 1:2 with lines title '{n}'" for p, n in data))
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
