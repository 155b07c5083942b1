// virtq.c: the split virtqueue. Builds descriptor chains out of
// scatter-gather lists, publishes them on the available ring, and takes
// finished chains back off the used ring, checking everything the device
// wrote before believing it.
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues):
//   2.7.2   the legacy layout (we use it for every device: it is also a
//           valid modern layout, so there is one code path)
//   2.7.5   descriptor table, 2.7.6 available ring, 2.7.8 used ring
//   2.7.13  supplying buffers (the order of stores and barriers in
//           virtq_add / virtq_kick)
//   2.7.14  receiving used buffers (virtq_get)
//   2.7.7 / 2.7.10  notification suppression: we honour the device's
//           VIRTQ_USED_F_NO_NOTIFY; VIRTIO_RING_F_EVENT_IDX is not
//           negotiated yet, the places where it would go are marked.
//
// See it run: `make -C tests/host check` (tests virtq_*, blk_*), or
// `make qemu`.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"

_Static_assert((VIRTQ_MAX_SIZE & (VIRTQ_MAX_SIZE - 1)) == 0,
               "VIRTQ_MAX_SIZE must be a power of two");
_Static_assert(VIRTQ_MAX_SIZE <= VIRTQ_SIZE_LIMIT, "VIRTQ_MAX_SIZE too large");

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

// Ring sizes in bytes (2.7), including the trailing used_event/avail_event
// u16 so that VIRTIO_RING_F_EVENT_IDX can be turned on without moving
// anything.
static size_t avail_bytes(uint16_t size)
{
  return 2 * (3 + (size_t)size);
}

static size_t used_bytes(uint16_t size)
{
  return 2 * 3 + 8 * (size_t)size;
}

static size_t used_offset(uint16_t size)
{
  size_t end = 16 * (size_t)size + avail_bytes(size);
  size_t align = VIRTIO_LEGACY_QUEUE_ALIGN;
  return (end + align - 1) / align * align;
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

int virtq_init(struct virtq *vq, struct vio_dev *d, uint16_t index, uint16_t want_size)
{
  uint32_t max;
  uint16_t size, i;
  uint8_t *mem;

  vq->dev = d;
  vq->index = index;
  vq->mem = 0;
  vq->broken = 0;
  vq->broken_why = 0;
  vq->event_idx = 0;
  vq->stats.added = vq->stats.notifies = vq->stats.interrupts = 0;
  vq->stats.completions = vq->stats.errors = 0;

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
  // used.flags = 0 is what 2.7.10.1 requires the driver to start with.
  vq->mem = mem;
  vq->desc = (struct virtq_desc *)mem;
  vq->avail = (struct virtq_avail *)(mem + 16 * (size_t)size);
  vq->used = (struct virtq_used *)(mem + used_offset(size));

  // Every descriptor starts on the free list: 0 -> 1 -> ... -> size-1.
  for (i = 0; i < size; i++) {
    vq->link[i] = (uint16_t)(i + 1);
    vq->chain_len[i] = 0;
    vq->writable[i] = 0;
    vq->token[i] = 0;
  }
  vq->free_head = 0;
  vq->nfree = size;
  vq->outstanding = 0;
  vq->avail_idx = 0;
  vq->last_used = 0;

  if (vio_queue_setup(d, index, size, vos_virt_to_phys(vq->desc),
                      vos_virt_to_phys(vq->avail), vos_virt_to_phys(vq->used)) < 0) {
    virtq_destroy(vq);
    return -1;
  }
  return 0;
}

void virtq_destroy(struct virtq *vq)
{
  if (vq->mem)
    vos_dma_free(vq->mem, vq->mem_size);
  vq->mem = 0;
  vq->desc = 0;
  vq->avail = 0;
  vq->used = 0;
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
// writable buffers after readable ones; 2.7.5.2: at most 2^32 bytes in all)
// plus ours (no empty buffers, at most one ring's worth of descriptors).
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

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token)
{
  uint32_t writable = 0;
  uint16_t head, d = 0;
  int i, err;

  if (vq->broken)
    return VIRTQ_ERR_BROKEN;
  if (token == 0)
    return VIRTQ_ERR_INVAL;
  err = check_chain(vq, bufs, n, &writable);
  if (err != VIRTQ_OK)
    return err;
  if (n > vq->nfree)
    return VIRTQ_ERR_FULL;

  // 2.7.13.1: take n descriptors off the free list and fill them in. The
  // free list order is also the chain order, so link[] already says which
  // descriptor follows which; `next` in the table is the device's copy.
  head = vq->free_head;
  d = head;
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

void virtq_kick(struct virtq *vq)
{
  uint16_t flags;

  if (vq->broken || vq->mem == 0)
    return;
  // 2.7.13.3: the device must see the descriptors and the available ring
  // entries we wrote before it sees avail.idx advance, or it could read a
  // half-built chain.
  vos_mb();
  store16(&vq->avail->idx, vq->avail_idx);
  // 2.7.13.4: avail.idx must be visible before we read used.flags. The
  // device sets NO_NOTIFY, then re-checks avail.idx before it sleeps; if
  // our read of the flag could pass our idx store, both sides could miss
  // each other and the request would sit there forever.
  vos_mb();
  flags = load16(&vq->used->flags);
  // With VIRTIO_RING_F_EVENT_IDX this test would compare avail_event with
  // the old and new avail.idx instead (2.7.10).
  if (flags & VIRTQ_USED_F_NO_NOTIFY)
    return;
  vio_notify(vq->dev, vq->index);
  vq->stats.notifies++;
}

// Put a returned chain's descriptors back on the free list. Walks link[],
// our private copy, never the descriptor table, which a buggy device might
// have scribbled on.
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

int virtq_get(struct virtq *vq, void **token, uint32_t *len)
{
  uint16_t used_idx, pending;
  struct virtq_used_elem *e;
  uint32_t id, n;

  if (vq->broken)
    return -1;
  used_idx = load16(&vq->used->idx);
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

  // The device wrote the used entry (and the data in our buffers) before
  // it advanced used.idx. We read used.idx above; this barrier keeps our
  // reads of the entry and of the data from being done before that read,
  // when they could still see old values.
  vos_mb();
  e = &vq->used->ring[vq->last_used % vq->size];
  id = load32(&e->id);
  n = load32(&e->len);

  // Believe nothing the device wrote until it checks out (2.7.8).
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
  // With VIRTIO_RING_F_EVENT_IDX we would now write used_event = last_used
  // to ask for an interrupt at the next completion (2.7.7).
  vq->stats.completions++;
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
  vos_log("%s: queue %u size %u: added %u notifies %u interrupts %u "
          "completions %u errors %u%s%s\n", name, (unsigned)vq->index,
          (unsigned)vq->size, (unsigned)vq->stats.added,
          (unsigned)vq->stats.notifies, (unsigned)vq->stats.interrupts,
          (unsigned)vq->stats.completions, (unsigned)vq->stats.errors,
          vq->broken ? " BROKEN: " : "", vq->broken ? vq->broken_why : "");
}
