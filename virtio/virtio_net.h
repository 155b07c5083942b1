// virtio_net.h: the virtio network device driver (Ethernet frames in and
// out), built on virtq.h and virtio_mmio.h, and its glue to the portable
// network stack in net/ (struct netif, net_input). Portable C.
//
// Follows virtio 1.2 section 5.1 (Network Device): 5.1.3 feature bits (we
// accept VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS, nothing that changes
// the frames: no checksum offload, no TSO, no MRG_RXBUF), 5.1.4 the
// configuration layout (mac, status), 5.1.5 initialization, 5.1.6 device
// operation: every frame, both ways, is preceded by a struct virtio_net_hdr
// (5.1.6; 5.1.6.1 for the legacy 10-byte form), and 5.1.6.3 receive
// buffers must each hold a whole frame when MRG_RXBUF is off.
//
// See it run: `make qemu`, then `ping 10.0.2.2`, `udpecho`, `netstat`;
// tests/qemu/test_net.py; packets.pcap (filter-dump) shows every frame.
//
// Buffers: VNET_RX_BUFS receive buffers stay posted at all times (each one
// is re-posted once its frame has been handed on and the used ring is
// drained: see reap_rx for why not sooner), and VNET_TX_BUFS
// transmit buffers are taken back as the device finishes them. A buffer is
// two descriptors, the header and the frame, because a legacy device
// without VIRTIO_F_ANY_LAYOUT requires the header in a descriptor of its
// own (5.1.6.6 legacy interface); a modern one accepts it too.
//
// Usage (what kernel/glue/vdev.c does):
//   static struct vnet vn; static struct netif nif;
//   vnet_init(&vn, &dev);              // MAC from config space
//   net_set_qemu_defaults(&nif); net_init(&nif);
//   vnet_attach_netif(&vn, &nif);      // frames now flow to and from the stack
//   vnet_intr(&vn);                    // from the device's interrupt
//
// Locking: rx_lock guards the receive queue, tx_lock the transmit queue.
// Received frames are handed to the receiver with rx_lock held, and the
// receiver may transmit (an ARP or echo reply from inside net_input): that
// takes tx_lock, never rx_lock, so it cannot deadlock. vnet_send never
// sleeps, so it may be called from an interrupt.
#ifndef VIRTIO_NET_H
#define VIRTIO_NET_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"

// ---- spec facts (5.1) ----
#define VIRTIO_NET_F_CSUM        0   // device checksums frames we send (offload)
#define VIRTIO_NET_F_GUEST_CSUM  1   // we accept frames with partial checksums
#define VIRTIO_NET_F_MTU         3
#define VIRTIO_NET_F_MAC         5   // mac[] in configuration space is valid
#define VIRTIO_NET_F_GUEST_TSO4  7
#define VIRTIO_NET_F_MRG_RXBUF   15  // a frame may span several receive buffers
#define VIRTIO_NET_F_STATUS      16  // status in configuration space is valid
#define VIRTIO_NET_F_CTRL_VQ     17
#define VIRTIO_F_ANY_LAYOUT      27  // legacy: header and data may share a descriptor

#define VIRTIO_NET_CFG_MAC       0   // u8 mac[6]
#define VIRTIO_NET_CFG_STATUS    6   // le16
#define VIRTIO_NET_S_LINK_UP     1

#define VIRTIO_NET_RXQ           0   // receiveq1
#define VIRTIO_NET_TXQ           1   // transmitq1

