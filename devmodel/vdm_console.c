// vdm_console.c: the device side of virtio-console for the device model:
// one port, or several with the control queues (MULTIPORT), as QEMU's
// virtio-serial has them.
//
// Follows virtio 1.2 section 5.3 (Console Device):
//   5.3.2  queues: 0 receiveq(port0), 1 transmitq(port0), 2 control
//          receiveq, 3 control transmitq, then 2n+2 and 2n+3 for port n
//   5.3.3  features SIZE and EMERG_WRITE; MULTIPORT when made multiport
//   5.3.4  configuration: cols (le16) at 0, rows (le16) at 2, max_nr_ports
//          (le32) at 4, emerg_wr (le32) at 8. (Section 5.3.4 of 1.2 lists
//          cols before rows, as Linux and QEMU lay them out.)
//   5.3.5.1 emerg_wr is writable at any time, even on an unconfigured device
//   5.3.6  operation: receive buffers are device-writable only, transmit
//          buffers device-readable only; used.len of a receive buffer is
//          the number of bytes in it
//   5.3.6.2 the control messages: DEVICE_READY from the driver is answered
//          with a DEVICE_ADD per port; PORT_READY with CONSOLE_PORT,
//          PORT_NAME and PORT_OPEN as they apply; 5.3.6.2.1: no DEVICE_ADD
//          for a port that exists or at or above max_nr_ports
//
// What the driver does wrong is counted in vdm.violations (the host tests
// require none): a control message shorter than its header, an event a
// driver does not send, a port it was never told about, a buffer of the
// wrong direction.
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

// The spec's numbers, written down here again from 5.3 rather than taken
// from the driver's header: the device side is the driver's check.
enum { F_SIZE = 0, F_MULTIPORT = 1, F_EMERG_WRITE = 2, CFG_EMERG_WR = 8 };
enum { CTRL_RXQ = 2, CTRL_TXQ = 3, CTRL_HDR = 8 };
enum {
  DEVICE_READY = 0, DEVICE_ADD = 1, DEVICE_REMOVE = 2, PORT_READY = 3,
  CONSOLE_PORT = 4, RESIZE = 5, PORT_OPEN = 6, PORT_NAME = 7,
};

static struct vdm_console *cons_of(struct vdm *d)
{
  return (struct vdm_console *)d;  // struct vdm is the first member
}

// Port n's receiveq; its transmitq is the next queue.
static int port_rxq(uint32_t n)
{
  return n == 0 ? 0 : (int)(2 * n + 2);
}

// Ports that have queues.
static uint32_t nports(struct vdm_console *c)
{
  if (!c->multiport)
    return 1;
  return c->max_nr_ports < VDM_CONSOLE_MAX_PORTS ? c->max_nr_ports : VDM_CONSOLE_MAX_PORTS;
}

static uint64_t cons_features(struct vdm *d)
{
  struct vdm_console *c = cons_of(d);
  uint64_t f = (1ull << F_SIZE) | (1ull << F_EMERG_WRITE) |
               (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX);

  return c->multiport ? f | (1ull << F_MULTIPORT) : f;
}

static void cons_config_read(struct vdm *d, uint8_t *cfg, uint32_t len)
{
  struct vdm_console *c = cons_of(d);
  uint32_t max = c->multiport ? c->max_nr_ports : 1;  // meaningful only with MULTIPORT

  if (len < 12)
    return;
  cfg[0] = (uint8_t)c->cols;
  cfg[1] = (uint8_t)(c->cols >> 8);
  cfg[2] = (uint8_t)c->rows;
  cfg[3] = (uint8_t)(c->rows >> 8);
  cfg[4] = (uint8_t)max;
  cfg[5] = (uint8_t)(max >> 8);
  cfg[6] = (uint8_t)(max >> 16);
  cfg[7] = (uint8_t)(max >> 24);
}

static void cons_config_write(struct vdm *d, uint32_t off, uint32_t val)
{
  struct vdm_console *c = cons_of(d);
  uint8_t byte = (uint8_t)val;

  if (off != CFG_EMERG_WR) {
    vdm_violation(d, "write to read-only console configuration", off);
    return;
  }
  // The lower byte goes out (5.3.5.1) on port 0; if the backend is full
  // (or there is no port 0) it is lost, which an emergency path may do.
  if (c->port[0].attached && c->port[0].be.write(c->port[0].be.ctx, &byte, 1) == 1)
    c->emerg_bytes++;
}

