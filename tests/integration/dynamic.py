#!/usr/bin/env python3
"""Dynamic programs under `mote run`, differentially against native: the
program runs from a root filesystem image of its interpreter and libraries
(monitor/image/rootfs.h), and its output and exit status match a native run
in the environment mote gives the guest.

    dynamic.py --mote build/mote --guest-dir build/tests/guest [--platform qemu]

Programs: Debian's sqlite3, sha256sum (reading stdin), python3 and lua5.4
when installed, tests/guest/hello built dynamic against glibc and musl, and
a `mote pack` image of a dynamic program. A program whose library is missing
fails with status 127 and one line.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from checks import Checks

ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "TERM": "xterm", "HOSTNAME": "mote"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mote", required=True)
    p.add_argument("--guest-dir", required=True)
    p.add_argument("--platform", default="process")
    opts = p.parse_args()
    check = Checks()
    timeout = 300 if opts.platform == "qemu" else 60

    with tempfile.TemporaryDirectory() as d:
        cache_env = dict(os.environ, MOTE_CACHE_DIR=os.path.join(d, "cache"))

        def both(name, argv, stdin=b"", mote_opts=(), env_extra=None, mote_argv=None):
            env = dict(ENV, **(env_extra or {}))
            native = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=60)
            cmd = [opts.mote, "run", "--platform", opts.platform, *mote_opts]
            for k, v in (env_extra or {}).items():
                cmd += ["-e", f"{k}={v}"]
            try:
                m = subprocess.run(cmd + (mote_argv or argv), input=stdin, capture_output=True,
                                   env=cache_env, timeout=timeout)
            except subprocess.TimeoutExpired:
                check(name, False, "timed out")
                return
            check(name, m.stdout == native.stdout and m.returncode == native.returncode,
                  f"status {m.returncode} vs {native.returncode}; stdout {m.stdout[:200]!r} vs "
                  f"{native.stdout[:200]!r}; stderr {m.stderr[-400:]!r}")

        both("sqlite3 :memory: 'select 1+1'", ["/usr/bin/sqlite3", ":memory:", "select 1+1"])
        # WAL mode maps the -shm file MAP_SHARED and writable.
        wal_db = f"/tmp/mote_wal_{os.getpid()}.db"
        both("sqlite3 WAL database in /tmp", ["/usr/bin/sqlite3", wal_db,
             "pragma journal_mode=wal; create table t(x); insert into t values(1); select * from t"])
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(wal_db + suffix):
                os.unlink(wal_db + suffix)
        both("echo hello | sha256sum", ["/usr/bin/sha256sum"], stdin=b"hello\n")
        for variant in ("glibc-dynamic", "musl-dynamic"):
            hello = os.path.join(opts.guest_dir, "hello." + variant)
            if not os.path.exists(hello):
                print(f"skip hello.{variant}: not built (musl-gcc missing?)")
                continue
            both(f"hello.{variant} a 'b c'", [hello, "a", "b c"], env_extra={"MOTE_TEST": "xyz"})
        if shutil.which("python3"):
            both("python3 -c 'print(1+1)'", ["/usr/bin/python3", "-c", "print(1+1)"])
            both("python3: import json, sqlite3", ["/usr/bin/python3", "-c",
                 "import json, sqlite3; print(json.dumps(sqlite3.connect(':memory:')"
                 ".execute('select 40+2').fetchone()))"])
        lua = shutil.which("lua5.4")
        if lua:
            both("lua5.4 -e 'print(1+1)'", [lua, "-e", "print(1+1)"])

        # A packed dynamic program: the root filesystem inside the image.
        prog = lua or "/usr/bin/sqlite3"
        img = os.path.join(d, "prog.img")
        r = subprocess.run([opts.mote, "pack", prog, "-o", img], capture_output=True, env=cache_env)
        check("mote pack of a dynamic program", r.returncode == 0, r.stderr.decode())
        if r.returncode == 0:
            args = ["-e", "print(1+1)"] if lua else [":memory:", "select 1+1"]
            both(f"mote run IMAGE ({os.path.basename(prog)})", [prog, *args],
                 mote_argv=[img, *args])

        # A missing library: one line, status 127, nothing run.
        with open(os.path.join(d, "gone.c"), "w") as f:
            f.write("int gone(void) { return 3; }\n")
        with open(os.path.join(d, "m.c"), "w") as f:
            f.write("int gone(void); int main(void) { return gone(); }\n")
        lib, exe = os.path.join(d, "libmotegone.so"), os.path.join(d, "needs-gone")
        if subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib, os.path.join(d, "gone.c")]).returncode == 0 \
                and subprocess.run(["gcc", "-o", exe, os.path.join(d, "m.c"), "-L" + d,
                                    "-lmotegone"]).returncode == 0:
            os.unlink(lib)
            r = subprocess.run([opts.mote, "run", "--platform", opts.platform, exe],
                               capture_output=True, env=cache_env, timeout=timeout)
            err = r.stderr.decode()
            check("missing library: status 127 and one line", r.returncode == 127 and
                  err.count("\n") == 1 and
                  err.startswith(f"mote: libmotegone.so needed by {exe} not found (searched: "),
                  f"status {r.returncode}: {err!r}")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
