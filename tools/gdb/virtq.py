"""virtq.py: gdb commands that print a virtqueue the way a person wants to
see it while the kernel is stopped at a breakpoint. `make qemu-gdb` writes
a .gdbinit that loads this file; by hand: `source tools/gdb/virtq.py`.

    (gdb) vq blk              the disk's request queue
    (gdb) vq net rx           the network card's receive queue (tx: transmit)
    (gdb) vq console tx       the virtio console's transmit queue of port 0 (rx: receive;
                              console ctrl rx / ctrl tx: the MULTIPORT control queues)
    (gdb) vq rng              the entropy device's queue
    (gdb) vq &vb->vq          any struct virtq, by expression
    (gdb) lsdev               the device table (kernel/glue/vdev.c slots[])

`vq` prints (virtio 1.2 section 2.7, the split virtqueue; the layout is
drawn in virtio/virtio.h):
  - the driver's positions (its private avail_idx, what it published,
    last_used) and the device's (used.idx it wrote, avail_event it asked
    for), and both sides' suppression words;
  - every chain the driver has handed out: its head, its token, the
    descriptors as the device will follow them (desc.next in the table,
    into the indirect table when the ring descriptor says INDIRECT);
  - the free list, in the order the next chain will take descriptors
    (link[], the driver's private copy, which the device never sees);
  - the available ring entries the device has not consumed yet and the
    last few before them, and the used ring entries the driver has not
    reaped yet and the last few before them;
  - for a queue on the packed ring (virtio 1.2 section 2.8, `make qemu
    PACKED=1`) instead: print_packed() below, the driver's positions with
    their wrap counters, both event suppression structures, every buffer
    out by id, and the ring from the next used entry to the next free
    one, each entry's AVAIL/USED bits read against the lap it is in.

Memory is read with gdb's own reads of the target (no kernel code runs),
so the commands work at any breakpoint, even inside the driver's lock.

Tested by tests/qemu/test_trace.py (test_gdb_vq), which stops the kernel
after virtq_kick in vblk_rw and compares this printout with the ring read
by plain gdb memory commands.
"""
import struct

import gdb

DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
NO_TABLE = 0xffff

# Where each driver's queues live: (expression, what the queue is).
QUEUES = {
    "blk": ("'disk.c'::disk.vq", "virtio-blk requestq"),
    "rng": ("'devfiles.c'::rng_dev.vq", "virtio-rng requestq"),
    "console rx": ("'devfiles.c'::vcons_dev.port[0].rxq", "virtio-console receiveq (port 0)"),
    "console tx": ("'devfiles.c'::vcons_dev.port[0].txq", "virtio-console transmitq (port 0)"),
    "console ctrl rx": ("'devfiles.c'::vcons_dev.crxq", "virtio-console control receiveq"),
    "console ctrl tx": ("'devfiles.c'::vcons_dev.ctxq", "virtio-console control transmitq"),
    "net rx": ("'sysnet.c'::vnet_dev.rxq", "virtio-net receiveq"),
    "net tx": ("'sysnet.c'::vnet_dev.txq", "virtio-net transmitq"),
}
ALIASES = {"console": "console rx", "net": "net rx", "disk": "blk"}
SHOW_BEFORE = 4     # ring entries shown before the interesting ones
TYPE_NAMES = {1: "network", 2: "block", 3: "console", 4: "entropy"}   # virtio 1.2 section 5


def flags_text(f):
    names = [n for bit, n in ((DESC_F_NEXT, "NEXT"), (DESC_F_WRITE, "WRITE"),
                              (DESC_F_INDIRECT, "INDIRECT")) if f & bit]
    return "|".join(names) or "0"


def read(addr, n):
    return bytes(gdb.selected_inferior().read_memory(int(addr), n))


def u16s(addr, n):
    return list(struct.unpack("<%dH" % n, read(addr, 2 * n))) if n else []


def descs(addr, n):
    """n descriptors at addr: [(addr, len, flags, next)]."""
    raw = read(addr, 16 * n)
    return [struct.unpack_from("<QIHH", raw, 16 * i) for i in range(n)]


def field_array(vq, name, n):
    """The first n entries of an array member of struct virtq."""
    arr = vq[name]
    return u16s(arr.address, n) if arr.type.target().sizeof == 2 else \
        [int(arr[i]) for i in range(n)]


def has_field(value, name):
    return any(f.name == name for f in value.type.strip_typedefs().fields())


