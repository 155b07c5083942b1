// virtio_net.c: the virtio network driver (interface in virtio_net.h) and
// its glue to the portable stack in net/.
//
// Follows virtio 1.2 section 5.1 (Network Device):
//   5.1.5   initialization: negotiate, read mac (5.1.4) if VIRTIO_NET_F_MAC,
//           set up receiveq1 and transmitq1, fill the receive queue
//   5.1.6.2 sending: a header with flags = 0 and gso_type = GSO_NONE (we
//           negotiated neither checksum offload nor TSO), then the frame
//   5.1.6.3 receive buffers: each holds header + a whole frame (no
//           MRG_RXBUF)
//   5.1.6.4 receiving: used.len counts header and frame, and we trust it
//           only after checking it (virtq_get: not more than the buffer;
//           here: at least a header). A header announcing GSO, which we
//           never negotiated, is a device error (5.1.6.4.1): the frame is
//           dropped.
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
#include "virtio_transport.h"
#include "virtq.h"
#include "virtio_dev.h"
#include "virtio_net.h"
#include "net.h"

// All buffers, receive then transmit, in one DMA allocation: the device
// reads and writes them, so they cannot be ordinary kernel memory.
#define NBUFS     (VNET_RX_BUFS + VNET_TX_BUFS)
#define DMA_BYTES ((size_t)NBUFS * sizeof(struct vnet_buf))

_Static_assert(sizeof(struct vnet_buf) == 1536, "vnet_buf packs to 1536 bytes");
_Static_assert(VNET_DATA_SIZE >= VNET_FRAME_MAX, "a buffer must hold a whole frame");

static uint64_t bit(int n)
{
  return (uint64_t)1 << n;
}

// Byte by byte: the portable core uses no C library, and a frame is at
// most 1514 bytes.
static void copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n)
{
  while (n-- > 0)
    *dst++ = *src++;
}

// Buffer number of a token in [first, first + count), or -1.
// A token is the address of a buffer (post_rx and vnet_send pass
// &bufs[i]); turning it back into a number checks that it points at the
// start of a buffer of the right queue. virtq_get only hands back tokens
// we gave it, so a -1 here means our own bookkeeping went wrong, and the
// driver stops rather than index the wrong buffer.
static int buf_index(struct vnet *vn, void *token, uint32_t first, uint32_t count)
{
  uintptr_t off = (uintptr_t)token - (uintptr_t)&vn->bufs[first];

  // Below the range (off would have wrapped), not on a buffer boundary,
  // or past the last buffer in use.
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

// Give receive buffer i to the device. Two device-writable descriptors:
// the header alone in the first (required with a legacy device unless
// VIRTIO_F_ANY_LAYOUT is negotiated, 5.1.6.6), then room for a whole frame,
// since without MRG_RXBUF a frame may not span buffers (5.1.6.3.2).
// hdr_len + VNET_DATA_SIZE is more than the 1526 bytes 5.1.6.3.1 asks for.
// Not visible to the device until the caller kicks the queue.
static void post_rx(struct vnet *vn, uint32_t i)
{
  // >>> lab net: hand receive buffer i to the device: its header, then room for a frame, both device-writable, token &vn->bufs[i]
  struct virtq_buf b[2] = {
    { &vn->bufs[i].hdr, vn->hdr_len, 1 },
    { vn->bufs[i].data, VNET_DATA_SIZE, 1 },
  };

  // There is a pair of descriptors for every receive buffer (vnet_init),
  // so only a broken queue refuses.
  if (virtq_add(&vn->rxq, b, 2, &vn->bufs[i]) != VIRTQ_OK)
    give_up(vn, &vn->rxq, "receive queue refused a buffer");
  // === stub
  // // Nothing is posted yet: the device has nowhere to put a frame.
  // <<< lab net
}

// One finished receive buffer: check it, hand the frame on.
static void deliver(struct vnet *vn, uint32_t i, uint32_t len)
{
  // >>> lab net: check len and the header (5.1.6.4), count and drop what is wrong; hand the frame without its header to vn->receive
  struct vnet_buf *b = &vn->bufs[i];
  uint32_t flen;

  // virtq_get already made sure len <= hdr_len + VNET_DATA_SIZE, so the
  // frame fits its buffer. Shorter than a header means the device wrote
  // no frame at all (host test fault_net_short_len); len - hdr_len would
  // wrap to about 4 GB, so the check must come first.
  if (len < vn->hdr_len) {
    vn->stats.rx_short++;
    return;
  }
  flen = len - vn->hdr_len;
  // We negotiated none of the GUEST_TSO/UFO features, so the device MUST
  // send plain frames with gso_type NONE (5.1.6.4.1). Anything else is a
  // segment we cannot take apart: drop it, count it. The flags byte needs
  // no check: without GUEST_CSUM the device must leave it 0, and a
  // driver ignores flag bits it does not know anyway (5.1.6.4.2).
  // num_buffers is 1 without MRG_RXBUF; we never read it.
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
  // lie, checksums) and copies what it keeps. Only the first flen bytes:
  // what lies past them the device never promised to have written
  // (2.7.8.3). The buffer goes back to the device when reap_rx re-posts it.
  vn->receive(vn->receive_arg, b->data, flen);
  // === stub
  // // Every frame is dropped here for now.
  // vn->stats.rx_no_receiver++;
  // <<< lab net
}

// Take every finished receive buffer off the used ring, deliver its frame,
// and give the buffers back. 5.1.6.4 recommends exactly this: notifications
// off, process until the ring is empty, notifications on (and, because of
// the race virtq_enable_intr closes, look once more).
static void reap_rx(struct vnet *vn)
{
  uint32_t len, done[VNET_RX_BUFS], n;
  void *token;
  int r, i;
  // >>> lab net: your variables
  uint32_t posted = 0, k;
  // <<< lab net

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
    // >>> lab net: give the n buffers in done[] back to the device (post_rx), and count them in a variable of yours: the one kick after the loop needs to know whether any went back
    for (k = 0; k < n; k++)
      post_rx(vn, done[k]);
    posted += n;
    // === stub
    // (void)done;
    // <<< lab net
  } while (virtq_enable_intr(&vn->rxq));
  // >>> lab net: publish the buffers given back, with one kick for all of them
  // One kick publishes every buffer re-posted above: a receive queue that
  // runs dry leaves the device nowhere to put frames (5.1.6.3: keep it as
  // full as possible).
  if (posted > 0 && !vn->broken)
    virtq_kick(&vn->rxq);
  // <<< lab net
}

