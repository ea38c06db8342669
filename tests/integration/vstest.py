"""Shared pieces of virtscale's integration tests (imported, not run by ctest).

Expected identifiers, types.db data-source kinds, csv helpers and a tiny
assertion collector that reports every failed check, not only the first."""

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


def fnv1a32(data):
    """32-bit FNV-1a, as plugin/common/vs_idfield.c."""
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def safe_field(name):
    """Python model of vs_idfield() for names without '/' or control characters."""
    raw = name.encode()
    if len(raw) <= 127:
        return name
    cut = 127 - 9
    while cut > 0 and (raw[cut] & 0xC0) == 0x80:
        cut -= 1
    return raw[:cut].decode() + f"~{fnv1a32(raw):08x}"


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
