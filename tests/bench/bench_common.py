"""What every section of tests/bench/benchmarks.py shares: alternating configurations,
medians with their spread, libvirtd's idle CPU, the machine's description, and the
'median [min-max]' format of the reports.

A section is a module `section_<name>.py` with
    NAME                       its key in the data and on --sections
    run(a, data, save)         measures (a.smoke: a few VMs for seconds), keeps its
                               figures in data[NAME] and calls save() as it goes
    report(data, out, written) the Markdown lines of BENCHMARKS.md for data[NAME] (which
                               may be partial), plots written into out and appended to
                               written
    findings(data)             the Markdown lines of docs/FINDINGS.md it answers
                               ([] when it answers none or has no data)
and, when it measures on running VMs that `cost` starts anyway (saving their set-up),
    running_counts(smoke)      the VM counts it measures at
    run_on(a, data, save, vms, names)
                               measures on the running VMs names (a rig.VMs set);
                               `cost` calls it after its own figures at that count, and
                               benchmarks.py then does not call run()"""
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "rig"))
import rig  # noqa: E402

DOCS = os.path.normpath(os.path.join(HERE, "..", "..", "docs"))
COMMAND = "bash tests/bench/run-benchmarks.sh"


def alternate(confs, rounds, measure_one, show=None):
    """Run each configuration `rounds` times, alternating (A B C D A B C D ...), so slow
    drifts of the machine fall on every configuration alike. confs: tuples whose first
    item is the name; measure_one(*conf) returns a dict. Returns {name: [result, ...]}."""
    out = {c[0]: [] for c in confs}
    for i in range(rounds):
        for conf in confs:
            r = measure_one(*conf)
            out[conf[0]].append(r)
            if show:
                print(f"  round {i + 1} {conf[0]:22s} {show(r)}", flush=True)
    return out


def summarize(runs, fields):
    """{field: {median, min, max}} over the rounds of one configuration."""
    out = {}
    for f in fields:
        xs = [r[f] for r in runs if r.get(f) is not None]
        if xs:
            out[f] = {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}
    return out


def fmt(s, field, digits=1):
    """'median [min-max]' of one summarised field, '-' when missing."""
    v = s.get(field)
    if not v:
        return "-"
    if v["min"] == v["max"]:
        return f"{v['median']:.{digits}f}"
    return f"{v['median']:.{digits}f} [{v['min']:.{digits}f}–{v['max']:.{digits}f}]"


def med(s, field):
    v = s.get(field) if s else None
    return v["median"] if v else None


def libvirtd_idle(seconds, per=1.0):
    """libvirtd's CPU in ms per `per` seconds while nothing samples it."""
    pid = rig.libvirtd_pid()
    c0 = rig.proc_cpu_ns(pid)
    time.sleep(seconds)
    return (rig.proc_cpu_ns(pid) - c0) / 1e6 / (seconds / per)


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)


def debian_version(package):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], text=True,
                              capture_output=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    def out(cmd):
        try:
            return subprocess.run(cmd, text=True, capture_output=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(), "kvm": os.path.exists("/dev/kvm"),
        "libvirt": debian_version("libvirt-daemon"),
        "qemu": debian_version("qemu-system-x86"),
        "collectd": debian_version("collectd-core"),
        "virtscale": out(["git", "-C", HERE, "describe", "--always", "--dirty"]),
    }


def image(png, written, alt):
    """The Markdown lines showing a plot just written (none when there is none), and the
    plot added to the files written."""
    if not png:
        return []
    written.append(png)
    return [f"![{alt}]({os.path.basename(png)})", ""]
