// virtq.c: the split virtqueue. Builds descriptor chains out of
// scatter-gather lists (plain or in an indirect table), publishes them on
// the available ring, notifies the device only when it is waiting for
// them, and takes finished chains back off the used ring in batches,
// checking everything the device wrote before believing it.
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues):
//   2.7.2   the legacy layout (we use it for every device: it is also a
//           valid modern layout, so there is one code path). Its sizes
//           include the used_event and avail_event words, whether or not
//           VIRTIO_RING_F_EVENT_IDX is negotiated, so the used ring sits
//           where a legacy device computes it either way.
//   2.7.5   descriptor table; 2.7.5.3 indirect descriptors
//   2.7.6   available ring, 2.7.8 used ring
//   2.7.7   used buffer notification suppression (used_event, or the
//           VIRTQ_AVAIL_F_NO_INTERRUPT flag without EVENT_IDX)
//   2.7.10  available buffer notification suppression (avail_event, or
//           the device's VIRTQ_USED_F_NO_NOTIFY flag)
//   2.7.13  supplying buffers (the order of stores and barriers in
//           virtq_add / virtq_kick)
//   2.7.14  receiving used buffers (virtq_get, virtq_enable_intr)
//
// Read it in the order a request lives: virtq_init (the rings), virtq_add
// (descriptors and an available ring entry), virtq_kick (publish, notify),
// virtq_get (a used ring entry, checked), virtq_enable_intr (the race
// between "no more work" and "interrupt me"). Four vos_mb() calls carry all
// the ordering between us and the device: (1) and (2) in virtq_kick, (3) in
// refresh_used, (4) in virtq_enable_intr (plus one per queue when it goes
// live, in the transports: virtio_mmio.c, virtio_pci.c). Each says who
// writes what and who reads it; docs/ARCHITECTURE.md draws the four on one
// timeline with the device.
//
// The one-line `if (vq->trace) virtq_trace_...` hooks record each step
// for `make trace` (virtq_trace.h); a queue nobody records pays one
// predictable branch per hook.
//
// See it run: `make -C tests/host check` (tests virtq_*, blk_*, perf_*),
// or `make qemu` and `blkbench` for the notification counts.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"
#include "virtq_trace.h"

_Static_assert((VIRTQ_MAX_SIZE & (VIRTQ_MAX_SIZE - 1)) == 0,
               "VIRTQ_MAX_SIZE must be a power of two");
_Static_assert(VIRTQ_MAX_SIZE <= VIRTQ_SIZE_LIMIT, "VIRTQ_MAX_SIZE too large");
_Static_assert(VIRTQ_MAX_SIZE < VIRTQ_NO_TABLE, "table numbers must not collide with VIRTQ_NO_TABLE");

// The device writes the used ring while we read it. Reading through a
// volatile pointer makes the compiler load the value from memory every time
// instead of reusing an old copy, and load it exactly once, so a value we
// check is the value we use. Ordering against the device's stores comes
// from the vos_mb() calls, not from volatile.
static uint16_t load16(uint16_t *p)
{
  return *(volatile uint16_t *)p;
}

static uint32_t load32(uint32_t *p)
{
  return *(volatile uint32_t *)p;
}

// Fields the device reads while we write them (avail.idx, avail.flags,
// used_event) are stored through a volatile pointer: the compiler must
// write them exactly once, whole, at this point in the program. It may not
// drop the store, merge it with a later one, or build the value in place
// in two steps the device could catch half done.
static void store16(uint16_t *p, uint16_t v)
{
  *(volatile uint16_t *)p = v;
}

// The used ring's size in bytes (2.7.8): flags, idx, size entries of 8
// bytes, and the trailing avail_event word (counted even without
// EVENT_IDX, like used_event in the available ring: virtio.h).
static size_t used_bytes(uint16_t size)
{
  return 2 * 3 + 8 * (size_t)size;
}

// Where the used ring starts: the legacy layout (virtio.h), for every device.
// A modern device is told each area's address and needs the used ring only
// 4-byte aligned (2.7.1), so for it the padding is waste; one layout for
// both kinds keeps one code path, and lets the transports check a legacy
// queue with the same formula the device uses to find its used ring.
static size_t used_offset(uint16_t size)
{
  return (size_t)virtq_legacy_used_offset(size, VIRTIO_LEGACY_QUEUE_ALIGN);
}

