#!/usr/bin/env python3
"""End-to-end check of the test rig on this machine (no virtscale build needed).

libvirtd up (reused or started), 2 tiny VMs with 2 disks + 2 NICs each, `virsh domstats`
sees them, and collectd's stock `virt` plugin writes csv values for them. Exits non-zero
on any failure."""

import os
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rig  # noqa: E402

VIRT_CONF = """LoadPlugin virt
<Plugin virt>
  Connection "qemu:///system"
</Plugin>
"""


def check(cond, msg):
    if not cond:
        raise rig.RigError(f"selftest: {msg}")


def main():
    t0 = time.monotonic()
    with rig.ensure_libvirtd() as lv, rig.VMs(n=2, disks=2, nics=2) as vms, \
            tempfile.TemporaryDirectory(prefix="virtscale-empty-") as empty:
        print(f"libvirtd pid {rig.libvirtd_pid()} (started by rig: {lv.started})")
        names = vms.create()
        print(f"created {names} as domain type {vms.domain_type}")
        for name in names:
            pid = vms.qemu_pid(name)
            check(rig.pid_alive(pid), f"QEMU of {name} (pid {pid}) not alive")
        stats = vms.domstats()
        check(sorted(stats) == sorted(names), f"domstats domains {sorted(stats)} != {names}")
        for name, s in stats.items():
            check(s.get("state.state") == "1", f"{name} not running: {s.get('state.state')}")
            check(s.get("net.count") == "2", f"{name} net.count={s.get('net.count')}")
            check(s.get("block.count") == "2", f"{name} block.count={s.get('block.count')}")
            check("balloon.current" in s, f"{name} has no balloon stats")
        check(rig.parse_domstats("Domain: 'x'\n  a.b=1\n") == {"x": {"a.b": "1"}}, "parser")

        with rig.Collectd(empty, VIRT_CONF, interval=1) as cd:
            rc, out = cd.check_config()
            check(rc == 0, f"check_config rc={rc}:\n{out}")
            cd.start()
            print(f"collectd pid {cd.pid}, {cd.thread_count()} threads")
            time.sleep(3)
            check(cd.running(), f"collectd died:\n{cd.log()}")
            listing = cd.collectdctl("listval")
            idents = cd.identifiers()
            cpu = cd.cpu_ticks()
            rc = cd.stop()
            check(rc == 0, f"collectd exit code {rc}")
            for name in names:
                mine = {i for i in idents if i.startswith(f"{name}/virt/")}
                for want in ("virt_cpu_total", "disk_octets-vda", "disk_octets-vdb"):
                    check(f"{name}/virt/{want}" in mine, f"no {name}/virt/{want} in csv: {mine}")
                check(sum(i.split("/")[2].startswith("if_octets-vt") for i in mine) == 2,
                      f"{name}: expected 2 if_octets identifiers in {sorted(mine)}")
                check(f"{name}/virt/virt_cpu_total" in listing,
                      f"collectdctl listval lacks {name}: {listing[:500]}")
                rows = cd.csv_rows(f"{name}/virt/virt_cpu_total")
                check(len(rows) >= 2, f"{name}: only {len(rows)} cpu rows")
                check(rows[-1][1][0] >= rows[0][1][0], f"{name}: cpu counter went backwards")
            print(f"collectd wrote {len(idents)} identifiers, used {cpu:.2f} s CPU")

            bad = rig.Collectd(empty, "LoadPlugin virt\n<Plugin virt>\n  NoSuchOption 1\n"
                               "</Plugin>\n", workdir=os.path.join(cd.workdir, "bad"))
            rc, out = bad.check_config()
            check(rc != 0, f"check_config accepted a bad option:\n{out}")
            try:
                rig.Collectd(empty, "LoadPlugin nosuchplugin\n")
                check(False, "missing plugin not detected")
            except rig.RigError as e:
                check("nosuchplugin" in str(e), str(e))

        remaining = [n for n in rig.virsh("list", "--all", "--name").split()
                     if n.startswith(vms.prefix)]
        check(remaining == names, f"unexpected domains {remaining}")
    remaining = [n for n in rig.virsh("list", "--all", "--name").split()
                 if n.startswith(vms.prefix)]
    check(not remaining, f"cleanup left {remaining}")
    check(not os.path.exists(vms.workdir), f"cleanup left {vms.workdir}")
    print(f"rig selftest OK in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    try:
        main()
    except rig.RigError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
