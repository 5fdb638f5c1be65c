"""Two sections of the mote benchmark (issue 8): file and memory costs, and
footprint.

files(b): file read throughput (bench/programs/fileread.c: 1 MiB read()s of a file
in the program's own /tmp, and of a host file through a `-v` share) and the cost of
an anonymous page fault (bench/programs/pagefault.c), natively, under `mote run` and
under gVisor, each a median of FILE_RUNS runs with min/max.

footprint(b): the smallest --mem that static hello and redis-server run with
(bisection), and density: N idle programs (bench/programs/idle.c) started at once,
their whole process trees' PSS (/proc/PID/smaps_rollup) summed, and how many would
fit in 4 GiB of host RAM at that cost per instance; the monitor process that a run
with a `-v` share keeps is reported on its own.

Called by bench.py (Bench.main); uses its run/guarded/skip helpers."""

import os
import re
import select
import shlex
import signal
import statistics
import subprocess
import tempfile
import time

from bench import Failure, Skip, setting, log, row, times, tail, spread, HELLO_OUT

FILE_MIB = setting("BENCH_FILE_MIB", 128, 32)
FILE_RUNS = setting("BENCH_FILE_RUNS", 5, 3)
FAULT_MIB = setting("BENCH_FAULT_MIB", 64, 8)
FAULT_REPS = setting("BENCH_FAULT_REPS", 3, 2)
DENSITY_N = setting("BENCH_DENSITY_N", 50, 10)
DENSITY_N_GVISOR = setting("BENCH_DENSITY_N_GVISOR", 3, 2)
DENSITY_HOST_GIB = 4
READY_TIMEOUT = 30
REDIS = "/usr/bin/redis-server"
# The bisection's upper end for redis-server's --mem (MiB): 44 MiB was enough here.
REDIS_MEM_HI = setting("BENCH_REDIS_MEM_HI", 256, 64)
REDIS_MEM_STEP = setting("BENCH_REDIS_MEM_STEP", 1, 4)  # QUICK: to 4 MiB


def fmt_rate(v):
    return "%.0f MiB/s" % v


def runs_of(b, key, argv, regex, group, exc=Failure, runs=None):
    """runs x argv; the float group of regex from each run's stdout: (median, values)."""
    vals = []
    for _ in range(runs or FILE_RUNS):
        m, _err = b.run_checked(argv, stdout_re=regex, exc=exc)
        vals.append(float(m.group(group)))
    med = statistics.median(vals)
    b.commands.append((key, "%d x: %s" % (runs or FILE_RUNS, shlex.join(argv))))
    log("%s: %s (runs: %s)" % (key, med, ", ".join("%.1f" % v for v in vals)))
    return med, vals


