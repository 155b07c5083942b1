"""Tests of the ring you can watch: the virtqueue recording
(virtio/virtq_trace.c, /dev/vtrace, user/vtrace.c), its replay and page
(tools/trace/), `make trace` end to end, the page in headless Chromium,
the recording against QEMU's monitor, and the gdb commands
(tools/gdb/virtq.py) against plain gdb memory reads.

    python3 tests/run_tests.py trace

A screenshot of the page lands in tests/out/trace.png (and of the host
tests' page, both halves from the device model, in tests/out/trace-host.png).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

from qemu import Qemu, QemuError, ROOT, OUT, PROMPT, fresh_disk, KERNEL
import chromium
import netutil

sys.path.insert(0, os.path.join(ROOT, "tools", "trace"))
import qemu_events  # noqa: E402
import records  # noqa: E402
import ring  # noqa: E402
import vtrace  # noqa: E402

BOOT_TIMEOUT = 120
END_RE = re.compile(r"==vtrace end \d+ records==\n")
# The kinds of record that are steps on the page (the rest are the
# snapshot, the frame, and the parts of an ADD or a BAD).
STEP_KINDS = {"ADD", "KICK", "INTR", "USED", "BAD", "BROKEN", "INTR_ON", "INTR_OFF", "DRAIN",
              "DNOTIFY", "DPOP", "DUSED", "DEVENT", "DIRQ", "WRAP"}


# What the page and the replay call the same things on each ring layout
# (virtio 1.2 2.7, 2.8): the tests below run once per layout with these.
LAYOUTS = {
    "split": {
        "packed": False,
        "added": "head",                        # an ADD step's field naming the chain
        "rows": ".desc-table tr[data-i]",       # the table rows on the page, and ...
        "row_attr": "data-i",                   # ... the attribute that holds that name
        "published": ".avail-idx .value",       # where the page shows what is published
        "pub_key": "avail.idx",                 # the state key behind it
        "pub_text": str,                        # its value as the page writes it
    },
    "packed": {
        "packed": True,
        "added": "id",
        "rows": ".ring-table tr[data-id]",
        "row_attr": "data-id",
        "published": ".published .value",
        "pub_key": "drv.pub",
        "pub_text": lambda p: "%d (wrap %d%s)" % (p[0], p[1], ", passed the end %d\u00d7" % p[2] if p[2] else ""),
    },
}


def page_data(path):
    with open(path) as f:
        text = f.read()
    m = re.search(r'<script id="trace-data" type="application/json">(.*?)</script>', text, re.S)
    assert m, "%s holds no recording" % path
    return json.loads(m.group(1).replace("<\\/", "</"))


def lsdev_counts(text, driver="virtio-blk"):
    """The counters under the `driver` row of `lsdev -v` (after the row's ring column)."""
    m = re.search(r"%s\s+\S+\n\s+((?:\w+=\d+\s*)+)" % re.escape(driver), text)
    assert m, "no counters for %s in:\n%s" % (driver, text)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


# ---------------------------------------------------------------- no QEMU

def snapshot(size=8, free=None, avring=None, used_idx=0, avail_idx=0, event_idx=True):
    """A recording's frame and a queue's snapshot, built by hand."""
    free = list(range(size)) if free is None else free
    p = records.pack
    out = [p("BEGIN", a=records.VERSION, d=1000000, x=64),
           p("QUEUE", a=size, b=0, c=1 if event_idx else 0, x=0x10001000),
           p("TEXT", payload="virtio-blk requestq"),
           p("STATE", a=avail_idx, b=avail_idx, c=used_idx, d=len(free) << 16, x=free[0] if free else 0),
           p("RINGS", a=0, b=avail_idx, c=used_idx, d=used_idx << 16, x=avail_idx)]
    out += [p("COUNT", a=i, b=0, d=0) for i in range(8)]
    for i in range(0, len(free), 12):
        out.append(p("FREE", a=len(free[i:i + 12]), payload=free[i:i + 12]))
    av = avring or [0] * size
    for i in range(0, size, 12):
        out.append(p("AVRING", a=i, payload=av[i:i + 12]))
    return out


def chain(kind, head, pos, idx, lens, writes, table=None):
    """ADD (or HELD) with its descriptors: plain (idx: the ring descriptors)
    or with an indirect table (idx: the one ring descriptor)."""
    p = records.pack
    out = [p(kind, a=head, b=pos, c=len(idx), d=sum(l for l, w in zip(lens, writes) if w), x=0x8000 + head)]
    if table is None:
        for k, i in enumerate(idx):
            last = k + 1 == len(idx)
            out.append(p("DESC", a=i, b=(0 if last else 1) | (2 if writes[k] else 0),
                         c=0 if last else idx[k + 1], d=lens[k], x=0x1000 * (i + 1)))
    else:
        out.append(p("DESC", a=idx[0], b=4, c=0, d=16 * len(lens), x=0x9000))
        for k in range(len(lens)):
            last = k + 1 == len(lens)
            out.append(p("IDESC", a=k, b=(0 if last else 1) | (2 if writes[k] else 0),
                         c=0 if last else k + 1, d=lens[k], x=0xa000 + 0x100 * k))
    return out


def seal(raws):
    """Number the records in order (their seq) and decode them."""
    return records.decode(b"".join(i.to_bytes(4, "little") + r[4:] for i, r in enumerate(raws)))


def known_recording():
    """Two requests on an 8-entry queue with EVENT_IDX, both halves: a plain
    chain, then two chains published with one kick, the second of them
    indirect; the device answers them out of order."""
    p = records.pack
    rs = snapshot()
    rs += chain("ADD", 0, 0, [0, 1, 2], [16, 512, 1], [0, 1, 1])
    rs += [p("KICK", a=0, b=1, c=1, d=1, x=0),                 # avail_event 0: notify
           p("DNOTIFY", a=1), p("DPOP", a=0, b=0), p("DEVENT", a=1),
           p("DUSED", a=0, d=0, x=513), p("DIRQ", a=0, b=1, c=1, d=1, x=0),
           p("INTR", a=1, b=0), p("USED", a=0, d=0, x=513, c=3), p("INTR_ON", b=1, c=1)]
    rs += chain("ADD", 0, 1, [0, 1], [16, 1], [0, 1])
    rs += chain("ADD", 2, 2, [2], [16, 1024, 1], [0, 1, 1], table=True)
    rs += [p("KICK", a=1, b=3, c=1, d=1, x=1),
           p("DNOTIFY", a=3), p("DPOP", a=1, b=0), p("DPOP", a=2, b=2), p("DEVENT", a=3),
           p("DUSED", a=1, d=2, x=1025), p("DIRQ", a=1, b=2, c=1, d=1, x=1),
           p("DUSED", a=2, d=0, x=1), p("DIRQ", a=2, b=3, c=0, d=1, x=1),
           p("INTR", a=3, b=1), p("USED", a=1, d=2, x=1025, c=1), p("USED", a=2, d=0, x=1, c=2),
           p("INTR_ON", b=1, c=3)]
    rs += chain("ADD", 0, 3, [0, 1, 2], [16, 8, 1], [0, 0, 1])
    rs += [p("KICK", a=3, b=4, c=0, d=1, x=9)]                 # avail_event 9: no notification
    # At the stop: added, indirect, kicks, notifies, interrupts, completions, rechecks, errors.
    rs += [p("COUNT", a=i, b=1, d=v) for i, v in enumerate([4, 1, 3, 2, 2, 3, 0, 0])]
    rs += [p("END", d=0, x=len(rs) + 1)]
    return seal(rs)



def assert_steps_back(rp, final, steps):
    """Undoing every step's diff, from the last step back, must land on the
    replay's initial snapshot: the page's backwards stepping shows true
    states, and no step changed something its diff does not say."""
    back = dict(final)
    for s in reversed(steps):
        for k, (old, new) in s["diff"].items():
            assert back.get(k) == new, "step %s: %s is %r, not %r" % (s["kind"], k, back.get(k), new)
            if old is None:
                back.pop(k, None)
            else:
                back[k] = old
    assert back == rp.initial, "stepping back does not return to the snapshot"

def test_trace_replay_known():
    """The replay (tools/trace/ring.py) of a recording made by hand: the
    rings, the free list and the counters after every interesting step,
    every step reversible, and a recording that contradicts itself flagged."""
    rec = ring.split(known_recording())
    q = rec.queues[0]
    assert q.name == "virtio-blk requestq" and q.size == 8 and q.event_idx, (q.name, q.size, q.flags)
    rp = ring.Replay(q)
    steps = [rp.apply(ev) for ev in q.events]
    assert len(steps) == 27, "%d steps" % len(steps)
    st = rp.state
    # After the first chain: descriptors 0..2 are chain 0, the free list starts at 3.
    first = ring.Replay(ring.split(known_recording()).queues[0])
    s1 = first.apply(q.events[0])
    assert first.state["o0"] == first.state["o1"] == first.state["o2"] == 0, first.state
    assert first.state["free"] == [3, 4, 5, 6, 7] and first.state["a0"] == 0, first.state["free"]
    assert first.state["avail.idx"] == 0 and first.state["drv.avail_idx"] == 1, "ADD published the chain"
    assert s1["diff"]["d1"] == [None, [0x2000, 512, 3, 2]], s1["diff"].get("d1")
    # The end: every chain but the last back, in the order the driver's free_chain leaves them.
    assert st["avail.idx"] == 4 and st["used.idx"] == 3 and st["drv.last_used"] == 3, st
    assert st["dev.last_avail"] == 3 and st["dev.used_idx"] == 3, st
    assert st["u1"] == [2, 1025] and st["u2"] == [0, 1], (st.get("u1"), st.get("u2"))
    assert st["out"] == [0] and st["free"] == [3, 4, 5, 6, 7], (st["out"], st["free"])
    assert st["t2"] == [[0xa000, 16, 1, 1], [0xa100, 1024, 3, 2], [0xa200, 1, 2, 0]], st.get("t2")
    assert st["used_event"] == 3 and st["avail_event"] == 9, st
    n = {k[2:]: v for k, v in st.items() if k.startswith("n.")}
    assert n == {"added": 4, "kicks": 3, "notified": 2, "suppressed": 1, "interrupts": 2,
                 "completions": 3, "bad": 0, "dev_notifies": 2, "dev_pops": 3, "dev_used": 3,
                 "dev_irqs": 2, "dev_irqs_suppressed": 1}, n
    assert steps[-1]["held"] and "does not notify" in steps[-1]["text"], steps[-1]
    assert rp.warnings == [], rp.warnings
    # Backwards from the end, step by step, lands on the snapshot.
    assert_steps_back(rp, st, steps)
    # A chain built from descriptors the free list did not offer is flagged.
    bad = list(known_recording())
    raws = [r.raw for r in bad]
    i = next(k for k, r in enumerate(bad) if r.kind == "DESC")
    raws[i] = records.pack("DESC", a=5, b=1, c=1, d=16, x=0x1000, seq=i)
    rp2 = ring.Replay(ring.split(records.decode(b"".join(raws))).queues[0])
    for ev in rp2.q.events:
        rp2.apply(ev)
    assert any("free list" in w for w in rp2.warnings), rp2.warnings


def known_packed_recording(bad_id=False):
    """The packed ring (virtio 1.2 2.8), both halves, on a 4-entry queue
    with EVENT_IDX and indirect tables. Buffer 0 in three entries; buffer 1
    in one entry pointing at a table (the ring's last entry, so the
    driver's position passes the end); the device answers 1 first, its used
    entry landing on buffer 0's first entry; id 1 again in entry 0 of the
    next lap (AVAIL=0 USED=1), published without a notification while
    buffer 0 is still out, so the entries in flight span two laps; then
    both come back, and id 1 once more in entry 1. bad_id: the second
    buffer takes id 3 although the free ids begin with 1."""
    p = records.pack
    Q = records.NAMES
    W1 = 1 << 15                                   # a ppos's wrap bit
    A, U, NEXT, WR, IND = 0x80, 0x8000, 1, 2, 4
    DESC = 2 << 16                                 # RING_EVENT_FLAGS_DESC in a structure's word
    rs = [p("BEGIN", a=records.VERSION, d=1000000, x=64),
          p("QUEUE", a=4, b=0, c=Q["VTR_Q_EVENT_IDX"] | Q["VTR_Q_INDIRECT"] | Q["VTR_Q_PACKED"],
            d=2 << 16 | 4, x=0x10001000),
          p("TEXT", payload="virtio-blk requestq"),
          p("PSTATE", a=W1, b=W1, c=W1, d=4 << 16, x=0),
          p("PEVENTS", d=DESC | W1, x=DESC | W1)]
    rs += [p("COUNT", a=i, b=0, d=0) for i in range(8)]
    rs += [p("FREE", a=4, payload=[0, 1, 2, 3])]
    rs += [p("PRING", a=i) for i in range(4)]
    bid = 3 if bad_id else 1
    rs += [
        # 1-5: buffer 0, header, data, status in entries 0..2; entry 0's flags held back.
        p("ADD", a=0, b=W1 | 0, c=3, d=513, x=0x8000),
        p("DESC", a=0, b=A | NEXT, c=0, d=16, x=0x1000),
        p("DESC", a=1, b=A | NEXT | WR, c=0, d=512, x=0x2000),
        p("DESC", a=2, b=A | WR, c=0, d=1, x=0x3000),
        p("KICK", a=W1 | 0, b=W1 | 3, c=1, d=1, x=DESC | W1 | 0),
        p("DNOTIFY", a=W1 | 0, b=A | NEXT), p("DPOP", a=W1 | 0, b=0, c=3),
        p("DEVENT", x=DESC | W1 | 3),
        # 6-10: buffer 1 in entry 3 with a table: the driver's position passes the end.
        p("ADD", a=bid, b=W1 | 3, c=1, d=1025, x=0x8100),
        p("DESC", a=3, b=A | IND, c=bid, d=48, x=0x9000),
        p("IDESC", a=0, b=0, d=16, x=0xa000), p("IDESC", a=1, b=WR, d=1024, x=0xa100),
        p("IDESC", a=2, b=WR, d=1, x=0xa200),
        p("WRAP", a=0, b=0, c=0),
        p("KICK", a=W1 | 3, b=0, c=1, d=1, x=DESC | W1 | 3),
        p("DPOP", a=W1 | 3, b=bid, c=1), p("WRAP", a=2, b=0, c=0),
        # 11-15: the device finishes buffer 1 first; its used entry lands on entry 0.
        p("DUSED", a=W1 | 0, b=A | U | WR, c=1, d=bid, x=1025),
        p("DIRQ", a=W1 | 0, b=W1 | 1, c=1, d=1, x=DESC | W1 | 0),
        p("INTR", a=W1 | 0, b=A | U | WR),
        p("USED", a=W1 | 0, b=A | U | WR, c=1, d=bid, x=1025),
        p("INTR_ON", b=1, x=DESC | W1 | 1),
        # 16-18: id 1 again, entry 0 of the next lap; the device asked for entry 3 of
        # the lap before, so no notification; it takes the buffer anyway (polling).
        p("ADD", a=1, b=0, c=1, d=16, x=0x8200),
        p("DESC", a=0, b=U | WR, c=1, d=16, x=0x4000),
        p("KICK", a=0, b=1, c=0, d=1, x=DESC | W1 | 3),
        p("DPOP", a=0, b=1, c=1),
        # 19-25: buffer 0 comes back; both sides' used positions pass the end.
        p("DUSED", a=W1 | 1, b=A | U | WR, c=3, d=0, x=513), p("WRAP", a=3, b=0, c=0),
        p("DIRQ", a=W1 | 1, b=0, c=1, d=1, x=DESC | W1 | 1),
        p("INTR", a=W1 | 1, b=A | U | WR),
        p("USED", a=W1 | 1, b=A | U | WR, c=3, d=0, x=513), p("WRAP", a=1, b=0, c=0),
        p("INTR_ON", b=1, x=DESC | 0),
        # 26-30: id 1 comes back, marked used in the new lap: AVAIL = USED = 0.
        p("DUSED", a=0, b=WR, c=1, d=1, x=16),
        p("DIRQ", a=0, b=1, c=1, d=1, x=DESC | 0),
        p("INTR", a=0, b=WR),
        p("USED", a=0, b=WR, c=1, d=1, x=16),
        p("INTR_ON", b=1, x=DESC | 1),
        # 31-33: and once more, in entry 1, which the device asked to hear about.
        p("DEVENT", x=DESC | 1),
        p("ADD", a=1, b=1, c=1, d=16, x=0x8200),
        p("DESC", a=1, b=U | WR, c=1, d=16, x=0x5000),
        p("KICK", a=1, b=2, c=1, d=1, x=DESC | 1)]
    rs += [p("COUNT", a=i, b=1, d=v) for i, v in enumerate([4, 1, 4, 3, 3, 3, 0, 0])]
    rs += [p("END", d=0, x=len(rs) + 1)]
    return seal(rs)


def test_trace_replay_known_packed():
    """The replay of a packed queue (ring.PackedReplay) on a recording
    made by hand: the held-back first entry and the kick that stores its
    flags, each entry's state read from its AVAIL/USED bits against its
    lap (entries in flight across two laps included), the wrap counters
    passing the end of the ring, a used entry over another buffer's entry,
    the free ids, the event structures, the counters; every step
    reversible; a recording that contradicts itself flagged."""
    rec = ring.split(known_packed_recording())
    q = rec.queues[0]
    assert q.packed and q.size == 4 and q.event_idx and q.indirect, (q.flags, q.size)
    rp = ring.replayer(q)
    assert isinstance(rp, ring.PackedReplay), rp
    own = lambda st: [st["own%d" % i] for i in range(4)]  # noqa: E731
    steps, at = [], [dict(rp.state)]                        # at[k]: the state after step k
    for ev in q.events:
        steps.append(rp.apply(ev))
        at.append(dict(rp.state))
    assert len(steps) == 33, "%d steps" % len(steps)
    # Filled, not published: entry 0 still shows the old lap, its flags wait.
    s = at[1]
    assert s["r0"] == [0x1000, 16, 0, 0] and s["drv.held_flags"] == 0x81, (s["r0"], s.get("drv.held_flags"))
    assert own(s) == ["held", "unpub", "unpub", "free"], own(s)
    assert s["drv.next_avail"] == [3, 1, 0] and s["free"] == [1, 2, 3] and s["out"] == [0], s
    s = at[2]
    assert s["r0"][2] == 0x81 and "drv.held_flags" not in s, s["r0"]
    assert own(s) == ["avail", "avail", "avail", "free"] and s["drv.pub"] == [3, 1, 0], own(s)
    assert s["drv.inflight"] == 3 and s["drv.unpub"] == 0, s
    assert "notifies the device" in steps[1]["text"] and "one of" in steps[1]["text"], steps[1]["text"]
    s = at[7]
    assert s["drv.next_avail"] == [0, 0, 1] and s["t1"] == [[0xa000, 16, 0, 0], [0xa100, 1024, 2, 0],
                                                            [0xa200, 1, 2, 0]], s
    # Buffer 1's used entry on entry 0, read; buffer 0's entries 1, 2 still available.
    s = at[14]
    assert s["r0"] == [0x1000, 1025, 0x8082, 1] and s["drv.next_used"] == [1, 1, 0], s["r0"]
    assert own(s) == ["free", "avail", "avail", "avail"] and s["free"] == [1, 2, 3], (own(s), s["free"])
    # Entry 0 of the next lap, held back over the used entry it replaces; then in
    # flight with entries 1..3 of the lap before, each read against its own lap.
    s = at[16]
    assert s["r0"] == [0x4000, 16, 0x8082, 1] and own(s) == ["held", "avail", "avail", "avail"], (s["r0"], own(s))
    s = at[17]
    assert s["r0"][2] == 0x8002 and own(s) == ["avail"] * 4 and s["drv.inflight"] == 4, (s["r0"], own(s))
    assert steps[16]["held"] and "does not notify" in steps[16]["text"], steps[16]["text"]
    # Reading buffer 0 takes the driver's position past the end, and its
    # wrap counter with it; the WRAP step after it counts the lap.
    s = at[23]
    assert s["drv.next_used"] == [0, 0, 0] and own(s) == ["avail", "free", "free", "free"], own(s)
    assert at[24]["drv.next_used"] == [0, 0, 1] and "WRAP" == steps[23]["kind"], at[24]["drv.next_used"]
    st = rp.state
    assert st["drv.next_avail"] == [2, 0, 1] and st["drv.pub"] == [2, 0, 1] and st["drv.next_used"] == [1, 0, 1], st
    assert st["dev.next_avail"] == [1, 0, 1] and st["dev.next_used"] == [1, 0, 1], st
    assert st["r1"] == [0x5000, 16, 0x8002, 1] and own(st) == ["free", "avail", "free", "free"], (st["r1"], own(st))
    assert st["free"] == [0, 2, 3] and st["out"] == [1] and st["b1"] == [1, 1], (st["free"], st["out"])
    assert st["device_event"] == [1, 0, 2] and st["driver_event"] == [1, 0, 2], st
    n = {k[2:]: v for k, v in st.items() if k.startswith("n.")}
    assert n == {"added": 4, "kicks": 4, "notified": 3, "suppressed": 1, "interrupts": 3,
                 "completions": 3, "bad": 0, "wraps": 4, "dev_notifies": 1, "dev_pops": 3,
                 "dev_used": 3, "dev_irqs": 3, "dev_irqs_suppressed": 0}, n
    assert [s["side"] for s in steps if s["kind"] == "WRAP"] == ["driver", "device", "device", "driver"]
    assert rp.warnings == [], rp.warnings
    assert_steps_back(rp, st, steps)
    _, _, _, warnings = ring.replay(ring.split(known_packed_recording(bad_id=True)).queues[0])
    assert any("took id 3" in w for w in warnings), warnings


def test_trace_console_and_qemu_merge():
    """The console framing survives another writer's line and rejects a
    damaged record; QEMU's events (a log written by hand in QEMU 7.2's
    format) become positions and heads, and sit between the driver's steps."""
    raws = [r.raw for r in known_recording()]
    lines = ["$ vtrace cat README.md", records.BEGIN_MARK]
    for i, raw in enumerate(raws):
        lines.append("vt %s %04x" % (raw.hex(), records.fletcher16(raw)))
        if i == 5:
            lines.append("virtio-net: a kernel message in between")
    lines.append("==vtrace end %d records==" % len(raws))
    ct = records.from_console("\n".join(lines))
    assert len(ct.records) == len(raws) and ct.damaged == ["virtio-net: a kernel message in between"]
    broken = list(lines)
    broken[6] = broken[6][:40] + "virtio" + broken[6][46:]
    try:
        records.from_console("\n".join(broken))
        raise AssertionError("a damaged record line was accepted")
    except records.FormatError as e:
        assert "missing" in str(e), e

    # The driver's half only (no D* records), plus QEMU's log of the same two kicks.
    drv = [r.raw for r in known_recording() if not r.kind.startswith("D") or r.kind in ("DESC",)]
    rec = ring.split(seal(drv))
    q = rec.queues[0]
    log = "\n".join([
        "1@100.000010:virtio_set_status vdev 0xd val 0",
        "1@100.000500:virtio_queue_notify vdev 0xd n 0 vq 0xq",
        "1@100.000501:virtqueue_pop vq 0xq elem 0xe1 in_num 2 out_num 1",
        "1@100.000502:virtio_blk_handle_read vdev 0xd req 0xe1 sector 8 nsectors 1",
        "1@100.000503:virtio_blk_req_complete vdev 0xd req 0xe1 status 0",
        "1@100.000504:virtqueue_fill vq 0xq elem 0xe1 len 513 idx 0",
        "1@100.000505:virtqueue_flush vq 0xq count 1",
        "1@100.000506:virtio_notify vdev 0xd vq 0xq",
        "1@100.000900:virtio_queue_notify vdev 0xd n 0 vq 0xq",
        "1@100.000901:virtqueue_pop vq 0xq elem 0xe2 in_num 1 out_num 1",
        "1@100.000902:virtqueue_pop vq 0xq elem 0xe3 in_num 2 out_num 1",
        "1@100.000903:virtqueue_fill vq 0xq elem 0xe3 len 1025 idx 0",
        "1@100.000904:virtqueue_flush vq 0xq count 1",
        "1@100.000905:virtio_notify vdev 0xd vq 0xq",
        "1@100.000906:virtqueue_fill vq 0xq elem 0xe2 len 1 idx 0",
        "1@100.000907:virtqueue_flush vq 0xq count 1",
    ])
    qlog = qemu_events.QemuLog(log)
    found = qemu_events.find_vq(q, qlog)
    assert found and found[0].ptr == "0xq", found
    qev = qemu_events.window(q, found[0], None, None)
    kinds = [e.kind[5:] for e in qev]
    assert kinds == ["NOTIFY", "POP", "BLK", "DONE", "FILL", "FLUSH", "IRQ", "NOTIFY", "POP", "POP",
                     "FILL", "FLUSH", "IRQ", "FILL", "FLUSH"], kinds
    merged = qemu_events.merge(q.events, qev)
    order = [e.kind for e in merged]
    # Each pop after the kick that published it; each reap after the flush that showed it.
    assert order.index("QEMU_POP") > order.index("KICK"), order
    used = [i for i, e in enumerate(merged) if e.kind == "USED"]
    flushes = [i for i, e in enumerate(merged) if e.kind == "QEMU_FLUSH"]
    assert used[0] > flushes[0] and used[1] > flushes[1] and used[2] > flushes[2], order
    q.events = merged
    rp = ring.Replay(q)
    steps = [rp.apply(ev) for ev in merged]
    assert rp.warnings == [], rp.warnings
    st = rp.state
    assert st["u1"] == [2, 1025] and st["u2"] == [0, 1] and st["dev.last_avail"] == 3, st
    assert any("sector 8" in s["text"] and "chain 0" in s["text"] for s in steps), [s["text"] for s in steps]


def run_host_tests():
    """build/host/test_trace, which leaves its recordings in build/host/."""
    p = subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "tests", "host"), "all"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, p.stdout[-2000:]
    exe = os.path.join(ROOT, "build", "host", "test_trace")
    p = subprocess.run([exe, "-q"], cwd=os.path.join(ROOT, "tests", "host"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:]
    return os.path.join(ROOT, "build", "host")


def test_trace_host_both_halves():
    """The host tests' recordings (driver and device model in one buffer),
    on the split and the packed ring, become pages showing both halves of
    every request: each chain (buffer) the driver added is taken by the
    device from the same position and comes back through the used entry
    the device wrote; on the small packed ring that goes round nine times,
    every wrap counter flips as often on the page as in the recording."""
    d = run_host_tests()
    for name, indirect, layout, nadd in (("trace-blk.vtr", True, "split", 5),
                                         ("trace-blk-plain.vtr", False, "split", 5),
                                         ("trace-blk-packed.vtr", True, "packed", 5),
                                         ("trace-blk-plain-packed.vtr", False, "packed", 5),
                                         ("trace-blk-packed-wrap.vtr", False, "packed", 21)):
        lay = LAYOUTS[layout]
        recs = records.from_file(os.path.join(d, name))
        out = vtrace.page(vtrace.build(recs, meta={"title": name}),
                          os.path.join(ROOT, "build", "trace", name + ".html"))
        q = page_data(out)["queues"][0]
        assert q["device_model"] and not q["warnings"], (name, q["warnings"])
        assert q["indirect"] == indirect and q["packed"] == lay["packed"], (name, q["indirect"], q["packed"])
        steps = q["steps"]
        adds = [s for s in steps if s["kind"] == "ADD"]
        assert len(adds) == nadd and len(steps) == sum(1 for r in recs if r.kind in STEP_KINDS), name
        for a in adds:
            pops = [s for s in steps if s["kind"] == "DPOP" and s["f"]["pos"] == a["f"]["pos"] and
                    s["f"][lay["added"]] == a["f"][lay["added"]]]
            assert len(pops) >= 1, "%s: the device did not take %s %d from position %#x" % (
                name, lay["added"], a["f"][lay["added"]], a["f"]["pos"])
        dused = [(s["f"]["pos"], s["f"]["id"], s["f"]["len"]) for s in steps if s["kind"] == "DUSED"]
        reaped = [(s["f"]["pos"], s["f"]["id"], s["f"]["len"]) for s in steps if s["kind"] == "USED"]
        assert len(dused) == nadd and dused == reaped, (name, dused, reaped)
        wraps = sum(1 for r in recs if r.kind == "WRAP")
        if lay["packed"]:
            assert q["final"]["n.wraps"] == wraps, (name, q["final"]["n.wraps"], wraps)
    fin = page_data(os.path.join(ROOT, "build", "trace", "trace-blk-packed-wrap.vtr.html"))["queues"][0]["final"]
    assert fin["n.wraps"] == 36 and all(fin[k][:2] == [0, 0] and fin[k][2] == 9 for k in (
        "drv.next_avail", "drv.next_used", "dev.next_avail", "dev.next_used")), fin
    with chromium.Browser() as b:
        for name, shot in (("trace-blk.vtr", "trace-host.png"), ("trace-blk-packed-wrap.vtr", "trace-host-packed.png")):
            b.goto("file://" + os.path.join(ROOT, "build", "trace", name + ".html"))
            total = int(b.eval("document.querySelector('.q-step').getAttribute('data-steps')"))
            b.eval("window.vtrace.views[0].go(%d)" % total)
            sides = b.eval("Array.from(new Set(window.vtrace.views[0].q.steps.map(s => s.side)))")
            assert sorted(sides) == ["device", "driver"], sides
            b.eval("window.vtrace.views[0].go(%d)" % (6 if shot == "trace-host.png" else 22))
            b.screenshot(os.path.join(OUT, shot), full=True)


# ---------------------------------------------------------------- make trace, in a browser

_made = {}


def make_trace(layout="split"):
    """`make trace CMD='cat README.md'` (with PACKED=1 for the packed ring),
    once per run and layout: (the page, its data, console text, output).
    The page is copied to build/trace/test-LAYOUT.html, since the other
    layout's run writes build/trace/index.html again."""
    if layout not in _made:
        cmd = ["make", "-s", "trace", "CMD=cat README.md"] + (["PACKED=1"] if LAYOUTS[layout]["packed"] else [])
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=600)
        assert p.returncode == 0, "%s failed:\n%s" % (" ".join(cmd), p.stdout[-3000:])
        last = p.stdout.strip().split("\n")[-1]
        assert last == "build/trace/index.html", "last line: %r" % last
        page = os.path.join("build", "trace", "test-%s.html" % layout)
        shutil.copyfile(os.path.join(ROOT, last), os.path.join(ROOT, page))
        with open(os.path.join(ROOT, "build", "trace", "console.log"), errors="replace") as f:
            console = f.read()
        _made[layout] = (page, page_data(os.path.join(ROOT, page)), console, p.stdout)
    return _made[layout]


