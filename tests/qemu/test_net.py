"""QEMU tests of virtio-net and the network stack (virtio/virtio_net.c,
net/, kernel/glue/sysnet.c, user/udpecho.c, nettest.c, ping.c, netstat.c).

  udp_echo_1000   the host sends 1000 datagrams of 1..1400 bytes to the
                  forwarded port; every echo must come back intact
                  (udp_echo_pci*: on virtio-pci; udp_echo_1000_packed: on
                  the packed ring)
  nettest         the guest talks to a UDP server the test runs on the host
  ping            ping 10.0.2.2 (QEMU's gateway answers), with a MAC that is
                  not QEMU's default (it must come from config space) and the
                  capture `make qemu` makes (filter-dump): the pings are in it
  malformed       the test is the whole network (-netdev dgram, or -netdev
                  socket,udp= on a QEMU older than 7.2): a burst of
                  broken frames, then ARP, ping and a UDP echo still work,
                  and netstat counted the drops
  net_legacy      the same driver on the legacy transport (10-byte header,
                  MAC read through the legacy configuration space)

Run one alone with:  python3 tests/run_tests.py udp_echo
"""
import os
import random
import re
import socket
import struct
import threading
import time

from qemu import Qemu, fresh_disk, check_ring, PROMPT
import netutil
from netutil import GUEST_IP, GATEWAY_IP, GUEST_MAC

BOOT_TIMEOUT = 120


def sync(q):
    """Wait until everything printed so far (background jobs too) is read,
    so that the next q.run() sees only its own output."""
    marker = "sync%08x" % random.getrandbits(32)
    q.send("echo %s\n" % marker)
    # The console echoes what we type at once, but the shell may print the
    # prompt of the command before only after that, so the marker can
    # follow a "$ " on its line, or the prompt's space alone when the echo
    # of our line's end fell between "$" and " " (seen as "$\n sync...").
    # (Our typed line has "echo " before it.)
    q.expect(re.compile(r"(?m)^[$ ]*%s\n" % marker), 30)
    q.expect(PROMPT, 30)


def start_udpecho(q):
    q.send("udpecho &\n")
    q.expect("udpecho: listening on port 2000", 30)
    sync(q)


def echo_round_trips(sock, dest, count, progress=None, deadline_s=120):
    """Send `count` datagrams of sizes spread over 1..1400 bytes, one at a
    time, and check each echo. Returns (retries, stale replies, seconds)."""
    rng = random.Random(1234)
    sent_before = set()
    retries = stale = 0
    t0 = time.time()
    for i in range(count):
        size = 1 + (i * 1399) // max(count - 1, 1)
        head = struct.pack("<I", i)[:size]
        payload = head + bytes(rng.getrandbits(8) for _ in range(size - len(head)))
        attempts = 0
        while True:
            if time.time() - t0 > deadline_s:
                raise AssertionError("echo test took longer than %ds (at datagram %d, %d retries)"
                                     % (deadline_s, i, retries))
            sock.sendto(payload, dest)
            got = None
            wait_until = time.time() + 0.5
            while time.time() < wait_until:
                sock.settimeout(max(wait_until - time.time(), 0.01))
                try:
                    data, _ = sock.recvfrom(2048)
                except socket.timeout:
                    break
                if data == payload:
                    got = data
                    break
                if data in sent_before:
                    stale += 1      # the late echo of an earlier try
                    continue
                raise AssertionError("datagram %d (%d bytes): echo corrupted: got %d bytes %r..."
                                     % (i, size, len(data), data[:16]))
            if got is not None:
                break
            attempts += 1
            retries += 1
            if attempts > 10:
                raise AssertionError("datagram %d (%d bytes): no echo after 10 retries" % (i, size))
        sent_before.add(payload)
        if progress and (i + 1) % 250 == 0:
            progress("udp echo: %d/%d datagrams, %d retries" % (i + 1, count, retries))
    return retries, stale, time.time() - t0


