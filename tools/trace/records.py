"""records.py: the virtqueue recording's records (virtio/virtq_trace.h),
read from a file of raw records or from a console transcript.

The names and numbers of the record types, counters and flags are read
from virtio/virtq_trace.h itself, so the C side and this one cannot drift
apart: a record type added there is known here by its name at once.

    recs = records.from_console(text)     # the lines user/vtrace.c printed
    recs = records.from_file("build/host/trace-blk.vtr")
    recs[0].kind == "BEGIN"

Each record is 32 bytes, little-endian: seq (u32), type (u8), qid (u8),
a, b, c (u16), d (u32), x (u64), t (u64). TEXT, FREE and AVRING records
carry data in bytes 8..31 instead of b..t.

Standard library only. Tested by tests/qemu/test_trace.py.
"""
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HEADER = os.path.join(ROOT, "virtio", "virtq_trace.h")

LAYOUT = struct.Struct("<IBBHHHIQQ")
SIZE = LAYOUT.size
assert SIZE == 32

BEGIN_MARK = "==vtrace begin v1=="
END_RE = re.compile(r"^==vtrace end (\d+) records==$")
LINE_RE = re.compile(r"^vt ([0-9a-f]{64}) ([0-9a-f]{4})$")


class FormatError(Exception):
    pass


def _read_header(path=HEADER):
    """The enums and #defines of virtq_trace.h: {name: value}."""
    with open(path) as f:
        text = f.read()
    text = re.sub(r"//[^\n]*", "", text)
    names = {}
    for m in re.finditer(r"#define\s+(VTR_\w+)\s+(\d+)", text):
        names[m.group(1)] = int(m.group(2))
    for body in re.findall(r"enum\s+\w+\s*\{(.*?)\}", text, re.S):
        value = -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                name, v = item.split("=")
                value = int(v.strip(), 0)
                name = name.strip()
            else:
                name = item
                value += 1
            names[name] = value
    return names


NAMES = _read_header()
TYPES = {v: k[4:] for k, v in NAMES.items()
         if k.startswith("VTR_") and not k.startswith(("VTR_C_", "VTR_Q_", "VTR_WHY_"))
         and k not in ("VTR_VERSION", "VTR_MAX_QUEUES", "VTR_NTYPES")}
COUNTERS = {v: k[6:].lower() for k, v in NAMES.items() if k.startswith("VTR_C_") and k != "VTR_C_N"}
VERSION = NAMES["VTR_VERSION"]


class Record:
    __slots__ = ("seq", "type", "qid", "a", "b", "c", "d", "x", "t", "raw", "kind")

    def __init__(self, raw):
        (self.seq, self.type, self.qid, self.a, self.b, self.c, self.d, self.x,
         self.t) = LAYOUT.unpack(raw)
        self.raw = raw
        self.kind = TYPES.get(self.type, "?%d" % self.type)

    def u16s(self, n=12):
        """Bytes 8..31 as twelve 16-bit entries (FREE, AVRING)."""
        return list(struct.unpack("<12H", self.raw[8:32]))[:n]

    def text(self):
        return self.raw[8:32].split(b"\0")[0].decode("utf-8", "replace")

    def __repr__(self):
        return "<%s q%d a=%d b=%d c=%d d=%d x=%#x>" % (self.kind, self.qid, self.a, self.b,
                                                       self.c, self.d, self.x)


def pack(kind, qid=0, a=0, b=0, c=0, d=0, x=0, t=0, seq=0, payload=None):
    """One record's bytes (tests build known recordings with it)."""
    raw = LAYOUT.pack(seq, NAMES["VTR_" + kind], qid, a, b, c, d, x, t)
    if payload is not None:
        if isinstance(payload, str):
            payload = payload.encode()
        elif isinstance(payload, (list, tuple)):
            payload = struct.pack("<%dH" % len(payload), *payload)
        raw = raw[:8] + payload.ljust(24, b"\0")[:24]
    return raw


def decode(data):
    if len(data) % SIZE:
        raise FormatError("%d bytes is not a whole number of %d-byte records" % (len(data), SIZE))
    return [Record(data[i:i + SIZE]) for i in range(0, len(data), SIZE)]


def from_file(path):
    with open(path, "rb") as f:
        return decode(f.read())


def fletcher16(data):
    a = b = 0
    for byte in data:
        a = (a + byte) % 255
        b = (b + a) % 255
    return (b << 8) | a


class ConsoleTrace:
    """The framed block user/vtrace.c printed: records, plus what was
    wrong with the lines between the markers."""

    def __init__(self, records, damaged, claimed):
        self.records = records
        self.damaged = damaged      # lines between the markers that were not a good record
        self.claimed = claimed      # the count the end marker gave


def from_console(text):
    """The last framed recording in a console transcript. Lines with a bad
    checksum or a bad shape are skipped and counted; a missing record
    (its seq skipped) raises, since the replay would go wrong from there."""
    lines = text.replace("\r", "").split("\n")
    try:
        start = len(lines) - 1 - lines[::-1].index(BEGIN_MARK)
    except ValueError:
        raise FormatError("no %r line in the transcript" % BEGIN_MARK)
    recs, damaged, claimed = [], [], None
    for line in lines[start + 1:]:
        m = END_RE.match(line)
        if m:
            claimed = int(m.group(1))
            break
        m = LINE_RE.match(line)
        if not m:
            damaged.append(line)
            continue
        raw = bytes.fromhex(m.group(1))
        if fletcher16(raw) != int(m.group(2), 16):
            damaged.append(line)
            continue
        recs.append(Record(raw))
    if claimed is None:
        raise FormatError("the recording has no end marker (the transcript stops inside it)")
    for i, r in enumerate(recs):
        if r.seq != i:
            raise FormatError("record %d is missing (a damaged line?); damaged lines: %r"
                              % (i, damaged[:3]))
    if len(recs) != claimed:
        raise FormatError("%d records read, the end marker says %d" % (len(recs), claimed))
    return ConsoleTrace(recs, damaged, claimed)
