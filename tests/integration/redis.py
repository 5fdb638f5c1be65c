#!/usr/bin/env python3
"""Debian's redis-server, unmodified, under mote with a published port
(-p HOST:6379, the --net user backend), driven from the host:

  - redis-benchmark -q -n N -c 50 (SET, GET) and the same with -P 16: every
    test finishes and reports its rate, no errors;
  - 10,000 keys written through redis-cli --pipe, then read back with MGET
    and compared value by value;
  - SHUTDOWN NOSAVE ends the server and mote exits with its status (0).

SKIP (77) when redis-server or redis-benchmark is missing."""
import argparse
import os
import shutil
import socket
import subprocess
import sys

from checks import Checks, free_port, serving

KEYS = 10000


def answers_ping(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
        c.sendall(b"PING\r\n")
        return c.recv(64).startswith(b"+PONG")


def cli(port, *args, stdin=None, timeout=120):
    p = subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--platform", default="process")
    ap.add_argument("-n", type=int, default=100000, help="requests per benchmark test")
    ap.add_argument("--no-benchmark", action="store_true",
                    help="only the 10,000-key round trip")
    args = ap.parse_args()
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    for tool in (server, "redis-benchmark", "redis-cli"):
        if not shutil.which(tool) and not os.path.exists(tool):
            print(f"SKIP: {tool} is missing (Debian packages redis-server, redis-tools)")
            return 77
    ok = Checks()
    port = free_port()
    cmd = [args.mote, "run", "--platform", args.platform, "-p", f"127.0.0.1:{port}:6379",
           server, "--save", "", "--appendonly", "no", "--protected-mode", "no",
           "--port", "6379"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ready = serving(proc, lambda: answers_ping(port), 120 if args.platform == "qemu" else 30)
        ok("redis-server under mote answers PING through -p", ready,
           "no answer" if proc.poll() is None else f"mote exited {proc.returncode}")
        if not ready:
            return ok.finish()
        timeout = 1800 if args.platform == "qemu" else 300
        for pipeline in () if args.no_benchmark else (1, 16):
            p = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", str(args.n),
                                "-c", "50", "-P", str(pipeline), "-t", "set,get"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
            out = p.stdout.decode(errors="replace")
            lines = [l.split("\r")[-1].strip() for l in out.splitlines() if l.strip()]
            rates = [l for l in lines if "requests per second" in l]
            errors = [l for l in lines if "error" in l.lower()]
            ok(f"redis-benchmark -n {args.n} -c 50 -P {pipeline}: SET and GET finish, no errors",
               p.returncode == 0 and len(rates) == 2 and not errors, out[-2000:])
            for r in rates:
                print("     " + r)
        # 10,000 keys through the pipe protocol (on an empty database: the
        # benchmark left its own key), read back with MGET.
        cli(port, "FLUSHALL")
        cmds = "".join(f"SET key:{i} value-{i}-{'x' * (i % 50)}\n" for i in range(KEYS))
        rc, out, err = cli(port, "--pipe", stdin=cmds.encode())
        ok("redis-cli --pipe: 10,000 SETs, no errors", rc == 0 and "errors: 0" in out, out + err)
        rc, out, _ = cli(port, "DBSIZE")
        ok("DBSIZE counts them", out.strip() == str(KEYS), out)
        bad = 0
        for start in range(0, KEYS, 1000):
            keys = [f"key:{i}" for i in range(start, start + 1000)]
            rc, out, _ = cli(port, "MGET", *keys)
            values = out.splitlines()
            want = [f"value-{i}-{'x' * (i % 50)}" for i in range(start, start + 1000)]
            bad += sum(1 for a, b in zip(values, want) if a != b) + abs(len(values) - 1000)
        ok("MGET reads every value back unchanged", bad == 0, f"{bad} differ")
        cli(port, "SHUTDOWN", "NOSAVE")
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        ok("SHUTDOWN NOSAVE ends the server: mote exits with status 0", proc.returncode == 0,
           f"status {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return ok.finish()


if __name__ == "__main__":
    sys.exit(main())
