#!/usr/bin/env python3
"""conf/virtscale-thresholds.conf, loaded as shipped into a real collectd with virtscale
and collectd's logfile plugin (which logs every notification), on 25 paused QEMU VMs.
Each condition the file covers is driven for real and the *threshold plugin's*
notification is required (its message "Host H, plugin P type T (instance I): ..." tells
it from virtscale's own notifications), with its host, plugin, type and type instance:

1. Interval 1, BlockInfo true (the conf asks for it with file-backed images):
   * allocation: one VM has two extra qcow2 disks written full before it starts, 91 %
     and 100 % of their capacity: WARNING (WarningMax 80) and FAILURE (FailureMax 95)
     for percent-disk_allocation-vdc / -vdd; no disk of 0.3-0.6 % and no
     percent-virt_cpu_total gets anything but OKAY;
   * unresponsive: one QEMU SIGSTOPped: FAILURE for its gauge-unresponsive, OKAY after
     SIGCONT, and no "has not been updated" for its withheld values; a worker left in its stuck call: WARNING for count-abandoned_workers
     (Hits 2), OKAY once the call has returned;
   * reconnects: libvirtd restarted: WARNING for the rate of
     total_operations-reconnects, OKAY at the next read.
2. Interval 0.05, MaxConnections 1: a round over 25 VMs no longer fits, WARNING for
   count-cadence (> 1, the shipped limit) and for duration-round_monitor (its 5 s,
   written for Interval 10, scaled to this interval in the test's copy); libvirtd
   killed while a statistics call is on the wire: WARNING for count-errors (Hits 1
   lowered to 0 in the test's copy: a crash fails one read's call), then OKAY.
"""
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from vstest import (Checks, notifications, plugin_dir, rig, virtscale_block,  # noqa: E402
                    wait_steady)

CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conf",
                    "virtscale-thresholds.conf")
HOST = "hv-thr"
INTERVAL = 1.0
TINY = 0.05  # phase 2: a round over 25 VMs on one connection takes > 0.1 s anywhere
CAPACITY_MIB = 64
KILLS = 6  # libvirtd crashes at most, in phase 2
FILL_MIB = {"vdc": 58, "vdd": 64}  # qcow2 allocation 91 % and > 100 % (capped at 100)

# The threshold plugin's message (collectd 5.12 src/threshold.c, ut_report_state).
MSG_RE = re.compile(r"^Host (?P<host>.*?), plugin (?P<plugin>[^ ]+)"
                    r"(?: \(instance (?P<plugin_instance>[^)]*)\))? type (?P<type>[^ ]+)"
                    r"(?: \(instance (?P<type_instance>[^)]*)\))?: (?P<text>.*)$")
VALUE_RE = re.compile(r'(?:is currently|Current value of "[^"]*" is) '
                      r'(-?[0-9]+(?:\.[0-9]+)?|-?nan)')
LIMIT_RE = re.compile(r"the (warning|failure) threshold of (-?[0-9]+(?:\.[0-9]+)?)")


def threshold_notes(log, c):
    """The threshold plugin's notifications in collectd's log:
    [{time, severity, host, plugin, type, type_instance, text, value, limit}].
    Checks that the fields logfile printed agree with the ones in the message."""
    out = []
    for t, n in notifications(log):
        m = MSG_RE.match(n["message"])
        if not m:
            continue  # virtscale's own, or "has not been updated"
        note = {k: v or "" for k, v in m.groupdict().items()}
        for field in ("host", "plugin", "plugin_instance", "type", "type_instance"):
            c.check(n.get(field, "") == note[field],
                    f"notification field {field}: logfile says {n.get(field)!r}, the "
                    f"message {note[field]!r}: {n}")
        v, lim = VALUE_RE.search(note["text"]), LIMIT_RE.search(note["text"])
        note.update(time=t, severity=n["severity"], value=float(v.group(1)) if v else None,
                    limit=float(lim.group(2)) if lim else None)
        out.append(note)
    return out


def find(notes, host, type_, type_instance, severity, after=0.0):
    return [n for n in notes if n["host"] == host and n["plugin"] == "virtscale"
            and n["type"] == type_ and n["type_instance"] == type_instance
            and n["severity"] == severity and n["time"] >= after]


def waiter(cd, c):
    """wait(host, type, type_instance, severity, after=0, timeout=60): the first
    threshold notification that matches, once it is in the log; None (a failed
    check) when none comes within timeout."""
    def wait(host, type_, type_instance, severity, after=0.0, timeout=60):
        what = f"threshold {severity} for {host}/virtscale/{type_}-{type_instance}"
        try:
            return rig.wait_for(lambda: find(threshold_notes(cd.log(), Checks("x")), host,
                                             type_, type_instance, severity, after),
                                timeout, 0.25, what)[0]
        except rig.RigError as e:
            c.check(False, str(e))
            return None
    return wait


