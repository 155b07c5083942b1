"""labs/vq/grade.py: the tests of lab vq, the split virtqueue
(virtio/virtq.c). The handout, labs/vq/README.md, says what each checks and
how the untouched starter fails it.

Run: make grade (in the lab's starter), make grade LAB=vq (in the solution
tree), make grade TEST=free_list for one test.
"""
import re

import gradelib
from gradelib import Lab

lab = Lab("vq", "the split virtqueue", files=["virtio/virtq.c"],
          trusts=["devmodel/"], starter_boots=False,
          trace="blk")

lab.host("free_list", 15,
         "descriptors come off the free list as chains and go back when the device returns them",
         ring=["ring_chains", "ring_free_list", "ring_free_list_scribbled"],
         virtio=["virtq_tokens_reverse", "virtq_multi_segment", "virtq_add_errors"])

lab.host("publish", 15,
         "a chain is published with barriers (1) and (2) and the device notified unless it said not to",
         ring=["ring_publish_barrier", "ring_notify_barrier", "ring_notify_suppressed"])

lab.host("used", 10,
         "completions come off the used ring after barrier (3), one barrier per batch, across the 65536 wrap",
         ring=["ring_used_barrier", "ring_used_batch", "ring_wraparound"])

lab.host("checks", 15,
         "what a device must not write is refused: unknown ids, ids twice, long lengths, a runaway "
         "used.idx (also across the 65536 wrap)",
         ring=["ring_used_checks"],
         virtio=["blk_used_id_out_of_range", "blk_used_id_repeated", "blk_used_len_too_big",
                 "blk_used_idx_runs_ahead"],
         perf_features=["perf_indirect_bad_len", "perf_indirect_bad_id"])

lab.host("drivers", 15,
         "the block driver on your queue: round trips, many requests out of order, indirect tables, EVENT_IDX",
         virtio=["blk_roundtrip_modern", "blk_roundtrip_legacy", "blk_out_of_order",
                 "blk_queue_full"],
         perf_features=["perf_indirect_large_request", "perf_indirect_fallback",
                        "perf_event_idx_kick_suppression", "perf_event_idx_recheck_race"])


def disk_counters(out):
    """lsdev -v's four counters of the disk: chains, notifies, interrupts, errors
    (under its row, which ends in the ring column)."""
    m = re.search(r"virtio-blk\s+\S+\s*\n\s+chains=(\d+) notifies=(\d+) interrupts=(\d+) errors=(\d+)",
                  out)
    return [int(x) for x in m.groups()] if m else None


@lab.qemu("boot", 20, "the kernel boots on your queue (modern and legacy transport) and its files survive a trip to the disk")
def boot(t):
    for legacy in (False, True):
        how = "legacy" if legacy else "modern"
        with t.guest(legacy=legacy) as g:
            g.labtest("fs")
            out = g.run("lsdev", "-v")
            c = disk_counters(out)
            t.check(c is not None, "%s transport: no disk counters in `lsdev -v`:\n%s" % (how, out))
            t.check(c[0] > 100 and c[3] == 0,
                    "%s transport: the disk says %d chains and %d errors (want > 100 chains, "
                    "no errors)" % (how, c[0], c[3]))


@lab.cm3("m3", 10, "the same queue on the Cortex-M3: blktest against the device model, which finds no violation")
def m3(t):
    with t.cm3() as m:
        for _ in range(2):
            out = m.command("blktest")
            t.check(re.search(r"blktest: \d+ sectors, \d+ writes and \d+ reads.*: OK", out),
                    "blktest on the Cortex-M3 did not pass:\n" + out.strip())
        stat = m.command("stat")
        row = gradelib.m3_stat_row(stat, "blk", 0)
        t.check(row, "no blk row in the Cortex-M3's stat:\n" + stat)
        req, notify, intr, done, err, dreq, dnotify, dintr, derr = row
        t.check(req > 100 and req == done == dreq and err == 0 and derr == 0,
                "Cortex-M3 blk queue: driver %d requests, %d done, %d errors; device %d "
                "requests, %d errors (want all equal, no errors):\n%s"
                % (req, done, err, dreq, derr, stat))
        t.check(0 < notify == dnotify, "Cortex-M3: %d notifications sent, %d received"
                % (notify, dnotify))
        t.check(re.search(r"blk driver: .*; device: .*, 0 violations", stat),
                "the device model saw the driver break the spec:\n" + stat)
