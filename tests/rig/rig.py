"""Integration test rig for virtscale: real libvirtd, tiny QEMU VMs, a private collectd.

Python 3 standard library only. Used by integration tests, fault tests and benchmarks.

Rules this module keeps:
  * Every setup failure raises RigError with a clear message; nothing is ever skipped.
  * Only processes this module started (or the QEMUs of VMs it created) are signalled, by PID.
    Nothing is ever killed by name.
  * No network traffic beyond loopback: VMs get unbridged tap NICs, collectd gets a unix socket.
  * Everything is a context manager, so `with` blocks clean up even when a test fails.
    Set VIRTSCALE_KEEP_RIG=1 to keep the rig's temp dirs (logs, csv) for a post-mortem.

Typical use::

    import rig
    with rig.ensure_libvirtd(), rig.VMs(n=5) as vms, \\
         rig.Collectd(rig.build_dir(), 'LoadPlugin virtscale\\n') as cd:
        vms.create()
        cd.start()
        rig.wait_for(lambda: cd.identifiers(), 10, what='collectd wrote no values')
"""

import glob
import grp
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from xml.sax.saxutils import escape, quoteattr

URI = "qemu:///system"
STOCK_PLUGIN_DIR = "/usr/lib/collectd"
TYPES_DB = "/usr/share/collectd/types.db"
LIBVIRTD_PIDFILE = "/var/run/libvirtd.pid"
VIRTLOGD_PIDFILE = "/var/run/virtlogd.pid"
QEMU_CONF = "/etc/libvirt/qemu.conf"
QEMU_PID_DIR = "/var/run/libvirt/qemu"
VIRSH_TIMEOUT = 60


class RigError(Exception):
    """Setup or teardown of the test rig failed. Tests must treat this as a failure."""


# ---------------------------------------------------------------------------------------------
# small helpers


def run(cmd, timeout=VIRSH_TIMEOUT, check=True, input=None):
    """Run cmd (list), return CompletedProcess with text stdout/stderr.

    Raises RigError when the program is missing, times out, or (check=True) exits non-zero."""
    try:
        cp = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                            stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError as e:
        raise RigError(f"{cmd[0]}: not installed ({e}); run tests/rig/install-deps.sh") from e
    except subprocess.TimeoutExpired as e:
        raise RigError(f"{' '.join(cmd)}: no answer within {timeout} s") from e
    if check and cp.returncode != 0:
        raise RigError(f"{' '.join(cmd)}: exit {cp.returncode}: "
                       f"{(cp.stderr or cp.stdout).strip()}")
    return cp


def virsh(*args, timeout=VIRSH_TIMEOUT, check=True):
    """Run `virsh -c qemu:///system ARGS`, return stdout (CompletedProcess if check=False)."""
    cp = run(["virsh", "-c", URI, *args], timeout=timeout, check=check)
    return cp.stdout if check else cp


def wait_for(predicate, timeout, interval=0.1, what="condition"):
    """Poll predicate() until it returns something truthy and return that value.

    Raises RigError(f"timed out after {timeout} s: {what}") otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RigError(f"timed out after {timeout} s: {what}")
        time.sleep(interval)


def build_dir():
    """The project build dir (holding virtscale .so files), from env VIRTSCALE_BUILD_DIR."""
    d = os.environ.get("VIRTSCALE_BUILD_DIR")
    if not d:
        raise RigError("VIRTSCALE_BUILD_DIR is not set (point it at the CMake build dir)")
    if not os.path.isdir(d):
        raise RigError(f"VIRTSCALE_BUILD_DIR={d} is not a directory")
    return os.path.abspath(d)


def _proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    # fields after the "(comm)" which may contain spaces; index 0 here is field 3 (state)
    return data[data.rindex(")") + 2:].split()


def proc_cpu_seconds(pid):
    """utime + stime of process pid (all its threads), in seconds."""
    try:
        fields = _proc_stat(pid)
    except OSError as e:
        raise RigError(f"cannot read CPU time of pid {pid}: {e}") from e
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_cpu_ns(pid, skip_comm=()):
    """CPU time of all live threads of pid in ns (schedstat's first field), finer than
    proc_cpu_seconds() for per-interval figures; threads named in skip_comm left out."""
    total = 0
    for task in glob.glob(f"/proc/{pid}/task/*"):
        if skip_comm and _comm(os.path.basename(task)) in skip_comm:
            continue
        try:
            with open(f"{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread ended between glob and open
    return total


@contextmanager
def thread_counts(collectd, period=0.25):
    """Sample collectd's thread count every period seconds while the with block runs;
    yields the list the counts are appended to."""
    counts, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            counts.append(collectd.thread_count())
            time.sleep(period)

    w = threading.Thread(target=watch)
    w.start()
    try:
        yield counts
    finally:
        stop.set()
        w.join()


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        return _proc_stat(pid)[0] != "Z"
    except OSError:
        return False


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def _read_pidfile(path, expect_comm):
    """PID from path if that process is alive and is expect_comm, else None."""
    try:
        with open(path) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) and _comm(pid) == expect_comm else None


def terminate_pid(pid, timeout=10, what="process"):
    """SIGTERM pid (plus SIGCONT in case it is stopped), wait, SIGKILL after timeout.

    Only call this for PIDs the rig started. Returns True if it needed SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGCONT):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
    try:
        wait_for(lambda: not pid_alive(pid), timeout, 0.05, f"{what} {pid} to exit")
        return False
    except RigError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        wait_for(lambda: not pid_alive(pid), 10, 0.05, f"{what} {pid} to die after SIGKILL")
        return True