def filled_disks(tmp):
    """xml_edit for rig.VMs.create_one: adds vdc and vdd, qcow2 images written with
    FILL_MIB of data (not zeroes, so qemu-img allocates them) before the VM starts."""
    paths = {}
    for dev, mib in FILL_MIB.items():
        raw, img = os.path.join(tmp, f"{dev}.raw"), os.path.join(tmp, f"{dev}.qcow2")
        with open(raw, "wb") as f:
            f.write(b"\xa5" * (mib << 20))
            f.truncate(CAPACITY_MIB << 20)
        rig.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, img])
        os.unlink(raw)
        paths[dev] = img

    def edit(xml):
        disks = "".join(f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                        f"<source file='{p}'/><target dev='{d}' bus='virtio'/></disk>"
                        for d, p in paths.items())
        return xml.replace("</devices>", disks + "</devices>", 1)
    return edit


def phase_one(c, handle, vms, conf_text, victim, filled, others):
    conf = virtscale_block('Connection "qemu:///system"', "BlockInfo true") + conf_text
    with rig.Collectd(plugin_dir(), conf, interval=INTERVAL, hostname=HOST,
                      allow_errors=[r"virtscale plugin: not connected"]) as cd:
        wait = waiter(cd, c)
        cd.start()
        # -- (b) allocation over the watermark -------------------------------------------
        warn = wait(filled, "percent", "disk_allocation-vdc", "WARNING")
        fail = wait(filled, "percent", "disk_allocation-vdd", "FAILURE")
        if warn:
            c.check(80 < warn["value"] < 95 and warn["limit"] == 80,
                    f"vdc: WARNING at {warn['value']} % (limit {warn['limit']})")
        if fail:
            c.check(fail["value"] > 95 and fail["limit"] == 95,
                    f"vdd: FAILURE at {fail['value']} % (limit {fail['limit']})")
        wait_steady(cd, HOST, INTERVAL)

        # -- (a) a VM unresponsive, and a worker left in its call ------------------------
        t_freeze = time.time()
        with rig.stopped(vms.qemu_pid(victim)):
            down = wait(victim, "gauge", "unresponsive", "FAILURE", t_freeze - 1, 30)
            stuck = wait(HOST, "count", "abandoned_workers", "WARNING", t_freeze - 1, 30)
        t_thaw = time.time()
        up = wait(victim, "gauge", "unresponsive", "OKAY", t_thaw - 1, 30)
        freed = wait(HOST, "count", "abandoned_workers", "OKAY", t_thaw - 1, 60)
        if down:
            c.check(down["value"] == 1 and down["limit"] == 0.5,
                    f"unresponsive FAILURE: {down}")
            print(f"unresponsive: threshold FAILURE {down['time'] - t_freeze:.0f} s after "
                  f"SIGSTOP, OKAY {up['time'] - t_thaw:.0f} s after SIGCONT"
                  if up else "unresponsive: no OKAY")
        if stuck:
            c.check(stuck["value"] >= 1 and stuck["limit"] == 0.5,
                    f"abandoned_workers WARNING: {stuck}")
        c.check(not (up and freed) or up["value"] == 0 and freed["value"] == 0,
                f"OKAY values: {up} {freed}")

        # -- (d) libvirt calls lost: libvirtd restarted ----------------------------------
        t_restart = time.time()
        rig.restart_libvirtd(handle)  # returns once libvirtd answers again
        lost = wait(HOST, "total_operations", "reconnects", "WARNING", t_restart - 1, 30)
        if lost:
            c.check(lost["value"] > 0 and lost["limit"] == 0,
                    f"reconnects WARNING: {lost}")
            wait(HOST, "total_operations", "reconnects", "OKAY", lost["time"], 30)
        cd.stop()

        log = cd.log()
        notes = threshold_notes(log, c)
        # The frozen VM's monitor-bound values stopped for longer than Timeout (2)
        # intervals: `Interesting false` keeps that quiet.
        missing = [n for _, n in notifications(log) if n.get("host") != HOST
                   and "has not been updated" in n["message"]]
        c.check(not missing, f"missing-value notifications for per-domain values: "
                             f"{missing[:3]}")
        bad = [n for n in notes if n["severity"] != "OKAY" and (
            (n["type"] == "percent" and n["host"] != filled)
            or n["type_instance"] == "virt_cpu_total"
            or (n["type_instance"] == "unresponsive" and n["host"] != victim))]
        c.check(not bad, f"threshold notifications where none belong: {bad}")
        c.check(all(find(notes, n, "gauge", "unresponsive", "OKAY") for n in others),
                "threshold OKAY (first sight) missing for some VM's gauge-unresponsive")
        print(f"phase 1: {len(notes)} threshold notifications, "
              f"{sum(n['severity'] != 'OKAY' for n in notes)} not OKAY")
        for n in notes:
            if n["severity"] != "OKAY" or n["time"] > t_thaw - 1:
                print(f"  {n['severity']:8} {n['host']}/{n['plugin']}/{n['type']}-"
                      f"{n['type_instance']}: {n['text']}")


