#!/usr/bin/env python3
"""The long soak: collectd with virtscale under valgrind memcheck for 10 minutes
(10 VMs at Interval 1, 3 of them coming and going; tests/fault/valgrind_soak.py says
what is measured). Prints the figures: RSS each minute and its trend, bytes lost from
the plugin, memory errors, the share of intervals with values.

    VIRTSCALE_BUILD_DIR=build tests/bench/soak_valgrind.py [--minutes 10]

Exits 1 when the plugin leaked or valgrind saw a memory error, else 0."""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fault"))
from valgrind_soak import soak  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=int, default=10)
    r = soak(ap.parse_args().minutes)
    bad = r["lost_ours"] or any(k == "invalid" or o for k, o, _ in r["errors"])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
