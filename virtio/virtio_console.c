// virtio_console.c: the virtio console driver. Port 0 only: receiveq 0
// carries bytes from the outside world to us, transmitq 1 the other way.
// The interface and the flow of bytes are described in virtio_console.h.
//
// Follows virtio 1.2 section 5.3 (Console Device): 5.3.5 initialization
// (3.1.1 steps, then "fill the receive queue"), 5.3.6 operation, 5.3.6.1
// ("the driver MUST NOT put a device-readable buffer in a receiveq", "MUST
// NOT put a device-writable buffer in a transmitq"). Ring work goes through
// virtq.h (2.7); this file never sees a ring index or a register.
//
// See it run: `make qemu` and `nc localhost PORT` for the second shell;
// `python3 tests/run_tests.py vconsole`.
//
// Buffers: one DMA block holds VCONS_RX_BUFS receive buffers followed by
// VCONS_TX_BUFS transmit buffers. The address of a buffer is its virtqueue
// token, so a completion leads straight back to the buffer number.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"
#include "virtio_dev.h"
#include "virtio_console.h"

#define RX_BYTES  ((uint32_t)VCONS_RX_BUFS * VCONS_RX_BUF_SIZE)
#define DMA_BYTES (RX_BYTES + (uint32_t)VCONS_TX_BUFS * VCONS_TX_BUF_SIZE)

_Static_assert((VCONS_RING_SIZE & (VCONS_RING_SIZE - 1)) == 0,
               "VCONS_RING_SIZE must be a power of two");

static uint8_t *rx_buf(struct vcons *vc, uint32_t i)
{
  return vc->dma + i * VCONS_RX_BUF_SIZE;
}

static uint8_t *tx_buf(struct vcons *vc, uint32_t i)
{
  return vc->dma + RX_BYTES + i * VCONS_TX_BUF_SIZE;
}

// Buffer number of a token, or -1 if it is no buffer of this kind. virtq
// only hands back tokens we gave it, so -1 means our own bookkeeping broke.
static int buf_index(struct vcons *vc, void *token, uint32_t first, uint32_t size,
                     uint32_t count)
{
  uintptr_t off = (uintptr_t)token - (uintptr_t)vc->dma;

  if ((uintptr_t)token < (uintptr_t)vc->dma || off < first)
    return -1;
  off -= first;
  if (off % size != 0 || off / size >= count)
    return -1;
  return (int)(off / size);
}

static void copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n)
{
  while (n-- > 0)
    *dst++ = *src++;
}

// Give up on the device (lock held): stop it, and let every sleeper see it.
static void give_up(struct vcons *vc, const char *why)
{
  struct virtq *qs[2] = { &vc->rxq, &vc->txq };

  if (vc->broken)
    return;
  vc->broken = 1;
  vio_give_up(vc->dev, "virtio-console", why, qs, 2);
  vos_wakeup(&vc->ring_wr);
  vos_wakeup(&vc->tx_free);
  vos_wakeup(&vc->writing);
}

// ---- receive (all with vc->lock held) ----

// Hand receive buffer i to the device; it may fill all of it.
static void post_rx(struct vcons *vc, uint32_t i)
{
  struct virtq_buf b = { rx_buf(vc, i), VCONS_RX_BUF_SIZE, 1 };

  // The queue has a descriptor for every buffer (see vcons_init), so only
  // a broken queue can refuse.
  if (virtq_add(&vc->rxq, &b, 1, rx_buf(vc, i)) != VIRTQ_OK)
    give_up(vc, "receive queue refused a buffer");
}

static uint32_t ring_room(struct vcons *vc)
{
  return VCONS_RING_SIZE - (vc->ring_wr - vc->ring_rd);
}

// Move bytes from held buffers into the ring, oldest buffer first, as far
// as the ring has room, and post every buffer that is empty again.
// Returns how many were posted (the caller kicks).
static int drain_held(struct vcons *vc)
{
  int posted = 0;

  while (vc->held_count > 0 && !vc->broken) {
    uint32_t i = vc->held[vc->held_first];
    uint32_t left = vc->held_len[i] - vc->held_off[i];
    uint32_t n = ring_room(vc);
    uint32_t k;

    if (n > left)
      n = left;
    for (k = 0; k < n; k++)
      vc->ring[(vc->ring_wr + k) % VCONS_RING_SIZE] = rx_buf(vc, i)[vc->held_off[i] + k];
    vc->ring_wr += n;
    vc->held_off[i] += n;
    if (vc->held_off[i] < vc->held_len[i]) {
      // The ring is full. The buffer stays with us, and the ones behind it
      // too: their bytes must not overtake these.
      vc->stats.rx_held++;
      break;
    }
    vc->held_first = (vc->held_first + 1) % VCONS_RX_BUFS;
    vc->held_count--;
    post_rx(vc, i);
    posted++;
  }
  return posted;
}