// ---- transmit (tx_lock held) ----

// Take back the transmit buffers the device has sent (5.1.6.2.3: free the
// headers and packets of used buffers). used.len means nothing here: the
// device writes nothing into a transmit buffer, and virtq_get has already
// held it to 0, the chain's writable bytes. (5.1.6.1 says some legacy
// devices once put the descriptor length there; such a device would be
// given up on here.)
static void reap_tx(struct vnet *vn)
{
  uint32_t len;
  void *token;
  int r;

  virtq_disable_intr(&vn->txq);
  do {
    while ((r = virtq_get(&vn->txq, &token, &len)) == 1) {
      // >>> lab net: find the transmit buffer the token names (buf_index) and check the device had it; it is free again; count it
      // Transmit tokens are buffers VNET_RX_BUFS and up. A buffer that is
      // not busy was never given to the device: our records and the
      // queue's disagree, and freeing it twice would let two frames share
      // one buffer.
      int i = buf_index(vn, token, VNET_RX_BUFS, vn->ntx);
      if (i < 0 || !vn->tx_busy[i]) {
        give_up(vn, &vn->txq, "a transmit completion for a buffer the device did not have");
        return;
      }
      vn->tx_busy[i] = 0;
      vn->tx_free++;
      vn->stats.tx_reclaimed++;
      // === stub
      // // The buffer stays marked busy: nothing gives it back yet.
      // <<< lab net
    }
    if (r < 0) {
      give_up(vn, &vn->txq, "transmit queue broken");
      return;
    }
  } while (virtq_enable_intr(&vn->txq));
}

