#!/usr/bin/env python3
"""The demo behind tests/demo.sh: tiny VMs booted by virtscale-start under collectd +
virtscale, their boot timings and sampled values read back from collectd, a graph, the
RRD graphs of conf/virtscale-rrd-graphs.sh from collectd's rrdtool writer, and where the
Grafana dashboard is.

    VIRTSCALE_BUILD_DIR=build tests/demo.py OUTDIR [--vms 3] [--seconds 15]"""
import argparse
import os
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "rig"))
import rig  # noqa: E402

RRD_GRAPHS = os.path.join(TOP, "conf", "virtscale-rrd-graphs.sh")
DASHBOARD = os.path.join(TOP, "conf", "grafana", "virtscale-dashboard.json")


def last(cd, ident, col=0):
    rows = cd.csv_rows(ident) if ident in cd.identifiers() else []
    return rows[-1][1][col] if rows else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--vms", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()

    rrd_dir = os.path.join(a.outdir, "rrd")
    # collectd's rrdtool writer beside the csv one; HeartBeat 10 so that a value late
    # by a few seconds on a busy host leaves no gap in the 1 s steps.
    conf = ("LoadPlugin virtscale\n<Plugin virtscale>\n"
            "  Connection \"qemu:///system\"\n</Plugin>\n"
            f"LoadPlugin rrdtool\n<Plugin rrdtool>\n  DataDir \"{rrd_dir}\"\n"
            "  HeartBeat 10\n</Plugin>\n")
    helper = os.path.join(rig.build_dir(), "startup-helper", "virtscale-start")
    print(f"== defining {a.vms} tiny VMs", flush=True)
    with rig.ensure_libvirtd(), rig.VMs(n=a.vms, disks=2, nics=2) as vms:
        names = vms.create(define_only=True)
        print("   " + ", ".join(names))
        with rig.Collectd(os.path.join(rig.build_dir(), "plugin"), conf, interval=1,
                          workdir=os.path.join(a.outdir, "collectd"),
                          hostname="demo-hypervisor") as cd:
            print("== collectd with virtscale (Interval 1), unixsock, csv and rrdtool",
                  flush=True)
            t0 = int(time.time()) - 2
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
            rrd_graphs(rrd_dir, os.path.join(a.outdir, "rrd-graphs"), t0, names)
    print(f"\n== collectd's csv files and log are in {os.path.join(a.outdir, 'collectd')}, "
          f"its RRD files in {rrd_dir}")
    print("\n== Grafana dashboard (Prometheus data source fed by collectd's write_prometheus):")
    print(f"   {DASHBOARD}" + ("" if os.path.exists(DASHBOARD) else "  (not in this tree)"))
    print("   Import: Grafana -> Dashboards -> New -> Import -> Upload dashboard JSON file,\n"
          "   pick the Prometheus data source that scrapes collectd's write_prometheus\n"
          "   (LoadPlugin write_prometheus, <Plugin write_prometheus> Port \"9103\"), Import.")


def rrd_graphs(rrd_dir, out, t0, names):
    """Draw the PNGs of conf/virtscale-rrd-graphs.sh for the demo's VMs over the run."""
    cmd = ["bash", RRD_GRAPHS, "--rrd-dir", rrd_dir, "--out-dir", out,
           "--start", str(t0), "--end", str(int(time.time()))]
    for n in names:
        cmd += ["--vm", n]
    print(f"\n== RRD graphs of the run: conf/virtscale-rrd-graphs.sh --rrd-dir {rrd_dir} "
          f"--out-dir {out} --start {t0} --vm ...", flush=True)
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    sys.stderr.write(cp.stderr)
    if cp.returncode != 0:
        raise rig.RigError(f"{RRD_GRAPHS} exited {cp.returncode}")
    for path in cp.stdout.splitlines():
        print(f"   {path}")


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
