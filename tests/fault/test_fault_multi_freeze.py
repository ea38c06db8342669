#!/usr/bin/env python3
"""MaxAbandonedWorkers + 2 QEMUs frozen at once, resumed, then libvirtd restarted,
under an ASan + UBSan build of the plugin (collectd at Interval 1, 7 VMs, the
block-info thread on):

* at most MaxAbandonedWorkers workers abandoned by the sampler and as many by the
  block-info thread, at least one in all (careful mode was reached);
* collectd runs the instrumented plugin (libasan is mapped into it) and neither
  crashes nor prints a sanitizer report (a report makes collectd exit non-zero);
* careful mode ends: once things settle, count-abandoned_workers, count-late and
  count-unresponsive_domains are 0 again and every VM has fresh values;
* no file descriptor leaks: collectd's descriptors after settling are those it had
  before the freeze (csv files the writer has open at that instant aside), with the
  same number of libvirt connections in use;
* no FAILURE notification for a VM that was never frozen.

The ASan plugin is built from this source tree into <build dir>/fault-asan (or taken
from VIRTSCALE_ASAN_BUILD_DIR/plugin), and only collectd's environment gets
LD_PRELOAD=libasan (and libtirpc, see preload_for).
"""
import collections
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from vstest import Checks, notifications, rig, virtscale_block, wait_steady  # noqa: E402

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
INTERVAL = 1.0
MAX_ABANDONED = 2
FROZEN = MAX_ABANDONED + 2
# The sampler's workers and the block-info thread's each may leave up to
# MaxAbandonedWorkers inside stuck calls; count-abandoned_workers adds both.
BOUND = 2 * MAX_ABANDONED
STUCK = 1.0
HOLD = 8.0  # > StuckThreshold: the frozen VMs' calls are abandoned
HOST = "hv-mf"
SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer")


def asan_plugin_dir():
    """Directory holding an ASan + UBSan build of virtscale.so."""
    given = os.environ.get("VIRTSCALE_ASAN_BUILD_DIR")
    build = given or os.path.join(rig.build_dir(), "fault-asan")
    if not given:
        rig.run(["cmake", "-S", SOURCE, "-B", build, "-DCMAKE_BUILD_TYPE=Debug",
                 "-DVS_ASAN=ON"], timeout=300)
        rig.run(["cmake", "--build", build, "--target", "virtscale", "-j",
                 str(os.cpu_count() or 1)], timeout=900)
    so = os.path.join(build, "plugin", "virtscale.so")
    if not os.path.exists(so):
        raise rig.RigError(f"no ASan build of the plugin at {so}")
    return os.path.dirname(so)


def preload_for(so):
    """LD_PRELOAD for collectd: the libasan the plugin is linked against, then libtirpc.

    ASan intercepts the XDR functions and looks up the real ones when it starts; in a
    collectd that loads libvirt (and with it libtirpc, where the XDR functions live)
    only later, with the plugin, the lookup finds nothing and libvirt's first RPC
    calls a NULL pointer (seen: SEGV at pc 0 in virNetMessageEncodeHeader). Preloading
    libtirpc too gives ASan the real functions."""
    out = rig.run(["ldd", so]).stdout
    libs = []
    for lib in ("libasan", "libtirpc"):
        m = re.search(rf"^\s*{lib}\.so\S*\s+=>\s+(\S+)", out, re.M)
        if not m:
            raise rig.RigError(f"{so} is not linked against {lib}:\n{out}")
        libs.append(m.group(1))
    return " ".join(libs)


def fds(pid, csv_dir):
    """Collectd's open descriptors as a multiset of kinds (socket, pipe, anon inode
    kind, file path); the csv writer's data files, opened per write, are left out."""
    kinds = collections.Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith(csv_dir):
            continue
        kinds[re.sub(r":\[\d+\]$", "", target)] += 1
    return kinds


def last(cd, metric):
    rows = cd.csv_rows(f"{HOST}/virtscale/{metric}")
    return rows[-1] if rows else (0, [None])


