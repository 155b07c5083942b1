// vdm_net.c: the device side of virtio-net for the device model.
//
// Follows virtio 1.2 section 5.1 (Network Device), read as the device:
//   5.1.2   queues: 0 receiveq1, 1 transmitq1 (no MQ, so no more pairs;
//           no CTRL_VQ, so no controlq)
//   5.1.3   features MAC and STATUS; none of the offloads, and not
//           MRG_RXBUF, so a frame is never split or changed
//   5.1.4   configuration: mac[6] at 0, status (le16) at 6. A legacy
//           driver may write mac (5.1.4.2); that is not modelled, and the
//           core counts any configuration write as a violation.
//   5.1.6   a struct virtio_net_hdr in front of every frame, both ways:
//           12 bytes with VERSION_1; 5.1.6.1: 10 on a legacy device
//           without MRG_RXBUF (num_buffers left out)
//   5.1.6.2 transmission: without CSUM and HOST_TSO4/6/UFO/USO the driver
//           must send flags 0, gso_type GSO_NONE, num_buffers 0; the
//           device checks that (violations), then sends the frame
//   5.1.6.3 receive buffers: without MRG_RXBUF each frame goes into a
//           single buffer, so num_buffers is always 1
//   5.1.6.4 incoming packets: used.len is header plus frame
// and 2.7.4: a modern device must not care how the driver splits the
// header and the frame into descriptors, so both directions treat a chain
// as one run of bytes (as lenient with a legacy driver, which our driver
// never needs: it keeps the header in a descriptor of its own).
//
// The numbers are spelled out here rather than taken from the driver's
// virtio_net.h on purpose (as in vdm_blk.c): the model is an independent
// reading of the spec.
//
// A network device differs from the other types in one way that matters:
// frames arrive when the link delivers them, not when the driver asks.
// So receive buffers just wait in q->pending, and vdm_net_receive fills
// the oldest one, or drops the frame when there is none (a real NIC has
// nowhere to keep it either). Transmit buffers are finished at once.
//
// See it run: `make -C tests/host check` (net_* and fault_net_* tests in
// test_devmodel, and random_mix).
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "vdm.h"
#include "vdm_backend.h"
#include "vdm_net.h"

enum {
  F_MAC = 5, F_STATUS = 16,                 // 5.1.3
  CFG_MAC = 0, CFG_STATUS = 6, CFG_END = 8, // 5.1.4
  S_LINK_UP = 1,
  HDR_MODERN = 12, HDR_LEGACY = 10,         // 5.1.6, 5.1.6.1
  HDR_FLAGS = 0, HDR_GSO_TYPE = 1, HDR_NUM_BUFFERS = 10,  // byte offsets
  GSO_NONE = 0,
};

static struct vdm_net *net_of(struct vdm *d)
{
  return (struct vdm_net *)d;  // struct vdm is the first member
}

static uint64_t net_features(struct vdm *d)
{
  return (1ull << F_MAC) | (1ull << F_STATUS) |
         (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX);
}

// The header length follows what was negotiated: a driver of a modern
// device that left out VERSION_1 was refused at FEATURES_OK already.
static uint32_t hdr_len(struct vdm *d)
{
  return vdm_has_feature(d, VIRTIO_F_VERSION_1) ? HDR_MODERN : HDR_LEGACY;
}

static void net_config_read(struct vdm *d, uint8_t *cfg, uint32_t len)
{
  struct vdm_net *n = net_of(d);
  int k;

  if (len < CFG_END)
    return;
  for (k = 0; k < 6; k++)
    cfg[CFG_MAC + k] = n->mac[k];
  // status is only meaningful with VIRTIO_NET_F_STATUS, but rendering it
  // always costs nothing: a driver without the feature does not look.
  cfg[CFG_STATUS] = (uint8_t)n->status;
  cfg[CFG_STATUS + 1] = (uint8_t)(n->status >> 8);
}

