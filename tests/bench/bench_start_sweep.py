#!/usr/bin/env python3
"""Boot-storm sweep of virtscale-start on tiny real guests: which bound is best here?

    VIRTSCALE_BUILD_DIR=build python3 tests/bench/bench_start_sweep.py \\
        [--vms 20] [--levels 1,2,4,8,16,0,auto] [--repeat 1] [--cooldown 3] [--out DIR]

Defines --vms tiny guests (Debian kernel + busybox initramfs, TCG, 128 MiB, built by
tests/rig/guest.py) that print a marker on their serial console when booted, then at each
bound (0 = all at once, auto = --max-parallel auto): every guest is stopped, the host gets
a cool-down, and `virtscale-start --max-parallel BOUND --ready console:MARKER` starts the
storm, each throttle slot held until the guest is ready. It prints a table (wall, mean/p95
time to ready, throttle wait, helper and whole-host CPU, failed guests), the recommended
bound and how far `auto` is from the best fixed bound, and writes DIR/sweep.json (the shape
of `virtscale-start sweep`'s JSON) and DIR/sweep.png.

This is what `virtscale-start sweep` does, with one difference: the guests are stopped
several at once. libvirt takes 2.0 s to destroy one of these guests here (from its
SIGTERM to QEMU's exit), and the helper's sweep stops them one after another: 100 s
before each level of a 50-guest sweep, more than the storm itself at small bounds.

The parts are functions for the `storms` section of tests/bench/benchmarks.py
(section_storms.py): define_guests(), sweep() (the rows over given guests and bounds) and
compare() (auto against the best fixed bound).

It prints figures and asserts nothing (a benchmark, not a test); it fails only when the
world cannot be set up or the helper fails. Not run by ctest: 20 guests take minutes."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rig"))
import guest  # noqa: E402
import rig  # noqa: E402

MARKER = "VS-BENCH-READY"
STOP_THREADS = 16     # virsh destroy at once (each mostly waits for its QEMU to exit)
STOP_TIMEOUT_S = 300  # all guests of a storm stopped within this


def helper():
    """Path of the built virtscale-start."""
    path = os.path.join(rig.build_dir(), "startup-helper", "virtscale-start")
    if not os.access(path, os.X_OK):
        raise rig.RigError(f"{path} not built")
    return path


def define_guests(vms, count, marker=MARKER):
    """Define (not start) count tiny booting guests in vms (a rig.VMs with disks=0,
    nics=0); returns their names, <prefix>00 on."""
    kernel, initrd = guest.build()
    edit = guest.xml_edit(kernel, initrd, marker=marker)
    return [vms.create_one(f"{vms.prefix}{i:02d}", define_only=True, xml_edit=edit)
            for i in range(count)]


def level_name(level):
    """A bound as `virtscale-start sweep` names it: '2', 'all' (0), 'auto'."""
    return "all" if str(level) == "0" else str(level)


def load_json(path):
    """The helper writes numbers with printf %f: a NaN or infinity (a phase no guest
    reached) would come out as nan/inf, which JSON has not; read those as null."""
    with open(path) as f:
        text = f.read()
    return json.loads(re.sub(r"(?<=[:\[,\s])-?(nan|inf)(?=[,\s\]}])", "null", text))


def running(names):
    wanted = set(names)
    return [n for n in rig.virsh("list", "--name").splitlines() if n in wanted]


def stop(names):
    """Destroy whichever of names runs, STOP_THREADS at once, and wait until none does."""
    todo = running(names)
    if todo:
        with ThreadPoolExecutor(min(STOP_THREADS, len(todo))) as pool:
            list(pool.map(lambda n: rig.virsh("destroy", n, check=False, timeout=120), todo))
    rig.wait_for(lambda: not running(names), STOP_TIMEOUT_S, 0.5, "the guests to stop")


def storm(names, level, report, marker=MARKER, timeout=900):
    """One `virtscale-start` storm over the stopped guests `names` at bound `level`, its
    report written to `report` (the helper's stdout and stderr beside it, .out). Returns
    the report (JSON). Raises RigError when the helper fails otherwise than with guests
    that did not become ready."""
    cmd = [helper(), "--max-parallel", str(level), "--hold-until", "ready",
           "--ready", f"console:{marker}", "--timeout", str(timeout), "--no-collectd",
           "--progress", "plain", "--report", report, *names]
    with open(report + ".out", "w") as out:
        # No timeout of our own: the helper bounds every libvirt call and every guest.
        cp = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    if cp.returncode not in (0, 1) or not os.path.exists(report):  # 1: some failed
        with open(report + ".out", errors="replace") as f:
            tail = f.read()[-3000:]
        raise rig.RigError(f"{' '.join(cmd[:12])} ... exited {cp.returncode}:\n{tail}")
    return load_json(report)


ROW_KEYS = ("wall_s", "mean_time_to_ready_s", "p95_time_to_ready_s", "mean_time_to_running_s",
            "p95_time_to_running_s", "mean_wait_s", "helper_cpu_s", "host_cpu_s",
            "final_bound")
PER_RUN_KEYS = ("wall_s", "mean_time_to_ready_s")  # kept per run, for the spread


def row_of_report(rep):
    """The figures of one storm, named as in `virtscale-start sweep`'s JSON rows."""
    ph = rep["phases"]
    failures = {}
    for vm in rep["vms"]:
        if vm["state"] != "ready":
            msg = vm.get("error") or vm["state"]
            failures[msg] = failures.get(msg, 0) + 1
    return {"wall_s": rep["wall_s"],
            "mean_time_to_ready_s": ph["total"]["mean"],
            "p95_time_to_ready_s": ph["total"]["p95"],
            "mean_time_to_running_s": ph["running"]["mean"],
            "p95_time_to_running_s": ph["running"]["p95"],
            "mean_wait_s": ph["wait"]["mean"],
            "helper_cpu_s": rep["helper_cpu_s"], "host_cpu_s": rep["host_cpu_s"],
            "final_bound": rep["bound"]["final"],
            "failed_vms": rep["counts"]["vms"] - rep["counts"]["ready"],
            "failures": failures, "bound_trace": rep["bound"]["trace"]}


def sweep(names, levels, repeat=1, cooldown=3, out_prefix=None, marker=MARKER, timeout=900):
    """At each of `levels` (ints, 0 = all at once, or "auto"), `repeat` times: stop every
    guest of `names` (defined; libvirtd running), wait `cooldown` seconds, start them all
    with that bound. Returns {vms, repeat, cooldown_s, levels: rows, recommended} like
    `virtscale-start sweep`'s JSON: per level its name, runs, failed_runs (runs with a
    guest not ready), the means over its runs of ROW_KEYS, and failed_vms (summed over
    its runs), failures ({message: count}), bound_traces (per run, the helper's
    bound.trace: [{t, bound, reason}]) and per_run (per run, its PER_RUN_KEYS).
    out_prefix: where the helper's reports go (out_prefix-LEVEL-RUN.json); default a
    temporary directory."""
    if out_prefix is None:
        out_prefix = os.path.join(tempfile.mkdtemp(prefix="virtscale-sweep-"), "sweep")
    print(f"sweep: {len(names)} guests, bounds {','.join(level_name(x) for x in levels)}, "
          f"{repeat} run(s) each, reports {out_prefix}-*.json", flush=True)
    rows = []
    for level in levels:
        name = level_name(level)
        row = {"level": name, "runs": 0, "failed_runs": 0, "failed_vms": 0, "failures": {},
               "bound_traces": [], "per_run": []}
        sums = dict.fromkeys(ROW_KEYS, 0.0)
        for rep in range(repeat):
            t0 = time.monotonic()
            stop(names)
            took_stop = time.monotonic() - t0
            time.sleep(cooldown)
            r = row_of_report(storm(names, "auto" if name == "auto" else int(level),
                                    f"{out_prefix}-{name}-{rep + 1}.json", marker, timeout))
            print(f"sweep: bound {name:<4} run {rep + 1}: wall {r['wall_s']:.2f} s, mean to "
                  f"ready {num(r['mean_time_to_ready_s'], 2)} s, {r['failed_vms']} failed, "
                  f"final bound {r['final_bound']} (guests stopped in {took_stop:.1f} s)",
                  flush=True)
            for msg, k in r["failures"].items():
                print(f"sweep:   {k} x {msg}", flush=True)
                row["failures"][msg] = row["failures"].get(msg, 0) + k
            row["runs"] += 1
            row["failed_runs"] += r["failed_vms"] > 0
            row["failed_vms"] += r["failed_vms"]
            row["bound_traces"].append(r["bound_trace"])
            row["per_run"].append({k: r[k] for k in PER_RUN_KEYS})
            for k in ROW_KEYS:
                sums[k] = None if sums[k] is None or r[k] is None else sums[k] + r[k]
        row.update({k: None if v is None else v / row["runs"] for k, v in sums.items()})
        rows.append(row)
    stop(names)
    rec = recommend(rows)
    return {"vms": len(names), "repeat": repeat, "cooldown_s": cooldown, "levels": rows,
            "recommended": None if rec is None else rec["level"]}


def usable(r):
    return r["runs"] and r["wall_s"] and r["mean_time_to_ready_s"] is not None


def fixed_rows(rows):
    """The fixed bounds (not auto) with no failed run and figures to compare."""
    return [r for r in rows if r["level"] != "auto" and r["failed_runs"] == 0 and usable(r)]


def recommend(rows):
    """virtscale-start sweep's rule (vs_sweep_recommend): among the fixed bounds with no
    failed run, those within 10 % of the best wall; of those the lowest mean time to
    ready (a tie: the lower bound, all at once last). Returns its row or None."""
    fixed = fixed_rows(rows)
    if not fixed:
        return None
    best_wall = min(r["wall_s"] for r in fixed)
    near = [r for r in fixed if r["wall_s"] <= 1.10 * best_wall]
    return min(near, key=lambda r: (r["mean_time_to_ready_s"],
                                    1 << 30 if r["level"] == "all" else int(r["level"])))


def compare(rows):
    """auto against the best fixed bound (fewest wall seconds; fewest mean seconds to
    ready), among fixed bounds with no failed run. Returns None when there is no auto row
    or no such bound, else {auto, best_wall, best_mean (rows), wall_pct, mean_pct}: how
    much auto is above (+) or below (-) the best, in per cent."""
    auto = next((r for r in rows if r["level"] == "auto" and usable(r)), None)
    fixed = fixed_rows(rows)
    if auto is None or not fixed:
        return None
    bw = min(fixed, key=lambda r: r["wall_s"])
    bm = min(fixed, key=lambda r: r["mean_time_to_ready_s"])
    return {"auto": auto, "best_wall": bw, "best_mean": bm,
            "wall_pct": 100 * (auto["wall_s"] / bw["wall_s"] - 1),
            "mean_pct": 100 * (auto["mean_time_to_ready_s"] / bm["mean_time_to_ready_s"] - 1)}


def num(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def print_figures(res):
    """The sweep's table, the recommended bound and auto against the best fixed bound."""
    rows = res["levels"]
    print(f"\n{res['vms']} guests, {res['repeat']} run(s) per bound (means), seconds\n"
          f"{'bound':<10} {'wall':>7} {'ready':>7} {'p95':>7} {'wait':>7} {'helper':>7} "
          f"{'host':>7} failed")
    for r in rows:
        name = r["level"] + (f"({r['final_bound']:.0f})" if r["level"] == "auto"
                             and r["final_bound"] is not None else "")
        print(f"{name:<10} {num(r['wall_s'], 2):>7} {num(r['mean_time_to_ready_s'], 2):>7} "
              f"{num(r['p95_time_to_ready_s'], 2):>7} {num(r['mean_wait_s'], 2):>7} "
              f"{num(r['helper_cpu_s'], 3):>7} {num(r['host_cpu_s'], 1):>7} "
              f"{r['failed_vms']}{'  <- recommended' if r['level'] == res['recommended'] else ''}")
    if res["recommended"] is None:
        print("recommended bound: none (every fixed bound had a failed guest)")
    else:
        print(f"recommended bound: {res['recommended']}")
    c = compare(rows)
    if c:
        a, bw, bm = c["auto"], c["best_wall"], c["best_mean"]
        print(f"auto (final bound {num(a['final_bound'])}): wall {a['wall_s']:.2f} s = "
              f"{c['wall_pct']:+.1f} % vs best fixed wall (bound {bw['level']}, "
              f"{bw['wall_s']:.2f} s); mean time to ready {a['mean_time_to_ready_s']:.2f} s = "
              f"{c['mean_pct']:+.1f} % vs best fixed mean (bound {bm['level']}, "
              f"{bm['mean_time_to_ready_s']:.2f} s)")
    for r in rows:
        if r["helper_cpu_s"] is not None and r["host_cpu_s"]:
            print(f"bound {r['level']:>4}: helper CPU {r['helper_cpu_s']:.3f} s of "
                  f"{r['host_cpu_s']:.1f} s host CPU during the storm "
                  f"({100 * r['helper_cpu_s'] / r['host_cpu_s']:.3f} %)")
    sys.stdout.flush()


def plot(res, png):
    """Wall, mean and p95 time to ready and mean throttle wait against the bound."""
    dat = png[:-4] + ".dat"
    with open(dat, "w") as f:
        for r in res["levels"]:
            f.write(f"{r['level']} " + " ".join(
                "nan" if r[k] is None else f"{r[k]:.3f}"
                for k in ("wall_s", "mean_time_to_ready_s", "p95_time_to_ready_s",
                          "mean_wait_s")) + "\n")
    subprocess.run(["gnuplot"], text=True, check=True, timeout=60, input=(
        "set terminal pngcairo size 900,520 noenhanced\n"
        f"set output '{png}'\n"
        f"set title 'virtscale-start: storms of {res['vms']} guests, slot held until ready'\n"
        "set xlabel 'bound (guests starting at once)'\nset ylabel 'seconds'\n"
        "set yrange [0:*]\nset grid ytics\nset key below\nset style data linespoints\n"
        f"plot '{dat}' using 0:2:xtic(1) title 'wall time' lw 2 pt 7, "
        "'' using 0:3 title 'mean time to ready' lw 2 pt 5, "
        "'' using 0:4 title 'p95 time to ready' dt 2 pt 4, "
        "'' using 0:5 title 'mean throttle wait' dt 3 pt 6\n"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--levels", default="1,2,4,8,16,0,auto")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cooldown", type=float, default=3)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="virtscale-sweep-")
    os.makedirs(out, exist_ok=True)
    levels = [x if x == "auto" else int(x) for x in a.levels.split(",") if x]
    helper()
    # The host lock before libvirtd: a process that holds the lock may have started
    # libvirtd and stop it when it ends, while this one waits for the lock.
    rig._acquire_host()
    try:
        with rig.ensure_libvirtd(), rig.VMs(n=0, disks=0, nics=0) as vms:
            names = define_guests(vms, a.vms)
            res = sweep(names, levels, a.repeat, a.cooldown, os.path.join(out, "storm"))
    finally:
        rig._release_host()
    with open(os.path.join(out, "sweep.json"), "w") as f:
        json.dump(res, f, indent=1)
    print_figures(res)
    plot(res, os.path.join(out, "sweep.png"))
    print(f"outputs in {out}: sweep.json sweep.dat sweep.png, the helper's reports "
          "storm-BOUND-RUN.json")


if __name__ == "__main__":
    main()
