#!/usr/bin/env python3
"""A sleeping guest costs (almost) no host CPU time: idle_sleep (one 3 s nanosleep, then
"slept") under `mote run` uses less than 5% of its wall time in CPU time, counted for mote
and everything it started (resource.getrusage(RUSAGE_CHILDREN) before and after).

    idle_cpu.py --mote build/mote --program build/tests/guest/idle_sleep.glibc-static
"""

import argparse
import os
import resource
import subprocess
import sys
import time

from checks import Checks

MAX_CPU_SHARE = 0.05
SLEEP_SECONDS = 3.0


def cpu_seconds(usage):
    return usage.ru_utime + usage.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mote", required=True)
    p.add_argument("--program", required=True, help="idle_sleep.glibc-static")
    p.add_argument("--mote-opt", action="append", default=[], metavar="OPT",
                   help="extra option for `mote run` (e.g. --mote-opt=--cpus --mote-opt=2)")
    opts = p.parse_args()
    check = Checks()

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    try:
        proc = subprocess.run([opts.mote, "run", *opts.mote_opt, opts.program], stdin=subprocess.DEVNULL,
                              capture_output=True, env=dict(os.environ), timeout=60)
    except subprocess.TimeoutExpired:
        check("mote run idle_sleep finishes", False, "timed out after 60 s")
        return check.finish()
    wall = time.monotonic() - start
    cpu = cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)) - cpu_seconds(before)

    check("status 0, stdout 'slept'", proc.returncode == 0 and proc.stdout == b"slept\n",
          f"status {proc.returncode}, stdout {proc.stdout[:200]!r}, stderr {proc.stderr[-400:]!r}")
    check(f"slept at least {SLEEP_SECONDS:.0f} s", wall >= SLEEP_SECONDS, f"wall time {wall:.2f} s")
    share = cpu / wall if wall > 0 else 1.0
    print(f"wall {wall:.2f} s, CPU (user + system) {cpu:.3f} s: {100 * share:.1f}% "
          f"(limit {100 * MAX_CPU_SHARE:.0f}%)")
    check(f"CPU time under {100 * MAX_CPU_SHARE:.0f}% of the wall time", share < MAX_CPU_SHARE,
          f"{cpu:.3f} s of CPU in {wall:.2f} s")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
