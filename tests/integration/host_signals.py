#!/usr/bin/env python3
"""Signals sent to `mote run` from the host reach the program (process
platform), as they reach a native process:

  - SIGTERM to a program with a handler: the handler runs (si_pid 0: from
    outside), the program exits with its own status;
  - SIGINT (Ctrl-C) to a program without one: it dies of it, status 130,
    and mote adds no note (the user asked for it);
  - SIGUSR1 and SIGHUP the same way, also with a -v share, where a monitor
    process stays between the shell and the program and passes them on;
  - SIGTERM to a parent that forked a long-running child (nginx's master
    and worker): under mote the child runs in its parent's place, so the
    signal reaches the child and, when the child ends, the parent too, with
    the child's SIGCHLD (si_code, si_status, si_pid as Linux). Compared with
    the same program run natively and signalled as a group (killpg);
  - the network backend going away (mote-net killed) leaves the program
    running without the core spinning on the closed device.

    host_signals.py --mote build/mote
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

from checks import Checks, free_port

# The handler writes with os.write, not print: a signal that arrives while
# an earlier handler's print is still between its write(2) and the end of
# its flush runs the next handler inside that print, and Python's buffered
# stdout then raises "reentrant call" (natively too, in a narrower window).
HANDLER = r"""
import os, signal, sys, time
def on(sig, frame):
    os.write(1, b"got %s\n" % signal.Signals(sig).name.encode())
    if sig == signal.SIGTERM:
        sys.exit(3)
for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP):
    signal.signal(s, on)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""

# A master and its worker. The parent blocks SIGTERM and SIGCHLD and takes
# them with sigwaitinfo, so it reports what each siginfo says.
MASTER = r"""
import os, signal, sys, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGCHLD})
pid = os.fork()
if pid == 0:
    def on_term(sig, frame):
        print("worker: SIGTERM", flush=True)
        os._exit(7)
    signal.signal(signal.SIGTERM, on_term)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
got = []
while len(got) < 2:
    si = signal.sigwaitinfo({signal.SIGTERM, signal.SIGCHLD})
    if si.si_signo == signal.SIGCHLD:
        got.append("master: SIGCHLD code %d status %d from the worker %s"
                   % (si.si_code, si.si_status, si.si_pid == pid))
    else:
        got.append("master: SIGTERM code %d" % si.si_code)
wpid, status = os.waitpid(pid, 0)
print("\n".join(sorted(got)))
print("master: reaped", wpid == pid, os.waitstatus_to_exitcode(status), flush=True)
sys.exit(5)
"""


def start(argv, **kw):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def wait_line(p, want, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        line = p.stdout.readline()
        if not line:
            return False
        if line.decode().strip() == want:
            return True
    return False


def finish(p, timeout=30):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out, err
    return p.returncode, out, err


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    opts = ap.parse_args()
    m = opts.mote
    check = Checks()

    with tempfile.TemporaryDirectory() as share:
        for label, extra in (("", []), (" (with a -v share)", ["-v", f"{share}:/data"])):
            p = start([m, "run", *extra, "/usr/bin/python3", "-c", HANDLER])
            ok = wait_line(p, "ready")
            check(f"a program with handlers started{label}", ok)
            for sig, name in ((signal.SIGUSR1, "SIGUSR1"), (signal.SIGHUP, "SIGHUP")):
                p.send_signal(sig)
                check(f"{name} reaches its handler{label}", ok and wait_line(p, "got " + name, 15))
            p.send_signal(signal.SIGTERM)
            status, out, err = finish(p)
            check(f"SIGTERM reaches its handler, which exits 3{label}",
                  status == 3 and b"got SIGTERM" in out, f"status {status}, {out!r} {err!r}")

            p = start([m, "run", *extra, "/bin/sleep", "60"])
            time.sleep(1.0)
            p.send_signal(signal.SIGINT)
            status, out, err = finish(p)
            check(f"SIGINT ends a program without a handler: status 130, no note{label}",
                  status == 130 and b"mote:" not in err, f"status {status}, stderr {err!r}")

    # A master and its worker: natively the group gets the signal (killpg).
    results = []
    for label, argv in (("natively", ["/usr/bin/python3", "-c", MASTER]),
                        ("under mote", [m, "run", "/usr/bin/python3", "-c", MASTER])):
        p = start(argv, start_new_session=True)
        ok = wait_line(p, "ready")
        check(f"the forked worker runs ({label})", ok)
        if label == "natively":
            os.killpg(p.pid, signal.SIGTERM)
        else:
            p.send_signal(signal.SIGTERM)
        status, out, err = finish(p)
        results.append((status, out, err))
        check(f"the worker and then its master end on SIGTERM ({label}): status 5",
              status == 5 and b"master: reaped True 7" in out, f"status {status}, {out!r} {err!r}")
    check("the master's siginfo and output are the same under mote as natively",
          results[0] == results[1], f"native {results[0]!r}, mote {results[1]!r}")

    # The backend goes away under a running program.
    port = free_port()
    p = start([m, "run", "-p", f"127.0.0.1:{port}:80", "/bin/sleep", "30"])
    time.sleep(1.5)
    helpers = subprocess.run(["pgrep", "-f", f"mote-net.* 127.0.0.1:{port}:80"],
                             capture_output=True, text=True).stdout.split()
    cores = [c for c in subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True,
                                       text=True).stdout.split()] or [str(p.pid)]
    check("mote-net runs beside the program", len(helpers) == 1, f"pgrep: {helpers}")
    for h in helpers:
        os.kill(int(h), signal.SIGKILL)
    time.sleep(0.5)
    core = int(cores[0])
    before = cpu_seconds(core)
    time.sleep(2.0)
    used = cpu_seconds(core) - before
    check("without its backend the core does not spin (CPU in 2 s)", used < 0.5, f"{used:.2f} s")
    check("and the program still runs", p.poll() is None)
    p.send_signal(signal.SIGTERM)
    status, _, err = finish(p)
    check("then SIGTERM ends it (143)", status == 143, f"status {status}, stderr {err!r}")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