def check_make(layout):
    """`make trace CMD='cat README.md'`: the command ran, its last line is
    the page under build/, the page holds the disk's queue on the layout
    asked for with QEMU's events merged in as the device's half (QEMU took
    and returned every chain or buffer the driver added), and the replay
    found nothing inconsistent."""
    page, data, console, out = make_trace(layout)
    assert "An xv6-style operating system kernel" in console, "cat README.md did not run"
    ct = records.from_console(console)
    assert ct.damaged == [], ct.damaged
    assert len(data["queues"]) == 1 and data["queues"][0]["name"] == "virtio-blk requestq"
    q = data["queues"][0]
    assert q["packed"] == LAYOUTS[layout]["packed"], "the disk's queue is %s" % ("packed" if q["packed"] else "split")
    assert q["warnings"] == [], q["warnings"]
    assert q["qemu"]["used"] and q["qemu"]["clock"], q["qemu"]
    kinds = [s["kind"] for s in q["steps"]]
    adds = kinds.count("ADD")
    assert adds > 0, "no chain in the recording of cat README.md"
    assert kinds.count("QEMU_POP") == adds and kinds.count("QEMU_FILL") == adds, \
        "QEMU took %d and returned %d of %d chains" % (kinds.count("QEMU_POP"), kinds.count("QEMU_FILL"), adds)
    guest = sum(1 for r in ct.records if r.kind in STEP_KINDS)
    assert len(q["steps"]) == guest + q["qemu"]["events"], (len(q["steps"]), guest, q["qemu"]["events"])
    assert data["meta"]["dropped"] == 0
    return q


