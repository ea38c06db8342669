#!/usr/bin/env python3
"""conf/virtscale-rrd-graphs.sh on the RRD files of a real collectd: PNGs produced and not blank.

Three defined tiny VMs (one plain, one named with a space, a quote and a `%`, one with a `:`,
which rrdtool's graph arguments use as their separator) are started by `virtscale-start`
(boot timings into collectd through unixsock) under a collectd with virtscale and the
`rrdtool` writer (its defaults but `HeartBeat 10`, so a late value on a loaded machine
leaves no gap; the boot timings' files then have a step of 3600 s, see the script's
header), hypervisor host name with a space.
After ~35 s collectd is stopped (the rrdtool plugin writes what it holds) and the script
draws the window since collectd started, for the three VMs (`--vm`).

Checks: exit 0; it printed exactly the expected PNGs (5 per VM, the boot timings, 2 for the
hypervisor), each of which exists; each is a valid PNG (signature, IHDR, chunk CRCs, IEND),
decoded here (zlib + the five scanline filters), of at least the requested plot size; the
plot area (the white canvas, found in the pixels) is the requested size; in it the series'
colours cover enough pixels in enough columns (the CPU line in several rows; in the
boot-timings graph each VM's colour): a graph without data has none. The same check run
on the same files for a window before collectd started must call the graphs blank (the
check can fail). The script exits 1 naming the problem for a dir without virtscale data,
and 2 for a bad option."""
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "rig"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import rig  # noqa: E402
from vstest import Checks, plugin_dir, safe_field  # noqa: E402

SCRIPT = os.path.normpath(os.path.join(HERE, "..", "..", "conf", "virtscale-rrd-graphs.sh"))
HV = "rrd hypervisor"
WIDTH, HEIGHT = 700, 200
# The script's palette, series 0, 1, 2... of a graph.
PALETTE = [tuple(bytes.fromhex(h)) for h in ("1f77b4", "d62728", "2ca02c", "ff7f0e", "9467bd",
                                             "8c564b", "e377c2", "17becf", "bcbd22", "7f7f7f")]
VM_GRAPHS = ("cpu", "disk-octets", "disk-ops", "nic-octets", "memory")
SECONDS = 35


def file_name(field):
    """The script's file name for an identifier field: bytes outside [A-Za-z0-9._+-]
    become %XX."""
    keep = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-"
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in field.encode())


# ---------------------------------------------------------------------------------------------
# PNG decoding (stdlib): enough for what rrdtool (cairo) writes, 8-bit grey/RGB/RGBA


def read_png(path):
    """-> (width, height, rows): rows[y][x] = (r, g, b). ValueError on anything invalid."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("no PNG signature")
    pos, chunks = 8, []
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError("truncated chunk header")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise ValueError(f"truncated {ctype!r} chunk")
        if zlib.crc32(ctype + body) != struct.unpack(">I", crc)[0]:
            raise ValueError(f"bad CRC in {ctype!r} chunk")
        chunks.append((ctype, body))
        pos += 12 + length
        if ctype == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise ValueError("first chunk is not a 13-byte IHDR")
    if chunks[-1][0] != b"IEND":
        raise ValueError("no IEND chunk")
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {0: 1, 2: 3, 6: 4}.get(ctype)
    if w == 0 or h == 0 or depth != 8 or channels is None or comp or filt or interlace:
        raise ValueError(f"unsupported IHDR {w}x{h} depth {depth} colour type {ctype} "
                         f"interlace {interlace}")
    raw = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))
    stride = w * channels
    if len(raw) != h * (stride + 1):
        raise ValueError(f"image data is {len(raw)} bytes, want {h * (stride + 1)}")
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        unfilter(ftype, line, prev, channels)
        if channels == 1:
            rows.append([(v, v, v) for v in line])
        else:
            rows.append([tuple(line[x * channels:x * channels + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def unfilter(ftype, line, prev, bpp):
    """Undo one scanline's PNG filter in place (types 0-4)."""
    if ftype == 0:
        return
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if ftype == 1:
            p = a
        elif ftype == 2:
            p = b
        elif ftype == 3:
            p = (a + b) // 2
        elif ftype == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        else:
            raise ValueError(f"unknown scanline filter {ftype}")
        line[i] = (line[i] + p) & 0xFF


def plot_area(rows):
    """Bounding box (x0, y0, x1, y1), inclusive, of the white canvas: rrdtool paints only
    the plot area white (the rest of the image is grey)."""
    white = (255, 255, 255)
    ys = [y for y, row in enumerate(rows) if row.count(white) > 20]
    xs = [x for x in range(len(rows[0])) if sum(row[x] == white for row in rows) > 20]
    if not ys or not xs:
        raise ValueError("no white plot area")
    return xs[0], ys[0], xs[-1], ys[-1]


