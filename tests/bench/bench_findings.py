"""docs/FINDINGS.md: the open questions of the 2014 study of how oVirt's VDSM uses
libvirt at scale, answered with the figures of tests/bench/benchmarks.py. Each section
module answers its questions (findings(data)); this file orders them and adds the
sampling-cost summary, which draws on `cost` and `growth` together."""
import bench_common as bc

INTRO = [
    "The study of VDSM's use of libvirt at scale (oVirt, 2014) left its key questions as "
    "\"ACTION PENDING\". Each is answered below with measurements made on the machine "
    "above by the one benchmark command, and the command that produced it. Where a "
    "section was not measured in the run the figures come from, its question says so.",
    ""]

QUESTIONS = [  # heading, section whose findings answer it
    ("Bounding concurrent VM creation, and how long starts wait for the throttle", "storms"),
    ("What dominates the cost of sampling statistics; what the bulk API saves; locks in the "
     "QEMU driver; a non-blocking block info", "libvirt"),
    ("Bulk against per-domain calls as the host grows", "growth"),
    ("What a timeout does against a frozen QEMU", "freeze"),
]


def cost_summary(data):
    cost = data.get("cost")
    if not cost or not cost.get("by_vms"):
        return []
    import section_cost
    out = ["## What a collector costs here", "",
           "virtscale against collectd's bundled virt plugin on the same running VMs "
           "(collectd + libvirtd CPU per interval at Interval 1), and against the limits:", ""]
    for n in sorted(cost["by_vms"], key=int):
        e = cost["by_vms"][n]
        b = section_cost.total(e.get("virtscale bulk", {}).get("summary", {}))
        x = section_cost.total(e.get("virt ExtraStats", {}).get("summary", {}))
        d = section_cost.total(e.get("virt defaults", {}).get("summary", {}))
        lv, dm, r1, cd, fl, r2 = section_cost.limits(cost, n)
        if None in (b, x, d, r1, r2):
            continue
        out.append(f"- {n} VMs: virtscale {b:.0f} ms against {x:.0f} ms for the bundled plugin "
                   f"with the same groups ({b / x:.2f}×) and {d:.0f} ms with its defaults; "
                   f"libvirtd's side {r1:.2f}× one `virsh domstats --nowait`, collectd's side "
                   f"{r2:.2f}× collectd's own cost of dispatching the same values.")
    return out + ["", f"Command: `{bc.COMMAND} --sections cost`; tables in "
                  "[BENCHMARKS.md](BENCHMARKS.md).", ""]


def lines(data, sections):
    out = list(INTRO)
    for heading, name in QUESTIONS:
        out += [f"## {heading}", ""]
        got = sections[name].findings(data) if name in data else []
        out += got or [f"Not measured in this run (`{bc.COMMAND} --sections {name}`).", ""]
    out += cost_summary(data)
    return out