def udp_echo_1000(progress, name, transport, packed=False):
    """1000 datagrams of 1..1400 bytes through hostfwd to udpecho: none lost, none corrupted.
    `packed`: every device on the packed ring."""
    port = netutil.free_port(socket.SOCK_DGRAM)
    extra = netutil.user_net_args(udp_fwd_port=port, transport=transport)
    with Qemu(fresh_disk(name), transport=transport, extra=extra, log_name=name,
              packed=packed) as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        # The row's first column: a slot number on MMIO, bus:device.function on PCI.
        where = r"\d+" if transport.startswith("mmio") else r"00:[0-9a-f]{2}\.\d"
        version = "legacy" if transport.endswith("legacy") else "modern"
        assert re.search(r"\n\s*%s\s+\S+\s+\d+\s+%s\s+network \(1\)\s+virtio-net"
                         % (where, version), banner), \
            "no %s virtio-net on %s in the table:\n%s" % (version, transport, banner)
        check_ring(banner, "network", packed)
        start_udpecho(q)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            retries, stale, secs = echo_round_trips(s, ("127.0.0.1", port), 1000, progress)
        finally:
            s.close()
        progress("udp echo: 1000 datagrams in %.1fs, %d retries, %d late echoes" % (secs, retries, stale))
        assert retries <= 50, "too many retries: %d" % retries
        st = netutil.netstat(q)
        assert st.get("rx_udp_delivered", 0) >= 1000, "rx_udp_delivered %r" % st.get("rx_udp_delivered")
        assert st.get("udp_sent", 0) >= 1000, "udp_sent %r" % st.get("udp_sent")
        out = q.run("echo still alive")
        assert out.strip() == "still alive", repr(out)


def test_udp_echo_1000(progress):
    """1000 datagrams of 1..1400 bytes through hostfwd to udpecho: none lost, none corrupted."""
    udp_echo_1000(progress, "net_echo", "mmio")


def test_udp_echo_1000_packed(progress):
    """The same 1000 datagrams with virtio-net on the packed ring (virtio-mmio)."""
    udp_echo_1000(progress, "net_echo_packed", "mmio", packed=True)


def test_udp_echo_pci(progress):
    """The same 1000 datagrams with disk and network on virtio-pci (modern)."""
    udp_echo_1000(progress, "net_echo_pci", "pci")


def test_udp_echo_pci_legacy(progress):
    """The same 1000 datagrams on legacy virtio-pci (10-byte header, fixed queue sizes)."""
    udp_echo_1000(progress, "net_echo_pci_legacy", "pci-legacy")


def test_udp_echo_pci_packed(progress):
    """The same 1000 datagrams on modern virtio-pci with every ring packed."""
    udp_echo_1000(progress, "net_echo_pci_packed", "pci", packed=True)


