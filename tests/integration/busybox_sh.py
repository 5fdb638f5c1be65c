#!/usr/bin/env python3
"""Debian's busybox-static shell under mote: the issue-4 acceptance script
(tests/programs/bb_acceptance.sh: pipes, command substitution, tar, find,
sort, sed, awk...) natively and under mote, compared with the exit status;
plus `ls -l /` inside the guest. The shell forks for pipelines and
subshells: this exercises fork/wait/execve of the one-address-space model."""
import argparse
import os
import sys
import tempfile

from checks import run

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.realpath(os.path.join(HERE, "..", "programs", "bb_acceptance.sh"))
BUSYBOX = "/bin/busybox"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--platform", default="process")
    args = ap.parse_args()
    if not os.path.exists(BUSYBOX):
        print("SKIP: /bin/busybox (busybox-static) is missing")
        return 77
    timeout = 600 if args.platform == "qemu" else 120
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        native = run([BUSYBOX, "sh", SCRIPT, work], 60)
    mote = run([args.mote, "run", "--platform", args.platform, "--add", f"{SCRIPT}:/acceptance.sh",
                BUSYBOX, "sh", "/acceptance.sh", "/tmp"], timeout)
    if mote != native:
        print(f"FAIL script ({args.platform}): status {mote[0]} (native {native[0]})")
        print("--- native stdout\n" + native[1].decode(errors="replace"))
        print("--- native stderr\n" + native[2].decode(errors="replace"))
        print("--- mote stdout\n" + mote[1].decode(errors="replace"))
        print("--- mote stderr\n" + mote[2].decode(errors="replace"))
        failures += 1
    else:
        print(f"ok   script ({args.platform}): {len(mote[1])} bytes, status {mote[0]}, same as native")

    rc, out, err = run([args.mote, "run", "--platform", args.platform, BUSYBOX, "ls", "-l", "/"],
                       timeout)
    lines = out.decode(errors="replace").splitlines()
    dirs = {l.split()[-1] for l in lines if l.startswith("d")}
    if rc != 0 or not {"dev", "proc", "tmp", "etc"} <= dirs:
        print(f"FAIL ls -l / ({args.platform}): status {rc}, dirs {sorted(dirs)}\n{err.decode()}")
        failures += 1
    else:
        print(f"ok   ls -l / ({args.platform}): {len(lines)} entries incl. dev proc tmp etc")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
