#!/usr/bin/env python3
"""Host directory shares: `mote run -v HOST:GUEST[:ro|rw]` (9P2000.L between
the kernel's client and the monitor's server on the process platform; QEMU's
virtio-9p device and its local backend on --platform qemu).

    share.py --mote build/mote [--platform process|qemu] [--busybox /bin/busybox]
             [--sqlite3 /usr/bin/sqlite3]

Reads, listings, writes on :rw shares visible on the host afterwards, writes
refused on read-only (default) shares, escapes from the share (.., symlinks
to host files, symlink chains) that must print nothing of the host file, a
dynamic program (sqlite3) keeping its database on a share, and bad -v input.
On qemu the checks that do not depend on the platform (stdin, status and
signal pass-through, most bad input) are left to the process run.
Exit 77 (SKIP) when busybox-static (or, for qemu, qemu-system-x86_64) is not
installed.
"""

import argparse
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks  # noqa: E402

SECRET = "HOST-SECRET-7f3a9c"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--sqlite3", default="/usr/bin/sqlite3")
    ap.add_argument("--platform", default="process", choices=["process", "qemu"])
    a = ap.parse_args()
    if not os.path.exists(a.busybox):
        print(f"SKIP: {a.busybox} is not installed (apt-get install busybox-static)")
        return 77
    vm = a.platform == "qemu"
    if vm and not shutil.which("qemu-system-x86_64"):
        print("SKIP: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
        return 77
    mote, bb = os.path.abspath(a.mote), a.busybox
    check = Checks()
    top = tempfile.mkdtemp(prefix="mote-share-")
    try:
        share = os.path.join(top, "share")
        os.mkdir(share)
        with open(os.path.join(share, "x"), "w") as f:
            f.write("hello from the host\n")
        os.mkdir(os.path.join(share, "sub"))
        with open(os.path.join(share, "sub", "deep"), "w") as f:
            f.write("deep\n")
        secret = os.path.join(top, "secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        # Symlinks out of the share, made on the host.
        os.symlink(secret, os.path.join(share, "evil"))
        os.symlink("/etc/shadow", os.path.join(share, "shadow"))
        os.symlink("../secret", os.path.join(share, "up"))
        os.symlink("c2", os.path.join(share, "c1"))
        os.symlink("../", os.path.join(share, "c2"))

        def run(args, vol=None, stdin=b"", extra=()):
            cmd = [mote, "run", "--platform", a.platform, *extra]
            for v in ([vol] if isinstance(vol, str) else vol or []):
                cmd += ["-v", v]
            return subprocess.run(cmd + args, input=stdin, capture_output=True, timeout=120)

        ro, rw = f"{share}:/data", f"{share}:/data:rw"

        r = run([bb, "cat", "/data/x", "/data/sub/deep"], ro)
        check("cat a file of a read-only share", r.returncode == 0 and
              r.stdout == b"hello from the host\ndeep\n", repr(r))

        r = run([bb, "ls", "/data"], ro)
        names = r.stdout.decode().split()
        check("ls lists the share", r.returncode == 0 and
              sorted(names) == ["c1", "c2", "evil", "shadow", "sub", "up", "x"], repr(r))

        r = run([bb, "stat", "-c", "%s %F", "/data/x", "/data/sub"], ro)
        check("stat sees host sizes and types", r.stdout == b"20 regular file\n4096 directory\n"
              or r.stdout.startswith(b"20 regular file\n"), repr(r))

        r = run([bb, "sh", "-c", "echo guest > /data/new"], ro)
        check("a write on the default (read-only) share fails",
              r.returncode != 0 and b"Read-only file system" in r.stderr and
              not os.path.exists(os.path.join(share, "new")), repr(r))
        r = run([bb, "rm", "/data/x"], f"{share}:/data:ro")
        check("rm on a :ro share fails", r.returncode != 0 and
              b"Read-only file system" in r.stderr and os.path.exists(os.path.join(share, "x")),
              repr(r))

        r = run([bb, "sh", "-c", "echo written by the guest > /data/out.txt && echo more >> "
                 "/data/out.txt && mkdir /data/made && mv /data/out.txt /data/made/moved.txt && "
                 "rm /data/sub/deep && rmdir /data/sub"], rw)
        moved = os.path.join(share, "made", "moved.txt")
        check("writes on a :rw share are on the host afterwards",
              r.returncode == 0 and os.path.exists(moved) and
              open(moved).read() == "written by the guest\nmore\n" and
              not os.path.exists(os.path.join(share, "sub")), repr(r))

        big = os.urandom(1 << 20) + b"tail"
        with open(os.path.join(share, "big"), "wb") as f:
            f.write(big)
        r = run([bb, "sh", "-c", "cp /data/big /data/big2 && md5sum /data/big2"], rw)
        copy = open(os.path.join(share, "big2"), "rb").read() if os.path.exists(
            os.path.join(share, "big2")) else b""
        check("a 1 MiB file copied on the share arrives whole", r.returncode == 0 and copy == big,
              repr(r)[:300])

        # Pieces of 128 KiB (nginx's sendfile), in order: several reads ahead
        # in flight on the process platform; the bytes are the file's, the
        # short last piece and the end included.
        r = run([bb, "sh", "-c", "dd if=/data/big of=/tmp/c bs=131072 2>/dev/null && md5sum /tmp/c"], ro,
                extra=("--verbose",))
        m = re.search(rb"share /data: \d+ 9P requests, (\d+) of them reads ahead \((\d+) used\)",
                      r.stderr)
        ok = r.returncode == 0 and r.stdout.split()[:1] == [hashlib.md5(big).hexdigest().encode()]
        if a.platform == "process":
            # 9 pieces: the first starts the reads ahead, and the 8 after it
            # take their bytes from at least 8 of them (a 128 KiB piece is a
            # little more than one Tread's: it may span two).
            ok = ok and m is not None and int(m.group(2)) >= 8
        check("sequential 128 KiB reads of a 1 MiB file see it whole" +
              (", most from reads ahead" if a.platform == "process" else ""), ok,
              repr((r.returncode, r.stdout[:40], m and m.group(0))))

        # Read-ahead (process platform): reading the file in 64 KiB pieces
        # asks for the next bytes early; a write there in between must show
        # in the next piece all the same.
        r = run([bb, "sh", "-c", "{ dd bs=65536 count=1 of=/dev/null; printf XYZ | dd of=/data/big "
                 "bs=1 seek=65536 conv=notrunc; dd bs=65536 count=2; } 2>/dev/null < /data/big"],
                rw)
        want = b"XYZ" + big[65536 + 3:3 * 65536]
        check("a write between sequential reads shows in the next read",
              r.returncode == 0 and r.stdout == want,
              "%r: %d bytes, first %r" % (r.returncode, len(r.stdout), r.stdout[:8]))

        # Escapes: nothing of the host's files may come out.
        for name, args in [
            ("cat /data/../../etc/shadow", ["cat", "/data/../../etc/shadow"]),
            ("cat /data/../secret", ["cat", "/data/../secret"]),
            ("cat /data/evil (-> host secret, absolute)", ["cat", "/data/evil"]),
            ("cat /data/shadow (-> /etc/shadow)", ["cat", "/data/shadow"]),
            ("cat /data/up (-> ../secret)", ["cat", "/data/up"]),
            ("cat /data/c1/secret (chain c1 -> c2 -> ../)", ["cat", "/data/c1/secret"]),
        ]:
            r = run([bb, *args], rw)
            leaked = SECRET.encode() in r.stdout + r.stderr or (
                os.access("/etc/shadow", os.R_OK) and b"root:" in r.stdout)
            check("escape refused: " + name, r.returncode != 0 and not leaked and r.stdout == b"",
                  repr(r))
        r = run([bb, "sh", "-c", "ln /data/evil /data/hard; cat /data/hard"], rw)
        hard = os.path.join(share, "hard")
        check("escape refused: hard link of a symlink out", SECRET.encode() not in r.stdout and
              not (os.path.exists(hard) and not os.path.islink(hard)), repr(r))

        # Device nodes: never created on the host (mote's server refuses the
        # type; QEMU 7.2 refuses to open special files and undoes the mknod).
        r = run([bb, "mknod", "/data/blk", "b", "7", "0"], rw)
        blk = os.path.join(share, "blk")
        check("mknod of a block device makes no host device node",
              not (os.path.exists(blk) and stat.S_ISBLK(os.lstat(blk).st_mode)), repr(r))

        if os.path.exists(a.sqlite3):
            db = os.path.join(share, "app.db")
            r = run([a.sqlite3, "/data/app.db",
                     "create table t(x); insert into t values(1),(2); select count(*) from t"], rw)
            check("sqlite3 keeps its database on a :rw share",
                  r.returncode == 0 and r.stdout == b"2\n" and os.path.getsize(db) > 0, repr(r))
            r = run([a.sqlite3, "/data/app.db", "select sum(x) from t"], ro)
            check("sqlite3 reads it back from a read-only share", r.stdout == b"3\n", repr(r))
        else:
            print(f"note: {a.sqlite3} not installed; sqlite3 checks left out")

        if not vm:
            # The run itself: stdin, exit status and signals pass through as without -v.
            r = run([bb, "cat"], ro, stdin=b"from stdin\n")
            check("stdin passes through", r.stdout == b"from stdin\n", repr(r))
            r = run([bb, "sh", "-c", "exit 7"], ro)
            check("exit status passes through", r.returncode == 7, repr(r))
            plain = run([bb, "sh", "-c", "kill -TERM $$"])
            r = run([bb, "sh", "-c", "kill -TERM $$"], ro)
            check("a fatal signal ends the run as without -v", r.returncode == plain.returncode,
                  f"{r.returncode} vs {plain.returncode}")
        if vm:
            # QEMU (acpi=off) and Firecracker append virtio_mmio.device= words; the
            # kernel takes raw ones anywhere, so the launcher encodes an argument's.
            word = "virtio_mmio.device=512@0xfeb00e00:12"
            r = run([bb, "echo", word], ro)
            check("an argument that looks like a device word stays an argument",
                  r.stdout == (word + "\n").encode(), repr(r))
        other = os.path.join(top, "other")
        os.mkdir(other)
        with open(os.path.join(other, "o"), "w") as f:
            f.write("other\n")
        r = run([bb, "cat", "/data/x", "/mnt/o/o"], [ro, f"{other}:/mnt/o"])
        check("two shares at once", r.stdout == b"hello from the host\nother\n", repr(r))

        # Bad input: one line, status 125 (checked before any VM starts).
        bad = [
            (["-v", "/nope-mote:/data"], "mote: -v /nope-mote:/data: /nope-mote: No such file or directory"),
            (["-v", f"{share}:data"], "the guest path must be absolute"),
            (["-v", f"{share}:/data:rx"], "unknown mode 'rx'"),
            (["-v", f"{share}/x:/data"], "Not a directory"),
            (["-v", f"{share}:/a", "-v", f"{other}:/a/b"], "overlaps"),
        ]
        # --platform kvm serves -v as virtio-9p; without KVM it is one line.
        if not vm and not os.path.exists("/dev/kvm"):
            bad.append((["--platform", "kvm", "-v", f"{share}:/data"], "KVM is not available"))
        if vm:
            bad = [(["--platform", "qemu", *args], says) for args, says in bad[:1] + bad[3:4]]
        for args, says in bad:
            r = subprocess.run([mote, "run", *args, bb, "true"], capture_output=True, timeout=60)
            err = r.stderr.decode()
            check("bad input: " + " ".join(args), r.returncode == 125 and says in err and
                  err.count("\n") == 1, repr(r))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