def reverse_server():
    """A UDP server on 127.0.0.1 that answers every datagram with its bytes
    reversed. Returns (port, counter dict, stop function)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(0.2)
    state = {"count": 0, "stop": False}

    def loop():
        while not state["stop"]:
            try:
                data, addr = srv.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            state["count"] += 1
            srv.sendto(data[::-1], addr)

    t = threading.Thread(target=loop, daemon=True)
    t.start()

    def stop():
        state["stop"] = True
        t.join(2)
        srv.close()
    return srv.getsockname()[1], state, stop


def test_nettest():
    """nettest in the guest against a UDP server on the host (10.0.2.2 is the host)."""
    port, state, stop = reverse_server()
    try:
        with Qemu(fresh_disk("net_nettest"), extra=netutil.user_net_args(),
                  log_name="net_nettest") as q:
            q.expect(PROMPT, BOOT_TIMEOUT)
            out = q.run("nettest %s %d 100" % (GATEWAY_IP, port), 120)
            assert "nettest: OK" in out, "nettest failed:\n" + out
            assert state["count"] >= 100, "the server saw only %d datagrams" % state["count"]
    finally:
        stop()


def test_ping():
    """ping 10.0.2.2 gets replies; the MAC is the one QEMU put in config space;
    the capture (filter-dump, as in `make qemu`) is a pcap file holding the pings."""
    mac = "52:54:00:5e:a1:07"     # not QEMU's default, so it must come from config space
    pcap = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "out",
                                         "net_ping.pcap"))
    if os.path.exists(pcap):
        os.unlink(pcap)
    with Qemu(fresh_disk("net_ping"), extra=netutil.user_net_args(mac=mac, pcap=pcap),
              log_name="net_ping") as q:
        q.expect(PROMPT, BOOT_TIMEOUT)
        out = q.run("ping -c 3 %s" % GATEWAY_IP, 60)
        assert re.search(r"3 sent, 3 received", out), "ping:\n" + out
        assert re.search(r"bytes from 10\.0\.2\.2: icmp_seq=1 time=\d+ ms", out), out
        out = q.run("ping -c 1 -s 1400 %s" % GATEWAY_IP, 60)
        assert "1 received" in out, "a 1400-byte ping:\n" + out
        st = netutil.netstat(q)
        assert st.get("rx_icmp_echo_reply", 0) >= 4, st
        out = q.run("netstat")
        assert re.search(r"(?m)^mac\s+%s$" % mac, out), "MAC not from config space:\n" + out
    # Echo requests from us and replies from the gateway, both ways through
    # our MAC, in the capture.
    ours = bytes.fromhex(mac.replace(":", ""))
    req = rep = 0
    for f in netutil.pcap_frames(pcap):
        if len(f) < 42 or f[12:14] != b"\x08\x00" or f[23] != 1:
            continue
        if f[26:30] == socket.inet_aton(GUEST_IP) and f[6:12] == ours and f[34] == 8:
            req += 1
        if f[26:30] == socket.inet_aton(GATEWAY_IP) and f[0:6] == ours and f[34] == 0:
            rep += 1
    assert req >= 4 and rep >= 4, "packets.pcap: %d echo requests, %d replies" % (req, rep)


# ---- the test as the network ----

HOST_MAC = bytes.fromhex("525500000202")   # the MAC we answer ARP with for 10.0.2.2


def malformed_frames():
    """(name, frame) pairs, each broken in one way, plus seeded random garbage."""
    g, h = GUEST_MAC, HOST_MAC
    ok_udp = netutil.udp(GATEWAY_IP, GUEST_IP, 5555, 2000, b"x" * 10)
    frames = [
        ("3 bytes", b"\x01\x02\x03"),
        ("13 bytes", g + h + b"\x08"),
        ("unknown ethertype", netutil.eth(g, h, 0x88b5, bytes(46))),
        ("not our MAC", netutil.eth(bytes.fromhex("020000000099"), h, 0x0800,
                                    netutil.ipv4(GATEWAY_IP, GUEST_IP, 17, ok_udp))),
        ("truncated IP header", netutil.eth(g, h, 0x0800, bytes([0x45]) + bytes(9))),
        ("IP version 6", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 17, ok_udp,
                                                                version_ihl=0x65))),
        ("IHL 4", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 17, ok_udp,
                                                         version_ihl=0x44))),
        ("bad IP checksum", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 17, ok_udp,
                                                                   bad_csum=True))),
        ("IP length lies", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 17, ok_udp,
                                                                  total=1000))),
        ("IP length below header", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 17,
                                                                          ok_udp, total=12))),
        ("fragment MF", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 17, ok_udp,
                                                               flags_frag=0x2000))),
        ("fragment offset", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 17, ok_udp,
                                                                   flags_frag=0x0010))),
        ("unknown protocol", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 99, ok_udp))),
        ("not our IP", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, "10.0.2.99", 17, ok_udp))),
        ("broadcast source", netutil.eth(g, h, 0x0800, netutil.ipv4("255.255.255.255", GUEST_IP, 17,
                                                                    ok_udp))),
        ("bad UDP checksum", netutil.eth(g, h, 0x0800, netutil.ipv4(
            GATEWAY_IP, GUEST_IP, 17, netutil.udp(GATEWAY_IP, GUEST_IP, 5555, 2000, b"y" * 10,
                                                  bad_csum=True)))),
        ("UDP length lies", netutil.eth(g, h, 0x0800, netutil.ipv4(
            GATEWAY_IP, GUEST_IP, 17, netutil.udp(GATEWAY_IP, GUEST_IP, 5555, 2000, b"z" * 10,
                                                  length=200, no_csum=True)))),
        ("UDP length 4", netutil.eth(g, h, 0x0800, netutil.ipv4(
            GATEWAY_IP, GUEST_IP, 17, netutil.udp(GATEWAY_IP, GUEST_IP, 5555, 2000, b"z" * 10,
                                                  length=4, no_csum=True)))),
        ("UDP header cut", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 17, b"\x15\xb3\x07"))),
        ("UDP to a closed port", netutil.eth(g, h, 0x0800, netutil.ipv4(
            GATEWAY_IP, GUEST_IP, 17, netutil.udp(GATEWAY_IP, GUEST_IP, 5555, 2999, b"q")))),
        ("ICMP cut", netutil.eth(g, h, 0x0800, netutil.ipv4(GATEWAY_IP, GUEST_IP, 1, b"\x08\x00\x00"))),
        ("bad ICMP checksum", netutil.eth(g, h, 0x0800, netutil.ipv4(
            GATEWAY_IP, GUEST_IP, 1, b"\x08\x00\x12\x34\x00\x01\x00\x01" + b"abcd"))),
        ("ARP cut", netutil.eth(g, h, 0x0806, bytes(10))),
        ("ARP bad opcode", netutil.eth(g, h, 0x0806, netutil.arp(9, h, GATEWAY_IP, bytes(6), GUEST_IP))),
        ("1600-byte frame", netutil.eth(g, h, 0x0800, bytes(1586))),
    ]
    rng = random.Random(4242)
    for i in range(300):
        n = rng.randrange(0, 1515)
        body = bytes(rng.getrandbits(8) for _ in range(n))
        if i % 2 and n >= 34:
            # our MAC and the IPv4 type, so the garbage reaches the IP layer
            body = g + h + b"\x08\x00" + bytes([0x45]) + body[15:]
        frames.append(("random %d" % i, body))
    return frames


class FakeNet:
    """The test as 10.0.2.2: a UDP socket carries one Ethernet frame per datagram."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.qemu_port = netutil.free_port(socket.SOCK_DGRAM)

    def send(self, frame):
        self.sock.sendto(frame, ("127.0.0.1", self.qemu_port))

    def frames(self, seconds):
        """Frames from the guest for up to `seconds`; answers its ARP requests."""
        end = time.time() + seconds
        while time.time() < end:
            self.sock.settimeout(max(end - time.time(), 0.01))
            try:
                f, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                return
            if len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01" \
                    and f[38:42] == socket.inet_aton(GATEWAY_IP):
                self.send(netutil.eth(f[6:12], HOST_MAC, 0x0806,
                                      netutil.arp(2, HOST_MAC, GATEWAY_IP, f[22:28], GUEST_IP)))
                continue
            yield f

    def close(self):
        self.sock.close()


