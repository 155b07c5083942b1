// virtio_console.c: the virtio console driver. Each port is a pair of
// queues: its receiveq carries bytes from the outside world to us, its
// transmitq the other way. With VIRTIO_CONSOLE_F_MULTIPORT the device
// also has two control queues on which it announces its ports and we
// answer. The interface and the flow of bytes are described in
// virtio_console.h.
//
// Follows virtio 1.2 section 5.3 (Console Device): 5.3.2 the queue
// numbers, 5.3.3 the feature bits, 5.3.4 max_nr_ports, 5.3.5
// initialization (3.1.1 steps, then "fill the receive queue"), 5.3.6
// operation, 5.3.6.1 ("the driver MUST NOT put a device-readable buffer
// in a receiveq", "MUST NOT put a device-writable buffer in a
// transmitq"), 5.3.6.2 the control messages and 5.3.6.2.2 what a driver
// must send (DEVICE_READY; PORT_OPEN for a console port). Ring work goes
// through virtq.h (2.7); this file never sees a ring index or a register.
//
// See it run: `make qemu` and `nc localhost PORT` for the second shell;
// `python3 tests/run_tests.py vconsole host:console_`.
//
// Read it in this order: the ports' bytes (receive, transmit: the same
// for one port or many), then the control messages (what the device
// says, what we answer), then vcons_init, which sets it all up.
//
// Buffers: one DMA block holds, for each port we drive, VCONS_RX_BUFS
// receive buffers and VCONS_TX_BUFS transmit buffers, then (MULTIPORT)
// the control receive buffers and the one control message we send at a
// time. The address of a buffer is its virtqueue token, so a completion
// leads straight back to the buffer number.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"
#include "virtio_dev.h"
#include "virtio_console.h"

// The DMA block, in bytes: per port its receive then its transmit
// buffers; after the last port the control receive buffers and the one
// control message on its way out.
#define RX_BYTES      ((uint32_t)VCONS_RX_BUFS * VCONS_RX_BUF_SIZE)
#define TX_BYTES      ((uint32_t)VCONS_TX_BUFS * VCONS_TX_BUF_SIZE)
#define PORT_BYTES    (RX_BYTES + TX_BYTES)
#define CTRL_RX_BYTES ((uint32_t)VCONS_CTRL_RX_BUFS * VCONS_CTRL_BUF_SIZE)
#define CTRL_BYTES    (CTRL_RX_BYTES + VIRTIO_CONSOLE_CTRL_SIZE)
#define NQUEUES       (2 * VCONS_MAX_PORTS + 2)   // every queue we may set up

// The ring's counters run free and are reduced modulo its size; a power
// of two keeps that right when the 32-bit counters wrap.
_Static_assert((VCONS_RING_SIZE & (VCONS_RING_SIZE - 1)) == 0,
               "VCONS_RING_SIZE must be a power of two");

// Where buffer i of each kind lives. These addresses are also the
// tokens virtq hands back with a completion.
static uint8_t *rx_buf(struct vcons_port *p, uint32_t i)
{
  return p->rx_mem + i * VCONS_RX_BUF_SIZE;
}

static uint8_t *tx_buf(struct vcons_port *p, uint32_t i)
{
  return p->tx_mem + i * VCONS_TX_BUF_SIZE;
}

static uint8_t *ctrl_rx_buf(struct vcons *vc, uint32_t i)
{
  return vc->ctrl_rx_mem + i * VCONS_CTRL_BUF_SIZE;
}

// Queue numbers (5.3.2). Port 0 kept queues 0 and 1 when the control
// queues were added after them, so ports 1, 2, ... start at queue 4:
// port n's receiveq is 2n + 2 and its transmitq 2n + 3.
static uint16_t port_rxq(uint32_t n)
{
  return n == 0 ? VIRTIO_CONSOLE_RXQ : (uint16_t)(2 * n + 2);
}

// Buffer number of a token among `count` buffers of `size` bytes at mem,
// or -1 if it is none of them. virtq only hands back tokens we gave it, so
// -1 means our own bookkeeping broke.
static int buf_index(uint8_t *mem, void *token, uint32_t size, uint32_t count)
{
  uintptr_t off = (uintptr_t)token - (uintptr_t)mem;

  if ((uintptr_t)token < (uintptr_t)mem)
    return -1;
  if (off % size != 0 || off / size >= count)
    return -1;
  return (int)(off / size);
}

// A plain loop: the portable core has no C library (the M3 build links
// none), and these copies are at most a buffer long.
static void copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n)
{
  while (n-- > 0)
    *dst++ = *src++;
}

// Every queue that was set up (the ports we drive; the control queues
// with MULTIPORT), for vio_give_up and vio_unwind. Returns how many.
static int all_queues(struct vcons *vc, struct virtq **qs)
{
  uint32_t i;
  int n = 0;

  // nports and multiport are settled before the first queue is set up,
  // so this list also fits a set-up that failed half way (vio_unwind
  // skips the queues that never got their rings).
  for (i = 0; i < vc->nports; i++) {
    qs[n++] = &vc->port[i].rxq;
    qs[n++] = &vc->port[i].txq;
  }
  if (vc->multiport) {
    qs[n++] = &vc->crxq;
    qs[n++] = &vc->ctxq;
  }
  return n;
}

// Wake whoever sleeps on port p: readers, writers waiting for a buffer or
// a listener, writers waiting for their turn. Each re-checks why it slept.
static void wake_port(struct vcons_port *p)
{
  vos_wakeup(&p->ring_wr);
  vos_wakeup(&p->tx_free);
  vos_wakeup(&p->writing);
}

// Give up on the device (lock held): stop it, and let every sleeper see it.
// One misbehaving queue stops them all: the device as a whole has shown
// it cannot be trusted with our memory, and vio_give_up's reset (2.4)
// is for the whole device anyway.
static void give_up(struct vcons *vc, const char *why)
{
  struct virtq *qs[NQUEUES];
  uint32_t i;

  if (vc->broken)
    return;  // the first reason is the one worth logging
  vc->broken = 1;
  vio_give_up(vc->dev, "virtio-console", why, qs, all_queues(vc, qs));
  // Readers, writers and writers-in-waiting of every port find `broken`
  // when they wake, and return -1 (readers only after the bytes already
  // in their ring).
  for (i = 0; i < vc->nports; i++)
    wake_port(&vc->port[i]);
}

