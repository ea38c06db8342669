#!/usr/bin/env python3
"""A hypervisor sends its virtscale values to a central collectd over collectd's network
plugin, encrypted, across two network namespaces joined by a veth pair.

Set-up: namespaces vs-fleet-<pid>-a (the hypervisor) and -b (the central host), a veth pair
with 198.18.0.1/30 and 198.18.0.2/30 (the 198.18.0.0/15 benchmark range; neither namespace has
any other route, so nothing leaves the machine). In A, a collectd (Hostname hv-a) runs
virtscale over the host's libvirtd (a path socket, reachable from any network namespace) and
the network plugin as conf/virtscale-network-sender.conf has it (Server 198.18.0.2, SecurityLevel
Encrypt); virtscale-start reports the start of two defined VMs into its unixsock. In B, a
collectd runs conf/virtscale-network-receiver.conf (Listen, SecurityLevel Encrypt, an AuthFile,
ReportStats, rrdtool) plus the rig's csv writer. The shipped files are used as they stand but
for their placeholders (address, password, paths). A third collectd in A (Hostname hv-bad)
sends with a wrong password and in clear text.

Checks, at the central collectd: every identifier of the hypervisor's VMs (host = the VM name,
plugin virtscale) arrives, with the very times and values the hypervisor wrote locally; the
self-metrics arrive under host hv-a and count all four VMs; the helper's timings
(<VM>/virtscale_start/duration-<phase>, hv-a/virtscale_start/count-vms) arrive equal to its
report, and its batch notification and virtscale's start notifications arrive too; nothing of
hv-bad arrives, and the central collectd logs why (checksum mismatch for the wrong password,
an ignored unencrypted packet); rrdtool wrote files per VM and per hypervisor. The namespaces
are deleted at the end, whatever happens."""
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "helper"))
from helpertest import PHASES, Checks, load_report, rig, run  # noqa: E402
from vstest import expected_identifiers, plugin_dir, virtscale_block  # noqa: E402

ADDR_A, ADDR_B, PREFIX_LEN, PORT = "198.18.0.1", "198.18.0.2", 30, "25826"
HV, CENTRAL, BAD = "hv-a", "hv-central", "hv-bad"
USER = HV  # the Username of the shipped sender conf
INTERVAL = 1
CONF = os.path.join(HERE, "..", "..", "conf")


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def ip(*args):
    return rig.run(["ip", *args], timeout=20).stdout


@contextmanager
def namespaces(base):
    """Two network namespaces BASE-a, BASE-b joined by a veth pair (vf0 in a, vf1 in b),
    lo and the pair up. Deletes both on exit (also after a failed set-up) and checks
    they are gone."""
    a, b = f"{base}-a", f"{base}-b"
    try:
        ip("netns", "add", a)
        ip("netns", "add", b)
        # Created inside the namespaces: the pair never appears in the host's namespace.
        ip("link", "add", "vf0", "netns", a, "type", "veth", "peer", "name", "vf1", "netns", b)
        ip("-n", a, "addr", "add", f"{ADDR_A}/{PREFIX_LEN}", "dev", "vf0")
        ip("-n", b, "addr", "add", f"{ADDR_B}/{PREFIX_LEN}", "dev", "vf1")
        for ns, dev in ((a, "vf0"), (b, "vf1")):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", dev, "up")
        routes = ip("-n", a, "route", "show") + ip("-n", b, "route", "show")
        if "default" in routes:
            raise rig.RigError(f"a test namespace has a default route:\n{routes}")
        yield a, b
    finally:
        for ns in (a, b):
            rig.run(["ip", "netns", "del", ns], timeout=20, check=False)
        left = [ns for ns in (a, b)
                if ns in rig.run(["ip", "netns", "list"], timeout=20).stdout.split()]
        if left:
            raise rig.RigError(f"network namespaces {left} still exist after `ip netns del`")


def network_block(inner):
    """The network plugin, flushing its send buffer every second (by default it sends only
    when a 1452-byte packet is full)."""
    return (f"<LoadPlugin network>\n  FlushInterval {INTERVAL}\n</LoadPlugin>\n"
            f"<Plugin network>\n{inner}</Plugin>\n")


def server(user, password, level="Encrypt"):
    return (f'  <Server "{ADDR_B}" "{PORT}">\n    SecurityLevel "{level}"\n'
            f'    Username "{user}"\n    Password "{password}"\n  </Server>\n')


def shipped(name, subs):
    """Text of conf/NAME with each placeholder of subs replaced (each must be there)."""
    with open(os.path.join(CONF, name)) as f:
        text = f.read()
    for old, new in subs.items():
        if old not in text:
            raise rig.RigError(f"conf/{name} no longer holds {old!r}")
        text = text.replace(old, new)
    return text


def rows_text(cd, ident):
    return [(round(t, 3), tuple(v)) for t, v in cd.csv_rows(ident)]


