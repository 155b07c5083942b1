"""QEMU tests of the virtio console (virtio/virtio_console.c,
kernel/glue/devfiles.c, user/init.c's second shell). The test is the other end
of each port: a TCP connection to the chardev socket QEMU listens on.

  vconsole_shell       echo and ls through the second shell (a virtconsole)
  vconsole_cat_64k     64 KB through `cat` come back intact and in order
                       (vconsole_cat_64k_packed: on the packed ring)
  vconsole_legacy      the legacy transport
  vconsole_one_port    max_ports=1: QEMU offers no MULTIPORT, the driver uses
                       port 0 alone, as a single-port driver always did
  vconsole_serialport  a plain virtserialport (port 1, no console port):
                       the shell runs there, and `lsdev -v` says so
  vconsole_multiport   a virtconsole and two virtserialports: the shell on
                       the console port, bytes out of and back into each
                       other port through its own socket, every port listed

QEMU's virtio-serial is a MULTIPORT device (virtio 1.2 5.3.6.2) with room
for 31 ports; it keeps port 0 for a virtconsole, so the first
virtserialport is port 1 and the next port 2.
"""
import random
import re
import select
import socket
import time

from qemu import Qemu, fresh_disk, check_ring, PROMPT
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


def chardev(cid, tcp_port):
    """A chardev that is a TCP server on 127.0.0.1:tcp_port, not waiting for us."""
    return ["-chardev", "socket,id=%s,host=127.0.0.1,port=%d,server=on,wait=off" % (cid, tcp_port)]


def sync(w):
    """The second shell's first prompt may or may not have waited for us
    (QEMU holds what the guest sent before we connected, up to a point):
    skip everything up to the output of a command of our own."""
    marker = "vsync%08x" % random.getrandbits(32)
    w.send(b"echo " + marker.encode() + b"\n")
    w.expect(marker.encode() + rb"\n\$ ")


def boot(name, transport="mmio", devices=None, shell_port=0, packed=False):
    """QEMU with a virtio-serial device on `transport` (qemu.TRANSPORTS): by
    default a virtconsole on one TCP port; `devices` is (QEMU options, TCP
    port of the shell's port); `packed`: every device on the packed ring.
    Waits for init to say it started the second shell on port `shell_port`
    and connects to it."""
    if devices is None:
        port = netutil.free_port()
        args = netutil.vconsole_args(port, transport)
    else:
        args, port = devices
    q = Qemu(fresh_disk(name), transport=transport, extra=args, log_name=name, packed=packed)
    w = None
    try:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        assert re.search(r"console \(3\)\s+virtio-console", banner), "no virtio-console:\n" + banner
        check_ring(banner, "console", packed)
        want = "init: starting sh on /dev/vcons (virtio-console port %d," % shell_port
        assert want in q.transcript, "init did not say %r:\n%s" % (want, q.transcript[-1500:])
        w = Wire(port)
        sync(w)
    except BaseException:
        # The caller gets no QEMU to kill: kill it here, and keep its transcript.
        if w is not None:
            w.close()
        q.kill()
        raise
    return q, w


def console_ports(q):
    """The port lines of the virtio console in `lsdev -v` on the UART shell:
    {id: {"kind", "shell", "guest", "host", "in", "out", "name"}}."""
    out = q.run("lsdev -v")
    ports = {}
    for m in re.finditer(r"^\s+port (\d+)\s+(console|serial)\s+(shell)?\s*guest=(\w+) host=(\w+)"
                         r"\s+in=(\d+) out=(\d+)(?: name=(\S+))?$", out, re.M):
        ports[int(m.group(1))] = {"kind": m.group(2), "shell": bool(m.group(3)),
                                  "guest": m.group(4), "host": m.group(5), "in": int(m.group(6)),
                                  "out": int(m.group(7)), "name": m.group(8)}
    assert ports, "lsdev -v lists no console ports:\n" + out
    return ports


def console_counters(q):
    """The virtio console driver's counters, from `lsdev -v` on the UART shell."""
    out = q.run("lsdev -v")
    m = re.search(r"virtio-console\s+\S+\n\s+(.*)\n", out)
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


def bulk_data():
    """64 KB of numbered lines of random text (cat passes bytes through
    unchanged; lines keep a terminal's line discipline out of it). The
    console lab's grader sends the same bytes."""
    rnd = random.Random(99)
    lines, n = [], 0
    while n < 65536:
        line = "%06d %s\n" % (len(lines), "".join(
            rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rnd.randrange(1, 120))))
        lines.append(line)
        n += len(line)
    data = "".join(lines).encode()[:65536]
    return data[:-1] + b"\n"


