"""The network section of the mote benchmark (issue 6): Debian's redis-server and
nginx-light, unmodified, natively and under `mote run -p` (--net user: libslirp in
mote-net), redis under gVisor where it can run, and redis over `--net tap:NAME` in
a network namespace the benchmark creates.

Called by bench.py (Bench.main) as network(bench); uses its run/guarded/skip helpers
and appends one section. Servers are started here, measured by a client on the host
(redis-benchmark, wrk), and stopped; each figure is a median of NET_REPS runs.
CPU per request is utime+stime read from /proc over the measured runs only (after
the server answered, before it is stopped), summed over the server's process tree
and, under mote, mote-net (which belongs to init, found by its -p argument)."""

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

from bench import Failure, Skip, setting, log, row, times, tail, verdict

REDIS = "/usr/bin/redis-server"
REDIS_BENCH = "redis-benchmark"
NGINX = "/usr/sbin/nginx"
# redis-benchmark -n: requests per test (SET, GET) and run; gVisor is ~10x slower per
# request with -P 1, hence its smaller N.
REDIS_N = setting("BENCH_REDIS_N", 50000, 5000)
# Pipelined runs take 10x the requests: 16 to a round trip, REDIS_N of them would be over
# in tens of milliseconds, too short to measure.
PIPELINE_N_FACTOR = 10


def redis_n(pipeline):
    return REDIS_N * (PIPELINE_N_FACTOR if pipeline > 1 else 1)
REDIS_N_GVISOR = setting("BENCH_REDIS_N_GVISOR", 10000, 2000)
WRK_SECONDS = setting("BENCH_WRK_SECONDS", 10, 2)
NET_REPS = setting("BENCH_NET_REPS", 5, 1)
CLIENTS = 50
PIPELINES = (1, 16)
# The tap figure: names the benchmark creates, the addresses of the brief (QEMU's).
TAP_NS = "motebench%d" % os.getpid()
TAP_DEV = "mbtap0"
TAP_HOST = "10.0.2.2/24"
TAP_GUEST = "10.0.2.15"
READY_TIMEOUT = 30
TAP_READY_TIMEOUT = 10
NGINX_CONF = """user www-data;
worker_processes 1;
pid %(pid)s;
error_log stderr;
events { worker_connections 1024; }
http {
    include mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log off;
    client_body_temp_path %(tmp)s/client_body;
    proxy_temp_path %(tmp)s/proxy;
    fastcgi_temp_path %(tmp)s/fastcgi;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    server {
        listen %(listen)s;
        root %(root)s;
    }
}
"""
PAGE = b"hello from mote bench\n" * 20  # 440 bytes: a small file


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_ready(host, port):
    """True once redis answers PING (a connection alone proves nothing under -p:
    mote-net accepts it on the host before the guest listens)."""
    def f():
        try:
            with socket.create_connection((host, port), timeout=2) as c:
                c.settimeout(2)
                c.sendall(b"PING\r\n")
                return c.recv(64).startswith(b"+PONG")
        except OSError:
            return False
    return f


# ------------------------------------------------------------------ /proc


def proc_stat(pid):
    """(ppid, utime+stime in seconds) of pid, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / tick


def tree(root):
    """root and its descendants (pids), from /proc."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st:
                parent[int(d)] = st[0]
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return out


def cpu_of(pids):
    return sum((proc_stat(p) or (0, 0.0))[1] for p in pids)


def vm_hwm_kib(pids):
    """The largest VmHWM (peak RSS) of pids."""
    best = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
        except OSError:
            continue
        if m:
            best = max(best, int(m.group(1)))
    return best


