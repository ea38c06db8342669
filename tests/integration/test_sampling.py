#!/usr/bin/env python3
"""virtscale under a real collectd on 5 real QEMU VMs (2 disks + 2 NICs each), bulk mode,
Interval 1, for 8 intervals:

* every VM has every identifier of every enabled group, and nothing else;
* DERIVE counters never go backwards;
* cpu time, disk and NIC counters, balloon size and state agree with `virsh domstats`
  taken during the run: virsh's reading must lie between the plugin's last reading
  before it and its first reading after it (the tolerance is the one interval between
  two readings; unchanged values must be equal);
* a VM started mid-run is sampled from the next interval and announced by a state
  notification; a VM destroyed mid-run stops being written, is announced by state
  notifications and costs exactly one log line of the plugin's;
* self-metrics appear under the hypervisor's host name.
"""
import os
import time

from vstest import (Checks, ds_kinds, expected_identifiers, log_time, notifications,
                    plugin_dir, plugin_lines, rig, type_of, virtscale_block)

INTERVAL = 1.0


def bracket(rows, t0, t1, col):
    """(value of the last row at or before t0, value of the first row read surely after t1)."""
    before = [r for r in rows if r[0] <= t0]
    # A row's time is taken just after libvirt answered: allow one sampling round.
    after = [r for r in rows if r[0] >= t1 + 0.3]
    return (before[-1][1][col] if before else None, after[0][1][col] if after else None)


