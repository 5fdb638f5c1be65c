#!/usr/bin/env python3
"""--net tap:NAME end to end, in a network namespace this test makes (and
removes): a tap device with 10.0.2.2/24 on the host side, python3 under
mote serving TCP on the guest's 10.0.2.15, a client in the namespace.
SKIP (77) when network namespaces or tap devices cannot be made here.

    net_tap.py --mote build/mote [--platform process|qemu]
"""
import argparse
import os
import subprocess
import sys
import time

from checks import Checks

PYTHON = "/usr/bin/python3"
NS = f"motetap{os.getpid()}"
TAP = "mtap0"

SERVER = r"""
import socket
l = socket.socket(); l.bind(("0.0.0.0", 7000)); l.listen(1)
print("listening", flush=True)
c, peer = l.accept()
print("peer", peer[0], flush=True)
c.sendall(c.recv(100).upper()); c.close()
"""

CLIENT = r"""
import socket, sys, time
end = time.time() + float(sys.argv[1])
while True:
    try:
        c = socket.create_connection(("10.0.2.15", 7000), timeout=5)
        break
    except OSError:
        if time.time() > end: raise
        time.sleep(0.3)
c.sendall(b"hello over the tap")
print(c.recv(100).decode())
"""


def sh(*cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT).returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--platform", default="process")
    args = ap.parse_args()
    if not os.path.exists(PYTHON):
        print(f"SKIP: {PYTHON} is missing")
        return 77
    if sh("ip", "netns", "add", NS) != 0:
        print("SKIP: cannot make a network namespace here (ip netns add)")
        return 77
    ok = Checks()
    try:
        inns = ["ip", "netns", "exec", NS]
        if (sh(*inns, "ip", "tuntap", "add", "dev", TAP, "mode", "tap") != 0 or
                sh(*inns, "ip", "addr", "add", "10.0.2.2/24", "dev", TAP) != 0 or
                sh(*inns, "ip", "link", "set", TAP, "up") != 0):
            print("SKIP: cannot make a tap device in the namespace")
            return 77
        slow = args.platform == "qemu"
        g = subprocess.Popen(inns + [args.mote, "run", "--platform", args.platform,
                                     "--net", f"tap:{TAP}", PYTHON, "-c", SERVER],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            c = subprocess.run(inns + [PYTHON, "-c", CLIENT, "120" if slow else "30"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=300)
            ok("a client in the namespace reaches the guest's 10.0.2.15 over the tap",
               c.returncode == 0 and c.stdout == b"HELLO OVER THE TAP\n", c.stdout[-500:])
            try:
                out, _ = g.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                g.kill()
                out, _ = g.communicate()
            ok("the guest saw the peer 10.0.2.2 and exited 0",
               g.returncode == 0 and b"peer 10.0.2.2" in out, f"status {g.returncode}: {out[-500:]!r}")
        finally:
            if g.poll() is None:
                g.kill()
                g.wait()
    finally:
        sh("ip", "netns", "del", NS)
    return ok.finish()


if __name__ == "__main__":
    sys.exit(main())
