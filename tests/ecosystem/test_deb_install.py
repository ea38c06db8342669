#!/usr/bin/env python3
"""The Debian package installed for real on this machine, then removed again:

* refuses to run when a virtscale package is already installed (or half-installed):
  that one is not this test's to replace or remove;
* builds the .deb as test_deb_layout does, installs it with `dpkg -i` (its Depends must
  be met by what is installed: dpkg fails otherwise), checks dpkg calls it installed;
* runs a real collectd whose PluginDir is the directory the package put virtscale.so in
  (read from `dpkg -L`, i.e. /usr/lib/collectd) on 2 tiny rig VMs: collectd logs that it
  loaded virtscale, and every VM's cpu, disk and NIC values and the plugin's
  self-metrics arrive in the csv files, several intervals of them;
* runs the installed /usr/bin/virtscale-start (the unit's ExecStart) on one defined,
  inactive rig VM, reporting to that collectd: exit 0, the VM runs, the JSON report has
  it ready, and its timings arrive in collectd;
* ALWAYS purges the package at the end (failure or not) and checks the machine is as
  before: dpkg knows no virtscale, none of the package's files is left.
"""
import json
import os
import shutil
import tempfile

from ecodeb import PACKAGE, Checks, build_deb, deb_contents, project_version, rig, sh

INTERVAL = 1


def dpkg_status():
    """dpkg's status of the package ('' when dpkg does not know it)."""
    cp = sh(["dpkg-query", "-W", "-f=${Status}", PACKAGE], check=False, timeout=60)
    return cp.stdout.strip() if cp.returncode == 0 else ""


def known_to_dpkg(status):
    """Installed, half-installed, or removed with its configuration kept."""
    return status != "" and not status.endswith(" not-installed")


def installed_files():
    """Regular files of the installed package, from `dpkg -L`."""
    return [p for p in sh(["dpkg", "-L", PACKAGE], timeout=60).stdout.splitlines()
            if os.path.isfile(p) and not os.path.islink(p)]


def run_collectd_and_helper(c, work, plugin_path, helper_path, version):
    plugin_dir = os.path.dirname(plugin_path)
    with rig.ensure_libvirtd(), rig.VMs(n=2, disks=1, nics=1) as vms:
        names = vms.create()
        spare = vms.create_one(define_only=True)  # for the installed helper to start
        body = 'LoadPlugin virtscale\n<Plugin virtscale>\n  Connection "qemu:///system"\n' \
               '</Plugin>\n'
        with rig.Collectd(plugin_dir, body, interval=INTERVAL) as cd:
            # Load plugins from the package's directory itself, as a host's collectd
            # does, not from the rig's private copy.
            with open(cd.conf) as f:
                conf = f.read()
            private = f'PluginDir "{cd.private_plugin_dir}"'
            c.check(private in conf, f"rig config has no {private}")
            with open(cd.conf, "w") as f:
                f.write(conf.replace(private, f'PluginDir "{plugin_dir}"'))
            print(f"collectd config: PluginDir \"{plugin_dir}\"")
            cd.start()
            ids = [f"{n}/virtscale/{t}" for n in names
                   for t in ("virt_cpu_total", "disk_octets-vda", "if_octets-" +
                             _nic(vms, n))]
            try:
                rig.wait_for(lambda: all(i in cd.identifiers() and len(cd.csv_rows(i)) >= 3
                                         for i in ids), 60, 0.5,
                             f"3 samples of {ids}")
            except rig.RigError as e:
                c.check(False, f"{e}; written: {sorted(cd.identifiers())[:20]}")
            log = cd.log()
            c.check('plugin "virtscale" successfully loaded' in log,
                     f"collectd did not load virtscale:\n{log[-2000:]}")
            for i in ids:
                rows = cd.csv_rows(i) if i in cd.identifiers() else []
                print(f"{i}: {len(rows)} rows, last {rows[-1] if rows else None}")
                c.check(len(rows) >= 3, f"{i}: {len(rows)} rows")
            selfm = [i for i in cd.identifiers() if i.endswith("/virtscale/count-domains")]
            c.check(selfm, "no self-metric count-domains")

            # The installed helper starts the defined VM and reports to this collectd.
            report = os.path.join(work, "report.json")
            v = sh([helper_path, "--version"], timeout=30, check=False)
            c.check(v.stdout.strip() == f"virtscale-start {version}",
                    f"installed helper --version: {v.stdout!r}")
            cp = sh([helper_path, "--collectd-socket", cd.socket,
                     "--spool", os.path.join(work, "spool"), "--report", report,
                     "--host", "hv-deb", "--progress", "plain", "--timeout", "120", spare],
                    timeout=300, check=False)
            print(f"$ {helper_path} ... {spare} -> exit {cp.returncode}\n{cp.stdout[-1500:]}"
                  f"{cp.stderr[-1500:]}")
            c.check(cp.returncode == 0, f"installed virtscale-start exit {cp.returncode}")
            c.check(rig.virsh("domstate", spare).strip() == "running",
                    f"{spare} is not running after virtscale-start")
            try:
                with open(report) as f:
                    rep = json.load(f)
                c.check(spare in json.dumps(rep), f"report does not name {spare}")
            except (OSError, ValueError) as e:
                c.check(False, f"report {report}: {e}")
            ident = f"{spare}/virtscale_start/duration-total"
            try:
                rig.wait_for(lambda: ident in cd.identifiers(), 20, 0.2, f"{ident} in csv")
                print(f"{ident}: {cd.csv_rows(ident)}")
            except rig.RigError as e:
                c.check(False, str(e))


