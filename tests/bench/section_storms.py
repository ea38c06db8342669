"""Section `storms` of tests/bench/benchmarks.py: virtscale-start's bound on storms of
5, 10, 20 and 50 tiny real guests (smoke: 2), and `--max-parallel auto` against the best
fixed bound (goal: within 10 % on wall time and on mean time to ready).

Each storm size is a sweep (tests/bench/bench_start_sweep.py) over the first N of 50
defined guests (Debian kernel + busybox initramfs, TCG, 128 MiB, printing a marker on the
serial console once booted): at each bound every guest is stopped, the host gets a short
cool-down, and `virtscale-start --max-parallel BOUND --ready console:MARKER` starts the
storm, each throttle slot held until the guest is ready. At every size the CPU count and
auto run first (the goal's comparison); then, while the section's 14 minutes last, the
same two again (A/B/A/B: the spread between two storms run the same way), then all at
once, 1 and twice the CPU count at the smaller sizes, last twice the CPU count at 50
(all at once killed guests there), so not every bound is tried at every size; the report
says which were left out and quotes earlier runs for them."""
import os
import shutil
import tempfile
import time

import bench_common as bc
import bench_start_sweep as sw
import rig

NAME = "storms"
GOAL_PCT = 10.0
REPEAT = 1
COOLDOWN_S = 2
BUDGET_S = 14 * 60  # the section's share of the full run (all sections: 45 minutes)
COMMAND = f"{bc.COMMAND} --sections {NAME}"
GUEST = ("Debian 6.1 kernel + busybox initramfs, 1 vCPU, 128 MiB, TCG, direct kernel "
         "boot, printing a marker on its serial console once booted")

# Measured before this section existed (docs/startup-helper.md, "Results"), quoted for
# the bounds a run leaves out to stay within its time budget: {size: (bounds, why they
# are not tried at all or None, the earlier figures)}, shown when one of those bounds is
# not in the run's data.
EARLIER = {
    "5": ({"1", "all"}, None,
          "5 guests (quiet host, means of 2 runs): bound 1 28.2 s wall / 17.0 s mean to "
          "ready, bound 2 17.1 / 10.3, bound 4 19.2 / 14.3, all at once 16.2 / 16.0"),
    "10": ({"4", "all"}, None,
           "10 guests (quiet host, means of 2 runs): bound 2 28.5 s wall / 17.0 s mean to "
           "ready, bound 4 31.3 / 20.6, all at once 31.7 / 31.2"),
    "20": ({"all", "4"}, None,
           "20 guests (quiet host, one run): all at once 71.2 s wall / 68.8 s mean to "
           "ready, bound 4 77.8 / 41.6, against bound 2's 66.1 / 34.8"),
    "50": ({"4", "8", "all"},
           "Bound 8 and all at once are not tried at 50 guests: with the earlier, slower "
           "guests bound 8 took over 6 minutes on 2 CPUs, and all at once killed guests; "
           "twice the CPU count is tried last, when the budget allows.",
           "50 guests (one run each): on a quiet host bound 4 took 370.1 s wall / 125.0 s "
           "mean to ready and bound 8 378.0 / 149.7, against bound 2's 191.2 / 82.9 "
           "(nearly twice the wall and the host CPU); on a busy host all at once lost 13 of "
           "50 guests while booting (the guest kernel rebooted) and bound 8 lost one"),
}
EARLIER_SOURCE = ("from earlier runs on this machine with slower guests: before they had "
                  "ACPI (tests/rig/guest.py: most of them then idled at 2.5-3 % of a CPU, "
                  "slowing later boots) and while they booted the compressed kernel (about "
                  "3 s more per boot); docs/startup-helper.md, *Results*; not this run")


def command(st):
    """The command that re-measures this section as it was run (its budget if not the
    default)."""
    b = st.get("budget_s", BUDGET_S)
    return COMMAND + ("" if b == BUDGET_S else f" --storms-minutes {b / 60:g}")


def earlier(st, n):
    """(why not tried or None, earlier figures) for size n when the run lacks one of the
    bounds EARLIER quotes for it, else None."""
    if n not in EARLIER or st.get("smoke") or n not in st.get("by_vms", {}):
        return None
    bounds, why, text = EARLIER[n]
    if bounds <= {r["level"] for r in st["by_vms"][n]["levels"]}:
        return None
    return why, text


