#!/usr/bin/env python3
"""libvirtd SIGSTOPped for 15 s (KeepAliveInterval 2, KeepAliveCount 2), collectd at
Interval 1 with 3 VMs:

* the read callback returns within its deadline every interval (a duration-sample row
  every interval, none over SampleTimeout) and collectd never suspends it;
* keepalive notices: a FAILURE notification names the keepalive timeout;
* after SIGCONT everything recovers: the connection is restored and the VMs' values
  come back.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from vstest import Checks, notifications, plugin_dir, rig, virtscale_block  # noqa: E402

INTERVAL = 1.0
STOP = 15.0
SAMPLE_TIMEOUT = 0.75


def main():
    c = Checks("libvirtd_stop")
    with rig.ensure_libvirtd(), rig.VMs(n=3, disks=1, nics=1) as vms:
        names = vms.create()
        conf = virtscale_block('Connection "qemu:///system"', "KeepAliveInterval 2",
                               "KeepAliveCount 2", f"SampleTimeout {SAMPLE_TIMEOUT}")
        with rig.Collectd(plugin_dir(), conf, interval=INTERVAL, hostname="hv-st",
                          allow_errors=[r"virtscale plugin: not connected"]) as cd:
            cd.start()
            time.sleep(5)
            with rig.stopped(rig.libvirtd_pid()):
                t_stop = time.time()
                time.sleep(STOP)
                t_cont = time.time()
            time.sleep(8)
            cd.stop()
            log = cd.log()

            durs = [(t, v[0]) for t, v in cd.csv_rows("hv-st/virtscale/duration-sample")
                    if t_stop <= t <= t_cont]
            # A round's values carry the time it ended, its duration-sample how long it
            # took: the gaps between the rounds' starts are collectd's read schedule (a
            # quick round then one cut at SampleTimeout would put INTERVAL + 0.75 s
            # between their end times).
            ts = [t - d for t, d in durs]
            gap = max([b - a for a, b in zip(ts, ts[1:])] or [STOP])
            c.check(len(durs) >= STOP / INTERVAL - 1 and gap <= 1.5 * INTERVAL,
                    f"{len(durs)} rounds during the stop, largest gap between their starts "
                    f"{gap:.2f} s")
            c.check(all(d <= SAMPLE_TIMEOUT + 0.1 for _, d in durs),
                    f"rounds over SampleTimeout: {[d for _, d in durs if d > SAMPLE_TIMEOUT]}")
            bad = [ln for ln in log.splitlines()
                   if "suspend" in ln.lower() or ("took" in ln and "seconds" in ln)]
            c.check(not bad, f"collectd complained: {bad}")
            notes = notifications(log)
            c.check(any(n.get("severity") == "FAILURE" and "keepalive" in n["message"]
                        and t_stop <= t <= t_cont + 1 for t, n in notes),
                    f"no keepalive notification: {notes}")
            c.check(any(n.get("severity") == "OKAY" and "restored" in n["message"]
                        and t >= t_cont - 1 for t, n in notes),
                    f"no restored notification: {notes}")
            for n in names:
                after = [t for t, _ in cd.csv_rows(f"{n}/virtscale/virt_cpu_total")
                         if t > t_cont]
                c.check(after and after[0] - t_cont <= 4 * INTERVAL,
                        f"{n}: values back {after[0] - t_cont:.2f} s after SIGCONT"
                        if after else f"{n}: no values after SIGCONT")
    c.done()


if __name__ == "__main__":
    main()
