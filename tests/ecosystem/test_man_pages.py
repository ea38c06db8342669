#!/usr/bin/env python3
"""The man pages virtscale(5) and virtscale-start(1): clean, complete, accurate.

For each page in docs/man/:
- `man --warnings=w -E UTF-8 -l PAGE` and `groff -man -ww -z` (terminal and
  typesetter devices) print no warning at all;
- rendered by man at 80 columns, no line is wider than 80 and no word is
  hyphenated (option names must stay searchable), and lexgrog (what mandb
  indexes) reads its NAME line.

virtscale(5) against the plugin:
- the keys the plugin accepts, read from the handlers[] table of
  plugin/vs_config.c and, as a cross-check, from vs_config_key() of the built
  code (a small program linked against the build's static libraries): the two
  lists agree, there are at least 15, and each key is an option entry in the
  page's OPTIONS section (and the page documents no key the plugin refuses);
- each numeric key's range (the numbers[] table) is stated in its entry as
  "from MIN to MAX", "Whole number" for integer keys, and each fixed default
  that vs_config_init() sets is stated as "Default: N";
- each keyword a key accepts (its kw[] table) is named in its entry.

virtscale-start(1) against the built helper:
- every long option printed by `virtscale-start --help`, and every entry of
  long_opts[] in startup-helper/vs_start_cli.c, is an option entry in
  OPTIONS (and the page lists no option the helper does not know);
- each "(default X)" of --help appears after "Default" in that option's entry;
- the exit codes of --help and of vs_start_main.c agree and each is an entry in
  EXIT STATUS (and the page lists no other).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from vstest import Checks  # noqa: E402

PAGE5 = os.path.join(SOURCE_DIR, "docs", "man", "virtscale.5")
PAGE1 = os.path.join(SOURCE_DIR, "docs", "man", "virtscale-start.1")
CONFIG_C = os.path.join(SOURCE_DIR, "plugin", "vs_config.c")
CLI_C = os.path.join(SOURCE_DIR, "startup-helper", "vs_start_cli.c")
MAIN_C = os.path.join(SOURCE_DIR, "startup-helper", "vs_start_main.c")
MIN_KEYS = 15
MIN_FLAGS = 15
MIN_EXIT_CODES = 3
ENV = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8", MANPAGER="cat", PAGER="cat")
ENV.pop("MAN_KEEP_FORMATTING", None)


class SetupError(Exception):
    pass


def run(cmd, env=None, timeout=120):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=env or ENV, stdin=subprocess.DEVNULL)
    except FileNotFoundError as e:
        raise SetupError(f"{cmd[0]}: not installed ({e}); run tests/rig/install-deps.sh "
                         "(man-db, groff-base)") from e


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def render(page, width):
    """The page as man shows it at `width` columns: plain lines."""
    cp = run(["man", "-E", "UTF-8", "-l", page], env=dict(ENV, MANWIDTH=str(width)))
    if cp.returncode != 0 or not cp.stdout.strip():
        raise SetupError(f"man -l {page}: exit {cp.returncode}: {cp.stderr.strip()}")
    return re.sub(".\b", "", cp.stdout).splitlines()


def indent(line):
    return len(line) - len(line.lstrip(" "))


def section(lines, name):
    """Lines of the section headed `name` (a line at indent 0), without the head."""
    out, inside = [], False
    for line in lines:
        if line and indent(line) == 0:
            inside = line.strip() == name
            continue
        if inside:
            out.append(line)
    return out


def entries(lines):
    """Tagged paragraphs of a section rendered with .TP: [(tag line, body text)].
    A tag sits at the section's text indent (7) and its body is indented further
    (14), on the tag's line when the tag is short; lines at indent 7 without such
    a body are plain paragraphs, left out."""
    result, tag, body = [], None, []
    for line in lines:
        if not line.strip():
            continue
        if indent(line) == 7:
            if tag is not None:
                result.append((tag, " ".join(body)))
            # a tag narrower than the body's indent shares its line with the body
            short = re.match(r" {7}(\S.*?) {2,}(\S.*)$", line)
            if short and short.start(2) == 14:
                tag, body = short.group(1), [short.group(2)]
            else:
                tag, body = line.strip(), []
        elif indent(line) > 7 and tag is not None:
            body.append(line.strip())
    if tag is not None:
        result.append((tag, " ".join(body)))
    return [(t, re.sub(r"\s+", " ", b)) for t, b in result if b]


def lint(c, page):
    name = os.path.basename(page)
    cp = run(["man", "--warnings=w", "-E", "UTF-8", "-l", page],
             env=dict(ENV, MANWIDTH="80"))
    c.check(cp.returncode == 0 and cp.stdout.strip(),
            f"{name}: man -l exit {cp.returncode}, {len(cp.stdout)} bytes of output")
    c.check(not cp.stderr.strip(),
            f"{name}: man --warnings printed:\n{cp.stderr.strip()}")
    for device in ("utf8", "ps"):
        cp = run(["groff", "-man", "-ww", "-z", "-T", device, page])
        c.check(cp.returncode == 0 and not cp.stderr.strip(),
                f"{name}: groff -man -ww -z -T{device}: exit {cp.returncode}:\n"
                f"{cp.stderr.strip()}")
    lines = render(page, 80)
    wide = [ln for ln in lines if len(ln) > 80]
    c.check(not wide, f"{name}: {len(wide)} line(s) wider than 80 columns at "
            f"MANWIDTH=80, e.g. {wide[:1]}")
    hyph = [ln.strip() for ln in lines if "\u2010" in ln]
    c.check(not hyph, f"{name}: hyphenated words at 80 columns: {hyph[:3]}")
    cp = run(["lexgrog", page])
    c.check(cp.returncode == 0 and " - " in cp.stdout,
            f"{name}: lexgrog cannot read the NAME line: {cp.stdout}{cp.stderr}")
    print(f"{name}: {len(lines)} lines at 80 columns, max width "
          f"{max(len(ln) for ln in lines)}")


# --- virtscale(5) -----------------------------------------------------------

def table(src, name):
    """The body of `static const ... name[] = { ... };` in C source."""
    m = re.search(r"\b" + re.escape(name) + r"\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        raise SetupError(f"{name}[] not found in the source")
    return m.group(1)


def config_keys_from_source():
    src = read(CONFIG_C)
    handlers = re.findall(r"\{\s*\"([A-Za-z][A-Za-z0-9]*)\"\s*,\s*(set_\w+)\s*\}",
                          table(src, "handlers"))
    numbers = {}
    for key, field, lo, hi, integer in re.findall(
            r"\{\s*\"(\w+)\"\s*,\s*offsetof\(\s*vs_config_t\s*,\s*(\w+)\s*\)\s*,"
            r"\s*([0-9.eE+-]+)\s*,\s*([0-9.eE+-]+)\s*,\s*(true|false)\s*\}",
            table(src, "numbers")):
        numbers[key] = (field, float(lo), float(hi), integer == "true")
    init = re.search(r"void vs_config_init\(vs_config_t \*cfg\) \{(.*?)\n\}", src, re.S)
    if not init:
        raise SetupError("vs_config_init() not found in plugin/vs_config.c")
    defaults = {f: float(v) for f, v in
                re.findall(r"cfg->(\w+)\s*=\s*([0-9.]+)\s*;", init.group(1))}
    # keyword tables, by handler function
    keywords = {}
    for fn, body in re.findall(r"static int (set_\w+)\((.*?)\n\}", src, re.S):
        kw = re.search(r"keyword_t kw\[\]\s*=\s*\{(.*?)\};", body, re.S)
        if kw:
            keywords[fn] = re.findall(r"\{\s*\"([\w-]+)\"\s*,", kw.group(1))
    return handlers, numbers, defaults, keywords


def config_keys_from_build(build):
    """vs_config_key(i) of the built code, through a small program linked against
    the build's own static libraries (only the objects it needs are pulled; other
    builds a test keeps inside the build directory, such as an ASan plugin, are not
    taken)."""
    archives = sorted(glob.glob(os.path.join(build, "plugin", "lib*.a")) +
                      glob.glob(os.path.join(build, "plugin", "common", "lib*.a")) +
                      glob.glob(os.path.join(build, "startup-helper", "lib*.a")))
    if not archives:
        raise SetupError(f"no static libraries under {build}: build it first")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SetupError("no C compiler (cc) to link vs_config_key()")
    libs = run(["pkg-config", "--libs", "libvirt", "yajl", "libxml-2.0"])
    if libs.returncode != 0:
        raise SetupError(f"pkg-config --libs libvirt yajl libxml-2.0: {libs.stderr}")
    with tempfile.TemporaryDirectory(prefix="vs-man-") as tmp:
        prog_c = os.path.join(tmp, "keys.c")
        prog = os.path.join(tmp, "keys")
        with open(prog_c, "w") as f:
            f.write("#include <stddef.h>\n#include <stdio.h>\n"
                    "const char *vs_config_key(size_t i);\n"
                    "int main(void) {\n"
                    "  for (size_t i = 0; vs_config_key(i); i++)\n"
                    "    puts(vs_config_key(i));\n"
                    "  return 0;\n}\n")
        cp = run([cc, "-o", prog, prog_c, "-Wl,--start-group", *archives,
                  "-Wl,--end-group", *libs.stdout.split(), "-lpthread", "-lm"])
        if cp.returncode != 0:
            raise SetupError("cannot link vs_config_key() from the build's libraries "
                             f"{[os.path.relpath(a, build) for a in archives]}:\n"
                             f"{cp.stderr[-2000:]}")
        cp = run([prog])
        if cp.returncode != 0:
            raise SetupError(f"vs_config_key() program: exit {cp.returncode}")
        return cp.stdout.split()


def g(x):
    return "%g" % x


def check_config_page(c, build, lines):
    handlers, numbers, defaults, keywords = config_keys_from_source()
    keys = [k for k, _ in handlers]
    built = config_keys_from_build(build)
    print(f"virtscale.5: {len(keys)} keys in plugin/vs_config.c handlers[], "
          f"{len(built)} from the built vs_config_key(), {len(numbers)} numeric keys "
          f"with ranges, {sum(1 for k in numbers if numbers[k][0] in defaults)} fixed "
          f"numeric defaults, {sum(len(v) for v in keywords.values())} keywords in "
          f"{len(keywords)} keyword tables")
    c.check(len(keys) >= MIN_KEYS,
            f"only {len(keys)} config keys found in {CONFIG_C} (expected >= {MIN_KEYS}): "
            "the key extraction is broken")
    c.check(len(set(keys)) == len(keys), f"duplicate keys in handlers[]: {keys}")
    c.check(sorted(built) == sorted(keys),
            f"keys in handlers[] by regex {sorted(set(keys) - set(built))} / built "
            f"vs_config_key() {sorted(set(built) - set(keys))} differ")
    c.check(set(numbers) <= set(keys) and len(numbers) >= 5,
            f"numbers[] keys {sorted(numbers)} not all in handlers[]")

    opts, bodies = {}, {}
    for tag, body in entries(section(lines, "OPTIONS")):
        opts[tag.split()[0]] = tag + " " + body
        bodies[tag.split()[0]] = body
    for key in keys:
        c.check(key in opts, f"virtscale.5: config key {key} has no entry in OPTIONS")
    for name in opts:
        if re.fullmatch(r"[A-Z][A-Za-z]+", name):
            c.check(name in keys, f"virtscale.5: OPTIONS documents {name}, which the "
                    "plugin does not accept")
    for key, (field, lo, hi, integer) in numbers.items():
        text = opts.get(key, "")
        c.check(f"from {g(lo)} to {g(hi)}" in text,
                f"virtscale.5: {key}: range 'from {g(lo)} to {g(hi)}' not stated")
        c.check(bodies.get(key, "").startswith("Whole number") == integer,
                f"virtscale.5: {key}: should {'' if integer else 'not '}say "
                "'Whole number'")
        if field in defaults:
            c.check(re.search(r"Default: " + re.escape(g(defaults[field])) + r"\b", text),
                    f"virtscale.5: {key}: 'Default: {g(defaults[field])}' "
                    f"(vs_config_init) not stated")
    # A keyword table may serve several keys (HostnameFormat takes all of its
    # words but "none"): each word must be named in the entry of one of them.
    for fn, words in keywords.items():
        users = [k for k, f in handlers if f == fn]
        for word in words:
            c.check(any(re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])",
                                  opts.get(k, "")) for k in users),
                    f"virtscale.5: {'/'.join(users)}: keyword '{word}' not named "
                    "in the entry")


# --- virtscale-start(1) ------------------------------------------------------

def check_helper_page(c, build, lines):
    helper = os.path.join(build, "startup-helper", "virtscale-start")
    if not os.access(helper, os.X_OK):
        raise SetupError(f"{helper}: not built")
    cp = run([helper, "--help"])
    c.check(cp.returncode == 0, f"virtscale-start --help: exit {cp.returncode}")
    help_text = cp.stdout
    help_flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text))
    help_flags |= set(re.findall(r"(?<![\w-])(-[a-z])(?=[ ,])", help_text))
    cli = read(CLI_C)
    src_flags = {"--" + f for f in re.findall(
        r"\{\s*\"([a-z][a-z0-9-]*)\"\s*,\s*(?:no|required|optional)_argument",
        table(cli, "long_opts"))}
    short = re.search(r"getopt_long\([^;]*?\"([^\"]*)\"\s*,\s*long_opts", cli, re.S)
    if not short:
        raise SetupError("getopt_long(..., \"...\", long_opts, ...) not found in "
                         f"{CLI_C}")
    src_flags |= {"-" + ch for ch in re.findall(r"[A-Za-z]", short.group(1))}
    help_exit = {int(n) for n in re.findall(
        r"(?:^|[,:\n])\s*(\d+) [a-z]", help_text.split("exit status:", 1)[-1])}
    src_exit = {int(n) for n in re.findall(r"\bEXIT_\w+\s*=\s*(\d+)", read(MAIN_C))}
    # EXIT_SIGNAL = 128 /* + the signal */: the helper exits 130 (SIGINT), 143 (SIGTERM).
    if re.search(r"\bEXIT_SIGNAL\s*=\s*128\b", read(MAIN_C)):
        src_exit = (src_exit - {128}) | {130, 143}
    c.check("exit status:" in help_text, "virtscale-start --help: no 'exit status:'")
    print(f"virtscale-start.1: {len(help_flags)} options in --help, {len(src_flags)} "
          f"in long_opts[] and the short options, exit codes {sorted(help_exit)} in "
          f"--help and {sorted(src_exit)} in vs_start_main.c")
    c.check(len(help_flags) >= MIN_FLAGS and len(src_flags) >= MIN_FLAGS,
            f"only {len(help_flags)} / {len(src_flags)} options found "
            f"(expected >= {MIN_FLAGS}): the extraction is broken")
    c.check(help_flags <= src_flags,
            f"--help lists options the parser does not know: "
            f"{sorted(help_flags - src_flags)}")
    c.check(len(src_exit) >= MIN_EXIT_CODES and help_exit == src_exit,
            f"exit codes differ: --help {sorted(help_exit)}, "
            f"vs_start_main.c {sorted(src_exit)}")

    opts = {}
    for tag, body in entries(section(lines, "OPTIONS")):
        for tok in tag.replace(",", " ").split():
            if tok.startswith("-"):
                opts[tok] = tag + " " + body
    for flag in sorted(help_flags | src_flags):
        c.check(flag in opts, f"virtscale-start.1: option {flag} has no entry in OPTIONS")
    for flag in opts:
        c.check(flag in src_flags or flag in help_flags,
                f"virtscale-start.1: OPTIONS documents {flag}, which the helper "
                "does not know")
    ndefaults = 0
    for line in help_text.splitlines():
        m = re.match(r"\s+(?:-\w, )?(--[a-z-]+)\b.*\(.*?default:? ([^);]+)\)", line)
        if not m:
            continue
        flag, default = m.group(1), m.group(2).strip()
        ndefaults += 1
        after = opts.get(flag, "").split("Default", 1)[-1] if "Default" in \
            opts.get(flag, "") else ""
        c.check(re.search(r"(?<![\w/-])" + re.escape(default) + r"(?![\w/-])", after),
                f"virtscale-start.1: {flag}: --help says default '{default}', the "
                f"page's entry does not")
    c.check(ndefaults >= 8, f"only {ndefaults} defaults found in --help")

    codes = set()
    for tag, _ in entries(section(lines, "EXIT STATUS")):
        if tag.split()[0][:1].isdigit():
            codes |= {int(n) for n in re.findall(r"\d+", tag)}
    for code in sorted(src_exit | help_exit):
        c.check(code in codes, f"virtscale-start.1: exit code {code} not in EXIT STATUS")
    c.check(codes <= src_exit, f"virtscale-start.1: EXIT STATUS lists codes "
            f"{sorted(codes - src_exit)} the helper never returns")
    print(f"virtscale-start.1: {len(opts)} options and exit codes {sorted(codes)} "
          f"documented, {ndefaults} --help defaults checked")


def main():
    build = os.environ.get("VIRTSCALE_BUILD_DIR")
    if not build or not os.path.isdir(build):
        raise SetupError("set VIRTSCALE_BUILD_DIR to a build directory")
    c = Checks("man_pages")
    for page in (PAGE5, PAGE1):
        if not os.path.isfile(page):
            raise SetupError(f"{page}: missing")
        lint(c, page)
    # Wide enough that no entry wraps: each entry's text is read whole.
    check_config_page(c, build, render(PAGE5, 250))
    check_helper_page(c, build, render(PAGE1, 250))
    c.done()


if __name__ == "__main__":
    try:
        main()
    except (SetupError, AssertionError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