def plan(smoke, cpus=None):
    """(essential, optional): essential {storm size: bounds} (0 = all at once), run first
    at every size: the CPU count c (where the bound pays on this host: TCG guests boot on
    the host's CPUs) and auto, the goal's comparison; optional [(size, bounds)], most
    telling first, run while the time budget lasts: c and auto again at every size (their
    second run, in the same order), then all at once (the unbounded storm), 1 and 2c
    (either side of c) at the smaller sizes, and last 2c at 50 guests (all at once killed
    guests there, see EARLIER)."""
    c = cpus or os.cpu_count() or 2
    if smoke:
        return {2: [1, "auto"]}, []

    def fix(n, lv):  # a bound of n or more is all at once
        return 0 if lv not in ("auto", 0) and lv >= n else lv
    essential = {}
    for n in (5, 10, 20, 50):
        essential[n] = []
        for lv in (c, "auto"):
            if fix(n, lv) not in essential[n]:
                essential[n].append(fix(n, lv))
    optional = [(n, list(lv)) for n, lv in essential.items()]
    for n, lv in ((10, 0), (5, 0), (5, 1), (10, 2 * c), (20, 0), (20, 2 * c), (50, 2 * c)):
        if fix(n, lv) not in essential[n] and (n, [fix(n, lv)]) not in optional:
            optional.append((n, [fix(n, lv)]))
    return essential, optional


def estimate(entry, levels, n):
    """Seconds optional storms of n guests at `levels` will take, from the slowest storm
    of the same size so far: one at a time about twice as long, others about as long (on
    2 CPUs: docs/startup-helper.md, *Results*), plus stopping and the cool-down."""
    ref = max(r["wall_s"] or 0 for r in entry["levels"])
    return sum(ref * (2.0 if level == 1 else 1.2) + COOLDOWN_S + 5 + 2 * n / sw.STOP_THREADS
               for level in levels)


def merge(rows, new):
    """rows with the rows of a later sweep added: a bound run before gets its runs joined
    (runs and failures summed, ROW_KEYS the mean over all its runs, traces and per-run
    figures kept); sorted by bound."""
    out = {r["level"]: r for r in rows}
    for r in new:
        o = out.get(r["level"])
        if o is None:
            out[r["level"]] = r
            continue
        m, n0, n1 = dict(o), o["runs"], r["runs"]
        for k in sw.ROW_KEYS:
            m[k] = None if o.get(k) is None or r.get(k) is None else \
                (o[k] * n0 + r[k] * n1) / (n0 + n1)
        for k in ("runs", "failed_runs", "failed_vms"):
            m[k] = o.get(k, 0) + r.get(k, 0)
        m["failures"] = dict(o.get("failures", {}))
        for msg, k in r.get("failures", {}).items():
            m["failures"][msg] = m["failures"].get(msg, 0) + k
        for k in ("bound_traces", "per_run"):
            m[k] = o.get(k, []) + r.get(k, [])
        out[r["level"]] = m
    return sorted(out.values(), key=lambda r: order_key(r["level"]))


