#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora: tests/fuzz/corpus/<target>/seed-*.

Each seed is a small valid input of the format the target parses, so the
fuzzers start from the interesting paths instead of finding magic numbers and
checksums by chance. The files are checked in; run this again after changing
a format (it rewrites only seed-* files: crash-* regression inputs found by
fuzzing are kept as they are).

    tests/fuzz/make_corpus.py            # writes next to this script
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    assert len(data) < 10 * 1024, (target, name, len(data))
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- ELF (elf_fuzz, deps_fuzz) ----------------------------------------------
# ELF-64 Object File Format: Ehdr 64 bytes, Phdr 56 bytes; one PT_LOAD maps
# the whole file at BASE.
PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_GNU_STACK = 1, 2, 3, 0x6474E551
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
EXIT0 = bytes.fromhex("b83c00000031ff0f05")  # mov $60,%eax; xor %edi,%edi; syscall


def elf(et=2, interp=None, needed=(), soname=None, rpath=None, runpath=None, bss=0):
    base = 0x400000 if et == 2 else 0
    dynamic = bool(needed or soname or rpath or runpath)
    phnum = 1 + (interp is not None) + dynamic + 1
    off = 64 + 56 * phnum
    blobs = b""

    def place(data, align=8):
        nonlocal blobs
        pad = (-(off + len(blobs))) % align
        blobs += b"\0" * pad
        at = off + len(blobs)
        blobs += data
        return at

    interp_at = place(interp.encode() + b"\0", 1) if interp is not None else 0
    dyn_at = strtab_at = 0
    if dynamic:
        strtab = b"\0"
        idx = {}
        for s in list(needed) + [x for x in (soname, rpath, runpath) if x]:
            idx[s] = len(strtab)
            strtab += s.encode() + b"\0"
        strtab_at = place(strtab, 1)
        dyn = [(DT_NEEDED, idx[n]) for n in needed]
        if soname:
            dyn.append((DT_SONAME, idx[soname]))
        if rpath:
            dyn.append((DT_RPATH, idx[rpath]))
        if runpath:
            dyn.append((DT_RUNPATH, idx[runpath]))
        dyn += [(DT_STRTAB, base + strtab_at), (DT_STRSZ, len(strtab)), (DT_NULL, 0)]
        dyn_at = place(b"".join(struct.pack("<qQ", t, v) for t, v in dyn))
    code_at = place(EXIT0, 16)
    size = off + len(blobs)

    def ph(ptype, flags, offset, filesz, memsz=None, align=1):
        return struct.pack("<IIQQQQQQ", ptype, flags, offset, base + offset, base + offset,
                           filesz, filesz if memsz is None else memsz, align)

    phdrs = ph(PT_LOAD, 5, 0, size, size + bss, 0x1000)
    if interp is not None:
        phdrs += ph(PT_INTERP, 4, interp_at, len(interp) + 1)
    if dynamic:
        phdrs += ph(PT_DYNAMIC, 6, dyn_at, size - dyn_at - (size - code_at), None, 8)
    phdrs += struct.pack("<IIQQQQQQ", PT_GNU_STACK, 6, 0, 0, 0, 0, 0, 16)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", et, 62, 1, base + code_at, 64, 0, 0, 64, 56,
                               phnum, 64, 0, 0)
    out = ehdr + phdrs + blobs
    assert len(out) == size
    return out


def elf_seeds():
    glibc = "/lib64/ld-linux-x86-64.so.2"
    musl = "/lib/ld-musl-x86_64.so.1"
    seeds = {
        "static": elf(),
        "static-bss": elf(bss=0x3000),
        "static-pie": elf(et=3),
        "dynamic-glibc": elf(interp=glibc, needed=["libc.so.6"]),
        "dynamic-musl": elf(interp=musl, needed=["libc.so"]),
        "runpath-origin": elf(interp=glibc, needed=["libmotea.so", "libm.so.6"],
                              runpath="$ORIGIN/lib:${ORIGIN}/../lib64"),
        "rpath-tokens": elf(interp=glibc, needed=["libmotec.so"], rpath="$ORIGIN/lib2:/opt/$LIB:/x/$PLATFORM"),
        "library": elf(et=3, needed=["libmoteb.so"], soname="libmotea.so.1", runpath="$ORIGIN"),
    }
    for name, data in seeds.items():
        write("elf_fuzz", name, data)
        write("deps_fuzz", name, data)