def helper_pid(publish):
    """mote-net's pid for this run: a child of init whose argv holds our -p."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0] == b"mote-net" and publish.encode() in argv:
            return int(d)
    return None


# ------------------------------------------------------------------ servers


class Server:
    """A server command in its own session, its output in a log file; stop()
    ends the whole group (SIGTERM, then SIGKILL)."""

    def __init__(self, bench, name, argv, ready, publish=None, netns=None,
                 ready_timeout=READY_TIMEOUT):
        self.bench, self.name, self.argv, self.ready = bench, name, argv, ready
        self.ready_timeout = ready_timeout
        self.publish, self.netns = publish, netns
        self.logf = os.path.join(bench.repo, bench.bdir, "net-%s.log" % name)
        self.proc = None
        self.helper = None

    def start(self):
        full = (["ip", "netns", "exec", self.netns] if self.netns else []) + self.argv
        with open(self.logf, "w") as out:
            try:
                self.proc = subprocess.Popen(full, cwd=self.bench.repo, stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            except OSError as ex:
                raise Failure("%s: cannot run: %s" % (shlex.join(full), ex))
        end = time.time() + self.ready_timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise Failure("%s: exited with status %d before it answered\n%s" % (
                    shlex.join(full), self.proc.returncode, self.log_tail()))
            if self.ready():
                if self.publish:
                    self.helper = helper_pid(self.publish)
                return self
            time.sleep(0.2)
        self.stop()
        raise Failure("%s: no answer within %d s\n%s" % (shlex.join(full), self.ready_timeout,
                                                         self.log_tail()))

    def log_tail(self):
        try:
            with open(self.logf, errors="replace") as f:
                return tail(f.read())
        except OSError:
            return ""

    def pids(self):
        ps = tree(self.proc.pid)
        return ps + ([self.helper] if self.helper else [])

    def cpu(self):
        """(server tree CPU s, mote-net CPU s) now."""
        return cpu_of(tree(self.proc.pid)), cpu_of([self.helper] if self.helper else [])

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        # The whole tree, found before any signal: a process that left the
        # group (mote's core) would otherwise outlive the run, reparented.
        family = tree(self.proc.pid)
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                pass
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self):
        # Started already (redis_tap starts first to explain a failure): a
        # second start would leave the first server running, unowned.
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()


# ------------------------------------------------------------------ clients


def make_tap_netns(bench, ns, dev, host_addr):
    """Network namespace `ns` with loopback up and the tap device `dev` at
    `host_addr` (CIDR), up; Skip when a step fails. The caller deletes it."""
    for c in (["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"],
              ["ip", "-n", ns, "tuntap", "add", "dev", dev, "mode", "tap"],
              ["ip", "-n", ns, "addr", "add", host_addr, "dev", dev],
              ["ip", "-n", ns, "link", "set", dev, "up"]):
        bench.run_checked(c, exc=Skip)


def redis_rps(bench, host, port, pipeline, n, netns=None, exc=Failure):
    """{"SET": rps, "GET": rps} of one redis-benchmark run."""
    argv = ([] if not netns else ["ip", "netns", "exec", netns]) + [
        REDIS_BENCH, "-h", host, "-p", str(port), "--csv", "-t", "set,get", "-n", str(n),
        "-c", str(CLIENTS), "-P", str(pipeline)]
    out, _ = bench.run_checked(argv, exc=exc)
    return parse_redis_csv(out, shlex.join(argv), exc)


def parse_redis_csv(out, cmd, exc):
    got = dict(re.findall(r'^"(SET|GET)","([\d.]+)"', out, re.M))
    if set(got) != {"SET", "GET"}:
        raise exc("%s: no SET and GET rows in its output %r" % (cmd, out[-500:]))
    return {k: float(v) for k, v in got.items()}


def wrk_rps(bench, url, netns=None):
    """({"GET": requests/s}, requests) of one wrk run without errors."""
    argv = ([] if not netns else ["ip", "netns", "exec", netns]) + [
        "wrk", "-t2", "-c%d" % CLIENTS, "-d%ds" % WRK_SECONDS, url]
    out, _ = bench.run_checked(argv, timeout=WRK_SECONDS + 60)
    m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    n = re.search(r"(\d+) requests in", out)
    if not m or not n or "Socket errors" in out or "Non-2xx" in out:
        raise Failure("%s: errors or no Requests/sec line:\n%s" % (shlex.join(argv), tail(out)))
    return {"GET": float(m.group(1))}, int(n.group(1))


BULK_BYTES = 128 << 20  # the file the bulk row downloads


def curl_bulk(bench, url, netns=None):
    """({"bulk": bytes/s}, 1) of one curl download of the bulk file, whole."""
    argv = ([] if not netns else ["ip", "netns", "exec", netns]) + [
        "curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}", url]
    out, _ = bench.run_checked(argv, timeout=120)
    w = out.split()
    if len(w) != 2 or int(float(w[1])) != BULK_BYTES:
        raise Failure("%s: not the whole file: %s" % (shlex.join(argv), tail(out)))
    return {"bulk": float(w[0])}, 1


def measure(server, runs):
    """measure_alternating for one server."""
    return measure_alternating([(server, runs)])[0]


def measure_alternating(pairs):
    """For started servers, (server, runs) each: runs each server's `runs` (fns returning
    ({label: rps}, requests)) NET_REPS times, the servers taking turns rep by rep (A, B,
    A, B, ...): a host whose speed drifts from one minute to the next (this one's does,
    by up to a third) then moves all of them alike, and their ratio holds. Returns, per
    server in order, ({label: median rps}, {label: [rps...]}, cpu s, helper cpu s,
    requests, peak RSS KiB), its CPU counted over its own runs only."""
    vals = [{} for _ in pairs]
    requests = [0] * len(pairs)
    cpu = [[0.0, 0.0] for _ in pairs]
    for _ in range(NET_REPS):
        for i, (server, runs) in enumerate(pairs):
            c0, h0 = server.cpu()
            for fn in runs:
                got, count = fn()
                for label, rps in got.items():
                    vals[i].setdefault(label, []).append(rps)
                requests[i] += count
            c1, h1 = server.cpu()
            cpu[i][0] += c1 - c0
            cpu[i][1] += h1 - h0
    return [({k: statistics.median(v) for k, v in vals[i].items()}, vals[i], cpu[i][0], cpu[i][1],
             requests[i], vm_hwm_kib(server.pids())) for i, (server, _) in enumerate(pairs)]


def cpu_note(cpu, helper, requests, rss, with_helper):
    s = "CPU %.1f us/req" % (cpu / requests * 1e6) if requests else ""
    if with_helper:
        s += " (+ mote-net %.1f us/req)" % (helper / requests * 1e6)
    if rss:
        s += "; peak RSS %d KiB" % rss
    return s


# ------------------------------------------------------------------ figures


def redis_argv(port_args):
    return [REDIS, "--save", "", "--protected-mode", "no", *port_args]


def redis_runs(bench, host, port, netns=None):
    def one(p):
        got = redis_rps(bench, host, port, p, redis_n(p), netns)
        return {"%s -P %d" % (k, p): v for k, v in got.items()}, 2 * redis_n(p)
    return [lambda p=p: one(p) for p in PIPELINES]


def label_order(label):
    """SET -P 1, GET -P 1, SET -P 16, GET -P 16."""
    return int(label.split()[-1]), not label.startswith("SET")


def redis_cmds(host, port, netns=None):
    pre = "ip netns exec %s " % netns if netns else ""
    return ["%s%s -h %s -p %d --csv -t set,get -n %d -c %d -P %d" % (
        pre, REDIS_BENCH, host, port, redis_n(p), CLIENTS, p) for p in PIPELINES]


# Issue 6: servers over a tap device at least as fast as natively.
GOAL_TAP = 1.0
# The tap rows' baseline: the server natively, started beside the tap one and measured
# taking turns with it (measure_alternating), not the native rows above.
ALT_NOTE = "vs native taking turns with it: %s req/s"


def tap_goal(rps, base):
    """The goal and verdict cells of a --net tap row."""
    if not base:
        return ">= %gx native (issue 6)" % GOAL_TAP, "n/a (no native figure)"
    return ">= %gx native (issue 6)" % GOAL_TAP, verdict(rps / base >= GOAL_TAP)


def redis_rows(rows, what, med, base, extra, goal=False):
    for i, label in enumerate(sorted(med, key=label_order)):
        ratio = "(baseline)" if base is None else (
            "%s native" % times(med[label] / base[label]) if label in base else "n/a")
        note = extra if i == 0 else ""
        goal_cell = ""
        if goal:
            goal_cell, v = tap_goal(med[label], (base or {}).get(label))
            note = v + ("; " + note if note else "")
        rows.append(row("redis %s, %s" % (label, what), "%.0f req/s" % med[label], ratio,
                        goal_cell, note))


def network(b):
    rows = []
    res = b.results.setdefault("network", {})
    missing = [t for t in (REDIS, NGINX) if not os.path.exists(t)] + [
        t for t in (REDIS_BENCH, "wrk", "redis-cli") if not shutil.which(t)]

    def need(*tools):
        gone = [t for t in tools if t in missing]
        if gone:
            raise Skip("%s not installed (Debian packages redis-server, redis-tools, "
                       "nginx-light, wrk)" % ", ".join(gone))

    # ---- redis: native, mote (-p), gVisor (server and client inside), tap
    def redis_native():
        need(REDIS, REDIS_BENCH)
        port = free_port()
        argv = redis_argv(["--bind", "127.0.0.1", "--port", str(port)])
        with Server(b, "redis-native", argv, redis_ready("127.0.0.1", port)) as s:
            med, vals, cpu, _, n, rss = measure(s, redis_runs(b, "127.0.0.1", port))
        res["redis_native"] = {"median_rps": med, "runs_rps": vals, "cpu_s": cpu,
                               "requests": n, "peak_rss_kib": rss}
        b.commands.append(("net-redis-native", shlex.join(argv)))
        b.commands += [("net-redis-native (client, %d x)" % NET_REPS, c)
                       for c in redis_cmds("127.0.0.1", port)]
        log("redis native: %s" % med)
        redis_rows(rows, "native", med, None, cpu_note(cpu, 0, n, rss, False))

    def redis_mote():
        need(REDIS, REDIS_BENCH)
        port = free_port()
        publish = "127.0.0.1:%d:6379" % port
        argv = [b.mote, "run", *b.mote_flags, "-p", publish, *redis_argv([])]
        with Server(b, "redis-mote", argv, redis_ready("127.0.0.1", port),
                    publish=publish) as s:
            med, vals, cpu, helper, n, rss = measure(s, redis_runs(b, "127.0.0.1", port))
        res["redis_mote"] = {"median_rps": med, "runs_rps": vals, "cpu_s": cpu,
                             "helper_cpu_s": helper, "requests": n, "peak_rss_kib": rss}
        b.commands.append(("net-redis-mote", shlex.join(argv)))
        b.commands += [("net-redis-mote (client, %d x)" % NET_REPS, c)
                       for c in redis_cmds("127.0.0.1", port)]
        log("redis mote: %s" % med)
        base = res.get("redis_native", {}).get("median_rps")
        redis_rows(rows, "mote run -p (--net user)", med, base or {},
                   cpu_note(cpu, helper, n, rss, True))

    def redis_gvisor():
        need(REDIS, REDIS_BENCH)
        # runsc works here with --network=none only: server and client both inside
        # the sandbox, over gVisor's loopback (the client's cost is in the figure too).
        bench_cmds = " ; ".join(
            "%s -p 6379 --csv -t set,get -n %d -c %d -P %d" % (
                REDIS_BENCH, REDIS_N_GVISOR, CLIENTS, p) for p in PIPELINES)
        script = ("%s --save '' --protected-mode no --port 6379 >/dev/null 2>&1 & "
                  "for i in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; "
                  "sleep 0.2; done; %s; redis-cli -p 6379 shutdown nosave >/dev/null 2>&1; "
                  "wait" % (REDIS, bench_cmds))
        argv = [b.runsc, "--network=none", "do", "/bin/sh", "-c", script]
        vals = {}
        for _ in range(NET_REPS):
            out, _ = b.run_checked(argv, exc=Skip, timeout=300)
            parts = out.split('"test","rps"')[1:]
            if len(parts) != len(PIPELINES):
                raise Skip("%s: expected %d CSV tables, got %r" % (
                    shlex.join(argv), len(PIPELINES), out[-500:]))
            for p, part in zip(PIPELINES, parts):
                for k, v in parse_redis_csv(part, "runsc", Skip).items():
                    vals.setdefault("%s -P %d" % (k, p), []).append(v)
        med = {k: statistics.median(v) for k, v in vals.items()}
        res["redis_gvisor"] = {"median_rps": med, "runs_rps": vals}
        b.commands.append(("net-redis-gvisor (%d x)" % NET_REPS, shlex.join(argv)))
        log("redis gVisor: %s" % med)
        base = res.get("redis_native", {}).get("median_rps") or {}
        mote = res.get("redis_mote", {}).get("median_rps") or {}
        note = "client inside gVisor too (-n %d)" % REDIS_N_GVISOR
        for i, label in enumerate(sorted(med, key=label_order)):
            ratio = "%s native" % times(med[label] / base[label]) if label in base else "n/a"
            if label in mote:
                ratio += "; mote %s gVisor" % times(mote[label] / med[label])
            rows.append(row("redis %s, gVisor runsc do (--network=none)" % label,
                            "%.0f req/s" % med[label], ratio, "", note if i == 0 else ""))

    @contextlib.contextmanager
    def tap_netns():
        """A network namespace with the tap device TAP_DEV at TAP_HOST, for
        `mote run --net tap:TAP_DEV` started inside it."""
        if os.geteuid() != 0:
            raise Skip("creating a network namespace and a tap device needs root")
        if not os.path.exists("/dev/net/tun"):
            raise Skip("/dev/net/tun is missing")
        try:
            make_tap_netns(b, TAP_NS, TAP_DEV, TAP_HOST)
            yield
        finally:
            subprocess.run(["ip", "netns", "del", TAP_NS], capture_output=True)

    def start_tap_server(name, argv, ready, port):
        s = Server(b, name, argv, ready, netns=TAP_NS, ready_timeout=TAP_READY_TIMEOUT)
        try:
            s.start()
        except Failure:
            # Says why: does the guest answer ARP for TAP_GUEST at all?
            neigh = subprocess.run(["ip", "-n", TAP_NS, "neigh", "show", TAP_GUEST],
                                   capture_output=True, text=True).stdout.strip()
            raise Skip("no answer from %s:%d on %s in netns %s within %d s (ARP: %s)"
                       % (TAP_GUEST, port, TAP_DEV, TAP_NS, TAP_READY_TIMEOUT,
                          neigh or "no entry"))
        return s

    def redis_tap():
        need(REDIS, REDIS_BENCH)
        with tap_netns():
            argv = [b.mote, "run", *b.mote_flags, "--net", "tap:" + TAP_DEV, *redis_argv([])]

            def ready():
                r = subprocess.run(["ip", "netns", "exec", TAP_NS, "redis-cli", "-h", TAP_GUEST,
                                    "-p", "6379", "ping"], capture_output=True, text=True,
                                   timeout=10)
                return r.stdout.strip() == "PONG"

            # The baseline: the same server natively, measured taking turns with it.
            port = free_port()
            nargv = redis_argv(["--bind", "127.0.0.1", "--port", str(port)])
            with start_tap_server("redis-tap", argv, ready, 6379) as s, \
                    Server(b, "redis-native-alt", nargv, redis_ready("127.0.0.1", port)) as ns:
                (med, vals, cpu, _, n, rss), (nmed, nvals, *_rest) = measure_alternating(
                    [(s, redis_runs(b, TAP_GUEST, 6379, TAP_NS)),
                     (ns, redis_runs(b, "127.0.0.1", port))])
            res["redis_tap"] = {"median_rps": med, "runs_rps": vals, "cpu_s": cpu,
                                "requests": n, "peak_rss_kib": rss,
                                "native_alternating_rps": nvals}
            b.commands.append(("net-redis-tap", "ip netns exec %s %s" % (TAP_NS,
                                                                         shlex.join(argv))))
            log("redis native, taking turns with tap: %s" % nmed)
            redis_rows(rows, "mote run --net tap", med, nmed,
                       cpu_note(cpu, 0, n, rss, False) + "; " + ALT_NOTE % ", ".join(
                           "%s %.0f" % (k, nmed[k]) for k in sorted(nmed, key=label_order)),
                       goal=True)

    # ---- nginx: native, mote (-p, -v shares)
    def nginx_setup(tmp, listen, pid, root, tmpdir):
        conf = os.path.join(tmp, "conf")
        site = os.path.join(tmp, "site")
        os.makedirs(conf, exist_ok=True)
        os.makedirs(site, exist_ok=True)
        shutil.copy("/etc/nginx/mime.types", conf)
        with open(os.path.join(conf, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF % {"pid": pid, "tmp": tmpdir, "listen": listen, "root": root})
        with open(os.path.join(site, "index.html"), "wb") as f:
            f.write(PAGE)
        return conf, site

    def http_ready(port):
        def f():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                    c.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                    data = b""
                    while True:
                        d = c.recv(4096)
                        if not d:
                            break
                        data += d
                return data.startswith(b"HTTP/1.1 200") and data.endswith(PAGE)
            except OSError:
                return False
        return f

    def nginx_native():
        need(NGINX, "wrk")
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)  # the worker runs as www-data
            conf, site = nginx_setup(tmp, "127.0.0.1:%d" % port, os.path.join(tmp, "nginx.pid"),
                                     os.path.join(tmp, "site"), tmp)
            argv = [NGINX, "-c", os.path.join(conf, "nginx.conf"), "-g", "daemon off;"]
            url = "http://127.0.0.1:%d/index.html" % port
            with Server(b, "nginx-native", argv, http_ready(port)) as s:
                med, vals, cpu, _, n, rss = measure(s, [lambda: wrk_rps(b, url)])
        res["nginx_native"] = {"median_rps": med["GET"], "runs_rps": vals["GET"], "cpu_s": cpu,
                               "peak_rss_kib": rss}
        b.commands.append(("net-nginx-native", shlex.join(argv) + "  # conf: bench/net_bench.py"))
        b.commands.append(("net-nginx-native (client, %d x)" % NET_REPS,
                           "wrk -t2 -c%d -d%ds %s" % (CLIENTS, WRK_SECONDS, url)))
        log("nginx native: %.0f req/s" % med["GET"])
        rows.append(row("nginx GET 440 B, native", "%.0f req/s" % med["GET"], "(baseline)", "",
                        cpu_note(cpu, 0, n, rss, False)))

    def nginx_mote():
        need(NGINX, "wrk")
        port = free_port()
        publish = "127.0.0.1:%d:80" % port
        with tempfile.TemporaryDirectory() as tmp:
            conf, site = nginx_setup(tmp, "80", "/tmp/nginx.pid", "/var/www/html", "/tmp")
            argv = [b.mote, "run", *b.mote_flags, "-p", publish, "-v", conf + ":/etc/nginx:ro",
                    "-v", site + ":/var/www/html", NGINX, "-g", "daemon off;"]
            url = "http://127.0.0.1:%d/index.html" % port
            with Server(b, "nginx-mote", argv, http_ready(port), publish=publish) as s:
                med, vals, cpu, helper, n, rss = measure(s, [lambda: wrk_rps(b, url)])
        res["nginx_mote"] = {"median_rps": med["GET"], "runs_rps": vals["GET"], "cpu_s": cpu,
                             "helper_cpu_s": helper, "peak_rss_kib": rss}
        b.commands.append(("net-nginx-mote", shlex.join(argv)))
        b.commands.append(("net-nginx-mote (client, %d x)" % NET_REPS,
                           "wrk -t2 -c%d -d%ds %s" % (CLIENTS, WRK_SECONDS, url)))
        log("nginx mote: %.0f req/s" % med["GET"])
        base = res.get("nginx_native", {}).get("median_rps")
        rows.append(row("nginx GET 440 B, mote run -p (--net user)", "%.0f req/s" % med["GET"],
                        "%s native" % times(med["GET"] / base) if base else "n/a", "",
                        cpu_note(cpu, helper, n, rss, True)))

    def nginx_tap():
        need(NGINX, "wrk")
        with tap_netns(), tempfile.TemporaryDirectory() as tmp:
            conf, site = nginx_setup(tmp, "80", "/tmp/nginx.pid", "/var/www/html", "/tmp")
            argv = [b.mote, "run", *b.mote_flags, "--net", "tap:" + TAP_DEV,
                    "-v", conf + ":/etc/nginx:ro", "-v", site + ":/var/www/html", NGINX,
                    "-g", "daemon off;"]
            url = "http://%s/index.html" % TAP_GUEST

            def ready():
                r = subprocess.run(["ip", "netns", "exec", TAP_NS, "curl", "-s", "-m", "2", url],
                                   capture_output=True, timeout=10)
                return r.returncode == 0 and r.stdout == PAGE

            # The baseline: nginx natively, measured taking turns with it.
            port = free_port()
            nconf, _ = nginx_setup(os.path.join(tmp, "native"), "127.0.0.1:%d" % port,
                                   os.path.join(tmp, "native", "nginx.pid"),
                                   os.path.join(tmp, "native", "site"), os.path.join(tmp, "native"))
            os.chmod(tmp, 0o755)  # the native worker runs as www-data
            os.chmod(os.path.join(tmp, "native"), 0o755)
            nargv = [NGINX, "-c", os.path.join(nconf, "nginx.conf"), "-g", "daemon off;"]
            nurl = "http://127.0.0.1:%d/index.html" % port
            # The bulk file, one copy linked into both sites.
            big = os.path.join(site, "big.bin")
            with open(big, "wb") as f:
                for _ in range(BULK_BYTES >> 20):
                    f.write(os.urandom(1 << 20))
            os.link(big, os.path.join(tmp, "native", "site", "big.bin"))
            with start_tap_server("nginx-tap", argv, ready, 80) as s, \
                    Server(b, "nginx-native-alt", nargv, http_ready(port)) as ns:
                (med, vals, cpu, _, n, rss), (nmed, nvals, *_rest) = measure_alternating(
                    [(s, [lambda: wrk_rps(b, url, TAP_NS)]), (ns, [lambda: wrk_rps(b, nurl)])])
                big_url, nbig_url = url.replace("index.html", "big.bin"), nurl.replace("index.html", "big.bin")
                (bmed, bvals, bcpu, *_r1), (nbmed, nbvals, *_r2) = measure_alternating(
                    [(s, [lambda: curl_bulk(b, big_url, TAP_NS)]), (ns, [lambda: curl_bulk(b, nbig_url)])])
        res["nginx_tap"] = {"median_rps": med["GET"], "runs_rps": vals["GET"], "cpu_s": cpu,
                            "peak_rss_kib": rss, "native_alternating_rps": nvals["GET"],
                            "bulk_bytes_per_s": bvals["bulk"], "bulk_cpu_s": bcpu,
                            "native_alternating_bulk_bytes_per_s": nbvals["bulk"]}
        b.commands.append(("net-nginx-tap", "ip netns exec %s %s" % (TAP_NS, shlex.join(argv))))
        b.commands.append(("net-nginx-tap (client, %d x)" % NET_REPS,
                           "ip netns exec %s wrk -t2 -c%d -d%ds %s"
                           % (TAP_NS, CLIENTS, WRK_SECONDS, url)))
        log("nginx tap: %.0f req/s (native taking turns with it: %.0f)" % (med["GET"], nmed["GET"]))
        base = nmed["GET"]
        goal_cell, v = tap_goal(med["GET"], base)
        rows.append(row("nginx GET 440 B, mote run --net tap", "%.0f req/s" % med["GET"],
                        "%s native" % times(med["GET"] / base), goal_cell,
                        v + "; " + cpu_note(cpu, 0, n, rss, False) + "; " +
                        ALT_NOTE % ("%.0f" % base)))
        b.commands.append(("net-nginx-tap bulk (client, %d x)" % NET_REPS,
                           "ip netns exec %s curl -s -o /dev/null -w '%%{speed_download}' %s"
                           % (TAP_NS, url.replace("index.html", "big.bin"))))
        log("nginx tap bulk: %.0f MB/s (native taking turns with it: %.0f MB/s)"
            % (bmed["bulk"] / 1e6, nbmed["bulk"] / 1e6))
        # Issue 6's goals are in requests per second: this row has none.
        rows.append(row("nginx GET %d MiB file (curl), mote run --net tap" % (BULK_BYTES >> 20),
                        "%.0f MB/s" % (bmed["bulk"] / 1e6),
                        "%s native" % times(bmed["bulk"] / nbmed["bulk"]), "(no goal)",
                        "the file from a -v share (9P); server CPU %.2f s per GB; "
                        "vs native taking turns with it: %.0f MB/s"
                        % (bcpu / (NET_REPS * BULK_BYTES / 1e9), nbmed["bulk"] / 1e6)))

    def guard(label, fn, kind="native"):
        # Each figure adds its own rows (several); guarded adds the SKIP/FAILED one.
        got = []
        b.guarded(got, label, fn, kind)
        rows.extend(r for r in got if r is not None)

    guard("redis native", redis_native)
    guard("redis mote", redis_mote, kind="mote")
    guard("redis gVisor", redis_gvisor, kind="gvisor")
    guard("redis mote --net tap", redis_tap, kind="mote")
    guard("nginx native", nginx_native)
    guard("nginx mote", nginx_mote, kind="mote")
    guard("nginx mote --net tap", nginx_tap, kind="mote")
    b.sections.append((
        "Network: redis and nginx, native vs mote run -p",
        "the server natively on 127.0.0.1, under `mote run -p 127.0.0.1:PORT:GUESTPORT` "
        "(libslirp in mote-net) and over `--net tap` in a network namespace; the client on the "
        "host: `redis-benchmark --csv -t set,get -n %d -c %d -P 1` and `-n %d ... -P 16`, "
        "`wrk -t2 -c%d -d%ds` on a 440-byte index.html; median of %d runs; the Result column "
        "has the server's CPU per request (utime+stime of its process tree over the measured "
        "runs; under mote the core, plus mote-net's own) and its peak RSS (VmHWM); a --net tap "
        "row's native baseline is the same server natively, started beside it and measured "
        "taking turns with it run by run (this host's speed drifts by up to a third between "
        "minutes)"
        % (REDIS_N, CLIENTS, redis_n(16), CLIENTS, WRK_SECONDS, NET_REPS), rows))
