"""labs/devmodel/grade.py: the tests of lab devmodel, the other side of
the ring (devmodel/vdm.c, the split virtqueue's device half, and
devmodel/vdm_blk.c, a block request). The handout,
labs/devmodel/README.md, says what each checks and how the untouched
starter fails it.

The drivers (virtio/) are given and trusted here: every test runs them
against your device. The host tests run under AddressSanitizer and UBSan;
tests/host/test_device.c plays the driver itself, one store at a time.

Run: make grade (in the lab's starter), make grade LAB=devmodel (in the
solution tree), make grade TEST=pop for one test.
"""
import re

import gradelib
from gradelib import Lab, QemuError

lab = Lab("devmodel", "the device's side of the ring",
          files=["devmodel/vdm.c", "devmodel/vdm_blk.c"],
          trusts=["virtio/"])

lab.host("pop", 15,
         "the device takes every chain the driver publishes, in the ring's order, reading "
         "avail.idx before the entries (a barrier between)",
         device=["dev_pop_chains", "dev_pop_barrier"])

lab.host("used", 15,
         "used elements {id, len} land in entry used_idx % size, then used.idx moves, a barrier "
         "between; indices wrap; a chain the device refuses still comes back, an entry that is "
         "no descriptor does not",
         device=["dev_used_ring", "dev_used_barrier"],
         devmodel=["model_catches_bad_chains"],
         ring=["ring_used_batch", "ring_wraparound"])

lab.host("interrupt", 15,
         "an interrupt for completions unless avail.flags says no; InterruptStatus, the wire, "
         "InterruptACK; no interrupt lost to the race with a driver re-arming",
         device=["dev_interrupts", "dev_interrupt_barrier"],
         rng=["rng_interrupt", "rng_many_requests"])

lab.host("blk", 15,
         "block requests: the header read, the data moved, the status byte written, used.len "
         "counting what was written (modern, legacy, many segments, flush); under the block "
         "driver, one interrupt per completion without EVENT_IDX, none lost to an ack",
         device=["dev_blk_request"],
         virtio=["blk_roundtrip_modern", "blk_roundtrip_legacy", "blk_large_request",
                 "blk_bad_args", "blk_out_of_order", "blk_ack_race"],
         perf_features=["perf_flush", "perf_async_out_of_order", "perf_no_event_idx_interrupts",
                        "perf_no_interrupt_flag_race"])

lab.host("drivers", 10,
         "every driver on your device model under the sanitizers: console, entropy, network, and "
         "the randomized mix of all of them",
         devmodel=["console_roundtrip_modern", "rng_stream", "net_roundtrip_modern",
                   "random_mix"])


@lab.cm3("m3_blk", 15, "on the Cortex-M3: blktest through the given driver against your device, "
         "twice; driver and device agree on every count; no violation")
def m3_blk(t):
    with t.cm3() as m:
        for run in range(2):
            try:
                out = m.command("blktest", timeout=4)
            except QemuError:
                t.fail("blktest did not finish within %.0fs: the driver is still waiting for its "
                       "request%s" % (t.timeout(4), " (run 2)" if run else ""))
            t.check(re.search(r"blktest: \d+ sectors, \d+ writes and \d+ reads.*: OK", out),
                    "blktest on the Cortex-M3 did not pass:\n" + out.strip())
        stat = m.command("stat")
        c = gradelib.m3_stat_row(stat, "blk", 0)
        t.check(c, "no blk row in the Cortex-M3's stat:\n" + stat)
        req, notify, intr, done, err, dreq, dnotify, dintr, derr = c
        t.check(req > 100 and req == done == dreq and err == 0 and derr == 0,
                "driver %d requests, %d done, %d errors; device %d requests, %d errors (want all "
                "equal, no errors):\n%s" % (req, done, err, dreq, derr, stat))
        t.check(0 < intr and 0 < dintr, "driver %d interrupts, device %d:\n%s" % (intr, dintr, stat))
        t.check(re.search(r"blk driver: .*; device: .*, 0 violations", stat),
                "the device model counted violations:\n" + stat)


@lab.cm3("m3_echo", 15, "on the Cortex-M3: bytes into UART2 go through the console device's "
         "receive queue, the driver and its transmit queue (the packed ring), and come back out, "
         "all of them, in order: your interrupts on the board's NVIC")
def m3_echo(t):
    with t.cm3() as m:
        gradelib.check_uart2_echo(t, m, b"hello through the device model\n", 7)
        stat = m.command("stat")
        for q, what in ((0, "receiveq"), (1, "transmitq")):
            c = gradelib.m3_stat_row(stat, "console", q)
            t.check(c and c[3] > 0 and c[4] == 0 and c[5] > 0 and c[8] == 0,
                    "console %s: %s\n%s" % (what, c, stat))
