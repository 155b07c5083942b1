// virtq_packed.c: the packed virtqueue, the second layout behind the virtq
// API (virtq.h). Read virtq.c (the split ring) first: the API, the checks
// of everything the device writes, and the four barriers are the same
// ideas here, on one ring instead of three. virtio.h draws the layout.
//
// Follows virtio 1.2 section 2.8 (Packed Virtqueues):
//   2.8.1   the driver and device ring wrap counters, and the AVAIL and
//           USED flag bits that say which lap an entry belongs to
//   2.8.2   each side polls one place: the entry after the last it handled
//   2.8.5, 2.8.6  chains (NEXT), buffer ids, skipping a used chain
//   2.8.7   indirect tables (struct pvirtq_desc entries, only WRITE valid)
//   2.8.10, 2.8.14  the two event suppression structures; the
//           RING_EVENT_FLAGS_DESC mode when VIRTIO_F_EVENT_IDX is negotiated
//   2.8.16, 2.8.17, 2.8.19  what the driver must and must not write
//   2.8.21  supplying buffers: the order of stores and barriers
//   2.8.22  receiving used buffers, and the re-check after re-enabling
//
// Read it in the order a request lives: vpq_init (the ring), vpq_add
// (entries, the first one's flags held back), vpq_kick (barrier (1), the
// flags that publish, barrier (2), the device's event structure), vpq_get
// (the entry at next_used: its flags, barrier (3), id and len, checked),
// vpq_enable_intr (barrier (4), the re-check). The barriers carry the
// same numbers as virtq.c's and docs/ARCHITECTURE.md's timeline.
//
// See it run: `make -C tests/host check` (every test ending in /packed),
// `make qemu PACKED=1` (lsdev shows "packed" in the ring column), and
// `make bench` (split and packed side by side).
//
// The one-line `if (vq->trace) virtq_trace_...` hooks record each step
// for `make trace PACKED=1` (virtq_trace.h), as in virtq.c: a queue nobody
// records pays one predictable branch per hook.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"
#include "virtq_trace.h"

// Indirect tables are allocated by virtq_init_indirect (virtq.c) as
// arrays of struct virtq_desc; a packed queue fills the same memory with
// struct pvirtq_desc entries, which must therefore be the same size.
_Static_assert(sizeof(struct pvirtq_desc) == sizeof(struct virtq_desc),
               "indirect tables hold either kind of descriptor");
// A ring position must fit desc_event_off's 15 bits (2.8.14).
_Static_assert(VIRTQ_MAX_SIZE <= 32768, "positions must fit 15 bits");

// The same volatile accesses as virtq.c's load16/store16, for the same
// reason: a field the device writes is read exactly once, and a field it
// reads is written exactly once, whole, here. Ordering comes from vos_mb.
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

// An event suppression structure is read and written as one 32-bit word
// (it is 4 bytes, 4-aligned: 2.8.10.1): desc in the low half, flags in
// the high half (little-endian, virtio.h). So the other side never sees
// a new offset with old flags, or the other way round, and no barrier is
// needed between the two halves.
static uint32_t load_event(struct pvirtq_event_suppress *e)
{
  return *(volatile uint32_t *)(void *)e;
}

static void store_event(struct pvirtq_event_suppress *e, uint16_t desc, uint16_t flags)
{
  *(volatile uint32_t *)(void *)e = (uint32_t)desc | (uint32_t)flags << 16;
}

// desc_event_off and desc_event_wrap packed into one 16-bit word (2.8.14).
static uint16_t event_desc(uint16_t pos, uint8_t wrap)
{
  return (uint16_t)(pos | (uint16_t)wrap << 15);
}