def test_trace_make():
    """`make trace CMD='cat README.md'` on the split ring (check_make)."""
    check_make("split")


def test_trace_make_packed():
    """`make trace CMD='cat README.md' PACKED=1`: the same on the packed
    ring (check_make); and QEMU's half lands where the driver's says it
    must: each buffer QEMU took is the one the driver made available at
    that position, and each used entry QEMU wrote is the one the driver
    read there."""
    q = check_make("packed")
    steps = q["steps"]
    adds = [s["f"]["id"] for s in steps if s["kind"] == "ADD"]
    pops = [re.search(r"takes buffer id (\d+)", s["text"]) for s in steps if s["kind"] == "QEMU_POP"]
    assert all(pops) and [int(m.group(1)) for m in pops] == adds, ([s["text"] for s in steps], adds)
    fills = [re.search(r"used entry at slot (\d+) \(wrap (\d)\): id (\d+), len (\d+)", s["text"])
             for s in steps if s["kind"] == "QEMU_FILL"]
    reads = [(s["f"]["pos"] & 0x7fff, s["f"]["pos"] >> 15, s["f"]["id"], s["f"]["len"])
             for s in steps if s["kind"] == "USED"]
    assert all(fills) and [tuple(int(x) for x in m.groups()) for m in fills] == reads, (fills, reads)


