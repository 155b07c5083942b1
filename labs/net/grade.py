"""labs/net/grade.py: the tests of lab net, the network driver's data path
(virtio/virtio_net.c). The handout, labs/net/README.md, says what each
checks and how the untouched starter fails it.

The QEMU tests put the kernel on a network: QEMU's user networking (its
gateway 10.0.2.2 answers ping; host UDP ports are forwarded to the
guest), with a packet capture (QEMU's filter-dump) the grader reads with
the standard library; or, for the malformed frames, a UDP socket that is
the whole wire (tests/qemu/test_net.py's FakeNet), so that the grader
injects any frame it likes. Every port is picked at run time.

Run: make grade (in the lab's starter), make grade LAB=net (in the solution
tree), make grade TEST=wire for one test.
"""
import os
import re
import socket
import struct
import sys
import time

from gradelib import Lab, ROOT, QemuError

sys.path.insert(0, os.path.join(ROOT, "tests", "qemu"))
import netutil  # noqa: E402
import test_net  # noqa: E402
from netutil import GATEWAY_IP, GUEST_IP  # noqa: E402

lab = Lab("net", "the network driver", files=["virtio/virtio_net.c"],
          trusts=["devmodel/", "tests/qemu/test_net.py"],
          trace="net")

lab.host("tx", 15,
         "frames go out behind a header of zeros, transmit buffers come back and are used again",
         devmodel=["net_tx_reclaim", "net_roundtrip_modern", "net_roundtrip_legacy",
                   "net_stack_arp_reply"])

lab.host("rx", 15,
         "receive buffers stay posted; a used.len shorter than the header or a header asking "
         "for segmentation is dropped and counted",
         devmodel=["net_rx_refill", "fault_net_rx_gso", "fault_net_short_len"])

lab.host("faults", 10,
         "a device that lies in either used ring, goes silent, resets or refuses: the driver "
         "gives up or waits, never reads a buffer it does not own",
         devmodel=["fault_net_rx_bad_id", "fault_net_rx_dup_id", "fault_net_rx_big_len",
                   "fault_net_rx_idx_jump", "fault_net_tx_bad_id", "fault_net_tx_dup_id",
                   "fault_net_tx_big_len", "fault_net_tx_idx_jump", "fault_net_tx_never",
                   "fault_net_rx_needs_reset", "fault_net_refuse_features"])


def stop_udpecho(g, echo, send_one):
    """udpecho stops after its count of datagrams: send it more, a few at
    a time, until labtest says it exited."""
    for _ in range(40):
        for _ in range(5):
            send_one()
        try:
            return g.end(echo, timeout=0.2)
        except QemuError:
            continue
    return g.end(echo, timeout=5)


def driver_counters(g):
    """netstat's counters (stack and driver) in the guest."""
    out = g.run("netstat", "-a")
    return {k: int(v) for k, v in re.findall(r"(?m)^(\w+)\s+(\d+)$", out)}


@lab.qemu("udp", 15, "UDP both ways: the guest to a server on the host, the host to the "
          "guest's echo server; every datagram of 1 to 1400 bytes comes back intact")
def udp(t):
    port, state, stop = test_net.reverse_server()
    fwd = netutil.free_port(socket.SOCK_DGRAM)
    try:
        with t.guest(extra=netutil.user_net_args(udp_fwd_port=fwd)) as g:
            out = g.run("nettest", GATEWAY_IP, str(port), "40", timeout=60, status=None)
            t.check(g.status == 0 and "nettest: OK" in out,
                    "nettest to the grader's UDP server on the host failed (exit %d):\n%s"
                    % (g.status, out))
            t.check(state["count"] >= 40, "the server saw only %d datagrams" % state["count"])
            echo = g.begin("udpecho", "2000", "150")
            g.expect("udpecho: listening on port 2000", t.timeout(10))
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                test_net.echo_round_trips(s, ("127.0.0.1", fwd), 100, deadline_s=t.timeout(60))
            except AssertionError as e:
                t.fail("datagrams from the host to the guest's udpecho (port 2000): %s" % e)
            finally:
                s.close()
            # udpecho stops after 150 datagrams (100 and room for retries);
            # the rest need no answer.
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                stop_udpecho(g, echo, lambda: s.sendto(b"stop", ("127.0.0.1", fwd)))
            finally:
                s.close()
    finally:
        stop()


