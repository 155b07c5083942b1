"""ring.py: replays a virtqueue recording (records.py) step by step and
says what the rings hold after each step. This is the one place that
knows how a virtqueue changes, split (virtio 1.2 section 2.7) or packed
(2.8); the page (vtrace.py, trace.js) only shows the states computed
here, and the tests check them.

    rec = ring.split(records)             # .queues: {qid: Queue}: snapshot + events
    rp = ring.replayer(rec.queues[0])     # Replay (split) or PackedReplay: the
    for ev in rec.queues[0].events:       # state when recording began
        step = rp.apply(ev)               # {"text": ..., "diff": {key: [old, new]}, ...}
    rp.state                              # the state after the last step

The state is one flat dictionary, so a step's change is a handful of
keys (the page applies them forwards and backwards). A split queue:

    d<i>        descriptor i: [addr, len, flags, next] (absent: not seen yet)
    o<i>        who owns descriptor i: the head of its chain, or -1 (free)
    t<h>        the indirect table of the chain at head h: [[addr, len, flags, next], ...]
    a<s>        available ring slot s: a head
    u<s>        used ring slot s: [id, len]
    avail.flags avail.idx used_event       (the driver's area, as in memory)
    used.flags  used.idx  avail_event      (the device's area)
    drv.avail_idx  drv.last_used           (the driver's private positions)
    free        the free list, in the order the next chain takes descriptors
    out         the chains the driver has handed out: [head, ...]
    tok<h>      the driver's token for the chain at head h
    dev.last_avail  dev.used_idx  dev.held (the device's position and the
                chains it holds: known from the device model or QEMU's events)
    n.<what>    what this recording counted so far (added, kicks, notified,
                suppressed, interrupts, completions, ...)

A packed queue (PackedReplay; positions are [slot, wrap counter, times
it passed the end of the ring during the recording]):

    r<s>        ring entry s as in memory: [addr, len, flags, id]
    own<s>      what entry s is, read from its AVAIL/USED bits against the
                lap it is in (2.8.1): "free" (the driver's to fill), "held"
                and "unpub" (filled, not yet published: the first one's
                flags wait for the kick), "avail" (the device's), "used"
                (the driver's to read), "stale" (in flight with another
                lap's bits: a device error)
    t<id>       the indirect table of buffer id: [[addr, len, flags, id], ...]
    drv.next_avail drv.pub drv.next_used    the driver's positions: next to
                fill, first not yet published, next used entry to read
    drv.held_flags  the flags the next kick stores at drv.pub (absent: none)
    drv.unpub drv.inflight                  entries filled since the last
                kick; entries published and not yet read back
    driver_event device_event               the two event suppression
                structures: [desc_event_off, desc_event_wrap, flags]
    free out tok<id>                        free buffer ids, ids out, tokens
    b<id>       buffer id: [its first slot (-1: unknown), ring entries]
    dev.next_avail dev.next_used dev.held   the device's positions and the
                ids it holds (device model, QEMU's events, or an idle start)
    n.<what>    as for a split queue, and n.wraps

Standard library only. Tested by tests/qemu/test_trace.py (known lists
of records for both layouts, and real recordings).
"""
import copy

import records as R

DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
DESC_F_AVAIL, DESC_F_USED = 1 << 7, 1 << 15          # the packed ring's (2.8.1)
AVAIL_F_NO_INTERRUPT = 1
USED_F_NO_NOTIFY = 1
EVENT_FLAGS = {0: "ENABLE", 1: "DISABLE", 2: "DESC", 3: "reserved (3)"}   # RING_EVENT_FLAGS_*
WRAP_WHO = {0: "driver", 1: "driver", 2: "device", 3: "device"}     # VTR_WRAP_*


def flags_text(f):
    names = [n for bit, n in ((DESC_F_NEXT, "NEXT"), (DESC_F_WRITE, "WRITE"),
                              (DESC_F_INDIRECT, "INDIRECT")) if f & bit]
    return "|".join(names) or "0"


def pflags_text(f):
    """A packed entry's flags: NEXT, WRITE, INDIRECT and the two lap bits."""
    bits = "AVAIL=%d USED=%d" % (int(bool(f & DESC_F_AVAIL)), int(bool(f & DESC_F_USED)))
    names = flags_text(f)
    return bits if names == "0" else names + " " + bits


def buffers_text(bufs):
    """The buffers of a chain, [addr, len, flags, ...] each, in a few
    words: "16 B, 12 x 1024 B device-writes, 1 B device-writes"."""
    parts = ["%d B%s" % (d[1], " device-writes" if d[2] & DESC_F_WRITE else "") for d in bufs]
    out = []
    for p in parts:
        if out and out[-1][1] == p:
            out[-1][0] += 1
        else:
            out.append([1, p])
    return ", ".join(p if n == 1 else "%d x %s" % (n, p) for n, p in out)


def ppos(v):
    """A recorded packed position (slot | wrap << 15) as (slot, wrap)."""
    return v & 0x7fff, (v >> 15) & 1


def event_word(w):
    """An event suppression structure's word (desc | flags << 16) as
    [desc_event_off, desc_event_wrap, flags] (2.8.14)."""
    return [w & 0x7fff, (w >> 15) & 1, (w >> 16) & 3]


def event_text(ev):
    off, wrap, flags = ev
    if flags == 2:
        return "DESC: entry %d of the lap with wrap %d" % (off, wrap)
    return EVENT_FLAGS[flags]


def in_window(event, new, old):
    """virtio 1.2 2.7.7.2 / 2.7.10: an index moving from old to new passes
    `event` when event lies in [old, new) mod 2^16."""
    return ((new - event - 1) & 0xffff) < ((new - old) & 0xffff)


def ahead(a, b):
    """a is after b on the 16-bit ring counter."""
    return a != b and ((a - b) & 0xffff) < 0x8000


class Event:
    """One step: the driver's (from virtq.c's hooks), the device model's,
    or QEMU's (from its trace log). `f` holds the fields by name."""

    def __init__(self, side, kind, seq, t_us=None, **f):
        self.side = side          # "driver", "device" (the device model) or "qemu"
        self.kind = kind
        self.seq = seq            # record number, or line of QEMU's log
        self.t_us = t_us          # microseconds on the recording's clock, if known
        self.f = f

    def __repr__(self):
        return "<%s %s %s>" % (self.side, self.kind, self.f)


