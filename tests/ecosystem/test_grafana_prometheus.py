#!/usr/bin/env python3
"""The Grafana dashboard (conf/grafana/virtscale-dashboard.json) against a real Prometheus.

Grafana is not packaged here; what can break in a dashboard are its queries, so this runs
every one of them. Set-up: 3 defined rig VMs (2 disks, 1 NIC each), a private collectd with
virtscale and write_prometheus (bound to 127.0.0.1 on a free port), `virtscale-start`
starting the VMs with its timings sent into that collectd, and Debian's `prometheus`
scraping write_prometheus every second with `honor_labels: true` (write_prometheus puts
collectd's host field in the label `instance`).

Checks:
* write_prometheus listens on loopback only and exposes the metric names the dashboard
  uses (printed, as a reference for the names);
* Prometheus scrapes it (`up` is 1);
* each template variable's label_values() query, run through Prometheus's label-values
  API, lists the hypervisor / every test VM;
* every target of every panel, with the template variables substituted as Grafana does
  ($host, $vm as a regex of the test's VMs, $__rate_interval, $__interval, $__range),
  returns data through /api/v1/query; where the query is per VM, every test VM is in the
  result and nothing else; where it is per hypervisor, only the hypervisor; and a few
  values are right (3 VMs, all running, allocation above 0, the storm's counts and
  timings positive, CPU % within 0..100).
A table of panel, query, series count and sample values is printed.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from vstest import Checks, plugin_dir, rig, virtscale_block  # noqa: E402

DASHBOARD = os.path.join(HERE, "..", "..", "conf", "grafana", "virtscale-dashboard.json")
PROMETHEUS = "/usr/bin/prometheus"
N_VMS = 3
# What Grafana would substitute for its built-in variables on a 1 h dashboard with a
# 1 s scrape interval (rounded up so a rate() window holds many samples).
# collectd 5.12's write_prometheus passes MHD_OPTION_EXTERNAL_LOGGER after
# MHD_OPTION_LISTEN_SOCKET, and libmicrohttpd 0.9.75 logs this (through that very
# logger, at error level) when the daemon starts. Harmless: the endpoint works.
MHD_LOGGER_ERROR = r"write_prometheus plugin: MHD_OPTION_EXTERNAL_LOGGER is not the first option"
BUILTINS = {"__rate_interval": "30s", "__interval": "15s", "__range": "1h"}


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listen_addresses(port):
    """Local addresses (hex, as in /proc/net/tcp{,6}) of sockets listening on port."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, hexport = fields[1].rsplit(":", 1)
                if int(hexport, 16) == port and fields[3] == "0A":  # TCP_LISTEN
                    found.append(addr)
    return found


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def prom_regex_escape(value):
    """A value as Grafana's Prometheus data source puts it into a multi-value regex:
    regex metacharacters escaped, the backslash doubled for the PromQL string."""
    return re.sub(r'([\\^$*+?.()|\[\]{}])', r'\\\\\1', value)


def substitute(expr, variables):
    """Replace $name and ${name} for the names in variables; leave the rest ($1 in
    label_replace) alone, as Grafana does for names that are no variable."""
    def repl(m):
        name = m.group(1) or m.group(2)
        return variables.get(name, m.group(0))
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


class Prometheus:
    """A private prometheus server on 127.0.0.1 scraping one target every second."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="vs-prometheus-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(self.dir, "prometheus.yml")
        self.log_path = os.path.join(self.dir, "prometheus.log")
        with open(self.config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: collectd\n"
                    "    # write_prometheus puts collectd's host field (the VM, or the\n"
                    "    # hypervisor for the plugin's own values) in `instance`: keep it.\n"
                    "    honor_labels: true\n"
                    "    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.proc = None

    def start(self):
        if not os.access(PROMETHEUS, os.X_OK):
            raise rig.RigError(f"{PROMETHEUS} missing; run tests/rig/install-deps.sh")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={self.config}",
                 f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise rig.RigError(f"prometheus exited with {self.proc.returncode}:\n"
                                   f"{self.log()[-3000:]}")
            try:
                return http_get(self.url + "/-/ready", 2) is not None
            except (urllib.error.URLError, OSError):
                return False
        rig.wait_for(ready, 60, 0.2, "prometheus to be ready")
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def api(self, path, **params):
        """GET /api/v1/<path> with params (a list value repeats the key) -> data."""
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            body = http_get(f"{self.url}/api/v1/{path}?{query}", 30)
        except urllib.error.HTTPError as e:
            raise rig.RigError(f"prometheus {path} {params}: HTTP {e.code}: "
                               f"{e.read().decode(errors='replace')[:500]}") from e
        reply = json.loads(body)
        if reply.get("status") != "success":
            raise rig.RigError(f"prometheus {path} {params}: {reply}")
        return reply["data"]

    def query(self, expr):
        """Instant query -> list of (labels, value float)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise rig.RigError(f"{expr}: unexpected result type {data['resultType']}")
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            rig.terminate_pid(self.proc.pid, 30, "prometheus")
        if self.proc is not None:
            self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *_):
        if exc_type is not None:
            print(f"prometheus log tail:\n{self.log()[-2000:]}", file=sys.stderr)
        self.stop()
        if not os.environ.get("VIRTSCALE_KEEP_RIG"):
            shutil.rmtree(self.dir, ignore_errors=True)


