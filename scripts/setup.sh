#!/usr/bin/env bash
# Installs the Debian packages mote needs to build, test and benchmark.
# Idempotent: when everything is present it only runs dpkg-query (fast no-op).
set -euo pipefail

PACKAGES=(
  build-essential g++ cmake make python3
  libgtest-dev libbenchmark-dev
  musl-tools            # musl-gcc: the third variant of every guest test program
  golang-go             # Go test programs (tests/go): the Go runtime's threads, signals, preemption
  busybox-static        # a real static program for integration tests
  sqlite3 lua5.4        # real dynamic programs for integration tests (python3 above)
  qemu-system-x86       # the VM platform under TCG (issue 3)
  libslirp-dev libglib2.0-dev  # --net user (mote-net); GLib for slirp's pkg-config file
  zlib1g-dev            # zlib: the reference gzip that the kernel's decompressor is tested against
  libunicorn-dev        # CPU emulator: checks the KVM monitor's boot path where /dev/kvm is absent
  clang libclang-rt-14-dev  # libFuzzer and sanitizers for tests/fuzz
  gdb                   # mote run --gdb: the gdb.* tests drive the stub with gdb -batch
  hyperfine             # benchmarks
  python3-matplotlib    # the benchmark's chart (docs/performance.png)
  runsc                 # gVisor: benchmark baseline
  redis-server redis-tools nginx-light curl wrk  # network servers and clients (issue 6)
)

# One dpkg-query for all packages; anything not "install ok installed" is missing.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null \
  | awk '$4 == "installed" { print $1 }' || true)
missing=()
for p in "${PACKAGES[@]}"; do
  grep -qx "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
