// virtq.h: one virtqueue, the way every driver (block, console, network,
// entropy) hands buffers to a device and gets them back.
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues): 2.7.5 the descriptor
// table, 2.7.5.3 indirect descriptors, 2.7.6 the available ring, 2.7.7
// used buffer notification suppression, 2.7.8 the used ring, 2.7.10
// available buffer notification suppression, 2.7.13 supplying buffers,
// 2.7.14 receiving used buffers. The ring layout is drawn in virtio.h.
//
// Two layouts behind one API: the split ring (virtq.c, the one to read
// first) and, when the device offers VIRTIO_F_RING_PACKED and the driver
// asks for it (VIRTQ_LAYOUT_FEATURES below), the packed ring of section
// 2.8 (virtq_packed.c; drawn in virtio.h too). Each public function in
// virtq.c hands a packed queue to its vpq_* twin in its first line, so a
// driver never knows which layout it got.
//
// See it run: `make -C tests/host check` (the virtq_*, blk_* and perf_*
// tests) or `make qemu` (the boot log says which features were used).
//
// How a driver uses it:
//   virtq_init(&vq, dev, 0, 64);               // before vio_driver_ok
//   virtq_init_indirect(&vq, 16, 32);          // optional, see below
//   struct virtq_buf b[3] = { {hdr, 16, 0}, {data, 512, 1}, {status, 1, 1} };
//   virtq_add(&vq, b, 3, my_request);          // my_request comes back later
//   virtq_kick(&vq);                           // publish + notify the device
//   ... interrupt: vio_intr_ack(dev); virtq_count_intr(&vq);
//   virtq_disable_intr(&vq);
//   do {
//     while (virtq_get(&vq, &token, &len) == 1)  // token == my_request
//       finish(token, len);
//   } while (virtq_enable_intr(&vq));          // 1: more arrived meanwhile
//
// Every driver asks for these feature bits besides its own (vio_start's or
// vio_negotiate's `wanted`): the ring layouts this layer can drive besides
// the split ring, which needs no bit. Only negotiated if offered.
#define VIRTQ_LAYOUT_FEATURES ((uint64_t)1 << VIRTIO_F_RING_PACKED)

// A request is a "chain": device-readable buffers first, then the buffers
// the device writes. The caller's token (any non-NULL pointer) identifies
// the request when it comes back; requests may come back in any order.
//
// Optional features, each used only when the driver negotiated it (and
// everything works without them):
//   VIRTIO_RING_F_EVENT_IDX (2.7.7, 2.7.10): virtq_kick notifies only when
//     the device's avail_event says it is waiting for the entries we just
//     published; virtq_enable_intr sets used_event so that the device
//     interrupts once for the next completion, not for every one.
//     virtq_init turns it on when the feature was negotiated.
//   VIRTIO_RING_F_INDIRECT_DESC (2.7.5.3): a chain of n > 1 buffers goes
//     into a table of its own (from a pool in DMA memory that
//     virtq_init_indirect allocates) and takes one ring descriptor instead
//     of n, so a queue of 64 descriptors can hold 64 large requests. When
//     the pool is empty a chain falls back to plain descriptors.
//
// Distrust of the device: virtq_get checks every used ring entry (the id
// is a chain we really handed out and have not had back, the length fits
// the chain's writable buffers, whether those sit in an indirect table or
// not, used.idx does not run ahead of what is outstanding). A bad entry
// marks the queue broken: virtq_get returns -1 from then on, virtq_add
// refuses new work, and the driver resets the device and takes back the
// outstanding tokens with virtq_drain to fail them. All bookkeeping lives
// in this struct, not in memory the device can write, so a misbehaving
// device cannot corrupt it.
//
// Locking: none inside. The driver serialises all calls on one queue with
// its own lock (the interrupt handler takes the same lock).
#ifndef VIRTQ_H
#define VIRTQ_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"

struct vtrace;  // virtq_trace.h

// The largest queue this build supports; the per-descriptor bookkeeping
// arrays below have this many entries (about 20 bytes each). Override with
// e.g. -DVIRTQ_MAX_SIZE=64 for the whole build (every file must agree) on
// a machine short of RAM; a power of two. 256 is QEMU's default queue size.
#ifndef VIRTQ_MAX_SIZE
#define VIRTQ_MAX_SIZE 256
#endif

// One element of a scatter-gather list. `addr` is the driver's (virtual)
// pointer; it must be DMA-able and physically contiguous for `len` bytes
// (see virtio_os.h). Never a stack address.
struct virtq_buf {
  void *addr;
  uint32_t len;
  int device_writes;  // 1: the device writes it (VIRTQ_DESC_F_WRITE), 0: reads it
};

