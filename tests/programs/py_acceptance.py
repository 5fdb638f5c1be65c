# The python3 acceptance script of issue 4: imports the standard modules
# programs lean on and round-trips files through tempfile. Deterministic
# output, compared natively and under mote.
import datetime
import decimal
import hashlib
import json
import os
import pathlib
import re
import sqlite3
import tempfile
import zlib

print("json", json.dumps({"a": [1, 2, {"b": None}]}, sort_keys=True))
print("sha256", hashlib.sha256(b"mote").hexdigest())
print("md5", hashlib.md5(b"mote").hexdigest())
print("re", re.findall(r"(\w+)@(\w+)\.org", "ann@py.org, bob@lua.org"))
decimal.getcontext().prec = 30
print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
data = b"unikernel " * 1000
packed = zlib.compress(data, 9)
print("zlib", len(data), zlib.decompress(packed) == data, zlib.crc32(data))
print("datetime", datetime.date(2026, 11, 27).isoformat(),
      (datetime.datetime(2026, 1, 1) + datetime.timedelta(days=330, hours=5)).isoformat())

db = sqlite3.connect(":memory:")
db.execute("create table t(k text primary key, v integer)")
db.executemany("insert into t values (?, ?)", [("a", 1), ("b", 2), ("c", 3)])
print("sqlite", db.execute("select count(*), sum(v) from t").fetchone(), sqlite3.sqlite_version_info >= (3, 0, 0))

with tempfile.TemporaryDirectory() as d:
    base = pathlib.Path(d)
    (base / "sub").mkdir()
    for i in range(5):
        (base / "sub" / f"f{i}.txt").write_text(f"line {i}\n" * (i + 1))
    names = sorted(p.name for p in (base / "sub").iterdir())
    sizes = [(base / "sub" / n).stat().st_size for n in names]
    print("pathlib", names, sizes)
    text = (base / "sub" / "f4.txt").read_text()
    print("readback", text.count("line 4"))
    (base / "sub" / "f0.txt").rename(base / "moved.txt")
    print("rename", (base / "moved.txt").exists(), (base / "sub" / "f0.txt").exists())
    fd, path = tempfile.mkstemp(dir=d, suffix=".bin")
    os.write(fd, bytes(range(256)) * 64)
    os.lseek(fd, 100, os.SEEK_SET)
    print("mkstemp", os.read(fd, 4).hex(), os.fstat(fd).st_size)
    os.close(fd)
    dbfile = base / "file.db"
    con = sqlite3.connect(str(dbfile))
    con.execute("create table x(n)")
    con.executemany("insert into x values (?)", [(i,) for i in range(100)])
    con.commit()
    con.close()
    print("sqlite-file", sqlite3.connect(str(dbfile)).execute("select sum(n) from x").fetchone())
    walked = sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs
                    if not f.endswith(".bin"))
    print("walk", walked)
print("cleanup", os.path.exists(d))
print("done")