@contextmanager
def stopped(pid):
    """SIGSTOP pid for the duration of the with block; SIGCONT it afterwards, always."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def _tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return f"(no {path})"


# ---------------------------------------------------------------------------------------------
# libvirtd


def libvirtd_answers(timeout=10):
    """True if `virsh version` on qemu:///system answers within timeout."""
    try:
        return run(["virsh", "-c", URI, "version"], timeout=timeout, check=False).returncode == 0
    except RigError:
        return False


def libvirtd_pid():
    """PID of the running libvirtd from /var/run/libvirtd.pid; RigError if none is running."""
    pid = _read_pidfile(LIBVIRTD_PIDFILE, "libvirtd")
    if pid is None:
        raise RigError(f"no running libvirtd according to {LIBVIRTD_PIDFILE}")
    return pid


def _start_daemon(prog, pidfile):
    """Start `prog -d`, wait for its pid file to name a live prog, return the PID."""
    log = f"/var/log/libvirt/rig-{prog}.log"
    with open(log, "ab") as out:
        try:
            cp = subprocess.run([prog, "-d"], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, timeout=30)
        except FileNotFoundError as e:
            raise RigError(f"{prog} not installed; run tests/rig/install-deps.sh") from e
        except subprocess.TimeoutExpired as e:
            raise RigError(f"`{prog} -d` did not daemonize within 30 s; see {log}") from e
    if cp.returncode != 0:
        raise RigError(f"`{prog} -d` failed with exit {cp.returncode}:\n{_tail(log)}")
    return wait_for(lambda: _read_pidfile(pidfile, prog), 10, 0.05,
                    f"{prog} to write {pidfile} (log: {log})")


def _prepare_libvirt_host():
    """Host preparation from FACTS.md for a machine without libvirt-daemon-system."""
    try:
        grp.getgrnam("libvirt-qemu")
    except KeyError:
        run(["groupadd", "--system", "libvirt-qemu"])
    try:
        pwd.getpwnam("libvirt-qemu")
    except KeyError:
        run(["useradd", "--system", "--no-create-home", "--gid", "libvirt-qemu",
             "--home-dir", "/var/lib/libvirt", "--shell", "/usr/sbin/nologin", "libvirt-qemu"])
    if not os.path.exists(QEMU_CONF):
        os.makedirs(os.path.dirname(QEMU_CONF), exist_ok=True)
        with open(QEMU_CONF, "w") as f:
            f.write('# written by virtscale tests/rig/rig.py\nuser = "root"\ngroup = "root"\n')
    else:
        with open(QEMU_CONF) as f:
            text = f.read()
        if not re.search(r'^\s*user\s*=\s*"root"', text, re.M):
            raise RigError(f'{QEMU_CONF} exists but does not set user = "root"; the rig will '
                           f'not edit it. Add user = "root" and group = "root" (or remove the '
                           f'file) and retry.')
    for d in ("/var/log/libvirt", "/var/run/libvirt"):
        os.makedirs(d, exist_ok=True)