class Queue:
    """One recorded queue: what the snapshot said, and its steps in order."""

    def __init__(self, qid):
        self.qid = qid
        self.name = "queue %d" % qid
        self.size = 0
        self.index = 0
        self.flags = 0
        self.tables = (0, 0)
        self.base = 0
        self.snapshot = None      # the driver's, as a dict of its parts
        self.device = None        # the device model's DSTATE, if any
        self.start_counts = {}
        self.stop_counts = {}
        self.events = []

    @property
    def event_idx(self):
        return bool(self.flags & R.NAMES["VTR_Q_EVENT_IDX"])

    @property
    def indirect(self):
        return bool(self.flags & R.NAMES["VTR_Q_INDIRECT"])

    @property
    def packed(self):
        return bool(self.flags & R.NAMES["VTR_Q_PACKED"])


class Recording:
    def __init__(self):
        self.version = None
        self.clock_hz = 0
        self.capacity = 0
        self.t0 = None
        self.dropped = None       # None: no END record (the recording was cut short)
        self.written = None
        self.queues = {}

    def us(self, t):
        """A record's time in microseconds since BEGIN (None without a clock)."""
        if not self.clock_hz:
            return None
        return (t - self.t0) * 1e6 / self.clock_hz


def _desc(r):
    return [r.x, r.d, r.b, r.c]


def _chain(recs, i):
    """The ADD/HELD record at i with its DESC and IDESC records: (fields, next i)."""
    head = recs[i]
    descs, table = [], []
    j = i + 1
    while j < len(recs) and recs[j].kind in ("DESC", "IDESC") and recs[j].qid == head.qid:
        (descs if recs[j].kind == "DESC" else table).append((recs[j].a, _desc(recs[j])))
        j += 1
    f = dict(head=head.a, pos=head.b, ndesc=head.c, writable=head.d, token=head.x,
             descs=descs, table=[d for _, d in table])
    return f, j


def _pchain(recs, i):
    """A packed ADD/HELD with its entries (DESC) and table (IDESC): (fields, next i)."""
    f, j = _chain(recs, i)
    return dict(id=f["head"], pos=f["pos"], nent=f["ndesc"], writable=f["writable"],
                token=f["token"], entries=f["descs"], table=f["table"]), j


def _text(recs, i):
    parts = []
    j = i
    while j < len(recs) and recs[j].kind == "TEXT":
        parts.append(recs[j].raw[8:32])
        j += 1
    return b"".join(parts).split(b"\0")[0].decode("utf-8", "replace"), j


def _split_step(q, recs, i, t):
    """A split queue's step at recs[i]: (Event, next i)."""
    r = recs[i]
    if r.kind == "ADD":
        f, j = _chain(recs, i)
        return Event("driver", "ADD", r.seq, t, **f), j
    if r.kind in ("BAD", "BROKEN"):
        why, j = _text(recs, i + 1)
        return Event("driver", r.kind, r.seq, t, pos=r.a, id=r.d, len=r.x, why=why), j
    fields = {
        "KICK": lambda: dict(old=r.a, new=r.b, notified=bool(r.c), why=r.d, value=r.x),
        "INTR": lambda: dict(used_idx=r.a, last_used=r.b),
        "USED": lambda: dict(pos=r.a, id=r.d, len=r.x, ndesc=r.c),
        "INTR_ON": lambda: dict(event_idx=bool(r.b), value=r.c),
        "INTR_OFF": lambda: dict(value=r.c),
        "DRAIN": lambda: dict(head=r.a),
        "DNOTIFY": lambda: dict(avail_idx=r.a),
        "DPOP": lambda: dict(pos=r.a, head=r.b),
        "DUSED": lambda: dict(pos=r.a, id=r.d, len=r.x),
        "DEVENT": lambda: dict(value=r.a),
        "DIRQ": lambda: dict(old=r.a, new=r.b, sent=bool(r.c), why=r.d, value=r.x),
    }
    if r.kind not in fields:
        raise R.FormatError("record %d: %s out of place" % (r.seq, r.kind))
    side = "device" if r.kind in ("DNOTIFY", "DPOP", "DUSED", "DEVENT", "DIRQ") else "driver"
    return Event(side, r.kind, r.seq, t, **fields[r.kind]()), i + 1


def _packed_step(q, recs, i, t):
    """A packed queue's step at recs[i] (the "packed:" fields of
    virtq_trace.h): (Event, next i). Positions stay as recorded (ppos)."""
    r = recs[i]
    if r.kind == "ADD":
        f, j = _pchain(recs, i)
        return Event("driver", "ADD", r.seq, t, **f), j
    if r.kind in ("BAD", "BROKEN"):
        why, j = _text(recs, i + 1)
        return Event("driver", r.kind, r.seq, t, pos=r.a, flags=r.b, id=r.d, len=r.x, why=why), j
    fields = {
        "KICK": lambda: dict(old=r.a, new=r.b, notified=bool(r.c), why=r.d, value=r.x),
        "INTR": lambda: dict(pos=r.a, flags=r.b),
        "USED": lambda: dict(pos=r.a, flags=r.b, nent=r.c, id=r.d, len=r.x),
        "INTR_ON": lambda: dict(event_idx=bool(r.b), word=r.x),
        "INTR_OFF": lambda: dict(word=r.x),
        "DRAIN": lambda: dict(id=r.a),
        "WRAP": lambda: dict(which=r.a, wrap=r.b, slot=r.c),
        "DNOTIFY": lambda: dict(pos=r.a, flags=r.b),
        "DPOP": lambda: dict(pos=r.a, id=r.b, nent=r.c),
        "DUSED": lambda: dict(pos=r.a, flags=r.b, nent=r.c, id=r.d, len=r.x),
        "DEVENT": lambda: dict(word=r.x),
        "DIRQ": lambda: dict(old=r.a, new=r.b, sent=bool(r.c), why=r.d, word=r.x),
    }
    if r.kind not in fields:
        raise R.FormatError("record %d: %s out of place on a packed queue" % (r.seq, r.kind))
    device = r.kind in ("DNOTIFY", "DPOP", "DUSED", "DEVENT", "DIRQ") or (r.kind == "WRAP" and r.a >= 2)
    return Event("device" if device else "driver", r.kind, r.seq, t, **fields[r.kind]()), i + 1