// A port can carry bytes: the driver runs, and the device has the port
// (without MULTIPORT port 0 always has it).
static int port_usable(struct vcons *vc, struct vcons_port *p)
{
  return vc->ready && !vc->broken && p->present;
}

// ---- receive (all with vc->lock held) ----

// Hand receive buffer i of port p to the device; it may fill all of it.
static void post_rx(struct vcons *vc, struct vcons_port *p, uint32_t i)
{
  // >>> lab console: buffer i of port p on its receiveq: one device-writable buffer of VCONS_RX_BUF_SIZE bytes, its address the token
  // device_writes = 1: 5.3.6.1 allows only device-writable buffers in a
  // receiveq.
  struct virtq_buf b = { rx_buf(p, i), VCONS_RX_BUF_SIZE, 1 };

  // The queue has a descriptor for every buffer (see vcons_init), so only
  // a broken queue can refuse.
  if (virtq_add(&p->rxq, &b, 1, rx_buf(p, i)) != VIRTQ_OK)
    give_up(vc, "receive queue refused a buffer");
  // === stub
  // // Nothing is posted: the device has nowhere to put the port's bytes.
  // // rx_buf(p, i) is where buffer i lives.
  // (void)rx_buf;
  // <<< lab console
}

// Free bytes in port p's ring. wr - rd is the fill even after either
// counter wrapped past 2^32 (unsigned arithmetic).
static uint32_t ring_room(struct vcons_port *p)
{
  return VCONS_RING_SIZE - (p->ring_wr - p->ring_rd);
}

// Move bytes from held buffers into the ring, oldest buffer first, as far
// as the ring has room, and post every buffer that is empty again.
// Returns how many were posted (the caller kicks).
static int drain_held(struct vcons *vc, struct vcons_port *p)
{
  int posted = 0;

  // Oldest first: bytes must reach the reader in the order the device
  // delivered them, and the device delivers a port's buffers in order.
  // >>> lab console: while buffers are held: copy the oldest one's bytes into the ring as far as it has room; a buffer emptied goes back to the device (post_rx), counted in posted; one not emptied stops the loop
  while (p->held_count > 0 && !vc->broken) {
    uint32_t i = p->held[p->held_first];
    uint32_t left = p->held_len[i] - p->held_off[i];
    uint32_t n = ring_room(p);
    uint32_t k;

    if (n > left)
      n = left;
    // The buffer is ours since virtq_get returned it (its barrier (3)
    // ordered our reads of the bytes after the device's writes of them).
    for (k = 0; k < n; k++)
      p->ring[(p->ring_wr + k) % VCONS_RING_SIZE] = rx_buf(p, i)[p->held_off[i] + k];
    p->ring_wr += n;
    p->held_off[i] += n;
    if (p->held_off[i] < p->held_len[i]) {
      // The ring is full. The buffer stays with us, and the ones behind it
      // too: their bytes must not overtake these.
      p->stats.rx_held++;
      break;
    }
    // Empty again: back to the device, which may fill it at once.
    p->held_first = (p->held_first + 1) % VCONS_RX_BUFS;
    p->held_count--;
    post_rx(vc, p, i);
    posted++;
  }
  // === stub
  // // Held buffers stay held: their bytes never reach the reader.
  // // ring_room(p) is how many bytes the ring can take now.
  // (void)ring_room;
  // <<< lab console
  return posted;
}

// Take every finished receive buffer of port p off its queue.
static void reap_rx(struct vcons *vc, struct vcons_port *p)
{
  uint32_t before = p->ring_wr;
  uint32_t len;
  void *token;
  int r;

  // The usual reaping loop (virtq.h): no interrupts while we reap, then
  // ask for one and look again, since a completion may have slipped in
  // before the device saw our request (2.7.14; barrier (4) in virtq.c).
  virtq_disable_intr(&p->rxq);
  do {
    while ((r = virtq_get(&p->rxq, &token, &len)) == 1) {
      // >>> lab console: which buffer came back (buf_index); it joins the held FIFO behind the others, with its length; count it (rx_buffers, rx_bytes)
      int i = buf_index(p->rx_mem, token, VCONS_RX_BUF_SIZE, p->nrx);
      // Not one of this port's buffers, or more buffers back than we
      // ever posted: virtq_get's checks make both impossible unless our
      // own bookkeeping is wrong, and then nothing here can be trusted.
      if (i < 0 || p->held_count >= VCONS_RX_BUFS) {
        give_up(vc, "a receive completion we cannot place");
        return;
      }
      // virtq_get checked len <= VCONS_RX_BUF_SIZE, the buffer we posted;
      // len is all that is known about the bytes (5.3.6: "used.len says
      // how many"). The buffer joins the held FIFO behind older ones.
      p->held[(p->held_first + p->held_count) % VCONS_RX_BUFS] = (uint8_t)i;
      p->held_count++;
      p->held_len[i] = len;
      p->held_off[i] = 0;
      p->stats.rx_buffers++;
      p->stats.rx_bytes += len;
      // === stub
      // // The buffer is forgotten, and its bytes with it.
      // <<< lab console
    }
    // virtq_get found a used entry that lies (an id we never gave out,
    // a length beyond the buffer, an index running ahead, 2.7.8): the
    // queue is marked broken, and so is the device for us.
    if (r < 0) {
      give_up(vc, "receive queue broken");
      return;
    }
  } while (virtq_enable_intr(&p->rxq));
  // >>> lab console: the held buffers' bytes into the ring (drain_held), and one kick if any buffer went back
  // Copy into the ring what fits and post the emptied buffers again: one
  // notification for every buffer that went back (many per batch).
  // virtq_kick's barrier (1) orders the new descriptors and ring entries
  // before avail.idx, which the device reads first.
  if (drain_held(vc, p) > 0 && !vc->broken)
    virtq_kick(&p->rxq);
  // <<< lab console
  // Readers sleep on the ring's write counter; wake them only for bytes.
  if (p->ring_wr != before)
    vos_wakeup(&p->ring_wr);
}

