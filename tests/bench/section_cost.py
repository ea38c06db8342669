"""Section `cost` of tests/bench/benchmarks.py: sampling cost side by side on the same
running VMs (20, 50, 100; smoke: 3): collectd's bundled virt plugin with its defaults and
with the ExtraStats that match virtscale's groups, virtscale bulk and per-domain
(StatsMode), at Interval 1: CPU of collectd and of libvirtd per interval, values written,
read latency p50/p99, collectd RSS and threads; and against the limits: libvirtd's side
against one `virsh domstats --nowait`, collectd's side against collectd dispatching
virtscale's identifiers from a plugin that does nothing else (tests/bench/vs_floor.c)."""
import os
import shutil
import tempfile
import time

import bench_common as bc
import bench_scale
import rig

NAME = "cost"
INTERVAL = 1.0

# The bundled plugin with the ExtraStats that produce what virtscale's default groups
# give (state cpu balloon vcpu interface block).
VIRT_DEFAULT = ('LoadPlugin virt\n<Plugin virt>\n  Connection "qemu:///system"\n'
                "  RefreshInterval 60\n</Plugin>\n")
VIRT_EXTRA = bench_scale.VIRT
VIRTSCALE_BULK = bench_scale.VIRTSCALE
VIRTSCALE_PER_DOMAIN = ('LoadPlugin virtscale\n<Plugin virtscale>\n'
                        '  Connection "qemu:///system"\n  StatsMode "per-domain"\n</Plugin>\n')
CONFS = [  # name, plugin (its identifiers' plugin field), conf
    ("virt defaults", "virt", VIRT_DEFAULT),
    ("virt ExtraStats", "virt", VIRT_EXTRA),
    ("virtscale bulk", "virtscale", VIRTSCALE_BULK),
    # collectd's own floor: the identifiers virtscale bulk wrote in this round,
    # dispatched by tests/bench/vs_floor.c with no libvirt work at all
    ("collectd floor", "floor", None),
    ("virtscale per-domain", "virtscale", VIRTSCALE_PER_DOMAIN),
]
ORDER = ("virt defaults", "virt ExtraStats", "virtscale bulk", "virtscale per-domain",
         "collectd floor")
FIELDS = ("collectd_ms", "libvirtd_ms", "values", "read_p50", "read_p99", "read_over",
          "rss_mb", "threads")
LIBVIRTD_GOAL = 1.1  # virtscale bulk's libvirtd CPU per interval / one domstats --nowait
COLLECTD_GOAL = 1.3  # virtscale bulk's collectd CPU per interval / the dispatch-only floor


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
    """bench_scale.run() plus the read latency, the count of values written per interval
    (identifiers updated, from LISTVAL) and those identifiers."""
    spans = {}

    def keep(seen, t0, t1):
        s = read_spans(seen, INTERVAL, t0, t1)
        spans["p50"] = bench_scale.pct(s, 50)
        spans["p99"] = bench_scale.pct(s, 99)
        # the share of intervals in which an identifier got no value (one allowed at
        # the window's edges): a read that outgrows the interval shows here, and its
        # span then means nothing
        n = max(1, int((t1 - t0) / INTERVAL))
        spans["over"] = sum(max(0, n - 1 - len([t for t in ts if t0 <= t <= t1]))
                            for ts in seen.values()) / max(1, n * len(seen))
        spans["ids"] = sorted(seen)

    r = bench_scale.run(names, conf, INTERVAL, seconds, plugin, on_seen=keep,
                        plugin_dir=plugin_dir)
    # Read latency: virtscale's own wall per read (duration-sample); the bundled
    # plugin has none, so the span of one read's value times (it stamps each value
    # when it dispatches it, after that value's libvirt call).
    own = r.get("duration-sample") if plugin == "virtscale" else None
    r.update(read_p50=own["p50"] if own else spans.get("p50"),
             read_p99=own["p99"] if own else spans.get("p99"),
             read_over=spans.get("over"), values=len(spans.get("ids", ())))
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