@lab.qemu("ping", 10, "ping 10.0.2.2 (QEMU's gateway) gets its replies, 56 and 1400 bytes")
def ping(t):
    with t.guest(extra=netutil.user_net_args()) as g:
        out = g.run("ping", "-c", "3", GATEWAY_IP, timeout=30, status=None)
        t.check(re.search(r"3 sent, 3 received", out), "ping 10.0.2.2:\n" + out)
        out = g.run("ping", "-c", "1", "-s", "1400", GATEWAY_IP, timeout=30, status=None)
        t.check("1 received" in out, "a ping of 1400 bytes:\n" + out)


def wire_problems(frames, mac):
    """What is wrong with the frames the guest (source `mac`) put on the
    wire: (problems, how many frames the guest sent)."""
    bad, ours = [], 0
    for n, f in enumerate(frames):
        if len(f) >= 12 and f[6:12] != mac and f[0:6] != mac and not f[0] & 1:
            # Neither from nor to us: a frame whose first bytes are not
            # addresses, e.g. a virtio_net_hdr sent along (12 zero bytes).
            bad.append("frame %d (%d bytes) starts %s: no Ethernet header of ours there "
                       "(a virtio_net_hdr on the wire?)" % (n, len(f), f[:14].hex()))
            continue
        if f[6:12] != mac:
            continue
        ours += 1
        what = "frame %d from the guest (%d bytes)" % (n, len(f))
        if len(f) < 60 or len(f) > 1514:
            bad.append("%s: an Ethernet frame is 60 to 1514 bytes" % what)
            continue
        etype = struct.unpack("!H", f[12:14])[0]
        if etype == 0x0806:
            # ARP: 28 bytes after the header, zero padding to 60.
            if f[14:20] != b"\x00\x01\x08\x00\x06\x04" or any(f[42:60]) or len(f) != 60:
                bad.append("%s: not a well-formed padded ARP packet: %s" % (what, f[:60].hex()))
        elif etype == 0x0800:
            ihl = (f[14] & 15) * 4
            total = struct.unpack("!H", f[16:18])[0]
            if f[14] >> 4 != 4 or ihl < 20 or netutil.csum(f[14:14 + ihl]) != 0:
                bad.append("%s: the IPv4 header is damaged: %s" % (what, f[14:34].hex()))
            elif len(f) > 60 and len(f) != 14 + total:
                bad.append("%s: the IP packet says %d bytes, the frame carries %d after the "
                           "Ethernet header (stray bytes, e.g. a header sent twice?)"
                           % (what, total, len(f) - 14))
            elif len(f) == 60 and 14 + total < 60 and any(f[14 + total:]):
                bad.append("%s: the padding after the %d-byte IP packet is not zeros"
                           % (what, total))
        else:
            bad.append("%s: ethertype 0x%04x, which this stack never sends" % (what, etype))
    return bad, ours


@lab.qemu("wire", 15, "the frames on the wire (QEMU's capture, read by the grader): well formed, "
          "no virtio_net_hdr bytes in them, replies to every request")
def wire(t):
    pcap = t.path("pcap")
    mac = "52:54:00:5e:a1:07"     # not QEMU's default: the driver must read the device's
    port, state, stop = test_net.reverse_server()
    try:
        with t.guest(extra=netutil.user_net_args(mac=mac, pcap=pcap)) as g:
            g.run("ping", "-c", "2", GATEWAY_IP, timeout=30, status=None)
            g.run("ping", "-c", "1", "-s", "1400", GATEWAY_IP, timeout=30, status=None)
            g.run("nettest", GATEWAY_IP, str(port), "12", timeout=60, status=None)
    finally:
        stop()
    t.check(os.path.exists(pcap), "QEMU wrote no capture")
    frames = netutil.pcap_frames(pcap)
    ours = bytes.fromhex(mac.replace(":", ""))
    bad, nours = wire_problems(frames, ours)
    t.note("capture: %d frames, %d of them from the guest (%s)"
           % (len(frames), nours, os.path.relpath(pcap, ROOT)))
    t.check(not bad, "%d frames on the wire are wrong; the first:\n%s" % (len(bad),
            "\n".join(bad[:5])))
    t.check(nours >= 10, "the capture holds %d frames from the guest's MAC %s; ping and "
            "nettest should have sent at least 10" % (nours, mac))
    big = [f for f in frames if f[6:12] == ours and len(f) == 14 + 20 + 8 + 1400]
    t.check(big, "no 1442-byte frame (the 1400-byte ping) from the guest in the capture")
    replies = [f for f in frames if f[0:6] == ours and len(f) >= 42 and f[12:14] == b"\x08\x00"
               and f[23] == 1 and f[34] == 0]
    t.check(len(replies) >= 3, "the capture holds %d ping replies to the guest" % len(replies))


