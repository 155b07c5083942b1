// virtio_blk.h: the virtio block device driver (a disk made of 512-byte
// sectors), built on virtq.h and virtio_mmio.h.
//
// Follows virtio 1.2 section 5.2 (Block Device): 5.2.3 feature bits, 5.2.4
// configuration layout, 5.2.5 initialization, 5.2.6 requests (and the
// write-cache rules in 5.2.6.2 for flushes).
//
// See it run: `make -C tests/host check` (blk_* and perf_* tests against the
// device model's RAM disk), `make qemu` (the file system lives on it; the
// boot log lists the features in use) and `blkbench` in the shell.
//
// Two ways in:
//   Blocking, one buffer (the plain path; virtio_blk.c part 1):
//     vblk_rw(&disk, write, sector, buf, len)
//   Asynchronous, many buffers, many requests in flight (part 3):
//     struct vblk_req *r = ...;          // caller's memory, not the device's
//     r->type = VBLK_READ; r->sector = s; r->nseg = 2;
//     r->seg[0].addr = page0; r->seg[0].len = 4096;  // DMA-able memory
//     r->seg[1].addr = page1; r->seg[1].len = 4096;
//     r->complete = 0;                   // or a callback, see struct vblk_req
//     vblk_submit_nokick(&disk, r);      // queue, more may follow ...
//     vblk_kick(&disk);                  // ... one notification for all
//     status = vblk_wait(&disk, r);      // 0 or -1
//
// Usage (the platform glue does this: kernel/glue/disk.c, cm3/board.c):
//   static struct vblk disk;
//   vblk_init(&disk, &dev, &VBLK_LIMITS_FULL);  // once, at boot
//   vblk_intr(&disk);                           // from the device's interrupt
#ifndef VIRTIO_BLK_H
#define VIRTIO_BLK_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"

// ---- spec facts (5.2) ----
// Feature bits.
#define VIRTIO_BLK_F_SIZE_MAX      1   // size_max: largest single segment
#define VIRTIO_BLK_F_SEG_MAX       2   // seg_max: most segments per request
#define VIRTIO_BLK_F_GEOMETRY      4
#define VIRTIO_BLK_F_RO            5   // the device is read-only
#define VIRTIO_BLK_F_BLK_SIZE      6   // blk_size: the device's preferred block size
#define VIRTIO_BLK_F_FLUSH         9   // VIRTIO_BLK_T_FLUSH exists (a write cache)
#define VIRTIO_BLK_F_TOPOLOGY      10
#define VIRTIO_BLK_F_CONFIG_WCE    11
#define VIRTIO_BLK_F_MQ            12
#define VIRTIO_BLK_F_DISCARD       13
#define VIRTIO_BLK_F_WRITE_ZEROES  14

// Configuration space (struct virtio_blk_config), byte offsets.
#define VIRTIO_BLK_CFG_CAPACITY    0   // le64: size in 512-byte sectors, always present
#define VIRTIO_BLK_CFG_SIZE_MAX    8   // le32
#define VIRTIO_BLK_CFG_SEG_MAX     12  // le32
#define VIRTIO_BLK_CFG_GEOMETRY    16  // le16 cylinders, u8 heads, u8 sectors
#define VIRTIO_BLK_CFG_BLK_SIZE    20  // le32

// Request types and status values.
#define VIRTIO_BLK_T_IN            0   // read from the disk
#define VIRTIO_BLK_T_OUT           1   // write to the disk
#define VIRTIO_BLK_T_FLUSH         4
#define VIRTIO_BLK_T_GET_ID        8
#define VIRTIO_BLK_S_OK            0
#define VIRTIO_BLK_S_IOERR         1
#define VIRTIO_BLK_S_UNSUPP        2

#define VIRTIO_BLK_SECTOR_SIZE     512  // sector numbers are always in these units

// A request is a chain of three parts (5.2.6):
//   struct virtio_blk_req_hdr   device reads   (type, reserved, sector)
//   data[len]                   device writes (T_IN) or reads (T_OUT)
//   u8 status                   device writes  (VIRTIO_BLK_S_*)
// The spec writes it as one struct virtio_blk_req { type; reserved; sector;
// data[]; status; }; the header part is what has a fixed layout.
struct virtio_blk_req_hdr {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "virtio_blk_req header is 16 bytes");

// ---- the driver ----

