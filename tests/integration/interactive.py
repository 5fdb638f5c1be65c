#!/usr/bin/env python3
"""`mote run -it`: a program on a terminal. The python3 REPL runs on a pseudo-
terminal created here; typed lines reach it, its answers come back, and the
terminal's modes (which the REPL's readline changes) are restored when it ends,
also when the program is killed by a signal."""
import argparse
import os
import pty
import select
import signal
import sys
import termios
import time


def read_until(fd, needle, timeout):
    """Reads until `needle` is in what this call read (or the time is up)."""
    out = b""
    end = time.monotonic() + timeout
    while needle not in out:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def run_session(argv, inputs, timeout=30):
    """Runs argv on a new pty; feeds each (wait_for, send) pair. Returns
    (status, transcript, modes_before, modes_after)."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        import fcntl
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        os.close(slave)
        os.execv(argv[0], argv)
    transcript = b""
    pending = b""  # output not yet matched by a step
    for wait_for, send in inputs:
        if wait_for not in pending:
            got = read_until(master, wait_for, timeout)
            transcript += got
            pending += got
        if wait_for not in pending:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, transcript, before, None
        pending = pending[pending.index(wait_for) + len(wait_for):]
        if callable(send):
            send = send(termios.tcgetattr(slave))  # look at the terminal now
        if send is not None:
            os.write(master, send)
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        transcript += read_until(master, b"\x00never", 0.2)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            break
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    return status, transcript, before, after


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--platform", default="process")
    args = ap.parse_args()
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        print("SKIP: /usr/bin/python3 is missing")
        return 77
    failures = 0

    # The REPL answers typed input; exit() ends it with status 0.
    status, out, before, after = run_session(
        [args.mote, "run", "--platform", args.platform, "-it", python, "-q"],
        [(b">>> ", b"print(6 * 7)\r"), (b"42", None), (b">>> ", b"import sys; sys.exit(3)\r")])
    text = out.decode(errors="replace")
    if status != 3:
        print(f"FAIL repl: status {status}, transcript:\n{text}")
        failures += 1
    elif "42" not in text:
        print(f"FAIL repl: no answer, transcript:\n{text}")
        failures += 1
    else:
        print(f"ok   repl answers typed input and exits with its status ({args.platform})")
    if after is not None and after != before:
        print(f"FAIL repl: terminal modes not restored\n  before {before}\n  after  {after}")
        failures += 1
    elif after is not None:
        print("ok   terminal modes restored after exit")

    # Raw mode set by the program, then it dies by a signal: mote puts the
    # terminal back (the program never does).
    status, out, before, after = run_session(
        [args.mote, "run", "--platform", args.platform, "-it", python, "-q"],
        [(b">>> ", b"import tty, ctypes; tty.setraw(0); ctypes.string_at(0)\r")])
    if status != 139:
        print(f"FAIL crash: status {status} (expected 139), transcript:\n{out.decode(errors='replace')}")
        failures += 1
    elif after != before:
        print(f"FAIL crash: terminal modes not restored\n  before {before}\n  after  {after}")
        failures += 1
    else:
        print("ok   terminal modes restored after the program crashed")

    # The program's mode change reaches this terminal while it runs.
    seen = {}

    def look(modes):
        seen["lflag"] = modes[3]
        return b"x"

    prog = ("import tty, sys; tty.setraw(0); print('RAW', flush=True); "
            "sys.stdin.read(1); print('GOT', flush=True)")
    status, out, before, after = run_session(
        [args.mote, "run", "--platform", args.platform, "-it", python, "-c", prog],
        [(b"RAW", look), (b"GOT", None)])
    if status != 0 or "lflag" not in seen:
        print(f"FAIL raw mode ({args.platform}): status {status}, transcript:\n{out.decode(errors='replace')}")
        failures += 1
    elif seen["lflag"] & termios.ICANON:
        print(f"FAIL raw mode ({args.platform}): the terminal stayed canonical while the program ran")
        failures += 1
    elif after != before:
        print(f"FAIL raw mode ({args.platform}): modes not restored")
        failures += 1
    else:
        print(f"ok   the program's raw mode reached the terminal, and came back ({args.platform})")

    # -t without a terminal is a clear error.
    r = os.popen(f"{args.mote} run --platform {args.platform} -t {python} -c pass </dev/null 2>&1; echo status=$?").read()
    if "not a terminal" in r and "status=125" in r:
        print("ok   -t without a terminal is refused")
    else:
        print(f"FAIL -t without a terminal: {r!r}")
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