// Take every finished receive buffer off the queue.
static void reap_rx(struct vcons *vc)
{
  uint32_t before = vc->ring_wr;
  uint32_t len;
  void *token;
  int r, i;

  virtq_disable_intr(&vc->rxq);
  do {
    while ((r = virtq_get(&vc->rxq, &token, &len)) == 1) {
      i = buf_index(vc, token, 0, VCONS_RX_BUF_SIZE, vc->nrx);
      if (i < 0 || vc->held_count >= VCONS_RX_BUFS) {
        give_up(vc, "a receive completion we cannot place");
        return;
      }
      // virtq_get checked len <= VCONS_RX_BUF_SIZE, the buffer we posted.
      vc->held[(vc->held_first + vc->held_count) % VCONS_RX_BUFS] = (uint8_t)i;
      vc->held_count++;
      vc->held_len[i] = len;
      vc->held_off[i] = 0;
      vc->stats.rx_buffers++;
      vc->stats.rx_bytes += len;
    }
    if (r < 0) {
      give_up(vc, "receive queue broken");
      return;
    }
  } while (virtq_enable_intr(&vc->rxq));
  if (drain_held(vc) > 0 && !vc->broken)
    virtq_kick(&vc->rxq);
  if (vc->ring_wr != before)
    vos_wakeup(&vc->ring_wr);
}

// ---- transmit (all with vc->lock held) ----

// Take back every transmit buffer the device has finished with.
static void reap_tx(struct vcons *vc)
{
  uint32_t len, freed = 0;
  void *token;
  int r, i;

  virtq_disable_intr(&vc->txq);
  do {
    while ((r = virtq_get(&vc->txq, &token, &len)) == 1) {
      i = buf_index(vc, token, RX_BYTES, VCONS_TX_BUF_SIZE, vc->ntx);
      if (i < 0 || !vc->tx_busy[i]) {
        give_up(vc, "a transmit completion for a buffer the device did not have");
        return;
      }
      vc->tx_busy[i] = 0;
      vc->tx_free++;
      freed++;
    }
    if (r < 0) {
      give_up(vc, "transmit queue broken");
      return;
    }
  } while (virtq_enable_intr(&vc->txq));
  if (freed > 0)
    vos_wakeup(&vc->tx_free);
}

static int free_tx_buffer(struct vcons *vc)
{
  uint32_t i;

  for (i = 0; i < vc->ntx; i++) {
    if (!vc->tx_busy[i])
      return (int)i;
  }
  return -1;
}

static int interrupted(struct vcons *vc)
{
  return vc->interrupted != 0 && vc->interrupted() != 0;
}

int vcons_write(struct vcons *vc, const void *buf, uint32_t len)
{
  const uint8_t *src = buf;
  uint32_t done = 0, n;
  int filled = 0, i, ret;
  struct virtq_buf b;

  vos_lock(&vc->lock);
  // One write at a time, so the bytes of one call stay together even when
  // it needs more than one round of buffers.
  while (vc->writing && vc->ready && !vc->broken && !interrupted(vc))
    vos_sleep(&vc->writing, &vc->lock);
  if (vc->writing || !vc->ready || vc->broken) {
    vos_unlock(&vc->lock);
    return -1;
  }
  vc->writing = 1;
  while (done < len && !vc->broken) {
    i = free_tx_buffer(vc);
    if (i < 0) {
      // All buffers are busy. Publish what we filled (one notification for
      // all of them), take back what the device finished, and sleep only
      // if that freed nothing.
      if (filled > 0)
        virtq_kick(&vc->txq);
      filled = 0;
      reap_tx(vc);
      if (vc->tx_free == 0 && !vc->broken) {
        if (interrupted(vc))
          break;
        vc->stats.tx_waits++;
        vos_sleep(&vc->tx_free, &vc->lock);
      }
      continue;
    }
    n = len - done;
    if (n > VCONS_TX_BUF_SIZE)
      n = VCONS_TX_BUF_SIZE;
    copy_bytes(tx_buf(vc, (uint32_t)i), src + done, n);
    b.addr = tx_buf(vc, (uint32_t)i);
    b.len = n;
    b.device_writes = 0;
    if (virtq_add(&vc->txq, &b, 1, b.addr) != VIRTQ_OK) {
      give_up(vc, "transmit queue refused a buffer");
      break;
    }
    vc->tx_busy[i] = 1;
    vc->tx_free--;
    vc->stats.tx_buffers++;
    vc->stats.tx_bytes += n;
    done += n;
    filled++;
  }
  if (filled > 0 && !vc->broken)
    virtq_kick(&vc->txq);
  if (done == len)
    ret = (int)len;
  else
    ret = (done > 0 && !vc->broken) ? (int)done : -1;  // interrupted part way
  vc->writing = 0;
  vos_wakeup(&vc->writing);
  vos_unlock(&vc->lock);
  return ret;
}

