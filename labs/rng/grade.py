"""labs/rng/grade.py: the tests of lab rng, the entropy driver
(virtio/virtio_rng.c). The handout, labs/rng/README.md, says what each
checks and how the untouched starter fails it.

Run: make grade (in the lab's starter), make grade LAB=rng (in the solution
tree), make grade TEST=handshake for one test.
"""
import re
import sys
import os

from gradelib import Lab, ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))
import netutil  # noqa: E402

lab = Lab("rng", "the entropy driver", files=["virtio/virtio_rng.c"], trusts=["devmodel/"],
          trace="rng")

lab.host("handshake", 15,
         "the status handshake, no features, the request queue, DRIVER_OK (modern and legacy)",
         rng=["rng_handshake", "rng_handshake_legacy"])

lab.host("requests", 20,
         "reads of any size: one device-writable buffer per request, no more bytes asked than wanted, "
         "the reader asleep until the interrupt",
         rng=["rng_one_request", "rng_many_requests", "rng_interrupt"],
         devmodel=["rng_stream", "rng_short_fills"])

lab.host("faults", 15,
         "a device that lies, goes silent, resets or refuses: the driver gives up and readers get -1",
         devmodel=["fault_rng_bad_id", "fault_rng_dup_id", "fault_rng_big_len",
                   "fault_rng_idx_jump", "fault_rng_never", "fault_rng_needs_reset",
                   "fault_rng_reset_inflight", "fault_rng_refuse_features"])


def rng_counters(out):
    """lsdev -v's counters of the entropy device: chains, bytes, short_reads, interrupts
    (under its row, which ends in the ring column)."""
    m = re.search(r"virtio-rng\s+\S+\s*\n\s+chains=(\d+) bytes=(\d+) short_reads=(\d+) interrupts=(\d+)",
                  out)
    return [int(x) for x in m.groups()] if m else None


def random_bytes(t, legacy):
    how = "legacy" if legacy else "modern"
    with t.guest(legacy=legacy, extra=netutil.rng_args()) as g:
        g.labtest("rng")
        out = g.run("lsdev", "-v")
        c = rng_counters(out)
        t.check(c is not None, "%s transport: no virtio-rng counters in `lsdev -v` (did the driver "
                "start?):\n%s" % (how, out))
        chains, nbytes, short, intrs = c
        # labtest read 1+7+64+65+100+4096+32+32+4096 bytes, and 4 x 4000 more.
        t.check(nbytes >= 24493, "%s transport: the driver counted %d bytes; labtest read at "
                "least 24493" % (how, nbytes))
        t.check(chains >= nbytes // 64 and intrs > 0,
                "%s transport: %d chains and %d interrupts for %d bytes" % (how, chains, intrs, nbytes))


@lab.qemu("random", 25, "/dev/random on QEMU's virtio-rng: reads of every size, different bytes, four readers at once")
def random(t):
    random_bytes(t, False)


@lab.qemu("legacy", 10, "the same on QEMU's legacy (version 1) transport")
def legacy(t):
    random_bytes(t, True)


@lab.cm3("m3", 15, "the same driver on the Cortex-M3 against the device model, which finds no violation")
def m3(t):
    with t.cm3() as m:
        out = m.command("rng 32")
        r = re.search(r"rng: 32 bytes: ((?:[0-9a-f]{2} ?){32})", out)
        t.check(r, "`rng 32` on the Cortex-M3 printed no bytes:\n" + out.strip())
        t.check(len(set(r.group(1).split())) > 4, "32 bytes with at most 4 values:\n" + out)
        stat = m.command("stat")
        row = re.search(r"^\s*rng\s+0\s+\S+\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+\|\s+"
                        r"(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", stat, re.M)
        t.check(row, "no rng row in the Cortex-M3's stat:\n" + stat)
        req, notify, _, done, err, dreq, dnotify, dintr, derr = row.groups()
        t.check(0 < int(req) == int(done) == int(dreq) and err == "0" and derr == "0",
                "Cortex-M3 rng queue: driver %s requests, %s done, %s errors; device %s requests, "
                "%s errors:\n%s" % (req, done, err, dreq, derr, stat))
        t.check(re.search(r"rng driver: \d+ interrupts, (\d+) bytes; device: (\d+) bytes, "
                          r"0 violations", stat),
                "the device model saw the driver break the spec:\n" + stat)
