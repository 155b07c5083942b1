"""QEMU tests of the Cortex-M3 port (cm3/) on QEMU's lm3s6965evb.

The image has no virtio hardware under it: its devices are the software
device model (devmodel/) with register files in SRAM, driven by the
same virtio core files the RISC-V kernel uses. UART0 (stdio here, through
QEMU's monitor multiplexer as in `make qemu-cm3`; that path hands the UART
new bytes the moment the guest reads one) is a shell; UART2 (the third
-serial, a TCP socket here) is the wire of the virtio-console device, and
the image echoes every byte it receives there.

    python3 tests/run_tests.py cm3          all of them
Transcripts: tests/out/cm3_*.log (UART0) and the seed of the random bytes.
"""
import os
import random
import re
import select
import socket
import time

from qemu import Machine, QemuError, OUT, ROOT

ELF = os.path.join(ROOT, "build", "cm3", "cm3.elf")
PROMPT = "cm3> "


def free_port():
    """A TCP port nobody listens on right now (QEMU binds it a moment later)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Cm3(Machine):
    """QEMU running the M3 image: .expect()/.run() on UART0 (qemu.Machine),
    .uart2 a socket."""

    prompt = PROMPT
    crash_marks = ("panic:", "*** fault")

    def __init__(self, log_name):
        if not os.path.exists(ELF):
            raise QemuError("%s is missing: run `make cm3`" % ELF)
        self.uart2 = None
        for attempt in range(3):       # the port may be taken between probe and bind
            self.port = free_port()
            self.start(["qemu-system-arm", "-M", "lm3s6965evb", "-display", "none",
                        "-monitor", "none", "-kernel", ELF, "-serial", "mon:stdio",
                        "-serial", "null",
                        "-serial", "tcp:127.0.0.1:%d,server=on,wait=off" % self.port],
                       log_name)
            if self._connect(10):
                return
            self.kill()
        raise QemuError("could not start QEMU with UART2 on a TCP port")

    def _connect(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.uart2 = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                self.uart2.setblocking(False)
                return True
            except OSError:
                time.sleep(0.1)
        return False

    def echo(self, data, timeout=60):
        """Send bytes to UART2 while collecting what comes back; returns it
        once as many bytes as were sent have returned (or the time is up)."""
        got = bytearray()
        sent = 0
        deadline = time.time() + timeout
        while len(got) < len(data) and time.time() < deadline:
            want_w = [self.uart2] if sent < len(data) else []
            r, w, _ = select.select([self.uart2], want_w, [], 0.5)
            if w:
                sent += self.uart2.send(data[sent:sent + 4096])
            if r:
                chunk = self.uart2.recv(65536)
                if not chunk:
                    raise QemuError("UART2 socket closed")
                got += chunk
            # keep UART0 drained so a panic message is noticed
            self._read_some(0)
        return bytes(got)

    def kill(self):
        if self.uart2 is not None:
            self.uart2.close()
            self.uart2 = None
        Machine.kill(self)


def table_rows(text):
    """{type: (slot, driver, base, irq, ring)} from a device table."""
    rows = {}
    for m in re.finditer(r"^\s*(\d+)\s+0x([0-9a-f]{8})\s+(\d+)\s+(modern|legacy)\s+"
                         r"(\w+) \((\d+)\)\s+(\S+)\s+(\S+)", text, re.M):
        rows[m.group(5)] = (int(m.group(1)), m.group(7), int(m.group(2), 16), int(m.group(3)),
                            m.group(8))
    return rows


def check_table(text):
    rows = table_rows(text)
    want = {"block": "virtio-blk", "console": "virtio-console", "entropy": "virtio-rng"}
    for typ, drv in want.items():
        assert typ in rows, "no %s device in the table:\n%s" % (typ, text)
        assert rows[typ][1] == drv, "%s bound to %r, not %s:\n%s" % (typ, rows[typ][1], drv, text)
        base = rows[typ][2]
        assert 0x20000000 <= base < 0x20010000, "register file not in SRAM: 0x%x" % base
        # The disk on the split ring, the others on the packed one (board.c).
        ring = "split" if typ == "block" else "packed"
        assert rows[typ][4] == ring, "%s uses the %s ring, not %s:\n%s" % (
            typ, rows[typ][4], ring, text)
    assert len(rows) == 3, "the empty slot (DeviceID 0) must not be listed:\n" + text
    irqs = sorted(r[3] for r in rows.values())
    assert len(set(irqs)) == 3, "devices share an IRQ: %s" % irqs


def queue_counts(stat, dev, q):
    """(driver requests, notifies, intrs, done, errors, device requests, notifies,
    intrs, errors) of one queue row of `stat`; -1 where the driver does not
    count per queue."""
    m = re.search(r"^\s*%s\s+%d\s+\S+\s+((?:(?:\d+|-)\s+){5})\|\s+((?:\d+\s*){4})$"
                  % (dev, q), stat, re.M)
    assert m, "no stat row for %s queue %d:\n%s" % (dev, q, stat)
    return [-1 if x == "-" else int(x) for x in (m.group(1) + m.group(2)).split()]


def check_memory(stat):
    """The `memory:` line of `stat`: more than 8 KB of SRAM free, and the
    stack's high-water mark well inside its region. The README's SRAM
    figures rest on both; a deepest value near the stack size would mean
    the painted stack was used up and .bss may have been overwritten."""
    m = re.search(r"free (\d+)", stat)
    assert m and int(m.group(1)) > 8192, "less than 8 KB of SRAM free:\n" + stat
    m = re.search(r"stack (\d+) \(deepest (\d+)\)", stat)
    assert m, "no stack figures in stat:\n" + stat
    size, deepest = int(m.group(1)), int(m.group(2))
    assert 0 < deepest < size // 2, "stack high-water %d of %d:\n%s" % (deepest, size, stat)


def test_cm3_devs():
    """Boot banner and `devs`: blk, console, rng found by probing, the empty slot skipped,
    the disk on the split ring, console and entropy on the packed ring."""
    with Cm3("cm3_devs") as m:
        banner = m.expect(PROMPT, 30)
        check_table(banner)
        check_table(m.run("devs"))


def test_cm3_blktest():
    """`blktest` twice (different patterns), then `stat` shows the blk queue's work."""
    with Cm3("cm3_blktest") as m:
        m.expect(PROMPT, 30)
        for _ in range(2):
            out = m.run("blktest", 60)
            assert re.search(r"blktest: \d+ sectors, \d+ writes and \d+ reads.*: OK", out), out
        stat = m.run("stat")
        c = queue_counts(stat, "blk", 0)
        drv_req, drv_notify, drv_intr, drv_done, drv_err = c[:5]
        dev_req, dev_notify, dev_intr, dev_err = c[5:]
        assert drv_req > 100 and drv_req == drv_done == dev_req, stat
        assert 0 < drv_notify == dev_notify <= drv_req, stat
        assert 0 < drv_intr and 0 < dev_intr, stat
        assert drv_err == 0 and dev_err == 0, stat
        assert re.search(r"0 violations", stat), stat
        check_memory(stat)