// The flags that make an entry available in a lap whose wrap counter is
// `wrap`: AVAIL equal to it, USED the inverse (2.8.1). The device marks
// an entry used by making USED equal to AVAIL.
static uint16_t avail_bits(uint8_t wrap)
{
  return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

// Step a ring position forward by n entries (n <= size). Passing the end
// flips the wrap counter that goes with the position (2.8.1: "each time
// it makes available the last descriptor in the ring").
static void advance(struct virtq *vq, uint16_t *pos, uint8_t *wrap, uint16_t n)
{
  uint32_t p = (uint32_t)*pos + n;

  if (p >= vq->size) {
    p -= vq->size;
    *wrap ^= 1;
  }
  *pos = (uint16_t)p;
}

// A position and its wrap counter repeat every two laps: the first lap
// has wrap 1, the next wrap 0, then 1 again. Numbered 0 .. 2*size-1 in
// that order, positions can be compared like the split ring's free-running
// indices, mod 2*size instead of mod 65536.
static uint32_t lap_pos(struct virtq *vq, uint16_t pos, uint8_t wrap)
{
  return wrap ? pos : (uint32_t)vq->size + pos;
}

// How many entries forward `to` lies from `from`, both lap_pos values.
static uint32_t steps_between(struct virtq *vq, uint32_t from, uint32_t to)
{
  uint32_t period = 2 * (uint32_t)vq->size;

  return (to + period - from % period) % period;
}

// Entries the device can see and has not given back: filled, published
// by a kick, and not yet skipped over by vpq_get. Used descriptors can
// only appear among these; everything virtq_get believes is held to it.
static uint32_t in_flight(struct virtq *vq)
{
  // size - nfree entries hold buffers we have not had back; unpub of
  // them were filled after the last kick and are not the device's yet.
  return (uint32_t)(vq->size - vq->nfree) - vq->unpub;
}

int vpq_select(struct virtq *vq, struct vio_dev *d)
{
  // 6.1: a driver SHOULD accept RING_PACKED when it is offered; the
  // drivers ask for it (VIRTQ_LAYOUT_FEATURES), so it is negotiated
  // exactly when the device offered it. Set for split queues too: a
  // struct virtq used again must not keep an old layout.
  vq->packed = vio_has_feature(d, VIRTIO_F_RING_PACKED);
  return vq->packed;
}

// ---- setting up ----

int vpq_init(struct virtq *vq, struct vio_dev *d, uint16_t index, uint16_t want_size)
{
  uint8_t *p = (uint8_t *)vq;
  uint32_t max, size;
  size_t i;
  uint8_t *mem;

  // Start from all zeroes: no memory, not broken, no counters, nothing
  // outstanding (the portable core has no memset). Then what differs.
  for (i = 0; i < sizeof(*vq); i++)
    p[i] = 0;
  vq->dev = d;
  vq->index = index;
  vq->packed = 1;
  // Negotiated for the whole device before any queue exists (3.1.1).
  vq->event_idx = vio_has_feature(d, VIRTIO_RING_F_EVENT_IDX);

  // 4.2.3.2 steps 1-3 (vio_queue_max), then the size. Unlike a split
  // ring, a packed one may have any size up to QueueNumMax (2.8.10.1:
  // "does not have to be a power of 2"): nothing here indexes mod size.
  max = vio_queue_max(d, index);
  size = max < want_size ? max : want_size;
  if (size > VIRTQ_MAX_SIZE)
    size = VIRTQ_MAX_SIZE;
  // QueueNumMax 0: the queue does not exist (4.2.2).
  if (size == 0) {
    vos_log("virtq: device %p has no queue %u\n", (void *)d->base, (unsigned)index);
    return -1;
  }
  vq->size = (uint16_t)size;  // at most VIRTQ_MAX_SIZE: fits

  // One block: the ring (16 bytes an entry, 16-aligned), then the driver
  // and device event suppression structures (4 bytes each, 4-aligned:
  // 2.8.10.1; 16 * size keeps both aligned). vos_dma_alloc zeroes it,
  // and 2.8.13 wants the ring zero-initialized: every flags word 0, which
  // is "from the lap before" for both wrap counters starting at 1.
  vq->mem_size = 16 * (size_t)size + 2 * sizeof(struct pvirtq_event_suppress);
  mem = vos_dma_alloc(vq->mem_size);
  if (mem == 0) {
    vos_log("virtq: no memory for queue %u\n", (unsigned)index);
    return -1;
  }
  vq->mem = mem;
  vq->ring = (struct pvirtq_desc *)mem;
  vq->driver_event = (struct pvirtq_event_suppress *)(mem + 16 * (size_t)size);
  vq->device_event = vq->driver_event + 1;

  // Every buffer id starts free: 0 -> 1 -> ... -> size-1 in link[]. At
  // most `size` buffers can be out at once (each holds a ring entry), so
  // ids never run out before entries do.
  for (i = 0; i < size; i++) {
    vq->link[i] = (uint16_t)(i + 1);
    vq->itab_of[i] = VIRTQ_NO_TABLE;
  }
  vq->free_head = 0;
  vq->nfree = (uint16_t)size;
  // 2.8.1: both wrap counters start at 1, both sides at entry 0.
  vq->avail_wrap = vq->pub_wrap = vq->used_wrap = 1;

  // The split ring's zeroed used_event means "interrupt me at the first
  // used entry". A zeroed driver event structure means ENABLE instead:
  // "interrupt me for every one". With EVENT_IDX say what the split ring
  // says, in the packed way: entry 0 of the first lap (wrap 1).
  if (vq->event_idx)
    store_event(vq->driver_event, event_desc(0, 1), RING_EVENT_FLAGS_DESC);

  // The transport's three addresses: Descriptor Area = the ring, Driver
  // Area and Device Area = the two structures (2.8). Its barrier before
  // QueueReady makes the zeroes and the store above visible first.
  if (vio_queue_setup(d, index, vq->size, vos_virt_to_phys(vq->ring),
                      vos_virt_to_phys(vq->driver_event),
                      vos_virt_to_phys(vq->device_event)) < 0) {
    virtq_destroy(vq);
    return -1;
  }
  return 0;
}

// ---- supplying buffers (2.8.21) ----

int vpq_room(struct virtq *vq, int n)
{
  if (vq->broken || n <= 0 || n > vq->size)
    return 0;
  // 2.8.17: room for the whole list before its first entry is made
  // available. Free ring entries are the only limit (ids cannot run out
  // first, see vpq_init).
  if (virtq_use_indirect(vq, n))
    return vq->nfree >= 1;
  return vq->nfree >= n;
}

// Fill the ring entry at next_avail and step past it. The entry's flags
// get the AVAIL/USED bits of the current lap (2.8.21.1 step 6). The first
// entry filled since the last kick is the one the device will look at
// next (2.8.2), so its flags store is held back: vpq_kick makes it, after
// barrier (1), and that one store publishes this whole batch. Every later
// entry's flags are stored now: the device reads entries in ring order
// (2.8.12) and does not get past the held-back one before the kick.
static void put_entry(struct virtq *vq, uint64_t addr, uint32_t len, uint16_t id,
                      uint16_t flags)
{
  struct pvirtq_desc *d = &vq->ring[vq->next_avail];

  // 2.8.16: we may rewrite this entry because it is free: the device has
  // skipped or overwritten it in the lap before (vpq_room counted it).
  d->addr = addr;
  d->len = len;
  // 2.8.6 asks for the id in a list's last entry only. Writing it into
  // every entry costs nothing and means any entry names its own buffer.
  d->id = id;
  flags |= avail_bits(vq->avail_wrap);
  if (vq->unpub == 0)
    vq->pub_flags = flags;  // held back for vpq_kick
  else
    store16(&d->flags, flags);
  vq->unpub++;
  advance(vq, &vq->next_avail, &vq->avail_wrap, 1);
}

// A list in plain ring entries: NEXT on all but the last (2.8.6), WRITE on
// the ones the device writes (2.8.3). Returns the ring entries used.
static uint16_t put_direct(struct virtq *vq, const struct virtq_buf *bufs, int n, uint16_t id)
{
  int i;

  for (i = 0; i < n; i++) {
    uint16_t flags = bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0;
    // The entries of a list lie one after the other in the ring (no
    // `next` field as in the split ring): NEXT only says "more follows".
    if (i + 1 < n)
      flags |= VIRTQ_DESC_F_NEXT;
    // The device needs the address it can reach, not our pointer (2.8.4).
    put_entry(vq, vos_virt_to_phys(bufs[i].addr), bufs[i].len, id, flags);
  }
  return (uint16_t)n;
}

// A list in an indirect table (2.8.7): the table's entries follow each
// other, no NEXT, only WRITE may be set in them, their ids are ignored;
// the ring entry points at the table, len = 16 bytes per element, and
// carries INDIRECT alone (WRITE is ignored there, NEXT forbidden: 2.8.19).
// The table is ordinary memory: barrier (1) publishes it with the ring.
static uint16_t put_indirect(struct virtq *vq, const struct virtq_buf *bufs, int n,
                             uint16_t id)
{
  uint16_t t = vq->itab_free[--vq->itab_nfree];  // virtq_use_indirect saw one free
  struct pvirtq_desc *table = (struct pvirtq_desc *)&vq->itab[(size_t)t * vq->itab_entries];
  int i;

  for (i = 0; i < n; i++) {
    table[i].addr = vos_virt_to_phys(bufs[i].addr);
    table[i].len = bufs[i].len;
    table[i].id = 0;
    table[i].flags = bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0;
  }
  put_entry(vq, vos_virt_to_phys(table), (uint32_t)n * sizeof(struct pvirtq_desc), id,
            VIRTQ_DESC_F_INDIRECT);
  vq->itab_of[id] = t;
  vq->stats.indirect++;
  return 1;
}

int vpq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token)
{
  uint32_t writable = 0;
  uint16_t id, used;
  int err;

  if (vq->broken)
    return VIRTQ_ERR_BROKEN;
  if (token == 0)
    return VIRTQ_ERR_INVAL;  // token[] uses 0 for "no buffer"
  err = virtq_check_bufs(vq, bufs, n, &writable);
  if (err != VIRTQ_OK)
    return err;
  if (!vpq_room(vq, n))
    return VIRTQ_ERR_FULL;

  // 2.8.21.1 step 2: the next free buffer id.
  id = vq->free_head;
  vq->free_head = vq->link[id];
  // Steps 1 and 3-10, for each element (or the table).
  if (virtq_use_indirect(vq, n))
    used = put_indirect(vq, bufs, n, id);
  else
    used = put_direct(vq, bufs, n, id);
  vq->nfree -= used;
  // Kept by id, which is what a used entry names: how far to skip when it
  // comes back (2.8.6: "keep track of the size of the list corresponding
  // to each buffer ID"), how much the device may claim to have written,
  // and whose request it is. All in our memory, none in the ring.
  vq->chain_len[id] = used;
  vq->writable[id] = writable;
  vq->token[id] = token;
  vq->outstanding++;
  vq->stats.added++;
  if (vq->trace) virtq_trace_add(vq, id);
  return VIRTQ_OK;
}