def key(b, name, code):
    for kind in ("keyDown", "keyUp"):
        b.call("Input.dispatchKeyEvent", {"type": kind, "key": name, "code": name,
                                          "windowsVirtualKeyCode": code})


def check_page(layout):
    """The page of `make trace` in headless Chromium: as many steps as the
    recording has events; each key press moves one step and the ring on
    the screen changes with it (the chain or buffer appears in the table
    of descriptors or ring entries, what is published moves with the
    kick); stepping back returns to the start; at the end the counters
    equal what `lsdev -v` counted around the command (chains,
    notifications, interrupts)."""
    lay = LAYOUTS[layout]
    page, data, console, out = make_trace(layout)
    ct = records.from_console(console)
    q = data["queues"][0]
    before = lsdev_counts(data["meta"]["lsdev_before"])
    after = lsdev_counts(data["meta"]["lsdev_after"])
    delta = {k: after[k] - before[k] for k in before}
    events = sum(1 for r in ct.records if r.kind in STEP_KINDS) + q["qemu"]["events"]
    with chromium.Browser() as b:
        b.goto("file://" + os.path.join(ROOT, page))
        shown = b.eval("document.querySelector('.q-step').textContent")
        assert shown == "step 0 of %d" % events, "%r, the recording has %d events" % (shown, events)
        rings0 = b.eval("document.querySelector('.q-rings').innerText")
        pub0 = b.eval("document.querySelector('%s').textContent" % lay["published"])
        first_add = next(k for k, s in enumerate(q["steps"]) if s["kind"] == "ADD")
        first_kick = next(k for k, s in enumerate(q["steps"]) if s["kind"] == "KICK")
        for _ in range(first_add + 1):
            key(b, "ArrowRight", 39)
        assert b.eval("document.querySelector('.q-step').textContent") == "step %d of %d" % (first_add + 1, events)
        name = q["steps"][first_add]["f"][lay["added"]]
        rows = b.eval("Array.from(document.querySelectorAll('%s')).map(r => r.getAttribute('%s'))"
                      % (lay["rows"], lay["row_attr"]))
        assert str(name) in rows, "%s %d is not in the table on screen: %r" % (lay["added"], name, rows)
        assert b.eval("document.querySelector('.q-rings').innerText") != rings0, "the rings did not change"
        for _ in range(first_kick - first_add):
            key(b, "ArrowRight", 39)
        pub1 = b.eval("document.querySelector('%s').textContent" % lay["published"])
        want = lay["pub_text"](q["steps"][first_kick]["diff"][lay["pub_key"]][1])
        assert pub1 == want and pub1 != pub0, "published on screen %s -> %s, the kick published %s" % (
            pub0, pub1, want)
        b.screenshot(os.path.join(OUT, "trace.png" if layout == "split" else "trace-%s.png" % layout), full=True)
        for _ in range(first_kick + 1):
            key(b, "ArrowLeft", 37)
        assert b.eval("document.querySelector('.q-rings').innerText") == rings0, "stepping back did not return"
        b.click("document.querySelector('.q-last')", navigate=False)
        assert b.eval("document.querySelector('.q-step').textContent") == "step %d of %d" % (events, events)
        counts = b.eval("Object.fromEntries(Array.from(document.querySelectorAll('[data-count]'))"
                        ".map(e => [e.getAttribute('data-count'), Number(e.textContent)]))")
    assert counts["added"] == delta["chains"] > 0, "page: %d chains, lsdev -v: %d" % (counts["added"], delta["chains"])
    assert counts["notified"] == delta["notifies"], "page: %d notifications, lsdev -v: %d" % (
        counts["notified"], delta["notifies"])
    assert counts["interrupts"] == delta["interrupts"], "page: %d interrupts, lsdev -v: %d" % (
        counts["interrupts"], delta["interrupts"])
    assert counts["completions"] == counts["added"], counts


