"""Section `growth` of tests/bench/benchmarks.py: virtscale from 20 to 300 VMs.

1. Growth: virtscale bulk and per-domain (StatsMode) alternated at 20, 50, 100, 200 and
   300 paused VMs (shared/FACTS.md "Scale": no guest CPU, listed active, every statistics
   group answered through the monitor; the bundled plugin samples only the state of a
   domain that is not running, so it is compared in `cost`, on running VMs), Interval 2:
   collectd and libvirtd CPU per read, per VM; a least-squares line over the bulk
   figures and its projection to 1,000 VMs.
2. Memory: collectd with virtscale (bulk, Interval 2) on the 300 VMs for 10 minutes:
   RSS and threads every 10 s; the slope of RSS over the last 9 minutes.
3. Instructions: while (2) runs, another collectd runs under callgrind on the same VMs,
   once with virtscale and once with collectd's dispatch floor (tests/bench/vs_floor.c
   dispatching the identifiers virtscale wrote): instructions per read of the whole
   process between a zero and a dump (callgrind_control), by object file, and the top
   functions. Instruction counts repeat closely on a noisy machine; CPU time does not."""
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bench_common as bc
import bench_scale
import rig
import section_cost

NAME = "growth"
INTERVAL = 2.0
CONFS = [("virtscale bulk", "virtscale", section_cost.VIRTSCALE_BULK),
         ("virtscale per-domain", "virtscale", section_cost.VIRTSCALE_PER_DOMAIN)]
FIELDS = ("collectd_ms", "libvirtd_ms", "rss_mb", "threads", "read_p50", "fresh_min")
PROJECT_TO = 1000
MEMORY_GOAL_MB = 40.0
STALE_SHARE = 0.9  # per-domain fresh for fewer VMs than this: it skipped work
FLAT_MB = 1.0  # drift of the median RSS over the memory run that still counts as flat
CLIENT_OBJECTS = ("libvirt.so", "libtirpc.so", "libglib-2.0.so", "libgobject-2.0.so")
MEMORY_INTERVAL = 5.0  # as the reference figures (2.5 / 19.9 / 26.5 MB)
CG_INTERVAL = 5.0
# valgrind runs collectd tens of times slower, one thread at a time (see
# tests/fault/valgrind_soak.py): calls get longer before they count as stuck.
CG_VIRTSCALE = ('LoadPlugin virtscale\n<Plugin virtscale>\n  Connection "qemu:///system"\n'
                "  StuckThreshold 5\n  KeepAliveInterval 5\n  KeepAliveCount 10\n"
                "</Plugin>\n")


def plan(smoke):
    if smoke:
        return {"counts": [2, 3], "seconds": 4, "rounds": 1, "memory_s": 30,
                "memory_every": 5, "cg_reads": 2}
    # 50 VMs and fewer are in `cost` (running VMs); the 10-minute memory run is the
    # issue's target, and the largest part of the section
    return {"counts": [20, 100, 200, 300], "seconds": 5, "rounds": 2, "memory_s": 600,
            "memory_every": 10, "cg_reads": 4}


def run(a, data, save):
    """When benchmarks.py passes a.background (a list), the 10-minute memory run goes on
    beside the next sections (it measures RSS and threads, which other work on the host
    does not change) and the callable appended there ends it; otherwise it is waited
    for here."""
    p = plan(a.smoke)
    data[NAME] = dict(p, interval=INTERVAL, by_vms={})
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(rig.ensure_libvirtd())
        vms = stack.enter_context(rig.VMs(n=max(p["counts"]), disks=1, nics=1))
        names = vms.create(persistent=True, define_only=True, parallel=4)
        started = 0
        for n in p["counts"]:
            t0 = time.monotonic()
            with ThreadPoolExecutor(4) as pool:  # paused: no guest CPU, no wait
                list(pool.map(lambda nm: rig.virsh("start", "--paused", nm),
                              names[started:n]))
            started = n
            print(f"growth: {n} paused VMs ({time.monotonic() - t0:.0f} s to start)",
                  flush=True)
            data[NAME]["by_vms"][str(n)] = growth_point(names[:n], p)
            save()
        finish = memory_start(names, p, data, save, stack)
        # callgrind counts instructions, which the memory run's load does not change,
        # and the memory run measures RSS and threads: one beside the other saves the
        # callgrind minutes from the 45 of the whole run
        t0 = time.monotonic()
        data[NAME]["instructions"] = instructions_both(names, p)
        data[NAME]["instructions"]["beside_memory_run_s"] = round(time.monotonic() - t0, 1)
        save()
    except BaseException:
        stack.close()
        raise
    if getattr(a, "background", None) is not None:
        print("growth: the memory run goes on beside the next sections", flush=True)
        a.background.append(finish)
    else:
        finish()