def _snapshot_record(q, recs, i):
    """A snapshot record of queue q at recs[i] into q.snapshot (or
    q.device, q.*_counts): the next i, or None if recs[i] is a step."""
    r = recs[i]
    s = q.snapshot
    if r.kind == "STATE":
        s.update(avail_idx=r.a, avail_pub=r.b, last_used=r.c, outstanding=r.d & 0xffff,
                 nfree=r.d >> 16, free_head=r.x & 0xffff, intr_off=(r.x >> 16) & 1)
    elif r.kind == "RINGS":
        s.update(avail_flags=r.a, avail_idx_mem=r.b, used_event=r.c, used_flags=r.d & 0xffff,
                 used_idx=r.d >> 16, avail_event=r.x & 0xffff)
    elif r.kind == "PSTATE":
        s.update(next_avail=r.a, pub=r.b, next_used=r.c, outstanding=r.d & 0xffff,
                 nfree=r.d >> 16, free_head=r.x & 0xffff, intr_off=(r.x >> 16) & 1,
                 unpub=(r.x >> 32) & 0xffff, pub_flags=(r.x >> 48) & 0xffff)
    elif r.kind == "PEVENTS":
        s.update(driver_event=r.d, device_event=r.x)
    elif r.kind == "PRING":
        s["ring"][r.a] = _desc(r)
    elif r.kind == "COUNT":
        (q.stop_counts if r.b else q.start_counts)[R.COUNTERS.get(r.a, str(r.a))] = r.d
    elif r.kind == "FREE":
        s["free"] += r.u16s(r.a)
    elif r.kind == "AVRING":
        for k, h in enumerate(r.u16s(min(12, q.size - r.a))):
            s["avring"][r.a + k] = h
    elif r.kind == "HELD":
        f, j = (_pchain if q.packed else _chain)(recs, i)
        s["held"].append(f)
        return j
    elif r.kind == "DSTATE":
        if q.packed:
            q.device = dict(next_avail=r.a, next_used=r.b, held=r.c)
        else:
            q.device = dict(last_avail=r.a, used_idx=r.b, held=r.c)
    else:
        return None
    return i + 1


def split(recs):
    """Records -> Recording: the frame, and per queue its snapshot and its
    steps as Events. Raises records.FormatError on a recording that does
    not hold together (which the replay could not follow)."""
    rec = Recording()
    if not recs or recs[0].kind != "BEGIN":
        raise R.FormatError("the recording does not start with BEGIN")
    # Each version adds to the one before: an older recording reads the same.
    if not 1 <= recs[0].a <= R.VERSION:
        raise R.FormatError("format version %d, this replay knows 1 to %d" % (recs[0].a, R.VERSION))
    rec.version, rec.clock_hz, rec.capacity, rec.t0 = recs[0].a, recs[0].d, recs[0].x, recs[0].t
    i = 1
    while i < len(recs):
        r = recs[i]
        q = rec.queues.get(r.qid)
        if r.kind == "END":
            rec.dropped, rec.written = r.d, r.x
            i += 1
            continue
        if r.kind == "QUEUE":
            q = rec.queues.setdefault(r.qid, Queue(r.qid))
            q.size, q.index, q.flags, q.base = r.a, r.b, r.c, r.x
            q.tables = (r.d >> 16, r.d & 0xffff)
            q.name, i = _text(recs, i + 1)
            q.snapshot = {"free": [], "avring": {}, "ring": {}, "held": []}
            continue
        if q is None:
            raise R.FormatError("record %d (%s) names queue %d before its snapshot"
                                % (r.seq, r.kind, r.qid))
        j = _snapshot_record(q, recs, i)
        if j is None:
            ev, j = (_packed_step if q.packed else _split_step)(q, recs, i, rec.us(r.t))
            q.events.append(ev)
        i = j
    for q in rec.queues.values():
        need = ("next_avail", "driver_event") if q.packed else ("avail_idx", "used_idx")
        if any(k not in q.snapshot for k in need) or (q.packed and len(q.snapshot["ring"]) != q.size):
            raise R.FormatError("queue %d: the snapshot is incomplete" % q.qid)
    return rec


class _Replay:
    """What both layouts' replays share: a state moved forward one Event
    at a time, each step's change as a diff."""

    def warn(self, msg):
        self.warnings.append(msg)

    def _bump(self, st, what):
        st["n." + what] = st["n." + what] + 1

    def apply(self, ev):
        before = self.state
        # A shallow copy is enough: the handlers never change a list in
        # place, they put a new one under the key.
        st = dict(before)
        text = getattr(self, "_" + ev.kind.lower())(st, ev, **ev.f)
        self._settle(st)
        diff = {}
        for k in set(before) | set(st):
            if before.get(k) != st.get(k):
                diff[k] = [before.get(k), st.get(k)]
        self.state = st
        # A notification or an interrupt the other side's suppression held back.
        held = (ev.kind == "KICK" and not ev.f["notified"]) or (ev.kind == "DIRQ" and not ev.f["sent"])
        return {"side": ev.side, "kind": ev.kind, "text": text, "diff": diff, "seq": ev.seq,
                "t": ev.t_us, "held": held, "f": ev.f}

    def _settle(self, st):
        """What follows from the state after each step (nothing, for a split ring)."""

    def _broken(self, st, ev, why, **_):
        st["broken"] = why
        return "the queue is broken: %s" % why