def test_trace_page():
    """The page of `make trace` on the split ring (check_page)."""
    check_page("split")


def test_trace_page_packed():
    """The page of `make trace PACKED=1`, a packed queue (check_page)."""
    check_page("packed")


# ---------------------------------------------------------------- QEMU's monitor

def check_monitor(layout):
    """The recording's last ring state against QEMU's own view of the
    queue (QMP x-query-virtio-queue-status, the JSON of `info
    virtio-queue-status`), asked while the guest is idle. Split: avail.idx,
    used.idx, and (x-query-virtio-queue-element) the last chain's head and
    buffers. Packed: QEMU 7.2 reports its two positions as slots, without
    their wrap counters, and refuses x-query-virtio-queue-element on a
    packed ring ("Packed ring not supported"); so there: the slot it reads
    next is where the driver published up to, the slot it marks used next
    is where the driver reads next, nothing in use."""
    packed = LAYOUTS[layout]["packed"]
    name = "trace_monitor" + ("_packed" if packed else "")
    with Qemu(fresh_disk(name), cpus=1, log_name=name, qmp=True, packed=packed) as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        q.send('vtrace -d blk "cat README.md | wc"\n')
        text = q.expect(END_RE, 120)
        q.expect(PROMPT, 30)
        mon = q.qmp()
        try:
            devs = mon.call("x-query-virtio")
            path = next(d["path"] for d in devs if d["name"] == "virtio-blk")
            status = mon.call("x-query-virtio-queue-status", path=path, queue=0)
            # Without an index QEMU shows the entry it will read next, which
            # is still last lap's: ask for the last one it took.
            elem = None if packed else mon.call("x-query-virtio-queue-element", path=path, queue=0,
                                                index=(status["last-avail-idx"] - 1) & 0xffff)
        finally:
            mon.close()
    assert path.startswith("/machine/peripheral-anon/device["), path
    recs = records.from_console(text).records
    rec = ring.split(recs)
    q0 = rec.queues[0]
    assert q0.packed == packed, "the disk's queue is %s" % ("packed" if q0.packed else "split")
    initial, steps, st, warnings = ring.replay(q0)
    assert warnings == [], warnings
    assert status["vring-num"] == q0.size and status["inuse"] == 0, status
    if packed:
        pub, nu = st["drv.pub"], st["drv.next_used"]
        assert status["last-avail-idx"] == status["shadow-avail-idx"] == pub[0], \
            "QEMU reads next at %d/%d, the recording published up to %s" % (
                status["last-avail-idx"], status["shadow-avail-idx"], pub)
        assert status["used-idx"] == nu[0] and nu[:2] == pub[:2], \
            "QEMU marks used next at %d, the recording reads next at %s" % (status["used-idx"], nu)
        assert st["drv.inflight"] == 0 and st["out"] == [], (st["drv.inflight"], st["out"])
        return
    assert status["shadow-avail-idx"] == st["avail.idx"] and status["last-avail-idx"] == st["avail.idx"], \
        "QEMU: avail %d/%d, the recording: %d" % (status["shadow-avail-idx"], status["last-avail-idx"], st["avail.idx"])
    assert status["used-idx"] == st["used.idx"] == st["drv.last_used"], \
        "QEMU: used %d, the recording: %d (reaped %d)" % (status["used-idx"], st["used.idx"], st["drv.last_used"])
    last = [e for e in q0.events if e.kind == "ADD"][-1]
    assert elem["index"] == last.f["head"], "QEMU's last element is chain %d, the recording's %d" % (
        elem["index"], last.f["head"])
    bufs = last.f["table"] or [d for _, d in last.f["descs"]]
    mine = [(d[0], d[1], bool(d[2] & 2)) for d in bufs]
    theirs = [(d["addr"], d["len"], "write" in d["flags"]) for d in elem["descs"]]
    assert sorted(theirs) == sorted(mine), "QEMU's buffers %r, the recording's %r" % (theirs, mine)


