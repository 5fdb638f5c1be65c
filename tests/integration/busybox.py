#!/usr/bin/env python3
"""Real programs (layer 3 of design.md's tests): Debian's busybox-static, an
unmodified static binary built by others, runs applets under `mote run` that
need no filesystem yet, with the same stdout, stderr and exit status as
natively, stdin included.

    busybox.py --mote build/mote [--busybox /bin/busybox]

Exit 77 (SKIP) when busybox-static is not installed.
"""

import argparse
import os
import subprocess
import sys

ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "TERM": "xterm", "HOSTNAME": "mote"}
INPUT = b"hello\nworld\nhello\nzebra 3\napple 10\n"

CASES = [
    ["echo", "hello", "world"],
    ["printf", "%s-%d %x\\n", "abc", "42", "255"],
    ["expr", "6", "*", "7"],
    ["seq", "2", "3", "11"],
    ["sha256sum"],
    ["md5sum"],
    ["base64"],
    ["wc"],
    ["tr", "a-z", "A-Z"],
    ["sort"],
    ["sort", "-k2", "-n"],
    ["uniq", "-c"],
    ["cat"],
    ["head", "-n", "2"],
    ["tail", "-n", "2"],
    ["od", "-c"],
    ["rev"],
    ["cut", "-c", "2-4"],
    ["basename", "/a/b/c.txt", ".txt"],
    ["dirname", "/a/b/c.txt"],
    ["true"],
    ["false"],
    ["test", "3", "-gt", "4"],
    ["uname", "-s", "-m"],
    ["nosuchapplet"],
    # /dev and /proc (kernel/fs/devfs.cc, procfs.cc): deterministic views only.
    ["ls", "/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/proc/self/fd/0"],
    ["od", "-An", "-tx1", "-N16", "/dev/zero"],
    ["test", "-c", "/dev/null"],
    ["test", "-c", "/dev/urandom"],
    ["test", "-L", "/proc/self/exe"],
    ["test", "-d", "/proc/self/fd"],
    ["wc", "-c", "/dev/null"],
    ["head", "-c", "0", "/dev/urandom"],
    ["cat", "/dev/stdin"],
    ["cat", "/proc/self/fd/0"],
    ["cat", "/proc/sys/kernel/ostype"],
    ["tee", "/dev/null"],
    ["stat", "-c", "%F %t:%T %a", "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
     "/dev/urandom"],
]


def run(argv, closed_stdin=False):
    if closed_stdin:  # fd 0 closed in the child: the program must see EBADF, not a file of mote's
        p = subprocess.run(argv, capture_output=True, env=ENV, timeout=60,
                           preexec_fn=lambda: os.close(0))
    else:
        p = subprocess.run(argv, input=INPUT, capture_output=True, env=ENV, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--qemu", action="store_true",
                    help="also on --platform qemu (TCG): stdin goes through the encoded COM4")
    opts = ap.parse_args()
    if not os.path.exists(opts.busybox):
        print("SKIP: %s not installed (Debian package busybox-static)" % opts.busybox)
        return 77
    failed = total = 0
    platforms = [["--platform", "process"]]
    if opts.qemu:
        platforms.append(["--platform", "qemu"])
    for case in CASES:
        native = run([opts.busybox, *case])
        for plat in platforms:
            total += 1
            mote = run([opts.mote, "run", *plat, opts.busybox, *case])
            same = native == mote
            print(("ok   " if same else "FAIL ") + "%s: busybox %s" % (plat[1], " ".join(case)))
            if not same:
                failed += 1
                print("    native: %r\n    mote:   %r" % (native, mote))
    for case in (["wc"], ["cat"]):
        native = run([opts.busybox, *case], closed_stdin=True)
        for plat in platforms:
            total += 1
            mote = run([opts.mote, "run", *plat, opts.busybox, *case], closed_stdin=True)
            same = native == mote
            print(("ok   " if same else "FAIL ") + "%s: busybox %s <&-" % (plat[1], " ".join(case)))
            if not same:
                failed += 1
                print("    native: %r\n    mote:   %r" % (native, mote))
    print("%d passed, %d failed" % (total - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