// The queue size: no more than the device handles (QueueNumMax, 4.2.2),
// the driver needs (a small queue costs less DMA memory), or our
// bookkeeping arrays hold (VIRTQ_MAX_SIZE). 0 means "no such queue".
static uint16_t pick_size(uint32_t max, uint16_t want)
{
  uint32_t n = max;
  uint16_t size = 1;

  if (n > want)
    n = want;
  if (n > VIRTQ_MAX_SIZE)
    n = VIRTQ_MAX_SIZE;
  // Split ring sizes are powers of two (2.7); a device may still announce
  // any QueueNumMax, so use the largest power of two that fits. It matters
  // to us too: the ring indices run freely to 65535 and wrap to 0, and
  // ring[idx % size] only moves on smoothly across that wrap when size
  // divides 65536.
  while ((uint32_t)size * 2 <= n)
    size *= 2;
  return n == 0 ? 0 : size;
}

// Statistics start at zero for every new queue (a vblk_reinit builds one).
static void zero_stats(struct virtq_stats *st)
{
  st->added = st->indirect = st->kicks = st->notifies = 0;
  st->interrupts = st->completions = st->rechecks = st->errors = 0;
}

int virtq_init(struct virtq *vq, struct vio_dev *d, uint16_t index, uint16_t want_size)
{
  if (vpq_select(vq, d)) return vpq_init(vq, d, index, want_size);
  uint32_t max;
  uint16_t size, i;
  uint8_t *mem;

  // mem and itab start at 0 because the clean-up after a failure part way
  // (virtq_destroy, vio_unwind) frees only what they point at.
  vq->dev = d;
  vq->index = index;
  vq->mem = 0;
  vq->itab = 0;
  vq->itab_mem_size = 0;
  vq->itab_count = vq->itab_entries = vq->itab_nfree = 0;
  vq->broken = 0;
  vq->broken_why = 0;
  // EVENT_IDX is a property of the device, negotiated before any queue
  // exists (3.1.1 step 4); every queue of the device uses it or none does.
  vq->event_idx = vio_has_feature(d, VIRTIO_RING_F_EVENT_IDX);
  vq->intr_off = 0;
  vq->trace = 0;  // a new queue is not recorded (virtq_trace.h)
  zero_stats(&vq->stats);

  // 4.2.3.2 steps 1-3 (select the queue, check it is not in use, read
  // QueueNumMax) are vio_queue_max; step 4, allocate and zero, is below;
  // steps 5-7 are vio_queue_setup.
  max = vio_queue_max(d, index);
  size = pick_size(max, vio_queue_size_fixed(d) ? (uint16_t)max : want_size);  // legacy PCI: the device's size
  if (size == 0) {
    vos_log("virtq: device %p has no queue %u\n", (void *)d->base, (unsigned)index);
    return -1;
  }
  vq->size = size;
  // One physically contiguous block holds all three areas (2.7: each area
  // must be contiguous; the legacy layout, 2.7.2, needs them together).
  vq->mem_size = used_offset(size) + used_bytes(size);
  mem = vos_dma_alloc(vq->mem_size);
  if (mem == 0) {
    vos_log("virtq: no memory for queue %u\n", (unsigned)index);
    return -1;
  }
  // vos_dma_alloc memory is zeroed: avail.flags = 0 asks for interrupts,
  // used.flags = 0 is what 2.7.10.1 requires the driver to start with, and
  // used_event = 0 asks for an interrupt at the first completion.
  // avail.idx and used.idx both start at 0 (2.7.6, 2.7.8).
  vq->mem = mem;
  vq->desc = (struct virtq_desc *)mem;
  vq->avail = (struct virtq_avail *)(mem + 16 * (size_t)size);
  vq->used = (struct virtq_used *)(mem + used_offset(size));
  // The EVENT_IDX words sit just past each ring's `size` entries (2.7.6,
  // 2.7.8): used_event in the driver's area, avail_event in the device's.
  vq->used_event = &vq->avail->ring[size];
  vq->avail_event = (uint16_t *)&vq->used->ring[size];

  // Every descriptor starts on the free list: 0 -> 1 -> ... -> size-1.
  // The list lives in link[], our private memory, not in the descriptors'
  // `next` fields: the device cannot write link[], so a device that
  // scribbles on the table cannot corrupt our idea of what is free.
  for (i = 0; i < size; i++) {
    // >>> lab vq: link descriptor i to the next one, so the free list is 0 -> 1 -> ... -> size-1
    vq->link[i] = (uint16_t)(i + 1);
    // <<< lab vq
    vq->chain_len[i] = 0;
    vq->itab_of[i] = VIRTQ_NO_TABLE;
    vq->writable[i] = 0;
    vq->token[i] = 0;
  }
  vq->free_head = 0;
  vq->nfree = size;
  vq->outstanding = 0;
  // Our copies of the two ring indices start where the device's do.
  vq->avail_idx = 0;
  vq->avail_pub = 0;
  vq->last_used = 0;
  vq->used_seen = 0;

  // Tell the device where the areas are and make the queue live. The
  // transport puts a barrier before the final register write, so the
  // device never reads the rings before our zeroing reached memory.
  if (vio_queue_setup(d, index, size, vos_virt_to_phys(vq->desc),
                      vos_virt_to_phys(vq->avail), vos_virt_to_phys(vq->used)) < 0) {
    virtq_destroy(vq);
    return -1;
  }
  return 0;
}