// ---- transmit (all with vc->lock held) ----

// Take back every transmit buffer of port p the device has finished with.
static void reap_tx(struct vcons *vc, struct vcons_port *p)
{
  uint32_t len, freed = 0;
  void *token;
  int r;

  // The same reaping loop as reap_rx: interrupts off while we look, on
  // again with a last look after (barrier (4) in virtq_enable_intr).
  virtq_disable_intr(&p->txq);
  do {
    // len is ignored: a transmit buffer has nothing for the device to
    // write, and 5.3.6.3 lets legacy devices put anything there.
    while ((r = virtq_get(&p->txq, &token, &len)) == 1) {
      // >>> lab console: which transmit buffer came back, checked against tx_busy; it is free again (tx_busy, tx_free), counted in freed
      int i = buf_index(p->tx_mem, token, VCONS_TX_BUF_SIZE, p->ntx);
      // tx_busy is ours, not in memory the device can write: a buffer
      // the device returns twice is caught here even if virtq missed it.
      if (i < 0 || !p->tx_busy[i]) {
        give_up(vc, "a transmit completion for a buffer the device did not have");
        return;
      }
      // The device has read the bytes (5.3.6: a used transmit buffer is
      // done with); the buffer may be filled again.
      p->tx_busy[i] = 0;
      p->tx_free++;
      freed++;
      // === stub
      // // The buffer stays busy.
      // <<< lab console
    }
    if (r < 0) {
      give_up(vc, "transmit queue broken");
      return;
    }
  } while (virtq_enable_intr(&p->txq));
  // Writers waiting for a buffer (vcons_write) sleep on tx_free.
  if (freed > 0)
    vos_wakeup(&p->tx_free);
}

// A transmit buffer of p the device does not have, or -1. A linear scan:
// there are VCONS_TX_BUFS of them, a handful.
static int free_tx_buffer(struct vcons_port *p)
{
  uint32_t i;

  for (i = 0; i < p->ntx; i++) {
    if (!p->tx_busy[i])
      return (int)i;
  }
  return -1;
}

// Should a blocked caller give up? The OS decides (a killed process on
// RISC-V; a test's watchdog on the host); without a hook, never.
static int interrupted(struct vcons *vc)
{
  return vc->interrupted != 0 && vc->interrupted() != 0;
}

// Put n bytes into a free transmit buffer of p, on its queue (not yet
// kicked). 0, or -1 after giving up on the device.
static int queue_tx(struct vcons *vc, struct vcons_port *p, const uint8_t *src, uint32_t n)
{
  int i = free_tx_buffer(p);  // the caller saw tx_free > 0: there is one

  // The caller's memory is never handed to the device: it may be a user
  // page or the stack, and it must be the caller's again when we return.
  copy_bytes(tx_buf(p, (uint32_t)i), src, n);
  // >>> lab console: buffer i, now holding the n bytes, on p's transmitq: one device-readable buffer, its address the token; it is busy (tx_busy, tx_free), counted (tx_buffers, tx_bytes)
  struct virtq_buf b;

  b.addr = tx_buf(p, (uint32_t)i);
  b.len = n;
  // 5.3.6.1: only device-readable buffers in a transmitq.
  b.device_writes = 0;
  // The queue has a descriptor per buffer, so only a broken one refuses.
  if (virtq_add(&p->txq, &b, 1, b.addr) != VIRTQ_OK) {
    give_up(vc, "transmit queue refused a buffer");
    return -1;
  }
  p->tx_busy[i] = 1;
  p->tx_free--;
  p->stats.tx_buffers++;
  p->stats.tx_bytes += n;
  return 0;
  // === stub
  // return -1;
  // <<< lab console
}

int vcons_write(struct vcons *vc, uint32_t port, const void *buf, uint32_t len)
{
  uint32_t done = 0;
  int ret;
  struct vcons_port *p;
  // >>> lab console: your variables
  const uint8_t *src = buf;
  uint32_t n;
  int filled = 0;
  // <<< lab console

  // A port number is the caller's, not the device's: check it before it
  // indexes anything. Ports between nports and the array's end are never
  // present, so they fail below.
  if (port >= VCONS_MAX_PORTS)
    return -1;
  p = &vc->port[port];
  vos_lock(&vc->lock);
  // One write at a time per port, so the bytes of one call stay together
  // even when it needs more than one round of buffers.
  while (p->writing && port_usable(vc, p) && !interrupted(vc))
    vos_sleep(&p->writing, &vc->lock);
  if (p->writing || !port_usable(vc, p)) {
    vos_unlock(&vc->lock);
    return -1;
  }
  p->writing = 1;
  while (done < len && port_usable(vc, p)) {
    // >>> lab console: no listener or no free buffer: publish what is filled (one kick), reap, sleep on &p->tx_free unless that freed one (interrupted: stop). Else one buffer full of bytes (queue_tx), not kicked yet
    if (!p->host_open || p->tx_free == 0) {
      // Nobody listens at the other end (QEMU would throw the bytes away),
      // or all buffers are busy. Publish what we filled (one notification
      // for all of it), take back what the device finished, and sleep
      // unless that freed a buffer we may use. PORT_OPEN 1 and every
      // transmit completion wake us (&tx_free).
      if (filled > 0)
        virtq_kick(&p->txq);
      filled = 0;
      reap_tx(vc, p);
      if ((!p->host_open || p->tx_free == 0) && port_usable(vc, p)) {
        if (interrupted(vc))
          break;
        p->stats.tx_waits++;
        vos_sleep(&p->tx_free, &vc->lock);
      }
      continue;
    }
    // As many bytes as one buffer holds: a chain of one descriptor per
    // buffer, however many bytes (transmit is batched, not per byte).
    n = len - done;
    if (n > VCONS_TX_BUF_SIZE)
      n = VCONS_TX_BUF_SIZE;
    if (queue_tx(vc, p, src + done, n) < 0)
      break;
    done += n;
    filled++;
    // === stub
    // // Nothing is sent: the write fails. queue_tx is yours to call.
    // (void)queue_tx;
    // break;
    // <<< lab console
  }
  // >>> lab console: publish what is filled and not yet published, with one kick
  // virtq_kick's barrier (1) makes the bytes we copied and the descriptors
  // visible to the device before the new avail.idx; barrier (2) orders
  // that index before our look at whether the device wants a notification.
  if (filled > 0 && !vc->broken)
    virtq_kick(&p->txq);
  // <<< lab console
  // All of it; or, stopped part way (interrupted, the port removed), the
  // bytes that did go, as write() reports a short write; or nothing: -1.
  if (done == len)
    ret = (int)len;
  else
    ret = (done > 0 && !vc->broken) ? (int)done : -1;
  // The next writer of this port may go.
  p->writing = 0;
  vos_wakeup(&p->writing);
  vos_unlock(&vc->lock);
  return ret;
}

