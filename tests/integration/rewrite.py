#!/usr/bin/env python3
"""Syscall-site rewriting on the process platform (kernel/platform/process/
rewrite.cc), both shapes: `mov $nr,%eax; syscall` patched in place, and
sites with another instruction before the `syscall` (glibc's read is
`xor %eax,%eax; syscall`) reached through alignment padding.

A program with a second thread (so glibc takes its cancellable read path)
reads a pipe thousands of times and passes items through a queue between
threads (futex waits and wakes): its output must be what it is natively,
with rewriting on and off (MOTE_NO_REWRITE=1), and `--verbose` must report
sites rewritten through padding.

    rewrite.py --mote build/mote
"""

import argparse
import os
import re
import sys

from checks import Checks, run

PY = "/usr/bin/python3"

PROGRAM = r"""
import os, queue, threading
r, w = os.pipe()
def writer():
    for i in range(3000):
        os.write(w, b"%05d" % i)
t = threading.Thread(target=writer)
t.start()
total = 0
for i in range(3000):
    total += int(os.read(r, 5))
t.join()
q = queue.Queue(maxsize=4)
def producer():
    for i in range(3000):
        q.put(i)
    q.put(None)
t = threading.Thread(target=producer)
t.start()
got = 0
while (v := q.get()) is not None:
    got += v
t.join()
print(total, got)
"""


# A forked child's own sites: getppid and getpgrp only in the child, n times.
FORKED = r"""
import os, sys
n = int(sys.argv[1])
os.getpid(); os.getpid(); os.getpid()  # the parent makes a stub page first
pid = os.fork()
if pid == 0:
    s = 0
    for i in range(n):
        s += os.getppid() + os.getpgrp()
    os._exit(0 if n == 0 or s > 0 else 1)
_, st = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(st))
"""


def rewritten(err):
    m = re.search(rb"mote: syscall sites rewritten: (\d+)", err)
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    opts = ap.parse_args()
    check = Checks()
    status, want, err = run([PY, "-c", PROGRAM], 60)
    if status != 0:
        print(f"FAIL the program does not run natively: {status} {err!r}")
        return 1
    status, out, err = run([opts.mote, "run", "--verbose", PY, "-c", PROGRAM], 120)
    check("reads and queue hand-offs as natively, rewriting on", status == 0 and out == want,
          f"status {status}, {out!r} vs {want!r}, {err[-300:]!r}")
    m = re.search(rb"mote: syscall sites rewritten: (\d+), (\d+) of them through padding", err)
    check("--verbose reports the rewritten sites", m is not None, f"stderr {err[-300:]!r}")
    if m:
        check("some sites were rewritten through padding (glibc's read, futex calls)",
              int(m.group(2)) >= 1 and int(m.group(1)) > int(m.group(2)),
              f"{m.group(1).decode()} sites, {m.group(2).decode()} through padding")
    env = dict(os.environ, MOTE_NO_REWRITE="1")
    status, out, err = run([opts.mote, "run", "--verbose", PY, "-c", PROGRAM], 120, env=env)
    check("the same with rewriting off", status == 0 and out == want,
          f"status {status}, {out!r} vs {want!r}, {err[-300:]!r}")
    m = re.search(rb"mote: syscall sites rewritten: (\d+)", err)
    check("and then no site is rewritten", m is not None and m.group(1) == b"0", f"{err[-200:]!r}")

    # A forked child rewrites its own hot sites into the parent's stub pages.
    counts = []
    for n in (0, 50):
        status, out, err = run([opts.mote, "run", "--verbose", PY, "-c", FORKED, str(n)], 120)
        counts.append(rewritten(err) if status == 0 and out == b"child 0\n" else None)
        check(f"a forked child calls getppid and getpgrp {n} times", counts[-1] is not None,
              f"status {status}, {out!r}, {err[-300:]!r}")
    if None not in counts:
        check("the child's own sites are rewritten (2 more sites)", counts[1] >= counts[0] + 2,
              f"{counts[0]} sites without the calls, {counts[1]} with them")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