int virtq_init_indirect(struct virtq *vq, uint16_t ntables, uint16_t entries)
{
  uint16_t i;

  // 2.7.5.3.1: INDIRECT may only be set if the feature was negotiated; a
  // device that did not offer it would read our table's address as a
  // data buffer.
  if (!vio_has_feature(vq->dev, VIRTIO_RING_F_INDIRECT_DESC) || vq->mem == 0)
    return 0;
  // 2.7.5.3.1: no chain, indirect or not, may be longer than the queue.
  // More tables than descriptors could never all be in use at once.
  if (entries > vq->size)
    entries = vq->size;
  if (ntables > vq->size)
    ntables = vq->size;
  if (ntables == 0 || entries < 2)
    return 0;  // a one-buffer chain gains nothing from a table
  // All tables in one block; table t starts at itab[t * entries]. The
  // device reads them, so they must be DMA memory like the rings.
  vq->itab_mem_size = (size_t)ntables * entries * sizeof(struct virtq_desc);
  vq->itab = vos_dma_alloc(vq->itab_mem_size);
  if (vq->itab == 0) {
    vos_log("virtq %u: no memory for indirect tables; using plain descriptors\n",
            (unsigned)vq->index);
    vq->itab_mem_size = 0;
    return -1;
  }
  // Every table starts free. A chain holds its table from virtq_add until
  // virtq_get (or virtq_drain) gives the chain back.
  vq->itab_count = ntables;
  vq->itab_entries = entries;
  for (i = 0; i < ntables; i++)
    vq->itab_free[i] = i;
  vq->itab_nfree = ntables;
  return 1;
}

// The caller has reset the device (3.3.1: buffers a live queue may still
// use must not be taken away), so freeing the memory is safe. The queue
// stays broken, so a stray call afterwards fails instead of touching
// freed memory.
void virtq_destroy(struct virtq *vq)
{
  if (vq->mem)
    vos_dma_free(vq->mem, vq->mem_size);
  if (vq->itab)
    vos_dma_free(vq->itab, vq->itab_mem_size);
  vq->mem = 0;
  vq->desc = 0;
  vq->avail = 0;
  vq->used = 0;
  vq->used_event = 0;
  vq->avail_event = 0;
  vq->itab = 0;
  vq->itab_count = vq->itab_nfree = 0;
  vq->broken = 1;
  vq->broken_why = "destroyed";
}

// From here on nothing the device writes to this queue is believed: a
// device that broke one rule cannot be trusted with the next entry. Only
// the first reason is kept and logged; the later ones are consequences.
void virtq_mark_broken(struct virtq *vq, const char *why)
{
  if (vq->broken)
    return;
  vq->broken = 1;
  vq->broken_why = why;
  vq->stats.errors++;
  if (vq->trace) virtq_trace_broken(vq, why);
  vos_log("virtq %u of device %p broken: %s\n", (unsigned)vq->index,
          (void *)vq->dev->base, why);
}

// For tests and callers that want to know without trying: virtq_add and
// virtq_get report a broken queue too.
int virtq_is_broken(struct virtq *vq)
{
  return vq->broken;
}

// Free ring descriptors: a chain that goes indirect needs one of them, a
// plain chain one per buffer.
int virtq_free_count(struct virtq *vq)
{
  return vq->nfree;
}

// The driver calls this once per interrupt it handles for the queue, so
// blkbench can show interrupts per request next to completions.
void virtq_count_intr(struct virtq *vq)
{
  vq->stats.interrupts++;
  if (vq->trace) virtq_trace_intr(vq);
}

