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
import hashlib, random, socket, threading
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 7001))
def udp_echo():
    while True:
        d, a = u.recvfrom(4096); u.sendto(d.upper(), a)
threading.Thread(target=udp_echo, daemon=True).start()
l = socket.socket(); l.bind(("0.0.0.0", 7000)); l.listen(1)
print("listening", flush=True)
c, peer = l.accept()
print("peer", peer[0], flush=True)
c.sendall(c.recv(100).upper())
# Bulk both ways: N bytes in (their sha256 back), then N seeded bytes out.
def exactly(n):
    b = bytearray()
    while len(b) < n:
        d = c.recv(min(65536, n - len(b)))
        if not d: raise SystemExit("short read")
        b += d
    return bytes(b)
n = int(exactly(8))
c.sendall(hashlib.sha256(exactly(n)).hexdigest().encode())
c.sendall(random.Random(7).randbytes(n)); c.close()
"""

# The client, in the namespace. It watches the tap with a packet socket
# (PACKET_AUXDATA: TP_STATUS_CSUMNOTREADY marks a frame whose TCP/UDP
# checksum is partial, CHECKSUM_PARTIAL) and prints what it saw each way,
# so the test knows the checksum offload really ran: frames from the guest
# left it partial for the tap to finish, and frames to the guest came
# partial (which the guest must not check, or nothing would get through).
CLIENT = r"""
import hashlib, random, socket, struct, sys, threading, time
tap, wait, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
seen = {}  # (direction, proto) -> [frames with payload, of them partial, of them over the MTU]
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
cap.bind((tap, 0)); cap.setsockopt(263, 8, 1); cap.settimeout(0.2)  # SOL_PACKET, PACKET_AUXDATA
stop = False
def capture():
    while not stop:
        try:
            data, anc, _, addr = cap.recvmsg(65536, socket.CMSG_SPACE(20))
        except socket.timeout:
            continue
        if len(data) < 34 or data[12:14] != b"\x08\x00" or data[23] not in (6, 17): continue
        ihl = (data[14] & 15) * 4
        total = struct.unpack("!H", data[16:18])[0]
        l4 = 14 + ihl
        hl = (data[l4 + 12] >> 4) * 4 if data[23] == 6 else 8
        if total - ihl - hl <= 0: continue  # no payload
        status = 0
        for level, kind, d in anc:
            if level == 263 and kind == 8: status = struct.unpack("I", d[:4])[0]
        key = ("to-guest" if addr[2] == socket.PACKET_OUTGOING else "from-guest",
               "tcp" if data[23] == 6 else "udp")
        v = seen.setdefault(key, [0, 0, 0]); v[0] += 1; v[1] += bool(status & 8); v[2] += len(data) > 1514
t = threading.Thread(target=capture); t.start()
try:
    end = time.time() + wait
    while True:
        try:
            c = socket.create_connection(("10.0.2.15", 7000), timeout=30)
            break
        except OSError:
            if time.time() > end: raise
            time.sleep(0.3)
    c.sendall(b"hello over the tap")
    print(c.recv(100).decode())
    # While the connection holds the guest program up: its UDP echo.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
    msg = bytes(range(97, 123)) * 40
    for tries in range(5):
        u.sendto(msg, ("10.0.2.15", 7001))
        try:
            d, _ = u.recvfrom(4096)
        except socket.timeout:
            continue
        print("udp echo", "ok" if d == msg.upper() else "BAD"); break
    else:
        print("udp echo: no answer")
    out = random.Random(3).randbytes(n)
    c.sendall(b"%08d" % n + out)
    digest = b""
    while len(digest) < 64: digest += c.recv(64 - len(digest))
    print("guest got sha256", "ok" if digest.decode() == hashlib.sha256(out).hexdigest() else "BAD")
    back = bytearray()
    while True:
        d = c.recv(65536)
        if not d: break
        back += d
    print("host got", "ok" if bytes(back) == random.Random(7).randbytes(n) else "BAD %d bytes" % len(back))
finally:
    time.sleep(0.3); stop = True; t.join()
for k in sorted(seen): print("frames", *k, *seen[k])
"""


# Send and exit at once: the guest connects to a slow reader in the
# namespace, sends N seeded bytes and calls _exit without closing. As from a
# Linux process, every byte and then the end of the stream must arrive: the
# core closes the program's sockets and sends what they hold before the run
# ends. The reader prints what it got.
SENDER = r"""
import os, random, socket, sys
c = socket.create_connection(("10.0.2.2", 7100), timeout=30)
c.sendall(random.Random(5).randbytes(int(sys.argv[1])))
os._exit(0)
"""
SINK = r"""
import random, socket, sys, time
n = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
l.bind(("10.0.2.2", 7100)); l.listen(1); l.settimeout(120)
print("listening", flush=True)
c, _ = l.accept(); c.settimeout(60)
b = bytearray(); eof = False
try:
    while True:
        time.sleep(0.005)  # slow, about 13 MB/s: the guest ends long before
        d = c.recv(1 << 16)
        if not d: eof = True; break
        b += d
except OSError as e:
    print("error", e)
