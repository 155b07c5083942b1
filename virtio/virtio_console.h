// virtio_console.h: the virtio console driver: byte streams in both
// directions on one or more ports, built on virtq.h and virtio_mmio.h.
// Portable: the RISC-V kernel (/dev/vcons for the second shell, and
// /dev/vport0.. for every port), the Cortex-M3 port and the host tests use
// it as is.
//
// Follows virtio 1.2 section 5.3 (Console Device): 5.3.2 the queues,
// 5.3.3 feature bits (we take VIRTIO_CONSOLE_F_MULTIPORT when offered),
// 5.3.4 max_nr_ports in the configuration space, 5.3.5 initialization,
// 5.3.6 operation (receive buffers are write-only for the device and
// used.len says how many bytes it put in; transmit buffers are read-only
// for the device), 5.3.6.2 the control messages of a multiport device.
//
// See it run: `make qemu`, then in another terminal `nc localhost PORT` (the
// Makefile prints PORT) gives you a second shell; `make check` runs
// tests/qemu/test_vconsole.py (a console port, a plain virtserialport,
// three ports at once) and the console_* host tests (tests/host).
//
// Ports. A port is one byte stream with a receiveq and a transmitq of its
// own. Without MULTIPORT the device has exactly one, port 0 (queues 0 and
// 1), and it is there from the start. With MULTIPORT (QEMU's
// virtio-serial offers it whenever it may have more than one port) the
// device announces its ports on the control receiveq and the driver
// answers on the control transmitq; port n >= 1 has queues 2n+2 and 2n+3.
// This driver handles ports 0 .. VCONS_MAX_PORTS-1: the queues of all of
// them are set up before DRIVER_OK, the ports themselves come and go as
// the device says. A port with a higher number is refused (PORT_READY
// with value 0) and counted.
//
// How bytes flow, per port:
//   receive   VCONS_RX_BUFS small buffers are always posted. The interrupt
//             copies what the device wrote into a byte ring (struct
//             vcons_port below) and posts the buffer again; vcons_read
//             takes bytes out of the ring. When the ring is full, a
//             finished buffer is kept ("held") with its bytes and only
//             re-posted once readers have made room: with fewer buffers
//             posted the device stops taking input, so a fast sender is
//             slowed down, never dropped.
//   transmit  vcons_write copies the caller's bytes into VCONS_TX_BUFS
//             buffers of VCONS_TX_BUF_SIZE bytes, one descriptor each, and
//             notifies the device once for all the buffers it filled. It
//             sleeps while every transmit buffer is with the device, and
//             while the other end of the port is not connected (the
//             device said PORT_OPEN 0): QEMU throws away what a port
//             without a listener is sent.
//
// Usage:
//   static struct vcons vc;              // statically: it is tens of KB
//   vcons_init(&vc, &dev);               // once; 0 or -1
//   vcons_intr(&vc);                     // from the device's interrupt
//   while (!vcons_settled(&vc)) ...      // the device's first announcements
//   p = vcons_pick_port(&vc);            // the port for a shell, or -1
//   n = vcons_read(&vc, p, buf, sizeof buf, 0);  // blocks for the first byte
//   vcons_write(&vc, p, "hello\n", 6);
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
#include "virtio_transport.h"
#include "virtq.h"

// ---- spec facts (5.3) ----
#define VIRTIO_CONSOLE_F_SIZE        0   // cols and rows in configuration space
#define VIRTIO_CONSOLE_F_MULTIPORT   1   // several ports, control queues 2 and 3
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2   // emerg_wr: write one byte without queues
// Queues (5.3.2). Port 0 keeps queues 0 and 1 with or without MULTIPORT,
// so an old single-port driver still works on a multiport device.
#define VIRTIO_CONSOLE_RXQ      0        // receiveq(port0)
#define VIRTIO_CONSOLE_TXQ      1        // transmitq(port0)
#define VIRTIO_CONSOLE_CTRL_RXQ 2        // control receiveq: device -> driver
#define VIRTIO_CONSOLE_CTRL_TXQ 3        // control transmitq: driver -> device
// Configuration space (5.3.4): le16 cols, le16 rows, le32 max_nr_ports,
// le32 emerg_wr.
#define VIRTIO_CONSOLE_CFG_MAX_NR_PORTS 4
// struct virtio_console_control (5.3.6.2): le32 id (the port), le16 event,
// le16 value; a PORT_NAME message is followed by the name, a RESIZE by
// le16 cols and le16 rows.
#define VIRTIO_CONSOLE_CTRL_SIZE 8
// Its events. The spec's list calls 1 and 2 DEVICE_ADD and DEVICE_REMOVE
// (its prose says PORT_ADD); both add or remove one port.
#define VIRTIO_CONSOLE_DEVICE_READY  0   // driver: ready for control messages (value 1)
#define VIRTIO_CONSOLE_DEVICE_ADD    1   // device: port `id` exists
#define VIRTIO_CONSOLE_DEVICE_REMOVE 2   // device: port `id` is gone
#define VIRTIO_CONSOLE_PORT_READY    3   // driver: port set up (1) or refused (0)
#define VIRTIO_CONSOLE_CONSOLE_PORT  4   // device: treat the port as a console
#define VIRTIO_CONSOLE_RESIZE        5   // device: the console's size changed
#define VIRTIO_CONSOLE_PORT_OPEN     6   // both: this side opened (1) or closed (0) it
#define VIRTIO_CONSOLE_PORT_NAME     7   // device: the port's name follows