class Ring:
    """A struct virtq read once from the target."""

    def __init__(self, vq):
        self.vq = vq
        self.size = int(vq["size"])
        self.index = int(vq["index"])
        self.desc_addr = int(vq["desc"])
        self.avail_addr = int(vq["avail"])
        self.used_addr = int(vq["used"])
        n = self.size
        self.desc = descs(self.desc_addr, n) if self.desc_addr else []
        av = u16s(self.avail_addr, 3 + n) if self.avail_addr else [0] * (3 + n)
        self.avail_flags, self.avail_idx, self.avail_ring, self.used_event = av[0], av[1], av[2:2 + n], av[2 + n]
        if self.used_addr:
            raw = read(self.used_addr, 4 + 8 * n + 2)
            self.used_flags, self.used_idx = struct.unpack_from("<HH", raw, 0)
            self.used_ring = [struct.unpack_from("<II", raw, 4 + 8 * i) for i in range(n)]
            self.avail_event = struct.unpack_from("<H", raw, 4 + 8 * n)[0]
        else:
            self.used_flags = self.used_idx = self.avail_event = 0
            self.used_ring = []
        self.link = field_array(vq, "link", n)
        self.chain_len = field_array(vq, "chain_len", n)
        self.itab_of = field_array(vq, "itab_of", n)
        self.writable = [int(vq["writable"][i]) for i in range(n) if self.chain_len[i]]
        self.drv_avail = int(vq["avail_idx"])
        self.avail_pub = int(vq["avail_pub"])
        self.last_used = int(vq["last_used"])
        self.nfree = int(vq["nfree"])
        self.free_head = int(vq["free_head"])
        self.outstanding = int(vq["outstanding"])
        self.event_idx = int(vq["event_idx"])
        self.broken = int(vq["broken"])
        self.itab_addr = int(vq["itab"])
        self.itab_entries = int(vq["itab_entries"])
        self.itab_count = int(vq["itab_count"])

    def free_list(self):
        out, d = [], self.free_head
        for _ in range(min(self.nfree, self.size)):
            out.append(d)
            d = self.link[d]
        return out

    def heads(self):
        return [i for i in range(self.size) if self.chain_len[i]]

    def chain(self, head):
        """The chain at head as the device will walk it: ring descriptors
        by desc.next, and for an INDIRECT one its table's entries."""
        out, d, seen = [], head, set()
        while d < self.size and d not in seen:
            seen.add(d)
            a, ln, f, nx = self.desc[d]
            entry = {"index": d, "addr": a, "len": ln, "flags": f, "next": nx, "table": []}
            if f & DESC_F_INDIRECT:
                entries = ln // 16
                entry["table"] = descs(a, min(entries, 1024))
            out.append(entry)
            if not f & DESC_F_NEXT:
                break
            d = nx
        return out


def print_chain(ring, head, token):
    t = ring.itab_of[head]
    print("  head %d  token %s  %d ring descriptor%s%s" % (
        head, token, ring.chain_len[head], "" if ring.chain_len[head] == 1 else "s",
        "  (indirect table %d)" % t if t != NO_TABLE else ""))
    for e in ring.chain(head):
        print("    desc[%d] addr 0x%x len %d flags %s next %s" % (
            e["index"], e["addr"], e["len"], flags_text(e["flags"]),
            e["next"] if e["flags"] & DESC_F_NEXT else "-"))
        for j, (a, ln, f, nx) in enumerate(e["table"]):
            print("      table[%d] addr 0x%x len %d flags %s next %s" % (
                j, a, ln, flags_text(f), nx if f & DESC_F_NEXT else "-"))


def print_rings(ring):
    n = ring.size
    print("available ring (driver -> device): avail.idx %d, entries up to the driver's next (%d):"
          % (ring.avail_idx, ring.drv_avail))
    # A few entries before, unless the ring has not been round once yet.
    first = (ring.avail_idx - SHOW_BEFORE) & 0xffff if ring.avail_idx >= SHOW_BEFORE else 0
    pos = first
    while pos != ring.drv_avail and ((pos - first) & 0xffff) < n:
        published = ((ring.avail_idx - pos - 1) & 0xffff) < 0x8000
        mark = "" if published else "  (not yet published)"
        if ring.event_idx and pos == ring.avail_event:
            mark += "  <- avail_event: the device wants a notification for this one"
        print("  avail.ring[%d] (position %d) = %d%s" % (pos % n, pos, ring.avail_ring[pos % n], mark))
        pos = (pos + 1) & 0xffff
    print("used ring (device -> driver): used.idx %d, the driver has reaped up to %d:"
          % (ring.used_idx, ring.last_used))
    first = (ring.last_used - SHOW_BEFORE) & 0xffff if ring.last_used >= SHOW_BEFORE else 0
    pos = first
    while pos != ring.used_idx and ((pos - first) & 0xffff) < n:
        i, ln = ring.used_ring[pos % n]
        late = ((pos - ring.last_used) & 0xffff) < 0x8000
        print("  used.ring[%d] (position %d) = {id %d, len %d}%s" % (
            pos % n, pos, i, ln, "  (not yet reaped)" if late else ""))
        pos = (pos + 1) & 0xffff


