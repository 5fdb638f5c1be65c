#!/usr/bin/env python3
"""Records real Linux frames for tests/unit/net/recorded_frames.h.

Run as root (it makes a private network namespace):
    unshare -n python3 tests/unit/net/record_frames.py > tests/unit/net/recorded_frames.h

A veth pair: veth0 is a real Linux host (10.0.2.2, MAC 02:00:00:00:00:01),
veth1 stands in for mote (10.0.2.15, MAC 52:54:00:12:34:56): a packet socket
on it captures what Linux sends and injects what mote would send, so every
frame below was built by the Linux kernel's own stack.
"""
import ctypes, fcntl, os, select, socket, struct, subprocess, sys, time

LINUX_MAC, MOTE_MAC = "02:00:00:00:00:01", "52:54:00:12:34:56"
LINUX_IP, MOTE_IP = "10.0.2.2", "10.0.2.15"

def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)

def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))

def ip(s):
    return socket.inet_aton(s)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

sh("ip link set lo up")
sh("ip link add veth0 type veth peer name veth1")
for dev, m in (("veth0", LINUX_MAC), ("veth1", MOTE_MAC)):
    sh(f"sysctl -qw net.ipv6.conf.{dev}.disable_ipv6=1 2>/dev/null || true")
    sh(f"ip link set {dev} address {m}")
def tx_checksum_offload_off(dev):
    """ethtool -K dev tx off, by ioctl: otherwise veth leaves UDP checksums
    half done (CHECKSUM_PARTIAL) in what the packet socket sees."""
    SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
    val = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifr = struct.pack("16sP", dev.encode(), ctypes.addressof(val))
    fcntl.ioctl(socket.socket(), SIOCETHTOOL, ifr + b"\0" * (40 - len(ifr)))

tx_checksum_offload_off("veth0")
sh(f"ip addr add {LINUX_IP}/24 dev veth0")
sh("ip link set veth0 up && ip link set veth1 up")
time.sleep(0.3)

cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
cap.bind(("veth1", 0))

def drain():
    while select.select([cap], [], [], 0.05)[0]:
        cap.recv(65536)

def capture(want, n=1, timeout=2.0):
    """The next n frames for which want(frame) holds."""
    got, end = [], time.time() + timeout
    while len(got) < n and time.time() < end:
        if select.select([cap], [], [], 0.1)[0]:
            f, addr = cap.recvfrom(65536)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            if want(f):
                got.append(f)
    if len(got) < n:
        sys.exit(f"capture timed out ({len(got)}/{n})")
    return got

def eth(f):
    return struct.unpack("!H", f[12:14])[0]

def ipproto(f):
    return f[23] if eth(f) == 0x0800 else None

out = []
def emit(name, frame, comment):
    out.append(f"// {comment}\ninline constexpr u8 {name}[] = {{")
    for i in range(0, len(frame), 12):
        out.append("    " + ", ".join("0x%02x" % b for b in frame[i:i + 12]) + ",")
    out.append("};\n")

drain()
# 1. Linux resolving mote's address: a UDP send with no neighbour entry.
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.sendto(b"x", (MOTE_IP, 7777))
req = capture(lambda f: eth(f) == 0x0806)[0]
emit("kLinuxArpRequest", req,
     "Linux 10.0.2.2 (02:00:00:00:00:01) asks who has 10.0.2.15 (an ARP request, broadcast)")

# 2. Linux answering mote's request for 10.0.2.2.
drain()
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac(MOTE_MAC), ip(MOTE_IP),
                  b"\0" * 6, ip(LINUX_IP))
cap.send(b"\xff" * 6 + mac(MOTE_MAC) + b"\x08\x06" + arp)
rep = capture(lambda f: eth(f) == 0x0806 and f[21] == 2)[0]
emit("kLinuxArpReply", rep, "Linux's ARP reply to 10.0.2.15: 10.0.2.2 is at 02:00:00:00:00:01")

sh(f"ip neigh replace {MOTE_IP} lladdr {MOTE_MAC} dev veth0 nud permanent")
time.sleep(0.1)
drain()

# 3. An echo request as iputils ping builds it (id 0x1234, seq 1, 56 data
# bytes: a 16-byte timeval then the byte pattern 0x10, 0x11, ...), sent
# through a Linux raw socket, so the IP header is the kernel's.
data = struct.pack("<QQ", 1700000000, 123456) + bytes(range(16, 56))
icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + data
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
raw.sendto(icmp, (MOTE_IP, 0))
ping = capture(lambda f: ipproto(f) == 1)[0]
emit("kLinuxEchoRequest", ping,
     "ping 10.0.2.15 from 10.0.2.2: ICMP echo request id 0x1234 seq 1, 56 data bytes")

# 4. Linux's echo reply to mote's echo request (the same message, reversed).
drain()
ipv4 = lambda proto, payload, src=MOTE_IP, dst=LINUX_IP, ident=0x4d4f, frag=0x4000: (
    lambda h: h[:10] + struct.pack("!H", csum(h)) + h[12:])(
        struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                    ip(src), ip(dst))) + payload
ether = lambda payload: mac(LINUX_MAC) + mac(MOTE_MAC) + b"\x08\x00" + payload
cap.send(ether(ipv4(1, icmp)))
pong = capture(lambda f: ipproto(f) == 1 and f[34] == 0)[0]
emit("kLinuxEchoReply", pong,
     "Linux 10.0.2.2's echo reply to the same echo request sent from 10.0.2.15")

# 5. A UDP datagram from a Linux socket: 10.0.2.2:40000 -> 10.0.2.15:7777.
drain()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((LINUX_IP, 40000))
u.sendto(b"hello, mote\n", (MOTE_IP, 7777))
emit("kLinuxUdp", capture(lambda f: ipproto(f) == 17)[0],
     "Linux UDP 10.0.2.2:40000 -> 10.0.2.15:7777, payload \"hello, mote\\n\"")

# 6. The same socket sending 3000 bytes (i & 0xff pattern): Linux fragments
# it to the 1500-byte MTU (1480 + 1480 + 48 data bytes).
drain()
u.sendto(bytes(i & 0xff for i in range(3000)), (MOTE_IP, 7777))
frags = capture(lambda f: ipproto(f) == 17, n=3)
for i, f in enumerate(frags):
    emit(f"kLinuxUdpFrag{i}", f,
         f"fragment {i} of Linux's 3000-byte UDP datagram 10.0.2.2:40000 -> 10.0.2.15:7777")

# 7. Linux's port unreachable for a datagram from mote's first ephemeral port
# (10.0.2.15:32768) to a closed port (10.0.2.2:9).
drain()
body = b"knock"
uh = struct.pack("!HHHH", 32768, 9, 8 + len(body), 0) + body
ph = ip(MOTE_IP) + ip(LINUX_IP) + struct.pack("!BBH", 0, 17, len(uh))
uh = uh[:6] + struct.pack("!H", csum(ph + uh) or 0xffff) + uh[8:]
cap.send(ether(ipv4(17, uh, ident=0x0101)))
emit("kLinuxPortUnreachable", capture(lambda f: ipproto(f) == 1)[0],
     "Linux's ICMP port unreachable for UDP 10.0.2.15:32768 -> 10.0.2.2:9 \"knock\"")

print("// Frames recorded from a real Linux kernel by record_frames.py (see there);")
print("// regenerate with: unshare -n python3 tests/unit/net/record_frames.py")
print("#pragma once\n\n#include \"kernel/lib/types.h\"\n\nnamespace mote::net::recorded {\n")
print("\n".join(out))
print("}  // namespace mote::net::recorded")
