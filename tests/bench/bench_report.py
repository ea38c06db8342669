"""Renders the data of tests/bench/benchmarks.py into BENCHMARKS.md and its plots
(gnuplot, PNG). write(data, out_dir) returns the paths it wrote. Medians with the
spread of the rounds as [min-max]; every target says plainly whether it is met."""
import os
import subprocess

CONF_ORDER = ("virt defaults", "virt ExtraStats", "virtscale bulk", "virtscale per-domain",
              "collectd floor")
LIBVIRTD_GOAL = 1.1  # virtscale bulk's libvirtd CPU per interval / one domstats --nowait
COLLECTD_GOAL = 1.3  # virtscale bulk's collectd CPU per interval / the dispatch-only floor


def fmt(s, field, digits=1):
    """'median [min-max]' of one summarised field, '-' when missing."""
    v = s.get(field)
    if not v:
        return "-"
    if v["min"] == v["max"]:
        return f"{v['median']:.{digits}f}"
    return f"{v['median']:.{digits}f} [{v['min']:.{digits}f}–{v['max']:.{digits}f}]"


def med(s, field):
    v = s.get(field)
    return v["median"] if v else None


def total(s):
    c, lv = med(s, "collectd_ms"), med(s, "libvirtd_ms")
    return None if c is None or lv is None else c + lv


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "-"


def machine_section(m):
    kvm = "KVM" if m.get("kvm") else "no /dev/kvm: QEMU TCG"
    return [
        "## The machine",
        "",
        f"{m.get('date', '')}; {m.get('cpu', '')}, {m.get('cpus')} CPUs, "
        f"{m.get('memory_gib')} GiB, Linux {m.get('kernel', '')}, {kvm}; Debian packages "
        f"libvirt {m.get('libvirt', '')}, QEMU {m.get('qemu', '')}, collectd "
        f"{m.get('collectd', '')}; virtscale {m.get('virtscale', '')}.",
        "",
    ]


def cost_section(cost, out, written):
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
        "stamps each value as it dispatches it). Values go to collectd's network writer "
        "(a loopback port nobody listens on: the cheapest real writer).",
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
        for name in CONF_ORDER:
            s = confs.get(name, {}).get("summary")
            if not s:
                row.append(None)
                continue
            lines.append(
                f"| {name} | {fmt(s, 'collectd_ms', 2)} | {fmt(s, 'libvirtd_ms', 2)} | "
                f"{total(s):.2f} | {ratio(total(s), total(ref))} | "
                f"{ratio(total(s), total(dflt))} | {fmt(s, 'values', 0)} | "
                f"{fmt(s, 'read_p50', 3)} / {fmt(s, 'read_p99', 3)} | {fmt(s, 'rss_mb')} | "
                f"{fmt(s, 'threads', 0)} |")
            row.append(total(s))
        lines.append("")
        dat.append(row)
    lines += limits_lines(cost)
    png = plot_cost(dat, out)
    if png:
        written.append(png)
        lines += [f"![collectd + libvirtd CPU per interval]({os.path.basename(png)})", ""]
    return lines


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
             f"{COLLECTD_GOAL}×).", "",
             "| VMs | libvirtd ms: virtscale / domstats | ratio | goal | collectd ms: "
             "virtscale / floor | ratio | goal |", "|---|---|---|---|---|---|---|"]
    for n in sorted(cost["by_vms"], key=int):
        e = cost["by_vms"][n]
        bulk = e.get("virtscale bulk", {}).get("summary", {})
        flo = e.get("collectd floor", {}).get("summary", {})
        lim = e.get("limit")
        lv, cd, fl = med(bulk, "libvirtd_ms"), med(bulk, "collectd_ms"), med(flo, "collectd_ms")
        r1 = lv / lim["libvirtd_ms"] if lv is not None and lim and lim["libvirtd_ms"] else None
        r2 = cd / fl if cd is not None and fl else None
        lines.append(
            f"| {n} | {lv:.1f} / {lim['libvirtd_ms']:.1f} | {r1:.2f}× | "
            f"{'met' if r1 <= LIBVIRTD_GOAL else '**missed**'} | {cd:.2f} / {fl:.2f} | "
            f"{r2:.2f}× | {'met' if r2 <= COLLECTD_GOAL else '**missed**'} |"
            if r1 is not None and r2 is not None else f"| {n} | - | - | - | - | - | - |")
    return lines + [""]


def plot_cost(rows, out):
    """collectd + libvirtd CPU per interval against VMs, one line per configuration."""
    if not rows:
        return None
    datf = os.path.join(out, "bench-cost.dat")
    with open(datf, "w") as f:
        f.write("# vms " + " ".join(c.replace(" ", "_") for c in CONF_ORDER) + "\n")
        for r in rows:
            f.write(" ".join("nan" if x is None else f"{x}" for x in r) + "\n")
    png = os.path.join(out, "bench-cost.png")
    plots = ", ".join(f"'{datf}' using 1:{i + 2} with linespoints title '{c}'"
                      for i, c in enumerate(CONF_ORDER))
    script = ("set terminal pngcairo size 800,480 noenhanced\n"
              f"set output '{png}'\n"
              "set title 'Sampling cost: collectd + libvirtd CPU per interval'\n"
              "set xlabel 'running VMs'\nset ylabel 'ms of CPU per interval'\n"
              "set key top left\nset grid\n"
              f"plot {plots}\n")
    subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)
    os.unlink(datf)
    return png


def write(data, out):
    written = []
    m = data.get("machine", {})
    lines = ["# Benchmarks", "",
             "Generated by `tests/bench/run-benchmarks.sh` (`tests/bench/benchmarks.py`); "
             "do not edit by hand: run it again. Every figure below was measured in one run "
             "on the machine described; expect ±10–20 % between runs on a shared host.", ""]
    if data.get("smoke"):
        lines += ["**Smoke run** (a few VMs for seconds): the figures only show that the "
                  "scripts work.", ""]
    lines += machine_section(m)
    if "cost" in data:
        lines += cost_section(data["cost"], out, written)
    dur = data.get("duration_s")
    if dur is not None:
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in data.get("durations_s", {}).items())
        lines += [f"The run took {dur / 60:.1f} minutes ({parts}).", ""]
    md = os.path.join(out, "BENCHMARKS.md")
    with open(md, "w") as f:
        f.write("\n".join(lines))
    written.insert(0, md)
    return written
