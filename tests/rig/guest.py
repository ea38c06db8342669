"""A tiny guest that really boots: Debian's kernel + a busybox initramfs, direct kernel boot.

Used by the start helper's tests, its sweep benchmark and the demo, so that `--ready
console:TEXT` and the sweep measure a real Linux boot, not only QEMU start-up.

    import guest
    kernel, initrd = guest.build()            # cached in /var/cache/virtscale-guest
    vms.create_one(name, persistent=True, define_only=True,
                   xml_edit=guest.xml_edit(kernel, initrd, marker="VS-READY"))

The kernel comes from Debian's `linux-image-amd64` dependency (`apt-get download`, unpacked
with `dpkg -x`), and is booted uncompressed (vmlinux, through its PVH entry point: under
TCG the kernel's own decompression took about 3 s of each boot); the initramfs is a
gzip'd newc cpio (needs `cpio`) holding `/bin/busybox` from busybox-static and an `/init`
that mounts proc and devtmpfs, writes the marker given on the kernel command line
(`vs_marker=`) to /dev/ttyS0 and then idles (`vs_after=idle`, default) or powers off
(`vs_after=poweroff`).

`build(agent=True)` builds a second guest, cached apart from the first (`agent/` below the
cache directory): the same init plus Debian's QEMU guest agent. Its kernel and the virtio
modules it needs (`virtio_pci`, `virtio_console` and what they depend on: Debian builds
them as modules) come from one kernel package, so they always match; `qemu-ga` comes from
`apt-get download qemu-guest-agent`, with every shared library `ldd` names for it (and the
dynamic loader) copied from the host. Its /init loads the modules, finds the virtio-serial
port named `org.qemu.guest_agent.0` in /sys/class/virtio-ports (there is no udev to make
the /dev/virtio-ports link, so /init makes it), starts `qemu-ga` on it and only then writes
the marker. `xml_edit(..., agent=True)` adds the agent channel; with `start_agent=False`
the channel is there but /init does not start `qemu-ga` (`vs_agent=off`): a guest whose
agent never answers.

The domain is `<domain type='qemu'>` (TCG) always: under the nested KVM of the project's
machines such a guest hangs without console output (FACTS.md). Alone on the host it boots
to the marker in 3.6-4.5 s from `virsh start` (measured here; 6.5-8 s with the compressed
kernel).
"""

import glob
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

from rig import RigError, run

CACHE_DIR = "/var/cache/virtscale-guest"
DEFAULT_MARKER = "VIRTSCALE-GUEST-READY"

_INIT_HEAD = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
marker=VIRTSCALE-GUEST-READY
after=idle
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    vs_marker=*) marker="${arg#vs_marker=}" ;;
    vs_after=*) after="${arg#vs_after=}" ;;
  esac
done
"""

_INIT_TAIL = r"""echo "$marker" > /dev/ttyS0
if [ "$after" = poweroff ]; then
  poweroff -f
fi
while :; do sleep 3600; done
"""

_INIT = _INIT_HEAD + _INIT_TAIL

AGENT_CHANNEL = "org.qemu.guest_agent.0"

# Loads the modules listed in /lib/modules/load-order (dependencies first), waits for the
# agent's virtio-serial port and its device node, starts qemu-ga on it unless the kernel
# command line says vs_agent=off. Problems go to the console, prefixed "vs-guest:".
_INIT_AGENT = r"""mount -t sysfs sysfs /sys
mkdir -p /run /var/run /tmp
for m in $(cat /lib/modules/load-order); do
  insmod "/lib/modules/$m.ko" || echo "vs-guest: insmod $m failed" > /dev/ttyS0
done
agent=on
for arg in $(cat /proc/cmdline); do
  case "$arg" in vs_agent=*) agent="${arg#vs_agent=}" ;; esac
done
if [ "$agent" = on ]; then
  port=
  i=0
  while [ $i -lt 300 ]; do
    for p in /sys/class/virtio-ports/*; do
      if [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ]; then
        port="/dev/${p##*/}"
      fi
    done
    if [ -n "$port" ] && [ -c "$port" ]; then break; fi
    usleep 100000
    i=$((i + 1))
  done
  if [ -n "$port" ] && [ -c "$port" ]; then
    mkdir -p /dev/virtio-ports
    ln -sf "$port" /dev/virtio-ports/org.qemu.guest_agent.0
    qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run &
  else
    echo "vs-guest: no virtio-serial port org.qemu.guest_agent.0" > /dev/ttyS0
  fi