def panel_targets(dash):
    """[(panel title, target)] for every panel (also inside collapsed rows)."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((p["title"], t))
            walk(p.get("panels", []))
    walk(dash["panels"])
    return out


def label_values_query(definition):
    """label_values(selector, label) -> (selector, label)."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", definition)
    if not m:
        raise rig.RigError(f"template variable query {definition!r} is no label_values()")
    return m.group(1), m.group(2)


def sample(series, n=4):
    parts = []
    for labels, value in series[:n]:
        shown = ",".join(f"{k}={v}" for k, v in sorted(labels.items())
                         if k not in ("__name__", "job"))
        parts.append(f"{{{shown}}} {value:.4g}")
    return "; ".join(parts) + (" ..." if len(series) > n else "")


def main():
    c = Checks("grafana_prometheus")
    with open(DASHBOARD) as f:
        dash = json.load(f)
    c.check([i["name"] for i in dash.get("__inputs", [])] == ["DS_PROMETHEUS"],
            f"__inputs {dash.get('__inputs')}")
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    c.check(set(variables) == {"host", "vm"}, f"template variables {sorted(variables)}")
    c.check(variables["vm"].get("multi") is True, "the vm variable is multi-select")
    targets = panel_targets(dash)
    c.check(len(targets) >= 15, f"only {len(targets)} panel targets")

    work = tempfile.mkdtemp(prefix="vs-grafana-")
    try:
        check_dashboard(c, variables, targets, work)
    finally:
        if not os.environ.get("VIRTSCALE_KEEP_RIG"):
            shutil.rmtree(work, ignore_errors=True)
    c.done()


