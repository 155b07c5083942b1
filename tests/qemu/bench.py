#!/usr/bin/env python3
"""bench.py: `make bench`. Four QEMU runs (COLUMNS below): the disk on
virtio-mmio with the split ring and with the packed ring (as `make qemu
PACKED=1`), and on virtio-pci (modern, as `make qemu PCI=1`) with the
split ring and with the packed ring (`make qemu PCI=1 PACKED=1`); each
measures the file system and the raw disk, and the summary the README
shows puts them side by side, one column per run.

In the guest, on a copy of fs.img grown by SCRATCH_MB (the raw write
benchmark writes only past the file system's end):
  1. fsbench: workload 1 (2 MB as 8 rounds of a 256 KB file in 4 KB writes,
     fsync each; then cold-cache 4 KB reads) in baseline mode (diskmode(1):
     one 1 KB block per request, one request in flight, no EVENT_IDX or
     indirect descriptors, commit per operation, no read-ahead) and in full
     mode, alternating, best of 3 each, read back cold in 4 KB and in 64 KB
     read() calls and once more cached; then a 16 MB file written and read
     (cold) in 64 KB calls;
  2. blkbench: raw device throughput, request sizes 4 KB..256 KB by queue
     depth 1..32 (writes first, then reads of what they wrote; every request
     in flight has its own memory), and notifications (QueueNotify writes)
     and interrupts per request;
  3. halt.
Then the summary: each ratio against its target, with the range of the
ratio over fsbench's rounds in this run, so that one can see how much of
a figure is the design and how much the host's mood. QEMU's emulated CPU
shares the host's CPUs with everything else: a ratio of two CPU-bound
speeds (the 4 KB-call read above all: the fast mode is bound by the
calls, the classic one by the device) moves with the host's load, so the
summary reports the host's load and the QEMUs running beside this one,
and marks a figure "noise-bound" when its rounds straddle its target.
The exit status is 1 when a target is not met by the best round of any
run. After the summary: blkbench's raw write and read tables, one line
per run under each request size, and notifications and interrupts per
request (full and baseline mode), one column per run. `make bench
RUNS=mmio-split` (a comma-separated list of COLUMNS' names) runs only
those: the quick way to compare one configuration before and after a
change, alternating runs in one session. Standard library
only; the transcripts are kept in tests/out/bench_*.log, one per column.
"""
import datetime
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu import Qemu, fresh_disk, claim_outdir, PROMPT, FSIMG  # noqa: E402

SCRATCH_MB = 128


def host_state():
    """(1-minute load average, QEMUs of other runs on this host)."""
    try:
        load = float(open("/proc/loadavg").read().split()[0])
    except (OSError, ValueError, IndexError):
        load = -1.0
    others = 0
    mine = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == mine:
            continue
        try:
            comm = open("/proc/%s/comm" % pid).read().strip()
        except OSError:
            continue
        if comm.startswith("qemu-system"):
            others += 1
    return load, others


def rounds(fs):
    """fsbench's per-round figures: [(mode, write, read4, read64), ...]."""
    out = []
    for m in re.finditer(r"fsbench:\s+(baseline|full)\s+write (\d+) KB/s, read (\d+) KB/s in "
                         r"4 KB calls, (\d+) KB/s in 64 KB calls", fs):
        out.append((m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))))
    return out


def round_ratios(fs):
    """Per round (a baseline run followed by a full run): the three ratios."""
    rs = rounds(fs)
    ratios = []
    for b, f in zip([r for r in rs if r[0] == "baseline"], [r for r in rs if r[0] == "full"]):
        ratios.append(tuple(f[k] / max(b[k], 1) for k in (1, 2, 3)))
    return ratios


def qemu_version():
    out = subprocess.run(["qemu-system-riscv64", "--version"], stdout=subprocess.PIPE,
                         text=True).stdout
    return out.splitlines()[0].strip() if out else "unknown"


def run_guest(cpus, name, qemu_args):
    disk = fresh_disk(name, os.path.getsize(FSIMG) + SCRATCH_MB * 1024 * 1024)
    with Qemu(disk, slot=0, log_name=name, cpus=cpus, **qemu_args) as q:
        q.expect(PROMPT, 120)
        fs = q.run("fsbench", 1800)
        print(fs, flush=True)
        blk = q.run("blkbench", 1800)
        print(blk, flush=True)
        q.send("halt\n")
        q.wait_exit(120)
    return fs, blk