class LibvirtdHandle:
    """Result of ensure_libvirtd(). started: whether this handle started libvirtd.

    pids: {"virtlogd": pid, "libvirtd": pid} for the daemons this handle started (only those).
    stop() stops exactly those (libvirtd first). Usable as a context manager."""

    def __init__(self, started, pids):
        self.started = started
        self.pids = pids

    def stop(self):
        for name in ("libvirtd", "virtlogd"):
            pid = self.pids.pop(name, None)
            if pid is not None and _comm(pid) == name:
                terminate_pid(pid, 15, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def ensure_libvirtd(timeout=20):
    """Make sure a libvirtd answers on qemu:///system; start virtlogd/libvirtd if needed."""
    if libvirtd_answers():
        return LibvirtdHandle(False, {})
    if os.geteuid() != 0:
        raise RigError("libvirtd is not answering and starting it needs root")
    _prepare_libvirt_host()
    pids = {}
    if _read_pidfile(VIRTLOGD_PIDFILE, "virtlogd") is None:
        pids["virtlogd"] = _start_daemon("virtlogd", VIRTLOGD_PIDFILE)
    if _read_pidfile(LIBVIRTD_PIDFILE, "libvirtd") is None:
        pids["libvirtd"] = _start_daemon("libvirtd", LIBVIRTD_PIDFILE)
    handle = LibvirtdHandle(bool(pids.get("libvirtd")), pids)
    try:
        wait_for(lambda: libvirtd_answers(5), timeout, 0.2,
                 f"libvirtd to answer `virsh -c {URI} version` "
                 f"(log: /var/log/libvirt/rig-libvirtd.log)")
    except RigError:
        handle.stop()
        raise
    return handle


def restart_libvirtd(handle=None, timeout=20, down=0.0, kill=False):
    """Stop the libvirtd named by the pid file, wait `down` seconds, start `libvirtd -d`,
    wait until it answers. kill=True: SIGKILL (a crash) instead of SIGTERM.

    If handle started the old libvirtd, it now owns the new one instead. Returns the new PID."""
    old = libvirtd_pid()
    if kill:
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: not pid_alive(old), 10, 0.02, f"libvirtd {old} to die")
        if os.path.exists(LIBVIRTD_PIDFILE):
            os.unlink(LIBVIRTD_PIDFILE)  # a killed libvirtd leaves it behind
    else:
        terminate_pid(old, 15, "libvirtd")
    time.sleep(down)
    new = _start_daemon("libvirtd", LIBVIRTD_PIDFILE)
    if handle is not None and handle.pids.get("libvirtd") == old:
        handle.pids["libvirtd"] = new
    wait_for(lambda: libvirtd_answers(5), timeout, 0.2, "restarted libvirtd to answer")
    return new


# ---------------------------------------------------------------------------------------------
# VMs


_HOST_LOCK_PATH = "/tmp/virtscale-rig.lock"
_host_lock = {"fd": None, "holders": 0}


