// virtq.h: one split virtqueue, the way every driver (block now; console,
// network, entropy later) hands buffers to a device and gets them back.
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues): 2.7.5 the descriptor
// table, 2.7.6 the available ring, 2.7.8 the used ring, 2.7.13 supplying
// buffers, 2.7.14 receiving used buffers, 2.7.10 available buffer
// notification suppression. The ring layout is drawn in virtio.h.
//
// See it run: `make -C tests/host check` (the virtq_* tests and every
// block test) or `make qemu`.
//
// How a driver uses it:
//   virtq_init(&vq, dev, 0, 64);               // before vio_driver_ok
//   struct virtq_buf b[3] = { {hdr, 16, 0}, {data, 512, 1}, {status, 1, 1} };
//   virtq_add(&vq, b, 3, my_request);          // my_request comes back later
//   virtq_kick(&vq);                           // publish + notify the device
//   ... interrupt: vio_intr_ack(dev); virtq_count_intr(&vq);
//   while (virtq_get(&vq, &token, &len) == 1)  // token == my_request
//     finish(token, len);
//
// A request is a "chain": device-readable buffers first, then the buffers
// the device writes. The caller's token (any non-NULL pointer) identifies
// the request when it comes back; requests may come back in any order.
//
// Distrust of the device: virtq_get checks every used ring entry (the id
// is a chain we really handed out and have not had back, the length fits
// the chain's writable buffers, used.idx does not run ahead of what is
// outstanding). A bad entry marks the queue broken: virtq_get returns -1
// from then on, virtq_add refuses new work, and the driver resets the
// device and takes back the outstanding tokens with virtq_drain to fail
// them. All bookkeeping lives in this struct, not in memory the device can
// write, so a misbehaving device cannot corrupt it.
//
// Room to grow: VIRTIO_RING_F_EVENT_IDX (2.7.7, 2.7.10) needs only the
// two marked spots in virtq.c (the rings already have the used_event and
// avail_event words). VIRTIO_RING_F_INDIRECT_DESC (2.7.5.3) would put a
// long chain in a per-head descriptor table and hand the ring a single
// descriptor pointing at it; chain_len/writable/token below stay as they are.
//
// Locking: none inside. The driver serialises all calls on one queue with
// its own lock (the interrupt handler takes the same lock).
#ifndef VIRTQ_H
#define VIRTQ_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"

// The largest queue this build supports; the per-descriptor bookkeeping
// arrays below have this many entries. Override with -DVIRTQ_MAX_SIZE=256
// for the whole build (every file must agree), a power of two.
#ifndef VIRTQ_MAX_SIZE
#define VIRTQ_MAX_SIZE 64
#endif

// One element of a scatter-gather list. `addr` is the driver's (virtual)
// pointer; it must be DMA-able and physically contiguous for `len` bytes
// (see virtio_os.h). Never a stack address.
struct virtq_buf {
  void *addr;
  uint32_t len;
  int device_writes;  // 1: the device writes it (VIRTQ_DESC_F_WRITE), 0: reads it
};

// Counters the platform can print (virtq_log_stats).
struct virtq_stats {
  uint32_t added;        // chains given to the device
  uint32_t notifies;     // QueueNotify writes
  uint32_t interrupts;   // interrupts the driver handled for this queue
  uint32_t completions;  // chains the device gave back
  uint32_t errors;       // bad used entries and other reasons the queue broke
};

// virtq_add results.
#define VIRTQ_OK          0
#define VIRTQ_ERR_FULL   -1  // not enough free descriptors now; wait for completions
#define VIRTQ_ERR_BROKEN -2  // the queue is broken; it will never accept work again
#define VIRTQ_ERR_INVAL  -3  // the request itself is malformed (driver bug)

struct virtq {
  struct vio_dev *dev;
  uint16_t index;          // queue number on the device
  uint16_t size;           // entries in each ring; a power of two

  // The rings, in one DMA allocation (layout in virtio.h).
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  struct virtq_used *used;
  void *mem;
  size_t mem_size;

  uint16_t avail_idx;      // our copy of avail.idx including not yet published heads
  uint16_t last_used;      // the next used ring entry we will read
  uint16_t nfree;          // descriptors on the free list
  uint16_t free_head;      // first free descriptor
  uint16_t outstanding;    // chains the device has and has not given back

  int event_idx;           // VIRTIO_RING_F_EVENT_IDX negotiated (not used yet)
  int broken;
  const char *broken_why;

  // Private bookkeeping, indexed by descriptor number. The device never
  // sees these, which is why we can trust them.
  uint16_t link[VIRTQ_MAX_SIZE];   // next descriptor in a chain or on the free list
  uint16_t chain_len[VIRTQ_MAX_SIZE]; // for a chain head: its descriptor count; 0 otherwise
  uint32_t writable[VIRTQ_MAX_SIZE];  // for a chain head: bytes the device may write
  void *token[VIRTQ_MAX_SIZE];        // for a chain head: the driver's token

  struct virtq_stats stats;
};

// Allocate and zero the rings for queue `index` of `d` with
// min(QueueNumMax, want_size, VIRTQ_MAX_SIZE) entries (rounded down to a
// power of two) and hand them to the device. Call between vio_negotiate and
// vio_driver_ok. Returns 0, or -1 (logged).
int  virtq_init(struct virtq *vq, struct vio_dev *d, uint16_t index, uint16_t want_size);
// Free the rings. The device must not be using them any more (reset it).
void virtq_destroy(struct virtq *vq);

// Put a chain of n buffers on the queue (not yet visible to the device:
// see virtq_kick). Readable buffers must come before writable ones.
// Returns VIRTQ_OK or a VIRTQ_ERR_* code.
int  virtq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token);
// Make every chain added since the last kick visible to the device and
// notify it unless it asked not to be.
void virtq_kick(struct virtq *vq);
// Take one finished chain off the used ring: 1 with *token and *len (bytes
// the device wrote) filled in, 0 if there is none right now, -1 if the
// queue is broken (the bad entry is logged once).
int  virtq_get(struct virtq *vq, void **token, uint32_t *len);

// Count one handled interrupt for this queue (statistics only).
void virtq_count_intr(struct virtq *vq);
// Give up on the queue (e.g. a driver's timeout); virtq_get and virtq_add
// fail from now on.
void virtq_mark_broken(struct virtq *vq, const char *why);
int  virtq_is_broken(struct virtq *vq);
// After the device has been reset: take back one chain the device never
// returned. 1 with *token filled in, 0 when there are none left.
int  virtq_drain(struct virtq *vq, void **token);
// Free descriptors right now (a driver may check before virtq_add).
int  virtq_free_count(struct virtq *vq);
void virtq_log_stats(struct virtq *vq, const char *name);

#endif