def parse_table(blk, title):
    """{(size_kb, depth): MB/s} of blkbench's table named `title`."""
    cells = {}
    lines = blk.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(title):
            depths = [int(d) for d in re.findall(r"\d+", lines[i + 1].split("\\")[-1])]
            for row in lines[i + 2:]:
                m = re.match(r"\s*(\d+) KB\s+(.*)", row)
                if not m:
                    break
                vals = m.group(2).split()
                for d, v in zip(depths, vals):
                    try:
                        cells[(int(m.group(1)), d)] = float(v)
                    except ValueError:
                        pass
            break
    return cells


def mbps(kb_per_s):
    """fsbench's KB/s (1024 bytes) in blkbench's MB/s (10^6 bytes)."""
    return kb_per_s * 1024 / 1e6


def num(rx, text, cast=float):
    m = re.search(rx, text)
    return cast(m.group(1)) if m else None


# The columns of the summary: one QEMU run each, its name, the ring
# layout its disk must use (blkbench says which it got), and the Qemu()
# options that make it: virtio 1.2 2.7 the split ring, 2.8 every device
# offering the packed ring (`make qemu PACKED=1`), 4.1 virtio-pci (`make
# qemu PCI=1`), both layouts on both transports. Another column is one
# more entry; every table below has one cell (or line) per entry.
COLUMNS = [("mmio-split", "split", {}),
           ("mmio-packed", "packed", {"packed": True}),
           ("pci-split", "split", {"transport": "pci"}),
           ("pci-packed", "packed", {"transport": "pci", "packed": True})]


def summarize(fs, blk):
    """The summary's rows for one run: [(measurement, value, target, met,
    noise-bound)], met None where there is no target."""
    best = re.search(r"best of \d+: baseline write (\d+) KB/s, read (\d+) KB/s \(4 KB calls\), "
                     r"(\d+) KB/s \(64 KB calls\); full write (\d+) KB/s, read (\d+) KB/s "
                     r"\(4 KB calls\), (\d+) KB/s \(64 KB calls\); cached (\d+) KB/s", fs)
    big = re.search(r"(\d+) MB file: write (\d+) KB/s, read (\d+) KB/s in 64 KB reads, "
                    r"read (\d+) KB/s in (\d+) KB reads", fs)
    reads = parse_table(blk, "read throughput")
    writes = parse_table(blk, "write throughput")
    rows = []

    def row(what, value, target, met, spread=None, floor=None):
        """spread: (lowest, highest) of the figure over the rounds; floor: the target."""
        noisy = bool(spread and floor is not None and spread[0] < floor <= spread[1])
        rows.append((what, value, target, met, noisy))

    if best:
        bw, br4, br64, fw, fr4, fr64, cached = (int(x) for x in best.groups())
        wx, rx4, rx64 = fw / max(bw, 1), fr4 / max(br4, 1), fr64 / max(br64, 1)
        per = round_ratios(fs)

        def spread(k):
            vals = [r[k] for r in per]
            return (min(vals), max(vals)) if vals else None

        def with_range(text, k):
            sp = spread(k)
            return text + (" (rounds: %.1fx to %.1fx)" % sp if sp else "")
        row("workload 1 write (2 MB, 4 KB writes, fsync per 256 KB)",
            with_range("baseline %d KB/s, full %d KB/s: %.1fx" % (bw, fw, wx), 0), ">= 30x",
            wx >= 30, spread(0), 30)
        row("workload 1 read (cold cache, 4 KB read calls)",
            with_range("baseline %d KB/s, full %d KB/s: %.1fx" % (br4, fr4, rx4), 1), ">= 20x",
            rx4 >= 20, spread(1), 20)
        row("workload 1 read (cold cache, 64 KB read calls)",
            with_range("baseline %d KB/s, full %d KB/s: %.1fx" % (br64, fr64, rx64), 2),
            ">= 20x", rx64 >= 20, spread(2), 20)
        row("workload 1 read, every block cached (4 KB read calls: no disk at all)",
            "%d KB/s: at most %.1fx over the baseline's cold read" % (cached, cached / max(br4, 1)),
            "", None)
    else:
        row("workload 1", "fsbench printed no result", "", False)
    call = re.search(r"one system call \(getpid\) takes ([\d.]+) us", fs)
    if call:
        row("one system call (getpid), the floor under every read() call",
            "%s us" % call.group(1), "", None)
    if big and reads:
        (size_kb, depth), raw = max(reads.items(), key=lambda kv: kv[1])
        mb, bigw, bigr64, bigr, rsize = (int(x) for x in big.groups())
        # fsbench counts KB of 1024 bytes, blkbench MB of 10^6 bytes.
        share = mbps(bigr) / raw
        row("%d MB file write (64 KB writes, fsync)" % mb, "%d KB/s" % bigw, "", None)
        row("%d MB file read (cold cache, 64 KB reads, best of 3)" % mb,
            "%d KB/s = %.0f%% of the best raw read" % (bigr64, 100 * mbps(bigr64) / raw),
            "", None)
        row("%d MB file read (cold cache, one %d KB read, best of 3)" % (mb, rsize),
            "%d KB/s = %.0f%% of the best raw read (%.0f MB/s: %d KB x depth %d)"
            % (bigr, 100 * share, raw, size_kb, depth), ">= 50%", share >= 0.5)
    if reads:
        row("raw read, best cell", "%.0f MB/s" % max(reads.values()), "", None)
    if writes:
        row("raw write, best cell", "%.0f MB/s" % max(writes.values()), "", None)
    deep = [(what, d, n, i) for (what, d), (n, i) in per_request(blk, full=True).items()
            if d >= 8]
    if deep:
        worst = max(n for _, _, n, _ in deep)
        row("notifications per request, EVENT_IDX, depth >= 8",
            "; ".join("%s depth %d: %.3f (interrupts %.3f)" % x for x in deep),
            "<= 0.25", worst <= 0.25)
    return rows