// ---- sizes ----
// #ifndef defaults, because the Cortex-M3 port, with 64 KB of RAM in all,
// passes smaller ones with -D (cm3/Makefile, TUNE). Every file of a
// build must see the same values. Each port has its own buffers and ring.
#ifndef VCONS_MAX_PORTS
#define VCONS_MAX_PORTS    4     // ports 0..3 get queues and buffers (QEMU allows 31)
#endif
#ifndef VCONS_RX_BUFS
#define VCONS_RX_BUFS      8     // receive buffers kept posted, per port
#endif
#ifndef VCONS_RX_BUF_SIZE
#define VCONS_RX_BUF_SIZE  256   // bytes per receive buffer
#endif
#ifndef VCONS_TX_BUFS
#define VCONS_TX_BUFS      4     // transmit buffers, per port
#endif
#ifndef VCONS_TX_BUF_SIZE
#define VCONS_TX_BUF_SIZE  1024  // bytes per transmit buffer (one descriptor)
#endif
#ifndef VCONS_RING_SIZE
#define VCONS_RING_SIZE    2048  // received bytes waiting for a reader; a power of two
#endif
#ifndef VCONS_CTRL_RX_BUFS
#define VCONS_CTRL_RX_BUFS 16    // control receive buffers kept posted
#endif
#ifndef VCONS_CTRL_BUF_SIZE
#define VCONS_CTRL_BUF_SIZE 128  // bytes each: the 8-byte message and a port name
#endif
#define VCONS_CTRL_OUT     16    // our control messages waiting their turn
#define VCONS_NAME_MAX     32    // bytes of a port's name we keep, with the 0

_Static_assert(VCONS_RX_BUFS <= 256, "held[] stores buffer numbers in a byte");
_Static_assert(VCONS_MAX_PORTS >= 1, "port 0 always exists");
_Static_assert(VCONS_CTRL_BUF_SIZE >= VIRTIO_CONSOLE_CTRL_SIZE + 4,
               "a control buffer must hold the longest fixed message (RESIZE)");

// Counters of one port; they only grow (and wrap).
struct vcons_port_stats {
  uint32_t rx_bytes;      // bytes the device delivered
  uint32_t rx_buffers;    // receive buffers it gave back
  uint32_t rx_held;       // times the ring filled while a buffer still held bytes
                          // (one buffer may count several times)
  uint32_t tx_bytes;      // bytes handed to the device
  uint32_t tx_buffers;    // transmit buffers (chains) handed to it
  uint32_t tx_waits;      // times a writer slept: all buffers busy, or nobody listening
};

// Counters of the device: the ports' summed up (vcons_get_stats), the
// interrupts, and the control messages. Every message we drop is counted
// under the reason we dropped it.
struct vcons_stats {
  uint32_t rx_bytes, rx_buffers, rx_held;    // the sums of struct vcons_port_stats
  uint32_t tx_bytes, tx_buffers, tx_waits;
  uint32_t interrupts;
  uint32_t ctrl_in;        // control messages from the device
  uint32_t ctrl_out;       // control messages we sent
  uint32_t ctrl_short;     // dropped: shorter than their event needs
  uint32_t ctrl_unknown;   // dropped: an event a device does not send
  uint32_t ctrl_bad_id;    // dropped: port id >= max_nr_ports
  uint32_t ctrl_bad_state; // dropped: names a port not added, or adds one twice
  uint32_t ctrl_bad_value; // dropped: PORT_OPEN with a value other than 0 or 1
  uint32_t ctrl_overflow;  // our answers dropped: VCONS_CTRL_OUT were waiting
  uint32_t ports_refused;  // ports >= VCONS_MAX_PORTS, answered PORT_READY 0
};

