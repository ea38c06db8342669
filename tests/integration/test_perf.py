#!/usr/bin/env python3
"""The perf group on a real VM: software perf events enabled with `virsh perf` reach
collectd as perf-EVENT counters (perf-perf_EVENT with Compatibility "virt"), they
only grow, and a VM without events gets no perf values."""
import time

from vstest import Checks, plugin_dir, rig, virtscale_block

EVENTS = ("cpu_clock", "task_clock", "page_faults", "context_switches", "cpu_migrations")


def main():
    c = Checks("perf")
    with rig.ensure_libvirtd(), rig.VMs(n=2, disks=1, nics=1) as vms:
        with_perf, without = vms.create()
        rig.virsh("perf", with_perf, "--enable", ",".join(EVENTS), "--live")
        for compat, fmt in (("none", "virtscale/perf-{}"), ("virt", "virt/perf-perf_{}")):
            conf = virtscale_block('Connection "qemu:///system"', 'Stats "all"',
                                   f'Compatibility "{compat}"')
            with rig.Collectd(plugin_dir(), conf, interval=1) as cd:
                cd.start()
                time.sleep(3.5)
                cd.stop()
                ids = cd.identifiers()
                for ev in EVENTS:
                    ident = f"{with_perf}/" + fmt.format(ev)
                    c.check(ident in ids, f"{compat}: {ident} missing")
                    if ident in ids:
                        vals = [r[1][0] for r in cd.csv_rows(ident)]
                        c.check(len(vals) >= 2 and vals == sorted(vals),
                                f"{ident}: {vals}")
                c.check(not any(i.startswith(f"{without}/") and "/perf-" in i for i in ids),
                        f"{compat}: perf values for a VM without perf events")
    c.done()


if __name__ == "__main__":
    main()
