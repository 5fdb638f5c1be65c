"""Issue 6: AF_INET6 sockets inside one guest: a dual-stack TCP server on ::
taking an IPv4 client (as ::ffff:127.0.0.1) and an IPv6 one (::1), a server
on ::1 that IPv4 clients do not reach, and UDP between an IPv4 socket and a
dual-stack one. Prints only what is the same on every run."""
import socket
import threading


def addr(a):
    return a[0], a[2:]  # without the port


def echo_server(srv, n):
    for _ in range(n):
        c, peer = srv.accept()
        with c:
            data = c.recv(100)
            c.sendall(b"%s from %s" % (data.upper(), peer[0].encode()))


def dual_stack_tcp():
    srv = socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True)
    with srv:
        port = srv.getsockname()[1]
        print("server", addr(srv.getsockname()),
              "v6only", srv.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))
        t = threading.Thread(target=echo_server, args=(srv, 2))
        t.start()
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family, socket.SOCK_STREAM) as c:
                c.connect((host, port))
                c.sendall(b"hello over %s" % host.encode())
                print("client", host, "local", c.getsockname()[0], "peer",
                      addr(c.getpeername()), "->", c.recv(100).decode())
        t.join()


def loopback6_only():
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    with srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("::1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        print("bound", addr(srv.getsockname()))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            print("127.0.0.1 reached the ::1 server")
        except OSError as e:
            print("127.0.0.1 ->", type(e).__name__)
        with socket.create_connection(("::1", port), timeout=5) as c:
            s, peer = srv.accept()
            with s:
                print("::1 connected:", peer[0], s.getsockname()[0], c.family.name)


def v6only_beside_v4():
    # redis and nginx: 0.0.0.0:PORT and an IPv6-only [::]:PORT side by side.
    v4 = socket.create_server(("0.0.0.0", 0))
    port = v4.getsockname()[1]
    v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    with v4, v6:
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        v6.bind(("::", port))
        v6.listen()
        print("v6only beside v4:", addr(v6.getsockname()))
        for family, host, srv in ((socket.AF_INET, "127.0.0.1", v4),
                                  (socket.AF_INET6, "::1", v6)):
            with socket.socket(family, socket.SOCK_STREAM) as c:
                c.connect((host, port))
                s, peer = srv.accept()
                with s:
                    print(" ", host, "accepted by the", srv.family.name, "listener from", peer[0])


def udp_v6only_beside_v4():
    u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    c4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    with u4, u6, c4, c6:
        u4.bind(("0.0.0.0", 0))
        port = u4.getsockname()[1]
        u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        u6.bind(("::", port))
        c4.sendto(b"to v4", ("127.0.0.1", port))
        c6.sendto(b"to v6", ("::1", port))
        print("udp v6only beside v4:", u4.recvfrom(100)[0], u6.recvfrom(100)[0])


def udp():
    u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with u6, u4:
        u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        u6.bind(("::", 0))
        u4.bind(("127.0.0.1", 0))
        u4.sendto(b"ping", ("127.0.0.1", u6.getsockname()[1]))
        data, frm = u6.recvfrom(100)
        print("udp6 got", data, "from", frm[0], frm[1] == u4.getsockname()[1])
        u6.sendto(b"pong", frm)
        data, frm = u4.recvfrom(100)
        print("udp4 got", data, "from", frm[0], frm[1] == u6.getsockname()[1])


def errors():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    with s:
        for bad in (("127.0.0.1", 80),):
            try:
                s.connect(bad)
            except OSError as e:
                print("connect", bad[0], "on AF_INET6 ->", type(e).__name__)
        try:
            s.bind(("2001:db8::1", 0))
        except OSError as e:
            print("bind 2001:db8::1 ->", e.errno)


dual_stack_tcp()
loopback6_only()
v6only_beside_v4()
udp_v6only_beside_v4()
udp()
errors()
