// virtio_net.c: the virtio network driver (interface in virtio_net.h) and
// its glue to the portable stack in net/.
//
// Follows virtio 1.2 section 5.1 (Network Device):
//   5.1.5   initialization: negotiate, read mac (5.1.4) if VIRTIO_NET_F_MAC,
//           set up receiveq1 and transmitq1, fill the receive queue
//   5.1.6.2 sending: a header with flags = 0 and gso_type = GSO_NONE (we
//           negotiated neither checksum offload nor TSO), then the frame
//   5.1.6.3 receiving: each buffer holds header + a whole frame (no
//           MRG_RXBUF); used.len counts both, and we trust it only after
//           checking it (virtq_get: not more than the buffer; here: at
//           least a header). A header announcing GSO, which we never
//           negotiated, is a device error: the frame is dropped.
//   5.1.6.6 legacy interface: header in a descriptor of its own
// Ring work goes through virtq.h; this file never sees a ring index or a
// register.
//
// See it run: `make qemu`, then `ping 10.0.2.2` and `netstat`; the frames
// themselves are in packets.pcap (`tshark -r packets.pcap`).
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"
#include "virtio_dev.h"
#include "virtio_net.h"
#include "net.h"

#define NBUFS     (VNET_RX_BUFS + VNET_TX_BUFS)
#define DMA_BYTES ((size_t)NBUFS * sizeof(struct vnet_buf))

_Static_assert(sizeof(struct vnet_buf) == 1536, "vnet_buf packs to 1536 bytes");
_Static_assert(VNET_DATA_SIZE >= VNET_FRAME_MAX, "a buffer must hold a whole frame");

static uint64_t bit(int n)
{
  return (uint64_t)1 << n;
}

static void copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n)
{
  while (n-- > 0)
    *dst++ = *src++;
}

// Buffer number of a token in [first, first + count), or -1.
static int buf_index(struct vnet *vn, void *token, uint32_t first, uint32_t count)
{
  uintptr_t off = (uintptr_t)token - (uintptr_t)&vn->bufs[first];

  if ((uintptr_t)token < (uintptr_t)&vn->bufs[first] || off % sizeof(struct vnet_buf) != 0 ||
      off / sizeof(struct vnet_buf) >= count)
    return -1;
  return (int)(off / sizeof(struct vnet_buf));
}

// Stop the device for good. Called with one of the two locks held; the
// other path sees `broken` under its own lock before touching its queue.
static void give_up(struct vnet *vn, struct virtq *vq, const char *why)
{
  if (vn->broken)
    return;
  vn->broken = 1;
  // Only vq: the other queue belongs to the other lock's path, which sees
  // `broken` before it touches its queue again.
  vio_give_up(vn->dev, "virtio-net", why, &vq, 1);
}

// ---- receive (rx_lock held) ----

static void post_rx(struct vnet *vn, uint32_t i)
{
  struct virtq_buf b[2] = {
    { &vn->bufs[i].hdr, vn->hdr_len, 1 },
    { vn->bufs[i].data, VNET_DATA_SIZE, 1 },
  };

  // There is a pair of descriptors for every receive buffer (vnet_init),
  // so only a broken queue refuses.
  if (virtq_add(&vn->rxq, b, 2, &vn->bufs[i]) != VIRTQ_OK)
    give_up(vn, &vn->rxq, "receive queue refused a buffer");
}

// One finished receive buffer: check it, hand the frame on.
static void deliver(struct vnet *vn, uint32_t i, uint32_t len)
{
  struct vnet_buf *b = &vn->bufs[i];
  uint32_t flen;

  // virtq_get already made sure len <= hdr_len + VNET_DATA_SIZE.
  if (len < vn->hdr_len) {
    vn->stats.rx_short++;
    return;
  }
  flen = len - vn->hdr_len;
  if (b->hdr.h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
    vn->stats.rx_bad_hdr++;
    return;
  }
  if (vn->receive == 0) {
    vn->stats.rx_no_receiver++;
    return;
  }
  vn->stats.rx_frames++;
  vn->stats.rx_bytes += flen;
  // The stack checks everything inside the frame (too short, lengths that
  // lie, checksums) and copies what it keeps.
  vn->receive(vn->receive_arg, b->data, flen);
}

