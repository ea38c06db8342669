#!/usr/bin/env python3
"""Every invalid <Plugin virtscale> key or value makes a real collectd refuse to start,
with a log line that names the key and the offending value. A valid block starts.

(`collectd -t` checks nothing on Debian's 5.12, so each case really starts collectd
and expects it to exit with an error before "Initialization complete".)"""
from vstest import Checks, plugin_dir, rig, virtscale_block

# (option lines, substrings the error line must contain)
CASES = [
    (['Frobnicate "yes"'], ['unknown option "Frobnicate"']),
    (['Connection ""'], ["Connection", 'invalid value ""']),
    (["Connection 5"], ["Connection", "invalid value 5"]),
    (['Connection "a" "b"'], ["Connection", "expected 1 string value, got 2"]),
    (['StatsMode "fast"'], ["StatsMode", '"fast"', '"per-domain"']),
    (["StatsMode true"], ["StatsMode", "invalid value true"]),
    (['Stats "state bogus"'], ["Stats", '"bogus"']),
    (['Stats " , "'], ["Stats", "no words"]),
    (['Domain "/[unclosed/"'], ["Domain", '"/[unclosed/"', "regular expression"]),
    (["BlockDevice true"], ["BlockDevice", "invalid value true"]),
    (['InterfaceDevice ""'], ["InterfaceDevice", 'invalid value ""']),
    (['IgnoreSelected "maybe"'], ["IgnoreSelected", '"maybe"', "true or false"]),
    (["DomainIgnoreSelected 1"], ["DomainIgnoreSelected", "invalid value 1"]),
    (["BlockDeviceIgnoreSelected true false"], ["BlockDeviceIgnoreSelected",
                                                "expected one boolean value, got 2"]),
    (['InterfaceDeviceIgnoreSelected "x"'], ["InterfaceDeviceIgnoreSelected", '"x"']),
    (['HostnameFormat "fqdn"'], ["HostnameFormat", '"fqdn"']),
    (['HostnameFormat "none"'], ["HostnameFormat", '"none"']),
    (['HostnameFormat "name" "name"'], ["HostnameFormat", '"name"', "given twice"]),
    (['HostnameFormat "hostname"'], ["HostnameFormat", "PluginInstanceFormat",
                                     "same identifiers"]),
    (['PluginInstanceFormat "none name"'], ["PluginInstanceFormat", '"none"',
                                            "cannot be combined"]),
    (['PluginInstanceFormat "metadata"'], ["PluginInstanceFormat", '"metadata"']),
    (['Compatibility "collectd"'], ["Compatibility", '"collectd"', '"virt"']),
    (['BlockDeviceFormat "path"'], ["BlockDeviceFormat", '"path"']),
    (["BlockDeviceFormatBasename true"], ["BlockDeviceFormatBasename",
                                          'BlockDeviceFormat "source"']),
    (['InterfaceFormat "address"'], ["InterfaceFormat", '"address"']),
    (['<Stats "cpu">', "  Extra 1", "</Stats>"], ['"Stats" does not take a block']),
]


def main():
    c = Checks("bad_config")
    # Baseline: a valid block with every key starts (so a refusal below means something).
    good = virtscale_block(
        'Connection "test:///default"', 'StatsMode "per-domain"',
        'Stats "state cpu" "balloon, vcpu interface block"', 'Domain "test" "/^t/"',
        'BlockDevice "vda"', 'InterfaceDevice "/net/"', 'IgnoreSelected false',
        'DomainIgnoreSelected "no"', 'BlockDeviceIgnoreSelected false',
        'InterfaceDeviceIgnoreSelected off', 'HostnameFormat "hostname"',
        'PluginInstanceFormat "name uuid"', 'Compatibility "none"',
        'BlockDeviceFormat "source"', 'BlockDeviceFormatBasename true',
        'InterfaceFormat "number"')
    with rig.Collectd(plugin_dir(), good, interval=1) as cd:
        rc, out = cd.check_config()
        c.check(rc == 0, f"valid config refused (rc={rc}):\n{out}")

    for lines, needles in CASES:
        conf = virtscale_block('Connection "test:///default"', *lines)
        with rig.Collectd(plugin_dir(), conf, interval=1) as cd:
            rc, out = cd.check_config()
        errors = [ln for ln in out.splitlines() if "virtscale plugin:" in ln]
        c.check(rc != 0, f"{lines}: collectd started anyway")
        c.check(any(all(n in ln for n in needles) for ln in errors),
                f"{lines}: no error line naming {needles}; got {errors}")

    # Two blocks for the same connection.
    conf = (virtscale_block('Connection "test:///default"')
            + virtscale_block('Connection "test:///default"', load=False))
    with rig.Collectd(plugin_dir(), conf, interval=1) as cd:
        rc, out = cd.check_config()
    c.check(rc != 0 and "already exists" in out,
            f"duplicate <Plugin virtscale> for one URI accepted (rc={rc}):\n{out}")
    c.done()


if __name__ == "__main__":
    main()
