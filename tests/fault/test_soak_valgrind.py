#!/usr/bin/env python3
"""Short soak (2 minutes) of collectd with virtscale under valgrind memcheck: 10 VMs
sampled at Interval 1, 3 of them destroyed and created again in turn (see
valgrind_soak.py; tests/bench/soak_valgrind.py is the 10-minute run):

* 0 bytes definitely or indirectly lost in records with a frame of the plugin;
* no invalid read, write or free anywhere, no uninitialised value used by the plugin;
* values still arrive under valgrind: every steady VM has a value in at least half the
  intervals, the coming-and-going VMs have values too, collectd exits 0;
* RSS is printed each minute (only printed: 2 minutes say nothing about a trend).
"""
from valgrind_soak import soak
from vstest import Checks

MINUTES = 2


def main():
    c = Checks("soak_valgrind")
    r = soak(MINUTES)
    c.check(r["rc"] == 0, f"collectd under valgrind exited {r['rc']}:\n{r['log_tail']}")
    c.check(r["summary"], f"no ERROR SUMMARY in valgrind's log:\n{r['log_tail']}")
    c.check(r["lost_ours"] == 0, f"{r['lost_ours']} bytes lost from the plugin's code")
    bad = [(k, t) for k, o, t in r["errors"] if k == "invalid" or o]
    c.check(not bad, f"{len(bad)} memory error(s): {bad[:3]}")
    c.check(min(r["shares"].values()) >= 0.5,
            f"steady VMs got values in too few intervals: {r['shares']}")
    c.check(r["mover_values"] > 0, "no values of the VMs that came and went")
    c.check(len(r["rss"]) >= MINUTES, f"RSS sampled {len(r['rss'])} times")
    c.done()


if __name__ == "__main__":
    main()
