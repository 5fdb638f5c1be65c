#!/usr/bin/env python3
"""A plain cpio newc archive -- written here, without mote's index and
without page-aligned data, the way any cpio tool writes one -- is a root
filesystem the VM kernel boots from under QEMU (-initrd ARCHIVE, exe=PATH):
the kernel's header parser, not just the index mote's packer appends. Also
proves that damage to the archive is reported, not crashed on."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from checks import Checks, microvm

BUSYBOX = "/bin/busybox"


def newc(entries):
    """entries: (name, mode, data bytes). Returns the archive bytes."""
    out = bytearray()
    ino = 0
    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        ino += 1
        nb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + nb
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    args = ap.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        print("SKIP: qemu-system-x86_64 is not installed")
        return 77
    if not os.path.exists(BUSYBOX):
        print("SKIP: /bin/busybox is missing")
        return 77
    check = Checks()
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    archive = newc([("bin", 0o40755, b""), ("bin/busybox", 0o100755, bb),
                    ("bin/sh", 0o120777, b"busybox"), ("etc", 0o40755, b""),
                    ("etc/motd", 0o100644, b"hello from a plain cpio\n")])
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "root.cpio")
        with open(path, "wb") as f:
            f.write(archive)
        cmd = microvm(args.kernel, "exe=/bin/sh -- sh -c cat%20/etc/motd;%20ls%20/bin", initrd=path)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        out = p.stdout.decode(errors="replace")
        check("a plain cpio boots: the file is there",
              "hello from a plain cpio" in out, out[-400:])
        check("the symlink and the program are listed", "busybox" in out and "sh" in out, out[-400:])
        # Damage: a header field that is not hex.
        bad = bytearray(archive)
        bad[6:14] = b"zzzzzzzz"
        with open(path, "wb") as f:
            f.write(bad)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        check("a damaged archive is reported", "malformed at byte 0" in out, out[-400:])
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
