"""Checks of the source itself, run by `make check` with the QEMU tests
(they need no QEMU, only Python).

test_comment_density holds the portable virtio core to the density of
explanation the project promises its readers: at least that of xv6's
virtio_disk.c, 0.37 comment lines per code line, counted without each
file's opening block, so the explanation has to stand next to the code
it explains (tools/commentdensity.py says what counts as what).
Run it alone with:  python3 tests/run_tests.py style
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIN_DENSITY = "0.37"

# Named one by one: a file is held to the bar on purpose, not because it
# happens to sit in virtio/.
DENSITY_FILES = [
    "virtio/virtq.c",
    "virtio/virtq_packed.c",
    "virtio/virtq_trace.c",
    "virtio/virtio_transport.c",
    "virtio/virtio_mmio.c",
    "virtio/virtio_pci.c",
    "virtio/virtio_dev.c",
    "virtio/virtio_blk.c",
    "virtio/virtio_rng.c",
    "virtio/virtio_net.c",
    "virtio/virtio_console.c",
]


def test_comment_density():
    """Every listed virtio file has >= 0.37 comment lines per code line outside its opening block."""
    p = subprocess.run([sys.executable, os.path.join("tools", "commentdensity.py"),
                        "--min", MIN_DENSITY] + DENSITY_FILES,
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    measured = [line for line in p.stdout.splitlines() if " body " in line]
    assert p.returncode == 0 and len(measured) == len(DENSITY_FILES), (
        "comment density (body) below %s, or a file could not be measured:\n%s"
        % (MIN_DENSITY, p.stdout))
