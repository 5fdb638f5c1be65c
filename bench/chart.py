"""The benchmark's chart (issue 8): the headline ratios of one run, as a
horizontal bar chart on a log scale, written to docs/performance.png with
matplotlib (Debian's python3-matplotlib, scripts/setup.sh).

headlines(results) picks the ratios from BUILD/bench/results.json's dictionary;
draw(...) writes the PNG. Every bar is a figure measured in the same run: mote
(or gVisor, or the Linux guest) over its baseline, where 1 is parity, and a
lower-is-better figure stays lower-is-better (the axis says which side is
mote's advantage for each bar)."""

import statistics


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _rps(v):
    if isinstance(v, dict):
        for k in ("GET -P 1", "SET -P 1"):
            if k in v:
                return v[k]
        return next(iter(v.values()), None)
    return v


def headlines(r):
    """[(label, ratio, lower_is_better, is_mote)] of the figures present in results r:
    is_mote is False for another contestant's bar (gVisor over native)."""
    out = []

    def add(label, num, den, lower=True):
        if num and den:
            out.append((label, num / den, lower, not label.split(":")[1].strip()
                        .startswith("gVisor")))

    add("start-up, static hello: mote / native", _get(r, "startup", "mote", "median"),
        _get(r, "startup", "native", "median"))
    add("start-up, static hello: gVisor / native", _get(r, "startup", "gvisor", "median"),
        _get(r, "startup", "native", "median"))
    add("start-up, python3 -c pass: mote / native", _get(r, "python", "mote", "median"),
        _get(r, "python", "native", "median"))
    add("null syscall: mote / native", _get(r, "syscall", "mote-wrapper", "median_ns"),
        _get(r, "syscall", "native-wrapper", "median_ns"))
    add("null syscall: gVisor / native", _get(r, "syscall", "gvisor-wrapper", "median_ns"),
        _get(r, "syscall", "native-wrapper", "median_ns"))
    add("thread create+join: mote / native", _get(r, "threads", "mote-create-join", "median_ns"),
        _get(r, "threads", "native-create-join", "median_ns"))
    add("futex round trip: mote / native", _get(r, "threads", "mote-futex-pingpong", "median_ns"),
        _get(r, "threads", "native-futex-pingpong", "median_ns"))
    add("2-vCPU speedup: mote --cpus 2 over --cpus 1", _get(r, "threads", "speedup_mote"), 1.0,
        lower=False)
    add("file read /tmp: mote / native tmpfs", _get(r, "files", "read-mote-tmp", "median"),
        _get(r, "files", "read-native-tmpfs", "median"), lower=False)
    add("file read -v share: mote / native", _get(r, "files", "read-mote-share", "median"),
        _get(r, "files", "read-native-host", "median"), lower=False)
    add("anonymous page fault: mote / native", _get(r, "files", "fault-mote", "median"),
        _get(r, "files", "fault-native", "median"))
    add("idle instance PSS: mote / native",
        _get(r, "footprint", "mote", "per_instance_pss_kib"),
        _get(r, "footprint", "native", "per_instance_pss_kib"))
    add("idle instance PSS: gVisor / native",
        _get(r, "footprint", "gvisor", "per_instance_pss_kib"),
        _get(r, "footprint", "native", "per_instance_pss_kib"))
    add("redis GET -P 1: mote -p / native", _rps(_get(r, "network", "redis_mote", "median_rps")),
        _rps(_get(r, "network", "redis_native", "median_rps")), lower=False)
    add("nginx GET: mote -p / native", _rps(_get(r, "network", "nginx_mote", "median_rps")),
        _rps(_get(r, "network", "nginx_native", "median_rps")), lower=False)
    add("redis GET -P 1: mote --net tap / native",
        _rps(_get(r, "network", "redis_tap", "median_rps")),
        _rps(_get(r, "network", "redis_native", "median_rps")), lower=False)
    add("nginx GET: mote --net tap / native",
        _rps(_get(r, "network", "nginx_tap", "median_rps")),
        _rps(_get(r, "network", "nginx_native", "median_rps")), lower=False)
    lin, mote = _get(r, "guest", "linux", "tsc_at_main"), _get(r, "guest", "mote", "tsc_at_main")
    if lin and mote:
        add("QEMU/TCG reset to main(): mote-kernel / Linux guest", statistics.median(mote),
            statistics.median(lin))
    return out


def draw(items, path, title):
    """Writes the chart; returns None, or why it could not be drawn."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as ex:
        return "matplotlib not installed (apt-get install python3-matplotlib): %s" % ex
    if not items:
        return "no headline figures in this run"
    labels = ["%s%s" % (l, "" if lower else " (higher = better)") for l, _, lower, _ in items]
    vals = [v for _, v, _, _ in items]
    colors = []
    for _, v, lower, mote in items:
        good = v <= 1.0 if lower else v >= 1.0
        colors.append("#999999" if not mote else "#2a7f62" if good else "#c0504d")
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(items) + 1.6))
    y = list(range(len(items)))[::-1]
    ax.barh(y, vals, color=colors)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    for yi, v in zip(y, vals):
        ax.text(v, yi, " %.3gx" % v, va="center", fontsize=7)
    ax.set_xlabel("ratio to the baseline of the same run (log scale, 1 = parity)\nmote: "
                  "green better, red worse than the baseline; grey: gVisor", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
