"""qemu_events.py: QEMU's own trace events as the device's half of a
recorded queue, for the disk of `make trace` (and any queue QEMU's events
can be tied to).

QEMU (7.2) can print, with `-trace 'virtqueue_*' -trace virtio_queue_notify
-trace virtio_notify -trace 'virtio_blk_*' -D FILE -msg timestamp=on`, one
line per event on its side of the ring:

    27898@1796543307.161460:virtqueue_pop vq 0x7fc6.. elem 0x7fc6.. in_num 2 out_num 1

Those carry QEMU's own pointers, not ring positions or descriptor
numbers. This file turns them into ring terms by counting, which is exact
because the device takes chains off the available ring in order and
publishes used elements in order: the k-th virtqueue_pop of a queue since
the device was reset reads available ring position k; virtqueue_fill's
idx counts from the used.idx the previous virtqueue_flush left; the k-th
virtio_queue_notify is the k-th QueueNotify write the driver counted
(struct virtq_stats.notifies, which the recording holds at its start and
at its stop). The element pointer then ties virtio_blk_handle_read,
virtio_blk_req_complete and virtqueue_fill to the chain the pop took.

Which QEMU queue is a recorded queue: the device's kind comes from its
device-specific events (virtio_blk_* name the block device's pointer,
virtio_rng_* the entropy device's) and the queue number from
virtio_queue_notify; where that is not enough (the console, the network
card), the QEMU queue whose notifications line up in time with the
driver's is taken.

On a packed ring (virtio 1.2 2.8) a buffer takes as many ring entries as
it has (one with an indirect table), so positions do not count one per
buffer; QEMU 7.2 also traces no virtqueue_flush there (its packed flush
has no trace event). There the counting is in buffers instead: the k-th
virtqueue_pop since the reset takes the k-th buffer the driver made
available (struct virtq_stats.added counts them), and the k-th
virtqueue_fill writes the k-th used entry, the one the driver's k-th reap
reads (stats.completions); ring.py then finds the entries by id.

The timestamps are the host's clock, the recording's the guest's time
CSR; both run at the host's pace under QEMU, so one offset relates them,
found from the notifications matched by count (the smallest difference:
QEMU's event follows the driver's write by microseconds). Events are then
merged with the driver's by those rules (a pop after the kick that
published its entry, a reap after the flush that made it visible) and by
time where the rules leave a choice.

Standard library only. Tested by tests/qemu/test_trace.py.
"""
import re

from ring import Event, ahead

LINE_RE = re.compile(r"^(\d+)@(\d+)\.(\d+):(\w+) (.*)$")
KIND_BY_EVENT = {"virtio_blk_": "blk", "virtio_rng_": "rng"}


def _fields(rest):
    """'vq 0x1 elem 0x2 in_num 2' -> {'vq': '0x1', 'elem': '0x2', 'in_num': '2'}"""
    words = rest.split()
    return {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2)}


class QVq:
    """One QEMU VirtQueue, by its pointer."""

    def __init__(self, ptr):
        self.ptr = ptr
        self.vdev = None
        self.n = None
        self.events = []          # (line number, host microseconds, kind, fields)
        self.pops = 0             # since the device's last reset
        self.used = 0
        self.fills = 0
        self.notifies = 0


class QemuLog:
    def __init__(self, text):
        self.vqs = {}
        self.kinds = {}           # vdev pointer -> "blk", "rng"
        self.lines = 0
        elem_vq = {}              # element pointer -> its queue (for the blk events)
        for lineno, line in enumerate(text.split("\n"), 1):
            m = LINE_RE.match(line.strip())
            if not m:
                continue
            self.lines += 1
            us = int(m.group(2)) * 1000000 + int(m.group(3))
            name, f = m.group(4), _fields(m.group(5))
            for prefix, kind in KIND_BY_EVENT.items():
                if name.startswith(prefix):
                    ptr = f.get("vdev") or f.get("rng")
                    if ptr:
                        self.kinds[ptr] = kind
            if name == "virtio_set_status" and f.get("val") == "0":
                for vq in self.vqs.values():
                    if vq.vdev == f.get("vdev"):
                        vq.pops = vq.used = vq.fills = vq.notifies = 0
                        vq.events.append((lineno, us, "reset", {}))
                continue
            vq = self.vqs.get(f.get("vq")) if "vq" in f else None
            if name == "virtio_queue_notify":
                vq = self.vqs.setdefault(f["vq"], QVq(f["vq"]))
                vq.vdev, vq.n = f.get("vdev"), int(f.get("n", -1))
                vq.notifies += 1
                vq.events.append((lineno, us, "notify", {"count": vq.notifies, "n": vq.n}))
            elif name == "virtqueue_pop" and vq:
                elem_vq[f["elem"]] = vq
                vq.events.append((lineno, us, "pop", {"pos": vq.pops & 0xffff, "elem": f["elem"],
                                                      "in_num": int(f["in_num"]),
                                                      "out_num": int(f["out_num"])}))
                vq.pops += 1
            elif name == "virtqueue_fill" and vq:
                vq.events.append((lineno, us, "fill", {"pos": (vq.used + int(f["idx"])) & 0xffff,
                                                       "nfill": vq.fills & 0xffff,
                                                       "elem": f["elem"], "len": int(f["len"])}))
                vq.fills += 1
            elif name == "virtqueue_flush" and vq:
                vq.used += int(f["count"])
                vq.events.append((lineno, us, "flush", {"count": int(f["count"]),
                                                        "used_idx": vq.used & 0xffff}))
            elif name == "virtio_notify" and vq:
                vq.events.append((lineno, us, "irq", {}))
            elif name in ("virtio_blk_handle_read", "virtio_blk_handle_write"):
                vq = elem_vq.get(f.get("req"))
                if vq:
                    vq.events.append((lineno, us, "blk", {"op": name.rsplit("_", 1)[1],
                                                          "elem": f["req"], "sector": int(f["sector"]),
                                                          "nsectors": int(f["nsectors"])}))
            elif name == "virtio_blk_req_complete":
                vq = elem_vq.get(f.get("req"))
                if vq:
                    vq.events.append((lineno, us, "done", {"elem": f["req"], "status": int(f["status"])}))

    def kind_of(self, vq):
        return self.kinds.get(vq.vdev)