def exchange(sock, data, deadline):
    """Write data to sock while reading what comes back, until as many
    bytes came back as were sent, the deadline (a time.time() value)
    passes, or the other end closes. Writing and reading at once matters:
    `cat` echoes as it reads, and a writer that waited for the echo only at
    the end would fill both directions' buffers and stall. Returns (the
    bytes back, whether the connection closed)."""
    got, sent = b"", 0
    sock.setblocking(False)
    try:
        while len(got) < len(data) and time.time() < deadline:
            want_w = [sock] if sent < len(data) else []
            r, wr, _ = select.select([sock], want_w, [], 0.5)
            if wr:
                try:
                    sent += sock.send(data[sent:sent + 4096])
                except BlockingIOError:
                    pass
            if r:
                chunk = sock.recv(65536)
                if not chunk:
                    return got, True
                got += chunk
    finally:
        sock.setblocking(True)
    return got, False


def vconsole_cat_64k(progress, name, packed):
    """64 KB sent through `cat` on the virtio console arrive intact and in order."""
    q, w = boot(name, packed=packed)
    try:
        data = bulk_data()
        before = console_counters(q)
        w.send(b"cat\n")
        time.sleep(0.2)
        t0 = time.time()
        got, closed = exchange(w.sock, data, t0 + 120)
        secs = time.time() - t0
        if closed:
            raise AssertionError("connection closed")
        if len(got) < len(data):
            raise AssertionError("64 KB through cat: only %d of %d bytes back after 120 s"
                                 % (len(got), len(data)))
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


def test_vconsole_cat_64k(progress):
    """64 KB sent through `cat` on the virtio console arrive intact and in order."""
    vconsole_cat_64k(progress, "vconsole_cat", False)


def test_vconsole_cat_64k_packed(progress):
    """The same with the console's queues on the packed ring."""
    vconsole_cat_64k(progress, "vconsole_cat_packed", True)


def round_trip(name, transport, packed=False):
    """A command through the second shell, on `transport` (`packed`: every
    device on the packed ring)."""
    q, w = boot(name, transport, packed=packed)
    try:
        out = w.run("echo %s console" % transport)
        assert out.strip() == "%s console" % transport, repr(out)
        out = q.run("lsdev")
        version = "legacy" if transport.endswith("legacy") else "modern"
        where = r"\d+" if transport.startswith("mmio") else r"00:[0-9a-f]{2}\.\d"
        assert re.search(r"^%s\s+\S+\s+\d+\s+%s\s+console .*virtio-console" % (where, version),
                         out, re.M), "lsdev shows no %s console on %s:\n%s" % (version, transport, out)
    finally:
        w.close()
        q.kill()


def test_vconsole_legacy():
    """The legacy virtio-mmio transport: a command through the second shell."""
    round_trip("vconsole_legacy", "mmio-legacy")


def test_vconsole_pci():
    """The console on virtio-pci (modern): a command through the second shell."""
    round_trip("vconsole_pci", "pci")


def test_vconsole_pci_legacy():
    """The console on legacy virtio-pci (queues of the device's fixed size)."""
    round_trip("vconsole_pci_legacy", "pci-legacy")


def test_vconsole_pci_packed():
    """The console on modern virtio-pci with the packed ring."""
    round_trip("vconsole_pci_packed", "pci", packed=True)


def test_vconsole_one_port():
    """virtio-serial-device with max_ports=1 offers no MULTIPORT: port 0 on
    queues 0 and 1, no control queue; the shell works as before."""
    port = netutil.free_port()
    args = chardev("c0", port) + ["-device", "virtio-serial-device,max_ports=1",
                                  "-device", "virtconsole,chardev=c0"]
    q, w = boot("vconsole_one_port", devices=(args, port), shell_port=0)
    try:
        assert re.search(r"virtio-console \S+: modern transport, one port,", q.transcript), \
            "the driver did not run without MULTIPORT:\n" + q.transcript[-1500:]
        out = w.run("echo one port only")
        assert out.strip() == "one port only", repr(out)
        ports = console_ports(q)
        assert sorted(ports) == [0] and ports[0]["kind"] == "console" and ports[0]["shell"], ports
    finally:
        w.close()
        q.kill()