// The header in front of every frame (5.1.6). A modern (VIRTIO_F_VERSION_1)
// device always uses all 12 bytes; a legacy one without MRG_RXBUF leaves
// num_buffers out, so its header is 10 bytes. The 16-bit fields are
// little-endian on the wire; this driver only ever writes them as 0 and
// reads nothing but the one-byte gso_type, so it needs no conversions.
struct virtio_net_hdr {
  uint8_t  flags;        // VIRTIO_NET_HDR_F_*
  uint8_t  gso_type;     // VIRTIO_NET_HDR_GSO_*
  uint16_t hdr_len;      // only for GSO
  uint16_t gso_size;
  uint16_t csum_start;   // only with NEEDS_CSUM
  uint16_t csum_offset;
  uint16_t num_buffers;  // receive with MRG_RXBUF: buffers this frame spans
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio_net_hdr is 12 bytes");
#define VIRTIO_NET_HDR_LEN_MODERN   12
#define VIRTIO_NET_HDR_LEN_LEGACY   10
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0

// ---- sizes ----
// #ifndef defaults, like the other drivers' sizes, so that a port short of
// memory can pass smaller ones with -D (the host tests of the network stack
// use the defaults; the Cortex-M3 port does not build this driver).
#ifndef VNET_RX_BUFS
#define VNET_RX_BUFS   16
#endif
#ifndef VNET_TX_BUFS
#define VNET_TX_BUFS   16
#endif
#define VNET_FRAME_MAX 1514        // Ethernet header + 1500, no FCS, no VLAN tag
#define VNET_DATA_SIZE 1520        // room for a frame in one buffer (>= VNET_FRAME_MAX)

// One buffer: header, then the frame. 1536 bytes, so buffers pack evenly.
// The header is a struct virtio_net_hdr, so the code names its fields; the
// union rounds it up to 16 bytes (only the first hdr_len go to the device:
// a legacy device's header stops before num_buffers).
struct vnet_buf {
  union {
    struct virtio_net_hdr h;
    uint8_t bytes[16];
  } hdr;
  uint8_t data[VNET_DATA_SIZE];
};

struct vnet_stats {
  uint32_t rx_frames;      // frames handed to the receiver
  uint32_t rx_bytes;
  uint32_t rx_short;       // used.len shorter than the header: dropped
  uint32_t rx_bad_hdr;     // header asks for something we never negotiated: dropped
  uint32_t rx_no_receiver; // nobody attached yet: dropped
  uint32_t tx_frames;      // frames handed to the device
  uint32_t tx_bytes;
  uint32_t tx_ring_full;   // every transmit buffer busy: frame refused
  uint32_t tx_bad_len;     // empty or longer than VNET_FRAME_MAX: refused
  uint32_t tx_reclaimed;   // transmit buffers the device gave back
  uint32_t interrupts;
};

struct netif;

struct vnet {
  struct vio_dev *dev;
  vos_lock_t rx_lock, tx_lock;
  struct virtq rxq, txq;
  struct vnet_buf *bufs;   // VNET_RX_BUFS receive, then VNET_TX_BUFS transmit (DMA)
  uint32_t nrx, ntx;       // buffers in use (the queues may be small)
  uint32_t hdr_len;        // 12 (modern) or 10 (legacy)
  uint8_t mac[6];
  int has_mac;             // VIRTIO_NET_F_MAC: mac came from the device
  int link_up;             // VIRTIO_NET_S_LINK_UP, or 1 without VIRTIO_NET_F_STATUS
  int ready;
  int broken;
  uint8_t tx_busy[VNET_TX_BUFS];
  uint32_t tx_free;
  // Who gets received frames (the frame without its virtio_net_hdr). Called
  // with rx_lock held; it must copy what it keeps.
  void (*receive)(void *arg, const void *frame, uint32_t len);
  void *receive_arg;
  struct vnet_stats stats;
};

// Handshake, MAC (from config space if VIRTIO_NET_F_MAC, else a fixed
// locally administered one), queues, receive buffers posted, DRIVER_OK.
// Returns 0, or -1 (logged).
int  vnet_init(struct vnet *vn, struct vio_dev *d);
// Send one Ethernet frame (copied; len <= VNET_FRAME_MAX). Never sleeps.
// Returns 0, or -1 if it was not sent (all buffers busy, device broken).
int  vnet_send(struct vnet *vn, const void *frame, uint32_t len);
void vnet_set_receiver(struct vnet *vn, void (*fn)(void *arg, const void *frame, uint32_t len),
                       void *arg);
void vnet_intr(struct vnet *vn);
void vnet_get_stats(struct vnet *vn, struct vnet_stats *out);

// Glue to net/: copies the MAC into nif, makes nif->xmit send through
// vn and hands received frames to net_input(nif). Call after net_init(nif).
void vnet_attach_netif(struct vnet *vn, struct netif *nif);

#endif
