// virtio_console.h: the virtio console driver (a byte stream in each
// direction), built on virtq.h and virtio_mmio.h. Portable: the RISC-V
// kernel (/dev/vcons, a second shell) and the Cortex-M3 port use it as is.
//
// Follows virtio 1.2 section 5.3 (Console Device): 5.3.2 the queues (we use
// port 0 only: receiveq 0, transmitq 1), 5.3.3 feature bits (we take none of
// the console's own, so there are no control queues and no MULTIPORT),
// 5.3.5 initialization, 5.3.6 operation (receive buffers are write-only for
// the device and used.len says how many bytes it put in; transmit buffers
// are read-only for the device).
//
// See it run: `make qemu`, then in another terminal `nc localhost PORT` (the
// Makefile prints PORT) gives you a second shell; `make check` runs
// tests/qemu/test_vconsole.py (commands and 64 KB through `cat`).
//
// How bytes flow:
//   receive   VCONS_RX_BUFS small buffers are always posted. The interrupt
//             copies what the device wrote into a byte ring (struct vcons
//             below) and posts the buffer again; vcons_read takes bytes
//             out of the ring. When the ring is full, a finished buffer is
//             kept ("held") with its bytes and only re-posted once readers
//             have made room: with fewer buffers posted the device stops
//             taking input, so a fast sender is slowed down, never dropped.
//   transmit  vcons_write copies the caller's bytes into VCONS_TX_BUFS
//             buffers of VCONS_TX_BUF_SIZE bytes, one descriptor each, and
//             notifies the device once for all the buffers it filled. It
//             sleeps only while every transmit buffer is with the device;
//             the interrupt hands finished buffers back.
//
// Usage:
//   static struct vcons vc;              // statically: it is a few KB
//   vcons_init(&vc, &dev);               // once; 0 or -1
//   vcons_intr(&vc);                     // from the device's interrupt
//   n = vcons_read(&vc, buf, sizeof buf, 0);  // blocks for the first byte
//   vcons_write(&vc, "hello\n", 6);
// buf may be any memory (the driver copies); the driver never hands the
// caller's memory to the device.
//
// Locking: vc->lock protects everything; the interrupt takes it too.
#ifndef VIRTIO_CONSOLE_H
#define VIRTIO_CONSOLE_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"

// ---- spec facts (5.3) ----
#define VIRTIO_CONSOLE_F_SIZE        0   // cols and rows in configuration space
#define VIRTIO_CONSOLE_F_MULTIPORT   1   // several ports, control queues 2 and 3
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2   // emerg_wr: write one byte without queues
#define VIRTIO_CONSOLE_RXQ 0             // receiveq (port 0)
#define VIRTIO_CONSOLE_TXQ 1             // transmitq (port 0)

// ---- sizes ----
// #ifndef defaults, because the Cortex-M3 port, with 64 KB of RAM in all,
// passes smaller ones with -D (cm3/Makefile, TUNE). Every file of a
// build must see the same values.
#ifndef VCONS_RX_BUFS
#define VCONS_RX_BUFS      8     // receive buffers kept posted
#endif
#ifndef VCONS_RX_BUF_SIZE
#define VCONS_RX_BUF_SIZE  256   // bytes per receive buffer
#endif
#ifndef VCONS_TX_BUFS
#define VCONS_TX_BUFS      4     // transmit buffers
#endif
#ifndef VCONS_TX_BUF_SIZE
#define VCONS_TX_BUF_SIZE  1024  // bytes per transmit buffer (one descriptor)
#endif
#ifndef VCONS_RING_SIZE
#define VCONS_RING_SIZE    2048  // received bytes waiting for a reader; a power of two
#endif

_Static_assert(VCONS_RX_BUFS <= 256, "held[] stores buffer numbers in a byte");

// Counters; they only grow (and wrap).
struct vcons_stats {
  uint32_t rx_bytes;      // bytes the device delivered
  uint32_t rx_buffers;    // receive buffers it gave back
  uint32_t rx_held;       // times the ring filled while a buffer still held bytes
                          // (one buffer may count several times)
  uint32_t tx_bytes;      // bytes handed to the device
  uint32_t tx_buffers;    // transmit buffers (chains) handed to it
  uint32_t tx_waits;      // times a writer slept because all buffers were busy
  uint32_t interrupts;
};

struct vcons {
  struct vio_dev *dev;
  vos_lock_t lock;
  struct virtq rxq, txq;
  uint8_t *dma;           // receive buffers, then transmit buffers (one DMA block)
  uint32_t nrx, ntx;      // buffers in use: at most the queue sizes
  int ready;              // set up and running
  int broken;             // gave up on the device: reads and writes fail

  // Received bytes: ring[rd % SIZE] .. ring[wr % SIZE], counters free-running.
  uint8_t ring[VCONS_RING_SIZE];
  uint32_t ring_rd, ring_wr;
  // Receive buffers the device gave back that still hold bytes which did
  // not fit in the ring, oldest first (a FIFO of buffer numbers).
  uint8_t held[VCONS_RX_BUFS];
  uint32_t held_first, held_count;
  uint32_t held_len[VCONS_RX_BUFS];  // bytes the device wrote into buffer i
  uint32_t held_off[VCONS_RX_BUFS];  // ... of which already copied to the ring

  // Transmit buffers: busy[i] = 1 while the device has buffer i.
  uint8_t tx_busy[VCONS_TX_BUFS];
  uint32_t tx_free;       // buffers not busy; writers sleep on &tx_free
  int writing;            // a vcons_write is in progress; others wait on &writing

  // Optional (NULL by default): a blocked reader or writer gives up (-1)
  // when this returns non-zero, e.g. because its process was killed.
  int (*interrupted)(void);

  struct vcons_stats stats;
};

// Handshake (3.1.1), queues 0 and 1, receive buffers posted, DRIVER_OK.
// Returns 0, or -1 (logged; the device is marked FAILED).
int  vcons_init(struct vcons *vc, struct vio_dev *d);
// Queue `len` bytes for output, many bytes per chain; blocks only while
// all transmit buffers are busy. Returns len, or -1 if the device is
// broken (or the wait was interrupted).
int  vcons_write(struct vcons *vc, const void *buf, uint32_t len);
// Up to `max` received bytes. Blocks until there is at least one, unless
// nonblock (then 0 when there is none). -1 if the device is broken (or
// the wait was interrupted).
int  vcons_read(struct vcons *vc, void *buf, uint32_t max, int nonblock);
// The device's interrupt: takes back finished transmit buffers and copies
// received bytes into the ring, waking writers and readers.
void vcons_intr(struct vcons *vc);
// Bytes waiting in the ring right now (a poll() would use it).
uint32_t vcons_readable(struct vcons *vc);
void vcons_get_stats(struct vcons *vc, struct vcons_stats *out);

#endif
