"""QEMU tests of the RISC-V kernel: boot, device table (also with devices
that have no driver), persistence, read-only disk, usertests. Each function
is one test; it raises on failure. persist and usertests run on virtio-pci
too (the *_pci twins), and on the packed ring (persist_packed,
usertests_quick_packed: every device offers it, virtio 1.2 2.8, as `make
qemu PACKED=1`).
Run one alone with:  python3 tests/run_tests.py boot_modern
"""
import random
import re
import time

from qemu import Qemu, fresh_disk, vdevice, check_ring, PROMPT

BOOT_TIMEOUT = 120


def check_table(banner, slot, version):
    """The boot device table must list the disk in `slot` with its driver."""
    rx = r"\n\s*%d\s+0x0*%x\s+%d\s+%s\s+block \(2\)\s+virtio-blk" % (
        slot, 0x10001000 + 0x1000 * slot, 1 + slot, version)
    if not re.search(rx, banner):
        raise AssertionError("device table does not list the disk in slot %d as %s:\n%s"
                             % (slot, version, banner))


def lsdev_lists_disk(q, slot):
    out = q.run("lsdev")
    if not re.search(r"\b%d\b.*block.*virtio-blk" % slot, out):
        raise AssertionError("lsdev does not list the disk in slot %d:\n%s" % (slot, out))


def test_boot_modern():
    """Modern (version 2) transport, disk in slot 3: prompt, table, lsdev, a command."""
    with Qemu(fresh_disk("boot_modern"), slot=3, log_name="boot_modern") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        check_table(banner, 3, "modern")
        lsdev_lists_disk(q, 3)
        out = q.run("echo hello from the shell")
        assert out.strip() == "hello from the shell", repr(out)


def test_boot_legacy():
    """Legacy (version 1) transport, disk in slot 5: same checks."""
    with Qemu(fresh_disk("boot_legacy"), slot=5, transport="mmio-legacy", log_name="boot_legacy") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        check_table(banner, 5, "legacy")
        lsdev_lists_disk(q, 5)
        out = q.run("ls")
        assert re.search(r"\busertests\b", out), "ls does not list usertests:\n" + out


def test_boot_one_hart():
    """CPUS=1 boots too (the kernel must not wait for harts that do not exist)."""
    with Qemu(fresh_disk("boot_one_hart"), slot=0, cpus=1, log_name="boot_one_hart") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("echo one")
        assert out.strip() == "one", repr(out)


def test_devices_without_driver():
    """Devices this kernel has no driver for, placed by QEMU itself (no bus=,
    so the highest free slots 7, 6, 5): listed in the table with driver "-",
    and the boot goes on to a working shell."""
    extra = ["-device", "virtio-balloon-device",
             "-device", "virtio-keyboard-device",
             "-device", "virtio-scsi-device"]
    with Qemu(fresh_disk("no_driver"), slot=2, extra=extra, log_name="no_driver") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        check_table(banner, 2, "modern")
        # QEMU fills the slots without bus= from the top, in command-line order.
        for slot, name, devid in ((7, "balloon", 5), (6, "input", 18), (5, "scsi", 8)):
            rx = r"\n\s*%d\s+0x0*%x\s+%d\s+modern\s+%s \(%d\)\s+-\s+-\n" % (
                slot, 0x10001000 + 0x1000 * slot, 1 + slot, name, devid)
            if not re.search(rx, banner):
                raise AssertionError("device table does not list %s in slot %d without a "
                                     "driver:\n%s" % (name, slot, banner))
        out = q.run("lsdev")
        for name in ("balloon", "input", "scsi"):
            assert re.search(r"\b%s\b.*-\s*$" % name, out, re.M), \
                "lsdev does not list %s:\n%s" % (name, out)
        out = q.run("echo still here")
        assert out.strip() == "still here", repr(out)


