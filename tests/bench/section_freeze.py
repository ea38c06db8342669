"""Section `freeze` of tests/bench/benchmarks.py: what a frozen QEMU costs a collector.

One of 20 running VMs has its QEMU stopped (SIGSTOP) for 20 s while collectd samples
at Interval 1, once with the bundled virt plugin (its defaults) and once with virtscale
(its defaults: a deadline on every call), alternated over 2 rounds. From collectd's csv
files: the share of the OTHER VMs' expected `virt_cpu_total` points that were written
during the freeze (one per VM and interval), their longest gap, the frozen VM's own
points, and collectd's "read-function ... took" warnings."""
import os
import time

import bench_common as bc
import rig
import section_cost

NAME = "freeze"
INTERVAL = 1.0
CONFS = [("virt defaults", "virt", section_cost.VIRT_DEFAULT),
         ("virtscale", "virtscale", section_cost.VIRTSCALE_BULK)]
FIELDS = ("others_share", "longest_gap_s", "victim_points", "took_warnings")


def plan(smoke):
    return ({"vms": 3, "freeze_s": 4, "rounds": 1, "warmup_s": 6} if smoke else
            {"vms": 20, "freeze_s": 20, "rounds": 2, "warmup_s": 12})


def running_counts(smoke):
    return [plan(smoke)["vms"]]


def run(a, data, save):
    p = plan(a.smoke)
    with rig.ensure_libvirtd(), rig.VMs(n=p["vms"], disks=1, nics=1) as vms:
        names = vms.create(parallel=4)
        vms.wait_idle()
        run_on(a, data, save, vms, names)


def run_on(a, data, save, vms, names):
    p = plan(a.smoke)
    data[NAME] = dict(p, interval=INTERVAL, vms=len(names))

    def one(name, plugin, conf):
        return freeze_once(vms, names, plugin, conf, p)

    def show(r):
        return (f"others {100 * r['others_share']:.1f} % of points, longest gap "
                f"{r['longest_gap_s']:.1f} s, frozen VM {r['victim_points']} points, "
                f"{r['took_warnings']} 'took' warnings")
    rs = bc.alternate(CONFS, p["rounds"], one, show)
    data[NAME]["confs"] = {n: {"runs": x, "summary": bc.summarize(x, FIELDS)}
                           for n, x in rs.items()}
    save()


def freeze_once(vms, names, plugin, conf, p):
    victim = names[len(names) // 2]
    others = [n for n in names if n != victim]
    plugin_dir = os.path.join(rig.build_dir(), "plugin")
    with rig.Collectd(plugin_dir, conf, interval=INTERVAL, hostname="hv-freeze",
                      allow_errors=[r"."]) as cd:
        cd.start()
        time.sleep(p["warmup_s"])
        with rig.stopped(vms.qemu_pid(victim)):
            t0 = time.time()
            time.sleep(p["freeze_s"])
            t1 = time.time()
        time.sleep(3)
        cd.stop(timeout=30)
        took = sum(1 for ln in cd.log().splitlines() if "took" in ln and "seconds" in ln)
        expected = int((t1 - t0) / INTERVAL) * len(others)
        got, gap = 0, 0.0
        for n in others:
            ts = [t for t, _ in cd.csv_rows(f"{n}/{plugin}/virt_cpu_total")]
            inside = [t for t in ts if t0 <= t <= t1]
            got += len(inside)
            edges = [t0] + inside + [t1]
            gap = max(gap, max(b - a for a, b in zip(edges, edges[1:])))
        victim_points = len([t for t, _ in cd.csv_rows(f"{victim}/{plugin}/virt_cpu_total")
                             if t0 <= t <= t1])
    return {"others_share": min(1.0, got / max(1, expected)), "longest_gap_s": gap,
            "victim_points": victim_points, "took_warnings": took}


def report(data, out, written):
    f = data.get(NAME)
    if not f or "confs" not in f:
        return []
    lines = ["## A frozen QEMU: the bundled plugin against virtscale", "",
             f"One of {f['vms']} running VMs has its QEMU stopped (SIGSTOP) for "
             f"{f['freeze_s']} s, Interval {f['interval']:g} s, {f['rounds']} round(s) "
             f"alternated; medians [min–max]. *others*: the share of the other VMs' expected "
             f"`virt_cpu_total` points written during the freeze; *gap*: their longest "
             f"interval without a point; *frozen VM*: its own points during the freeze; "
             f"*took*: collectd's warnings that a read outlasted its interval. Command: "
             f"`{bc.COMMAND} --sections freeze`.", "",
             "| plugin | others' points | longest gap s | frozen VM's points | took |",
             "|---|---|---|---|---|"]
    for name, e in f["confs"].items():
        s = e["summary"]
        share = s.get("others_share", {})
        lines.append(f"| {name} | {100 * share.get('median', 0):.1f} % "
                     f"[{100 * share.get('min', 0):.1f}–{100 * share.get('max', 0):.1f}] | "
                     f"{bc.fmt(s, 'longest_gap_s')} | {bc.fmt(s, 'victim_points', 0)} | "
                     f"{bc.fmt(s, 'took_warnings', 0)} |")
    return lines + [""]


def findings(data):
    f = data.get(NAME)
    if not f or "confs" not in f:
        return []
    v = f["confs"].get("virt defaults", {}).get("summary", {})
    s = f["confs"].get("virtscale", {}).get("summary", {})
    if not v or not s:
        return []
    lost_v = 100 * (1 - bc.med(v, "others_share"))
    lost_s = 100 * (1 - bc.med(s, "others_share"))
    return [f"One of {f['vms']} QEMUs frozen for {f['freeze_s']} s at Interval "
            f"{f['interval']:g}: the bundled virt plugin lost **{lost_v:.0f} %** of the other "
            f"VMs' points (longest gap {bc.med(v, 'longest_gap_s'):.1f} s: its one read "
            f"thread waits in a call to the frozen monitor), virtscale **{lost_s:.0f} %** "
            f"(longest gap {bc.med(s, 'longest_gap_s'):.1f} s: the call is timed out, the "
            f"domain set aside as unresponsive, the others sampled on). The frozen VM "
            f"itself: {bc.med(v, 'victim_points'):.0f} points from the bundled plugin, "
            f"{bc.med(s, 'victim_points'):.0f} from virtscale, which reports it as "
            f"`gauge-unresponsive` = 1 instead.", "",
            f"Command: `{bc.COMMAND} --sections freeze`.", ""]
