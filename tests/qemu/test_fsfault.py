"""Hostile disks and a hostile `kill`: the kernel must refuse a disk it cannot
mount with one line naming what is wrong and power off cleanly (never a
panic), mount an image that was cut short read-only, never believe a log
transaction naming a block the device does not have, and survive `kill 1`;
build/mkfs/fsck must report the same disks without crashing. Then a few
boots on images damaged by the fuzzer (tests/host/fsck/fsfuzz.c).

    python3 tests/run_tests.py fsfault                 these tests
    python3 tests/qemu/test_fsfault.py --boots 100     100 fuzzed boots, a random seed
    python3 tests/qemu/test_fsfault.py --boots 1 --seed S --first I   repeat image I
(`make fsfuzz` runs the long fuzz, host and kernel.)
"""
import argparse
import os
import random
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu import Qemu, QemuError, fresh_disk, claim_outdir, PROMPT, ROOT, FSIMG  # noqa: E402
from test_fs import Image, fsck, logsum, BSIZE, LOGHDRBLOCKS, LOGMAGIC  # noqa: E402

BOOT_TIMEOUT = 60
FUZZ_SEED = 1          # make check's fuzzed boots: fixed, so a failure repeats
FUZZ_BOOTS = 6
FSFUZZ = os.path.join(ROOT, "build", "host-fsck", "fsfuzz")
SBFIELDS = ["magic", "size", "nblocks", "ninodes", "nlog", "logstart", "inodestart",
            "bmapstart"]


def set_sb(img, field, value):
    img.write(BSIZE + 4 * SBFIELDS.index(field), struct.pack("<I", value))


def boot_to_poweroff(disk, log_name):
    """Boot disk; the guest must power itself off. Returns its transcript."""
    with Qemu(disk, log_name=log_name) as q:
        rc = q.wait_poweroff(BOOT_TIMEOUT)
        assert rc == 0, "QEMU exit status %s:\n%s" % (rc, q.transcript[-1500:])
        return q.transcript


def assert_refused(disk, name, want):
    """The kernel refuses disk with a line matching `want`, then powers off."""
    out = boot_to_poweroff(disk, "fsfault_" + name)
    line = re.search(r"^.*%s.*$" % want, out, re.M)
    assert line, "%s: no line /%s/ in the boot:\n%s" % (name, want, out[-1500:])
    assert "refusing the disk" in line.group(0), "%s: not a refusal: %s" % (name, line.group(0))
    assert "$ " not in out.split(line.group(0))[1], "%s: a shell started anyway" % name


def test_fsfault_superblock():
    """Superblock fields whose sums wrap past 2^32, and others out of range: the
    kernel names the field and refuses the disk; fsck reports it (exit 1)."""
    cases = [
        ("inodestart", 0xFFFFFFF0,
         r"superblock field inodestart 4294967280 \+ 64 inode blocks \(ninodes 1024\) "
         r"passes bmapstart"),
        ("bmapstart", 0xFFFFFFF8,
         r"superblock field bmapstart 4294967288 \+ 13 bitmap blocks .* passes the data"),
        ("logstart", 0xFFFFFFFF, r"superblock fields logstart 4294967295 \+ nlog 2050"),
        ("size", 0xFFFFFFFF, r"superblock field size is 4294967295 blocks, which needs"),
        ("ninodes", 0xFFFFFFFF, r"superblock field ninodes is 4294967295"),
        ("nlog", 10, r"superblock field nlog is 10"),
        ("magic", 0, r"superblock field magic is 0"),
    ]
    for field, value, want in cases:
        disk = fresh_disk("fsfault_sb")
        img = Image(disk)
        set_sb(img, field, value)
        img.close()
        assert_refused(disk, "sb_" + field, want)
        rc, out = fsck(disk)
        assert rc == 1 and re.search(r"^fsck: superblock: .*\b%s\b" % field, out, re.M), \
            "fsck on superblock %s = %#x: status %d:\n%s" % (field, value, rc, out[-1500:])


