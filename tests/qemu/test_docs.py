"""Tests of the docs (no QEMU): every link from docs/*.md and README.md into
the source names a line that really defines the function written beside it
(tools/doclinks.py), so the walks in docs/ARCHITECTURE.md stay true as code
moves. Run alone with:  python3 tests/run_tests.py docs
"""
import os
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
