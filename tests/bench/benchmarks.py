#!/usr/bin/env python3
"""The one benchmark command: runs every measurement on this host and rewrites
docs/BENCHMARKS.md (tables, the machine, versions, date) and its plots.

    VIRTSCALE_BUILD_DIR=build tests/bench/benchmarks.py [--smoke] [--out DIR]
        [--sections cost,...] [--data FILE]
    tests/bench/benchmarks.py --report-only FILE [--out DIR]

tests/bench/run-benchmarks.sh installs what it needs, builds, and runs this.

Sections (each measured with configurations alternated A/B/A/B..., the medians and
the spread (min-max) of the rounds reported):

  cost   sampling cost side by side on the same running VMs (20, 50, 100; --smoke: 3):
         collectd's bundled virt plugin with its defaults and with the ExtraStats that
         match virtscale's groups, virtscale bulk and per-domain (StatsMode), at
         Interval 1: CPU of collectd and of libvirtd per interval, values written, read
         latency p50/p99 (virtscale's own duration-sample; for the bundled plugin,
         which has none, the span of one read's value times), collectd RSS and threads;
         and against the limits: libvirtd's side against one `virsh domstats --nowait`,
         collectd's side against collectd dispatching virtscale's identifiers from a
         plugin that does nothing else (tests/bench/vs_floor.c).

The raw figures go to --data (default DIR/benchmarks.json) as each configuration
ends, so a run cut short keeps what it measured; --report-only renders a data file
again. --smoke measures a few VMs for seconds (CI runs it so the scripts cannot rot)
and writes into a temporary directory unless --out is given. It asserts nothing."""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "rig"))
sys.path.insert(0, HERE)
import bench_report  # noqa: E402
import bench_scale  # noqa: E402
import rig  # noqa: E402

DOCS = os.path.normpath(os.path.join(HERE, "..", "..", "docs"))
INTERVAL = 1.0

# The bundled plugin with the ExtraStats that produce what virtscale's default groups
# give (state cpu balloon vcpu interface block).
VIRT_DEFAULT = ('LoadPlugin virt\n<Plugin virt>\n  Connection "qemu:///system"\n'
                "  RefreshInterval 60\n</Plugin>\n")
VIRT_EXTRA = bench_scale.VIRT
VIRTSCALE_BULK = bench_scale.VIRTSCALE
VIRTSCALE_PER_DOMAIN = ('LoadPlugin virtscale\n<Plugin virtscale>\n'
                        '  Connection "qemu:///system"\n  StatsMode "per-domain"\n</Plugin>\n')
COST_CONFS = [  # name, plugin (its identifiers' plugin field), conf
    ("virt defaults", "virt", VIRT_DEFAULT),
    ("virt ExtraStats", "virt", VIRT_EXTRA),
    ("virtscale bulk", "virtscale", VIRTSCALE_BULK),
    # collectd's own floor: the identifiers virtscale bulk wrote in this round,
    # dispatched by tests/bench/vs_floor.c with no libvirt work at all
    ("collectd floor", "floor", None),
    ("virtscale per-domain", "virtscale", VIRTSCALE_PER_DOMAIN),
]


def read_spans(seen, interval, t0, t1):
    """Each read's span (first to last value time) from LISTVAL update times: the times
    of all identifiers, sorted, split where two follow each other by more than half an
    interval (reads are an interval apart). Returns the spans in seconds."""
    times = sorted(t for ts in seen.values() for t in ts if t0 <= t <= t1)
    spans, start, last = [], None, None
    for t in times:
        if start is None or t - last > interval / 2:
            if start is not None:
                spans.append(last - start)
            start = t
        last = t
    if start is not None:
        spans.append(last - start)
    return spans


def measure(names, conf, plugin, seconds, plugin_dir=None):
    """bench_scale.run() plus the read spans, the count of values written per
    interval (identifiers updated, from LISTVAL) and those identifiers."""
    spans = {}

    def keep(seen, t0, t1):
        s = read_spans(seen, INTERVAL, t0, t1)
        spans["p50"] = bench_scale.pct(s, 50)
        spans["p99"] = bench_scale.pct(s, 99)
        spans["ids"] = sorted(seen)

    r = bench_scale.run(names, conf, INTERVAL, seconds, plugin, on_seen=keep,
                        plugin_dir=plugin_dir)
    # Read latency: virtscale's own wall per read (duration-sample); the bundled
    # plugin has none, so the span of one read's value times (it stamps each value
    # when it dispatches it, after that value's libvirt call).
    own = r.get("duration-sample") if plugin == "virtscale" else None
    r.update(read_p50=own["p50"] if own else spans.get("p50"),
             read_p99=own["p99"] if own else spans.get("p99"),
             values=len(spans.get("ids", ())))
    r["_ids"] = spans.get("ids", [])
    return r


def floor_conf(ids, workdir):
    """vsfloor dispatching ids (virtscale's identifiers), from a file in workdir."""
    path = os.path.join(workdir, "floor-ids")
    with open(path, "w") as f:
        f.write("".join(i + "\n" for i in ids))
    return ('LoadPlugin vsfloor\n<Plugin vsfloor>\n'
            f'  IdentifierFile "{path}"\n</Plugin>\n')


def floor_dir():
    d = os.path.join(rig.build_dir(), "tests", "bench")
    if not os.path.exists(os.path.join(d, "vsfloor.so")):
        raise rig.RigError(f"{d}/vsfloor.so not built (target vsfloor)")
    return d


