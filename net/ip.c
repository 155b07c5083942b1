// ip.c: IPv4 for a host: checks every received header before trusting any
// field of it, hands ICMP and UDP to their modules, and wraps outgoing
// ICMP and UDP in a header and routes them (on-link, via the gateway, or
// broadcast).
//
// Specs: RFC 791 section 3.1 (header format: version, IHL in 32-bit words,
// total length, flags MF/DF, fragment offset, TTL, protocol, header
// checksum, addresses); RFC 1071 (checksum); RFC 1122 3.2.1.3 (which
// addresses a host accepts and must never use as a source) and 3.3.1
// (routing: the destination is on-link if it shares our subnet, otherwise
// the packet goes to the default gateway).
//
// Checks on input, in this order, each with its own counter (net.h):
// at least 20 bytes, version 4, IHL >= 5, IHL*4 bytes present, header
// checksum, IHL*4 <= total length <= bytes present (Ethernet may add padding
// after the packet, so the total length, not the frame, ends it), not a
// fragment (no reassembly here), a sane source, a destination that is us
// or a broadcast, a protocol we speak. The TTL of a packet that reached
// its destination is not checked (RFC 1122 3.2.1.7); we send with TTL 64.
//
// Not done: options are skipped, not interpreted; no fragmentation or
// reassembly (senders are limited to one frame); no loopback (a packet to
// our own address is refused with tx_no_route).
//
// See it run: make -C tests/host/net check
#include "netpriv.h"

#define IP_FLAG_MF    0x2000
#define IP_FRAG_MASK  0x1fff     // fragment offset, in 8-byte units

static uint16_t ip_ident;

void ip_init(void)
{
  // Any start will do for the identification field; vary it a little
  // between boots so two runs do not reuse the same numbers at once.
  ip_ident = (uint16_t)vos_time_ms();
}

// 255.255.255.255, or the directed broadcast of our subnet.
int ip_is_broadcast(uint32_t ip)
{
  uint32_t mask = net_if->netmask;

  if (ip == IP_BROADCAST)
    return 1;
  // A /31 or /32 "subnet" has no broadcast address.
  if (net_if->ip == 0 || mask == 0 || (~mask & 0xfffffffeu) == 0)
    return 0;
  return (ip & mask) == (net_if->ip & mask) && (ip & ~mask) == ~mask;
}

void ip_input(const uint8_t *p, uint32_t len)
{
  uint32_t ihl, total, src, dst;
  int bcast;

  if (len < IP_HLEN) {
    net_count(NS_RX_IP_SHORT);
    return;
  }
  if ((p[0] >> 4) != 4) {
    net_count(NS_RX_IP_BAD_VERSION);
    return;
  }
  ihl = (uint32_t)(p[0] & 0x0f) * 4;
  if (ihl < IP_HLEN) {
    net_count(NS_RX_IP_BAD_HDR_LEN);
    return;
  }
  if (ihl > len) {
    net_count(NS_RX_IP_SHORT);
    return;
  }
  if (net_fold(net_sum(0, p, ihl)) != 0) {
    net_count(NS_RX_IP_BAD_CSUM);
    return;
  }
  total = rd16(p + 2);
  if (total < ihl || total > len) {
    net_count(NS_RX_IP_BAD_LEN);
    return;
  }
  if ((rd16(p + 6) & (IP_FLAG_MF | IP_FRAG_MASK)) != 0) {
    net_count(NS_RX_IP_FRAG);
    return;
  }
  src = rd32(p + 12);
  dst = rd32(p + 16);
  // An answer to a broadcast or multicast source would go to everyone.
  if (src == IP_BROADCAST || ip_is_multicast(src) || ip_is_broadcast(src)) {
    net_count(NS_RX_IP_BAD_SRC);
    return;
  }
  bcast = ip_is_broadcast(dst);
  if (!bcast && (net_if->ip == 0 || dst != net_if->ip)) {
    net_count(NS_RX_IP_NOT_FOR_US);
    return;
  }
  // From here on only p[0 .. total) is the packet.
  if (p[9] == IP_PROTO_ICMP)
    icmp_input(src, bcast, p + ihl, total - ihl);
  else if (p[9] == IP_PROTO_UDP)
    udp_input(src, dst, p + ihl, total - ihl);
  else
    net_count(NS_RX_IP_UNKNOWN_PROTO);
}

// Where a packet to dst goes first: 1 with *hop set for a unicast next hop,
// 2 for Ethernet broadcast, 0 if it cannot go anywhere.
static int ip_route(uint32_t dst, uint32_t *hop)
{
  uint32_t our = net_if->ip, mask = net_if->netmask;

  if (ip_is_broadcast(dst))
    return 2;
  if (dst == 0 || dst == our || (dst >> 24) == 127 || ip_is_multicast(dst))
    return 0;
  if (our != 0 && (dst & mask) == (our & mask)) {
    *hop = dst;
    return 1;
  }
  if (net_if->gateway == 0)
    return 0;
  *hop = net_if->gateway;
  return 1;
}

int ip_send(struct net_tx *t, uint32_t dst, uint8_t proto, uint32_t plen)
{
  uint8_t *h = t->frame + FRAME_IP;
  uint32_t hop = 0;
  int how;

  if (plen > NET_ETH_MTU - IP_HLEN) {
    net_count(NS_TX_TOO_BIG);
    tx_free(t);
    return -1;
  }
  how = ip_route(dst, &hop);
  if (how == 0) {
    net_count(NS_TX_NO_ROUTE);
    tx_free(t);
    return -1;
  }
  h[0] = 0x45;               // version 4, 5 words of header
  h[1] = 0;                  // type of service: routine
  wr16(h + 2, (uint16_t)(IP_HLEN + plen));
  wr16(h + 4, ip_ident++);
  wr16(h + 6, 0);            // may be fragmented on the way; we never do it
  h[8] = IP_TTL;
  h[9] = proto;
  wr16(h + 10, 0);
  wr32(h + 12, net_if->ip);
  wr32(h + 16, dst);
  wr16(h + 10, net_fold(net_sum(0, h, IP_HLEN)));
  t->len = (uint16_t)(FRAME_L4 + plen);
  if (how == 2)
    eth_send(t, eth_broadcast, ETH_TYPE_IP);
  else
    arp_output(t, hop);
  return 0;
}
