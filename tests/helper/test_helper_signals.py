#!/usr/bin/env python3
"""SIGINT and SIGTERM during a storm: a clean stop, then a hard one on a second signal.

Six defined VMs with a serial console, started by a plan with `max_parallel 1`. The first
is renamed to hold ESC, CR and BEL: libvirt accepts the rename but QEMU's start fails on
it ("PCDATA invalid Char value 27"), with the raw name in libvirt's message. The second is
ready when running, the third waits for a console text it never sees (timeout 300 s), the
other three would come after. SIGINT once the second is ready and the third started: the
helper starts nothing more, gives the third its grace (VS_BATCH_STOP_GRACE_S, 10 s; not
its 300 s), writes a valid report ("interrupted": "SIGINT", the started VMs failed / ready /
failed "interrupted ...", three skipped "not started: the batch was stopped", never
created), delivers the ready VM's timings to collectd (spool: only whole lines), prints
what was started and exits 130. No VM is left paused, the three are shut off. Control
characters of the first VM's name (in progress lines and libvirt's error) reach neither
stdout nor stderr (printed as \\xHH); the report keeps the name exact. Then SIGTERM once
(exit 143, report says SIGTERM) and SIGINT twice (exit 130 at once, well within the
grace)."""
import json
import os
import signal
import subprocess
import tempfile
import time

from helpertest import Checks, domstate, helper, load_report, rig, safe_field

CONSOLE = ("<serial type='pty'><target port='0'/></serial>"
           "<console type='pty'><target type='serial' port='0'/></console>")
NEVER = "console:NEVER-PRINTED"
GRACE = 10  # VS_BATCH_STOP_GRACE_S
STOPPED = "not started: the batch was stopped"


def add_console(xml):
    return xml.replace("</devices>", CONSOLE + "</devices>")


def start(args, work, tag):
    """virtscale-start ARGS in the background, output to files; (Popen, out, err)."""
    out, err = os.path.join(work, f"{tag}.out"), os.path.join(work, f"{tag}.err")
    with open(out, "wb") as o, open(err, "wb") as e:
        p = subprocess.Popen([helper(), *args], stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    return p, out, err


def text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def finish(p, out, err, timeout):
    """Wait for the helper; returns (exit status, stdout, stderr) and prints them."""
    try:
        code = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        p.kill()
        p.wait()
        raise rig.RigError(f"virtscale-start still running {timeout} s after the signal") from e
    o, e = text(out), text(err)
    print(f"-> exit {code}\n--- stdout\n{o[-3000:]}--- stderr\n{e[-3000:]}", flush=True)
    return code, o, e


def main():
    c = Checks("start_signals")
    work = tempfile.mkdtemp(prefix="vs-signals-")
    spool = os.path.join(work, "spool")
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=1, nics=0) as vms, \
            rig.Collectd(None, "", interval=1) as cd:
        names = [vms.create_one(define_only=True, xml_edit=add_console) for _ in range(6)]
        # libvirt accepts control characters in a name given to rename (no XML on the way).
        odd = names[0] + "x\x1b[31mred\rcr\x07bel"
        rig.virsh("domrename", names[0], odd)
        try:
            cd.start()
            run_interrupted(c, work, spool, cd, odd, names)
            for n in names[1:3]:
                rig.virsh("destroy", n)
            run_sigterm(c, work, names[1:3])
            run_twice(c, work, names[3:5])
        finally:
            for n in (odd, *names[1:]):
                rig.virsh("destroy", n, check=False)
            rig.virsh("domrename", odd, names[0], check=False)
    c.done()