def test_pci_shared_interrupt():
    """Five PCI functions on four INTx sources: the fifth (entropy, device 5)
    shares the disk's PLIC source (QEMU's interrupt-map swizzles INTA of
    devices 1 and 5 to the same one). Both drivers keep working, and the
    three functions without a driver are listed with "-"."""
    extra = ["-device", vdevice("balloon", "pci"), "-device", vdevice("keyboard", "pci"),
             "-device", vdevice("scsi", "pci"), "-device", vdevice("rng", "pci")]
    with Qemu(fresh_disk("pci_shared"), transport="pci", extra=extra,
              log_name="pci_shared") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        check_transport(banner, "pci")
        rows = dict((m.group(1), (int(m.group(2)), m.group(3), m.group(4))) for m in re.finditer(
            r"\n\s*(00:[0-9a-f]{2}\.\d)\s+0x[0-9a-f]+\s+(\d+)\s+modern\s+(\w+) \(\d+\)\s+(\S+)",
            banner))
        assert rows.get("00:01.0", (0,))[1:] == ("block", "virtio-blk") and \
            rows.get("00:05.0", (0,))[1:] == ("entropy", "virtio-rng"), banner
        assert rows["00:01.0"][0] == rows["00:05.0"][0], \
            "disk and entropy do not share a source:\n" + banner
        for fn, name in (("00:02.0", "balloon"), ("00:03.0", "input"), ("00:04.0", "scsi")):
            assert rows.get(fn, (0,))[1:] == (name, "-"), banner
        for _ in range(3):
            out = q.run("rand 16")
            assert re.fullmatch(r"[0-9a-f]{32}", "".join(out.split())), "rand:\n" + out
            out = q.run("wc README.md")
            assert re.match(r"\s*\d+ \d+ (\d+) README.md", out) and \
                int(out.split()[2]) > 10000, "reading README.md:\n" + out


def check_transport(banner, transport):
    """On PCI, the boot table must show the disk as a PCI function of the
    right flavour, so a test that meant PCI did not quietly run on MMIO."""
    if not transport.startswith("pci"):
        return
    version = "legacy" if transport == "pci-legacy" else "modern"
    rx = r"\n\s*00:[0-9a-f]{2}\.\d\s+0x[0-9a-f]+\s+\d+\s+%s\s+block \(2\)\s+virtio-blk" % version
    if not re.search(rx, banner) or "disk: pci 00:" not in banner:
        raise AssertionError("the device table does not show a %s PCI disk:\n%s"
                             % (version, banner))


def persist(name, transport, packed=False):
    """A file written, the machine powered off, booted again: the file is intact.
    `packed`: every device on the packed ring."""
    disk = fresh_disk(name)
    word = "persist-%08x" % random.getrandbits(32)
    with Qemu(disk, slot=1, transport=transport, log_name=name + "_1", packed=packed) as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        check_transport(banner, transport)
        check_ring(banner, "block", packed)
        q.run("echo %s > keep.txt" % word)
        q.run("mkdir keepdir")
        q.run("echo second %s > keepdir/inner" % word)
        q.send("halt\n")
        rc = q.wait_exit(60)
        assert rc == 0, "QEMU exit status %r after halt" % rc
    with Qemu(disk, slot=1, transport=transport, log_name=name + "_2", packed=packed) as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("cat keep.txt")
        assert out.strip() == word, "read back %r, wrote %r" % (out, word)
        out = q.run("cat keepdir/inner")
        assert out.strip() == "second " + word, repr(out)


def test_persist():
    """A file written, the machine powered off, booted again: the file is intact."""
    persist("persist", "mmio")


def test_persist_packed():
    """The same round trip with the disk on the packed ring (virtio-mmio)."""
    persist("persist_packed", "mmio", packed=True)


def test_persist_pci():
    """The same round trip across a reboot with the disk on virtio-pci (modern)."""
    persist("persist_pci", "pci")


def test_persist_pci_legacy():
    """The same round trip with the disk on legacy virtio-pci (the I/O BAR header)."""
    persist("persist_pci_legacy", "pci-legacy")


def test_persist_pci_packed():
    """The same round trip with the disk on modern virtio-pci and the packed ring."""
    persist("persist_pci_packed", "pci", packed=True)