// Check a chain before it touches the ring: the spec's rules (2.7.4.2:
// writable buffers after readable ones; 2.7.5.2: at most 2^32 bytes in all;
// 2.7.5.3.1: no longer than the queue; the packed ring's 2.8.17 says the
// same of its lists) plus ours (no empty buffers). virtq_packed.c checks
// its lists here too.
int virtq_check_bufs(struct virtq *vq, const struct virtq_buf *bufs, int n,
                     uint32_t *writable)
{
  uint64_t total = 0, wr = 0;
  int seen_writable = 0;
  int i;

  if (n <= 0 || n > vq->size)
    return VIRTQ_ERR_INVAL;
  for (i = 0; i < n; i++) {
    // An empty buffer carries nothing; here it can only be a caller's bug.
    if (bufs[i].addr == 0 || bufs[i].len == 0)
      return VIRTQ_ERR_INVAL;
    if (bufs[i].device_writes) {
      seen_writable = 1;
      wr += bufs[i].len;
    } else if (seen_writable) {
      return VIRTQ_ERR_INVAL;  // a readable buffer after a writable one
    }
    // 64-bit sums: n <= 32768 lengths below 2^32 cannot overflow them.
    total += bufs[i].len;
  }
  if (total > 0xffffffffu)
    return VIRTQ_ERR_INVAL;
  // The most the device may claim to have written into this chain: the
  // bound virtq_get holds used.len to.
  *writable = (uint32_t)wr;
  return VIRTQ_OK;
}

// Would this chain go into an indirect table? Only chains of two or more
// buffers (one buffer is one descriptor either way), only while a table is
// free, and only if it fits in one. (The packed ring asks the same.)
int virtq_use_indirect(struct virtq *vq, int n)
{
  return n >= 2 && vq->itab_nfree > 0 && n <= vq->itab_entries;
}

// Room means free descriptors: one for a chain that goes into a table,
// n otherwise. (Available ring slots never run out first: there are as
// many as descriptors, and every chain holds at least one descriptor.)
int virtq_room(struct virtq *vq, int n)
{
  if (vq->packed) return vpq_room(vq, n);
  if (vq->broken || n <= 0 || n > vq->size)
    return 0;
  if (virtq_use_indirect(vq, n))
    return vq->nfree >= 1;
  return vq->nfree >= n;
}

// Fill descriptors d[0..n-1] of an indirect table: they are chained by
// position, `next` being an index into the same table (2.7.5.3), and the
// last has no NEXT flag, which is how the device finds the end. These are
// ordinary stores: barrier (1) in virtq_kick publishes them together with
// the ring.
static void fill_table(struct virtq_desc *d, const struct virtq_buf *bufs, int n)
{
  int i;

  for (i = 0; i < n; i++) {
    // The device needs the address it can reach (guest-physical, 2.7.5),
    // not our pointer.
    d[i].addr = vos_virt_to_phys(bufs[i].addr);
    d[i].len = bufs[i].len;
    d[i].flags = bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0;
    if (i + 1 < n) {
      d[i].flags |= VIRTQ_DESC_F_NEXT;
      d[i].next = (uint16_t)(i + 1);
    } else {
      d[i].next = 0;
    }
  }
}

// One ring descriptor pointing at a table holding the whole chain. The
// ring descriptor carries INDIRECT only: never NEXT with it, and WRITE
// would be ignored by the device (2.7.5.3.1, 2.7.5.3.2).
static uint16_t add_indirect(struct virtq *vq, const struct virtq_buf *bufs, int n)
{
  uint16_t t = vq->itab_free[--vq->itab_nfree];  // virtq_use_indirect saw one free
  struct virtq_desc *table = &vq->itab[(size_t)t * vq->itab_entries];
  uint16_t head = vq->free_head;
  struct virtq_desc *desc = &vq->desc[head];

  fill_table(table, bufs, n);
  // The device learns the table's size from len: len / 16 descriptors
  // (2.7.5.3). Only the n we filled, not the whole table.
  desc->addr = vos_virt_to_phys(table);
  desc->len = (uint32_t)n * sizeof(struct virtq_desc);
  desc->flags = VIRTQ_DESC_F_INDIRECT;
  desc->next = 0;
  // >>> lab vq: take that ring descriptor off the free list; record chain_len and itab_of for free_chain
  vq->free_head = vq->link[head];
  vq->nfree--;
  // free_chain gives back one ring descriptor and this table; virtq_get
  // checks used.len against the table's writable bytes, recorded by
  // virtq_add like any chain's.
  vq->chain_len[head] = 1;
  vq->itab_of[head] = t;
  // <<< lab vq
  vq->stats.indirect++;
  return head;
}