def run(a, data, save):
    essential, optional = plan(a.smoke)
    cpus = os.cpu_count() or 2
    budget_s = BUDGET_S if getattr(a, "storms_minutes", None) is None else a.storms_minutes * 60
    planned = {n: list(lv) for n, lv in essential.items()}
    for n, levels in optional:
        planned[n] += [lv for lv in levels if lv not in planned[n]]
    data[NAME] = {"guest": GUEST, "repeat": REPEAT, "cooldown_s": COOLDOWN_S, "cpus": cpus,
                  "smoke": bool(a.smoke), "budget_s": budget_s,
                  "plan": {str(n): [sw.level_name(x) for x in lv] for n, lv in planned.items()},
                  "left_out": {}, "once_only": {}, "by_vms": {}}
    st = data[NAME]
    sw.helper()
    work = tempfile.mkdtemp(prefix="virtscale-bench-storms-")
    # The host lock before libvirtd: a process that holds the lock may have started
    # libvirtd and stop it when it ends, while this one waits for the lock.
    rig._acquire_host()
    try:
        with rig.ensure_libvirtd(), rig.VMs(n=0, disks=0, nics=0) as vms:
            t_all = t0 = time.monotonic()
            names = sw.define_guests(vms, max(essential))
            st["define_s"] = round(time.monotonic() - t0, 1)

            def storms(n, levels):
                print(f"storms: {n} guests, bounds "
                      f"{', '.join(sw.level_name(x) for x in levels)}", flush=True)
                t0 = time.monotonic()
                res = sw.sweep(names[:n], levels, REPEAT, COOLDOWN_S,
                               os.path.join(work, f"sweep-{n}-{len(levels)}"))
                took = time.monotonic() - t0
                e = st["by_vms"].setdefault(str(n), {"levels": [], "seconds": 0.0})
                e["levels"] = merge(e["levels"], res["levels"])
                rec = sw.recommend(e["levels"])
                e["recommended"] = rec["level"] if rec else None
                e["seconds"] = round(e["seconds"] + took, 1)
                save()
                sw.print_figures(dict(res, levels=e["levels"], recommended=e["recommended"]))
                print(f"storms: {n} guests, bounds {', '.join(sw.level_name(x) for x in levels)}"
                      f" took {took:.0f} s ({time.monotonic() - t_all:.0f} s so far)",
                      flush=True)

            for n, levels in essential.items():
                storms(n, levels)
            # The optional storms after all the essential ones (each storm starts from
            # stopped guests and a cool-down, so the order does not matter to it).
            for n, levels in optional:
                left = budget_s - (time.monotonic() - t_all)
                need = estimate(st["by_vms"][str(n)], levels, n)
                if need > left:
                    what = ", ".join(sw.level_name(lv) for lv in levels)
                    print(f"storms: {n} guests at bound(s) {what} left out: about "
                          f"{need:.0f} s, {max(left, 0):.0f} s of the budget left", flush=True)
                    have = {r["level"] for r in st["by_vms"][str(n)]["levels"]}
                    for lv in map(sw.level_name, levels):  # never run, or run once only
                        st["left_out" if lv not in have else "once_only"].setdefault(
                            str(n), []).append(lv)
                    continue
                storms(n, levels)
        # the guests' removal included, the wait for the host lock not
        st["seconds"] = round(time.monotonic() - t_all, 1)
        save()
    finally:
        rig._release_host()
        shutil.rmtree(work, ignore_errors=True)


# ---- report -------------------------------------------------------------------------

