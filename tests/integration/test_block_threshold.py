#!/usr/bin/env python3
"""BlockThreshold on real QEMUs: libvirt's block-threshold events, driven by writes
into a running disk from the host side (QEMU's `qemu-io` monitor command).

* a write past the watermark gives exactly one WARNING (libvirt reports each crossing
  twice, by target `vda` and by index `vda[1]`);
* thresholds other tools set are theirs: one on a domain the Domain filter leaves
  out, and one that replaced virtscale's on a selected domain, are not reported;
* the threshold is not set again at the same size while the disk stays over it (no
  report per write), and is set again when the disk grows (blockresize), at its new
  size: the next crossing is reported too.
"""
import time

from vstest import Checks, notifications, plugin_dir, rig, virtscale_block

MIB = 1 << 20
PCT = 50


def threshold_of(name):
    """block.0.threshold of the domain's first disk (None when none is set)."""
    stats = rig.parse_domstats(rig.virsh("domstats", "--block", name))
    return next(iter(stats.values()), {}).get("block.0.threshold")


def capacity_of(name):
    stats = rig.parse_domstats(rig.virsh("domstats", "--block", name))
    return int(next(iter(stats.values()))["block.0.capacity"])


def write(name, offset_mib, size_mib):
    """Write into the disk from the host side, as a guest write would (allocates)."""
    out = rig.virsh("qemu-monitor-command", name, "--hmp",
                    f'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend '
                    f'"write {offset_mib}M {size_mib}M"')
    # qemu-io prints its result on QEMU's own stdout; the monitor answers an
    # error only.
    if out.strip():
        raise rig.RigError(f"qemu-io write on {name} failed: {out!r}")


def ours(cd, name):
    return [f for _, f in notifications(cd.log())
            if f.get("plugin") == "virtscale" and f.get("host") == name
            and f.get("type") == "disk_allocation" and "passed" in f["message"]]


def main():
    c = Checks("block_threshold")
    with rig.ensure_libvirtd(), rig.VMs(n=3, disks=1, nics=1) as vms:
        a, b, x = vms.create()  # x: left out by the Domain filter
        conf = virtscale_block('Connection "qemu:///system"', f'Domain "{a}" "{b}"',
                               f"BlockThreshold {PCT}", "BlockInfoInterval 1",
                               "BlockInfoTimeout 0.5")
        with rig.Collectd(plugin_dir(), conf, interval=1) as cd:
            cd.start()
            cap = capacity_of(a)
            level = cap * PCT // 100
            for n in (a, b):
                rig.wait_for(lambda n=n: threshold_of(n) == str(level), 30,
                             what=f"virtscale to set {level} on {n}'s vda")
            c.check(threshold_of(x) is None, f"threshold set on {x}, left out by Domain")

            # Other tools' thresholds: on x, and one replacing virtscale's on b.
            rig.virsh("domblkthreshold", x, "vda", "1")
            rig.virsh("domblkthreshold", b, "vda", str(MIB))
            write(x, 0, 4)
            write(b, 0, 4)
            time.sleep(3)
            for n in (x, b):
                got = ours(cd, n)
                c.check(not got, f"another tool's threshold on {n} reported as "
                                 f"virtscale's: {got}")

            # Ours: one crossing, one report.
            write(a, 0, cap // MIB * 3 // 4)  # to 3/4 of the capacity
            rig.wait_for(lambda: ours(cd, a), 15, what=f"the report for {a}")
            time.sleep(3)  # several block-info cycles: not set again while over
            c.check(threshold_of(a) is None,
                    f"threshold set again at {threshold_of(a)} while {a} is over it")
            write(a, cap // MIB * 3 // 4, 4)
            time.sleep(2)
            first = ours(cd, a)
            c.check(len(first) == 1, f"one crossing of {a} reported {len(first)} times: "
                                     f"{first}")
            c.check(all(f.get("severity") == "WARNING" and
                        f.get("type_instance") == "vda" for f in first),
                    f"unexpected report fields: {first}")

            # The disk grows: set again at its new size, and that crossing reported.
            rig.virsh("blockresize", a, "vda", f"{2 * cap // MIB}M")
            new_level = 2 * cap * PCT // 100
            rig.wait_for(lambda: threshold_of(a) == str(new_level), 30,
                         what=f"virtscale to set {new_level} after the resize")
            write(a, cap // MIB, cap // MIB * 3 // 4)
            rig.wait_for(lambda: len(ours(cd, a)) >= 2, 15,
                         what=f"the report of the crossing after the resize")
            time.sleep(2)
            second = ours(cd, a)
            c.check(len(second) == 2, f"expected 2 reports for {a}, got {len(second)}: "
                                      f"{second}")
            print(f"block_threshold: levels {level} then {new_level} bytes; reports for "
                  f"{a}: {len(second)}; foreign thresholds on {b}, {x}: not reported")
    c.done()


if __name__ == "__main__":
    main()