// The faults that keep every buffer the device holds. Checked before a
// frame is written or sent, so that the fault (acted out by vdm_complete,
// which then refuses) cannot leave a buffer filled but never returned,
// nor a frame sent twice once the fault is lifted.
static int fault_holds(struct vdm *d)
{
  return d->fault == VDM_FAULT_NEVER || d->fault == VDM_FAULT_NEEDS_RESET ||
         d->fault == VDM_FAULT_RESET_INFLIGHT;
}

// Give a chain we cannot use back empty, so the driver is not left waiting.
static void reject(struct vdm *d, int qi)
{
  d->q[qi].stats.errors++;
  vdm_complete(d, qi, 0, 0);
}

// ---- receive ----

// The oldest receive buffer that can take a frame, resolved into *ch;
// 0, or -1 when there is none (or a fault keeps them all).
static int next_rx_buffer(struct vdm_net *n, struct vdm_chain *ch)
{
  struct vdm *d = &n->vdm;
  struct vdm_queue *q = &d->q[VDM_NET_RXQ];

  for (;;) {
    if (!vdm_queue_live(d, VDM_NET_RXQ) || q->npending == 0)
      return -1;
    if (fault_holds(d)) {
      vdm_complete(d, VDM_NET_RXQ, 0, 0);  // lets the fault act; the frame is lost
      return -1;
    }
    if (vdm_chain_get(d, VDM_NET_RXQ, q->pending[0], ch) < 0) {
      reject(d, VDM_NET_RXQ);
      continue;
    }
    if (ch->readable != 0) {
      vdm_violation(d, "device-readable buffer in the receiveq (5.1.6.3)", q->pending[0]);
      reject(d, VDM_NET_RXQ);
      continue;
    }
    return 0;
  }
}

int vdm_net_receive(struct vdm_net *n, const void *frame, uint32_t len)
{
  struct vdm *d = &n->vdm;
  struct vdm_chain ch;
  uint8_t hdr[HDR_MODERN];
  uint32_t hl, k;

  if (len == 0 || len > VDM_NET_FRAME_MAX) {
    n->rx_too_long++;
    return -1;
  }
  // A NIC looks at the ring when the frame comes in: buffers the driver
  // published since the last notification count too.
  vdm_queue_fetch(d, VDM_NET_RXQ);
  if (next_rx_buffer(n, &ch) < 0) {
    n->rx_dropped++;
    return -1;
  }
  hl = hdr_len(d);
  if (ch.writable < hl + len) {
    // The driver should post buffers of at least 1526 bytes (5.1.6.3);
    // this one stays posted for a frame that fits.
    n->rx_too_long++;
    return -1;
  }
  // "Nothing special": no checksum state, no segmentation, and, in the
  // 12-byte header, num_buffers = 1 (le16).
  for (k = 0; k < hl; k++)
    hdr[k] = 0;
  if (hl == HDR_MODERN)
    hdr[HDR_NUM_BUFFERS] = 1;
  hdr[HDR_GSO_TYPE] = n->rx_gso_type;
  vdm_chain_write(&ch, 0, hdr, hl);
  vdm_chain_write(&ch, hl, frame, len);
  if (ch.indirect)
    d->q[VDM_NET_RXQ].stats.indirect++;
  if (vdm_complete(d, VDM_NET_RXQ, 0, hl + len) < 0) {
    n->rx_dropped++;
    return -1;
  }
  n->rx_frames++;
  n->rx_bytes += len;
  return 0;
}

// ---- transmit ----

// 5.1.6.2: what the driver must put in the header when it negotiated no
// offloads. The frame is sent anyway: a device ignores flags it does not
// know; the violation is the driver's.
static void check_tx_header(struct vdm *d, struct vdm_chain *ch, uint32_t hl, uint16_t head)
{
  uint8_t h[HDR_MODERN];

  vdm_chain_read(ch, 0, h, hl);
  if (h[HDR_FLAGS] != 0)
    vdm_violation(d, "transmit header flags set without VIRTIO_NET_F_CSUM (5.1.6.2)", head);
  if (h[HDR_GSO_TYPE] != GSO_NONE)
    vdm_violation(d, "transmit header gso_type without HOST_TSO/UFO/USO (5.1.6.2)", head);
  if (hl == HDR_MODERN && (h[HDR_NUM_BUFFERS] | h[HDR_NUM_BUFFERS + 1]) != 0)
    vdm_violation(d, "transmit header num_buffers not 0 (5.1.6.2)", head);
}

