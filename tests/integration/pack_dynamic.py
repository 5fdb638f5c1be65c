#!/usr/bin/env python3
"""`mote pack` of dynamic programs: the image carries a root filesystem (cpio
newc) as its extra PT_LOAD segment, described by the .mote_pack descriptor
(abi/pack.h: magic, program_phys, program_size, initramfs_phys,
initramfs_size, cmdline[984]). Checks the image without booting it:

  * the descriptor: program_size 0, initramfs_* naming a page-aligned PT_LOAD,
    cmdline "exe=/usr/bin/PROG -- PROG ARGS";
  * the cpio inside is well-formed (tests/integration/cpio_check.py), holds
    the program at the path it was named by, its interpreter and libraries
    reachable through the host's symlinks, and what --add added;
  * a missing library fails `mote pack` with status 127 and one line.

    pack_dynamic.py --mote build/mote
"""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from checks import Checks
from cpio_check import problems, read_newc, resolve


def descriptor(image):
    """The .mote_pack descriptor fields and the PT_LOAD segments of an image."""
    eh = struct.unpack_from("<16sHHIQQQIHHHHHH", image, 0)
    phoff, shoff = eh[5], eh[6]
    phnum, shnum, shstrndx = eh[10], eh[12], eh[13]
    loads = []
    for i in range(phnum):
        p_type, _, off, vaddr, paddr, filesz, memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", image, phoff + 56 * i)
        if p_type == 1:
            loads.append((off, paddr, filesz))
    sh = [struct.unpack_from("<IIQQQQIIQQ", image, shoff + 64 * i) for i in range(shnum)]
    names = sh[shstrndx][4]
    for s in sh:
        name = image[names + s[0]:].split(b"\0")[0]
        if name == b".mote_pack":
            magic, pphys, psize, iphys, isize = struct.unpack_from("<QQQQQ", image, s[4])
            cmdline = image[s[4] + 40:s[4] + 1024].split(b"\0")[0].decode()
            return dict(magic=magic, program_phys=pphys, program_size=psize,
                        initramfs_phys=iphys, initramfs_size=isize, cmdline=cmdline), loads
    return None, loads


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mote", required=True)
    opts = p.parse_args()
    check = Checks()
    program = shutil.which("lua5.4") or "/usr/bin/sqlite3"
    program = os.path.abspath(program)

    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, MOTE_CACHE_DIR=os.path.join(d, "cache"))
        extra = os.path.join(d, "extra.txt")
        with open(extra, "w") as f:
            f.write("packed along\n")
        img = os.path.join(d, "prog.img")
        r = subprocess.run([opts.mote, "pack", "--add", extra + ":/srv/extra.txt", program, "-x",
                            "two words", "-o", img], capture_output=True, env=env)
        check("mote pack of a dynamic program succeeds", r.returncode == 0 and os.path.exists(img),
              r.stderr.decode())
        if r.returncode != 0:
            return check.finish()
        data = open(img, "rb").read()
        desc, loads = descriptor(data)
        check("the image has a .mote_pack descriptor", desc is not None and
              desc["magic"] == 0x4b4341504554004d, repr(desc))
        if not desc:
            return check.finish()
        check("no program segment: program_size is 0", desc["program_size"] == 0, repr(desc))
        seg = [l for l in loads if l[1] == desc["initramfs_phys"] and l[2] == desc["initramfs_size"]]
        check("initramfs_phys/size name a PT_LOAD segment", len(seg) == 1 and desc["initramfs_size"] > 0,
              f"{desc} {loads}")
        if len(seg) != 1:
            return check.finish()
        off = seg[0][0]
        check("the root filesystem is page-aligned in the file and in memory",
              off % 4096 == 0 and desc["initramfs_phys"] % 4096 == 0, f"offset {off:#x}")
        check("cmdline: exe= the program's path, then its argv",
              desc["cmdline"] == f"exe={program} -- {program} -x two%20words", desc["cmdline"])
        try:
            entries = read_newc(data, off)
        except ValueError as e:
            check("the cpio inside is readable", False, str(e))
            return check.finish()
        check("the cpio inside is well-formed", not problems(entries), "; ".join(problems(entries)[:5]))
        seg_bytes = data[off:off + desc["initramfs_size"]]
        index_at, magic = struct.unpack_from("<Q8s", seg_bytes, len(seg_bytes) - 16)
        check("the cpio ends at the index, whose footer ends the segment",
              magic == b"MOTEIDX1" and entries[-1]["end"] <= index_at < len(seg_bytes)
              and index_at - entries[-1]["end"] < 8,
              f"cpio end {entries[-1]['end']}, index at {index_at}, segment {len(seg_bytes)}")
        names = {e["name"]: e for e in entries}
        check("the program is at the path it was named by",
              resolve(entries, program) == os.path.realpath(program), repr(resolve(entries, program)))
        interp = subprocess.run(["readelf", "-l", program], capture_output=True, text=True).stdout
        interp = interp.split("interpreter: ")[1].split("]")[0] if "interpreter: " in interp else ""
        check("the interpreter is reachable through the host's symlinks",
              interp and resolve(entries, interp) == os.path.realpath(interp), interp)
        libc = "/lib/x86_64-linux-gnu/libc.so.6"
        check("libc is there", resolve(entries, libc) == os.path.realpath(libc))
        e = names.get("srv/extra.txt")
        check("--add HOST:GUEST put the file at GUEST", e is not None and
              data[off + e["offset"]:off + e["offset"] + e["size"]] == b"packed along\n", repr(e))
        check("--add made its parent directory", "srv" in names and names["srv"]["mode"] & 0o170000 == 0o040000)

        # Packing twice gives the same bytes (deterministic image, cache hit).
        img2 = os.path.join(d, "prog2.img")
        subprocess.run([opts.mote, "pack", "--add", extra + ":/srv/extra.txt", program, "-x",
                        "two words", "-o", img2], capture_output=True, env=env)
        check("packing again gives the same image", os.path.exists(img2) and
              open(img2, "rb").read() == data)

        # A dynamic program whose library is gone: status 127, one line.
        src = os.path.join(d, "m.c")
        with open(src, "w") as f:
            f.write("int gone(void); int main(void) { return gone(); }\n")
        with open(os.path.join(d, "gone.c"), "w") as f:
            f.write("int gone(void) { return 3; }\n")
        lib = os.path.join(d, "libmotegone.so")
        prog = os.path.join(d, "needs-gone")
        built = subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib, os.path.join(d, "gone.c")]).returncode == 0 and \
            subprocess.run(["gcc", "-o", prog, src, "-L" + d, "-lmotegone"]).returncode == 0
        check("test program with its own library builds", built)
        if built:
            os.unlink(lib)
            r = subprocess.run([opts.mote, "pack", prog, "-o", os.path.join(d, "x.img")],
                               capture_output=True, env=env)
            err = r.stderr.decode()
            check("missing library: status 127", r.returncode == 127, f"status {r.returncode}")
            check("missing library: one line naming it and who needs it",
                  err.count("\n") == 1 and err.startswith(
                      f"mote: libmotegone.so needed by {prog} not found (searched: "), err)
            check("missing library: no image left behind", not os.path.exists(os.path.join(d, "x.img")))
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
