#!/usr/bin/env python3
"""When the plugin cannot set itself up in a read (no threads left on the host), it
says so once and tries again every interval: collectd must not suspend its read
callback (collectd doubles the wait after each failed read, up to a day).

A LD_PRELOAD shim (tests/tools/vs_fail_threads.c) makes the plugin's first three
thread creations fail (its event loop's, started by the set-up in the read
callback); the test driver (test:///default) stands in for libvirtd, so no VMs are
needed."""
import os

from vstest import Checks, plugin_dir, rig, virtscale_block

FAILS = 3


def main():
    c = Checks("setup_retry")
    shim = os.path.join(rig.build_dir(), "tests", "vs_fail_threads.so")
    if not os.path.exists(shim):
        raise rig.RigError(f"{shim} not built")
    conf = virtscale_block('Connection "test:///default"')
    with rig.Collectd(plugin_dir(), conf, interval=1,
                      allow_errors=[r"virtscale plugin: cannot set up sampling"]) as cd:
        # Only collectd's environment gets the shim (Popen copies os.environ).
        saved = dict(os.environ)
        os.environ.update(LD_PRELOAD=shim, VS_FAIL_THREADS=str(FAILS),
                          VS_FAIL_THREADS_IN="virtscale.so")
        try:
            cd.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        rig.wait_for(lambda: cd.identifiers() and any(
            i.startswith("test/virtscale/") for i in cd.identifiers()), 30,
            what="values of domain \"test\" after the failed set-ups")
        cd.stop()
        with open(cd.out_path, errors="replace") as f:
            shim_lines = [ln for ln in f if ln.startswith("vs_fail_threads:")]
        log = cd.log().splitlines()
    c.check(len(shim_lines) == FAILS,
            f"the shim failed {len(shim_lines)} thread creations, not {FAILS}: the test "
            "did not exercise the failed set-up")
    errors = [ln for ln in log if "cannot set up sampling" in ln]
    c.check(len(errors) == 1, f"expected one error line for {FAILS} failed set-ups, got "
            f"{len(errors)}: {errors}")
    c.check(all("[error]" in ln and "trying again" in ln for ln in errors),
            f"error line does not say it retries: {errors}")
    suspended = [ln for ln in log if "Will suspend" in ln]
    c.check(not suspended, f"collectd suspended the read callback: {suspended}")
    c.check(any("sampling set up" in ln for ln in log), "no line saying sampling is set up")
    print(f"setup_retry: {len(shim_lines)} failed set-ups, {len(errors)} error line, "
          f"no suspension, values followed")
    c.done()


if __name__ == "__main__":
    main()
