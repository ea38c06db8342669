"""A tiny guest that really boots: Debian's kernel + a busybox initramfs, direct kernel boot.

Used by the start helper's tests, its sweep benchmark and the demo, so that `--ready
console:TEXT` and the sweep measure a real Linux boot, not only QEMU start-up.

    import guest
    kernel, initrd = guest.build()            # cached in /var/cache/virtscale-guest
    vms.create_one(name, persistent=True, define_only=True,
                   xml_edit=guest.xml_edit(kernel, initrd, marker="VS-READY"))

The kernel comes from Debian's `linux-image-amd64` dependency (`apt-get download`, unpacked
with `dpkg -x`); the initramfs is a gzip'd newc cpio (needs `cpio`) holding
`/bin/busybox` from busybox-static and an `/init` that mounts proc and devtmpfs, writes the
marker given on the kernel command line (`vs_marker=`) to /dev/ttyS0 and then idles
(`vs_after=idle`, default) or powers off (`vs_after=poweroff`).

The domain is `<domain type='qemu'>` (TCG) always: under the nested KVM of the project's
machines such a guest hangs without console output (FACTS.md). It boots to the marker in
about 2 s of wall time when alone on the host.
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

_INIT = r"""#!/bin/busybox sh
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
echo "$marker" > /dev/ttyS0
if [ "$after" = poweroff ]; then
  poweroff -f
fi
while :; do sleep 3600; done
"""


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


def _fetch_kernel(dest):
    """apt-get download the kernel package, unpack it, copy boot/vmlinuz-* to dest."""
    pkg = _kernel_package()
    with tempfile.TemporaryDirectory(prefix="virtscale-kernel-") as tmp:
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
        kernels = glob.glob(os.path.join(root, "boot", "vmlinuz-*"))
        if not kernels:
            raise RigError(f"{debs[0]} holds no boot/vmlinuz-*")
        shutil.copyfile(kernels[0], dest + ".tmp")
        os.replace(dest + ".tmp", dest)


def _build_initrd(dest):
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
        with open(os.path.join(tmp, "init"), "w") as f:
            f.write(_INIT)
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


def build(cache_dir=CACHE_DIR):
    """Return (kernel, initrd) paths, building them into cache_dir if missing.

    Raises RigError when the kernel cannot be fetched or the initramfs not built."""
    os.makedirs(cache_dir, exist_ok=True)
    kernel = os.path.join(cache_dir, "vmlinuz")
    initrd = os.path.join(cache_dir, "initrd.gz")
    if not os.path.exists(kernel):
        _fetch_kernel(kernel)
    # The init script is cheap to rebuild: redo it when this file changed.
    stamp = os.path.join(cache_dir, "initrd.stamp")
    want = hashlib.sha1(_INIT.encode()).hexdigest() + "\n"
    have = open(stamp).read() if os.path.exists(stamp) else ""
    if not os.path.exists(initrd) or have != want:
        _build_initrd(initrd)
        with open(stamp, "w") as f:
            f.write(want)
    return kernel, initrd


def xml_edit(kernel, initrd, marker=DEFAULT_MARKER, after="idle", memory_mib=128):
    """An xml_edit function for rig.VMs.create_one(): TCG, direct kernel boot, serial console.

    The guest prints `marker` (no spaces) on its serial console once booted; after="poweroff"
    makes it power off right after. Debian's kernel needs more than 64 MiB (with 64 it
    panics early and, with panic=-1, reboots for ever without a word on the console), so
    memory_mib defaults to 128; a reboot destroys the domain, so a crashing guest shows up
    as a stopped domain instead of a silent loop."""
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", marker):
        raise RigError(f"guest marker {marker!r}: use letters, digits and _.:- only")

    def edit(xml):
        xml = xml.replace("<domain type='kvm'>", "<domain type='qemu'>")
        xml = xml.replace("<on_reboot>restart</on_reboot>", "<on_reboot>destroy</on_reboot>")
        if memory_mib is not None:
            xml = re.sub(r"<memory unit='MiB'>\d+</memory>",
                         f"<memory unit='MiB'>{memory_mib}</memory>", xml)
        xml = xml.replace(
            "<boot dev='hd'/>",
            f"<kernel>{kernel}</kernel><initrd>{initrd}</initrd>"
            f"<cmdline>console=ttyS0 quiet panic=-1 vs_marker={marker} vs_after={after}"
            f"</cmdline>")
        xml = xml.replace(
            "<memballoon model='virtio'/>",
            "<serial type='pty'><target port='0'/></serial>"
            "<console type='pty'><target type='serial' port='0'/></console>"
            "<memballoon model='none'/>")
        return xml
    return edit
