#!/usr/bin/env python3
"""`--ready agent` against a real QEMU guest agent.

Three tiny guests (Debian kernel + busybox initramfs, TCG) with the guest agent's
virtio-serial channel: two run Debian's qemu-ga on it, the third has the channel but never
starts qemu-ga. `virtscale-start --ready agent` must report the first two ready through the
agent, well after they run (a real boot, then qemu-ga answering guest-ping), and fail the
third after its timeout with a message naming the guest agent; libvirt itself confirms each
side (`virsh qemu-agent-command ... guest-ping`, the channel's state in the live XML).
"""
import json
import os
import re
import tempfile

from helpertest import Checks, guest, load_report, rig, run

# Alone on the host a guest's agent answers about 2 s after it runs; three TCG guests
# booting at once on a busy 2-core host took 33 s. The mute guest fails at this.
TIMEOUT_S = 90


def agent_ping(name):
    """`virsh qemu-agent-command NAME guest-ping` -> (ok, output)."""
    cp = rig.virsh("qemu-agent-command", name, '{"execute":"guest-ping"}', "--timeout", "10",
                   timeout=60, check=False)
    out = (cp.stdout + cp.stderr).strip()
    if cp.returncode != 0:
        return False, out
    try:
        return json.loads(cp.stdout) == {"return": {}}, out
    except ValueError:
        return False, out


def channel_state(name):
    """The agent channel's state in the live domain XML (connected/disconnected/None)."""
    m = re.search(r"<target type='virtio' name='" + re.escape(guest.AGENT_CHANNEL) +
                  r"' state='(\w+)'", rig.virsh("dumpxml", name))
    return m.group(1) if m else None


def main():
    c = Checks("start_agent")
    work = tempfile.mkdtemp(prefix="vs-agent-")
    report = os.path.join(work, "report.json")
    kernel, initrd = guest.build(agent=True)
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=0, nics=0) as vms:
        good = [vms.create_one(f"{vms.prefix}ga{i}", define_only=True,
                               xml_edit=guest.xml_edit(kernel, initrd, agent=True))
                for i in (1, 2)]
        mute = vms.create_one(f"{vms.prefix}mute", define_only=True,
                              xml_edit=guest.xml_edit(kernel, initrd, agent=True,
                                                      start_agent=False))
        cp = run("--ready", "agent", "--timeout", str(TIMEOUT_S), "--max-parallel", "0",
                 "--report", report, "--no-collectd", "--progress", "plain", *good, mute,
                 timeout=400)
        c.check(cp.returncode == 1, f"exit {cp.returncode}, want 1 (the mute guest fails)")
        r = load_report(report)
        v = {x["name"]: x for x in r["vms"]}
        for n in good:
            c.check(v[n]["state"] == "ready", f"{n}: {v[n]['state']} {v[n]['error']}")
            c.check(v[n]["ready_probe"] == "agent", f"{n}: probe {v[n]['ready_probe']}")
            d = v[n]["durations"]
            # qemu-ga answers only after the kernel booted, loaded the virtio modules and
            # /init started it: seconds after the domain runs under TCG.
            c.check(d["ready"] is not None and d["ready"] - d["running"] > 1.0,
                    f"{n}: ready {d['ready']} vs running {d['running']}: no real boot?")
            c.check(d["ready"] is not None and d["ready"] < TIMEOUT_S,
                    f"{n}: ready after {d['ready']} s")
            print(f"{n}: running {d['running']} s, ready {d['ready']} s", flush=True)
            ok, out = agent_ping(n)
            c.check(ok, f"{n}: virsh qemu-agent-command guest-ping: {out}")
            st = channel_state(n)
            c.check(st == "connected", f"{n}: agent channel state {st}")
        m = v[mute]
        c.check(m["state"] == "failed", f"{mute}: {m['state']}")
        c.check(m["ready_probe"] == "agent", f"{mute}: probe {m['ready_probe']}")
        err = m["error"] or ""
        # libvirt answered every ping at once ("not connected"): the wait timed out,
        # not a libvirt call.
        c.check("timed out" in err and "waiting for the guest agent" in err
                and "libvirt did not answer" not in err, f"{mute}: error {err!r}")
        c.check(m["durations"]["running"] is not None, f"{mute} did start running")
        # It failed at its deadline, not earlier (e.g. because of a missing channel).
        t = m["t"]
        failed_after = t["done"] - t["create_start"] if t["done"] is not None else None
        c.check(failed_after is not None and failed_after >= TIMEOUT_S - 1,
                f"{mute}: failed after {failed_after} s, timeout {TIMEOUT_S}")
        lines = [ln for ln in cp.stderr.splitlines()
                 if mute in ln and "timed out" in ln and "waiting for the guest agent" in ln]
        c.check(lines, f"no stderr line names {mute} and the agent timeout")
        ok, out = agent_ping(mute)
        c.check(not ok, f"{mute}: the agent answered guest-ping: {out}")
        st = channel_state(mute)
        c.check(st == "disconnected", f"{mute}: agent channel state {st}")
        c.check(r["counts"]["ready"] == 2 and r["counts"]["failed"] == 1,
                f"counts {r['counts']}")
    c.done()


if __name__ == "__main__":
    main()
