#!/usr/bin/env bash
# mote benchmark (`make bench`): start-up time, null-syscall cost, thread costs and
# 2-vCPU speedup, file reads and page faults, peak RSS, smallest --mem, density and
# kernel-core size, the VM platform and a Linux guest under QEMU, and network
# throughput (redis-server and nginx-light: bench/net_bench.py), each beside native /
# gVisor baselines measured in the same run; docs/performance.md and the chart
# docs/performance.png (bench/chart.py) are written from the results.
#
#   bench/run.sh BUILD_DIR [--baselines-only]
#
# Builds bench/programs/*.c (gcc -O2 -static -pthread) into BUILD_DIR/bench/, then runs
# bench/bench.py, which prints a table, writes BUILD_DIR/bench/results.json and
# overwrites docs/performance.md. Goals never fail the run ("goal met"/"goal
# missed"); a measured command that fails or prints the wrong output does.
# --baselines-only measures native and gVisor without BUILD_DIR/mote.
# Environment: QUICK=1 (fewer runs per figure: a check, not figures to publish;
# `make bench QUICK=1` passes it), MOTE_RUN_FLAGS (extra `mote run` options),
# BENCH_RUNS, BENCH_WARMUP, BENCH_SYSCALL_N, BENCH_SYSCALL_N_GVISOR,
# BENCH_SYSCALL_REPS, BENCH_RSS_REPS, BENCH_CREATE_N, BENCH_CREATE_N_GVISOR,
# BENCH_PINGPONG_N, BENCH_PINGPONG_N_GVISOR, BENCH_YIELD_N, BENCH_SPIN_ITER,
# BENCH_VM_SPIN_ITER, BENCH_KVM_RUNS, BENCH_THREADS_REPS, BENCH_TIMEOUT (seconds per command; defaults in bench/bench.py),
# BENCH_REDIS_N, BENCH_REDIS_N_GVISOR, BENCH_WRK_SECONDS, BENCH_NET_REPS (network;
# defaults in bench/net_bench.py), BENCH_FILE_MIB, BENCH_FILE_RUNS, BENCH_FAULT_MIB,
# BENCH_FAULT_REPS, BENCH_DENSITY_N, BENCH_DENSITY_N_GVISOR, BENCH_REDIS_MEM_HI,
# BENCH_REDIS_MEM_STEP (bench/resources_bench.py), BENCH_GUEST_RUNS (the Linux guest
# beside the mote VM: bench/guest_bench.py, which fetches Debian's cloud kernel once
# with apt-get download into BUILD_DIR/bench/linux-guest when the host has no
# /boot/vmlinuz-*), BENCH_SECTIONS=network,... (only those sections,
# printed, docs/performance.md left as it was). The network figures need root (a
# network namespace and tap device for --net tap) and redis-server, redis-tools,
# nginx-light and wrk; without them they are SKIP rows.
set -euo pipefail

die() { echo "bench: $*" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: bench/run.sh BUILD_DIR [--baselines-only]"
BASELINES_ONLY=
if [ $# -eq 2 ]; then
  [ "$2" = --baselines-only ] || die "unknown option '$2' (usage: bench/run.sh BUILD_DIR [--baselines-only])"
  BASELINES_ONLY=--baselines-only
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -d "$1" ] || die "build directory '$1' does not exist: run 'make build' first"
BUILD=$(cd "$1" && pwd)

if [ -z "$BASELINES_ONLY" ] && [ ! -x "$BUILD/mote" ]; then
  die "$BUILD/mote not found: build mote first ('make build'), or run
       bench/run.sh $1 --baselines-only to measure only the native and gVisor baselines"
fi

for tool in gcc hyperfine python3 readelf taskset; do
  command -v "$tool" >/dev/null || die "'$tool' not found: run scripts/setup.sh"
done

mkdir -p "$BUILD/bench"
for prog in hello getppid_loop peakrss threads_bench fileread pagefault idle tsc_hello tsc_khz; do
  gcc -O2 -static -pthread -Wall -Wextra -Werror -o "$BUILD/bench/$prog" "$REPO/bench/programs/$prog.c" \
    || die "could not build bench/programs/$prog.c"
done
# The same hello on musl (scripts/setup.sh installs musl-tools): a static
# program of a few KiB, for the VM's smallest-RAM figure.
musl-gcc -O2 -static -Wall -Wextra -Werror -o "$BUILD/bench/hello-musl" "$REPO/bench/programs/hello.c" \
  || die "could not build bench/programs/hello.c with musl-gcc"

# Debian's python3 (scripts/setup.sh), whose python3-matplotlib draws the chart; a
# python3 earlier in PATH (pyenv, a venv) may not have it.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$REPO/bench/bench.py" --repo "$REPO" --build "$BUILD" $BASELINES_ONLY