print("sink got", len(b), "eof" if eof else "no-eof", "ok" if bytes(b) == random.Random(5).randbytes(n) else "BAD")
"""


# After the run, a reader of the tap without virtio-net headers: the SYN the
# host sends to the guest's address must come with a whole checksum, i.e.
# mote switched the device's checksum offload off again as it ended (the
# device keeps it after the last fd closes). Prints "whole" or "partial".
PLAIN_READER = r"""
import fcntl, os, select, socket, struct, sys, time
tap = sys.argv[1]
fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", tap.encode(), 0x0002 | 0x1000))  # TUNSETIFF TAP|NO_PI
s = socket.socket(); s.setblocking(False)
try:
    s.connect(("10.0.2.15", 7999))
except BlockingIOError:
    pass
end = time.time() + 10
while time.time() < end:
    if not select.select([fd], [], [], 1)[0]: continue
    f = os.read(fd, 70000)
    if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6: continue
    ihl = (f[14] & 15) * 4
    total = struct.unpack("!H", f[16:18])[0]
    seg = f[14 + ihl:14 + total]
    if struct.unpack("!H", seg[2:4])[0] != 7999: continue
    data = f[26:34] + struct.pack("!BBH", 0, 6, len(seg)) + seg + (b"\0" if len(seg) % 2 else b"")
    sum_ = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while sum_ >> 16: sum_ = (sum_ & 0xffff) + (sum_ >> 16)
    print("whole" if sum_ == 0xffff else "partial"); break
else:
    print("no SYN seen")
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
            size = 1 << 19 if slow else 4 << 20
            c = subprocess.run(inns + [PYTHON, "-c", CLIENT, TAP, "120" if slow else "30", str(size)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=300)
            lines = c.stdout.decode(errors="replace").splitlines()
            ok("a client in the namespace reaches the guest's 10.0.2.15 over the tap",
               c.returncode == 0 and lines[:1] == ["HELLO OVER THE TAP"], c.stdout.decode(errors="replace")[-800:])
            ok(f"{size} bytes to the guest over TCP arrive whole (its sha256 matches)",
               "guest got sha256 ok" in lines, c.stdout.decode(errors="replace")[-800:])
            ok(f"{size} bytes from the guest over TCP arrive whole",
               "host got ok" in lines, c.stdout.decode(errors="replace")[-800:])
            ok("a UDP datagram echoes through the tap", "udp echo ok" in lines, c.stdout.decode(errors="replace")[-800:])
            frames = {}
            for line in lines:
                w = line.split()
                if len(w) == 6 and w[0] == "frames":
                    frames[(w[1], w[2])] = (int(w[3]), int(w[4]), int(w[5]))
            # Checksum offload, both ways (docs/networking.md): the guest's
            # TCP and UDP leave their checksums for the tap to finish, and
            # the host's TCP hands the guest partial ones it must take.
            for key in [("from-guest", "tcp"), ("from-guest", "udp"), ("to-guest", "tcp")]:
                total, partial, _ = frames.get(key, (0, 0, 0))
                ok(f"{key[0]} {key[1]} frames carry partial checksums (offload): "
                   f"{partial} of {total}", total > 0 and partial > 0, str(frames))
            # TCP segmentation offload: the packet socket sees the uncut
            # segments, both ways on both platforms (the VM's driver
            # negotiates HOST_TSO4 with QEMU's virtio-net, and GUEST_TSO4
            # with MRG_RXBUF: the segments to it span several buffers).
            for key in [("from-guest", "tcp"), ("to-guest", "tcp")]:
                total, _, big = frames.get(key, (0, 0, 0))
                ok(f"{key[0]} tcp segments larger than the MTU (segmentation offload): "
                   f"{big} of {total}", big > 0, str(frames))
            try:
                out, _ = g.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                g.kill()
                out, _ = g.communicate()
            ok("the guest saw the peer 10.0.2.2 and exited 0",
               g.returncode == 0 and b"peer 10.0.2.2" in out, f"status {g.returncode}: {out[-500:]!r}")
            if args.platform != "qemu":  # QEMU leaves its offloads on (its own choice)
                sh(*inns, "ip", "neigh", "replace", "10.0.2.15", "lladdr", "52:54:00:12:34:56",
                   "dev", TAP, "nud", "permanent")
                r = subprocess.run(inns + [PYTHON, "-c", PLAIN_READER, TAP], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=60)
                ok("after the run the tap's offload is off: a plain reader gets whole checksums",
                   r.stdout == b"whole\n", r.stdout.decode(errors="replace")[-500:])
        finally:
            if g.poll() is None:
                g.kill()
                g.wait()
        size = 1 << 20 if slow else 8 << 20
        sink = subprocess.Popen(inns + [PYTHON, "-c", SINK, str(size)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            ready = sink.stdout.readline().strip() == b"listening"
            r = subprocess.run(inns + [args.mote, "run", "--platform", args.platform,
                                       "--net", f"tap:{TAP}", PYTHON, "-c", SENDER, str(size)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            out, _ = sink.communicate(timeout=120)
            ok(f"send then _exit: all {size} bytes reach the peer, then the end of the stream",
               ready and out.decode().strip().endswith(f"sink got {size} eof ok"),
               f"sink: {out.decode(errors='replace')[-300:]!r}; mote status {r.returncode}: "
               f"{r.stdout[-300:]!r}")
            ok("send then _exit: mote exits 0", r.returncode == 0, f"status {r.returncode}: {r.stdout[-300:]!r}")
        finally:
            if sink.poll() is None:
                sink.kill()
                sink.wait()
    finally:
        sh("ip", "netns", "del", NS)
    return ok.finish()


if __name__ == "__main__":
    sys.exit(main())
