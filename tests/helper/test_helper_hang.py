#!/usr/bin/env python3
"""A libvirtd that stops answering never hangs virtscale-start.

libvirtd is SIGSTOPped for real (and always SIGCONTed) while the helper works:

1. In the middle of a batch: VM A is started and ready, then libvirtd stops; VM B leaves
   the throttle and its calls get no answer. B must fail after its own --timeout (which
   runs from the moment it left the throttle and covers every libvirt call), with a
   message naming the call libvirt did not answer; the helper exits with status 1 (some
   failed) within the timeout plus a bounded slack instead of waiting for libvirtd.
2. Before the helper connects: opening the connection gets no answer. The helper gives
   up after its fixed call timeout (30 s), says libvirtd did not answer, and exits with
   status 2 (nothing started).

Each run has a hard subprocess limit well above the bound, so a helper that hangs fails
the test instead of hanging it. libvirtd must answer again at the end."""
import os
import re
import signal
import subprocess
import tempfile
import time

from helpertest import Checks, helper, load_report, rig

VM_TIMEOUT = 3      # --timeout per VM, seconds
SPACING_MS = 1500   # B leaves the throttle this long after A's create call
CALL_TIMEOUT = 30   # VS_VIRT_CALL_TIMEOUT_S: open, lookups, registration
CLOSE_TIMEOUT = 5   # how long closing the connections waits for libvirtd
SLACK = 8           # scheduling on a loaded machine, process start and exit
HARD_LIMIT = 120    # a helper still running then is hung


def start_helper(work, tag, *args):
    """Start virtscale-start ARGS with stdout/stderr in files; -> (Popen, out, err)."""
    out, err = (os.path.join(work, f"{tag}.{s}") for s in ("out", "err"))
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = subprocess.Popen([helper(), *args], stdin=subprocess.DEVNULL, stdout=fo,
                                stderr=fe)
    return proc, out, err


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def finish(proc, out, err, what):
    """Wait up to HARD_LIMIT s for proc; -> (exit status or None if hung, seconds)."""
    t0 = time.monotonic()
    try:
        rc = proc.wait(timeout=HARD_LIMIT)
    except subprocess.TimeoutExpired:
        proc.kill()  # our own child, by its PID
        proc.wait()
        rc = None
    took = time.monotonic() - t0
    print(f"--- {what}: exit {rc} after {took:.1f} s of waiting\n--- stdout\n"
          f"{read(out)[-3000:]}--- stderr\n{read(err)[-3000:]}", flush=True)
    return rc, took


def stalled_batch(c, vms, work, pid):
    a, b = vms.create_one(define_only=True), vms.create_one(define_only=True)
    report = os.path.join(work, "batch.json")
    proc, out, err = start_helper(
        work, "batch", "--max-parallel", "1", "--spacing", str(SPACING_MS), "--ready",
        "running", "--timeout", str(VM_TIMEOUT), "--no-collectd", "--progress", "plain",
        "--report", report, a, b)
    try:
        rig.wait_for(lambda: re.search(rf"ready +{re.escape(a)} ", read(err))
                     or proc.poll() is not None, 120, 0.02, what=f"{a} ready")
    except rig.RigError:
        proc.kill()
        proc.wait()
        raise
    if proc.poll() is not None:
        finish(proc, out, err, "batch")
        raise rig.RigError("virtscale-start ended before the first VM was ready")
    with rig.stopped(pid):
        t_stop = time.monotonic()
        rc, _ = finish(proc, out, err, "batch with libvirtd stopped after the first VM")
        took = time.monotonic() - t_stop
    bound = SPACING_MS / 1000 + VM_TIMEOUT + CLOSE_TIMEOUT + SLACK
    print(f"batch: helper exited {took:.1f} s after libvirtd stopped (bound {bound:.1f} s)")
    c.check(rc is not None, f"helper still running {HARD_LIMIT} s after libvirtd stopped")
    c.check(took <= bound, f"helper exited {took:.1f} s after libvirtd stopped, "
                           f"bound {bound:.1f} s")
    c.check(rc == 1, f"exit {rc}, want 1 (some failed)")
    msg = re.compile(rf"timed out after {VM_TIMEOUT} s: libvirt did not answer the "
                     r"(lookup|create) call")
    line = [ln for ln in read(err).splitlines() if f"failed  {b}:" in ln]
    c.check(len(line) == 1 and msg.search(line[0]),
            f"progress line for {b}: {line}")
    c.check(re.search(rf"ready +{re.escape(a)} ", read(err)), f"{a} reported ready")
    if rc is not None:
        r = load_report(report)
        got = {v["name"]: v for v in r["vms"]}
        c.check(got[a]["state"] == "ready", f"{a}: {got[a]['state']}")
        c.check(got[b]["state"] == "failed" and msg.search(got[b]["error"] or ""),
                f"{b}: {got[b]['state']} {got[b]['error']!r}")
        c.check(msg.search(read(out)), "summary names the unanswered call")
    return [a, b]


def stalled_open(c, work, names, pid):
    with rig.stopped(pid):
        t_stop = time.monotonic()
        proc, out, err = start_helper(
            work, "open", "--ready", "running", "--timeout", str(VM_TIMEOUT),
            "--no-collectd", "--progress", "plain", *names)
        rc, _ = finish(proc, out, err, "helper started while libvirtd is stopped")
        took = time.monotonic() - t_stop
    bound = CALL_TIMEOUT + CLOSE_TIMEOUT + SLACK
    print(f"open: helper exited {took:.1f} s after it started (bound {bound:.1f} s)")
    c.check(rc is not None, f"helper still running after {HARD_LIMIT} s")
    c.check(took <= bound, f"helper exited after {took:.1f} s, bound {bound:.1f} s")
    c.check(rc == 2, f"exit {rc}, want 2 (nothing started)")
    c.check(re.search(rf"cannot connect to .*libvirt did not answer within {CALL_TIMEOUT} s",
                      read(err)), "message says libvirtd did not answer the connection")


def main():
    c = Checks("start_hang")
    work = tempfile.mkdtemp(prefix="vs-hang-")
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=1, nics=0) as vms:
        pid = rig.libvirtd_pid()
        try:
            names = stalled_batch(c, vms, work, pid)
            c.check(rig.libvirtd_answers(30), "libvirtd answers after SIGCONT")
            stalled_open(c, work, names, pid)
        finally:
            os.kill(pid, signal.SIGCONT)  # rig.stopped did; never leave it stopped
        c.check(rig.libvirtd_answers(30), "libvirtd answers at the end")
    c.done()


if __name__ == "__main__":
    main()
