#!/usr/bin/env python3
"""Nothing lost when collectd is away: the spool and --replay.

1. collectd stopped before the storm (no socket): exit 3, the stderr says the timings were
   spooled, the spool holds every line; collectd started again, `--replay` delivers them:
   every VM's five timings are in the csv files exactly once, with the report's values and
   original times, and the spool is empty (0 lost).
2. collectd goes away mid-run (stopped after the first VMs were delivered): exit 3; after it
   is back the next run replays the rest before its own values; again every timing of every
   VM is in collectd exactly once.
3. An earlier spool file that cannot be replayed never keeps VMs from starting.
4. A forged spool file (a line of another plugin, a command that is no PUTVAL, a cut last
   line) next to a good one: `--replay` sends only the good line; the others are in
   quarantine.log with their reasons and never reach collectd.
5. A spool directory writable by others is refused (named with its owner and mode): the VMs
   still start, a file planted there is neither replayed nor touched; with collectd up the
   timings are delivered (exit 0), with collectd down they are reported lost (exit 4)."""
import glob
import os
import tempfile
import time

from helpertest import PHASES, Checks, load_report, rig, run


def spool_lines(spool):
    n = 0
    for path in glob.glob(os.path.join(spool, "*.spool")):
        with open(path) as f:
            n += sum(1 for ln in f if ln.strip() and not ln.startswith("#"))
    return n


def check_all_values(c, cd, report, what):
    """Every phase of every VM of report in csv exactly once, value and time as reported."""
    r = load_report(report)
    idents = [f"{v['name']}/virtscale_start/duration-{p}" for v in r["vms"] for p in PHASES]

    def written():  # collectd's write threads take the values in no fixed order
        have = cd.identifiers()
        return all(i in have and cd.csv_rows(i) for i in idents)
    try:
        rig.wait_for(written, 15, what=f"{what}: every value in csv")
    except rig.RigError:
        pass  # the checks below say which
    for v in r["vms"]:
        for p in PHASES:
            ident = f"{v['name']}/virtscale_start/duration-{p}"
            rows = cd.csv_rows(ident) if ident in cd.identifiers() else []
            want = v["durations"][p]
            c.check(len(rows) == 1 and abs(rows[0][1][0] - want) < 1e-5,
                    f"{what}: {ident}: csv {rows}, report {want}")
            end = {"wait": "create_start", "create": "create_end"}.get(
                p, "running" if p == "running" else "ready")
            if rows:
                c.check(abs(rows[0][0] - (r["started"] + v["t"][end])) < 0.01,
                        f"{what}: {ident}: time {rows[0][0]} not the original")


