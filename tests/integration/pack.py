#!/usr/bin/env python3
"""`mote pack PROGRAM [ARGS] -o FILE` writes one image that a plain QEMU
command line boots unchanged (docs/kernel-vm.md), and that `mote run FILE`
runs on any platform:

    qemu-system-x86_64 -M microvm -accel tcg -m 64M -nodefaults -no-user-config \\
      -nographic -no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \\
      -kernel FILE [-append "[options] -- ARGV..."]

The program's output matches its native run, with the packed arguments or the
ones given at boot; the status comes back through isa-debug-exit.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from checks import Checks, microvm

ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "TERM": "xterm", "HOSTNAME": "mote"}


def qemu(image, append=None):
    r = subprocess.run(microvm(image, append), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=120)
    return r.returncode, r.stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mote", required=True)
    p.add_argument("--hello", required=True)
    p.add_argument("--exit-code", required=True)
    opts = p.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        print("SKIP: qemu-system-x86_64 is not installed")
        return 77
    check = Checks()

    with tempfile.TemporaryDirectory() as d:
        img = os.path.join(d, "hello.img")
        r = subprocess.run([opts.mote, "pack", opts.hello, "a", "b c", "-o", img],
                           capture_output=True)
        check("mote pack succeeds", r.returncode == 0 and os.path.getsize(img) > 0, r.stderr.decode())
        native = subprocess.run([opts.hello, "a", "b c"], capture_output=True, env=ENV,
                                stdin=subprocess.DEVNULL)
        # argv[0] differs (native: the path; packed: as given to mote pack): same here.
        rc, out = qemu(img)
        check("packed arguments: output as native", out == native.stdout,
              f"{out[:300]!r} vs {native.stdout[:300]!r}")
        check("packed arguments: status 0", rc == 1, f"qemu status {rc}")
        native2 = subprocess.run([opts.hello, "x"], capture_output=True, env=dict(ENV, MOTE_TEST="q r"),
                                 stdin=subprocess.DEVNULL)
        rc, out = qemu(img, "env=MOTE_TEST=q%20r -- " + opts.hello + " x")
        check("boot arguments override: output as native", out == native2.stdout,
              f"{out[:300]!r} vs {native2.stdout[:300]!r}")

        # mote run IMAGE: the packed program with its packed arguments, or with
        # the ones given (they replace the packed ones, as docker run does).
        for plat in ("process", "qemu"):
            r = subprocess.run([opts.mote, "run", "--platform", plat, img], capture_output=True,
                               stdin=subprocess.DEVNULL)
            check(f"mote run IMAGE ({plat}): packed arguments", r.stdout == native.stdout and
                  r.returncode == 0, f"{r.returncode} {r.stdout[:200]!r} {r.stderr[:200]!r}")
            r = subprocess.run([opts.mote, "run", "--platform", plat, "-e", "MOTE_TEST=q r", img, "x"],
                               capture_output=True, stdin=subprocess.DEVNULL)
            check(f"mote run IMAGE ARGS ({plat}): arguments replaced", r.stdout == native2.stdout,
                  f"{r.stdout[:200]!r} vs {native2.stdout[:200]!r}; {r.stderr[:200]!r}")

        img2 = os.path.join(d, "exit.img")
        subprocess.run([opts.mote, "pack", opts.exit_code, "42", "-o", img2], check=True)
        rc, _ = qemu(img2)
        check("status 42 through isa-debug-exit", (rc >> 1) & 0x7f == 42 and rc & 1, f"qemu status {rc}")
        r = subprocess.run([opts.mote, "run", img2], stdin=subprocess.DEVNULL)
        check("mote run IMAGE: status 42", r.returncode == 42, f"status {r.returncode}")

        bad = subprocess.run([opts.mote, "pack", os.path.join(d, "missing"), "-o", img2],
                             capture_output=True)
        err = bad.stderr.decode()
        check("missing program: one mote: line", bad.returncode != 0 and err.startswith("mote: ")
              and err.count("\n") == 1, err)
        nout = subprocess.run([opts.mote, "pack", opts.hello], capture_output=True)
        check("no -o: usage error", nout.returncode != 0 and nout.stderr.decode().startswith("mote: "),
              nout.stderr.decode())
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