def check_dashboard(c, variables, targets, work):
    """The rig, collectd, the storm and Prometheus; every query checked into c."""
    hv = "vsgraf" + os.urandom(3).hex()
    wp_port = free_port()
    # BlockInfo: in bulk mode libvirt's allocation of a qcow2 is the highest offset
    # written since QEMU started (0 for these guests, which write nothing); the
    # block-info thread's virDomainGetBlockInfo reports the image's allocation.
    conf = virtscale_block('Connection "qemu:///system"', "BlockInfo true") + (
        "LoadPlugin write_prometheus\n<Plugin write_prometheus>\n"
        f'  Host "127.0.0.1"\n  Port "{wp_port}"\n</Plugin>\n')
    with rig.ensure_libvirtd(), rig.VMs(n=N_VMS, disks=2, nics=1) as vms:
        names = vms.create(define_only=True)
        with rig.Collectd(plugin_dir(), conf, interval=1, hostname=hv,
                          allow_errors=[MHD_LOGGER_ERROR]) as cd:
            cd.start()
            c.check(listen_addresses(wp_port) == ["0100007F"],
                    f"write_prometheus listens on {listen_addresses(wp_port)} "
                    f"(hex /proc/net/tcp addresses), want only 127.0.0.1")
            # The VMs' boot storm, timings into this collectd.
            helper = os.path.join(rig.build_dir(), "startup-helper", "virtscale-start")
            cp = rig.run([helper, "--max-parallel", "2", "--ready", "running",
                          "--collectd-socket", cd.socket, "--spool", os.path.join(work, "spool"),
                          "--report", os.path.join(work, "report.json"), "--host", hv,
                          "--progress", "plain", *names], timeout=300, check=False)
            print(f"virtscale-start -> exit {cp.returncode}\n{cp.stdout[-1500:]}")
            c.check(cp.returncode == 0, f"virtscale-start exit {cp.returncode}: {cp.stderr[-500:]}")

            metrics_url = f"http://127.0.0.1:{wp_port}/metrics"

            def exposed():
                text = http_get(metrics_url)
                return all(f'instance="{n}"' in text for n in names) and text
            text = rig.wait_for(exposed, 60, 0.5, "write_prometheus to expose every VM")
            families = sorted({ln.split("{")[0].split(" ")[0] for ln in text.splitlines()
                               if ln.startswith("collectd_virtscale")})
            print(f"write_prometheus exposes {len(families)} virtscale families:\n  " +
                  "\n  ".join(families))
            vm0 = names[0]
            print("exposition excerpt:\n  " + "\n  ".join(
                [ln for ln in text.splitlines()
                 if f'instance="{vm0}"' in ln or f'instance="{hv}"' in ln][:40]))

            with Prometheus(f"127.0.0.1:{wp_port}") as prom:
                rig.wait_for(lambda: any(v == 1 for _, v in prom.query('up{job="collectd"}')),
                             60, 0.5, "prometheus to scrape write_prometheus (up == 1)")
                # Enough history for rate() over $__rate_interval: >= 10 points per VM.
                vm_re = "|".join(prom_regex_escape(n) for n in names)

                def history():
                    got = prom.query('count_over_time(collectd_virtscale_virt_cpu_total_total'
                                     f'{{instance=~"{vm_re}"}}[30s])')
                    return ({lab["instance"] for lab, v in got if v >= 10} == set(names)
                            and got)
                rig.wait_for(history, 120, 1, "10 scrapes of every VM's CPU time")

                values = dict(BUILTINS)
                values["host"] = hv
                values["vm"] = "(" + "|".join(prom_regex_escape(n) for n in names) + ")"

                # Template variables, as Grafana runs label_values() on Prometheus.
                for name, want in (("host", {hv}), ("vm", set(names))):
                    selector, label = label_values_query(variables[name]["definition"])
                    got = set(prom.api(f"label/{label}/values", **{"match[]": selector}))
                    print(f"variable {name}: label_values({selector}, {label}) -> "
                          f"{sorted(got)}")
                    c.check(want <= got, f"variable {name}: {sorted(got)} lacks "
                                         f"{sorted(want - got)}")

                rows = []
                results = {}
                for title, t in targets:
                    expr = substitute(t["expr"], values)
                    c.check("$" not in expr.replace("$1", ""),
                            f"{title}/{t['refId']}: unsubstituted variable in {expr}")
                    try:
                        series = prom.query(expr)
                    except rig.RigError as e:
                        c.check(False, f"{title}/{t['refId']}: {e}")
                        series = []
                    results[(title, t["refId"])] = series
                    rows.append((title, t["refId"], expr, series))
                    c.check(series, f"panel {title!r} target {t['refId']}: no data for {expr}")
                    insts = {lab.get("instance") for lab, _ in series}
                    if "$vm" in t["expr"] and series and None not in insts:
                        c.check(insts == set(names),
                                f"{title}/{t['refId']}: VMs {sorted(insts)}, want {names}")
                    if "$host" in t["expr"] and series and None not in insts:
                        c.check(insts == {hv}, f"{title}/{t['refId']}: hosts {sorted(insts)}")

                print("\n{:<42} {:<3} {:>6}  {}".format("panel", "ref", "series", "query"))
                for title, ref, expr, series in rows:
                    print(f"{title[:42]:<42} {ref:<3} {len(series):>6}  {expr}\n"
                          f"{'':>54}{sample(series)}")

                def vals(title, ref="A"):
                    return results.get((title, ref), [])
                dom = vals("VMs known (running)")
                c.check([v for _, v in dom] == [N_VMS], f"count-domains {dom}")
                states = vals("VM states")
                c.check({lab.get("state"): v for lab, v in states} == {"1": N_VMS},
                        f"VM states {states} (want all {N_VMS} running, state 1)")
                unresp = vals("Unresponsive VMs", "B")
                c.check(unresp and all(v == 0 for _, v in unresp), f"unresponsive {unresp}")
                cpu = vals("CPU %")
                c.check(cpu and all(0 <= v <= 100 for _, v in cpu), f"CPU % {cpu}")
                alloc = vals("Block allocation %")
                vda = {lab["instance"]: v for lab, v in alloc if lab.get("disk") == "vda"}
                c.check(set(vda) == set(names) and all(v > 0 for v in vda.values()),
                        f"allocation of vda {vda} (want > 0 for every VM)")
                c.check({lab.get("disk") for lab, _ in alloc} == {"vda", "vdb"},
                        f"allocation disks {alloc}")
                storm = vals("Start phases per VM (last storm in range)")
                c.check(len(storm) == 5 * N_VMS and all(v >= 0 for _, v in storm) and
                        all(v > 0 for lab, v in storm if lab.get("virtscale_start") == "total"),
                        f"start phases {storm}")
                batch = {lab.get("virtscale_start"): v
                         for lab, v in vals("Last storm on $host", "A")}
                c.check(batch.get("vms") == N_VMS and batch.get("ready") == N_VMS and
                        batch.get("failed") == 0, f"storm counts {batch}")
                disk = vals("Disk throughput", "A")
                c.check({(lab["instance"], lab.get("virtscale")) for lab, _ in disk} ==
                        {(n, d) for n in names for d in ("vda", "vdb")},
                        f"disk read rates per VM and disk: {disk}")
                nic = vals("NIC throughput", "A")
                c.check(len(nic) == N_VMS, f"NIC rx rates {nic}")


if __name__ == "__main__":
    main()
