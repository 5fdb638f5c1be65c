"""Shared pieces of the integration tests: the ok/FAIL bookkeeping, running a
command for its status and output, and the plain QEMU microvm command line of
docs/kernel-vm.md."""

import os
import select
import socket
import subprocess
import threading
import time


def run(cmd, timeout, env=None):
    """(exit status, stdout bytes, stderr bytes) of cmd."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def free_port(udp=False):
    """A port on 127.0.0.1 nothing uses right now (TCP, or UDP)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(proc, timeout):
    """Reads proc's stderr until it says it waits for gdb (`mote run --gdb`, the
    VM test drivers); (ok, text so far)."""
    end = time.time() + timeout
    seen = b""
    while time.time() < end:
        r, _, _ = select.select([proc.stderr], [], [], max(0.0, end - time.time()))
        if not r:
            break
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
        if b"waiting for gdb on 127.0.0.1:" in seen:
            return True, seen
    return False, seen


def reap(proc, what, timeout=30):
    """(stdout, stderr) of proc once it ends by itself, or once killed after
    `timeout` s (then the stderr says so, naming `what`)."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        return out, err + b"\n(%s TIMED OUT after gdb ended)" % what.encode()

def serving(proc, probe, timeout):
    """True once probe() answers truthfully (OSError counts as not yet), False
    when proc (a server under mote) exits first or the timeout passes."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            if probe():
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


class StallWatch:
    """What the host did to time while the `with` block ran, for tools that
    time requests by the wall clock (wrk): `longest` is the longest the host
    stopped running this test (a thread sleeps 50 ms at a time and records
    its longest gap), `clock_step` how far the wall clock moved against the
    monotonic one (an NTP step, a paused VM's clock catching up). Either of
    seconds means the host, not the program under test, made requests look
    slow."""

    def __enter__(self):
        self.longest = 0.0
        self.clock_step = 0.0
        self._offset = time.time() - time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _look(self):
        self.clock_step = max(self.clock_step, abs(time.time() - time.monotonic() - self._offset))

    def _watch(self):
        last = time.monotonic()
        while not self._stop.wait(0.05):
            now = time.monotonic()
            self.longest = max(self.longest, now - last - 0.05)
            last = now
            self._look()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._look()
        return False

    def stalled(self):
        return self.longest > 1.0 or self.clock_step > 1.0

    def __str__(self):
        return f"longest stop {self.longest:.2f} s, wall clock stepped {self.clock_step:.2f} s"


class Checks:
    """Prints one ok/FAIL line per check and the closing 'N passed, N failed'."""

    def __init__(self):
        self.total = 0
        self.failed = 0

    def __call__(self, name, ok, detail=""):
        self.total += 1
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
        self.failed += 0 if ok else 1

    def finish(self):
        print(f"{self.total - self.failed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def kvm_pvm_emulation_failure(stderr):
    """Whether a run on --platform kvm stopped where kvm_pvm cannot go: this
    host's KVM is kvm_pvm, which emulates ring-0 code, and the VM ended with
    KVM's emulation failure (SSE or int3 at ring 0, machine-notes.md). On a
    hardware KVM the same stop is a failure, never this."""
    return ("KVM could not emulate an instruction" in stderr
            and os.path.exists("/sys/module/kvm_pvm"))


def microvm(kernel, append=None, ram="64M", initrd=None):
    """qemu-system-x86_64 -M microvm under TCG, console on stdio, status via
    isa-debug-exit: the documented way to boot mote-kernel or a `mote pack`
    image by hand (initrd: module 0, the program or a root filesystem)."""
    cmd = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", ram,
           "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
           "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
    if initrd is not None:
        cmd += ["-initrd", initrd]
    cmd += ["-kernel", kernel]
    if append is not None:
        cmd += ["-append", append]
    return cmd