# ---- boot info (boot_info_fuzz): abi/boot_info.h, version 3 -----------------
def boot_info():
    header_size = 456
    strings = b""
    refs = []

    def s(text):
        nonlocal strings
        at = header_size + len(strings)
        strings += text.encode() + b"\0"
        return (at, len(text))

    path, host, cwd = s("/bin/hello"), s("mote"), s("/")
    argv = [s("hello"), s("world")]
    envp = [s("PATH=/bin"), s("HOME=/")]
    share_path = s("/mnt")
    strings += b"\0" * ((-len(strings)) % 8)
    argv_off = header_size + len(strings)
    table = b"".join(struct.pack("<II", *x) for x in argv)
    envp_off = argv_off + len(table)
    table += b"".join(struct.pack("<II", *x) for x in envp)
    shares_off = argv_off + len(table)
    table += struct.pack("<IIII", share_path[0], share_path[1], 1, 0)
    total = header_size + len(strings) + len(table)
    console = b""
    for kind in (2, 3, 4):  # pipe, file, null
        console += struct.pack("<IIHHI60sI", kind, 0, 0, 0, 2, b"", 0)
    h = struct.pack("<QIIIIQQQ32siiQQQQQ", 0x31544F4F42544F4D, 3, total, 0, 1, 64 << 20, 0, 0,
                    bytes(range(32)), -1, -1, 0, 0, 0, 0, 0)
    h += struct.pack("<IIIIIIIIII", *path, *host, *cwd, len(argv), len(envp), argv_off, envp_off)
    h += console
    h += struct.pack("<iIII", 5, 1, shares_off, 0)
    h += struct.pack("<iIIIII6sH", -1, 0, 0, 0, 0, 0, b"\x52\x54\0\x12\x34\x56", 1500)
    assert len(h) == header_size, len(h)
    write("boot_info_fuzz", "hello", h + strings + table)


# ---- initramfs (initramfs_fuzz): cpio newc, optionally mote's index ----------
def cpio(entries, index=False):
    out = b""
    ino = 1
    data_at = {}
    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        nb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 2 if mode & 0o40000 else 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + nb
        out += b"\0" * ((-len(out)) % 4)
        data_at[name] = len(out)
        out += data
        out += b"\0" * ((-len(out)) % 4)
        ino += 1
    if not index:
        return out
    # abi/rootfs_index.h: header, entries sorted by name, names, footer.
    out += b"\0" * ((-len(out)) % 8)
    index_at = len(out)
    names = b""
    rows = []
    for name, mode, data in sorted(entries, key=lambda e: e[0].encode()):
        rows.append(struct.pack("<IIIIQQQ", mode, len(names), len(name), 0, 0, data_at[name], len(data)))
        names += name.encode()
    out += b"MOTEIDX1" + struct.pack("<II", len(rows), len(names)) + b"".join(rows) + names
    out += struct.pack("<Q", index_at) + b"MOTEIDX1"
    return out


def initramfs_seeds():
    tree = [
        ("bin", 0o40755, b""),
        ("bin/hello", 0o100755, elf()),
        ("etc", 0o40755, b""),
        ("etc/hostname", 0o100644, b"mote\n"),
        ("lib", 0o120777, b"usr/lib"),
        ("usr", 0o40755, b""),
        ("usr/lib", 0o40755, b""),
        ("usr/lib/libc.so.6", 0o100644, b"not really"),
    ]
    write("initramfs_fuzz", "tree", cpio(tree))
    write("initramfs_fuzz", "tree-indexed", cpio(tree, index=True))
    write("initramfs_fuzz", "empty", cpio([]))


# ---- network frames (net_stack_fuzz): its record script ---------------------
# [op][len][body]; op 1 = a frame to us (Ethernet header added, destination
# and checksums fixed up by the harness), op|8 = ARP, 2 = time passes,
# 3 = socket calls.
def ipv4(proto, payload, src=(10, 0, 2, 2), frag=0, ident=1):
    total = 20 + len(payload)
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, ident, frag, 64, proto, 0, bytes(src),
                       bytes((10, 0, 2, 15))) + payload


def rec(op, body):
    assert len(body) < 256
    return bytes([op, len(body)]) + body