int vnet_send(struct vnet *vn, const void *frame, uint32_t len)
{
  struct vnet_buf *tb;
  uint32_t i;

  // A frame must fit one buffer: we did not negotiate segmentation
  // offload, so nothing longer than an Ethernet frame may go out. The
  // counter is changed under tx_lock, like every transmit counter.
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
  // (5.1.6.2.3 describes drivers that reap only here, with transmit
  // interrupts off; this one reaps in both places.)
  if (vn->tx_free == 0)
    reap_tx(vn);
  // The first free transmit buffer. No buffer free: refuse rather than
  // wait, since we may be in an interrupt (an ARP reply sent from inside
  // net_input); the stack counts the failure (NS_TX_ERRORS).
  for (i = 0; i < vn->ntx && vn->tx_busy[i]; i++)
    ;
  if (i == vn->ntx || vn->broken) {
    vn->stats.tx_ring_full++;
    vos_unlock(&vn->tx_lock);
    return -1;
  }
  tb = &vn->bufs[VNET_RX_BUFS + i];
  // The frame is copied into the DMA buffer: the caller's memory need not
  // be reachable by the device, and the caller may reuse it at once.
  copy_bytes(tb->data, frame, len);
  // >>> lab net: transmit buffer tb (number i): its header (5.1.6.2), a chain of header and frame on txq, the buffer busy, the counters, a kick
  struct virtq_buf b[2];

  // flags 0 and GSO_NONE: a plain, complete frame with its checksums
  // already filled in (we negotiated no offloads, 5.1.6.2).
  tb->hdr.h.flags = 0;
  tb->hdr.h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
  tb->hdr.h.hdr_len = 0;
  tb->hdr.h.gso_size = 0;
  tb->hdr.h.csum_start = 0;
  tb->hdr.h.csum_offset = 0;
  tb->hdr.h.num_buffers = 0;
  // Header and frame, both only read by the device, the header alone in
  // its descriptor (5.1.6.6, as in post_rx).
  b[0].addr = &tb->hdr;
  b[0].len = vn->hdr_len;
  b[0].device_writes = 0;
  b[1].addr = tb->data;
  b[1].len = len;
  b[1].device_writes = 0;
  // The queue has two descriptors for every transmit buffer, and this one
  // was free, so only a broken queue refuses.
  if (virtq_add(&vn->txq, b, 2, tb) != VIRTQ_OK) {
    give_up(vn, &vn->txq, "transmit queue refused a frame");
    vos_unlock(&vn->tx_lock);
    return -1;
  }
  // The buffer is the device's until reap_tx sees it in the used ring.
  vn->tx_busy[i] = 1;
  vn->tx_free--;
  vn->stats.tx_frames++;
  vn->stats.tx_bytes += len;
  // One kick per frame: the stack hands frames over one at a time, with
  // nothing to say when a batch ends. With EVENT_IDX the device is only
  // notified if it is waiting (virtq.c).
  virtq_kick(&vn->txq);
  // === stub
  // // Nothing is sent yet: every frame is refused as if the ring were full.
  // vn->stats.tx_ring_full++;
  // vos_unlock(&vn->tx_lock);
  // return -1;
  // <<< lab net
  vos_unlock(&vn->tx_lock);
  return 0;
}

// ---- interrupt ----