def _acquire_host():
    """Exclusive use of the host's VMs for this process (flock; re-entrant in-process).

    Tests, benchmarks and the demo measure timings and counts on a shared libvirtd, so
    only one process at a time runs VMs; others wait here."""
    import fcntl
    if _host_lock["holders"] == 0:
        fd = os.open(_HOST_LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"rig: waiting for another process's VMs ({_HOST_LOCK_PATH})",
                  file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        _host_lock["fd"] = fd
    _host_lock["holders"] += 1


def _release_host():
    _host_lock["holders"] -= 1
    if _host_lock["holders"] == 0:
        os.close(_host_lock["fd"])  # drops the flock
        _host_lock["fd"] = None


class VMs:
    """A set of tiny OS-less test VMs named <prefix>NN, removed again by cleanup().

    VMs(prefix=None, n=5, disks=2, nics=2, workdir=None, kvm=None, memory_mib=64)
      prefix   default "vst<6 random hex>-", unique per run; cleanup() touches only domains
               whose name starts with it.
      kvm      None: KVM when /dev/kvm exists; False: TCG; True: KVM (error if no /dev/kvm).
      workdir  where disk images go; default a fresh temp dir (removed by cleanup()).
    """

    def __init__(self, prefix=None, n=5, disks=2, nics=2, workdir=None, kvm=None,
                 memory_mib=64):
        if disks > 26:
            raise RigError("at most 26 disks (vda..vdz)")
        self.prefix = prefix or f"vst{os.urandom(3).hex()}-"
        self.n, self.disks, self.nics, self.memory_mib = n, disks, nics, memory_mib
        if kvm is None:
            kvm = os.path.exists("/dev/kvm")
        elif kvm and not os.path.exists("/dev/kvm"):
            raise RigError("kvm=True but /dev/kvm does not exist")
        self.domain_type = "kvm" if kvm else "qemu"
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="virtscale-vms-")
        os.makedirs(self.workdir, exist_ok=True)
        self._names = []          # created by us, in order
        self._persistent = set()
        self._images = []
        self._taps = set()
        self._template_lock = threading.Lock()
        _acquire_host()
        self._holds_host = True

    # -- creation ---------------------------------------------------------------------------

    def _tap_name(self, name, nic):
        salt = 0
        while True:
            h = hashlib.sha1(f"{self.prefix}|{name}|{salt}".encode()).hexdigest()[:6]
            tap = f"vt{h}n{nic}"  # <= 15 chars for nic < 100000
            if tap not in self._taps and not os.path.exists(f"/sys/class/net/{tap}"):
                self._taps.add(tap)
                return tap
            salt += 1

    # The boot sector of the first disk: mask both PICs, cli, hlt, jump back to
    # hlt, boot signature. The guest halts for good right after the firmware, so a
    # running VM costs next to no host CPU (an empty disk made SeaBIOS fall through
    # to the NIC's iPXE, which polls for DHCP: ~6 % of a core per VM, enough to
    # saturate a small host with 50 of them).
    _IDLE_BOOT = (bytes([0xB0, 0xFF, 0xE6, 0x21, 0xE6, 0xA1, 0xFA, 0xF4, 0xEB, 0xFD])
                  .ljust(510, b"\0") + b"\x55\xAA")

    def _boot_template(self):
        """A 64 MiB qcow2 image holding the idle boot sector, made once per object."""
        path = os.path.join(self.workdir, ".idle-boot.qcow2")
        with self._template_lock:  # create() may run several threads
            if not os.path.exists(path):
                raw = path + ".raw"
                with open(raw, "wb") as f:
                    f.write(self._IDLE_BOOT)
                    f.truncate(64 << 20)
                run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, path])
                os.unlink(raw)
                self._images.append(path)
        return path

    def domain_xml(self, name):
        """Domain XML for VM `name`; creates its qcow2 images (one per disk; the first
        boots a guest that only halts)."""
        devs = []
        for d in range(self.disks):
            target = "vd" + chr(ord("a") + d)
            img = os.path.join(self.workdir, f"{name}-{target}.qcow2")
            if d == 0:
                shutil.copyfile(self._boot_template(), img)
            else:
                run(["qemu-img", "create", "-q", "-f", "qcow2", img, "64M"])
            self._images.append(img)
            devs.append(f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                        f"<source file={quoteattr(img)}/><target dev='{target}' bus='virtio'/>"
                        f"</disk>")
        for i in range(self.nics):
            devs.append(f"<interface type='ethernet'><target dev='{self._tap_name(name, i)}' "
                        f"managed='yes'/><model type='virtio'/></interface>")
        devs.append("<memballoon model='virtio'/>")
        return (f"<domain type='{self.domain_type}'><name>{escape(name)}</name>"
                f"<memory unit='MiB'>{self.memory_mib}</memory><vcpu>1</vcpu>"
                f"<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>"
                f"<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>"
                f"<on_crash>destroy</on_crash><devices>{''.join(devs)}</devices></domain>\n")

    def create_one(self, name=None, persistent=False, define_only=False, xml_edit=None,
                   paused=False):
        """Create (start) one VM; returns its name. Default name: <prefix>NN, next free index.

        persistent=True: `virsh define` + `virsh start`; define_only=True: define, don't start.
        Otherwise a transient domain via `virsh create`. xml_edit: optional function
        str -> str applied to the domain XML (odd devices for fixtures and fault tests).
        paused=True: start it paused (see create())."""
        if name is None:
            i = len(self._names)
            while f"{self.prefix}{i:02d}" in self._names:
                i += 1
            name = f"{self.prefix}{i:02d}"
        if not name.startswith(self.prefix):
            raise RigError(f"VM name {name!r} must start with prefix {self.prefix!r}")
        xml_path = os.path.join(self.workdir, f"{name}.xml")
        xml = self.domain_xml(name)
        if xml_edit:
            xml = xml_edit(xml)
        with open(xml_path, "w") as f:
            f.write(xml)
        persistent = persistent or define_only
        if persistent:
            virsh("define", xml_path)
            self._persistent.add(name)
            self._names.append(name)
            if not define_only:
                virsh("start", name, *(["--paused"] if paused else []))
        else:
            virsh("create", xml_path, *(["--paused"] if paused else []), timeout=180)
            self._names.append(name)
        return name

    def create(self, persistent=False, define_only=False, paused=False, parallel=1):
        """Create the n VMs <prefix>00 .. <prefix>NN (see create_one). Returns names().

        paused=True creates them paused (`virsh create --paused`: no guest CPU at all, yet
        listed active and answering every statistics group through its monitor: how
        hundreds of VMs fit on a small host). parallel=k runs k virsh at once (set-up of
        hundreds of VMs; libvirtd starts them concurrently)."""
        names = [f"{self.prefix}{i:02d}" for i in range(self.n)]
        if parallel <= 1:
            for name in names:
                self.create_one(name, persistent, define_only, paused=paused)
            return self.names()
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(parallel) as pool:
            for f in [pool.submit(self.create_one, name, persistent, define_only,
                                  paused=paused) for name in names]:
                f.result()  # raises the first RigError
        self._names.sort()  # creation order is the threads'; keep <prefix>NN order
        return self.names()

    def start(self, name):
        """`virsh start` a defined (persistent) VM."""
        virsh("start", name)

    # -- queries ----------------------------------------------------------------------------

    def names(self):
        """Names of the VMs created by this object and not destroyed (undefined) since."""
        return list(self._names)

    def wait_idle(self, timeout=120, share=0.01, names=None):
        """Wait until the VMs' QEMUs use under `share` of a core each on average over
        2 s (past their firmware: with the idle boot sector they then halt). Returns
        the seconds waited; RigError after timeout."""
        names = self.names() if names is None else names
        pids = [self.qemu_pid(n) for n in names]
        t_start = time.monotonic()
        while True:
            c0, t0 = sum(proc_cpu_ns(p) for p in pids), time.monotonic()
            time.sleep(2)
            used = (sum(proc_cpu_ns(p) for p in pids) - c0) / 1e9 / (time.monotonic() - t0)
            if used / max(1, len(pids)) < share:
                return time.monotonic() - t_start
            if time.monotonic() - t_start > timeout:
                raise RigError(f"{len(pids)} VMs still use {100 * used / len(pids):.1f} % "
                               f"of a core each after {timeout} s")

    def qemu_pid(self, name):
        """PID of the QEMU running VM name, from /var/run/libvirt/qemu/<name>.pid."""
        path = os.path.join(QEMU_PID_DIR, f"{name}.pid")
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError) as e:
            raise RigError(f"no QEMU pid for {name}: {e}") from e

    def domstats(self, names=None, groups=("--state", "--cpu-total", "--balloon", "--vcpu",
                                           "--interface", "--block"),
                 extra=(), timeout=VIRSH_TIMEOUT):
        """Run `virsh domstats GROUPS EXTRA NAMES` -> {domname: {key: value_str}}.

        names defaults to this object's VMs; extra e.g. ('--nowait',)."""
        names = self.names() if names is None else list(names)
        if not names:
            return {}
        out = virsh("domstats", *groups, *extra, *names, timeout=timeout)
        return parse_domstats(out)

    # -- teardown ---------------------------------------------------------------------------

    def destroy(self, name, undefine=True):
        """Destroy VM name; for persistent VMs also undefine unless undefine=False."""
        self._continue_qemu(name)
        cp = virsh("destroy", name, check=False, timeout=90)
        if cp.returncode != 0 and "not running" not in cp.stderr:
            raise RigError(f"virsh destroy {name}: {cp.stderr.strip()}")
        if name in self._persistent and undefine:
            virsh("undefine", name)
            self._persistent.discard(name)
        if name not in self._persistent and name in self._names:
            self._names.remove(name)

    def _continue_qemu(self, name):
        # A fault test may have SIGSTOPped this VM's QEMU; destroy would then wait on it.
        try:
            pid = self.qemu_pid(name)
        except RigError:
            return
        if _comm(pid) and _comm(pid).startswith("qemu"):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def cleanup(self):
        """Destroy (and undefine) every domain whose name starts with prefix; remove images.

        Tries everything, then raises RigError listing what failed."""
        errors = []
        try:
            # One name per line: names may contain spaces.
            listed = [n for n in virsh("list", "--all", "--name").splitlines()
                      if n.startswith(self.prefix)]
        except RigError as e:
            errors.append(str(e))
            listed = []
        persistent = set()
        try:
            persistent = {n for n in virsh("list", "--all", "--persistent",
                                           "--name").splitlines() if n.startswith(self.prefix)}
        except RigError as e:
            errors.append(str(e))

        def remove(name):
            try:
                self._continue_qemu(name)
                cp = virsh("destroy", name, check=False, timeout=90)
                if cp.returncode != 0 and "not running" not in cp.stderr:
                    errors.append(f"destroy {name}: {cp.stderr.strip()}")
                if name in persistent:
                    virsh("undefine", name)
            except RigError as e:
                errors.append(str(e))

        # Several at once: hundreds of VMs take minutes one by one.
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(remove, listed))
        self._names.clear()
        self._persistent.clear()
        if self._own_workdir and not os.environ.get("VIRTSCALE_KEEP_RIG"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        elif not self._own_workdir:
            for path in self._images:
                if os.path.exists(path):
                    os.unlink(path)
        self._images.clear()
        if self._holds_host:
            self._holds_host = False
            _release_host()
        if errors:
            raise RigError("VM cleanup failed: " + "; ".join(errors))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.cleanup()
        except RigError as e:
            if exc_type is None:
                raise
            print(f"rig: {e}", file=sys.stderr)  # don't mask the test's own failure


def parse_domstats(text):
    """Parse `virsh domstats` output into {domname: {key: value_str}}."""
    result, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^Domain: '(.*)'$", line)
        if m:
            cur = result.setdefault(m.group(1), {})
        elif cur is not None and "=" in line:
            key, _, value = line.strip().partition("=")
            cur[key] = value
    return result


# ---------------------------------------------------------------------------------------------
# collectd

_LOADPLUGIN_RE = re.compile(r'^\s*<?\s*LoadPlugin\s+"?([A-Za-z0-9_]+)"?', re.M | re.I)
_CSV_DATE_RE = re.compile(r"^(.*)-\d{4}-\d{2}-\d{2}$")


class Collectd:
    """A private collectd instance in its own work dir (config, log, csv, socket, plugins).

    Collectd(plugin_dir, config_body, interval=1, workdir=None, extra_plugins=(),
             hostname=None, csv=True, unixsock=True, write_log=False, log_level="info",
             allow_errors=(), netns=None)
      plugin_dir     dir whose *.so (e.g. virtscale.so) join the stock plugins; None for none.
      config_body    appended verbatim (LoadPlugin virtscale, <Plugin virtscale> ...).
      extra_plugins  stock plugin names to load without a config block (e.g. "threshold").
      netns          name of a network namespace (`ip netns add`) to run collectd in, through
                     `ip netns exec NAME collectd ...`; ip execs collectd, so pid is still
                     collectd's own (start() checks). The work dir, unix sockets and libvirt's
                     socket are paths, reachable from any network namespace.

    collectd's PluginDir is a private dir holding hard links (or copies) of the stock plugins
    from /usr/lib/collectd and of plugin_dir/*.so: collectd refuses symlinked plugins ("is not
    a regular file"). Project plugins override stock ones of the same name."""

    def __init__(self, plugin_dir, config_body, interval=1, workdir=None, extra_plugins=(),
                 hostname=None, csv=True, unixsock=True, write_log=False, log_level="info",
                 allow_errors=(), netns=None):
        if not os.path.exists(TYPES_DB):
            raise RigError(f"{TYPES_DB} missing; run tests/rig/install-deps.sh")
        if workdir is not None and unixsock and len(os.path.abspath(workdir)) > 80:
            raise RigError(f"workdir too long for an AF_UNIX socket path: {workdir}")
        self._own_workdir = workdir is None
        self.workdir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="virtscale-cd-"))
        os.makedirs(self.workdir, exist_ok=True)
        self.conf = os.path.join(self.workdir, "collectd.conf")
        self.log_path = os.path.join(self.workdir, "collectd.log")
        self.out_path = os.path.join(self.workdir, "collectd.out")
        self.csv_dir = os.path.join(self.workdir, "csv")
        self.socket = os.path.join(self.workdir, "collectd.sock") if unixsock else None
        self.private_plugin_dir = os.path.join(self.workdir, "plugins")
        self.proc = None
        self._us = None  # (socket, reader) of the kept unixsock connection
        self.netns = netns
        # Any "[error]" line collectd logs fails the with-block on exit, whoever logged
        # it, unless it matches one of these regexes (a test that provokes an error).
        # collectd 5.12's unixsock plugin names each connection's thread after starting
        # it, and logs this error (ENOENT or ESRCH) when the thread has already ended
        # (a short command): collectd's own race, harmless, not the test's business.
        self.allow_errors = [re.compile(r) for r in allow_errors] + [
            re.compile(r'set_thread_name\("unixsock conn"\): No such (file or directory|process)')]
        self.error_lines = []

        lines = ["FQDNLookup false", f'BaseDir "{self.workdir}"',
                 f'PIDFile "{self.workdir}/collectd.pid"',
                 f'PluginDir "{self.private_plugin_dir}"', f'TypesDB "{TYPES_DB}"',
                 f"Interval {interval}"]
        if hostname is not None:
            lines.insert(0, f'Hostname "{hostname}"')
        lines += ["LoadPlugin logfile", "<Plugin logfile>", f'  LogLevel "{log_level}"',
                  f'  File "{self.log_path}"', "  Timestamp true", "  PrintSeverity true",
                  "</Plugin>"]
        if csv:
            lines += ["LoadPlugin csv", "<Plugin csv>", f'  DataDir "{self.csv_dir}"',
                      "  StoreRates false", "</Plugin>"]
        if unixsock:
            group = grp.getgrgid(os.getgid()).gr_name
            lines += ["LoadPlugin unixsock", "<Plugin unixsock>",
                      f'  SocketFile "{self.socket}"', f'  SocketGroup "{group}"',
                      "  DeleteSocket true", "</Plugin>"]
        if write_log:
            lines += ["LoadPlugin write_log"]
        lines += [f"LoadPlugin {p}" for p in extra_plugins]
        text = "\n".join(lines) + "\n\n" + config_body.rstrip("\n") + "\n"
        with open(self.conf, "w") as f:
            f.write(text)
        try:
            self._populate_plugins(plugin_dir, set(_LOADPLUGIN_RE.findall(text)))
        except BaseException:
            self.cleanup()
            raise

    def _populate_plugins(self, plugin_dir, wanted):
        os.makedirs(self.private_plugin_dir, exist_ok=True)
        sources = {}
        for p in wanted:
            stock = os.path.join(STOCK_PLUGIN_DIR, f"{p}.so")
            if os.path.exists(stock):
                sources[p] = stock
        if plugin_dir is not None:
            if not os.path.isdir(plugin_dir):
                raise RigError(f"plugin_dir {plugin_dir} is not a directory")
            for so in glob.glob(os.path.join(plugin_dir, "*.so")):
                sources[os.path.basename(so)[:-3]] = os.path.realpath(so)
        missing = sorted(wanted - set(sources))
        if missing:
            raise RigError(f"config loads plugin(s) {missing} found neither in "
                           f"{STOCK_PLUGIN_DIR} nor in plugin_dir {plugin_dir}")
        for name, src in sources.items():
            dst = os.path.join(self.private_plugin_dir, f"{name}.so")
            if os.path.lexists(dst):
                os.unlink(dst)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

    # -- running ----------------------------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _output(self):
        return _tail(self.out_path, 200) + "\n--- collectd.log ---\n" + self.log()

    def check_config(self, timeout=15):
        """Check the config; returns (rc, combined output).

        `collectd -t` on Debian's collectd 5.12 exits 0 without reading anything (upstream
        bug #3216, fixed after 5.12), so this runs `collectd -f` until it either exits
        (rc = its exit code: parse or init failed) or logs "Initialization complete"
        (then it is stopped and rc = 0). Plugins get initialized and may read once."""
        if self.running():
            raise RigError("check_config() while this collectd is running")
        self.start(timeout=timeout, raise_on_exit=False)
        if self.running():
            self.stop()
            return 0, self._output()
        rc = self.proc.returncode
        self.proc = None
        return rc, self._output()

    def start(self, timeout=15, raise_on_exit=True):
        """Start `collectd -C conf -f` as a child; wait until it is up.

        Up = the unixsock socket exists (if enabled) and the log says "Initialization
        complete". Raises RigError with the log tail if it exits or times out."""
        if self.running():
            raise RigError("collectd already running")
        for path in (self.log_path, self.out_path):
            if os.path.exists(path):
                os.unlink(path)
        out = open(self.out_path, "wb")
        try:
            self.proc = subprocess.Popen(self._command("-f"), cwd=self.workdir,
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError as e:
            raise RigError(f"{self._command()[0]} not installed; run "
                           f"tests/rig/install-deps.sh") from e
        finally:
            out.close()

        def up():
            if self.proc.poll() is not None:
                return "exited"
            if self.socket and not os.path.exists(self.socket):
                return False
            return "Initialization complete" in self.log()

        try:
            state = wait_for(up, timeout, 0.05, "collectd to start")
        except RigError:
            self.stop()
            raise RigError(f"collectd did not come up within {timeout} s:\n{self._output()}")
        if state == "exited" and raise_on_exit:
            rc, self.proc = self.proc.returncode, None
            raise RigError(f"collectd exited with {rc} at start:\n{self._output()}")
        if state != "exited" and self.netns and _comm(self.proc.pid) != "collectd":
            pid, comm = self.proc.pid, _comm(self.proc.pid)
            self.stop()
            raise RigError(f"pid {pid} is {comm!r}, not collectd: `ip netns exec` "
                           f"did not exec collectd")
        return self

    def _command(self, *args):
        """The collectd command line, inside `ip netns exec NAME` when netns is set."""
        cmd = ["collectd", "-C", self.conf, *args]
        return ["ip", "netns", "exec", self.netns, *cmd] if self.netns else cmd

    def stop(self, timeout=10):
        """SIGTERM collectd, wait timeout s, then SIGKILL. Returns its exit code (None if not
        started). Collects the log's "[error]" lines the test did not allow."""
        self._close_unixsock()
        if self.proc is None:
            return None
        self._collect_errors()
        if self.proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGCONT):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc, self.proc = self.proc.returncode, None
        return rc

    def run_once(self, timeout=60):
        """`collectd -C conf -T` (each read callback once, then exit) -> (rc, output + log)."""
        if self.running():
            raise RigError("run_once() while this collectd is running (they share the socket)")
        if os.path.exists(self.log_path):
            os.unlink(self.log_path)
        cp = run(self._command("-T"), timeout=timeout, check=False)
        return cp.returncode, cp.stdout + cp.stderr + "\n--- collectd.log ---\n" + self.log()

    def _allowed(self, line):
        return any(r.search(line) for r in self.allow_errors)

    def _collect_errors(self):
        for line in self.log().splitlines():
            if "[error]" in line and not self._allowed(line) and line not in self.error_lines:
                self.error_lines.append(line)

    def problems(self):
        """The log's "[error]" and "[warning]" lines, less those allowed (allow_errors and
        collectd's own unixsock race above)."""
        return [ln for ln in self.log().splitlines()
                if ("[error]" in ln or "[warning]" in ln) and not self._allowed(ln)]

    def log(self):
        """Text of the collectd log file ('' if not yet written)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- process metrics --------------------------------------------------------------------

    def _need_pid(self):
        if not self.running():
            raise RigError("collectd is not running")
        return self.proc.pid

    def cpu_ticks(self):
        """CPU time (utime + stime) of the running collectd, in seconds."""
        return proc_cpu_seconds(self._need_pid())

    def cpu_ns(self):
        """CPU time of the running collectd in ns (proc_cpu_ns()), without the thread that
        serves this rig's unixsock connection (see unixsock()): what the observer costs
        is not collectd's cost. (Threads of short connections, collectdctl's, leave it
        when they end.)"""
        return proc_cpu_ns(self._need_pid(), skip_comm=("unixsock conn",))

    def thread_count(self):
        """Number of threads of the running collectd."""
        with open(f"/proc/{self._need_pid()}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        raise RigError("no Threads: line in /proc/<pid>/status")

    def collectdctl(self, *args, timeout=10):
        """Run `collectdctl -s <socket> ARGS`, return stdout."""
        if not self.socket:
            raise RigError("collectdctl needs unixsock=True")
        return run(["collectdctl", "-s", self.socket, *args], timeout=timeout).stdout

    def unixsock(self, command, timeout=10):
        """Send one command line to the unixsock plugin; return the reply lines.

        The reply's first line is "<status> <message>"; a status N > 0 announces N more
        lines, which are read too. (collectdctl goes through libcollectdclient, whose
        identifier fields hold only 63 bytes; this talks to the socket directly.)
        One connection serves every command until stop(), as a long-lived client would:
        collectd 5.12 starts a thread per connection and logs an error when a short
        one has already ended by the time it names that thread."""
        if not self.socket:
            raise RigError("unixsock() needs unixsock=True")
        for fresh in (self._us is None, True):
            if fresh:
                self._close_unixsock()
                sk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sk.settimeout(timeout)
                    sk.connect(self.socket)
                except OSError:
                    sk.close()
                    raise
                self._us = (sk, sk.makefile("rb"))
            sk, f = self._us
            sk.settimeout(timeout)
            try:
                sk.sendall(command.encode() + b"\n")
                first = f.readline().decode(errors="replace").rstrip("\n")
            except (BrokenPipeError, ConnectionResetError):
                first = ""  # collectd closed a kept connection (restarted): once more
            except BaseException:
                self._close_unixsock()  # a reply half read: never reuse
                raise
            if first or fresh:
                break
        try:
            if not first:
                raise RigError(f"unixsock: no reply to {command!r}")
            lines = [first]
            status = int(first.split(" ", 1)[0])
            for _ in range(max(status, 0)):
                lines.append(f.readline().decode(errors="replace").rstrip("\n"))
            return lines
        except BaseException:
            self._close_unixsock()
            raise

    def _close_unixsock(self):
        if self._us is not None:
            for x in reversed(self._us):
                x.close()
            self._us = None

    def getval(self, identifier):
        """GETVAL through the unixsock plugin -> {ds name: float}; RigError on error."""
        quoted = identifier.replace("\\", "\\\\").replace('"', '\\"')
        lines = self.unixsock(f'GETVAL "{quoted}"')
        if int(lines[0].split(" ", 1)[0]) < 0:
            raise RigError(f"GETVAL {identifier!r}: {lines[0]}")
        return {k: float(v) for k, v in (ln.split("=", 1) for ln in lines[1:])}

    # -- csv output -------------------------------------------------------------------------

    def _csv_paths(self):
        """{identifier: [paths sorted by date]} for DataDir/host/plugin-inst/type-inst-DATE."""
        found = {}
        for path in sorted(glob.glob(os.path.join(self.csv_dir, "*", "*", "*"))):
            m = _CSV_DATE_RE.match(os.path.basename(path))
            if not m:
                continue
            host, plugin = path.split(os.sep)[-3:-1]
            found.setdefault(f"{host}/{plugin}/{m.group(1)}", []).append(path)
        return found

    def csv_files(self):
        """{"host/plugin-inst/type-inst": path of its newest csv file}."""
        return {ident: paths[-1] for ident, paths in self._csv_paths().items()}

    def identifiers(self):
        """Set of "host/plugin-inst/type-inst" identifiers the csv writer has written."""
        return set(self._csv_paths())

    def csv_rows(self, identifier):
        """All rows of identifier across its dated csv files, in time order:
        [(epoch, [values])]. collectd's write threads may append two values of
        one identifier out of order (values dispatched a few ms apart)."""
        paths = self._csv_paths().get(identifier)
        if not paths:
            raise RigError(f"no csv data for {identifier} in {self.csv_dir}")
        return sorted((row for p in paths for row in read_csv(p)), key=lambda r: r[0])

    # -- context manager --------------------------------------------------------------------

    def cleanup(self):
        """Stop collectd if running; remove the work dir if the rig created it."""
        self.stop()
        if self._own_workdir and not os.environ.get("VIRTSCALE_KEEP_RIG"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            print(f"rig: collectd log tail ({self.log_path}):\n{_tail(self.log_path)}",
                  file=sys.stderr)
        if self.proc is not None:
            self._collect_errors()
        errors = list(self.error_lines)
        self.cleanup()
        if errors and exc_type is None:
            raise RigError(f"collectd logged {len(errors)} error line(s):\n" +
                           "\n".join(errors[:20]))


def read_csv(path):
    """Rows of a collectd csv file: [(epoch float, [value floats])]; header skipped."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("epoch"):
                continue
            fields = line.split(",")
            try:
                rows.append((float(fields[0]), [float(v) for v in fields[1:]]))
            except ValueError as e:
                raise RigError(f"{path}: bad csv line {line!r}") from e
    return rows