# The drops of the stack that the malformed frames below must show.
DROPS = ["rx_eth_short", "rx_eth_unknown_type", "rx_eth_not_for_us", "rx_ip_short",
         "rx_ip_bad_csum", "rx_ip_bad_len", "rx_ip_frag", "rx_udp_bad_csum", "rx_udp_bad_len",
         "rx_icmp_bad_csum", "rx_arp_bad"]


@lab.qemu("malformed", 20, "a burst of broken frames from the wire (short, damaged, garbage): "
          "counted and dropped; ARP, ping and UDP work after it")
def malformed(t):
    net = test_net.FakeNet()
    try:
        with t.guest(extra=netutil.dgram_net_args(net.qemu_port, net.port)) as g:
            before = driver_counters(g)
            echo = g.begin("udpecho", "2000", "12")
            g.expect("udpecho: listening on port 2000", t.timeout(10))
            frames = test_net.malformed_frames()
            for i, (name, f) in enumerate(frames):
                net.send(f)
                if i % 16 == 15:
                    time.sleep(0.01)   # QEMU keeps only so many frames for the guest
            for _ in net.frames(0.5):
                pass
            net.send(netutil.eth(b"\xff" * 6, test_net.HOST_MAC, 0x0806,
                                 netutil.arp(1, test_net.HOST_MAC, GATEWAY_IP, bytes(6), GUEST_IP)))
            t.check(any(f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02"
                        for f in net.frames(1.0)),
                    "no ARP reply from the guest after %d broken frames" % len(frames))
            icmp = b"\x08\x00\x00\x00\x12\x34\x00\x07" + b"pingdata" * 4
            icmp = icmp[:2] + struct.pack("!H", netutil.csum(icmp)) + icmp[4:]
            net.send(netutil.eth(netutil.GUEST_MAC, test_net.HOST_MAC, 0x0800,
                                 netutil.ipv4(GATEWAY_IP, GUEST_IP, 1, icmp)))
            replies = [p for p in (test_net.ipv4_payload(f, 1) for f in net.frames(1.0)) if p]
            t.check(any(p[0] == 0 and p[8:] == icmp[8:] for p in replies),
                    "no echo reply from the guest after the broken frames")
            t.check(test_net.exchange_udp(net, b"after the storm"),
                    "udpecho did not answer after the broken frames")
            t.check(test_net.exchange_udp(net, bytes(range(256)) * 5),
                    "udpecho did not answer a datagram of 1280 bytes")
            stop_udpecho(g, echo, lambda: net.send(test_net.udp_frame(b"stop")))
            after = driver_counters(g)
    finally:
        net.close()
    grew = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    missing = [k for k in DROPS if grew.get(k, 0) < 1]
    t.check(not missing, "the stack counted no drop for %s: did those frames reach it?\n"
            "counters that grew: %s" % (", ".join(missing),
                                        {k: v for k, v in grew.items() if v}))
    t.check(grew.get("vnet_rx_frames", 0) >= len(frames) // 2,
            "the driver handed only %d frames to the stack" % grew.get("vnet_rx_frames", 0))
    t.note("the driver took %d frames in, the stack dropped them for %d reasons"
           % (grew.get("vnet_rx_frames", 0), sum(1 for k in grew if k.startswith("rx_") and grew[k])))