DESC_F_AVAIL, DESC_F_USED = 1 << 7, 1 << 15
EVENT_FLAGS = {0: "ENABLE", 1: "DISABLE", 2: "DESC", 3: "reserved"}


def is_packed(vq):
    return has_field(vq, "packed") and int(vq["packed"]) != 0


def event_text(addr):
    """A struct pvirtq_event_suppress (2.8.14): desc and flags."""
    desc, flags = struct.unpack("<HH", read(addr, 4))
    text = EVENT_FLAGS[flags & 3]
    if flags & 3 == 2:
        text += " (entry %d, wrap %d)" % (desc & 0x7fff, desc >> 15)
    return text


def print_packed(vq):
    """The packed ring (virtio 1.2 section 2.8, virtio/virtq_packed.c) with
    the driver's wrap counters: positions, both event suppression
    structures, the buffers out by id, and every entry from the next used
    one on that holds a buffer, its AVAIL/USED bits read against its lap:
    AVAIL = USED = W is used (not read yet), AVAIL = W and USED = !W
    available; the first entry filled since the last kick has its flags
    held back (the kick stores them), so it still shows the lap before."""
    if not is_packed(vq):
        print("packed ring: none (this queue is a split ring)")
        return
    n = int(vq["size"])
    ring = [struct.unpack_from("<QIHH", read(int(vq["ring"]), 16 * n), 16 * i) for i in range(n)]
    nfree, unpub = int(vq["nfree"]), int(vq["unpub"])
    nu, uw = int(vq["next_used"]), int(vq["used_wrap"])
    pa, pw = int(vq["pub_avail"]), int(vq["pub_wrap"])
    print("packed ring (virtio 1.2 2.8): next entry to fill %d (wrap %d), the device sees up to %d "
          "(wrap %d), %d filled since the last kick" % (int(vq["next_avail"]), int(vq["avail_wrap"]),
                                                          pa, pw, unpub))
    print("driver: next used entry %d (wrap %d), %d entries in flight, %d free, %d buffers out"
          % (nu, uw, n - nfree - unpub, nfree, int(vq["outstanding"])))
    print("events: driver's structure (interrupts) %s; device's structure (notifications) %s"
          % (event_text(int(vq["driver_event"])), event_text(int(vq["device_event"]))))
    chain_len = field_array(vq, "chain_len", n)
    itab_of = field_array(vq, "itab_of", n)
    ids = [i for i in range(n) if chain_len[i]]
    print("buffers out (%d):" % len(ids))
    for i in ids:
        print("  id %d  token %s  %d ring entr%s%s" % (
            i, str(vq["token"][i]), chain_len[i], "y" if chain_len[i] == 1 else "ies",
            "  (indirect table %d)" % itab_of[i] if itab_of[i] != NO_TABLE else ""))
    print("ring from the next used entry, the %d entries that hold buffers:" % (n - nfree))
    pos, w = nu, uw
    for k in range(n - nfree):
        addr, ln, i, f = ring[pos]
        a, u = int(bool(f & DESC_F_AVAIL)), int(bool(f & DESC_F_USED))
        if k >= n - nfree - unpub:
            state = "flags held back until the kick" if pos == pa else "filled, not yet published"
        elif a == w and u == w:
            state = "used, not read yet"
        elif a == w:
            state = "available"
        else:
            state = "flags of another lap: a device error"
        print("  ring[%d] (wrap %d) addr 0x%x len %d id %d flags %s AVAIL=%d USED=%d: %s" % (
            pos, w, addr, ln, i, flags_text(f), a, u, state))
        pos += 1
        if pos == n:
            pos, w = 0, w ^ 1


