#!/usr/bin/env python3
"""The README's first command, minus its install and build steps: tests/demo.py on the
build under test. It must boot its VMs with virtscale-start, read values and boot
timings back from collectd, draw the gnuplot graph and the RRD graphs, and say where
the Grafana dashboard is (a file that exists)."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from vstest import Checks, rig  # noqa: E402

VMS = 2


def png_ok(path):
    with open(path, "rb") as f:
        head = f.read(24)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"


def main():
    c = Checks("demo")
    out = tempfile.mkdtemp(prefix="virtscale-demo-test.")
    try:
        cp = subprocess.run([sys.executable, "-u", os.path.join(TOP, "tests", "demo.py"), out,
                             "--vms", str(VMS), "--seconds", "8"],
                            capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, VIRTSCALE_BUILD_DIR=rig.build_dir()))
        text = cp.stdout + cp.stderr
        print(text[-6000:])
        c.check(cp.returncode == 0, f"demo exited {cp.returncode}")
        got = re.findall(r"getval (\S+)/virtscale_start/duration-running: seconds=([0-9.e+-]+)",
                         text)
        c.check(len(got) == VMS and all(float(v) > 0 for _, v in got),
                f"boot timings of {VMS} VMs not read back from collectd: {got}")
        c.check("== latest values (csv)" in text, "no values table")
        c.check(os.path.exists(os.path.join(out, "cpu.png")) and
                png_ok(os.path.join(out, "cpu.png")), "no gnuplot graph cpu.png")
        pngs = sorted(glob.glob(os.path.join(out, "rrd-graphs", "*.png")))
        c.check(len(pngs) >= 5 * VMS + 1, f"only {len(pngs)} RRD graphs: {pngs}")
        c.check(all(png_ok(p) for p in pngs), "an RRD graph is not a PNG")
        printed = [p for p in re.findall(r"^\s+(/\S+\.png)$", text, re.M)
                   if "rrd-graphs" in p]
        c.check(sorted(printed) == pngs, f"printed RRD graphs {printed} != files {pngs}")
        dash = os.path.join(TOP, "conf", "grafana", "virtscale-dashboard.json")
        c.check(dash in text and os.path.exists(dash) and "not in this tree" not in text,
                "the Grafana dashboard's path is not printed")
        c.check("Import" in text, "no import instructions for the dashboard")
        print(f"demo: {len(got)} boot timings read back, {len(pngs)} RRD graphs")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
