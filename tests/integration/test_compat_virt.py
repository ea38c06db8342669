#!/usr/bin/env python3
"""Compatibility "virt": virtscale writes every identifier collectd's bundled virt
plugin writes for the same VMs (a superset), so dashboards and thresholds built on
the bundled plugin keep working.

The bundled plugin runs with every ExtraStats selector for which virtscale has the
metric (cpu_util disk disk_err disk_allocation disk_capacity disk_physical
domain_state memory pcpu vcpu); selectors for things virtscale does not sample
(vcpupin, fs_info, job_stats_*, perf on VMs without perf events) are left out.
Both run on the same three VMs, one after the other, each for 5 intervals."""
import time

from vstest import Checks, plugin_dir, rig, virtscale_block

EXTRA_STATS = ("cpu_util disk disk_err disk_allocation disk_capacity disk_physical "
               "domain_state memory pcpu vcpu")


def identifiers(conf, names):
    with rig.Collectd(plugin_dir(), conf, interval=1) as cd:
        cd.start()
        time.sleep(5.5)
        cd.stop()
        ids = {i for i in cd.identifiers() if i.split("/")[0] in names}
        return ids, cd.log()


def main():
    c = Checks("compat_virt")
    with rig.ensure_libvirtd(), rig.VMs(n=3, disks=2, nics=2) as vms:
        names = vms.create()
        bundled, blog = identifiers(
            "LoadPlugin virt\n<Plugin virt>\n  Connection \"qemu:///system\"\n"
            "  RefreshInterval 60\n"
            f"  ExtraStats \"{EXTRA_STATS}\"\n</Plugin>\n", names)
        ours, olog = identifiers(
            virtscale_block('Connection "qemu:///system"', 'Compatibility "virt"'), names)

        c.check(len(bundled) >= 3 * 20,
                f"bundled virt wrote too few identifiers ({len(bundled)}):\n{blog}")
        c.check(any("/virt/percent-virt_cpu_total" in i for i in bundled),
                "bundled virt wrote no cpu_util values: the comparison would miss them")
        missing = sorted(bundled - ours)
        c.check(not missing, f"virtscale (Compatibility virt) lacks {missing}")
        extra = sorted(ours - bundled)
        c.check(all("/virt/" in i for i in ours), "identifiers outside plugin virt")
        print(f"bundled: {len(bundled)} identifiers, virtscale: {len(ours)} "
              f"({len(extra)} more: {extra[:8]}...)")
    c.done()


if __name__ == "__main__":
    main()
