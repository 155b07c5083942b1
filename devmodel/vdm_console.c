// vdm_console.c: the device side of virtio-console (port 0) for the device
// model.
//
// Follows virtio 1.2 section 5.3 (Console Device):
//   5.3.2  queues: 0 receiveq(port0), 1 transmitq(port0)
//   5.3.3  features SIZE and EMERG_WRITE (not MULTIPORT: no control queues)
//   5.3.4  configuration: cols (le16) at 0, rows (le16) at 2, max_nr_ports
//          (le32) at 4, emerg_wr (le32) at 8. (Section 5.3.4 of 1.2 lists
//          cols before rows, as Linux and QEMU lay them out.)
//   5.3.5.1 emerg_wr is writable at any time, even on an unconfigured device
//   5.3.6  operation: receive buffers are device-writable only, transmit
//          buffers device-readable only; used.len of a receive buffer is
//          the number of bytes in it
//
// Flow control, end to end: a receive buffer is completed as soon as the
// backend has no more bytes right now (a console is interactive: waiting
// to fill a buffer would hold a typed key hostage). With no receive buffer
// posted the model stops reading the backend, so bytes wait in the UART's
// FIFO and, behind it, in the sender's socket: nothing is dropped. A
// transmit buffer is completed once the backend took all of it.
//
// See it run: `make -C tests/host check`, the UART2 echo in `make qemu-cm3`.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "vdm.h"
#include "vdm_backend.h"
#include "vdm_console.h"

enum { F_SIZE = 0, F_EMERG_WRITE = 2, CFG_EMERG_WR = 8 };

static struct vdm_console *cons_of(struct vdm *d)
{
  return (struct vdm_console *)d;  // struct vdm is the first member
}

static uint64_t cons_features(struct vdm *d)
{
  return (1ull << F_SIZE) | (1ull << F_EMERG_WRITE) |
         (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX);
}

static void cons_config_read(struct vdm *d, uint8_t *cfg, uint32_t len)
{
  struct vdm_console *c = cons_of(d);

  if (len < 12)
    return;
  cfg[0] = (uint8_t)c->cols;
  cfg[1] = (uint8_t)(c->cols >> 8);
  cfg[2] = (uint8_t)c->rows;
  cfg[3] = (uint8_t)(c->rows >> 8);
  cfg[4] = 1;  // max_nr_ports: meaningful only with MULTIPORT; one port anyway
}

static void cons_config_write(struct vdm *d, uint32_t off, uint32_t val)
{
  struct vdm_console *c = cons_of(d);
  uint8_t byte = (uint8_t)val;

  if (off != CFG_EMERG_WR) {
    vdm_violation(d, "write to read-only console configuration", off);
    return;
  }
  // The lower byte goes out (5.3.5.1); if the backend is full it is lost,
  // which an emergency path may do.
  if (c->be.write(c->be.ctx, &byte, 1) == 1)
    c->emerg_bytes++;
}

// Give a chain we cannot use back empty, so the driver is not left waiting.
static void reject(struct vdm *d, int qi)
{
  d->q[qi].stats.errors++;
  vdm_complete(d, qi, 0, 0);
}

static void do_tx(struct vdm_console *c)
{
  struct vdm *d = &c->vdm;
  struct vdm_queue *q = &d->q[VDM_CONSOLE_TXQ];
  struct vdm_chain ch;
  uint32_t room, put;
  uint8_t *p;

  while (vdm_queue_live(d, VDM_CONSOLE_TXQ) && q->npending > 0) {
    if (vdm_chain_get(d, VDM_CONSOLE_TXQ, q->pending[0], &ch) < 0) {
      c->tx_off = 0;
      reject(d, VDM_CONSOLE_TXQ);
      continue;
    }
    if (ch.writable != 0)
      vdm_violation(d, "device-writable buffer in the transmitq (5.3.6.1)", q->pending[0]);
    if (ch.indirect && c->tx_off == 0)
      q->stats.indirect++;
    while (c->tx_off < ch.readable) {
      p = vdm_chain_at(&ch, 0, c->tx_off, &room);
      put = c->be.write(c->be.ctx, p, room);
      c->tx_off += put;
      c->tx_bytes += put;
      if (put < room)
        return;  // the backend is full: it will poke us when it has room
    }
    if (vdm_complete(d, VDM_CONSOLE_TXQ, 0, 0) < 0)
      return;  // a fault holds it; tx_off stays so nothing goes out twice
    c->tx_off = 0;
  }
}

