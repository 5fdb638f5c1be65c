#!/usr/bin/env python3
"""Separate debug files in fault reports: a program stripped of its symbols
and line table (objcopy --strip-all) crashes under `mote run --debug-files`,
and the report still names the functions and source lines, read from its
debug file (objcopy --only-keep-debug), which the packer found on the host
and put in the root filesystem (without --debug-files it does not):
  - beside the program, named by its .gnu_debuglink;
  - under /usr/lib/debug/.build-id/NN/REST.debug (as Debian's -dbgsym
    packages install them), found by the program's build ID;
and, as a control, the same stripped program without a debug file reports
no source lines. A build-ID file of another build is not taken.

    debug_files.py --mote build/mote PROGRAM   (null_store_g.glibc-dynamic)
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from checks import Checks


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Build ID:" in line:
            return line.split("Build ID:")[1].strip()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("program")
    args = ap.parse_args()
    for tool in ("objcopy", "readelf"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} not found (binutils)")
            return 77
    ok = Checks()
    tmp = tempfile.mkdtemp(prefix="mote-debug-")
    env = dict(os.environ, MOTE_CACHE_DIR=os.path.join(tmp, "cache"))
    made = []
    try:
        def run(prog, debug_files=True):
            r = subprocess.run([args.mote, "run"] + (["--debug-files"] if debug_files else []) +
                               [prog], stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                               env=env)
            return r.returncode, r.stderr.decode(errors="replace")

        full = os.path.join(tmp, "full.debug")
        sh("objcopy", "--only-keep-debug", args.program, full)
        bid = build_id(args.program)

        # Beside the program, by .gnu_debuglink.
        d = os.path.join(tmp, "link")
        os.mkdir(d)
        prog = os.path.join(d, "crash")
        shutil.copy(full, os.path.join(d, "crash.debug"))
        sh("objcopy", "--strip-all", "--add-gnu-debuglink=" + os.path.join(d, "crash.debug"),
           args.program, prog)
        status, err = run(prog)
        ok("debuglink: SIGSEGV status", status == 139, f"status {status}\n{err[-800:]}")
        ok("debuglink: the function from the debug file's symbols", "<do_null_store+0x" in err and
           "<main+0x" in err, err[-800:])
        ok("debuglink: source lines from its line table",
           "at null_store.c:10 in" in err and "at null_store.c:14 in" in err, err[-800:])
        # Only when asked: the image stays as small without --debug-files.
        status, err = run(prog, debug_files=False)
        ok("without --debug-files: no source lines", status == 139 and "null_store.c" not in err,
           err[-800:])

        # The control: stripped, no debug file anywhere.
        d = os.path.join(tmp, "none")
        os.mkdir(d)
        prog = os.path.join(d, "crash")
        sh("objcopy", "--strip-all", args.program, prog)
        status, err = run(prog)
        ok("no debug file: SIGSEGV status", status == 139, f"status {status}\n{err[-800:]}")
        ok("no debug file: no source lines", "null_store.c" not in err and "mote:" in err,
           err[-800:])

        # By build ID under /usr/lib/debug (a file of this build only).
        if not bid or len(bid) < 3:
            ok("the test program has a build ID", False, "readelf -n found none")
        else:
            where = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
            if os.path.exists(where):
                print(f"SKIP: {where} exists already; not touching it")
                return 77
            os.makedirs(os.path.dirname(where), exist_ok=True)
            d = os.path.join(tmp, "buildid")
            os.mkdir(d)
            prog = os.path.join(d, "crash")
            sh("objcopy", "--strip-all", args.program, prog)
            # First a debug file of another build under this build's ID path:
            # not taken.
            other = os.path.join(tmp, "other.debug")
            sh("objcopy", "--only-keep-debug", "--remove-section=.note.gnu.build-id", args.program,
               other)
            shutil.copy(other, where)
            made.append(where)
            status, err = run(prog)
            ok("build-id: a file without this build's ID is not taken",
               status == 139 and "null_store.c" not in err, err[-800:])
            os.unlink(where)
            shutil.copy(full, where)
            shutil.rmtree(os.path.join(tmp, "cache"))  # a new debug file: pack again
            status, err = run(prog)
            ok("build-id: SIGSEGV status", status == 139, f"status {status}\n{err[-800:]}")
            ok("build-id: functions and source lines", "<do_null_store+0x" in err and
               "at null_store.c:10 in" in err, err[-800:])
    finally:
        for f in made:
            if os.path.exists(f):
                os.unlink(f)
            for dir_ in (os.path.dirname(f), os.path.dirname(os.path.dirname(f))):
                try:
                    os.rmdir(dir_)  # only if this test made it and left it empty
                except OSError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)
    return ok.finish()


if __name__ == "__main__":
    sys.exit(main())
