"""Section `libvirt` of tests/bench/benchmarks.py: what statistics sampling costs at the
client-daemon boundary, measured with a small libvirt client (tests/bench/vs_lvbench.c,
built as DIR/tests/bench/vslvbench) on running tiny VMs (20 and 50; smoke: 3; 100 did
not fit the section's 5 minutes on a 2-CPU host; the `growth` section goes to 300). It
answers the open questions of the 2014 VDSM scalability study:

(a) What dominates the cost of a statistics call: the client-daemon round trip,
    syscalls, or QEMU monitor access? Per group (bulk call over every running VM,
    NOWAIT): wall per call; libvirtd's user and system CPU (system ~ syscalls) and the
    QEMUs' CPU summed (monitor work happens in QEMU), from /proc, idle CPU subtracted;
    libvirtd's and the QEMUs' syscalls (`perf stat -e raw_syscalls:sys_enter`) and the
    QEMUs' recvmsg calls (how their monitors read commands); and the round-trip floor:
    calls with no statistics work (virConnectGetLibVersion, virConnectNumOfDomains).
(b) Per-domain calls against bulk: all six groups by one virConnectGetAllDomainStats
    against one virDomainListGetStats per domain: wall and CPU per round.
(c) Locks in the QEMU driver: N clients (threads, each on its own connection) calling
    bulk cpu-total + interface for T seconds, N = 1, 2, 4, 8: calls/s, domains/s,
    libvirtd, QEMU and client CPU, the host's busy CPUs (/proc/stat); at the largest
    VM count also interface alone (takes no job) and cpu-total + interface without
    NOWAIT (waits for each domain's job).
(d) virDomainGetBlockInfo per disk against the block group of bulk statistics, and
    what a deadline per call costs: the same calls through virtscale's timed executor
    (plugin/common/vs_executor.h) against direct calls, and a no-op job through it.

Which groups take a domain job and query QEMU's monitor was read in libvirt 9.0's
src/qemu/qemu_driver.c (qemuDomainGetStatsWorkers[], qemuDomainGetStats*): see
GROUP_SOURCE below."""
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bench_common as bc
import rig

NAME = "libvirt"
URI = rig.URI
TOOL_TIMEOUT = 300  # seconds one vslvbench run may take at most

# What each call does inside libvirt 9.0's QEMU driver (qemu_driver.c).
GROUP_SOURCE = {
    "version": "no driver work: the round trip",
    "numofdomains": "driver's domain list, no domain lock",
    "state": "no job: domain object only",
    "interface": "no job: tap counters from /proc/net/dev",
    "cpu-total": "job; cgroup cpuacct files + monitor `query-stats` (halt-poll)",
    "balloon": "job; monitor `query-balloon` + `qom-get` guest-stats, RSS from /proc",
    "vcpu": "job; /proc per vCPU thread + monitor `query-stats`",
    "block": "job; monitor `query-blockstats` + `query-named-block-nodes`",
    "all": "the six above in one call (one job per domain)",
}
# QMP commands per domain and call (same source; vcpu's query-stats-schemas is sent once
# per domain and cached, before the timed calls)
MONITOR_COMMANDS = {"cpu-total": 1, "balloon": 2, "vcpu": 1, "block": 2, "all": 6}
OPS = ["version", "numofdomains", "state", "interface", "cpu-total", "balloon", "vcpu",
       "block", "all"]
CLIENTS = [1, 2, 4, 8]
# (key, GROUPS, wait): the question's pair with NOWAIT as the plugin calls it, then
# (largest VM count only) the job-free group alone and the pair waiting for jobs.
CLIENT_CONFS = [("cpu-total,interface", "cpu-total,interface", False),
                ("interface", "interface", False),
                ("cpu-total,interface wait", "cpu-total,interface", True)]
GROUP_FIELDS = ("wall_ms", "wall_p50_ms", "lv_ms", "lv_user_ms", "lv_sys_ms", "qemu_ms",
                "sc", "qsc", "qrecv", "domains", "params")
ROUND_FIELDS = ("wall_ms", "lv_ms", "lv_user_ms", "lv_sys_ms", "qemu_ms", "calls", "sc")


def plan(smoke):
    if smoke:
        return {"counts": [3], "group_s": 0.3, "rounds": 1, "perdomain_s": 0.3,
                "clients_s": 0.5, "blockinfo_s": 0.5, "idle_s": 1, "executor_iter": 2000}
    # On the running VMs `cost` starts anyway (run_on): no VMs of its own to set up.
    # Alone (run), it starts them itself: 80 more took 112 s on this loaded 2-CPU host.
    return {"counts": [20, 100], "group_s": 1.0, "rounds": 2, "perdomain_s": 1.5,
            "clients_s": 2.5, "blockinfo_s": 2.0, "idle_s": 2, "executor_iter": 20000}


def running_counts(smoke):
    return plan(smoke)["counts"]


def tool():
    path = os.path.join(rig.build_dir(), "tests", "bench", "vslvbench")
    if not os.access(path, os.X_OK):
        raise rig.RigError(f"{path} not built (target vslvbench)")
    return path


# ---- measuring ----------------------------------------------------------------------

def stat_ticks(pid):
    """(utime, stime) of pid's threads in clock ticks (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def host_busy_ticks():
    """Clock ticks the host's CPUs spent busy (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4]


def snapshot(lv, qemus, client):
    u, s = stat_ticks(lv)
    qn = 0
    for p in qemus:
        qn += rig.proc_cpu_ns(p)
    return {"t": time.monotonic(), "lv_ns": rig.proc_cpu_ns(lv), "lv_u": u, "lv_s": s,
            # the client's threads are gone by the second snapshot: schedstat of live
            # threads would miss them, the process's tick totals keep them
            "q_ns": qn, "cl_ns": (sum(stat_ticks(client)) * 1e9 / os.sysconf("SC_CLK_TCK")
                                  if client else 0),
            "host": host_busy_ticks()}