def net_seeds():
    udp = struct.pack(">HHHH", 5000, 7777, 8 + 5, 0) + b"hello"
    icmp_echo = struct.pack(">BBHHH", 8, 0, 0, 0x1234, 1) + b"ping"
    tcp_syn = struct.pack(">HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0)
    arp_req = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, b"\x02\0\0\0\0\x01",
                          bytes((10, 0, 2, 2)), b"\0" * 6, bytes((10, 0, 2, 15)))
    write("net_stack_fuzz", "udp", rec(1, ipv4(17, udp)) + rec(3, b"reply"))
    write("net_stack_fuzz", "icmp-echo", rec(1, ipv4(1, icmp_echo)))
    write("net_stack_fuzz", "tcp-syn", rec(1, ipv4(6, tcp_syn)))
    write("net_stack_fuzz", "arp", rec(1 | 8, arp_req) + rec(3, b"x") + rec(2, b"\x10"))
    frag1 = ipv4(17, udp[:8], frag=0x2000, ident=7)
    frag2 = ipv4(17, udp[8:], frag=1, ident=7)
    write("net_stack_fuzz", "fragments", rec(1, frag1) + rec(1, frag2) + rec(2, b"\x40"))
    write("net_stack_fuzz", "send-big", rec(3 | 0xf0, b"y" * 200) + rec(2, b"\x08"))


# ---- hypercalls (hypercall_fuzz) ---------------------------------------------
def hc_direct(number, gpa, ram):
    return struct.pack("<BHQ", 0, number, gpa) + ram


def hc_exit(out, port, size, count, data, ram):
    return struct.pack("<BHBIH", 1 | (2 if out else 0), port, size, count, len(data)) + data + ram


def ram_with(struct_at, struct_bytes, buf_at=None, buf=b""):
    n = max(struct_at + len(struct_bytes), (buf_at or 0) + len(buf))
    ram = bytearray(n)
    ram[struct_at:struct_at + len(struct_bytes)] = struct_bytes
    if buf_at is not None:
        ram[buf_at:buf_at + len(buf)] = buf
    return bytes(ram)


def hypercall_seeds():
    write_call = ram_with(0x100, struct.pack("<QQIIq", 0x200, 6, 1, 0, 0), 0x200, b"hello\n")
    read_call = ram_with(0x40, struct.pack("<QQq", 0x80, 16, 0))
    exit_call = ram_with(0x10, struct.pack("<iI", 3, 0))
    write("hypercall_fuzz", "console-write", hc_direct(0, 0x100, write_call))
    write("hypercall_fuzz", "console-read", hc_direct(2, 0x40, read_call))
    write("hypercall_fuzz", "exit", hc_direct(1, 0x10, exit_call))
    write("hypercall_fuzz", "port-console-write",
          hc_exit(True, 0x500, 4, 1, struct.pack("<I", 0x100), write_call))
    write("hypercall_fuzz", "port-exit", hc_exit(True, 0x501, 4, 1, struct.pack("<I", 0x10), exit_call))
    write("hypercall_fuzz", "uart-out", hc_exit(True, 0x3F8, 1, 3, b"abc", b""))
    write("hypercall_fuzz", "uart-lsr", hc_exit(False, 0x3FD, 1, 1, b"\0", b""))
    write("hypercall_fuzz", "debug-exit", hc_exit(True, 0xF4, 4, 1, struct.pack("<I", 7), b""))


# ---- 9P2000.L (share_fuzz): abi/p9.h ------------------------------------------
# The harness has negotiated the version and attached fid 0 (read-write:
# hello.txt, sub/deep.txt, symlinks out, sub/up) and fid 1 (read-only: ro.txt,
# sub/inner.txt, link, up) before the input; each seed is a stream of messages.
T = dict(statfs=8, lopen=12, lcreate=14, symlink=16, mknod=18, readlink=22, getattr=24,
         setattr=26, readdir=40, fsync=50, link=70, mkdir=72, renameat=74, unlinkat=76,
         version=100, attach=104, flush=108, walk=110, read=116, write=118, clunk=120)


def msg(kind, body, tag=1):
    return struct.pack("<IBH", 7 + len(body), T[kind], tag) + body


def p9s(text):
    b = text.encode()
    return struct.pack("<H", len(b)) + b


def walk(fid, newfid, *names):
    return msg("walk", struct.pack("<IIH", fid, newfid, len(names)) + b"".join(p9s(n) for n in names))


def lopen(fid, flags):
    return msg("lopen", struct.pack("<II", fid, flags))


def read(fid, off=0, count=4096):
    return msg("read", struct.pack("<IQI", fid, off, count))


