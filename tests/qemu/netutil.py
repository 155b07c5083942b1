"""netutil.py: helpers shared by the QEMU tests of the network, the virtio
console and the entropy device (test_net.py, test_vconsole.py, test_rng.py).
Standard library only.

Ports are picked at run time by binding port 0 and letting the kernel of
the host choose, so two test runs on one machine do not collide. (There is
a short window between closing our socket and QEMU binding the port; a
collision there makes QEMU fail to start, which the test reports.)
"""
import socket
import struct
import subprocess

from qemu import vdevice

GUEST_IP = "10.0.2.15"
GATEWAY_IP = "10.0.2.2"
GUEST_MAC = bytes.fromhex("525400123456")


def free_port(kind=socket.SOCK_STREAM):
    """A port number on 127.0.0.1 that nobody uses right now."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def user_net_args(udp_fwd_port=None, pcap=None, mac="52:54:00:12:34:56", transport="mmio"):
    """A virtio-net device on QEMU user networking; host UDP port
    udp_fwd_port goes to guest port 2000. The device reports `mac` in its
    configuration space (VIRTIO_NET_F_MAC); pcap: a capture file;
    transport: one of qemu.TRANSPORTS."""
    netdev = "user,id=n0"
    if udp_fwd_port:
        netdev += ",hostfwd=udp:127.0.0.1:%d-:2000" % udp_fwd_port
    args = ["-netdev", netdev,
            "-device", vdevice("net", transport, "netdev=n0,mac=%s" % mac)]
    if pcap:
        args += ["-object", "filter-dump,id=f0,netdev=n0,file=%s" % pcap]
    return args


_dgram = None


def qemu_has_dgram():
    """QEMU 7.2 added -netdev dgram; older ones (Ubuntu 22.04 has 6.2) only
    know -netdev socket. Asked once, from QEMU's own list of backends."""
    global _dgram
    if _dgram is None:
        try:
            out = subprocess.run(["qemu-system-riscv64", "-netdev", "help"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, timeout=30).stdout
            _dgram = "dgram" in out.split()
        except (OSError, subprocess.SubprocessError):
            _dgram = True    # let QEMU itself report the problem
    return _dgram


def dgram_net_args(qemu_port, harness_port, transport="mmio"):
    """A virtio-net device whose wire is a UDP socket: QEMU receives frames
    on qemu_port and sends them to harness_port, one frame per datagram.
    The test plays the rest of the network. Both backends put one raw
    frame in each datagram, so the test cannot tell them apart."""
    if qemu_has_dgram():
        netdev = ("dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=%d,"
                  "remote.type=inet,remote.host=127.0.0.1,remote.port=%d"
                  % (qemu_port, harness_port))
    else:
        netdev = ("socket,id=n0,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d"
                  % (harness_port, qemu_port))
    return ["-netdev", netdev,
            "-device", vdevice("net", transport, "netdev=n0,mac=52:54:00:12:34:56")]


def pcap_frames(path):
    """The frames in a classic pcap file (what QEMU's filter-dump writes),
    checking the file header as tshark would: magic, version, Ethernet."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise AssertionError("%s: %d bytes, no pcap header" % (path, len(data)))
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xa1b2c3d4:
        order = "<"
    elif magic == 0xd4c3b2a1:
        order = ">"
    else:
        raise AssertionError("%s: not a pcap file (magic %08x)" % (path, magic))
    major, minor, _, _, _, linktype = struct.unpack(order + "HHiIII", data[4:24])
    if (major, minor) != (2, 4) or linktype != 1:
        raise AssertionError("%s: pcap %d.%d, link type %d (want 2.4, Ethernet)"
                             % (path, major, minor, linktype))
    frames, off = [], 24
    while off + 16 <= len(data):
        incl, orig = struct.unpack(order + "II", data[off + 8:off + 16])
        if incl > orig or off + 16 + incl > len(data):
            raise AssertionError("%s: record at %d is cut or lies about its length" % (path, off))
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    if off != len(data):
        raise AssertionError("%s: %d stray bytes at the end" % (path, len(data) - off))
    return frames


def vconsole_args(tcp_port, transport="mmio"):
    """A virtio console whose other end is a TCP server on 127.0.0.1:tcp_port."""
    return ["-chardev", "socket,id=c0,host=127.0.0.1,port=%d,server=on,wait=off" % tcp_port,
            "-device", vdevice("serial", transport), "-device", "virtconsole,chardev=c0"]


def rng_args(transport="mmio"):
    return ["-device", vdevice("rng", transport)]


def netstat(q):
    """The guest's network counters as a dict (name -> int)."""
    out = q.run("netstat -a")
    stats = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            stats[parts[0]] = int(parts[1])
    if not stats:
        raise AssertionError("netstat printed no counters:\n" + out)
    return stats


# ---- building frames by hand (for the malformed-input test) ----

def ip_aton(s):
    return socket.inet_aton(s)


def csum(data):
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ident=1, flags_frag=0, ttl=64, total=None,
         version_ihl=0x45, bad_csum=False):
    tot = total if total is not None else 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", version_ihl, 0, tot, ident, flags_frag, ttl, proto, 0,
                      ip_aton(src), ip_aton(dst))
    c = csum(hdr)
    if bad_csum:
        c ^= 0x5a5a
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + payload


def udp(src_ip, dst_ip, sport, dport, data, length=None, bad_csum=False, no_csum=False):
    ulen = length if length is not None else 8 + len(data)
    hdr = struct.pack("!HHHH", sport, dport, ulen, 0)
    if no_csum:
        return hdr + data
    pseudo = ip_aton(src_ip) + ip_aton(dst_ip) + struct.pack("!BBH", 0, 17, 8 + len(data))
    c = csum(pseudo + hdr + data) or 0xffff
    if bad_csum:
        c ^= 0x1234
    return hdr[:6] + struct.pack("!H", c) + data


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip_aton(spa), tha, ip_aton(tpa))
