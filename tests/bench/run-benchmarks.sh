#!/usr/bin/env bash
# Every benchmark of virtscale on this machine (Debian 12, as root), in one command:
#   bash tests/bench/run-benchmarks.sh            # rewrites docs/BENCHMARKS.md and its plots
#   bash tests/bench/run-benchmarks.sh --smoke    # a few VMs for seconds, into a temp dir
# Installs what it needs, builds (RelWithDebInfo) in a temporary directory, and runs
# tests/bench/benchmarks.py with the arguments given (see its --help). Prints figures;
# it asserts nothing and fails only when the world cannot be set up.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "${top}"

bash tests/rig/install-deps.sh
work=$(mktemp -d /tmp/virtscale-bench.XXXXXX)
trap 'rm -rf "${work}"' EXIT
cmake -S . -B "${work}/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# the plugin, the helper, the benchmarks' dispatch-only plugin (tests/bench/vs_floor.c)
# and libvirt client (tests/bench/vs_lvbench.c)
cmake --build "${work}/build" -j "$(nproc)" --target virtscale virtscale-start vsfloor vslvbench >/dev/null
VIRTSCALE_BUILD_DIR="${work}/build" python3 -u tests/bench/benchmarks.py "$@"