def test_cm3_uart2_echo():
    """UART2: lines, then 16 KB of random bytes, come back complete and in order."""
    with Cm3("cm3_echo") as m:
        m.expect(PROMPT, 30)
        for line in [b"hello, virtio-console\n", b"x\n", b"The quick brown fox " * 10 + b"\n"]:
            got = m.echo(line, 20)
            assert got == line, "sent %r, got back %r" % (line, got)
        seed = random.randrange(1 << 32)
        rnd = random.Random(seed)
        data = bytes(rnd.randrange(256) for _ in range(16 * 1024))
        with open(os.path.join(OUT, "cm3_echo.seed"), "w") as f:
            f.write("%d\n" % seed)
        got = m.echo(data, 120)
        if got != data:
            first = next((i for i in range(min(len(got), len(data))) if got[i] != data[i]),
                         min(len(got), len(data)))
            raise AssertionError("random bytes (seed %d): %d sent, %d back, first difference "
                                 "at byte %d" % (seed, len(data), len(got), first))
        stat = m.run("stat")
        rx = queue_counts(stat, "console", 0)
        tx = queue_counts(stat, "console", 1)
        assert rx[3] > 0 and tx[3] > 0 and rx[4] == 0 and tx[4] == 0, stat
        assert rx[5] > 0 and tx[5] > 0 and rx[7] > 0 and tx[7] > 0, stat
        assert rx[8] == 0 and tx[8] == 0, stat
        # The console is multiport (virtio 1.2 5.3.6.2): its control queues
        # carried the port's announcement and the driver's answers, none
        # dropped, and the echo runs on the console port, port 0.
        for q in (2, 3):
            c = queue_counts(stat, "console", q)
            assert c[3] > 0 and c[4] == 0 and c[5] > 0 and c[8] == 0, stat
        assert re.search(r"console control: [1-9]\d* messages in, [1-9]\d* out, 0 dropped; "
                         r"echo on port 0", stat), stat
        assert re.search(r"console driver: [1-9]\d* interrupts", stat), stat
        assert not re.search(r"[1-9]\d* violations", stat), stat
        m2 = re.search(r"echo: (\d+) bytes", stat)
        total = sum(len(l) for l in [b"hello, virtio-console\n", b"x\n",
                                     b"The quick brown fox " * 10 + b"\n"]) + len(data)
        assert m2 and int(m2.group(1)) == total, "echo count != %d:\n%s" % (total, stat)
        check_memory(stat)


