#!/usr/bin/env python3
"""mote benchmark: start-up time, null-syscall cost, thread costs and 2-vCPU
speedup, peak RSS and core size, and network throughput (redis, nginx:
bench/net_bench.py), each beside a baseline measured in the same run
(native, gVisor).

Run through bench/run.sh, which builds the programs in bench/programs/ into
BUILD_DIR/bench/ first. Prints a table to stdout (progress goes to stderr),
writes BUILD_DIR/bench/results.json and overwrites docs/performance.md.

Speed goals never fail the run: each figure says "goal met" or "goal missed".
A measured command that fails (non-zero exit, wrong output, time-out) does
fail it (exit 1), and docs/performance.md is then left as it was. A gVisor
baseline that cannot run is reported as SKIP, as are the 2-CPU thread figures on a
host with one CPU. QUICK=1 takes fewer runs per figure (see setting()).
"""

import argparse
import datetime
import gzip
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HELLO_OUT = "hello from mote bench\n"

# QUICK=1: fewer runs per figure (the defaults below), for a check that the
# benchmark works rather than figures to publish; an explicit BENCH_* wins.
QUICK = os.environ.get("QUICK", "") not in ("", "0")


def setting(name, full, quick):
    return int(os.environ.get(name, str(quick if QUICK else full)))


# Start-up: hyperfine settings (the brief: --warmup 3, --runs 30, median).
HF_WARMUP = setting("BENCH_WARMUP", 3, 1)
HF_RUNS = setting("BENCH_RUNS", 30, 10)
# Null syscall: iterations per run, runs per figure (median taken).
SYS_N = setting("BENCH_SYSCALL_N", 200000, 50000)
SYS_N_GVISOR = setting("BENCH_SYSCALL_N_GVISOR", 20000, 5000)
SYS_REPS = setting("BENCH_SYSCALL_REPS", 5, 3)
# Peak RSS: runs per figure (median taken).
RSS_REPS = setting("BENCH_RSS_REPS", 5, 3)
# Threads (issue 5): operations per run (each run ~0.1-0.5 s here; gVisor is ~10-40x
# slower per operation, hence its smaller N), spin_sum iterations, runs per figure.
CREATE_N = setting("BENCH_CREATE_N", 2000, 500)
CREATE_N_GVISOR = setting("BENCH_CREATE_N_GVISOR", 200, 100)
PINGPONG_N = setting("BENCH_PINGPONG_N", 20000, 5000)
PINGPONG_N_GVISOR = setting("BENCH_PINGPONG_N_GVISOR", 1000, 500)
YIELD_N = setting("BENCH_YIELD_N", 100000, 20000)
SPIN_ITER = setting("BENCH_SPIN_ITER", 400000000, 40000000)
VM_SPIN_ITER = setting("BENCH_VM_SPIN_ITER", 100000000, 100000000)
# mote-vm-test --timing runs (the KVM monitor's start-up): a wall-clock figure
# on a shared host, so a median, as hyperfine's.
KVM_RUNS = setting("BENCH_KVM_RUNS", 21, 7)
THREAD_REPS = setting("BENCH_THREADS_REPS", 5, 3)
# One measured command may not take longer than this (seconds).
CMD_TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "120"))

GOAL_STARTUP_MS = 3.0
GOAL_PYTHON_RATIO = 1.3      # mote run python3 -c pass vs native python3 -c pass
GOAL_PYTHON_MEM_MIB = 32     # the smallest --mem python3 -c pass runs with
PYTHON = "/usr/bin/python3"
GOAL_GVISOR_SPEEDUP = 30.0
GOAL_SYSCALL_RATIO = 0.1
GOAL_SPEEDUP_2CPU = 1.9      # spin_sum, 2 threads: mote --cpus 1 time / --cpus 2 time
# The VM platform (issue 3), counted in guest instructions under QEMU/TCG.
GOAL_BOOT_INSNS = 200000
GOAL_SYSCALL_INSNS = 150
GOAL_KERNEL_KIB = 512
GOAL_MIN_RAM_MIB = 2
# A figure whose runs spread (max - min) over this fraction of the median is flagged.
NOISY = 0.2


class Failure(Exception):
    """A measured command failed: the benchmark cannot report this figure."""


class Skip(Exception):
    """A baseline that cannot run here (gVisor): reported, not fatal."""


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def tail(text, lines=15):
    t = (text or "").rstrip("\n").splitlines()
    return "\n".join("    | " + l for l in t[-lines:])


