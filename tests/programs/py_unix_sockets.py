"""AF_UNIX through Python's socket module: socketpair of each type, a
socketserver.ThreadingUnixStreamServer on a path with several clients, a
UnixDatagramServer on an abstract name, fd passing with socket.send_fds /
recv_fds, selectors readiness and socket options. Prints only what is the
same on every run (no paths, pids or addresses of unnamed sockets)."""
import array
import os
import selectors
import socket
import socketserver
import struct
import tempfile
import threading

# socketpair: stream, datagram and seqpacket.
for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
    a, b = socket.socketpair(socket.AF_UNIX, kind)
    a.send(b"first")
    a.send(b"second")
    if kind == socket.SOCK_STREAM:
        got = b""
        while len(got) < 11:
            got += b.recv(100)
        print(kind.name, got)
    else:
        print(kind.name, b.recv(100), b.recv(100))
    a.close()
    print(kind.name, "after close:", b.recv(100) if kind != socket.SOCK_DGRAM else "-")
    b.close()


class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line.upper())


with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "upper.sock")
    with socketserver.ThreadingUnixStreamServer(path, Upper) as srv:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        print("server is a socket:", os.path.exists(path) and
              os.stat(path).st_mode & 0o170000 == 0o140000)
        replies = []
        clients = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(3)]
        for i, c in enumerate(clients):
            c.connect(path)
            c.sendall(b"hello from client %d\n" % i)
        for c in clients:
            f = c.makefile("rb")
            replies.append(f.readline())
            f.close()
            c.close()
        print("replies:", replies)
        # A big transfer through the server, echoed back upper-cased.
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        print("peer name is the path:", c.getpeername() == path)
        blob = (b"abcdefghij" * 100 + b"\n") * 600
        sender = threading.Thread(target=c.sendall, args=(blob,))
        sender.start()
        got = bytearray()
        while len(got) < len(blob):
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
        sender.join()
        print("big transfer:", len(got), bytes(got) == blob.upper())
        c.close()
        srv.shutdown()
    try:
        socket.socket(socket.AF_UNIX).connect(path)
    except OSError as e:
        print("connect after server gone:", type(e).__name__)


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data[::-1], self.client_address)


name = "\0mote-py-%d" % os.getpid()
with socketserver.UnixDatagramServer(name, Echo) as dsrv:
    t = threading.Thread(target=dsrv.serve_forever, daemon=True)
    t.start()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.bind("")  # autobind: the server needs an address to answer
    c.sendto(b"stressed", name)
    print("datagram echo:", c.recv(100))
    print("autobound name is abstract:", c.getsockname()[:1] == b"\0")
    c.close()
    dsrv.shutdown()

# Passing file descriptors.
a, b = socket.socketpair()
r, w = os.pipe()
socket.send_fds(a, [b"pipe"], [r, w])
os.close(r)
msg, fds, flags, _ = socket.recv_fds(b, 100, 4)
print("recv_fds:", msg, len(fds), flags)
os.write(fds[1], b"via passed fds")
print("pipe through passed fds:", os.read(fds[0], 100))
for fd in fds + [w]:
    os.close(fd)

# selectors: readable only once something arrives.
sel = selectors.DefaultSelector()
sel.register(b, selectors.EVENT_READ)
print("ready before:", len(sel.select(0)))
a.send(b"x")
print("ready after:", [k.fileobj is b for k, _ in sel.select(0)])
sel.close()

# Options.
print("SO_TYPE:", a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM)
pid, uid, gid = struct.unpack("3i", a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print("SO_PEERCRED:", pid == os.getpid(), uid == os.getuid(), gid == os.getgid())
a.setblocking(False)
try:
    a.recv(10)
except BlockingIOError:
    print("nonblocking recv: BlockingIOError")
a.close()
b.close()
print("done")
