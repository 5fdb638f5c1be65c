#!/usr/bin/env python3
"""The network device below the core's sockets, on the process platform:
the monitor's backends and the platform's frame path, before any program can
open a socket.

  1. `--net user --selftest net`: with the sandbox up, the platform sends ARP
     and ICMP to the gateway through its device and the libslirp backend
     (mote-net) and gets the answers through its event thread; the event
     thread is idle at ~0 CPU. With and without -v shares (the monitor stays
     as the share server then: the device must still be the core's alone).
     /etc/hosts and /etc/resolv.conf name the device's address and DNS.
  2. -p publishes: the host port is taken while the program runs and free
     again after it (mote-net ended with the guest).
  3. One-line errors: a published port already in use, a missing tap device,
     -p without --net user, --platform kvm -p where KVM is missing.

    net_device.py --mote build/mote --hello build/tests/guest/hello.glibc-static
"""

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time

from checks import Checks, free_port, run


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_free_soon(port):
    """Whether `port` is free within 5 s (mote-net ends with the run)."""
    for _ in range(50):
        if port_free(port):
            return True
        time.sleep(0.1)
    return False


def one_line_error(check, name, rc, err, needle):
    text = err.decode(errors="replace")
    check(name + ": status 125", rc == 125, f"status {rc}, stderr {text!r}")
    check(name + ": one 'mote: ' line", text.count("\n") == 1 and text.startswith("mote: "), repr(text))
    check(name + ": says why", needle in text, repr(text))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mote", required=True)
    p.add_argument("--hello", required=True)
    o = p.parse_args()
    check = Checks()

    rc, out, err = run([o.mote, "run", "--net", "user", "--selftest", "net", o.hello], 60)
    text = err.decode(errors="replace")
    check("selftest net (--net user)", rc == 0 and "mote: selftest net: ok" in text,
          f"status {rc}: {text}")

    with tempfile.TemporaryDirectory() as d:
        rc, out, err = run([o.mote, "run", "--net", "user", "-v", d + ":/mnt", "--selftest", "net",
                            o.hello], 60)
        text = err.decode(errors="replace")
        check("selftest net with a share (monitor stays)", rc == 0 and "selftest net: ok" in text,
              f"status {rc}: {text}")

    # /etc/hosts and /etc/resolv.conf follow the device (kernel/fs/mounts.cc).
    busybox = shutil.which("busybox")
    if busybox:
        rc, out, err = run([o.mote, "run", "--net", "user", "--hostname", "box", busybox, "cat",
                            "/etc/hosts", "/etc/resolv.conf"], 60)
        text = out.decode(errors="replace")
        check("--net user: /etc/hosts names the guest's address",
              rc == 0 and "10.0.2.15\tbox\n" in text and "127.0.0.1\tlocalhost" in text, text)
        check("--net user: /etc/resolv.conf is slirp's DNS", "nameserver 10.0.2.3\n" in text, text)
    else:
        print("SKIP /etc checks: no busybox (Debian package busybox-static)")

    # -p: mote-net listens while the program runs, and lets go after.
    port = free_port()
    proc = subprocess.Popen([o.mote, "run", "-p", f"127.0.0.1:{port}:80", o.hello, "x"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    check("-p: the program runs", proc.returncode == 0 and b"hello from a mote guest" in out,
          f"status {proc.returncode}: {err!r}")
    check("-p: the host port is free again after the run", port_free_soon(port), f"port {port} still bound")

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    bport = busy.getsockname()[1]
    rc, out, err = run([o.mote, "run", "-p", f"127.0.0.1:{bport}:80", o.hello], 60)
    one_line_error(check, "-p on a port in use", rc, err, f"cannot listen on 127.0.0.1:{bport}/tcp")
    check("-p on a port in use: the program did not run", b"hello" not in out, repr(out))
    busy.close()

    rc, out, err = run([o.mote, "run", "--net", "tap:motenope0", o.hello], 60)
    one_line_error(check, "--net tap: missing device", rc, err, "no such network interface")
    rc, out, err = run([o.mote, "run", "--net", "none", "-p", "8080:80", o.hello], 60)
    one_line_error(check, "-p with --net none", rc, err, "publishing needs a network")
    rc, out, err = run([o.mote, "run", "-p", "80", o.hello], 60)
    one_line_error(check, "-p without a host port", rc, err, "random host port is not supported")
    # --platform kvm takes -p (virtio-net on mote's monitor); where KVM is
    # missing the run fails with one line and the published port is free
    # again (mote-net ends with the monitor).
    kport = free_port()
    rc, out, err = run([o.mote, "run", "--platform", "kvm", "-p", f"127.0.0.1:{kport}:80", o.hello], 60)
    if os.path.exists("/dev/kvm"):
        print("SKIP: --platform kvm -p without KVM: this host has /dev/kvm")
    else:
        one_line_error(check, "--platform kvm -p without KVM", rc, err, "KVM is not available")
        check("--platform kvm -p: the port is free again", port_free_soon(kport), f"port {kport}")
    return check.finish()


if __name__ == "__main__":
    raise SystemExit(main())
