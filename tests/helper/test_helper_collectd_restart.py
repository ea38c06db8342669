#!/usr/bin/env python3
"""collectd stopped and started again in the middle of one virtscale-start storm: 0 timings lost.

12 defined VMs started by one `virtscale-start --max-parallel 2 --spacing 1500` (about one VM
done every 1.5 s, so the storm lasts ~20 s) reporting to a real collectd (unixsock + csv).
Once the first VMs' timings are in the csv files, collectd is stopped (SIGTERM to its PID);
the helper finds the socket gone and spools; a few seconds later collectd is started again on
the same socket path and csv directory while the storm still runs. The helper must then
reconnect by itself, replay what it spooled and deliver the rest directly, all before it
exits, so nothing waits for a later run or `--replay`:

- exit 0 (every domain ready, every timing delivered in the end; virtscale-start(1));
- the report: every VM ready; collectd section: lost 0, refused 0, spooled > 0 (the outage
  was seen), recovered == spooled, waiting 0, delivered + recovered == every line of the run;
- the spool holds no line afterwards (no .spool file, no quarantine.log, no rejected.log);
- every VM's five timings and every batch value are in the csv files exactly once, with the
  report's values and original times;
- the timings spooled while collectd was away reached the csv before the storm's last VM was
  done (replayed during the run, not at its end), and a VM done after the restart had its
  timings in the csv before that too (delivered directly once collectd was back)."""
import glob
import os
import subprocess
import tempfile
import time

from helpertest import PHASES, Checks, helper, load_report, rig
from test_helper_spool import check_all_values, spool_lines

N = 12
BOUND = 2
SPACING_MS = 1500
HOST = "hv-restart"
OUTAGE_S = 4  # collectd stays away this long after the helper spooled its first line


def batch_idents():
    """Batch value identifiers of a run where every VM reached every phase."""
    out = [f"{HOST}/virtscale_start/count-{k}" for k in ("vms", "ready", "failed", "bound")]
    out.append(f"{HOST}/virtscale_start/duration-wall")
    out += [f"{HOST}/virtscale_start/duration-{p}_{s}" for p in PHASES
            for s in ("p50", "p95", "max")]
    return out


def done_wall(report, vm):
    return report["started"] + vm["t"]["done"]