fi
"""

_INIT_WITH_AGENT = _INIT_HEAD + _INIT_AGENT + _INIT_TAIL

# Modules the agent guest loads; their dependencies are added from each module's
# .modinfo "depends=" field.
_AGENT_MODULES = ("virtio_pci", "virtio_console")


def _kernel_package():
    """Name of the kernel image package linux-image-amd64 depends on (linux-image-6.1.*).

    On a machine whose apt lists are empty (install-deps.sh skips apt when every package is
    installed) this runs `apt-get update` once and asks again."""
    def ask():
        cp = run(["apt-cache", "depends", "linux-image-amd64"], timeout=60, check=False)
        return cp.stdout, re.search(r"Depends:\s*(linux-image-6\.1\.\S+-amd64)", cp.stdout)
    out, m = ask()
    if not m:
        run(["apt-get", "update"], timeout=900)
        out, m = ask()
    if not m:
        raise RigError("apt-cache depends linux-image-amd64 names no linux-image-6.1.*-amd64 "
                       f"package (run apt-get update?):\n{out}")
    return m.group(1)


def _download(pkg, tmp):
    """`apt-get download pkg` into tmp, unpack it into tmp/root; returns that root."""
    try:
        # apt-get download writes into its working directory.
        cp = subprocess.run(["apt-get", "download", pkg], cwd=tmp, capture_output=True,
                            text=True, timeout=900, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise RigError(f"apt-get download {pkg}: no answer within 900 s") from e
    debs = glob.glob(os.path.join(tmp, f"{pkg}_*.deb"))
    if cp.returncode != 0 or not debs:
        raise RigError(f"apt-get download {pkg} failed: {(cp.stderr or cp.stdout).strip()}")
    root = os.path.join(tmp, "root")
    run(["dpkg", "-x", debs[0], root], timeout=300)
    return root


def _fetch_kernel(dest, modules_dir=None):
    """apt-get download the kernel package, unpack it, copy boot/vmlinuz-* to dest.

    With modules_dir: also copy _AGENT_MODULES and the modules they depend on there, and
    write their names, dependencies first, to modules_dir/load-order."""
    pkg = _kernel_package()
    with tempfile.TemporaryDirectory(prefix="virtscale-kernel-") as tmp:
        root = _download(pkg, tmp)
        kernels = glob.glob(os.path.join(root, "boot", "vmlinuz-*"))
        if not kernels:
            raise RigError(f"{pkg} holds no boot/vmlinuz-*")
        if modules_dir is not None:
            _copy_modules(root, pkg, modules_dir)
        shutil.copyfile(kernels[0], dest + ".tmp")
        os.replace(dest + ".tmp", dest)


def _unpack_kernel(vmlinuz, dest):
    """Write the uncompressed ELF kernel (vmlinux) held in the bzImage vmlinuz to dest.

    QEMU boots it directly through its PVH entry point (Debian's kernel has one), which
    skips the kernel's own decompression: under TCG that took about 3 of the 6.5-8 s a
    guest alone needed to its marker here (3.6-4.5 s unpacked). The payload is found
    through the boot protocol's setup header (Documentation/x86/boot.rst: setup_sects at
    0x1f1, payload_offset and payload_length at 0x248) and decompressed with Python's
    lzma or zlib module; hand-written only because Debian packages no extract-vmlinux."""
    import lzma
    import struct
    import zlib
    with open(vmlinuz, "rb") as f:
        image = f.read()
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        raise RigError(f"{vmlinuz}: not a bzImage (no HdrS setup header)")
    version, = struct.unpack_from("<H", image, 0x206)
    if version < 0x208:
        raise RigError(f"{vmlinuz}: boot protocol {version:#x} has no payload fields")
    setup_sects = image[0x1f1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    payload = image[start:start + length]
    if payload.startswith(b"\xfd7zXZ\x00"):
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        elf = zlib.decompressobj(wbits=31).decompress(payload)  # 31: gzip framing
    else:
        raise RigError(f"{vmlinuz}: payload compressed with neither xz nor gzip "
                       f"(starts {payload[:6].hex()})")
    if elf[:4] != b"\x7fELF":
        raise RigError(f"{vmlinuz}: the unpacked payload is not an ELF file")
    with open(dest + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(dest + ".tmp", dest)


def _copy_modules(root, pkg, modules_dir):
    """Copy _AGENT_MODULES with their dependencies from the unpacked kernel package."""
    found = {}
    for path in glob.glob(os.path.join(root, "lib", "modules", "*", "kernel", "**", "*.ko"),
                          recursive=True):
        found[os.path.basename(path)[:-3].replace("-", "_")] = path
    order = []

    def add(name, chain):
        if name in order:
            return
        if name in chain:
            raise RigError(f"{pkg}: module dependency loop {' -> '.join(chain + [name])}")
        if name not in found:
            raise RigError(f"{pkg} has no module {name}.ko (built into the kernel? then "
                           f"drop it from the list)")
        with open(found[name], "rb") as f:
            m = re.search(rb"\0depends=([^\0]*)\0", f.read())
        for dep in (m.group(1).decode().split(",") if m else []):
            if dep:
                add(dep.replace("-", "_"), chain + [name])
        order.append(name)

    for name in _AGENT_MODULES:
        add(name, [])
    os.makedirs(modules_dir, exist_ok=True)
    for name in order:
        shutil.copyfile(found[name], os.path.join(modules_dir, name + ".ko"))
    with open(os.path.join(modules_dir, "load-order"), "w") as f:
        f.write("".join(n + "\n" for n in order))


def _fetch_agent(dest):
    """apt-get download qemu-guest-agent, unpack it, copy usr/sbin/qemu-ga to dest."""
    with tempfile.TemporaryDirectory(prefix="virtscale-qga-") as tmp:
        root = _download("qemu-guest-agent", tmp)
        ga = os.path.join(root, "usr", "sbin", "qemu-ga")
        if not os.path.exists(ga):
            raise RigError("qemu-guest-agent holds no usr/sbin/qemu-ga")
        shutil.copy2(ga, dest + ".tmp")
        os.replace(dest + ".tmp", dest)


def _shared_libraries(binary):
    """Host paths of every shared library `ldd` names for binary, the dynamic loader too."""
    cp = run(["ldd", binary], timeout=60, check=False)
    libs = []
    for line in cp.stdout.splitlines():
        if "not found" in line:
            raise RigError(f"ldd {binary}: {line.strip()} (install the library's package)")
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    if cp.returncode != 0 or not any("ld-linux" in p for p in libs):
        raise RigError(f"ldd {binary} named no dynamic loader:\n{cp.stdout}{cp.stderr}")
    return libs


def _build_initrd(dest, agent_dir=None):
    """Build the initramfs at dest; with agent_dir (holding qemu-ga and modules/, see
    build()) the agent guest's: its init, qemu-ga with its libraries, the modules."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(busybox):
        raise RigError("busybox not installed (package busybox-static)")
    if not _is_static(busybox):
        raise RigError(f"{busybox} is not statically linked (install busybox-static)")
    if not shutil.which("cpio"):
        raise RigError("cpio not installed; run tests/rig/install-deps.sh")
    with tempfile.TemporaryDirectory(prefix="virtscale-initrd-") as tmp:
        for d in ("bin", "proc", "dev", "sys"):
            os.makedirs(os.path.join(tmp, d))
        shutil.copy2(busybox, os.path.join(tmp, "bin", "busybox"))
        if agent_dir is not None:
            _add_agent(tmp, agent_dir)
        with open(os.path.join(tmp, "init"), "w") as f:
            f.write(_INIT if agent_dir is None else _INIT_WITH_AGENT)
        os.chmod(os.path.join(tmp, "init"), 0o755)
        files = subprocess.run(["find", "."], cwd=tmp, capture_output=True, text=True,
                               check=True).stdout
        cp = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], cwd=tmp,
                            input=files.encode(), capture_output=True, timeout=60)
        if cp.returncode != 0:
            raise RigError(f"cpio failed: {cp.stderr.decode(errors='replace')}")
        with gzip.open(dest + ".tmp", "wb") as f:
            f.write(cp.stdout)
        os.replace(dest + ".tmp", dest)


