#!/usr/bin/env python3
"""Domains with hostile names reach a real collectd intact and safe.

Two real VMs: one named with spaces, double and single quotes, a backslash and
UTF-8; one with a 200-byte name (collectd's identifier fields hold 127 bytes). The
first must appear with its name unchanged as the host field; the second cut between
characters plus "~" and 16 hex digits of the SHA-256 of the whole name (the rule in
plugin/common/vs_idfield.h, modelled by vstest.safe_field()). Both get all their values, and GETVAL on collectd's unix
socket reads them back with the identifier quoted."""
import time

from vstest import (Checks, expected_identifiers, plugin_dir, rig, safe_field,
                    tap_names, virtscale_block)


def main():
    c = Checks("odd_names")
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=1, nics=1) as vms:
        odd = vms.prefix + 'odd name "q" \'s\' back\\slash ü 日本'
        long_name = vms.prefix + "L" * (200 - len(vms.prefix))
        vms.create_one(odd)
        vms.create_one(long_name)
        with rig.Collectd(plugin_dir(), virtscale_block('Connection "qemu:///system"'),
                          interval=1) as cd:
            cd.start()
            time.sleep(3.5)
            for name in (odd, long_name):
                host = safe_field(name)
                want = expected_identifiers(vms, host, disks=("vda",),
                                            nics=tap_names(vms, name))
                got = {i for i in cd.identifiers() if i.startswith(host + "/")}
                c.check(want <= got, f"{host!r}: missing {sorted(want - got)}")
                c.check(len(host.encode()) <= 127, f"{host!r} longer than 127 bytes")
                rows = cd.csv_rows(f"{host}/virtscale/virt_cpu_total") \
                    if f"{host}/virtscale/virt_cpu_total" in got else []
                c.check(len(rows) >= 2, f"{host!r}: {len(rows)} cpu samples")
                # Through the unixsock plugin, as a monitoring client would.
                got_val = cd.getval(f"{host}/virtscale/memory-total")
                # unixsock prints values with 7 significant digits
                c.check(abs(got_val.get("value", 0) / (64 * 2**20) - 1) < 1e-6,
                        f"GETVAL {host!r}: {got_val!r}")
            cd.stop()
            bad = cd.problems()
            c.check(not bad, f"collectd logged problems: {bad}")
    c.done()


if __name__ == "__main__":
    main()