static void reap_rx(struct vnet *vn)
{
  uint32_t len, posted = 0, done[VNET_RX_BUFS], n, k;
  void *token;
  int r, i;

  virtq_disable_intr(&vn->rxq);
  do {
    n = 0;  // at most nrx: a buffer is not back with the device until below
    while ((r = virtq_get(&vn->rxq, &token, &len)) == 1) {
      i = buf_index(vn, token, 0, vn->nrx);
      if (i < 0) {
        give_up(vn, &vn->rxq, "a receive completion for no receive buffer");
        return;
      }
      if (n == VNET_RX_BUFS) {
        // virtq_get returns each posted chain once, so this cannot happen;
        // checked anyway, as done[] must never overflow.
        give_up(vn, &vn->rxq, "more receive completions than buffers");
        return;
      }
      deliver(vn, (uint32_t)i, len);
      done[n++] = (uint32_t)i;
    }
    if (r < 0) {
      give_up(vn, &vn->rxq, "receive queue broken");
      return;
    }
    // The frames have been copied by whoever wanted them: the buffers go
    // back, so the queue stays full. Only now that the used ring is
    // drained: re-posted at once, a buffer could take the descriptors of
    // the chain just finished, and a used id the device repeats in the
    // same batch would pass virtq_get as that new chain's completion.
    for (k = 0; k < n; k++)
      post_rx(vn, done[k]);
    posted += n;
  } while (virtq_enable_intr(&vn->rxq));
  if (posted > 0 && !vn->broken)
    virtq_kick(&vn->rxq);
}

// ---- transmit (tx_lock held) ----

static void reap_tx(struct vnet *vn)
{
  uint32_t len;
  void *token;
  int r, i;

  virtq_disable_intr(&vn->txq);
  do {
    while ((r = virtq_get(&vn->txq, &token, &len)) == 1) {
      i = buf_index(vn, token, VNET_RX_BUFS, vn->ntx);
      if (i < 0 || !vn->tx_busy[i]) {
        give_up(vn, &vn->txq, "a transmit completion for a buffer the device did not have");
        return;
      }
      vn->tx_busy[i] = 0;
      vn->tx_free++;
      vn->stats.tx_reclaimed++;
    }
    if (r < 0) {
      give_up(vn, &vn->txq, "transmit queue broken");
      return;
    }
  } while (virtq_enable_intr(&vn->txq));
}

int vnet_send(struct vnet *vn, const void *frame, uint32_t len)
{
  struct virtq_buf b[2];
  struct vnet_buf *tb;
  uint32_t i;

  if (len == 0 || len > VNET_FRAME_MAX) {
    vos_lock(&vn->tx_lock);
    vn->stats.tx_bad_len++;
    vos_unlock(&vn->tx_lock);
    return -1;
  }
  vos_lock(&vn->tx_lock);
  if (!vn->ready || vn->broken) {
    vos_unlock(&vn->tx_lock);
    return -1;
  }
  // Normally the interrupt has taken back finished buffers already; if
  // none is free, look once more ourselves before refusing.
  if (vn->tx_free == 0)
    reap_tx(vn);
  for (i = 0; i < vn->ntx && vn->tx_busy[i]; i++)
    ;
  if (i == vn->ntx || vn->broken) {
    vn->stats.tx_ring_full++;
    vos_unlock(&vn->tx_lock);
    return -1;
  }
  tb = &vn->bufs[VNET_RX_BUFS + i];
  // flags 0 and GSO_NONE: a plain, complete frame with its checksums
  // already filled in (we negotiated no offloads, 5.1.6.2).
  tb->hdr.h.flags = 0;
  tb->hdr.h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
  tb->hdr.h.hdr_len = 0;
  tb->hdr.h.gso_size = 0;
  tb->hdr.h.csum_start = 0;
  tb->hdr.h.csum_offset = 0;
  tb->hdr.h.num_buffers = 0;
  copy_bytes(tb->data, frame, len);
  b[0].addr = &tb->hdr;
  b[0].len = vn->hdr_len;
  b[0].device_writes = 0;
  b[1].addr = tb->data;
  b[1].len = len;
  b[1].device_writes = 0;
  if (virtq_add(&vn->txq, b, 2, tb) != VIRTQ_OK) {
    give_up(vn, &vn->txq, "transmit queue refused a frame");
    vos_unlock(&vn->tx_lock);
    return -1;
  }
  vn->tx_busy[i] = 1;
  vn->tx_free--;
  vn->stats.tx_frames++;
  vn->stats.tx_bytes += len;
  virtq_kick(&vn->txq);
  vos_unlock(&vn->tx_lock);
  return 0;
}

