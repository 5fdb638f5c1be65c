#!/usr/bin/env python3
"""The KVM monitor's gdb stub (monitor/vm/gdb/stub.h), driven by gdb in batch
mode against the test kernel guest/gdb.elf, on real KVM (mote-vm-test) or on
the emulated CPU (mote-vm-emu) where KVM cannot run it.

    gdb_test.py --driver build/mote-vm-emu --kernel build/tests/vm/guest/gdb.elf

The kernel tells the monitor where its "program" starts (the DebugProgram
hypercall, with an initial stack and auxiliary vector, as the mote kernel
does), jumps there, sums 1..10 into %rbx, stores it at `result` (at
`counted`), loads it back into %rax and exits with it. Each session checks
what gdb sees and that what it changes reaches the guest, through the exit
status:
  - with --gdb-at-program the first stop is the program's entry (the
    monitor's execute breakpoint), and `info auxv` shows its AT_ENTRY;
  - otherwise it is the kernel's first instruction; a breakpoint at
    `counted` is hit with %rbx = 55; stepi moves by one instruction; memory
    reads through the guest's page tables show the stored 55; a write to
    `result` changes the status to 42;
  - a register write (%rbx = 7) at the breakpoint changes the status to 7;
  - single steps from the program's entry walk the loop instruction by
    instruction;
  - `info threads` lists the vCPU; `detach` lets the guest run on (55);
    `kill` ends the VM (137); gdb going away lets the guest run on (55).
Every wait has a timeout. Exit 77 (SKIP) without gdb, or when the driver
says KVM is not usable here.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from checks import Checks, free_port, kvm_pvm_emulation_failure, reap, wait_listening  # noqa: E402

TIMEOUT = 60


class Skip(Exception):
    pass


def session(driver, kernel, cmds, gdb_kill=False, at_program=False):
    """(gdb output, driver stderr, driver status) for one gdb session."""
    port = free_port()
    extra = ["--gdb-at-program"] if at_program else []
    proc = subprocess.Popen([driver, "--gdb", str(port), *extra, kernel], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ok, err = wait_listening(proc, 30)
        if not ok:
            out, rest = proc.communicate(timeout=10)
            if proc.returncode == 77:
                raise Skip((out + err + rest).decode(errors="replace").strip())
            return "", (err + rest).decode(errors="replace"), proc.returncode
        cmd = ["gdb", "-batch", "-nx", "-ex", f"target remote 127.0.0.1:{port}"]
        for c in cmds:
            cmd += ["-ex", c]
        g = subprocess.Popen(cmd + [kernel], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if gdb_kill:
            # gdb vanishes mid-session (after its first exchanges).
            time.sleep(1.0)
            g.kill()
        try:
            gout = g.communicate(timeout=TIMEOUT)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            g.kill()
            gout = "gdb TIMED OUT\n" + g.communicate()[0].decode(errors="replace")
        _, rest = reap(proc, "driver")
        derr = (err + rest).decode(errors="replace")
        if kvm_pvm_emulation_failure(derr):
            # No software breakpoint is ever hit there (int3). The same
            # sessions run on the monitor's CPU emulator (vm.emu_gdb).
            raise Skip("this KVM is kvm_pvm, which emulates ring-0 code and cannot run a "
                       "breakpoint's int3 (vm.emu_gdb runs these sessions): " + derr.strip())
        return gout, derr, proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--kernel", required=True)
    a = ap.parse_args()
    if not shutil.which("gdb"):
        print("SKIP: gdb is not installed (apt-get install gdb)")
        return 77
    check = Checks()
    try:
        def run(name, cmds, **kw):  # noqa: ARG001 (name: for reading)
            gout, err, rc = session(a.driver, a.kernel, cmds, **kw)
            return gout, rc, f"\n--- gdb:\n{gout}\n--- driver stderr:\n{err}\n--- status {rc}"

        gout, rc, d = run("memory", [
            "print $pc", "break counted", "continue", "print $rbx", "stepi", "print $pc == store_exit",
            "x/1gd &result", "set var *(long *) &result = 42", "stepi", "print $rax", "continue"])
        check("the first stop is the kernel's first instruction",
              "$1 = (void (*)()) 0x100000 <_start>" in gout, d)
        check("a breakpoint at `counted` is hit", "Breakpoint 1, 0x" in gout and "in counted ()" in gout, d)
        check("registers read at the breakpoint (%rbx = 55)", "$2 = 55" in gout, d)
        check("stepi moves past one instruction", "$3 = 1" in gout, d)
        check("memory reads through the guest's page tables show the stored 55",
              re.search(r"\n0x[0-9a-f]+(?: <result>)?:\s+55\n", gout) is not None, d)
        check("the stepped load sees gdb's write (%rax = 42)", "$4 = 42" in gout, d)
        check("gdb sees the exit status", "exited with code 052" in gout, d)
        check("the driver exits with what the guest computed after the write", rc == 42, d)

        gout, rc, d = run("register", ["break counted", "continue", "set $rbx = 7", "continue"])
        check("a register write at the breakpoint reaches the guest (status 7)",
              rc == 7 and "exited with code 07" in gout, d)

        gout, rc, d = run("entry", ["print $pc == program", "print/x (long) &program", "info auxv",
                                    "continue"], at_program=True)
        entry = re.search(r"\$2 = (0x[0-9a-f]+)", gout)
        check("with the entry breakpoint, the first stop is the program's entry", "$1 = 1" in gout, d)
        check("info auxv reads the program's auxiliary vector (AT_ENTRY)",
              entry is not None and re.search(r"AT_ENTRY\s.*" + entry.group(1) + r"\b", gout) is not None, d)
        check("the program then runs to its exit (55)", rc == 55, d)

        gout, rc, d = run("steps", ["stepi", "stepi", "print $pc == loop", "print $rcx", "stepi 4",
                                    "print $pc == loop", "print $rbx", "print $rcx", "continue"],
                          at_program=True)
        check("two single steps from the program's entry reach the loop with %rcx = 1",
              "$1 = 1" in gout and "$2 = 1" in gout, d)
        check("four more steps make one loop turn (back at loop, %rbx = 1, %rcx = 2)",
              "$3 = 1" in gout and "$4 = 1" in gout and "$5 = 2" in gout, d)
        check("after stepping, the guest runs to its exit (55)", rc == 55, d)

        gout, rc, d = run("threads", ["info threads", "detach"])
        check("info threads lists the vCPU", "Thread 1" in gout and "* 1" in gout, d)
        check("detach lets the guest run on to its exit (55)", rc == 55, d)

        gout, rc, d = run("kill", ["break counted", "continue", "kill"])
        check("kill ends the VM (137)", rc == 137 and "[Inferior 1 (Remote target) killed]" in gout, d)

        gout, rc, d = run("gone", ["break counted", "continue", "shell sleep 30"], gdb_kill=True)
        check("gdb going away lets the guest run on to its exit (55)", rc == 55, d)
    except Skip as e:
        print(f"SKIP: {e}")
        return 77
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