def test_trace_monitor():
    """The recording against QEMU's monitor on the split ring (check_monitor)."""
    check_monitor("split")


def test_trace_monitor_packed():
    """The recording against QEMU's monitor on the packed ring (check_monitor)."""
    check_monitor("packed")


# ---------------------------------------------------------------- gdb

def gdb_sections(out):
    """gdb's output split at the `==NAME==` lines our script echoes."""
    parts, name = {}, None
    for line in out.split("\n"):
        m = re.match(r"^==(\w+)==$", line)
        if m:
            name = m.group(1)
            parts[name] = []
        elif name:
            parts[name].append(line)
    return {k: "\n".join(v) for k, v in parts.items()}


def gdb_after_kick(name, commands, packed=False):
    """Boot under gdb (QEMU -S -gdb, gdb-multiarch in batch mode, the
    project's .gdbinit.tmpl), stop in vblk_rw just after virtq_kick, run
    `commands` (a list of gdb lines, sections marked with `echo ==NAME==`)
    and return gdb's output split into those sections."""
    gdb = shutil.which("gdb-multiarch")
    assert gdb, "gdb-multiarch is not installed: run `sh scripts/setup.sh`"
    src = open(os.path.join(ROOT, "virtio", "virtio_blk.c")).read().split("\n")
    start = next(i for i, l in enumerate(src) if l.startswith("int vblk_rw("))
    kick = next(i for i in range(start, len(src)) if "virtq_kick(&vb->vq);" in src[i])
    line = kick + 2                                     # 1-based: the line after the kick
    tmpl = open(os.path.join(ROOT, ".gdbinit.tmpl")).read()
    assert "source tools/gdb/virtq.py" in tmpl, ".gdbinit.tmpl does not load tools/gdb/virtq.py"
    port = netutil.free_port()
    with Qemu(fresh_disk(name), cpus=1, log_name=name, packed=packed,
              extra=["-S", "-gdb", "tcp:127.0.0.1:%d" % port]) as q:
        script = tmpl.replace(":1234", ":%d" % port)
        script += "\n".join(["break virtio_blk.c:%d" % line, "continue", "delete"] + commands +
                             ["kill", ""])
        path = os.path.join(OUT, name + ".gdb")
        with open(path, "w") as f:
            f.write(script)
        p = subprocess.run([gdb, "-batch", "-nx", "-x", path], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=180)
    out = p.stdout
    with open(os.path.join(OUT, name + ".out"), "w") as f:
        f.write(out)
    s = gdb_sections(out)
    assert "vq" in s and "end" in s, "gdb did not get through the script:\n" + out[-2000:]
    return s


