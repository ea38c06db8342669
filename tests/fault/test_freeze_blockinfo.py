#!/usr/bin/env python3
"""A frozen QEMU seen from the block-info thread (BlockInfo true, BlockInfoInterval 1,
BlockInfoTimeout 0.5, 6 VMs, the sampler in bulk mode):

* the stuck VM's virDomainGetBlockInfo times out after BlockInfoTimeout: one WARNING
  notification, and the timeout counter grows by exactly one during a 10 s freeze (no
  second call is queued on a domain whose call has not returned);
* the other VMs' block info keeps its cadence: a value every interval, no gap over one
  interval + BlockInfoTimeout (+ 0.25 s of scheduling slack) — the calls go one at a
  time, so in the one cycle where the frozen VM's call gets stuck the VMs after it are
  read BlockInfoTimeout late; values carry the time they were read;
* after SIGCONT the stuck VM's block info comes back, with an OKAY notification.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from vstest import (Checks, notifications, plugin_dir, rig,  # noqa: E402
                    virtscale_block, wait_steady)

PERIOD = 1.0
TIMEOUT = 0.5
FREEZE = 10.0


def main():
    c = Checks("freeze_blockinfo")
    with rig.ensure_libvirtd(), rig.VMs(n=6, disks=1, nics=1) as vms:
        names = vms.create()
        victim, others = names[2], [n for n in names if n != names[2]]
        conf = virtscale_block('Connection "qemu:///system"', "BlockInfo true",
                               f"BlockInfoInterval {PERIOD}", f"BlockInfoTimeout {TIMEOUT}")
        with rig.Collectd(plugin_dir(), conf, interval=1, hostname="hv-bi") as cd:
            cd.start()
            wait_steady(cd, "hv-bi", 1)  # VMs past their firmware
            pid = vms.qemu_pid(victim)
            timeouts_id = "hv-bi/virtscale/total_operations-blockinfo_timeouts"
            with rig.stopped(pid):
                t_freeze = time.time()
                time.sleep(FREEZE)
                t_thaw = time.time()
            time.sleep(5)
            cd.stop()
            log = cd.log()

            # -- the timeout: once, after BlockInfoTimeout --------------------------------
            rows = cd.csv_rows(timeouts_id)
            before = [v[0] for t, v in rows if t <= t_freeze]
            during = [(t, v[0]) for t, v in rows if t_freeze < t <= t_thaw]
            c.check(before and during, f"no timeout counter rows: {rows}")
            if before and during:
                grew = during[-1][1] - before[-1]
                c.check(grew == 1, f"timeouts grew by {grew} during the freeze "
                                   f"(expected exactly one: no second call queued)")
                first = [t for t, v in during if v > before[-1]]
                c.check(first and first[0] - t_freeze <= PERIOD + TIMEOUT + 1.5,
                        f"timeout counted {first[0] - t_freeze:.2f} s after the freeze"
                        if first else "timeout never counted")
            notes = notifications(log)
            warn = [n for _, n in notes if n.get("host") == victim
                    and n.get("severity") == "WARNING" and "did not answer within 0.50 s"
                    in n["message"]]
            c.check(len(warn) == 1, f"{victim}: {len(warn)} block-info timeout warnings: "
                                    f"{notes}")

            # -- the others keep their cadence --------------------------------------------
            for n in others:
                ts = [t for t, _ in cd.csv_rows(f"{n}/virtscale/disk_allocation-vda")
                      if t_freeze - PERIOD <= t <= t_thaw + PERIOD]
                g = max([b - a for a, b in zip(ts, ts[1:])] or [FREEZE])
                c.check(len(ts) >= FREEZE / PERIOD and g <= PERIOD + TIMEOUT + 0.25,
                        f"{n}: {len(ts)} block-info values around the freeze, "
                        f"largest gap {g:.2f} s")

            # -- the stuck one comes back ---------------------------------------------------
            back = [t for t, _ in cd.csv_rows(f"{victim}/virtscale/disk_allocation-vda")
                    if t > t_thaw]
            c.check(back and back[0] - t_thaw <= 2 * PERIOD + 0.5,
                    f"{victim}: block info back {back[0] - t_thaw:.2f} s after SIGCONT"
                    if back else f"{victim}: no block info after SIGCONT")
            c.check(any(n.get("host") == victim and n.get("severity") == "OKAY"
                        and "block info" in n["message"] for _, n in notes),
                    f"{victim}: no OKAY notification for block info")
    c.done()


if __name__ == "__main__":
    main()