def test_cm3_rng():
    """`rng 32`: 32 bytes from virtio-rng, not all the same."""
    with Cm3("cm3_rng") as m:
        m.expect(PROMPT, 30)
        out = m.run("rng 32")
        m2 = re.search(r"rng: 32 bytes: ((?:[0-9a-f]{2} ?){32})", out)
        assert m2, out
        vals = m2.group(1).split()
        assert len(set(vals)) > 4, out
        # The bytes came through the queue, not from somewhere else: the
        # driver and the device both counted the requests, the device
        # interrupted for them, and nobody saw an error.
        stat = m.run("stat")
        c = queue_counts(stat, "rng", 0)
        drv_req, drv_notify, _, drv_done, drv_err = c[:5]
        dev_req, dev_notify, dev_intr, dev_err = c[5:]
        assert 0 < drv_req == drv_done == dev_req, stat
        assert 0 < drv_notify == dev_notify, stat
        assert dev_intr > 0 and drv_err == 0 and dev_err == 0, stat
        m3 = re.search(r"rng driver: \d+ interrupts, (\d+) bytes; device: (\d+) bytes, "
                       r"0 violations", stat)
        assert m3 and int(m3.group(1)) >= 32 and int(m3.group(2)) >= 32, stat


def paste(m, data):
    """Write `data` to UART0 with one write(), as a terminal paste does: QEMU
    finds it all waiting at once. Kept below the pipe's 64 KB so the write
    cannot block while QEMU's output waits for us to read it."""
    assert len(data) < 60000
    os.write(m.proc.stdin.fileno(), data)


def uart0_counts(stat):
    """The `uart0:` line of `stat` as a dict of its counters."""
    m = re.search(r"uart0: (\d+) interrupts, (\d+) bytes in, (\d+) ring-full stops, "
                  r"(\d+) overruns; shell: (\d+) lines, (\d+) too long \((\d+) bytes dropped\)",
                  stat)
    assert m, "no uart0 line in stat:\n" + stat
    keys = ("irqs", "bytes", "stops", "overruns", "lines", "long", "dropped")
    return dict(zip(keys, (int(x) for x in m.groups())))


def wait_answers(m, want, timeout, idle=10):
    """Collect UART0 output until it is as long as `want` (or the time is up,
    or nothing came for `idle` seconds), then say where it first differs."""
    deadline = time.time() + timeout
    last = time.time()
    while len(m.buf) < len(want) and time.time() < min(deadline, last + idle):
        if m._read_some(0.5):
            last = time.time()
    got = m.buf
    if got == want:
        m.buf = ""
        return
    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
             min(len(got), len(want)))
    raise AssertionError("UART0 output differs at character %d of %d (%d arrived):\n"
                         "  wanted ...%r\n  got    ...%r"
                         % (i, len(want), len(got), want[max(0, i - 60):i + 60],
                            got[max(0, i - 60):i + 60]))


