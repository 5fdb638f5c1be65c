#!/usr/bin/env python3
"""Debian's python3, unmodified, under mote: the issue-4 acceptance script
(tests/programs/py_acceptance.py: json, hashlib, re, decimal, sqlite3, zlib,
datetime, pathlib, tempfile files written and read back) and the issue-5
threads script (tests/programs/py_threads.py) and the issue-6 sockets scripts
(tests/programs/py_sockets.py, py_unix_sockets.py, py_inet6.py) natively and under mote on the
given platform, compared byte for byte with the exit status."""
import argparse
import os
import subprocess
import sys

from checks import run

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "programs", "py_acceptance.py")
THREADS = os.path.join(HERE, "..", "programs", "py_threads.py")
SOCKETS = os.path.join(HERE, "..", "programs", "py_sockets.py")
UNIX_SOCKETS = os.path.join(HERE, "..", "programs", "py_unix_sockets.py")
INET6 = os.path.join(HERE, "..", "programs", "py_inet6.py")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--platform", default="process")
    args = ap.parse_args()
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        print("SKIP: /usr/bin/python3 is missing")
        return 77
    script = os.path.realpath(SCRIPT)
    native = run([python, script], 120)
    timeout = 600 if args.platform == "qemu" else 120
    cases = [
        ("script", [args.mote, "run", "--platform", args.platform, "--add",
                    f"{script}:/acceptance.py", python, "/acceptance.py"], native),
        ("-c", [args.mote, "run", "--platform", args.platform, python, "-c",
                "import sys, os; print(sys.version_info[:2], os.getcwd(), sys.argv); sys.exit(7)"],
         run([python, "-c",
              "import sys, os; print(sys.version_info[:2], os.getcwd(), sys.argv); sys.exit(7)"],
             60)),
    ]
    # Issue 5: threading, concurrent.futures, queues, timers, a signal
    # handler while other threads run (tests/programs/py_threads.py).
    threads = os.path.realpath(THREADS)
    cases.append(("threads", [args.mote, "run", "--platform", args.platform, "--add",
                              f"{threads}:/threads.py", python, "/threads.py"],
                  run([python, threads], 120)))
    # Issue 6: the socket module over 127.0.0.1 inside the guest (TCP
    # through mote's own stack, UDP, selectors, an AF_UNIX socketpair).
    sockets = os.path.realpath(SOCKETS)
    cases.append(("sockets", [args.mote, "run", "--platform", args.platform, "--add",
                              f"{sockets}:/sockets.py", python, "/sockets.py"],
                  run([python, sockets], 120)))
    # AF_UNIX: socketpairs, a threading server on a path, a datagram server
    # on an abstract name, send_fds/recv_fds (tests/programs/py_unix_sockets.py).
    unix = os.path.realpath(UNIX_SOCKETS)
    cases.append(("unix_sockets", [args.mote, "run", "--platform", args.platform, "--add",
                                   f"{unix}:/unix_sockets.py", python, "/unix_sockets.py"],
                  run([python, unix], 120)))
    # AF_INET6: dual-stack servers, ::1, UDP between families
    # (tests/programs/py_inet6.py).
    inet6 = os.path.realpath(INET6)
    cases.append(("inet6", [args.mote, "run", "--platform", args.platform, "--add",
                            f"{inet6}:/inet6.py", python, "/inet6.py"],
                  run([python, inet6], 120)))
    # subprocess, os.system, os.popen: fork from a dynamic program, execve of
    # a static one, the parent's memory back afterwards (regression: the
    # exec'd child's stack guard page used to block the parent's stack).
    spawn = ("import subprocess, os\n"
             "print(subprocess.run(['/bin/busybox', 'echo', 'hi'], capture_output=True))\n"
             "print(os.system('exit 3'), os.popen('printf abc').read())\n"
             "print(subprocess.check_output('echo a | tr a b', shell=True))\n")
    if os.path.exists("/bin/busybox"):
        cases.append(("subprocess", [args.mote, "run", "--platform", args.platform,
                                     "--add", "/bin/busybox", "--add", "/bin/busybox:/bin/sh",
                                     python, "-c", spawn],
                      run([python, "-c", spawn], 60)))
    failures = 0
    for name, cmd, (want_rc, want_out, want_err) in cases:
        rc, out, err = run(cmd, timeout)
        if name == "-c":
            # The working directory differs by design (the guest starts in /).
            want_out = want_out.replace(os.getcwd().encode(), b"/")
        if (rc, out) != (want_rc, want_out) or err != want_err:
            print(f"FAIL {name} ({args.platform}): status {rc} (native {want_rc})")
            print("--- native stdout\n" + want_out.decode(errors="replace"))
            print("--- mote stdout\n" + out.decode(errors="replace"))
            print("--- mote stderr\n" + err.decode(errors="replace"))
            failures += 1
        else:
            print(f"ok   {name} ({args.platform}): {len(out)} bytes, status {rc}, same as native")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