def _add_agent(tmp, agent_dir):
    """Put qemu-ga, the libraries it needs (at their host paths) and the modules into the
    initramfs tree tmp."""
    ga = os.path.join(agent_dir, "qemu-ga")
    shutil.copy2(ga, os.path.join(tmp, "bin", "qemu-ga"))
    for lib in _shared_libraries(ga):
        inside = os.path.join(tmp, lib.lstrip("/"))
        os.makedirs(os.path.dirname(inside), exist_ok=True)
        shutil.copyfile(lib, inside)  # follows the host's symlinks: the file itself
        os.chmod(inside, 0o755)
    shutil.copytree(os.path.join(agent_dir, "modules"), os.path.join(tmp, "lib", "modules"))


def _is_static(path):
    """True when the 64-bit ELF at path has no PT_INTERP program header (no dynamic loader)."""
    import struct
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3
               for i in range(phnum))


def build(cache_dir=CACHE_DIR, agent=False):
    """Return (kernel, initrd) paths, building them into cache_dir if missing.

    agent=True: the guest with the QEMU guest agent, cached in cache_dir/agent (its own
    kernel, taken from the same package as its modules). Raises RigError when a package
    cannot be fetched or the initramfs not built."""
    if agent:
        cache_dir = os.path.join(cache_dir, "agent")
    os.makedirs(cache_dir, exist_ok=True)
    vmlinuz = os.path.join(cache_dir, "vmlinuz")
    kernel = os.path.join(cache_dir, "vmlinux")
    initrd = os.path.join(cache_dir, "initrd.gz")
    modules = os.path.join(cache_dir, "modules")
    if not os.path.exists(vmlinuz) or (
            agent and not os.path.exists(os.path.join(modules, "load-order"))):
        if agent:
            shutil.rmtree(modules, ignore_errors=True)
        _fetch_kernel(vmlinuz, modules if agent else None)
    if not os.path.exists(kernel) or os.path.getmtime(kernel) < os.path.getmtime(vmlinuz):
        _unpack_kernel(vmlinuz, kernel)
    if agent and not os.path.exists(os.path.join(cache_dir, "qemu-ga")):
        _fetch_agent(os.path.join(cache_dir, "qemu-ga"))
    # The init script is cheap to rebuild: redo it when this file changed.
    init = _INIT_WITH_AGENT if agent else _INIT
    stamp = os.path.join(cache_dir, "initrd.stamp")
    want = hashlib.sha1(init.encode()).hexdigest() + "\n"
    have = open(stamp).read() if os.path.exists(stamp) else ""
    if not os.path.exists(initrd) or have != want:
        _build_initrd(initrd, cache_dir if agent else None)
        with open(stamp, "w") as f:
            f.write(want)
    return kernel, initrd