def test_vconsole_serialport():
    """A plain virtserialport, no virtconsole: QEMU makes it port 1. The
    shell runs there; a line goes through it and back; lsdev -v says so."""
    port = netutil.free_port()
    args = chardev("c0", port) + ["-device", "virtio-serial-device",
                                  "-device", "virtserialport,chardev=c0,name=org.test.serial"]
    q, w = boot("vconsole_serialport", devices=(args, port), shell_port=1)
    try:
        assert re.search(r'port 1, a serial port, name "org.test.serial"\)', q.transcript), \
            q.transcript[-1500:]
        out = w.run("echo a line round trip")
        assert out.strip() == "a line round trip", repr(out)
        ports = console_ports(q)
        assert sorted(ports) == [1], "ports listed: %s" % ports
        p = ports[1]
        assert (p["kind"], p["shell"], p["guest"], p["host"], p["name"]) == \
            ("serial", True, "open", "open", "org.test.serial"), p
        assert p["in"] > 0 and p["out"] > 0, p
    finally:
        w.close()
        q.kill()


def test_vconsole_multiport(progress):
    """A virtconsole and two virtserialports (ports 0, 1 and 2), each on its
    own TCP socket. The shell runs on the console port; on each other port
    the guest writes a line that arrives at that port's socket only, and
    `cat` sends what the socket sends straight back out of the same port."""
    tcp = [netutil.free_port() for _ in range(3)]
    args = (chardev("c0", tcp[0]) + chardev("c1", tcp[1]) + chardev("c2", tcp[2]) +
            ["-device", "virtio-serial-device",
             "-device", "virtconsole,chardev=c0,name=org.test.console",
             "-device", "virtserialport,chardev=c1,name=org.test.one",
             "-device", "virtserialport,chardev=c2"])
    q, shell = boot("vconsole_multiport", devices=(args, tcp[0]), shell_port=0)
    extra = {}
    try:
        assert re.search(r'port 0, a console port, name "org.test.console"\)', q.transcript), \
            q.transcript[-1500:]
        extra = {1: Wire(tcp[1]), 2: Wire(tcp[2])}
        for n, w in extra.items():
            # Out: the shell writes to /dev/vportN; the line arrives at N's socket.
            word = "out-of-port-%d-%08x" % (n, random.getrandbits(32))
            out = shell.run("echo %s > /dev/vport%d" % (word, n))
            assert out.strip() == "", repr(out)
            got = w.expect(word.encode() + rb"\n", 30)
            assert got == word.encode() + b"\n", "port %d's socket got %r" % (n, got)
            # Back: cat copies what port N receives out of port N again,
            # until the Ctrl-D byte the socket sends last.
            shell.send(b"cat < /dev/vport%d > /dev/vport%d\n" % (n, n))
            line = ("into-port-%d-and-back-%08x\n" % (n, random.getrandbits(32))).encode()
            w.send(line)
            got = w.expect(re.escape(line), 30)
            assert got == line, "port %d: sent %r, got back %r" % (n, line, got)
            w.send(b"\x04")
            shell.expect(rb"\$ ", 30)
            progress("port %d: a line out, a line in and back" % n)
        # Nothing crossed over: the other sockets saw only their own bytes.
        for n, w in extra.items():
            w.sock.setblocking(False)
            try:
                stray = w.sock.recv(65536)
            except BlockingIOError:
                stray = b""
            assert stray == b"" and w.buf == b"", "port %d's socket got stray bytes %r" % (
                n, w.buf + stray)
        out = shell.run("echo still here")
        assert out.strip() == "still here", repr(out)
        ports = console_ports(q)
        assert sorted(ports) == [0, 1, 2], "ports listed: %s" % ports
        want = {0: ("console", True, "org.test.console"), 1: ("serial", False, "org.test.one"),
                2: ("serial", False, None)}
        for n, (kind, is_shell, name) in want.items():
            p = ports[n]
            assert (p["kind"], p["shell"], p["name"]) == (kind, is_shell, name), (n, p)
            assert p["guest"] == "open" and p["host"] == "open", (n, p)
            assert p["in"] > 0 and p["out"] > 0, (n, p)
        progress("lsdev -v: %s" % ", ".join("port %d %s%s" % (n, ports[n]["kind"],
                                                             " (shell)" if ports[n]["shell"] else "")
                                            for n in sorted(ports)))
    finally:
        for w in extra.values():
            w.close()
        shell.close()
        q.kill()