class Bench:
    def __init__(self, repo, build, baselines_only):
        self.repo = repo
        self.build_abs = os.path.abspath(build)
        rel = os.path.relpath(self.build_abs, repo)
        # Commands run from the repository root and are shown exactly as run.
        self.build = rel if not rel.startswith("..") else self.build_abs
        self.bdir = os.path.join(self.build, "bench")
        self.baselines_only = baselines_only
        self.mote = os.path.join(self.build, "mote")
        self.mote_flags = shlex.split(os.environ.get("MOTE_RUN_FLAGS", ""))
        self.hello = os.path.join(self.bdir, "hello")
        self.hello_musl = os.path.join(self.bdir, "hello-musl")
        self.loop = os.path.join(self.bdir, "getppid_loop")
        self.peakrss = os.path.join(self.bdir, "peakrss")
        self.threads_prog = os.path.join(self.bdir, "threads_bench")
        self.host_cpus = sorted(os.sched_getaffinity(0))
        self.runsc = shutil.which("runsc")
        self.gvisor_skip = None  # reason, once gVisor is found unusable
        self.sections = []  # (title, method, rows)
        self.commands = []  # (figure, command) for the docs
        self.failures = []
        self.skips = []
        self.results = {}

    # ----------------------------------------------------------------- running

    def env(self, extra=None):
        e = dict(os.environ)
        e.pop("MOTE_NO_REWRITE", None)  # only the figure that asks for it gets it
        if extra:
            e.update(extra)
        return e

    def run(self, argv, extra_env=None, timeout=CMD_TIMEOUT, cwd=None):
        """Runs argv from the repo root (or cwd); returns (rc, stdout, stderr)."""
        try:
            p = subprocess.Popen(argv, cwd=cwd or self.repo, env=self.env(extra_env),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, errors="replace",
                                 start_new_session=True)
        except OSError as ex:
            raise Failure("%s: cannot run: %s" % (show(argv, extra_env), ex))
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Its own process group: end the command and whatever it started.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            out, err = p.communicate()
            raise Failure("%s: timed out after %d s\n%s" % (
                show(argv, extra_env), timeout, tail(err)))
        return p.returncode, out, err

    def run_checked(self, argv, extra_env=None, stdout=None, stdout_re=None,
                    exc=Failure, timeout=CMD_TIMEOUT):
        rc, out, err = self.run(argv, extra_env, timeout)
        cmd = show(argv, extra_env)
        if rc != 0:
            raise exc("%s: exited with status %d\n  stdout:\n%s\n  stderr:\n%s" % (
                cmd, rc, tail(out), tail(err)))
        if stdout is not None and out != stdout:
            raise exc("%s: wrong output: expected %r, got %r\n  stderr:\n%s" % (
                cmd, stdout, out[:500], tail(err)))
        if stdout_re is not None:
            m = re.fullmatch(stdout_re, out)
            if not m:
                raise exc("%s: output %r does not match %r\n  stderr:\n%s" % (
                    cmd, out[:500], stdout_re, tail(err)))
            return m, err
        return out, err

    def hyperfine(self, name, argv, exc=Failure):
        """Median/mean/stddev (seconds) of argv's wall time, via hyperfine."""
        js = os.path.join(self.bdir, "hyperfine-%s.json" % name)
        logf = os.path.join(self.bdir, "hyperfine-%s.log" % name)
        hf = ["hyperfine", "-N", "--warmup", str(HF_WARMUP), "--runs", str(HF_RUNS),
              "--export-json", js, shlex.join(argv)]
        timeout = max(CMD_TIMEOUT, (HF_WARMUP + HF_RUNS) * 10)
        rc, out, err = self.run(hf, timeout=timeout)
        with open(os.path.join(self.repo, logf), "w") as f:
            f.write(out + err)
        if rc != 0:
            raise exc("%s: exited with status %d (log: %s)\n%s" % (
                shlex.join(hf), rc, logf, tail(out + err)))
        with open(os.path.join(self.repo, js)) as f:
            r = json.load(f)["results"][0]
        codes = r.get("exit_codes") or []
        if any(c != 0 for c in codes):
            raise exc("%s: a run exited non-zero: %r" % (shlex.join(hf), codes))
        self.commands.append((name, shlex.join(hf)))
        return {k: r[k] for k in ("median", "mean", "stddev", "min", "max")}

    def mote_cmd(self, prog, *args):
        return [self.mote, "run", *self.mote_flags, prog, *args]

    def mote_cpus_cmd(self, cpus, prog, *args):
        return [self.mote, "run", *self.mote_flags, "--cpus", str(cpus), prog, *args]

    def gvisor_cmd(self, prog, *args):
        return [self.runsc, "--network=none", "do", prog, *args]

    def gvisor_usable(self):
        """None if gVisor can run here, else the reason (printed loudly once)."""
        if self.gvisor_skip is None:
            if not self.runsc:
                self.gvisor_skip = "runsc not found (apt-get install runsc)"
            elif os.geteuid() != 0:
                self.gvisor_skip = "runsc --network=none do needs root"
            else:
                try:
                    self.run_checked(self.gvisor_cmd(self.hello), stdout=HELLO_OUT,
                                     exc=Skip, timeout=60)
                    self.gvisor_skip = ""
                except (Skip, Failure) as ex:
                    self.gvisor_skip = "runsc failed: %s" % ex
            if self.gvisor_skip:
                self.skip("gVisor baseline", self.gvisor_skip)
        return self.gvisor_skip or None

    def skip(self, what, why):
        msg = "%s: %s" % (what, why)
        self.skips.append(msg)
        bar = "!" * 72
        print("%s\nSKIP %s\n%s" % (bar, msg, bar), file=sys.stderr, flush=True)

    def guarded(self, rows, label, fn, kind="native"):
        """Runs fn() -> row; a Failure becomes a FAILED row, a Skip a SKIP row.
        kind is "native", "mote" or "gvisor": what the figure needs."""
        if kind == "gvisor" and self.gvisor_usable():
            rows.append(row(label, "SKIP", "", "", "SKIP (gVisor unavailable)"))
            return None
        if kind == "mote" and self.baselines_only:
            rows.append(row(label, "not run", "", "", "not run (--baselines-only)"))
            return None
        try:
            r = fn()
            rows.append(r)
            return r
        except Skip as ex:
            self.skip(label, str(ex))
            rows.append(row(label, "SKIP", "", "", "SKIP"))
        except Failure as ex:
            self.failures.append("%s: %s" % (label, ex))
            log("FAILED %s: %s" % (label, ex))
            rows.append(row(label, "FAILED", "", "", "FAILED"))
        return None

    # ----------------------------------------------------------------- figures

    def startup(self):
        rows = []
        res = self.results.setdefault("startup", {})

        def native():
            self.run_checked([self.hello], stdout=HELLO_OUT)
            res["native"] = self.hyperfine("startup-native", [self.hello])
            log("startup native: %.3f ms" % (res["native"]["median"] * 1e3))
            return row("native exec", ms(res["native"]), "(baseline)", "", "")

        def mote():
            self.run_checked(self.mote_cmd(self.hello), stdout=HELLO_OUT)
            res["mote"] = self.hyperfine("startup-mote", self.mote_cmd(self.hello))
            m = res["mote"]["median"]
            log("startup mote: %.3f ms" % (m * 1e3))
            ratio = "n/a"
            if "native" in res:
                ratio = "%s native" % times(m / res["native"]["median"])
            return row("mote run", ms(res["mote"]), ratio, "<= %g ms" % GOAL_STARTUP_MS,
                       verdict(m * 1e3 <= GOAL_STARTUP_MS))

        def monitor_alone():
            # Decomposition: the C++ monitor's own start (exec + static glibc
            # start-up, dominated on this VM by trapped CPUID instructions),
            # which `mote run` avoids on its fast path (`mote version` is
            # handed from mote to mote-monitor).
            argv = [self.mote, "version"]
            self.run_checked(argv)
            res["monitor"] = self.hyperfine("startup-monitor", argv)
            ratio = "n/a"
            if "native" in res:
                ratio = "%s native hello" % times(res["monitor"]["median"] / res["native"]["median"])
            return row("  for scale: mote version (handed to the C++ mote-monitor)",
                       ms(res["monitor"]), ratio, "", "-")

        def gvisor():
            res["gvisor"] = self.hyperfine("startup-gvisor", self.gvisor_cmd(self.hello),
                                           exc=Skip)
            g = res["gvisor"]["median"]
            log("startup gVisor: %.3f ms" % (g * 1e3))
            ratio, verd = "n/a", "n/a (no mote figure)"
            if "native" in res:
                ratio = "%s native" % times(g / res["native"]["median"])
            if "mote" in res:
                sp = g / res["mote"]["median"]
                ratio += "; mote %s faster" % times(sp)
                verd = verdict(sp >= GOAL_GVISOR_SPEEDUP)
            return row("gVisor runsc do", ms(res["gvisor"]), ratio,
                       "mote >= %gx faster" % GOAL_GVISOR_SPEEDUP, verd)

        self.guarded(rows, "native exec", native)
        self.guarded(rows, "mote run", mote, kind="mote")
        self.guarded(rows, "mote version", monitor_alone, kind="mote")
        self.guarded(rows, "gVisor runsc do", gvisor, kind="gvisor")
        self.sections.append((
            "Start-up: whole-process wall time of a static hello",
            "hyperfine -N, %d warm-up runs, median of %d runs (mean +- stddev beside it)"
            % (HF_WARMUP, HF_RUNS), rows))

    def python(self):
        """Debian's python3 (dynamic, ~1,500 files of standard library):
        start-up against native, the smallest --mem, and what packing costs
        when the image is cached (the monitor's own report under --verbose)."""
        rows = []
        res = self.results.setdefault("python", {})
        argv = [PYTHON, "-c", "pass"]

        def native():
            if not os.path.exists(PYTHON):
                raise Skip("%s is not installed" % PYTHON)
            res["native"] = self.hyperfine("python-native", argv)
            return row("native python3 -c pass", ms(res["native"]), "(baseline)", "", "")

        def mote():
            self.run_checked(self.mote_cmd(*argv))  # builds the image once
            res["mote"] = self.hyperfine("python-mote", self.mote_cmd(*argv))
            m = res["mote"]["median"]
            ratio, verd = "n/a", "n/a"
            if "native" in res:
                r = m / res["native"]["median"]
                ratio, verd = "%s native" % times(r), verdict(r <= GOAL_PYTHON_RATIO)
            return row("mote run python3 -c pass", ms(res["mote"]), ratio,
                       "<= %gx native" % GOAL_PYTHON_RATIO, verd)

        def min_mem():
            def runs(mib):
                rc, _out, _err = self.run([self.mote, "run", "--mem", "%dM" % mib, *argv])
                return rc == 0
            lo, hi = 1, 256  # runs(hi) must hold
            if not runs(hi):
                raise Failure("python3 -c pass does not run even with --mem %dM" % hi)
            while lo < hi:
                mid = (lo + hi) // 2
                if runs(mid):
                    hi = mid
                else:
                    lo = mid + 1
            res["min_mem_mib"] = lo
            self.commands.append(("python-min-mem", "binary search: %s" % shlex.join(
                [self.mote, "run", "--mem", "NM", *argv])))
            return row("smallest --mem for python3 -c pass", "%d MiB" % lo, "",
                       "<= %d MiB" % GOAL_PYTHON_MEM_MIB, verdict(lo <= GOAL_PYTHON_MEM_MIB))

        def packing():
            hits = []
            cmd = [self.mote, "run", "--verbose", *argv]
            for _ in range(HF_RUNS):
                _out, err = self.run_checked(cmd)
                m = re.search(r"cache hit, ([0-9.]+) ms", err)
                if not m:
                    raise Failure("%s: no cache-hit report in --verbose output:\n%s" % (
                        shlex.join(cmd), tail(err)))
                hits.append(float(m.group(1)))
            with tempfile.TemporaryDirectory() as d:
                _out, err = self.run_checked(cmd, extra_env={"MOTE_CACHE_DIR": d})
                m = re.search(r"\(([0-9.]+) MiB, built, ([0-9.]+) ms\)", err)
                cold = "built %s MiB in %s ms" % (m.group(1), m.group(2)) if m else "n/a"
            med = statistics.median(hits)
            res["cache_hit_ms"] = hits
            res["cold"] = cold
            self.commands.append(("python-packing", "%d x: %s (monitor's report)" % (
                HF_RUNS, shlex.join(cmd))))
            return row("packing on a repeated run (cache hit)", "%.2f ms" % med,
                       "cold: %s" % cold, "~0 (cache hit)", verdict(med < 2.0))

        self.guarded(rows, "native python3", native)
        if "native" in res:
            self.guarded(rows, "mote run python3", mote, kind="mote")
            self.guarded(rows, "min --mem python3", min_mem, kind="mote")
            self.guarded(rows, "python packing", packing, kind="mote")
        self.sections.append((
            "python3 (dynamic, ~1,500 files): start-up, memory, packing",
            "hyperfine -N, %d warm-up runs, median of %d runs; --mem found by bisection" % (
                HF_WARMUP, HF_RUNS), rows))

    def syscall_figure(self, key, label, argv, extra_env=None, exc=Failure):
        vals = []
        for _ in range(SYS_REPS):
            m, _err = self.run_checked(
                argv, extra_env, exc=exc,
                stdout_re=r"getppid_loop mode=(\w+) n=(\d+) ns_per_call=([0-9.]+) ppid=(-?\d+)\n")
            if m.group(1) != argv[-1] or m.group(2) != argv[-2]:
                raise exc("%s: printed %r for another mode or N" % (show(argv, extra_env),
                                                                     m.group(0)))
            vals.append(float(m.group(3)))
        med = statistics.median(vals)
        self.results.setdefault("syscall", {})[key] = {"median_ns": med, "runs_ns": vals}
        self.commands.append((key, "%d x: %s" % (SYS_REPS, show(argv, extra_env))))
        log("%s: %.1f ns/call (runs: %s)" % (label, med, ", ".join("%.1f" % v for v in vals)))
        return med

    def syscalls(self):
        rows = []
        res = self.results.setdefault("syscall", {})
        n = str(SYS_N)

        def native(mode):
            def f():
                v = self.syscall_figure("native-" + mode, "native " + mode,
                                        [self.loop, n, mode])
                return row("native, %s" % MODE_LABEL[mode], ns(v), "(baseline)", "", "")
            return f

        def mote(mode, key, label, extra_env=None, goal=None):
            def f():
                argv = self.mote_cmd(self.loop, n, mode)
                v = self.syscall_figure(key, label, argv, extra_env)
                base = res.get("native-" + mode, {}).get("median_ns")
                if base is None:
                    return row(label, ns(v), "n/a", "", "")
                r = v / base
                if goal is None:
                    return row(label, ns(v), "%s native" % times(r), "", "-")
                return row(label, ns(v), "%s native" % times(r),
                           "<= %gx native" % goal, verdict(r <= goal))
            return f

        def gvisor():
            argv = self.gvisor_cmd(self.loop, str(SYS_N_GVISOR), "wrapper")
            v = self.syscall_figure("gvisor-wrapper", "gVisor wrapper", argv, exc=Skip)
            base = res.get("native-wrapper", {}).get("median_ns")
            ratio = "%s native" % times(v / base) if base else "n/a"
            mv = res.get("mote-wrapper", {}).get("median_ns")
            if mv:
                ratio += "; mote %s faster" % times(v / mv)
            return row("gVisor runsc do, getppid()", ns(v), ratio, "", "-")

        self.guarded(rows, "native, getppid()", native("wrapper"))
        self.guarded(rows, "native, syscall(SYS_getppid)", native("syscall"))
        self.guarded(rows, "mote run, getppid() (rewritten)",
                     mote("wrapper", "mote-wrapper", "mote run, getppid() (rewritten)",
                          goal=GOAL_SYSCALL_RATIO), kind="mote")
        self.guarded(rows, "mote run, getppid(), MOTE_NO_REWRITE=1 (SIGSYS)",
                     mote("wrapper", "mote-wrapper-sigsys",
                          "mote run, getppid(), MOTE_NO_REWRITE=1 (SIGSYS)",
                          extra_env={"MOTE_NO_REWRITE": "1"}), kind="mote")
        self.guarded(rows, "mote run, syscall(SYS_getppid)",
                     mote("syscall", "mote-syscall", "mote run, syscall(SYS_getppid)"),
                     kind="mote")
        self.guarded(rows, "gVisor runsc do, getppid()", gvisor, kind="gvisor")
        self.sections.append((
            "Null syscall: getppid, ns per call",
            "timed inside the program with clock_gettime(CLOCK_MONOTONIC) after a warm-up of "
            "N/100 calls; N=%d (gVisor: N=%d); median of %d runs"
            % (SYS_N, SYS_N_GVISOR, SYS_REPS), rows))

    def thread_figure(self, key, label, argv, extra_env=None, exc=Failure):
        """THREAD_REPS runs of a threads_bench command: median ns per operation
        (spin_sum: elapsed ns of the whole sum; its checksum must not change)."""
        spin = argv[-3] == "spin_sum"
        mode, threads, n = (argv[-3], argv[-2], argv[-1]) if spin else (argv[-2], None, argv[-1])
        vals = []
        for _ in range(THREAD_REPS):
            m, _err = self.run_checked(
                argv, extra_env, exc=exc,
                stdout_re=r"threads_bench mode=(\w+) threads=(\d+) n=(\d+) ns=([0-9.]+) "
                          r"ns_per_op=([0-9.]+)(?: checksum=(0x[0-9a-f]+))?\n")
            if m.group(1) != mode or m.group(3) != n or (spin and m.group(2) != threads) \
                    or spin != bool(m.group(6)):
                raise exc("%s: printed %r for another mode, N or thread count" % (
                    show(argv, extra_env), m.group(0)))
            if spin:
                # The same sum (iterations) gives the same checksum on every run.
                sums = self.results.setdefault("threads", {}).setdefault("spin_checksums", {})
                want = sums.setdefault(n, m.group(6))
                if m.group(6) != want:
                    raise exc("%s: wrong output: checksum %s, other runs printed %s" % (
                        show(argv, extra_env), m.group(6), want))
                vals.append(float(m.group(4)))
            else:
                vals.append(float(m.group(5)))
        med = statistics.median(vals)
        self.results.setdefault("threads", {})[key] = {"median_ns": med, "runs_ns": vals}
        self.commands.append((key, "%d x: %s" % (THREAD_REPS, show(argv, extra_env))))
        log("%s: %.1f ns (runs: %s)" % (label, med, ", ".join("%.1f" % v for v in vals)))
        return med

    def threads(self):
        """Issue 5's figures: thread create+join, futex and sched_yield hand-offs
        between two threads (mote with --cpus 2, native free to use every host CPU),
        and the speedup of a CPU-bound 2-thread program from 1 to 2 (v)CPUs."""
        rows = []
        res = self.results.setdefault("threads", {})
        prog = self.threads_prog
        two_cpus = None
        if len(self.host_cpus) < 2:
            two_cpus = "this host has %d CPU available to the benchmark; two threads " \
                       "cannot run at the same time" % len(self.host_cpus)
        ratio_goal = "ratio vs native (issue 5)"

        def needs_two(label, goal=""):
            """None, or the row that says why label could not be measured here."""
            if not two_cpus:
                return None
            self.skip(label, two_cpus)
            return row(label, "SKIP", "needs 2 host CPUs, %d available here"
                       % len(self.host_cpus), goal, "SKIP (1 host CPU)")

        def native(key, what, mode, n):
            label = "native, %s" % what
            def f():
                v = self.thread_figure("native-" + key, label, [prog, mode, str(n)])
                return row(label, ns(v), "(baseline)", "", "")
            return label, f

        def mote(key, what, mode, n):
            label = "mote run --cpus 2, %s" % what
            def f():
                skipped = needs_two(label, ratio_goal)
                if skipped:
                    return skipped
                v = self.thread_figure("mote-" + key, label,
                                       self.mote_cpus_cmd(2, prog, mode, str(n)))
                base = res.get("native-" + key, {}).get("median_ns")
                return row(label, ns(v), "%s native" % times(v / base) if base else "n/a",
                           ratio_goal, "-")
            return label, f

        def gvisor(key, what, mode, n):
            label = "gVisor runsc do, %s" % what
            def f():
                v = self.thread_figure("gvisor-" + key, label,
                                       self.gvisor_cmd(prog, mode, str(n)), exc=Skip)
                base = res.get("native-" + key, {}).get("median_ns")
                ratio = "%s native" % times(v / base) if base else "n/a"
                mv = res.get("mote-" + key, {}).get("median_ns")
                if mv:
                    ratio += "; mote %s faster" % times(v / mv)
                return row(label, ns(v), ratio, "", "-")
            return label, f

        for key, what, mode, n, n_gvisor in (
                ("create-join", "thread create+join", "create_join", CREATE_N,
                 CREATE_N_GVISOR),
                ("futex-pingpong", "futex wake round trip (2 threads)", "futex_pingpong",
                 PINGPONG_N, PINGPONG_N_GVISOR),
                ("yield-pingpong", "sched_yield ping-pong round trip (2 threads)",
                 "yield_pingpong", YIELD_N, None)):
            self.guarded(rows, *native(key, what, mode, n))
            self.guarded(rows, *mote(key, what, mode, n), kind="mote")
            if n_gvisor:
                self.guarded(rows, *gvisor(key, what, mode, n_gvisor), kind="gvisor")

        # 2-vCPU speedup: the same 2-thread spin_sum on one (v)CPU and on two.
        spin = ["spin_sum", "2", str(SPIN_ITER)]

        def spin_row(key, label, argv, ratio_of):
            def f():
                skipped = needs_two(label)
                if skipped:
                    return skipped
                v = self.thread_figure(key, label, argv)
                return row(label, "%.1f ms" % (v / 1e6), ratio_of(v), "",
                           "" if key.startswith("native") else "-")
            return label, f

        def per_native(native_key):
            def ratio(v):
                base = res.get(native_key, {}).get("median_ns")
                return "%s native" % times(v / base) if base else "n/a"
            return ratio

        def speedup(one, two):
            a, b = res.get(one, {}).get("median_ns"), res.get(two, {}).get("median_ns")
            return a / b if a and b else None

        def native_speedup(_v):
            sp = res["speedup_native"] = speedup("native-spin-1cpu", "native-spin-2cpu")
            return "speedup %s over 1 CPU" % times(sp) if sp else "n/a"

        speedup_label = "2-vCPU speedup: mote --cpus 1 time / --cpus 2 time"

        def mote_speedup():
            label = speedup_label
            goal = ">= %gx" % GOAL_SPEEDUP_2CPU
            skipped = needs_two(label, goal)
            if skipped:
                return skipped
            nat = res.get("speedup_native")
            base = "native 1 -> 2 CPUs: %s" % (times(nat) if nat else "n/a")
            sp = res["speedup_mote"] = speedup("mote-spin-1cpu", "mote-spin-2cpu")
            if sp is None:  # the failed spin_sum run is reported on its own row
                return row(label, "n/a", base, goal, "n/a (a spin_sum figure is missing)")
            return row(label, times(sp), base, goal, verdict(sp >= GOAL_SPEEDUP_2CPU))

        first_cpu = str(self.host_cpus[0])
        self.guarded(rows, *spin_row(
            "native-spin-1cpu", "native, spin_sum 2 threads on 1 CPU (taskset -c %s)" % first_cpu,
            ["taskset", "-c", first_cpu, prog, *spin], lambda _v: "(baseline)"))
        self.guarded(rows, *spin_row(
            "native-spin-2cpu", "native, spin_sum 2 threads, all host CPUs",
            [prog, *spin], native_speedup))
        self.guarded(rows, *spin_row(
            "mote-spin-1cpu", "mote run --cpus 1, spin_sum 2 threads",
            self.mote_cpus_cmd(1, prog, *spin), per_native("native-spin-1cpu")), kind="mote")
        self.guarded(rows, *spin_row(
            "mote-spin-2cpu", "mote run --cpus 2, spin_sum 2 threads",
            self.mote_cpus_cmd(2, prog, *spin), per_native("native-spin-2cpu")), kind="mote")
        self.guarded(rows, speedup_label, mote_speedup, kind="mote")

        # The VM platform under QEMU/TCG: the kernel's own SMP (-smp 1 vs 2).
        # TCG runs each vCPU on a host thread, so the ratio is meaningful; the
        # times are the emulator's (a quarter of the iterations, and as many
        # in a quick run: with fewer, ~30 ms, the fixed cost of TCG's first
        # translations hid the second vCPU -- 1.0x on this machine, 1.96x
        # with these).
        vm_spin = ["spin_sum", "2", str(VM_SPIN_ITER)]
        vm_label = "VM 2-vCPU speedup: --platform qemu (TCG) --cpus 1 / --cpus 2"

        def vm_cmd(cpus):
            return [self.mote, "run", "--platform", "qemu", "--cpus", str(cpus), prog, *vm_spin]

        def vm_speedup():
            goal = ">= %gx" % GOAL_SPEEDUP_2CPU
            skipped = needs_two(vm_label, goal)
            if skipped:
                return skipped
            sp = res["speedup_vm"] = speedup("vm-spin-1cpu", "vm-spin-2cpu")
            if sp is None:
                return row(vm_label, "n/a", "", goal, "n/a (a spin_sum figure is missing)")
            return row(vm_label, times(sp), "TCG: instructions emulated on host threads", goal,
                       verdict(sp >= GOAL_SPEEDUP_2CPU))

        if shutil.which("qemu-system-x86_64"):
            self.guarded(rows, *spin_row(
                "vm-spin-1cpu", "mote run --platform qemu --cpus 1, spin_sum 2 threads",
                vm_cmd(1), lambda _v: "(TCG)"), kind="mote")
            self.guarded(rows, *spin_row(
                "vm-spin-2cpu", "mote run --platform qemu --cpus 2, spin_sum 2 threads",
                vm_cmd(2), lambda _v: "(TCG)"), kind="mote")
            self.guarded(rows, vm_label, vm_speedup, kind="mote")
        else:
            self.skip(vm_label, "qemu-system-x86_64 not installed")
            rows.append(row(vm_label, "SKIP", "", "", "SKIP (no qemu-system-x86_64)"))
        self.sections.append((
            "Threads: create+join, futex and yield hand-offs, 2-vCPU speedup",
            "bench/programs/threads_bench.c, timed inside the program with "
            "clock_gettime(CLOCK_MONOTONIC) after a warm-up of N/100 (at least 100) operations; "
            "N create+joins: %d (gVisor: %d); N futex round trips: %d (gVisor: %d); N yield "
            "round trips: %d; the native "
            "program may use every host CPU, mote runs with the --cpus its row names; spin_sum: "
            "2 threads x %d/2 iterations (the VM under TCG: %d/2), first create to last join; "
            "median of %d runs"
            % (CREATE_N, CREATE_N_GVISOR, PINGPONG_N, PINGPONG_N_GVISOR, YIELD_N, SPIN_ITER,
               VM_SPIN_ITER, THREAD_REPS), rows))

    def peak_rss(self, key, argv, exc=Failure):
        vals = []
        full = [self.peakrss] + argv
        for _ in range(RSS_REPS):
            out, err = self.run_checked(full, stdout=HELLO_OUT, exc=exc)
            m = re.findall(r"^peakrss: maxrss_kb=(\d+) status=0$", err, re.M)
            if not m:
                raise exc("%s: no peakrss line in stderr\n%s" % (shlex.join(full), tail(err)))
            vals.append(int(m[-1]))
        med = statistics.median(vals)
        self.results.setdefault("rss", {})[key] = {"median_kb": med, "runs_kb": vals}
        self.commands.append(("rss-" + key, "%d x: %s" % (RSS_REPS, shlex.join(full))))
        log("peak RSS %s: %d KiB" % (key, med))
        return med

    def memory(self):
        rows = []
        res = self.results.setdefault("rss", {})

        def native():
            v = self.peak_rss("native", [self.hello])
            return row("native exec", kib(v), "(baseline)", "", "")

        def mote():
            v = self.peak_rss("mote", self.mote_cmd(self.hello))
            base = res.get("native", {}).get("median_kb")
            return row("mote run", kib(v), "%s native" % times(v / base) if base else "n/a",
                       "", "-")

        def gvisor():
            v = self.peak_rss("gvisor", self.gvisor_cmd(self.hello), exc=Skip)
            base = res.get("native", {}).get("median_kb")
            ratio = "%s native" % times(v / base) if base else "n/a"
            mv = res.get("mote", {}).get("median_kb")
            if mv:
                ratio += "; mote/gVisor %s" % times(mv / v)
            return row("gVisor runsc do", kib(v), ratio, "", "-")

        self.guarded(rows, "native exec", native)
        self.guarded(rows, "mote run", mote, kind="mote")
        self.guarded(rows, "gVisor runsc do", gvisor, kind="gvisor")
        self.sections.append((
            "Peak RSS of the whole command running hello",
            "ru_maxrss from wait4 (bench/programs/peakrss.c): the largest RSS of any one "
            "process of the tree, not a sum; median of %d runs" % RSS_REPS, rows))

    def elf_sizes(self, path):
        try:
            out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                                 check=True).stdout
        except (OSError, subprocess.CalledProcessError) as ex:
            raise Failure("readelf -lW %s: %s" % (path, ex))
        filesz = memsz = 0
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == "LOAD":
                filesz += int(f[4], 16)
                memsz += int(f[5], 16)
        if not memsz:
            raise Failure("readelf -lW %s: no PT_LOAD segment" % path)
        size_line = ""
        try:
            so = subprocess.run(["size", path], capture_output=True, text=True,
                                check=True).stdout.splitlines()
            size_line = so[1].split()[:3] if len(so) > 1 else ""
        except (OSError, subprocess.CalledProcessError):
            pass
        return {"file": os.path.getsize(path), "load_filesz": filesz, "load_memsz": memsz,
                "text_data_bss": [int(x) for x in size_line] if size_line else None}

    def core_size(self):
        rows = []
        res = self.results.setdefault("size", {})
        core = os.path.join(self.build, "mote-core-process")

        def fmt(s):
            return "%s loaded; file %s" % (size(s["load_memsz"]), size(s["file"]))

        def one(key, label, path):
            def f():
                s = self.elf_sizes(path)
                res[key] = s
                self.commands.append(("size-" + key, "stat -c %%s %s; readelf -lW %s; size %s"
                                      % (path, path, path)))
                return row(label, fmt(s), "(baseline)", "", "")
            return f

        def mote_core():
            if not os.path.exists(os.path.join(self.repo, core)):
                self.skip("core size", "%s not found (not built?)" % core)
                return row("mote-core-process", "MISSING", "", "", "MISSING")
            s = self.elf_sizes(core)
            res["core"] = s
            self.commands.append(("size-core", "stat -c %%s %s; readelf -lW %s; size %s"
                                  % (core, core, core)))
            parts = []
            for key, name in (("runsc", "runsc"), ("hello", "static hello")):
                if key in res:
                    parts.append("%s %s" % (times(s["load_memsz"] / res[key]["load_memsz"]),
                                            name))
            tdb = s["text_data_bss"]
            label = "mote-core-process"
            if tdb:
                label += " (text %s, data %s, bss %s)" % tuple(size(x) for x in tdb)
            return row(label, fmt(s), "loaded: " + ", ".join(parts) if parts else "n/a",
                       "", "-")

        self.guarded(rows, "static hello", one("hello", "static glibc hello", self.hello))
        if self.runsc:
            runsc = os.path.realpath(self.runsc)
            self.guarded(rows, "runsc", one("runsc", "gVisor runsc (Sentry + gofer)", runsc))
        else:
            self.skip("runsc size", "runsc not found")
            rows.append(row("gVisor runsc", "SKIP", "", "", "SKIP"))
        self.guarded(rows, "mote core", mote_core, kind="mote")
        self.sections.append((
            "Kernel core size",
            "\"loaded\" is the sum of the PT_LOAD segments' MemSiz (readelf -lW), \"file\" "
            "the file size; text/data/bss from size(1)", rows))

    # ------------------------------------------------------------ VM platform

    def qemu_kernel_cmd(self, ram, program, append, icount=True):
        """A plain QEMU microvm boot of the kernel image (docs/kernel-vm.md)."""
        cmd = ["qemu-system-x86_64", "-M", "microvm,pit=on,rtc=on", "-accel", "tcg"]
        if icount:
            # The guest's clock (and TSC) then counts executed instructions.
            cmd += ["-icount", "shift=0,sleep=off"]
        cmd += ["-m", ram, "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                "-kernel", os.path.join(self.build, "mote-kernel"), "-initrd", program,
                "-append", append]
        return cmd

    def qemu_status(self, argv):
        """Runs QEMU; the program's status from isa-debug-exit, and stdout."""
        rc, out, err = self.run(argv)
        if rc % 2 == 0:
            raise Failure("%s: QEMU status %d (no isa-debug-exit)\n%s" % (show(argv), rc, tail(err)))
        return (rc >> 1) & 0x7f, out

    def vm(self):
        rows = []
        res = self.results.setdefault("vm", {})
        if not shutil.which("qemu-system-x86_64"):
            self.skip("VM platform", "qemu-system-x86_64 not installed")
            self.sections.append(("VM platform (kernel under QEMU/TCG)", "SKIP", [
                row("all figures", "SKIP", "", "", "SKIP (no qemu-system-x86_64)")]))
            return

        def boot_insns():
            argv = self.qemu_kernel_cmd("64M", self.hello, "bootstats -- hello")
            status, out = self.qemu_status(argv)
            m = re.search(r"mote-bootstats: tsc at kernel entry (\d+), at program entry (\d+)", out)
            if status != 0 or not m or HELLO_OUT not in out:
                raise Failure("%s: status %d, output %r" % (show(argv), status, out[:300]))
            first, entry = int(m.group(1)), int(m.group(2))
            res["boot_insns"] = entry - first
            res["firmware_insns"] = first
            self.commands.append(("vm-boot-insns", show(argv)))
            return row("kernel entry -> program entry (static hello)",
                       "%d instructions" % (entry - first),
                       "firmware before the kernel: %d" % first,
                       "<= %d" % GOAL_BOOT_INSNS, verdict(entry - first <= GOAL_BOOT_INSNS))

        def syscall_insns():
            n = 20000
            argv = self.qemu_kernel_cmd("64M", self.loop, "-- getppid_loop %d wrapper" % n)
            status, out = self.qemu_status(argv)
            m = re.search(r"ns_per_call=([0-9.]+)", out)
            if status != 0 or not m:
                raise Failure("%s: status %d, output %r" % (show(argv), status, out[:300]))
            v = float(m.group(1))
            res["syscall_insns"] = v
            self.commands.append(("vm-syscall-insns", show(argv)))
            return row("getppid() round trip (loop included)", "%.0f instructions" % v,
                       "", "<= %d" % GOAL_SYSCALL_INSNS, verdict(v <= GOAL_SYSCALL_INSNS))

        def min_ram(prog, what, compressed=False):
            found = None
            initrd = prog
            if compressed:
                # As `gzip -9 < PROGRAM`: the kernel decompresses it into the
                # RAM the module gives back as it goes (kernel/platform/kvm/initrd.cc).
                initrd = os.path.join(self.bdir, os.path.basename(prog) + ".gz")
                with open(prog, "rb") as f, open(initrd, "wb") as g:
                    g.write(gzip.compress(f.read(), 9, mtime=0))
            # From 2 MiB: with 1, there is no RAM at 1 MiB for the kernel at all
            # (QEMU then runs the firmware into the void, until a timeout).
            for mib in (2, 3, 4, 8):
                argv = self.qemu_kernel_cmd("%dM" % mib, initrd, "-- hello", icount=False)
                rc, out, _ = self.run(argv)
                if rc % 2 == 1 and (rc >> 1) & 0x7f == 0 and out == HELLO_OUT:
                    found = mib
                    self.commands.append(("vm-min-ram-" + what + ("-gzip" if compressed else ""),
                                          show(argv)))
                    break
            if found is None:
                raise Failure("%s did not run under QEMU with up to 8 MiB" % initrd)
            res.setdefault("min_ram_mib", {})[what + (" gzip" if compressed else "")] = found
            # QEMU puts the initrd (the program) at the top of RAM and the
            # kernel is linked at 1 MiB (Firecracker loads nothing lower):
            # both must fit between the two.
            if compressed:
                return row("minimum guest RAM for static hello on %s, gzip initrd (qemu -m)" % what,
                           "%d MiB" % found, "initrd %s (gzip -9 of %s), decompressed at boot"
                           % (size(os.path.getsize(initrd)), size(os.path.getsize(prog))),
                           "<= %d MiB" % GOAL_MIN_RAM_MIB, verdict(found <= GOAL_MIN_RAM_MIB))
            goal = "<= %d MiB" % GOAL_MIN_RAM_MIB
            note = "program image %s, in RAM above the kernel at 1 MiB" % size(os.path.getsize(prog))
            if what == "glibc":
                # The goal is met by the gzip row below; this one shows why it is needed.
                goal, note = "", note + " (the gzip row meets the goal)"
            return row("minimum guest RAM for static hello on %s (qemu -m)" % what, "%d MiB" % found,
                       note, goal, verdict(found <= GOAL_MIN_RAM_MIB) if goal else "-")

        def kernel_size():
            path = os.path.join(self.build, "mote-kernel")
            s = self.elf_sizes(path)
            res["kernel"] = s
            kib = s["load_memsz"] / 1024
            return row("kernel image (mote-kernel)", "%s loaded; file %s" % (
                size(s["load_memsz"]), size(s["file"])), "", "<= %d KiB" % GOAL_KERNEL_KIB,
                verdict(kib <= GOAL_KERNEL_KIB))

        def cold_start():
            argv = self.mote_cmd(self.hello)
            qargv = [self.mote, "run", "--platform", "qemu", self.hello]
            self.run_checked(qargv, stdout=HELLO_OUT)
            q = self.hyperfine("startup-qemu", qargv)
            res["qemu_start"] = q
            ratio = "n/a"
            if "startup" in self.results and "mote" in self.results["startup"]:
                ratio = "%s the process platform" % times(q["median"] / self.results["startup"]["mote"]["median"])
            return row("mote run --platform qemu (TCG), whole process", ms(q), ratio, "", "-")

        def kvm_monitor():
            if not os.path.exists("/dev/kvm"):
                self.skip("KVM monitor timings", "no /dev/kvm on this host")
                return row("mote's KVM monitor: start -> first guest instruction, RSS", "SKIP",
                           "no /dev/kvm here", "<= 2 ms, <= 5 MiB", "SKIP (no KVM)")
            drv = os.path.join(self.build, "mote-vm-test")
            guest = os.path.join(self.build, "tests", "vm", "guest", "hello.elf")
            firsts, peaks = [], []
            for _ in range(KVM_RUNS):
                rc, out, err = self.run([drv, "--timing", guest])
                if rc == 77:
                    self.skip("KVM monitor timings", "KVM unusable: " + err.strip()[:200])
                    return row("mote's KVM monitor: start -> first guest instruction, RSS", "SKIP",
                               "", "<= 2 ms, <= 5 MiB", "SKIP (KVM unusable)")
                text = out + err
                first = re.search(r"main\(\) -> first guest instruction[^:]*: (\d+) us", text)
                rss = re.search(r"monitor RSS \d+ KiB now, peak (\d+) KiB", text)
                if rc != 42 or not first or not rss:  # the guest exits with 42
                    raise Failure("%s --timing %s: status %d, output %r" % (drv, guest, rc,
                                                                             text[-500:]))
                firsts.append(int(first.group(1)))
                peaks.append(int(rss.group(1)))
            us, kib = statistics.median(firsts), max(peaks)
            kvm = "kvm_pvm (ring 0 emulated)" if os.path.exists("/sys/module/kvm_pvm") else "KVM"
            res["kvm_monitor"] = {"first_instruction_us": us, "runs_us": firsts,
                                  "peak_rss_kib": kib, "kvm": kvm}
            return row("mote's KVM monitor: start -> first guest instruction, RSS",
                       "%.2f ms (%.2f-%.2f), %d KiB" % (us / 1000, min(firsts) / 1000,
                                                        max(firsts) / 1000, kib),
                       "on %s; median of %d runs" % (kvm, KVM_RUNS), "<= 2 ms, <= 5 MiB",
                       verdict(us <= 2000 and kib <= 5 * 1024))

        self.guarded(rows, "boot instructions", boot_insns, kind="mote")
        self.guarded(rows, "syscall instructions", syscall_insns, kind="mote")
        self.guarded(rows, "minimum RAM (musl)",
                     lambda: min_ram(self.hello_musl, "musl"), kind="mote")
        self.guarded(rows, "minimum RAM (glibc)",
                     lambda: min_ram(self.hello, "glibc"), kind="mote")
        self.guarded(rows, "minimum RAM (glibc, gzip initrd)",
                     lambda: min_ram(self.hello, "glibc", compressed=True), kind="mote")
        self.guarded(rows, "kernel size", kernel_size, kind="mote")
        self.guarded(rows, "qemu cold start", cold_start, kind="mote")
        self.guarded(rows, "KVM monitor", kvm_monitor, kind="mote")
        self.sections.append((
            "VM platform: the kernel under QEMU microvm (TCG)",
            "instruction counts with QEMU -icount shift=0,sleep=off, where the guest's TSC and "
            "clock count executed instructions (deterministic); the PVH kernel prints its TSC at "
            "entry and at the program's first instruction (`bootstats`); getppid_loop's ns per "
            "call are then instructions per call", rows))

    # ----------------------------------------------------------------- report

    def machine(self):
        cpu = "unknown"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = ""
        try:
            with open("/proc/meminfo") as f:
                kb = int(f.readline().split()[1])
                mem = "%.0f GiB" % (kb / 1024 / 1024)
        except (OSError, ValueError, IndexError):
            pass

        def ver(argv):
            try:
                return subprocess.run(argv, capture_output=True, text=True,
                                      timeout=20).stdout.splitlines()[0].strip()
            except (OSError, IndexError, subprocess.SubprocessError):
                return "n/a"

        rev = ver(["git", "-C", self.repo, "rev-parse", "--short", "HEAD"])
        if rev == "n/a":
            rev = "no commit yet"
        if ver(["git", "-C", self.repo, "status", "--porcelain", "--untracked-files=no"]) != "n/a":
            rev += " (with uncommitted changes)"
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(),
            "cpu": cpu,
            "memory": mem,
            "kernel": "%s %s" % (platform.system(), platform.release()),
            "mote_rev": rev,
            "hyperfine": ver(["hyperfine", "--version"]),
            "runsc": ver([self.runsc, "--version"]) if self.runsc else "not installed",
            "gcc": ver(["gcc", "--version"]),
        }

    def print_table(self, mach):
        out = []
        out.append("")
        out.append("mote benchmark  %s  |  %s x %s, %s  |  mote %s" % (
            mach["date"], mach["nproc"], mach["cpu"], mach["kernel"], mach["mote_rev"]))
        out.append("(wall-clock timings on a %s-core VM)" % mach["nproc"])
        allrows = [r for _, _, rows in self.sections for r in rows]
        w = [max([len(r[i]) for r in allrows] + [len(h)]) for i, h in enumerate(HEADER)]
        for title, method, rows in self.sections:
            out.append("")
            out.append("== %s" % title)
            out.append("   %s" % method)
            out.append("   " + "  ".join(h.ljust(w[i]) for i, h in enumerate(HEADER)).rstrip())
            for r in rows:
                out.append("   " + "  ".join(
                    c.ljust(w[i]) for i, c in enumerate(r)
                ).rstrip())
        out.append("")
        if self.skips:
            out.append("SKIPPED:")
            out += ["  - " + s.splitlines()[0] for s in self.skips]
        if self.failures:
            out.append("FAILED (the figures above are incomplete):")
            out += ["  - " + s.splitlines()[0] for s in self.failures]
        print("\n".join(out), flush=True)

    def write_docs(self, mach):
        L = []
        L.append("# Performance")
        L.append("")
        L.append("Written by `bench/run.sh` (`make bench`); do not edit by hand, re-run it.")
        L.append("")
        if self.baselines_only:
            L.append("**This run measured the baselines only (`--baselines-only`): mote itself "
                     "was not built yet. Run `make bench` to fill in the mote figures.**")
            L.append("")
        L.append("- Date: %s" % mach["date"])
        L.append("- Machine: %s CPUs (`nproc`), %s, %s RAM, kernel %s" % (
            mach["nproc"], mach["cpu"], mach["memory"], mach["kernel"]))
        L.append("- mote revision: `%s`" % mach["mote_rev"])
        if QUICK:
            L.append("- Quick run (`QUICK=1`): fewer runs per figure than a plain `make bench`; "
                     "each section's method gives the counts")
        L.append("- Tools: %s; %s; %s" % (mach["hyperfine"], mach["runsc"], mach["gcc"]))
        if self.mote_flags:
            L.append("- Extra `mote run` options for this run (MOTE_RUN_FLAGS): `%s`%s" % (
                shlex.join(self.mote_flags), os.environ.get("BENCH_FLAGS_WHY", "")))
        if hasattr(self, "t_start"):
            took = time.monotonic() - self.t_start
            L.append("- This run took %.0f s (bench/run.sh after the build)%s" % (
                took, "; issue 8: `make bench QUICK=1` in under 180 s: %s" % (
                    verdict(took < 180)) if QUICK else ""))
        L.append("")
        L.append("Timings are wall-clock times on a %s-core VM: run-to-run noise of 10-20%% "
                 "is usual here, so compare figures of the same run. Goals are checked by the "
                 "benchmark but never fail it; a command that fails or prints the wrong output "
                 "does." % mach["nproc"])
        L.append("")
        why = self.chart(mach)
        if why:
            L.append("No chart in this run: %s." % why)
        else:
            L.append("![Headline ratios of this run](performance.png)")
            L.append("")
            L.append("[performance.png](performance.png): the headline ratios of this run "
                     "(bench/chart.py; the same figures as the tables below).")
        L.append("")
        L += self.goal_summary()
        for title, method, rows in self.sections:
            L.append("## %s" % title)
            L.append("")
            L.append("Method: %s." % method)
            L.append("")
            L.append("| " + " | ".join(HEADER) + " |")
            L.append("|" + "|".join(["---", "---:", "---", "---", "---"]) + "|")
            for r in rows:
                L.append("| " + " | ".join(c.replace("|", "\\|") or " " for c in r) + " |")
            L.append("")
        if self.skips:
            L.append("Skipped:")
            L.append("")
            L += ["- " + s.splitlines()[0] for s in self.skips]
            L.append("")
        L.append("## Commands")
        L.append("")
        L.append("Run from the repository root after `bench/run.sh` built the programs "
                 "(`gcc -O2 -static -pthread bench/programs/X.c -o %s/X`):" % self.bdir)
        L.append("")
        L.append("```")
        for name, cmd in self.commands:
            L.append("# %s" % name)
            L.append(cmd)
        L.append("```")
        L.append("")
        L.append("## Method notes")
        L.append("")
        L.append("- Start-up: hyperfine runs each command directly (`-N`, no shell); every "
                 "command is first run once and its stdout compared with the expected "
                 "`hello from mote bench`.")
        L.append("- Null syscall: `bench/programs/getppid_loop.c`. `getppid()` goes through "
                 "glibc's wrapper, whose `mov $110,%eax; syscall` is the site mote's rewriter "
                 "patches; `syscall(SYS_getppid)` goes through glibc's generic `syscall()` "
                 "(number in a register). `MOTE_NO_REWRITE=1` in mote's environment turns "
                 "rewriting off, so every call takes the SIGSYS path. A warm-up of N/100 calls "
                 "(at least 1,000) runs before the timed loop, so the first SIGSYS and the "
                 "patching of the site are not in the figure. The two `clock_gettime` reads "
                 "around the loop (through the vDSO mote gives programs) "
                 "add their cost divided by N.")
        L.append("- Threads: `bench/programs/threads_bench.c` (issue 5). create+join is "
                 "`pthread_create` + `pthread_join` of a thread that returns at once (glibc "
                 "reuses the stack). The futex round trip is two hand-offs of one word between "
                 "two threads, each a store, a `FUTEX_WAKE` and a `FUTEX_WAIT` (private) until "
                 "the word changes; the yield ping-pong is the same with an atomic turn word and "
                 "`sched_yield()` while waiting. Under `mote run --cpus 2` each thread is a host "
                 "thread and the two may run on different host CPUs, as natively. spin_sum splits "
                 "a fixed count of integer mixing steps over 2 threads that share no written "
                 "memory; its checksum must be the same in every run. The 2-vCPU speedup is the "
                 "median time under `--cpus 1` over the median under `--cpus 2`; the native "
                 "figure beside it is the same program under `taskset -c` one CPU over "
                 "unrestricted. On this 2-CPU VM anything else running competes for the second "
                 "CPU, which bounds both speedups.")
        L.append("- Peak RSS: `ru_maxrss` is the high-water mark of one process (the child or "
                 "one of the descendants it waited for), not the sum over processes running at "
                 "the same time; it includes the few hundred KiB of the launcher's forked "
                 "child before exec, for every row alike. gVisor's figure is therefore a lower "
                 "bound of its footprint.")
        L.append("- Network (bench/net_bench.py, issue 6): each server is started, asked until "
                 "it answers (redis PING, nginx's page), measured by a client on the host, and "
                 "stopped. Under `-p` the client's connection is accepted by libslirp in "
                 "mote-net on 127.0.0.1 and relayed as Ethernet frames to the guest's TCP/IP "
                 "stack; natively it is the host's loopback. gVisor runs only with "
                 "`--network=none` here, so its redis-server and redis-benchmark both run "
                 "inside one `runsc do` sandbox (the client's own cost is in that figure, and "
                 "-n is smaller). The tap figure creates a network namespace with a tap device "
                 "(host side 10.0.2.2/24), runs `mote run --net tap:NAME` and the client in it, "
                 "and deletes the namespace afterwards. CPU per request is utime+stime from "
                 "/proc over the measured runs divided by the requests the clients counted; "
                 "peak RSS is the largest VmHWM of the server's processes. Both clients share "
                 "the 2 CPUs with the server.")
        L.append("- Files: natively the file is on tmpfs (/dev/shm) or, for the share, a file "
                 "in a host temporary directory read through the page cache; under mote the "
                 "program's /tmp is the kernel's in-memory file system and `-v DIR:/data` "
                 "goes through the share protocol to the monitor process (docs/shares.md). "
                 "Page faults: natively each is a host kernel fault; this VM's nested paging "
                 "makes them tens of microseconds here, so compare ratios.")
        L.append("- Density: PSS (proportional set size) splits each shared page between the "
                 "processes mapping it, so the sum over N instances is what N of them cost "
                 "together; MemAvailable's fall over the start of the N is printed beside it "
                 "as a cross-check (it also moves with everything else on the host). A plain "
                 "`mote run` of a static program leaves one process (the core); a run with a "
                 "`-v` share keeps the monitor process, reported on its own row.")
        L.append("- Linux guest (bench/guest_bench.py): Debian's kernel is used as packaged "
                 "(not installed: `apt-get download` + `dpkg-deb -x` into the build "
                 "directory, once). `-M microvm` with QEMU's default CPU hangs in its TSC "
                 "calibration under TCG; `-cpu max` with `tsc=unstable` boots, as "
                 "seen on the development machines. No TCG plugin (libinsn.so) ships with Debian's "
                 "QEMU 7.2, hence -icount. There is no hardware virtualization here, so both "
                 "guests are emulated by TCG.")
        L.append("- Syscall cycles: where `perf stat -e cycles` says `<not supported>` the VM "
                 "exposes no performance counters to this guest; callgrind cannot follow "
                 "`mote run` because mote reserves a fixed address range for its core, which "
                 "valgrind's own mappings occupy (the row quotes mote's message).")
        L.append("- Core size: \"loaded\" is the sum of the PT_LOAD segments' MemSiz (what "
                 "mapping the ELF takes, bss included); the ratio compares that figure. gVisor's "
                 "`runsc` binary holds its whole Sentry kernel, gofer and CLI.")
        L.append("")
        path = os.path.join(self.repo, "docs", "performance.md")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(L))
        log("wrote docs/performance.md")

    def main(self):
        # BENCH_SECTIONS=a,b runs only those (a check while working on one section;
        # docs/performance.md is then left as it was).
        only = [s for s in os.environ.get("BENCH_SECTIONS", "").split(",") if s]
        sections = {"startup": self.startup, "python": self.python,
                    "syscalls": self.syscalls,
                    "syscall_cycles": lambda: guest_bench.syscall_cycles(self),
                    "threads": self.threads,
                    "files": lambda: resources_bench.files(self),
                    "memory": self.memory,
                    "footprint": lambda: resources_bench.footprint(self),
                    "core_size": self.core_size, "vm": self.vm,
                    "guest": lambda: guest_bench.linux_guest(self),
                    "network": lambda: net_bench.network(self),
                    "vm_network": lambda: vm_net_bench.vm_network(self),
                    "robustness": lambda: robust_bench.robustness(self)}
        unknown = [s for s in only if s not in sections]
        if unknown:
            log("unknown BENCH_SECTIONS %s (choose from %s)" % (
                ",".join(unknown), ",".join(sections)))
            return 2
        # The Linux guest boots for ~45 s under TCG: QUICK=1 boots it in the
        # background from the first section after the wall-clock ones (start-up,
        # python, syscalls, threads: a busy core beside them skews their figures),
        # and its section collects it; a full run boots it in its section, alone.
        background_guest = QUICK and (not only or "guest" in only)
        t_all = self.t_start = time.monotonic()
        for name, fn in sections.items():
            if background_guest and name not in ("startup", "python", "syscalls",
                                                 "syscall_cycles", "threads"):
                guest_bench.start(self)
                background_guest = False
            if not only or name in only:
                t0 = time.monotonic()
                fn()
                log("section %s: %.1f s (%.1f s since the start)" % (
                    name, time.monotonic() - t0, time.monotonic() - t_all))
        mach = self.machine()
        self.results["machine"] = mach
        self.results["quick"] = QUICK
        self.results["skips"] = self.skips
        self.results["failures"] = self.failures
        with open(os.path.join(self.repo, self.bdir, "results.json"), "w") as f:
            json.dump(self.results, f, indent=2)
        self.print_table(mach)
        if only:
            log("BENCH_SECTIONS=%s: docs/performance.md not updated" % ",".join(only))
            return 1 if self.failures else 0
        if self.failures:
            print("\nbench: FAILED: %d measured command(s) failed; details:" % len(self.failures))
            for fl in self.failures:
                print("  - " + fl)
            print("bench: docs/performance.md not updated.")
            return 1
        self.write_docs(mach)
        return 0

    def goal_summary(self):
        """The figures that have a goal from the issues, beside it, and the rows of
        this run without a figure, with the reason their row gives."""
        L = ["## Goals from the issues and this run's figures", "",
             "| Figure | Goal | This run | Ratio | Result |", "|---|---|---:|---|---|"]
        missing = []
        for title, _method, rows in self.sections:
            for r in rows:
                if r[3]:
                    L.append("| %s | %s | %s | %s | %s |" % tuple(
                        c.replace("|", "\\|") or " " for c in (r[0], r[3], r[1], r[2], r[4])))
                if r[1] in ("SKIP", "not measured", "FAILED", "MISSING") or \
                        "no figure" in r[4]:
                    missing.append("- %s, %s: %s" % (title.split(":")[0], r[0],
                                                      r[2] or r[4] or r[1]))
        L.append("")
        if missing:
            L += ["Rows without a figure in this run, and why:", ""] + missing + [""]
        return L

    def chart(self, mach):
        """docs/performance.png from this run's results (bench/chart.py); None, or why
        there is no chart."""
        path = os.path.join(self.repo, "docs", "performance.png")
        why = chart.draw(chart.headlines(self.results), path,
                         "mote benchmark %s, %s CPUs %s%s: ratio to baseline" % (
                             mach["date"], mach["nproc"], mach["cpu"],
                             " (QUICK=1)" if QUICK else ""))
        if why:
            self.skip("chart", why)
        else:
            log("wrote docs/performance.png")
        return why


