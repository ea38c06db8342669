#!/usr/bin/env python3
"""Scale benchmark: virtscale on hundreds of VMs, beside the limit (one `virsh domstats
--nowait` call for the same groups) and, on running VMs, the bundled virt plugin.

    VIRTSCALE_BUILD_DIR=build tests/bench/bench_scale.py [--vms 20,50,100,150,300]
        [--intervals 1,2,10] [--seconds 30] [--running 0|N] [--json FILE]
    VIRTSCALE_BUILD_DIR=build tests/bench/bench_scale.py --smoke     # 10 VMs, seconds

VMs are tiny and created paused (shared/FACTS.md "Scale": no guest CPU, listed active,
every statistics group answered through the monitor); --running N creates the first N
running instead, and only on those is the bundled virt plugin compared (it samples only
the state of a domain that is not running). For every VM count, the limit is measured
first: wall and libvirtd CPU of `virsh domstats --nowait` with the six default groups,
median of 3. Then collectd runs with virtscale (its defaults) at each interval, values
going to the network writer (a loopback port nobody listens on: the cheapest real
writer). Measured from outside, per configuration:

  * fresh   share of VMs with a value in every interval, per group (state
            domain_state, cpu virt_cpu_total, balloon memory-total, vcpu virt_vcpu-0,
            interface if_octets, block disk_ops-vda), from LISTVAL's update times polled
            three times an interval (no gap over 1.5 intervals), and every how many intervals
            the worst VM had one (its longest gap in whole intervals);
  * CPU     libvirtd ms per interval and per round, collectd ms per interval
            (/proc/PID/task/*/schedstat);
  * collectd RSS (MB) and threads at the end;
and from the plugin's own figures (GETVAL, polled): the read's wall p50/p99, the full
monitor-tier round (estimate from its calls) p50/p99, value age p50/max, cadence, calls
abandoned. It prints a table and the targets of issue "Hundreds of VMs" with the
figures; it asserts nothing (--smoke only fails when the script itself breaks)."""
import argparse
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rig"))
import rig  # noqa: E402

GROUPS = ("--state", "--cpu-total", "--balloon", "--vcpu", "--interface", "--block")
PROBES = {  # group -> identifier suffix of one metric of it
    "state": "domain_state", "cpu": "virt_cpu_total", "balloon": "memory-total",
    "vcpu": "virt_vcpu-0", "interface": "if_octets-", "block": "disk_ops-vda"}
NETWORK = 'LoadPlugin network\n<Plugin network>\n  Server "127.0.0.1" "25826"\n</Plugin>\n'
VIRTSCALE = 'LoadPlugin virtscale\n<Plugin virtscale>\n  Connection "qemu:///system"\n</Plugin>\n'
VIRT = ('LoadPlugin virt\n<Plugin virt>\n  Connection "qemu:///system"\n  RefreshInterval 60\n'
        '  ExtraStats "cpu_util disk disk_allocation disk_capacity disk_physical '
        'domain_state memory pcpu vcpu"\n</Plugin>\n')
HOST = "hv-scale"


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(math.ceil(q / 100.0 * len(xs))) - 1)]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def limit(vms):
    """Wall and libvirtd CPU of one `virsh domstats --nowait` over every VM."""
    lp = rig.libvirtd_pid()
    walls, cpus = [], []
    for _ in range(3):
        c0, t0 = rig.proc_cpu_ns(lp), time.monotonic()
        rig.virsh("domstats", "--nowait", *GROUPS, timeout=600)
        walls.append(time.monotonic() - t0)
        cpus.append((rig.proc_cpu_ns(lp) - c0) / 1e6)
    return {"wall_s": statistics.median(walls), "libvirtd_ms": statistics.median(cpus)}


def listval(cd):
    """{identifier: update time} from the unixsock plugin."""
    out = {}
    for line in cd.unixsock("LISTVAL", timeout=30)[1:]:
        t, _, ident = line.partition(" ")
        out[ident] = float(t)
    return out


def selfval(cd, name, host=HOST):
    try:
        v = cd.getval(f"{host}/virtscale/{name}")
        return next(iter(v.values()))  # one data source: "value" or "seconds"
    except rig.RigError:
        return None


def freshness(seen, names, vplugin, t0, t1, interval):
    """From LISTVAL update times (seen: identifier -> set of times; a value's time is
    when libvirt answered for it) between t0 and t1, per group: the share of `names`
    that had a value every interval (no gap between two values, or from t0 to the first
    and from the last to t1, longer than 1.5 intervals: times jitter within a read),
    and every how many intervals the worst of them had one (its longest gap, rounded to
    whole intervals)."""
    fresh, every = {}, {}
    for g, suffix in PROBES.items():
        ok, worst = 0, 0
        for n in names:
            idents = [i for i in seen if i.startswith(f"{n}/{vplugin}") and
                      i.split("/", 2)[2].startswith(suffix)]
            times = sorted(t for t in (seen[idents[0]] if idents else ()) if t0 <= t <= t1)
            edges = [t0] + times + [t1]
            gap = max(b - a for a, b in zip(edges, edges[1:]))
            ok += gap <= 1.5 * interval
            worst = max(worst, max(1, round(gap / interval)))
        fresh[g] = ok / len(names)
        every[g] = worst
    return fresh, every


