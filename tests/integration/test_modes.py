#!/usr/bin/env python3
"""Bulk and per-domain sampling give the same identifiers for the same VMs, and
per-domain (and auto) mode works against libvirt's test:///default driver, whose bulk
call answers only the state group.

Three real VMs (2 disks + 2 NICs) are sampled by one collectd in bulk mode and by
another in per-domain mode, each for 4 intervals. The value of a counter that does
not change (disk capacity) must be the same in both."""
import time

from vstest import Checks, expected_identifiers, plugin_dir, rig, virtscale_block

# What the test driver's one running domain ("test") reports per-domain.
TEST_DRIVER_IDS = {
    "gauge-unresponsive", "percent-disk_allocation-vda", "domain_state", "virt_cpu_total", "ps_cputime", "percent-virt_cpu_total",
    "virt_vcpu-0", "virt_vcpu-1", "memory-total", "memory-maximum", "memory-rss",
    "memory-unused", "memory-available", "memory-usable", "memory-disk_caches",
    "swap_io-in", "swap_io-out", "ps_pagefaults", "vmpage_action-hugetlb_pgalloc",
    "vmpage_action-hugetlb_pgfail", "disk_ops-vda", "disk_octets-vda",
    "disk_allocation-vda", "disk_capacity-vda", "disk_physical-vda",
    "if_octets-testnet0", "if_packets-testnet0", "if_errors-testnet0",
    "if_dropped-testnet0",
}


def run_collectd(conf, seconds):
    with rig.Collectd(plugin_dir(), conf, interval=1) as cd:
        cd.start()
        time.sleep(seconds)
        cd.stop()
        return cd.identifiers(), cd.log(), {i: cd.csv_rows(i) for i in cd.identifiers()}


def main():
    c = Checks("modes")
    with rig.ensure_libvirtd(), rig.VMs(n=3, disks=2, nics=2) as vms:
        names = vms.create()
        results = {}
        for mode in ("bulk", "per-domain"):
            conf = virtscale_block('Connection "qemu:///system"', f'StatsMode "{mode}"')
            ids, log, rows = run_collectd(conf, 4.5)
            results[mode] = (ids, rows)
            c.check(f"with {mode} statistics" in log, f"{mode}: log does not name the mode")
            bad = [ln for ln in log.splitlines()
                   if "virtscale" in ln and ("[error]" in ln or "[warning]" in ln)]
            c.check(not bad, f"{mode}: plugin logged problems: {bad}")
        for n in names:
            want = expected_identifiers(vms, n)
            per = {mode: {i for i in results[mode][0] if i.startswith(f"{n}/")}
                   for mode in results}
            c.check(per["bulk"] == want, f"{n} bulk: diff {sorted(per['bulk'] ^ want)}")
            c.check(per["per-domain"] == per["bulk"],
                    f"{n}: bulk and per-domain differ: "
                    f"{sorted(per['bulk'] ^ per['per-domain'])}")
            for d in ("vda", "vdb"):
                ident = f"{n}/virtscale/disk_capacity-{d}"
                vals = {mode: {r[1][0] for r in results[mode][1].get(ident, [])}
                        for mode in results}
                c.check(vals["bulk"] and vals["bulk"] == vals["per-domain"],
                        f"{ident}: bulk {vals['bulk']} per-domain {vals['per-domain']}")

    # test:///default: per-domain explicitly, and auto must pick per-domain.
    for mode in ("per-domain", "auto"):
        conf = virtscale_block('Connection "test:///default"', f'StatsMode "{mode}"')
        ids, log, rows = run_collectd(conf, 3.5)
        got = {i.split("/", 2)[2] for i in ids if i.startswith("test/virtscale/")}
        c.check(got == TEST_DRIVER_IDS,
                f"test:/// {mode}: missing {sorted(TEST_DRIVER_IDS - got)}, "
                f"unexpected {sorted(got - TEST_DRIVER_IDS)}")
        c.check("sampling test:///default with per-domain statistics" in log,
                f"test:/// {mode}: did not sample per-domain:\n{log}")
        cpu = rows.get("test/virtscale/virt_cpu_total", [])
        c.check(len(cpu) >= 3, f"test:/// {mode}: {len(cpu)} samples of cpu")
    c.done()


if __name__ == "__main__":
    main()
