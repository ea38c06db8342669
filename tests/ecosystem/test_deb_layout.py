#!/usr/bin/env python3
"""The Debian package, unpacked into a scratch root (`dpkg-deb -x`), nothing installed:

* a fresh configure with -DCMAKE_INSTALL_PREFIX=/usr, a build and `cpack -G DEB` make
  one virtscale_<project version>_<arch>.deb;
* control: package virtscale, the project's version, section admin, a maintainer, a
  description, and Depends naming collectd-core (>= 5.12), libvirt0 and libyajl2 with
  versions (dpkg-shlibdeps), printed with the file list;
* every file root-owned, nothing group/world-writable, no set-id bits, directories 0755;
* usr/lib/collectd/virtscale.so (0644) exports module_register and nothing else, links
  libvirt and no collectd library, and a real collectd loads it from the scratch root
  and reads the test:/// driver through it;
* usr/bin/virtscale-start (0755) answers --version (the project's version) and --help;
* the man pages virtscale(5) and virtscale-start(1) are there, gzip'd without a name or
  time stamp (`gzip -n`), and decompress to docs/man/*;
* every conf/ file (but templates) is under usr/share/doc/virtscale/examples with the
  same content and exec bit; docs/*.md are under usr/share/doc/virtscale;
* the systemd unit is generated: ExecStart is the packaged /usr/bin/virtscale-start,
  no @...@ left, and nothing is installed under /etc by default;
* -DVS_PLUGIN=OFF builds the helper, vs_common and the helper's unit tests without any
  collectd include path and without the plugin or its tests; -DVS_PLUGIN=ON without
  collectd's headers fails with a message naming collectd-dev and VS_PLUGIN=OFF.
"""
import gzip
import json
import os
import re
import shutil
import stat
import tempfile

from ecodeb import (PACKAGE, SOURCE_DIR, Checks, build_deb, conf_examples, configure_build,
                    deb_contents, deb_info, depends, project_version, rig, sh,
                    unit_exec_start)

PLUGIN = "usr/lib/collectd/virtscale.so"
HELPER = "usr/bin/virtscale-start"
DOC = "usr/share/doc/virtscale"
MAN_PAGES = {"usr/share/man/man5/virtscale.5.gz": "docs/man/virtscale.5",
             "usr/share/man/man1/virtscale-start.1.gz": "docs/man/virtscale-start.1"}
UNIT_DIRS = ("usr/lib/systemd/system", "lib/systemd/system")


def check_control(c, deb, version):
    f = deb_info(deb)
    arch = sh(["dpkg", "--print-architecture"]).stdout.strip()
    c.check(os.path.basename(deb) == f"{PACKAGE}_{version}_{arch}.deb",
            f"file name {os.path.basename(deb)}")
    c.check(f.get("Package") == PACKAGE, f"Package: {f.get('Package')}")
    c.check(f.get("Version") == version, f"Version {f.get('Version')}, project {version}")
    c.check(f.get("Architecture") == arch, f"Architecture {f.get('Architecture')}")
    c.check(f.get("Section") == "admin", f"Section {f.get('Section')}")
    c.check("<" in f.get("Maintainer", "") and "@" in f.get("Maintainer", ""),
            f"Maintainer {f.get('Maintainer')!r}")
    desc = f.get("Description", "")
    c.check(len(desc.splitlines()) >= 2 and "collectd" in desc,
            "Description has no summary + long text")
    deps = depends(f)
    print(f"Depends parsed: {json.dumps(deps)}")
    cd = deps.get("collectd-core", [])
    c.check(">= 5.12" in cd, f"Depends collectd-core {cd}, want (>= 5.12)")
    for lib in ("libvirt0", "libyajl2"):
        vers = [v for v in deps.get(lib, []) if v.startswith(">=")]
        c.check(vers, f"Depends has no versioned {lib}: {deps.get(lib)}")
    c.check(not any(k.startswith("collectd") and k != "collectd-core" for k in deps),
            f"Depends on more of collectd than collectd-core: {sorted(deps)}")


def check_modes(c, rows):
    for mode, owner, path in rows:
        c.check(owner == "root/root", f"{path}: owner {owner}")
        if mode[0] == "d":
            c.check(mode == "drwxr-xr-x", f"{path}: directory mode {mode}")
        elif mode[0] == "-":
            c.check(mode in ("-rw-r--r--", "-rwxr-xr-x"), f"{path}: file mode {mode}")
        c.check(not path.startswith("etc/"), f"{path}: under /etc by default")


def mode_of(root, rel):
    return stat.S_IMODE(os.stat(os.path.join(root, rel)).st_mode)


