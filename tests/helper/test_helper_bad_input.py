#!/usr/bin/env python3
"""Bad input: exit 2, a clear message naming what and where, nothing started.

Unknown domains (by name, in a plan, by --match), a domain already running, negative and
garbage flag values, malformed plans (syntax and meaning, with file:line:column), an
unusable spool directory. After each, every test VM is still shut off and no collectd value
or spool file was written.

Hostile plans: truncated, 10 MB (over the 1 MiB limit), 100000 `[`, wrong types, a 1 MiB
plan of tiny values (over the 65536-value limit): each refused with file:line:col (or the
file and the limit), exit 2, run with RLIMIT_DATA at 64 MB (a 16 MB plan took 1 GB of RSS,
a 10 MB one 338 MB and more than 10 minutes of CPU; out of memory the message would be
"out of memory")."""
import os
import resource
import subprocess
import tempfile

from helpertest import Checks, domstate, helper, rig, run

DATA_LIMIT = 64 * 2**20


def limit_data():
    """In the child before exec: at most 64 MB of data (heap, private mappings)."""
    resource.setrlimit(resource.RLIMIT_DATA, (DATA_LIMIT, DATA_LIMIT))


def run_bounded(args, timeout=120):
    """virtscale-start ARGS under limit_data() -> CompletedProcess (text)."""
    try:
        cp = subprocess.run([helper(), *args], capture_output=True, text=True,
                            errors="replace", timeout=timeout, stdin=subprocess.DEVNULL,
                            preexec_fn=limit_data)
    except subprocess.TimeoutExpired as e:
        raise rig.RigError(f"virtscale-start {args[-1]} ran over {timeout} s") from e
    print(f"$ virtscale-start {' '.join(args)[:200]}\n-> exit {cp.returncode}\n--- stderr\n"
          f"{cp.stderr[-1500:]}", flush=True)
    return cp


def hostile_plans(work, a):
    """(path, expected message) of plans that must be refused."""
    def write(name, data):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(data)
        return path
    big = write("big.json", '{"domains": [' + '"%s",' % a * (10 * 2**20 // (len(a) + 3))
                + '"%s"]}' % a)
    deep = write("deep.json", "[" * 100000)
    trunc = write("trunc.json", '{"domains": ["%s", {"name": "x' % a)
    types = write("types.json", '{"domains": ["%s"],\n "timeout_s": "10"}' % a)
    obj = write("obj.json", '{"groups": [{"name": ["g"], "domains": ["%s"]}]}' % a)
    many = write("many.json", '{"domains": [' + "1," * 400000 + "1]}")
    return [
        (big, f"--plan {big}: larger than 1048576 bytes (the limit for a plan)"),
        (deep, f"{deep}:1:17: nested deeper than 16 levels"),
        (trunc, f"{trunc}:1:{len(a) + 29}: parse error: premature EOF"),
        (types, f"{types}:2:15: timeout_s: expected a number, found a string"),
        (obj, f"{obj}:1:22: group name: expected a string, found an array"),
        (many, f"{many}:1:{14 + 2 * 65534}: more than 65536 values (the limit for a plan)"),
    ]


UNKNOWN_LINE_START = '  {"domains": ["'


def main():
    c = Checks("start_bad_input")
    work = tempfile.mkdtemp(prefix="vs-bad-")
    spool = os.path.join(work, "spool")
    plan_syntax = os.path.join(work, "syntax.json")
    plan_unknown = os.path.join(work, "unknown.json")
    plan_meaning = os.path.join(work, "meaning.json")
    not_a_dir = os.path.join(work, "file")
    open(not_a_dir, "w").close()
    with rig.ensure_libvirtd(), rig.VMs(n=2, disks=1, nics=0) as vms, \
            rig.Collectd(None, "", interval=1) as cd:
        a, b = vms.create(define_only=True)
        running = vms.create_one()  # transient, running
        cd.start()
        with open(plan_syntax, "w") as f:
            f.write('{\n  "domains": [\n    "%s",\n  ]\n}\n' % a)
        with open(plan_unknown, "w") as f:
            f.write('{"groups": [\n  {"domains": ["%s"]},\n  {"domains": ["%s", '
                    '"no-such-vm"]}\n]}\n' % (a, b))
        with open(plan_meaning, "w") as f:
            f.write('{\n  "max_parallel": -2,\n  "domains": ["%s"]\n}\n' % a)
        common = ["--collectd-socket", cd.socket, "--spool", spool]
        cases = [
            ([a, "no-such-vm"], "domain argument 2: unknown domain 'no-such-vm'"),
            (["--max-parallel", "-1", a], "--max-parallel '-1': expected a whole number"),
            (["--max-parallel", "lots", a], "--max-parallel 'lots'"),
            (["--spacing", "abc", a], "--spacing 'abc': expected milliseconds"),
            (["--timeout", "-5", a], "--timeout '-5': expected seconds > 0"),
            (["--timeout", "nan", a], "--timeout 'nan'"),
            (["--ready", "bogus", a], "--ready 'bogus': expected running, agent or"),
            (["--hold-until", "never", a], "--hold-until 'never'"),
            (["--bogus-flag", a], "unknown option '--bogus-flag'"),
            (["--plan", plan_syntax], f"{plan_syntax}:4:"),
            (["--plan", plan_unknown],
             f"{plan_unknown}:3:{len(UNKNOWN_LINE_START) + len(b) + 4}: unknown domain "
             f"'no-such-vm'"),
            (["--plan", plan_meaning], f"{plan_meaning}:2:19: max_parallel: expected"),
            (["--plan", os.path.join(work, "missing.json")], "No such file or directory"),
            (["--match", "^no-such-prefix"], "no defined, inactive domain matches"),
            (["--match", "(", a], "--match '(':"),
            ([a, running], f"domain argument 2: domain '{running}' is already running"),
            ([a, a], f"domain argument 2: domain '{a}' is named twice"),
            ([a, "--spool", not_a_dir], "not a directory"),
            ([], "nothing to start"),
        ]
        for plan, msg in hostile_plans(work, a):
            cp = run_bounded([*common, "--plan", plan])
            c.check(cp.returncode == 2, f"{plan}: exit {cp.returncode}, want 2")
            c.check(msg in cp.stderr, f"{plan}: stderr lacks {msg!r}: {cp.stderr[-300:]!r}")
        for args, msg in cases:
            cp = run(*common, *args, timeout=60)
            c.check(cp.returncode == 2, f"{args}: exit {cp.returncode}, want 2")
            c.check(msg in cp.stderr, f"{args}: stderr lacks {msg!r}: {cp.stderr!r}")
            c.check(cp.stderr.startswith("virtscale-start: "), f"{args}: {cp.stderr!r}")
            for n in (a, b):
                c.check(domstate(n) == "shut off", f"{args}: {n} is {domstate(n)}")
        c.check(not os.path.exists(spool) or not os.listdir(spool), "spool written")
        got = [i for i in cd.identifiers() if "virtscale_start" in i]
        c.check(not got, f"values reached collectd: {got}")
        cp = run("--help")
        c.check(cp.returncode == 0 and "--max-parallel" in cp.stdout, "--help")
    c.done()


if __name__ == "__main__":
    main()
