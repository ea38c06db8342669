"""Soak of collectd with virtscale under valgrind memcheck (imported, not run by ctest).

test_soak_valgrind.py runs it briefly in CI and asserts; tests/bench/soak_valgrind.py
runs it for 10 minutes and prints the figures. collectd runs under
`valgrind --tool=memcheck --leak-check=full`, virtscale samples VMs at Interval 1 (the
block-info thread on too) while some VMs are destroyed and created again, and at exit
valgrind's log is read:

* leaks: bytes definitely or indirectly lost in records with a frame of the plugin's
  code (a `vs_*.c` source line or virtscale.so); what collectd, libvirt or glib keep
  for good is not the plugin's;
* memory errors: invalid reads, writes and frees anywhere, uninitialised values used
  by the plugin's code;
* collectd's RSS every minute (valgrind's own memory included: compare the trend, not
  the level) and the share of intervals in which each steady VM got a value.
"""
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from vstest import plugin_dir, rig, virtscale_block  # noqa: E402

SUPPRESSIONS = os.path.join(HERE, "valgrind.supp")
INTERVAL = 1.0
HOST = "hv-soak"
# valgrind runs collectd about 20-50 times slower and one thread at a time: calls
# get up to StuckThreshold before they count as stuck, the read waits for libvirt
# most of the interval, keepalive tolerates slow answers.
CONFIG = ('Connection "qemu:///system"', "StuckThreshold 5", "SampleTimeout 0.9",
          "KeepAliveInterval 5", "KeepAliveCount 10", "BlockInfo true",
          "BlockInfoInterval 2", "BlockInfoTimeout 1.5")

_RECORD_RE = re.compile(r"^==\d+== ?(.*)$")
_LEAK_RE = re.compile(r"^([\d,]+) (?:\(([\d,]+) direct, ([\d,]+) indirect\) )?bytes in "
                      r"[\d,]+ blocks are (definitely|indirectly|possibly) lost")
_OURS_RE = re.compile(r"\(vs_\w+\.[ch]:\d+\)|virtscale\.so")
_INVALID_RE = re.compile(r"^(Invalid (read|write|free)|Mismatched free|"
                         r"Source and destination overlap)")
_UNINIT_RE = re.compile(r"uninitialised")


class ValgrindCollectd(rig.Collectd):
    """rig.Collectd whose collectd runs under valgrind memcheck (log: valgrind.log)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.valgrind_log = os.path.join(self.workdir, "valgrind.log")

    def _command(self, *args):
        if not os.path.exists(SUPPRESSIONS):
            raise rig.RigError(f"{SUPPRESSIONS} missing")
        return ["valgrind", "--tool=memcheck", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect", "--num-callers=40",
                "--keep-debuginfo=yes", f"--suppressions={SUPPRESSIONS}",
                f"--log-file={self.valgrind_log}",
                "collectd", "-C", self.conf, *args]

    def rss_kib(self):
        with open(f"/proc/{self._need_pid()}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise rig.RigError("no VmRSS in /proc/<pid>/status")

    def stop_slowly(self, timeout=600):
        """SIGTERM and wait for valgrind's leak check to finish; exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except Exception:  # noqa: BLE001 (subprocess.TimeoutExpired; stop() kills it)
            pass
        return self.stop()


def parse_valgrind(path):
    """valgrind's log -> {"leaks": [(kind, bytes, ours, text)], "errors": [(kind, ours,
    text)], "summary": str}. Records are the blocks between empty `==pid==` lines."""
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    blocks, cur = [], []
    for line in lines:
        m = _RECORD_RE.match(line)
        if m and m.group(1).strip():
            cur.append(m.group(1))
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    leaks, errors, summary = [], [], ""
    for b in blocks:
        head, text = b[0].strip(), "\n".join(b)
        ours = bool(_OURS_RE.search(text))
        m = _LEAK_RE.match(head)
        if m:
            kind = m.group(4)
            nbytes = int((m.group(2) or m.group(1)).replace(",", ""))
            leaks.append((kind, nbytes, ours, text))
        elif _INVALID_RE.match(head):
            errors.append(("invalid", ours, text))
        elif _UNINIT_RE.search(head):
            errors.append(("uninitialised", ours, text))
        for line in b:
            if line.startswith("ERROR SUMMARY"):
                summary = line
    return {"leaks": leaks, "errors": errors, "summary": summary}


