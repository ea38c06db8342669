"""Shared pieces of virtscale's integration tests (imported, not run by ctest).

Expected identifiers, types.db data-source kinds, csv helpers and a tiny
assertion collector that reports every failed check, not only the first."""

import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "rig"))
import rig  # noqa: E402

TYPES_DB = "/usr/share/collectd/types.db"


def plugin_dir():
    """Directory holding the built virtscale.so."""
    d = os.path.join(rig.build_dir(), "plugin")
    if not os.path.exists(os.path.join(d, "virtscale.so")):
        raise rig.RigError(f"virtscale.so not built in {d}")
    return d


def virtscale_block(*lines, load=True):
    """collectd.conf text loading virtscale with the given option lines."""
    body = "LoadPlugin virtscale\n" if load else ""
    return body + "<Plugin virtscale>\n" + "".join(f"  {ln}\n" for ln in lines) + "</Plugin>\n"


def wait_steady(cd, host, interval, timeout=90.0, rounds=3):
    """Wait until virtscale's last `rounds` samples each took under a quarter of the
    interval (freshly started VMs keep their QEMU monitors slow for several seconds,
    and a fault test needs the rest of the interval to sample around the fault).
    Raises RigError when the rounds do not settle within timeout."""
    ident = f"{host}/virtscale/duration-sample"
    deadline = time.time() + timeout
    last = []
    while time.time() < deadline:
        try:
            last = [v[0] for _, v in cd.csv_rows(ident)][-rounds:]
        except rig.RigError:  # no csv file before the first round
            last = []
        if len(last) == rounds and max(last) < interval / 4:
            return last
        time.sleep(interval)
    raise rig.RigError(f"sampling did not settle within {timeout:.0f} s: last {ident} "
                       f"values {last} (need {rounds} under {interval / 4:.3f} s)")


IDENT_MAX = 128  # collectd's DATA_MAX_NAME_LEN, NUL included
HASH_LEN = 17  # "~" + 16 hex digits


def idfield_hash(raw):
    """The suffix of a shortened field: "~" + the first 64 bits of SHA-256 of the whole
    name (bytes), as plugin/common/vs_idfield.c."""
    return "~" + hashlib.sha256(raw).hexdigest()[:16]


def _utf8_char_len(raw, i):
    """Length (2..4) of the well-formed UTF-8 character at raw[i], 0 if there is none
    (Python's strict decoder rejects overlong forms, surrogates and > U+10FFFF)."""
    for n in (2, 3, 4):
        try:
            if len(raw[i:i + n]) == n and len(raw[i:i + n].decode("utf-8")) == 1:
                return n
        except UnicodeDecodeError:
            pass
    return 0


def safe_field(name, size=IDENT_MAX):
    """Python model of vs_idfield() (plugin/common/vs_idfield.h) for any name: str
    (encoded as UTF-8, surrogateescape for undecodable bytes) or bytes. size is the
    buffer size, NUL included. A joined field (HostnameFormat "name uuid") is
    safe_field(":".join(parts))."""
    raw = name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")
    room = min(size, IDENT_MAX) - 1
    toks = []
    if raw == b"":
        toks = ["%00"]
    elif raw in (b".", b".."):
        toks = ["%2E"] * len(raw)
    else:
        # a name ending in "~" + 16 hex digits must not look like a hash suffix
        tilde = len(raw) - HASH_LEN if (
            len(raw) >= HASH_LEN and raw[-HASH_LEN] == ord("~")
            and all(c in b"0123456789abcdef" for c in raw[-HASH_LEN + 1:])) else -1
        i = 0
        while i < len(raw):
            c = raw[i]
            n = _utf8_char_len(raw, i) if c >= 0x80 else 0
            if n:
                toks.append(raw[i:i + n].decode("utf-8"))
                i += n
                continue
            if 0x20 <= c <= 0x7E and c not in b"/%" and i != tilde:
                toks.append(chr(c))
            else:
                toks.append(f"%{c:02X}")
            i += 1
    if sum(len(t.encode()) for t in toks) <= room:
        return "".join(toks)
    budget, out = max(room - HASH_LEN, 0), ""
    for t in toks:
        if len((out + t).encode()) > budget:
            break
        out += t
    return out + idfield_hash(raw)[:min(room, HASH_LEN)]