def main():
    c = Checks("sampling")
    hostname = "vshv" + os.urandom(3).hex()
    kinds = ds_kinds()
    with rig.ensure_libvirtd(), rig.VMs(n=5, disks=2, nics=2) as vms:
        names = vms.create()
        conf = virtscale_block('Connection "qemu:///system"', 'StatsMode "bulk"')
        with rig.Collectd(plugin_dir(), conf, interval=INTERVAL, hostname=hostname) as cd:
            cd.start()
            rig.wait_for(lambda: all(
                len(cd.csv_rows(f"{n}/virtscale/virt_cpu_total")) >= 2
                if f"{n}/virtscale/virt_cpu_total" in cd.identifiers() else False
                for n in names), 15, 0.2, "two samples of every VM")

            t_v0 = time.time()
            snap = vms.domstats(names)
            t_v1 = time.time()

            extra = vms.create_one()
            t_created = time.time()
            time.sleep(2.5 * INTERVAL)

            victim = names[0]
            t_destroying = time.time()
            vms.destroy(victim)
            t_destroyed = time.time()
            time.sleep(3.5 * INTERVAL)
            cd.stop()

            ids = cd.identifiers()
            log = cd.log()
            survivors = names[1:] + [extra]

            # -- identifiers: exactly the expected set per VM ---------------------------
            for n in names + [extra]:
                want = expected_identifiers(vms, n)
                got = {i for i in ids if i.startswith(f"{n}/")}
                c.check(not (want - got), f"{n}: missing {sorted(want - got)}")
                c.check(not (got - want), f"{n}: unexpected {sorted(got - want)}")

            # -- at least 5 intervals of data for every VM that ran throughout ---------------
            for n in names[1:]:
                rows = cd.csv_rows(f"{n}/virtscale/virt_cpu_total")
                c.check(len(rows) >= 5, f"{n}: only {len(rows)} samples")

            # -- counters never go backwards --------------------------------------------
            for ident in sorted(i for i in ids if i.split("/")[0] in names + [extra]):
                k = kinds[type_of(ident)]
                rows = cd.csv_rows(ident)
                for col, kind in enumerate(k):
                    if kind not in ("DERIVE", "COUNTER"):
                        continue
                    short = [r for r in rows if len(r[1]) <= col]
                    c.check(not short, f"{ident}: rows without data source {col}: {short[:3]}")
                    vals = [r[1][col] for r in rows if len(r[1]) > col]
                    c.check(all(b >= a for a, b in zip(vals, vals[1:])),
                            f"{ident}[{col}] went backwards: {vals}")

            # -- agreement with virsh domstats ------------------------------------------
            for n in names:
                st = snap[n]
                pairs = [("virt_cpu_total", 0, int(st["cpu.time"])),
                         ("memory-total", 0, int(st["balloon.current"]) * 1024),
                         ("domain_state", 0, int(st["state.state"]))]
                for i in range(int(st["block.count"])):
                    dev = st[f"block.{i}.name"]
                    pairs += [(f"disk_ops-{dev}", 0, int(st[f"block.{i}.rd.reqs"])),
                              (f"disk_ops-{dev}", 1, int(st[f"block.{i}.wr.reqs"])),
                              (f"disk_octets-{dev}", 0, int(st[f"block.{i}.rd.bytes"])),
                              (f"disk_octets-{dev}", 1, int(st[f"block.{i}.wr.bytes"])),
                              (f"disk_capacity-{dev}", 0, int(st[f"block.{i}.capacity"]))]
                for i in range(int(st["net.count"])):
                    dev = st[f"net.{i}.name"]
                    pairs += [(f"if_octets-{dev}", 0, int(st[f"net.{i}.rx.bytes"])),
                              (f"if_octets-{dev}", 1, int(st[f"net.{i}.tx.bytes"])),
                              (f"if_packets-{dev}", 0, int(st[f"net.{i}.rx.pkts"])),
                              (f"if_packets-{dev}", 1, int(st[f"net.{i}.tx.pkts"]))]
                for tail, col, want in pairs:
                    ident = f"{n}/virtscale/{tail}"
                    lo, hi = bracket(cd.csv_rows(ident), t_v0, t_v1, col)
                    c.check(lo is not None and hi is not None,
                            f"{ident}: no samples around the virsh reading")
                    if lo is not None and hi is not None:
                        c.check(lo <= want <= hi,
                                f"{ident}[{col}]: virsh {want} not within plugin's "
                                f"[{lo}, {hi}]")

            # -- a VM started mid-run: sampled from the next interval ---------------------
            rows = cd.csv_rows(f"{extra}/virtscale/virt_cpu_total")
            c.check(rows[0][0] <= t_created + 2 * INTERVAL + 0.5,
                    f"{extra}: first sample {rows[0][0] - t_created:.2f} s after start")

            # -- a VM destroyed mid-run: dropped, one log line ---------------------------
            last = rows_last = cd.csv_rows(f"{victim}/virtscale/virt_cpu_total")[-1][0]
            c.check(last <= t_destroyed + 0.5,
                    f"{victim}: sampled {last - t_destroyed:.2f} s after destroy")
            lines = plugin_lines(log, victim)
            c.check(len(lines) == 1 and "no longer running" in lines[0],
                    f"{victim}: expected one log line, got {lines}")
            notes = notifications(log)
            c.check(any(n["host"] == victim and n["type"] == "domain_state"
                        and "shut off" in n["message"] and "forced poweroff" in n["message"]
                        for _, n in notes),
                    f"{victim}: no shut-off notification in {notes}")
            c.check(any(n["host"] == extra and "running" in n["message"]
                        and "normal startup from boot" in n["message"] for _, n in notes),
                    f"{extra}: no start notification in {notes}")
            c.check(not plugin_lines(log, extra), f"{extra}: logged {plugin_lines(log, extra)}")
            c.check(rows_last is not None, "victim rows read")

            # -- no complaints from the plugin ------------------------------------------
            # libvirtd holds a domain's object while destroying it (about 1.5 s here):
            # every call that walks the domains waits for it, so the round that
            # overlaps the destroy may find libvirtd not answering within its deadline.
            def in_destroy(line):
                return t_destroying - 1 <= log_time(line) <= t_destroyed + 1

            bad = [ln for ln in cd.problems() if not in_destroy(ln)]
            c.check(not bad, f"problems logged: {bad}")
            c.check(not any("took" in ln and "seconds" in ln for ln in log.splitlines()),
                    "a read ran over its interval")

            # -- self-metrics under the hypervisor's name ---------------------------------
            for t in ("duration-sample", "count-domains", "count-libvirt_calls",
                      "count-errors"):
                c.check(f"{hostname}/virtscale/{t}" in ids, f"self-metric {t} missing")
            doms = [r[1][0] for r in cd.csv_rows(f"{hostname}/virtscale/count-domains")]
            c.check(max(doms) >= 6, f"count-domains never saw 6 domains: {doms}")
            errs = [(r[0], r[1][0])
                    for r in cd.csv_rows(f"{hostname}/virtscale/count-errors")]
            c.check(all(e == 0 for t, e in errs
                        if not t_destroying - 1 <= t <= t_destroyed + 1),
                    f"errors reported: {errs}")
            calls = [r[1][0] for r in cd.csv_rows(f"{hostname}/virtscale/count-libvirt_calls")]
            # Bulk: one call per round once connected (plus 3 when connecting).
            c.check(calls[-1] == 1, f"bulk rounds should make 1 libvirt call: {calls}")
            durs = [(r[0], r[1][0])
                    for r in cd.csv_rows(f"{hostname}/virtscale/duration-sample")]
            # A read never waits for libvirt past SampleTimeout (3/4 of the interval).
            slow = [(round(t - t_destroying, 2), d) for t, d in durs
                    if not 0 < d <= 0.75 * INTERVAL + 0.05]
            c.check(not slow, f"slow samples (seconds after destroy, duration): {slow}")
    c.done()


if __name__ == "__main__":
    main()