def ink(rows, box, colours):
    """(pixels, distinct columns, distinct rows) of exactly one of `colours` inside box."""
    x0, y0, x1, y1 = box
    colours = set(colours)
    hits = [(x, y) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)
            if rows[y][x] in colours]
    return len(hits), len({x for x, _ in hits}), len({y for _, y in hits})


def judge(path, groups, min_pixels, min_columns, min_rows=1):
    """Problems with the PNG at path ([] if none): invalid, smaller than asked, or blank:
    the pixels of each group of colours (series' colours) need to cover min_pixels pixels
    in min_columns columns and min_rows rows of the plot area."""
    try:
        w, h, rows = read_png(path)
        box = plot_area(rows)
    except (OSError, ValueError, zlib.error) as e:
        return [f"{path}: {e}"]
    problems = []
    if w < WIDTH or h < HEIGHT:
        problems.append(f"{path}: {w}x{h}, smaller than the plot area asked")
    bw, bh = box[2] - box[0] + 1, box[3] - box[1] + 1
    if abs(bw - WIDTH) > 3 or abs(bh - HEIGHT) > 3:
        problems.append(f"{path}: plot area {bw}x{bh} at {box[:2]}, want {WIDTH}x{HEIGHT}")
    for colours in groups:
        n, cols, nrows = ink(rows, box, colours)
        if n < min_pixels or cols < min_columns or nrows < min_rows:
            names = "|".join(f"#{bytes(c).hex()}" for c in colours)
            problems.append(f"{path}: blank: colours {names} on {n} pixels, {cols} columns, "
                            f"{nrows} rows of the plot area (want >= {min_pixels}, "
                            f"{min_columns}, {min_rows})")
    return problems


# Per graph: groups of colours of which each must show, min pixels, min columns, min rows.
# Series may hide each other (memory total = maximum), so any series' colour counts. A line
# over the run is hundreds of columns wide (the disk and NIC lines of idle OS-less guests lie
# on zero, mid-graph); the CPU line moves. A boot-timing bar is ~15 columns wide here, its
# top drawn in the VM's colour: one per VM.
ANY = [PALETTE]
RULES = {
    "cpu": (ANY, 200, 200, 3),
    "disk-octets": (ANY, 200, 200, 1),
    "disk-ops": (ANY, 200, 200, 1),
    "nic-octets": (ANY, 200, 200, 1),
    "memory": (ANY, 200, 200, 1),
    "boot-timings": ([[c] for c in PALETTE[:3]], 3, 3, 1),
    "sampling": (ANY, 200, 200, 1),
    "domains": (ANY, 200, 200, 1),
}


def run_script(*args):
    cp = subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, timeout=300,
                        stdin=subprocess.DEVNULL)
    print(f"$ virtscale-rrd-graphs.sh {' '.join(args)[:400]}\n-> exit {cp.returncode}\n"
          f"--- stdout\n{cp.stdout[-2000:]}--- stderr\n{cp.stderr[-2000:]}", flush=True)
    return cp