def per_request(blk, full):
    """{(what, depth): (notifications/req, interrupts/req)} from blkbench's
    ratio lines: the full mode's (printed before "baseline mode") or the
    baseline's. what is the line above them, "4 KB reads" say."""
    part = blk.split("baseline mode")[0 if full else -1] if "baseline mode" in blk else \
        (blk if full else "")
    out = {}
    what = None
    for line in part.splitlines():
        m = re.match(r"\s+depth\s+(\d+):\s+([\d.]+) notifications/req\s+([\d.]+) interrupts/req",
                     line)
        if m and what:
            out[(what, int(m.group(1)))] = (float(m.group(2)), float(m.group(3)))
        elif re.match(r"  \S", line) and not line.strip().startswith("depth"):
            what = line.strip()
    return out


def ring_of(blk):
    """The ring layout blkbench saw the disk driver use ("split", "packed")."""
    m = re.search(r"disk driver: \w+ mode, .*, (\w+) ring", blk)
    return m.group(1) if m else None


def print_grid(title, cells):
    """blkbench's table shape, request size by queue depth, with one line
    per run under each request size, so that the runs' figures for a cell
    stand in one column, one above the other."""
    keys = set(k for c in cells.values() for k in c)
    sizes = sorted(set(s for s, _ in keys))
    depths = sorted(set(d for _, d in keys))
    names = [c for c, _, _ in COLUMNS]
    w = max(len(n) for n in names)
    print()
    print("%s, MB/s (request size by queue depth, one line per run)" % title)
    print("  size     %-*s" % (w, "depth") + "".join("%7d" % d for d in depths))
    for s in sizes:
        for i, name in enumerate(names):
            print("  %-7s  %-*s" % ("%d KB" % s if i == 0 else "", w, name) + "".join(
                "%7s" % ("%.0f" % cells[name][(s, d)] if (s, d) in cells[name] else "-")
                for d in depths))


def print_side_by_side(title, cells, keys, label, fmt):
    """A table with one row per key and one column per run (COLUMNS),
    cells[c][key] formatted by fmt, "-" where a run lacks it; the columns
    are as wide as their longest value, so each run's figures line up."""
    names = [c for c, _, _ in COLUMNS]
    rows = [[label(k)] + [fmt(cells[c][k]) if k in cells[c] else "-" for c in names] for k in keys]
    widths = [max(len(r[i]) for r in rows + [[""] + names]) for i in range(len(names) + 1)]
    print()
    print(title)
    print("  " + "  ".join("%-*s" % (w, h) for w, h in zip(widths, [""] + names)).rstrip())
    for r in rows:
        print("  " + "  ".join("%-*s" % (w, v) for w, v in zip(widths, r)).rstrip())


