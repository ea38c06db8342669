#!/usr/bin/env python3
"""`--ready console:TEXT` on tiny real guests, start-order groups from a plan.

Two guests (Debian kernel + busybox initramfs, TCG) that print a marker on their serial
console when booted, started by a plan with two groups: the second group's guest is
requested only after the first one is ready; ready comes well after running (a real boot);
the third guest waits for a marker it never prints and fails after its own (plan) timeout
with a message naming the text, without holding up the exit status of the others beyond it.
"""
import json
import os
import tempfile

from helpertest import Checks, guest, load_report, rig, run

MARKER = "VS-CONSOLE-TEST-READY"


def main():
    c = Checks("start_console")
    work = tempfile.mkdtemp(prefix="vs-console-")
    report = os.path.join(work, "report.json")
    kernel, initrd = guest.build()
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=0, nics=0) as vms:
        edit = guest.xml_edit(kernel, initrd, marker=MARKER)
        g1, g2, g3 = (vms.create_one(f"{vms.prefix}g{i}", define_only=True, xml_edit=edit)
                      for i in (1, 2, 3))
        plan = {"max_parallel": 2, "ready": f"console:{MARKER}", "timeout_s": 120,
                "groups": [{"name": "first", "domains": [g1]},
                           {"name": "second", "domains": [
                               g2, {"name": g3, "ready": "console:NEVER-PRINTED",
                                    "timeout_s": 25}]}]}
        plan_path = os.path.join(work, "plan.json")
        with open(plan_path, "w") as f:
            json.dump(plan, f, indent=2)
        cp = run("--plan", plan_path, "--report", report, "--no-collectd",
                 "--progress", "plain", timeout=400)
        c.check(cp.returncode == 1, f"exit {cp.returncode}, want 1 (g3 must fail)")
        r = load_report(report)
        v = {x["name"]: x for x in r["vms"]}
        c.check(r["groups"] == ["first", "second"], f"groups {r['groups']}")
        for n in (g1, g2):
            c.check(v[n]["state"] == "ready", f"{n}: {v[n]['state']} {v[n]['error']}")
            c.check(v[n]["ready_probe"] == "console" and v[n]["ready_text"] == MARKER,
                    f"{n}: probe {v[n]['ready_probe']}")
            d = v[n]["durations"]
            # Started paused, console attached, resumed: running is the resume; a
            # Linux boot under TCG takes seconds more.
            c.check(d["ready"] is not None and d["ready"] - d["running"] > 1.0,
                    f"{n}: ready {d['ready']} vs running {d['running']}: no real boot?")
        c.check(v[g2]["t"]["request"] >= v[g1]["t"]["ready"],
                f"group 2 requested at {v[g2]['t']['request']} before group 1 was ready "
                f"at {v[g1]['t']['ready']}")
        c.check(v[g1]["group"] == "first" and v[g2]["group"] == "second", "group names")
        c.check(v[g3]["state"] == "failed", f"g3: {v[g3]['state']}")
        c.check('timed out after 25 s waiting for "NEVER-PRINTED"' in (v[g3]["error"] or ""),
                f"g3 error {v[g3]['error']!r}")
        c.check(v[g3]["durations"]["running"] is not None, "g3 did start running")
        c.check(r["counts"]["ready"] == 2 and r["counts"]["failed"] == 1, f"counts {r['counts']}")
    c.done()


if __name__ == "__main__":
    main()