static void do_rx(struct vdm_console *c)
{
  struct vdm *d = &c->vdm;
  struct vdm_queue *q = &d->q[VDM_CONSOLE_RXQ];
  struct vdm_chain ch;
  uint32_t n, room, got;
  uint8_t *p;

  while (vdm_queue_live(d, VDM_CONSOLE_RXQ) && q->npending > 0) {
    if (vdm_chain_get(d, VDM_CONSOLE_RXQ, q->pending[0], &ch) < 0) {
      reject(d, VDM_CONSOLE_RXQ);
      continue;
    }
    if (ch.readable != 0) {
      vdm_violation(d, "device-readable buffer in the receiveq (5.3.6.1)", q->pending[0]);
      reject(d, VDM_CONSOLE_RXQ);
      continue;
    }
    // A fault that will not let us complete must not swallow bytes.
    if (d->fault == VDM_FAULT_NEVER || d->fault == VDM_FAULT_NEEDS_RESET ||
        d->fault == VDM_FAULT_RESET_INFLIGHT) {
      vdm_complete(d, VDM_CONSOLE_RXQ, 0, 0);  // lets the fault act
      return;
    }
    n = 0;
    while (n < ch.writable) {
      p = vdm_chain_at(&ch, 1, n, &room);
      got = c->be.read(c->be.ctx, p, room);
      n += got;
      if (got < room)
        break;
    }
    if (n == 0)
      return;  // nothing to read: keep the buffer for later
    c->rx_bytes += n;
    if (ch.indirect)
      q->stats.indirect++;
    if (vdm_complete(d, VDM_CONSOLE_RXQ, 0, n) < 0)
      return;
  }
}

// Tell the backend what we wait for: bytes when we hold receive buffers,
// room when a transmit buffer is stuck half sent.
static void update_wants(struct vdm_console *c)
{
  struct vdm *d = &c->vdm;
  int rx = vdm_queue_live(d, VDM_CONSOLE_RXQ) && d->q[VDM_CONSOLE_RXQ].npending > 0;
  int tx = vdm_queue_live(d, VDM_CONSOLE_TXQ) && d->q[VDM_CONSOLE_TXQ].npending > 0;

  if (d->fault == VDM_FAULT_NEVER)
    rx = tx = 0;
  if (rx != c->want_rx || tx != c->want_tx) {
    c->want_rx = rx;
    c->want_tx = tx;
    if (c->be.want)
      c->be.want(c->be.ctx, rx, tx);
  }
}

static void console_io(struct vdm_console *c)
{
  if (c->vdm.fault != VDM_FAULT_NEVER) {
    do_tx(c);
    do_rx(c);
  }
  update_wants(c);
}

void vdm_console_poke(struct vdm_console *c)
{
  console_io(c);
}

static void cons_queue_work(struct vdm *d, int qi)
{
  console_io(cons_of(d));
}

static void cons_activate(struct vdm *d)
{
  console_io(cons_of(d));
}

static void cons_reset(struct vdm *d)
{
  struct vdm_console *c = cons_of(d);

  c->tx_off = 0;
  update_wants(c);  // nothing is live after a reset: stop the backend's interrupts
}

static const struct vdm_ops cons_ops = {
  .name = "console",
  .device_id = VIRTIO_ID_CONSOLE,
  .num_queues = 2,
  .queue_max = VDM_QUEUE_MAX,
  .device_features = cons_features,
  .config_read = cons_config_read,
  .config_write = cons_config_write,
  .activate = cons_activate,
  .reset = cons_reset,
  .queue_work = cons_queue_work,
};

void vdm_console_init(struct vdm_console *c, const struct vdm_char_backend *be,
                      uint32_t version)
{
  c->be = *be;
  c->cols = 80;
  c->rows = 25;
  c->tx_off = 0;
  c->want_rx = c->want_tx = 0;
  c->rx_bytes = c->tx_bytes = c->emerg_bytes = 0;
  vdm_attach(&c->vdm, &cons_ops, version);
}