// Counters the platform can print (virtq_log_stats) and benchmarks read.
// They only ever grow (and wrap at 2^32); take differences.
struct virtq_stats {
  uint32_t added;        // chains given to the device
  uint32_t indirect;     // ... of which went in an indirect table
  uint32_t kicks;        // virtq_kick calls that published new chains
  uint32_t notifies;     // ... of which wrote QueueNotify (the rest were suppressed)
  uint32_t interrupts;   // interrupts the driver handled for this queue
  uint32_t completions;  // chains the device gave back
  uint32_t rechecks;     // virtq_enable_intr found more work (the race it closes)
  uint32_t errors;       // bad used entries and other reasons the queue broke
};

// virtq_add results.
#define VIRTQ_OK          0
#define VIRTQ_ERR_FULL   -1  // not enough free descriptors now; wait for completions
#define VIRTQ_ERR_BROKEN -2  // the queue is broken; it will never accept work again
#define VIRTQ_ERR_INVAL  -3  // the request itself is malformed (driver bug)

#define VIRTQ_NO_TABLE 0xffff  // itab_of[]: this chain has no indirect table

struct virtq {
  // ---- both layouts ----
  struct vio_dev *dev;
  uint16_t index;          // queue number on the device
  uint16_t size;           // entries in each ring; a power of two (split)
  int packed;              // 1: the packed layout (the part at the end)

  // ---- the split layout (virtq.c) ----

  // The rings, in one DMA allocation (layout in virtio.h).
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  struct virtq_used *used;
  uint16_t *used_event;    // avail->ring[size]: driver -> device (EVENT_IDX)
  uint16_t *avail_event;   // after used->ring[size]: device -> driver (EVENT_IDX)
  void *mem;
  size_t mem_size;

  uint16_t avail_idx;      // our copy of avail.idx including not yet published heads
  uint16_t avail_pub;      // the avail.idx the device can see (last kick)
  uint16_t last_used;      // the next used ring entry we will read
  uint16_t used_seen;      // used.idx as we last read it (batch reaping)
  uint16_t nfree;          // descriptors on the free list
  uint16_t free_head;      // first free descriptor
  uint16_t outstanding;    // chains the device has and has not given back

  int event_idx;           // VIRTIO_RING_F_EVENT_IDX negotiated: use used_event/avail_event
  int intr_off;            // without EVENT_IDX: we set VIRTQ_AVAIL_F_NO_INTERRUPT
  int broken;
  const char *broken_why;

  // Indirect descriptor tables (VIRTIO_RING_F_INDIRECT_DESC): itab_count
  // tables of itab_entries descriptors each, in one DMA block. 0 tables:
  // indirect descriptors are not used.
  struct virtq_desc *itab;
  size_t itab_mem_size;
  uint16_t itab_count;
  uint16_t itab_entries;
  uint16_t itab_nfree;
  uint16_t itab_free[VIRTQ_MAX_SIZE];  // stack of free table numbers

  // Private bookkeeping, indexed by descriptor number. The device never
  // sees these, which is why we can trust them.
  uint16_t link[VIRTQ_MAX_SIZE];   // next descriptor in a chain or on the free list
  uint16_t chain_len[VIRTQ_MAX_SIZE]; // for a chain head: ring descriptors it holds; 0 otherwise
  uint16_t itab_of[VIRTQ_MAX_SIZE];   // for a chain head: its indirect table or VIRTQ_NO_TABLE
  uint32_t writable[VIRTQ_MAX_SIZE];  // for a chain head: bytes the device may write
  void *token[VIRTQ_MAX_SIZE];        // for a chain head: the driver's token

  struct virtq_stats stats;

  // Recording for `make trace` (virtq_trace.h): NULL when nobody records
  // this queue, which is all that virtq.c's one-line hooks test.
  // virtq_init clears it; virtq_trace_start and virtq_trace_stop set it.
  struct vtrace *trace;
  uint8_t trace_id;        // this queue's id in the recording