def test_cm3_paste_lines():
    """`sleep 300` and 200 `echo` lines written to UART0 at once (9 KB, far
    more than the 256-byte receive ring, which fills during the sleep):
    every line runs, once, in order, and UART0 shows exactly the echoed
    line, its answer and a new prompt for each. `stat` shows the receive
    interrupt was stopped while the ring was full, and that nothing was
    dropped."""
    rnd = random.Random(1)
    lines = ["paste %03d %s" % (i, "".join(rnd.choice("abcdefghij") for _ in range(30)))
             for i in range(200)]
    with Cm3("cm3_paste") as m:
        m.expect(PROMPT, 30)
        paste(m, ("sleep 300\n" + "".join("echo %s\n" % l for l in lines)).encode())
        wait_answers(m, "sleep 300\n" + PROMPT +
                     "".join("echo %s\n%s\n%s" % (l, l, PROMPT) for l in lines), 120)
        c = uart0_counts(m.run("stat"))
        assert c["stops"] > 0, "the ring never filled: %s" % c
        assert c["overruns"] == 0 and c["long"] == 0 and c["dropped"] == 0, c
        assert c["lines"] == 202, "sleep, 200 lines and stat ran, counted %s" % c
        out = m.run("echo still here")
        assert out == "still here\n", repr(out)


def test_cm3_long_line():
    """A 10,000-character line written at once, between two short ones: the
    line before runs, the long one is refused with "line too long" (none of
    it runs, nothing of it merges into the next line), the line after runs;
    `stat` counts the refused line and its bytes. Then a line one character
    too long for the buffer gets the same error, and one that just fits
    runs."""
    with Cm3("cm3_long_line") as m:
        m.expect(PROMPT, 30)
        long_line = "x" * 10000
        paste(m, ("echo before\n%s\necho after\n" % long_line).encode())
        m.expect("after\n" + PROMPT, 60)
        out = m.transcript[m.transcript.index("echo before"):]
        assert "before\n" + PROMPT in out, out[:400]
        assert re.search(r"line too long", out), "no error for the long line:\n" + out[:600]
        assert "unknown command" not in out, "part of the long line ran:\n" + out[:600]
        assert out.count("after") == 2, out[-400:]
        c = uart0_counts(m.run("stat"))
        assert c["long"] == 1 and c["dropped"] == 10000, c
        assert c["overruns"] == 0, c
        # The limit itself: 79 characters fit (the buffer holds 80 with
        # the terminating NUL), 80 do not.
        fits = "echo " + "f" * 74
        out = m.run(fits)
        assert out == "f" * 74 + "\n", repr(out)
        out = m.run(fits + "g")
        assert "line too long" in out and "f" * 74 + "g\n" not in out, repr(out)
        out = m.run("echo still here")
        assert out == "still here\n", repr(out)


def test_cm3_rng_count():
    """`rng N` takes a count from 1 to 64, `sleep MS` one from 1 to 10000;
    anything else is refused with a message instead of wrapping or falling
    back to the default."""
    with Cm3("cm3_rng_count") as m:
        m.expect(PROMPT, 30)
        for cmd, n in (("rng", 16), ("rng 1", 1), ("rng 64", 64), ("rng   7  ", 7)):
            out = m.run(cmd)
            m2 = re.search(r"rng: (\d+) bytes:((?: [0-9a-f]{2})*)\n", out)
            assert m2 and int(m2.group(1)) == n and len(m2.group(2).split()) == n, \
                "%r: %r" % (cmd, out)
        for arg in ("4294967296", "4294967312", "abc", "-5", "0", "65", "5x", "1 2"):
            out = m.run("rng " + arg)
            assert "bytes:" not in out and re.search(r"^rng: .*%s" % re.escape(arg), out), \
                "rng %s was not refused: %r" % (arg, out)
        for arg in ("", "0", "10001", "4294967297", "x", "-1"):
            out = m.run("sleep " + arg)
            assert re.search(r"^sleep: .*%s" % re.escape(arg), out), \
                "sleep %s was not refused: %r" % (arg, out)
        out = m.run("sleep 20")
        assert out == "", repr(out)