def main():
    c = Checks("start_collectd_restart")
    work = tempfile.mkdtemp(prefix="vs-cdrestart-")
    spool = os.path.join(work, "spool")
    report = os.path.join(work, "report.json")
    out_path, err_path = os.path.join(work, "helper.out"), os.path.join(work, "helper.err")
    with rig.ensure_libvirtd(), rig.VMs(n=N, disks=1, nics=0) as vms, \
            rig.Collectd(None, "", interval=1) as cd:
        names = vms.create(define_only=True)
        cd.start()
        totals = {n: f"{n}/virtscale_start/duration-total" for n in names}
        with open(out_path, "wb") as o, open(err_path, "wb") as e:
            proc = subprocess.Popen(
                [helper(), "--max-parallel", str(BOUND), "--spacing", str(SPACING_MS),
                 "--ready", "running", "--report", report, "--collectd-socket", cd.socket,
                 "--spool", spool, "--host", HOST, "--progress", "plain", *names],
                stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        seen = {}  # VM -> wall time its total was first seen in the csv files

        def look():
            have = cd.identifiers()
            now = time.time()
            for n, ident in totals.items():
                if n not in seen and ident in have:
                    seen[n] = now
        try:
            rig.wait_for(lambda: look() or len(seen) >= 2 or proc.poll() is not None, 120,
                         0.1, what="the first VMs' timings in collectd")
            c.check(proc.poll() is None and len(seen) >= 2,
                    f"the storm ended before collectd could be stopped (seen {sorted(seen)})")
            first_pid = cd.pid
            cd.stop()
            stopped_at = time.time()
            # The helper finds collectd gone at its next VM and spools.
            rig.wait_for(lambda: spool_lines(spool) > 0 or proc.poll() is not None, 120, 0.1,
                         what="the helper to spool while collectd is away")
            c.check(spool_lines(spool) > 0, "nothing spooled while collectd was away")
            time.sleep(OUTAGE_S)
            c.check(proc.poll() is None, "the storm ended while collectd was away: too short")
            cd.start()  # same socket path, same csv directory
            restarted_at = time.time()
            c.check(cd.pid != first_pid, "collectd was not restarted")
            print(f"collectd pid {first_pid} stopped, pid {cd.pid} up "
                  f"{restarted_at - stopped_at:.1f} s later", flush=True)
            deadline = time.time() + 300
            while proc.poll() is None and time.time() < deadline:
                look()
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
        with open(out_path, errors="replace") as f:
            out = f.read()
        with open(err_path, errors="replace") as f:
            err = f.read()
        print(f"-> exit {code}\n--- stdout\n{out[-3000:]}--- stderr\n{err[-3000:]}", flush=True)

        c.check(code == 0, f"exit {code}, want 0 (every VM ready, every timing delivered)")
        r = load_report(report)
        c.check(r["counts"]["ready"] == N, f"counts {r['counts']}")
        cdr = r["collectd"]
        lines = N * len(PHASES) + len(batch_idents()) + 1  # + the batch notification
        c.check(cdr["lost"] == 0 and cdr["refused"] == 0, f"collectd section {cdr}")
        c.check(cdr["spooled"] > 0, f"the outage did not reach the helper: {cdr}")
        c.check(cdr.get("recovered") == cdr["spooled"] and cdr.get("waiting") == 0,
                f"spooled lines not all delivered by the run itself: {cdr}")
        c.check(cdr["delivered"] + cdr.get("recovered", 0) == lines,
                f"delivered + recovered != {lines} lines of the run: {cdr}")
        left = sorted(os.listdir(spool))
        c.check(spool_lines(spool) == 0 and not glob.glob(os.path.join(spool, "*.spool")),
                f"spool not empty afterwards: {left}")
        c.check("quarantine.log" not in left and "rejected.log" not in left,
                f"lines quarantined or rejected: {left}")
        c.check("collectd: " in out and " 0 lost" in out, f"summary line: {out[-400:]}")

        # Every timing in collectd exactly once, as reported.
        look()
        check_all_values(c, cd, report, "restart")
        have = cd.identifiers()
        batch = {i: cd.csv_rows(i) if i in have else [] for i in batch_idents()}
        for ident, rows in batch.items():
            c.check(len(rows) == 1, f"{ident}: csv {rows}, want one row")
        rows = batch[f"{HOST}/virtscale_start/count-vms"]
        c.check(rows and rows[0][1][0] == N, f"count-vms {rows}")
        rows = batch[f"{HOST}/virtscale_start/duration-wall"]
        c.check(rows and abs(rows[0][1][0] - r["wall_s"]) < 1e-5, f"duration-wall {rows}")
        try:
            rig.wait_for(lambda: f"{N} of {N} VMs ready" in cd.log(), 10,
                         what="the batch notification")
        except rig.RigError:
            c.check(False, "the batch notification is not in the restarted collectd's log")

        # Delivered during the storm, not at its end.
        by_name = {v["name"]: v for v in r["vms"]}
        last_done = max(done_wall(r, v) for v in r["vms"])
        away = [n for n in names if stopped_at < done_wall(r, by_name[n]) < restarted_at]
        after = [n for n in names if done_wall(r, by_name[n]) > restarted_at]
        print(f"VMs done while collectd was away: {len(away)}, after it was back: "
              f"{len(after)}; first seen in csv (s before the last VM was done): "
              f"{ {n[-6:]: round(last_done - seen[n], 1) for n in names if n in seen} }")
        c.check(away and after, f"VMs done while away {away}, after the restart {after}")
        c.check(any(n in seen and seen[n] < last_done for n in away),
                "no timing spooled while collectd was away reached it before the storm's "
                "last VM was done")
        c.check(any(n in seen and seen[n] < last_done for n in after),
                "no VM done after the restart had its timings in collectd before the "
                "storm's last VM was done")
        bad = [ln for ln in cd.log().splitlines() if "too old" in ln]
        c.check(not bad, f"collectd dropped values as too old: {bad[:5]}")
    c.done()


if __name__ == "__main__":
    main()