def choose_columns(wanted):
    """`make bench RUNS=mmio-split,pci-split`: only the named columns, in
    COLUMNS's order (a quick before/after comparison of one
    configuration); an unknown name stops the run and lists the known
    ones."""
    global COLUMNS
    if not wanted:
        return
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    known = [c for c, _, _ in COLUMNS]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit("bench: no run called %s; RUNS takes a comma-separated list of %s"
                         % (", ".join(unknown), ", ".join(known)))
    COLUMNS = [c for c in COLUMNS if c[0] in names]


def main():
    choose_columns(os.environ.get("RUNS", ""))   # a wrong name stops before anything runs
    claim_outdir("make bench")
    cpus = int(os.environ.get("CPUS", "3"))
    when = datetime.date.today().isoformat()
    version = qemu_version()
    print("make bench: %s, %s, %d harts, host with %d CPUs; one run per column: %s"
          % (when, version, cpus, os.cpu_count() or 0, ", ".join(c for c, _, _ in COLUMNS)))
    load0, others0 = host_state()
    runs = {}
    for name, _, qemu_args in COLUMNS:
        print("\n== %s ==" % name, flush=True)
        runs[name] = run_guest(cpus, "bench_" + name.replace("-", "_"), qemu_args)
    load1, others1 = host_state()

    ok = True
    noisy = []
    summary = {}      # measurement -> {column: (value, verdict)}, in first-seen order
    targets = {}
    for name, layout, _ in COLUMNS:
        fs, blk = runs[name]
        if ring_of(blk) != layout:
            print("bench: the %s run's disk used the %s ring, not %s" % (name, ring_of(blk),
                                                                        layout))
            ok = False
        for what, value, target, met, noise in summarize(fs, blk):
            verdict = "met" if met else ("NOT met" if met is not None else "")
            if noise:
                verdict += ", noise-bound"
                noisy.append("%s (%s)" % (what, name))
            if met is False:
                ok = False
            summary.setdefault(what, {})[name] = (value, verdict)
            targets[what] = target

    print()
    print("Results (%s, %s, %d harts), one column per run:" % (when, version, cpus))
    print()
    print("| measurement | target | %s |" % " | ".join(c for c, _, _ in COLUMNS))
    print("|---|---|%s" % ("---|" * len(COLUMNS)))
    for what, cols in summary.items():
        cells = []
        for name, _, _ in COLUMNS:
            value, verdict = cols.get(name, ("-", ""))
            cells.append(value + (" (%s)" % verdict if verdict else ""))
        print("| %s | %s | %s |" % (what, targets[what], " | ".join(cells)))

    # The raw device, cell by cell, and what each request cost in
    # notifications and interrupts, every column side by side.
    for table in ("write throughput", "read throughput"):
        print_grid("raw " + table, {name: parse_table(runs[name][1], table)
                                    for name, _, _ in COLUMNS})
    for title, full in (("notifications, interrupts per request, full mode", True),
                        ("the same, baseline mode (one 1 KB request at a time)", False)):
        cells = {name: per_request(runs[name][1], full) for name, _, _ in COLUMNS}
        keys = []
        for c in cells.values():
            keys += [k for k in c if k not in keys]
        print_side_by_side(title, cells, keys, lambda k: "%s, depth %d" % k,
                           lambda v: "%.3f, %.3f" % v)

    print()
    print("host: load average %.1f before the runs and %.1f after, on %d CPUs; "
          "%d other QEMU processes at the start, %d at the end"
          % (load0, load1, os.cpu_count() or 0, others0, others1))
    if noisy:
        print("noise-bound (the rounds of this run straddle the target, so the verdict "
              "depends on the host's load): " + "; ".join(noisy))
    busy = max(load0, load1) > (os.cpu_count() or 1) or others0 or others1
    if busy:
        print("the host was busy: CPU-bound ratios (the 4 KB-call read most of all) "
              "come out lower than on a quiet host; rerun with nothing else running")
    print("bench: %s" % ("every target met in every column" if ok else "SOME TARGETS NOT MET"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