// With EVENT_IDX and RING_EVENT_FLAGS_DESC the device names one entry,
// "notify me when this one is made available". We just published the
// entries from old to new (lap_pos values): notify if it lies among them.
// The same test as need_event in virtq.c, mod 2*size.
//   Example, size 8: old = 6 (wrap 1), new = 10 = entry 2 of the next lap
//   (wrap 0). The device asks for entry 0, wrap 0: lap_pos 8, 2 steps
//   from old, fewer than the 4 published: notify.
// A device writing nonsense here costs a notification, never memory.
static int device_wants_notify(struct virtq *vq, uint32_t old, uint32_t new)
{
  // Read once, both halves together (load_event), after barrier (2).
  uint32_t ev = load_event(vq->device_event);
  uint16_t desc = (uint16_t)ev, flags = (uint16_t)(ev >> 16) & 3;
  uint32_t want;

  if (flags == RING_EVENT_FLAGS_DISABLE)
    return 0;
  // DESC is only valid with EVENT_IDX (2.8.14); without it, and for the
  // reserved 0x3, notify: an unneeded notification is always safe.
  if (flags != RING_EVENT_FLAGS_DESC || !vq->event_idx)
    return 1;
  want = lap_pos(vq, desc & 0x7fff, (uint8_t)(desc >> 15));
  return steps_between(vq, old, want) < steps_between(vq, old, new);
}

