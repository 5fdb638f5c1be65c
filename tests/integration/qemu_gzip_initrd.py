#!/usr/bin/env python3
"""A gzip-compressed initrd boots like the plain one (kernel/platform/kvm/initrd.cc):
the program, or a cpio root filesystem, under QEMU microvm (TCG) with the
documented command line, output and exit status as native. It is what lets a
glibc static program run in 2 MiB of guest RAM, where the uncompressed
program is loaded over the kernel (checked here too). Damaged or oversized
archives end the boot with a one-line reason and status 125.

    qemu_gzip_initrd.py --kernel build/mote-kernel --hello HELLO --exit-code EXIT_CODE

Exit 77 (ctest SKIP) when qemu-system-x86_64 is not installed.
"""
import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile

from checks import Checks, microvm
from plain_cpio import newc


def boot(kernel, initrd, append, ram="64M"):
    cmd = microvm(kernel, append, ram=ram, initrd=initrd)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    out = r.stdout.decode(errors="replace").replace("\r\n", "\n")
    # isa-debug-exit: (status << 1) | 1.
    return (r.returncode >> 1) & 0x7f if r.returncode & 1 else None, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--hello", required=True, help="a glibc static hello")
    p.add_argument("--exit-code", required=True, help="exits with its argument")
    opts = p.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        print("SKIP: qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")
        return 77
    check = Checks()
    with open(opts.hello, "rb") as f:
        hello = f.read()
    with tempfile.TemporaryDirectory() as d:
        def put(name, data):
            path = os.path.join(d, name)
            with open(path, "wb") as f:
                f.write(data)
            return path

        plain = put("hello", hello)
        os.chmod(plain, 0o755)
        native = subprocess.run([plain], capture_output=True)  # argv[0] "hello" too
        packed = put("hello.gz", gzip.compress(hello, 9))

        # 2 MiB: the plain program does not fit beside the kernel; its gzip does.
        status, out = boot(opts.kernel, plain, "-- hello", ram="2M")
        check("2 MiB, plain initrd: reported as not fitting", "overlaps the kernel image" in out
              and status == 125, f"status {status}: {out[-300:]}")
        status, out = boot(opts.kernel, packed, "verbose -- hello", ram="2M")
        check("2 MiB, gzip initrd: decompressed", "mote kernel: initrd: gzip %d KiB -> %d KiB\n"
              % (os.path.getsize(packed) >> 10, len(hello) >> 10) in out, out[-600:])
        check("2 MiB, gzip initrd: the program's output as native",
              out.endswith(native.stdout.decode()), f"{out[-300:]!r} vs {native.stdout!r}")
        check("2 MiB, gzip initrd: status as native", status == native.returncode == 0,
              f"status {status}")

        # Arguments and the exit status come through.
        with open(opts.exit_code, "rb") as f:
            code = put("exit_code.gz", gzip.compress(f.read(), 6))
        status, out = boot(opts.kernel, code, "-- exit_code 42")
        check("gzip initrd: exit status 42", status == 42, f"status {status}: {out[-300:]}")

        # A gzip'd cpio root filesystem: the program is found at exe=PATH.
        with open("/bin/busybox", "rb") as f:
            bb = f.read()
        root = newc([("bin", 0o40755, b""), ("bin/busybox", 0o100755, bb),
                     ("etc", 0o40755, b""), ("etc/motd", 0o100644, b"from a gzip'd cpio\n")])
        rootgz = put("root.cpio.gz", gzip.compress(root, 9))
        status, out = boot(opts.kernel, rootgz, "exe=/bin/busybox -- cat /etc/motd")
        check("gzip cpio root: the file is read", out.endswith("from a gzip'd cpio\n") and status == 0,
              f"status {status}: {out[-300:]}")

        # Damage: each refused with its reason, status 125, nothing run.
        gz = bytearray(gzip.compress(hello, 9))
        gz[-8] ^= 0x55  # the CRC-32
        status, out = boot(opts.kernel, put("crc.gz", bytes(gz)), "-- hello")
        check("a wrong CRC-32 is refused", "mote kernel: the gzip initrd is unusable: a CRC-32 mismatch\n"
              in out and status == 125 and "hello" not in out.split("mismatch")[1], out[-300:])
        gz = gzip.compress(hello, 9)
        status, out = boot(opts.kernel, put("cut.gz", gz[:len(gz) // 2]), "-- hello")
        check("a truncated gzip is refused", "mote kernel: the gzip initrd is unusable: the data ends "
              "too soon\n" in out and status == 125, out[-300:])
        # 4 MiB of zeros compress to 4 KiB: decompressed they exceed a 2 MiB guest.
        status, out = boot(opts.kernel, put("big.gz", gzip.compress(b"\0" * (4 << 20), 9)), "-- big",
                           ram="2M")
        check("a gzip too large once decompressed is refused",
              "does not fit in RAM once decompressed" in out and status == 125, out[-300:])
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
