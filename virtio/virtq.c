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
// See it run: `make -C tests/host check` (tests virtq_*, blk_*, perf_*),
// or `make qemu` and `blkbench` for the notification counts.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"

_Static_assert((VIRTQ_MAX_SIZE & (VIRTQ_MAX_SIZE - 1)) == 0,
               "VIRTQ_MAX_SIZE must be a power of two");
_Static_assert(VIRTQ_MAX_SIZE <= VIRTQ_SIZE_LIMIT, "VIRTQ_MAX_SIZE too large");
_Static_assert(VIRTQ_MAX_SIZE < VIRTQ_NO_TABLE, "table numbers must not collide with VIRTQ_NO_TABLE");

// The device writes the used ring while we read it. Reading through a
// volatile pointer makes the compiler load the value from memory every time
// instead of reusing an old copy; ordering against the device comes from
// the vos_mb() calls.
static uint16_t load16(uint16_t *p)
{
  return *(volatile uint16_t *)p;
}

static uint32_t load32(uint32_t *p)
{
  return *(volatile uint32_t *)p;
}

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
static size_t used_offset(uint16_t size)
{
  return (size_t)virtq_legacy_used_offset(size, VIRTIO_LEGACY_QUEUE_ALIGN);
}

static uint16_t pick_size(uint32_t max, uint16_t want)
{
  uint32_t n = max;
  uint16_t size = 1;

  if (n > want)
    n = want;
  if (n > VIRTQ_MAX_SIZE)
    n = VIRTQ_MAX_SIZE;
  // Split ring sizes are powers of two (2.7); a device may still announce
  // any QueueNumMax, so use the largest power of two that fits.
  while ((uint32_t)size * 2 <= n)
    size *= 2;
  return n == 0 ? 0 : size;
}

static void zero_stats(struct virtq_stats *st)
{
  st->added = st->indirect = st->kicks = st->notifies = 0;
  st->interrupts = st->completions = st->rechecks = st->errors = 0;
}

int virtq_init(struct virtq *vq, struct vio_dev *d, uint16_t index, uint16_t want_size)
{
  uint32_t max;
  uint16_t size, i;
  uint8_t *mem;

  vq->dev = d;
  vq->index = index;
  vq->mem = 0;
  vq->itab = 0;
  vq->itab_mem_size = 0;
  vq->itab_count = vq->itab_entries = vq->itab_nfree = 0;
  vq->broken = 0;
  vq->broken_why = 0;
  vq->event_idx = vio_has_feature(d, VIRTIO_RING_F_EVENT_IDX);
  vq->intr_off = 0;
  zero_stats(&vq->stats);

  max = vio_queue_max(d, index);
  size = pick_size(max, want_size);
  if (size == 0) {
    vos_log("virtq: device %p has no queue %u\n", (void *)d->base, (unsigned)index);
    return -1;
  }
  vq->size = size;
  vq->mem_size = used_offset(size) + used_bytes(size);
  mem = vos_dma_alloc(vq->mem_size);
  if (mem == 0) {
    vos_log("virtq: no memory for queue %u\n", (unsigned)index);
    return -1;
  }
  // vos_dma_alloc memory is zeroed: avail.flags = 0 asks for interrupts,
  // used.flags = 0 is what 2.7.10.1 requires the driver to start with, and
  // used_event = 0 asks for an interrupt at the first completion.
  vq->mem = mem;
  vq->desc = (struct virtq_desc *)mem;
  vq->avail = (struct virtq_avail *)(mem + 16 * (size_t)size);
  vq->used = (struct virtq_used *)(mem + used_offset(size));
  vq->used_event = &vq->avail->ring[size];
  vq->avail_event = (uint16_t *)&vq->used->ring[size];

  // Every descriptor starts on the free list: 0 -> 1 -> ... -> size-1.
  for (i = 0; i < size; i++) {
    vq->link[i] = (uint16_t)(i + 1);
    vq->chain_len[i] = 0;
    vq->itab_of[i] = VIRTQ_NO_TABLE;
    vq->writable[i] = 0;
    vq->token[i] = 0;
  }
  vq->free_head = 0;
  vq->nfree = size;
  vq->outstanding = 0;
  vq->avail_idx = 0;
  vq->avail_pub = 0;
  vq->last_used = 0;
  vq->used_seen = 0;

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
  vq->itab_mem_size = (size_t)ntables * entries * sizeof(struct virtq_desc);
  vq->itab = vos_dma_alloc(vq->itab_mem_size);
  if (vq->itab == 0) {
    vos_log("virtq %u: no memory for indirect tables; using plain descriptors\n",
            (unsigned)vq->index);
    vq->itab_mem_size = 0;
    return -1;
  }
  vq->itab_count = ntables;
  vq->itab_entries = entries;
  for (i = 0; i < ntables; i++)
    vq->itab_free[i] = i;
  vq->itab_nfree = ntables;
  return 1;
}

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

