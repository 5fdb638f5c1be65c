#!/usr/bin/env python3
"""DHCP at boot (kernel/net/dhcp.h, kernel/linux/net_config.cc): with
`--net user:dhcp` the monitor gives the guest no address and the kernel asks
the network's DHCP server (libslirp's, in mote-net) before the program runs.

    dhcp.py --mote build/mote [--busybox /bin/busybox] [--platform process|qemu]

Checks, on the platform given:
  1. the lease is taken and said (-v): "mote: DHCP: 10.0.2.15/24, gateway
     10.0.2.2, DNS 10.0.2.3, from 10.0.2.2 (lease N s)"; the program sees it
     (ifconfig eth0, /etc/resolv.conf, the routes) and the stack uses it: a
     page fetched from a server on the host's loopback through 10.0.2.2;
  2. without :dhcp nothing asks (no DHCP line), the static addresses stand;
  3. (process platform, root) a tap in a network namespace with no DHCP
     server: the run goes on without an address after one line saying so;
     with a DHCP server there (dhcp_server.py) whose leases last 4 s, the
     kernel renews the lease while the program runs: REQUESTs from its
     address (ciaddr) at T1, each ACK said with -v;
  4. --net none:dhcp is a one-line error.
Exit 77 (SKIP) when busybox-static is not installed.
"""

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks, run  # noqa: E402

LEASE = "mote: DHCP: 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3, from 10.0.2.2 (lease "


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--platform", default="process")
    a = ap.parse_args()
    if not os.path.exists(a.busybox):
        print(f"SKIP: {a.busybox} is not installed (apt-get install busybox-static)")
        return 77
    mote, bb, plat = os.path.abspath(a.mote), a.busybox, a.platform
    check = Checks()
    timeout = 240 if plat == "qemu" else 60

    # A page on the host's loopback, which the guest reaches through 10.0.2.2.
    site = tempfile.mkdtemp(prefix="mote-dhcp-")
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("leased and routed\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kw):
            super().__init__(*args, directory=site, **kw)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        script = ("ifconfig eth0 2>/dev/null; cat /etc/resolv.conf; ip route; "
                  f"wget -q -O - http://10.0.2.2:{port}/index.html")
        rc, out, err = run([mote, "run", "--platform", plat, "--verbose", "--net", "user:dhcp",
                            bb, "sh", "-c", script], timeout)
        o, e = out.decode(errors="replace"), err.decode(errors="replace")
        check(f"{plat}: --net user:dhcp: the lease is taken and said", rc == 0 and LEASE in e,
              f"status {rc}, stderr {e!r}")
        check(f"{plat}: the program sees the leased address, DNS and routes",
              "inet addr:10.0.2.15" in o and "Mask:255.255.255.0" in o and
              "nameserver 10.0.2.3" in o and "default via 10.0.2.2 dev eth0" in o, repr(o))
        check(f"{plat}: the stack uses it: a page from the host through 10.0.2.2",
              "leased and routed" in o, repr(o))

        rc, out, err = run([mote, "run", "--platform", plat, "--verbose", "--net", "user", bb, "sh", "-c",
                            "ifconfig eth0"], timeout)
        e = err.decode(errors="replace")
        check(f"{plat}: without :dhcp nothing asks, the static address stands",
              rc == 0 and "DHCP" not in e and b"inet addr:10.0.2.15" in out, repr((rc, e)))
    finally:
        httpd.shutdown()

    if plat == "process":
        if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
            print("SKIP: a tap without a DHCP server needs root and /dev/net/tun")
        else:
            ns, dev = f"motedhcp{os.getpid()}", "mdtap0"
            try:
                for c in (["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"],
                          ["ip", "-n", ns, "tuntap", "add", "dev", dev, "mode", "tap"],
                          ["ip", "-n", ns, "link", "set", dev, "up"]):
                    subprocess.run(c, check=True, capture_output=True)
                t0 = time.monotonic()
                rc, out, err = run(["ip", "netns", "exec", ns, mote, "run", "--net",
                                    f"tap:{dev}:dhcp", bb, "sh", "-c",
                                    "echo ran; ifconfig eth0 2>/dev/null | grep -c 'inet addr:10' "
                                    "|| true"], 60)
                took = time.monotonic() - t0
                e = err.decode(errors="replace")
                check("tap without a DHCP server: one line, then the program runs without an address",
                      rc == 0 and e == "mote: DHCP: no answer on the network in 15 s; the program "
                      "runs without an address\n" and out == b"ran\n0\n" and took >= 15,
                      f"status {rc}, {took:.1f} s, stdout {out!r}, stderr {e!r}")
                # A server with 4 s leases: renewals every 2 s (T1) while the
                # program sleeps 7 s.
                subprocess.run(["ip", "-n", ns, "addr", "add", "10.0.2.2/24", "dev", dev],
                               check=True, capture_output=True)
                server = subprocess.Popen(
                    ["ip", "netns", "exec", ns, sys.executable,
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "dhcp_server.py"),
                     dev, "10.0.2.2", "10.0.2.15", "4"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                try:
                    ready = server.stdout.readline().strip() == b"ready"
                    rc, out, err = run(["ip", "netns", "exec", ns, mote, "run", "--verbose", "--net",
                                        f"tap:{dev}:dhcp", bb, "sh", "-c",
                                        "sleep 7; ifconfig eth0 | grep -o 'inet addr:[0-9.]*'"], 60)
                finally:
                    server.kill()
                    log = server.communicate()[0].decode(errors="replace")
                e = err.decode(errors="replace")
                renewals = log.count("REQUEST ciaddr=10.0.2.15 requested=0.0.0.0")
                check("a DHCP server with 4 s leases: the lease is taken at boot",
                      ready and rc == 0 and "mote: DHCP: 10.0.2.15/24, gateway 10.0.2.2" in e
                      and "DISCOVER" in log, f"status {rc}, stderr {e!r}, server {log!r}")
                check("the kernel renews it at T1 from its address while the program runs",
                      renewals >= 2 and e.count("mote: DHCP: renewed 10.0.2.15 (lease 4 s)") >= 2,
                      f"{renewals} renewals; server {log!r}; stderr {e!r}")
                check("the address stands through the renewals",
                      out == b"inet addr:10.0.2.15\n" and "not renewed" not in e, repr((out, e)))
            finally:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)

        rc, out, err = run([mote, "run", "--net", "none:dhcp", bb, "true"], 30)
        e = err.decode(errors="replace")
        check("--net none:dhcp: a one-line error", rc == 125 and e.count("\n") == 1 and
              e.startswith("mote: ") and "none:dhcp" in e, repr((rc, e)))
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
