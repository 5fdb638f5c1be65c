#!/usr/bin/env python3
"""The network device on the VM platform under QEMU microvm (TCG):

  1. the kernel's virtio-net driver end to end: `selftest-net` sends an ARP
     request for 10.0.2.2 through QEMU's user network and gets the reply;
  2. `mote run --platform qemu -p ...` gives the guest a virtio-net device
     with the user network's addresses (its /etc/hosts and resolv.conf say so).

    net_qemu.py --mote build/mote --kernel build/mote-kernel --busybox /bin/busybox

Exit 77 (ctest SKIP) when qemu-system-x86_64 is not installed.
"""

import argparse
import os
import shutil

from checks import Checks, microvm, run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mote", required=True)
    p.add_argument("--kernel", required=True)
    p.add_argument("--busybox", default="/bin/busybox")
    o = p.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        print("SKIP: qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")
        return 77
    check = Checks()
    cmd = microvm(o.kernel, "selftest-net") + [
        "-global", "virtio-mmio.force-legacy=false",
        "-netdev", "user,id=n0,net=10.0.2.0/24",
        "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56"]
    rc, out, err = run(cmd, 120)
    text = out.decode(errors="replace")
    check("selftest-net: ARP reply through virtio-net",
          "selftest virtio-net: ok (mac 52:54:00:12:34:56, ARP reply from 10.0.2.2" in text, text + err.decode(errors="replace"))
    check("selftest-net: status 0 through isa-debug-exit", rc == 1, f"qemu status {rc}")

    if os.path.exists(o.busybox):
        rc, out, err = run([o.mote, "run", "--platform", "qemu", "-p", "127.0.0.1:18099:80",
                            "--hostname", "vmbox", o.busybox, "cat", "/etc/hosts", "/etc/resolv.conf"], 120)
        text = out.decode(errors="replace")
        check("--platform qemu -p: the guest has 10.0.2.15", rc == 0 and "10.0.2.15\tvmbox\n" in text,
              f"status {rc}: {text} {err.decode(errors='replace')}")
        check("--platform qemu -p: DNS 10.0.2.3", "nameserver 10.0.2.3\n" in text, text)
    else:
        print("SKIP --platform qemu checks: no " + o.busybox)
    return check.finish()


if __name__ == "__main__":
    raise SystemExit(main())