def growth_point(names, p):
    idle = bc.libvirtd_idle(3, INTERVAL)

    def one(name, plugin, conf):
        r = bench_scale.run(names, conf, INTERVAL, p["seconds"], plugin)
        r["libvirtd_ms"] -= idle
        own = r.get("duration-sample") or {}
        r["read_p50"] = own.get("p50")
        r["fresh_min"] = min(r["fresh"].values()) if r.get("fresh") else None
        return r

    def show(r):
        return (f"collectd {r['collectd_ms']:7.2f} ms/read, libvirtd {r['libvirtd_ms']:7.2f}"
                f" ms/read, fresh {100 * (r['fresh_min'] or 0):.0f} %")
    rs = bc.alternate(CONFS, p["rounds"], one, show)
    entry = {name: {"runs": x, "summary": bc.summarize(x, FIELDS)} for name, x in rs.items()}
    entry["limit"] = bench_scale.limit(None)
    entry["libvirtd_idle_ms"] = idle
    return entry


# ---- memory and instructions --------------------------------------------------------

class CallgrindCollectd(rig.Collectd):
    """rig.Collectd whose collectd runs under callgrind (output: callgrind.out.*)."""

    def _command(self, *args):
        self.cg_prefix = os.path.join(self.workdir, "callgrind.out")
        return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.cg_prefix}",
                "--separate-threads=no", *super()._command(*args)]