def ipv4_payload(f, proto):
    """The payload of an IPv4 frame from the guest with this protocol, or None."""
    if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != proto:
        return None
    ihl = (f[14] & 15) * 4
    total = struct.unpack("!H", f[16:18])[0]
    assert netutil.csum(f[14:14 + ihl]) == 0, "guest sent a bad IP header checksum"
    return f[14 + ihl:14 + total]


def udp_frame(data):
    """A good frame carrying a datagram from 10.0.2.2:5555 to udpecho."""
    return netutil.eth(GUEST_MAC, HOST_MAC, 0x0800, netutil.ipv4(
        GATEWAY_IP, GUEST_IP, 17, netutil.udp(GATEWAY_IP, GUEST_IP, 5555, 2000, data)))


def exchange_udp(net, data, tries=5):
    """Send a good datagram to udpecho; return True when its echo arrives."""
    frame = udp_frame(data)
    for _ in range(tries):
        net.send(frame)
        for f in net.frames(1.0):
            p = ipv4_payload(f, 17)
            if p and struct.unpack("!HH", p[:4]) == (2000, 5555):
                assert p[8:] == data, "echo differs: %r" % p[8:]
                return True
    return False


def test_malformed(progress):
    """Broken frames (short, bad checksums, lengths that lie, fragments, unknown
    protocols, garbage) are counted and dropped; ARP, ping and UDP still work."""
    net = FakeNet()
    try:
        extra = netutil.dgram_net_args(net.qemu_port, net.port)
        with Qemu(fresh_disk("net_malformed"), extra=extra, log_name="net_malformed") as q:
            q.expect(PROMPT, BOOT_TIMEOUT)
            start_udpecho(q)
            before = netutil.netstat(q)
            frames = malformed_frames()
            for i, (name, f) in enumerate(frames):
                net.send(f)
                if i % 16 == 15:
                    time.sleep(0.01)   # do not overrun QEMU's queue of frames for the guest
            progress("sent %d malformed frames" % len(frames))
            for _ in net.frames(0.5):
                pass                   # whatever the guest answered to the garbage

            # ARP: who has 10.0.2.15?
            net.send(netutil.eth(b"\xff" * 6, HOST_MAC, 0x0806,
                                 netutil.arp(1, HOST_MAC, GATEWAY_IP, bytes(6), GUEST_IP)))
            got_arp = any(f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02" and f[28:32] ==
                          socket.inet_aton(GUEST_IP) and f[22:28] == GUEST_MAC
                          for f in net.frames(1.0))
            assert got_arp, "no ARP reply from the guest after the burst"

            # ping the guest
            icmp = b"\x08\x00\x00\x00\x12\x34\x00\x07" + b"pingdata" * 4
            icmp = icmp[:2] + struct.pack("!H", netutil.csum(icmp)) + icmp[4:]
            net.send(netutil.eth(GUEST_MAC, HOST_MAC, 0x0800,
                                 netutil.ipv4(GATEWAY_IP, GUEST_IP, 1, icmp)))
            replies = [p for p in (ipv4_payload(f, 1) for f in net.frames(1.0)) if p]
            assert any(p[0] == 0 and p[4:8] == b"\x12\x34\x00\x07" and p[8:] == icmp[8:]
                       for p in replies), "no echo reply from the guest: %r" % replies

            assert exchange_udp(net, b"hello after the storm"), "udpecho did not answer"
            assert exchange_udp(net, bytes(range(256)) * 5), "udpecho did not answer 1280 bytes"

            st = netutil.netstat(q)
            grew = {k: st.get(k, 0) - before.get(k, 0) for k in st}
            want = ["rx_eth_short", "rx_eth_unknown_type", "rx_eth_not_for_us", "rx_ip_short",
                    "rx_ip_bad_version", "rx_ip_bad_hdr_len", "rx_ip_bad_csum", "rx_ip_bad_len",
                    "rx_ip_frag", "rx_ip_unknown_proto", "rx_ip_not_for_us", "rx_ip_bad_src",
                    "rx_udp_bad_csum", "rx_udp_bad_len", "rx_udp_short", "rx_udp_no_socket",
                    "rx_icmp_short", "rx_icmp_bad_csum", "rx_arp_bad"]
            missing = [k for k in want if grew.get(k, 0) < 1]
            assert not missing, "drops not counted: %s\ncounters grew: %s" % (
                missing, {k: v for k, v in grew.items() if v})
            progress("drops counted: " + ", ".join("%s=%d" % (k, grew[k]) for k in want))
            out = q.run("echo still alive")
            assert out.strip() == "still alive", repr(out)
    finally:
        net.close()


def test_net_legacy():
    """The legacy transport: 10-byte virtio_net_hdr, ping and UDP echo work."""
    port = netutil.free_port(socket.SOCK_DGRAM)
    extra = netutil.user_net_args(udp_fwd_port=port, mac="52:54:00:c0:ff:ee")
    with Qemu(fresh_disk("net_legacy"), transport="mmio-legacy", extra=extra,
              log_name="net_legacy") as q:
        banner = q.expect(PROMPT, BOOT_TIMEOUT)
        assert re.search(r"virtio-net \S+: legacy transport, mac 52:54:00:c0:ff:ee, 10-byte header",
                         banner), banner
        out = q.run("ping -c 2 %s" % GATEWAY_IP, 60)
        assert "2 received" in out, "ping:\n" + out
        start_udpecho(q)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            echo_round_trips(s, ("127.0.0.1", port), 100, deadline_s=60)
        finally:
            s.close()