def files(b):
    rows = []
    res = b.results.setdefault("files", {})
    prog = os.path.join(b.bdir, "fileread")
    fault = os.path.join(b.bdir, "pagefault")
    read_re = r"fileread bytes=(\d+) ns=(\d+) mib_per_s=([0-9.]+)\n"
    fault_re = r"pagefault pages=(\d+) ns_per_page=([0-9.]+)\n"
    mib = str(FILE_MIB)
    share = tempfile.mkdtemp(prefix="motebench-share-")
    shared = os.path.join(share, "data.bin")
    with open(shared, "wb") as f:
        chunk = b"\x5a" * (1 << 20)
        for _ in range(FILE_MIB):
            f.write(chunk)
    shm = "/dev/shm/motebench-%d.bin" % os.getpid()

    def rate_row(key, label, argv, base_key, higher_better=True, exc=Failure,
                 regex=read_re, group=3, unit=fmt_rate, base_label="native"):
        def f():
            med, vals = runs_of(b, key, argv, regex, group, exc)
            res[key] = {"median": med, "runs": vals}
            base = res.get(base_key, {}).get("median") if base_key else None
            if base_key is None:
                ratio = "(baseline)"
            elif base:
                ratio = "%s %s" % (times(med / base), base_label)
            else:
                ratio = "n/a"
            return row(label, "%s %s" % (unit(med), spread(vals, unit)), ratio, "",
                       "" if base_key is None else "-")
        return label, f

    try:
        b.guarded(rows, *rate_row("read-native-tmpfs",
                                  "native, %s MiB file on tmpfs (/dev/shm)" % mib,
                                  [prog, shm, mib, "create"], None))
        b.guarded(rows, *rate_row("read-mote-tmp", "mote run, %s MiB file in its /tmp" % mib,
                                  b.mote_cmd(prog, "/tmp/fileread.bin", mib, "create"),
                                  "read-native-tmpfs"), kind="mote")
        b.guarded(rows, *rate_row("read-gvisor-tmp", "gVisor runsc do, %s MiB file in its /tmp"
                                  % mib, b.gvisor_cmd(prog, "/tmp/fileread.bin", mib, "create"),
                                  "read-native-tmpfs", exc=Skip), kind="gvisor")
        b.guarded(rows, *rate_row("read-native-host", "native, %s MiB host file (page cache)"
                                  % mib, [prog, shared, mib], None))
        b.guarded(rows, *rate_row("read-mote-share", "mote run -v DIR:/data (host share)",
                                  [b.mote, "run", *b.mote_flags, "-v", share + ":/data", prog,
                                   "/data/data.bin", mib], "read-native-host"), kind="mote")
        b.guarded(rows, *rate_row("read-gvisor-host", "gVisor runsc do, the host file (gofer)",
                                  b.gvisor_cmd(prog, shared, mib), "read-native-host",
                                  exc=Skip), kind="gvisor")
    finally:
        os.unlink(shared)
        os.rmdir(share)
        if os.path.exists(shm):
            os.unlink(shm)

    fargs = [str(FAULT_MIB), str(FAULT_REPS)]

    def ns_unit(v):
        return "%.0f ns" % v

    b.guarded(rows, *rate_row("fault-native", "native, anonymous page fault (ns/page)",
                              [fault, *fargs], None, regex=fault_re, group=2, unit=ns_unit))
    b.guarded(rows, *rate_row("fault-mote", "mote run, anonymous page fault (ns/page)",
                              b.mote_cmd(fault, *fargs), "fault-native", regex=fault_re,
                              group=2, unit=ns_unit), kind="mote")
    b.guarded(rows, *rate_row("fault-gvisor", "gVisor runsc do, anonymous page fault (ns/page)",
                              b.gvisor_cmd(fault, *fargs), "fault-native", regex=fault_re,
                              group=2, unit=ns_unit, exc=Skip), kind="gvisor")
    b.sections.append((
        "Files and memory: read throughput, anonymous page faults",
        "bench/programs/fileread.c reads a %d MiB file in 1 MiB read()s, one untimed pass "
        "then the fastest of 3 timed passes (\"create\": the program first writes the file "
        "into the file system it sees at that path); bench/programs/pagefault.c maps %d MiB "
        "of anonymous memory, writes one byte per 4 KiB page and unmaps it, fastest of %d; "
        "median of %d runs, [min-max] beside it (noisy: spread over 20%% of the median)"
        % (FILE_MIB, FAULT_MIB, FAULT_REPS, FILE_RUNS), rows))


# ------------------------------------------------------------------ footprint

def proc_session(pid):
    """The session id of pid (field 6 of /proc/PID/stat), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return int(s[s.rindex(")") + 2:].split()[3])


def session_pids(sids):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and proc_session(int(d)) in sids:
            out.append(int(d))
    return out


def rollup(pid):
    """(Rss, Pss) in KiB from /proc/PID/smaps_rollup, or None if it is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            t = f.read()
    except OSError:
        return None
    rss = re.search(r"^Rss:\s+(\d+) kB", t, re.M)
    pss = re.search(r"^Pss:\s+(\d+) kB", t, re.M)
    if not rss or not pss:
        return None
    return int(rss.group(1)), int(pss.group(1))


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