def ds_kinds():
    """{type: [ds kind, ...]} from collectd's types.db ("DERIVE", "GAUGE", ...)."""
    kinds = {}
    with open(TYPES_DB) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, rest = line.split(None, 1)
            kinds[name] = [ds.strip().split(":")[1] for ds in rest.split(",")]
    return kinds


def tap_names(vms, name):
    """The tap devices of VM name, from its domain XML file."""
    import re
    with open(os.path.join(vms.workdir, f"{name}.xml")) as f:
        return re.findall(r"<target dev='([^']+)' managed", f.read())


def expected_identifiers(vms, name, plugin="virtscale", disks=("vda", "vdb"), nics=None):
    """Every identifier virtscale must write for one of the rig's OS-less VMs with the
    default groups (state cpu balloon vcpu interface block).

    An OS-less guest has no balloon driver, so the balloon group carries only
    current, maximum and rss (libvirt reports no unused/available/usable/swap
    fields for it)."""
    nics = tap_names(vms, name) if nics is None else nics
    ids = [f"{name}/{plugin}/{t}" for t in (
        "gauge-unresponsive", "domain_state", "virt_cpu_total", "ps_cputime",
        "percent-virt_cpu_total", "virt_vcpu-0", "memory-total", "memory-maximum",
        "memory-rss")]
    for d in disks:
        ids += [f"{name}/{plugin}/{t}-{d}" for t in (
            "disk_ops", "disk_octets", "disk_time", "disk_allocation", "disk_capacity",
            "disk_physical", "percent-disk_allocation")]
        ids += [f"{name}/{plugin}/total_requests-flush-{d}",
                f"{name}/{plugin}/total_time_in_ms-flush-{d}"]
    for n in nics:
        ids += [f"{name}/{plugin}/{t}-{n}" for t in (
            "if_octets", "if_packets", "if_errors", "if_dropped")]
    return set(ids)


def notifications(log):
    """Notifications collectd's logfile plugin wrote: [(epoch, {field: value})].

    Lines look like "[2026-11-27 09:42:31] [info] Notification: severity = OKAY,
    host = h, plugin = p, type = t, message = ..." (message last, may hold commas)."""
    import time as _t
    out = []
    for line in log.splitlines():
        i = line.find("Notification: ")
        if i < 0:
            continue
        ts = _t.mktime(_t.strptime(line[1:20], "%Y-%m-%d %H:%M:%S"))
        rest = line[i + len("Notification: "):]
        head, _, message = rest.partition(", message = ")
        fields = dict(kv.split(" = ", 1) for kv in head.split(", ") if " = " in kv)
        fields["message"] = message
        out.append((ts, fields))
    return out


def plugin_lines(log, needle=""):
    """Lines the plugin itself logged ("virtscale plugin: ..."), containing needle."""
    return [ln for ln in log.splitlines() if "virtscale plugin:" in ln and needle in ln]


def log_time(line):
    """Epoch seconds of a collectd log line ("[YYYY-MM-DD HH:MM:SS] ...")."""
    import time as _t
    return _t.mktime(_t.strptime(line[1:20], "%Y-%m-%d %H:%M:%S"))


def type_of(identifier):
    """"host/plugin/type-inst" -> "type"."""
    return identifier.split("/")[2].split("-", 1)[0]


class Checks:
    """Collects failures so a test reports all of them; raise at the end."""

    def __init__(self, name):
        self.name, self.failures, self.passed = name, [], 0

    def check(self, cond, msg):
        if cond:
            self.passed += 1
        else:
            self.failures.append(msg)
        return cond

    def done(self):
        if self.passed == 0 and not self.failures:
            raise AssertionError(f"{self.name}: no checks ran")
        if self.failures:
            shown = "\n  ".join(self.failures[:40])
            more = f"\n  ... and {len(self.failures) - 40} more" if len(self.failures) > 40 else ""
            raise AssertionError(f"{self.name}: {len(self.failures)} check(s) failed:\n  "
                                 f"{shown}{more}")
        print(f"{self.name}: {self.passed} checks passed")
