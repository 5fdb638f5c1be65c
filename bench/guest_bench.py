"""Two sections of the mote benchmark (issue 8): a Linux guest beside the mote VM on
the same hypervisor, and the syscall path in cycles or instructions.

linux_guest: Debian's cloud kernel (linux-image-cloud-amd64; /boot/vmlinuz-* if the
host has one, else the package fetched once with `apt-get download` and unpacked
with `dpkg-deb -x` into BUILD/bench/linux-guest, never installed) boots a minimal
initramfs (a newc cpio written here) whose /init is bench/programs/tsc_hello.c, and
mote-kernel boots the same program, both on QEMU `-M microvm -accel tcg -cpu max
-icount shift=0,sleep=off`. Under -icount the guest TSC advances one per executed
instruction, plus the time an idle guest skips (sleep=off), so tsc_hello's reading
at main() is the guest's cost from reset to the program. The Linux boot takes ~45 s
of wall time here (most of it not CPU), so with QUICK=1 start() launches it in a
thread when the benchmark begins and linux_guest() collects it at the end.

syscall_cycles: `perf stat -e cycles` of getppid_loop, natively and under mote
(where the vCPU exposes no PMU the row quotes perf), and callgrind's instruction
counts per call (user-space instructions only: the host kernel's part is not seen).

Called by bench.py (Bench.main); uses its run/guarded/skip helpers."""

import glob
import os
import re
import shlex
import shutil
import statistics
import threading
import time

from bench import Failure, Skip, setting, log, row, times, tail, spread, size

GUEST_RUNS = setting("BENCH_GUEST_RUNS", 3, 1)
LINUX_TIMEOUT = 300
LINUX_APPEND = "console=ttyS0 tsc=unstable quiet panic=-1"
TSC_RE = re.compile(r"tsc_hello tsc_at_main=(\d+)")


def qemu_base(ram):
    return ["qemu-system-x86_64", "-M", "microvm,pit=on,rtc=on", "-accel", "tcg", "-cpu", "max",
            "-icount", "shift=0,sleep=off", "-m", ram, "-nodefaults", "-no-user-config",
            "-nographic", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]