HEADER = ("Figure", "Value", "Ratio vs baseline", "Goal", "Result")
MODE_LABEL = {"wrapper": "getppid()", "syscall": "syscall(SYS_getppid)"}


def row(*cells):
    return tuple(cells)


def show(argv, extra_env=None):
    env = " ".join("%s=%s" % kv for kv in (extra_env or {}).items())
    return (env + " " if env else "") + shlex.join(argv)


def verdict(ok):
    return "goal met" if ok else "goal missed"


def times(r):
    if r >= 100:
        return "%.0fx" % r
    if r >= 10:
        return "%.1fx" % r
    if r >= 0.1:
        return "%.2fx" % r
    return "%.3fx" % r


def ms(h):
    return "%.2f ms (%.2f +- %.2f)" % (h["median"] * 1e3, h["mean"] * 1e3, h["stddev"] * 1e3)


def spread(vals, unit):
    """'[min X, max Y]' of a figure's runs, flagged 'noisy' when max - min is over
    20% of the median (issue 8: noisy results flagged)."""
    if len(vals) < 2:
        return "[1 run]"
    lo, hi, med = min(vals), max(vals), statistics.median(vals)
    noisy = med and (hi - lo) / med > NOISY
    return "[min %s, max %s%s]" % (unit(lo), unit(hi), "; NOISY" if noisy else "")