def last_value(cd, ident):
    if ident not in cd.identifiers():
        return None
    rows = cd.csv_rows(ident)
    return rows[-1][1][0] if rows else None


def main():
    work = tempfile.mkdtemp(prefix="vs-fleet-")
    try:
        fleet(work)
    finally:
        if not os.environ.get("VIRTSCALE_KEEP_RIG"):
            shutil.rmtree(work, ignore_errors=True)


def fleet(work):
    c = Checks("network_fleet")
    password = os.urandom(12).hex()
    authfile = os.path.join(work, "passwd")
    with open(authfile, "w") as f:
        f.write(f"# user: password\n{USER}: {password}\n")
    os.chmod(authfile, 0o600)
    report = os.path.join(work, "report.json")

    rrd_dir = os.path.join(work, "rrd")
    # The shipped examples, with this test's addresses, secrets and paths.
    receiver_conf = shipped("virtscale-network-receiver.conf", {
        '<Listen "central.example.net" "25826">': f'<Listen "{ADDR_B}" "{PORT}">',
        'AuthFile "/etc/collectd/network-users"': f'AuthFile "{authfile}"',
        'DataDir "/var/lib/collectd/rrd"': f'DataDir "{rrd_dir}"'})
    sender_network = shipped("virtscale-network-sender.conf", {
        '<Server "central.example.net" "25826">': f'<Server "{ADDR_B}" "{PORT}">',
        f'Username "{USER}"': f'Username "{USER}"',  # kept: the AuthFile's user
        'Password "change-me"': f'Password "{password}"',
        "FlushInterval 10": f"FlushInterval {INTERVAL}"})
    with rig.ensure_libvirtd(), rig.VMs(n=4, disks=1, nics=1) as vms, \
            namespaces(f"vs-fleet-{os.getpid()}") as (ns_a, ns_b):
        sender_conf = virtscale_block('Connection "qemu:///system"',
                                      f'Domain "/^{vms.prefix}/"') + \
            sender_network
        bad_conf = "LoadPlugin load\n" + network_block(
            server(USER, "not-" + password) + server(USER, password, level="None"))
        running = [vms.create_one(), vms.create_one()]
        defined = [vms.create_one(define_only=True), vms.create_one(define_only=True)]
        every = running + defined
        with rig.Collectd(None, receiver_conf, interval=INTERVAL, hostname=CENTRAL,
                          netns=ns_b, unixsock=False,
                          allow_errors=[rf"Checksum mismatch\. Username: {USER}$",
                                        r"Decrypting AES256 part failed with status -1\.$"]
                          ) as rx, \
                rig.Collectd(plugin_dir(), sender_conf, interval=INTERVAL, hostname=HV,
                             netns=ns_a) as tx, \
                rig.Collectd(None, bad_conf, interval=INTERVAL, hostname=BAD,
                             netns=ns_a, unixsock=False) as bad:
            rx.start()
            tx.start()
            bad.start()
            for cd, ns in ((rx, ns_b), (tx, ns_a), (bad, ns_a)):
                got = rig.run(["ip", "netns", "identify", str(cd.pid)], timeout=20).stdout
                c.check(got.strip() == ns and comm(cd.pid) == "collectd",
                        f"pid {cd.pid} is {comm(cd.pid)!r} in netns {got.strip()!r}, "
                        f"want collectd in {ns}")

            # -- the two running VMs, sampled in A, arrive in B ---------------------------
            def arrived(names):
                ids = rx.identifiers()
                return all(expected_identifiers(vms, n, disks=("vda",)) <= ids for n in names)
            rig.wait_for(lambda: arrived(running), 90, 0.5,
                         "every identifier of the running VMs at the central collectd")

            # -- virtscale-start in the host's namespace, into the sender's unixsock ---------
            cp = run("--max-parallel", "2", "--ready", "running", "--report", report,
                     "--collectd-socket", tx.socket, "--spool", os.path.join(work, "spool"),
                     "--host", HV, "--progress", "plain", *defined, timeout=300)
            c.check(cp.returncode == 0, f"virtscale-start exit {cp.returncode}, want 0")
            r = load_report(report)
            durations = {v["name"]: v["durations"] for v in r["vms"]}
            c.check(sorted(durations) == sorted(defined), f"report VMs {sorted(durations)}")
            c.check(r["collectd"]["delivered"] > 0 and r["collectd"]["spooled"] == 0,
                    f"helper -> collectd {r['collectd']}")
            timing_ids = {f"{n}/virtscale_start/duration-{p}" for n in defined for p in PHASES}
            try:
                rig.wait_for(lambda: timing_ids <= rx.identifiers() and arrived(every) and
                             last_value(rx, f"{HV}/virtscale/count-domains") == 4,
                             90, 0.5, "timings, the started VMs and count-domains 4 at the "
                             "central collectd")
            except rig.RigError as e:
                c.check(False, str(e))
            time.sleep(3 * INTERVAL)  # a few more rounds, and for the wrong senders
            tx.stop()
            bad.stop()
            time.sleep(1)
            rx.stop()

            ids = rx.identifiers()
            # -- per VM: everything, the very rows the hypervisor wrote --------------------
            for n in every:
                want = expected_identifiers(vms, n, disks=("vda",))
                c.check(not (want - ids), f"{n}: missing at the central collectd "
                        f"{sorted(want - ids)[:5]}")
            compared = 0
            for ident in sorted(i for i in ids if i.split("/")[0] in every):
                got = rows_text(rx, ident)
                local = set(rows_text(tx, ident)) if ident in tx.identifiers() else set()
                extra = [row for row in got if row not in local]
                c.check(got and not extra, f"{ident}: {len(extra)} of {len(got)} rows at the "
                        f"central collectd not written by the hypervisor: {extra[:2]}")
                compared += len(got)
            c.check(compared > 0, "no rows compared")
            # -- self-metrics under the hypervisor's Hostname ------------------------------
            for t in ("duration-sample", "count-domains", "count-sampled", "count-errors"):
                c.check(f"{HV}/virtscale/{t}" in ids, f"self-metric {HV}/virtscale/{t} missing")
            c.check(last_value(rx, f"{HV}/virtscale/count-domains") == 4,
                    f"count-domains {last_value(rx, f'{HV}/virtscale/count-domains')}, want 4")
            # -- the helper's timings ------------------------------------------------------
            for n in defined:
                for p in PHASES:
                    ident = f"{n}/virtscale_start/duration-{p}"
                    rows = rx.csv_rows(ident) if ident in ids else []
                    want = durations.get(n, {}).get(p)
                    c.check(len(rows) == 1 and want is not None and
                            abs(rows[0][1][0] - want) < 1e-5,
                            f"{ident}: {rows} at the central collectd, report {want}")
            c.check(last_value(rx, f"{HV}/virtscale_start/count-vms") == 2,
                    f"count-vms {last_value(rx, f'{HV}/virtscale_start/count-vms')}, want 2")
            log = rx.log()
            c.check(f"Notification: severity = OKAY, host = {HV}, plugin = virtscale_start"
                    in log, "the helper's batch notification did not reach the central log")
            for n in defined:
                c.check(f"host = {n}, plugin = virtscale, type = domain_state" in log,
                        f"no state notification of {n} at the central collectd")
            # -- nothing else, and nothing of the wrong senders ----------------------------
            hosts = {i.split("/")[0] for i in ids}
            c.check(hosts <= set(every) | {HV, CENTRAL}, f"unexpected hosts {sorted(hosts)}")
            c.check(f"{BAD}/load/load" in bad.identifiers(),
                    "the wrong-password sender wrote nothing locally, so it sent nothing")
            c.check(BAD not in hosts, f"values of {BAD} (wrong password / clear text) arrived")
            c.check(f"Checksum mismatch. Username: {USER}" in log,
                    "no refusal of the wrong password in the central collectd's log")
            c.check("Unencrypted packet or part has been ignored" in log,
                    "no refusal of the clear-text packets in the central collectd's log")
            rrds = [os.path.join(rrd_dir, n, "virtscale", "virt_cpu_total.rrd") for n in every]
            rrds.append(os.path.join(rrd_dir, HV, "virtscale", "count-domains.rrd"))
            rrds.append(os.path.join(rrd_dir, defined[0], "virtscale_start", "duration-total.rrd"))
            missing = [p for p in rrds if not os.path.isfile(p)]
            c.check(not missing, f"the receiver's rrdtool wrote no {missing}")
            accepted = last_value(rx, f"{CENTRAL}/network/total_values-dispatch-accepted")
            c.check(accepted is not None and accepted > 0,
                    f"network stats: dispatch-accepted {accepted}")

            # -- what arrived --------------------------------------------------------------
            print(f"central collectd in {ns_b} ({ADDR_B}:{PORT}, Encrypt): {len(ids)} "
                  f"identifiers from {len(hosts)} hosts, {compared} rows equal to the "
                  f"hypervisor's; network values accepted: {accepted}")
            for h in sorted(hosts):
                print(f"  {h}: {sum(1 for i in ids if i.startswith(h + '/'))} identifiers")
            for ident in (f"{running[0]}/virtscale/virt_cpu_total",
                          f"{HV}/virtscale/count-domains",
                          f"{defined[0]}/virtscale_start/duration-total",
                          f"{HV}/virtscale_start/duration-wall"):
                if ident in ids:
                    print(f"  {ident}: {rows_text(rx, ident)[-2:]}")
            refusals = [ln for ln in log.splitlines()
                        if "Checksum mismatch" in ln or "Unencrypted" in ln]
            print(f"  {len(refusals)} refusals logged, e.g.:\n    " + "\n    ".join(
                refusals[:1] + refusals[-1:]))
    c.done()


if __name__ == "__main__":
    main()
