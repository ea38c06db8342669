#!/usr/bin/env python3
"""libvirtd killed (SIGKILL) and started again 8 s later while 4 VMs keep running,
collectd at Interval 1:

* a FAILURE notification says the connection was lost, an OKAY one that it is back;
* values resume within 1 interval of libvirtd answering again;
* collectd never suspends the plugin (the read callback keeps returning 0) and never
  logs a read over its interval.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from vstest import Checks, notifications, plugin_dir, rig, virtscale_block  # noqa: E402

INTERVAL = 1.0
DOWN = 8.0


def main():
    c = Checks("libvirtd_restart")
    with rig.ensure_libvirtd() as handle, rig.VMs(n=4, disks=1, nics=1) as vms:
        names = vms.create()
        conf = virtscale_block('Connection "qemu:///system"')
        with rig.Collectd(plugin_dir(), conf, interval=INTERVAL, hostname="hv-rs",
                          allow_errors=[r"virtscale plugin: not connected"]) as cd:
            cd.start()
            time.sleep(5)
            t_kill = time.time()
            rig.restart_libvirtd(handle, down=DOWN, kill=True)
            t_up = time.time()  # answering `virsh version` again (polled every 0.2 s)
            time.sleep(5)
            cd.stop()
            log = cd.log()

            notes = notifications(log)
            lost = [t for t, n in notes if n.get("severity") == "FAILURE"
                    and "connection to" in n["message"] and "lost" in n["message"]]
            back = [t for t, n in notes if n.get("severity") == "OKAY"
                    and "restored" in n["message"]]
            c.check(lost and t_kill - 1 <= lost[0] <= t_kill + 2,
                    f"connection-lost notification: {notes}")
            c.check(back and back[0] >= t_up - 1, f"connection-restored notification: {notes}")
            firsts = []
            for n in names:
                after = [t for t, _ in cd.csv_rows(f"{n}/virtscale/virt_cpu_total")
                         if t > t_kill + 0.5]
                firsts += after[:1]
                c.check(after and after[0] - t_up <= INTERVAL + 0.3,
                        f"{n}: first value {after[0] - t_up:.2f} s after libvirtd answered"
                        if after else f"{n}: no value after the restart")
            bad = [ln for ln in log.splitlines()
                   if "suspend" in ln.lower() or ("took" in ln and "seconds" in ln)]
            c.check(not bad, f"collectd complained: {bad}")
            reconnects = cd.csv_rows("hv-rs/virtscale/total_operations-reconnects")
            c.check(reconnects and reconnects[-1][1][0] == 1,
                    f"reconnect counter: {reconnects[-1:] if reconnects else None}")
            if firsts:
                print(f"libvirtd down {t_up - t_kill:.1f} s; values back "
                      f"{max(firsts) - t_up:.2f} s after it answered again")
    c.done()


if __name__ == "__main__":
    main()
