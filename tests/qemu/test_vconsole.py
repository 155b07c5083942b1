"""QEMU tests of the virtio console (virtio/virtio_console.c,
kernel/glue/devfiles.c, user/init.c's second shell). The test is the other end
of the virtconsole: a TCP connection to the chardev socket QEMU listens on.

  vconsole_shell     echo and ls through the second shell
  vconsole_cat_64k   64 KB through `cat` come back intact and in order
  vconsole_legacy    the legacy transport
"""
import random
import re
import select
import socket
import time

from qemu import Qemu, fresh_disk, PROMPT
import netutil

BOOT_TIMEOUT = 120


class Wire:
    """Our end of the virtio console."""

    def __init__(self, port, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def expect(self, pattern, timeout=30):
        """Read until the regular expression (bytes) matches; return what
        came up to and including the match, and consume it."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("virtio console: timed out waiting for %r; got %r"
                                     % (pattern, self.buf[-300:]))
            r, _, _ = select.select([self.sock], [], [], min(left, 1.0))
            if r:
                data = self.sock.recv(65536)
                if not data:
                    raise AssertionError("virtio console: connection closed")
                self.buf += data

    def run(self, line, timeout=30):
        """A command through the second shell; its output (no echo: the
        device is raw, the shell does not echo)."""
        self.send(line.encode() + b"\n")
        return self.expect(rb"\$ ", timeout)[:-2].decode("utf-8", "replace")

    def close(self):
        self.sock.close()


def boot(name, legacy=False):
    port = netutil.free_port()
    q = Qemu(fresh_disk(name), legacy=legacy, extra=netutil.vconsole_args(port), log_name=name)
    banner = q.expect(PROMPT, BOOT_TIMEOUT)
    assert re.search(r"console \(3\)\s+virtio-console", banner), "no virtio-console:\n" + banner
    assert "init: starting sh on /dev/vcons" in q.transcript, "init did not start a second shell"
    w = Wire(port)
    # The second shell's first prompt may or may not have waited for us
    # (QEMU holds what the guest sent before we connected, up to a point):
    # skip everything up to the output of a command of our own.
    marker = "vsync%08x" % random.getrandbits(32)
    w.send(b"echo " + marker.encode() + b"\n")
    w.expect(marker.encode() + rb"\n\$ ")
    return q, w


def console_counters(q):
    """The virtio console driver's counters, from `lsdev -v` on the UART shell."""
    out = q.run("lsdev -v")
    m = re.search(r"virtio-console\n\s+(.*)\n", out)
    assert m, "lsdev -v shows no counters for the console:\n" + out
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def test_vconsole_shell():
    """echo and ls through the shell on /dev/vcons; the UART shell still works."""
    q, w = boot("vconsole_shell")
    try:
        out = w.run("echo hello over virtio")
        assert out.strip() == "hello over virtio", repr(out)
        out = w.run("ls")
        assert re.search(r"\busertests\b", out) and "README.md" in out, "ls:\n" + out
        out = w.run("echo to the file > vc.txt")
        assert out.strip() == "", repr(out)
        out = q.run("cat vc.txt")
        assert out.strip() == "to the file", "the UART shell does not see it: %r" % out
        out = w.run("lsdev")
        assert "virtio-console" in out, out
    finally:
        w.close()
        q.kill()


def test_vconsole_cat_64k(progress):
    """64 KB sent through `cat` on the virtio console arrive intact and in order."""
    q, w = boot("vconsole_cat")
    try:
        rng = random.Random(99)
        lines = []
        n = 0
        while n < 65536:
            line = "%06d %s\n" % (len(lines), "".join(
                rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randrange(1, 120))))
            lines.append(line)
            n += len(line)
        data = "".join(lines).encode()[:65536]
        data = data[:-1] + b"\n"
        before = console_counters(q)
        w.send(b"cat\n")
        time.sleep(0.2)
        t0 = time.time()
        got = b""
        sent = 0
        w.sock.setblocking(False)
        deadline = t0 + 120
        while len(got) < len(data):
            if time.time() > deadline:
                raise AssertionError("64 KB through cat: only %d of %d bytes back after 120 s"
                                     % (len(got), len(data)))
            want_w = [w.sock] if sent < len(data) else []
            r, wr, _ = select.select([w.sock], want_w, [], 1.0)
            if wr:
                try:
                    sent += w.sock.send(data[sent:sent + 4096])
                except BlockingIOError:
                    pass
            if r:
                chunk = w.sock.recv(65536)
                if not chunk:
                    raise AssertionError("connection closed")
                got += chunk
        secs = time.time() - t0
        w.sock.setblocking(True)
        if got[:len(data)] != data:
            bad = next(i for i in range(len(data)) if got[i:i + 1] != data[i:i + 1])
            raise AssertionError("byte %d differs: sent %r, got %r"
                                 % (bad, data[bad:bad + 40], got[bad:bad + 40]))
        w.buf = got[len(data):]
        w.send(b"\x04")                # Ctrl-D: end of file for cat
        w.expect(rb"\$ ", 30)
        progress("64 KB through cat and back in %.2fs" % secs)
        # Transmit is batched: the echo went out in chains of many bytes,
        # not one descriptor per byte (lsdev -v shows the driver's counters).
        after = console_counters(q)
        nbytes = after["tx_bytes"] - before["tx_bytes"]
        chains = after["tx_chains"] - before["tx_chains"]
        assert nbytes >= len(data), "the driver sent %d bytes for a %d-byte echo" % (
            nbytes, len(data))
        assert chains > 0 and nbytes / chains >= 32, \
            "%d bytes went out in %d chains: transmit is not batched" % (nbytes, chains)
        progress("the echo left in %d chains, %.0f bytes each" % (chains, nbytes / chains))
        out = w.run("echo after cat")
        assert out.strip() == "after cat", repr(out)
    finally:
        w.close()
        q.kill()


def test_vconsole_legacy():
    """The legacy transport: a command through the second shell."""
    q, w = boot("vconsole_legacy", legacy=True)
    try:
        out = w.run("echo legacy console")
        assert out.strip() == "legacy console", repr(out)
    finally:
        w.close()
        q.kill()