def main():
    c = Checks("rrd_graphs")
    if not os.path.exists(os.path.join(rig.STOCK_PLUGIN_DIR, "rrdtool.so")):
        raise rig.RigError("collectd's rrdtool plugin missing (collectd-core)")
    helper = os.path.join(rig.build_dir(), "startup-helper", "virtscale-start")
    if not os.access(helper, os.X_OK):
        raise rig.RigError(f"virtscale-start not built at {helper}")
    work = tempfile.mkdtemp(prefix="vs-rrd-")
    rrd_dir = os.path.join(work, "rrd")
    conf = ("LoadPlugin virtscale\n<Plugin virtscale>\n  Connection \"qemu:///system\"\n"
            "</Plugin>\nLoadPlugin rrdtool\n<Plugin rrdtool>\n"
            f"  DataDir \"{rrd_dir}\"\n  HeartBeat 10\n</Plugin>\n")
    with rig.ensure_libvirtd(), rig.VMs(n=0, disks=1, nics=1) as vms:
        names = [vms.prefix + "00", vms.prefix + "odd name 'q' %", vms.prefix + "colon:vm"]
        for n in names:
            vms.create_one(n, define_only=True)
        fields = [safe_field(n) for n in names]
        with rig.Collectd(plugin_dir(), conf, interval=1, hostname=HV) as cd:
            t0 = int(time.time()) - 5
            cd.start()
            cp = subprocess.run([helper, "--connect", rig.URI, "--max-parallel", "2",
                                 "--ready", "running", "--collectd-socket", cd.socket,
                                 "--spool", os.path.join(work, "spool"), "--host", HV,
                                 "--report", os.path.join(work, "report.json"),
                                 "--progress", "none", *names],
                                capture_output=True, text=True, timeout=300)
            print(f"virtscale-start -> exit {cp.returncode}\n{cp.stderr[-2000:]}", flush=True)
            if cp.returncode != 0:
                raise rig.RigError(f"virtscale-start exit {cp.returncode}: {cp.stderr[-2000:]}")
            time.sleep(SECONDS)
            cd.stop()
            t1 = int(time.time())

        for f in fields:
            for rel in ("virtscale/percent-virt_cpu_total.rrd",
                        "virtscale_start/duration-total.rrd"):
                p = os.path.join(rrd_dir, f, rel)
                c.check(os.path.isfile(p), f"collectd wrote no {p}")

        # The graphs of the run.
        out = os.path.join(work, "png")
        vm_args = [a for f in fields for a in ("--vm", f)]
        cp = run_script("-d", rrd_dir, "-o", out, "-s", str(t0), "-e", str(t1),
                        "-W", str(WIDTH), "-H", str(HEIGHT), *vm_args)
        c.check(cp.returncode == 0, f"script exit {cp.returncode}: {cp.stderr[-1000:]}")
        want = {os.path.join(out, f"{file_name(f)}-{g}.png"): g
                for f in fields for g in VM_GRAPHS}
        want[os.path.join(out, "boot-timings.png")] = "boot-timings"
        for g in ("sampling", "domains"):
            want[os.path.join(out, f"host-{file_name(HV)}-{g}.png")] = g
        printed = cp.stdout.splitlines()
        c.check(sorted(printed) == sorted(want),
                f"printed {sorted(printed)}, want {sorted(want)}")
        for path, g in sorted(want.items()):
            if not c.check(os.path.isfile(path), f"{path} missing"):
                continue
            problems = judge(path, *RULES[g])
            for p in problems:
                c.check(False, p)
            if not problems:
                print(f"ok {os.path.basename(path)}")

        # The same check on graphs of a window before collectd ran: it must call them blank.
        early = os.path.join(work, "png-early")
        cp = run_script("-d", rrd_dir, "-o", early, "-s", str(t0 - 3600), "-e", str(t0 - 60),
                        "--vm", fields[0])
        c.check(cp.returncode == 0, f"script (early window) exit {cp.returncode}")
        for g in ("cpu", "memory"):
            path = os.path.join(early, f"{file_name(fields[0])}-{g}.png")
            problems = judge(path, *RULES[g])
            c.check(any("blank" in p for p in problems),
                    f"{path}: a graph without data was not found blank: {problems}")
        c.check("no boot timings in the window" in cp.stderr,
                f"early window: no note about missing boot timings: {cp.stderr[-500:]}")

        # No virtscale data; unknown VM; bad options.
        empty = os.path.join(work, "empty")
        os.makedirs(os.path.join(empty, "somehost", "cpu-0"))
        cp = run_script("-d", empty, "-o", os.path.join(work, "png-empty"))
        c.check(cp.returncode == 1 and "no virtscale data" in cp.stderr,
                f"empty dir: exit {cp.returncode}, {cp.stderr!r}")
        cp = run_script("-d", rrd_dir, "-o", os.path.join(work, "png-none"),
                        "--vm", "no such vm")
        c.check(cp.returncode == 1 and "'no such vm'" in cp.stderr,
                f"unknown VM: exit {cp.returncode}, {cp.stderr!r}")
        for bad, what in ((["--width", "12x"], "--width '12x'"),
                          (["--bogus"], "unknown argument '--bogus'"),
                          (["-o"], "option -o needs a value"),
                          (["--plugin", "vir-t"], "--plugin 'vir-t'"),
                          (["-d", rrd_dir, "-s", "yesterday-ish"], "--start 'yesterday-ish'")):
            cp = run_script(*bad)
            c.check(cp.returncode == 2 and what in cp.stderr,
                    f"{bad}: exit {cp.returncode}, stderr {cp.stderr!r}, want 2 and {what!r}")
    c.done()
    if not os.environ.get("VIRTSCALE_KEEP_RIG"):
        subprocess.run(["rm", "-rf", "--", work], check=False)


if __name__ == "__main__":
    main()