def alternate(confs, rounds, measure_one):
    """Run each configuration `rounds` times, alternating (A B C D A B C D ...), so slow
    drifts of the machine fall on every configuration alike. Returns
    {name: [result, ...]}."""
    out = {name: [] for name, *_ in confs}
    for i in range(rounds):
        for name, *rest in confs:
            r = measure_one(name, *rest)
            out[name].append(r)
            print(f"  round {i + 1} {name:22s} collectd {r['collectd_ms']:7.2f} ms/I, "
                  f"libvirtd {r['libvirtd_ms']:7.2f} ms/I, {r['values']} values, "
                  f"read p50 {r['read_p50']:.3f} s", flush=True)
    return out


def summarize(runs, fields):
    """{field: {median, min, max}} over the rounds of one configuration."""
    out = {}
    for f in fields:
        xs = [r[f] for r in runs if r.get(f) is not None]
        if xs:
            out[f] = {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}
    return out


COST_FIELDS = ("collectd_ms", "libvirtd_ms", "values", "read_p50", "read_p99", "rss_mb",
               "threads")


def section_cost(a, data, save):
    counts = [3] if a.smoke else [20, 50, 100]
    seconds = 5 if a.smoke else 20
    rounds = 1 if a.smoke else 2
    data["cost"] = {"interval": INTERVAL, "seconds": seconds, "rounds": rounds,
                    "confs": [n for n, *_ in COST_CONFS], "by_vms": {}}
    work = tempfile.mkdtemp(prefix="virtscale-bench-cost-")
    try:
        cost_runs(data, save, counts, seconds, rounds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cost_runs(data, save, counts, seconds, rounds, work):
    with rig.ensure_libvirtd(), rig.VMs(n=max(counts), disks=1, nics=1) as vms:
        # Both plugins sample every active domain: defined first, started count by
        # count (ascending), idle before each measurement.
        names = vms.create(persistent=True, define_only=True, parallel=4)
        started = 0
        for n in counts:
            print(f"cost: starting VMs up to {n} ({vms.domain_type})", flush=True)
            for name in names[started:n]:
                vms.start(name)
            started = n
            subset = names[:n]
            vms.wait_idle(names=subset)
            idle = libvirtd_idle(seconds / 2)
            print(f"cost: {n} VMs, libvirtd idle {idle:.2f} ms per interval "
                  f"(subtracted)", flush=True)

            last_ids = []

            def one(name, plugin, conf, subset=subset, idle=idle, last_ids=last_ids):
                if plugin == "floor":
                    r = measure(subset, floor_conf(last_ids, work), "floor", seconds,
                                plugin_dir=floor_dir())
                else:
                    r = measure(subset, conf, plugin, seconds)
                    if name == "virtscale bulk":
                        last_ids[:] = r["_ids"]
                r.pop("_ids")
                r["libvirtd_ms"] -= idle
                return r
            runs = alternate(COST_CONFS, rounds, one)
            entry = {name: {"runs": rs, "summary": summarize(rs, COST_FIELDS)}
                     for name, rs in runs.items()}
            entry["limit"] = bench_scale.limit(None)  # one virsh domstats --nowait
            print(f"cost: {n} VMs, one domstats --nowait: {entry['limit']['wall_s']:.2f} s, "
                  f"libvirtd {entry['limit']['libvirtd_ms']:.1f} ms", flush=True)
            data["cost"]["by_vms"][str(n)] = entry
            save()


def libvirtd_idle(seconds):
    pid = rig.libvirtd_pid()
    c0 = rig.proc_cpu_ns(pid)
    time.sleep(seconds)
    return (rig.proc_cpu_ns(pid) - c0) / 1e6 / (seconds / INTERVAL)


SECTIONS = {"cost": section_cost}


def debian_version(package):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], text=True,
                              capture_output=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    def out(cmd):
        try:
            return subprocess.run(cmd, text=True, capture_output=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(), "kvm": os.path.exists("/dev/kvm"),
        "libvirt": debian_version("libvirt-daemon"),
        "qemu": debian_version("qemu-system-x86"),
        "collectd": debian_version("collectd-core"),
        "virtscale": out(["git", "-C", HERE, "describe", "--always", "--dirty"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", default=None, help="where BENCHMARKS.md and the plots go "
                    "(default docs/; with --smoke a temporary directory)")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--data", default=None)
    ap.add_argument("--report-only", metavar="FILE", default=None)
    a = ap.parse_args()
    out = a.out or (tempfile.mkdtemp(prefix="virtscale-bench-") if a.smoke else DOCS)
    os.makedirs(out, exist_ok=True)
    if a.report_only:
        with open(a.report_only) as f:
            data = json.load(f)
        bench_report.write(data, out)
        return
    wanted = [s for s in a.sections.split(",") if s]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        ap.error(f"--sections: unknown section(s) {', '.join(unknown)}; known: "
                 f"{', '.join(SECTIONS)}")
    data_path = a.data or os.path.join(out, "benchmarks.json")
    data = {"smoke": a.smoke, "machine": machine(), "command": " ".join(sys.argv)}

    def save():
        tmp = data_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, data_path)

    t0 = time.monotonic()
    for s in wanted:
        s0 = time.monotonic()
        SECTIONS[s](a, data, save)
        data.setdefault("durations_s", {})[s] = round(time.monotonic() - s0, 1)
        save()
    data["duration_s"] = round(time.monotonic() - t0, 1)
    save()
    written = bench_report.write(data, out)
    print("wrote " + ", ".join(written), flush=True)


if __name__ == "__main__":
    main()
