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
* after SIGCONT the stuck VM's block info comes back, with an OKAY notification;
* the frozen VM is called unresponsive (gauge-unresponsive 1, one FAILURE) whichever
  call reached its monitor first, and answers again after SIGCONT.

Then the block-info call is made to reach the frozen monitor first (the sampler reads
every 4 s, the block-info thread every 0.5 s, QEMU stopped right after a read): its job
keeps the sampler's NOWAIT calls off that monitor, so only the block-info call is stuck;
the domain must still be called unresponsive within StuckThreshold (2 s) + one read,
and answer again after SIGCONT.
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
SLOW = 4.0  # the second part's read interval


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
            check_unresponsive(c, cd, notes, victim, t_freeze, t_thaw, 1)

        # -- the block-info call alone reaches the frozen monitor ----------------------------
        conf = virtscale_block('Connection "qemu:///system"', "BlockInfo true",
                               "BlockInfoInterval 0.5", "BlockInfoTimeout 0.3")
        with rig.Collectd(plugin_dir(), conf, interval=SLOW, hostname="hv-bi2") as cd:
            cd.start()
            wait_steady(cd, "hv-bi2", SLOW)
            ident = f"{victim}/virtscale/gauge-unresponsive"
            seen = len(cd.csv_rows(ident))
            rig.wait_for(lambda: len(cd.csv_rows(ident)) > seen, 3 * SLOW, 0.05,
                         "a read of the sampler")
            with rig.stopped(vms.qemu_pid(victim)):
                t_freeze = time.time()
                time.sleep(3 * SLOW)
                t_thaw = time.time()
            time.sleep(2 * SLOW + 1)
            cd.stop()
            notes = notifications(cd.log())
            timeout = [t for t, n in notes if n.get("host") == victim
                       and "block info" in n["message"] and n.get("severity") == "WARNING"]
            c.check(timeout and timeout[0] - t_freeze < SLOW,
                    f"{victim}: the block-info call was not the one stuck first "
                    f"(its timeout warning: {timeout}): the set-up failed")
            check_unresponsive(c, cd, notes, victim, t_freeze, t_thaw, SLOW)
    c.done()


def check_unresponsive(c, cd, notes, victim, t_freeze, t_thaw, interval):
    """The frozen VM: gauge-unresponsive 1 within StuckThreshold (half the interval,
    at least 0.5 s) + a read + slack; one FAILURE; 0 again within two reads of SIGCONT
    with an OKAY."""
    rows = cd.csv_rows(f"{victim}/virtscale/gauge-unresponsive")
    up = [t for t, v in rows if t_freeze < t <= t_thaw and v[0] == 1]
    bound = max(interval / 2, 0.5) + interval + 1.5
    c.check(up and up[0] - t_freeze <= bound,
            f"{victim}: gauge-unresponsive 1 {up[0] - t_freeze:.2f} s after SIGSTOP "
            f"(bound {bound:.1f} s)" if up else
            f"{victim}: never unresponsive while frozen: {rows}")
    back = [t for t, v in rows if t > t_thaw and v[0] == 0]
    c.check(back and back[0] - t_thaw <= 2 * interval + 1.5,
            f"{victim}: gauge-unresponsive 0 {back[0] - t_thaw:.2f} s after SIGCONT"
            if back else f"{victim}: still unresponsive after SIGCONT: {rows}")
    fail = [n for t, n in notes if n.get("host") == victim and n.get("severity") == "FAILURE"
            and "does not answer" in n["message"]]
    okay = [n for t, n in notes if n.get("host") == victim and n.get("severity") == "OKAY"
            and "answers again" in n["message"] and "block info" not in n["message"]]
    c.check(len(fail) == 1 and len(okay) == 1,
            f"{victim}: {len(fail)} unresponsive FAILURE and {len(okay)} OKAY notifications "
            f"(one each expected)")
    if up:
        print(f"{victim}: unresponsive {up[0] - t_freeze:.2f} s after SIGSTOP"
              + (f", answers {back[0] - t_thaw:.2f} s after SIGCONT" if back else ""))


if __name__ == "__main__":
    main()
