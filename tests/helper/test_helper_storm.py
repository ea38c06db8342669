#!/usr/bin/env python3
"""20 defined VMs started with `virtscale-start --max-parallel 4`, timings into a real collectd.

Checks: exit 0 and every VM running; the JSON report is valid and has every VM ready with
all five phases; never more than 4 create calls in flight and never more than 4 slots held
(from the report's per-VM timestamps); the report's timestamps are ordered; every VM's five
timings read back from collectd through `collectdctl getval` and from the csv files, equal to
the report's; the batch values and the OKAY summary notification reached collectd too.
collectd runs with the shipped conf/virtscale-start-thresholds.conf: the one-shot values must
not raise "has not been updated" afterwards (its `Interesting false`)."""
import os
import tempfile

from helpertest import PHASES, Checks, domstate, load_report, max_overlap, rig, run

N = 20
BOUND = 4


def main():
    c = Checks("start_storm")
    work = tempfile.mkdtemp(prefix="vs-storm-")
    report = os.path.join(work, "report.json")
    conf = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conf",
                        "virtscale-start-thresholds.conf")
    with open(conf) as f:
        thresholds = f.read()
    with rig.ensure_libvirtd(), rig.VMs(n=N, disks=1, nics=0) as vms, \
            rig.Collectd(None, thresholds, interval=1) as cd:
        names = vms.create(define_only=True)
        cd.start()
        cp = run("--max-parallel", str(BOUND), "--ready", "running", "--report", report,
                 "--collectd-socket", cd.socket, "--spool", os.path.join(work, "spool"),
                 "--host", "hv-storm", "--progress", "plain", *names, timeout=300)
        c.check(cp.returncode == 0, f"exit {cp.returncode}, want 0")
        for n in names:
            c.check(domstate(n) == "running", f"{n}: {domstate(n)!r}, want running")

        r = load_report(report)
        got = {v["name"]: v for v in r["vms"]}
        c.check(sorted(got) == sorted(names), f"report VMs {sorted(got)}")
        c.check(r["settings"]["max_parallel"] == BOUND, f"settings {r['settings']}")
        c.check(r["counts"]["ready"] == N, f"counts {r['counts']}")
        creates, held = [], []
        for n, v in got.items():
            c.check(v["state"] == "ready" and v["error"] is None, f"{n}: {v['state']}")
            t, d = v["t"], v["durations"]
            c.check(all(d[p] is not None and d[p] >= 0 for p in PHASES), f"{n}: {d}")
            c.check(t["request"] <= t["create_start"] <= t["create_end"] and
                    t["create_start"] <= t["running"] <= t["ready"] <= t["done"],
                    f"{n}: timestamps out of order {t}")
            creates.append((t["create_start"], t["create_end"]))
            held.append((t["create_start"], t["slot_released"]))
        c.check(max_overlap(creates) <= BOUND,
                f"{max_overlap(creates)} create calls in flight at once, bound {BOUND}")
        c.check(max_overlap(held) <= BOUND, f"{max_overlap(held)} slots held at once")
        c.check(max_overlap(creates) >= 2, "the storm never ran two creates at once")
        c.check(r["collectd"]["delivered"] > 0 and r["collectd"]["spooled"] == 0 and
                r["collectd"]["lost"] == 0, f"collectd {r['collectd']}")

        # Every VM's timings, from collectd's cache and from its csv files.
        rig.wait_for(lambda: all(f"{n}/virtscale_start/duration-total" in cd.identifiers()
                                 for n in names), 15, what="csv files for every VM")
        for n, v in got.items():
            for p in PHASES:
                ident = f"{n}/virtscale_start/duration-{p}"
                want = v["durations"][p]
                out = cd.collectdctl("getval", ident).strip()
                val = float(out.split("=", 1)[1]) if out.startswith("seconds=") else None
                c.check(val is not None and abs(val - want) <= 1e-5 * max(want, 1e-3) + 1e-6,
                        f"getval {ident}: {out!r}, report {want}")
                rows = cd.csv_rows(ident) if ident in cd.identifiers() else []
                c.check(len(rows) == 1 and abs(rows[0][1][0] - want) < 1e-5,
                        f"csv {ident}: {rows}, report {want}")
        batch = cd.getval("hv-storm/virtscale_start/count-vms")
        c.check(batch.get("value") == N, f"count-vms {batch}")
        wall = cd.getval("hv-storm/virtscale_start/duration-wall")
        c.check(abs(wall.get("seconds", 0) - r["wall_s"]) < 1e-3, f"wall {wall} vs {r['wall_s']}")
        rig.wait_for(lambda: "Notification: severity = OKAY, host = hv-storm" in cd.log(), 5,
                     what="the batch notification in collectd's log")
        c.check(f"{N} of {N} VMs ready" in cd.log(), "summary notification text")
        # Threshold Timeout (2) x Interval (1) has long passed for the first values.
        import time
        time.sleep(4)
        stale = [ln for ln in cd.log().splitlines()
                 if "virtscale_start" in ln and ("not been updated" in ln or "FAILURE" in ln
                                                 or "WARNING" in ln)]
        c.check(not stale, f"threshold plugin complained: {stale[:3]}")
        bad = cd.problems()
        c.check(not bad, f"collectd logged problems: {bad[:5]}")
    c.done()


if __name__ == "__main__":
    main()