// 2.7.13.1: take n descriptors off the free list and fill them in. The
// free list order is also the chain order, so link[] already says which
// descriptor follows which; `next` in the table is the device's copy.
// The loop is 2.7.13.1's algorithm, step by step: next free entry d, its
// address and length, WRITE if the device writes it, and NEXT plus the
// index of the following entry unless it is the last.
static uint16_t add_direct(struct virtq *vq, const struct virtq_buf *bufs, int n)
{
  // >>> lab vq: take n descriptors off the free list and fill them in; record chain_len and itab_of; return the head
  uint16_t head = vq->free_head, d = head;
  int i;

  for (i = 0; i < n; i++) {
    struct virtq_desc *desc = &vq->desc[d];
    desc->addr = vos_virt_to_phys(bufs[i].addr);
    desc->len = bufs[i].len;
    desc->flags = bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0;
    if (i + 1 < n) {
      desc->flags |= VIRTQ_DESC_F_NEXT;
      desc->next = vq->link[d];
      d = vq->link[d];
    } else {
      desc->next = 0;
    }
  }
  vq->free_head = vq->link[d];  // d is the chain's last descriptor
  vq->nfree -= (uint16_t)n;
  // Remember the chain's length: free_chain walks link[] that far, never
  // the `next` fields the device could have changed.
  vq->chain_len[head] = (uint16_t)n;
  vq->itab_of[head] = VIRTQ_NO_TABLE;
  return head;
  // === stub
  // virtq_mark_broken(vq, "add_direct is not written yet");
  // return vq->free_head;
  // <<< lab vq
}

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token)
{
  if (vq->packed) return vpq_add(vq, bufs, n, token);
  uint32_t writable = 0;
  uint16_t head;
  int err;

  if (vq->broken)
    return VIRTQ_ERR_BROKEN;
  // A null token could not be told apart from "no chain" in token[].
  if (token == 0)
    return VIRTQ_ERR_INVAL;
  err = virtq_check_bufs(vq, bufs, n, &writable);
  if (err != VIRTQ_OK)
    return err;
  if (!virtq_room(vq, n))
    return VIRTQ_ERR_FULL;

  // 2.7.13 step 1: the buffers go into free descriptors.
  if (virtq_use_indirect(vq, n))
    head = add_indirect(vq, bufs, n);
  else
    head = add_direct(vq, bufs, n);
  // What virtq_get will check the device's answer against, kept by head:
  // the used ring names a chain by its head (2.7.8).
  // >>> lab vq: remember writable and the token by head, count it outstanding, put head in the next available ring entry (2.7.13.2) and count it
  vq->writable[head] = writable;
  vq->token[head] = token;
  vq->outstanding++;

  // 2.7.13.2: the head goes in the next available ring slot. The device
  // cannot see it until virtq_kick advances avail.idx, so many chains
  // can be added and then published with one barrier and one store.
  // The slot is free to overwrite: it last held the entry `size` chains
  // ago, and with at most `size` chains out at once (each holds a
  // descriptor) that chain has come back, so the device is done with it
  // (the note in 2.7.13).
  vq->avail->ring[vq->avail_idx % vq->size] = head;
  vq->avail_idx++;
  vq->stats.added++;
  // === stub
  // return VIRTQ_ERR_INVAL;
  // <<< lab vq
  if (vq->trace) virtq_trace_add(vq, head);
  return VIRTQ_OK;
}

// With EVENT_IDX the device stores in avail_event the avail.idx value it
// wants to hear about: "notify me once you publish the entry with this
// index". We just published entries old .. new-1: the device asked for
// one of them exactly when event is one of those indices, counted mod
// 2^16 like the indices themselves, so that the test survives the wrap.
// A device that writes nonsense here costs at most a missed or a needless
// notification, never memory safety: the value is only compared.
static int need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
  // >>> lab evidx: 1 if event is one of the indices old_idx .. new_idx-1, counted mod 2^16 (the wrap-safe test of 2.7.10)
  // The window is the (new - old) indices just before new: event lies in
  // it when it is fewer than (new - old) steps before new.
  //   Example: old 10, new 13. event 11 -> (13-11-1) = 1 < 3: notify.
  //   event 13 -> (13-13-1) = 65535, not < 3: the device waits for an
  //   entry we have not published yet, so no notification now.
  return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
  // === stub
  // // A notification for every kick: never one too few, often many too many.
  // return 1;
  // <<< lab evidx
}