// Give a chain we cannot use back empty, so the driver is not left waiting.
static void reject(struct vdm *d, int qi)
{
  d->q[qi].stats.errors++;
  vdm_complete(d, qi, 0, 0);
}

// ---- control messages to the driver ----

// (vio_put_le16/32, virtio.h: the fields are little-endian, 5.3.6.2.)

// Put a message in the queue to the driver. Unlike QEMU, which drops a
// message when it finds no receive buffer, the model keeps a few; past
// that it drops and counts.
static int ctrl_push(struct vdm_console *c, const uint8_t *msg, uint32_t len)
{
  struct vdm_console_msg *m;
  uint32_t i;

  if (len > VDM_CONSOLE_CTRL_MAX || c->ctrl_count == VDM_CONSOLE_CTRL_QUEUE) {
    c->ctrl_dropped++;
    return -1;
  }
  m = &c->ctrl[(c->ctrl_first + c->ctrl_count) % VDM_CONSOLE_CTRL_QUEUE];
  for (i = 0; i < len; i++)
    m->bytes[i] = msg[i];
  m->len = len;
  c->ctrl_count++;
  return 0;
}

// struct virtio_console_control (5.3.6.2), little-endian, then `extra`.
static void ctrl_send(struct vdm_console *c, uint32_t id, uint16_t event, uint16_t value,
                      const char *extra)
{
  uint8_t msg[VDM_CONSOLE_CTRL_MAX];
  uint32_t len = CTRL_HDR;

  vio_put_le32(msg, id);
  vio_put_le16(msg + 4, event);
  vio_put_le16(msg + 6, value);
  // A name is sent with a 0 after it, as QEMU does (5.3.6.2 says none):
  // the driver must take it either way.
  while (extra && *extra && len < VDM_CONSOLE_CTRL_MAX - 1)
    msg[len++] = (uint8_t)*extra++;
  if (extra)
    msg[len++] = 0;
  ctrl_push(c, msg, len);
}

// Move waiting messages into the receive buffers the driver posted.
static void ctrl_deliver(struct vdm_console *c)
{
  struct vdm *d = &c->vdm;
  struct vdm_queue *q = &d->q[CTRL_RXQ];
  struct vdm_console_msg *m;
  struct vdm_chain ch;
  uint32_t n;

  if (!c->multiport || !vdm_queue_live(d, CTRL_RXQ))
    return;
  vdm_queue_fetch(d, CTRL_RXQ);  // buffers posted since the last look
  while (c->ctrl_count > 0 && q->npending > 0) {
    if (vdm_chain_get(d, CTRL_RXQ, q->pending[0], &ch) < 0) {
      reject(d, CTRL_RXQ);
      continue;
    }
    if (ch.readable != 0) {
      vdm_violation(d, "device-readable buffer in the control receiveq (5.3.6.1)",
                    q->pending[0]);
      reject(d, CTRL_RXQ);
      continue;
    }
    m = &c->ctrl[c->ctrl_first];
    n = vdm_chain_write(&ch, 0, m->bytes, m->len);
    if (n < m->len)
      c->ctrl_truncated++;
    // used.len is what we wrote; QEMU would report the whole message.
    if (vdm_complete(d, CTRL_RXQ, 0, n) < 0)
      return;  // a fault holds it: the message stays for the next buffer
    c->ctrl_first = (c->ctrl_first + 1) % VDM_CONSOLE_CTRL_QUEUE;
    c->ctrl_count--;
    c->ctrl_out++;
  }
  // QEMU keeps nothing: what found no buffer now is gone (a driver that
  // lets too many answers pile up loses some).
  if (c->ctrl_lossy && c->ctrl_count > 0 && q->npending == 0) {
    c->ctrl_dropped += c->ctrl_count;
    c->ctrl_first = c->ctrl_count = 0;
  }
}

// ---- control messages from the driver ----

// The port a driver's message names, or NULL (a violation): one we
// announced, and (unless `any`) one the driver said it set up.
static struct vdm_console_port *driver_port(struct vdm_console *c, uint32_t id, int any)
{
  if (!c->device_ready || id >= nports(c) || !c->port[id].attached ||
      (!any && !c->port[id].guest_ready)) {
    vdm_violation(&c->vdm, "control message for a port the driver was not given", id);
    return 0;
  }
  return &c->port[id];
}

