#!/usr/bin/env python3
"""Differential test: run a guest program natively and under `mote run`, compare the results.

    difftest.py --mote build/mote [options] PROGRAM [ARGS...]

Modes (by option):
  default           stdout, stderr and exit status must be identical (and the native status
                    must be --expect-status, so two identical failures do not pass).
  --fault SIGNAME   the program dies of SIGNAME: only the exit status is compared (128+N on
                    both sides), and mote's stderr must report the fault on a "mote: " line
                    (--report-addr / --report-symbol add what that report must show).
  --mote-stdout S   not differential: both runs must exit with --expect-status, and under mote
                    stdout must be exactly S (with \\n escapes); native output is not compared.
  --native-only     self-check without mote: runs the program natively twice and checks the
                    expected status and that the output is deterministic.

The native run gets exactly the environment mote gives its guest by default (plus --env K=V),
stdin from /dev/null and pipes for stdout and stderr, as the mote run does.
Exit status 0 means the test passed.
"""

import argparse
import difflib
import os
import re
import resource
import signal
import subprocess
import sys
import time

# What `mote run` puts in the guest's environment when no -e is given.
MOTE_DEFAULT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "TERM": "xterm",
    "HOSTNAME": "mote",
}


class Result:
    def __init__(self, status, stdout, stderr, seconds, killed_by=None, timed_out=False):
        self.status = status          # shell-style: 128+N for a death by signal N
        self.stdout = stdout          # bytes
        self.stderr = stderr          # bytes
        self.seconds = seconds
        self.killed_by = killed_by    # signal number when the process itself died of a signal
        self.timed_out = timed_out


def no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(argv, env, timeout):
    """Runs argv to completion (or kills its process group after timeout seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=no_core_dumps)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    seconds = time.monotonic() - start
    rc = proc.returncode
    if rc < 0:
        return Result(128 - rc, out, err, seconds, killed_by=-rc, timed_out=timed_out)
    return Result(rc, out, err, seconds, timed_out=timed_out)


def signal_number(name):
    name = name.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(getattr(signal, name))
    except AttributeError:
        raise SystemExit(f"difftest: unknown signal {name}")


def describe(result):
    text = f"status {result.status}"
    if result.killed_by:
        text += f" (killed by {signal.Signals(result.killed_by).name})"
    if result.timed_out:
        text += " (TIMED OUT, killed)"
    return text + f", {result.seconds:.2f}s"


def text(data):
    return data.decode("utf-8", errors="backslashreplace")


def show_diff(from_label, to_label, before, after):
    diff = difflib.unified_diff(text(before).splitlines(keepends=True),
                                text(after).splitlines(keepends=True),
                                fromfile=from_label, tofile=to_label)
    for line in diff:
        sys.stdout.write(line if line.endswith("\n") else line + "\n\\ No newline at end\n")


def show_output(label, result):
    for name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        body = text(data)
        if body:
            print(f"--- {label} {name}:")
            sys.stdout.write(body if body.endswith("\n") else body + "\n")


class Checker:
    def __init__(self):
        self.failures = []

    def expect(self, ok, message):
        if not ok:
            self.failures.append(message)
        return ok

    def finish(self, name):
        if self.failures:
            for f in self.failures:
                print(f"FAIL {name}: {f}")
            return 1
        print(f"PASS {name}")
        return 0


def check_backtrace(check, lines, names):
    """The report's backtrace names these functions, in this order (innermost first)."""
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == "mote:   backtrace:")
    except StopIteration:
        check.expect(False, "the fault report has no backtrace")
        return
    frames = [l for l in lines[start + 1:] if re.match(r"mote:\s+#\d+", l)]
    at = 0
    for name in names:
        pattern = rf"<{re.escape(name)}\+0x[0-9a-f]+>"
        while at < len(frames) and not re.search(pattern, frames[at]):
            at += 1
        check.expect(at < len(frames), f"the backtrace does not name {name} (after the ones before)")
        at += 1