void virtq_mark_broken(struct virtq *vq, const char *why)
{
  if (vq->broken)
    return;
  vq->broken = 1;
  vq->broken_why = why;
  vq->stats.errors++;
  vos_log("virtq %u of device %p broken: %s\n", (unsigned)vq->index,
          (void *)vq->dev->base, why);
}

int virtq_is_broken(struct virtq *vq)
{
  return vq->broken;
}

int virtq_free_count(struct virtq *vq)
{
  return vq->nfree;
}

void virtq_count_intr(struct virtq *vq)
{
  vq->stats.interrupts++;
}

// Check a chain before it touches the ring: the spec's rules (2.7.4.2:
// writable buffers after readable ones; 2.7.5.2: at most 2^32 bytes in all;
// 2.7.5.3.1: no longer than the queue) plus ours (no empty buffers).
static int check_chain(struct virtq *vq, const struct virtq_buf *bufs, int n,
                       uint32_t *writable)
{
  uint64_t total = 0, wr = 0;
  int seen_writable = 0;
  int i;

  if (n <= 0 || n > vq->size)
    return VIRTQ_ERR_INVAL;
  for (i = 0; i < n; i++) {
    if (bufs[i].addr == 0 || bufs[i].len == 0)
      return VIRTQ_ERR_INVAL;
    if (bufs[i].device_writes) {
      seen_writable = 1;
      wr += bufs[i].len;
    } else if (seen_writable) {
      return VIRTQ_ERR_INVAL;
    }
    total += bufs[i].len;
  }
  if (total > 0xffffffffu)
    return VIRTQ_ERR_INVAL;
  *writable = (uint32_t)wr;
  return VIRTQ_OK;
}

// Would this chain go into an indirect table? Only chains of two or more
// buffers (one buffer is one descriptor either way), only while a table is
// free, and only if it fits in one.
static int use_indirect(struct virtq *vq, int n)
{
  return n >= 2 && vq->itab_nfree > 0 && n <= vq->itab_entries;
}

int virtq_room(struct virtq *vq, int n)
{
  if (vq->broken || n <= 0 || n > vq->size)
    return 0;
  if (use_indirect(vq, n))
    return vq->nfree >= 1;
  return vq->nfree >= n;
}