// PORT_READY 1: what QEMU tells the driver about a port it set up.
static void port_ready(struct vdm_console *c, uint32_t id, uint16_t value)
{
  struct vdm_console_port *p;

  // A driver may refuse any port number the device could use: one it
  // has no room for, or one a lying device announced.
  if (value == 0 && c->device_ready && id < c->max_nr_ports) {
    c->ports_refused++;
    return;
  }
  if ((p = driver_port(c, id, 1)) == 0)
    return;
  if (value != 1) {
    vdm_violation(&c->vdm, "PORT_READY neither 0 nor 1", value);
    return;
  }
  p->guest_ready = 1;
  if (p->console)
    ctrl_send(c, id, CONSOLE_PORT, 1, 0);
  if (p->name[0])
    ctrl_send(c, id, PORT_NAME, 1, p->name);
  if (p->host_open)
    ctrl_send(c, id, PORT_OPEN, 1, 0);
}

static void ctrl_message(struct vdm_console *c, const uint8_t *m, uint32_t len)
{
  uint32_t id, i;
  uint16_t event, value;
  struct vdm_console_port *p;

  c->ctrl_in++;
  if (len < CTRL_HDR) {
    vdm_violation(&c->vdm, "control message shorter than 8 bytes (5.3.6.2)", len);
    return;
  }
  id = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
  event = (uint16_t)(m[4] | m[5] << 8);
  value = (uint16_t)(m[6] | m[7] << 8);
  switch (event) {
  case DEVICE_READY:
    if (c->device_ready || value != 1) {
      vdm_violation(&c->vdm, "DEVICE_READY twice, or not 1", value);
      return;
    }
    c->device_ready = 1;
    for (i = 0; i < nports(c); i++) {
      if (c->port[i].attached)
        ctrl_send(c, i, DEVICE_ADD, 1, 0);
    }
    return;
  case PORT_READY:
    port_ready(c, id, value);
    return;
  case PORT_OPEN:
    if ((p = driver_port(c, id, 0)) != 0)
      p->guest_open = value != 0;
    return;
  default:
    vdm_violation(&c->vdm, "control event a driver does not send", event);
    return;
  }
}

// The oldest message the driver put on the control transmitq, copied
// into msg (in a function of its own, so that its chain is off the stack
// before the answers are built: the M3's stack is 4 KB). The number of
// bytes, or -1 if the chain is malformed (rejected here).
static int ctrl_read(struct vdm_console *c, uint8_t *msg, uint32_t max)
{
  struct vdm *d = &c->vdm;
  struct vdm_queue *q = &d->q[CTRL_TXQ];
  struct vdm_chain ch;

  if (vdm_chain_get(d, CTRL_TXQ, q->pending[0], &ch) < 0) {
    reject(d, CTRL_TXQ);
    return -1;
  }
  if (ch.writable != 0)
    vdm_violation(d, "device-writable buffer in the control transmitq (5.3.6.1)",
                  q->pending[0]);
  return (int)vdm_chain_read(&ch, 0, msg, max);
}

static void ctrl_receive(struct vdm_console *c)
{
  struct vdm *d = &c->vdm;
  uint8_t msg[VDM_CONSOLE_CTRL_MAX];
  int n;

  while (c->multiport && vdm_queue_live(d, CTRL_TXQ) && d->q[CTRL_TXQ].npending > 0) {
    if ((n = ctrl_read(c, msg, sizeof(msg))) < 0)
      continue;
    // The answers go in the control receiveq before this message comes
    // back, which is the order QEMU keeps and the driver counts on.
    ctrl_message(c, msg, (uint32_t)n);
    ctrl_deliver(c);
    if (vdm_complete(d, CTRL_TXQ, 0, 0) < 0)
      return;
  }
}

// ---- the ports' bytes ----

// Bytes may flow to the driver on port n: it exists, and the driver
// opened it (QEMU's rule; a one-port driver opens port 0 with DRIVER_OK).
static int port_open_for_rx(struct vdm_console *c, uint32_t n)
{
  return c->port[n].attached && c->port[n].guest_open;
}