// The link state (5.1.4.2): without VIRTIO_NET_F_STATUS the driver
// assumes the link is up; with it, bit 0 of the le16 status field says.
// It can change at any time; the device then sends a configuration change
// notification, and vnet_intr calls this again. Logged only on a change.
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

  // One interrupt line for both queues (4.2.3.4.1: the used buffer bit
  // stands for every queue), so each is reaped in turn, each under its
  // own lock and never both locks at once (virtio_net.h: Locking).
  vos_lock(&vn->rx_lock);
  // Acknowledge before reaping, as in virtio_blk.c (vblk_intr says why).
  why = vio_intr_ack(vn->dev);
  if (!vn->ready || vn->broken) {
    vos_unlock(&vn->rx_lock);
    return;
  }
  vn->stats.interrupts++;
  // Each queue counts the interrupt too (and a recording of it shows the
  // step, virtq_trace.c): one interrupt line stands for both queues.
  virtq_count_intr(&vn->rxq);
  // A configuration change: either the device needs a reset (2.1.2: it
  // sets DEVICE_NEEDS_RESET and then notifies; requests in flight may or
  // may not complete, 2.1.1), or the link status changed.
  if (why & VIRTIO_MMIO_INT_CONFIG) {
    if (vio_get_status(vn->dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
      give_up(vn, &vn->rxq, "device set DEVICE_NEEDS_RESET");
    else
      read_link(vn);
  }
  if (!vn->broken)
    reap_rx(vn);
  vos_unlock(&vn->rx_lock);

  // `broken` may have been set under rx_lock just now; the transmit path
  // reads it under tx_lock before it touches its queue.
  vos_lock(&vn->tx_lock);
  if (vn->ready && !vn->broken) {
    virtq_count_intr(&vn->txq);
    reap_tx(vn);
  }
  vos_unlock(&vn->tx_lock);
}

// Under rx_lock, so the receiver never changes while a frame is being
// handed to it; frames that arrive before there is one are counted and
// dropped (deliver).
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

// Set-up failed part of the way: stop the device, free whatever queues
// and buffers exist (vio_unwind skips queues never set up), and stay
// broken so every later call fails cleanly.
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

  // 5.1.4.2: with VIRTIO_NET_F_MAC the driver MUST use the device's mac;
  // without it, it SHOULD make up a locally administered one. mac[] is
  // six u8 fields, read one byte at a time.
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

  // Zero everything (byte by byte: no C library): no buffers, no queue
  // memory, nothing busy, no receiver.
  for (i = 0; i < sizeof(*vn); i++)
    p[i] = 0;
  vn->dev = d;
  vos_lock_init(&vn->rx_lock, "vnet_rx");
  vos_lock_init(&vn->tx_lock, "vnet_tx");
  // 3.1.1 steps 1-6. Nothing that changes what a frame looks like: no
  // checksum or segmentation offload, no MRG_RXBUF. So every frame we
  // send is complete, and every header we receive must say GSO_NONE.
  // "A truly minimal driver would only accept VIRTIO_NET_F_MAC" (5.1.5);
  // STATUS adds the link state, EVENT_IDX fewer notifications.
  if (vio_start(d, VIRTIO_ID_NET, "virtio-net", bit(VIRTIO_NET_F_MAC) |
                bit(VIRTIO_NET_F_STATUS) | bit(VIRTIO_RING_F_EVENT_IDX) | VIRTQ_LAYOUT_FEATURES) < 0) {
    vn->broken = 1;
    return -1;
  }
  // The header is 12 bytes in virtio 1.x; a legacy device without
  // MRG_RXBUF leaves out num_buffers and uses 10 (5.1.6.1).
  vn->hdr_len = vio_has_feature(d, VIRTIO_F_VERSION_1) ? VIRTIO_NET_HDR_LEN_MODERN
                                                       : VIRTIO_NET_HDR_LEN_LEGACY;
  read_mac(vn);
  // Step 7: queues of two descriptors per buffer, then the buffers.
  // receiveq1 is queue 0, transmitq1 queue 1 (5.1.2); the others need
  // VIRTIO_NET_F_MQ or VIRTIO_NET_F_CTRL_VQ, which we do not ask for.
  if (virtq_init(&vn->rxq, d, VIRTIO_NET_RXQ, 2 * VNET_RX_BUFS) < 0)
    return setup_fail(vn, "no receive queue");
  if (virtq_init(&vn->txq, d, VIRTIO_NET_TXQ, 2 * VNET_TX_BUFS) < 0)
    return setup_fail(vn, "no transmit queue");
  vn->bufs = vos_dma_alloc(DMA_BYTES);
  if (vn->bufs == 0)
    return setup_fail(vn, "no memory for buffers");
  // A device may give smaller queues than asked: then as many buffers as
  // the queue has descriptor pairs, so post_rx and vnet_send always find
  // room and a refusal can only mean a broken queue.
  vn->nrx = vn->rxq.size / 2 < VNET_RX_BUFS ? vn->rxq.size / 2 : VNET_RX_BUFS;
  vn->ntx = vn->txq.size / 2 < VNET_TX_BUFS ? vn->txq.size / 2 : VNET_TX_BUFS;
  if (vn->nrx == 0 || vn->ntx == 0)
    return setup_fail(vn, "queues too small for a header and a frame");

  // 5.1.5 step 3: fill the receive queue. Under rx_lock like every other
  // touch of rxq, though no interrupt can come before DRIVER_OK (2.1.2).
  vos_lock(&vn->rx_lock);
  for (i = 0; i < vn->nrx; i++)
    post_rx(vn, i);
  vn->tx_free = vn->ntx;
  read_link(vn);
  vn->ready = 1;
  vio_driver_ok(d);      // step 8; only now may we notify (3.1.1)
  // The buffers posted above were invisible to the device until this kick.
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

// net/ knows nothing of virtio: it sends through nif->xmit and receives
// through net_input. These two adapt one to the other.
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

  // The stack answers ARP for this address and puts it in every frame.
  for (k = 0; k < 6; k++)
    nif->mac[k] = vn->mac[k];
  nif->driver = vn;
  nif->xmit = netif_xmit;
  // Last: once the receiver is set, frames start flowing into the stack,
  // which may answer at once through nif->xmit, so that must be ready.
  vnet_set_receiver(vn, to_stack, nif);
}
