"""A section of the mote benchmark (issue 6): redis over a tap device, the mote VM
beside a Linux guest on the same hypervisor and machine type (QEMU microvm under
TCG here: no hardware virtualization), the same redis-server binary in each.

Issue 6's goal is >= 1.5x a Linux guest over tap. Each guest gets a tap device in
a network namespace of its own the bench creates (the client, redis-benchmark,
runs there) and the same virtio-net (virtio-mmio) device. Both are up at once
and measured taking turns, the other stopped (SIGSTOP) meanwhile: measured one
after the other, the host's drift alone moved the ratio between 1.3x and 2.2x.
  - Linux: Debian's cloud kernel (bench/guest_bench.py finds it), its virtio and
    virtio_net modules and busybox in an initramfs that sets eth0 to 10.0.2.15/24
    and execs redis-server (with the host's shared libraries);
  - mote: `mote run --platform qemu --net tap:DEV redis-server ...`.
Under TCG both are slow and the ratio, not the figure, is the point.
"""

import glob
import os
import shutil
import signal
import statistics
import subprocess
import time

from bench import Failure, Skip, setting, log, row, times, verdict
from guest_bench import find_kernel, newc_cpio
from net_bench import Server, REDIS, REDIS_BENCH, make_tap_netns, redis_rps, tree

GOAL = 1.5
NS = "motevmnet%d" % os.getpid()
DEV = "vmtap0"
HOST_ADDR = "10.0.2.2/24"
GUEST = "10.0.2.15"
READY_TIMEOUT = 60  # a Linux boot under TCG with a 20 MB initramfs: 3-4 s here
# A quick run measures as much as a full one: the whole section takes ~16 s
# (the Linux guest boots in ~3 s), and one run of a quarter of the requests
# moved the ratios by up to 0.4x from run to run.
REQUESTS = setting("BENCH_VM_REDIS_N", 4000, 4000)
PIPELINES = (1, 16)
REPS = setting("BENCH_VM_NET_REPS", 6, 3)
SETTLE_S = float(os.environ.get("BENCH_VM_SETTLE_S", "5"))
# virtio_net and what it needs, in load order (modules.dep of the 6.1 cloud kernel).
MODULES = ["drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko",
           "drivers/virtio/virtio_mmio.ko", "net/core/failover.ko",
           "drivers/net/net_failover.ko", "drivers/net/virtio_net.ko"]
REDIS_ARGS = ["--save", "", "--appendonly", "no", "--protected-mode", "no", "--bind", "0.0.0.0",
              "--port", "6379"]
INIT = """#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in %(mods)s; do /bin/busybox insmod /mods/$m.ko || exit 1; done
/bin/busybox ip link set lo up
/bin/busybox ip link set eth0 up
/bin/busybox ip addr add %(addr)s/24 dev eth0
exec /usr/bin/redis-server %(args)s
"""


def libraries(path):
    """The shared libraries `path` loads (ldd), with the dynamic loader."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=30).stdout
    libs = []
    for line in out.splitlines():
        p = line.split("=>")[1].split()[0] if "=>" in line else line.split()[0] if line.strip() else ""
        if p.startswith("/") and os.path.exists(p):
            libs.append(p)
    return libs


def linux_initrd(b, kernel, out_path):
    """The Linux guest's initramfs; its size."""
    mods = glob.glob(os.path.join(os.path.dirname(os.path.dirname(kernel)), "lib", "modules", "*",
                                  "kernel"))
    if not mods:
        # The host's own kernel: its modules are the host's.
        mods = glob.glob("/lib/modules/%s/kernel" % os.path.basename(kernel)[len("vmlinuz-"):])
    if not mods:
        raise Skip("no modules directory next to %s (virtio_net is a module in Debian's kernel)"
                   % kernel)
    busybox = shutil.which("busybox")
    if not busybox:
        raise Skip("busybox (busybox-static) is not installed: the Linux guest's /init uses it")
    files, dirs = [], set()

    def add(path, mode, data):
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                files.append((d, 0o40755, b""))
        files.append((path, mode, data))

    def read(p):
        with open(p, "rb") as f:
            return f.read()

    add("bin/busybox", 0o100755, read(busybox))
    for m in MODULES:
        p = os.path.join(mods[0], m)
        if not os.path.exists(p):
            raise Skip("%s is missing (compressed modules are not handled)" % p)
        add("mods/" + os.path.basename(m), 0o100644, read(p))
    add(REDIS.lstrip("/"), 0o100755, read(REDIS))
    for lib in libraries(REDIS):
        add(lib.lstrip("/"), 0o100755, read(os.path.realpath(lib)))
    init = INIT % {"mods": " ".join(os.path.basename(m)[:-3] for m in MODULES), "addr": GUEST,
                   "args": " ".join("''" if a == "" else a for a in REDIS_ARGS)}
    add("init", 0o100755, init.encode())
    data = newc_cpio(files)
    with open(out_path, "wb") as f:
        f.write(data)
    return len(data)