def run(a, data, save):
    """a.guests: the sections measured on these running VMs too (see bench_common)."""
    guests = getattr(a, "guests", [])
    counts = sorted(set([3] if a.smoke else [20, 50, 100]).union(
        *(m.running_counts(a.smoke) for m in guests)))
    seconds = 5 if a.smoke else 7  # per run; 2 rounds: 14 reads per plugin and count
    rounds = 1 if a.smoke else 2
    data[NAME] = {"interval": INTERVAL, "seconds": seconds, "rounds": rounds,
                  "confs": [c[0] for c in CONFS], "by_vms": {}}
    work = tempfile.mkdtemp(prefix="virtscale-bench-cost-")
    try:
        runs(a, data, save, counts, seconds, rounds, work, guests)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def show(r):
    return (f"collectd {r['collectd_ms']:7.2f} ms/I, libvirtd {r['libvirtd_ms']:7.2f} ms/I, "
            f"{r['values']} values, read p50 {r['read_p50']:.3f} s")


def runs(a, data, save, counts, seconds, rounds, work, guests):
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
            idle = bc.libvirtd_idle(seconds / 2, INTERVAL)
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
            rs = bc.alternate(CONFS, rounds, one, show)
            entry = {name: {"runs": x, "summary": bc.summarize(x, FIELDS)}
                     for name, x in rs.items()}
            entry["limit"] = bench_scale.limit(None)  # one virsh domstats --nowait
            print(f"cost: {n} VMs, one domstats --nowait: {entry['limit']['wall_s']:.2f} s, "
                  f"libvirtd {entry['limit']['libvirtd_ms']:.1f} ms", flush=True)
            data[NAME]["by_vms"][str(n)] = entry
            save()
            for m in guests:  # other sections on the same running VMs
                if n in m.running_counts(a.smoke):
                    t0 = time.monotonic()
                    m.run_on(a, data, save, vms, subset)
                    durations = data.setdefault("durations_s", {})
                    durations[m.NAME] = durations.get(m.NAME, 0) + \
                        round(time.monotonic() - t0, 1)
                    save()


# ---- report -------------------------------------------------------------------------

def total(s):
    c, lv = bc.med(s, "collectd_ms"), bc.med(s, "libvirtd_ms")
    return None if c is None or lv is None else c + lv


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "-"


def read_cell(name, s):
    """virtscale's own read time; the bundled plugin's value-time span only while its
    reads fit the interval (past that, the span of a 'read' means nothing)."""
    over = bc.med(s, "read_over")
    if name.startswith("virt ") and over is not None and over > 0.05:
        return f"reads outgrow the interval ({100 * over:.0f} % of values late)"
    return f"{bc.fmt(s, 'read_p50', 3)} / {bc.fmt(s, 'read_p99', 3)}"