void vpq_kick(struct virtq *vq)
{
  uint32_t old, new;
  int notify;

  if (vq->broken || vq->mem == 0 || vq->unpub == 0)
    return;  // nothing new for the device to see
  old = lap_pos(vq, vq->pub_avail, vq->pub_wrap);
  new = lap_pos(vq, vq->next_avail, vq->avail_wrap);
  // Barrier (1) (2.8.21.1 step 7, required by 2.8.21.1.1).
  //   We wrote: every entry of the batch but the first one's flags, and
  //   the indirect tables; next we write that flags word.
  //   The device reads: that flags word first (the one entry it polls,
  //   2.8.2), and only when it shows AVAIL for this lap the rest: the
  //   entry's address and length, the entries after it, the tables.
  //   Without the barrier the flags could become visible first, and a
  //   device working at that moment would read last lap's address and
  //   length, or the entries behind it from the lap before, and read or
  //   write the wrong memory. 2.8.17 says the same for one list: its
  //   first entry is made available after the rest.
  vos_mb();
  // 2.8.21.1 step 8: the store that makes the batch available.
  store16(&vq->ring[vq->pub_avail].flags, vq->pub_flags);
  vq->pub_avail = vq->next_avail;
  vq->pub_wrap = vq->avail_wrap;
  vq->unpub = 0;
  vq->stats.kicks++;
  // Barrier (2) (2.8.21 step 2, required by 2.8.21.3.1).
  //   We wrote the flags; next we read the Device Event Suppression
  //   structure.
  //   The device, going idle, writes that structure ("notify me"), orders
  //   that with a barrier of its own, and then reads the entry it polls
  //   once more before it sleeps.
  //   Each side stores, then loads what the other stored: with a barrier
  //   on both sides at least one of us sees the other's store. Without
  //   ours we could read an old DISABLE while the device reads the old
  //   flags, and the batch would sit in the ring with nobody coming for
  //   it. On RISC-V the fence also orders the flags store before the
  //   QueueNotify write below.
  vos_mb();
  notify = device_wants_notify(vq, old, new);
  if (vq->trace) virtq_trace_kick(vq, (uint16_t)old, (uint16_t)new, notify);
  if (!notify)
    return;
  // 2.8.21 step 3: the notification (4.2.3.3 on MMIO).
  vio_notify(vq->dev, vq->index);
  vq->stats.notifies++;
}

