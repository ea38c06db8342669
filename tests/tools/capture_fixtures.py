#!/usr/bin/env python3
"""Capture the unit tests' bulk-statistics fixtures from real QEMU domains.

Usage: VIRTSCALE_BUILD_DIR=build tests/tools/capture_fixtures.py OUT.records

Starts three tiny VMs and records what libvirt's bulk call returns for them:
  <prefix>full    2 virtio disks, 2 tap NICs, virtio balloon, running
  <prefix>paused  the same, paused with `virsh suspend`
  <prefix>sparse  no balloon device, an empty CD-ROM drive (a block entry
                  without path or counters), one disk, one NIC
The prefix is replaced by "fx-" in the output so fixtures are stable."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "rig"))
import rig  # noqa: E402


def sparse(xml):
    xml = xml.replace("<memballoon model='virtio'/>", "<memballoon model='none'/>")
    return xml.replace("</devices>",
                       "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
                       "<target dev='sda' bus='sata'/><readonly/></disk></devices>")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tool = os.path.join(rig.build_dir(), "tests", "vs_capture_records")
    rig.ensure_libvirtd()
    with rig.VMs(n=0, disks=2, nics=2) as vms:
        vms.create_one(vms.prefix + "full")
        vms.create_one(vms.prefix + "paused")
        rig.virsh("suspend", vms.prefix + "paused")
        one = rig.VMs(prefix=vms.prefix, n=0, disks=1, nics=1, workdir=vms.workdir)
        try:
            one.create_one(vms.prefix + "sparse", xml_edit=sparse)
            out = subprocess.run([tool, "qemu:///system", vms.prefix], check=True,
                                 capture_output=True, text=True).stdout
        finally:
            one.cleanup()
    out = out.replace(vms.prefix, "fx-")
    out = re.sub(r"/[^ \n]*/fx-", "/var/lib/libvirt/images/fx-", out)
    with open(sys.argv[1], "w") as f:
        f.write(out)


if __name__ == "__main__":
    main()