def instructions_both(names, p):
    work = tempfile.mkdtemp(prefix="virtscale-bench-growth-")
    instr = {}
    try:
        ids = instructions(names, "virtscale", CG_VIRTSCALE, p, work, instr)
        instructions(names, "floor", section_cost.floor_conf(ids, work), p, work, instr)
    except (rig.RigError, OSError, subprocess.SubprocessError) as e:
        instr["error"] = str(e)
        print(f"growth: callgrind failed: {e}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return instr


def memory_start(names, p, data, save, stack):
    """Starts the memory run in a thread; returns the callable that waits for it, keeps
    its figures and removes the VMs."""
    result = {}
    t_start = time.monotonic()
    watcher = threading.Thread(target=memory_run, args=(names, p, result), daemon=True)
    watcher.start()

    def finish():
        watcher.join()
        result["beside"] = list(data.get("beside_memory_run", []))
        data[NAME]["memory"] = result
        stack.close()
        durations = data.setdefault("durations_s", {})
        durations["growth memory run"] = round(time.monotonic() - t_start, 1)
        save()
    return finish


def memory_run(names, p, result):
    samples = []
    try:
        with rig.Collectd(bench_scale.rig_plugin_dir(), bench_scale.NETWORK +
                          section_cost.VIRTSCALE_BULK, interval=MEMORY_INTERVAL, csv=False,
                          hostname=bench_scale.HOST, allow_errors=[r"."]) as cd:
            cd.start()
            t0, c0 = time.monotonic(), rig.proc_cpu_ns(cd.pid)
            while time.monotonic() - t0 < p["memory_s"]:
                samples.append((round(time.monotonic() - t0, 1), bench_scale.rss_mb(cd.pid),
                                cd.thread_count()))
                time.sleep(p["memory_every"])
            samples.append((round(time.monotonic() - t0, 1), bench_scale.rss_mb(cd.pid),
                            cd.thread_count()))
            result["collectd_cpu_share"] = (rig.proc_cpu_ns(cd.pid) - c0) / 1e9 / (
                (time.monotonic() - t0) * (os.cpu_count() or 1))
            errors = [ln for ln in cd.log().splitlines() if "[error]" in ln]
            cd.stop()
    except rig.RigError as e:
        result["error"] = str(e)
        print(f"growth: memory run failed: {e}", flush=True)
        return
    result.update(vms=len(names), interval=MEMORY_INTERVAL, samples=samples,
                  error_lines=len(errors))
    later = [s for s in samples if s[0] >= p["memory_s"] / 10]
    if len(later) >= 2:
        result["slope_mb_per_min"] = slope([s[0] / 60 for s in later], [s[1] for s in later])
    print(f"growth: memory at {len(names)} VMs over {p['memory_s']} s: RSS "
          f"{samples[0][1]:.1f} -> {samples[-1][1]:.1f} MB (max "
          f"{max(s[1] for s in samples):.1f}), threads {min(s[2] for s in samples)}-"
          f"{max(s[2] for s in samples)}", flush=True)


def slope(xs, ys):
    mx, my = statistics.mean(xs), statistics.mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


def fit(points):
    """Least squares y = a + b x over [(x, y)]; returns (a, b)."""
    b = slope([x for x, _ in points], [y for _, y in points])
    a = statistics.mean(y for _, y in points) - b * statistics.mean(x for x, _ in points)
    return a, b


def instructions(names, plugin, conf, p, work, out):
    """collectd under callgrind: zero after the first reads, dump after cg_reads more;
    instructions per read = the dump's total / the reads in it (calls of the plugin's
    read callback). Returns the identifiers written (for the floor)."""
    plugin_dir = section_cost.floor_dir() if plugin == "floor" \
        else bench_scale.rig_plugin_dir()
    read_fn = "floor_read" if plugin == "floor" else "instance_read"
    ids = []
    with CallgrindCollectd(plugin_dir, bench_scale.NETWORK + conf, interval=CG_INTERVAL,
                           csv=False, hostname=bench_scale.HOST,
                           allow_errors=[r"."]) as cd:
        cd.start(timeout=120)
        time.sleep(3 * CG_INTERVAL)
        pid = cd.pid
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True, timeout=120,
                       capture_output=True)
        t0 = time.monotonic()
        time.sleep(p["cg_reads"] * CG_INTERVAL)
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True, timeout=300,
                       capture_output=True)
        wall = time.monotonic() - t0
        ids = sorted(bench_scale.listval(cd))
        cd.stop(timeout=120)
        dumps = sorted(f for f in os.listdir(cd.workdir) if f.startswith("callgrind.out")
                       and f != "callgrind.out")
        if not dumps:
            raise rig.RigError(f"callgrind wrote no dump in {cd.workdir}")
        dump = os.path.join(cd.workdir, dumps[0])
        total, calls = parse_dump(dump, read_fn)
        objects, top, incl = annotate(dump)
    reads = calls or round(wall / CG_INTERVAL)
    out[plugin] = {"vms": len(names), "interval": CG_INTERVAL, "reads": reads,
                   "values": len(ids),
                   "instructions_per_read": total / max(1, reads),
                   "objects": {k: v / max(1, reads) for k, v in objects.items()},
                   "top": [(fn, ir / max(1, reads)) for fn, ir in top],
                   "inclusive": {k: v / max(1, reads) for k, v in incl.items()}}
    print(f"growth: callgrind {plugin}: {total / max(1, reads) / 1e6:.1f} M instructions "
          f"per read ({reads} reads)", flush=True)
    return ids


_FN_RE = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")