def check_plugin(c, root):
    so = os.path.join(root, PLUGIN)
    if not c.check(os.path.isfile(so), f"{PLUGIN} missing"):
        return
    c.check(mode_of(root, PLUGIN) == 0o644, f"{PLUGIN}: mode {oct(mode_of(root, PLUGIN))}")
    syms = sh(["nm", "-D", "--defined-only", so]).stdout.split()
    exported = sorted(s for s in syms[2::3])
    print(f"{PLUGIN} exports: {exported}")
    c.check(exported == ["module_register"], f"{PLUGIN} exports {exported}")
    needed = [ln.split("[")[1].rstrip("]") for ln in
              sh(["readelf", "-d", so]).stdout.splitlines() if "(NEEDED)" in ln]
    print(f"{PLUGIN} needs: {needed}")
    c.check(any(n.startswith("libvirt.so") for n in needed), f"no libvirt in {needed}")
    c.check(not any("collectd" in n for n in needed), f"links collectd: {needed}")
    # A real collectd loads the packaged module (stripped by cpack) and reads through it.
    body = 'LoadPlugin virtscale\n<Plugin virtscale>\n  Connection "test:///default"\n' \
           '</Plugin>\n'
    with rig.Collectd(os.path.dirname(so), body, unixsock=False) as cd:
        loaded = os.path.join(cd.private_plugin_dir, "virtscale.so")
        c.check(os.path.samefile(loaded, so), "collectd's plugin is not the packaged one")
        cd.start()
        try:
            rig.wait_for(lambda: "test/virtscale/virt_cpu_total" in cd.identifiers(), 30,
                         0.2, "values of the test driver's domain 'test'")
            print("collectd with the packaged plugin wrote "
                  f"{len([i for i in cd.identifiers() if i.startswith('test/')])} "
                  "identifiers of domain 'test'")
        except rig.RigError as e:
            c.check(False, f"{e}:\n{cd.log()[-2000:]}")
        c.check('"virtscale" successfully loaded' in cd.log(),
                f"collectd did not say it loaded virtscale:\n{cd.log()[-2000:]}")
        cd.stop()


def check_helper(c, root, version):
    exe = os.path.join(root, HELPER)
    if not c.check(os.access(exe, os.X_OK), f"{HELPER} missing or not executable"):
        return
    c.check(mode_of(root, HELPER) == 0o755, f"{HELPER}: mode {oct(mode_of(root, HELPER))}")
    v = sh([exe, "--version"], timeout=30, check=False)
    print(f"$ {HELPER} --version -> {v.returncode}: {v.stdout.strip()}")
    c.check(v.returncode == 0 and v.stdout.strip() == f"virtscale-start {version}",
            f"--version: exit {v.returncode}, {v.stdout!r}")
    h = sh([exe, "--help"], timeout=30, check=False)
    print(f"$ {HELPER} --help -> {h.returncode}: {h.stdout.splitlines()[:1]}")
    c.check(h.returncode == 0 and "--max-parallel" in h.stdout,
            f"--help: exit {h.returncode}, {h.stdout[:200]!r}")


def check_man(c, root):
    for rel, src in MAN_PAGES.items():
        path = os.path.join(root, rel)
        if not c.check(os.path.isfile(path), f"{rel} missing"):
            continue
        with open(path, "rb") as f:
            head = f.read(10)
        c.check(head[:2] == b"\x1f\x8b", f"{rel}: not gzip")
        # gzip -n: no FNAME flag (bit 3), MTIME 0 -- the package is reproducible
        c.check(not head[3] & 0x08 and head[4:8] == b"\0\0\0\0",
                f"{rel}: gzip header has a name or time stamp: {head.hex()}")
        src_path = os.path.join(SOURCE_DIR, src)
        if c.check(os.path.isfile(src_path), f"{src} missing in the source tree"):
            with gzip.open(path) as g, open(src_path, "rb") as s:
                c.check(g.read() == s.read(), f"{rel} is not {src}")
        c.check(mode_of(root, rel) == 0o644, f"{rel}: mode {oct(mode_of(root, rel))}")


def check_docs(c, root):
    examples = conf_examples()
    print(f"conf examples expected: {sorted(examples)}")
    for rel, is_exec in sorted(examples.items()):
        dst = os.path.join(root, DOC, "examples", rel)
        if not c.check(os.path.isfile(dst), f"{DOC}/examples/{rel} missing"):
            continue
        with open(dst, "rb") as a, open(os.path.join(SOURCE_DIR, "conf", rel), "rb") as b:
            c.check(a.read() == b.read(), f"{DOC}/examples/{rel} differs from conf/{rel}")
        want = 0o755 if is_exec else 0o644
        got = stat.S_IMODE(os.stat(dst).st_mode)
        c.check(got == want, f"{DOC}/examples/{rel}: mode {oct(got)}, want {oct(want)}")
    for name in ("virtscale.conf", "virtscale-as-virt.conf",
                 "virtscale-start-plan.example.json", "virtscale-start-thresholds.conf"):
        c.check(name in examples, f"conf/{name} is gone from the source tree")
    for md in sorted(os.listdir(os.path.join(SOURCE_DIR, "docs"))):
        if md.endswith(".md"):
            c.check(os.path.isfile(os.path.join(root, DOC, md)), f"{DOC}/{md} missing")