def test_trace_gdb():
    """`vq blk` and `lsdev` (tools/gdb/virtq.py, loaded by .gdbinit.tmpl)
    against the ring read with plain gdb memory commands, with the kernel
    stopped in vblk_rw just after virtq_kick (QEMU -S -gdb, gdb-multiarch
    in batch mode)."""
    s = gdb_after_kick("trace_gdb", [
            "echo ==vq==\\n", "vq blk",
            "echo ==lsdev==\\n", "lsdev",
            "echo ==avail_idx==\\n", "p/d 'disk.c'::disk.vq.avail->idx",
            "echo ==used_idx==\\n", "p/d 'disk.c'::disk.vq.used->idx",
            "echo ==nfree==\\n", "p/d 'disk.c'::disk.vq.nfree",
            "echo ==size==\\n", "p/d 'disk.c'::disk.vq.size",
            "echo ==head==\\n", "p/d 'disk.c'::disk.vq.avail->ring[('disk.c'::disk.vq.avail->idx - 1) % 'disk.c'::disk.vq.size]",
            "echo ==nslots==\\n", "p/d 'vdev.c'::nslots",
            "echo ==base==\\n", "p/x 'vdev.c'::slots[0].dev.base",
            "echo ==desc==\\n", "x/2gx &'disk.c'::disk.vq.desc['disk.c'::disk.vq.avail->ring[('disk.c'::disk.vq.avail->idx - 1) % 'disk.c'::disk.vq.size]]",
            "echo ==token==\\n", "p/x 'disk.c'::disk.vq.token['disk.c'::disk.vq.avail->ring[('disk.c'::disk.vq.avail->idx - 1) % 'disk.c'::disk.vq.size]]",
            "echo ==table==\\n",
            "x/6gx *(unsigned long *)&'disk.c'::disk.vq.desc['disk.c'::disk.vq.avail->ring[('disk.c'::disk.vq.avail->idx - 1) % 'disk.c'::disk.vq.size]]",
            "echo ==end==\\n"])
    vq = s["vq"]

    def val(name):
        m = re.search(r"\$\d+ = (\S+)", s[name])
        assert m, "no value for %s: %r" % (name, s[name])
        return int(m.group(1), 0)

    def words(name):
        return [int(w, 16) for w in re.findall(r"0x([0-9a-f]{16})", s[name])]

    avail, used, nfree, size, head = val("avail_idx"), val("used_idx"), val("nfree"), val("size"), val("head")
    assert re.search(r"queue 0 of device 0x10001000, %d entries" % size, vq), vq
    assert re.search(r"published avail\.idx %d\b" % avail, vq) and re.search(r"rings:\s+avail\.idx %d\b" % avail, vq), vq
    assert re.search(r"device: used\.idx %d\b" % used, vq), vq
    assert re.search(r"free list \(%d\)" % nfree, vq) and re.search(r"%d free\b" % nfree, vq), vq
    addr, rest = words("desc")
    m = re.search(r"^  head %d  token (0x[0-9a-f]+)" % head, vq, re.M)
    assert m, "the chain just published (head %d) is not among the outstanding ones:\n%s" % (head, vq)
    assert int(m.group(1), 16) == val("token"), "token %s, memory says %#x" % (m.group(1), val("token"))
    assert re.search(r"desc\[%d\] addr 0x%x len %d flags %s" % (head, addr, rest & 0xffffffff,
                     re.escape(ring.flags_text((rest >> 32) & 0xffff))), vq), \
        "desc[%d] in memory: addr %#x len %d flags %d\n%s" % (head, addr, rest & 0xffffffff, (rest >> 32) & 0xffff, vq)
    t = words("table")
    for j in range(3):
        a, r = t[2 * j], t[2 * j + 1]
        assert re.search(r"table\[%d\] addr 0x%x len %d flags %s" % (j, a, r & 0xffffffff,
                         re.escape(ring.flags_text((r >> 32) & 0xffff))), vq), \
            "table[%d] in memory: addr %#x len %d\n%s" % (j, a, r & 0xffffffff, vq)
    assert re.search(r"avail\.ring\[%d\] \(position %d\) = %d" % ((avail - 1) % size, avail - 1, head), vq), vq
    assert "packed ring: none" in vq, vq
    ls = s["lsdev"]
    rows = [l for l in ls.split("\n") if re.match(r"^\d+\s+0x", l)]
    assert len(rows) == val("nslots") and rows[0].split()[1] == "0x%08x" % val("base"), ls
    assert "virtio-blk" in rows[0] and "vq blk" in rows[0] and "block (2)" in rows[0], ls