  // ---- the packed layout (2.8, virtq_packed.c) ----
  // It shares with the split layout: dev, index, size (any size here,
  // 2.8.10.1), mem, nfree (free ring entries), outstanding, event_idx,
  // intr_off, broken, the indirect tables and stats. The private arrays
  // above are indexed by buffer id instead of chain head (chain_len: ring
  // entries the buffer holds, 0 = id not outstanding), link[] is the list
  // of free ids and free_head its first. desc, avail, used and the split
  // indices stay unused.
  struct pvirtq_desc *ring;                    // Descriptor Ring: both sides write it
  struct pvirtq_event_suppress *driver_event;  // Driver Area: we write, the device reads
  struct pvirtq_event_suppress *device_event;  // Device Area: the device writes, we read
  uint16_t next_avail;     // the ring entry we fill next ...
  uint8_t  avail_wrap;     // ... and the Driver Ring Wrap Counter there (2.8.1)
  uint8_t  pub_wrap;       // the counter at pub_avail
  uint16_t pub_avail;      // the first entry the device cannot see yet: the kick
                           // publishes everything from here by storing ...
  uint16_t pub_flags;      // ... these flags into it, last
  uint16_t unpub;          // entries filled since the last kick
  uint16_t next_used;      // where the device writes its next used entry ...
  uint8_t  used_wrap;      // ... and the wrap counter that entry will carry
};

// Allocate and zero the rings for queue `index` of `d` with
// min(QueueNumMax, want_size, VIRTQ_MAX_SIZE) entries (for a split ring
// rounded down to a power of two) and hand them to the device. Call
// between vio_negotiate and vio_driver_ok; the packed layout and EVENT_IDX
// are used if vio_negotiate settled on them. Returns 0, or -1 (logged).
int  virtq_init(struct virtq *vq, struct vio_dev *d, uint16_t index, uint16_t want_size);
// Use indirect descriptor tables, if VIRTIO_RING_F_INDIRECT_DESC was
// negotiated: `ntables` tables (at most one per chain in flight) of
// `entries` descriptors (the longest chain that goes indirect; capped at
// the queue size, 2.7.5.3.1). Returns 1 if they are in use, 0 if the
// feature is off, -1 if there was no memory for them (then they are not
// used and everything still works with plain descriptors).
int  virtq_init_indirect(struct virtq *vq, uint16_t ntables, uint16_t entries);
// Free the rings and tables. The device must not be using them any more (reset it).
void virtq_destroy(struct virtq *vq);

// Put a chain of n buffers on the queue (not yet visible to the device:
// see virtq_kick). Readable buffers must come before writable ones; n is
// at most the queue size. Returns VIRTQ_OK or a VIRTQ_ERR_* code.
int  virtq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token);
// 1 if virtq_add of an n-buffer chain would find room right now.
int  virtq_room(struct virtq *vq, int n);
// Make every chain added since the last kick visible to the device and
// notify it unless it said it does not need to be (VIRTQ_USED_F_NO_NOTIFY,
// or with EVENT_IDX an avail_event outside what we just published; packed:
// RING_EVENT_FLAGS_DISABLE, or a RING_EVENT_FLAGS_DESC entry outside it).
void virtq_kick(struct virtq *vq);
// Take one finished chain off the used ring: 1 with *token and *len (bytes
// the device wrote) filled in, 0 if there is none right now, -1 if the
// queue is broken (the bad entry is logged once). Reads used.idx (and
// pays for a barrier) only once per batch of entries.
int  virtq_get(struct virtq *vq, void **token, uint32_t *len);

// Used buffer notification suppression (2.7.7, packed 2.8.10). virtq_disable_intr: "no
// interrupts needed while I reap" (a hint the device may ignore).
// virtq_enable_intr: "interrupt me for the next completion", then looks
// again: it returns 1 if more chains were used meanwhile, and the caller
// must reap them (and call it again), because the device may have checked
// before it saw our request and so will not interrupt for them.
void virtq_disable_intr(struct virtq *vq);
int  virtq_enable_intr(struct virtq *vq);

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

// Shared by both layouts (virtq.c): the checks of a buffer list before it
// touches the ring (VIRTQ_OK and *writable = the bytes the device may
// write, or VIRTQ_ERR_INVAL), and whether a list of n goes into an
// indirect table.
int  virtq_check_bufs(struct virtq *vq, const struct virtq_buf *bufs, int n,
                      uint32_t *writable);
int  virtq_use_indirect(struct virtq *vq, int n);

// The packed layout's versions (virtq_packed.c), called only by the first
// line of the virtq_* function of the same name. vpq_select records in vq
// whether d negotiated VIRTIO_F_RING_PACKED and returns that.
int  vpq_select(struct virtq *vq, struct vio_dev *d);
int  vpq_init(struct virtq *vq, struct vio_dev *d, uint16_t index, uint16_t want_size);
int  vpq_room(struct virtq *vq, int n);
int  vpq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token);
void vpq_kick(struct virtq *vq);
int  vpq_get(struct virtq *vq, void **token, uint32_t *len);
void vpq_disable_intr(struct virtq *vq);
int  vpq_enable_intr(struct virtq *vq);
int  vpq_drain(struct virtq *vq, void **token);

#endif