def test_fsfault_root():
    """A disk /init cannot start from: the boot says what is wrong with the
    disk (not "init exiting") and powers off."""
    look = Image(fresh_disk("fsfault_look"))
    root_addrs = look.inode(1)[3]
    init_inum, init_off = look.root_entries()["init"]
    init_block = look.inode(init_inum)[3][0]
    look.close()

    def root_type(img):
        img.write(img.inode_off(1), struct.pack("<h", 2))

    def root_dot(img):
        img.write(root_addrs[0] * BSIZE, struct.pack("<H", 5))

    def root_block(img):
        img.write(img.inode_off(1) + 12, struct.pack("<I", 0xFFFFFFFF))

    def two_inodes(img):
        set_sb(img, "ninodes", 2)

    def no_init(img):
        img.write(init_off, struct.pack("<H", 0))

    def init_free(img):
        img.write(img.inode_off(init_inum), struct.pack("<h", 0))

    def init_garbage(img):
        img.write(init_block * BSIZE, b"\x7fELG" + bytes(60))

    cases = [
        (root_type, r"fs: root directory \(inode 1\) is not a directory \(type 2\)"),
        (root_dot, r"fs: root directory \(inode 1\) does not begin with"),
        (root_block, r"fs: root directory \(inode 1\): its first block 4294967295 is outside"),
        (two_inodes, r"boot: cannot run /init \(the root directory has no usable entry"),
        (no_init, r"boot: cannot run /init \(the root directory has no usable entry"),
        (init_free, r"boot: cannot run /init \(the inode of /init is damaged\)"),
        (init_garbage,
         r"boot: cannot run /init \(it is not a program this kernel can load: "),
    ]
    for change, want in cases:
        disk = fresh_disk("fsfault_root")
        img = Image(disk)
        change(img)
        img.close()
        assert_refused(disk, change.__name__, want)
    # ninodes 2: the entry for init names an inode the superblock does not have
    out = open(os.path.join(ROOT, "tests", "out", "fsfault_two_inodes.log")).read()
    assert re.search(r'entry "init" names inode \d+, but the superblock field ninodes '
                     r'says there are 2', out), out[-1500:]


def readme_counts():
    """What the guest's wc prints for README.md (fs.img holds the top one)."""
    data = open(os.path.join(ROOT, "README.md"), "rb").read()
    return "%d %d %d README.md" % (data.count(b"\n"), len(data.split()), len(data))


def test_fsfault_short_disk():
    """An image 1000 bytes shorter than its file system: mounted read-only
    with a message, files read back right, writes refused; fsck says what is
    missing and checks the rest. A committed log naming the missing block is
    ignored (and fsck says it can never be installed); once the image has
    its full size again, the commit is replayed and the disk is writable.
    An image missing part of its metadata is refused."""
    full = os.path.getsize(FSIMG)
    disk = fresh_disk("fsfault_short", full - 1000)
    img = Image(disk)
    last = img.size - 1
    img.close()
    with Qemu(disk, log_name="fsfault_short") as q:
        boot = q.expect(PROMPT, BOOT_TIMEOUT)
        assert re.search(r"superblock field size is %d blocks, but the disk holds only %d "
                         r".*mounting read-only" % (last + 1, last), boot), boot[-1500:]
        out = q.run("wc README.md")
        assert out.strip() == readme_counts(), "%r != %r" % (out.strip(), readme_counts())
        out = q.run("echo more > newfile")
        assert q.run("cat newfile").strip() != "more", "a write reached a short disk"
        q.send("halt\n")
        q.wait_poweroff(60)
    rc, out = fsck(disk)
    problems = [l for l in out.splitlines() if l.startswith("fsck: ") and "note:" not in l]
    assert rc == 1 and re.search(r"size is %d blocks, but the image has only %d"
                                 % (last + 1, last), out) and len(problems) == 2, out

    # A committed transaction naming the block the image lacks.
    img = Image(disk)
    hdr = bytearray(BSIZE)
    struct.pack_into("<4IQI", hdr, 0, LOGMAGIC, 1, 9, 0, 0, last)
    slot = bytes(BSIZE)
    struct.pack_into("<Q", hdr, 16, logsum(logsum(0xcbf29ce484222325, bytes(hdr)), slot))
    img.write(img.logstart * BSIZE, hdr)
    img.write((img.logstart + LOGHDRBLOCKS) * BSIZE, slot)
    img.close()
    with Qemu(disk, log_name="fsfault_short_log") as q:
        boot = q.expect(PROMPT, BOOT_TIMEOUT)
        assert re.search(r"the log header names block %d for slot 0, outside blocks \d+\.\.%d"
                         % (last, last - 1), boot), boot[-1500:]
        q.send("halt\n")
        q.wait_poweroff(60)
    rc, out = fsck(disk)
    assert rc == 1 and re.search(r"logged for block %d, past the end of the image" % last,
                                 out), out
    with open(disk, "r+b") as f:
        f.truncate(full)
    with Qemu(disk, log_name="fsfault_short_regrown") as q:
        boot = q.expect(PROMPT, BOOT_TIMEOUT)
        assert "fs: recovering 1 blocks from the log (commit 9)" in boot, boot[-1500:]
        assert "read-only" not in boot, boot[-1500:]
        q.run("echo written > newfile")
        assert q.run("cat newfile").strip() == "written"
        q.send("halt\n")
        q.wait_poweroff(60)
    rc, out = fsck(disk)
    assert rc == 0, out

    # Cut into the metadata, or to less than a superblock: refused.
    assert_refused(fresh_disk("fsfault_cut", 1000 * BSIZE), "cut",
                   r"superblock field size is %d blocks, but the disk holds only 1000: even"
                   % (last + 1))
    assert_refused(fresh_disk("fsfault_tiny", 512), "tiny",
                   r"the disk holds 1 sectors, too few for a superblock")


