#!/usr/bin/env python3
"""The VM platform's kernel image boots under QEMU microvm through PVH (TCG)
with the documented plain QEMU command line (docs/kernel-vm.md), runs its
self-tests (traps on IST stacks with the red zone intact, page
fault, divide error, ring-0 syscall via LSTAR, TSC, LAPIC one-shot timer)
and reports its status through isa-debug-exit.

    qemu_kernel.py --kernel build/mote-kernel

Exit 77 (ctest SKIP) when qemu-system-x86_64 is not installed.
"""

import argparse
import re
import os
import shutil
import subprocess
import sys
import tempfile

from checks import Checks, microvm

SELFTESTS = ["invalid-opcode", "ist-red-zone", "page-fault", "divide-error", "lstar-syscall", "ksyms",
             "tsc", "lapic-timer", "smp"]


def qemu_cmd(kernel, append):
    return microvm(kernel, append)  # the same command line as docs/kernel-vm.md


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    opts = p.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        print("SKIP: qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")
        return 77
    check = Checks()

    r = subprocess.run(qemu_cmd(opts.kernel, "selftest"), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace").replace("\r\n", "\n")
    check("PVH boot banner", "mote kernel: PVH boot" in out and 'cmdline "selftest"' in out, out)
    for t in SELFTESTS:
        check("selftest " + t, re.search(f"selftest {t}: ok( \\(.*\\))?\n", out), out)
    check("no self-test failed", "selftest: 0 failed\n" in out, out)
    # isa-debug-exit: status 0 -> QEMU exits (0 << 1) | 1.
    check("status 0 through isa-debug-exit", r.returncode == 1, f"qemu status {r.returncode}")

    # After memory_init: core memory given back is mapped again (the region
    # does not grow with every thread a program makes), zeroed, frames kept.
    r = subprocess.run(qemu_cmd(opts.kernel, "selftest-mem"), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace").replace("\r\n", "\n")
    check("selftest core-reuse", re.search("selftest core-reuse: ok\n", out) and
          "selftest: 0 failed\n" in out and r.returncode == 1, out[-400:])

    # Application processors: found in the ACPI MADT (QEMU's -smp) or by
    # cpus=N without ACPI, started with INIT-SIPI-SIPI, online.
    for smp, machine, append in ((3, "microvm", "selftest"),
                                 (2, "microvm,acpi=off", "selftest cpus=2")):
        cmd = qemu_cmd(opts.kernel, append)
        cmd[cmd.index("microvm")] = machine
        cmd += ["-smp", str(smp)]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        out = r.stdout.decode(errors="replace").replace("\r\n", "\n")
        check(f"-smp {smp} ({machine}): every CPU online",
              f"selftest smp: ok ({smp} of {smp} CPUs online)\n" in out, out[-400:])
        check(f"-smp {smp} ({machine}): no self-test failed", "selftest: 0 failed\n" in out, out[-400:])

    r = subprocess.run(qemu_cmd(opts.kernel, ""), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace")
    check("without a program it says so", "mote: no program" in out, out)
    # Status 125 -> (125 << 1 | 1) & 0xff = 251; the launcher's low-7-bit mapping gives 125.
    check("status 125 through isa-debug-exit", r.returncode == 251 and (r.returncode >> 1) & 0x7f == 125,
          f"qemu status {r.returncode}")
    # A guest too small for the kernel and its initrd: QEMU loads the initrd
    # over the kernel image; the kernel must say so, not run overwritten code.
    with tempfile.NamedTemporaryFile() as initrd:
        initrd.write(b"\0" * (700 << 10))  # QEMU puts it at the top of the 2 MiB
        initrd.flush()
        cmd = microvm(opts.kernel, "-- prog", ram="2M", initrd=initrd.name)
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        out = r.stdout.decode(errors="replace")
        check("an initrd over the kernel is reported", "overlaps the kernel image" in out, out[-300:])
        check("... with status 125", (r.returncode >> 1) & 0x7f == 125, f"qemu status {r.returncode}")
    # A kernel fault on purpose: the report names the functions of each frame
    # (the generated symbol table matches the final link).
    r = subprocess.run(qemu_cmd(opts.kernel, "crashtest"), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace")
    check("kernel fault report", "mote kernel: page fault" in out and "cr2 0xffff900000000000" in out, out)
    check("frame #0 symbolized", "#0 " in out and "crash_inner" in out, out)
    check("caller frame symbolized", "<mote_kernel_main+" in out, out)
    check("status 70 through isa-debug-exit", (r.returncode >> 1) & 0x7f == 70, f"qemu status {r.returncode}")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