def _nic(vms, name):
    """The tap name of the VM's first NIC, from its live XML."""
    xml = rig.virsh("dumpxml", name)
    i = xml.index("<target dev='", xml.index("<interface")) + len("<target dev='")
    return xml[i:xml.index("'", i)]


def main():
    c = Checks("deb_install")
    version = project_version()
    before = dpkg_status()
    if known_to_dpkg(before):
        raise rig.RigError(f"a {PACKAGE} package is already on this machine ({before!r}): "
                           "not this test's to replace or remove; purge it first")
    work = tempfile.mkdtemp(prefix="virtscale-debi-")
    files, new_paths = [], []
    try:
        deb = build_deb(work)
        paths = ["/" + p.rstrip("/") for _, _, p in deb_contents(deb)]
        # Paths the package brings that were not here: gone again after the purge.
        new_paths = [p for p in paths if not os.path.lexists(p)]
        try:
            print(f"$ dpkg -i {deb}\n" + sh(["dpkg", "-i", deb], timeout=300).stdout)
        finally:
            files = installed_files() if known_to_dpkg(dpkg_status()) else []
        status = dpkg_status()
        c.check(status == "install ok installed", f"dpkg status after dpkg -i: {status!r}")
        plugins = [p for p in files if p.endswith("/virtscale.so")]
        helpers = [p for p in files if p.endswith("/bin/virtscale-start")]
        c.check(plugins == ["/usr/lib/collectd/virtscale.so"], f"installed plugin {plugins}")
        c.check(len(helpers) == 1, f"installed helper {helpers}")
        c.check(sorted(files) == sorted(p for p in paths if os.path.isfile(p)),
                "dpkg -L differs from the package's file list")
        if plugins and helpers:
            run_collectd_and_helper(c, work, plugins[0], helpers[0], version)
    finally:
        if known_to_dpkg(dpkg_status()):
            cp = sh(["dpkg", "--purge", PACKAGE], timeout=300, check=False)
            print(f"$ dpkg --purge {PACKAGE} -> exit {cp.returncode}\n{cp.stdout}{cp.stderr}")
        after = dpkg_status()
        left = [p for p in files + new_paths if os.path.lexists(p)]
        shutil.rmtree(work, ignore_errors=True)
    c.check(not known_to_dpkg(after), f"{PACKAGE} still known to dpkg: {after!r}")
    c.check(files and not left, f"files left after purge: {left}")
    print(f"dpkg status after purge: {after!r}; {len(files)} installed files and "
          f"{len(new_paths)} new paths {new_paths} all removed")
    c.done()


if __name__ == "__main__":
    main()
