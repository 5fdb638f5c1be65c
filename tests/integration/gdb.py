#!/usr/bin/env python3
"""`mote run --gdb PORT` on the process platform: gdb, in batch mode, debugs the
program inside the unikernel with the program's own symbols.

    gdb.py --mote build/mote

tests/integration/gdb_target.c is built with -g -O0 three ways (a dynamic PIE,
Debian gcc's default; a static PIE; a static non-PIE program), and for each
gdb breaks at main, continues, steps over a line with `next`, prints a local
variable and continues to the exit. Checked: the breakpoint is hit in main, the
printed value is the one the program computed, the program's stdout arrives,
gdb reports the exit status and `mote run` exits with it. The threaded case
stops at a breakpoint in a second thread and lists both threads; bad --gdb
ports are rejected. Every wait has a timeout: a hung stub fails the test, it
never hangs it. Exit 77 (SKIP) without gdb or a C compiler.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks, free_port, reap, wait_listening  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 60


def debug(mote, prog, args, gdb_cmds, extra=()):
    """Runs prog under `mote run --gdb` and gdb with gdb_cmds; returns
    (gdb output, mote stdout, mote stderr, mote status) or raises on a hang."""
    port = free_port()
    proc = subprocess.Popen([mote, "run", "--platform", "process", *extra, "--gdb", str(port), prog,
                             *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        ok, err = wait_listening(proc, 30)
        if not ok:
            proc.kill()
            out, rest = proc.communicate(timeout=10)
            return "", out.decode(), (err + rest).decode(), proc.returncode
        cmd = ["gdb", "-batch", "-nx", "-ex", f"target remote 127.0.0.1:{port}"]
        for c in gdb_cmds:
            cmd += ["-ex", c]
        try:
            g = subprocess.run(cmd + [prog], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=TIMEOUT)
            gout = g.stdout.decode(errors="replace") + g.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            gout = "gdb TIMED OUT\n" + (e.stdout or b"").decode(errors="replace")
        out, rest = reap(proc, "mote")
        return gout, out.decode(errors="replace"), (err + rest).decode(errors="replace"), proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--cc", default="cc")
    a = ap.parse_args()
    if not shutil.which("gdb"):
        print("SKIP: gdb is not installed (apt-get install gdb)")
        return 77
    if not shutil.which(a.cc):
        print(f"SKIP: no C compiler ({a.cc})")
        return 77
    mote = os.path.abspath(a.mote)
    check = Checks()
    top = tempfile.mkdtemp(prefix="mote-gdb-")
    try:
        src = os.path.join(HERE, "gdb_target.c")
        builds = {
            "dynamic PIE": [],
            "static PIE": ["-static-pie"],
            "static": ["-static", "-no-pie"],
        }
        progs = {}
        for name, flags in builds.items():
            out = os.path.join(top, name.replace(" ", "-"))
            r = subprocess.run([a.cc, "-g", "-O0", "-pthread", *flags, src, "-o", out],
                               capture_output=True, timeout=120)
            if r.returncode != 0:
                check(f"build {name}", False, r.stderr.decode(errors="replace"))
                continue
            progs[name] = out

        session = ["break main", "continue", "next", "print answer", "continue"]
        for name, prog in progs.items():
            for status in (0, 7):
                gout, out, err, rc = debug(mote, prog, [str(status)], session)
                what = f"{name}, exit {status}"
                detail = f"\n--- gdb:\n{gout}\n--- mote stderr:\n{err}\n--- status {rc}"
                check(f"{what}: breakpoint hit in main",
                      "Breakpoint 1, main (" in gout and "gdb_target.c:17" in gout, detail)
                check(f"{what}: print shows the local variable after next",
                      "$1 = 42" in gout, detail)
                want = "exited normally" if status == 0 else f"exited with code {status:02o}"
                check(f"{what}: gdb reports the exit", want in gout, detail)
                check(f"{what}: the program's stdout arrives", out == "answer 42\n", repr(out))
                check(f"{what}: mote exits with the program's status", rc == status,
                      f"status {rc}{detail}")

        # Threads: a breakpoint in a second thread, the thread list, and
        # stepping back into main's thread after it.
        prog = progs.get("dynamic PIE")
        if prog:
            gout, out, err, rc = debug(mote, prog, ["3", "threads"], [
                "break helper", "continue", "info threads", "bt", "print *(int *) arg", "finish",
                "continue"])
            detail = f"\n--- gdb:\n{gout}\n--- mote stderr:\n{err}\n--- status {rc}"
            check("threads: breakpoint hit in the helper thread", "helper (arg=" in gout, detail)
            check("threads: info threads lists two threads",
                  "Thread 2" in gout or gout.count("Thread ") >= 2, detail)
            check("threads: the helper's argument reads through its pointer", "= 9" in gout, detail)
            check("threads: the program finishes", out == "answer 42\nhelper 81\n" and rc == 3,
                  f"stdout {out!r}, status {rc}{detail}")

        # A breakpoint gdb never hits and `kill`: mote ends, no hang.
        prog = progs.get("static")
        if prog:
            gout, out, err, rc = debug(mote, prog, ["0"], ["break square", "continue", "bt", "kill"])
            detail = f"\n--- gdb:\n{gout}\n--- mote stderr:\n{err}\n--- status {rc}"
            check("static: backtrace from square shows main",
                  "square (x=6)" in gout and "in main (" in gout, detail)
            check("kill ends the run", rc != 0 and rc is not None, f"status {rc}{detail}")

        # Bad ports fail at once with one line.
        for bad in ("abc", "0", "65536", "-5", ""):
            r = subprocess.run([mote, "run", "--gdb", bad, "/bin/true"], capture_output=True,
                               timeout=10)
            lines = r.stderr.decode(errors="replace").splitlines()
            check(f"--gdb {bad!r} is refused", r.returncode not in (0, None) and r.returncode < 128
                  and len(lines) == 1 and lines[0].startswith("mote: --gdb"), repr(r))
        return check.finish()
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