int vcons_read(struct vcons *vc, uint32_t port, void *buf, uint32_t max, int nonblock)
{
  uint8_t *dst = buf;
  uint32_t n, k;
  struct vcons_port *p;

  if (port >= VCONS_MAX_PORTS)
    return -1;
  p = &vc->port[port];
  vos_lock(&vc->lock);
  // Wait for a byte. Every way out of the wait is re-checked after each
  // wakeup: bytes arrived (reap_rx), the port went away (port_remove),
  // the device broke (give_up), or the caller was interrupted.
  for (;;) {
    if (!vc->ready) {
      vos_unlock(&vc->lock);
      return -1;
    }
    if (p->ring_wr != p->ring_rd || max == 0)
      break;
    // Bytes already in the ring are still delivered after a breakdown or
    // after the device removed the port; then the reader learns it.
    if (!port_usable(vc, p) || interrupted(vc)) {
      vos_unlock(&vc->lock);
      return -1;
    }
    // A poller (the M3's echo loop) must not sleep: it has other work.
    if (nonblock) {
      vos_unlock(&vc->lock);
      return 0;
    }
    vos_sleep(&p->ring_wr, &vc->lock);
  }
  // The ring is ours alone (the device writes only the DMA buffers), so
  // these bytes need no barrier: reap_rx copied them under the same lock.
  n = p->ring_wr - p->ring_rd;
  if (n > max)
    n = max;
  for (k = 0; k < n; k++)
    dst[k] = p->ring[(p->ring_rd + k) % VCONS_RING_SIZE];
  p->ring_rd += n;
  // We made room: held buffers may now empty into the ring and go back.
  if (n > 0 && drain_held(vc, p) > 0 && !vc->broken)
    virtq_kick(&p->rxq);
  vos_unlock(&vc->lock);
  return (int)n;
}

// A snapshot: the interrupt may add bytes the moment the lock is dropped.
uint32_t vcons_readable(struct vcons *vc, uint32_t port)
{
  uint32_t n;

  if (port >= VCONS_MAX_PORTS)
    return 0;
  vos_lock(&vc->lock);
  n = vc->port[port].ring_wr - vc->port[port].ring_rd;
  vos_unlock(&vc->lock);
  return n;
}

// ---- control messages: what we send (all with vc->lock held) ----
//
// The device answers a message of ours at once, with up to three of its
// own (after PORT_READY: CONSOLE_PORT, PORT_NAME, PORT_OPEN), and QEMU
// drops a control message for which it finds no receive buffer. So only
// one message of ours is with the device at a time, and the next goes
// when it is back: by then the answers have landed in our control
// receive buffers (QEMU puts them on the used ring before it returns our
// message), and the interrupt has reaped them and posted the buffers again.

// Control messages are little-endian (5.3.6.2: le32 id, le16 event, le16
// value; a legacy device uses the guest's order, 5.3.6.3, the same on every
// CPU we build for): vio_get_le16 and friends in virtio.h read and write
// them a byte at a time, since a message may start at any offset of a
// buffer we copied.

// Add a message to our outgoing FIFO. A full FIFO means the device made
// us owe more answers than a sane device can (a flood of DEVICE_ADDs):
// the answer is dropped and counted, not allowed to grow our memory.
static void ctrl_queue(struct vcons *vc, uint32_t id, uint16_t event, uint16_t value)
{
  struct vcons_ctrl_msg *m;

  if (vc->out_count == VCONS_CTRL_OUT) {
    vc->stats.ctrl_overflow++;
    return;
  }
  // Host byte order here; ctrl_send_next writes the wire format.
  m = &vc->out[(vc->out_first + vc->out_count) % VCONS_CTRL_OUT];
  m->id = id;
  m->event = event;
  m->value = value;
  vc->out_count++;
}

// Send the oldest waiting message, unless one is still with the device.
static void ctrl_send_next(struct vcons *vc)
{
  struct virtq_buf b = { vc->ctrl_tx_mem, VIRTIO_CONSOLE_CTRL_SIZE, 0 };
  struct vcons_ctrl_msg *m;

  if (!vc->multiport || vc->out_busy || vc->out_count == 0 || vc->broken)
    return;
  // ctrl_tx_mem is free: the device gave it back (reap_ctrl_tx) or never
  // had it. Fill it with the oldest message.
  m = &vc->out[vc->out_first];
  vio_put_le32(vc->ctrl_tx_mem, m->id);
  vio_put_le16(vc->ctrl_tx_mem + 4, m->event);
  vio_put_le16(vc->ctrl_tx_mem + 6, m->value);
  // One device-readable buffer: the control transmitq is a transmitq
  // (5.3.6.1), and one descriptor per message is what 5.3.6.4 asks of a
  // legacy driver.
  if (virtq_add(&vc->ctxq, &b, 1, vc->ctrl_tx_mem) != VIRTQ_OK) {
    give_up(vc, "control transmitq refused a message");
    return;
  }
  // Off the FIFO only once the queue took it, so a refusal loses nothing
  // that a later look at the counters would not explain.
  vc->out_first = (vc->out_first + 1) % VCONS_CTRL_OUT;
  vc->out_count--;
  vc->out_busy = 1;
  vc->stats.ctrl_out++;
  // Barrier (1) in virtq_kick: the 8 bytes above are visible before the
  // device can see the avail.idx that hands them over.
  virtq_kick(&vc->ctxq);
}

