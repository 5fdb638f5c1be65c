#!/usr/bin/env python3
"""Bad input to `mote`: every case must fail cleanly.

    bad_input.py --mote build/mote --static-binary build/tests/guest/hello.glibc-static

For each case mote must exit with a non-zero status below 128 (no crash), print exactly one line
on stderr starting with "mote: ", and finish within 10 seconds.
"""

import argparse
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

TIMEOUT = 10.0


def elf32_header():
    """A 52-byte ELF32 little-endian i386 executable header with no program headers."""
    ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)  # ELFCLASS32, LSB, EV_CURRENT, SYSV
    header = ident + struct.pack(
        "<HHIIIIIHHHHHH",
        2,          # e_type: ET_EXEC
        3,          # e_machine: EM_386
        1,          # e_version
        0x8048000,  # e_entry
        0,          # e_phoff
        0,          # e_shoff
        0,          # e_flags
        52,         # e_ehsize
        32,         # e_phentsize
        0,          # e_phnum
        40,         # e_shentsize
        0,          # e_shnum
        0)          # e_shstrndx
    assert len(header) == 52
    return header


def make_file(tmp, name, data, executable=True):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    if executable:
        os.chmod(path, 0o755)
    return path


def run_case(mote, name, args, must_contain=None):
    """Runs one case; returns a list of failure messages (empty = pass)."""
    argv = [mote] + args
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return [f"did not finish within {TIMEOUT:.0f}s"]
    failures = []
    rc = proc.returncode
    err = proc.stderr.decode("utf-8", errors="backslashreplace")
    if rc < 0:
        failures.append(f"mote crashed: killed by {signal.Signals(-rc).name}")
    elif rc == 0:
        failures.append("exit status 0, expected failure")
    elif rc >= 128:
        failures.append(f"exit status {rc} (>= 128 looks like a crash)")
    lines = err.splitlines()
    if len(lines) != 1:
        failures.append(f"stderr has {len(lines)} lines, expected exactly one")
    if lines and not lines[0].startswith("mote: "):
        failures.append("stderr does not start with 'mote: '")
    if must_contain and must_contain not in err:
        failures.append(f"stderr does not contain {must_contain!r}")
    if failures:
        failures.append(f"command: {' '.join(argv)}\n    status {rc}, stderr: {err!r}")
    return failures


def main():
    p = argparse.ArgumentParser(description="mote bad-input tests")
    p.add_argument("--mote", required=True)
    p.add_argument("--static-binary", required=True,
                   help="a valid static x86-64 executable (e.g. hello.glibc-static)")
    opts = p.parse_args()
    if not os.access(opts.mote, os.X_OK):
        print(f"FAIL: mote binary {opts.mote} does not exist or is not executable")
        return 1

    with open(opts.static_binary, "rb") as f:
        good = f.read()
    if good[:4] != b"\x7fELF" or struct.unpack_from("<H", good, 18)[0] != 62:
        print(f"FAIL: {opts.static_binary} is not an x86-64 ELF file")
        return 1

    tmp = tempfile.mkdtemp(prefix="mote-bad-input-")
    try:
        aarch64 = bytearray(good)
        struct.pack_into("<H", aarch64, 18, 183)  # e_machine = EM_AARCH64
        files = {
            "directory": os.path.join(tmp, "a-directory"),
            "text": make_file(tmp, "script.txt", b"this is not an ELF file\n"),
            "truncated": make_file(tmp, "truncated", good[:30]),
            "elf32": make_file(tmp, "elf32", elf32_header()),
            "aarch64": make_file(tmp, "aarch64", bytes(aarch64)),
            "empty": make_file(tmp, "empty", b""),
        }
        os.mkdir(files["directory"])
        missing = os.path.join(tmp, "does-not-exist")
        hello = opts.static_binary

        cases = [
            ("missing file", ["run", missing], None),
            ("a directory", ["run", files["directory"]], None),
            ("a text file", ["run", files["text"]], None),
            ("an empty file", ["run", files["empty"]], None),
            ("a truncated ELF (30 bytes)", ["run", files["truncated"]], None),
            ("a 32-bit ELF", ["run", files["elf32"]], None),
            ("an ELF for AArch64", ["run", files["aarch64"]], None),
            ("--mem abc", ["run", "--mem", "abc", hello], None),
            ("--mem 12Q", ["run", "--mem", "12Q", hello], None),
            ("--mem 0", ["run", "--mem", "0", hello], None),
            ("--mem 1K (too small)", ["run", "--mem", "1K", hello], None),
            ("unknown option --bogus", ["run", "--bogus", hello], None),
            ("--gdb abc", ["run", "--gdb", "abc", hello], "--gdb"),
            ("--gdb 0", ["run", "--gdb", "0", hello], "--gdb"),
            ("--gdb 65536", ["run", "--gdb", "65536", hello], "--gdb"),
            ("--gdb without a port", ["run", "--gdb"], "--gdb"),
            ("no arguments", [], None),
            ("run without a program", ["run"], None),
        ]
        if not os.path.exists("/dev/kvm"):
            # Without KVM, --platform kvm fails before it would wait for gdb
            # (with KVM it waits: no case for it here).
            cases.append(("--gdb on --platform kvm without KVM",
                          ["run", "--platform", "kvm", "--gdb", "1234", hello], "KVM is not available"))
        # Dynamic executables run now (tests/integration/dynamic.py); a missing
        # library is the bad input there.

        failed = 0
        for name, args, must_contain in cases:
            failures = run_case(opts.mote, name, args, must_contain)
            if failures:
                failed += 1
                print(f"FAIL {name}:")
                for f in failures:
                    print(f"    {f}")
            else:
                print(f"ok   {name}")
        print(f"{len(cases) - failed} of {len(cases)} bad-input cases passed")
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