def check_fault_report(check, mote, signame, addr, symbol, backtrace=None, text_in=None):
    """mote's stderr must hold "mote: " lines naming the signal (and address / symbol)."""
    lines = [l for l in text(mote.stderr).splitlines() if l.startswith("mote: ")]
    check.expect(lines, "mote's stderr has no line starting with 'mote: ' (fault report)")
    report = "\n".join(lines)
    check.expect(any(signame in l for l in lines), f"no 'mote: ' line mentions {signame}")
    if addr is not None:
        # The address as a whole hex number, zero padding allowed ("0x0", "0x0000000000000000").
        value = int(addr, 16)
        found = any(int(m, 16) == value
                    for m in re.findall(r"(?<![0-9A-Za-z_])0x([0-9a-fA-F]+)(?![0-9A-Za-z_])", report))
        check.expect(found, f"the fault report does not show the fault address {addr}")
    if symbol is not None:
        check.expect(re.search(rf"(?<![A-Za-z0-9_]){re.escape(symbol)}(?![A-Za-z0-9_])", report),
                     f"the fault report does not name the function {symbol}")
    if backtrace:
        check_backtrace(check, lines, backtrace.split(","))
    for want in text_in or []:
        check.expect(want in report, f"the fault report does not say '{want}'")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mote", help="path to the mote binary")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="extra guest environment variable (mote -e K=V, and natively)")
    p.add_argument("--mote-opt", action="append", default=[], metavar="OPT",
                   help="extra option for `mote run` (use --mote-opt=--platform --mote-opt=process)")
    p.add_argument("--expect-status", type=int, default=0, help="expected exit status (default 0)")
    p.add_argument("--fault", metavar="SIGNAME", help="the program must die of this signal")
    p.add_argument("--report-addr", metavar="HEX", help="with --fault: address the report shows")
    p.add_argument("--report-symbol", metavar="NAME", help="with --fault: function the report names")
    p.add_argument("--report-backtrace", metavar="F1,F2,...",
                   help="with --fault: functions the report's backtrace names, innermost first")
    p.add_argument("--report-text", metavar="TEXT", action="append", default=[],
                   help="with --fault: text the report holds (repeatable)")
    p.add_argument("--mote-stdout", metavar="TEXT",
                   help="not differential: mote's stdout must be exactly TEXT (\\n escapes)")
    p.add_argument("--native-only", action="store_true", help="self-check without mote")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per run (default 30)")
    p.add_argument("program")
    p.add_argument("args", nargs=argparse.REMAINDER)
    opts = p.parse_args()

    if not opts.native_only and not opts.mote:
        p.error("--mote is required (or --native-only)")
    if not os.path.exists(opts.program):
        print(f"FAIL: guest program {opts.program} does not exist (build target guest_programs)")
        return 1
    if opts.mote and not opts.native_only and not os.access(opts.mote, os.X_OK):
        print(f"FAIL: mote binary {opts.mote} does not exist or is not executable")
        return 1
    for kv in opts.env:
        if "=" not in kv:
            p.error(f"--env wants K=V, got {kv!r}")

    expect_status = opts.expect_status
    signame = None
    if opts.fault:
        signame = "SIG" + opts.fault.upper().removeprefix("SIG")
        expect_status = 128 + signal_number(signame)

    env = dict(MOTE_DEFAULT_ENV)
    env.update(kv.split("=", 1) for kv in opts.env)
    program = [opts.program] + opts.args
    name = " ".join([os.path.basename(opts.program)] + opts.args)
    check = Checker()

    native = run(program, env, opts.timeout)
    check.expect(not native.timed_out, f"native run timed out after {opts.timeout:.0f}s")
    check.expect(native.status == expect_status,
                 f"native run: {describe(native)}, expected status {expect_status}")

    if opts.native_only:
        if opts.fault is None and opts.mote_stdout is None and not check.failures:
            again = run(program, env, opts.timeout)
            same = (again.stdout, again.stderr, again.status) == \
                   (native.stdout, native.stderr, native.status)
            if not check.expect(same, "two native runs differ: the output is not deterministic"):
                show_diff("run 1 stdout", "run 2 stdout", native.stdout, again.stdout)
                show_diff("run 1 stderr", "run 2 stderr", native.stderr, again.stderr)
        if check.failures:
            show_output("native", native)
        return check.finish(name + " [native only]")

    mote_argv = [opts.mote, "run"]
    for kv in opts.env:
        mote_argv += ["-e", kv]
    mote_argv += opts.mote_opt + program
    # mote itself runs with the harness's environment; the guest's comes from mote.
    mote = run(mote_argv, dict(os.environ), opts.timeout)
    print("$ " + " ".join(mote_argv))
    print(f"native: {describe(native)}; mote: {describe(mote)}")

    check.expect(not mote.timed_out, f"mote run timed out after {opts.timeout:.0f}s")
    check.expect(mote.killed_by is None,
                 f"mote itself was killed by {signal.Signals(mote.killed_by).name}"
                 if mote.killed_by else "")

    if opts.fault:
        check.expect(mote.status == expect_status,
                     f"mote exit status {mote.status}, expected {expect_status} ({signame})")
        check_fault_report(check, mote, signame, opts.report_addr, opts.report_symbol,
                           opts.report_backtrace, opts.report_text)
        if check.failures:
            show_output("mote", mote)
    elif opts.mote_stdout is not None:
        want = opts.mote_stdout.encode().decode("unicode_escape").encode()
        check.expect(mote.status == expect_status,
                     f"mote exit status {mote.status}, expected {expect_status}")
        if not check.expect(mote.stdout == want, "mote stdout is not the expected text"):
            show_diff("expected stdout", "mote stdout", want, mote.stdout)
        if check.failures:
            show_output("mote", mote)
    else:
        check.expect(mote.status == native.status,
                     f"exit status differs: native {native.status}, mote {mote.status}")
        if not check.expect(mote.stdout == native.stdout, "stdout differs"):
            show_diff("native stdout", "mote stdout", native.stdout, mote.stdout)
        if not check.expect(mote.stderr == native.stderr, "stderr differs"):
            show_diff("native stderr", "mote stderr", native.stderr, mote.stderr)
    return check.finish(name)


if __name__ == "__main__":
    sys.exit(main())