def parse_dump(path, read_fn):
    """The dump's total instructions (its 'totals:' or 'summary:' line) and the calls
    of read_fn in it."""
    names, total, calls, last_cfn = {}, 0, 0, None
    with open(path, errors="replace") as f:
        for line in f:
            m = _FN_RE.match(line)
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("cfn="):
                    last_cfn = names.get(m.group(1))
                continue
            if line.startswith("calls=") and last_cfn == read_fn:
                calls += int(line[6:].split()[0])
            elif line.startswith(("totals:", "summary:")):
                total = max(total, int(line.split()[1]))
    return total, calls


_NAMED_RE = re.compile(r"^(ob|fn|cob|cfn)=\((\d+)\)(?: (.*))?$")


# Functions whose inclusive cost (all calls to them, from anywhere) the report shows:
# where collectd's side goes beyond the floor, by what the instructions are for.
INCLUSIVE = {
    "plugin_dispatch_values": "collectd dispatching the values (as the floor does)",
    "virConnectGetAllDomainStats": "libvirt's bulk statistics call (RPC, decoding)",
    "virDomainListGetStats": "libvirt's statistics call for named domains",
    "virDomainStatsRecordListFree": "freeing libvirt's records",
    "virUUIDFormat": "libvirt formatting a domain's UUID for its debug log message in "
                     "every public call on a domain and when a domain object is freed, "
                     "with logging off",
    "vs_domain_stats_parse": "virtscale parsing the records",
    "vs_metrics_domain": "virtscale turning records into values (dispatch included)",
}


LIBVIRT_CALLS = ("virConnectGetAllDomainStats", "virDomainListGetStats",
                 "virDomainStatsRecordListFree")


def annotate(dump):
    """Self instructions by object file, the 15 costliest functions and the inclusive
    instructions of the INCLUSIVE functions, read from the dump itself:
    callgrind_annotate counts the cost of calls still running at the dump (thread start
    routines) as their callers' own, which is why it is not used here. A cost line right
    after `calls=` is a call's inclusive cost: not a self cost, counted for its callee."""
    names = {"ob": {}, "fn": {}}
    objects, funcs, incl = {}, {}, {}
    ob = fn = cfn = "?"
    skip = False
    with open(dump, errors="replace") as f:
        for line in f:
            m = _NAMED_RE.match(line)
            if m:
                kind = m.group(1)[-2:]
                if m.group(3):
                    names[kind][m.group(2)] = m.group(3)
                if m.group(1) == "ob":
                    ob = names["ob"].get(m.group(2), "?")
                elif m.group(1) == "fn":
                    fn = names["fn"].get(m.group(2), "?")
                elif m.group(1) == "cfn":
                    cfn = names["fn"].get(m.group(2), "?")
                continue
            if line.startswith("calls="):
                skip = True
                continue
            if not line[:1].isdigit() and not line[:1] in "+-*":
                continue
            parts = line.split()
            if len(parts) < 2:
                continue
            ir = int(parts[1])
            if skip:
                skip = False
                if cfn in INCLUSIVE and fn != cfn:
                    incl[cfn] = incl.get(cfn, 0) + ir
                continue
            obj = re.sub(r"\.so[.\d]*$", ".so", os.path.basename(ob))
            objects[obj] = objects.get(obj, 0) + ir
            key = f"{fn} [{obj}]"
            funcs[key] = funcs.get(key, 0) + ir
    top = sorted(funcs.items(), key=lambda kv: -kv[1])[:15]
    return objects, top, incl


# ---- report -------------------------------------------------------------------------

def total(s):
    c, lv = bc.med(s, "collectd_ms"), bc.med(s, "libvirtd_ms")
    return None if c is None or lv is None else c + lv


def bulk_fit(g):
    pts = [(int(n), total(e["virtscale bulk"]["summary"])) for n, e in g["by_vms"].items()
           if total(e.get("virtscale bulk", {}).get("summary", {})) is not None]
    return fit(pts) if len(pts) >= 2 else None


