#!/usr/bin/env python3
"""The network device on the VM platform under QEMU microvm (TCG):

  1. the kernel's virtio-net driver end to end: `selftest-net` sends an ARP
     request for 10.0.2.2 through QEMU's user network and gets the reply,
     polled, then with the CPU halted until the device's interrupt (routed
     through the I/O APIC) wakes it; with ACPI and with acpi=off;
  2. `mote run --platform qemu -p ...` gives the guest a virtio-net device
     with the user network's addresses (its /etc/hosts and resolv.conf say so);
  3. received frames reach the guest's stack by the device's interrupt (I/O
     APIC): Debian's python3 in the guest serves a published TCP port (256
     KiB from the host, its sha256 back), echoes a datagram on a published
     UDP port and sends one to the host through 10.0.2.2;
  4. no interrupt storm: an idle guest with the device, sent datagrams it
     has no socket for, costs next to no CPU while it sleeps.

    net_qemu.py --mote build/mote --kernel build/mote-kernel --busybox /bin/busybox

Exit 77 (ctest SKIP) when qemu-system-x86_64 is not installed.
"""

import argparse
import hashlib
import os
import resource
import shutil
import socket
import subprocess
import threading
import time

from checks import Checks, free_port, microvm, run

PYTHON = "/usr/bin/python3"

# The guest: TCP on 7000 (256 KiB in, sha256 out), UDP echo on 7001 until
# "ping", then one datagram to the host's UDP port through 10.0.2.2.
GUEST = r"""
import hashlib, socket, sys, time
host_udp = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7000)); l.listen(4)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 7001))
print("listening", flush=True)
c, peer = l.accept()
h = hashlib.sha256(); n = 0
while n < 256 * 1024:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
c.sendall(h.hexdigest().encode() + b"\n")
c.close()
print("tcp", n, flush=True)
while True:
    m, src = u.recvfrom(2048)
    u.sendto(m[::-1], src)
    if m == b"ping": break
for _ in range(3):
    u.sendto(b"from the guest", ("10.0.2.2", host_udp))
    time.sleep(0.2)
print("done", flush=True)
"""


def guest_server(check, mote):
    """Check 3: a guest server reached from the host, both protocols."""
    tcp_port, udp_port, host_udp = free_port(), free_port(udp=True), free_port(udp=True)
    recv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    recv.bind(("127.0.0.1", host_udp))
    recv.settimeout(60)
    cmd = [mote, "run", "--platform", "qemu", "-p", f"127.0.0.1:{tcp_port}:7000",
           "-p", f"127.0.0.1:{udp_port}:7001/udp", PYTHON, "-c", GUEST, str(host_udp)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = threading.Timer(300, p.kill)
    timer.start()
    try:
        line = p.stdout.readline()
        check("guest server listening", line == b"listening\n", repr(line))
        data = os.urandom(256 * 1024)
        reply = b""
        for _ in range(20):  # slirp accepts before the guest's SYN-ACK; retry a refused one
            try:
                with socket.create_connection(("127.0.0.1", tcp_port), timeout=120) as c:
                    c.sendall(data)
                    while not reply.endswith(b"\n"):
                        b = c.recv(4096)
                        if not b:
                            break
                        reply += b
            except OSError:
                pass
            if reply:
                break
            time.sleep(0.5)
        check("host -> guest TCP: 256 KiB in, sha256 back",
              reply == hashlib.sha256(data).hexdigest().encode() + b"\n", repr(reply[:80]))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(3)
        echo = None
        for _ in range(20):
            u.sendto(b"ping", ("127.0.0.1", udp_port))
            try:
                echo = u.recvfrom(2048)[0]
                break
            except socket.timeout:
                pass
        check("host -> guest UDP echo", echo == b"gnip", repr(echo))
        try:
            got = recv.recvfrom(2048)[0]
        except socket.timeout:
            got = None
        check("guest -> host UDP through 10.0.2.2", got == b"from the guest", repr(got))
        out, err = p.communicate(timeout=120)
        check("guest server exits 0", p.returncode == 0 and b"done\n" in out,
              f"status {p.returncode}: {out[-300:]!r} {err[-300:]!r}")
    finally:
        timer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()


def idle_cost(check, mote, busybox):
    """Check 4: CPU time of the whole run (mote and QEMU, waited-for
    children) while the guest sleeps with the device, datagrams arriving."""
    udp_port = free_port(udp=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    p = subprocess.Popen([mote, "run", "--platform", "qemu", "-p", f"127.0.0.1:{udp_port}:7009/udp",
                          busybox, "sleep", "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):  # to a port with no socket: interrupts, then nothing to do
        s.sendto(b"anyone?", ("127.0.0.1", udp_port))
        time.sleep(0.05)
    out, err = p.communicate(timeout=120)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"     idle run: {cpu:.2f} s CPU in {wall:.2f} s")
    check("idle guest with a device: no interrupt storm (CPU < half the wall time)",
          p.returncode == 0 and cpu < wall / 2, f"status {p.returncode}, {cpu:.2f} s CPU in {wall:.2f} s")


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
    check("selftest-net: the reply's interrupt wakes the halted CPU (ACPI: MADT, second I/O APIC)",
          "selftest virtio-net interrupt: ok" in text, text)
    check("selftest-net: status 0 through isa-debug-exit", rc == 1, f"qemu status {rc}")
    # acpi=off: no MADT, the I/O APIC at its default address, the line from
    # QEMU's virtio_mmio.device=...:IRQ words.
    cmd[cmd.index("microvm")] = "microvm,acpi=off"
    rc, out, err = run(cmd, 120)
    text = out.decode(errors="replace")
    check("selftest-net acpi=off: ARP reply and its interrupt",
          "selftest virtio-net: ok" in text and "selftest virtio-net interrupt: ok" in text and rc == 1,
          f"qemu status {rc}: {text}")

    if os.path.exists(o.busybox):
        rc, out, err = run([o.mote, "run", "--platform", "qemu", "-p", "127.0.0.1:18099:80",
                            "--hostname", "vmbox", o.busybox, "cat", "/etc/hosts", "/etc/resolv.conf"], 120)
        text = out.decode(errors="replace")
        check("--platform qemu -p: the guest has 10.0.2.15", rc == 0 and "10.0.2.15\tvmbox\n" in text,
              f"status {rc}: {text} {err.decode(errors='replace')}")
        check("--platform qemu -p: DNS 10.0.2.3", "nameserver 10.0.2.3\n" in text, text)
        idle_cost(check, o.mote, o.busybox)
    else:
        print("SKIP --platform qemu checks: no " + o.busybox)
    if os.path.exists(PYTHON):
        guest_server(check, o.mote)
    else:
        print("SKIP guest server checks: no " + PYTHON)
    return check.finish()


if __name__ == "__main__":
    raise SystemExit(main())
