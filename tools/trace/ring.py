"""ring.py: replays a virtqueue recording (records.py) step by step and
says what the descriptor table, the available ring and the used ring hold
after each step. This is the one place that knows how a split virtqueue
changes (virtio 1.2 section 2.7); the page (vtrace.py, trace.js) only
shows the states computed here, and the tests check them.

    queues = ring.split(records)          # {qid: Queue}: snapshot + events
    replay = ring.Replay(queues[0])       # the state when recording began
    for ev in queues[0].events:
        step = replay.apply(ev)           # {"text": ..., "diff": {key: [old, new]}, ...}
    replay.state                          # the state after the last step

The state is one flat dictionary, so a step's change is a handful of
keys (the page applies them forwards and backwards):

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

Standard library only. Tested by tests/qemu/test_trace.py (a known list
of records, and real recordings).
"""
import copy

import records as R

DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
AVAIL_F_NO_INTERRUPT = 1
USED_F_NO_NOTIFY = 1


def flags_text(f):
    names = [n for bit, n in ((DESC_F_NEXT, "NEXT"), (DESC_F_WRITE, "WRITE"),
                              (DESC_F_INDIRECT, "INDIRECT")) if f & bit]
    return "|".join(names) or "0"


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


def _text(recs, i):
    parts = []
    j = i
    while j < len(recs) and recs[j].kind == "TEXT":
        parts.append(recs[j].raw[8:32])
        j += 1
    return b"".join(parts).split(b"\0")[0].decode("utf-8", "replace"), j


def split(recs):
    """Records -> Recording: the frame, and per queue its snapshot and its
    steps as Events. Raises records.FormatError on a recording that does
    not hold together (which the replay could not follow)."""
    rec = Recording()
    if not recs or recs[0].kind != "BEGIN":
        raise R.FormatError("the recording does not start with BEGIN")
    if recs[0].a != R.VERSION:
        raise R.FormatError("format version %d, this replay knows %d" % (recs[0].a, R.VERSION))
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
            q.snapshot = {"free": [], "avring": {}, "held": []}
            continue
        if q is None:
            raise R.FormatError("record %d (%s) names queue %d before its snapshot"
                                % (r.seq, r.kind, r.qid))
        t = rec.us(r.t)
        s = q.snapshot
        if r.kind == "STATE":
            s.update(avail_idx=r.a, avail_pub=r.b, last_used=r.c, outstanding=r.d & 0xffff,
                     nfree=r.d >> 16, free_head=r.x & 0xffff, intr_off=(r.x >> 16) & 1)
        elif r.kind == "RINGS":
            s.update(avail_flags=r.a, avail_idx_mem=r.b, used_event=r.c, used_flags=r.d & 0xffff,
                     used_idx=r.d >> 16, avail_event=r.x & 0xffff)
        elif r.kind == "COUNT":
            (q.stop_counts if r.b else q.start_counts)[R.COUNTERS.get(r.a, str(r.a))] = r.d
        elif r.kind == "FREE":
            s["free"] += r.u16s(r.a)
        elif r.kind == "AVRING":
            for k, h in enumerate(r.u16s(min(12, q.size - r.a))):
                s["avring"][r.a + k] = h
        elif r.kind == "HELD":
            f, i = _chain(recs, i)
            s["held"].append(f)
            continue
        elif r.kind == "DSTATE":
            q.device = dict(last_avail=r.a, used_idx=r.b, held=r.c)
        elif r.kind == "ADD":
            f, i = _chain(recs, i)
            q.events.append(Event("driver", "ADD", r.seq, t, **f))
            continue
        elif r.kind in ("BAD", "BROKEN"):
            why, j = _text(recs, i + 1)
            q.events.append(Event("driver", r.kind, r.seq, t, pos=r.a, id=r.d, len=r.x, why=why))
            i = j
            continue
        elif r.kind == "KICK":
            q.events.append(Event("driver", "KICK", r.seq, t, old=r.a, new=r.b, notified=bool(r.c),
                                  why=r.d, value=r.x))
        elif r.kind == "INTR":
            q.events.append(Event("driver", "INTR", r.seq, t, used_idx=r.a, last_used=r.b))
        elif r.kind == "USED":
            q.events.append(Event("driver", "USED", r.seq, t, pos=r.a, id=r.d, len=r.x, ndesc=r.c))
        elif r.kind == "INTR_ON":
            q.events.append(Event("driver", "INTR_ON", r.seq, t, event_idx=bool(r.b), value=r.c))
        elif r.kind == "INTR_OFF":
            q.events.append(Event("driver", "INTR_OFF", r.seq, t, value=r.c))
        elif r.kind == "DRAIN":
            q.events.append(Event("driver", "DRAIN", r.seq, t, head=r.a))
        elif r.kind == "DNOTIFY":
            q.events.append(Event("device", "DNOTIFY", r.seq, t, avail_idx=r.a))
        elif r.kind == "DPOP":
            q.events.append(Event("device", "DPOP", r.seq, t, pos=r.a, head=r.b))
        elif r.kind == "DUSED":
            q.events.append(Event("device", "DUSED", r.seq, t, pos=r.a, id=r.d, len=r.x))
        elif r.kind == "DEVENT":
            q.events.append(Event("device", "DEVENT", r.seq, t, value=r.a))
        elif r.kind == "DIRQ":
            q.events.append(Event("device", "DIRQ", r.seq, t, old=r.a, new=r.b, sent=bool(r.c),
                                  why=r.d, value=r.x))
        else:
            raise R.FormatError("record %d: %s out of place" % (r.seq, r.kind))
        i += 1
    for q in rec.queues.values():
        if "avail_idx" not in q.snapshot or "used_idx" not in q.snapshot:
            raise R.FormatError("queue %d: the snapshot is incomplete" % q.qid)
    return rec


class Replay:
    """The state of one queue, moved forward one Event at a time."""

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

    def warn(self, msg):
        self.warnings.append(msg)

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

    def _bump(self, st, what):
        st["n." + what] = st["n." + what] + 1

    # ---- one step ----

    def apply(self, ev):
        before = self.state
        # A shallow copy is enough: the handlers never change a list in
        # place, they put a new one under the key.
        st = dict(before)
        text = getattr(self, "_" + ev.kind.lower())(st, ev, **ev.f)
        diff = {}
        for k in set(before) | set(st):
            if before.get(k) != st.get(k):
                diff[k] = [before.get(k), st.get(k)]
        self.state = st
        # A notification or an interrupt the other side's suppression held back.
        held = (ev.kind == "KICK" and not ev.f["notified"]) or (ev.kind == "DIRQ" and not ev.f["sent"])
        return {"side": ev.side, "kind": ev.kind, "text": text, "diff": diff, "seq": ev.seq,
                "t": ev.t_us, "held": held, "f": ev.f}

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
        parts = ", ".join("%d B%s" % (d[1], " device-writes" if d[2] & DESC_F_WRITE else "")
                          for d in bufs)
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

    def _broken(self, st, ev, pos, id, len, why):
        st["broken"] = why
        return "the queue is broken: %s" % why

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

    def _qemu_fill(self, st, ev, pos, elem, len, line, pop_pos=None):
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


def replay(q):
    """(initial state, [step, ...], final state, warnings) of one queue."""
    rp = Replay(q)
    steps = [rp.apply(ev) for ev in q.events]
    return rp.initial, steps, rp.state, rp.warnings
