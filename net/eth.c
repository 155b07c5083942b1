// eth.c: Ethernet II framing: the first step of every received frame
// (after net_input in net.c), and the last step of every frame we send.
//
// Specs: RFC 894 (IPv4 over Ethernet: ethertype 0x0800, data 46..1500
// bytes, so short frames are padded) and RFC 826 (ARP, ethertype 0x0806).
// A frame here is what the wire carries minus preamble and FCS:
//   destination MAC (6) | source MAC (6) | ethertype (2) | data
// Frames arrive from the driver without the virtio_net_hdr.
//
// See it run: make -C tests/host/net check
#include "netpriv.h"

const uint8_t eth_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

// A received frame (net_input in net.c takes the lock and calls this).
void eth_input(const uint8_t *f, uint32_t len)
{
  uint16_t type;

  if (f == 0 || len < NET_ETH_HLEN) {
    net_count(NS_RX_ETH_SHORT);
    return;
  }
  // The driver's buffers may be larger than a frame; anything past the
  // Ethernet maximum is not a frame we know how to read (and could not
  // hold an IPv4 packet that fits our buffers).
  if (len > NET_FRAME_MAX) {
    net_count(NS_RX_ETH_TOO_LONG);
    return;
  }
  if (!mac_equal(f, net_if->mac) && !mac_equal(f, eth_broadcast)) {
    net_count(NS_RX_ETH_NOT_FOR_US);
    return;
  }
  type = rd16(f + 12);
  if (type == ETH_TYPE_IP)
    ip_input(f + NET_ETH_HLEN, len - NET_ETH_HLEN);
  else if (type == ETH_TYPE_ARP)
    arp_input(f + NET_ETH_HLEN, len - NET_ETH_HLEN);
  else
    net_count(NS_RX_ETH_UNKNOWN_TYPE);
}

void eth_send(struct net_tx *t, const uint8_t dst[6], uint16_t type)
{
  net_copy(t->frame, dst, 6);
  net_copy(t->frame + 6, net_if->mac, 6);
  wr16(t->frame + 12, type);
  if (t->len < NET_FRAME_MIN) {
    // Zero padding: nothing of an earlier frame in this slot leaks out.
    net_zero(t->frame + t->len, NET_FRAME_MIN - t->len);
    t->len = NET_FRAME_MIN;
  }
  tx_queue(t);
}