def share_seeds():
    O_RDONLY, O_RDWR, O_TRUNC = 0, 2, 0o1000
    seeds = {
        "read-file": walk(0, 2, "hello.txt") + lopen(2, O_RDONLY) + read(2) + msg("clunk", struct.pack("<I", 2)),
        "read-deep": walk(0, 2, "sub", "deep.txt") + lopen(2, O_RDONLY) + read(2, 1, 3),
        "readdir": walk(0, 2) + lopen(2, O_RDONLY) + msg("readdir", struct.pack("<IQI", 2, 0, 200)),
        "symlink-out": walk(0, 2, "out") + lopen(2, O_RDONLY) + read(2) + msg("readlink", struct.pack("<I", 2)),
        "symlink-sub-up": walk(0, 2, "sub", "up") + lopen(2, O_RDONLY) + read(2),
        "dotdot": walk(0, 2, "sub", "..", "..", "..") + msg("getattr", struct.pack("<IQ", 2, 0x7FF)),
        "create-write": msg("lcreate", struct.pack("<I", 0) + p9s("new.txt") + struct.pack("<III", O_RDWR, 0o644, 0))
        + msg("write", struct.pack("<IQI", 0, 0, 5) + b"data!") + read(0),
        "mkdir-rename-unlink": msg("mkdir", struct.pack("<I", 0) + p9s("d") + struct.pack("<II", 0o755, 0))
        + msg("renameat", struct.pack("<I", 0) + p9s("d") + struct.pack("<I", 0) + p9s("e"))
        + msg("unlinkat", struct.pack("<I", 0) + p9s("e") + struct.pack("<I", 0x200)),
        "symlink-link": msg("symlink", struct.pack("<I", 0) + p9s("s") + p9s("../secret") + struct.pack("<I", 0))
        + walk(0, 2, "hello.txt") + msg("link", struct.pack("<II", 0, 2) + p9s("hard")),
        "setattr-truncate": walk(0, 2, "hello.txt")
        + msg("setattr", struct.pack("<IIIIIQQQQQ", 2, 0x8, 0, 0, 0, 3, 0, 0, 0, 0)) + lopen(2, O_RDWR | O_TRUNC),
        "readonly": walk(1, 2, "ro.txt") + lopen(2, O_RDWR)
        + msg("mkdir", struct.pack("<I", 1) + p9s("x") + struct.pack("<II", 0o755, 0)),
        "readonly-read": walk(1, 2, "sub", "inner.txt") + lopen(2, O_RDONLY) + read(2)
        + msg("write", struct.pack("<IQI", 2, 0, 2) + b"no"),
        "statfs-fsync": msg("statfs", struct.pack("<I", 0)) + msg("fsync", struct.pack("<II", 0, 0))
        + msg("flush", struct.pack("<H", 1)),
        "version-attach": msg("version", struct.pack("<I", 8192) + p9s("9P2000.L"), tag=0xFFFF)
        + msg("attach", struct.pack("<II", 5, 0xFFFFFFFF) + p9s("root") + p9s("0") + struct.pack("<I", 0)),
        "mknod-fifo": msg("mknod", struct.pack("<I", 0) + p9s("fifo") + struct.pack("<IIII", 0o10644, 0, 0, 0))
        + walk(0, 2, "fifo") + lopen(2, O_RDONLY),
    }
    for name, data in seeds.items():
        write("share_fuzz", name, data)


# ---- virtio devices (virtqueue_fuzz) -----------------------------------------
def vq_input(script, ram_writes):
    # RAM past the last byte written reads as zero: only that much is stored.
    ram = bytearray(max((at + len(data) for at, data in ram_writes), default=0))
    for at, data in ram_writes:
        ram[at:at + len(data)] = data
    return struct.pack("<H", len(script)) + script + bytes(ram)


