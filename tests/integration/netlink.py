#!/usr/bin/env python3
"""Route netlink (getifaddrs, if_nameindex, RTM_GETLINK/GETADDR/GETROUTE
dumps, errors) natively and under mote, outputs compared: the native run is
in a network namespace this test makes to look like mote's network (and
removes), IPv6 off as mote has none:
  - without a device: lo up, against `mote run PROGRAM`;
  - with one: lo and a veth end named eth0 with 10.0.2.15/24 and a default
    route through 10.0.2.2, against `mote run --net user PROGRAM` (slirp's
    addresses).
The program prints "0 failures" when its own checks pass. With --changes,
`PROGRAM changes` under mote alone must find RTM_NEWADDR and RTM_SETLINK EPERM.
SKIP (77) when network namespaces or veth devices cannot be made here.

    netlink.py --mote build/mote [--platform process|qemu] [--changes] PROGRAM
"""
import argparse
import os
import subprocess
import sys

from checks import Checks

TAG = f"motenl{os.getpid()}"


def sh(*cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT).returncode


def make_namespace(name, device):
    """The namespace; False if this host cannot make it."""
    if sh("ip", "netns", "add", name) != 0:
        return False
    steps = [["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
              "net.ipv6.conf.default.disable_ipv6=1"],
             ["ip", "-n", name, "link", "set", "lo", "up"]]
    if device:
        host_end = TAG[:15]
        steps += [["ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                   "netns", name],
                  ["ip", "link", "set", host_end, "up"],
                  ["ip", "-n", name, "addr", "add", "10.0.2.15/24", "brd", "+", "dev", "eth0"],
                  ["ip", "-n", name, "link", "set", "eth0", "up"],
                  ["ip", "-n", name, "route", "add", "default", "via", "10.0.2.2"]]
    return all(sh(*s) == 0 for s in steps)


def run(argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--platform", default="process")
    ap.add_argument("--changes", action="store_true",
                    help="also run `PROGRAM changes` under mote: two EPERMs expected")
    ap.add_argument("program")
    args = ap.parse_args()
    ok = Checks()
    made = []
    try:
        for device in (False, True):
            ns = f"{TAG}{'d' if device else 'n'}"
            made.append(ns)
            if not make_namespace(ns, device):
                print("SKIP: cannot make a network namespace with a veth device here")
                return 77
            native = run(["ip", "netns", "exec", ns, args.program])
            mote = run([args.mote, "run", "--platform", args.platform] +
                       (["--net", "user"] if device else []) + [args.program])
            what = "with eth0" if device else "loopback only"
            ok(f"{what}: native run passes its own checks", native[0] == 0 and
               "0 failures" in native[1], native[1][-600:] + native[2][-300:])
            ok(f"{what}: same status", native[0] == mote[0], f"native {native[0]}, mote {mote[0]}")
            ok(f"{what}: same stdout", native[1] == mote[1],
               "--- native\n" + native[1] + "--- mote\n" + mote[1] + mote[2][-300:])
            if device:
                ok(f"{what}: eth0 and its address listed", "eth0" in mote[1] and
                   "10.0.2.15" in mote[1], mote[1])
        if args.changes:  # changing the network: EPERM under mote (natively, root may)
            r = run([args.mote, "run", "--platform", args.platform, args.program, "changes"])
            ok("changes are EPERM", r[0] == 0 and r[1].count("Operation not permitted") == 2,
               r[1] + r[2][-300:])
    finally:
        for ns in made:
            sh("ip", "netns", "del", ns)
        sh("ip", "link", "del", TAG[:15])
    return ok.finish()


if __name__ == "__main__":
    sys.exit(main())