def report(data, out, written):
    g = data.get(NAME)
    if not g:
        return []
    lines = [
        "## Growth: 20 to 300 VMs, memory, instructions", "",
        f"Paused tiny VMs (one disk, one NIC; every statistics group still answered through "
        f"QEMU's monitor), Interval {g['interval']:g} s, {g['rounds']} round(s) of "
        f"{g['seconds']} s per configuration, bulk and per-domain alternated; medians "
        f"[min–max]. CPU in ms per read (libvirtd's idle CPU subtracted). *fresh*: the share "
        f"of VMs that had every group in every interval (worst group). *domstats*: libvirtd "
        f"CPU of one `virsh domstats --nowait` over the same VMs. Command: `{bc.COMMAND} "
        f"--sections growth`.", "",
        "| VMs | bulk collectd ms | bulk libvirtd ms | bulk µs per VM | per-domain collectd ms "
        "| per-domain libvirtd ms | per-domain / bulk | domstats libvirtd ms | fresh bulk / "
        "per-domain | RSS MB | threads |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for n in sorted(g["by_vms"], key=int):
        e = g["by_vms"][n]
        b = e.get("virtscale bulk", {}).get("summary", {})
        d = e.get("virtscale per-domain", {}).get("summary", {})
        tb, td = total(b), total(d)
        lim = e.get("limit", {})
        fb, fd = bc.med(b, "fresh_min"), bc.med(d, "fresh_min")
        if not tb:
            lines.append(f"| {n} |" + " - |" * 10)
            continue
        lines.append(
            f"| {n} | {bc.fmt(b, 'collectd_ms', 1)} | {bc.fmt(b, 'libvirtd_ms', 1)} | "
            f"{1000 * tb / int(n):.0f} | {bc.fmt(d, 'collectd_ms', 1)} | "
            f"{bc.fmt(d, 'libvirtd_ms', 1)} | "
            f"{(f'{td / tb:.2f}×' if td else '-')} | "
            f"{lim.get('libvirtd_ms', float('nan')):.0f} | "
            f"{100 * (fb or 0):.0f} % / {100 * (fd or 0):.0f} % | {bc.fmt(b, 'rss_mb')} | "
            f"{bc.fmt(b, 'threads', 0)} |")
        rows.append((int(n), tb, td))
    lines.append("")
    f = bulk_fit(g)
    if f:
        a0, b1 = f
        cpus = data.get("machine", {}).get("cpus") or 1
        proj = a0 + PROJECT_TO * b1
        lines += [
            f"**Fit** (bulk, collectd + libvirtd, least squares over the points above): "
            f"{a0:.1f} ms + {1000 * b1:.0f} µs per VM per read. **Projection to "
            f"{PROJECT_TO} VMs** (on paper): {proj:.0f} ms of CPU per read, "
            f"{100 * proj / 1000 / (g['interval'] * cpus):.0f} % of this machine's {cpus} CPUs "
            f"at Interval {g['interval']:g} s ({100 * proj / 1000 / (10 * cpus):.0f} % at "
            f"collectd's default Interval 10). Assumed: the cost per VM stays linear (each VM "
            f"one disk and one NIC; libvirt's bulk call is one pass over the domain list and "
            f"one monitor query per VM), libvirtd's worker threads spread the monitor calls "
            f"over the cores as now, and nothing else competes for them. Once a full round "
            f"no longer fits the interval, the plan samples the monitor-bound groups every "
            f"k-th interval instead (docs/design.md).", ""]
    lines += bc.image(plot_growth(rows, f, out), written, "CPU per read against VMs")
    lines += memory_lines(g.get("memory"), out, written,
                          (g.get("instructions") or {}).get("beside_memory_run_s"))
    lines += instruction_lines(g.get("instructions"))
    return lines


def plot_growth(rows, f, out):
    if not rows:
        return None
    datf = os.path.join(out, "bench-growth.dat")
    with open(datf, "w") as fh:
        for n, tb, td in rows:
            fh.write(f"{n} {tb} {td if td is not None else 'nan'}\n")
    png = os.path.join(out, "bench-growth.png")
    fitline = (f", {f[0]} + {f[1]} * x with lines dashtype 2 title 'bulk fit, projected'"
               if f else "")
    bc.gnuplot("set terminal pngcairo size 800,480 noenhanced\n"
               f"set output '{png}'\n"
               "set title 'virtscale: collectd + libvirtd CPU per read'\n"
               "set xlabel 'VMs (paused)'\nset ylabel 'ms of CPU per read'\n"
               f"set xrange [0:{PROJECT_TO}]\nset key top left\nset grid\n"
               f"plot '{datf}' using 1:2 with linespoints title 'bulk', "
               f"'{datf}' using 1:3 with linespoints title 'per-domain'{fitline}\n")
    os.unlink(datf)
    return png


def memory_lines(m, out, written, cg_s=None):
    """cg_s: seconds the callgrind runs went on beside the memory run (None: not)."""
    if not m:
        return []
    if "samples" not in m:
        return ["### Memory and threads", "", f"The memory run failed: {m.get('error')}", ""]
    s = m["samples"]
    first, last = s[0], s[-1]
    late = [x for x in s if x[0] >= last[0] / 10] or s
    peak = max(x[1] for x in s)
    # Flat means no drift: RSS jitters from read to read (malloc's arenas follow the size
    # of each answer), so the medians of the first and last thirds after the first tenth
    # are compared, not the highest and lowest sample.
    third = max(len(late) // 3, 1)
    head, tail = (statistics.median(x[1] for x in p) for p in (late[:third], late[-third:]))
    drift = tail - head
    met = peak <= MEMORY_GOAL_MB
    flat = abs(drift) <= FLAT_MB
    beside = (f"; it ran beside the section(s) {', '.join(m['beside'])} (`--overlap`), "
              f"collectd taking {100 * m.get('collectd_cpu_share', 0):.1f} % of the host's "
              f"CPU; virtscale samples every running domain, so it sampled their VMs too "
              f"while they ran, and its RSS follows the domain count"
              if m.get("beside") else "")
    if cg_s:
        beside += (f"; for its first {cg_s / 60:.1f} minutes the callgrind runs below went "
                   f"on beside it (a second collectd on the same VMs)")
    lines = ["### Memory and threads", "",
             f"collectd with virtscale (bulk) on {m['vms']} paused VMs, Interval "
             f"{m['interval']:g} s, for {last[0] / 60:.1f} minutes (values to the network "
             f"writer), RSS and threads every {s[1][0] - s[0][0]:.0f} s{beside}:", "",
             "| | RSS MB | threads |", "|---|---|---|",
             f"| at start (first read) | {first[1]:.1f} | {first[2]} |",
             f"| at the end | {last[1]:.1f} | {last[2]} |",
             f"| highest | {peak:.1f} | {max(x[2] for x in s)} |",
             f"| lowest after the first tenth | {min(x[1] for x in late):.1f} | "
             f"{min(x[2] for x in late)} |", "",
             f"Target ≤ {MEMORY_GOAL_MB:g} MB at 300 VMs: **{'met' if met else 'missed'}** "
             f"({peak:.1f} MB at {m['vms']} VMs). Flat (goal: the median RSS of the last third "
             f"of the run within {FLAT_MB:g} MB of the first third's, after the first tenth): "
             f"{head:.1f} → {tail:.1f} MB, drift {drift:+.1f} MB (least-squares slope "
             f"{m.get('slope_mb_per_min', 0):+.3f} MB/min; samples between "
             f"{min(x[1] for x in late):.1f} and {max(x[1] for x in late):.1f} MB from read to "
             f"read): **{'flat' if flat else 'not flat'}**. Threads stay between "
             f"{min(x[2] for x in s)} and {max(x[2] for x in s)}.", ""]
    datf = os.path.join(out, "bench-memory.dat")
    with open(datf, "w") as fh:
        fh.write("".join(f"{x[0] / 60} {x[1]} {x[2]}\n" for x in s))
    png = os.path.join(out, "bench-memory.png")
    bc.gnuplot("set terminal pngcairo size 800,400 noenhanced\n"
               f"set output '{png}'\n"
               f"set title 'collectd with virtscale, {m['vms']} VMs: RSS and threads'\n"
               "set xlabel 'minutes'\nset ylabel 'RSS MB'\nset y2label 'threads'\n"
               "set yrange [0:*]\nset y2range [0:*]\nset ytics nomirror\nset y2tics\n"
               "set grid\nset key bottom right\n"
               f"plot '{datf}' using 1:2 with lines title 'RSS MB', "
               f"'{datf}' using 1:3 axes x1y2 with steps title 'threads'\n")
    os.unlink(datf)
    return lines + bc.image(png, written, "RSS and threads over the run")


def instruction_lines(ins):
    if not ins:
        return []
    if "virtscale" not in ins or "floor" not in ins:
        return ["### Instructions per read (callgrind)", "",
                f"Not measured: {ins.get('error', 'incomplete')}", ""]
    v, fl = ins["virtscale"], ins["floor"]
    r = v["instructions_per_read"] / fl["instructions_per_read"]
    lines = ["### Instructions per read (callgrind)", "",
             f"The whole collectd process (every thread: read, write queue, the plugin's "
             f"workers, libvirt's client), {v['vms']} paused VMs, Interval {v['interval']:g} "
             f"s, instructions between a zero and a dump over {v['reads']} reads, per read. "
             f"*floor*: collectd dispatching the {fl['values']} identifiers virtscale wrote "
             f"from a plugin that does nothing else.", "",
             f"virtscale: **{v['instructions_per_read'] / 1e6:.1f} M** instructions per read "
             f"({v['values']} values); floor: **{fl['instructions_per_read'] / 1e6:.1f} M**; "
             f"ratio **{r:.2f}×**.", "",
             "| object | virtscale M/read | floor M/read |", "|---|---|---|"]
    objs = sorted(set(v["objects"]) | set(fl["objects"]),
                  key=lambda o: -v["objects"].get(o, 0))
    for o in objs[:12]:
        lines.append(f"| {o} | {v['objects'].get(o, 0) / 1e6:.2f} | "
                     f"{fl['objects'].get(o, 0) / 1e6:.2f} |")
    client = sum(v["objects"].get(o, 0) for o in CLIENT_OBJECTS)
    extra = v["instructions_per_read"] - fl["instructions_per_read"]
    libc = v["objects"].get("libc.so", 0) - fl["objects"].get("libc.so", 0)
    lines += ["", f"Of the {extra / 1e6:.1f} M instructions per read above the floor, libvirt's "
              f"client library and what it uses ({', '.join(CLIENT_OBJECTS)}: receiving and "
              f"decoding the statistics RPC) take {client / 1e6:.1f} M "
              f"({client / fl['instructions_per_read']:.2f}× the floor on its own), virtscale's "
              f"own code {v['objects'].get('virtscale.so', 0) / 1e6:.1f} M, and libc "
              f"{libc / 1e6:.1f} M more than the floor's (allocation, string formatting and "
              f"comparison, called from all of these)."]
    inc = v.get("inclusive") or {}
    lib = sum(inc.get(k, 0) for k in LIBVIRT_CALLS)
    if lib:
        lines += ["", f"libvirt's statistics calls and the freeing of their records "
                  f"({', '.join(f'`{k}`' for k in LIBVIRT_CALLS)}) take {lib / 1e6:.1f} M "
                  f"instructions per read with all they call (the RPC, its decoding, the "
                  f"allocations for it): {lib / fl['instructions_per_read']:.2f}× the floor on "
                  f"their own. A plugin with no code of its own that got these statistics "
                  f"through libvirt's client in collectd's process would be at about "
                  f"{1 + lib / fl['instructions_per_read']:.1f}× the floor, so the 1.3× goal of "
                  f"`cost` cannot be met that way; it would take a collector outside collectd "
                  f"(or libvirt's client) doing that work."]
    if inc:
        lines += ["", "What the instructions are for (inclusive: each function with what it "
                  "calls, per read; the rows overlap, e.g. the dispatch is inside "
                  "`vs_metrics_domain`):", "",
                  "| function | what | virtscale M/read | floor M/read |", "|---|---|---|---|"]
        for fn, what in INCLUSIVE.items():
            if fn in inc or fn in (fl.get("inclusive") or {}):
                lines.append(f"| `{fn}` | {what} | {inc.get(fn, 0) / 1e6:.2f} | "
                             f"{(fl.get('inclusive') or {}).get(fn, 0) / 1e6:.2f} |")
        uuid = inc.get("virUUIDFormat", 0)
        if uuid:
            lines += ["", f"`virUUIDFormat` alone is {uuid / 1e6:.1f} M instructions per read "
                      f"({100 * uuid / v['instructions_per_read']:.0f} % of the process): "
                      "libvirt's client formats the domain's UUID for a debug message "
                      "(`VIR_DOMAIN_DEBUG`) before it knows the message is not logged, in "
                      "every public call on a domain (`virDomainGetUUID`, `virDomainGetID`, "
                      "`virDomainRef`, `virDomainFree`) and when it frees a domain object, "
                      "which every statistics record brings. The calls virtscale makes per "
                      "record are the part it can save."]
    lines += ["", "Costliest functions with virtscale (self instructions per read):", "",
              "| function [object] | M/read |", "|---|---|"]
    lines += [f"| `{fn}` | {ir / 1e6:.2f} |" for fn, ir in v["top"]]
    return lines + [""]


def findings(data):
    """Bulk against per-domain as the host grows (the study doubted the bulk API's gain)."""
    g = data.get(NAME)
    if not g or not g.get("by_vms"):
        return []
    rows = []
    for n in sorted(g["by_vms"], key=int):
        e = g["by_vms"][n]
        sb = e.get("virtscale bulk", {}).get("summary", {})
        sd = e.get("virtscale per-domain", {}).get("summary", {})
        tb, td = total(sb), total(sd)
        if tb and td:
            rows.append((n, tb, td, bc.med(sd, "fresh_min"), bc.med(sb, "fresh_min")))
    if not rows:
        return []
    out = ["Bulk against per-domain sampling in virtscale itself (same plugin, same VMs, "
           "`StatsMode` switched; collectd + libvirtd CPU per read, paused VMs, Interval "
           f"{g['interval']:g} s):", ""]
    for n, tb, td, fresh, fresh_bulk in rows:
        out.append(f"- {n} VMs: bulk {tb:.0f} ms, per-domain {td:.0f} ms: the bulk call saves "
                   f"{100 * (1 - tb / td):.0f} % ({td / tb:.1f}× less CPU).")
        if fresh is not None and fresh < STALE_SHARE:
            # a mode that falls behind skips work: its CPU per read then understates
            # what sampling every VM would cost it
            out[-1] += (f" Per-domain fell behind here: only {100 * fresh:.0f} % of the VMs "
                        f"had every group in every interval (bulk: "
                        f"{100 * (fresh_bulk or 0):.0f} %), so it did less work per read than "
                        f"bulk and the saving is understated.")
    f = bulk_fit(g)
    if f:
        out += ["", f"Per VM, bulk sampling costs {1000 * f[1]:.0f} µs of CPU per read "
                f"(collectd + libvirtd, least-squares fit); on paper 1,000 VMs cost "
                f"{f[0] + PROJECT_TO * f[1]:.0f} ms per read (see BENCHMARKS.md, growth)."]
    out += ["", f"Command: `{bc.COMMAND} --sections growth`.", ""]
    return out
