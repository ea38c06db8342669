"""Shared pieces of the start helper's integration tests (imported, not run by ctest)."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "rig"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import guest  # noqa: E402,F401
import rig  # noqa: E402
from vstest import Checks, safe_field  # noqa: E402,F401


def helper():
    """Path of the built virtscale-start."""
    path = os.path.join(rig.build_dir(), "startup-helper", "virtscale-start")
    if not os.access(path, os.X_OK):
        raise rig.RigError(f"virtscale-start not built at {path}")
    return path


def run(*args, timeout=600):
    """Run virtscale-start ARGS -> CompletedProcess (text); prints its output."""
    cmd = [helper(), *args]
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise rig.RigError(f"virtscale-start did not finish within {timeout} s") from e
    print(f"$ virtscale-start {' '.join(args)[:300]}\n-> exit {cp.returncode}\n"
          f"--- stdout\n{cp.stdout[-3000:]}--- stderr\n{cp.stderr[-3000:]}", flush=True)
    return cp


def load_report(path):
    """The JSON report (raises if it is not valid JSON)."""
    with open(path) as f:
        return json.load(f)


def domstate(name):
    """`virsh domstate NAME` ("running", "shut off", ...)."""
    return rig.virsh("domstate", name).strip()


def max_overlap(intervals):
    """Largest number of [start, end) intervals open at one instant."""
    events = sorted([(s, 1) for s, e in intervals] + [(e, -1) for s, e in intervals],
                    key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


PHASES = ("wait", "create", "running", "ready", "total")