static int device_wants_notify(struct virtq *vq, uint16_t old_idx, uint16_t new_idx)
{
  // 2.7.10.1: with EVENT_IDX the driver ignores used.flags entirely.
  // Both words are the device's: read each once, after barrier (2) in
  // virtq_kick.
  if (vq->event_idx)
    return need_event(load16(vq->avail_event), new_idx, old_idx);
  return !(load16(&vq->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
}

void virtq_kick(struct virtq *vq)
{
  if (vq->packed) { vpq_kick(vq); return; }
  uint16_t old_idx = vq->avail_pub, new_idx = vq->avail_idx;
  int notify;

  if (vq->broken || vq->mem == 0 || old_idx == new_idx)
    return;  // nothing new for the device to see
  // >>> lab vq: publish: barrier (1), store avail.idx, count the kick, barrier (2) (2.7.13 steps 4-6)
  // Barrier (1) (2.7.13 step 4, required by 2.7.13.3.1).
  //   We wrote: descriptors, indirect tables, available ring entries
  //   (virtq_add), and next the avail.idx below.
  //   The device reads: avail.idx first, then ring[] up to it, then the
  //   descriptors and tables those entries name.
  //   So our stores must reach memory in that order too. Without the
  //   barrier the CPU (or the compiler) may make the idx store visible
  //   first; a device working at that moment reads a ring entry left from
  //   the previous lap, or a descriptor still holding an old request's
  //   address, and reads or writes the wrong memory.
  vos_mb();
  // 2.7.13 step 5: one store publishes every chain added since the last
  // kick (2.7.13.3: idx only grows, wrapping at 65536).
  store16(&vq->avail->idx, new_idx);
  vq->avail_pub = new_idx;
  vq->stats.kicks++;
  // Barrier (2) (2.7.13 step 6, required by 2.7.13.4.1).
  //   We wrote avail.idx; next we read used.flags or avail_event.
  //   The device, going idle, writes those ("tell me about index N"),
  //   orders that with a barrier of its own, and then reads avail.idx
  //   once more before it sleeps.
  //   Each side stores, then loads what the other stored; with a barrier
  //   on both sides at least one of us sees the other's store: either the
  //   device finds our new idx, or we find its request and notify. Without
  //   ours, our load could be served before our store is visible: we read
  //   the old "no need to notify", the device reads the old idx and goes
  //   to sleep, and the request sits in the ring while its caller sleeps
  //   forever (host tests perf_event_idx_kick_suppression* count the
  //   notifications this decides).
  //   On RISC-V the fence also covers device registers, so the store of
  //   avail.idx is ordered before the QueueNotify write below: the device
  //   woken by the notification finds the new idx.
  vos_mb();
  // <<< lab vq
  notify = device_wants_notify(vq, old_idx, new_idx);
  if (vq->trace) virtq_trace_kick(vq, old_idx, new_idx, notify);
  if (!notify)
    return;
  // 2.7.13 step 7: the notification (4.2.3.3: write the queue index).
  vio_notify(vq->dev, vq->index);
  vq->stats.notifies++;
}

// Put a returned chain's descriptors back on the free list. Walks link[],
// our private copy, never the descriptor table, which a buggy device might
// have scribbled on. An indirect chain holds one ring descriptor and a table.
static void free_chain(struct virtq *vq, uint16_t head)
{
  // >>> lab vq: put the chain's chain_len descriptors (and its indirect table) back; mark head not outstanding
  uint16_t d = head;
  uint16_t n = vq->chain_len[head];
  uint16_t i;

  // Find the chain's last descriptor d and put the whole chain on the
  // front of the free list: link[] already leads from head to d, so only
  // d's link changes.
  for (i = 0; i + 1 < n; i++)
    d = vq->link[d];
  vq->link[d] = vq->free_head;
  vq->free_head = head;
  vq->nfree += n;
  if (vq->itab_of[head] != VIRTQ_NO_TABLE) {
    vq->itab_free[vq->itab_nfree++] = vq->itab_of[head];
    vq->itab_of[head] = VIRTQ_NO_TABLE;
  }
  // chain_len 0 is what marks "not an outstanding head": a second used
  // entry naming this head now fails virtq_get's check instead of
  // freeing the descriptors twice.
  vq->chain_len[head] = 0;
  vq->writable[head] = 0;
  vq->token[head] = 0;
  vq->outstanding--;
  // <<< lab vq
}

// A used ring entry that does not check out: say what it was, break the queue.
// The log names the entry's position so a test (or a person reading the
// boot log) can tell which completion the device got wrong.
static int bad_used(struct virtq *vq, const char *why, uint32_t id, uint32_t len)
{
  if (vq->trace) virtq_trace_bad(vq, why, id, len);
  vos_log("virtq %u: used ring entry %u: id %u len %u\n", (unsigned)vq->index,
          (unsigned)vq->last_used, (unsigned)id, (unsigned)len);
  virtq_mark_broken(vq, why);
  return -1;
}

// Read used.idx again. Returns 1 if there are new entries (and they are
// safe to read), 0 if none, -1 if used.idx is impossible.
static int refresh_used(struct virtq *vq)
{
  uint16_t used_idx = load16(&vq->used->idx);

  if (used_idx == vq->last_used)
    return 0;
  // used.idx can never run further ahead than the chains the device holds.
  // A device that moved it further would have us read entries it never
  // wrote: stale ones from an earlier lap of the ring, which may name a
  // head that is outstanding now and finish a request that is still in
  // flight (host test blk_used_idx_runs_ahead). Mod 2^16, like the index.
  // >>> lab vq: step 4: refuse a used.idx more than `outstanding` entries ahead (virtq_mark_broken, return -1)
  uint16_t pending = (uint16_t)(used_idx - vq->last_used);
  if (pending > vq->outstanding) {
    vos_log("virtq %u: used.idx %u but only %u requests outstanding after %u\n",
            (unsigned)vq->index, (unsigned)used_idx, (unsigned)vq->outstanding,
            (unsigned)vq->last_used);
    virtq_mark_broken(vq, "used.idx ran ahead of the outstanding requests");
    return -1;
  }
  // <<< lab vq
  // >>> lab vq: step 3: barrier (3), between the read of used.idx above and the reads of the entries it covers
  // Barrier (3), the pair of the device's order of stores (2.7.8.2).
  //   The device wrote: the data into our buffers, then the used entry
  //   {id, len}, then used.idx (2.7.8.2 requires that order of it).
  //   We read: used.idx (above), then the entries and, in the driver, the
  //   data (a block request's status byte, a received frame).
  //   Without the barrier the CPU may perform those later loads before
  //   the load of used.idx, and see the entry or the data as they were
  //   before the device wrote them: an old id, a status byte still unset.
  // One barrier covers every entry up to used_idx, which is what makes
  // batches cheap: virtq_get reads used.idx again only when they are used up.
  vos_mb();
  // <<< lab vq
  vq->used_seen = used_idx;
  return 1;
}

int virtq_get(struct virtq *vq, void **token, uint32_t *len)
{
  if (vq->packed) return vpq_get(vq, token, len);
  struct virtq_used_elem *e;
  uint32_t id, n;
  int r;

  // A broken queue hands out nothing, whatever the device still writes.
  if (vq->broken)
    return -1;
  // Entries up to used_seen are known to be written (barrier (3) in
  // refresh_used); past them, look at used.idx again.
  if (vq->last_used == vq->used_seen) {
    r = refresh_used(vq);
    if (r <= 0)
      return r;
  }
  // Read each field of the entry once, into a local: every check below and
  // every use after it see the same value, even if the device rewrites
  // the entry meanwhile.
  e = &vq->used->ring[vq->last_used % vq->size];
  id = load32(&e->id);
  n = load32(&e->len);

  // Believe nothing the device wrote until it checks out (2.7.8). For an
  // indirect chain, id must be the ring descriptor that points at the
  // table and len must fit the table's writable buffers.
  // >>> lab vq: step 4: refuse (bad_used) an id that is not an outstanding chain head, and a len larger than the chain's writable bytes
  //   id past the table would index past our arrays (blk_used_id_out_of_range).
  if (id >= vq->size)
    return bad_used(vq, "used.id out of range", id, n);
  //   id that is no outstanding head (never handed out, not a head, or
  //   already returned) would free descriptors that are free or still in
  //   use, and finish someone else's request (blk_used_id_repeated).
  if (vq->chain_len[id] == 0)
    return bad_used(vq, "used.id is not an outstanding chain head", id, n);
  //   len larger than the writable buffers would have the driver read
  //   past what the device could have written: a received frame longer
  //   than its buffer (blk_used_len_too_big, perf_indirect_bad_len).
  // A len that is too small is allowed: 2.7.8.2 lets the device
  // underestimate, and each driver decides what it needs.
  if (n > vq->writable[id])
    return bad_used(vq, "used.len larger than the chain's writable buffers", id, n);
  // === stub
  // // (This only keeps the arrays below safe; it is not the check 2.7.8 asks for.)
  // if (id >= VIRTQ_MAX_SIZE)
  //   return bad_used(vq, "used.id past the driver's arrays", id, n);
  // <<< lab vq

  if (vq->trace) virtq_trace_used(vq, id, n);
  *token = vq->token[id];
  *len = n;
  free_chain(vq, (uint16_t)id);
  vq->last_used++;  // free-running, wraps at 65536 like used.idx
  vq->stats.completions++;
  return 1;
}

void virtq_disable_intr(struct virtq *vq)
{
  if (vq->packed) { vpq_disable_intr(vq); return; }
  if (vq->broken || vq->mem == 0)
    return;
  // With EVENT_IDX there is nothing to do: used_event still names an entry
  // the device has already passed, so it will not interrupt again until
  // virtq_enable_intr moves used_event forward (2.7.7.2). Without it the
  // flag is the only tool; the device may ignore it (it is a hint), which
  // costs an interrupt, never a lost completion.
  // No barrier: a hint that reaches the device late costs one interrupt.
  // intr_off saves a store to shared memory on every interrupt.
  if (!vq->event_idx && !vq->intr_off) {
    store16(&vq->avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
    vq->intr_off = 1;
    if (vq->trace) virtq_trace_intr_off(vq);
  }
}

int virtq_enable_intr(struct virtq *vq)
{
  if (vq->packed) return vpq_enable_intr(vq);
  if (vq->broken || vq->mem == 0)
    return 0;
  if (vq->event_idx) {
    // "Interrupt me when you write used ring entry number last_used", the
    // next one we have not seen (2.7.7.1: no notification is needed until
    // the device writes the entry with index used_event). Completions
    // already in the ring do not interrupt again; the re-check below is
    // how we find those.
    // >>> lab evidx: used_event: the used ring entry whose writing should interrupt (2.7.7.1, 2.7.7.2)
    store16(vq->used_event, vq->last_used);
    // === stub
    // // Nothing asks the device for the next interrupt: break the queue
    // // rather than wait for one that never comes (1: the caller looks
    // // again, finds the queue broken and gives up on the device).
    // virtq_mark_broken(vq, "EVENT_IDX: used_event not written (TODO lab evidx)");
    // return 1;
    // <<< lab evidx
  } else if (vq->intr_off) {
    // 2.7.7.1 without EVENT_IDX: flags 0 asks for every used buffer.
    store16(&vq->avail->flags, 0);
    vq->intr_off = 0;
  }
  if (vq->trace) virtq_trace_intr_on(vq);
  // Barrier (4), against the race 2.7.14 warns about.
  //   We wrote used_event (or avail.flags); next we read used.idx.
  //   The device writes used.idx, orders it with a barrier of its own, and
  //   then reads used_event (or avail.flags) to decide whether to
  //   interrupt (2.7.7.2).
  //   Each side stores, then loads what the other stored, so at least one
  //   of us sees the other's store: either the device sees our request
  //   and interrupts, or we see its new used.idx here and return 1.
  //   Without the barrier both could read old values: no interrupt, and
  //   we report no work, so a finished request sits in the ring with
  //   nobody coming for it (host tests perf_event_idx_recheck_race and
  //   perf_no_interrupt_flag_race make a device complete just before we
  //   re-arm; perf_event_idx_recheck_at_barrier makes it complete at this
  //   very barrier, and checks that the store comes before it and the
  //   look after it).
  // The same barrier orders the driver's InterruptACK write (vio_intr_ack,
  // before reaping) before this last look at used.idx.
  // >>> lab evidx: barrier (4), then one more look at used.idx: 1 (counted in rechecks) if a completion came in that no interrupt may announce
  vos_mb();
  if (load16(&vq->used->idx) == vq->last_used)
    return 0;
  vq->stats.rechecks++;
  return 1;
  // === stub
  // // No second look: a completion that came in meanwhile waits for an
  // // interrupt that may never come.
  // return 0;
  // <<< lab evidx
}

int virtq_drain(struct virtq *vq, void **token)
{
  if (vq->packed) return vpq_drain(vq, token);
  uint16_t i;

  // Only called once the device has been reset, so nothing else is
  // looking at these descriptors any more (3.3.1: buffers of a live queue
  // may not be taken back). chain_len is non-zero exactly for the heads
  // of outstanding chains, so the scan finds each chain once. One per
  // call: the driver fails that request, which may wake its owner, before
  // it asks for the next.
  for (i = 0; i < vq->size; i++) {
    if (vq->chain_len[i] != 0) {
      if (vq->trace) virtq_trace_drain(vq, i);
      *token = vq->token[i];
      free_chain(vq, i);
      return 1;
    }
  }
  return 0;
}

// One line per queue: the counters, the features in use, and why the queue
// broke if it did (the host tests print it through vblk_log_stats).
void virtq_log_stats(struct virtq *vq, const char *name)
{
  vos_log("%s: queue %u size %u%s%s: added %u (indirect %u) kicks %u notifies %u "
          "interrupts %u completions %u rechecks %u errors %u%s%s\n", name,
          (unsigned)vq->index, (unsigned)vq->size,
          vq->event_idx ? " event_idx" : "", vq->itab_count ? " indirect" : "",
          (unsigned)vq->stats.added, (unsigned)vq->stats.indirect,
          (unsigned)vq->stats.kicks, (unsigned)vq->stats.notifies,
          (unsigned)vq->stats.interrupts, (unsigned)vq->stats.completions,
          (unsigned)vq->stats.rechecks, (unsigned)vq->stats.errors,
          vq->broken ? " BROKEN: " : "", vq->broken ? vq->broken_why : "");
}
