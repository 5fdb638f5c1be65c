"""A cpio "newc" reader for the integration tests, independent of mote's own
(monitor/image/cpio.cc), with the checks every mote root filesystem image
must pass: magic, hex fields, names within Linux's PATH_MAX, data of regular
files of 4096 bytes or more page-aligned, parents before children, and the
TRAILER!!! entry at the end."""

import stat


def read_newc(data, base=0):
    """Entries of the archive at data[base:], as a list of dicts; raises
    ValueError on anything malformed."""
    pos = 0
    out = []
    while True:
        h = data[base + pos:base + pos + 110]
        if len(h) < 110:
            raise ValueError(f"truncated header at {pos}")
        if h[:6] != b"070701":
            raise ValueError(f"bad magic {h[:6]!r} at {pos}")
        try:
            f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            raise ValueError(f"bad hex field at {pos}")
        ino, mode, uid, gid, nlink, mtime, size = f[:7]
        namesize = f[11]
        if namesize == 0 or namesize > 4096:
            raise ValueError(f"name size {namesize} at {pos}")
        raw = data[base + pos + 110:base + pos + 110 + namesize]
        if b"\0" not in raw:
            raise ValueError(f"name without NUL at {pos}")
        name = raw.split(b"\0")[0].decode()
        doff = (pos + 110 + namesize + 3) & ~3
        if base + doff + size > len(data):
            raise ValueError(f"{name} runs past the end")
        e = dict(name=name, ino=ino, mode=mode, uid=uid, gid=gid, nlink=nlink, mtime=mtime,
                 size=size, offset=doff, namesize=namesize)
        if stat.S_ISLNK(mode):
            e["target"] = data[base + doff:base + doff + size].decode()
        pos = (doff + size + 3) & ~3
        if name == "TRAILER!!!":
            e["end"] = pos
            out.append(e)
            return out
        out.append(e)


def problems(entries):
    """What is wrong with a mote image (an empty list when nothing)."""
    bad = []
    if not entries or entries[-1]["name"] != "TRAILER!!!":
        return ["no TRAILER!!! at the end"]
    seen = {"": "dir"}
    for e in entries[:-1]:
        name, mode = e["name"], e["mode"]
        if name == ".":
            continue  # alignment filler: the root directory again
        if name.startswith("/"):
            bad.append(f"{name}: leading slash")
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        if seen.get(parent) != "dir":
            bad.append(f"{name}: parent {parent!r} not a directory before it")
        if stat.S_ISDIR(mode):
            seen[name] = "dir"
        elif stat.S_ISREG(mode):
            seen[name] = "file"
            if e["size"] >= 4096 and e["offset"] % 4096:
                bad.append(f"{name}: {e['size']} bytes at offset {e['offset']}, not page-aligned")
        elif stat.S_ISLNK(mode):
            seen[name] = "link"
        else:
            bad.append(f"{name}: unexpected mode {mode:o}")
        if e["uid"] or e["gid"]:
            bad.append(f"{name}: uid/gid not 0")
    return bad


def resolve(entries, path):
    """The regular file `path` reaches through the image's symlinks, or None."""
    by = {e["name"]: e for e in entries}
    todo = [c for c in path.split("/") if c and c != "."][::-1]
    cur = []
    for _ in range(200):
        if not todo:
            break
        c = todo.pop()
        if c == "..":
            cur = cur[:-1]
            continue
        e = by.get("/".join(cur + [c]))
        if e is None:
            return None
        if stat.S_ISLNK(e["mode"]):
            t = e["target"]
            if t.startswith("/"):
                cur = []
            todo.extend([x for x in t.split("/") if x and x != "."][::-1])
            continue
        cur.append(c)
    e = by.get("/".join(cur))
    return "/" + "/".join(cur) if e and stat.S_ISREG(e["mode"]) else None
