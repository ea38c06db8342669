#!/usr/bin/env bash
# Install everything the virtscale build, unit tests and integration rig need
# on a fresh Debian 12 (run as root). Idempotent: when every package is
# already installed it does not touch apt at all, so local reruns are fast.
set -euo pipefail

PACKAGES=(
  # libvirt + QEMU to run real (tiny) VMs
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils
  # build
  libvirt-dev libyajl-dev libxml2-dev libglib2.0-dev
  collectd-core collectd-dev libcollectdclient-dev collectd-utils
  libcmocka-dev pkg-config cmake make gcc
  # rig, checks, benchmarks
  python3 iproute2 clang-format shellcheck cppcheck valgrind procps
  cpio busybox-static gnuplot-nox
  # ecosystem: packaging, man pages, Prometheus (collectd's write_prometheus
  # needs protobuf-c and microhttpd, which collectd-core does not pull in),
  # RRD graphs, network namespaces
  dpkg-dev file man-db groff-base
  prometheus libprotobuf-c1 libmicrohttpd12 rrdtool librrd8
)

if [[ ${EUID} -ne 0 ]]; then
  echo "install-deps.sh: must run as root (apt-get install)" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)
  if [[ ${status} != installed ]]; then
    missing+=("${pkg}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed; skipping apt"
  exit 0
fi

echo "install-deps.sh: missing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
echo "install-deps.sh: done"