def run(names, conf, interval, seconds, plugin, on_seen=None, plugin_dir=None):
    """collectd with conf at interval for `seconds` after a warm-up. on_seen(seen, t0,
    t1), when given, gets the LISTVAL update times (identifier -> set of times);
    plugin_dir: where the plugin's .so is (default the build's plugin/)."""
    lp = rig.libvirtd_pid()
    with rig.Collectd(plugin_dir or rig_plugin_dir(), NETWORK + conf, interval=interval,
                      hostname=HOST, csv=False,
                      allow_errors=[r"."]) as cd:  # counted, not fatal
        cd.start()
        time.sleep(max(3.0, 3 * interval))  # connect, first rounds
        seen = {}        # identifier -> set of update times
        own = {k: [] for k in ("duration-sample", "duration-round_monitor", "duration-age_p50",
                               "duration-age_max", "count-cadence")}
        c0, l0, t0 = cd.cpu_ns(), rig.proc_cpu_ns(lp), time.time()
        deadline = t0 + seconds
        while time.time() < deadline:
            t_poll = time.time()
            for ident, t in listval(cd).items():
                seen.setdefault(ident, set()).add(t)
            if plugin == "virtscale":
                for k in own:
                    v = selfval(cd, k)
                    if v is not None:
                        own[k].append(v)
            time.sleep(interval / 3)
        c1, l1, t1 = cd.cpu_ns(), rig.proc_cpu_ns(lp), time.time()
        threads, rss = cd.thread_count(), rss_mb(cd.pid)
        abandoned = selfval(cd, "total_operations-abandoned_calls") if plugin == "virtscale" \
            else None
        slow = sum(1 for ln in cd.log().splitlines() if "took" in ln and "seconds" in ln)
        errors = [ln for ln in cd.log().splitlines() if "[error]" in ln]
        cd.stop()
    # Values after the last LISTVAL are not seen: the window for what was seen ends
    # when that LISTVAL was sent (t1 comes a sleep and a poll later; with it, a VM's
    # last value could look 2.5 intervals old, depending on the phase of the reads).
    if on_seen:
        on_seen(seen, t0, t_poll)
    fresh, longest = freshness(seen, names, "virt" if plugin == "virt" else "virtscale",
                               t0, t_poll, interval)
    secs = t1 - t0
    res = {"plugin": plugin, "interval": interval, "vms": len(names), "seconds": secs,
           "collectd_ms": (c1 - c0) / 1e6 / (secs / interval),
           "libvirtd_ms": (l1 - l0) / 1e6 / (secs / interval),
           "threads": threads, "rss_mb": rss, "fresh": fresh, "every": longest,
           "slow_reads": slow, "abandoned": abandoned, "error_lines": len(errors)}
    if errors:
        print(f"  collectd logged {len(errors)} error line(s), e.g. {errors[0]}", flush=True)
    for k, v in own.items():
        res[k] = {"p50": pct(v, 50), "p99": pct(v, 99), "max": max(v) if v else None}
    return res


def rig_plugin_dir():
    return os.path.join(rig.build_dir(), "plugin")


def report(lim, results, header=True):
    if header:
        print(f"\n{'conf':28s}{'fresh %':>44s}{'every':>8s}{'lvd ms/I':>10s}"
              f"{'cd ms/I':>9s}{'RSS':>7s}{'thr':>5s}{'read p50/p99':>14s}"
              f"{'round p50':>10s}{'cad':>5s}{'age p50/max':>13s}{'aband':>6s}")
    for r in results:
        lim_r = lim[r["vms"]]
        fresh = " ".join(f"{g[:3]}{100 * r['fresh'][g]:3.0f}" for g in PROBES)
        every = max(r["every"].values())
        rd = r.get("duration-sample", {})
        rm = r.get("duration-round_monitor", {})
        ag50 = r.get("duration-age_p50", {})
        agmax = r.get("duration-age_max", {})
        cad = r.get("count-cadence", {})
        print(f"{r['plugin']:9s} {r['vms']:3d} VMs I={r['interval']:<4g}   {fresh:>44s}"
              f"{every:8d}{r['libvirtd_ms']:10.1f}{r['collectd_ms']:9.1f}"
              f"{r['rss_mb']:7.1f}{r['threads']:5d}"
              f"{rd.get('p50', float('nan')):7.2f}/{rd.get('p99', float('nan')):<6.2f}"
              f"{rm.get('p50', float('nan')):10.2f}{cad.get('max') or 0:5.0f}"
              f"{ag50.get('p50', float('nan')):6.2f}/{agmax.get('max') or 0:<6.2f}"
              f"{r['abandoned'] if r['abandoned'] is not None else '-':>6}")
        if r["plugin"] == "virtscale":
            print(f"{'':28s}limit: one domstats --nowait {lim_r['wall_s']:.2f} s wall, "
                  f"{lim_r['libvirtd_ms']:.0f} ms libvirtd CPU", flush=True)


