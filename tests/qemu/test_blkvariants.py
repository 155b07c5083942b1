"""The root disk as QEMU can present it in other shapes (virtio 1.2 5.2:
virtio-blk; 2.7 split virtqueues): queue sizes 4 and 1024 (QEMU's
queue-size property; on virtio-mmio it also sets seg_max to queue-size - 2),
EVENT_IDX and indirect descriptors off on the device itself, an image cut
short, and a second disk. Each boots and does real work: a file written
and read back, README.md read with the right counts, fsstress (every byte
checked), and lsdev.

    python3 tests/run_tests.py blkvariants
"""
import os
import re

from qemu import Qemu, fresh_disk, PROMPT, OUT, ROOT

BOOT_TIMEOUT = 60


def readme_counts():
    """What the guest's wc prints for README.md (fs.img holds the top one)."""
    data = open(os.path.join(ROOT, "README.md"), "rb").read()
    return "%d %d %d README.md" % (data.count(b"\n"), len(data.split()), len(data))


def segments(banner):
    m = re.search(r"virtio-blk: features:([^;\n]*); at most (\d+) segments", banner)
    assert m, "no features line:\n" + banner[-1500:]
    return m.group(1).split(), int(m.group(2))


def work(q, name):
    """Write a file and read it back, read README.md, run fsstress."""
    q.run("echo %s was here > %s.txt" % (name, name))
    out = q.run("cat %s.txt" % name)
    assert out.strip() == "%s was here" % name, repr(out)
    out = q.run("wc README.md")
    assert out.strip() == readme_counts(), "%r != %r" % (out.strip(), readme_counts())
    out = q.run("fsstress 2", 120)
    assert "fsstress: OK" in out, out


def boot_and_work(name, blkprops):
    with Qemu(fresh_disk("blkvar_" + name), blkprops=blkprops,
              log_name="blkvar_" + name) as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        work(q, name)
        q.send("halt\n")
        q.wait_poweroff(60)
        return banner


def test_blkvariant_queue4():
    """queue-size=4: at most 2 data segments per request; still correct."""
    feats, segs = segments(boot_and_work("queue4", "queue-size=4"))
    assert segs == 2, "queue-size=4 should allow 2 segments, the driver says %d" % segs


def test_blkvariant_queue1024():
    """queue-size=1024: the driver caps what it uses; still correct."""
    feats, segs = segments(boot_and_work("queue1024", "queue-size=1024"))
    assert 2 <= segs <= 1022, segs


def test_blkvariant_plain():
    """event_idx=off,indirect_desc=off on the device (and queue-size=4 on
    a second boot): neither feature offered, everything still works."""
    for name, props in (("plain", "event_idx=off,indirect_desc=off"),
                        ("plain4", "queue-size=4,event_idx=off,indirect_desc=off")):
        feats, segs = segments(boot_and_work(name, props))
        assert "EVENT_IDX" not in feats and "INDIRECT_DESC" not in feats, feats


def test_blkvariant_truncated():
    """fs.img cut to 60 MB (its file system says 100 MB): the kernel says so,
    mounts it read-only, reads files right and refuses writes."""
    disk = fresh_disk("blkvar_truncated", 60 * 1024 * 1024)
    with Qemu(disk, log_name="blkvar_truncated") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        assert re.search(r"superblock field size is 102400 blocks, but the disk holds only "
                         r"61440 .*mounting read-only", banner), banner[-1500:]
        out = q.run("wc README.md")
        assert out.strip() == readme_counts(), out
        q.run("echo no > nofile")
        assert "no" != q.run("cat nofile").strip(), "a write went through"
        q.send("halt\n")
        q.wait_poweroff(60)


def test_blkvariant_second_disk():
    """Two disks: the one in the lower slot is the root, lsdev lists both.
    With a blank disk in the lower slot, that one is refused by name."""
    blank = os.path.join(OUT, "blkvar_blank.img")
    with open(blank, "wb") as f:
        f.truncate(8 * 1024 * 1024)
    second = ["-drive", "file=%s,if=none,format=raw,id=x1" % blank,
              "-device", "virtio-blk-device,drive=x1,bus=virtio-mmio-bus.3"]
    with Qemu(fresh_disk("blkvar_two"), slot=1, extra=second, log_name="blkvar_two") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("lsdev")
        assert re.search(r"^1 .* block .* virtio-blk\s+split$", out, re.M), out
        assert re.search(r"^3 .* block .* -\s+-$", out, re.M), out
        work(q, "two")
        q.send("halt\n")
        q.wait_poweroff(60)

    second = ["-drive", "file=%s,if=none,format=raw,id=x1" % blank,
              "-device", "virtio-blk-device,drive=x1,bus=virtio-mmio-bus.0"]
    with Qemu(fresh_disk("blkvar_two"), slot=2, extra=second,
              log_name="blkvar_blankfirst") as q:
        q.wait_poweroff(BOOT_TIMEOUT)
        assert re.search(r"disk: slot 0, 8192 KB\n", q.transcript), q.transcript[-1500:]
        assert "fs: superblock field magic is 0, expected 32464b54" in q.transcript and \
            "refusing the disk" in q.transcript, q.transcript[-1500:]