// Fill descriptors d[0..n-1] of an indirect table: they are chained by
// position, `next` being an index into the same table (2.7.5.3).
static void fill_table(struct virtq_desc *d, const struct virtq_buf *bufs, int n)
{
  int i;

  for (i = 0; i < n; i++) {
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
  uint16_t t = vq->itab_free[--vq->itab_nfree];
  struct virtq_desc *table = &vq->itab[(size_t)t * vq->itab_entries];
  uint16_t head = vq->free_head;
  struct virtq_desc *desc = &vq->desc[head];

  fill_table(table, bufs, n);
  desc->addr = vos_virt_to_phys(table);
  desc->len = (uint32_t)n * sizeof(struct virtq_desc);
  desc->flags = VIRTQ_DESC_F_INDIRECT;
  desc->next = 0;
  vq->free_head = vq->link[head];
  vq->nfree--;
  vq->chain_len[head] = 1;
  vq->itab_of[head] = t;
  vq->stats.indirect++;
  return head;
}

// 2.7.13.1: take n descriptors off the free list and fill them in. The
// free list order is also the chain order, so link[] already says which
// descriptor follows which; `next` in the table is the device's copy.
static uint16_t add_direct(struct virtq *vq, const struct virtq_buf *bufs, int n)
{
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
  vq->chain_len[head] = (uint16_t)n;
  vq->itab_of[head] = VIRTQ_NO_TABLE;
  return head;
}

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token)
{
  uint32_t writable = 0;
  uint16_t head;
  int err;

  if (vq->broken)
    return VIRTQ_ERR_BROKEN;
  if (token == 0)
    return VIRTQ_ERR_INVAL;
  err = check_chain(vq, bufs, n, &writable);
  if (err != VIRTQ_OK)
    return err;
  if (!virtq_room(vq, n))
    return VIRTQ_ERR_FULL;

  if (use_indirect(vq, n))
    head = add_indirect(vq, bufs, n);
  else
    head = add_direct(vq, bufs, n);
  vq->writable[head] = writable;
  vq->token[head] = token;
  vq->outstanding++;

  // 2.7.13.2: the head goes in the next available ring slot. The device
  // cannot see it until virtq_kick advances avail.idx.
  vq->avail->ring[vq->avail_idx % vq->size] = head;
  vq->avail_idx++;
  vq->stats.added++;
  return VIRTQ_OK;
}

// With EVENT_IDX the device stores in avail_event the avail.idx value it
// wants to hear about: "notify me once you publish the entry with this
// index". We just published entries old .. new-1. The device asked for one
// of them exactly when avail_event lies in that window, i.e. when it is
// fewer than (new - old) steps before new. All arithmetic is mod 2^16,
// like the indices themselves, so the test survives wrap-around.
static int need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
  return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