def main():
    c = Checks("fault_multi_freeze")
    pdir = asan_plugin_dir()
    preload = preload_for(os.path.join(pdir, "virtscale.so"))
    with rig.ensure_libvirtd() as handle, rig.VMs(n=7, disks=1, nics=1) as vms:
        names = vms.create()
        frozen = names[1:1 + FROZEN]
        healthy = [n for n in names if n not in frozen]
        conf = virtscale_block('Connection "qemu:///system"',
                               f"MaxAbandonedWorkers {MAX_ABANDONED}",
                               f"StuckThreshold {STUCK}", "BlockInfo true",
                               "BlockInfoInterval 1", "BlockInfoTimeout 0.5")
        with rig.Collectd(pdir, conf, interval=INTERVAL, hostname=HOST,
                          allow_errors=[r"virtscale plugin: not connected"]) as cd:
            saved = dict(os.environ)
            os.environ.update(
                LD_PRELOAD=preload,
                ASAN_OPTIONS="halt_on_error=1:exitcode=86:detect_leaks=0",
                UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
            try:
                cd.start(timeout=60)
            finally:
                os.environ.clear()
                os.environ.update(saved)
            with open(f"/proc/{cd.pid}/maps") as f:
                c.check("libasan" in f.read(), "libasan is not mapped into collectd: the "
                                               "test would not see memory errors")
            try:
                wait_steady(cd, HOST, INTERVAL, timeout=120)
            except rig.RigError as e:
                with open(cd.out_path, errors="replace") as f:
                    raise rig.RigError(f"{e}; collectd {'runs' if cd.running() else 'exited'}"
                                       f", its output:\n{f.read()[-4000:]}") from e
            fds_before = fds(cd.pid, cd.csv_dir)
            conns_before = last(cd, "count-connections")[1][0]

            pids = [vms.qemu_pid(n) for n in frozen]
            for p in pids:
                os.kill(p, signal.SIGSTOP)
            t_freeze = time.time()
            try:
                time.sleep(HOLD)
                abandoned = max(v[0] for t, v in cd.csv_rows(
                    f"{HOST}/virtscale/count-abandoned_workers") if t > t_freeze)
            finally:
                for p in pids:
                    os.kill(p, signal.SIGCONT)
            t_thaw = time.time()
            print(f"multi_freeze: {FROZEN} QEMUs frozen {HOLD:.0f} s, up to {abandoned:.0f} "
                  f"abandoned workers (bound {BOUND})")
            c.check(abandoned >= 1, "no worker was abandoned: the freeze did not reach "
                                    "the plugin's careful mode")
            c.check(abandoned <= BOUND, f"{abandoned} abandoned workers, bound {BOUND}")
            time.sleep(2 * INTERVAL)
            t_restart = time.time()
            rig.restart_libvirtd(handle)
            t_up = time.time()

            # -- settle: careful mode over, every VM fresh -----------------------------------
            def settled():
                if not cd.running():
                    return "exited"
                for m in ("count-abandoned_workers", "count-late",
                          "count-unresponsive_domains"):
                    rows = cd.csv_rows(f"{HOST}/virtscale/{m}")[-3:]
                    if len(rows) < 3 or rows[0][0] < t_up or any(v[0] for _, v in rows):
                        return False
                fresh = time.time() - 2 * INTERVAL
                return all(cd.csv_rows(f"{n}/virtscale/virt_cpu_total")[-1][0] > fresh
                           for n in names)
            try:
                state = rig.wait_for(settled, 60, 0.5, "careful mode to end after the "
                                     "restart (abandoned workers, late and unresponsive "
                                     "domains back to 0, every VM fresh)")
                c.check(state != "exited", "collectd exited")
            except rig.RigError as e:
                c.check(False, f"{e}: abandoned {last(cd, 'count-abandoned_workers')}, "
                               f"late {last(cd, 'count-late')}, unresponsive "
                               f"{last(cd, 'count-unresponsive_domains')}")
            t_settled = time.time()
            if cd.running():
                conns_after = last(cd, "count-connections")[1][0]
                fds_after = fds(cd.pid, cd.csv_dir)
                c.check(conns_after == conns_before,
                        f"connections in use: {conns_before} before, {conns_after} after")
                grew, shrank = fds_after - fds_before, fds_before - fds_after
                c.check(not grew and not shrank,
                        f"descriptors changed: new {dict(grew)}, gone {dict(shrank)}")
                print(f"multi_freeze: {sum(fds_before.values())} descriptors before, "
                      f"{sum(fds_after.values())} after; settled "
                      f"{t_settled - t_up:.1f} s after libvirtd answered again")
            rc = cd.stop(timeout=30)
            c.check(rc == 0, f"collectd exited with {rc}")
            with open(cd.out_path, errors="replace") as f:
                out = f.read()
            reports = SANITIZER_RE.findall(out)
            c.check(not reports, f"sanitizer report(s) in collectd's output:\n{out[-4000:]}")
            false_alarms = [(t, n) for t, n in notifications(cd.log())
                            if n.get("host") in healthy and n.get("severity") == "FAILURE"]
            c.check(not false_alarms, f"FAILURE for a VM never frozen: {false_alarms}")
            print(f"multi_freeze: frozen at +0, thawed +{t_thaw - t_freeze:.1f} s, libvirtd "
                  f"restarted +{t_restart - t_freeze:.1f} s, answering +"
                  f"{t_up - t_freeze:.1f} s")
    c.done()


if __name__ == "__main__":
    main()