def test_readonly_disk():
    """A read-only disk: writes fail with an error, reads and the shell work."""
    disk = fresh_disk("readonly")
    with Qemu(disk, slot=2, readonly=True, log_name="readonly") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        assert "read-only" in banner, "boot did not report the read-only disk"
        out = q.run("echo data > newfile")
        assert "failed" in out or "cannot" in out, "creating a file did not fail:\n" + out
        out = q.run("mkdir newdir")
        assert "failed" in out, "mkdir did not fail:\n" + out
        out = q.run("rm README.md")
        assert "failed" in out, "rm did not fail:\n" + out
        out = q.run("ls newfile")
        assert "cannot" in out or "failed" in out or out.strip() == "", \
            "newfile exists on a read-only disk:\n" + out
        out = q.run("grep virtio README.md")
        assert "virtio" in out, "reading a file failed on the read-only disk:\n" + out
        out = q.run("echo still alive")
        assert out.strip() == "still alive", repr(out)


def test_console_lines_whole():
    """Two background echo processes print 55-character lines at once, each with one
    write(); the console keeps every line whole (kernel/console.c writes one write()
    at a time), five times over. Each line must appear twice in the transcript: once
    as typed, once as printed."""
    with Qemu(fresh_disk("conslines"), slot=0, log_name="conslines") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        for i in range(5):
            a, b = "A%d" % i * 27 + "a", "B%d" % i * 27 + "b"
            q.send("echo %s & echo %s\n" % (a, b))
            q.expect(PROMPT, 30)
            # Wait until both echoes have printed before typing anything
            # else: the console echoes typed keys as they arrive, outside
            # any write(), so typing while a line is printed would break
            # that line in the transcript, through no fault of the kernel.
            deadline = time.time() + 30
            while (q.transcript.count(a) < 2 or q.transcript.count(b) < 2) \
                    and time.time() < deadline:
                q._read_some(0.5)
            q.run("echo sync%d" % i, 30)
        for i in range(5):
            for line in ("A%d" % i * 27 + "a", "B%d" % i * 27 + "b"):
                n = q.transcript.count(line)
                assert n >= 2, "line %r came out broken (seen %d times):\n%s" % (
                    line, n, q.transcript[-1500:])


def usertests(progress, name, transport, packed=False):
    """usertests -q: the kernel's own test suite, run inside the guest.
    `packed`: every device on the packed ring."""
    with Qemu(fresh_disk(name), slot=0, transport=transport, log_name=name, packed=packed) as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        check_transport(banner, transport)
        check_ring(banner, "block", packed)
        q.send("usertests -q\n")
        done = 0
        while True:
            line = q.expect(re.compile(r"(test \S+: (OK|FAILED))|ALL TESTS PASSED|SOME TESTS FAILED"), 600)
            if "ALL TESTS PASSED" in line:
                break
            if "SOME TESTS FAILED" in line:
                raise AssertionError("usertests -q failed:\n" + "\n".join(
                    l for l in q.transcript.splitlines() if "FAILED" in l or "fail" in l.lower())[-2000:])
            done += 1
            if done % 10 == 0:
                progress("usertests: %d tests passed so far" % done)
        q.expect(PROMPT, 30)


def test_usertests_quick(progress):
    """usertests -q: the kernel's own test suite, run inside the guest."""
    usertests(progress, "usertests", "mmio")


def test_usertests_quick_packed(progress):
    """usertests -q with the disk on the packed ring (virtio-mmio)."""
    usertests(progress, "usertests_packed", "mmio", packed=True)


def test_usertests_pci(progress):
    """usertests -q with the disk on virtio-pci (modern)."""
    usertests(progress, "usertests_pci", "pci")


def test_usertests_pci_legacy(progress):
    """usertests -q with the disk on legacy virtio-pci."""
    usertests(progress, "usertests_pci_legacy", "pci-legacy")


def test_usertests_pci_packed(progress):
    """usertests -q with the disk on modern virtio-pci and the packed ring."""
    usertests(progress, "usertests_pci_packed", "pci", packed=True)
