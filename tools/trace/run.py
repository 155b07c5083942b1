#!/usr/bin/env python3
"""run.py: `make trace CMD='cat README.md'`: boot the kernel under QEMU,
record what the command does to the virtqueues, and write a page that
steps through it. The last line printed is the page's path.

    python3 tools/trace/run.py --cmd 'cat README.md' [--devices blk,net] [--cpus 3] [--packed]

What happens:
  1. QEMU starts (tests/qemu/qemu.py, the harness every QEMU test uses) on
     a copy of fs.img with the devices `make qemu` attaches (with --packed,
     as `make qemu PACKED=1`: every device offers the packed ring), QEMU's own
     virtio trace events going to build/trace/qemu-trace.log
     (-trace 'virtqueue_*' ... -D ... -msg timestamp=on) and its machine
     protocol (QMP) on a private socket.
  2. At the shell prompt: `cat vtrace | wc` (so that loading vtrace
     costs no disk request later), `lsdev -v`, then `vtrace -d DEVICES "CMD"`
     (user/vtrace.c: recording on through /dev/vtrace, the command through
     sh, recording off, the records printed between marker lines), then
     `lsdev -v` again.
  3. QEMU's monitor is asked how it sees each recorded queue
     (x-query-virtio-queue-status, the JSON of `info virtio-queue-status`).
  4. QEMU is stopped; the records are taken from the console transcript
     (build/trace/console.log), QEMU's events merged as the device's half
     (qemu_events.py), and the page written (vtrace.py):
     build/trace/index.html.

Standard library only.
"""
import argparse
import os
import re
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))

import netutil  # noqa: E402
import qemu  # noqa: E402
import records  # noqa: E402
import vtrace  # noqa: E402

OUTDIR = os.path.join(ROOT, "build", "trace")
QEMU_EVENTS = ["virtqueue_*", "virtio_queue_notify", "virtio_notify", "virtio_set_status",
               "virtio_blk_handle_read", "virtio_blk_handle_write", "virtio_blk_req_complete",
               "virtio_rng_popped"]
END_RE = re.compile(r"==vtrace end \d+ records==\n")
KIND_NAMES = {"blk": "virtio-blk", "net": "virtio-net", "rng": "virtio-rng",
              "console": "virtio-serial"}


def qemu_args(outdir):
    """The devices of `make qemu` and QEMU's trace events into a file."""
    extra = (netutil.rng_args() + netutil.user_net_args() +
             netutil.vconsole_args(netutil.free_port(socket.SOCK_STREAM)))
    for ev in QEMU_EVENTS:
        extra += ["-trace", ev]
    extra += ["-D", os.path.join(outdir, "qemu-trace.log"), "-msg", "timestamp=on"]
    return extra


def monitor_view(q, devices):
    """What QEMU's monitor says about every queue of the recorded devices:
    text for the page, and the raw answers."""
    mon = q.qmp()
    try:
        lines, raw = [], []
        for dev in mon.call("x-query-virtio"):
            kind = next((k for k, n in KIND_NAMES.items() if dev["name"] == n), None)
            if kind is None or ("all" not in devices and kind not in devices):
                continue
            for n in range(2):
                try:
                    st = mon.call("x-query-virtio-queue-status", path=dev["path"], queue=n)
                except qemu.QemuError:
                    break
                raw.append((dev["path"], n, st))
                lines.append("%s (%s) queue %d: last_avail_idx %d, used_idx %d, shadow_avail_idx %d, "
                             "inuse %d" % (dev["name"], dev["path"], n, st["last-avail-idx"],
                                           st["used-idx"], st["shadow-avail-idx"], st["inuse"]))
        return "\n".join(lines), raw
    finally:
        mon.close()


def record(cmd, devices, cpus, outdir, timeout, log=print, packed=False):
    """Boot, run cmd under vtrace, and return (console transcript, QEMU's
    trace log, lsdev -v before, after, monitor text)."""
    if '"' in cmd:
        raise SystemExit("trace: CMD may not contain a double quote (it is passed to the "
                         "guest's shell inside one)")
    os.makedirs(outdir, exist_ok=True)
    disk = os.path.join(outdir, "fs.img")
    qemu.sparse_copy(qemu.FSIMG, disk)
    tlog = os.path.join(outdir, "qemu-trace.log")
    if os.path.exists(tlog):
        os.unlink(tlog)
    with qemu.Qemu(disk, cpus=cpus, extra=qemu_args(outdir), log_name="trace", qmp=True,
                   packed=packed) as q:
        q.log_path = os.path.join(outdir, "console.log")
        log("trace: booting QEMU (%d harts%s)" % (cpus, ", packed rings" if packed else ""))
        q.expect(qemu.PROMPT, 120)
        # vtrace itself is read from the disk the first time it runs: read it
        # into the cache now (through a pipe: a file would be a write, and
        # its commit a second later would land in the recording), so that
        # between the two `lsdev -v` the disk does exactly what the
        # recording shows.
        q.run("cat vtrace | wc")
        before = q.run("lsdev -v")
        log("trace: running `%s` with the queues of %s recorded" % (cmd, devices))
        q.send('vtrace -d %s "%s"\n' % (devices, cmd))
        q.expect(END_RE, timeout)
        q.expect(qemu.PROMPT, 60)
        after = q.run("lsdev -v")
        monitor, _ = monitor_view(q, devices.split(","))
        transcript = q.transcript
    with open(tlog, errors="replace") as f:
        qlog = f.read()
    return transcript, qlog, before, after, monitor


def main():
    ap = argparse.ArgumentParser(description="record a command's virtqueue traffic as a page")
    ap.add_argument("--cmd", default="cat README.md")
    ap.add_argument("--devices", default="blk", help="blk, console, net, rng, all (comma-separated)")
    ap.add_argument("--cpus", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=300, help="seconds the command may take")
    ap.add_argument("--out", default=OUTDIR)
    ap.add_argument("--packed", action="store_true",
                    help="every device offers the packed ring (virtio 1.2 2.8), as PACKED=1")
    args = ap.parse_args()
    transcript, qlog, before, after, monitor = record(args.cmd, args.devices, args.cpus, args.out,
                                                      args.timeout, packed=args.packed)
    ct = records.from_console(transcript)
    meta = {"title": "virtqueue trace: %s" % args.cmd, "command": args.cmd,
            "devices": args.devices, "damaged": len(ct.damaged), "packed": args.packed,
            "lsdev_before": before.strip(), "lsdev_after": after.strip(), "monitor": monitor}
    data = vtrace.build(ct.records, qlog, meta)
    for q in data["queues"]:
        print("trace: %s: %d steps (%s)%s" % (q["name"], len(q["steps"]),
                                               q["qemu"]["note"] or "no QEMU events",
                                               "; %d warnings" % len(q["warnings"]) if q["warnings"] else ""))
    if data["meta"]["dropped"]:
        print("trace: %d steps were dropped: the buffer was full" % data["meta"]["dropped"])
    print(os.path.relpath(vtrace.page(data, os.path.join(args.out, "index.html")), ROOT))


if __name__ == "__main__":
    main()
