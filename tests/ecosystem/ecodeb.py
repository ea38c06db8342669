"""Shared pieces of the packaging tests (imported, not run by ctest).

Builds the Debian package the way a packager would: a fresh CMake configure of
this source tree with -DCMAKE_INSTALL_PREFIX=/usr in a temporary directory,
a build, `cpack -G DEB`; then reads the package with dpkg-deb."""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "rig"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import rig  # noqa: E402
from vstest import Checks  # noqa: E402,F401

PACKAGE = "virtscale"
BUILD_TIMEOUT = 900  # a loaded 2-core machine


def sh(cmd, timeout=BUILD_TIMEOUT, check=True, cwd=None, env=None):
    """Run cmd (list) -> CompletedProcess (text). RigError when it is missing, times out
    or (check=True) fails; the error carries the output's tail."""
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                            env=env, stdin=subprocess.DEVNULL)
    except FileNotFoundError as e:
        raise rig.RigError(f"{cmd[0]}: not installed ({e}); run tests/rig/install-deps.sh") \
            from e
    except subprocess.TimeoutExpired as e:
        raise rig.RigError(f"{' '.join(cmd)}: not done within {timeout} s") from e
    if check and cp.returncode != 0:
        raise rig.RigError(f"{' '.join(cmd)}: exit {cp.returncode}:\n"
                           f"{(cp.stdout + cp.stderr)[-4000:]}")
    return cp


def project_version():
    """VERSION of project() in the top CMakeLists.txt."""
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*virtscale\s+VERSION\s+([0-9.]+)", f.read())
    if not m:
        raise rig.RigError("no project(virtscale VERSION ...) in CMakeLists.txt")
    return m.group(1)


def configure_build(build, *options, target=None):
    """cmake configure (RelWithDebInfo, OPTIONS) + build into `build`; returns seconds."""
    t0 = time.monotonic()
    sh(["cmake", "-S", SOURCE_DIR, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
        *options])
    sh(["cmake", "--build", build, "-j", str(os.cpu_count() or 2),
        *(["--target", target] if target else [])])
    return time.monotonic() - t0


def build_deb(work):
    """Configure with prefix /usr (no tests), build and `cpack -G DEB` under `work`;
    returns the path of the one .deb made."""
    build = os.path.join(work, "build")
    secs = configure_build(build, "-DCMAKE_INSTALL_PREFIX=/usr", "-DVS_TESTS=OFF")
    out = os.path.join(work, "deb")
    cp = sh(["cpack", "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"),
             "-B", out], cwd=build)
    debs = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".deb")]
    if len(debs) != 1:
        raise rig.RigError(f"cpack made {len(debs)} .deb files in {out}:\n{cp.stdout}")
    print(f"built {debs[0]} ({os.path.getsize(debs[0])} bytes) in {secs:.0f} s + cpack",
          flush=True)
    return debs[0]


def deb_info(deb):
    """`dpkg-deb -I` text (printed) and the control fields as a dict."""
    info = sh(["dpkg-deb", "-I", deb]).stdout
    print(f"$ dpkg-deb -I {os.path.basename(deb)}\n{info}", flush=True)
    fields, last = {}, None
    for line in sh(["dpkg-deb", "-f", deb]).stdout.splitlines():
        if line.startswith(" ") and last:
            fields[last] += "\n" + line.strip()
        elif ":" in line:
            last, value = line.split(":", 1)
            fields[last] = value.strip()
    return fields


def deb_contents(deb):
    """`dpkg-deb -c` (printed) as [(mode string, owner/group, path without "./")]."""
    text = sh(["dpkg-deb", "-c", deb]).stdout
    print(f"$ dpkg-deb -c {os.path.basename(deb)}\n{text}", flush=True)
    rows = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        path = parts[5].split(" -> ")[0]
        rows.append((parts[0], parts[1], path[2:] if path.startswith("./") else path))
    return rows


def depends(fields):
    """{package: [version constraint, ...]} from the Depends field."""
    deps = {}
    for item in fields.get("Depends", "").split(","):
        for alt in item.split("|"):
            m = re.match(r"\s*([a-z0-9][a-z0-9.+-]*)(?:\s*\(([^)]*)\))?", alt)
            if m:
                deps.setdefault(m.group(1), []).append((m.group(2) or "").strip())
    return deps


def conf_examples():
    """{path relative to conf/: executable?} of what conf/ ships as examples: every file
    but templates (*.in), dotfiles and editor backups."""
    found = {}
    top = os.path.join(SOURCE_DIR, "conf")
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if f.startswith(".") or f.endswith("~") or f.endswith(".in"):
                continue
            p = os.path.join(d, f)
            found[os.path.relpath(p, top)] = os.access(p, os.X_OK)
    return found


def unit_exec_start(text):
    """The program of ExecStart= in a unit file's text (prefixes like '-' dropped)."""
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            return line.split("=", 1)[1].lstrip("-@:+!").split()[0]
    return None