// Our message came back: the device has acted on it.
static void reap_ctrl_tx(struct vcons *vc)
{
  uint32_t len;
  void *token;
  int r;

  virtq_disable_intr(&vc->ctxq);
  do {
    // len is ignored, as for any transmitq (5.3.6.3: a legacy device may
    // put anything there for the control transmitq).
    while ((r = virtq_get(&vc->ctxq, &token, &len)) == 1) {
      // Only one message is ever out, so only one token can come back.
      if (token != vc->ctrl_tx_mem || !vc->out_busy) {
        give_up(vc, "a control completion for a message we did not send");
        return;
      }
      vc->out_busy = 0;
      // DEVICE_READY is the first message we ever queue (vcons_init), so
      // the first one back is it: the device has announced its ports.
      vc->device_ready_done = 1;
    }
    if (r < 0) {
      give_up(vc, "control transmitq broken");
      return;
    }
  } while (virtq_enable_intr(&vc->ctxq));
}

// ---- control messages: what the device says (all with vc->lock held) ----
//
// Everything here comes from the device and is checked before it changes
// anything: the length against what the event needs, the port number
// against max_nr_ports (5.3.6.2.1: a device MUST NOT name a port at or
// above it) and against the ports we have, the event and its value
// against the spec's list. A message that fails is dropped and counted
// (vcons_stats says why); it never reaches a port.

// The port a message names, or NULL (counted) if the device had no
// business naming it: beyond its own limit, or a port that is not there.
static struct vcons_port *ctrl_port(struct vcons *vc, uint32_t id)
{
  // Two different faults, counted apart: a number the device itself
  // ruled out (its own max_nr_ports), and a port it never announced or
  // already took away, which the spec does not let it name either.
  if (id >= vc->max_nr_ports) {
    vc->stats.ctrl_bad_id++;
    return 0;
  }
  if (id >= vc->nports || !vc->port[id].present) {
    vc->stats.ctrl_bad_state++;
    return 0;
  }
  return &vc->port[id];
}

// DEVICE_ADD: a port appeared. We answer PORT_READY (5.3.5 step 3: "after
// creating and initializing each port") and open it at once, with
// PORT_OPEN 1: QEMU gives a port no bytes until the driver opened it, and
// every port we accept has a reader-to-be (a device file); its bytes wait
// in the ring until someone reads.
static void port_add(struct vcons *vc, uint32_t id)
{
  struct vcons_port *p;

  // 5.3.6.2.1: a DEVICE_ADD at or beyond max_nr_ports is forbidden.
  if (id >= vc->max_nr_ports) {
    vc->stats.ctrl_bad_id++;
    return;
  }
  if (id >= vc->nports) {
    // A legal port we have no queues for: say so rather than stay silent.
    vc->stats.ports_refused++;
    ctrl_queue(vc, id, VIRTIO_CONSOLE_PORT_READY, 0);
    return;
  }
  p = &vc->port[id];
  // Its queues and receive buffers have been there since vcons_init
  // (5.3.5 item 3: the queues come from max_nr_ports); only the port's
  // state is new.
  if (p->present) {
    vc->stats.ctrl_bad_state++;  // 5.3.6.2.1: no DEVICE_ADD for a port that exists
    return;
  }
  // What the device may tell us about the port comes after PORT_READY.
  p->present = 1;
  p->console = 0;
  p->host_open = 0;
  p->name[0] = 0;
  // The order ports become ready decides the shell's port when there is
  // no console port (vcons_pick_port).
  p->ready_seq = ++vc->ready_seq;
  // In this order: the device acts on PORT_OPEN only for a port it knows
  // we set up. Both go out one at a time, behind any earlier answers.
  ctrl_queue(vc, id, VIRTIO_CONSOLE_PORT_READY, 1);
  ctrl_queue(vc, id, VIRTIO_CONSOLE_PORT_OPEN, 1);
  p->guest_open = 1;
}

// DEVICE_REMOVE (5.3.6.2.1: only for a port the device added; ctrl_port
// checked). The port's queues stay set up with their receive buffers, so
// the device may add it again; its readers get the bytes already in the
// ring, then -1, and its writers -1.
static void port_remove(struct vcons_port *p)
{
  // Everything the device told us about the port goes with it; a port
  // added again starts from nothing, like a new one.
  p->present = 0;
  p->console = 0;
  p->host_open = 0;
  p->guest_open = 0;
  p->name[0] = 0;
  wake_port(p);
}

