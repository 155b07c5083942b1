"""File-system tests: the host checker (build/mkfs/fsck) on clean and damaged
images, the concurrency stress test, a file of MAXFILE blocks (64 MB,
double-indirect), and 20 crash points (crashtest.py; `make crashtest N=200`
runs more). Run one alone with:  python3 tests/run_tests.py fsck
"""
import os
import re
import struct
import subprocess

import crashtest
from qemu import Qemu, fresh_disk, PROMPT, ROOT, FSIMG

FSCK = os.path.join(ROOT, "build", "mkfs", "fsck")
BSIZE = 1024
LOGHDRBLOCKS = 8
LOGMAGIC = 0x474F4C54
MASK64 = (1 << 64) - 1


def fsck(img):
    p = subprocess.run([FSCK, img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return p.returncode, p.stdout


class Image:
    """Just enough of kernel/fs.h to find things in an image and break them.
    Reads and writes go straight to the (sparse, 100 MB) file."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR)
        (self.magic, self.size, self.nblocks, self.ninodes, self.nlog, self.logstart,
         self.inodestart, self.bmapstart) = struct.unpack("<8I", self.read(BSIZE, 32))

    def read(self, off, n):
        return os.pread(self.fd, n, off)

    def write(self, off, data):
        os.pwrite(self.fd, bytes(data), off)

    def close(self):
        os.close(self.fd)

    def inode_off(self, inum):
        return (self.inodestart + inum // 16) * BSIZE + (inum % 16) * 64

    def inode(self, inum):
        """(type, nlink, size, addrs[13])"""
        raw = self.read(self.inode_off(inum), 64)
        t, _, _, nlink, size = struct.unpack_from("<4hI", raw, 0)
        return t, nlink, size, list(struct.unpack_from("<13I", raw, 12))

    def root_entries(self):
        _, _, size, addrs = self.inode(1)
        out = {}
        for i in range(size // 16):
            blk = addrs[(i * 16) // BSIZE]
            off = blk * BSIZE + (i * 16) % BSIZE
            inum, name = struct.unpack("<H14s", self.read(off, 16))
            if inum:
                out[name.rstrip(b"\0").decode()] = (inum, off)
        return out

    def set_bit(self, b, value):
        off = self.bmapstart * BSIZE + b // 8
        byte = self.read(off, 1)[0]
        byte = byte | (1 << (b % 8)) if value else byte & ~(1 << (b % 8)) & 0xff
        self.write(off, [byte])


def logsum(h, data):
    """kernel/fs.h's logsum(), for writing a log header fsck will believe."""
    for i in range(0, len(data) - len(data) % 8, 8):
        w = struct.unpack_from("<Q", data, i)[0]
        h = ((h ^ w) * 0x100000001b3) & MASK64
        h ^= h >> 29
    return h


def test_fsck_clean():
    """build/mkfs/fsck passes the image mkfs made."""
    rc, out = fsck(FSIMG)
    assert rc == 0 and "clean" in out, "fsck on a fresh fs.img:\n" + out


def damaged(name, change):
    path = fresh_disk("fsck_" + name)
    img = Image(path)
    change(img)
    img.close()
    return fsck(path)


def test_fsck_finds_damage():
    """fsck reports each kind of damage, with a non-zero exit status."""
    img0 = Image(fresh_disk("fsck_look"))
    readme_inum, readme_off = img0.root_entries()["README.md"]
    cat_inum = img0.root_entries()["cat"][0]
    _, _, _, readme_addrs = img0.inode(readme_inum)
    img0.close()

    def clear_used_bit(img):
        img.set_bit(readme_addrs[0], 0)

    def mark_free_block(img):
        img.set_bit(img.size - 1, 1)

    def bump_nlink(img):
        img.write(img.inode_off(readme_inum) + 6,
                  struct.pack("<h", img.inode(readme_inum)[1] + 1))

    def free_named_inode(img):
        img.write(img.inode_off(readme_inum), struct.pack("<h", 0))

    def grow_size(img):
        img.write(img.inode_off(readme_inum) + 8,
                  struct.pack("<I", img.inode(readme_inum)[2] + 20 * BSIZE))

    def share_block(img):
        img.write(img.inode_off(cat_inum) + 12, struct.pack("<I", readme_addrs[0]))

    def break_dot(img):
        img.write(img.inode(1)[3][0] * BSIZE, struct.pack("<H", 7))

    def bad_commit(img):
        # A committed (checksum-correct) log that would overwrite block 0.
        hdr = bytearray(BSIZE)
        struct.pack_into("<4IQI", hdr, 0, LOGMAGIC, 1, 1, 0, 0, 0)
        slot = bytes(BSIZE)
        s = logsum(logsum(0xcbf29ce484222325, bytes(hdr)), slot)
        struct.pack_into("<Q", hdr, 16, s)
        img.write(img.logstart * BSIZE, hdr)
        img.write((img.logstart + LOGHDRBLOCKS) * BSIZE, slot)

    cases = [
        ("bitmap_free", clear_used_bit, r"marked free"),
        ("bitmap_leak", mark_free_block, r"marked in use, but no file uses it"),
        ("nlink", bump_nlink, r"nlink is \d+ but \d+ directory entries"),
        ("free_inode", free_named_inode, r"which is free"),
        ("size", grow_size, r"missing \(a hole\)"),
        ("shared_block", share_block, r"is used by inode \d+ and by inode \d+"),
        ("dot", break_dot, r"entry 0 is not"),
        ("log", bad_commit, r"log: committed block 0 is logged for block 0"),
    ]
    for name, change, want in cases:
        rc, out = damaged(name, change)
        assert rc == 1, "fsck passed an image with damage %r:\n%s" % (name, out)
        assert re.search(want, out), "fsck missed damage %r (wanted /%s/):\n%s" % (
            name, want, out)

    # An unfinished commit (checksum mismatch) is a normal crash state: fine.
    def torn_commit(img):
        bad_commit(img)
        img.write(img.logstart * BSIZE + 24, struct.pack("<I", img.inodestart))
    rc, out = damaged("torn", torn_commit)
    assert rc == 0 and "unfinished commit" in out, "a torn commit:\n" + out


def test_fs_stress(progress):
    """fsstress: 4 writers and a writer/reader pair at once, all checked; then fsck."""
    disk = fresh_disk("fs_stress")
    with Qemu(disk, slot=0, log_name="fs_stress") as q:
        q.expect(PROMPT, 120)
        out = q.run("fsstress", 300)
        assert "fsstress: OK" in out, "fsstress failed:\n" + out
        progress(out.strip().splitlines()[-1])
        out = q.run("fsstress 8", 300)
        assert "fsstress: OK" in out, "fsstress 8 failed:\n" + out
        q.send("halt\n")
        q.wait_exit(60)
    rc, out = fsck(disk)
    assert rc == 0, "fsck after fsstress:\n" + out


def test_fsbench_quick():
    """fsbench quick: both disk modes write files and read them back (cold
    in 4 KB and 64 KB calls, then cached) with every read checked against
    the pattern written; the 2 MB file through the direct-read path too.
    Its speeds are not judged here (make bench does that)."""
    disk = fresh_disk("fsbench")
    with Qemu(disk, slot=0, log_name="fsbench") as q:
        q.expect(PROMPT, 120)
        out = q.run("fsbench quick", 600)
        assert "fsbench: done" in out and "FAILED" not in out, "fsbench quick:\n" + out
        for mode in ("baseline", "full"):
            assert re.search(r"fsbench:\s+%s\s+write \d+ KB/s, read \d+ KB/s in 4 KB calls" % mode,
                             out), "no %s figures:\n%s" % (mode, out)
        q.send("halt\n")
        q.wait_exit(60)
    rc, out = fsck(disk)
    assert rc == 0, "fsck after fsbench:\n" + out


def test_maxfile():
    """A file of MAXFILE blocks (64 MB, through the double-indirect block),
    written and read back by usertests' maxfile test; then fsck."""
    disk = fresh_disk("maxfile")
    with Qemu(disk, slot=0, log_name="maxfile") as q:
        q.expect(PROMPT, 120)
        out = q.run("usertests maxfile", 600)
        assert re.search(r"maxfile: OK", out), "usertests maxfile:\n" + out
        q.send("halt\n")
        q.wait_exit(60)
    rc, out = fsck(disk)
    assert rc == 0, "fsck after maxfile:\n" + out


def test_crash_points(progress):
    """20 crash points: kill QEMU at random moments of a file-system workload;
    fsck, boot, check every durable operation (tests/qemu/crashtest.py)."""
    lines = []

    def report(line):
        lines.append(line)
        progress(line)
    failed = crashtest.run(20, report=report)
    assert failed == 0, "%d crash points failed:\n%s" % (
        failed, "\n".join(l for l in lines if "FAILED" in l))