def num(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def spread(row, key):
    """The row's mean of `key` over its runs, with the runs' lowest and highest when it
    has more than one."""
    runs = [x[key] for x in row.get("per_run", []) if x.get(key) is not None]
    if len(runs) < 2:
        return num(row[key])
    return f"{num(row[key])} ({min(runs):.1f}–{max(runs):.1f})"


def pct(x):
    return "-" if x is None else f"{x:+.1f} %"


def met(x):
    return "-" if x is None else ("met" if x <= GOAL_PCT else "**missed**")


def bound_label(row):
    if row["level"] == "auto":
        fb = row.get("final_bound")
        return "auto" if fb is None else f"auto (ended at {fb:.0f})"
    if row["level"] == "all":
        return "all at once"
    return row["level"]


def sizes(st):
    return sorted(st.get("by_vms", {}), key=int)


def compare_line(c):
    if not c:
        return "auto vs best fixed bound: no comparison (no auto row, or every fixed " \
               "bound had a failed guest)"
    bw, bm = c["best_wall"], c["best_mean"]
    return (f"auto vs best fixed bound: wall {c['wall_pct']:+.1f} % (goal ≤ {GOAL_PCT:.0f} %: "
            f"{met(c['wall_pct'])}), mean to ready {c['mean_pct']:+.1f} % "
            f"({met(c['mean_pct'])}); best fixed: wall bound {bw['level']} "
            f"({bw['wall_s']:.1f} s), mean to ready bound {bm['level']} "
            f"({bm['mean_time_to_ready_s']:.1f} s).")


def size_lines(st, n):
    e = st["by_vms"][n]
    rows = e["levels"]
    lines = [f"### {n} guests", "",
             f"{e['seconds']:.0f} s for this storm size. Seconds; CPU in seconds over the "
             "storm.", "",
             "| bound | runs | wall | mean to ready | p95 to ready | mean throttle wait | "
             "failed guests | helper CPU | host CPU |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        failed = r.get("failed_vms", r["failed_runs"])
        lines.append(
            f"| {bound_label(r)} | {r['runs']} | {spread(r, 'wall_s')} | "
            f"{spread(r, 'mean_time_to_ready_s')} | "
            f"{num(r['p95_time_to_ready_s'])} | {num(r['mean_wait_s'])} | "
            f"{f'**{failed}**' if failed else 0} | {num(r['helper_cpu_s'], 3)} | "
            f"{num(r['host_cpu_s'])} |")
    lines += ["", compare_line(sw.compare(rows)), ""]
    for r in rows:
        for i, tr in enumerate(r.get("bound_traces", [])):
            if r["level"] == "auto" and tr:
                lines += [f"auto's bound{f' (run {i + 1})' if len(r['bound_traces']) > 1 else ''}"
                          ": " + ", ".join(f"{x['bound']} at {x['t']:.1f} s ({x['reason']})"
                                           for x in tr) + ".", ""]
                held = {x["bound"] for x in tr if x["reason"] != "tail"}
                tail = [x for x in tr if x["reason"] == "tail"]
                fixed = [q for q in rows if len(held) == 1 and q["level"] == str(held.pop())]
                if fixed and not tail:
                    lines += [f"auto held bound {fixed[0]['level']} from start to end, the same "
                              f"as the fixed row {fixed[0]['level']}: the difference between "
                              f"those two rows is the spread between two storms run the same "
                              f"way, not the throttle rule.", ""]
                elif fixed:
                    lines += [f"auto held bound {fixed[0]['level']} from start to end, but for "
                              f"its tail rule: at {tail[0]['t']:.1f} s the last guests "
                              f"started over the bound ({tail[-1]['bound']} slots held) "
                              f"instead of waiting for a slot; until then it ran as the fixed "
                              f"row {fixed[0]['level']} did.", ""]
    for r in rows:
        for msg, k in sorted(r.get("failures", {}).items(), key=lambda x: -x[1]):
            lines.append(f"* {bound_label(r)}: {k} × {msg}")
    if any(r.get("failures") for r in rows):
        lines.append("")
    measured = {r["level"] for r in rows}
    left = st.get("left_out", {}).get(n, [])
    once = st.get("once_only", {}).get(n, [])
    if once:
        lines += [f"Run once only for time (no second run): {', '.join(map(lab, once))}.", ""]
    if left:
        lines += [f"Left out for time in this run (the section's budget is "
                  f"{st.get('budget_s', 0) / 60:.0f} minutes): {', '.join(map(lab, left))}.", ""]
    missing = [lv for lv in st.get("plan", {}).get(n, []) if lv not in measured | set(left)]
    if missing:
        lines += [f"Planned but missing from the data (run cut short?): "
                  f"{', '.join(map(lab, missing))}.", ""]
    e = earlier(st, n)
    if e:
        lines += [(e[0] + " " if e[0] else "") + EARLIER_SOURCE[0].upper() +
                  EARLIER_SOURCE[1:] + ": " + e[1] + ".", ""]
    return lines


def summary_lines(st):
    lines = ["### Summary: auto against the best fixed bound", "",
             "| guests | best fixed wall | auto wall | auto vs best | best fixed mean to ready "
             "| auto mean to ready | auto vs best | auto ended at | goal (both ≤ 10 %) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n in sizes(st):
        c = sw.compare(st["by_vms"][n]["levels"])
        if not c:
            lines.append(f"| {n} | - | - | - | - | - | - | - | - |")
            continue
        a, bw, bm = c["auto"], c["best_wall"], c["best_mean"]
        both = max(c["wall_pct"], c["mean_pct"])
        lines.append(
            f"| {n} | {spread(bw, 'wall_s')} (bound {bw['level']}) | {spread(a, 'wall_s')} | "
            f"{pct(c['wall_pct'])} | {spread(bm, 'mean_time_to_ready_s')} (bound "
            f"{bm['level']}) | {spread(a, 'mean_time_to_ready_s')} | {pct(c['mean_pct'])} | "
            f"{num(a.get('final_bound'), 0)} | {met(both)} |")
    for n in st.get("plan", {}):
        if n not in st.get("by_vms", {}):
            lines.append(f"| {n} | not measured in this run | | | | | | | |")
    return lines + [""]


def report(data, out, written):
    st = data.get(NAME)
    if not st:
        return []
    lines = [
        "## Boot storms: virtscale-start's bound",
        "",
        f"Storms of tiny real guests ({st['guest']}) started by `virtscale-start "
        "--max-parallel BOUND --ready console:MARKER` (a throttle slot is held until the "
        "guest prints its marker): before each storm every guest is stopped and the host "
        "cools down for "
        f"{st['cooldown_s']} s. *runs*: storms per bound, alternated (c, auto, c, auto); "
        "with two, a cell is their mean with both runs in brackets: read differences within "
        "that spread as noise. *bound*: guests starting at once (all at once: unbounded; "
        "*auto*: `--max-parallel auto`, with the bound it ended at). *wall*: first request "
        "to last guest ready; *to ready*: request to marker, per guest; *throttle wait*: "
        "request to create call; *helper CPU*, *host CPU*: virtscale-start's and the whole "
        f"host's ({st['cpus']} CPUs) during the storm. Goal: auto within {GOAL_PCT:.0f} % "
        "of the best fixed bound (among those with no failed guest) on wall and on mean "
        f"time to ready. Command: `{command(st)}`.",
        "",
    ]
    for n in sizes(st):
        lines += size_lines(st, n)
    lines += summary_lines(st)
    lines += bc.image(plot(st, out), written, "storms: wall and mean time to ready per "
                      "bound, relative to the best fixed bound")
    return lines


def order_key(level):
    return (1, 0) if level == "all" else (2, 0) if level == "auto" else (0, int(level))


def plot(st, out):
    """Two panels: wall and mean time to ready per bound, each divided by the best fixed
    bound's of its storm size; one line per size over the fixed bounds, auto as a big
    point of the same colour; the goal (1.10) dashed."""
    ns = [n for n in sizes(st) if sw.compare(st["by_vms"][n]["levels"])]
    if not ns:
        return None
    levels = sorted({r["level"] for n in ns for r in st["by_vms"][n]["levels"]},
                    key=order_key)
    x = {lv: i for i, lv in enumerate(levels)}
    datf = os.path.join(out, "bench-storms.dat")
    with open(datf, "w") as f:
        # per size two blocks (index 2i: fixed bounds, 2i+1: auto): x, wall, mean
        for n in ns:
            rows = st["by_vms"][n]["levels"]
            c = sw.compare(rows)
            bw, bm = c["best_wall"]["wall_s"], c["best_mean"]["mean_time_to_ready_s"]
            for want_auto in (False, True):
                f.write(f"# {n} guests {'auto' if want_auto else 'fixed'}\n")
                for r in sorted(rows, key=lambda r: order_key(r["level"])):
                    if (r["level"] == "auto") != want_auto or r["wall_s"] is None \
                            or r["mean_time_to_ready_s"] is None:
                        continue
                    f.write(f"{x[r['level']]} {r['wall_s'] / bw:.4f} "
                            f"{r['mean_time_to_ready_s'] / bm:.4f}\n")
                f.write("\n\n")
    png = os.path.join(out, "bench-storms.png")
    tics = ", ".join(f"'{lv}' {i}" for lv, i in x.items())
    with open(datf) as f:
        ys = [float(v) for line in f if line.strip() and not line.startswith("#")
              for v in line.split()[1:]]
    # 1 (the best) and the goal always in view; auto may be below the best
    lo = min(0.9, min(ys) - 0.05)
    hi = max(1.2, max(ys) + 0.1)

    def panel(col, what):
        parts = []
        for i, n in enumerate(ns):
            parts.append(f"'{datf}' index {2 * i} using 1:{col} with linespoints lw 2 pt 7 "
                         f"lc {i + 1} title '{n} guests'")
            parts.append(f"'{datf}' index {2 * i + 1} using 1:{col} with points pt 9 ps 2.5 "
                         f"lc {i + 1} notitle")
        parts.append(f"{1 + GOAL_PCT / 100} with lines dt 2 lc rgb 'black' "
                     "title 'goal for auto'")
        return (f"set title '{what} / best fixed bound'\n"
                f"plot {', '.join(parts)}\n")
    bc.gnuplot("set terminal pngcairo size 1100,480 noenhanced\n"
               f"set output '{png}'\n"
               "set multiplot layout 1,2 title 'Boot storms of tiny TCG guests: each bound "
               "(guests starting at once) against the best fixed bound of its storm size "
               "(auto: triangles)'\n"
               f"set xtics ({tics})\nset xrange [-0.5:{len(levels) - 0.5}]\n"
               "set ylabel 'relative to best'\n"
               f"set yrange [{lo:.2f}:{hi:.2f}]\nset grid ytics\nset key below horizontal\n"
               + panel(2, "wall") + panel(3, "mean time to ready")
               + "unset multiplot\n")
    os.unlink(datf)
    return png


# ---- findings -----------------------------------------------------------------------

def lab(level):
    """'bound 2', 'all at once', 'auto'."""
    return {"all": "all at once", "auto": "auto"}.get(level, f"bound {level}")


def row_of(rows, level):
    return next((r for r in rows if r["level"] == level), None)


def best_fixed(entry):
    """The helper's recommended bound (lowest mean to ready among the fixed bounds with
    no failed run within 10 % of the best wall) as its row, else None."""
    rec = entry.get("recommended")
    return None if rec is None else row_of(entry["levels"], sw.level_name(rec))


def near_best(entry):
    """The other fixed bounds with no failed run within 10 % of the best fixed bound on
    wall and on mean time to ready: these runs cannot tell them apart from it."""
    best = best_fixed(entry)
    return [] if best is None else [
        r for r in sw.fixed_rows(entry["levels"]) if r is not best and all(
            r[k] <= 1.1 * best[k] for k in ("wall_s", "mean_time_to_ready_s"))]


def impact_lines(st, machine):
    lines = ["### The impact of bounding concurrent VM creation on a modern libvirt/QEMU, "
             "and the best bound on this host", "",
             f"libvirt {machine.get('libvirt', '?')}, QEMU {machine.get('qemu', '?')}, "
             f"{st['cpus']} CPUs; storms of tiny real guests booting under TCG, started by "
             "virtscale-start with each bound (one or two storms per bound and size, "
             "their mean here; BENCHMARKS.md shows both runs: read differences within "
             "that spread as noise).", ""]
    recs = {}
    for n in sizes(st):
        e = st["by_vms"][n]
        rows = [r for r in e["levels"] if r["level"] != "auto" and r["wall_s"] is not None
                and r["mean_time_to_ready_s"] is not None]
        if not rows:
            continue
        best = best_fixed(e)
        if best is not None:
            recs[n] = best["level"]
        ref = best or min(rows, key=lambda r: r["mean_time_to_ready_s"])
        parts = [f"{lab(r['level'])}: {r['wall_s']:.1f} s wall / "
                 f"{r['mean_time_to_ready_s']:.1f} s mean to ready"
                 + (f", **{r.get('failed_vms', 0) or r['failed_runs']} guest(s) failed**"
                    if r["failed_runs"] else "")
                 for r in sorted(rows, key=lambda r: order_key(r["level"]))]
        text = f"* **{n} guests**: " + "; ".join(parts) + "."
        alln = row_of(rows, "all")
        if alln is not None and alln is not ref and ref["mean_time_to_ready_s"]:
            text += (f" All at once against {lab(ref['level'])}: wall "
                     f"{100 * (alln['wall_s'] / ref['wall_s'] - 1):+.0f} %, mean time to "
                     f"ready {alln['mean_time_to_ready_s'] / ref['mean_time_to_ready_s']:.1f}×.")
        one = row_of(rows, "1")
        if one is not None and one is not ref:
            text += (f" One at a time: wall {100 * (one['wall_s'] / ref['wall_s'] - 1):+.0f} % "
                     f"against {lab(ref['level'])}.")
        lines.append(text)
    lines.append("")
    if recs:
        distinct = sorted(set(recs.values()), key=order_key)
        if len(distinct) == 1:
            b = distinct[0]
            eq = " (= the CPU count)" if b == str(st["cpus"]) else ""
            lines.append(f"**Best bound on this host: {lab(b)}**{eq} at every storm size measured "
                         f"({', '.join(recs)} guests): the lowest mean time to ready among "
                         "the bounds within 10 % of the best wall time with no failed guest.")
        else:
            lines.append("Best bound (lowest mean time to ready among the bounds within 10 % "
                         "of the best wall with no failed guest): " +
                         ", ".join(f"{lab(b)} at {n} guests" for n, b in recs.items()) + ".")
        close = [f"{lab(r['level'])} at {n} guests" for n in recs
                 for r in near_best(st["by_vms"][n])]
        if close:
            lines.append("Within 10 % of the best bound on both wall and mean time to ready, "
                         "so not told apart from it by these runs: " + ", ".join(close) + ".")
    lines.append("")
    failed = [(n, r) for n in sizes(st) for r in st["by_vms"][n]["levels"] if r["failed_runs"]]
    if failed:
        lines.append("Failures: " + "; ".join(
            f"{bound_label(r)} at {n} guests: {r.get('failed_vms') or '?'} guest(s)"
            + (f" ({', '.join(sorted(r.get('failures', {})))})" if r.get("failures") else "")
            for n, r in failed) + ".")
    else:
        lines.append("No guest failed at any bound measured in this run.")
    quotes = [e[1] for e in (earlier(st, n) for n in sizes(st)) if e]
    if quotes:
        lines.append(f"Bounds not measured in this run, {EARLIER_SOURCE}: "
                     + "; ".join(quotes) + ".")
    return lines + ["", f"Command: `{command(st)}`.", ""]


def wait_lines(st):
    lines = ["### How long starts wait for the throttle", "",
             "*Throttle wait*: from a guest's request to its create call; *create → ready*: "
             "the rest of its time to ready (mean to ready − mean wait). Means over the "
             "guests of one storm, seconds.", "",
             "| guests | bound | mean throttle wait | mean to ready | wait share | "
             "create → ready |", "|---|---|---|---|---|---|"]
    notes = []
    for n in sizes(st):
        e = st["by_vms"][n]
        for r in sorted(e["levels"], key=lambda r: order_key(r["level"])):
            w, t = r["mean_wait_s"], r["mean_time_to_ready_s"]
            if w is None or t is None:
                continue
            lines.append(f"| {n} | {bound_label(r)} | {w:.1f} | {t:.1f} | "
                         f"{100 * w / t if t else 0:.0f} % | {t - w:.1f} |")
        best, alln = best_fixed(e), row_of(e["levels"], "all")
        if best is not None and alln is not None and best is not alln \
                and best["mean_time_to_ready_s"] and alln["mean_time_to_ready_s"]:
            w, t = best["mean_wait_s"], best["mean_time_to_ready_s"]
            ta = alln["mean_time_to_ready_s"]
            notes.append(
                f"{n} guests: at {lab(best['level'])} a start waits {w:.1f} s of its "
                f"{t:.1f} s to ready ({100 * w / t:.0f} %) and boots in {t - w:.1f} s once "
                f"created; all at once nothing waits, but a boot takes "
                f"{ta - alln['mean_wait_s']:.1f} s: {100 * (ta / t - 1):+.0f} % time to "
                "ready.")
    if notes:
        lines += [""] + ["* " + x for x in notes]
        lines += ["", "At every size measured with both, the best bound's mean time to "
                  "ready is below all at once's: the time spent waiting is more than made "
                  "up by the faster boots of guests that share the CPUs with fewer others "
                  "(compare *create → ready*)." if all_wait_pays(st) else
                  "At some size all at once has the lower mean time to ready: there the "
                  "wait is not made up by faster boots."]
    return lines + ["", f"Command: `{command(st)}`.", ""]


def all_wait_pays(st):
    """True when, at every size with both, the best bound's mean time to ready is below
    all at once's (the wait is more than made up by faster boots)."""
    for n in sizes(st):
        e = st["by_vms"][n]
        best, alln = best_fixed(e), row_of(e["levels"], "all")
        if best is not None and alln is not None and best is not alln and \
                best["mean_time_to_ready_s"] >= alln["mean_time_to_ready_s"]:
            return False
    return True


def findings(data):
    st = data.get(NAME)
    if not st or not st.get("by_vms"):
        return []
    return impact_lines(st, data.get("machine", {})) + wait_lines(st)