def vq_bringup(dev, queues):
    # op 1: per queue the size exponent, then desc/16, avail/2, used/4.
    out = bytes([1 | dev << 7])
    for exp, desc, avail, used in queues:
        out += bytes([exp]) + struct.pack("<HHH", desc // 16, avail // 2, used // 4)
    return out


def vq_desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def virtqueue_seeds():
    net_rings = [(3, 0x200, 0x300, 0x340), (3, 0x400, 0x500, 0x540)]
    tx = [(0x400, vq_desc(0x600, 12 + 60, 0, 0)), (0x500, struct.pack("<HHH", 0, 1, 0))]
    rx = [(0x200, vq_desc(0x800, 2048, 2, 0)), (0x300, struct.pack("<HHH", 0, 1, 0))]
    write("virtqueue_fuzz", "net-tx", vq_input(vq_bringup(0, net_rings) + bytes([2, 1, 7]), tx))
    write("virtqueue_fuzz", "net-rx",
          vq_input(vq_bringup(0, net_rings) + bytes([3]) + struct.pack("<H", 59) + bytes([2, 0, 4, 3, 7]), rx))
    loop = [(0x400, vq_desc(0x600, 16, 1, 1) + vq_desc(0x600, 16, 1, 0)), (0x500, struct.pack("<HHH", 0, 1, 0))]
    write("virtqueue_fuzz", "net-loop", vq_input(vq_bringup(0, net_rings) + bytes([2, 1]), loop))
    # Registers and configuration, read (op 0) and written (op 8).
    regs = b"".join(bytes([0]) + struct.pack("<HB", off, w) + bytes(8) for off, w in
                    [(0x000, 2), (0x010, 2), (0x100, 0), (0x106, 1), (0x10a, 3), (0x1f8, 3)])
    regs += bytes([8]) + struct.pack("<HB", 0x070, 1) + struct.pack("<Q", 1)
    write("virtqueue_fuzz", "registers", vq_input(regs, []))
    version = struct.pack("<IBHIH", 21, 100, 0xFFFF, 8192, 8) + b"9P2000.L"
    reply = struct.pack("<IBHIH", 21, 101, 0xFFFF, 8192, 8) + b"9P2000.L"
    p9 = [(0x1000, vq_desc(0x1300, len(version), 1, 1) + vq_desc(0x1400, 4096, 2, 0)),
          (0x1100, struct.pack("<HHH", 0, 1, 0)), (0x1300, version)]
    script = vq_bringup(1, [(2, 0x1000, 0x1100, 0x1200)])
    script += bytes([0x85]) + struct.pack("<H", len(reply)) + reply + bytes([0x82, 0])
    write("virtqueue_fuzz", "9p-version", vq_input(script, p9))


# ---- DHCP replies (dhcp_fuzz) --------------------------------------------------
def dhcp_reply(msg_type, yiaddr=(10, 0, 2, 15), server=(10, 0, 2, 2)):
    mac = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
    m = bytearray(240)
    m[0:3] = bytes([2, 1, 6])
    m[4:8] = struct.pack(">I", 0x6d6f7465)
    m[16:20] = bytes(yiaddr)
    m[28:34] = mac
    m[236:240] = bytes([99, 130, 83, 99])
    m += bytes([53, 1, msg_type, 54, 4, *server, 1, 4, 255, 255, 255, 0, 3, 4, *server,
                6, 4, 10, 0, 2, 3, 51, 4, 0, 1, 81, 128, 26, 2, 5, 220, 0, 255])
    udp = struct.pack(">HHHH", 67, 68, 8 + len(m), 0) + bytes(m)
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                               bytes(server), bytes([255] * 4)))
    s = sum(struct.unpack(">10H", bytes(ip)))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    ip[10:12] = struct.pack(">H", ~s & 0xFFFF)
    return bytes([0xFF] * 6) + bytes([0x52, 0x55, 10, 0, 2, 2]) + b"\x08\x00" + bytes(ip) + udp


def dhcp_seeds():
    write("dhcp_fuzz", "offer", b"\x00" + dhcp_reply(2))
    write("dhcp_fuzz", "ack", b"\x01" + dhcp_reply(5))
    write("dhcp_fuzz", "nak", b"\x01" + dhcp_reply(6))


# ---- gzip (gunzip_fuzz) ------------------------------------------------------
def gunzip_seeds():
    import gzip
    import zlib
    text = b"".join(b"mote unikernel %d zero page ring\n" % i for i in range(200))
    write("gunzip_fuzz", "text-9", b"\0" + gzip.compress(text, 9, mtime=0))
    write("gunzip_fuzz", "text-1", b"\0" + gzip.compress(text, 1, mtime=0))
    write("gunzip_fuzz", "stored", b"\0" + gzip.compress(bytes(range(256)) * 4, 0, mtime=0))
    write("gunzip_fuzz", "empty", b"\0" + gzip.compress(b"", 9, mtime=0))
    # Fixed Huffman codes (zlib's Z_FIXED) and a header with every optional field.
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_FIXED)
    raw = c.compress(text[:2000]) + c.flush()
    head = bytes([0x1F, 0x8B, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3]) + b"\x04\x00ABCD" + b"name\0" + b"note\0"
    head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    write("gunzip_fuzz", "fixed-fields", b"\0" + head + raw + struct.pack("<II", zlib.crc32(text[:2000]), 2000))
    # Raw DEFLATE (odd first byte): the fuzzer wraps it with the right trailer.
    for level, strategy, name in ((9, zlib.Z_DEFAULT_STRATEGY, "dynamic"), (9, zlib.Z_FIXED, "fixed"),
                                  (0, zlib.Z_DEFAULT_STRATEGY, "stored"), (6, zlib.Z_RLE, "rle")):
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
        write("gunzip_fuzz", "raw-" + name, b"\1" + c.compress(text[:3000]) + c.flush())


def main():
    elf_seeds()
    boot_info()
    initramfs_seeds()
    net_seeds()
    hypercall_seeds()
    share_seeds()
    virtqueue_seeds()
    dhcp_seeds()
    gunzip_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