def newc_cpio(files):
    """A newc ("070701") cpio archive of [(name, mode, bytes)], as the kernel's
    initramfs unpacker reads it (Documentation/driver-api/early-userspace)."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(files + [("TRAILER!!!", 0, b"")], 1):
        nb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0)
        out += b"070701" + "".join("%08X" % v for v in fields).encode() + nb
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def find_kernel(b):
    """A Debian kernel image: the host's, else a cached or freshly downloaded package."""
    host = sorted(glob.glob("/boot/vmlinuz-*"))
    if host:
        return host[-1], "host's %s" % host[-1]
    cache = os.path.join(b.build_abs, "bench", "linux-guest")
    found = sorted(glob.glob(os.path.join(cache, "boot", "vmlinuz-*")))
    if found:
        return found[-1], "linux-image-cloud-amd64 unpacked in %s" % os.path.relpath(
            cache, b.repo)
    for tool in ("apt-cache", "apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise Skip("no /boot/vmlinuz-* and no %s to fetch Debian's kernel" % tool)
    rc, out, err = b.run(["apt-cache", "depends", "linux-image-cloud-amd64"], timeout=60)
    m = re.search(r"Depends: (linux-image-[0-9][^\s]*-cloud-amd64)\b", out)
    if rc != 0 or not m:
        raise Skip("no /boot/vmlinuz-*; apt-cache depends linux-image-cloud-amd64: status "
                   "%d, %s" % (rc, (out + err).strip()[:200]))
    os.makedirs(cache, exist_ok=True)
    log("fetching %s (apt-get download, ~27 MB, once) into %s" % (m.group(1), cache))
    rc, out, err = b.run(["apt-get", "download", m.group(1)], timeout=300, cwd=cache)
    debs = glob.glob(os.path.join(cache, "*.deb"))
    if rc != 0 or not debs:
        raise Skip("apt-get download %s: status %d, %s" % (m.group(1), rc, err.strip()[:200]))
    rc, out, err = b.run(["dpkg-deb", "-x", debs[0], cache], timeout=120)
    for d in debs:
        os.unlink(d)
    found = sorted(glob.glob(os.path.join(cache, "boot", "vmlinuz-*")))
    if rc != 0 or not found:
        raise Skip("dpkg-deb -x %s: status %d, %s" % (debs[0], rc, err.strip()[:200]))
    return found[-1], "%s unpacked in %s" % (m.group(1), os.path.relpath(cache, b.repo))


class LinuxGuest:
    """The Linux guest's runs, in a thread started with the benchmark."""

    def __init__(self, b):
        self.b = b
        self.thread = None
        self.error = None
        self.runs = []  # (tsc at main, wall seconds)
        self.kernel = self.origin = self.initrd = self.argv = None

    def start(self):
        self.thread = threading.Thread(target=self.body, daemon=True)
        self.thread.start()

    def body(self):
        b = self.b
        try:
            if not shutil.which("qemu-system-x86_64"):
                raise Skip("qemu-system-x86_64 not installed")
            self.kernel, self.origin = find_kernel(b)
            self.initrd = os.path.join(b.bdir, "linux-initrd.cpio")
            with open(os.path.join(b.repo, b.bdir, "tsc_hello"), "rb") as f:
                prog = f.read()
            with open(os.path.join(b.repo, self.initrd), "wb") as f:
                f.write(newc_cpio([("init", 0o100755, prog)]))
            self.argv = qemu_base("256M") + ["-kernel", self.kernel, "-initrd", self.initrd,
                                             "-append", LINUX_APPEND]
            for _ in range(GUEST_RUNS):
                t0 = time.monotonic()
                rc, out, err = b.run(self.argv, timeout=LINUX_TIMEOUT)
                wall = time.monotonic() - t0
                m = TSC_RE.search(out)
                if rc != 1 or not m:
                    raise Skip("%s: QEMU status %d (1: the guest wrote 0 to isa-debug-exit), "
                                  "output:\n%s\n%s" % (shlex.join(self.argv), rc, tail(out),
                                                       tail(err)))
                self.runs.append((int(m.group(1)), wall))
                log("linux guest: tsc at main %s, %.1f s" % (m.group(1), wall))
        except (Skip, Failure, OSError) as ex:
            self.error = ex

    def wait(self):
        self.thread.join()


def start(b):
    b.linux_guest = LinuxGuest(b)
    b.linux_guest.start()


def linux_guest(b):
    rows = []
    res = b.results.setdefault("guest", {})
    lg = getattr(b, "linux_guest", None)
    if lg is None:
        start(b)
        lg = b.linux_guest
    kernel = os.path.join(b.build, "mote-kernel")
    prog = os.path.join(b.bdir, "tsc_hello")

    def mote_vm():
        argv = qemu_base("64M") + ["-kernel", kernel, "-initrd", prog, "-append", "-- tsc_hello"]
        vals, walls = [], []
        for _ in range(GUEST_RUNS):
            t0 = time.monotonic()
            rc, out, err = b.run(argv)
            walls.append(time.monotonic() - t0)
            m = TSC_RE.search(out)
            if rc != 1 or not m:
                raise Failure("%s: QEMU status %d, output:\n%s\n%s" % (
                    shlex.join(argv), rc, tail(out), tail(err)))
            vals.append(int(m.group(1)))
        res["mote"] = {"tsc_at_main": vals, "wall_s": walls}
        b.commands.append(("guest-mote", "%d x: %s" % (GUEST_RUNS, shlex.join(argv))))
        return row("mote-kernel (PVH ELF), tsc_hello", "%d instructions; %.2f s wall" % (
            statistics.median(vals), statistics.median(walls)), "(baseline)", "", "")

    def linux():
        if lg is None:
            raise Skip("not started")
        lg.wait()
        if lg.error:
            raise lg.error
        vals = [r[0] for r in lg.runs]
        walls = [r[1] for r in lg.runs]
        res["linux"] = {"tsc_at_main": vals, "wall_s": walls, "kernel": lg.origin}
        b.commands.append(("guest-linux", "%d x: %s  # initrd: newc cpio, /init = %s" % (
            GUEST_RUNS, shlex.join(lg.argv), prog)))
        med = statistics.median(vals)
        base = statistics.median(res["mote"]["tsc_at_main"]) if "mote" in res else None
        ratio = "%s mote-kernel" % times(med / base) if base else "n/a"
        if "mote" in res:
            ratio += "; wall %s" % times(statistics.median(walls) /
                                         statistics.median(res["mote"]["wall_s"]))
        return row("Linux %s (%s), /init = tsc_hello" % (
            os.path.basename(lg.kernel).replace("vmlinuz-", ""), lg.origin),
            "%d guest ns; %.1f s wall" % (med, statistics.median(walls)), ratio, "", "-")

    def sizes():
        ks = os.path.getsize(os.path.join(b.repo, kernel))
        if lg is None or lg.error or not lg.kernel:
            raise Skip("no Linux kernel image")
        ls = os.path.getsize(lg.kernel)
        res["sizes"] = {"mote_kernel": ks, "linux_vmlinuz": ls}
        return row("boot image: Linux vmlinuz (bzImage, compressed) vs mote-kernel (ELF)",
                   "%s vs %s" % (size(ls), size(ks)), "mote-kernel %s Linux's" % times(ks / ls),
                   "", "-")

    b.guarded(rows, "mote VM tsc_hello", mote_vm, kind="mote")
    b.guarded(rows, "Linux guest tsc_hello", linux)
    b.guarded(rows, "guest image sizes", sizes, kind="mote")
    b.sections.append((
        "A Linux guest beside the mote VM, on the same QEMU (TCG: no hardware virtualization)",
        "QEMU 7.2 `-M microvm,pit=on,rtc=on -accel tcg -cpu max -icount shift=0,sleep=off` for "
        "both; bench/programs/tsc_hello.c prints the guest TSC at main(), which under -icount "
        "counts executed guest instructions from reset (firmware included) plus the time an "
        "idle guest skips (sleep=off: Linux waits in its boot, mote-kernel does not), hence "
        "'guest ns' for Linux; Linux's command line `%s` (the note in "
        "docs: its TSC calibration hangs under TCG without tsc=unstable), its initramfs a "
        "newc cpio holding only /init; median of %d runs" % (LINUX_APPEND, GUEST_RUNS), rows))


def syscall_cycles(b):
    rows = []
    res = b.results.setdefault("syscall_cycles", {})
    loop = b.loop

    def perf(label, argv, key):
        def f():
            if not shutil.which("perf"):
                raise Skip("perf not installed (apt-get install linux-perf)")
            full = ["perf", "stat", "-x", ",", "-e", "cycles,instructions", "--"] + argv
            rc, out, err = b.run(full)
            b.commands.append(("perf-" + key, shlex.join(full)))
            lines = {l.split(",")[2]: l.split(",")[0] for l in err.splitlines()
                     if l.count(",") >= 3}
            cyc = lines.get("cycles")
            m = re.search(r"n=(\d+)", out)
            if rc != 0 or cyc is None:
                raise Failure("%s: status %d\n%s" % (shlex.join(full), rc, tail(err)))
            if not cyc.replace(".", "").isdigit():
                return row(label, "not measured", "perf stat -e cycles: %s (this VM's vCPU "
                           "exposes no PMU counters)" % cyc, "", "no figure")
            per = int(cyc) / int(m.group(1))
            res[key] = per
            return row(label, "%.0f cycles per call (whole run / N)" % per, "", "", "-")
        return label, f

    def callgrind(label, argv_of, key, under_mote):
        def f():
            if not shutil.which("valgrind"):
                raise Skip("valgrind not installed")
            counts = []
            for n in (10000, 20000):
                out_file = os.path.join(b.bdir, "callgrind-%s-%d.out" % (key, n))
                full = ["valgrind", "--tool=callgrind", "--trace-children=yes",
                        "--callgrind-out-file=" + out_file] + argv_of(str(n))
                rc, out, err = b.run(full)
                m = re.findall(r"Collected : (\d+)", err)
                if under_mote and (rc != 0 or "getppid_loop mode" not in out):
                    why = [l for l in err.splitlines() if "mote:" in l and "error" in l] \
                        or [l for l in err.splitlines() if "mote:" in l and "warning" not in l] \
                        or err.splitlines()[-1:]
                    b.commands.append(("callgrind-" + key, shlex.join(full)))
                    return row(label, "not measured", "valgrind cannot run mote: %s" % (
                        why[0].strip()[:120] if why else "status %d" % rc), "", "no figure")
                if rc != 0 or not m:
                    raise Failure("%s: status %d\n%s" % (shlex.join(full), rc, tail(err)))
                counts.append(int(m[-1]))
                b.commands.append(("callgrind-" + key, shlex.join(full)))
            per = (counts[1] - counts[0]) / 10000
            res[key] = per
            return row(label, "%.1f user-space instructions per call" % per,
                       "(N=20000 run - N=10000 run) / 10000", "", "-")
        return label, f

    b.guarded(rows, *perf("perf stat cycles, native getppid_loop", [loop, "200000"],
                          "native"))
    b.guarded(rows, *perf("perf stat cycles, mote run getppid_loop",
                          b.mote_cmd(loop, "200000"), "mote"), kind="mote")
    b.guarded(rows, *callgrind("callgrind, native getppid()", lambda n: [loop, n, "wrapper"],
                               "callgrind-native", False))
    b.guarded(rows, *callgrind("callgrind, mote run getppid()",
                               lambda n: b.mote_cmd(loop, n, "wrapper"), "callgrind-mote",
                               True), kind="mote")
    b.sections.append((
        "Syscall path in cycles and instructions",
        "perf stat -e cycles,instructions over getppid_loop (the whole run divided by N); "
        "valgrind --tool=callgrind instruction counts of two runs with different N, the "
        "difference divided by the extra calls (natively the host kernel's instructions "
        "are not counted, only the loop and glibc's wrapper)", rows))