static void do_tx(struct vdm_console *c, uint32_t n)
{
  struct vdm *d = &c->vdm;
  struct vdm_console_port *p = &c->port[n];
  int qi = port_rxq(n) + 1;
  struct vdm_queue *q = &d->q[qi];
  struct vdm_chain ch;
  uint32_t room, put;
  uint8_t *b;

  while (vdm_queue_live(d, qi) && q->npending > 0) {
    if (vdm_chain_get(d, qi, q->pending[0], &ch) < 0) {
      p->tx_off = 0;
      reject(d, qi);
      continue;
    }
    if (ch.writable != 0)
      vdm_violation(d, "device-writable buffer in the transmitq (5.3.6.1)", q->pending[0]);
    if (!p->attached || !p->host_open) {
      // Nobody at the other end: QEMU throws the bytes away.
      p->tx_off = 0;
      p->tx_discarded++;
      if (vdm_complete(d, qi, 0, 0) < 0)
        return;
      continue;
    }
    if (ch.indirect && p->tx_off == 0)
      q->stats.indirect++;
    while (p->tx_off < ch.readable) {
      b = vdm_chain_at(&ch, 0, p->tx_off, &room);
      put = p->be.write(p->be.ctx, b, room);
      p->tx_off += put;
      p->tx_bytes += put;
      c->tx_bytes += put;
      if (put < room)
        return;  // the backend is full: it will poke us when it has room
    }
    if (vdm_complete(d, qi, 0, 0) < 0)
      return;  // a fault holds it; tx_off stays so nothing goes out twice
    p->tx_off = 0;
  }
}

static void do_rx(struct vdm_console *c, uint32_t n)
{
  struct vdm *d = &c->vdm;
  struct vdm_console_port *p = &c->port[n];
  int qi = port_rxq(n);
  struct vdm_queue *q = &d->q[qi];
  struct vdm_chain ch;
  uint32_t got, room, k;
  uint8_t *b;

  while (port_open_for_rx(c, n) && vdm_queue_live(d, qi) && q->npending > 0) {
    if (vdm_chain_get(d, qi, q->pending[0], &ch) < 0) {
      reject(d, qi);
      continue;
    }
    if (ch.readable != 0) {
      vdm_violation(d, "device-readable buffer in the receiveq (5.3.6.1)", q->pending[0]);
      reject(d, qi);
      continue;
    }
    // A fault that will not let us complete must not swallow bytes.
    if (d->fault == VDM_FAULT_NEVER || d->fault == VDM_FAULT_NEEDS_RESET ||
        d->fault == VDM_FAULT_RESET_INFLIGHT) {
      vdm_complete(d, qi, 0, 0);  // lets the fault act
      return;
    }
    k = 0;
    while (k < ch.writable) {
      b = vdm_chain_at(&ch, 1, k, &room);
      got = p->be.read(p->be.ctx, b, room);
      k += got;
      if (got < room)
        break;
    }
    if (k == 0)
      return;  // nothing to read: keep the buffer for later
    p->rx_bytes += k;
    c->rx_bytes += k;
    if (ch.indirect)
      q->stats.indirect++;
    if (vdm_complete(d, qi, 0, k) < 0)
      return;
  }
}

// Tell port n's backend what we wait for: bytes when the driver can take
// them, room when a transmit buffer is stuck half sent.
static void update_wants(struct vdm_console *c, uint32_t n)
{
  struct vdm *d = &c->vdm;
  struct vdm_console_port *p = &c->port[n];
  int qi = port_rxq(n);
  int rx = port_open_for_rx(c, n) && vdm_queue_live(d, qi) && d->q[qi].npending > 0;
  int tx = vdm_queue_live(d, qi + 1) && d->q[qi + 1].npending > 0;

  if (d->fault == VDM_FAULT_NEVER || !p->attached)
    rx = tx = 0;
  if (rx != p->want_rx || tx != p->want_tx) {
    p->want_rx = rx;
    p->want_tx = tx;
    if (p->be.want)
      p->be.want(p->be.ctx, rx, tx);
  }
}

// Everything that can move now: the driver's control messages (which
// may open ports), ours, then every port's bytes.
static void console_io(struct vdm_console *c)
{
  uint32_t n;

  if (c->vdm.fault != VDM_FAULT_NEVER) {
    ctrl_receive(c);
    ctrl_deliver(c);
    for (n = 0; n < nports(c); n++) {
      do_tx(c, n);
      do_rx(c, n);
    }
  }
  for (n = 0; n < nports(c); n++)
    update_wants(c, n);
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
  struct vdm_console *c = cons_of(d);

  // Without MULTIPORT the driver has no way to say it opened port 0:
  // DRIVER_OK is that (QEMU does the same).
  if (!c->multiport)
    c->port[0].guest_open = 1;
  console_io(c);
}