def qemu_microvm(ram):
    """QEMU microvm under TCG (no -icount: these figures are wall-clock), the tap
    device as a virtio-mmio virtio-net, as `mote run --platform qemu` gives it."""
    return ["qemu-system-x86_64", "-M", "microvm,pit=on,rtc=on", "-accel", "tcg", "-cpu", "max",
            "-m", ram, "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-serial", "stdio", "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % DEV,
            "-device", "virtio-net-device,netdev=n0"]


def linux_append(b):
    """The Linux guest's command line. Under TCG without -icount its TSC is the
    host's, and on this busy host 1 boot in 10 failed to calibrate it against
    the PIT ("tsc: Unable to calibrate against PIT", "No reference
    (HPET/PMTIMER) available") and hung for good: so the host's TSC rate
    (bench/programs/tsc_khz.c) is given as tsc_early_khz. Not quiet: a boot that
    hangs all the same shows where in the server's log."""
    try:
        out = subprocess.run([os.path.join(b.repo, b.bdir, "tsc_khz")], capture_output=True,
                             text=True, timeout=10).stdout
        tsc = " tsc_early_khz=%d" % int(out.strip().split("=")[1])
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        tsc = ""
    return "console=ttyS0 tsc=unstable%s panic=-1" % tsc


def signal_tree(srv, sig):
    """sig to the server's processes (QEMU, and mote's around it)."""
    for pid in tree(srv.proc.pid):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def vm_network(b):
    rows = []
    res = b.results.setdefault("vm_network", {})
    append = linux_append(b)
    title = "Networking on one hypervisor: redis over tap, mote VM vs a Linux guest (QEMU/TCG)"
    method = ("Both on QEMU 7.2 `-M microvm -accel tcg -cpu max` (TCG: no hardware "
              "virtualization here), both up at once and measured taking turns (the other "
              "guest stopped with SIGSTOP meanwhile, and %g s for the measured one to settle "
              "after SIGCONT: its clock catches up on the stop), each with a virtio-mmio virtio-net on "
              "a tap device in a network namespace of its own the bench creates, where "
              "redis-benchmark runs (`-c 50 -t set,get`, -n %d; -P 16: -n %d); the Linux guest is Debian's "
              "cloud kernel with its virtio_net modules, busybox and the host's redis-server "
              "and libraries in an initramfs (`%s`); mote runs `mote run --platform qemu --net "
              "tap:%s` with the same redis-server; median of %d runs."
              % (SETTLE_S, REQUESTS, REQUESTS * 10, append, DEV, REPS))

    def skip_all(why):
        b.skip("VM networking", why)
        rows.append(row("redis over tap: mote VM / Linux guest", "SKIP", why, ">= %gx (issue 6)"
                        % GOAL, "no figure"))
        b.sections.append((title, method, rows))

    for tool in ("qemu-system-x86_64", REDIS_BENCH, "redis-cli", "ip"):
        if not shutil.which(tool) and not os.path.exists(tool):
            return skip_all("%s is not installed" % tool)
    if not os.path.exists(REDIS):
        return skip_all("%s is not installed" % REDIS)
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        return skip_all("a network namespace and a tap device need root and /dev/net/tun")
    try:
        kernel, origin = find_kernel(b)
        initrd = os.path.join(b.repo, b.bdir, "linux-redis-initrd.cpio")
        size = linux_initrd(b, kernel, initrd)
    except Skip as ex:
        return skip_all(str(ex))

    def ready(ns):
        r = subprocess.run(["ip", "netns", "exec", ns, "redis-cli", "-h", GUEST, "-p", "6379",
                            "ping"], capture_output=True, text=True, timeout=10)
        return r.stdout.strip() == "PONG"

    guests = {
        "Linux guest": qemu_microvm("512M") + ["-kernel", kernel, "-initrd", initrd,
                                               "-append", append],
        "mote VM": [b.mote, "run", "--platform", "qemu", "--net", "tap:" + DEV, REDIS,
                    *REDIS_ARGS],
    }
    meds = {}
    # Each guest in a namespace of its own (both are 10.0.2.15), both up at
    # once, measured taking turns: the one not measured is stopped
    # (SIGSTOP), so that neither competes with the other and both see the
    # host as it is at that moment (this host's speed drifts by tens of
    # percent over a minute).
    spaces = {name: "%s%s" % (NS, name.split()[0].lower()) for name in guests}
    servers = {}
    try:
        for ns in spaces.values():
            make_tap_netns(b, ns, DEV, HOST_ADDR)
        errors = {}
        for name, argv in guests.items():
            ns = spaces[name]
            # Once more when a guest never answers: the Linux guest was seen,
            # rarely, to print nothing at all under TCG on a busy host.
            for attempt in (1, 2):
                t0 = time.monotonic()
                srv = Server(b, "vm-" + name.split()[0].lower(), argv,
                             lambda ns=ns: ready(ns), netns=ns, ready_timeout=READY_TIMEOUT)
                try:
                    srv.start()
                except Failure as ex:
                    errors[name] = ex
                    log("vm network: %s, attempt %d: %s" % (name, attempt, str(ex)[-300:]))
                    continue
                servers[name] = (srv, time.monotonic() - t0)
                signal_tree(srv, signal.SIGSTOP)
                b.commands.append(("vm-net-" + name.split()[0].lower(),
                                   "ip netns exec %s %s" % (ns, " ".join(argv))))
                break
        vals = {name: {} for name in servers}
        for rep in range(REPS):
            order = list(servers) if rep % 2 == 0 else list(reversed(servers))
            for name in order:
                srv, _ = servers[name]
                signal_tree(srv, signal.SIGCONT)
                # The guest's clock catches up on the time it was stopped (a
                # burst of timer ticks for Linux): it settles before a figure.
                time.sleep(SETTLE_S)
                try:
                    for p in PIPELINES:
                        got = redis_rps(b, GUEST, 6379, p, REQUESTS * (10 if p > 1 else 1),
                                        netns=spaces[name])
                        for cmd, rps in got.items():
                            vals[name].setdefault("%s -P %d" % (cmd, p), []).append(rps)
                finally:
                    signal_tree(srv, signal.SIGSTOP)
        for name in guests:
            if name not in servers:
                rows.append(row("redis over tap, %s" % name, "not measured",
                                str(errors.get(name))[-300:], "", "no figure"))
                continue
            meds[name] = {k: statistics.median(v) for k, v in vals[name].items()}
            res[name] = {"median_rps": meds[name], "runs_rps": vals[name],
                         "ready_s": servers[name][1]}
            log("vm network: %s ready in %.1f s: %s" % (name, servers[name][1], meds[name]))
    except (Skip, Failure) as ex:
        return skip_all(str(ex))
    finally:
        for srv, _ in servers.values():
            signal_tree(srv, signal.SIGCONT)
            srv.stop()
        for ns in spaces.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    linux = meds.get("Linux guest", {})
    for name in ("Linux guest", "mote VM"):
        for label in sorted(meds.get(name, {})):
            v = meds[name][label]
            if name == "Linux guest":
                ratio, goal, res_cell = "(baseline)", "", ""
            else:
                base = linux.get(label)
                ratio = "%s Linux guest" % times(v / base) if base else "n/a"
                goal = ">= %gx Linux guest (issue 6)" % GOAL
                res_cell = verdict(v / base >= GOAL) if base else "n/a (no Linux figure)"
            rows.append(row("redis %s over tap, %s (TCG)" % (label, name), "%.0f req/s" % v,
                            ratio, goal, res_cell))
    rows.append(row("Linux guest: kernel and initramfs", origin,
                    "initramfs %.1f MiB (busybox, virtio modules, redis-server and its libraries)"
                    % (size / 1048576), "", ""))
    b.sections.append((title, method, rows))