def main():
    c = Checks("start_spool")
    work = tempfile.mkdtemp(prefix="vs-spool-")
    spool = os.path.join(work, "spool")
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=1, nics=0) as vms, \
            rig.Collectd(None, "", interval=1) as cd:
        first = [vms.create_one(define_only=True) for _ in range(6)]
        second = [vms.create_one(define_only=True) for _ in range(6)]
        third = [vms.create_one(define_only=True) for _ in range(2)]
        fourth = [vms.create_one(define_only=True) for _ in range(2)]
        fifth = [vms.create_one(define_only=True) for _ in range(2)]
        common = ["--ready", "running", "--collectd-socket", cd.socket, "--spool", spool,
                  "--host", "hv-spool", "--progress", "plain"]

        # 1. collectd down before the storm.
        rep1 = os.path.join(work, "r1.json")
        cp = run("--max-parallel", "3", "--report", rep1, *common, *first)
        c.check(cp.returncode == 3, f"exit {cp.returncode}, want 3 (spooled)")
        c.check("spooled" in cp.stderr and spool in cp.stderr, "stderr says spooled where")
        r1 = load_report(rep1)
        c.check(r1["counts"]["ready"] == 6, f"counts {r1['counts']}")
        n_spooled = r1["collectd"]["spooled"]
        # 6 VMs x 5 phases + batch values and one notification
        c.check(n_spooled >= 6 * 5 + 5 + 1, f"spooled {n_spooled}")
        c.check(spool_lines(spool) == n_spooled, f"{spool_lines(spool)} lines in the spool, "
                                                 f"report says {n_spooled}")
        cd.start()
        cp = run("--replay", "--collectd-socket", cd.socket, "--spool", spool)
        c.check(cp.returncode == 0, f"--replay exit {cp.returncode}")
        c.check(f"replay: {n_spooled} delivered, 0 refused" in cp.stdout, cp.stdout)
        c.check(spool_lines(spool) == 0, "spool not empty after replay")
        rig.wait_for(lambda: all(f"{n}/virtscale_start/duration-total" in cd.identifiers()
                                 for n in first), 15, what="replayed values in csv")
        check_all_values(c, cd, rep1, "replayed")
        rig.wait_for(lambda: "6 of 6 VMs ready" in cd.log(), 5, what="replayed notification")

        # 2. collectd goes away mid-run: a spacing of 1.5 s makes the run ~8 s long.
        rep2 = os.path.join(work, "r2.json")
        import subprocess
        from helpertest import helper
        proc = subprocess.Popen([helper(), "--max-parallel", "1", "--spacing", "1500",
                                 "--report", rep2, *common, *second],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rig.wait_for(lambda: f"{second[1]}/virtscale_start/duration-total" in cd.identifiers(),
                     30, what="the first VMs of the second run in collectd")
        cd.stop()
        out, err = proc.communicate(timeout=120)
        print(out[-1500:], err[-1500:])
        c.check(proc.returncode == 3, f"mid-run stop: exit {proc.returncode}, want 3")
        r2 = load_report(rep2)
        c.check(r2["collectd"]["delivered"] > 0 and r2["collectd"]["spooled"] > 0,
                f"mid-run: {r2['collectd']}")
        c.check(spool_lines(spool) == r2["collectd"]["spooled"], "mid-run spool size")
        time.sleep(1.1)  # a new csv row second for anything re-sent by mistake
        cd.start()
        # The next run delivers the spool first (here: a run with nothing left to start
        # would be bad input, so use --replay as an operator would).
        cp = run("--replay", "--collectd-socket", cd.socket, "--spool", spool)
        c.check(cp.returncode == 0, f"second --replay exit {cp.returncode}")
        c.check(spool_lines(spool) == 0, "spool not empty after the second replay")
        rig.wait_for(lambda: all(f"{n}/virtscale_start/duration-total" in cd.identifiers()
                                 for n in second), 15, what="second run's values in csv")
        check_all_values(c, cd, rep2, "mid-run")
        bad = [ln for ln in cd.log().splitlines() if "too old" in ln]
        c.check(not bad, f"collectd rejected values as too old: {bad}")

        # 3. An earlier spool file that cannot be replayed (a directory by a spool
        # file's name) is reported and never keeps VMs from starting.
        broken = os.path.join(spool, "00000000000000000000-0.spool")
        os.mkdir(broken)
        rep3 = os.path.join(work, "r3.json")
        cp = run("--max-parallel", "2", "--report", rep3, *common, *third)
        c.check(cp.returncode == 0, f"broken spool file: exit {cp.returncode}, want 0; "
                                    f"{cp.stderr[-500:]}")
        c.check("not all replayed" in cp.stderr and broken in cp.stderr,
                f"stderr does not name the broken spool file: {cp.stderr[-500:]}")
        r3 = load_report(rep3)
        c.check(r3["counts"]["ready"] == len(third), f"broken spool file: {r3['counts']}")
        c.check(r3["collectd"]["delivered"] > 0 and r3["collectd"]["spooled"] == 0,
                f"broken spool file: {r3['collectd']}")
        c.check(os.path.isdir(broken), "the broken spool file was touched")
        os.rmdir(broken)

        # 4. Forged lines are quarantined, never sent.
        now = time.time()
        good = f'PUTVAL "spool-good/virtscale_start/duration-ready" interval=3600.000 {now:.3f}:1.5'
        forged = [f'PUTVAL "hv-spool/cpu-0/cpu-idle" {now:.3f}:42',
                  'FLUSH',
                  f'PUTVAL "spool-cut/virtscale_start/duration-ready" {now:.3f}:2']
        with open(os.path.join(spool, "00000000000000000001-1.spool"), "w") as f:
            f.write("# virtscale-start spool 1\n" + "\n".join([forged[0], forged[1], good,
                                                               forged[2]]))
        cp = run("--replay", "--collectd-socket", cd.socket, "--spool", spool)
        c.check(cp.returncode == 3, f"forged spool: --replay exit {cp.returncode}, want 3")
        c.check("1 delivered" in cp.stdout and "3 damaged" in cp.stdout, cp.stdout)
        c.check("quarantine.log" in cp.stderr, f"stderr: {cp.stderr[-500:]}")
        rig.wait_for(lambda: "spool-good/virtscale_start/duration-ready" in cd.identifiers(),
                     15, what="the good spooled line in csv")
        have = cd.identifiers()
        c.check(not any(i.startswith("hv-spool/cpu") or i.startswith("spool-cut/")
                        for i in have), f"a forged line reached collectd: {sorted(have)[:20]}")
        with open(os.path.join(spool, "quarantine.log")) as f:
            q = f.read()
        for line, why in zip(forged, ["identifier not as the helper builds it",
                                      "not a PUTVAL or PUTNOTIF command",
                                      "cut (no newline at the end)"]):
            c.check(f"{why}: {line}" in q, f"quarantine.log lacks {why!r} for {line!r}: {q}")
        c.check(spool_lines(spool) == 0, "forged spool file not cleared")

        # 5. A spool directory writable by others is refused; VMs start anyway.
        planted = os.path.join(spool, "00000000000000000002-1.spool")
        with open(planted, "w") as f:
            f.write("# virtscale-start spool 1\n"
                    f'PUTVAL "planted/virtscale_start/duration-ready" {now:.3f}:3\n')
        planted_before = os.stat(planted)
        os.chmod(spool, 0o777)
        try:
            rep4 = os.path.join(work, "r4.json")
            cp = run("--max-parallel", "2", "--report", rep4, *common, *fourth)
            c.check(cp.returncode == 0, f"refused spool, collectd up: exit {cp.returncode}, "
                                        f"want 0; {cp.stderr[-500:]}")
            c.check(f"spool {spool} refused" in cp.stderr and "mode 0777" in cp.stderr
                    and f"owned by uid {os.geteuid()}" in cp.stderr,
                    f"stderr does not name the refused spool: {cp.stderr[-600:]}")
            r4 = load_report(rep4)
            c.check(r4["counts"]["ready"] == len(fourth), f"refused spool: {r4['counts']}")
            c.check(r4["collectd"]["delivered"] > 0 and r4["collectd"]["spooled"] == 0
                    and r4["collectd"]["lost"] == 0, f"refused spool: {r4['collectd']}")
            check_all_values(c, cd, rep4, "refused spool")
            c.check("planted/virtscale_start/duration-ready" not in cd.identifiers(),
                    "a file in the refused spool was replayed")
            cd.stop()
            rep5 = os.path.join(work, "r5.json")
            cp = run("--max-parallel", "2", "--report", rep5, *common, *fifth)
            c.check(cp.returncode == 4, f"refused spool, collectd down: exit {cp.returncode}, "
                                        f"want 4; {cp.stderr[-500:]}")
            c.check("LOST" in cp.stderr and f"spool {spool} refused" in cp.stderr,
                    f"stderr: {cp.stderr[-600:]}")
            r5 = load_report(rep5)
            c.check(r5["counts"]["ready"] == len(fifth), f"refused spool, down: {r5['counts']}")
            c.check(r5["collectd"]["lost"] >= len(fifth) * 5 and r5["collectd"]["spooled"] == 0,
                    f"refused spool, down: {r5['collectd']}")
            after = os.stat(planted)
            c.check((after.st_ino, after.st_size, after.st_mtime_ns) ==
                    (planted_before.st_ino, planted_before.st_size,
                     planted_before.st_mtime_ns), "the planted spool file was touched")
            c.check(sorted(os.listdir(spool)) == sorted(
                ["00000000000000000002-1.spool", "quarantine.log", ".lock"] +
                (["rejected.log"] if os.path.exists(os.path.join(spool, "rejected.log"))
                 else [])), f"files appeared in the refused spool: {os.listdir(spool)}")
        finally:
            os.chmod(spool, 0o700)
    c.done()


if __name__ == "__main__":
    main()