static void cons_reset(struct vdm *d)
{
  struct vdm_console *c = cons_of(d);
  uint32_t n;

  // The driver is gone: it has to say DEVICE_READY again, and what it
  // said about ports no longer holds. The ports themselves stay attached.
  c->device_ready = 0;
  c->ctrl_first = c->ctrl_count = 0;
  for (n = 0; n < VDM_CONSOLE_MAX_PORTS; n++) {
    c->port[n].tx_off = 0;
    c->port[n].guest_ready = 0;
    c->port[n].guest_open = 0;
    update_wants(c, n);  // nothing is live after a reset: stop the backend's interrupts
  }
}

static void setup(struct vdm_console *c, int multiport, uint32_t max_nr_ports, uint32_t version)
{
  uint32_t n;

  c->multiport = multiport;
  c->max_nr_ports = max_nr_ports;
  c->cols = 80;
  c->rows = 25;
  for (n = 0; n < VDM_CONSOLE_MAX_PORTS; n++) {
    c->port[n].attached = 0;
    c->port[n].want_rx = c->port[n].want_tx = 0;
    c->port[n].rx_bytes = c->port[n].tx_bytes = c->port[n].tx_discarded = 0;
  }
  c->device_ready = 0;
  c->ctrl_first = c->ctrl_count = 0;
  c->ctrl_lossy = 0;
  c->ctrl_in = c->ctrl_out = c->ctrl_dropped = c->ctrl_truncated = 0;
  c->ports_refused = 0;
  c->rx_bytes = c->tx_bytes = c->emerg_bytes = 0;
  c->ops.name = "console";
  c->ops.device_id = VIRTIO_ID_CONSOLE;
  c->ops.num_queues = (uint16_t)(multiport ? 2 + 2 * nports(c) : 2);
  c->ops.queue_max = VDM_QUEUE_MAX;
  c->ops.device_features = cons_features;
  c->ops.set_driver_features = 0;
  c->ops.config_read = cons_config_read;
  c->ops.config_write = cons_config_write;
  c->ops.activate = cons_activate;
  c->ops.reset = cons_reset;
  c->ops.queue_work = cons_queue_work;
}

void vdm_console_init(struct vdm_console *c, const struct vdm_char_backend *be,
                      uint32_t version)
{
  setup(c, 0, 1, version);
  vdm_console_add_port(c, 0, be, 1, 0);
  vdm_attach(&c->vdm, &c->ops, version);
}

void vdm_console_init_multiport(struct vdm_console *c, uint32_t max_nr_ports,
                                uint32_t version)
{
  setup(c, 1, max_nr_ports ? max_nr_ports : 1, version);
  vdm_attach(&c->vdm, &c->ops, version);
}

int vdm_console_add_port(struct vdm_console *c, uint32_t id, const struct vdm_char_backend *be,
                         int console, const char *name)
{
  struct vdm_console_port *p;
  uint32_t i = 0;

  if (id >= nports(c) || c->port[id].attached)
    return -1;
  p = &c->port[id];
  p->be = *be;
  p->console = console;
  while (name && name[i] && i < VDM_CONSOLE_NAME_MAX) {
    p->name[i] = name[i];
    i++;
  }
  p->name[i] = 0;
  p->host_open = 1;
  p->guest_ready = p->guest_open = 0;
  p->tx_off = 0;
  p->attached = 1;
  if (c->device_ready) {
    ctrl_send(c, id, DEVICE_ADD, 1, 0);
    console_io(c);
  }
  return 0;
}

int vdm_console_remove_port(struct vdm_console *c, uint32_t id)
{
  if (id >= nports(c) || !c->port[id].attached)
    return -1;
  c->port[id].attached = 0;
  c->port[id].guest_ready = c->port[id].guest_open = 0;
  if (c->device_ready)
    ctrl_send(c, id, DEVICE_REMOVE, 1, 0);
  console_io(c);  // the transmit buffers it held go back unsent (do_tx)
  update_wants(c, id);
  return 0;
}

void vdm_console_host_open(struct vdm_console *c, uint32_t id, int open)
{
  struct vdm_console_port *p;

  if (id >= nports(c) || !c->port[id].attached || c->port[id].host_open == !!open)
    return;
  p = &c->port[id];
  p->host_open = !!open;
  if (!open)
    p->tx_off = 0;  // what was half sent is lost with the connection
  if (p->guest_ready)
    ctrl_send(c, id, PORT_OPEN, (uint16_t)p->host_open, 0);
  console_io(c);
}

int vdm_console_ctrl_inject(struct vdm_console *c, const void *msg, uint32_t len)
{
  if (ctrl_push(c, msg, len) < 0)
    return -1;
  console_io(c);
  return 0;
}