// ---- receiving used buffers (2.8.22) ----

// Give buffer id back: its ring entries and table, then the id itself.
// All of it is our own bookkeeping; nothing here reads the ring.
static void release(struct virtq *vq, uint16_t id)
{
  // As many entries count as free again. Not necessarily its own: the
  // free entries are always those from next_avail up to next_used, and
  // vpq_get has just moved next_used on by this many.
  vq->nfree += vq->chain_len[id];
  if (vq->itab_of[id] != VIRTQ_NO_TABLE) {
    vq->itab_free[vq->itab_nfree++] = vq->itab_of[id];
    vq->itab_of[id] = VIRTQ_NO_TABLE;
  }
  // chain_len 0 marks "not outstanding": a second used entry with this
  // id fails vpq_get's check instead of releasing it twice.
  vq->chain_len[id] = 0;
  vq->writable[id] = 0;
  vq->token[id] = 0;
  // The id goes on the front of the free list: the next vpq_add reuses it.
  vq->link[id] = vq->free_head;
  vq->free_head = id;
  vq->outstanding--;
}

// A used entry that does not check out: say where and what, break the
// queue (the driver then resets the device and fails what is left).
static int bad_used(struct virtq *vq, const char *why, uint16_t flags, uint32_t id,
                    uint32_t len)
{
  if (vq->trace) virtq_trace_bad(vq, why, id, len);
  vos_log("virtq %u: used entry at %u (wrap %u): flags 0x%x id %u len %u\n",
          (unsigned)vq->index, (unsigned)vq->next_used, (unsigned)vq->used_wrap,
          (unsigned)flags, (unsigned)id, (unsigned)len);
  virtq_mark_broken(vq, why);
  return -1;
}

