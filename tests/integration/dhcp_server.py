#!/usr/bin/env python3
"""A minimal DHCP server for tests (tests/integration/dhcp.py): on one
interface, it offers and acks ADDR with a short lease, and prints one line per
request it takes ("DISCOVER", "REQUEST ciaddr=A requested=B"), flushed.

    dhcp_server.py IFACE SERVER_ADDR ADDR LEASE_SECONDS

Answers to a client that has an address (ciaddr: a renewal) go to that
address, as a server's would (RFC 2131 4.1); the rest are broadcast.
"""

import socket
import struct
import sys

SO_BINDTODEVICE = 25


def options(data):
    out, i = {}, 240
    while i < len(data):
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        ln = data[i + 1]
        out[code] = data[i + 2:i + 2 + ln]
        i += 2 + ln
    return out


def main():
    iface, server, addr, lease = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode())
    s.bind(("0.0.0.0", 67))
    print("ready", flush=True)
    while True:
        data, _ = s.recvfrom(2048)
        if len(data) < 240 or data[0] != 1 or data[236:240] != b"\x63\x82\x53\x63":
            continue
        opts = options(data)
        kind = opts.get(53, b"\0")[0]
        xid, ciaddr, chaddr = data[4:8], data[12:16], data[28:44]
        if kind == 1:
            print("DISCOVER", flush=True)
            reply_type = 2
        elif kind == 3:
            req = opts.get(50, b"\0\0\0\0")
            print("REQUEST ciaddr=%s requested=%s" % (socket.inet_ntoa(ciaddr),
                                                        socket.inet_ntoa(req)), flush=True)
            reply_type = 5
        else:
            continue
        m = bytearray(240)
        m[0:4] = b"\x02\x01\x06\x00"
        m[4:8] = xid
        m[10:12] = data[10:12]
        m[12:16] = ciaddr
        m[16:20] = socket.inet_aton(addr)
        m[20:24] = socket.inet_aton(server)
        m[28:44] = chaddr
        m[236:240] = b"\x63\x82\x53\x63"
        for code, value in ((53, bytes([reply_type])), (54, socket.inet_aton(server)),
                            (51, struct.pack("!I", lease)), (1, socket.inet_aton("255.255.255.0")),
                            (3, socket.inet_aton(server)), (6, socket.inet_aton(server))):
            m += bytes([code, len(value)]) + value
        m += b"\xff"
        to = socket.inet_ntoa(ciaddr) if ciaddr != b"\0\0\0\0" else "255.255.255.255"
        s.sendto(bytes(m), (to, 68))


if __name__ == "__main__":
    main()