// n->frame holds a frame of len bytes: out through the backend, or back in.
static void put_on_link(struct vdm_net *n, uint32_t len)
{
  n->tx_frames++;
  n->tx_bytes += len;
  if (n->be.send == 0)
    vdm_net_receive(n, n->frame, len);
  else if (!n->be.send(n->be.ctx, n->frame, len))
    n->tx_lost++;
}

static void do_tx(struct vdm_net *n)
{
  struct vdm *d = &n->vdm;
  struct vdm_queue *q = &d->q[VDM_NET_TXQ];
  struct vdm_chain ch;
  uint32_t hl, len;
  uint16_t head;

  while (vdm_queue_live(d, VDM_NET_TXQ) && q->npending > 0) {
    if (fault_holds(d)) {
      vdm_complete(d, VDM_NET_TXQ, 0, 0);  // lets the fault act; nothing goes out
      return;
    }
    head = q->pending[0];
    if (vdm_chain_get(d, VDM_NET_TXQ, head, &ch) < 0) {
      n->tx_bad++;
      reject(d, VDM_NET_TXQ);
      continue;
    }
    if (ch.writable != 0)
      vdm_violation(d, "device-writable buffer in the transmitq (5.1.6.2)", head);
    if (ch.indirect)
      q->stats.indirect++;
    hl = hdr_len(d);
    if (ch.readable < hl) {
      vdm_violation(d, "transmit buffer shorter than the virtio_net_hdr (5.1.6)", head);
      n->tx_bad++;
      reject(d, VDM_NET_TXQ);
      continue;
    }
    check_tx_header(d, &ch, hl, head);
    len = ch.readable - hl;
    if (len == 0 || len > VDM_NET_FRAME_MAX) {
      n->tx_bad++;  // nothing a link could carry; the buffer still comes back
    } else {
      vdm_chain_read(&ch, hl, n->frame, len);
      put_on_link(n, len);
    }
    // The device wrote nothing: used.len 0 (a transmit buffer is read-only).
    if (vdm_complete(d, VDM_NET_TXQ, 0, 0) < 0)
      return;
  }
}

// Receive buffers have nothing to do until a frame comes: they wait in
// q->pending. Transmit buffers go out now.
static void net_queue_work(struct vdm *d, int qi)
{
  if (qi == VDM_NET_TXQ)
    do_tx(net_of(d));
}

void vdm_net_set_link(struct vdm_net *n, int up)
{
  n->status = up ? S_LINK_UP : 0;
  // Without VIRTIO_NET_F_STATUS the driver assumes the link is up and
  // never reads status: there is nothing to tell it.
  vdm_config_changed(&n->vdm, vdm_has_feature(&n->vdm, F_STATUS));
}

static const struct vdm_ops net_ops = {
  .name = "net",
  .device_id = VIRTIO_ID_NET,
  .num_queues = 2,
  .queue_max = VDM_QUEUE_MAX,
  .device_features = net_features,
  .config_read = net_config_read,
  .queue_work = net_queue_work,
};

void vdm_net_init(struct vdm_net *n, const uint8_t mac[6], const struct vdm_net_backend *be,
                  uint32_t version)
{
  int k;

  for (k = 0; k < 6; k++)
    n->mac[k] = mac[k];
  n->be.send = be ? be->send : 0;
  n->be.ctx = be ? be->ctx : 0;
  n->status = S_LINK_UP;
  n->rx_gso_type = GSO_NONE;
  n->rx_frames = n->rx_bytes = n->rx_dropped = n->rx_too_long = 0;
  n->tx_frames = n->tx_bytes = n->tx_bad = n->tx_lost = 0;
  vdm_attach(&n->vdm, &net_ops, version);
}