// One port. The bookkeeping of its bytes is the same with or without
// MULTIPORT; what the device said about it is only set by control
// messages (without MULTIPORT: port 0, present, open, a console).
struct vcons_port {
  struct virtq rxq, txq;
  uint8_t *rx_mem;        // its VCONS_RX_BUFS receive buffers, in vc->dma
  uint8_t *tx_mem;        // its VCONS_TX_BUFS transmit buffers, in vc->dma
  uint32_t nrx, ntx;      // buffers in use: at most the queue sizes

  int present;            // the device added the port and we accepted it
  int console;            // the device said CONSOLE_PORT
  int host_open;          // the other end is connected (the device's PORT_OPEN)
  int guest_open;         // we told the device we opened it (our PORT_OPEN 1)
  uint32_t ready_seq;     // 1 for the first port we accepted, 2 for the next ...
  char name[VCONS_NAME_MAX];  // PORT_NAME, printable ASCII; "" if none

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

  struct vcons_port_stats stats;
};

// A control message of ours waiting to be sent (host byte order).
struct vcons_ctrl_msg {
  uint32_t id;
  uint16_t event, value;
};

struct vcons {
  struct vio_dev *dev;
  vos_lock_t lock;
  int multiport;          // VIRTIO_CONSOLE_F_MULTIPORT negotiated
  uint32_t max_nr_ports;  // the device's limit (configuration space); 1 without MULTIPORT
  uint32_t nports;        // ports with queues: min(max_nr_ports, VCONS_MAX_PORTS)
  uint8_t *dma;           // every buffer of every port and the control buffers
  size_t dma_size;
  int ready;              // set up and running
  int broken;             // gave up on the device: reads and writes fail

  // The control queues (MULTIPORT only). One message of ours is with the
  // device at a time; the rest wait in out[] (a FIFO).
  struct virtq crxq, ctxq;
  uint8_t *ctrl_rx_mem;   // VCONS_CTRL_RX_BUFS buffers of VCONS_CTRL_BUF_SIZE
  uint8_t *ctrl_tx_mem;   // the one message in flight
  uint32_t ncrx;
  struct vcons_ctrl_msg out[VCONS_CTRL_OUT];
  uint32_t out_first, out_count;
  int out_busy;           // ctrl_tx_mem is with the device
  int device_ready_done;  // the device took our DEVICE_READY back
  uint32_t ready_seq;     // the last port's ready_seq

  struct vcons_port port[VCONS_MAX_PORTS];

  // Optional (NULL by default): a blocked reader or writer gives up (-1)
  // when this returns non-zero, e.g. because its process was killed.
  int (*interrupted)(void);

  struct vcons_stats stats;   // interrupts and control counters; the rest: vcons_get_stats
};

// What vcons_port_info reports about one port.
struct vcons_port_info {
  int present, console, host_open, guest_open;
  char name[VCONS_NAME_MAX];
  struct vcons_port_stats stats;
};

// Handshake (3.1.1), the queues of every port and (MULTIPORT) the control
// queues, receive buffers posted, DRIVER_OK, DEVICE_READY sent.
// Returns 0, or -1 (logged; the device is marked FAILED).
int  vcons_init(struct vcons *vc, struct vio_dev *d);
// Queue `len` bytes for output on `port`, many bytes per chain; blocks
// while all transmit buffers are busy or the port's other end is closed.
// Returns len, or -1 if the port does not exist (now), the device is
// broken, or the wait was interrupted before a byte went out.
int  vcons_write(struct vcons *vc, uint32_t port, const void *buf, uint32_t len);
// Up to `max` bytes received on `port`. Blocks until there is at least
// one, unless nonblock (then 0 when there is none). -1 if the port does
// not exist (once its last bytes are read), the device is broken, or the
// wait was interrupted.
int  vcons_read(struct vcons *vc, uint32_t port, void *buf, uint32_t max, int nonblock);
// The device's interrupt: control messages first, then for every port
// the finished transmit buffers and the received bytes, waking writers
// and readers.
void vcons_intr(struct vcons *vc);
// Bytes waiting in `port`'s ring right now (a poll() would use it).
uint32_t vcons_readable(struct vcons *vc, uint32_t port);
// 1 once the device has answered our DEVICE_READY and every answer of
// ours has been taken, i.e. the ports it had at start-up are known (at
// once without MULTIPORT, or when the device is broken).
int  vcons_settled(struct vcons *vc);
// The port a console user (a shell) should get: the lowest-numbered port
// the device called a console, else the port accepted first, else -1.
int  vcons_pick_port(struct vcons *vc);
// What is known about `port`; 0, or -1 if it is beyond the ports we drive.
int  vcons_port_info(struct vcons *vc, uint32_t port, struct vcons_port_info *out);
void vcons_get_stats(struct vcons *vc, struct vcons_stats *out);

#endif