def phase_two(c, handle, conf_text):
    # Duration limits are absolute, written for Interval 10 (see the conf): the test
    # runs at Interval 0.05 and scales round_monitor's "WarningMax 5" (half the
    # interval) to half of its own.
    conf_text, n = re.subn(r'(Instance "round_monitor"\s+WarningMax )5\b',
                           rf"\g<1>{TINY / 2}", conf_text)
    c.check(n == 1, "round_monitor's WarningMax 5 not found in the conf: the test's "
                    "substitution no longer matches the shipped file")
    # A libvirtd crash fails the statistics call on the wire in one read (the shipped
    # Hits 1 waits for 3 reads in a row with a failed call): the test's copy warns at
    # the first (Hits 0).
    conf_text, n = re.subn(r'(Instance "errors"\s+WarningMax 0\.5\s+Hits )1\b', r"\g<1>0",
                           conf_text)
    c.check(n == 1, "count-errors' Hits 1 not found in the conf: the test's substitution "
                    "no longer matches the shipped file")
    conf = virtscale_block('Connection "qemu:///system"', "MaxConnections 1") + conf_text
    with rig.Collectd(plugin_dir(), conf, interval=TINY, hostname=HOST, csv=False,
                      allow_errors=[r"virtscale plugin: not connected"]) as cd:
        wait = waiter(cd, c)
        cd.start()
        # -- (c) the round too close to the interval -------------------------------------
        cadence = wait(HOST, "count", "cadence", "WARNING")
        rnd = wait(HOST, "duration", "round_monitor", "WARNING")
        # -- (d) failed statistics calls: libvirtd killed while a call is on the wire ----
        # A round takes longer than this interval, so a call is nearly always out; the
        # crash fails it unless the lost connection is seen first (then the call is
        # dropped, not counted): seen in 9 of 10 kills, so up to KILLS of them.
        errors, kills = None, 0
        while errors is None and kills < KILLS:
            t_kill = time.time()
            rig.restart_libvirtd(handle, kill=True)  # returns once libvirtd answers
            kills += 1
            time.sleep(3)
            errors = (find(threshold_notes(cd.log(), Checks("x")), HOST, "count", "errors",
                           "WARNING", t_kill - 1) or [None])[0]
        c.check(errors is not None, f"no threshold WARNING for count-errors after {kills} "
                                    f"libvirtd crashes")
        okay = errors and wait(HOST, "count", "errors", "OKAY", errors["time"], 30)
        cd.stop()
        threshold_notes(cd.log(), c)  # field checks
        if cadence:
            c.check(cadence["value"] >= 2 and cadence["limit"] == 1.5,
                    f"cadence WARNING: {cadence}")
        if rnd:
            c.check(rnd["value"] > TINY / 2 and rnd["limit"] == TINY / 2,
                    f"round_monitor WARNING: {rnd}")
        if errors:
            c.check(errors["value"] >= 1 and errors["limit"] == 0.5,
                    f"count-errors WARNING: {errors}")
            print(f"phase 2: count-errors WARNING after {kills} libvirtd crash(es)")
        for n in (cadence, rnd, errors, okay):
            if n:
                print(f"phase 2: {n['severity']} {n['host']}/{n['plugin']}/{n['type']}-"
                      f"{n['type_instance']}: {n['text']}")


def main():
    c = Checks("thresholds")
    with open(CONF) as f:
        conf_text = f.read()
    c.check("LoadPlugin threshold" in conf_text, f"{CONF} does not load the threshold plugin")
    tmp = tempfile.mkdtemp(prefix="virtscale-thr-")
    try:
        with rig.ensure_libvirtd() as handle, rig.VMs(n=24, disks=2, nics=1) as vms:
            names = vms.create(paused=True, parallel=4)
            filled = vms.create_one(xml_edit=filled_disks(tmp), paused=True)
            victim = names[3]
            phase_one(c, handle, vms, conf_text, victim, filled,
                      [n for n in names if n != victim])
            phase_two(c, handle, conf_text)
            c.check(rig.libvirtd_answers(), "libvirtd does not answer at the end")
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    c.done()


if __name__ == "__main__":
    main()