// ---- interrupt ----

static void read_link(struct vnet *vn)
{
  int up = 1;

  if (vio_has_feature(vn->dev, VIRTIO_NET_F_STATUS))
    up = (vio_config_read16(vn->dev, VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP) != 0;
  if (vn->ready && up != vn->link_up)
    vos_log("virtio-net: link %s\n", up ? "up" : "down");
  vn->link_up = up;
}

void vnet_intr(struct vnet *vn)
{
  uint32_t why;

  vos_lock(&vn->rx_lock);
  why = vio_intr_ack(vn->dev);   // before reaping, as in virtio_blk.c
  if (!vn->ready || vn->broken) {
    vos_unlock(&vn->rx_lock);
    return;
  }
  vn->stats.interrupts++;
  if (why & VIRTIO_MMIO_INT_CONFIG) {
    if (vio_get_status(vn->dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
      give_up(vn, &vn->rxq, "device set DEVICE_NEEDS_RESET");
    else
      read_link(vn);
  }
  if (!vn->broken)
    reap_rx(vn);
  vos_unlock(&vn->rx_lock);

  vos_lock(&vn->tx_lock);
  if (vn->ready && !vn->broken)
    reap_tx(vn);
  vos_unlock(&vn->tx_lock);
}

void vnet_set_receiver(struct vnet *vn, void (*fn)(void *arg, const void *frame, uint32_t len),
                       void *arg)
{
  vos_lock(&vn->rx_lock);
  vn->receive = fn;
  vn->receive_arg = arg;
  vos_unlock(&vn->rx_lock);
}

void vnet_get_stats(struct vnet *vn, struct vnet_stats *out)
{
  // Counters are 32-bit words, each written under one of the two locks;
  // a snapshot that mixes a few increments old and new is good enough.
  vos_lock(&vn->rx_lock);
  *out = vn->stats;
  vos_unlock(&vn->rx_lock);
}

// ---- initialisation ----

static int setup_fail(struct vnet *vn, const char *why)
{
  struct virtq *qs[2] = { &vn->rxq, &vn->txq };

  vio_unwind(vn->dev, "virtio-net", why, qs, 2);
  if (vn->bufs)
    vos_dma_free(vn->bufs, DMA_BYTES);
  vn->bufs = 0;
  vn->broken = 1;
  return -1;
}

static void read_mac(struct vnet *vn)
{
  // A locally administered unicast address (bit 1 of the first byte set,
  // bit 0 clear) for a device that has no MAC of its own.
  static const uint8_t fallback[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
  int k;

  vn->has_mac = vio_has_feature(vn->dev, VIRTIO_NET_F_MAC);
  for (k = 0; k < 6; k++)
    vn->mac[k] = vn->has_mac ? vio_config_read8(vn->dev, VIRTIO_NET_CFG_MAC + k) : fallback[k];
}

// "52:54:00:12:34:56" into s (18 bytes): vos_log has no field widths.
static void mac_string(const uint8_t *mac, char *s)
{
  static const char hex[] = "0123456789abcdef";
  int k;

  for (k = 0; k < 6; k++) {
    s[3 * k] = hex[mac[k] >> 4];
    s[3 * k + 1] = hex[mac[k] & 15];
    s[3 * k + 2] = k < 5 ? ':' : 0;
  }
}

int vnet_init(struct vnet *vn, struct vio_dev *d)
{
  uint8_t *p = (uint8_t *)vn;
  char macstr[18];
  uint32_t i;

  for (i = 0; i < sizeof(*vn); i++)
    p[i] = 0;
  vn->dev = d;
  vos_lock_init(&vn->rx_lock, "vnet_rx");
  vos_lock_init(&vn->tx_lock, "vnet_tx");
  // 3.1.1 steps 1-6. Nothing that changes what a frame looks like.
  if (vio_start(d, VIRTIO_ID_NET, "virtio-net", bit(VIRTIO_NET_F_MAC) |
                bit(VIRTIO_NET_F_STATUS) | bit(VIRTIO_RING_F_EVENT_IDX)) < 0) {
    vn->broken = 1;
    return -1;
  }
  vn->hdr_len = vio_has_feature(d, VIRTIO_F_VERSION_1) ? VIRTIO_NET_HDR_LEN_MODERN
                                                       : VIRTIO_NET_HDR_LEN_LEGACY;
  read_mac(vn);
  // Step 7: queues of two descriptors per buffer, then the buffers.
  if (virtq_init(&vn->rxq, d, VIRTIO_NET_RXQ, 2 * VNET_RX_BUFS) < 0)
    return setup_fail(vn, "no receive queue");
  if (virtq_init(&vn->txq, d, VIRTIO_NET_TXQ, 2 * VNET_TX_BUFS) < 0)
    return setup_fail(vn, "no transmit queue");
  vn->bufs = vos_dma_alloc(DMA_BYTES);
  if (vn->bufs == 0)
    return setup_fail(vn, "no memory for buffers");
  vn->nrx = vn->rxq.size / 2 < VNET_RX_BUFS ? vn->rxq.size / 2 : VNET_RX_BUFS;
  vn->ntx = vn->txq.size / 2 < VNET_TX_BUFS ? vn->txq.size / 2 : VNET_TX_BUFS;
  if (vn->nrx == 0 || vn->ntx == 0)
    return setup_fail(vn, "queues too small for a header and a frame");

  vos_lock(&vn->rx_lock);
  for (i = 0; i < vn->nrx; i++)
    post_rx(vn, i);
  vn->tx_free = vn->ntx;
  read_link(vn);
  vn->ready = 1;
  vio_driver_ok(d);      // step 8; only now may we notify (3.1.1)
  virtq_kick(&vn->rxq);
  vos_unlock(&vn->rx_lock);
  mac_string(vn->mac, macstr);
  vos_log("virtio-net %p: %s transport, mac %s%s, %u-byte header, "
          "%u rx + %u tx buffers%s, link %s\n", (void *)d->base,
          d->version == 1 ? "legacy" : "modern", macstr, vn->has_mac ? "" : " (made up: no VIRTIO_NET_F_MAC)", (unsigned)vn->hdr_len,
          (unsigned)vn->nrx, (unsigned)vn->ntx, vn->rxq.event_idx ? ", EVENT_IDX" : "",
          vn->link_up ? "up" : "down");
  return 0;
}

// ---- glue to net/ ----

static int netif_xmit(struct netif *nif, const void *frame, uint32_t len)
{
  return vnet_send((struct vnet *)nif->driver, frame, len);
}

static void to_stack(void *arg, const void *frame, uint32_t len)
{
  net_input((struct netif *)arg, frame, len);
}

void vnet_attach_netif(struct vnet *vn, struct netif *nif)
{
  int k;

  for (k = 0; k < 6; k++)
    nif->mac[k] = vn->mac[k];
  nif->driver = vn;
  nif->xmit = netif_xmit;
  vnet_set_receiver(vn, to_stack, nif);
}