def run_interrupted(c, work, spool, cd, odd, names):
    report = os.path.join(work, "report.json")
    plan = os.path.join(work, "plan.json")
    with open(plan, "w") as f:
        json.dump({"max_parallel": 1, "ready": "running", "domains": [
            odd, names[1], {"name": names[2], "ready": NEVER, "timeout_s": 300},
            *names[3:]]}, f)
    p, out, err = start(["--plan", plan, "--report", report, "--collectd-socket", cd.socket,
                         "--spool", spool, "--progress", "plain"], work, "int")
    shown = names[0] + "x\\x1B[31mred\\x0Dcr\\x07bel"  # the name as printed
    rig.wait_for(lambda: f"ready   {names[1]}" in text(err) or p.poll() is not None,
                 120, what="the second VM ready")
    rig.wait_for(lambda: domstate(names[2]) == "running" or p.poll() is not None, 60,
                 what="the third VM started")
    c.check(p.poll() is None, "virtscale-start ended before the signal")
    t_sig = time.monotonic()
    p.send_signal(signal.SIGINT)
    code, o, e = finish(p, out, err, 120)
    took = time.monotonic() - t_sig
    c.check(code == 130, f"exit {code}, want 130")
    # the VM being started got the grace, not its 300 s timeout
    c.check(GRACE - 1 <= took <= GRACE + 60, f"exit {took:.1f} s after SIGINT")
    c.check("interrupted: starting no more VMs" in e, f"stderr lacks the notice: {e[-500:]!r}")
    for stream, s in (("stdout", o), ("stderr", e)):
        c.check(not any(ch in s for ch in "\x1b\x07\r"),
                f"raw control characters on {stream}: {s[-500:]!r}")
    c.check(f"failed  {shown}: " in e, f"failure line of the odd VM: {e[-800:]!r}")
    c.check("PCDATA invalid Char value 27" in e, "libvirt's message is shown")
    c.check("interrupted by SIGINT: 3 of 6 VM(s) started, 3 not started" in o, "summary line")
    c.check(f"started: {shown} (failed)" in o, "stdout names the odd VM")
    c.check(f"started: {names[1]} (ready)" in o, "stdout names the ready VM")
    c.check(f"started: {names[2]} (failed)" in o, "stdout names the interrupted VM")

    r = load_report(report)  # raises unless valid JSON
    v = {x["name"]: x for x in r["vms"]}
    c.check(r["interrupted"] == "SIGINT", f"report interrupted {r.get('interrupted')!r}")
    c.check(odd in v, f"report lost the exact name: {sorted(v)!r}")
    c.check(v.get(odd, {}).get("state") == "failed", f"odd VM {v.get(odd)}")
    c.check(v[names[1]]["state"] == "ready", f"second VM {v[names[1]]}")
    third = v[names[2]]
    c.check(third["state"] == "failed" and
            third["error"].startswith("interrupted waiting for") and
            third["error"].endswith("the batch was stopped"),
            f"third VM {third['state']} {third['error']!r}")
    for n in names[3:]:
        c.check(v[n]["state"] == "skipped" and v[n]["error"] == STOPPED and
                v[n]["t"]["create_start"] is None, f"{n}: {v[n]}")
    c.check(r["counts"] == {"vms": 6, "ready": 1, "failed": 2, "skipped": 3},
            f"counts {r['counts']}")
    # what runs is what the report says started; nothing is left paused
    c.check(domstate(odd) == "shut off", f"odd VM {domstate(odd)!r}")
    for n in names[1:3]:
        c.check(domstate(n) == "running", f"{n}: {domstate(n)!r}, want running")
    for n in names[3:]:
        c.check(domstate(n) == "shut off", f"{n}: {domstate(n)!r}, want shut off")
    # timings: the ready VM's reached collectd, nothing was lost, the spool holds whole lines
    c.check(r["collectd"]["delivered"] > 0 and r["collectd"]["lost"] == 0,
            f"collectd {r['collectd']}")
    host = safe_field(names[1])
    rig.wait_for(lambda: f"{host}/virtscale_start/duration-total" in cd.identifiers(), 15,
                 what="the ready VM's timings in collectd")
    for name in os.listdir(spool) if os.path.isdir(spool) else []:
        path = os.path.join(spool, name)
        if os.path.isfile(path) and os.path.getsize(path):
            with open(path, "rb") as f:
                c.check(f.read().endswith(b"\n"), f"spool file {name} ends mid-line")


def start_two(work, tag, names):
    """Two VMs that never get ready, one at a time; returns once the first runs:
    (Popen, stdout file, stderr file, report path)."""
    report = os.path.join(work, f"{tag}.json")
    p, out, err = start(["--ready", NEVER, "--max-parallel", "1", "--no-collectd",
                         "--report", report, "--progress", "plain", *names], work, tag)
    rig.wait_for(lambda: domstate(names[0]) == "running" or p.poll() is not None, 60,
                 what="the VM started")
    return p, out, err, report


def run_sigterm(c, work, names):
    """SIGTERM once: the same clean stop, exit 143."""
    p, out, err, report = start_two(work, "term", names)
    p.send_signal(signal.SIGTERM)
    code, o, _ = finish(p, out, err, 120)
    c.check(code == 143, f"SIGTERM: exit {code}, want 143")
    r = load_report(report)
    c.check(r["interrupted"] == "SIGTERM", f"SIGTERM: report {r.get('interrupted')!r}")
    c.check("interrupted by SIGTERM: 1 of 2 VM(s) started" in o, "SIGTERM: stdout")
    c.check(domstate(names[1]) == "shut off", f"SIGTERM: {names[1]} {domstate(names[1])!r}")


def run_twice(c, work, names):
    """A second signal exits at once: no grace, no report."""
    p, out, err, report = start_two(work, "twice", names)
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)
    t_sig = time.monotonic()
    p.send_signal(signal.SIGINT)
    code, _, _ = finish(p, out, err, 60)
    took = time.monotonic() - t_sig
    c.check(code == 130, f"twice: exit {code}, want 130")
    c.check(took < GRACE - 2, f"twice: exit {took:.1f} s after the second SIGINT")
    c.check(not os.path.exists(report), "twice: a report was written")
    c.check(domstate(names[1]) == "shut off", f"twice: {names[1]} {domstate(names[1])!r}")


if __name__ == "__main__":
    main()