def ns(v):
    return "%.1f ns" % v


def kib(v):
    return "%d KiB" % v


def size(b):
    if b >= 1 << 20:
        return "%.2f MiB" % (b / (1 << 20))
    if b >= 1 << 10:
        return "%.1f KiB" % (b / (1 << 10))
    return "%d B" % b


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--baselines-only", action="store_true",
                    help="measure native and gVisor only (mote not built yet)")
    a = ap.parse_args()
    return Bench(os.path.abspath(a.repo), a.build, a.baselines_only).main()


# bench/net_bench.py imports its helpers from here: one module, not a second copy
# of this script under the name "bench" (whose Failure the guards would not catch).
sys.modules.setdefault("bench", sys.modules[__name__])
import net_bench  # noqa: E402  (the network section, issue 6)
import resources_bench  # noqa: E402  (files, page faults, footprint: issue 8)
import guest_bench  # noqa: E402  (Linux guest beside the mote VM, syscall cycles: issue 8)
import robust_bench  # noqa: E402  (allowlists, hung guests, fuzzing: issue 7)
import vm_net_bench  # noqa: E402  (redis over tap: mote VM vs a Linux guest, issue 6)
import chart  # noqa: E402  (docs/performance.png)

if __name__ == "__main__":
    sys.exit(main())
