"""Issue 6: python3's socket module inside one guest over 127.0.0.1: a
threaded TCP echo server (socketserver) and client, a raw socket
server/client pair with a large transfer, UDP datagrams, selectors, and
socket.socketpair (AF_UNIX). Prints only what is the same on every run."""
import hashlib
import selectors
import socket
import socketserver
import threading


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line.upper())


def tcp_socketserver():
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as srv:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        port = srv.server_address[1]
        replies = []
        for i in range(3):
            with socket.create_connection(("127.0.0.1", port)) as c:
                f = c.makefile("rwb")
                f.write(b"hello %d\nsecond line\n" % i)
                f.flush()
                c.shutdown(socket.SHUT_WR)
                replies.append(f.read().decode())
        srv.shutdown()
    print("socketserver replies:", replies)


def tcp_bulk():
    data = bytes((i * 7 + (i >> 11)) & 0xFF for i in range(3 << 20))
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    got = {}

    def serve():
        c, _ = lsock.accept()
        h = hashlib.sha256()
        n = 0
        while True:
            b = c.recv(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
        c.sendall(h.hexdigest().encode())
        c.close()
        got["n"] = n

    t = threading.Thread(target=serve)
    t.start()
    c = socket.create_connection(lsock.getsockname())
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    digest = c.recv(100).decode()
    t.join()
    c.close()
    lsock.close()
    print("bulk: server got", got["n"], "bytes, digest matches:",
          digest == hashlib.sha256(data).hexdigest())


def udp():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    for i in range(5):
        a.sendto(b"datagram %d" % i, b.getsockname())
    msgs = []
    for _ in range(5):
        m, src = b.recvfrom(100)
        msgs.append((m.decode(), src == a.getsockname()))
    print("udp:", msgs)
    a.close()
    b.close()


def selector_loop():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    clients = [socket.create_connection(lsock.getsockname()) for _ in range(4)]
    for i, c in enumerate(clients):
        c.sendall(b"client %d" % i)
    echoed = 0
    conns = []
    while echoed < 4:
        for key, _ in sel.select(timeout=5):
            if key.fileobj is lsock:
                conn, _ = lsock.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                conns.append(conn)
            else:
                data = key.fileobj.recv(100)
                key.fileobj.sendall(data[::-1])
                echoed += 1
    answers = sorted(c.recv(100).decode() for c in clients)
    print("selectors:", answers)
    for s in clients + conns + [lsock]:
        s.close()
    sel.close()


def unix_pair():
    x, y = socket.socketpair()
    x.sendall(b"over a socketpair")
    print("socketpair:", y.recv(100).decode(), x.family == socket.AF_UNIX)
    x.close()
    y.close()


tcp_socketserver()
tcp_bulk()
udp()
selector_loop()
unix_pair()
print("done")
