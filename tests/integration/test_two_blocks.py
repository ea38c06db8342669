#!/usr/bin/env python3
"""Two <Plugin virtscale> blocks (two URIs) in one collectd: each block's
self-metrics carry its URI as plugin instance (escaped like every identifier
field), so the two never write the same identifier. With one block the plugin
instance stays empty (checked by every other test)."""
from vstest import Checks, plugin_dir, rig, safe_field, virtscale_block

URIS = ["test:///default", "qemu:///system"]
HOST = "hv-two"


def main():
    c = Checks("two_blocks")
    conf = (virtscale_block(f'Connection "{URIS[0]}"')
            + virtscale_block(f'Connection "{URIS[1]}"', load=False))
    with rig.ensure_libvirtd(), \
            rig.Collectd(plugin_dir(), conf, interval=1, hostname=HOST) as cd:
        cd.start()
        want = [f"{HOST}/virtscale-{safe_field(u)}/duration-sample" for u in URIS]
        rig.wait_for(lambda: set(want) <= set(cd.identifiers()) and all(
            len(cd.csv_rows(w)) >= 2 for w in want), 20,
            what=f"two rows of each block's self-metrics: {want}")
        rig.wait_for(lambda: any(i.startswith("test/virtscale/") for i in cd.identifiers()),
                     20, what='values of the test driver\'s domain "test"')
        shared = f"{HOST}/virtscale/duration-sample"
        c.check(shared not in cd.identifiers(),
                f"{shared} written: the two blocks share their self-metrics")
        print("two_blocks: " + ", ".join(want))
    c.done()


if __name__ == "__main__":
    main()
