#!/usr/bin/env python3
"""Sockets between the host and a program under mote (--net user), through
the guest's own TCP/IP stack, the device and the libslirp backend. The guest
side is Debian's python3, unmodified:

  1. inbound TCP (-p HOST:GUEST): a guest server reads 2 MiB from a host
     client and answers with its sha256, then a line echoed back;
  2. inbound UDP (-p HOST:GUEST/udp): a guest echo server answers datagrams
     the host sends to the published port;
  3. outbound TCP: the guest connects to a server on the host's 127.0.0.1
     through slirp's host address 10.0.2.2, sends a line, gets the reply;
  4. a program that sends and ends at once: the guest sends 8 MiB to a host
     server that is slow to read and calls _exit without closing. All of it
     and the end of the stream arrive, as from a Linux process: the core
     sends what its sockets hold before the run ends, and mote-net writes
     what slirp holds to the host's socket before it goes.

    net_sockets.py --mote build/mote [--platform process|qemu]
"""

import argparse
import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

from checks import Checks, free_port

PYTHON = "/usr/bin/python3"

TCP_SERVER = r"""
import hashlib, socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7000)); l.listen(4)
print("listening", flush=True)
c, peer = l.accept()
h = hashlib.sha256(); n = 0
while n < (2 << 20):
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
c.sendall(h.hexdigest().encode() + b"\n")
f = c.makefile("rwb")
line = f.readline()
f.write(b"echo: " + line); f.flush()
c.close()
print("served", n, peer[0] == "10.0.2.2", flush=True)
"""

UDP_SERVER = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7001))
print("listening", flush=True)
for _ in range(3):
    m, src = s.recvfrom(2048)
    s.sendto(m[::-1], src)
print("echoed 3", flush=True)
"""

TCP_CLIENT = r"""
import socket, sys
c = socket.create_connection(("10.0.2.2", int(sys.argv[1])), timeout=30)
c.sendall(b"hello from the guest\n")
print("reply:", c.makefile("rb").readline().decode().strip())
"""


SEND_AND_EXIT = r"""
import os, random, socket, sys
c = socket.create_connection(("10.0.2.2", int(sys.argv[1])), timeout=30)
c.sendall(random.Random(5).randbytes(int(sys.argv[2])))
os._exit(0)  # no close, no flush: the process just ends
"""


def wait_line(proc, want, timeout):
    """Reads the guest's stdout until a line equal to `want` (True) or EOF."""
    end = time.time() + timeout
    while time.time() < end:
        line = proc.stdout.readline()
        if not line:
            return False
        if line.decode().strip() == want:
            return True
    return False


def connect_retry(port, timeout):
    end = time.time() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--platform", default="process")
    args = ap.parse_args()
    if not os.path.exists(PYTHON):
        print(f"SKIP: {PYTHON} is missing")
        return 77
    slow = args.platform == "qemu"
    ok = Checks()
    base = [args.mote, "run", "--platform", args.platform]

    # 1. Inbound TCP.
    port = free_port()
    g = subprocess.Popen(base + ["-p", f"127.0.0.1:{port}:7000", PYTHON, "-c", TCP_SERVER],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ok("inbound TCP: the guest server listens", wait_line(g, "listening", 120 if slow else 30))
        data = bytes((i * 13 + (i >> 10)) & 0xFF for i in range(2 << 20))
        c = connect_retry(port, 30)
        c.sendall(data)
        f = c.makefile("rwb")
        digest = f.readline().decode().strip()
        ok("inbound TCP: 2 MiB arrive intact (sha256)", digest == hashlib.sha256(data).hexdigest(),
           digest)
        f.write(b"line two\n")
        f.flush()
        ok("inbound TCP: a line echoed back", f.readline() == b"echo: line two\n")
        c.close()
        ok("inbound TCP: the peer is slirp's host address",
           wait_line(g, f"served {2 << 20} True", 60))
        ok("inbound TCP: mote exits 0 with the program", g.wait(timeout=60) == 0)
    finally:
        if g.poll() is None:
            g.kill()
            g.wait()

    # 2. Inbound UDP.
    uport = free_port(udp=True)
    g = subprocess.Popen(base + ["-p", f"127.0.0.1:{uport}:7001/udp", PYTHON, "-c", UDP_SERVER],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ok("inbound UDP: the guest server is bound", wait_line(g, "listening", 120 if slow else 30))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        answers = []
        for m in (b"one", b"second datagram", b"x" * 1400):
            for _ in range(10):  # UDP: resend until the echo comes
                s.sendto(m, ("127.0.0.1", uport))
                try:
                    answers.append(s.recvfrom(2048)[0])
                    break
                except socket.timeout:
                    continue
        ok("inbound UDP: three datagrams echoed (reversed)",
           answers == [b"eno", b"margatad dnoces", b"x" * 1400], repr(answers)[:200])
        ok("inbound UDP: mote exits 0", g.wait(timeout=60) == 0)
    finally:
        if g.poll() is None:
            g.kill()
            g.wait()

    def outbound(program, args, serve, rcvbuf=None, timeout=60):
        """Runs `program` under mote --net user with a host server's port
        first in its arguments; serve(conn, got) answers its one connection.
        Returns (the run, got)."""
        lsock = socket.socket()
        if rcvbuf:  # for the connection it accepts
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        got = {}

        def accept_one():
            lsock.settimeout(120 if slow else 30)
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            serve(c, got)
            c.close()

        t = threading.Thread(target=accept_one)
        t.start()
        p = subprocess.run(base + ["--net", "user", PYTHON, "-c", program,
                                   str(lsock.getsockname()[1]), *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300 if slow else timeout)
        t.join()
        lsock.close()
        return p, got

    # 3. Outbound TCP to a server on the host's loopback.
    def answer(c, got):
        got["line"] = c.makefile("rb").readline()
        c.sendall(b"hello from the host\n")

    p, got = outbound(TCP_CLIENT, [], answer)
    ok("outbound TCP: the host's server got the guest's line",
       got.get("line") == b"hello from the guest\n", repr(got))
    ok("outbound TCP: the guest got the reply, exit 0",
       p.returncode == 0 and p.stdout == b"reply: hello from the host\n",
       f"status {p.returncode}, {p.stdout!r} {p.stderr[-300:]!r}")

    # 4. Send and exit at once, to a host reader with a small receive
    # buffer (the host's kernel holds little, slirp much).
    size = (1 << 20) if slow else (12 << 20)

    def slow_reader(c, got):
        # Slow (about 13 MB/s): the guest's sendall returns, and the
        # program ends, while megabytes still wait in its socket, in slirp
        # and in the host's socket buffers.
        c.settimeout(60)
        b = bytearray()
        try:
            while True:
                time.sleep(0.005)
                d = c.recv(1 << 16)
                if not d:
                    got["eof"] = True
                    break
                b += d
        except OSError as e:
            got["error"] = str(e)
        got["data"] = bytes(b)

    p, got = outbound(SEND_AND_EXIT, [str(size)], slow_reader, rcvbuf=1 << 16, timeout=90)
    data = got.get("data", b"")
    ok(f"send then _exit: all {size} bytes reach the host, then the end of the stream",
       got.get("eof") and data == random.Random(5).randbytes(size),
       f"got {len(data)} bytes, eof {got.get('eof')}, error {got.get('error')}, "
       f"mote status {p.returncode} {p.stderr[-300:]!r}")
    ok("send then _exit: mote exits 0", p.returncode == 0, f"status {p.returncode} {p.stderr[-300:]!r}")
    return ok.finish()


if __name__ == "__main__":
    sys.exit(main())