def print_vq(vq, what):
    dev = vq["dev"]
    base = int(dev["base"]) if int(dev) else 0
    if is_packed(vq):
        # None of the split ring's areas exist: the packed view alone.
        print("%s: queue %d of device 0x%x, %d entries, packed%s%s" % (
            what, int(vq["index"]), base, int(vq["size"]),
            ", EVENT_IDX" if int(vq["event_idx"]) else "",
            ", BROKEN" if int(vq["broken"]) else ""))
        print_packed(vq)
        return
    r = Ring(vq)
    print("%s: queue %d of device 0x%x, %d entries%s%s%s" % (
        what, r.index, base, r.size, ", EVENT_IDX" if r.event_idx else "",
        ", %d indirect tables of %d" % (r.itab_count, r.itab_entries) if r.itab_count else "",
        ", BROKEN: %s" % vq["broken_why"].string() if r.broken and int(vq["broken_why"]) else
        (", BROKEN" if r.broken else "")))
    if r.size == 0 or not r.desc_addr:
        print("  (not set up)")
        return
    print("driver: next avail entry %d, published avail.idx %d, last_used %d, %d outstanding, %d free"
          % (r.drv_avail, r.avail_pub, r.last_used, r.outstanding, r.nfree))
    print("device: used.idx %d, avail_event %d, used.flags %d%s" % (
        r.used_idx, r.avail_event, r.used_flags, " (NO_NOTIFY)" if r.used_flags & 1 else ""))
    print("rings:  avail.idx %d, avail.flags %d%s, used_event %d" % (
        r.avail_idx, r.avail_flags, " (NO_INTERRUPT)" if r.avail_flags & 1 else "", r.used_event))
    heads = r.heads()
    print("outstanding chains (%d):" % len(heads))
    for h in heads:
        print_chain(r, h, str(vq["token"][h]))
    fl = r.free_list()
    print("free list (%d): %s%s" % (len(fl), " ".join(map(str, fl[:32])),
                                    " ..." if len(fl) > 32 else ""))
    print_rings(r)
    print_packed(vq)


def find_queue(arg):
    key = " ".join(arg.split())
    key = ALIASES.get(key, key)
    if key in QUEUES:
        expr, what = QUEUES[key]
        return gdb.parse_and_eval(expr), what
    v = gdb.parse_and_eval(arg)
    if v.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        v = v.dereference()
    return v, arg


class VqCommand(gdb.Command):
    """Print a virtqueue: vq blk | net rx | net tx | console rx | console tx | console ctrl rx |
    console ctrl tx | rng | EXPR (a struct virtq)."""

    def __init__(self):
        super().__init__("vq", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            print("usage: vq blk | net rx | net tx | console rx | console tx | console ctrl rx | "
                  "console ctrl tx | rng | EXPR")
            return
        vq, what = find_queue(arg)
        print_vq(vq, what)


class LsdevCommand(gdb.Command):
    """The virtio device table as kernel/glue/vdev.c keeps it (slots[])."""

    def __init__(self):
        super().__init__("lsdev", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        slots = gdb.parse_and_eval("'vdev.c'::slots")
        n = int(gdb.parse_and_eval("'vdev.c'::nslots"))
        nmmio = int(gdb.parse_and_eval("'vdev.c'::nmmio"))   # rows after these are PCI
        print("slot    base        irq  version  type         driver          ring    queues")
        for i in range(n):
            s = slots[i]
            d = s["dev"]
            drv = s["driver"].string() if int(s["driver"]) else "-"
            short = drv[len("virtio-"):] if drv.startswith("virtio-") else None
            qs = [k for k in QUEUES if short and k.split()[0] == short]
            dtype = "%s (%d)" % (TYPE_NAMES.get(int(d["device_id"]), "unknown"), int(d["device_id"]))
            slot = int(d["slot"])
            where = ("%02x:%02x.%d" % (slot >> 8, (slot >> 3) & 31, slot & 7) if i >= nmmio
                     else "%d" % slot)
            # The layout the driver negotiated: VIRTIO_F_RING_PACKED is bit 34.
            ring = "-" if not int(s["b"]) else (
                "packed" if (int(d["features"]) >> 34) & 1 else "split")
            print("%-7s 0x%08x  %-4d %-8s %-12s %-15s %-7s %s" % (
                where, int(d["base"]), int(d["irq"]),
                "legacy" if int(d["version"]) == 1 else "modern", dtype, drv, ring,
                ", ".join("vq " + k for k in qs) or "-"))


VqCommand()
LsdevCommand()
