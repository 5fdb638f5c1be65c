#!/usr/bin/env python3
"""Threads run in parallel on more than one virtual CPU: parallel_sum (two CPU-bound
threads) under `mote run --cpus 1` and `mote run --cpus 2`, best of 3 runs each. With
--cpus 2 it must be at least 1.4x faster, and every run's output must equal the native
output.

    threads_speed.py --mote build/mote --program build/tests/guest/parallel_sum.glibc-static

Exit 77 (SKIP, printed loudly) when fewer than 2 host CPUs are available to this process:
two virtual CPUs could not run at the same time.
"""

import argparse
import os
import subprocess
import sys
import time

from checks import Checks

ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "TERM": "xterm", "HOSTNAME": "mote"}
RUNS = 3
MIN_SPEEDUP = 1.4
TIMEOUT = 120


def timed(argv, env):
    """(seconds, exit status, stdout, stderr) of one run."""
    start = time.monotonic()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=TIMEOUT)
    return time.monotonic() - start, p.returncode, p.stdout, p.stderr


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mote", required=True)
    p.add_argument("--program", required=True, help="parallel_sum.glibc-static")
    p.add_argument("--threads", default="2", help="parallel_sum's thread count (default 2)")
    opts = p.parse_args()

    cpus = len(os.sched_getaffinity(0))
    if cpus < 2:
        print(f"SKIP: this host has {cpus} CPU available; the --cpus 2 speedup needs at least 2")
        return 77

    check = Checks()
    _, status, native_out, native_err = timed([opts.program, opts.threads], ENV)
    check("native run", status == 0 and bool(native_out), f"status {status}, stderr {native_err[-400:]!r}")
    print("native output: " + native_out.decode(errors="replace").strip().replace("\n", " | "))

    best = {}
    for n in (1, 2):
        argv = [opts.mote, "run", "--cpus", str(n), opts.program, opts.threads]
        times = []
        for _ in range(RUNS):
            try:
                seconds, status, out, err = timed(argv, dict(os.environ))
            except subprocess.TimeoutExpired:
                check(f"--cpus {n}: run finishes", False, f"timed out after {TIMEOUT} s")
                return check.finish()
            ok = status == 0 and out == native_out
            check(f"--cpus {n}: status 0 and the native output", ok,
                  f"status {status}, stdout {out[:300]!r}, stderr {err[-400:]!r}")
            if not ok:
                return check.finish()
            times.append(seconds)
        best[n] = min(times)
        print(f"--cpus {n}: " + ", ".join(f"{t:.2f}s" for t in times) + f" (best {best[n]:.2f}s)")

    ratio = best[1] / best[2]
    print(f"--cpus 1: {best[1]:.2f}s, --cpus 2: {best[2]:.2f}s, speedup {ratio:.2f}x "
          f"(need >= {MIN_SPEEDUP}x)")
    check(f"--cpus 2 is at least {MIN_SPEEDUP}x faster than --cpus 1", ratio >= MIN_SPEEDUP,
          f"speedup {ratio:.2f}x")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