def report(data, out, written):
    cost = data.get(NAME)
    if not cost:
        return []
    lines = [
        "## Sampling cost: virtscale against collectd's bundled virt plugin",
        "",
        f"Running tiny VMs (one disk, one NIC each), Interval {cost['interval']:g} s, "
        f"{cost['rounds']} round(s) of {cost['seconds']} s per configuration, the "
        "configurations alternated (A B C D A B C D ...); medians, [min–max] over the rounds. "
        "CPU is milliseconds per interval (`/proc/PID/task/*/schedstat`), libvirtd's idle "
        "CPU subtracted. *values*: identifiers written per interval. *read*: how long a read "
        "takes (p50 / p99): virtscale's own `duration-sample`; the bundled plugin has no "
        "such figure, so the span from the first to the last value time of one read (it "
        "stamps each value as it dispatches it) while its reads fit the interval. Values go "
        "to collectd's network writer (a loopback port nobody listens on: the cheapest real "
        "writer). Command: `" + bc.COMMAND + " --sections cost`.",
        "",
    ]
    dat = []
    for n in sorted(cost["by_vms"], key=int):
        confs = cost["by_vms"][n]
        ref = confs.get("virt ExtraStats", {}).get("summary", {})
        dflt = confs.get("virt defaults", {}).get("summary", {})
        lines += [f"### {n} VMs", "",
                  "| configuration | collectd ms | libvirtd ms | total ms | × virt ExtraStats"
                  " | × virt defaults | values | read p50 / p99 s | RSS MB | threads |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        row = [n]
        for name in ORDER:
            s = confs.get(name, {}).get("summary")
            if not s:
                row.append(None)
                continue
            lines.append(
                f"| {name} | {bc.fmt(s, 'collectd_ms', 2)} | {bc.fmt(s, 'libvirtd_ms', 2)} | "
                f"{total(s):.2f} | {ratio(total(s), total(ref))} | "
                f"{ratio(total(s), total(dflt))} | {bc.fmt(s, 'values', 0)} | "
                f"{read_cell(name, s)} | {bc.fmt(s, 'rss_mb')} | {bc.fmt(s, 'threads', 0)} |")
            row.append(total(s))
        lines.append("")
        dat.append(row)
    lines += limits_lines(cost)
    lines += bc.image(plot(dat, out), written, "collectd + libvirtd CPU per interval")
    return lines


def limits(cost, n):
    """(libvirtd ms, domstats ms, ratio, collectd ms, floor ms, ratio) at n VMs."""
    e = cost["by_vms"][n]
    bulk = e.get("virtscale bulk", {}).get("summary", {})
    flo = e.get("collectd floor", {}).get("summary", {})
    lim = e.get("limit") or {}
    lv, cd, fl = bc.med(bulk, "libvirtd_ms"), bc.med(bulk, "collectd_ms"), \
        bc.med(flo, "collectd_ms")
    dm = lim.get("libvirtd_ms")
    return (lv, dm, lv / dm if lv is not None and dm else None,
            cd, fl, cd / fl if cd is not None and fl else None)


def limits_lines(cost):
    """virtscale bulk against what cannot be beaten: libvirtd's side against one
    `virsh domstats --nowait` for the same groups, collectd's side against collectd
    dispatching the same identifiers with no libvirt work (vs_floor.c)."""
    lines = ["### Against the limits", "",
             f"libvirtd: virtscale bulk's libvirtd CPU per interval against one `virsh "
             f"domstats --nowait` over the same VMs and groups (median of 3; goal ≤ "
             f"{LIBVIRTD_GOAL}×). collectd: virtscale bulk's collectd CPU per interval against "
             f"collectd dispatching the same identifiers from a plugin that does nothing "
             f"else (`tests/bench/vs_floor.c`, the *collectd floor* row above; goal ≤ "
             f"{COLLECTD_GOAL}×). Where collectd's side goes beyond the floor: *Instructions "
             f"per read* in the growth section.", "",
             "| VMs | libvirtd ms: virtscale / domstats | ratio | goal | collectd ms: "
             "virtscale / floor | ratio | goal |", "|---|---|---|---|---|---|---|"]
    for n in sorted(cost["by_vms"], key=int):
        lv, dm, r1, cd, fl, r2 = limits(cost, n)
        lines.append(
            f"| {n} | {lv:.1f} / {dm:.1f} | {r1:.2f}× | "
            f"{'met' if r1 <= LIBVIRTD_GOAL else '**missed**'} | {cd:.2f} / {fl:.2f} | "
            f"{r2:.2f}× | {'met' if r2 <= COLLECTD_GOAL else '**missed**'} |"
            if r1 is not None and r2 is not None else f"| {n} | - | - | - | - | - | - |")
    return lines + [""]


def plot(rows, out):
    """collectd + libvirtd CPU per interval against VMs, one line per configuration."""
    if not rows:
        return None
    datf = os.path.join(out, "bench-cost.dat")
    with open(datf, "w") as f:
        f.write("# vms " + " ".join(c.replace(" ", "_") for c in ORDER) + "\n")
        for r in rows:
            f.write(" ".join("nan" if x is None else f"{x}" for x in r) + "\n")
    png = os.path.join(out, "bench-cost.png")
    plots = ", ".join(f"'{datf}' using 1:{i + 2} with linespoints title '{c}'"
                      for i, c in enumerate(ORDER))
    bc.gnuplot("set terminal pngcairo size 800,480 noenhanced\n"
               f"set output '{png}'\n"
               "set title 'Sampling cost: collectd + libvirtd CPU per interval'\n"
               "set xlabel 'running VMs'\nset ylabel 'ms of CPU per interval'\n"
               "set key top left\nset grid\n"
               f"plot {plots}\n")
    os.unlink(datf)
    return png


def findings(data):
    """Nothing of its own: the findings use its figures (bench_findings.py)."""
    return []
