"""labs/console/grade.py: the tests of lab console, the console driver's
data path (virtio/virtio_console.c: receive buffers refilled as they are
used, transmit batched). The handout, labs/console/README.md, says what
each checks and how the untouched starter fails it.

The QEMU tests give the kernel a virtconsole whose other end is a TCP
server QEMU listens on (a port picked at run time); the grader connects
and talks to the second shell that init starts there.

Run: make grade (in the lab's starter), make grade LAB=console (in the
solution tree), make grade TEST=bulk for one test.
"""
import contextlib
import os
import random
import re
import sys
import time

import gradelib
from gradelib import Lab, ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))
import netutil  # noqa: E402
import test_vconsole  # noqa: E402

lab = Lab("console", "the console's data path", files=["virtio/virtio_console.c"],
          trusts=["devmodel/", "tests/qemu/test_vconsole.py"],
          trace="console")

lab.host("rx", 15,
         "receive buffers stay posted; while the reader is slow the bytes wait in them, in order, "
         "none lost; a device that lies on the receiveq is given up on",
         devmodel=["console_flow_control", "fault_cons_rx_bad_id", "fault_cons_rx_dup_id",
                   "fault_cons_rx_big_len"])

lab.host("tx", 15,
         "bytes go out in whole buffers, batched, and come back round; transmit buffers are "
         "reclaimed; writers wait for buffers and for a listener",
         devmodel=["console_roundtrip_modern", "console_roundtrip_legacy",
                   "console_64k_backpressure", "fault_cons_tx_bad_id", "fault_cons_tx_dup_id"],
         console=["console_write_waits_for_listener"])

lab.host("ports", 10,
         "the data path of every port the device announces (the control protocol is given): "
         "console and serial ports, one port without MULTIPORT, a port removed and added again",
         console=["console_ports_announced", "console_serial_port_only",
                  "console_pick_console_port", "console_one_port", "console_hotplug",
                  "console_legacy_multiport"])


@contextlib.contextmanager
def second_shell(t):
    """The kernel with a virtconsole on a TCP port, and a connection to the
    shell init starts there; yields (guest, wire)."""
    port = netutil.free_port()
    with t.guest(extra=netutil.vconsole_args(port)) as g:
        # init names the second shell's port first, then starts the UART's.
        g.expect(re.compile(r"(?m)^init: starting sh\n"), t.timeout(10))
        t.check("init: starting sh on /dev/vcons" in g.transcript,
                "init did not start a shell on the virtio console:\n" + g.transcript[-800:])
        w = test_vconsole.Wire(port, timeout=t.timeout(10))
        try:
            # The shell's first prompt may have gone out before we were
            # there; a command of our own and its answer are certain.
            marker = "sync%08x" % random.getrandbits(32)
            w.send(("echo %s\n" % marker).encode())
            try:
                w.expect(marker.encode() + rb"\n\$ ", t.timeout(5))
            except AssertionError:
                t.fail("the shell on the virtio console did not answer `echo %s` within %.0fs "
                       "(bytes back: %r)" % (marker, t.timeout(5), w.buf[-200:]))
            yield g, w
        finally:
            w.close()


def counters(g):
    """The console driver's counters from `lsdev -v` (tx_bytes, tx_chains, ...)."""
    out = g.run("lsdev", "-v")
    m = re.search(r"virtio-console\s+\S+\s*\n\s+(.*)\n", out)
    if not m:
        return None
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def through_cat(t, w, data):
    """Send data to `cat` on the second shell while reading what comes back;
    what came back (as many bytes as were sent, or fewer at the deadline)."""
    w.send(b"cat\n")
    time.sleep(0.2)
    got, closed = test_vconsole.exchange(w.sock, data, time.time() + t.timeout(30))
    if closed:
        t.fail("the virtio console's connection closed after %d bytes back" % len(got))
    return got



def end_cat(t, w, got, n):
    """Ctrl-D ends cat; the shell's prompt comes back."""
    w.buf = got[n:]
    w.send(b"\x04")
    w.expect(rb"\$ ", t.timeout(10))


@lab.qemu("line", 10, "a line round trip through the shell on the virtio console")
def line(t):
    with second_shell(t) as (g, w):
        word = "round-trip-%08x" % random.getrandbits(32)
        out = w.run("echo %s over virtio" % word, t.timeout(10))
        t.check(out.strip() == "%s over virtio" % word, "echo through the virtio console "
                "came back as %r" % out)


@lab.qemu("bulk", 20, "64 KB through `cat` on the virtio console come back byte for byte, in order")
def bulk(t):
    data = test_vconsole.bulk_data()
    with second_shell(t) as (g, w):
        t0 = time.time()
        got = through_cat(t, w, data)
        if got[:len(data)] != data:
            n = min(len(got), len(data))
            bad = next((i for i in range(n) if got[i] != data[i]), n)
            t.fail("64 KB through cat: %d bytes back, the first difference at byte %d (sent %r, "
                   "got %r)" % (len(got), bad, data[bad:bad + 24], got[bad:bad + 24]))
        t.note("64 KB through cat and back in %.2fs" % (time.time() - t0))
        end_cat(t, w, got, len(data))


@lab.qemu("batch", 15, "the 64 KB leave in few chains: transmit is batched, many bytes a chain "
          "(lsdev -v: tx_bytes / tx_chains)")
def batch(t):
    data = test_vconsole.bulk_data()
    with second_shell(t) as (g, w):
        before = counters(g)
        t.check(before, "lsdev -v shows no counters for the virtio console")
        got = through_cat(t, w, data)
        t.check(got[:len(data)] == data, "64 KB through cat did not come back whole (%d bytes)"
                % len(got))
        end_cat(t, w, got, len(data))
        after = counters(g)
    nbytes = after["tx_bytes"] - before["tx_bytes"]
    chains = after["tx_chains"] - before["tx_chains"]
    t.check(nbytes >= len(data), "the driver counted %d bytes out for a %d-byte echo (tx_bytes)"
            % (nbytes, len(data)))
    t.note("the echo left in %d chains, %.1f bytes a chain" % (chains, nbytes / max(chains, 1)))
    t.check(chains > 0 and nbytes >= 32 * chains, "%d bytes went out in %d chains: want at least "
            "32 bytes a chain (transmit is not batched)" % (nbytes, chains))


@lab.cm3("m3", 15, "the same driver on the Cortex-M3: bytes into UART2 go up the console's "
         "receive queue and back down its transmit queue, all of them, in order")
def m3(t):
    with t.cm3() as m:
        gradelib.check_uart2_echo(t, m, b"hello, virtio-console\n", 5)
