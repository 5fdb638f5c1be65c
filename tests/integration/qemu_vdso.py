#!/usr/bin/env python3
"""The VM platform's vDSO (kernel/vdso/): a program's
clock_gettime, gettimeofday and time are served without a system call, with
the same clocks as the system calls, and the vDSO is where C libraries look
(AT_SYSINFO_EHDR, [vdso] in /proc/self/maps), as on Linux. Checked under
QEMU/TCG: the program's own checks (libc's clock reads between two direct
system calls, in order), `--strace` (of the ~8000 clock reads only the 18
direct system calls appear), and the kernel option vdso=0 (no vDSO: every
read is a system call, the clocks still right).

    qemu_vdso.py --mote build/mote --kernel build/mote-kernel --program vdso_clock.glibc-static

Exit 77 (ctest SKIP) when qemu-system-x86_64 is not installed.
"""
import argparse
import shutil
import subprocess
import sys

from checks import Checks, microvm

DIRECT_CALLS = 18  # the program's own syscall(SYS_clock_gettime) calls


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mote", required=True)
    p.add_argument("--kernel", required=True)
    p.add_argument("--program", required=True)
    opts = p.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        print("SKIP: qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")
        return 77
    check = Checks()
    native = subprocess.run([opts.program], capture_output=True, text=True, timeout=60)
    check("native: the program's checks pass", native.returncode == 0 and
          native.stdout == "vdso yes, maps 1, clocks ok\n", native.stdout)

    r = subprocess.run([opts.mote, "run", "--platform", "qemu", opts.program], capture_output=True,
                       text=True, timeout=300)
    check("qemu: a vDSO, in the maps, the clocks right (as native)",
          r.returncode == 0 and r.stdout == native.stdout, f"status {r.returncode}: {r.stdout!r}")

    r = subprocess.run([opts.mote, "run", "--platform", "qemu", "--strace", opts.program],
                       capture_output=True, text=True, timeout=300)
    calls = [l for l in r.stderr.splitlines()
             if l.startswith(("clock_gettime(", "gettimeofday(", "time("))]
    check("qemu --strace: only the direct clock system calls",
          r.returncode == 0 and len(calls) == DIRECT_CALLS and
          all(l.startswith("clock_gettime(") for l in calls),
          f"{len(calls)} clock system calls: {calls[:5]} ... {calls[-3:]}")

    # The kernel option vdso=0 (plain QEMU command line): no vDSO, every clock
    # read a system call, the same answers.
    cmd = microvm(opts.kernel, "vdso=0 -- vdso_clock", initrd=opts.program)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    out = r.stdout.decode(errors="replace").replace("\r\n", "\n")
    check("vdso=0: no vDSO, the clocks right", out.endswith("vdso no, maps 0, clocks ok\n") and
          r.returncode == 1, f"qemu status {r.returncode}: {out[-300:]}")
    # The kernel option `profile`: where the vCPU's time went, printed at the
    # exit; its system-call counts see the same 18 clock_gettime calls.
    cmd = microvm(opts.kernel, "profile -- vdso_clock", initrd=opts.program)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    out = r.stdout.decode(errors="replace").replace("\r\n", "\n")
    rows = [l.split() for l in out.splitlines() if l.startswith("mote-profile:   clock_gettime")]
    check(f"profile: a summary and the clock_gettime row ({DIRECT_CALLS} calls)",
          "mote-profile: " in out and " system calls " in out and len(rows) == 1 and
          rows[0][2] == str(DIRECT_CALLS) and r.returncode == 1, out[-600:])
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