// PORT_NAME: the bytes after the header, up to a 0 (QEMU sends one,
// although 5.3.6.2 says the name has none) or the end of the message.
// The name ends up on a terminal (lsdev): anything but printable ASCII
// becomes '?', and it is cut to fit.
static void port_name(struct vcons_port *p, const uint8_t *s, uint32_t n)
{
  uint32_t i;

  // i + 1 < VCONS_NAME_MAX leaves room for the 0 we always write.
  for (i = 0; i < n && i + 1 < VCONS_NAME_MAX && s[i] != 0; i++)
    p->name[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
  p->name[i] = 0;
}

// One message from the device, already copied out of its buffer (len
// bytes at msg, so the device cannot change it while we look).
static void ctrl_handle(struct vcons *vc, const uint8_t *msg, uint32_t len)
{
  uint32_t id;
  uint16_t event, value;
  struct vcons_port *p;

  // Every message starts with the 8-byte struct virtio_console_control;
  // less than that is not a message at all.
  if (len < VIRTIO_CONSOLE_CTRL_SIZE) {
    vc->stats.ctrl_short++;
    return;
  }
  id = vio_get_le32(msg);
  event = vio_get_le16(msg + 4);
  value = vio_get_le16(msg + 6);
  // One case per event the spec lets a device send (5.3.6.2). Each looks
  // up its port through ctrl_port, which counts and drops a bad number.
  switch (event) {
  case VIRTIO_CONSOLE_DEVICE_ADD:
    port_add(vc, id);  // checks the number itself: the port is new
    return;
  case VIRTIO_CONSOLE_DEVICE_REMOVE:
    if ((p = ctrl_port(vc, id)) != 0)
      port_remove(p);
    return;
  case VIRTIO_CONSOLE_CONSOLE_PORT:
    // 5.3.6.2.2: the driver MUST answer with PORT_OPEN, value 1 (we sent
    // one when the port was added; the spec asks for this one too).
    if ((p = ctrl_port(vc, id)) != 0) {
      p->console = 1;
      ctrl_queue(vc, id, VIRTIO_CONSOLE_PORT_OPEN, 1);
    }
    return;
  case VIRTIO_CONSOLE_RESIZE:
    // cols and rows follow the header; we have no use for them (no
    // terminal to size), but a RESIZE without them is malformed.
    if (len < VIRTIO_CONSOLE_CTRL_SIZE + 4)
      vc->stats.ctrl_short++;
    else
      ctrl_port(vc, id);  // counts a bad port; otherwise nothing to do
    return;
  case VIRTIO_CONSOLE_PORT_OPEN:
    // The other end connected (1) or went away (0); nothing else is a state.
    if ((p = ctrl_port(vc, id)) == 0)
      return;
    if (value > 1) {
      vc->stats.ctrl_bad_value++;
      return;
    }
    // Closing needs no action here: QEMU hands back (unsent) whatever
    // transmit buffers it held for the port, and reap_tx takes them.
    p->host_open = value;
    if (p->host_open)
      vos_wakeup(&p->tx_free);  // writers waiting for a listener
    return;
  case VIRTIO_CONSOLE_PORT_NAME:
    if ((p = ctrl_port(vc, id)) != 0)
      port_name(p, msg + VIRTIO_CONSOLE_CTRL_SIZE, len - VIRTIO_CONSOLE_CTRL_SIZE);
    return;
  default:
    // DEVICE_READY and PORT_READY are the driver's to send, and 5.3.6.2
    // defines nothing above PORT_NAME.
    vc->stats.ctrl_unknown++;
    return;
  }
}

// Hand control receive buffer i (back) to the device.
static void post_ctrl_rx(struct vcons *vc, uint32_t i)
{
  // Device-writable, like every receiveq's buffers (5.3.6.1), and one
  // descriptor per buffer (5.3.6.4 asks that of legacy drivers; it does
  // no harm to modern ones).
  struct virtq_buf b = { ctrl_rx_buf(vc, i), VCONS_CTRL_BUF_SIZE, 1 };

  // One descriptor per posted buffer fits: the queue is at least ncrx big.
  if (virtq_add(&vc->crxq, &b, 1, ctrl_rx_buf(vc, i)) != VIRTQ_OK)
    give_up(vc, "control receiveq refused a buffer");
}

// Take every message the device sent, act on it, and give its buffer back.
static void reap_ctrl_rx(struct vcons *vc)
{
  uint8_t msg[VCONS_CTRL_BUF_SIZE];
  uint32_t len;
  void *token;
  int r, i, posted = 0;

  // The reaping loop of virtq.h again: no interrupts while we reap, a
  // last look after asking for the next one (barrier (4)).
  virtq_disable_intr(&vc->crxq);
  do {
    while ((r = virtq_get(&vc->crxq, &token, &len)) == 1) {
      i = buf_index(vc->ctrl_rx_mem, token, VCONS_CTRL_BUF_SIZE, vc->ncrx);
      if (i < 0) {
        give_up(vc, "a control message in a buffer we did not post");
        return;
      }
      // virtq_get checked len <= VCONS_CTRL_BUF_SIZE (a device that claims
      // more, like QEMU with a port name longer than our buffer, is
      // lying about what it wrote, and we gave up on it there). Barrier
      // (3) in virtq_get ordered these reads after the device's writes.
      // Copy, then the buffer can go back at once.
      copy_bytes(msg, ctrl_rx_buf(vc, (uint32_t)i), len);
      post_ctrl_rx(vc, (uint32_t)i);
      posted++;
      vc->stats.ctrl_in++;
      ctrl_handle(vc, msg, len);
      if (vc->broken)
        return;
    }
    if (r < 0) {
      give_up(vc, "control receiveq broken");
      return;
    }
  } while (virtq_enable_intr(&vc->crxq));
  // All the buffers went back in one notification. Barrier (1) in
  // virtq_kick: their descriptors and ring entries first, then avail.idx,
  // the order in which the device reads them.
  if (posted > 0)
    virtq_kick(&vc->crxq);
}

// ---- the interrupt, and what callers ask about the device ----

void vcons_intr(struct vcons *vc)
{
  uint32_t why, i;

  vos_lock(&vc->lock);
  // Acknowledge before reaping: a completion that lands after our last
  // look at the rings raises the interrupt again instead of being lost.
  why = vio_intr_ack(vc->dev);
  if (!vc->ready || vc->broken) {
    vos_unlock(&vc->lock);
    return;
  }
  vc->stats.interrupts++;
  // Every queue counts the interrupt too (and a recording of it shows the
  // step, virtq_trace.c): the interrupt does not say which queue it is for.
  if (vc->multiport) {
    virtq_count_intr(&vc->crxq);
    virtq_count_intr(&vc->ctxq);
  }
  for (i = 0; i < vc->nports; i++) {
    virtq_count_intr(&vc->port[i].rxq);
    virtq_count_intr(&vc->port[i].txq);
  }
  // A configuration change alone (QEMU sends one when a port is
  // hot-plugged) tells us nothing the control queue does not; only
  // DEVICE_NEEDS_RESET (2.1.2) is news.
  if ((why & VIRTIO_MMIO_INT_CONFIG) &&
      (vio_get_status(vc->dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
    give_up(vc, "device set DEVICE_NEEDS_RESET");
  if (vc->multiport && !vc->broken) {
    // Our message's completion first, then the device's messages: QEMU
    // puts its answers on the control receiveq before it returns our
    // message, so after this order "our message is back and nothing is
    // waiting" means every answer to it has been handled (vcons_settled).
    reap_ctrl_tx(vc);
    if (!vc->broken)
      reap_ctrl_rx(vc);
    ctrl_send_next(vc);
  }
  // Then every port, present or not: the interrupt does not say which
  // queue it is for (4.2.2: one InterruptStatus bit for all used buffers),
  // and a port the device removed may still return transmit buffers.
  // Transmit first, so that writers woken here find their buffers.
  for (i = 0; i < vc->nports && !vc->broken; i++) {
    reap_tx(vc, &vc->port[i]);
    if (!vc->broken)
      reap_rx(vc, &vc->port[i]);
  }
  vos_unlock(&vc->lock);
}

int vcons_settled(struct vcons *vc)
{
  int s;

  vos_lock(&vc->lock);
  // Without MULTIPORT nothing is announced; a device we gave up on will
  // announce nothing more. Otherwise: DEVICE_READY was answered (with the
  // DEVICE_ADDs of every port the device has) and every answer of ours,
  // with the device's answers to it, went through.
  // (A device that announces a port later, hot-plug, is not waited for:
  // the answer is about start-up, and a kernel asks it once.)
  s = !vc->ready || vc->broken || !vc->multiport ||
      (vc->device_ready_done && !vc->out_busy && vc->out_count == 0);
  vos_unlock(&vc->lock);
  return s;
}

int vcons_pick_port(struct vcons *vc)
{
  int console = -1, first = -1;
  uint32_t i;

  // One pass finds both candidates; a broken device offers neither. QEMU
  // puts a virtconsole at port 0 when it can, so "lowest console port"
  // is usually port 0, and a lone virtserialport is port 1.
  vos_lock(&vc->lock);
  for (i = 0; i < vc->nports && vc->ready && !vc->broken; i++) {
    struct vcons_port *p = &vc->port[i];
    if (!p->present)
      continue;
    // 5.3.6.2.2: a console port is meant for text console access.
    if (p->console && console < 0)
      console = (int)i;
    if (first < 0 || p->ready_seq < vc->port[first].ready_seq)
      first = (int)i;
  }
  vos_unlock(&vc->lock);
  return console >= 0 ? console : first;
}

int vcons_port_info(struct vcons *vc, uint32_t port, struct vcons_port_info *out)
{
  struct vcons_port *p;
  uint32_t i;

  if (port >= VCONS_MAX_PORTS)
    return -1;
  p = &vc->port[port];
  // A copy under the lock, so the fields agree with each other.
  vos_lock(&vc->lock);
  out->present = p->present && vc->ready && !vc->broken;
  out->console = p->console;
  out->host_open = p->host_open;
  out->guest_open = p->guest_open;
  for (i = 0; i < VCONS_NAME_MAX; i++)
    out->name[i] = p->name[i];
  out->stats = p->stats;
  vos_unlock(&vc->lock);
  return 0;
}

void vcons_get_stats(struct vcons *vc, struct vcons_stats *out)
{
  uint32_t i;

  vos_lock(&vc->lock);
  // The device-wide counters first (their byte sums in vc->stats stay 0),
  // then the byte counters, kept per port; the device's are their sums.
  *out = vc->stats;
  for (i = 0; i < VCONS_MAX_PORTS; i++) {
    struct vcons_port_stats *s = &vc->port[i].stats;
    out->rx_bytes += s->rx_bytes;
    out->rx_buffers += s->rx_buffers;
    out->rx_held += s->rx_held;
    out->tx_bytes += s->tx_bytes;
    out->tx_buffers += s->tx_buffers;
    out->tx_waits += s->tx_waits;
  }
  vos_unlock(&vc->lock);
}

// ---- initialisation ----

// Set-up failed after vio_start: reset the device (so it stops using
// whatever queue is already live), set FAILED, free what we allocated.
// The driver stays broken; every later call returns -1.
static int setup_fail(struct vcons *vc, const char *why)
{
  struct virtq *qs[NQUEUES];

  // Queues that were never set up are skipped by vio_unwind.
  vio_unwind(vc->dev, "virtio-console", why, qs, all_queues(vc, qs));
  if (vc->dma)
    vos_dma_free(vc->dma, vc->dma_size);
  vc->dma = 0;
  vc->broken = 1;
  return -1;
}

// The queues of every port we drive, and with MULTIPORT the control
// queues (3.1.1 step 7; before DRIVER_OK, like every queue: the spec has
// no way to add a queue later without VIRTIO_F_RING_RESET). 0 or -1.
static int setup_queues(struct vcons *vc)
{
  struct vcons_port *p;
  uint32_t i;

  // 5.3.2's numbering: port n's pair is at port_rxq(n), whether or not
  // the device will ever add port n; a device with MULTIPORT has the
  // queues of every port below max_nr_ports.
  for (i = 0; i < vc->nports; i++) {
    p = &vc->port[i];
    // One descriptor per buffer: a queue as large as our buffer count.
    if (virtq_init(&p->rxq, vc->dev, port_rxq(i), VCONS_RX_BUFS) < 0 ||
        virtq_init(&p->txq, vc->dev, (uint16_t)(port_rxq(i) + 1), VCONS_TX_BUFS) < 0)
      return -1;
  }
  if (!vc->multiport)
    return 0;
  // The control transmitq needs one entry: one message at a time.
  if (virtq_init(&vc->crxq, vc->dev, VIRTIO_CONSOLE_CTRL_RXQ, VCONS_CTRL_RX_BUFS) < 0 ||
      virtq_init(&vc->ctxq, vc->dev, VIRTIO_CONSOLE_CTRL_TXQ, 1) < 0)
    return -1;
  return 0;
}

// Cut the DMA block into the ports' buffers and the control buffers.
static void carve_dma(struct vcons *vc)
{
  struct vcons_port *p;
  uint32_t i;

  // vc->dma is one allocation of dma_size bytes (vcons_init), laid out
  // as the *_BYTES sizes above say.
  for (i = 0; i < vc->nports; i++) {
    p = &vc->port[i];
    p->rx_mem = vc->dma + i * PORT_BYTES;
    p->tx_mem = p->rx_mem + RX_BYTES;
    // A device may offer smaller queues than we have buffers: use fewer.
    p->nrx = p->rxq.size < VCONS_RX_BUFS ? p->rxq.size : VCONS_RX_BUFS;
    p->ntx = p->txq.size < VCONS_TX_BUFS ? p->txq.size : VCONS_TX_BUFS;
    p->tx_free = p->ntx;
  }
  if (vc->multiport) {
    vc->ctrl_rx_mem = vc->dma + vc->nports * PORT_BYTES;
    vc->ctrl_tx_mem = vc->ctrl_rx_mem + CTRL_RX_BYTES;
    vc->ncrx = vc->crxq.size < VCONS_CTRL_RX_BUFS ? vc->crxq.size : VCONS_CTRL_RX_BUFS;
  }
}

int vcons_init(struct vcons *vc, struct vio_dev *d)
{
  uint8_t *z = (uint8_t *)vc;
  uint32_t i;

  // Everything starts at zero: no port present, no message queued, and
  // queues without rings, which setup_fail and vio_unwind rely on.
  for (i = 0; i < sizeof(*vc); i++)
    z[i] = 0;
  vc->dev = d;
  vos_lock_init(&vc->lock, "vcons");
  // 3.1.1 steps 1-6. MULTIPORT if the device has it (5.3.3); EVENT_IDX
  // only saves notifications, and virtq.h uses it when the device agrees.
  if (vio_start(d, VIRTIO_ID_CONSOLE, "virtio-console",
                (uint64_t)1 << VIRTIO_RING_F_EVENT_IDX | VIRTQ_LAYOUT_FEATURES |
                (uint64_t)1 << VIRTIO_CONSOLE_F_MULTIPORT) < 0) {
    vc->broken = 1;
    return -1;
  }
  vc->multiport = vio_has_feature(d, VIRTIO_CONSOLE_F_MULTIPORT);
  vc->max_nr_ports = 1;
  if (vc->multiport) {
    // 5.3.4: valid with MULTIPORT. Port 0 always exists (5.3.2), so 0 is
    // a lie; any other value only limits the port numbers the device may
    // name, and we drive the first VCONS_MAX_PORTS of them.
    vc->max_nr_ports = vio_config_read32(d, VIRTIO_CONSOLE_CFG_MAX_NR_PORTS);
    if (vc->max_nr_ports == 0)
      return setup_fail(vc, "MULTIPORT with max_nr_ports 0");
  }
  // Ports we can serve: their queues and buffers are fixed in size, so
  // memory stays bounded whatever max_nr_ports says (QEMU: 31).
  vc->nports = vc->max_nr_ports < VCONS_MAX_PORTS ? vc->max_nr_ports : VCONS_MAX_PORTS;
  // Step 7: the queues, then the buffers.
  if (setup_queues(vc) < 0)
    return setup_fail(vc, "a queue could not be set up");
  // Buffers for the ports we drive only: a one-port device costs what it
  // always did.
  vc->dma_size = (size_t)vc->nports * PORT_BYTES + (vc->multiport ? CTRL_BYTES : 0);
  vc->dma = vos_dma_alloc(vc->dma_size);
  if (vc->dma == 0)
    return setup_fail(vc, "no memory for buffers");
  carve_dma(vc);

  vos_lock(&vc->lock);
  // 5.3.5 step 4: every receiveq gets its buffers; with MULTIPORT the
  // control receiveq too, before DEVICE_READY, so the ports the device
  // announces in answer find buffers waiting.
  for (i = 0; i < vc->nports; i++) {
    uint32_t k;
    for (k = 0; k < vc->port[i].nrx; k++)
      post_rx(vc, &vc->port[i], k);
  }
  if (vc->multiport) {
    for (i = 0; i < vc->ncrx; i++)
      post_ctrl_rx(vc, i);
    // 5.3.6.2.2: a driver that negotiated MULTIPORT MUST send it; value
    // 1 is success, and the port id is unused.
    ctrl_queue(vc, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
  } else {
    // One port, there from the start, open both ways, and the console:
    // what a device without MULTIPORT is (5.3.6 speaks of "port 0" only).
    vc->port[0].present = 1;
    vc->port[0].console = 1;
    vc->port[0].host_open = 1;
    vc->port[0].guest_open = 1;
    vc->port[0].ready_seq = vc->ready_seq = 1;
  }
  // From here on callers may use the device (they still wait for ports).
  vc->ready = 1;
  // Step 8, then tell the device about the buffers (a driver may not
  // notify before DRIVER_OK), and send DEVICE_READY.
  vio_driver_ok(d);
  // Each kick's barrier (1) puts the buffers' descriptors and ring
  // entries in memory before the avail.idx that shows them; the control
  // receiveq's go out before DEVICE_READY, whose answers they catch.
  for (i = 0; i < vc->nports; i++)
    virtq_kick(&vc->port[i].rxq);
  if (vc->multiport) {
    virtq_kick(&vc->crxq);
    ctrl_send_next(vc);
  }
  vos_unlock(&vc->lock);
  // One line of what was negotiated; port announcements are not logged
  // (they arrive while the shells print), lsdev -v shows them.
  vos_log("virtio-console %p: %s transport, %s, %u receive buffers of %u bytes, "
          "%u transmit buffers of %u bytes per port%s\n", (void *)d->base,
          d->version == 1 ? "legacy" : "modern",
          vc->multiport ? "MULTIPORT" : "one port", (unsigned)vc->port[0].nrx,
          (unsigned)VCONS_RX_BUF_SIZE, (unsigned)vc->port[0].ntx,
          (unsigned)VCONS_TX_BUF_SIZE, vc->port[0].rxq.event_idx ? ", EVENT_IDX" : "");
  // With MULTIPORT, how many ports the device may have and how many of
  // them we can serve: the rest will be refused when announced.
  if (vc->multiport)
    vos_log("virtio-console %p: max_nr_ports %u, ports 0..%u driven\n", (void *)d->base,
            (unsigned)vc->max_nr_ports, (unsigned)(vc->nports - 1));
  return 0;
}