static int device_wants_notify(struct virtq *vq, uint16_t old_idx, uint16_t new_idx)
{
  // 2.7.10.1: with EVENT_IDX the driver ignores used.flags entirely.
  if (vq->event_idx)
    return need_event(load16(vq->avail_event), new_idx, old_idx);
  return !(load16(&vq->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
}

void virtq_kick(struct virtq *vq)
{
  uint16_t old_idx = vq->avail_pub, new_idx = vq->avail_idx;

  if (vq->broken || vq->mem == 0 || old_idx == new_idx)
    return;  // nothing new for the device to see
  // 2.7.13.3: we wrote descriptors, indirect tables and available ring
  // entries; the device reads avail.idx and then those. Our stores must
  // reach memory before the idx store below, or the device could read a
  // half-built chain.
  vos_mb();
  store16(&vq->avail->idx, new_idx);
  vq->avail_pub = new_idx;
  vq->stats.kicks++;
  // 2.7.13.4: our avail.idx store must be visible before we read used.flags
  // or avail_event. The device writes those (to say "I am going idle, tell
  // me about index N") and then re-reads avail.idx before it sleeps. With a
  // barrier on both sides at least one of us sees the other's store: either
  // the device finds our new idx, or we find its request and notify. Without
  // ours, both could read old values and the request would sit there.
  vos_mb();
  if (!device_wants_notify(vq, old_idx, new_idx))
    return;
  vio_notify(vq->dev, vq->index);
  vq->stats.notifies++;
}

// Put a returned chain's descriptors back on the free list. Walks link[],
// our private copy, never the descriptor table, which a buggy device might
// have scribbled on. An indirect chain holds one ring descriptor and a table.
static void free_chain(struct virtq *vq, uint16_t head)
{
  uint16_t d = head;
  uint16_t n = vq->chain_len[head];
  uint16_t i;

  for (i = 0; i + 1 < n; i++)
    d = vq->link[d];
  vq->link[d] = vq->free_head;
  vq->free_head = head;
  vq->nfree += n;
  if (vq->itab_of[head] != VIRTQ_NO_TABLE) {
    vq->itab_free[vq->itab_nfree++] = vq->itab_of[head];
    vq->itab_of[head] = VIRTQ_NO_TABLE;
  }
  vq->chain_len[head] = 0;
  vq->writable[head] = 0;
  vq->token[head] = 0;
  vq->outstanding--;
}

// A used ring entry that does not check out: say what it was, break the queue.
static int bad_used(struct virtq *vq, const char *why, uint32_t id, uint32_t len)
{
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
  uint16_t pending;

  if (used_idx == vq->last_used)
    return 0;
  // used.idx can never run further ahead than the chains the device holds.
  pending = (uint16_t)(used_idx - vq->last_used);
  if (pending > vq->outstanding) {
    vos_log("virtq %u: used.idx %u but only %u requests outstanding after %u\n",
            (unsigned)vq->index, (unsigned)used_idx, (unsigned)vq->outstanding,
            (unsigned)vq->last_used);
    virtq_mark_broken(vq, "used.idx ran ahead of the outstanding requests");
    return -1;
  }
  // The device wrote the used entries (and the data in our buffers) before
  // it advanced used.idx (2.7.8.2). We read used.idx above; this barrier
  // keeps our reads of the entries and of the data from being done before
  // that read, when they could still see old values. One barrier covers
  // every entry up to used_idx, which is what makes batches cheap.
  vos_mb();
  vq->used_seen = used_idx;
  return 1;
}

int virtq_get(struct virtq *vq, void **token, uint32_t *len)
{
  struct virtq_used_elem *e;
  uint32_t id, n;
  int r;

  if (vq->broken)
    return -1;
  if (vq->last_used == vq->used_seen) {
    r = refresh_used(vq);
    if (r <= 0)
      return r;
  }
  e = &vq->used->ring[vq->last_used % vq->size];
  id = load32(&e->id);
  n = load32(&e->len);

  // Believe nothing the device wrote until it checks out (2.7.8). For an
  // indirect chain, id must be the ring descriptor that points at the
  // table and len must fit the table's writable buffers.
  if (id >= vq->size)
    return bad_used(vq, "used.id out of range", id, n);
  if (vq->chain_len[id] == 0)
    return bad_used(vq, "used.id is not an outstanding chain head", id, n);
  if (n > vq->writable[id])
    return bad_used(vq, "used.len larger than the chain's writable buffers", id, n);

  *token = vq->token[id];
  *len = n;
  free_chain(vq, (uint16_t)id);
  vq->last_used++;
  vq->stats.completions++;
  return 1;
}

void virtq_disable_intr(struct virtq *vq)
{
  if (vq->broken || vq->mem == 0)
    return;
  // With EVENT_IDX there is nothing to do: used_event still names an entry
  // the device has already passed, so it will not interrupt again until
  // virtq_enable_intr moves used_event forward (2.7.7.2). Without it the
  // flag is the only tool; the device may ignore it (it is a hint), which
  // costs an interrupt, never a lost completion.
  if (!vq->event_idx && !vq->intr_off) {
    store16(&vq->avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
    vq->intr_off = 1;
  }
}

int virtq_enable_intr(struct virtq *vq)
{
  if (vq->broken || vq->mem == 0)
    return 0;
  if (vq->event_idx) {
    // "Interrupt me when you write used ring entry number last_used", the
    // next one we have not seen. Completions already in the ring do not
    // interrupt again; the re-check below is how we find those.
    store16(vq->used_event, vq->last_used);
  } else if (vq->intr_off) {
    store16(&vq->avail->flags, 0);
    vq->intr_off = 0;
  }
  // The race (2.7.14): the device writes used.idx and then reads
  // used_event (or avail.flags) to decide whether to interrupt; we wrote
  // used_event and now read used.idx. If the device's read passed our
  // store, it saw the old used_event and stays quiet, so we must see its
  // used.idx store instead. The barrier orders our store before our load;
  // the device orders its own pair the same way.
  vos_mb();
  if (load16(&vq->used->idx) == vq->last_used)
    return 0;
  vq->stats.rechecks++;
  return 1;
}

int virtq_drain(struct virtq *vq, void **token)
{
  uint16_t i;

  // Only called once the device has been reset, so nothing else is
  // looking at these descriptors any more.
  for (i = 0; i < vq->size; i++) {
    if (vq->chain_len[i] != 0) {
      *token = vq->token[i];
      free_chain(vq, i);
      return 1;
    }
  }
  return 0;
}

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
