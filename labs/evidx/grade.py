"""labs/evidx/grade.py: the tests of lab evidx, VIRTIO_RING_F_EVENT_IDX on
both sides of the split ring: the driver's (virtio/virtq.c: need_event,
used_event and the re-check after it) and the device's (devmodel/vdm.c:
avail_event and its re-check, the used_event test). The handout,
labs/evidx/README.md, says what each checks and how the untouched
starter fails it.

Run: make grade (in the lab's starter), make grade LAB=evidx (in the
solution tree), make grade TEST=figure for one test.
"""
import os
import random
import re
import socket
import sys

import gradelib
from gradelib import Lab, ROOT, QemuError

sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))
import netutil  # noqa: E402
import test_net  # noqa: E402

lab = Lab("evidx", "EVENT_IDX on both sides", files=["virtio/virtq.c", "devmodel/vdm.c"],
          trusts=["tests/qemu/test_net.py"], starter_boots=False,
          trace="blk,net")

# The solution's figures at depth 8, notifications and interrupts per
# request: blkbench on QEMU (labtest blk), and the host test
# perf_depth8_ratios against the device model. Measured on the solution
# tree; the proof (make check-labs) grades that tree with this file, so
# a solution that no longer reaches the limit fails there.
SOLUTION = {"qemu": (0.125, 0.125), "host": (0.125, 0.125)}
LIMIT = 0.25

lab.host("notify", 15,
         "the driver notifies only when the device asked (avail_event, need_event), the device "
         "asks for the next entry after each look; without EVENT_IDX every kick notifies",
         perf_features=["perf_event_idx_kick_suppression",
                        "perf_event_idx_kick_suppression_legacy", "perf_no_event_idx_kicks"],
         device=["dev_event_idx_avail_event"])

lab.host("interrupt", 15,
         "the device interrupts only for the entry used_event names; the driver moves used_event "
         "to the next entry it has not seen; a batch costs one interrupt",
         perf_features=["perf_event_idx_interrupt_suppression", "perf_no_event_idx_interrupts"],
         device=["dev_event_idx_interrupts"])

lab.host("race", 20,
         "no notification lost: each side looks again after asking (barrier, then the other "
         "side's index), a completion or an entry that slipped in meanwhile is found",
         perf_features=["perf_event_idx_recheck_race", "perf_no_interrupt_flag_race",
                        "perf_event_idx_recheck_at_barrier"],
         device=["dev_event_idx_recheck"])

lab.host("wrap", 10,
         "70000 requests one at a time: both windows keep working across the 65536 wrap",
         perf_features=["perf_event_idx_wraparound"])


@lab.qemu("load", 15, "correctness under load on QEMU's devices (EVENT_IDX negotiated): files "
          "through the disk, 768 reads 1, 8 and 32 deep, 100 UDP datagrams through the network")
def load(t):
    fwd = netutil.free_port(socket.SOCK_DGRAM)
    with t.guest(extra=netutil.user_net_args(udp_fwd_port=fwd)) as g:
        g.labtest("fs")
        out = g.labtest("blk", timeout=60)
        rows = re.findall(r"^depth (\d+): (\d+) requests, (\d+) device requests, \d+ "
                          r"notifications, \d+ interrupts, (\d+) errors", out, re.M)
        t.check(len(rows) == 3 and all(r[3] == "0" for r in rows),
                "labtest blk: reads failed or no figures:\n" + out)
        echo = g.begin("udpecho", "2000", "150")
        g.expect("udpecho: listening on port 2000", t.timeout(10))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            test_net.echo_round_trips(s, ("127.0.0.1", fwd), 100, deadline_s=t.timeout(60))
            for _ in range(40):
                for _ in range(5):
                    s.sendto(b"stop", ("127.0.0.1", fwd))
                try:
                    g.end(echo, timeout=0.2)
                    break
                except QemuError:
                    continue
        except AssertionError as e:
            t.fail("UDP through virtio-net: %s" % e)
        finally:
            s.close()


def qemu_figure(t):
    with t.guest() as g:
        out = g.labtest("blk", timeout=60)
    m = re.search(r"^depth 8: (\d+) requests, \d+ device requests, (\d+) notifications, "
                  r"(\d+) interrupts, (\d+) errors", out, re.M)
    t.check(m and m.group(4) == "0", "labtest blk printed no figures for depth 8, or reads "
            "failed:\n" + out)
    n = int(m.group(1))
    return int(m.group(2)) / n, int(m.group(3)) / n


def host_figure(t):
    ok, why, out = gradelib.run_host_program(t.grader, "test_perf_features",
                                             ["perf_depth8_ratios"], t.timeout(60))
    # The split ring's run prints first (then the packed ring's). The
    # interrupts counted are the used buffer notifications your device
    # sent (several of them may reach the driver as one interrupt).
    m = re.search(r"depth 8: ([0-9.]+) notifications, [0-9.]+ interrupts per request "
                  r"\(the device sent ([0-9.]+)\)", out)
    t.check(m, "host test perf_depth8_ratios: %s" % (why or "no figures"))
    return float(m.group(1)), float(m.group(2))


@lab.qemu("figure", 15, "at depth 8, at most 0.25 notifications and 0.25 interrupts per request: "
          "blkbench on QEMU, and the block driver against your device model")
def figure(t):
    got = {}
    for where, measure in (("host", host_figure), ("qemu", qemu_figure)):
        notif, intr = measure(t)
        got[where] = (notif, intr)
        t.note("%s depth 8: %.3f notifications, %.3f interrupts per request (the solution: "
               "%.3f, %.3f)" % ("QEMU, blkbench," if where == "qemu" else
                                "host, your device model,", notif, intr, SOLUTION[where][0],
                                SOLUTION[where][1]))
    for where, (notif, intr) in got.items():
        t.check(notif <= LIMIT and intr <= LIMIT,
                "%s: %.3f notifications and %.3f interrupts per request at depth 8: want at most "
                "%.2f of each" % ("QEMU" if where == "qemu" else "the device model", notif, intr,
                                  LIMIT))


@lab.cm3("m3", 10, "the Cortex-M3: blktest against your device model with EVENT_IDX, twice; "
         "driver and device agree on every count; the UART2 echo")
def m3(t):
    with t.cm3() as m:
        for run in range(2):
            try:
                out = m.command("blktest", timeout=4)
            except QemuError:
                t.fail("blktest did not finish within %.0fs: a request waits for a notification "
                       "or an interrupt that never came" % t.timeout(4))
            t.check(re.search(r"blktest: \d+ sectors, \d+ writes and \d+ reads.*: OK", out),
                    "blktest on the Cortex-M3 did not pass:\n" + out.strip())
        stat = m.command("stat")
        row = gradelib.m3_stat_row(stat, "blk", 0)
        t.check(row, "no blk row in the Cortex-M3's stat:\n" + stat)
        req, notify, intr, done, err, dreq, dnotify, dintr, derr = row
        t.check(req > 100 and req == done == dreq and err == 0 and derr == 0 and
                notify == dnotify and intr <= dintr,
                "driver %d requests, %d notifications, %d interrupts; device %d requests, %d "
                "notifications, %d interrupts:\n%s" % (req, notify, intr, dreq, dnotify, dintr, stat))
        data = bytes(random.Random(3).randrange(256) for _ in range(2048))
        got = m.m.echo(data, t.timeout(20))
        t.check(got == data, "UART2: %d bytes sent, %d came back (or changed)" % (len(data),
                                                                                 len(got)))
