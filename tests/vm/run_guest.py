#!/usr/bin/env python3
"""Boots one test kernel with a VM test driver and checks what it did.

  run_guest.py --driver PATH [expectations] -- KERNEL [driver options]

Expectations: --status N, --stdout TEXT, --stderr TEXT (backslash escapes
allowed), --stop TEXT: stderr must be exactly one line
"mote: VM stopped: ...TEXT... at rip 0x..." (the monitor stopped the guest).
--stdin TEXT feeds the guest's console. --timing asks the driver for its
figures and prints them. A driver status of 77 ("SKIP: ..." on stderr, no
usable KVM) is passed through so ctest reports the test as skipped.
"""
import argparse
import re
import subprocess
import sys
import time

SKIP = 77


def unescape(s):
    return None if s is None else s.encode("utf-8").decode("unicode_escape")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--status", type=int, default=0)
    ap.add_argument("--stdout", default="")
    ap.add_argument("--stderr")
    ap.add_argument("--stop")
    ap.add_argument("--stdin", default="")
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    rest = a.rest[1:] if a.rest and a.rest[0] == "--" else a.rest

    cmd = [a.driver]
    if a.timing:
        cmd += ["--timing", "--since-ns", str(time.time_ns())]
    cmd += rest
    p = subprocess.run(cmd, input=unescape(a.stdin).encode(), capture_output=True, timeout=60)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")

    if p.returncode == SKIP:
        sys.stderr.write(err)
        print("SKIP: %s" % " ".join(cmd))
        return SKIP

    timing = [l for l in err.splitlines() if l.startswith("timing: ")]
    err = "".join(l + "\n" for l in err.splitlines() if not l.startswith("timing: "))
    problems = []
    if p.returncode != a.status:
        problems.append("status %d, expected %d" % (p.returncode, a.status))
    if out != unescape(a.stdout):
        problems.append("stdout %r, expected %r" % (out, unescape(a.stdout)))
    if a.stop is not None:
        line = re.fullmatch(r"mote: VM stopped: (.*) at rip 0x[0-9a-f]+\n", err)
        if not line or a.stop not in line.group(1):
            problems.append("stderr %r, expected one line 'mote: VM stopped: ...%s... at rip 0x...'" % (err, a.stop))
    elif err != (unescape(a.stderr) or ""):
        problems.append("stderr %r, expected %r" % (err, unescape(a.stderr) or ""))
    if a.timing and len(timing) < 4:
        problems.append("--timing printed %d timing lines" % len(timing))

    print("$ " + " ".join(cmd))
    for l in timing:
        print(l)
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        if err and a.stop is None:
            print("stderr was:\n" + err)
        return 1
    print("ok: status %d" % p.returncode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
