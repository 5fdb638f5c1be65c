#!/usr/bin/env python3
"""The process platform's clocks (kernel/platform/process/clock.cc): the core
reads CLOCK_REALTIME and CLOCK_MONOTONIC through the host's vDSO, and copes
with a vDSO that falls back to a system call.

  - the program's clocks agree with the host's: each value read inside lies
    between the host's readings taken before and after the run;
  - a program using timers (the core's timer thread), sleeps on several
    threads and TCP over the guest's loopback prints what it prints natively;
  - timer signals every millisecond while the program reads clocks in a
    loop (it is often inside its vDSO, and so inside the host's, when a
    signal is aimed at it: the stack tells the core's calls there from the
    program's);
  - the program's vDSO (kernel/vdso/, which calls the host's): vdso_clock
    finds it (AT_SYSINFO_EHDR, [vdso] in its maps) and its libc clock reads
    lie between direct system calls, as natively; under `--strace` only
    those 18 direct calls reach the core;
  - the same under `--selftest vdso-fallback`, where every clock read of the
    core and of the program's vDSO is a system call from outside the core's
    text (SIGSYS on program threads, also nested in the SIGSYS handler; the
    seccomp filter's exception on the service threads), and the start-up
    probe reports it saw them.

    clock.py --mote build/mote --vdso-program build/tests/guest/vdso_clock.glibc-static
"""

import argparse
import subprocess
import sys
import time

from checks import Checks, run

DIRECT_CALLS = 18  # vdso_clock's own syscall(SYS_clock_gettime) calls

CLOCKS = r"""
import time
print(time.clock_gettime_ns(time.CLOCK_REALTIME), time.clock_gettime_ns(time.CLOCK_MONOTONIC))
"""

WORKLOAD = r"""
import signal, socket, threading, time
got = []
signal.signal(signal.SIGALRM, lambda s, f: got.append(s))
signal.setitimer(signal.ITIMER_REAL, 0.03)
slept = []
def nap():
    t = time.monotonic()
    time.sleep(0.02)
    slept.append(time.monotonic() - t >= 0.019)
ts = [threading.Thread(target=nap) for _ in range(3)]
[t.start() for t in ts]
[t.join() for t in ts]
while not got:
    signal.pause()
a = socket.socket()
a.bind(("127.0.0.1", 0))
a.listen()
c = socket.create_connection(a.getsockname())
s, _ = a.accept()
c.sendall(b"x" * 200000)
n = 0
while n < 200000:
    n += len(s.recv(65536))
print("alarm", got, "slept", slept, "bytes", n)
"""


# Signals aimed at a thread while the core reads the clock in the host's
# vDSO for it: the core is interrupted there, and the signal must wait for
# the end of the system call, not be delivered on the core's stack.
# A bad pointer to clock_gettime: the vDSO writes through it, and the
# program gets SIGSEGV as natively (not the core, though the write faults in
# the host's vDSO when mote serves it).
BAD_POINTER = r"""
import ctypes, time
libc = ctypes.CDLL(None)
print("before", flush=True)
libc.clock_gettime(time.CLOCK_MONOTONIC, ctypes.c_void_p(8))
print("after")
"""

KICKS = r"""
import signal, time
n = 0
def on(s, f):
    global n
    n += 1
signal.signal(signal.SIGPROF, on)
signal.signal(signal.SIGALRM, on)
signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
signal.setitimer(signal.ITIMER_REAL, 0.0007, 0.0007)
end = time.monotonic() + 1.5
while time.monotonic() < end:
    time.clock_gettime(time.CLOCK_REALTIME)
signal.setitimer(signal.ITIMER_PROF, 0)
signal.setitimer(signal.ITIMER_REAL, 0)
print("signals", n > 100)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--vdso-program", required=True)
    opts = ap.parse_args()
    check = Checks()
    py = "/usr/bin/python3"

    status, want, err = run([py, "-c", WORKLOAD], 60)
    if status != 0:
        print(f"FAIL the workload does not run natively: {status} {err!r}")
        return 1
    status, native_vdso, err = run([opts.vdso_program], 60)
    if status != 0 or native_vdso != b"vdso yes, maps 1, clocks ok\n":
        print(f"FAIL vdso_clock natively: {status} {native_vdso!r} {err!r}")
        return 1

    for label, extra in (("", []), (" (--selftest vdso-fallback)", ["--selftest", "vdso-fallback"])):
        real0, mono0 = time.clock_gettime_ns(time.CLOCK_REALTIME), time.monotonic_ns()
        status, out, err = run([opts.mote, "run", *extra, py, "-c", CLOCKS], 60)
        real1, mono1 = time.clock_gettime_ns(time.CLOCK_REALTIME), time.monotonic_ns()
        try:
            real, mono = (int(v) for v in out.split())
        except ValueError:
            real = mono = None
        check(f"the program's clocks print{label}", status == 0 and real is not None,
              f"status {status}, {out!r} {err!r}")
        if real is not None:
            check(f"CLOCK_REALTIME inside is the host's{label}", real0 <= real <= real1,
                  f"{real} not in [{real0}, {real1}]")
            check(f"CLOCK_MONOTONIC inside is the host's{label}", mono0 <= mono <= mono1,
                  f"{mono} not in [{mono0}, {mono1}]")

        status, out, err = run([opts.mote, "run", *extra, opts.vdso_program], 60)
        check(f"the program's vDSO: found, in its maps, clocks in order{label}",
              status == 0 and out == native_vdso, f"status {status}, {out!r} vs {native_vdso!r}")
        status, out, err = run([opts.mote, "run", *extra, "--strace", opts.vdso_program], 60)
        calls = [l for l in err.decode(errors="replace").splitlines()
                 if l.startswith(("clock_gettime(", "gettimeofday(", "time("))]
        check(f"--strace: only the program's {DIRECT_CALLS} direct clock calls reach the core{label}",
              status == 0 and len(calls) == DIRECT_CALLS and
              all(l.startswith("clock_gettime(") for l in calls),
              f"status {status}, {len(calls)} clock system calls: {calls[:4]}")

        status, out, err = run([opts.mote, "run", *extra, py, "-c", WORKLOAD], 120)
        check(f"timers, sleeps on threads and loopback TCP as natively{label}",
              status == 0 and out == want, f"status {status}, {out!r} vs {want!r}, {err!r}")
        if extra:
            check("the start-up probe saw the stand-in's system calls",
                  b"mote: selftest: the vDSO probe saw 2 system calls" in err, f"stderr {err!r}")
        else:
            check("nothing on stderr", err == b"", f"stderr {err!r}")
    status, want, _ = run([py, "-c", BAD_POINTER], 60)
    status_mote, out, err = run([opts.mote, "run", py, "-c", BAD_POINTER], 60)
    check("a bad pointer to the vDSO's clock_gettime: SIGSEGV, as natively",
          status == -11 and want == b"before\n" and status_mote == 128 + 11 and out == want and
          b"signal 11 in the core" not in err,
          f"native {status} {want!r}; mote {status_mote} {out!r} {err[-300:]!r}")
    # The program spins in its vDSO (and so in the host's) while the core
    # aims signals at it; under vdso-fallback each read is a SIGSYS there.
    for i, extra in enumerate(([], [], [], ["--selftest", "vdso-fallback"])):
        status, out, err = run([opts.mote, "run", *extra, py, "-c", KICKS], 60)
        check(f"timer signals while clocks are read, run {i + 1} {' '.join(extra)}",
              status == 0 and out == b"signals True\n", f"status {status}, {out!r}, {err!r}")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
