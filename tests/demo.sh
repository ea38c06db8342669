#!/usr/bin/env bash
# virtscale demo on this machine (Debian 12, as root):
#   bash tests/demo.sh
# Installs what it needs, builds, boots a few tiny VMs, runs collectd with the
# virtscale plugin, shows the values it collects and draws a graph. The VMs
# are removed at the end; collectd's csv files, log and the graph are kept in
# the directory printed at the end.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${top}"

bash tests/rig/install-deps.sh
out=$(mktemp -d /tmp/virtscale-demo.XXXXXX)
cmake -S . -B "${out}/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVS_TESTS=OFF >/dev/null
cmake --build "${out}/build" -j "$(nproc)" >/dev/null
VIRTSCALE_BUILD_DIR="${out}/build" python3 tests/demo.py "${out}" "$@"