def xml_edit(kernel, initrd, marker=DEFAULT_MARKER, after="idle", memory_mib=128,
             agent=False, start_agent=True):
    """An xml_edit function for rig.VMs.create_one(): TCG, direct kernel boot, serial console.

    The guest prints `marker` (no spaces) on its serial console once booted; after="poweroff"
    makes it power off right after. Debian's kernel needs more than 64 MiB (with 64 it
    panics early and, with panic=-1, reboots for ever without a word on the console), so
    memory_mib defaults to 128; a reboot destroys the domain, so a crashing guest shows up
    as a stopped domain instead of a silent loop.

    ACPI (`<features><acpi/>`): without it the guest has no timer to calibrate its TSC
    against but the PIT (Linux finds the PM timer and the HPET through ACPI tables), and
    under TCG on a busy host that calibration fails ("tsc: Unable to calibrate against
    PIT ... Marking TSC unstable"; often "APIC timer disabled due to verification
    failure" too): the guest then keeps time with jiffies and ticks periodically, and
    idles at 2.5-3 % of a host CPU instead of 0.3 %. Measured here: in a storm of 50 at
    bound 2, 28 of the first 33 booted guests idled at 2.5-3 % (over a CPU of a 2-CPU
    host by the end, each later boot slower); with ACPI, 12 of 12 booted in pairs idled
    at 0.3 % on the TSC clocksource. `tsc=reliable` keeps the clocksource watchdog (the
    PM timer) from marking the TSC unstable when a busy host delays the guest.

    agent=True (with build(agent=True)'s kernel and initrd): a virtio-serial controller and
    the guest agent's channel (libvirt picks the host socket); start_agent=False keeps
    qemu-ga from starting in the guest, so the channel is there and never answers."""
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", marker):
        raise RigError(f"guest marker {marker!r}: use letters, digits and _.:- only")

    def edit(xml):
        xml = xml.replace("<domain type='kvm'>", "<domain type='qemu'>")
        xml = xml.replace("<on_reboot>restart</on_reboot>", "<on_reboot>destroy</on_reboot>")
        if "<features>" not in xml:
            xml = xml.replace("</os>", "</os><features><acpi/></features>")
        if memory_mib is not None:
            xml = re.sub(r"<memory unit='MiB'>\d+</memory>",
                         f"<memory unit='MiB'>{memory_mib}</memory>", xml)
        xml = xml.replace(
            "<boot dev='hd'/>",
            f"<kernel>{kernel}</kernel><initrd>{initrd}</initrd>"
            f"<cmdline>console=ttyS0 quiet panic=-1 tsc=reliable vs_marker={marker} "
            f"vs_after={after}"
            f"{'' if start_agent else ' vs_agent=off'}</cmdline>")
        xml = xml.replace(
            "<memballoon model='virtio'/>",
            "<serial type='pty'><target port='0'/></serial>"
            "<console type='pty'><target type='serial' port='0'/></console>"
            "<memballoon model='none'/>")
        if agent:
            xml = xml.replace(
                "</devices>",
                "<controller type='virtio-serial' index='0'/>"
                f"<channel type='unix'><target type='virtio' name='{AGENT_CHANNEL}'/>"
                "</channel></devices>")
        return xml
    return edit
