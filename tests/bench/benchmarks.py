#!/usr/bin/env python3
"""The one benchmark command: runs every measurement on this host and rewrites
docs/BENCHMARKS.md and docs/FINDINGS.md (tables, the machine, versions, date) and their
plots.

    VIRTSCALE_BUILD_DIR=build tests/bench/benchmarks.py [--smoke] [--out DIR]
        [--sections cost,...] [--data FILE]
    tests/bench/benchmarks.py --report-only FILE [--out DIR]

tests/bench/run-benchmarks.sh installs what it needs, builds, and runs this.

Each section is a module tests/bench/section_<name>.py (the interface is in
bench_common.py); configurations are alternated A/B/A/B..., and the medians and the
spread (min-max) of the rounds reported:

  cost     the bundled virt plugin (defaults, ExtraStats) against virtscale bulk and
           per-domain at 20/50/100 running VMs, and against the limits (one domstats;
           collectd's own dispatch floor)
  growth   virtscale bulk and per-domain from 20 to 300 VMs (paused), the fit and the
           projection to 1,000; memory and threads at 300 VMs over 10 minutes; callgrind
           instruction counts per read against the dispatch floor
  libvirt  the study's questions on libvirt itself: what each statistics group costs
           and why, bulk against per-domain calls, concurrent clients, block info and
           what a deadline per call costs
  freeze   one of 20 QEMUs frozen for 20 s: what the bundled plugin and virtscale lose
  storms   virtscale-start's bounds and auto on storms of 5, 10, 20 and 50 tiny guests

The raw figures go to --data (default DIR/benchmarks.json) as each part ends, so a run
cut short keeps what it measured; with --sections, the other sections' figures already
in that file are kept, so a part can be measured again alone; --report-only renders a
data file again. --smoke measures a few VMs for seconds (CI runs it so the scripts
cannot rot) and writes into a temporary directory, removed at the end, unless --out
is given. It asserts nothing."""
import argparse
import json
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_common as bc  # noqa: E402
import bench_report  # noqa: E402

SECTIONS = bench_report.SECTIONS


def a_guests(wanted):
    """The sections that measure on `cost`'s running VMs when both run."""
    return [SECTIONS[s] for s in wanted
            if "cost" in wanted and s != "cost" and hasattr(SECTIONS[s], "run_on")]


def stop_on_signals():
    """SIGTERM and SIGINT end a run through the exception path, so the sections' with-blocks
    remove their VMs and stop the collectd and libvirtd they started. SIGINT too: a shell
    that starts this in the background without job control has it ignored."""
    def stop(signum, _frame):
        raise SystemExit(f"benchmarks: stopped by {signal.Signals(signum).name}; "
                         f"removing what the run started")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", default=None, help="where BENCHMARKS.md, FINDINGS.md and the "
                    "plots go (default docs/; with --smoke a temporary directory, removed "
                    "at the end)")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--data", default=None)
    ap.add_argument("--report-only", metavar="FILE", default=None)
    ap.add_argument("--overlap", action="store_true", help="run growth's 10-minute memory "
                    "run beside the next sections (shorter, but they share the CPUs)")
    ap.add_argument("--storms-minutes", type=float, default=None, metavar="M",
                    help="the storms section's time budget: its second runs (A/B/A/B) and "
                    "the other bounds run while it lasts (default "
                    f"{SECTIONS['storms'].BUDGET_S // 60} minutes, its share of 45)")
    a = ap.parse_args()
    if a.storms_minutes is not None and a.storms_minutes <= 0:
        ap.error(f"--storms-minutes: {a.storms_minutes:g} is not a positive number of minutes")
    if a.smoke and a.out is None:
        # the smoke run renders the report so it cannot rot, then leaves nothing behind
        with tempfile.TemporaryDirectory(prefix="virtscale-bench-") as out:
            measure(a, ap, out)
            print(f"smoke run: {out} removed (--out DIR keeps the report)", flush=True)
    else:
        os.makedirs(a.out or bc.DOCS, exist_ok=True)
        measure(a, ap, a.out or bc.DOCS)


def measure(a, ap, out):
    """Runs the wanted sections (or renders --report-only) and writes the report into out."""
    if a.report_only:
        with open(a.report_only) as f:
            data = json.load(f)
        print("wrote " + ", ".join(bench_report.write(data, out)), flush=True)
        return
    stop_on_signals()
    wanted = [s for s in a.sections.split(",") if s]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        ap.error(f"--sections: unknown section(s) {', '.join(unknown)}; known: "
                 f"{', '.join(SECTIONS)}")
    data_path = a.data or os.path.join(out, "benchmarks.json")
    data = {}
    if set(wanted) != set(SECTIONS) and not a.smoke and os.path.exists(data_path):
        with open(data_path) as f:
            data = json.load(f)  # keep the sections not measured again
        if data.get("smoke"):
            data = {}
    full = set(wanted) == set(SECTIONS)
    data.update(smoke=a.smoke, machine=bc.machine(), command=" ".join(sys.argv))
    data.setdefault("durations_s", {})
    # A section measured again on its own: the report keeps the full run's machine line
    # and durations (data["full_run"]) and says which sections come from which later run.
    again = data.setdefault("remeasured", {})
    for s in ([] if full else wanted + [m.NAME for m in a_guests(wanted)]):
        again[s] = {"command": data["command"], "date": data["machine"].get("date"),
                    "virtscale": data["machine"].get("virtscale")}

    def save():
        tmp = data_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, data_path)

    # sections that can measure on `cost`'s running VMs do so when both run
    a.guests = a_guests(wanted)
    for m in a.guests:
        data.pop(m.NAME, None)
        data["durations_s"].pop(m.NAME, None)
    # --overlap: sections may leave work going on beside the next ones (growth's memory
    # run), ended after the last section. Not the default: the memory run's sampling of
    # 300 VMs took a quarter of this 2-CPU host and doubled the storms' times.
    a.background = [] if a.overlap else None
    data.pop("beside_memory_run", None)
    t0 = time.monotonic()
    try:
        for s in wanted:
            if SECTIONS[s] in a.guests:
                continue
            if a.background:
                data.setdefault("beside_memory_run", []).append(s)
            s0 = time.monotonic()
            print(f"== section {s}" + "".join(f" (and {m.NAME} on its VMs)"
                                              for m in a.guests if s == "cost"), flush=True)
            SECTIONS[s].run(a, data, save)
            took = round(time.monotonic() - s0, 1)
            if s == "cost":  # the guests' time is counted as theirs
                took -= sum(data["durations_s"].get(m.NAME, 0) for m in a.guests)
            data["durations_s"][s] = took
            save()
    finally:
        for finish in a.background or []:
            finish()
    if full:
        data["duration_s"] = round(time.monotonic() - t0, 1)
        data["full_run"] = {"duration_s": data["duration_s"], "machine": data["machine"],
                            "durations_s": dict(data["durations_s"])}
        data["remeasured"] = {}
    save()
    print("wrote " + ", ".join(bench_report.write(data, out)), flush=True)


if __name__ == "__main__":
    main()
