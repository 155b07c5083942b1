"""QEMU tests of the virtio entropy device (virtio/virtio_rng.c,
/dev/random in kernel/glue/devfiles.c, user/rand.c), and of a machine with
every device `make qemu` attaches.
rng_bytes runs on virtio-pci too (rng_pci*) and on the packed ring
(rng_bytes_packed, and rng_pci_packed on virtio-pci; virtio 1.2 2.8).
"""
import re
import socket

from qemu import Qemu, fresh_disk, check_ring, PROMPT
import netutil

BOOT_TIMEOUT = 120


def rand_bytes(q, n):
    out = q.run("rand %d" % n)
    hexdigits = "".join(out.split())
    assert re.fullmatch(r"[0-9a-f]+", hexdigits) and len(hexdigits) == 2 * n, "rand:\n" + out
    return bytes.fromhex(hexdigits)


def rng_bytes(name, transport, packed=False):
    """/dev/random gives bytes from virtio-rng; reads differ and are not all one value.
    `packed`: every device on the packed ring."""
    with Qemu(fresh_disk(name), transport=transport, extra=netutil.rng_args(transport),
              log_name=name, packed=packed) as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        where = r"\d+" if transport.startswith("mmio") else r"00:[0-9a-f]{2}\.\d"
        version = "legacy" if transport.endswith("legacy") else "modern"
        assert re.search(r"\n\s*%s\s+\S+\s+\d+\s+%s\s+entropy \(4\)\s+virtio-rng"
                         % (where, version), banner), \
            "no %s virtio-rng on %s:\n%s" % (version, transport, banner)
        check_ring(banner, "entropy", packed)
        reads = [rand_bytes(q, 32) for _ in range(3)]
        for r in reads:
            assert len(set(r)) > 1, "32 bytes all equal: %r" % r
        assert len(set(reads)) == 3, "two reads returned the same bytes: %r" % reads
        big = rand_bytes(q, 4096)
        assert len(set(big)) > 200, "4096 bytes use only %d values" % len(set(big))
        check_ring(q.run("lsdev"), "entropy", packed)


def test_rng_bytes():
    """/dev/random gives bytes from virtio-rng; reads differ and are not all one value."""
    rng_bytes("rng", "mmio")


def test_rng_bytes_packed():
    """The same with virtio-rng on the packed ring (virtio-mmio)."""
    rng_bytes("rng_packed", "mmio", packed=True)


def test_rng_pci_packed():
    """The same with virtio-rng on virtio-pci (modern) and the packed ring."""
    rng_bytes("rng_pci_packed", "pci", packed=True)


def test_rng_pci():
    """/dev/random with the entropy device on virtio-pci (modern)."""
    rng_bytes("rng_pci", "pci")


def test_rng_pci_legacy():
    """/dev/random on legacy virtio-pci (its queue has the device's 8 entries)."""
    rng_bytes("rng_pci_legacy", "pci-legacy")


def test_rng_absent():
    """Without the device /dev/random fails cleanly and nothing else changes."""
    with Qemu(fresh_disk("rng_absent"), log_name="rng_absent") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("rand")
        assert "no random bytes" in out, "rand without a device:\n" + out
        out = q.run("netstat")
        assert "no network device" in out, out
        out = q.run("echo fine")
        assert out.strip() == "fine", repr(out)


def test_all_devices():
    """Disk, network, entropy and console together (what `make qemu` attaches): all bound."""
    extra = (netutil.rng_args() + netutil.user_net_args(netutil.free_port(socket.SOCK_DGRAM))
             + netutil.vconsole_args(netutil.free_port()))
    with Qemu(fresh_disk("all_devices"), extra=extra, log_name="all_devices") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("lsdev")
        for want in ("virtio-blk", "virtio-net", "virtio-rng", "virtio-console"):
            assert want in out, "lsdev lacks %s:\n%s" % (want, out)
        out = q.run("netstat")
        assert re.search(r"mac\s+52:54:00:12:34:56", out) and re.search(r"ip\s+10\.0\.2\.15", out), out
        rand_bytes(q, 8)
