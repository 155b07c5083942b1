"""Tests of the docs (no QEMU): every link from docs/*.md and README.md into
the source names a line that really defines the function written beside it
(tools/doclinks.py), so the walks in docs/ARCHITECTURE.md stay true as code
moves. Run alone with:  python3 tests/run_tests.py docs
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_docs_links():
    """docs/ARCHITECTURE.md's walks land on the lines they name."""
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "doclinks.py")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, p.stdout
    text = open(os.path.join(ROOT, "docs", "ARCHITECTURE.md")).read()
    # The walks exist and are linked (a file without links passes trivially).
    for section in ("## Follow one block read", "## Follow one received UDP datagram"):
        assert section in text, "missing section " + section
    assert text.count("](../") >= 40, "the walks have lost their links"


def test_bench_runs_option():
    """`make bench RUNS=...` (the README's before/after recipe) keeps only
    the named runs, in the table's order, and refuses an unknown name by
    listing the known ones, before any QEMU starts."""
    env = dict(os.environ, RUNS="pci-split,mmio-split")
    code = ("import sys; sys.path.insert(0, %r); import bench; "
            "bench.choose_columns(bench.os.environ['RUNS']); "
            "print(','.join(c for c, _, _ in bench.COLUMNS))"
            % os.path.join(ROOT, "tests", "qemu"))
    p = subprocess.run([sys.executable, "-c", code], env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0 and p.stdout.strip() == "mmio-split,pci-split", p.stdout
    p = subprocess.run(["make", "-s", "-C", ROOT, "bench", "RUNS=mmio-split,pcie"],
                       text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert p.returncode != 0, "an unknown run name was accepted"
    assert "no run called pcie" in p.stdout and "mmio-packed" in p.stdout, p.stdout[-600:]


def test_run_targets_listen_on_localhost():
    """Every port `make qemu`, `make qemu-gdb` and `make qemu-cm3` open
    (the gdb stub, the UDP forward, the second console, the M3's UART2)
    listens on 127.0.0.1 only: nobody else on the network can attach a
    debugger to a student's kernel or type into its consoles. Read from
    the commands make would run (make -n)."""
    found = []
    for target in ("qemu", "qemu-gdb", "qemu-cm3"):
        p = subprocess.run(["make", "-n", "-C", ROOT, target], text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        assert p.returncode == 0, p.stdout[-600:]
        cmd = [l for l in p.stdout.replace("\\\n", " ").splitlines() if "qemu-system" in l]
        assert cmd, "make -n %s runs no QEMU:\n%s" % (target, p.stdout[-600:])
        text = " ".join(cmd)
        # -gdb tcp:HOST:PORT, -serial tcp:HOST:PORT,..., hostfwd=udp:HOST:PORT-:GPORT,
        # -chardev socket,...,host=HOST,port=PORT
        for m in re.finditer(r"(?:-gdb|-serial|-monitor|-qmp)\s+tcp:([^:,\s]*):(\d+)"
                             r"|hostfwd=(?:tcp|udp):([^:,\s]*):(\d+)"
                             r"|socket,[^\s]*?host=([^,\s]*),port=(\d+)", text):
            host = next(g for g in (m.group(1), m.group(3), m.group(5)) if g is not None)
            found.append((target, m.group(0), host))
        assert "-gdb" not in text or re.search(r"-gdb\s+tcp:", text), text
    kinds = {"-gdb": 0, "hostfwd": 0, "socket": 0, "-serial": 0}
    for target, what, host in found:
        assert host == "127.0.0.1", "make %s listens on %r (%s), not 127.0.0.1" % (
            target, host or "every interface", what)
        for k in kinds:
            kinds[k] += what.startswith(k)
    assert all(kinds.values()), "expected a gdb stub, a UDP forward, a console socket " \
        "and a TCP serial among %s" % found