def test_kill_init():
    """kill 1 is refused (-1) and init lives on: the shell keeps working, and
    init still starts a new shell when the old one exits."""
    with Qemu(fresh_disk("kill_init"), log_name="kill_init") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("kill 1")
        assert "cannot be killed" in out, "kill 1 was not refused: %r" % out
        assert q.run("echo alive").strip() == "alive"
        q.send("\x04")                     # Ctrl-D: this shell ends; init starts another
        q.expect("init: starting sh", 10)
        q.expect(PROMPT, 10)
        assert q.run("echo still here").strip() == "still here"
        q.send("halt\n")
        q.wait_poweroff(60)


# ---- fuzzed boots ----

def build_fuzzer():
    p = subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "tests", "host", "fsck"), "all"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, "building the fuzzer failed:\n" + p.stdout[-2000:]


# What a booted shell runs on a damaged disk: reads, and writes that make
# the allocator go through a bitmap that may be damaged.
SHELL_WORK = ["ls", "wc README.md", "wc README", "echo fuzz > fz", "cat fz", "mkdir fzd",
              "ls fzd", "rm fz", "rm fzd", "ls /dev", "stressfs"]


def alive(q):
    """Does the kernel still answer the console? Ctrl-P makes it list the
    processes (procdump) from the console's interrupt handler."""
    q.send("\x10")
    try:
        q.expect(re.compile(r"\n1 \w+ init\n"), 10)
        return True
    except QemuError:
        return False


def fuzz_boot(seed, index):
    """Boot fs.img damaged as image `index` of `seed`. The kernel may refuse
    the disk (then it must power off), or boot (then the shell must run a few
    commands and halt). A damaged program (sh, ls...) may misbehave or loop;
    then the kernel must still answer Ctrl-P. It must never panic. Returns
    a one-line outcome; raises AssertionError on a failure."""
    disk = fresh_disk("fsfuzz_boot")
    p = subprocess.run([FSFUZZ, "-s", str(seed), "-i", str(index), disk],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, p.stdout
    what = p.stdout.strip()
    q = Qemu(disk, log_name="fsfuzz_boot")

    def failed(why):
        return AssertionError("%s\n  %s\n  repeat: python3 tests/qemu/test_fsfault.py "
                              "--boots 1 --seed %d --first %d\n  transcript (end): %s"
                              % (why, what, seed, index, q.transcript[-1200:]))
    try:
        try:
            q.expect(re.compile(r"\$ |refusing the disk|powering off"), 20)
        except QemuError as e:
            if "crashed" in str(e) or not alive(q):
                raise failed(e)
            return "no shell prompt (a damaged sh or init), kernel alive"
        if "refusing the disk" in q.transcript or "powering off" in q.transcript:
            q.wait_poweroff(BOOT_TIMEOUT)
            return "refused: " + [l for l in q.transcript.splitlines()
                                  if "refusing" in l or "powering off" in l][0]
        for cmd in SHELL_WORK:
            try:
                q.run(cmd, 20)
            except QemuError as e:
                if "crashed" in str(e) or not alive(q):
                    raise failed(e)
                return ("%r did not finish (a damaged program, or a name that now leads to "
                        "the console), kernel alive" % cmd)
        q.send("halt\n")
        try:
            q.wait_poweroff(20)
        except QemuError as e:
            if "crashed" in str(e) or not alive(q):
                raise failed(e)
            return "halt did not power off (a damaged program or name), kernel alive"
        return "booted, ran the shell, halted"
    except QemuError as e:
        raise failed(e)
    finally:
        q.kill()


def fuzz_boots(seed, n, first=0, report=print):
    build_fuzzer()
    report("fsfuzz boots: seed %d, images %d..%d (repeat one: python3 "
           "tests/qemu/test_fsfault.py --boots 1 --seed %d --first I)"
           % (seed, first, first + n - 1, seed))
    outcomes = {}
    for i in range(first, first + n):
        outcome = fuzz_boot(seed, i)
        kind = outcome.split(":")[0].split(",")[0]
        if "alive" in outcome:
            report("fsfuzz boots: image %d: %s" % (i, outcome))
        outcomes[kind] = outcomes.get(kind, 0) + 1
    report("fsfuzz boots: %s" % ", ".join("%d %s" % (v, k) for k, v in sorted(outcomes.items())))


def test_fsfuzz_boots(progress):
    """The kernel on 6 images damaged by fsfuzz (seed 1): a clear refusal or a
    working shell, never a panic or a hang."""
    fuzz_boots(FUZZ_SEED, FUZZ_BOOTS, report=progress)


def main():
    ap = argparse.ArgumentParser(description="boot the kernel on fuzzed images")
    ap.add_argument("--boots", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="0: a random seed")
    ap.add_argument("--first", type=int, default=0, help="first image index")
    a = ap.parse_args()
    claim_outdir("make fsfuzz")
    seed = a.seed or random.SystemRandom().randrange(1, 1 << 40)
    try:
        fuzz_boots(seed, a.boots, a.first)
    except AssertionError as e:
        print("FAIL: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