int vcons_read(struct vcons *vc, void *buf, uint32_t max, int nonblock)
{
  uint8_t *dst = buf;
  uint32_t n, k;

  vos_lock(&vc->lock);
  for (;;) {
    if (!vc->ready) {
      vos_unlock(&vc->lock);
      return -1;
    }
    if (vc->ring_wr != vc->ring_rd || max == 0)
      break;
    // Bytes already in the ring are still delivered after a breakdown.
    if (vc->broken || interrupted(vc)) {
      vos_unlock(&vc->lock);
      return -1;
    }
    if (nonblock) {
      vos_unlock(&vc->lock);
      return 0;
    }
    vos_sleep(&vc->ring_wr, &vc->lock);
  }
  n = vc->ring_wr - vc->ring_rd;
  if (n > max)
    n = max;
  for (k = 0; k < n; k++)
    dst[k] = vc->ring[(vc->ring_rd + k) % VCONS_RING_SIZE];
  vc->ring_rd += n;
  // We made room: held buffers may now empty into the ring and go back.
  if (n > 0 && drain_held(vc) > 0 && !vc->broken)
    virtq_kick(&vc->rxq);
  vos_unlock(&vc->lock);
  return (int)n;
}

uint32_t vcons_readable(struct vcons *vc)
{
  uint32_t n;

  vos_lock(&vc->lock);
  n = vc->ring_wr - vc->ring_rd;
  vos_unlock(&vc->lock);
  return n;
}

void vcons_intr(struct vcons *vc)
{
  uint32_t why;

  vos_lock(&vc->lock);
  // Acknowledge before reaping: a completion that lands after our last
  // look at the rings raises the interrupt again instead of being lost.
  why = vio_intr_ack(vc->dev);
  if (!vc->ready || vc->broken) {
    vos_unlock(&vc->lock);
    return;
  }
  vc->stats.interrupts++;
  if ((why & VIRTIO_MMIO_INT_CONFIG) &&
      (vio_get_status(vc->dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
    give_up(vc, "device set DEVICE_NEEDS_RESET");
  if (!vc->broken)
    reap_tx(vc);
  if (!vc->broken)
    reap_rx(vc);
  vos_unlock(&vc->lock);
}

void vcons_get_stats(struct vcons *vc, struct vcons_stats *out)
{
  vos_lock(&vc->lock);
  *out = vc->stats;
  vos_unlock(&vc->lock);
}

// ---- initialisation ----

static int setup_fail(struct vcons *vc, const char *why)
{
  struct virtq *qs[2] = { &vc->rxq, &vc->txq };

  vio_unwind(vc->dev, "virtio-console", why, qs, 2);
  if (vc->dma)
    vos_dma_free(vc->dma, DMA_BYTES);
  vc->dma = 0;
  vc->broken = 1;
  return -1;
}

int vcons_init(struct vcons *vc, struct vio_dev *d)
{
  uint8_t *p = (uint8_t *)vc;
  uint32_t i;

  for (i = 0; i < sizeof(*vc); i++)
    p[i] = 0;
  vc->dev = d;
  vos_lock_init(&vc->lock, "vcons");
  // 3.1.1 steps 1-6. None of the console's own features: without MULTIPORT
  // there is exactly one port and no control queues (5.3.3). EVENT_IDX
  // only saves notifications; virtq.h uses it when the device agrees.
  if (vio_start(d, VIRTIO_ID_CONSOLE, "virtio-console",
                (uint64_t)1 << VIRTIO_RING_F_EVENT_IDX) < 0) {
    vc->broken = 1;
    return -1;
  }
  // Step 7: the queues (one descriptor per buffer) and the buffers.
  if (virtq_init(&vc->rxq, d, VIRTIO_CONSOLE_RXQ, VCONS_RX_BUFS) < 0)
    return setup_fail(vc, "no receive queue");
  if (virtq_init(&vc->txq, d, VIRTIO_CONSOLE_TXQ, VCONS_TX_BUFS) < 0)
    return setup_fail(vc, "no transmit queue");
  vc->dma = vos_dma_alloc(DMA_BYTES);
  if (vc->dma == 0)
    return setup_fail(vc, "no memory for buffers");
  // A device may offer smaller queues than we have buffers: use fewer.
  vc->nrx = vc->rxq.size < VCONS_RX_BUFS ? vc->rxq.size : VCONS_RX_BUFS;
  vc->ntx = vc->txq.size < VCONS_TX_BUFS ? vc->txq.size : VCONS_TX_BUFS;

  vos_lock(&vc->lock);
  for (i = 0; i < vc->nrx; i++)
    post_rx(vc, i);
  vc->tx_free = vc->ntx;
  vc->ready = 1;
  // Step 8, then tell the device about the receive buffers (a driver may
  // not notify before DRIVER_OK).
  vio_driver_ok(d);
  virtq_kick(&vc->rxq);
  vos_unlock(&vc->lock);
  vos_log("virtio-console %p: %s transport, %u receive buffers of %u bytes, "
          "%u transmit buffers of %u bytes%s\n", (void *)d->base,
          d->version == 1 ? "legacy" : "modern", (unsigned)vc->nrx,
          (unsigned)VCONS_RX_BUF_SIZE, (unsigned)vc->ntx, (unsigned)VCONS_TX_BUF_SIZE,
          vc->rxq.event_idx ? ", EVENT_IDX" : "");
  return 0;
}