def check_unit(c, root):
    units = [os.path.join(d, "virtscale-start.service") for d in UNIT_DIRS
             if os.path.isfile(os.path.join(root, d, "virtscale-start.service"))]
    if not c.check(len(units) == 1, f"virtscale-start.service in {units}, want one of "
                                    f"{UNIT_DIRS}"):
        return
    with open(os.path.join(root, units[0])) as f:
        text = f.read()
    exe = unit_exec_start(text)
    print(f"{units[0]}: ExecStart program {exe}")
    c.check(exe == "/" + HELPER, f"ExecStart runs {exe}, want /{HELPER}")
    c.check(exe is not None and os.path.isfile(os.path.join(root, exe.lstrip("/"))),
            f"ExecStart program {exe} is not in the package")
    c.check(not re.search(r"@[A-Z_]+@", text), "unit still holds @...@ placeholders")
    for line in text.splitlines():
        if line.startswith("Documentation=file://"):
            path = line.split("file://", 1)[1].split()[0]
            c.check(os.path.isfile(os.path.join(root, path.lstrip("/"))),
                    f"Documentation {path} is not in the package")


def check_no_plugin_build(c, work):
    """-DVS_PLUGIN=OFF: helper + vs_common + helper unit tests, no collectd headers."""
    build = os.path.join(work, "noplugin")
    secs = configure_build(build, "-DVS_PLUGIN=OFF", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON")
    print(f"-DVS_PLUGIN=OFF: configured and built in {secs:.0f} s")
    exe = os.path.join(build, "startup-helper", "virtscale-start")
    c.check(os.access(exe, os.X_OK), "VS_PLUGIN=OFF: virtscale-start not built")
    c.check(os.path.isfile(os.path.join(build, "plugin", "common", "libvs_common.a")),
            "VS_PLUGIN=OFF: vs_common not built")
    c.check(not os.path.exists(os.path.join(build, "plugin", "virtscale.so")),
            "VS_PLUGIN=OFF built the plugin")
    with open(os.path.join(build, "compile_commands.json")) as f:
        cmds = json.load(f)
    bad = [e["file"] for e in cmds if "/collectd" in e["command"]]
    c.check(cmds and not bad, f"VS_PLUGIN=OFF compiles with collectd headers: {bad[:5]}")
    tests = sh(["ctest", "-N"], cwd=build).stdout
    names = [ln.split(":", 1)[1].strip() for ln in tests.splitlines()
             if ln.strip().startswith("Test") and ":" in ln]
    print(f"-DVS_PLUGIN=OFF tests: {names}")
    c.check(any(n.startswith("test_start_") for n in names),
            "VS_PLUGIN=OFF: no helper unit tests")
    c.check(not any(n in ("test_core", "test_config", "test_sampling", "test_deb_layout")
                    for n in names), "VS_PLUGIN=OFF still adds plugin tests")
    unit = sh(["ctest", "-L", "unit", "--output-on-failure"], cwd=build, check=False)
    c.check(unit.returncode == 0, f"VS_PLUGIN=OFF unit tests failed:\n{unit.stdout[-2000:]}")
    # VS_PLUGIN=ON without collectd's headers: a clear error.
    cp = sh(["cmake", "-S", SOURCE_DIR, "-B", os.path.join(work, "noheaders"),
             "-DCOLLECTD_INCLUDE_DIR=/nonexistent"], check=False)
    out = cp.stdout + cp.stderr
    c.check(cp.returncode != 0 and "collectd-dev" in out and "VS_PLUGIN=OFF" in out,
            f"configure without collectd headers: exit {cp.returncode}:\n{out[-1500:]}")


def main():
    c = Checks("deb_layout")
    version = project_version()
    work = tempfile.mkdtemp(prefix="virtscale-deb-")
    try:
        deb = build_deb(work)
        check_control(c, deb, version)
        rows = deb_contents(deb)
        check_modes(c, rows)
        root = os.path.join(work, "root")
        sh(["dpkg-deb", "-x", deb, root])
        check_plugin(c, root)
        check_helper(c, root, version)
        check_man(c, root)
        check_docs(c, root)
        check_unit(c, root)
        check_no_plugin_build(c, work)
    finally:
        if os.environ.get("VIRTSCALE_KEEP_RIG"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
