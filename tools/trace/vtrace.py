#!/usr/bin/env python3
"""vtrace.py: turns a virtqueue recording into a page that steps through
it: per queue, the descriptor table, the available ring and the used ring
(a packed queue: its one descriptor ring, the positions with their wrap
counters, the event suppression structures and the buffer ids out) as
each step changes them, and a timeline of notifications and interrupts.
The page is one static HTML file (opens from file://).

    python3 tools/trace/vtrace.py --records build/host/trace-blk.vtr -o build/trace/host.html
    python3 tools/trace/vtrace.py --console tests/out/trace.log --qemu-log LOG -o page.html

`make trace` (tools/trace/run.py) calls page() directly. The recording
comes from virtio/virtq_trace.c (records.py decodes it), the replay from
ring.py, QEMU's half from qemu_events.py; the page's script and style are
trace.js and trace.css beside this file, copied into the page.

Standard library only.
"""
import argparse
import datetime
import html
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import qemu_events  # noqa: E402
import records  # noqa: E402
import ring  # noqa: E402


def match_queues(rec, qlog):
    """{qid: (QEMU queue, clock offset)} for the recorded queues QEMU's log
    can be tied to. A queue with nothing to go by itself (no device-specific
    event, no notification in the recording: a receive queue, say) is found
    through a sibling on the same device: same device, same QEMU device,
    and its queue number. The clocks are the same for every queue, so one
    offset serves all."""
    found = {qid: qemu_events.find_vq(q, qlog) for qid, q in rec.queues.items()}
    offsets = [f[1] for f in found.values() if f and f[1] is not None]
    offset = offsets[0] if offsets else None
    for qid, q in rec.queues.items():
        if found[qid]:
            continue
        sib = next((found[o] for o, oq in rec.queues.items() if found[o] and oq.base == q.base), None)
        if sib:
            vq = next((v for v in qlog.vqs.values() if v.vdev == sib[0].vdev and v.n == q.index), None)
            if vq:
                found[qid] = (vq, None)
    return {qid: (f[0], f[1] if f[1] is not None else offset) for qid, f in found.items() if f}


def queue_data(rec, q, qlog=None, match=None):
    """One queue's part of the page: snapshot, steps, counters, and what
    was found of QEMU's half."""
    qemu = {"used": False, "note": ""}
    events = q.events
    if qlog is not None:
        found = (match or {}).get(q.qid)
        if found is None and not q.events:
            qemu["note"] = "nothing happened on this queue while it was recorded"
        elif found is None:
            qemu["note"] = "QEMU's trace has no queue that matches this one"
        else:
            vq, offset = found
            t_end = None
            if rec.end_t is not None:
                t_end = rec.us(rec.end_t)
            qev = qemu_events.window(q, vq, offset, t_end)
            avail0, used0 = qemu_events.start_numbers(q)
            events = qemu_events.merge(q.events, qev, avail0, q.packed, used0)
            qemu.update(used=True, events=len(qev), clock=offset is not None,
                        note="%d of QEMU's trace events (device %s, queue %d)%s"
                        % (len(qev), vq.vdev, vq.n,
                           "" if offset is not None else "; no clock to align them, so by order only"))
    q.events = events
    initial, steps, final, warnings = ring.replay(q)
    return {
        "qid": q.qid, "name": q.name, "size": q.size, "index": q.index, "base": "%#x" % q.base,
        "packed": q.packed, "event_idx": q.event_idx, "indirect": q.indirect, "tables": list(q.tables),
        "device_model": q.device is not None,
        "initial": initial, "steps": steps, "final": final,
        "start_counts": q.start_counts, "stop_counts": q.stop_counts,
        "warnings": warnings, "qemu": qemu,
    }


def build(recs, qemu_log=None, meta=None):
    """The page's data: {meta, queues}."""
    rec = ring.split(recs)
    rec.end_t = next((r.t for r in recs if r.kind == "END"), None)
    qlog = qemu_events.QemuLog(qemu_log) if qemu_log else None
    meta = dict(meta or {})
    meta.setdefault("made", datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    meta.update(records=len(recs), dropped=rec.dropped, clock_hz=rec.clock_hz,
                capacity=rec.capacity, qemu_lines=qlog.lines if qlog else 0)
    match = match_queues(rec, qlog) if qlog else None
    return {"meta": meta, "queues": [queue_data(rec, q, qlog, match) for _, q in sorted(rec.queues.items())]}


def page(data, out):
    """Write the page to `out` (its folder is made); returns out."""
    with open(os.path.join(HERE, "trace.css")) as f:
        css = f.read()
    with open(os.path.join(HERE, "trace.js")) as f:
        js = f.read()
    title = data["meta"].get("title", "virtqueue trace")
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    text = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n"
            "<header><h1>%s</h1><div id=\"meta\"></div></header>\n"
            "<nav id=\"tabs\"></nav>\n<main id=\"queues\"></main>\n"
            "<script id=\"trace-data\" type=\"application/json\">%s</script>\n"
            "<script>\n%s</script>\n</body></html>\n"
            % (html.escape(title), css, html.escape(title), blob, js))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    return out


def main():
    ap = argparse.ArgumentParser(description="a virtqueue recording as a step-through page")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--records", help="a file of raw 32-byte records (the host tests write these)")
    src.add_argument("--console", help="a console transcript holding user/vtrace.c's framed lines")
    ap.add_argument("--qemu-log", help="QEMU's trace log (-trace ... -D FILE -msg timestamp=on)")
    ap.add_argument("--title", default="virtqueue trace")
    ap.add_argument("-o", "--out", required=True, help="the page to write")
    args = ap.parse_args()
    meta = {"title": args.title}
    if args.records:
        recs = records.from_file(args.records)
        meta["source"] = args.records
    else:
        with open(args.console, errors="replace") as f:
            ct = records.from_console(f.read())
        recs = ct.records
        meta.update(source=args.console, damaged=len(ct.damaged))
    qlog = None
    if args.qemu_log:
        with open(args.qemu_log, errors="replace") as f:
            qlog = f.read()
    print(page(build(recs, qlog, meta), args.out))


if __name__ == "__main__":
    main()
