"""QEMU tests of the block driver's optional features (virtio 1.2:
2.7.5.3 indirect descriptors, 2.7.7/2.7.10 EVENT_IDX, 5.2.3 SEG_MAX,
SIZE_MAX, FLUSH): with QEMU's indirect_desc/event_idx device properties
off the driver must work without them; with them on (QEMU's default) the
boot log and blkbench must show them in use and EVENT_IDX must keep
notifications per request low, on the split ring and (blkfeatures_on_packed)
on the packed ring, where EVENT_IDX means RING_EVENT_FLAGS_DESC (2.8.10).
Run one alone with:  python3 tests/run_tests.py blkfeatures
"""
import os
import re

from qemu import Qemu, fresh_disk, check_ring, layout, PROMPT

BOOT_TIMEOUT = 120
FEATURES_OFF = ["-global", "virtio-blk-device.indirect_desc=off",
                "-global", "virtio-blk-device.event_idx=off"]


def bench_disk(name):
    """fs.img plus 32 MB of scratch space past the file system, for blkbench writes."""
    path = fresh_disk(name)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) + 32 * 1024 * 1024)
    return path


def features_line(banner):
    m = re.search(r"virtio-blk: features:([^;\n]*)", banner)
    assert m, "no features line in the boot log:\n" + banner[-2000:]
    return m.group(1).split()


def file_workload(q):
    """Create, write, read back, list and remove files through the shell."""
    q.run("mkdir fdir")
    for i in range(5):
        q.run("echo line %d of the block feature test > fdir/f%d" % (i, i))
    for i in range(5):
        out = q.run("cat fdir/f%d" % i)
        assert out.strip() == "line %d of the block feature test" % i, repr(out)
    out = q.run("stressfs", timeout=240)
    assert "stressfs" in out and "error" not in out.lower(), out
    out = q.run("wc README.md")
    assert re.search(r"\d+ \d+ \d+ README.md", out), out
    q.run("rm fdir/f0")
    out = q.run("ls fdir")
    assert "f1" in out and "f0" not in out, out


def check_bench(out):
    assert "blkbench: done" in out, "blkbench did not finish:\n" + out[-2000:]
    assert "fail" not in out and "errors" not in out, "blkbench saw errors:\n" + out
    assert "no scratch area" not in out, out
    m = re.search(r"^scratch area: sectors (\d+)\.\.(\d+)$", out, re.M)
    assert m and 0 < int(m.group(1)) < int(m.group(2)), "no scratch area past the file system:\n" + out


def test_blkfeatures_no_scratch():
    """`blkbench info` on plain fs.img, which the file system fills: the
    scratch line says there is none and that writes are skipped, rather
    than naming the whole disk, which only reads use then."""
    with Qemu(fresh_disk("blkfeatures_no_scratch"), log_name="blkfeatures_no_scratch") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("blkbench info", timeout=60)
    lines = [l for l in out.split("\n") if l.startswith("scratch area:")]
    assert len(lines) == 1, out
    assert re.match(r"scratch area: none \(the file system fills the disk's \d+ sectors\): "
                    r"writes skipped", lines[0]), lines[0]


def depth_ratios(out, section):
    """{depth: (notifications/req, interrupts/req)} of one ratio section."""
    part = out.split(section, 1)[1]
    rows = {}
    for m in re.finditer(r"depth\s+(\d+):\s+([\d.]+) notifications/req\s+([\d.]+) interrupts/req",
                         part):
        d = int(m.group(1))
        if d in rows:
            break
        rows[d] = (float(m.group(2)), float(m.group(3)))
    return rows


def test_blkfeatures_off():
    """indirect_desc=off, event_idx=off: not negotiated; files and blkbench work."""
    with Qemu(bench_disk("blkfeatures_off"), slot=0, extra=FEATURES_OFF,
              log_name="blkfeatures_off") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        feats = features_line(banner)
        assert "EVENT_IDX" not in feats and "INDIRECT_DESC" not in feats, feats
        file_workload(q)
        out = q.run("blkbench quick", timeout=400)
        check_bench(out)
        assert re.search(r"full mode, features: FLUSH,", out), out


def blkfeatures_on(name, packed):
    """QEMU's defaults: EVENT_IDX, INDIRECT_DESC, FLUSH in use; <= 0.25 notifications
    per request at depth 8 and 32; files still work."""
    with Qemu(bench_disk(name), slot=2, log_name=name, packed=packed) as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        check_ring(banner, "block", packed)
        feats = features_line(banner)
        for f in ("EVENT_IDX", "INDIRECT_DESC", "FLUSH", "SEG_MAX"):
            assert f in feats, "%s not negotiated: %s" % (f, feats)
        out = q.run("blkbench quick", timeout=400)
        check_bench(out)
        assert "full mode, features: EVENT_IDX INDIRECT_DESC FLUSH" in out, out
        assert "baseline mode, features:," in out, out
        assert "per request, %s ring" % layout(packed) in out, out
        rows = depth_ratios(out, "4 KB reads")
        for d in (8, 32):
            assert d in rows and rows[d][0] <= 0.25, \
                "depth %d: %s notifications per request:\n%s" % (d, rows.get(d), out)
        file_workload(q)


def test_blkfeatures_on():
    """QEMU's defaults: EVENT_IDX, INDIRECT_DESC, FLUSH in use; <= 0.25 notifications
    per request at depth 8 and 32; files still work."""
    blkfeatures_on("blkfeatures_on", False)


def test_blkfeatures_on_packed():
    """The same on the packed ring."""
    blkfeatures_on("blkfeatures_on_packed", True)


def test_blkfeatures_legacy():
    """Legacy transport with EVENT_IDX and indirect descriptors (the used_event
    and avail_event words are part of the legacy ring layout)."""
    with Qemu(bench_disk("blkfeatures_legacy"), slot=4, transport="mmio-legacy",
              log_name="blkfeatures_legacy") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        feats = features_line(banner)
        assert "EVENT_IDX" in feats and "INDIRECT_DESC" in feats, feats
        out = q.run("blkbench quick", timeout=400)
        check_bench(out)
        file_workload(q)


def test_blkfeatures_block_size_4096():
    """A disk whose own blocks (4096 bytes: QEMU's logical_block_size) are bigger
    than the file system's 1 KB blocks: QEMU would fail every 1 KB request, so
    the kernel refuses the disk by name and powers off, never a panic."""
    with Qemu(fresh_disk("blk4096"), extra=[
            "-global", "virtio-blk-device.logical_block_size=4096",
            "-global", "virtio-blk-device.physical_block_size=4096"],
              log_name="blk4096") as q:
        q.expect("refusing the disk", BOOT_TIMEOUT)
        q.wait_exit(BOOT_TIMEOUT)
        out = q.transcript
        assert "block size is 4096 bytes" in out, out[-2000:]
        assert "powering off" in out and "panic" not in out, out[-2000:]
