#!/usr/bin/env python3
"""`mote run` of a dynamic program whose root filesystem image is cached is
served by the `mote` binary alone (abi/rootfs_fast.h), without the C++
monitor; any change to what the image was built from sends it back to the
monitor. Proven with a copy of `mote` that has no mote-monitor beside it:
the fast path runs the program, a fallback fails to find the monitor."""
import argparse
import os
import shutil
import sys
import tempfile

import checks
from checks import Checks


def run(cmd, env):
    rc, out, err = checks.run(cmd, 120, env)
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--hello", required=True, help="a dynamic hello (glibc)")
    args = ap.parse_args()
    check = Checks()
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, MOTE_CACHE_DIR=os.path.join(d, "cache"))
        prog = os.path.join(d, "hello")
        shutil.copy(args.hello, prog)
        lone = os.path.join(d, "lone")
        os.mkdir(lone)
        shutil.copy(args.mote, os.path.join(lone, "mote"))  # no mote-monitor beside it
        lone_mote = os.path.join(lone, "mote")

        rc, out, err = run([lone_mote, "run", prog, "a"], env)
        check("no cached image yet: the lone mote needs the monitor",
              rc != 0 and "mote-monitor" in err, f"status {rc}: {err.strip()}")
        rc, out, err = run([args.mote, "run", prog, "a"], env)
        check("the monitor builds the image", rc == 0 and "hello" in out.lower(), err)
        rc2, out2, err2 = run([lone_mote, "run", prog, "a"], env)
        check("cached: the lone mote runs it, same output",
              (rc2, out2, err2) == (rc, out, err), f"status {rc2}: {err2.strip()}")
        rc3, out3, err3 = run([lone_mote, "run", "-e", "X=1", "--mem", "64M", prog, "a"], env)
        check("-e and --mem keep the fast path", rc3 == 0 and out3 == out, err3.strip())

        # A changed program (same size, new contents and times): not the image's.
        with open(prog, "r+b") as f:
            data = bytearray(f.read())
            data[-1] ^= 0xff
            f.seek(0)
            f.write(data)
        rc, out, err = run([lone_mote, "run", prog, "a"], env)
        check("a changed program is not run from the old image",
              rc != 0 and "mote-monitor" in err, f"status {rc}: {err.strip()}")
        rc, out, err = run([lone_mote, "run", "-e", "LD_LIBRARY_PATH=/x", prog], env)
        check("LD_LIBRARY_PATH goes to the monitor", rc != 0 and "mote-monitor" in err, err.strip())
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