class Replay(_Replay):
    """The state of one split queue, moved forward one Event at a time."""

    def __init__(self, q):
        self.q = q
        self.size = q.size
        self.warnings = []
        s = q.snapshot
        st = {}
        st["avail.flags"] = s["avail_flags"]
        st["avail.idx"] = s["avail_idx_mem"]
        st["used_event"] = s["used_event"]
        st["used.flags"] = s["used_flags"]
        st["used.idx"] = s["used_idx"]
        st["avail_event"] = s["avail_event"]
        st["drv.avail_idx"] = s["avail_idx"]
        st["drv.last_used"] = s["last_used"]
        st["free"] = list(s["free"])
        for i in s["free"]:
            st["o%d" % i] = -1
        for slot, head in s["avring"].items():
            st["a%d" % slot] = head
        out = []
        self.chains = {}          # head -> [descriptor indices], for freeing
        for f in s["held"]:
            self._take_chain(st, f)
            out.append(f["head"])
        st["out"] = sorted(out)
        if q.device:
            st["dev.last_avail"] = q.device["last_avail"]
            st["dev.used_idx"] = q.device["used_idx"]
            st["dev.held"] = []
        else:
            # Only the driver was recorded. The device wrote used.idx itself,
            # so it has written that far; and with nothing outstanding it has
            # taken every published entry. (QEMU's events, when merged, say
            # the rest.)
            st["dev.used_idx"] = s["used_idx"]
            if not out:
                st["dev.last_avail"] = s["avail_idx_mem"]
                st["dev.held"] = []
        for k in ("added", "kicks", "notified", "suppressed", "interrupts", "completions", "bad",
                  "dev_notifies", "dev_pops", "dev_used", "dev_irqs", "dev_irqs_suppressed"):
            st["n." + k] = 0
        self.state = st
        self.initial = copy.deepcopy(st)
        self.elem_head = {}       # QEMU's element pointers -> the head they carry
        if len(s["free"]) != s["nfree"]:
            self.warn("the snapshot's free list has %d entries, nfree says %d"
                      % (len(s["free"]), s["nfree"]))

    def slot(self, pos):
        return pos % self.size

    def _take_chain(self, st, f):
        head = f["head"]
        idx = []
        for i, d in f["descs"]:
            st["d%d" % i] = d
            st["o%d" % i] = head
            idx.append(i)
        if f["table"]:
            st["t%d" % head] = [list(d) for d in f["table"]]
        st["tok%d" % head] = "%#x" % f["token"]
        self.chains[head] = idx

    def _free_chain(self, st, head):
        idx = self.chains.pop(head, None)
        if idx is None:
            self.warn("chain %d comes back but was never handed out in this recording" % head)
            return 0
        for i in idx:
            st["o%d" % i] = -1
        st["free"] = idx + st["free"]
        st["out"] = [h for h in st["out"] if h != head]
        st.pop("tok%d" % head, None)
        return len(idx)

    # the driver's steps

    def _add(self, st, ev, head, pos, ndesc, writable, token, descs, table):
        idx = [i for i, _ in descs]
        if st["free"][:len(idx)] != idx:
            self.warn("ADD at record %d took descriptors %s, the free list began %s"
                      % (ev.seq, idx, st["free"][:len(idx)]))
        st["free"] = [i for i in st["free"] if i not in idx]
        self._take_chain(st, ev.f)
        st["a%d" % self.slot(pos)] = head
        st["drv.avail_idx"] = (pos + 1) & 0xffff
        st["out"] = sorted(st["out"] + [head])
        self._bump(st, "added")
        bufs = table if table else [d for _, d in descs]
        parts = buffers_text(bufs)
        how = ("descriptor %d points at an indirect table of %d entries" % (head, len(table))
               if table else "descriptor%s %s" % ("s" if len(idx) > 1 else "", " -> ".join(map(str, idx))))
        return ("driver adds a chain of %d buffer%s (%s): %s; avail slot %d = %d, not yet "
                "visible (avail.idx is still %d)" % (len(bufs), "s" if len(bufs) > 1 else "",
                                                    parts, how, self.slot(pos), head, st["avail.idx"]))

    def _kick(self, st, ev, old, new, notified, why, value):
        st["avail.idx"] = new
        self._bump(st, "kicks")
        self._bump(st, "notified" if notified else "suppressed")
        if why == R.NAMES["VTR_WHY_EVENT_IDX"]:
            st["avail_event"] = value
            reason = ("EVENT_IDX: the device's avail_event is %d, %s the entries just published (%d..%d)"
                      % (value, "one of" if in_window(value, new, old) else "not among",
                         old, (new - 1) & 0xffff))
        else:
            st["used.flags"] = value
            reason = ("used.flags %s VIRTQ_USED_F_NO_NOTIFY"
                      % ("has" if value & USED_F_NO_NOTIFY else "lacks"))
        return "driver publishes avail.idx %d -> %d and %s (%s)" % (
            old, new, "notifies the device (QueueNotify)" if notified else
            "does not notify", reason)

    def _intr(self, st, ev, used_idx, last_used):
        self._bump(st, "interrupts")
        if ahead(used_idx, st["used.idx"]) or used_idx == st["used.idx"]:
            st["used.idx"] = used_idx
        return ("interrupt: the driver acknowledges it and finds used.idx %d (it has read up to %d)"
                % (used_idx, last_used))

    def _used(self, st, ev, pos, id, len, ndesc):
        s = self.slot(pos)
        st["u%d" % s] = [id, len]
        if ahead((pos + 1) & 0xffff, st["used.idx"]):
            st["used.idx"] = (pos + 1) & 0xffff
        st["drv.last_used"] = (pos + 1) & 0xffff
        n = self._free_chain(st, id)
        if ndesc and n != ndesc:
            self.warn("USED at record %d freed %d descriptors, the driver says %d" % (ev.seq, n, ndesc))
        self._bump(st, "completions")
        return ("driver reaps used slot %d: chain %d, %d bytes written; %s back to the front "
                "of the free list" % (s, id, len, "its descriptor goes" if n == 1 else
                                      "its %d descriptors go" % n))

    def _bad(self, st, ev, pos, id, len, why):
        self._bump(st, "bad")
        return "driver refuses used slot %d (id %d, len %d): %s" % (self.slot(pos), id, len, why)

    def _intr_on(self, st, ev, event_idx, value):
        if event_idx:
            st["used_event"] = value
            return "driver asks for an interrupt at used entry %d (used_event = %d)" % (value, value)
        st["avail.flags"] = value
        return "driver asks for interrupts again (avail.flags = %d)" % value

    def _intr_off(self, st, ev, value):
        st["avail.flags"] = value
        return "driver asks for no interrupts while it reaps (avail.flags = %d: NO_INTERRUPT)" % value

    def _drain(self, st, ev, head):
        self._free_chain(st, head)
        return "after the reset the driver takes chain %d back unreturned" % head

    # the device model's steps

    def _dnotify(self, st, ev, avail_idx):
        self._bump(st, "dev_notifies")
        return "device: a QueueNotify arrives; avail.idx reads %d" % avail_idx

    def _pop(self, st, pos, head, who):
        expect = st.get("a%d" % self.slot(pos))
        if head is None:
            head = expect
        elif expect is not None and expect != head:
            self.warn("%s took head %d from avail slot %d, which held %d" % (who, head, self.slot(pos), expect))
        st["dev.last_avail"] = (pos + 1) & 0xffff
        st["dev.held"] = st.get("dev.held", []) + ([head] if head is not None else [])
        self._bump(st, "dev_pops")
        return head

    def _dpop(self, st, ev, pos, head):
        self._pop(st, pos, head, "the device")
        return "device takes avail slot %d: chain %d" % (self.slot(pos), head)

    def _put_used(self, st, pos, id, length):
        s = self.slot(pos)
        st["u%d" % s] = [id, length]
        st["dev.used_idx"] = (pos + 1) & 0xffff
        held = st.get("dev.held", [])
        if id in held:
            held = list(held)
            held.remove(id)
            st["dev.held"] = held
        self._bump(st, "dev_used")
        return s

    def _dused(self, st, ev, pos, id, len):
        s = self._put_used(st, pos, id, len)
        st["used.idx"] = (pos + 1) & 0xffff
        return "device writes used slot %d = {id %d, len %d} and then used.idx = %d" % (
            s, id, len, (pos + 1) & 0xffff)

    def _devent(self, st, ev, value):
        st["avail_event"] = value
        return "device sets avail_event = %d: \"notify me when you publish entry %d\"" % (value, value)

    def _dirq(self, st, ev, old, new, sent, why, value):
        self._bump(st, "dev_irqs" if sent else "dev_irqs_suppressed")
        if why == R.NAMES["VTR_WHY_EVENT_IDX"]:
            reason = "used_event %d is %sin [%d, %d)" % (value, "" if in_window(value, new, old) else "not ",
                                                      old, new)
        else:
            reason = "avail.flags %s NO_INTERRUPT" % ("has" if value & AVAIL_F_NO_INTERRUPT else "lacks")
        return "device %s (%s)" % ("interrupts the driver" if sent else "does not interrupt", reason)

    # QEMU's steps (qemu_events.py attaches positions)

    def _qemu_notify(self, st, ev, n, line):
        self._bump(st, "dev_notifies")
        return "QEMU: virtio_queue_notify (queue %d): the device is told" % n

    def _qemu_pop(self, st, ev, pos, elem, in_num, out_num, line):
        head = self._pop(st, pos, None, "QEMU")
        self.elem_head[elem] = head
        return ("QEMU: virtqueue_pop takes avail slot %d: chain %s (%d device-readable, "
                "%d device-writable buffers)" % (self.slot(pos), head, out_num, in_num))

    def _qemu_blk(self, st, ev, op, elem, sector, nsectors, line):
        return "QEMU: virtio_blk_handle_%s: chain %s, sector %d, %d sectors" % (
            op, self.elem_head.get(elem, "?"), sector, nsectors)

    def _qemu_done(self, st, ev, elem, status, line):
        return "QEMU: virtio_blk_req_complete: chain %s, status %d%s" % (
            self.elem_head.get(elem, "?"), status, " (OK)" if status == 0 else "")

    def _qemu_fill(self, st, ev, pos, elem, len, line, pop_pos=None, **_):
        head = self.elem_head.get(elem)
        if head is None and pop_pos is not None:
            head = st.get("a%d" % self.slot(pop_pos))   # popped before the recording began
        s = self._put_used(st, pos, head if head is not None else -1, len)
        return "QEMU: virtqueue_fill writes used slot %d = {id %s, len %d}" % (
            s, head if head is not None else "?", len)

    def _qemu_flush(self, st, ev, count, used_idx, line):
        st["used.idx"] = used_idx
        return "QEMU: virtqueue_flush: used.idx = %d (%d new)" % (used_idx, count)

    def _qemu_irq(self, st, ev, line):
        self._bump(st, "dev_irqs")
        return "QEMU: virtio_notify: the device interrupts the driver"