def queue_kind(name):
    """'virtio-blk requestq' -> 'blk'"""
    m = re.match(r"virtio-(\w+)", name)
    return m.group(1) if m else None


def _guest_notifies(q):
    """[(notify number since the queue's set-up, guest microseconds)] of the
    recording's notifying kicks."""
    n = q.start_counts.get("notifies", 0)
    out = []
    for ev in q.events:
        if ev.side == "driver" and ev.kind == "KICK" and ev.f["notified"]:
            n += 1
            out.append((n, ev.t_us))
    return out


def _offset(q, vq):
    """Host microseconds minus guest microseconds, from the notifications
    matched by count: (offset, spread, pairs, notifications recorded), or
    None when no pair has times."""
    qn = {f["count"]: us for _, us, kind, f in vq.events if kind == "notify"}
    mine = _guest_notifies(q)
    diffs = [qn[n] - t for n, t in mine if n in qn and t is not None]
    if not diffs:
        return None
    return min(diffs), max(diffs) - min(diffs), len(diffs), len(mine)


def find_vq(q, log):
    """The QEMU queue that is recorded queue q, and the clock offset (None
    if there is no time to go by). None when nothing fits: a queue of a
    kind QEMU's events do not name must have had every one of its recorded
    notifications seen by the QEMU queue, and of those that did, the one
    whose notifications keep the steadiest distance in time is taken."""
    kind = queue_kind(q.name)
    cands = [vq for vq in log.vqs.values() if vq.n == q.index and
             log.kind_of(vq) in (kind, None)]
    typed = [vq for vq in cands if log.kind_of(vq) == kind]
    if len(typed) == 1:
        off = _offset(q, typed[0])
        return typed[0], off[0] if off else None
    best = None
    for vq in cands:
        off = _offset(q, vq)
        if off and off[2] == off[3] and (best is None or off[1] < best[2]):
            best = (vq, off[0], off[1])
    if best is None:
        return None
    return best[0], best[1]


def start_numbers(q):
    """(avail0, used0): where the recording starts in the numbers QEMU's
    pops and fills are counted in. Split: avail.idx published and used.idx
    (ring positions). Packed: buffers made available and used entries read
    since the queue's set-up (a buffer filled but not yet published when
    recording began is taken as published: the next kick publishes it)."""
    if q.packed:
        return q.start_counts.get("added", 0) & 0xffff, q.start_counts.get("completions", 0) & 0xffff
    return q.snapshot["avail_pub"], q.snapshot["used_idx"]


def _published(q, avail0):
    """The number the last kick of the recording published up to."""
    published, added = avail0, avail0
    for ev in q.events:
        if ev.kind == "ADD":
            added = (added + 1) & 0xffff
        elif ev.kind == "KICK":
            published = added if q.packed else ev.f["new"]
    return published