class Fleet:
    """n copies of argv started at once, each in its own session; all must print
    `ready` on stdout within READY_TIMEOUT. Stopped (every process of their sessions
    killed) on exit."""

    def __init__(self, b, argv, n, ready, exc=Failure):
        self.b, self.argv, self.n, self.ready, self.exc = b, argv, n, ready, exc
        self.procs = []

    def __enter__(self):
        avail0 = mem_available_kib()
        for _ in range(self.n):
            self.procs.append(subprocess.Popen(
                self.argv, cwd=self.b.repo, env=self.b.env(), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True))
        deadline = time.monotonic() + READY_TIMEOUT
        pending = {p.stdout.fileno(): p for p in self.procs}
        bufs = {fd: b"" for fd in pending}
        while pending and time.monotonic() < deadline:
            r, _, _ = select.select(list(pending), [], [], 0.5)
            for fd in r:
                chunk = os.read(fd, 4096)
                bufs[fd] += chunk
                if self.ready.encode() in bufs[fd]:
                    del pending[fd]
                elif not chunk:
                    p = pending.pop(fd)
                    p.wait()
                    raise self.exc("%s: exited with status %s before printing %r\n%s" % (
                        shlex.join(self.argv), p.returncode, self.ready,
                        tail(p.stderr.read().decode(errors="replace"))))
        if pending:
            raise self.exc("%s: %d of %d instances did not print %r within %d s" % (
                shlex.join(self.argv), len(pending), self.n, self.ready, READY_TIMEOUT))
        time.sleep(0.3)  # let start-up transients (packing, page cache) settle
        self.avail_drop = avail0 - mem_available_kib()
        return self

    def usage(self):
        """{pid: (comm, rss, pss)} of every process of the fleet's sessions."""
        sids = {p.pid for p in self.procs}
        out = {}
        for pid in session_pids(sids):
            r = rollup(pid)
            if r:
                out[pid] = (comm(pid), r[0], r[1])
        return out

    def __exit__(self, *exc):
        # SIGTERM, then SIGKILL whatever is left after a second: `mote run` of a
        # program waiting in pause() does not end on SIGTERM (seen here; natively
        # the program dies), and waiting 5 s per instance would be minutes.
        sids = {p.pid for p in self.procs}
        for sig, grace in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 10.0)):
            for pid in session_pids(sids):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                for p in self.procs:
                    p.poll()
                if all(p.returncode is not None for p in self.procs) \
                        and not session_pids(sids):
                    break
                time.sleep(0.05)
            if not session_pids(sids):
                break
        for p in self.procs:
            p.stdout.close()
            p.stderr.close()


def bisect_mem(b, ok, hi, what, step=1):
    """The smallest multiple of step MiB up to hi for which ok(MiB) holds (ok(hi)
    must): a bisection over step, 2*step, ... hi."""
    t0 = time.monotonic()
    lo, hi = 1, hi // step
    if not ok(hi * step):
        raise Failure("%s does not run even with --mem %dM" % (what, hi * step))
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid * step):
            hi = mid
        else:
            lo = mid + 1
    log("smallest --mem for %s: %d MiB (bisection to %d MiB: %.1f s)" % (
        what, lo * step, step, time.monotonic() - t0))
    return lo * step