class PackedReplay(_Replay):
    """The state of one packed queue (virtio 1.2 2.8), moved forward one
    Event at a time: one ring both sides write, each side's positions
    with their wrap counters, and the buffer ids out."""

    def __init__(self, q):
        self.q = q
        self.size = q.size
        self.warnings = []
        s = q.snapshot
        st = {}
        for slot, e in s["ring"].items():
            st["r%d" % slot] = list(e)
        st["drv.next_avail"] = list(ppos(s["next_avail"])) + [0]
        st["drv.pub"] = list(ppos(s["pub"])) + [0]
        st["drv.next_used"] = list(ppos(s["next_used"])) + [0]
        st["drv.unpub"] = s["unpub"]
        st["drv.inflight"] = self.size - s["nfree"] - s["unpub"]
        if s["unpub"]:
            st["drv.held_flags"] = s["pub_flags"]
        st["driver_event"] = event_word(s["driver_event"])
        st["device_event"] = event_word(s["device_event"])
        st["free"] = list(s["free"])
        out = []
        for f in s["held"]:
            self._take(st, f["id"], -1, f["nent"], f["token"], f["table"])
            out.append(f["id"])
        st["out"] = sorted(out)
        if q.device:
            st["dev.next_avail"] = list(ppos(q.device["next_avail"])) + [0]
            st["dev.next_used"] = list(ppos(q.device["next_used"])) + [0]
            st["dev.held"] = []
        elif not out:
            # Only the driver was recorded, and it had nothing out: the
            # device has taken everything published and used all of it,
            # so it stands where the driver does. (QEMU's events, when
            # merged, move it on.)
            st["dev.next_avail"] = list(st["drv.pub"])
            st["dev.next_used"] = list(st["drv.next_used"])
            st["dev.held"] = []
        for k in ("added", "kicks", "notified", "suppressed", "interrupts", "completions", "bad",
                  "wraps", "dev_notifies", "dev_pops", "dev_used", "dev_irqs", "dev_irqs_suppressed"):
            st["n." + k] = 0
        self._settle(st)
        held_order = self._place_held(st)
        self.state = st
        self.initial = copy.deepcopy(st)
        self.elem_id = {}         # QEMU's element pointers -> the buffer id they carry
        # QEMU's pops and fills come numbered (qemu_events.py): the k-th
        # buffer made available since the queue's set-up, the k-th used
        # entry. The driver's ADDs and USEDs, numbered the same way from
        # its counters at the start, say which buffer and where.
        added, done = q.start_counts.get("added", 0), q.start_counts.get("completions", 0)
        self.added_no, self.used_no = {}, {}
        for k, f in enumerate(held_order):
            self.added_no[(added - len(held_order) + k) & 0xffff] = f
        for ev in q.events:
            if ev.kind == "ADD":
                self.added_no[added & 0xffff] = ev.f
                added += 1
            elif ev.kind == "USED":
                self.used_no[done & 0xffff] = ev.f
                done += 1
        if len(s["free"]) + len(out) != self.size:
            self.warn("the snapshot's free ids (%d) and buffers out (%d) do not add up to %d"
                      % (len(s["free"]), len(out), self.size))

    def _place_held(self, st):
        """Where the buffers out at the start lie (the driver keeps no
        position per buffer): when every entry in flight is still in its
        available form, they are the buffers from the driver's next used
        entry on, in ring order, each found by the id in its first entry
        and as long as the driver says; and, added in that order and none
        of them back yet, they are the last ones the driver added. Returns
        them in that order ([{id, pos, nent}]), or [] when the ring does
        not say so plainly."""
        slot, wrap, _ = st["drv.next_used"]
        left, order = st["drv.inflight"], []
        while left > 0:
            e, b = st.get("r%d" % slot), None
            if e is not None and st["own%d" % slot] == "avail":
                b = st.get("b%d" % e[3])
            if b is None or b[1] > left or any(f["id"] == e[3] for f in order):
                return []
            order.append({"id": e[3], "pos": slot | wrap << 15, "nent": b[1]})
            slot, wrap, _ = self.advance([slot, wrap, 0], b[1])
            left -= b[1]
        if len(order) != len(st["out"]):
            return []
        for f in order:
            st["b%d" % f["id"]] = [f["pos"] & 0x7fff, st["b%d" % f["id"]][1]]
        return order

    # ---- positions ----

    def advance(self, pos, n):
        """A [slot, wrap, laps] position n entries on: past the end of the
        ring the wrap counter flips (2.8.1)."""
        slot, wrap, laps = pos
        slot += n
        if slot >= self.size:
            slot -= self.size
            wrap ^= 1
        return [slot, wrap, laps]

    def at(self, st, key, recorded, who):
        """The position under key, checked against a recorded ppos (a step
        that happened elsewhere than the replay expects is flagged)."""
        pos = st.get(key)
        slot, wrap = ppos(recorded)
        if pos is None:
            return [slot, wrap, 0]
        if pos[:2] != [slot, wrap]:
            self.warn("%s at slot %d (wrap %d), the replay had it at %d (wrap %d)"
                      % (who, slot, wrap, pos[0], pos[1]))
        return [slot, wrap, pos[2]]

    def _settle(self, st):
        """Each entry's state from its AVAIL/USED bits read against its lap
        (2.8.1), as the driver sees the ring: from its next used entry,
        `inflight` entries published, then `unpub` filled and not yet
        published (the first holds its flags back), then free ones."""
        nu, w, _ = st["drv.next_used"]
        inflight, unpub = st["drv.inflight"], st["drv.unpub"]
        for slot in range(self.size):
            d = (slot - nu) % self.size
            if d < inflight:
                lap = w if slot >= nu else w ^ 1
                e = st.get("r%d" % slot) or [0, 0, 0, 0]
                a, u = int(bool(e[2] & DESC_F_AVAIL)), int(bool(e[2] & DESC_F_USED))
                own = "avail" if a == lap and u != lap else "used" if a == lap else "stale"
            elif d < inflight + unpub:
                own = "held" if d == inflight else "unpub"
            else:
                own = "free"
            st["own%d" % slot] = own

    def _take(self, st, id, slot, nent, token, table):
        st["b%d" % id] = [slot, nent]
        st["tok%d" % id] = "%#x" % token
        if table:
            st["t%d" % id] = [list(d) for d in table]

    def _release(self, st, id):
        if id not in st["out"]:
            self.warn("buffer id %d comes back but is not out" % id)
            return 0
        nent = st["b%d" % id][1]
        for k in ("b%d", "tok%d", "t%d"):
            st.pop(k % id, None)
        st["out"] = [i for i in st["out"] if i != id]
        st["free"] = [id] + st["free"]
        return nent

    def _entries(self, slot, n):
        out = []
        for _ in range(n):
            out.append(slot)
            slot = (slot + 1) % self.size
        return out

    # the driver's steps

    def _add(self, st, ev, id, pos, nent, writable, token, entries, table):
        if st["free"][:1] != [id]:
            self.warn("ADD at record %d took id %d, the free ids began %s" % (ev.seq, id, st["free"][:1]))
        st["free"] = [i for i in st["free"] if i != id]
        start = self.at(st, "drv.next_avail", pos, "the driver's next entry to fill")
        first = st["drv.unpub"] == 0
        for k, (slot, d) in enumerate(entries):
            e = list(d)
            if k == 0 and first:
                # 2.8.21: the first entry filled since the last kick keeps
                # last lap's flags in memory until the kick stores these.
                st["drv.held_flags"] = e[2]
                e[2] = (st.get("r%d" % slot) or [0, 0, 0, 0])[2]
                st["drv.pub"] = [slot, start[1], st["drv.pub"][2]]
            st["r%d" % slot] = e
        self._take(st, id, start[0], nent, token, table)
        st["out"] = sorted(st["out"] + [id])
        st["drv.next_avail"] = self.advance(start, nent)
        st["drv.unpub"] += nent
        self._bump(st, "added")
        bufs = table if table else [d for _, d in entries]
        parts = buffers_text(bufs)
        slots = [s for s, _ in entries]
        where = ("entry %d, pointing at an indirect table of %d (2.8.7)" % (slots[0], len(table))
                 if table else "entr%s %s" % ("y" if nent == 1 else "ies", ", ".join(map(str, slots))))
        held = ("; its first entry's flags (%s) are held back until the kick" % pflags_text(st["drv.held_flags"])
                if first else "; the device will not read past entry %d, whose flags wait for the kick"
                % st["drv.pub"][0])
        bits = "AVAIL=%d USED=%d" % (start[1], start[1] ^ 1)
        if start[0] + nent > self.size:
            bits += " (past the end of the ring, the next lap's AVAIL=%d USED=%d)" % (start[1] ^ 1, start[1])
        return ("driver makes buffer id %d available: %d buffer%s (%s) in %s, with %s%s"
                % (id, len(bufs), "s" if len(bufs) > 1 else "", parts, where, bits, held))

    def _kick(self, st, ev, old, new, notified, why, value):
        pub = self.at(st, "drv.pub", old, "the first entry published")
        slot = pub[0]
        stored = st.pop("drv.held_flags", None)
        if stored is not None:
            e = list(st.get("r%d" % slot) or [0, 0, 0, 0])
            e[2] = stored
            st["r%d" % slot] = e
        n = st["drv.unpub"]
        st["drv.inflight"] += n
        st["drv.unpub"] = 0
        nslot, nwrap = ppos(new)
        laps = st["drv.next_avail"][2]
        st["drv.pub"] = [nslot, nwrap, laps]
        st["device_event"] = event_word(value)
        self._bump(st, "kicks")
        self._bump(st, "notified" if notified else "suppressed")
        ev_ = st["device_event"]
        if why == R.NAMES["VTR_WHY_EVENT_IDX"]:
            want = ev_[0] if ev_[1] else ev_[0] + self.size   # lap positions, as virtq_packed.c
            lo = slot if pub[1] else slot + self.size
            inside = (want - lo) % (2 * self.size) < n
            reason = ("EVENT_IDX: the device's structure asks for entry %d of the lap with wrap %d, "
                      "%s the %d entries just published" % (ev_[0], ev_[1], "one of" if inside else "not among", n))
        else:
            reason = "the device's structure says %s" % event_text(ev_)
        return ("driver publishes %d entr%s from slot %d: stores %s in entry %d's flags, and %s (%s)"
                % (n, "y" if n == 1 else "ies", slot,
                   pflags_text(stored) if stored is not None else "the held-back flags", slot,
                   "notifies the device (QueueNotify)" if notified else "does not notify", reason))

    def _intr(self, st, ev, pos, flags):
        self._bump(st, "interrupts")
        slot, wrap = ppos(pos)
        e = st.get("r%d" % slot)
        if e is not None:
            e = list(e)
            e[2] = flags
            st["r%d" % slot] = e
        used = int(bool(flags & DESC_F_AVAIL)) == wrap and int(bool(flags & DESC_F_USED)) == wrap
        return ("interrupt: the driver acknowledges it; its next used entry, slot %d (wrap %d), "
                "has %s: %s" % (slot, wrap, pflags_text(flags),
                                "used, to be read" if used else "not used yet"))

    def _used(self, st, ev, pos, flags, nent, id, len):
        start = self.at(st, "drv.next_used", pos, "the driver's next used entry")
        old = st.get("r%d" % start[0]) or [0, 0, 0, 0]
        st["r%d" % start[0]] = [old[0], len, flags, id]
        n = self._release(st, id)
        if n and n != nent:
            self.warn("USED at record %d skips %d entries, buffer %d took %d" % (ev.seq, nent, id, n))
        held = st.get("dev.held")
        if held is not None and id in held:
            st["dev.held"] = [i for i in held if i != id]
        st["drv.next_used"] = self.advance(start, nent)
        st["drv.inflight"] -= nent
        self._bump(st, "completions")
        return ("driver reads the used entry at slot %d (wrap %d, %s): buffer id %d, %d bytes "
                "written; it skips the buffer's %d entr%s to slot %d, and id %d goes back to the "
                "front of the free ids" % (start[0], start[1], pflags_text(flags), id, len, nent,
                                           "y" if nent == 1 else "ies", st["drv.next_used"][0], id))

    def _bad(self, st, ev, pos, flags, id, len, why):
        self._bump(st, "bad")
        slot, wrap = ppos(pos)
        return "driver refuses the entry at slot %d (wrap %d, %s; id %d, len %d): %s" % (
            slot, wrap, pflags_text(flags), id, len, why)

    def _intr_on(self, st, ev, event_idx, word):
        st["driver_event"] = event_word(word)
        return "driver asks for interrupts again: its structure says %s" % event_text(st["driver_event"])

    def _intr_off(self, st, ev, word):
        st["driver_event"] = event_word(word)
        return "driver asks for no interrupts while it reads: its structure says %s" % event_text(
            st["driver_event"])

    def _drain(self, st, ev, id):
        self._release(st, id)
        return "after the reset the driver takes buffer id %d back unreturned" % id

    def _wrap(self, st, ev, which, wrap, slot):
        key = {0: "drv.next_avail", 1: "drv.next_used", 2: "dev.next_avail", 3: "dev.next_used"}[which]
        pos = st.get(key)
        if pos is not None:
            if pos[:2] != [slot, wrap]:
                self.warn("WRAP at record %d: the %s's counter %d at slot %d, the replay has %d at %d"
                          % (ev.seq, WRAP_WHO[which], wrap, slot, pos[1], pos[0]))
            st[key] = [pos[0], pos[1], pos[2] + 1]
        self._bump(st, "wraps")
        return "%s: %s" % (WRAP_WHO[which], {
            0: "its Driver Ring Wrap Counter flips to %d: filling passed the end of the ring, to "
               "slot %d; the entries it makes available now carry AVAIL=%d USED=%d"
               % (wrap, slot, wrap, wrap ^ 1),
            1: "reading passed the end of the ring, to slot %d; its wrap counter for used entries "
               "flips to %d: it takes AVAIL=USED=%d as used from here" % (slot, wrap, wrap),
            2: "reading passed the end of the ring, to slot %d; its wrap counter for available "
               "entries flips to %d: it takes AVAIL=%d USED=%d as available from here"
               % (slot, wrap, wrap, wrap ^ 1),
            3: "its Device Ring Wrap Counter flips to %d: writing used entries passed the end of "
               "the ring, to slot %d; its used entries now carry AVAIL=USED=%d" % (wrap, slot, wrap),
        }[which])

    # the device model's steps

    def _dnotify(self, st, ev, pos, flags):
        self._bump(st, "dev_notifies")
        slot, wrap = ppos(pos)
        avail = int(bool(flags & DESC_F_AVAIL)) == wrap and int(bool(flags & DESC_F_USED)) != wrap
        return ("device: a QueueNotify arrives; its next entry, slot %d (wrap %d), has %s: %s"
                % (slot, wrap, pflags_text(flags), "available" if avail else "nothing new there"))

    def _dpop(self, st, ev, pos, id, nent):
        start = self.at(st, "dev.next_avail", pos, "the device's next entry")
        st["dev.next_avail"] = self.advance(start, nent)
        st["dev.held"] = st.get("dev.held", []) + [id]
        self._bump(st, "dev_pops")
        return ("device takes buffer id %d: %d entr%s from slot %d (wrap %d), copied (its used "
                "entries will land on top of them)" % (id, nent, "y" if nent == 1 else "ies",
                                                        start[0], start[1]))

    def _put_used(self, st, start, id, length, flags, nent):
        old = st.get("r%d" % start[0]) or [0, 0, 0, 0]
        st["r%d" % start[0]] = [old[0], length, flags, id]
        st["dev.next_used"] = self.advance(start, nent)
        held = st.get("dev.held", [])
        if id in held:
            st["dev.held"] = [i for i in held if i != id]
        self._bump(st, "dev_used")

    def _dused(self, st, ev, pos, flags, nent, id, len):
        start = self.at(st, "dev.next_used", pos, "the device's next used entry")
        self._put_used(st, start, id, len, flags, nent)
        return ("device writes a used entry at slot %d (wrap %d): id %d, len %d, then its flags %s; "
                "it skips the buffer's %d entr%s" % (start[0], start[1], id, len, pflags_text(flags),
                                                    nent, "y" if nent == 1 else "ies"))

    def _devent(self, st, ev, word):
        st["device_event"] = event_word(word)
        return "device sets its structure to %s: \"notify me when you make this entry available\"" % (
            event_text(st["device_event"]))

    def _dirq(self, st, ev, old, new, sent, why, word):
        self._bump(st, "dev_irqs" if sent else "dev_irqs_suppressed")
        drv = event_word(word)
        return "device %s (the driver's structure says %s)" % (
            "interrupts the driver" if sent else "does not interrupt", event_text(drv))

    # QEMU's steps (qemu_events.py numbers the buffers: pos is the buffer's
    # number since the device's reset, pop or fill)

    def _qemu_notify(self, st, ev, n, line):
        self._bump(st, "dev_notifies")
        return "QEMU: virtio_queue_notify (queue %d): the device is told" % n

    def _qemu_pop(self, st, ev, pos, elem, in_num, out_num, line):
        # The device takes buffers in ring order (2.8.12): buffer number
        # pos, where the driver's ADD put it; one made available before the
        # recording began is the one at the device's next position, whose
        # id the driver wrote into the entry.
        start, f = st.get("dev.next_avail"), self.added_no.get(pos)
        id = nent = None
        if f is not None:
            id, nent = f["id"], f["nent"]
            start = self.at(st, "dev.next_avail", f["pos"], "QEMU's next entry")
        elif start is not None:
            e = st.get("r%d" % start[0])
            id = e[3] if e else None
            b = st.get("b%d" % id) if id is not None else None
            nent = b[1] if b else None
            if nent is None:
                self.warn("QEMU took the buffer at slot %d, where the replay knows of none" % start[0])
        if start is not None and nent is not None:
            st["dev.next_avail"] = self.advance(start, nent)
        if id is not None:
            st["dev.held"] = st.get("dev.held", []) + [id]
        self.elem_id[elem] = id
        self._bump(st, "dev_pops")
        return ("QEMU: virtqueue_pop takes buffer id %s at slot %s (%d device-readable, %d "
                "device-writable buffers)" % ("?" if id is None else id,
                                              "?" if start is None else start[0], out_num, in_num))

    def _qemu_blk(self, st, ev, op, elem, sector, nsectors, line):
        return "QEMU: virtio_blk_handle_%s: buffer id %s, sector %d, %d sectors" % (
            op, self.elem_id.get(elem, "?"), sector, nsectors)

    def _qemu_done(self, st, ev, elem, status, line):
        return "QEMU: virtio_blk_req_complete: buffer id %s, status %d%s" % (
            self.elem_id.get(elem, "?"), status, " (OK)" if status == 0 else "")

    def _qemu_fill(self, st, ev, pos, elem, len, line, **_):
        # QEMU writes used entry number pos at its next used position and
        # marks it used for its lap: AVAIL = USED = its wrap counter (it
        # sets no WRITE there, see virtq_packed.c's vpq_get). The driver's
        # read of the same number says where that was, if the replay does
        # not know yet.
        id, f = self.elem_id.get(elem), self.used_no.get(pos)
        if id is None and f is not None:
            id = f["id"]
        start = st.get("dev.next_used")
        if f is not None:
            start = self.at(st, "dev.next_used", f["pos"], "QEMU's next used entry")
        b = st.get("b%d" % id) if id is not None else None
        nent = b[1] if b else (f["nent"] if f is not None else None)
        if start is None or id is None or nent is None:
            return "QEMU: virtqueue_fill returns buffer id %s (len %d)" % ("?" if id is None else id, len)
        flags = DESC_F_AVAIL | DESC_F_USED if start[1] else 0
        self._put_used(st, start, id, len, flags, nent)
        return ("QEMU: virtqueue_fill writes the used entry at slot %d (wrap %d): id %d, len %d, "
                "flags AVAIL=USED=%d" % (start[0], start[1], id, len, start[1]))

    def _qemu_irq(self, st, ev, line):
        self._bump(st, "dev_irqs")
        return "QEMU: virtio_notify: the device interrupts the driver"


def replayer(q):
    """The replay for q's layout, at the state its snapshot describes."""
    return PackedReplay(q) if q.packed else Replay(q)


def replay(q):
    """(initial state, [step, ...], final state, warnings) of one queue."""
    rp = replayer(q)
    steps = [rp.apply(ev) for ev in q.events]
    return rp.initial, steps, rp.state, rp.warnings
