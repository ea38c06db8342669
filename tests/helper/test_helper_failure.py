#!/usr/bin/env python3
"""One VM whose disk image is missing; hostile and overlong names next to it.

The broken VM fails with libvirt's message, a FAILURE notification naming it reaches
collectd, the exit status is 1, and the others are unaffected: ready, running, and their
timings in collectd under their (safe) names: spaces, quotes, backslash and UTF-8 kept, a
200-byte name cut to fit with a hash of the whole name (vs_idfield), read back with
GETVAL."""
import os
import tempfile

from helpertest import PHASES, Checks, domstate, load_report, rig, run, safe_field


def main():
    c = Checks("start_failure")
    work = tempfile.mkdtemp(prefix="vs-fail-")
    report = os.path.join(work, "report.json")
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=1, nics=0) as vms, \
            rig.Collectd(None, "", interval=1) as cd:
        ok = [vms.create_one(define_only=True) for _ in range(2)]
        odd = vms.create_one(vms.prefix + 'odd name "q" \'s\' back\\slash ü 日本',
                             define_only=True)
        long_name = vms.create_one(vms.prefix + "L" * (200 - len(vms.prefix)),
                                   define_only=True)
        broken = vms.create_one(vms.prefix + "broken", define_only=True)
        image = os.path.join(vms.workdir, f"{broken}-vda.qcow2")
        os.unlink(image)
        cd.start()
        good = ok + [odd, long_name]
        cp = run("--max-parallel", "2", "--ready", "running", "--report", report,
                 "--collectd-socket", cd.socket, "--spool", os.path.join(work, "spool"),
                 "--progress", "plain", *ok, broken, odd, long_name, timeout=300)
        c.check(cp.returncode == 1, f"exit {cp.returncode}, want 1")
        c.check(image in cp.stdout and "failed" in cp.stdout,
                "summary names the failure with libvirt's message")
        r = load_report(report)
        got = {v["name"]: v for v in r["vms"]}
        c.check(got[broken]["state"] == "failed", f"broken: {got[broken]['state']}")
        c.check(image in (got[broken]["error"] or ""), f"error {got[broken]['error']!r}")
        c.check(domstate(broken) == "shut off", f"broken is {domstate(broken)}")
        for n in good:
            c.check(got[n]["state"] == "ready", f"{n!r}: {got[n]['state']}")
            c.check(domstate(n) == "running", f"{n!r} is {domstate(n)}")
        c.check(r["counts"]["failed"] == 1 and r["counts"]["ready"] == 4, r["counts"])

        rig.wait_for(lambda: "severity = FAILURE" in cd.log(), 10,
                     what="FAILURE notification in collectd's log")
        notes = [ln for ln in cd.log().splitlines() if "severity = FAILURE" in ln]
        c.check(len(notes) == 1, f"{len(notes)} FAILURE notifications: {notes}")
        c.check(any(f"host = {broken}," in ln and f'VM "{broken}" failed to start' in ln
                     and image in ln for ln in notes), f"notification text: {notes}")
        c.check(any("WARNING" in ln and "4 of 5 VMs ready" in ln
                    for ln in cd.log().splitlines()), "batch WARNING notification")

        for n in good:
            host = safe_field(n)
            c.check(len(host.encode()) <= 127, f"{host!r} too long")
            for p in PHASES:
                val = cd.getval(f"{host}/virtscale_start/duration-{p}")
                want = got[n]["durations"][p]
                c.check(abs(val.get("seconds", -1) - want) <= 1e-5 * max(want, 1e-3) + 1e-6,
                        f"GETVAL {host!r} {p}: {val}, report {want}")
        c.check(safe_field(long_name) != long_name, "long name not shortened")
        # The broken VM reached "wait" and "create" only.
        bh = f"{broken}/virtscale_start/duration-"
        c.check(cd.getval(bh + "create").get("seconds", -1) >= 0, "broken create value")
        rig.wait_for(lambda: f"{broken}/virtscale_start/duration-wait" in cd.identifiers(),
                     10, what="broken VM's wait value in csv")
        c.check(f"{bh}ready" not in cd.identifiers(), "broken VM has no ready value")
        bad = cd.problems()
        c.check(not bad, f"collectd logged problems: {bad}")
    c.done()


if __name__ == "__main__":
    main()