def window(q, vq, offset, t_end_us):
    """QEMU's events of vq that belong to the recording, as ring.Events
    with positions (and guest-clock times when the offset is known); on a
    packed queue pos is the buffer's number instead (see above)."""
    s = q.snapshot
    n0 = q.start_counts.get("notifies", 0)
    n1 = q.stop_counts.get("notifies", n0 + len(_guest_notifies(q)))
    avail0, used0 = start_numbers(q)
    published = _published(q, avail0)
    held = {f.get("head", f.get("id")) for f in s["held"]}

    def t_of(us):
        return us - offset if offset is not None else None

    def in_time(us):
        t = t_of(us)
        return t is None or (t >= 0 and (t_end_us is None or t <= t_end_us))

    picked, elems, popped_before, last_reset = [], set(), {}, -1
    for i, (line, us, kind, f) in enumerate(vq.events):
        if kind == "reset":
            last_reset = i
    for i, (line, us, kind, f) in enumerate(vq.events):
        if i < last_reset:
            continue          # an earlier life of the queue; positions restarted
        keep = False
        if kind == "notify":
            keep = n0 < f["count"] <= n1
        elif kind == "pop":
            p = f["pos"]
            # Published after the start, or (known by the clock) popped after it.
            after_start = not ahead(avail0, p) or (offset is not None and in_time(us))
            keep = after_start and ahead(published, p) and in_time(us)
            if keep:
                elems.add(f["elem"])
            else:
                popped_before[f["elem"]] = p
        elif kind in ("blk", "done"):
            keep = f["elem"] in elems
        elif kind == "fill":
            # A chain the device held when the recording started comes
            # back too: its head is in the available ring at the pop's slot.
            keep = not ahead(used0, f["nfill"] if q.packed else f["pos"]) and in_time(us) and (
                f["elem"] in elems or (f["elem"] in popped_before and held))
        elif kind == "flush":
            keep = bool(picked) and picked[-1][2] == "fill" and in_time(us)
        elif kind == "irq":
            keep = bool(picked) and in_time(us)
        if keep:
            picked.append((line, us, kind, f))
    # Without a clock, an interrupt after the last event that belongs here
    # cannot be placed; it is left out.
    while picked and picked[-1][2] == "irq" and offset is None:
        picked.pop()
    out = []
    for line, us, kind, f in picked:
        if kind == "notify":
            fields = {"n": f["n"], "line": line}
        else:
            fields = dict(f, line=line)
        if kind == "fill":
            fields["pop_pos"] = popped_before.get(f["elem"])
            if q.packed:
                fields["pos"] = f["nfill"]
        out.append(Event("qemu", "QEMU_" + kind.upper(), line, t_of(us), **fields))
    return out


def merge(guest, qemu, avail0=0, packed=False, used0=0):
    """One order for both halves: each QEMU event after the guest step it
    depends on (a pop after the kick that published its position, unless
    that was before the recording began, at avail.idx avail0; the k-th
    notify after the k-th notifying kick), each guest step after the QEMU
    event it depends on (a reap or an interrupt's used.idx after the flush
    that made it visible); by time where both are free to go. On a packed
    queue (start_numbers) a kick publishes every buffer added before it,
    and a reap follows the fill of the same number (no flush is traced)."""
    need_g = []                    # for each QEMU event: guest index it must follow
    nk = 0
    added = avail0
    kick_at = []                   # (index, new avail.idx or buffer number, notify number or 0)
    for i, ev in enumerate(guest):
        if ev.kind == "ADD":
            added = (added + 1) & 0xffff
        if ev.kind == "KICK":
            if ev.f["notified"]:
                nk += 1
            kick_at.append((i, added if packed else ev.f["new"], nk if ev.f["notified"] else 0))
    qn = 0
    for ev in qemu:
        req = -1
        if ev.kind == "QEMU_POP" and not ahead(avail0, ev.f["pos"]):
            for i, new, _ in kick_at:
                if ahead(new, ev.f["pos"]):
                    req = i
                    break
        elif ev.kind == "QEMU_NOTIFY":
            qn += 1
            for i, _, k in kick_at:
                if k == qn:
                    req = i
                    break
        need_g.append(req)
    if packed:
        flush_at = [(j, (ev.f["pos"] + 1) & 0xffff) for j, ev in enumerate(qemu) if ev.kind == "QEMU_FILL"]
    else:
        flush_at = [(j, ev.f["used_idx"]) for j, ev in enumerate(qemu) if ev.kind == "QEMU_FLUSH"]
    need_q = []
    nused = used0
    for ev in guest:
        req = -1
        want = None
        if ev.kind == "USED" and packed:
            nused = (nused + 1) & 0xffff
            want = nused
        elif ev.kind == "USED":
            want = (ev.f["pos"] + 1) & 0xffff
        elif ev.kind == "INTR" and not packed:
            want = ev.f["used_idx"]
        if want is not None:
            for j, used in flush_at:
                if used == want or ahead(used, want):
                    req = j
                    break
        need_q.append(req)
    i = j = 0
    out = []
    while i < len(guest) or j < len(qemu):
        q_free = j < len(qemu) and need_g[j] < i
        if q_free and (i == len(guest) or need_q[i] >= j or guest[i].t_us is None or
                       qemu[j].t_us is None or qemu[j].t_us <= guest[i].t_us):
            out.append(qemu[j])
            j += 1
        elif i < len(guest):
            out.append(guest[i])
            i += 1
        else:
            out.append(qemu[j])
            j += 1
    return out
