#!/usr/bin/env python3
"""The monitor-side seccomp filters (docs/security.md): the 9P share server
(`-v`) and mote-net (`-p`) run under an allowlist once their setup is done.

    monitor_sandbox.py --mote build/mote [--busybox /bin/busybox]

The test hook MOTE_TEST_SANDBOX_ESCAPE=share|net makes that process call
execve("/bin/true") right after its filter went in, as a compromised server
would. Under the filter the call is refused and the process ends with
"mote: monitor sandbox: forbidden system call 59 (execve) in ..." (for the
share server, a child of `mote`, the run then ends with its status, 159).
With --no-sandbox the same hook must really escape (the process becomes
/bin/true; the share server is gone, so the guest cannot attach its share):
proof that the hook makes the call and that the filter is what stops it.
Also: the filters are on (/proc/PID/status: Seccomp 2, NoNewPrivs 1) in the
share server and in `mote`, which waits for the core and the server, while a
program runs, and neither keeps an fd of the program or of the core's memfds.
Exit 77 (SKIP) when busybox-static is not installed.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks, free_port  # noqa: E402

MESSAGE = "mote: monitor sandbox: forbidden system call 59 (execve) in "
WARNING = "mote: warning: --no-sandbox: the monitor runs without its seccomp filter"


def status_fields(pid):
    """{'Seccomp': '2', 'NoNewPrivs': '1', ...} of a live process, {} when gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def fd_targets(pid):
    out = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    except OSError:
        pass
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def mote_net_pids(port):
    """mote-net processes publishing `port` (started by this test)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"mote-net" and any(
                a.endswith(f":{port}:80".encode()) for a in argv):
            pids.append(int(d))
    return pids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--busybox", default="/bin/busybox")
    a = ap.parse_args()
    if not os.path.exists(a.busybox):
        print(f"SKIP: {a.busybox} is not installed (apt-get install busybox-static)")
        return 77
    mote, bb = os.path.abspath(a.mote), a.busybox
    check = Checks()
    share = tempfile.mkdtemp(prefix="mote-sandbox-")
    with open(os.path.join(share, "x"), "w") as f:
        f.write("from the host\n")

    def run(args, escape=None, timeout=60):
        env = dict(os.environ)
        env.pop("MOTE_TEST_SANDBOX_ESCAPE", None)
        if escape:
            env["MOTE_TEST_SANDBOX_ESCAPE"] = escape
        return subprocess.run([mote, "run", "--platform", "process", *args], env=env,
                              capture_output=True, timeout=timeout)

    vol = ["-v", f"{share}:/data:rw"]

    # The share server, filtered: serving works, an escape is stopped.
    r = run(vol + [bb, "sh", "-c", "cat /data/x && echo y > /data/y && ls /data"])
    check("with the filter, -v reads, writes and lists", r.returncode == 0 and
          r.stdout == b"from the host\nx\ny\n" and r.stderr == b"", repr(r))
    r = run(vol + [bb, "cat", "/data/x"], escape="share")
    err = r.stderr.decode(errors="replace")
    check("share server: execve after the filter is refused with the message and status 159",
          r.returncode == 159 and MESSAGE + "the share server" in err, repr(r))
    r = run(["--no-sandbox"] + vol + [bb, "cat", "/data/x"], escape="share")
    err = r.stderr.decode(errors="replace")
    check("share server: --no-sandbox warns, and the same hook really escapes (the server "
          "became /bin/true: the share cannot be attached)",
          r.returncode == 125 and WARNING in err and "monitor sandbox" not in err and
          "-v /data: attaching: EIO" in err and b"from the host" not in r.stdout, repr(r))

    # A live share server: filtered, no_new_privs, no fd of the program.
    p = subprocess.Popen([mote, "run", "--platform", "process", *vol, bb, "sh", "-c",
                          "cat /data/x; sleep 3"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdout.readline()  # the core has run: the server is serving
        kids = children(p.pid)
        servers = [k for k in kids if not comm(k).startswith("memfd:mote-core")]
        check("mote has two children: the core and the share server",
              len(kids) == 2 and len(servers) == 1, repr([(k, comm(k)) for k in kids]))
        for who, pid in (("share server", servers[0] if servers else -1), ("mote", p.pid)):
            st, fds = status_fields(pid), fd_targets(pid)
            check(who + ": Seccomp 2 (filter), NoNewPrivs 1",
                  st.get("Seccomp") == "2" and st.get("NoNewPrivs") == "1", repr(st))
            leaked = [t for t in fds if t == os.path.realpath(bb) or "memfd:" in t]
            check(who + ": no fd of the program or of the core's memfds", not leaked, repr(fds))
    finally:
        p.kill()
        p.wait()

    # mote-net, filtered: a published port answers; an escape is stopped.
    port = free_port()
    web = tempfile.mkdtemp(prefix="mote-sandbox-www-")
    with open(os.path.join(web, "index.html"), "w") as f:
        f.write("served\n")
    p = subprocess.Popen([mote, "run", "--platform", "process", "-p", f"127.0.0.1:{port}:80",
                          "-v", f"{web}:/www", bb, "httpd", "-f", "-p", "80", "-h", "/www"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body, end = b"", time.time() + 30
        while time.time() < end and not body:
            try:
                body = subprocess.run(["curl", "-s", "-m", "5", f"http://127.0.0.1:{port}/"],
                                      capture_output=True, timeout=10).stdout
            except (OSError, subprocess.TimeoutExpired):
                pass
            if not body:
                time.sleep(0.3)
        check("with the filters, -p serves a page (mote-net, share server)", body == b"served\n",
              repr(body))
        nets = mote_net_pids(port)
        st = status_fields(nets[0]) if nets else {}
        check("mote-net: Seccomp 2 (filter), NoNewPrivs 1",
              st.get("Seccomp") == "2" and st.get("NoNewPrivs") == "1", repr((nets, st)))
    finally:
        p.kill()
        p.wait()

    # The guest program ends at once; mote-net writes its last line to the
    # stderr it shares with mote, which stays open until mote-net is gone.
    port = free_port()
    r = run(["-p", f"127.0.0.1:{port}:80", bb, "true"], escape="net")
    err = r.stderr.decode(errors="replace")
    check("mote-net: execve after the filter is refused with the message", MESSAGE + "mote-net" in
          err, repr(r))
    # slirp's messages (GLib's g_log) under the filter: one line, no violation.
    port = free_port()
    r = run(["-p", f"127.0.0.1:{port}:80", bb, "true"], escape="net-log")
    err = r.stderr.decode(errors="replace")
    check("mote-net: a slirp message under the filter is one line on stderr",
          r.returncode == 0 and err == "mote-net: Slirp: a test message under the filter\n", repr(r))
    port = free_port()
    r = run(["--no-sandbox", "-p", f"127.0.0.1:{port}:80", bb, "true"], escape="net")
    err = r.stderr.decode(errors="replace")
    check("mote-net: --no-sandbox warns, and the same hook really escapes",
          WARNING in err and "monitor sandbox" not in err, repr(r))
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
