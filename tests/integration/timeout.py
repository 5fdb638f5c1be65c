#!/usr/bin/env python3
"""`mote run --timeout SECONDS` ends a run that does not end by itself, with
status 124 and one `mote: timeout:` line, on the process and qemu platforms:

  - a program that sleeps or spins past the deadline (the kernel stops it);
  - a kernel that hangs holding its own lock (--selftest hang: the deadline is
    checked without that lock) on the process platform;
  - a VM whose kernel hangs with interrupts off (qemu, --selftest hang): the
    launcher kills QEMU 2 s after the deadline;
  - a run that ends in time is not touched (its own status, no timeout line);
  - malformed values are one-line usage errors (status 125, as docker run).

    timeout.py --mote build/mote --hello build/tests/guest/hello.glibc-static

Elapsed times are checked only loosely (the run ended, well before the test's
own timeout): this proves detection, not speed.
"""

import argparse
import subprocess
import sys
import time

from checks import Checks


def run(argv, timeout=60):
    start = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, b"", b"", time.monotonic() - start
    return p.returncode, p.stdout, p.stderr, time.monotonic() - start


def expect_timeout(check, name, argv, limit, message, stdout=None):
    status, out, err, took = run(argv)
    lines = [l for l in err.decode(errors="replace").splitlines() if l.startswith("mote: ")]
    check(f"{name}: status 124", status == 124, f"status {status}, stderr {err[-400:]!r}")
    check(f"{name}: one 'mote: timeout:' line saying '{message}'",
          len([l for l in lines if l.startswith("mote: timeout:")]) == 1 and
          any(message in l for l in lines), repr(lines))
    check(f"{name}: stopped after the deadline, well before {limit} s",
          status is not None and took < limit, f"{took:.1f} s")
    if stdout is not None:
        check(f"{name}: the output before the deadline came through", out == stdout, repr(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--hello", required=True)
    ap.add_argument("--no-qemu", action="store_true")
    opts = ap.parse_args()
    m = opts.mote
    check = Checks()
    spin = ["/bin/sh", "-c", "echo spinning; while :; do :; done"]

    platforms = ["process"] + ([] if opts.no_qemu else ["qemu"])
    for plat in platforms:
        p = ["--platform", plat]
        expect_timeout(check, f"{plat}: sleep 60 with --timeout 1",
                       [m, "run", *p, "--timeout", "1", "/bin/sleep", "60"], 20,
                       "the run took longer than --timeout 1.000 s")
        expect_timeout(check, f"{plat}: a busy loop with --timeout 1.5",
                       [m, "run", *p, "--timeout", "1.5", *spin], 25,
                       "the run took longer than --timeout 1.500 s", stdout=b"spinning\n")
        status, out, err, _ = run([m, "run", *p, "--timeout", "60", opts.hello, "in", "time"])
        check(f"{plat}: a run that ends in time keeps its status and output",
              status == 0 and b'argv[2]="time"' in out and b"timeout" not in err,
              f"status {status}, stderr {err!r}")

    expect_timeout(check, "process: a kernel spinning on its own lock",
                   [m, "run", "--timeout", "0.5", "--selftest", "hang", opts.hello], 15,
                   "the run took longer than --timeout 0.500 s")
    if not opts.no_qemu:
        expect_timeout(check, "qemu: a kernel hung with interrupts off",
                       [m, "run", "--platform", "qemu", "--timeout", "1", "--selftest", "hang",
                        opts.hello], 20, "the VM did not stop within --timeout 1.000 s; killed")

    for bad in ["abc", "0", "-1", "1x", "", "999999999"]:
        status, out, err, _ = run([m, "run", "--timeout", bad, opts.hello], timeout=20)
        lines = err.decode(errors="replace").splitlines()
        check(f"--timeout '{bad}': a one-line usage error, status 125",
              status == 125 and len(lines) == 1 and lines[0].startswith("mote: ") and
              "--timeout" in lines[0] and not out, f"status {status}, stderr {err!r}")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
