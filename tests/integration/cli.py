#!/usr/bin/env python3
"""The `mote run` options do what they say.

    cli.py --mote build/mote --hello build/tests/guest/hello.glibc-static

  -e K=V            the guest sees K=V (hello prints MOTE_TEST)
  --mem 64M         a small guest still runs the program
  --platform process
  --strace          the trace goes to stderr (write(1, "hello..., exit_group(...) and the
                    program's stdout is byte-for-byte what it is without --strace
"""

import argparse
import os
import re
import signal
import subprocess
import sys

TIMEOUT = 30.0


class Run:
    def __init__(self, argv, env=None):
        self.argv = argv
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=TIMEOUT, env=env)
            self.status, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
            self.timed_out = False
        except subprocess.TimeoutExpired as e:
            self.status, self.stdout, self.stderr = None, e.stdout or b"", e.stderr or b""
            self.timed_out = True

    def out(self):
        return self.stdout.decode("utf-8", errors="backslashreplace")

    def err(self):
        return self.stderr.decode("utf-8", errors="backslashreplace")

    def describe(self):
        if self.timed_out:
            status = f"timed out after {TIMEOUT:.0f}s"
        elif self.status < 0:
            status = f"killed by {signal.Signals(-self.status).name}"
        else:
            status = f"status {self.status}"
        return (f"$ {' '.join(self.argv)}\n    {status}\n    stdout: {self.out()!r}\n"
                f"    stderr: {self.err()!r}")