// Queue size we ask for: min(QueueNumMax, this, VIRTQ_MAX_SIZE).
#define VBLK_QUEUE_SIZE 256
// Device requests in flight at most (each needs a header slot). Without
// indirect descriptors the queue may hold fewer (a request takes 2 +
// segments descriptors then). These two sizes are #ifndef defaults, the
// only conditional compilation here, because the Cortex-M3 port has 64 KB
// of RAM in all and passes smaller ones with -D (cm3/Makefile, TUNE);
// every file of a build must see the same values.
#ifndef VBLK_NSLOT
#define VBLK_NSLOT 32
#endif
// Most caller segments in one vblk_req: 256 KB of 4 KB pages (the M3
// passes 4).
#ifndef VBLK_MAX_SEGS
#define VBLK_MAX_SEGS 64
#endif

// The part of a request the device reads and writes besides the caller's
// data: one per slot, in DMA memory (never on a kernel stack).
struct vblk_dma {
  struct virtio_blk_req_hdr hdr;
  uint8_t status;
  uint8_t pad[15];  // to 32 bytes: every slot's header stays 16-byte aligned
};
_Static_assert(sizeof(struct vblk_dma) == 32, "vblk_dma is 32 bytes");

// What the driver may use, handed to it once at init. The kernel passes
// VBLK_LIMITS_FULL; the benchmarks compare with the classic design by
// passing smaller numbers (bench/kblkbench.c). The driver reads these
// numbers where it needs them and never asks which design is on.
struct vblk_limits {
  uint32_t max_bytes;    // data bytes in one device request (1024: one file-system block)
  int max_inflight;      // device requests in flight (1: one at a time)
  uint64_t features;     // optional feature bits it may accept if offered:
                         //   VBLK_OPTIONAL_FEATURES, or fewer (0: none)
};
// Every optional feature the driver knows how to use (5.2.3, 2.7).
#define VBLK_OPTIONAL_FEATURES \
  ((1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_SIZE_MAX) | \
   (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
   (1ull << VIRTIO_RING_F_INDIRECT_DESC))
// All of it: VBLK_NSLOT in flight, requests as big as the device takes.
extern const struct vblk_limits VBLK_LIMITS_FULL;

// vblk_req.type
#define VBLK_READ  0
#define VBLK_WRITE 1
#define VBLK_FLUSH 2

struct vblk_seg {
  void *addr;     // DMA-able and physically contiguous (see virtio_os.h)
  uint32_t len;   // bytes; any length, but the segments together must be
                  // a whole number of 512-byte sectors
};

// One request of the asynchronous API. The caller owns the memory (it may
// be on a kernel stack: the device never sees this struct, only the data
// buffers) and must leave it alone from vblk_submit until `done`.
//
// The driver splits a request into as many device requests as the
// device's limits need (SEG_MAX segments, SIZE_MAX bytes per segment, the
// queue size, the max_bytes limit) and finishes it when all of them have:
// status -1 if any failed.
struct vblk_req {
  int type;          // VBLK_READ, VBLK_WRITE or VBLK_FLUSH
  uint64_t sector;   // first 512-byte sector (ignored for VBLK_FLUSH)
  int nseg;          // 1..VBLK_MAX_SEGS (0 for VBLK_FLUSH)
  struct vblk_seg seg[VBLK_MAX_SEGS];
  // Optional. Called once when the request finishes: from the interrupt
  // handler (or from vblk_submit / vblk_fail if it finishes there), with
  // no vblk lock held, before `done` is set. It must not sleep, so it must
  // not call vblk_submit or vblk_wait; it may call vos_wakeup, take its own
  // locks, and read status.
  void (*complete)(struct vblk_req *r);
  void *arg;         // for the caller (the callback's context)

  // Results, written by the driver.
  int status;        // 0 ok, -1 error; valid once done
  volatile int done; // set last, under the driver's lock; vblk_wait reads it
                     // with the lock held, so read status after vblk_wait

  // The driver's own bookkeeping: callers never read or write it.
  struct {
    int parts;       // device requests out, plus 1 while still being issued
    int failed;      // some part failed
    int waiting;     // someone sleeps in vblk_wait for it (saves wakeups)
    struct vblk_req *cb_next;  // on the list of callbacks to run
  } drv;
};

// A snapshot for benchmarks, `lsdev -v` and the boot log.
struct vblk_stats {
  uint32_t requests;     // device requests (descriptor chains) sent
  uint32_t indirect;     // ... of which in an indirect table
  uint32_t kicks;        // batches published
  uint32_t notifies;     // QueueNotify writes
  uint32_t interrupts;   // interrupts handled
  uint32_t completions;  // device requests completed
  uint32_t rechecks;     // interrupt re-enable found more work
  uint32_t reads, writes, flushes, errors;  // caller requests
  int event_idx, indirect_desc, flush;      // in use
  uint32_t seg_max;      // data segments per device request we use
  uint32_t size_max;     // bytes per segment we use (0xffffffff: no limit)
  uint32_t max_bytes;    // data bytes per device request we send at most
  uint32_t queue_size;
  int nslot;             // device requests in flight at most
};

struct vblk {
  struct vio_dev *dev;
  vos_lock_t lock;       // protects everything below and the virtqueue
  struct virtq vq;
  struct vblk_limits limits;  // what vblk_init was allowed to use
  int ready;             // init succeeded and the device is not dead (see usable())
  int dead;              // we gave up on the device: every request fails
  int draining;          // vblk_reinit is waiting for requests in flight
  int readonly;          // VIRTIO_BLK_F_RO
  int has_flush;         // VIRTIO_BLK_F_FLUSH negotiated
  uint64_t capacity;     // in 512-byte sectors
  uint32_t blk_size;     // the device's block size (512 unless BLK_SIZE says)
  uint32_t seg_max;      // data descriptors per device request we may use
  uint32_t size_max;     // bytes per data descriptor (whole sectors if >= 512)
  uint32_t max_bytes;    // data bytes per device request
  int nslot;             // device requests that can be in flight (<= VBLK_NSLOT)
  int nslot_free;
  int slot_waiters;      // callers sleeping on &nslot_free (saves wakeups)
  struct vblk_dma *dma;  // nslot entries, from vos_dma_alloc
  struct vblk_req *slot_req[VBLK_NSLOT];  // 0 = free
  struct vblk_req *cb_head, *cb_tail;     // finished, callback not yet run
  struct virtq_buf chain[VBLK_MAX_SEGS + 2];  // scratch for building one chain
  uint32_t reads, writes, flushes, errors;  // caller request counters
};

// Initialise the driver on a probed block device, using at most `lim`
// (&VBLK_LIMITS_FULL for everything). 0, or -1 (logged; FAILED is set on
// the device, except when it is not a block device: that one is left
// untouched).
int      vblk_init(struct vblk *vb, struct vio_dev *d, const struct vblk_limits *lim);
// Wait until nothing is in flight (new requests wait too), reset the
// device and initialise it again with other limits (benchmark phases).
// Returns 0, or -1: there is no block device behind vb (nothing is
// touched), or the new set-up failed (the device is then dead).
int      vblk_reinit(struct vblk *vb, const struct vblk_limits *lim);

// Blocking read (write = 0) or write of len bytes (a multiple of 512) at
// sector. 0 or -1. The plain path: one device request when it fits one.
int      vblk_rw(struct vblk *vb, int write, uint64_t sector, void *buf, uint32_t len);
// The device's interrupt: finish whatever it has finished.
void     vblk_intr(struct vblk *vb);

// The asynchronous API. vblk_submit queues r and notifies the device;
// vblk_submit_nokick queues without publishing, so that a batch costs one
// notification at vblk_kick (vblk_wait and a full queue kick too). Both may
// sleep while the queue is full. 0: queued (or, for a flush the device
// does not need, already done); -1: rejected (bad arguments, read-only
// disk, dead device): then status = -1 and done = 1 at once and the
// callback is not called.
int      vblk_submit(struct vblk *vb, struct vblk_req *r);
int      vblk_submit_nokick(struct vblk *vb, struct vblk_req *r);
void     vblk_kick(struct vblk *vb);
// Sleep until r is done; returns r->status.
int      vblk_wait(struct vblk *vb, struct vblk_req *r);
// Make every write that completed before this call durable
// (VIRTIO_BLK_T_FLUSH). 0 or -1. Without VIRTIO_BLK_F_FLUSH this is 0 at
// once: see virtio_blk.c for why that is correct.
int      vblk_flush(struct vblk *vb);

uint64_t vblk_capacity(struct vblk *vb);
int      vblk_readonly(struct vblk *vb);
// The device's block size in bytes (VIRTIO_BLK_F_BLK_SIZE; 512 if it did
// not say). Requests stay in 512-byte sectors; see virtio_blk.c.
uint32_t vblk_block_size(struct vblk *vb);
void     vblk_get_stats(struct vblk *vb, struct vblk_stats *st);

// Give up on the device: reset it and fail every request in flight and
// every later one with -1. For a platform timeout when the device stops
// answering (the host tests use it for a device that never completes).
void     vblk_fail(struct vblk *vb, const char *why);
// Reset the device, fail what is in flight, free the rings and slots.
// Nobody may be inside vblk_* any more.
void     vblk_shutdown(struct vblk *vb);
void     vblk_log_stats(struct vblk *vb);

#endif