// Look at the one entry the device writes next (2.8.2): 1 if it is a
// used entry we may read, 0 if not yet, -1 (queue broken) if the flags
// are ones no honest device writes there. With W our wrap counter for
// that entry: an entry we published reads AVAIL=W USED=!W until the
// device marks it used, AVAIL=USED=W. Any other flags on a published
// entry mean the device wrote a wrap counter it cannot have (the device
// model's idx-jump fault writes last lap's). Where nothing is published
// the entry is from the lap before (AVAIL=!W) or a held-back head; a
// used-looking entry there is the device running ahead of what we gave it.
static int used_ready(struct virtq *vq)
{
  uint16_t flags = load16(&vq->ring[vq->next_used].flags);
  int avail = (flags & VIRTQ_DESC_F_AVAIL) != 0;
  int used = (flags & VIRTQ_DESC_F_USED) != 0;
  int w = vq->used_wrap;

  if (in_flight(vq) == 0) {
    if (avail == w && used == w)
      return bad_used(vq, "used entry runs ahead of the available ones", flags, 0, 0);
    return 0;
  }
  if (avail == w && used != w)
    return 0;  // still available: the device is not done with it
  if (avail == w && used == w)
    return 1;
  return bad_used(vq, "used entry with an impossible wrap counter", flags, 0, 0);
}

int vpq_get(struct virtq *vq, void **token, uint32_t *len)
{
  struct pvirtq_desc *d;
  uint16_t flags;
  uint32_t id, n;
  int r;

  if (vq->broken)
    return -1;
  r = used_ready(vq);
  if (r <= 0)
    return r;
  // Barrier (3), the pair of the device's order of stores.
  //   The device wrote: the data into our buffers, then the entry's id and
  //   len, then (after its own barrier) the flags that mark it used.
  //   We read: the flags (used_ready), then id and len, and the driver
  //   then reads the data.
  //   Without the barrier those later loads could be served before the
  //   flags load, and see last lap's id and len, or a status byte not yet
  //   written. (2.8.22's example has the same read_memory_barrier.) Unlike
  //   the split ring there is no index to read once per batch: every
  //   entry has its own flags, and pays for its own barrier.
  vos_mb();
  d = &vq->ring[vq->next_used];
  // Each field once, into a local: the checks and the uses see one value.
  id = load16(&d->id);
  n = load32(&d->len);
  flags = load16(&d->flags);

  // Believe nothing until it checks out.
  //   An id past our arrays would index past them.
  if (id >= vq->size)
    return bad_used(vq, "used id out of range", flags, id, n);
  //   An id we did not hand out, or got back already, would release
  //   entries still in use and finish someone else's request.
  if (vq->chain_len[id] == 0)
    return bad_used(vq, "used id is not an outstanding buffer", flags, id, n);
  //   Skipping more entries than are published would take next_used
  //   past pub_avail, into entries the device has never seen, and every
  //   position after that would be wrong. (An id filled since the last
  //   kick passes the check above: the device cannot know it, but like
  //   the split ring we only catch it when it would go past.)
  if (vq->chain_len[id] > in_flight(vq))
    return bad_used(vq, "used entry skips past the published ones", flags, id, n);
  //   A len beyond the writable elements would have the driver read
  //   past what the device could have written. 2.8.4 makes len
  //   meaningful only with WRITE in the used entry, but QEMU never sets
  //   WRITE there and always fills in len (as the split ring's used.len),
  //   so len is taken either way, and bounded the same way.
  if (n > vq->writable[id])
    return bad_used(vq, "used len larger than the buffer's writable part", flags, id, n);

  if (vq->trace) virtq_trace_used(vq, id, n);
  // Checked: hand the driver its token and the bytes written.
  *token = vq->token[id];
  *len = n;
  // 2.8.6: the device wrote one entry for the whole list and skips the
  // rest; we skip the same number, kept by id, to where it writes next.
  advance(vq, &vq->next_used, &vq->used_wrap, vq->chain_len[id]);
  release(vq, (uint16_t)id);
  vq->stats.completions++;
  return 1;
}