def targets(lim, results):
    print("\nTargets:")
    by = {(r["plugin"], r["vms"], r["interval"]): r for r in results}

    def say(ok, text):
        print(f"  [{'met' if ok else 'MISSED'}] {text}")

    for n in (300, 150):
        r = by.get(("virtscale", n, 10))
        if r:
            every = all(v >= 0.999 for v in r["fresh"].values())
            per_round = r["libvirtd_ms"]  # one round per interval at Interval 10
            ratio = per_round / lim[n]["libvirtd_ms"]
            say(every and ratio <= 1.1,
                f"{n} VMs, Interval 10: every VM every group every interval "
                f"(min fresh {min(r['fresh'].values()) * 100:.0f} %); libvirtd CPU per round "
                f"{per_round:.0f} ms = {ratio:.2f}x one domstats ({lim[n]['libvirtd_ms']:.0f} ms)")
    for n in (150, 300):
        for i in (1, 2):
            r = by.get(("virtscale", n, i))
            if not r:
                continue
            cheap = min(r["fresh"]["state"], r["fresh"]["interface"])
            rnd = r.get("duration-round_monitor", {}).get("p50") or 0
            allowed = max(1, math.ceil(rnd / i))
            worst = max(r["every"][g] for g in ("cpu", "balloon", "vcpu", "block"))
            say(cheap >= 0.999 and worst <= allowed and not r["abandoned"],
                f"{n} VMs, Interval {i}: state+interface fresh {cheap * 100:.0f} %; every "
                f"group at least every {worst} intervals (round {rnd:.2f} s -> "
                f"ceil {allowed}); abandoned calls {r['abandoned']}; libvirtd "
                f"{r['libvirtd_ms'] / i:.0f} ms/s")
    for n in (50, 100):
        v, s = by.get(("virt", n, 1)), by.get(("virtscale", n, 1))
        if v and s:
            ratio = (s["collectd_ms"] + s["libvirtd_ms"]) / (v["collectd_ms"] + v["libvirtd_ms"])
            say(ratio <= 0.5, f"{n} running VMs, Interval 1: collectd + libvirtd "
                f"{ratio:.2f}x the bundled virt plugin")
    if 150 in lim:
        rs = [r for r in results if r["plugin"] == "virtscale" and r["vms"] == 150]
        if rs:
            rnd = min(r.get("duration-round_monitor", {}).get("p50") or 1e9 for r in rs)
            ratio = rnd / lim[150]["wall_s"]
            say(ratio <= 0.6, f"full round at 150 VMs {rnd:.2f} s = {ratio:.2f}x one domstats "
                f"call ({lim[150]['wall_s']:.2f} s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vms", default="20,50,100,150,300")
    ap.add_argument("--intervals", default="1,2,10")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--running", type=int, default=0,
                    help="create the first N VMs running (bundled plugin compared on them)")
    ap.add_argument("--json", help="write the results there")
    ap.add_argument("--smoke", action="store_true", help="10 VMs, Interval 1, 8 s (CI)")
    a = ap.parse_args()
    if a.smoke:
        a.vms, a.intervals, a.seconds, a.running = "10", "1", 8.0, 10
    counts = [int(x) for x in a.vms.split(",")]
    intervals = [float(x) for x in a.intervals.split(",")]
    lim, results = {}, []
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=1, nics=1) as vms:
        for n in counts:
            have = len(vms.names())
            t = time.monotonic()
            names = [f"{vms.prefix}{i:03d}" for i in range(have, n)]
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(6) as pool:
                for f in [pool.submit(vms.create_one, nm, paused=(i + have) >= a.running)
                          for i, nm in enumerate(names)]:
                    f.result()
            print(f"{n} VMs ({min(n, a.running)} running, {vms.domain_type}); created "
                  f"{n - have} in {time.monotonic() - t:.0f} s", flush=True)
            running = sorted(vms.names())[:a.running]
            if running:  # past their firmware: the guests then halt for good
                print(f"  running VMs idle after {vms.wait_idle(300, names=running):.0f} s",
                      flush=True)
            time.sleep(5 if n - have else 0)  # fresh monitors are slow for a while
            lim[n] = limit(vms)
            print(f"  limit: domstats --nowait {lim[n]['wall_s']:.2f} s, libvirtd "
                  f"{lim[n]['libvirtd_ms']:.0f} ms", flush=True)
            all_names = sorted(vms.names())
            for i in intervals:
                secs = max(a.seconds, 6 * i)
                r = run(all_names, VIRTSCALE, i, secs, "virtscale")
                results.append(r)
                report(lim, [r], header=False)
                if a.running >= n:
                    r = run(all_names, VIRT, i, secs, "virt")
                    results.append(r)
                    report(lim, [r], header=False)
            if a.json:  # partial results survive an interrupted run
                with open(a.json, "w") as f:
                    json.dump({"limit": lim, "results": results}, f, indent=1)
        print("removing the VMs...", flush=True)
    report(lim, results)
    targets(lim, results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"limit": lim, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