def soak(minutes, steady=7, coming=3, say=print):
    """Run the soak; returns a dict of figures (see the module doc)."""
    with rig.ensure_libvirtd(), rig.VMs(n=steady, disks=1, nics=1) as vms:
        names = vms.create()
        movers = [vms.create_one() for _ in range(coming)]
        # Under valgrind the first connection can take longer than the read may wait
        # (SampleTimeout): the plugin then says so once and connects in a later read.
        with ValgrindCollectd(plugin_dir(), virtscale_block(*CONFIG), interval=INTERVAL,
                              hostname=HOST, allow_errors=[
                                  r"virtscale plugin: not connected: libvirtd did not "
                                  r"answer the connection in time"]) as cd:
            t_start = time.time()
            cd.start(timeout=180)
            say(f"soak: collectd up under valgrind after {time.time() - t_start:.1f} s; "
                f"{steady} steady VMs, {coming} coming and going, {minutes} min")
            rss, cycles = [], 0
            t0 = time.time()
            next_minute = t0
            i = 0
            while True:
                now = time.time()
                if now >= next_minute:
                    if not cd.running():
                        with open(cd.valgrind_log, errors="replace") as f:
                            raise rig.RigError(f"collectd under valgrind exited:\n"
                                               f"{f.read()[-3000:]}")
                    rss.append((round((now - t0) / 60), cd.rss_kib()))
                    say(f"soak: minute {rss[-1][0]}: RSS {rss[-1][1] / 1024:.1f} MiB")
                    next_minute += 60
                if now - t0 >= minutes * 60:
                    break
                # one VM goes, comes back with a new UUID, every ~10 s
                time.sleep(5)
                name = movers[i % coming]
                vms.destroy(name)
                time.sleep(5)
                vms.create_one(name)
                i, cycles = i + 1, cycles + 1
            t1 = time.time()
            shares = {}
            for n in names:
                ts = [t for t, _ in cd.csv_rows(f"{n}/virtscale/virt_cpu_total")
                      if t0 <= t <= t1]
                shares[n] = len(ts) / ((t1 - t0) / INTERVAL)
            mover_values = sum(len([r for r in cd.csv_rows(f"{m}/virtscale/domain_state")
                                    if r[0] >= t0]) for m in movers)
            t_stop = time.time()
            rc = cd.stop_slowly()
            say(f"soak: collectd exited {rc} after {time.time() - t_stop:.1f} s "
                f"(valgrind's leak check)")
            result = parse_valgrind(cd.valgrind_log)
            with open(cd.valgrind_log, errors="replace") as f:
                result["log_tail"] = f.read()[-3000:]
    ours = [(k, b) for k, b, o, _ in result["leaks"] if o and k in ("definitely", "indirectly")]
    result.update(
        rc=rc, rss=rss, cycles=cycles, shares=shares, mover_values=mover_values,
        lost_ours=sum(b for _, b in ours),
        lost_all={k: sum(b for kk, b, _, _ in result["leaks"] if kk == k)
                  for k in ("definitely", "indirectly", "possibly")})
    if len(rss) >= 3:  # least-squares slope over the minutes after the first (warm-up)
        xs, ys = [m for m, _ in rss[1:]], [r for _, r in rss[1:]]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        result["rss_slope_kib_per_min"] = (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
                                           / den if den else 0.0)
    say(f"soak: RSS by minute (MiB): {[round(r / 1024, 1) for _, r in rss]}"
        + (f"; trend after minute 1: {result['rss_slope_kib_per_min']:+.0f} KiB/min"
           if "rss_slope_kib_per_min" in result else ""))
    say(f"soak: {cycles} VM destroy/create cycles; steady VMs had a value in "
        f"{min(shares.values()) * 100:.0f}-{max(shares.values()) * 100:.0f} % of the "
        f"intervals; {mover_values} state values of the coming-and-going VMs")
    say(f"soak: lost at exit, all code: {result['lost_all']} bytes; definitely or "
        f"indirectly lost with a frame of the plugin: {result['lost_ours']} bytes; "
        f"memory errors: {len(result['errors'])} "
        f"({sum(1 for _, o, _ in result['errors'] if o)} in the plugin's code); "
        f"{result['summary']}")
    for kind, nbytes, o, text in result["leaks"]:
        if o:
            say(f"soak: plugin leak record ({kind}, {nbytes} bytes):\n{text}")
    for kind, o, text in result["errors"]:
        say(f"soak: {kind} error{' in the plugin' if o else ''}:\n{text}")
    return result