void vpq_disable_intr(struct virtq *vq)
{
  if (vq->broken || vq->mem == 0)
    return;
  // With EVENT_IDX nothing to do, as in virtq.c: our event names an entry
  // the device has passed, so it stays quiet until vpq_enable_intr moves
  // it. Without, RING_EVENT_FLAGS_DISABLE (2.8.22's example), a hint that
  // costs an interrupt if it arrives late: no barrier.
  if (!vq->event_idx && !vq->intr_off) {
    store_event(vq->driver_event, 0, RING_EVENT_FLAGS_DISABLE);
    vq->intr_off = 1;
    if (vq->trace) virtq_trace_intr_off(vq);
  }
}

int vpq_enable_intr(struct virtq *vq)
{
  if (vq->broken || vq->mem == 0)
    return 0;
  if (vq->event_idx) {
    // "Interrupt me when you mark used the entry at next_used, in its
    // lap": the next one we have not read (2.8.10, RING_EVENT_FLAGS_DESC).
    store_event(vq->driver_event, event_desc(vq->next_used, vq->used_wrap),
                RING_EVENT_FLAGS_DESC);
  } else if (vq->intr_off) {
    store_event(vq->driver_event, 0, RING_EVENT_FLAGS_ENABLE);
    vq->intr_off = 0;
  }
  if (vq->trace) virtq_trace_intr_on(vq);
  // Barrier (4), against the race 2.8.22 warns about ("beware the problem
  // of missing notifications between emptying the ring and reenabling").
  //   We wrote the Driver Event Suppression structure; next we read the
  //   flags of the entry at next_used.
  //   The device writes those flags, orders that with a barrier of its
  //   own, then reads our structure to decide whether to interrupt.
  //   Each side stores, then loads what the other stored, so at least
  //   one sees the other's store: the device interrupts, or we find the
  //   used entry here and return 1. Without it both could read old
  //   values, and a finished request would wait for nobody.
  // It also orders the InterruptACK write (vio_intr_ack) before this look.
  vos_mb();
  // A bad entry counts as "more": the caller's vpq_get then reports it.
  if (used_ready(vq) == 0)
    return 0;
  vq->stats.rechecks++;
  return 1;
}

int vpq_drain(struct virtq *vq, void **token)
{
  uint16_t id;

  // After a reset (3.3.1): the device no longer looks at the ring, so
  // every outstanding buffer can be taken back, one per call, by id.
  for (id = 0; id < vq->size; id++) {
    // chain_len is not 0 exactly for the ids still out (release).
    if (vq->chain_len[id] != 0) {
      if (vq->trace) virtq_trace_drain(vq, id);
      *token = vq->token[id];
      release(vq, id);
      return 1;
    }
  }
  return 0;
}