def test_trace_gdb_packed():
    """`vq blk` and `lsdev` on the packed ring (virtio 1.2 2.8, `make qemu
    PACKED=1`): the positions, wrap counters and the entry at the next used
    position as the driver's memory has them, with the kernel stopped just
    after virtq_kick published a request."""
    d = "'disk.c'::disk.vq"
    s = gdb_after_kick("trace_gdb_packed", [
        "echo ==vq==\\n", "vq blk",
        "echo ==lsdev==\\n", "lsdev",
        "echo ==pos==\\n",
        "p/d %s.next_avail" % d, "p/d %s.avail_wrap" % d, "p/d %s.next_used" % d,
        "p/d %s.used_wrap" % d, "p/d %s.nfree" % d, "p/d %s.size" % d,
        "echo ==entry==\\n",
        "p/u %s.ring[%s.next_used].id" % (d, d), "p/u %s.ring[%s.next_used].flags" % (d, d),
        "p/u %s.ring[%s.next_used].len" % (d, d),
        "echo ==token==\\n", "p/x %s.token[%s.ring[%s.next_used].id]" % (d, d, d),
        "echo ==end==\\n"], packed=True)
    vq = s["vq"]

    def vals(name):
        return [int(v, 0) for v in re.findall(r"\$\d+ = (\S+)", s[name])]

    na, aw, nu, uw, nfree, size = vals("pos")
    eid, eflags, elen = vals("entry")
    assert re.search(r"queue 0 of device 0x10001000, %d entries, packed" % size, vq), vq
    assert "next entry to fill %d (wrap %d)" % (na, aw) in vq, vq
    assert "next used entry %d (wrap %d)" % (nu, uw) in vq and "%d free" % nfree in vq, vq
    # The request just published is in flight: the entry at next_used was
    # made available in this lap, and QEMU may already have marked it used.
    a, u = int(bool(eflags & 0x80)), int(bool(eflags & 0x8000))
    assert a == uw, "the entry at next_used is not from this lap (flags %#x)" % eflags
    state = "used, not read yet" if u == uw else "available"
    assert re.search(r"ring\[%d\] \(wrap %d\) addr 0x[0-9a-f]+ len %d id %d flags %s "
                     r"AVAIL=%d USED=%d: %s" % (nu, uw, elen, eid,
                                                re.escape(ring.flags_text(eflags & 7)), a, u, state),
                     vq), vq
    m = re.search(r"^  id %d  token (0x[0-9a-f]+)" % eid, vq, re.M)
    assert m and int(m.group(1), 16) == vals("token")[0], "token of id %d:\n%s" % (eid, vq)
    rows = [l for l in s["lsdev"].split("\n") if re.match(r"^\d+\s+0x", l)]
    assert rows and "virtio-blk" in rows[0] and " packed " in rows[0], s["lsdev"]
