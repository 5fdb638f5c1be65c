"""The robustness figures of issue 7, a section of the mote benchmark.

robustness(b):
  - each monitor-side seccomp allowlist, as the binary builds it (`mote
    sandbox-report`: distinct calls and BPF instructions), against the goal of
    at most 30 calls;
  - how long after its --timeout deadline a hung run is reported: a program
    that sleeps (the kernel's deadline) and a kernel that hangs (process
    platform: spinning on its own lock, `--selftest hang`, still the kernel's
    deadline; QEMU: hung with interrupts off, the monitor's deadline, which is
    2 s after the kernel's);
  - each libFuzzer target (tests/fuzz) run for FUZZ_SECONDS from its seed
    corpus: executions, executions per second, and crashes (the goal: none).

Called by bench.py (Bench.main); uses its run/guarded/skip helpers."""

import os
import re
import shlex
import shutil
import statistics
import tempfile
import time

from bench import Failure, Skip, setting, log, row, verdict

FUZZ_SECONDS = setting("BENCH_FUZZ_SECONDS", 10, 1)
HANG_REPS = setting("BENCH_HANG_REPS", 3, 1)
ALLOWLIST_GOAL = 30
FUZZ_TARGETS = ("elf_fuzz", "deps_fuzz", "boot_info_fuzz", "initramfs_fuzz", "net_stack_fuzz",
                "hypercall_fuzz", "share_fuzz", "dwarf_line_fuzz", "virtqueue_fuzz", "dhcp_fuzz")


def robustness(b):
    rows = []

    def allowlists():
        """The rows, one per allowlist."""
        out_rows = []
        argv = [b.mote, "sandbox-report"]
        out, _ = b.run_checked(argv)
        b.commands.append(("sandbox-report", shlex.join(argv)))
        got = re.findall(r"^(\S+) calls=(\d+) bpf=(\d+)$", out, re.M)
        if not got:
            raise Failure("%s printed no policy:\n%s" % (shlex.join(argv), out))
        res = b.results.setdefault("robustness", {}).setdefault("allowlists", {})
        for name, calls, bpf in got:
            res[name] = {"calls": int(calls), "bpf": int(bpf)}
            out_rows.append(row("seccomp allowlist: %s" % name.replace("-", " "),
                                "%s calls" % calls, "%s BPF instructions" % bpf,
                                "<= %d calls (issue 7)" % ALLOWLIST_GOAL,
                                verdict(int(calls) <= ALLOWLIST_GOAL)))
        return out_rows

    def hang(label, key, argv, deadline_s, exc=Failure):
        lates = []
        for _ in range(HANG_REPS):
            t0 = time.monotonic()
            rc, _out, err = b.run(argv, timeout=60)
            wall = time.monotonic() - t0
            if rc != 124 or "timeout" not in err:
                raise exc("%s: status %d, expected 124 and a timeout line:\n%s" % (
                    shlex.join(argv), rc, err[-500:]))
            lates.append((wall - deadline_s) * 1000)
        med = statistics.median(lates)
        b.results.setdefault("robustness", {})[key] = {"late_ms": med, "runs_ms": lates}
        b.commands.append((key, "%d x: %s" % (HANG_REPS, shlex.join(argv))))
        log("%s: reported %.1f ms after the deadline" % (key, med))
        return row(label, "%.0f ms after the deadline" % med,
                   "whole run %.2f s, status 124 and one line" % (deadline_s + med / 1000),
                   "reported, never a silent hang", "goal met")

    def fuzz(name):
        exe = os.path.join(b.build, "tests", "fuzz", name)
        seeds = os.path.join(b.repo, "tests", "fuzz", "corpus", name)
        if not os.path.exists(exe):
            raise Skip("%s not built (clang with libFuzzer; `make test` builds it)" % exe)
        work = tempfile.mkdtemp(prefix="mote-bench-fuzz-")
        try:
            corpus = os.path.join(work, "corpus")
            os.makedirs(corpus)
            argv = [exe, "-max_total_time=%d" % FUZZ_SECONDS, "-print_final_stats=1",
                    "-artifact_prefix=%s/" % work, corpus, seeds]
            rc, _out, err = b.run(argv, timeout=FUZZ_SECONDS + 120)
            m = re.search(r"stat::number_of_executed_units:\s*(\d+)", err)
            crashes = [f for f in os.listdir(work) if f.startswith(("crash-", "leak-", "timeout-"))]
            b.commands.append(("fuzz-" + name, shlex.join(argv)))
            if rc != 0 or crashes or not m:
                raise Failure("%s: status %d, %d crash input(s):\n%s" % (
                    shlex.join(argv), rc, len(crashes), err[-800:]))
            execs = int(m.group(1))
            b.results.setdefault("robustness", {}).setdefault("fuzz", {})[name] = {
                "execs": execs, "seconds": FUZZ_SECONDS}
            log("fuzz %s: %d executions in %d s" % (name, execs, FUZZ_SECONDS))
            return row("fuzz %s, %d s" % (name, FUZZ_SECONDS), "%d executions" % execs,
                       "%.0f/s, 0 crashes" % (execs / FUZZ_SECONDS), "0 crashes (issue 7)",
                       "goal met")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # One row per allowlist: guarded() takes one, so the others go in first.
    def allowlist_rows():
        got = allowlists()
        rows.extend(got[:-1])
        return got[-1]

    b.guarded(rows, "seccomp allowlists", allowlist_rows, kind="mote")
    b.guarded(rows, "hung program, process platform", lambda: hang(
        "detect a hung program: process platform (--timeout 0.5, sleep 60)",
        "hang_program_process", [b.mote, "run", "--timeout", "0.5", "/bin/sleep", "60"], 0.5),
        kind="mote")
    b.guarded(rows, "hung guest, process platform", lambda: hang(
        "detect a hung guest: process platform (--timeout 0.5, kernel spinning on its lock)",
        "hang_process", [b.mote, "run", "--timeout", "0.5", "--selftest", "hang", b.hello], 0.5),
        kind="mote")
    if shutil.which("qemu-system-x86_64"):
        b.guarded(rows, "hung program, qemu", lambda: hang(
            "detect a hung program: --platform qemu (TCG; --timeout 1, sleep 60)",
            "hang_program_qemu", [b.mote, "run", "--platform", "qemu", "--timeout", "1",
                                  "/bin/sleep", "60"], 1.0, exc=Skip), kind="mote")
        # The monitor's own deadline, 2 s after the kernel's (monitor/qemu/launch.cc).
        b.guarded(rows, "hung guest, qemu", lambda: hang(
            "detect a hung guest: --platform qemu (TCG; --timeout 1, kernel hung with "
            "interrupts off)", "hang_qemu",
            [b.mote, "run", "--platform", "qemu", "--timeout", "1", "--selftest", "hang",
             b.hello], 1.0, exc=Skip), kind="mote")
    for name in FUZZ_TARGETS:
        b.guarded(rows, "fuzz " + name, lambda n=name: fuzz(n), kind="mote")
    b.sections.append((
        "Robustness (issue 7): allowlists, hung guests, fuzzing",
        "allowlists from `mote sandbox-report` (the policies the binary installs); a hung "
        "guest: wall time of the run minus its --timeout, median of %d; fuzzing: each "
        "libFuzzer target for %d s from its checked-in seeds" % (HANG_REPS, FUZZ_SECONDS),
        rows))