def main():
    p = argparse.ArgumentParser(description="mote command-line tests")
    p.add_argument("--mote", required=True)
    p.add_argument("--hello", required=True, help="the hello guest program (static)")
    p.add_argument("--mem-limit", required=True, help="the mem_limit guest program")
    opts = p.parse_args()
    if not os.access(opts.mote, os.X_OK):
        print(f"FAIL: mote binary {opts.mote} does not exist or is not executable")
        return 1
    mote, hello = opts.mote, opts.hello
    failed = 0

    def case(name, run, checks):
        nonlocal failed
        problems = [what for ok, what in checks if not ok]
        if run.timed_out:
            problems.insert(0, "timed out")
        if problems:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(problems))
            print("    " + run.describe())
        else:
            print(f"ok   {name}")

    def ran_hello(run):
        return [(run.status == 0, f"exit status {run.status}, expected 0"),
                (run.out().startswith("hello"), "stdout does not start with 'hello'")]

    plain = Run([mote, "run", hello, "a", "b"])
    case("plain run", plain, ran_hello(plain))

    env = Run([mote, "run", "-e", "MOTE_TEST=xyz", hello])
    case("-e MOTE_TEST=xyz", env, ran_hello(env) + [
        ("MOTE_TEST=xyz\n" in env.out(), "stdout lacks the line MOTE_TEST=xyz"),
    ])
    no_env = Run([mote, "run", hello])
    case("no -e: MOTE_TEST unset", no_env, ran_hello(no_env) + [
        ("MOTE_TEST unset\n" in no_env.out(), "stdout lacks the line 'MOTE_TEST unset'"),
    ])

    mem = Run([mote, "run", "--mem", "64M", hello])
    case("--mem 64M", mem, ran_hello(mem))

    platform = Run([mote, "run", "--platform", "process", hello])
    case("--platform process", platform, ran_hello(platform))

    traced = Run([mote, "run", "--strace", hello, "a", "b"])
    case("--strace", traced, ran_hello(traced) + [
        (re.search(r'\bwrite\(1, "hello', traced.err()) is not None,
         "stderr has no line like 'write(1, \"hello...'"),
        (re.search(r"\bexit_group\(", traced.err()) is not None,
         "stderr has no line like 'exit_group(...'"),
        (traced.stdout == plain.stdout, "stdout differs from the run without --strace"),
    ])

    # --mem bounds what the program can commit: it allocates 1 MiB blocks until
    # malloc fails, touches them, and prints the MiB it got.
    for mib in (16, 48):
        limited = Run([mote, "run", "--mem", f"{mib}M", opts.mem_limit])
        m = re.search(r"allocated (\d+) MiB", limited.out())
        got = int(m.group(1)) if m else -1
        case(f"--mem {mib}M bounds memory", limited, [
            (limited.status == 0, f"exit status {limited.status}, expected 0"),
            (m is not None, "no 'allocated N MiB' line"),
            # Besides the heap: the 4 MiB .bss, the stack (a quarter of --mem), slack.
            (mib - 4 - mib // 4 - 2 <= got < mib,
             f"allocated {got} MiB, expected at least {mib - 4 - mib // 4 - 2} and below {mib}"),
        ])

    # A program that fails after the limit refused it memory: its own status
    # stays, and one line says memory ran out and what to do; a program that
    # copes with ENOMEM (mem_limit above, status 0) gets no such line.
    starved = Run([mote, "run", "--mem", "4M", "/usr/bin/python3", "-c", "x = bytearray(64 << 20)"])
    oom = [l for l in starved.err().splitlines() if l.startswith("mote: guest out of memory")]
    case("a program failing for want of memory", starved, [
        (starved.status == 1, f"exit status {starved.status}, expected python's 1"),
        (len(oom) == 1 and "try a larger --mem" in oom[0] and "of 4 MiB" in oom[0],
         f"expected one 'mote: guest out of memory: ... of 4 MiB); try a larger --mem' line: {oom}"),
    ])
    coping = Run([mote, "run", "--mem", "16M", opts.mem_limit])
    case("a program that copes with ENOMEM", coping, [
        (coping.status == 0, f"exit status {coping.status}"),
        ("out of memory" not in coping.err(), "a 'guest out of memory' line for a run that succeeded"),
    ])

    # A kernel assertion that fails names the condition and its file:line and
    # stops the run with status 70, on the process and the VM platform.
    for plat, prefix in (("process", "mote: internal error: "), ("qemu", "mote kernel: panic: ")):
        asserted = Run([mote, "run", "--platform", plat, "--selftest", "assert", hello])
        lines = asserted.err().splitlines()
        case(f"a failed kernel assertion ({plat})", asserted, [
            (asserted.status == 70, f"exit status {asserted.status}, expected 70"),
            (any(l.startswith(prefix + "assertion failed: ") and
                 re.search(r"\(kernel/core/boot\.cc:\d+\)$", l) for l in lines),
             f"no '{prefix}assertion failed: ... (kernel/core/boot.cc:N)' line in {lines}"),
            (asserted.stdout == b"", "the program ran"),
        ])

    # A VM that dies without the kernel's exit (a triple fault, QEMU -no-reboot)
    # is a guest fault for the monitor: one line and status 71, never a hang.
    triple = Run([mote, "run", "--platform", "qemu", "--selftest", "triple", hello])
    faults = [l for l in triple.err().splitlines() if l.startswith("mote: guest fault: ")]
    case("a triple-faulting VM (qemu)", triple, [
        (triple.status == 71, f"exit status {triple.status}, expected 71"),
        (len(faults) == 1 and "triple fault" in faults[0], f"guest fault lines: {faults}"),
        (triple.stdout == b"", "the program ran"),
    ])

    # The sandbox: once the program could run, a host call outside the core's
    # allowlist (made by the core itself, from its own text) kills everything.
    escape = Run([mote, "run", "--selftest", "sandbox-escape", hello])
    case("seccomp kills a host call outside the allowlist", escape, [
        (escape.status == -signal.SIGSYS, f"status {escape.status}, expected death by SIGSYS"),
        ("sandbox escape" not in escape.err(), "the forbidden call reached the host"),
        (escape.stdout == b"", "the program ran"),
    ])

    # The platform's one-shot timer fires once, not early, ends an idle wait,
    # stays silent when disarmed, and follows a deadline moved later or
    # earlier (checked by the core before any program). On the VM the LAPIC
    # keeps counting for a deadline moved later and is armed again when it
    # fires.
    for plat in ("process", "qemu"):
        timer = Run([mote, "run", "--platform", plat, "--selftest", "timer", hello])
        case(f"one-shot timer self-test ({plat})", timer, [
            (timer.status == 0, f"status {timer.status}, expected 0"),
            ("selftest timer: ok" in timer.err(), "no 'selftest timer: ok' line"),
            (timer.stdout == b"", "the program ran"),
        ])

    # Two roads to the same unikernel: `mote run` serves the common case itself
    # (the core's launcher), --verbose sends it through the C++ mote-monitor.
    # The guest must not be able to tell them apart.
    for extra in ([], ["-e", "MOTE_TEST=a b"], ["--env=MOTE_TEST=x", "-e", "HOME=/h"],
                  ["--hostname", "box", "--mem", "64M"], ["-e", "MOTE_TEST"]):
        env_args = dict(os.environ, MOTE_TEST="from host")
        # busybox (Debian's static one, installed by setup) prints the whole
        # environment and the host name; hello prints its argv.
        progs = [[hello, "one", "t w o"]]
        if os.path.exists("/bin/busybox"):
            progs += [["/bin/busybox", "env"], ["/bin/busybox", "uname", "-n"]]
        fast = Run([mote, "run", *extra, *progs[0]], env=env_args)
        slow = Run([mote, "run", "--verbose", *extra, *progs[0]], env=env_args)
        for prog in progs[1:]:
            f2 = Run([mote, "run", *extra, *prog], env=env_args)
            s2 = Run([mote, "run", "--verbose", *extra, *prog], env=env_args)
            fast.stdout += f2.stdout
            slow.stdout += s2.stdout
        case("fast path == monitor path: " + (" ".join(extra) or "no options"), fast, [
            (fast.status == slow.status == 0, f"status {fast.status} vs {slow.status}"),
            (fast.stdout == slow.stdout, f"stdout differs: {fast.out()!r} vs {slow.out()!r}"),
        ])

    too_small = Run([mote, "run", "--mem", "1M", opts.mem_limit, "--big-bss"])
    case("--mem too small for the image", too_small, [
        (too_small.status not in (0, None) and too_small.status < 128,
         f"status {too_small.status}, expected a plain failure"),
        (too_small.err().startswith("mote: ") and too_small.err().count("\n") == 1,
         "stderr is not one 'mote: ...' line"),
        ("too small" in too_small.err(), "the message does not say the memory is too small"),
    ])

    total = 16
    print(f"{total - failed} of {total} command-line cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
