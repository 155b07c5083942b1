"""labs/blk/grade.py: the tests of lab blk, many block requests in flight
(virtio/virtio_blk.c, part 1). The handout, labs/blk/README.md, says what
each checks and how the untouched starter fails it.

Run: make grade (in the lab's starter), make grade LAB=blk (in the solution
tree), make grade TEST=rw for one test.
"""
import re

from gradelib import Lab

lab = Lab("blk", "many block requests in flight", files=["virtio/virtio_blk.c"],
          trusts=["devmodel/"],
          trace="blk")

lab.host("rw", 20,
         "vblk_rw: reads and writes round trip (modern, legacy), bad requests refused, "
         "the caller asleep until the interrupt",
         virtio=["blk_roundtrip_modern", "blk_roundtrip_legacy", "blk_large_request",
                 "blk_bad_args", "blk_readonly", "blk_config_change"])

lab.host("errors", 15,
         "a request the device fails, or answers wrongly, fails alone or takes the device down",
         virtio=["blk_ioerr", "blk_unsupp", "blk_unknown_status", "blk_status_unwritten",
                 "blk_never_completes", "blk_needs_reset", "blk_used_id_repeated"])

lab.host("many", 20,
         "several callers of vblk_rw in flight at once, completed out of order, each woken for its own; "
         "room for the chain in a queue that long chains filled",
         virtio=["blk_out_of_order", "blk_queue_full", "blk_ack_race", "blk_no_notify"],
         perf_features=["perf_mixed_long_chains"])

lab.host("async", 20,
         "part 3 on many slots: 32 requests in flight, completions found by token, one notification per batch",
         perf_features=["perf_async_more_than_slots", "perf_async_out_of_order",
                        "perf_depth8_ratios", "perf_features_negotiated"])


@lab.qemu("inflight", 25,
          "on QEMU: reads kept 8 and 32 deep cost at most 0.25 notifications and interrupts per request; files survive")
def inflight(t):
    with t.guest() as g:
        g.labtest("fs")
        out = g.labtest("blk", timeout=60)
        rows = {}
        for m in re.finditer(r"^depth (\d+): (\d+) requests, (\d+) device requests, (\d+) "
                             r"notifications, (\d+) interrupts, (\d+) errors, (\d+) slots$",
                             out, re.M):
            rows[int(m.group(1))] = [int(x) for x in m.groups()[1:]]
        t.check(set(rows) == {1, 8, 32}, "labtest blk printed no figures:\n" + out)
        for depth in (8, 32):
            nreq, _, notifies, intrs, _, slots = rows[depth]
            t.check(slots >= 8, "the driver keeps %d request(s) in flight at most (blkbench's "
                    "`slots`); want VBLK_NSLOT (32)" % slots)
            t.check(notifies * 4 <= nreq and intrs * 4 <= nreq,
                    "depth %d: %d notifications and %d interrupts for %d requests: want at most "
                    "0.25 per request (all figures:\n%s)" % (depth, notifies, intrs, nreq, out))