SYSCALLS = "raw_syscalls:sys_enter"
RECVMSG = "syscalls:sys_enter_recvmsg"  # how QEMU's monitor reads its socket


class Perf:
    """`perf stat -e EVENTS` attached to pids, started with its counters disabled and
    switched on and off through its control fifo, so it counts exactly a window (its
    start-up is not in it). count(event) after stop(); None when perf failed."""

    def __init__(self, pids, work, tag, events=(SYSCALLS,)):
        self.out = os.path.join(work, f"perf-{tag}.out")
        self.ctl_path = os.path.join(work, f"perf-{tag}.ctl")
        ack_path = os.path.join(work, f"perf-{tag}.ack")
        for p in (self.ctl_path, ack_path):
            if os.path.exists(p):
                os.unlink(p)
            os.mkfifo(p)
        self.ack = os.open(ack_path, os.O_RDONLY | os.O_NONBLOCK)
        self.ctl = None
        self.error = None
        self.p = subprocess.Popen(
            ["perf", "stat", "-x,", "-o", self.out, "-e", ",".join(events),
             "-p", ",".join(str(p) for p in pids), "--control",
             f"fifo:{self.ctl_path},{ack_path}", "-D", "-1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        deadline = time.monotonic() + 10
        while self.ctl is None:
            try:  # fails with ENXIO until perf has opened its end
                self.ctl = os.open(self.ctl_path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if self.p.poll() is not None or time.monotonic() > deadline:
                    self.error = f"perf did not start: {self._stderr()}"
                    return
                time.sleep(0.01)

    def _stderr(self):
        if self.p.poll() is None:
            return "no answer"
        return (self.p.stderr.read() or "").strip()[-300:]

    def command(self, what):
        if self.error:
            return False
        os.write(self.ctl, (what + "\n").encode())
        r, _, _ = select.select([self.ack], [], [], 10)
        if not r or not os.read(self.ack, 64).startswith(b"ack"):
            self.error = f"perf did not acknowledge '{what}'"
            return False
        return True

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for fd in (self.ctl, self.ack):
            if fd is not None:
                os.close(fd)
        self.ctl = self.ack = None

    def count(self, event=SYSCALLS):
        if self.error:
            return None
        try:
            with open(self.out) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) > 2 and parts[2] == event:
                        # "<not counted>": no watched thread ran in the window
                        return int(parts[0]) if parts[0].isdigit() else 0
        except OSError:
            pass
        return None


class Meter:
    """Runs vslvbench --sync and reads libvirtd's and the QEMUs' CPU (and, with perf,
    their syscalls) around exactly its timed calls, the idle rates subtracted."""

    def __init__(self, qemus, work, use_perf):
        self.qemus, self.work, self.use_perf = qemus, work, use_perf
        self.perf_error = None
        self.idle = None

    def _perfs(self):
        if not self.use_perf or self.perf_error:
            return []
        ps = [Perf([rig.libvirtd_pid()], self.work, "lv"),
              Perf(self.qemus, self.work, "qemu", (SYSCALLS, RECVMSG))]
        for p in ps:
            if p.error:
                self.perf_error = p.error
        if self.perf_error:
            for p in ps:
                p.stop()
            return []
        return ps

    def _window(self, go, done, client=None):
        """Counters around go() .. done(): {seconds, lv_ns, lv_u, lv_s, q_ns, cl_ns (the
        client's CPU), sc, qsc, qrecv, host_cores (the host's busy CPUs, nothing subtracted)}."""
        lv = rig.libvirtd_pid()
        perfs = self._perfs()
        s0 = snapshot(lv, self.qemus, client)
        for p in perfs:
            p.command("enable")
        go()
        done()
        for p in perfs:
            p.command("disable")
        s1 = snapshot(lv, self.qemus, client)
        for p in perfs:
            p.stop()
            if p.error:
                self.perf_error = p.error
        w = {k: s1[k] - s0[k] for k in ("lv_ns", "lv_u", "lv_s", "q_ns", "cl_ns")}
        w["seconds"] = s1["t"] - s0["t"]
        w["host_cores"] = ((s1["host"] - s0["host"]) / os.sysconf("SC_CLK_TCK") /
                           w["seconds"])
        w["sc"], w["qsc"], w["qrecv"] = ((perfs[0].count(), perfs[1].count(),
                                          perfs[1].count(RECVMSG)) if perfs
                                         else (None, None, None))
        return w

    def measure_idle(self, seconds):
        """The idle rates (per second) of everything _window() reads."""
        w = self._window(lambda: None, lambda: time.sleep(seconds))
        self.idle = {k: (v / w["seconds"] if v is not None else None)
                     for k, v in w.items() if k not in ("seconds", "host_cores", "cl_ns")}
        self.idle["host_cores"] = w["host_cores"]  # kept as it is, not subtracted
        return self.idle

    def run(self, *args):
        """vslvbench --sync ARGS: (its JSON, the window's counters, idle subtracted)."""
        err = tempfile.TemporaryFile(mode="w+")
        p = subprocess.Popen([tool(), "--sync", *args], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=err, text=True)

        def expect(word):
            line = p.stdout.readline().strip()
            if line != word:
                p.kill()
                p.wait()
                err.seek(0)
                raise rig.RigError(f"vslvbench {' '.join(args)}: {err.read().strip() or line}")

        def tell():
            p.stdin.write("go\n")
            p.stdin.flush()
        # a call stuck in libvirt must fail the run, not hang it
        watchdog = threading.Timer(TOOL_TIMEOUT, p.kill)
        watchdog.start()
        try:
            expect("ready")
            w = self._window(tell, lambda: expect("done"), client=p.pid)
            tell()
            out, _ = p.communicate()
            if p.returncode != 0:
                err.seek(0)
                raise rig.RigError(f"vslvbench {' '.join(args)}: exit {p.returncode}: "
                                   f"{err.read().strip()}")
        finally:
            watchdog.cancel()
            if p.poll() is None:
                p.kill()
                p.wait()
            err.close()
        for k, rate in (self.idle or {}).items():
            if k != "host_cores" and rate is not None and w.get(k) is not None:
                w[k] -= rate * w["seconds"]
        return json.loads(out), w


def per(w, n):
    """Per-unit figures of a window: ms of libvirtd CPU (split user/system by the
    ticks' shares), ms of QEMU CPU, syscalls."""
    n = max(1, n)
    lv = max(0.0, w["lv_ns"]) / 1e6 / n
    ticks = w["lv_u"] + w["lv_s"]
    user = lv * w["lv_u"] / ticks if ticks > 0 else None
    return {"lv_ms": lv, "lv_user_ms": user,
            "lv_sys_ms": lv - user if user is not None else None,
            "qemu_ms": max(0.0, w["q_ns"]) / 1e6 / n,
            "sc": max(0.0, w["sc"]) / n if w.get("sc") is not None else None,
            "qsc": max(0.0, w["qsc"]) / n if w.get("qsc") is not None else None,
            "qrecv": max(0.0, w["qrecv"]) / n if w.get("qrecv") is not None else None}


def run_tool(*args):
    """vslvbench ARGS without --sync: its JSON."""
    try:
        cp = subprocess.run([tool(), *args], capture_output=True, text=True,
                            timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise rig.RigError(f"vslvbench {' '.join(args)}: no answer in {TOOL_TIMEOUT} s") from e
    if cp.returncode != 0:
        raise rig.RigError(f"vslvbench {' '.join(args)}: exit {cp.returncode}: "
                           f"{cp.stderr.strip()}")
    return json.loads(cp.stdout)


# ---- the parts ----------------------------------------------------------------------

def part_groups(m, p):
    def one(op):
        j, w = m.run("groups", URI, str(p["group_s"]), op)
        r = per(w, j["calls"])
        r.update(wall_ms=j["wall_s"] * 1e3 / j["calls"],
                 wall_p50_ms=j["call_us"]["median"] / 1e3, calls=j["calls"],
                 domains=j["domains_per_call"], params=j["params_per_call"])
        return r

    def show(r):
        sc = f", {r['sc']:.0f} syscalls" if r.get("sc") is not None else ""
        return (f"{r['wall_ms']:8.3f} ms/call, libvirtd {r['lv_ms']:7.3f} ms "
                f"(sys {r['lv_sys_ms'] or 0:6.3f}), QEMU {r['qemu_ms']:7.3f} ms{sc}")
    rs = bc.alternate([(op,) for op in OPS], p["rounds"], one, show)
    return {op: {"runs": x, "summary": bc.summarize(x, GROUP_FIELDS)} for op, x in rs.items()}


def part_perdomain(m, p):
    def one(mode):
        j, w = m.run("perdomain", URI, str(p["perdomain_s"]), mode)
        r = per(w, j["rounds"])
        r.update(wall_ms=j["wall_s"] * 1e3 / j["rounds"], rounds=j["rounds"],
                 calls=j["calls"] / j["rounds"], domains=j["domains_per_round"])
        return r

    def show(r):
        return (f"{r['wall_ms']:8.2f} ms/round ({r['calls']:.0f} calls), libvirtd "
                f"{r['lv_ms']:7.2f} ms, QEMU {r['qemu_ms']:6.2f} ms")
    rs = bc.alternate([("bulk",), ("each",)], p["rounds"], one, show)
    return {mode: {"runs": x, "summary": bc.summarize(x, ROUND_FIELDS)}
            for mode, x in rs.items()}


def part_clients(m, p, confs):
    out = {}
    for key, groups, wait in confs:
        out[key] = {}
        for n in CLIENTS:
            args = ["clients", URI, str(n), str(p["clients_s"]), groups]
            j, w = m.run(*(args + (["wait"] if wait else [])))
            r = per(w, j["calls"])
            r.update(calls_per_s=j["calls_per_s"], domains_per_s=j["domains_per_s"],
                     calls=j["calls"], p50_ms=j["call_us"].get("median", 0) / 1e3,
                     p99_ms=j["call_us"].get("p99", 0) / 1e3,
                     params_per_domain=j["params_per_domain"],
                     domains_per_call=j["domains_per_call"],
                     lv_cores=max(0.0, w["lv_ns"]) / 1e9 / w["seconds"],
                     qemu_cores=max(0.0, w["q_ns"]) / 1e9 / w["seconds"],
                     client_cores=max(0.0, w["cl_ns"]) / 1e9 / w["seconds"],
                     host_cores=w["host_cores"])
            out[key][str(n)] = r
            print(f"  clients {key:26s} N={n}: {r['calls_per_s']:8.1f} calls/s, "
                  f"{r['domains_per_s']:9.0f} domains/s, libvirtd {r['lv_ms']:.2f} ms/call "
                  f"({r['lv_cores']:.2f} cores), host busy {r['host_cores']:.2f} CPUs, p50 "
                  f"{r['p50_ms']:.2f} ms, "
                  f"{r['params_per_domain']:.1f} params/domain", flush=True)
    return out


def part_blockinfo(p):
    j = run_tool("blockinfo", URI, str(p["blockinfo_s"]))
    print(f"  blockinfo: {j['disks']} disks, GetBlockInfo p50 {j['direct_us']['median']:.0f} µs"
          f"/disk, through the executor {j['executor_us']['median']:.0f} µs (+"
          f"{j['executor_overhead_us']:.1f}), bulk block {j['bulk_block_us']['median']:.0f} µs"
          f"/call = {j['bulk_per_disk_us']:.0f} µs/disk; no-op job "
          f"{j['noop_overhead_us']:.1f} µs", flush=True)
    return j


def create(vms, names):
    """Start the transient VMs names, four virsh at once; seconds taken."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(vms.create_one, names))
    return time.monotonic() - t0


def run(a, data, save):
    """Alone: starts its own running VMs, count by count."""
    p = plan(a.smoke)
    data.pop(NAME, None)  # figures of an earlier run
    t_wait = time.monotonic()
    with rig.ensure_libvirtd(), rig.VMs(n=max(p["counts"]), disks=1, nics=1) as vms:
        # timed from here: the host lock (other runs' VMs) may have kept us waiting
        t_start = time.monotonic()
        names = [f"{vms.prefix}{i:02d}" for i in range(max(p["counts"]))]
        made, create_s = 0, {}
        for n in p["counts"]:
            print(f"libvirt: creating VMs up to {n} ({vms.domain_type})", flush=True)
            create_s[str(n)] = create(vms, names[made:n])
            made = n
            vms.wait_idle(names=names[:n])
            run_on(a, data, save, vms, names[:n])
            data[NAME]["create_s"] = create_s
            data[NAME]["lock_wait_s"] = t_start - t_wait
        t_destroy = time.monotonic()
    d = data[NAME]
    d["destroy_s"] = time.monotonic() - t_destroy
    d["total_s"] = time.monotonic() - t_start
    print(f"libvirt: VMs removed in {d['destroy_s']:.0f} s; section took {d['total_s']:.0f} s",
          flush=True)
    save()


def run_on(a, data, save, vms, names):
    """Measures on the running, idle VMs names (one count of plan()["counts"])."""
    p = plan(a.smoke)
    n = len(names)
    d = data.get(NAME)
    if d is None:  # the first count
        tool()
        d = data[NAME] = dict(p, by_vms={}, source="libvirt 9.0 qemu_driver.c",
                              domain_type=vms.domain_type)
        ex = d["executor"] = run_tool("executor", str(p["executor_iter"]))
        print(f"libvirt: executor no-op job {ex['executor_us']['median']:.1f} µs median "
              f"(direct call {ex['direct_us']['median']:.2f} µs)", flush=True)
        save()
    work = tempfile.mkdtemp(prefix="virtscale-bench-libvirt-")
    try:
        e = d["by_vms"][str(n)] = {}
        m = Meter([vms.qemu_pid(x) for x in names], work, use_perf=True)
        e["idle"] = m.measure_idle(p["idle_s"])
        d["perf"] = m.perf_error or "ok"
        print(f"libvirt: {n} VMs; idle: libvirtd {e['idle']['lv_ns'] / 1e6:.2f} ms/s, QEMUs "
              f"{e['idle']['q_ns'] / 1e6:.1f} ms/s (subtracted); perf: {d['perf']}",
              flush=True)
        last = n == max(p["counts"])
        parts = [("groups", lambda: part_groups(m, p)),
                 ("perdomain", lambda: part_perdomain(m, p)),
                 ("clients", lambda: part_clients(
                     m, p, CLIENT_CONFS if last else CLIENT_CONFS[:1])),
                 ("blockinfo", lambda: part_blockinfo(p))]
        e["part_s"] = {}
        for key, fn in parts:
            t0 = time.monotonic()
            e[key] = fn()
            e["part_s"][key] = time.monotonic() - t0
            d["perf"] = m.perf_error or "ok"
            save()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- report -------------------------------------------------------------------------

def f1(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def counts(d):
    return sorted(d.get("by_vms", {}), key=int)


def report(data, out, written):
    d = data.get(NAME)
    if not d or not d.get("by_vms"):
        return []
    kvm = "KVM" if d.get("domain_type") == "kvm" else "TCG"
    lines = [
        "## libvirt: what a statistics call costs, bulk against per-domain, concurrent "
        "clients, block info", "",
        f"A small libvirt client (`tests/bench/vs_lvbench.c`) against running tiny VMs "
        f"(one disk, one NIC each, {kvm}). Every bulk call asks for running domains with "
        f"NOWAIT, as the plugin does. CPU from `/proc` around exactly the timed calls "
        f"(connection set-up and a warm-up call excluded), idle CPU subtracted; libvirtd's "
        f"CPU split into user and system by its tick counts; *QEMU* is the CPU of all the "
        f"VMs' QEMUs together (the monitor's side); *syscalls*: `perf stat -e "
        f"raw_syscalls:sys_enter` on libvirtd and on the QEMUs "
        f"({'counted' if d.get('perf') == 'ok' else 'not counted: ' + str(d.get('perf'))}). "
        f"Medians [min–max] over {d['rounds']} round(s) of {d['group_s']:g} s per "
        f"call type, alternated. Command: `{bc.COMMAND} --sections libvirt`.", ""]
    if d.get("create_s"):
        lines += ["Starting the VMs (four at once): " +
                  ", ".join(f"up to {n}: {s:.0f} s" for n, s in d["create_s"].items()) +
                  (f"; removing them {d['destroy_s']:.0f} s" if d.get("destroy_s") else "") +
                  (f"; the section took {d['total_s'] / 60:.1f} min." if d.get("total_s")
                   else "."), ""]
    for n in counts(d):
        lines += groups_lines(d, n)
    lines += perdomain_lines(d)
    lines += clients_lines(d)
    lines += blockinfo_lines(d)
    lines += bc.image(plot(d, out), written, "per group: wall and CPU per VM")
    return lines


def groups_lines(d, n):
    g = d["by_vms"][n].get("groups")
    if not g:
        return []
    lines = [f"### (a) Per statistics group, {n} VMs", "",
             "| call | libvirt 9.0 does | domains | wall ms/call | µs/VM | libvirtd ms/call "
             "(user / sys) | QEMU ms/call | libvirtd syscalls/call | QEMU syscalls/call | "
             "QEMU recvmsg/call |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for op in OPS:
        s = g.get(op, {}).get("summary")
        if not s:
            continue
        dom = bc.med(s, "domains") or 0
        wall = bc.med(s, "wall_ms")
        lines.append(
            f"| {op} | {GROUP_SOURCE[op]} | {dom:.0f} | {bc.fmt(s, 'wall_ms', 3)} | "
            f"{(f'{1000 * wall / dom:.0f}' if dom else '-')} | {bc.fmt(s, 'lv_ms', 3)} "
            f"({f1(bc.med(s, 'lv_user_ms'), 3)} / {f1(bc.med(s, 'lv_sys_ms'), 3)}) | "
            f"{bc.fmt(s, 'qemu_ms', 3)} | {f1(bc.med(s, 'sc'), 0)} | "
            f"{f1(bc.med(s, 'qsc'), 0)} | {f1(bc.med(s, 'qrecv'), 0)} |")
    return lines + [""]


def perdomain_lines(d):
    rows = []
    for n in counts(d):
        pd = d["by_vms"][n].get("perdomain")
        if not pd:
            continue
        b, e = pd.get("bulk", {}).get("summary", {}), pd.get("each", {}).get("summary", {})
        for mode, s in (("bulk: one call", b), ("per domain: one call each", e)):
            wall, lv = bc.med(s, "wall_ms"), bc.med(s, "lv_ms")
            rel = ""
            if mode.startswith("per") and bc.med(b, "wall_ms"):
                rel = (f"{wall / bc.med(b, 'wall_ms'):.2f}× / "
                       f"{lv / bc.med(b, 'lv_ms'):.2f}×" if lv and bc.med(b, 'lv_ms') else "")
            rows.append(f"| {n} | {mode} | {bc.fmt(s, 'calls', 0)} | {bc.fmt(s, 'wall_ms', 1)} |"
                        f" {bc.fmt(s, 'lv_ms', 1)} ({f1(bc.med(s, 'lv_user_ms'), 1)} / "
                        f"{f1(bc.med(s, 'lv_sys_ms'), 1)}) | {bc.fmt(s, 'qemu_ms', 1)} | "
                        f"{f1(bc.med(s, 'sc'), 0)} | {rel or '-'} |")
    if not rows:
        return []
    return ["### (b) All six groups: one bulk call against one call per domain", "",
            "A round samples every running VM once (state, cpu-total, balloon, vcpu, "
            "interface, block): one `virConnectGetAllDomainStats`, or one "
            "`virDomainListGetStats` per domain (handles listed once, outside the timing).",
            "",
            "| VMs | round | calls | wall ms/round | libvirtd ms/round (user / sys) | QEMU "
            "ms/round | libvirtd syscalls/round | per domain ÷ bulk: wall / libvirtd |",
            "|---|---|---|---|---|---|---|---|"] + rows + [""]


def clients_lines(d):
    lines = []
    for n in counts(d):
        cl = d["by_vms"][n].get("clients")
        if not cl:
            continue
        if not lines:
            cpus = os.cpu_count() or 1
            lines = ["### (c) Concurrent clients", "",
                     f"N threads, each on its own connection, calling bulk statistics "
                     f"back to back for {d['clients_s']:g} s. This machine has {cpus} CPUs, "
                     f"and libvirtd, the QEMUs and the clients share them: ideal scaling is "
                     f"at most {min(cpus, max(CLIENTS))}× the throughput of N = 1. CPU in "
                     f"cores (CPU-seconds per second): libvirtd, the QEMUs, the client "
                     f"process, and the host's busy CPUs (`/proc/stat`, everything). "
                     f"*fields/VM*: typed parameters per domain (NOWAIT skips a domain whose "
                     f"job another call holds: it then lacks the fields that need the "
                     f"monitor). *wait*: without NOWAIT.", "",
                     "| VMs | groups | N | calls/s | VMs/s | × N=1 | call p50 / p99 ms | "
                     "libvirtd ms/call | cores: libvirtd / QEMU / client / host | fields/VM |",
                     "|---|---|---|---|---|---|---|---|---|---|"]
        for key, by_n in cl.items():
            base = by_n.get("1", {}).get("domains_per_s")
            for k in sorted(by_n, key=int):
                r = by_n[k]
                gain = f"{r['domains_per_s'] / base:.2f}×" if base else "-"
                lines.append(
                    f"| {n} | {key} | {k} | {r['calls_per_s']:.1f} | {r['domains_per_s']:.0f} |"
                    f" {gain} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | {r['lv_ms']:.3f} | "
                    f"{r['lv_cores']:.2f} / {r['qemu_cores']:.2f} / "
                    f"{f1(r.get('client_cores'))} / {f1(r.get('host_cores'))} | "
                    f"{r['params_per_domain']:.1f} |")
    return lines + [""] if lines else []


def blockinfo_lines(d):
    rows, extra = [], []
    for n in counts(d):
        j = d["by_vms"][n].get("blockinfo")
        if not j:
            continue
        rows.append(
            f"| {n} | {j['disks']} | {j['direct_us']['median']:.0f} [p99 "
            f"{j['direct_us']['p99']:.0f}] | {j['executor_us']['median']:.0f} [p99 "
            f"{j['executor_us']['p99']:.0f}] | {j['executor_overhead_us']:.1f} | "
            f"{j['bulk_block_us']['median'] / 1000:.2f} | {j['bulk_per_disk_us']:.0f} | "
            f"{j['noop_overhead_us']:.1f} | {j['timeouts']} |")
        bi, bk = j["blockinfo_sizes"], j["bulk_sizes"]
        extra = [f"Sizes of the first disk ({j['first_disk']}, a qcow2 file), "
                 f"virDomainGetBlockInfo against the block group: capacity {bi['capacity']} "
                 f"/ {bk['capacity']}, allocation {bi['allocation']} / {bk['allocation']}, "
                 f"physical {bi['physical']} / {bk['physical']} bytes. "
                 f"virDomainGetBlockInfo with a flag: \"{j['blockinfo_flag_1']}\".", ""]
    if not rows:
        return []
    ex = d.get("executor", {})
    pure = (f" Alone (`vslvbench executor {ex.get('iter')}`), a no-op job through the "
            f"executor takes {ex['executor_us']['median']:.1f} µs median "
            f"(p99 {ex['executor_us']['p99']:.1f}).") if ex.get("executor_us") else ""
    return ["### (d) Block info: per disk, through a deadline, or from the block group", "",
            "`virDomainGetBlockInfo` per disk, the same call as a job through virtscale's "
            "timed executor (one worker, deadline 5 s; the job owns its domain reference, "
            "as the plugin's are), alternated call by call, and one bulk call of the block "
            "group (NOWAIT) per round; µs, medians. *no-op*: what a job that does nothing "
            "costs through the executor, less a direct call." + pure, "",
            "| VMs | disks | GetBlockInfo µs/disk | through executor µs | deadline costs µs |"
            " block group ms/call | block group µs/disk | no-op job µs | missed deadlines |",
            "|---|---|---|---|---|---|---|---|---|"] + rows + [""] + extra


def plot(d, out):
    """Per group at the largest VM count: wall, libvirtd user, libvirtd system, QEMU CPU,
    µs per VM, clustered bars."""
    ns = counts(d)
    g = d["by_vms"][ns[-1]].get("groups") if ns else None
    if not g:
        return None
    n = int(ns[-1])
    datf = os.path.join(out, "bench-libvirt-groups.dat")
    with open(datf, "w") as f:
        f.write("# op wall lv_user lv_sys qemu (µs per VM)\n")
        for op in OPS:
            s = g.get(op, {}).get("summary")
            if not s or op == "version":
                continue
            vals = [bc.med(s, k) for k in ("wall_ms", "lv_user_ms", "lv_sys_ms", "qemu_ms")]
            f.write(f'"{op}" ' + " ".join("nan" if v is None else f"{1000 * v / n:.2f}"
                                          for v in vals) + "\n")
    png = os.path.join(out, "bench-libvirt-groups.png")
    floor = (bc.med(g.get("version", {}).get("summary"), "wall_ms") or 0) * 1000
    bc.gnuplot("set terminal pngcairo size 900,480 noenhanced\n"
               f"set output '{png}'\n"
               f"set title 'One bulk call per group over {n} running VMs: µs per VM "
               f"(round trip alone: {floor:.0f} µs per call)'\n"
               "set style data histograms\nset style histogram clustered gap 1\n"
               "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
               "set ylabel 'µs per VM per call'\nset key top left\nset grid ytics\n"
               "set xtics rotate by -30\n"
               f"plot '{datf}' using 2:xtic(1) title 'wall', '' using 3 title "
               "'libvirtd user CPU', '' using 4 title 'libvirtd system CPU', '' using 5 "
               "title 'QEMU CPU (all VMs)'\n")
    os.unlink(datf)
    return png


# ---- findings -----------------------------------------------------------------------

def findings(data):
    d = data.get(NAME)
    if not d or not d.get("by_vms"):
        return []
    cmd = f"Command: `{bc.COMMAND} --sections libvirt`; tables in [BENCHMARKS.md](BENCHMARKS.md)."
    out = []
    out += findings_a(d) + [cmd, ""]
    out += findings_b(d) + [cmd, ""]
    out += findings_c(d) + [cmd, ""]
    out += findings_d(d) + [cmd, ""]
    return out


def gsum(d, n, op):
    return d["by_vms"][n].get("groups", {}).get(op, {}).get("summary", {})


def findings_a(d):
    out = ["**(a) What dominates a statistics call.** One bulk call per group over every "
           "running VM, NOWAIT; per call: wall, libvirtd CPU (system part), the QEMUs' CPU, "
           "libvirtd's syscalls:", ""]
    for n in counts(d):
        parts = []
        for op in ("version", "state", "interface", "cpu-total", "balloon", "vcpu", "block",
                   "all"):
            s = gsum(d, n, op)
            wall, lv, q = bc.med(s, "wall_ms"), bc.med(s, "lv_ms"), bc.med(s, "qemu_ms")
            if wall is None:
                continue
            sc, sys_ = bc.med(s, "sc"), bc.med(s, "lv_sys_ms")
            parts.append(f"{op} {wall:.2f} ms: libvirtd {lv:.2f} (sys {f1(sys_)}), QEMU "
                         f"{q:.2f}" + (f", {sc:.0f} syscalls" if sc is not None else ""))
        out.append(f"- {n} VMs: " + "; ".join(parts) + ".")
    ns = counts(d)
    n = ns[-1]
    ver = bc.med(gsum(d, n, "version"), "wall_ms")
    mon = [op for op in ("cpu-total", "balloon", "vcpu", "block")
           if bc.med(gsum(d, n, op), "wall_ms")]
    if ver is None or not mon:
        return out + [""]

    def tot(key, ops):
        xs = [bc.med(gsum(d, n, op), key) for op in ops]
        return sum(xs) if all(x is not None for x in xs) else None
    mw, ml, mq = tot("wall_ms", mon), tot("lv_ms", mon), tot("qemu_ms", mon)
    msys, msc, mqsc = tot("lv_sys_ms", mon), tot("sc", mon), tot("qsc", mon)
    ans = (f"- Answer ({n} VMs): not the round trip — a call with no driver work takes "
           f"{1000 * ver:.0f} µs, {100 * ver / (mw / len(mon)):.1f} % of a monitor group's "
           f"bulk call (a per-domain caller pays it once per VM). The groups that take "
           f"each domain's job and query its monitor (cpu-total too in libvirt 9.0: "
           f"`query-stats` for halt-polling) cost {1000 * mw / len(mon) / int(n):.0f} µs per "
           f"VM and call on average, and their wall is the sum of both sides of each monitor "
           f"exchange, domain after domain: of {mw:.0f} ms (the four groups), QEMU spent "
           f"{mq:.0f} ms of CPU answering and libvirtd {ml:.0f} ms asking"
           + (f" ({100 * msys / ml:.0f} % of it system time)" if msys is not None else "")
           + ". Monitor access dominates, and most of it is QEMU's CPU"
           + (f" ({mqsc / len(mon) / int(n):.0f} syscalls in QEMU per VM and group against "
              f"{msc / len(mon) / int(n):.0f} in libvirtd)" if msc and mqsc else "")
           + ".")
    out.append(ans)
    rv = tot("qrecv", mon)
    cmds = sum(MONITOR_COMMANDS[op] for op in mon) * int(n)
    if rv and mqsc:
        out.append(
            f"- Why QEMU's side costs so much: its monitor took {rv / cmds:.0f} `recvmsg` calls "
            f"per QMP command (a command from libvirt is some 50–200 bytes of JSON) and "
            f"{mqsc / rv:.1f} syscalls in all per `recvmsg`: QEMU's QMP monitor reads its "
            f"socket one byte per call and wakes its main loop for each (seen with "
            f"`strace -f -p <QEMU pid>`: `recvmsg(...) = 1`, then eventfd writes and a poll). "
            f"QEMU's CPU per group follows its syscall count: much of what a monitor query "
            f"costs QEMU is reading the command.")
    i = gsum(d, n, "interface")
    iw, isys, ilv = bc.med(i, "wall_ms"), bc.med(i, "lv_sys_ms"), bc.med(i, "lv_ms")
    if iw is not None and isys is not None and ilv:
        grow = ""
        if len(ns) > 1:
            a0 = bc.med(gsum(d, ns[0], "interface"), "wall_ms")
            if a0:
                u0, u1 = 1000 * a0 / int(ns[0]), 1000 * iw / int(n)
                grow = ((", and its cost per VM grows with the VM count" if u1 > 1.15 * u0
                         else ", its cost per VM nearly flat so far") +
                        f" ({u0:.0f} µs per VM at {ns[0]} VMs, {u1:.0f} at {n}): libvirt "
                        f"reads /proc/net/dev, which lists every host interface, once per NIC, "
                        f"so the group is quadratic in the NIC count in principle")
        out.append(f"- Syscalls dominate only the job-free interface group: {iw:.1f} ms per "
                   f"call at {n} VMs, {100 * isys / ilv:.0f} % of libvirtd's CPU in the "
                   f"kernel{grow}.")
    out.append("")
    return out


def findings_b(d):
    out = ["**(b) Bulk against per-domain calls.**", ""]
    saved = []
    for n in counts(d):
        pd = d["by_vms"][n].get("perdomain")
        if not pd:
            continue
        b, e = pd["bulk"]["summary"], pd["each"]["summary"]
        bw, ew, bl, el = (bc.med(b, "wall_ms"), bc.med(e, "wall_ms"), bc.med(b, "lv_ms"),
                          bc.med(e, "lv_ms"))
        bq, eq = bc.med(b, "qemu_ms"), bc.med(e, "qemu_ms")
        if None in (bw, ew, bl, el):
            continue
        saved.append((1 - bl / el, 1 - bw / ew))
        out.append(f"- {n} VMs, all six groups, one round: bulk {bw:.0f} ms wall and {bl:.0f} ms "
                   f"of libvirtd CPU; one call per domain {ew:.0f} ms and {el:.0f} ms "
                   f"({ew / bw:.2f}× and {el / bl:.2f}× bulk's); the QEMUs {f1(bq, 0)} and "
                   f"{f1(eq, 0)} ms.")
    if not saved:
        return out + [""]
    lo_cpu, hi_cpu = min(x for x, _ in saved), max(x for x, _ in saved)
    lo_w, hi_w = min(y for _, y in saved), max(y for _, y in saved)
    def span(lo, hi):
        return f"{100 * lo:.0f}" if round(100 * lo) == round(100 * hi) else \
            f"{100 * lo:.0f} to {100 * hi:.0f}"
    out += [f"- Answer: the bulk call saved {span(lo_cpu, hi_cpu)} % of libvirtd's CPU and "
            f"{span(lo_w, hi_w)} % of the wall per round"
            + (" (negative: the per-domain calls were cheaper in that run)"
               if min(lo_cpu, lo_w) < 0 else "")
            + " — the per-call overhead (round trip, RPC dispatch, ACL check, domain lookup), "
            f"small beside the monitor work every domain needs whichever way it is asked. "
            f"Bulk does not make sampling cheaper by factors; what it "
            f"gives is one call to schedule and NOWAIT over every domain at once. The "
            f"`growth` section compares the two modes in the plugin itself with paused VMs "
            f"up to 300.", ""]
    return out


def findings_c(d):
    out = ["**(c) Locks in the QEMU driver under concurrent clients.**", ""]
    cpus = os.cpu_count() or 1
    ceiling = min(cpus, max(CLIENTS))
    top = str(max(CLIENTS))
    for n in counts(d):
        cl = d["by_vms"][n].get("clients", {})
        for key, by_n in cl.items():
            base = by_n.get("1")
            if not base:
                continue
            best = max(by_n, key=lambda k: by_n[k]["domains_per_s"])
            r = by_n.get(top, base)
            host = r.get("host_cores")
            out.append(
                f"- {n} VMs, {key}: N=1 {base['domains_per_s']:.0f} VMs/s "
                f"({base['lv_ms']:.1f} ms of libvirtd CPU per call); best N={best} "
                f"{by_n[best]['domains_per_s'] / base['domains_per_s']:.2f}×; N={top} "
                f"{r['domains_per_s'] / base['domains_per_s']:.2f}× with call p50 "
                f"{base['p50_ms']:.0f} → {r['p50_ms']:.0f} ms, {r['lv_ms']:.1f} ms of libvirtd "
                f"CPU per call, libvirtd {r['lv_cores']:.2f} + QEMUs {r['qemu_cores']:.2f} "
                f"cores" + (f", host {host:.2f} of {cpus} CPUs busy" if host is not None else "")
                + f", {r['params_per_domain']:.1f} fields per VM (N=1: "
                f"{base['params_per_domain']:.1f}).")
    n = counts(d)[-1]
    cl = d["by_vms"][n].get("clients", {})

    def at(key):
        by_n = cl.get(key, {})
        if "1" not in by_n:
            return None, None
        best = max(by_n, key=lambda k: by_n[k]["domains_per_s"])
        return by_n[best]["domains_per_s"] / by_n["1"]["domains_per_s"], by_n[best]
    gi, ri = at("interface")
    gw, rw = at("cpu-total,interface wait")
    gn, rn = at("cpu-total,interface")
    if None in (gi, gw, gn):
        return out + [""]
    busy = [r.get("host_cores") for r in (ri, rw, rn)]
    saturated = (None if None in busy else all(b >= 0.85 * cpus for b in busy))
    lost = (cl["cpu-total,interface"]["1"]["params_per_domain"] -
            cl["cpu-total,interface"].get(top, rn)["params_per_domain"])
    out.append(
        f"- Answer ({n} VMs; {cpus} CPUs shared by libvirtd, the QEMUs and the clients, so "
        f"{ceiling}× N=1 is the ceiling): network statistics (interface: no job, the domain "
        f"object's lock for a moment) reach {gi:.2f}×, CPU + network statistics "
        f"{gn:.2f}× with NOWAIT" + (" (past the ceiling only because busy domains' monitor "
                                    "work was skipped)" if gn > ceiling else "")
        + f" and {gw:.2f}× waiting for each domain's job. "
        + ("" if saturated is None else
           "The host's CPUs were busy at the best N in all three, so the machine's "
           f"{cpus} CPUs, not a lock, end the scaling: no driver-wide lock limits concurrent "
           f"CPU or network statistics. "
           if saturated else
           "The best N left the host's CPUs partly idle in at least one of them, so "
           "something other than CPU limits it there: see the cores in the table. ")
        + f"What does serialise them is each domain's job (libvirt 9.0 takes it for "
        f"cpu-total) with the QEMU monitor behind it: one call per domain at a time, so "
        f"waiting clients queue (call p50 grows with N at equal throughput) and NOWAIT "
        f"clients skip the busy domains' monitor fields ({lost:.1f} fields per VM fewer at "
        f"N={top}). One sampler per host (virtscale's single bulk caller) avoids both.")
    out.append("")
    return out


def findings_d(d):
    out = ["**(d) A non-blocking block info.**", ""]
    last = None
    for n in counts(d):
        j = d["by_vms"][n].get("blockinfo")
        if not j:
            continue
        last = j
        direct, over = j["direct_us"]["median"], j["executor_overhead_us"]
        spread = j["direct_us"]["p90"] - direct
        cost = (f"adds {over:.0f} µs to a median call of {direct:.0f} µs" if over > spread
                else f"changes a median call of {direct:.0f} µs by {over:+.0f} µs, within "
                     f"the call's own spread (p90 {j['direct_us']['p90']:.0f} µs)")
        out.append(
            f"- {n} VMs: `virDomainGetBlockInfo` {direct:.0f} µs per disk "
            f"(p99 {j['direct_us']['p99']:.0f}); the block group of one NOWAIT bulk call "
            f"answers all {j['disks']} disks in {j['bulk_block_us']['median'] / 1000:.1f} ms, "
            f"{j['bulk_per_disk_us']:.0f} µs per disk ({j['bulk_per_disk_us'] / direct:.2f}× "
            f"a GetBlockInfo call: both send QEMU the same two monitor commands per domain). "
            f"A deadline on each call (virtscale's timed executor, one worker) {cost}; a "
            f"no-op job through the executor costs {j['noop_overhead_us']:.0f} µs.")
    if last is None:
        return out + ["Not measured in this run.", ""]
    bi, bk, flag = last["blockinfo_sizes"], last["bulk_sizes"], last["blockinfo_flag_1"]
    out.append(
        f"- Answer: libvirt cannot make `virDomainGetBlockInfo` non-blocking: it takes no "
        f"flags (\"{flag}\", so no NOWAIT), waits for the domain's job (up to 30 s) and "
        f"then asks the monitor with no timeout. Two ways around it, both measured above: "
        f"(1) the block group of a NOWAIT bulk call gives the same sizes for every disk at "
        f"about the same monitor cost per disk, skipping a domain whose job is held instead "
        f"of waiting — capacity {bk['capacity']} (GetBlockInfo {bi['capacity']}), physical "
        f"{bk['physical']} ({bi['physical']}); allocation means something else there: "
        f"QEMU's highest written offset ({bk['allocation']}) where GetBlockInfo reports a "
        f"qcow2 file's size on the host ({bi['allocation']}); (2) a deadline per call on a "
        f"worker thread, which hands control back at the deadline while the abandoned call "
        f"finishes on its own, for the executor's {last['noop_overhead_us']:.0f} µs per "
        f"call, lost in the spread of a call of milliseconds. Once a call is inside a frozen "
        f"QEMU's monitor only (2) bounds the caller's wait (section `freeze`).")
    out.append("")
    return out
