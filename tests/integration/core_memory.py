#!/usr/bin/env python3
"""The core's own memory is reused, not only given back: a long run that
takes and frees kernel buffers (sendfile's, a thread's stacks) must not use
up the core's address space (kernel/mm/heap.cc keeps large blocks for
reuse; the process platform's map_core hands out ranges unmap_core gave
back). `--verbose` prints the address space used at exit; a run with many
rounds must use no more than one with a few.

    core_memory.py --mote build/mote
"""

import argparse
import re
import sys

from checks import Checks, run

PY = "/usr/bin/python3"

SENDFILE = r"""
import os, sys
src = os.open("/etc/hostname", os.O_RDONLY)
out = os.open("/tmp/out", os.O_WRONLY | os.O_CREAT, 0o600)
for i in range(int(sys.argv[1])):
    os.sendfile(out, src, 0, 10)
print("done")
"""

THREADS = r"""
import sys, threading
for i in range(int(sys.argv[1])):
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
print("done")
"""

SLACK_KIB = 2048


def used_kib(mote, script, n):
    status, out, err = run([mote, "run", "--verbose", PY, "-c", script, str(n)], 120)
    m = re.search(rb"mote: core region: (\d+) KiB of address space used", err)
    if status != 0 or out != b"done\n" or not m:
        return None, f"status {status}, {out!r}, {err[-300:]!r}"
    return int(m.group(1)), ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    opts = ap.parse_args()
    check = Checks()
    for name, script, few, many in (("sendfile", SENDFILE, 10, 3000),
                                    ("thread create+join", THREADS, 5, 300)):
        a, why_a = used_kib(opts.mote, script, few)
        b, why_b = used_kib(opts.mote, script, many)
        check(f"{name}: both runs report the core's address space", a is not None and
              b is not None, why_a or why_b)
        if a is not None and b is not None:
            check(f"{name}: {many} rounds use no more than {few} (+{SLACK_KIB} KiB)",
                  b <= a + SLACK_KIB, f"{few} rounds: {a} KiB, {many} rounds: {b} KiB")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