def footprint(b):
    rows = []
    res = b.results.setdefault("footprint", {})
    idle = os.path.join(b.bdir, "idle")

    def min_hello():
        def ok(mib):
            rc, out, _ = b.run([b.mote, "run", *b.mote_flags, "--mem", "%dM" % mib, b.hello])
            return rc == 0 and out == HELLO_OUT
        v = res["min_mem_hello_mib"] = bisect_mem(b, ok, 64, "static hello")
        b.commands.append(("min-mem-hello", "binary search: %s" % shlex.join(
            [b.mote, "run", "--mem", "NM", b.hello])))
        return row("smallest --mem for static hello", "%d MiB" % v,
                   "the smallest size tried (--mem takes whole MiB here)" if v == 1 else "",
                   "", "-")

    def redis_ready(mib):
        """Does redis-server reach 'Ready to accept connections' with --mem mib?"""
        argv = [b.mote, "run", *b.mote_flags, "--mem", "%dM" % mib, REDIS, "--save", "",
                "--bind", "127.0.0.1", "--port", "6379", "--protected-mode", "no"]
        p = subprocess.Popen(argv, cwd=b.repo, env=b.env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
        buf, ok = b"", False
        deadline = time.monotonic() + READY_TIMEOUT
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout], [], [], 0.5)
                if not r:
                    continue
                chunk = os.read(p.stdout.fileno(), 4096)
                buf += chunk
                if b"Ready to accept connections" in buf:
                    ok = True
                    break
                if not chunk:
                    break
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
            p.stdout.close()
        return ok

    def min_redis():
        if not os.path.exists(REDIS):
            raise Skip("%s not installed (apt-get install redis-server)" % REDIS)
        v = res["min_mem_redis_mib"] = bisect_mem(b, redis_ready, REDIS_MEM_HI,
                                                  "redis-server", REDIS_MEM_STEP)
        b.commands.append(("min-mem-redis", "binary search: %s  (until it logs 'Ready to "
                           "accept connections')" % shlex.join(
                               [b.mote, "run", "--mem", "NM", REDIS, "--save", "", "--bind",
                                "127.0.0.1", "--port", "6379", "--protected-mode", "no"])))
        return row("smallest --mem for redis-server to serve", "%d MiB" % v,
                   "to %d MiB" % REDIS_MEM_STEP if REDIS_MEM_STEP > 1 else "", "", "-")

    def density(key, label, argv, n, exc=Failure, base_key=None):
        def f():
            with Fleet(b, argv, n, "idle ready", exc) as fl:
                use = fl.usage()
                drop = fl.avail_drop
            pss = sum(u[2] for u in use.values())
            rss = sum(u[1] for u in use.values())
            per = pss / n
            fits = int(DENSITY_HOST_GIB * 1024 * 1024 // per) if per else 0
            res[key] = {"n": n, "pss_kib": pss, "rss_kib": rss, "per_instance_pss_kib": per,
                        "fit_in_4gib": fits, "memavailable_drop_kib": drop,
                        "processes": sorted({u[0] for u in use.values()})}
            b.commands.append(("density-" + key, "%d at once: %s; PSS summed from "
                               "/proc/PID/smaps_rollup over their sessions" % (n, shlex.join(argv))))
            log("density %s: %d instances, PSS %d KiB (%.0f KiB each), fit %d in 4 GiB" % (
                key, n, pss, per, fits))
            base = res.get(base_key, {}).get("per_instance_pss_kib") if base_key else None
            ratio = "(baseline)" if not base_key else (
                "%s native per instance" % times(per / base) if base else "n/a")
            return row(label, "%d fit in %d GiB: %.0f KiB PSS each" % (
                fits, DENSITY_HOST_GIB, per), ratio,
                "", "%d started at once, all ready; MemAvailable fell %d KiB (%.0f each)" % (
                    n, drop, drop / n))
        return label, f

    def monitor_rss():
        share = tempfile.mkdtemp(prefix="motebench-share-")
        try:
            argv = [b.mote, "run", *b.mote_flags, "-v", share + ":/data", idle]
            with Fleet(b, argv, 1, "idle ready") as fl:
                use = fl.usage()
        finally:
            os.rmdir(share)
        mon = [u for u in use.values() if u[0] == "mote-monitor"]
        rest = [u for u in use.values() if u[0] != "mote-monitor"]
        b.commands.append(("monitor-rss", "%s; /proc/PID/smaps_rollup" % shlex.join(argv)))
        if not mon:
            return row("monitor process of a run with -v", "none",
                       "processes: %s" % ", ".join(u[0] for u in use.values()), "", "-")
        res["monitor"] = {"rss_kib": mon[0][1], "pss_kib": mon[0][2],
                          "others": [list(u) for u in rest]}
        return row("monitor process of an idle run with -v (mote-monitor)",
                   "RSS %d KiB, PSS %d KiB" % (mon[0][1], mon[0][2]),
                   "the rest: %s" % "; ".join("%s RSS %d KiB, PSS %d KiB" % u for u in rest),
                   "", "- (for scale: issue 2's KVM monitor goal is <= 5 MiB RSS)")

    b.guarded(rows, "min --mem hello", min_hello, kind="mote")
    b.guarded(rows, "min --mem redis-server", min_redis, kind="mote")
    b.guarded(rows, *density("native", "native, idle static program", [idle], DENSITY_N))
    b.guarded(rows, *density("mote", "mote run, idle static program", b.mote_cmd(idle),
                             DENSITY_N, base_key="native"), kind="mote")
    b.guarded(rows, *density("gvisor", "gVisor runsc do, idle static program",
                             b.gvisor_cmd(idle), DENSITY_N_GVISOR, exc=Skip,
                             base_key="native"), kind="gvisor")
    b.guarded(rows, "monitor RSS", monitor_rss, kind="mote")
    b.sections.append((
        "Footprint: smallest --mem, density of idle instances, monitor RSS",
        "--mem found by bisection (redis-server: until it logs 'Ready to accept "
        "connections'); density: %d idle instances (gVisor: %d) started at once, each "
        "printing 'idle ready', then the PSS of every process of their sessions summed "
        "(/proc/PID/smaps_rollup, shared pages split between sharers) and %d GiB divided "
        "by the PSS per instance" % (DENSITY_N, DENSITY_N_GVISOR, DENSITY_HOST_GIB), rows))
