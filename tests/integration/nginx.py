#!/usr/bin/env python3
"""Debian's nginx (nginx-light), unmodified, under mote with a published port
(-p HOST:80) serving a host directory share (-v SITE:/var/www/html), its
configuration from another share (-v CONF:/etc/nginx:ro):

  - a 100 MB file fetched with curl arrives with the same sha256;
  - wrk -c 50 -d 10s: requests answered, no socket errors, no non-2xx.

The master drops to www-data for its worker (setgid/setgroups/setuid) and
forks it. SKIP (77) when nginx, curl or wrk is missing."""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from checks import Checks, StallWatch, free_port, serving

CONF = """user www-data;
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr;
events { worker_connections 1024; }
http {
    include mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log off;
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    server {
        listen 80;
        root /var/www/html;
    }
}
"""


def serves_index(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as r:
        return r.read() == b"hello from mote\n"


def run_wrk(port):
    """wrk's output and request count. wrk times requests by the wall clock
    (gettimeofday): a step of that clock, or the whole host stopping, makes
    every connection's request "time out" at once (seen in CI: timeout 50,
    "requests in 15.29s" for a 10 s run). A run whose only errors are
    timeouts while that happened is run once more, saying so."""
    for attempt in (1, 2):
        with StallWatch() as host:
            p = subprocess.run(["wrk", "-t", "2", "-c", "50", "-d", "10s",
                                f"http://127.0.0.1:{port}/index.html"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0:
            out += f"\n(wrk exit status {p.returncode})"
        m = re.search(r"(\d+) requests in", out)
        requests = int(m.group(1)) if m else 0
        only_timeouts = re.search(r"Socket errors: connect 0, read 0, write 0, timeout \d+\n", out)
        if attempt == 1 and p.returncode == 0 and only_timeouts and host.stalled():
            print(f"NOTE the host disturbed time during wrk ({host}): its timeouts are not "
                  f"the server's; running wrk again")
            continue
        return out, requests


def wrk_clean(out, requests):
    return requests > 0 and not re.search("Socket errors|Non-2xx|wrk exit status", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mote", required=True)
    ap.add_argument("--platform", default="process")
    ap.add_argument("--size-mb", type=int, default=100, help="the file curl fetches")
    ap.add_argument("--no-wrk", action="store_true",
                    help="skip the 50-connection load (under TCG nginx answers too slowly for wrk's 2 s timeout)")
    args = ap.parse_args()
    nginx = "/usr/sbin/nginx"
    for tool in (nginx, "curl", "wrk"):
        if not (shutil.which(tool) or os.path.exists(tool)):
            print(f"SKIP: {tool} is missing (Debian packages nginx-light, curl, wrk)")
            return 77
    if not os.path.exists("/etc/nginx/mime.types"):
        print("SKIP: /etc/nginx/mime.types is missing")
        return 77
    ok = Checks()
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "conf")
        site = os.path.join(tmp, "site")
        os.makedirs(conf)
        os.makedirs(site)
        shutil.copy("/etc/nginx/mime.types", conf)
        with open(os.path.join(conf, "nginx.conf"), "w") as f:
            f.write(CONF)
        with open(os.path.join(site, "index.html"), "w") as f:
            f.write("hello from mote\n")
        big = os.path.join(site, "big.bin")
        digest = hashlib.sha256()
        with open(big, "wb") as f:
            chunk = os.urandom(1 << 20)
            for i in range(args.size_mb):
                block = bytes([i]) + chunk[1:]
                digest.update(block)
                f.write(block)
        port = free_port()
        cmd = [args.mote, "run", "--platform", args.platform, "-p", f"127.0.0.1:{port}:80",
               "-v", f"{conf}:/etc/nginx:ro", "-v", f"{site}:/var/www/html",
               nginx, "-g", "daemon off;"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            ready = serving(proc, lambda: serves_index(port), 120 if args.platform == "qemu" else 30)
            ok("nginx under mote serves index.html through -p", ready,
               "no answer" if proc.poll() is None else
               f"mote exited {proc.returncode}: {proc.stdout.read()[-500:]!r}")
            if not ready:
                return ok.finish()
            p = subprocess.run(f"curl -sf http://127.0.0.1:{port}/big.bin | sha256sum", shell=True,
                               stdout=subprocess.PIPE, timeout=600)
            got = p.stdout.decode().split(" ")[0]
            ok(f"curl: the {args.size_mb} MB file arrives with the same sha256", got == digest.hexdigest(),
               f"{got} != {digest.hexdigest()}")
            if args.no_wrk:
                return ok.finish()
            out, requests = run_wrk(port)
            ok("wrk -c 50 -d 10s: requests answered, no socket errors, no non-2xx",
               wrk_clean(out, requests), out)
            rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
            print(f"     wrk: {requests} requests, {rate.group(1) if rate else '?'} req/s")
        finally:
            proc.kill()
            proc.wait()
    return ok.finish()


if __name__ == "__main__":
    sys.exit(main())
