// virtq_trace.c: writes the records virtq_trace.h describes: a snapshot of
// a queue when its recording starts, then one record (or one group of
// records) per step of the driver (the hooks in virtq.c and
// virtq_packed.c) or of the device model (devmodel/vdm.c's hooks), into a
// bounded array the port supplies.
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues) for what it reads of a
// split queue: the descriptor table and indirect tables (2.7.5, 2.7.5.3),
// the available ring (2.7.6), the used ring (2.7.8), used_event and
// avail_event (2.7.7, 2.7.10); and section 2.8 (Packed Virtqueues) for a
// packed one: the descriptor ring (2.8.13) with each entry's AVAIL/USED
// bits (2.8.1), buffer ids (2.8.6), indirect tables (2.8.7), the event
// suppression structures (2.8.10, 2.8.14). It only reads the rings, never
// writes them, so recording cannot change what the device sees; the one
// thing it adds is time under its own lock.
//
// See it run: `make trace CMD='cat README.md'` (PACKED=1 for the packed
// ring), or the trace_* host tests (`make -C tests/host check`).
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtq.h"
#include "virtq_trace.h"

// The layout tools/trace/records.py decodes: any change here is a change
// of the format (and of VTR_VERSION).
_Static_assert(sizeof(struct vtr_rec) == 32, "a record is 32 bytes");
_Static_assert(offsetof(struct vtr_rec, a) == 6 && offsetof(struct vtr_rec, b) == 8 &&
               offsetof(struct vtr_rec, d) == 12 && offsetof(struct vtr_rec, x) == 16 &&
               offsetof(struct vtr_rec, t) == 24, "record field offsets");
_Static_assert(VTR_NTYPES < 256 && VTR_MAX_QUEUES < 256, "types and ids fit a byte");

#define PAYLOAD_BYTES 24     // bytes 8..31 of TEXT, FREE and AVRING records
#define PAYLOAD_U16   12
#define TEXT_RECORDS_MAX 3   // a name or a reason: at most 72 characters

// ---- the buffer ----

void vtrace_init(struct vtrace *t, struct vtr_rec *buf, uint32_t cap,
                 uint64_t (*clock)(void), uint32_t clock_hz)
{
  vos_lock_init(&t->lock, "vtrace");
  // The array is the port's: static memory in a kernel, a test's own in
  // the host tests. Nothing here allocates, so a port without a heap (the
  // Cortex-M3) can record too.
  t->rec = buf;
  t->cap = cap;
  t->n = t->rd = t->dropped = 0;
  t->nqueues = 0;
  // Ended until vtrace_begin: a hook that fires before anyone began a
  // recording must find no room, not write into a buffer nobody reads.
  t->ended = 1;
  // Time stamps are optional: the order of the records is the order of
  // the steps either way; the clock only lets the page line them up with
  // another clock (QEMU's, in tools/trace/qemu_events.py).
  t->clock = clock;
  t->clock_hz = clock ? clock_hz : 0;
}

// One record's fields in one place, so every record type is filled the
// same way: what the field table in virtq_trace.h says, no more.
static void set(struct vtr_rec *r, int type, int qid, uint16_t a, uint16_t b, uint16_t c,
                uint32_t d, uint64_t x)
{
  r->type = (uint8_t)type;
  r->qid = (uint8_t)qid;
  r->a = a;
  r->b = b;
  r->c = c;
  r->d = d;
  r->x = x;
}

// n consecutive records for one step, numbered and stamped; or NULL,
// counting the step as dropped. Called with t->lock held.
static struct vtr_rec *reserve(struct vtrace *t, uint32_t n)
{
  struct vtr_rec *r;
  uint64_t now;
  uint32_t i;

  // All or nothing: an ADD without its descriptors would leave the replay
  // guessing. The last slot stays free for END, so a full buffer can
  // still say how many steps it lost. And once one step is lost, so is
  // every later one, small enough to fit or not: a USED kept after its
  // ADD was dropped would name a chain the recording never handed out.
  // What is kept is then always the whole beginning.
  if (t->ended || t->cap == 0 || t->dropped > 0 || n > t->cap - 1 - t->n) {
    if (!t->ended)
      t->dropped++;
    return 0;
  }
  // One time for the whole group: the records of one step happened at once.
  now = t->clock ? t->clock() : 0;
  r = &t->rec[t->n];
  for (i = 0; i < n; i++) {
    r[i].seq = t->n + i;  // the replay checks these run without a gap
    set(&r[i], 0, 0, 0, 0, 0, 0, 0);
    r[i].t = now;
  }
  t->n += n;
  return r;
}

// Return the last n records reserve() handed out, unused. Only while
// t->lock has been held since that reserve(), so they are still the last
// ones: a snapshot of a packed queue reserves what it might need (the
// ring is the device's to write meanwhile) and gives back the rest.
static void give_back(struct vtrace *t, uint32_t n)
{
  t->n -= n;
}

void vtrace_begin(struct vtrace *t)
{
  struct vtr_rec *r;

  vos_lock(&t->lock);
  // A new recording: queue ids start again at 0, since the VTR_QUEUE
  // records that announced the old ones are gone with the old records.
  t->n = t->rd = t->dropped = 0;
  t->nqueues = 0;
  t->ended = 0;
  r = reserve(t, 1);
  // The format's version first, so an old reader refuses a new format
  // instead of misreading it; the clock rate turns t into seconds.
  if (r)
    set(r, VTR_BEGIN, 0, VTR_VERSION, 0, 0, t->clock_hz, t->cap);
  vos_unlock(&t->lock);
}

void vtrace_end(struct vtrace *t)
{
  struct vtr_rec *r;

  vos_lock(&t->lock);
  if (!t->ended && t->n < t->cap) {
    // The slot reserve() always kept free. Written by hand, not through
    // reserve(), which would refuse it for that very reason.
    r = &t->rec[t->n];
    r->seq = t->n;
    set(r, VTR_END, 0, 0, 0, 0, t->dropped, t->n + 1);
    r->t = t->clock ? t->clock() : 0;
    t->n++;
  }
  t->ended = 1;
  vos_unlock(&t->lock);
}

uint32_t vtrace_read(struct vtrace *t, struct vtr_rec *out, uint32_t max)
{
  uint32_t i, n;

  // Reading moves `rd` on and leaves the records where they are: a second
  // reader gets what the first did not, never the same record twice.
  // Copied under the lock: a hook on another CPU may be appending, and
  // a record must not be read while it is half written.
  vos_lock(&t->lock);
  n = t->n - t->rd;
  if (n > max)
    n = max;
  for (i = 0; i < n; i++)
    out[i] = t->rec[t->rd + i];
  t->rd += n;
  vos_unlock(&t->lock);
  return n;
}

// ---- payloads in bytes 8..31 ----

// Where the payload of TEXT, FREE and AVRING starts: over b..t, which
// those types do not use (the record keeps seq, type and qid, and for
// FREE and AVRING the count or first slot in a).
static uint8_t *payload(struct vtr_rec *r)
{
  return (uint8_t *)r + 8;
}

// A string's length, capped at what TEXT_RECORDS_MAX records hold; a
// NULL string is empty (virtq_mark_broken may be given one).
static uint32_t text_len(const char *s)
{
  uint32_t n = 0;

  while (s && s[n] && n < TEXT_RECORDS_MAX * PAYLOAD_BYTES)
    n++;
  return n;
}

// Records a text takes: at least one, so a reader always finds the TEXT
// it was promised, even for an empty one.
static uint32_t text_records(const char *s)
{
  uint32_t len = text_len(s);

  return len == 0 ? 1 : (len + PAYLOAD_BYTES - 1) / PAYLOAD_BYTES;
}

// Fill r[0 .. text_records(s)-1] with s, NUL-padded; returns the count.
// Byte by byte: the portable core has no memcpy.
static uint32_t put_text(struct vtr_rec *r, int qid, const char *s)
{
  uint32_t len = text_len(s), nrec = text_records(s), i, j, k;

  for (i = 0; i < nrec; i++) {
    set(&r[i], VTR_TEXT, qid, 0, 0, 0, 0, 0);
    for (j = 0; j < PAYLOAD_BYTES; j++) {
      k = i * PAYLOAD_BYTES + j;
      payload(&r[i])[j] = k < len ? (uint8_t)s[k] : 0;
    }
  }
  return nrec;
}

// Up to twelve 16-bit entries into bytes 8..31, little-endian whatever
// the CPU (the record's other fields are written as the CPU lays them
// out, which is little-endian on every port we have).
static void put_u16s(struct vtr_rec *r, const uint16_t *v, uint32_t n)
{
  uint8_t *p = payload(r);
  uint32_t i;

  for (i = 0; i < PAYLOAD_U16; i++) {
    p[2 * i] = i < n ? (uint8_t)v[i] : 0;
    p[2 * i + 1] = i < n ? (uint8_t)(v[i] >> 8) : 0;
  }
}

// ---- reading the queue (our own memory, or what the device wrote) ----

// A ring word the device may be writing right now: read once, through
// volatile, like virtq.c's load16. No barrier: a record is a picture of
// the moment, not something the driver acts on.
static uint16_t peek16(uint16_t *p)
{
  return *(volatile uint16_t *)p;
}

static uint32_t peek32(uint32_t *p)
{
  return *(volatile uint32_t *)p;
}

// The entries of the chain's indirect table (0 without one). The ring
// descriptor's len says how big the table is (2.7.5.3.1): we wrote it.
static uint16_t table_entries(struct virtq *vq, uint16_t head)
{
  if (vq->itab_of[head] == VIRTQ_NO_TABLE)
    return 0;
  return (uint16_t)(vq->desc[head].len / sizeof(struct virtq_desc));
}

// Records of one chain: the ADD or HELD, its ring descriptors, its table.
static uint32_t chain_records(struct virtq *vq, uint16_t head)
{
  return 1u + vq->chain_len[head] + table_entries(vq, head);
}

// A descriptor as the device will read it: the one in memory, not our
// bookkeeping, so the picture is the device's.
static void put_desc(struct vtr_rec *r, int type, int qid, uint16_t index,
                     const struct virtq_desc *d)
{
  set(r, type, qid, index, d->flags, d->next, d->len, d->addr);
}

// A chain as ADD or HELD, then its ring descriptors and its indirect
// table's entries. Returns the records written: chain_records().
static uint32_t put_chain(struct virtq *vq, struct vtr_rec *r, int type, uint16_t head,
                          uint16_t pos)
{
  int qid = vq->trace_id;
  uint16_t d = head, i, n = vq->chain_len[head], ntab = table_entries(vq, head);
  struct virtq_desc *tab;
  uint32_t k = 0;

  // The token goes along: it is how the driver will recognise the chain
  // when it comes back (gdb's `vq` prints the same).
  set(&r[k++], type, qid, head, pos, n, vq->writable[head], (uint64_t)(uintptr_t)vq->token[head]);
  // Walk link[], our private copy of the chain order, not desc.next: the
  // chain's last descriptor has no NEXT, and link[] says which ones are
  // the chain's without trusting memory the device can reach.
  for (i = 0; i < n; i++) {
    put_desc(&r[k++], VTR_DESC, qid, d, &vq->desc[d]);
    d = vq->link[d];
  }
  // An indirect chain's buffers are in its table (2.7.5.3), chained by
  // position inside the table: `next` there is a table index, which is
  // why these records are IDESC, numbered by position, not by descriptor.
  if (ntab) {
    tab = &vq->itab[(size_t)vq->itab_of[head] * vq->itab_entries];
    for (i = 0; i < ntab; i++)
      put_desc(&r[k++], VTR_IDESC, qid, i, &tab[i]);
  }
  return k;
}

// ---- the snapshot ----

// How many records put_snapshot writes, so that it gets all of them at
// once or none: a replay cannot start from half a snapshot.
static uint32_t snapshot_records(struct virtq *vq, const char *name)
{
  // QUEUE and its name, STATE, RINGS, the counters ...
  uint32_t n = 1 + text_records(name) + 2 + VTR_C_N;
  uint16_t i;

  // ... the free list and the available ring, twelve entries a record ...
  n += (vq->nfree + PAYLOAD_U16 - 1) / PAYLOAD_U16;
  n += (vq->size + PAYLOAD_U16 - 1) / PAYLOAD_U16;
  // ... and each chain handed out, the same way put_snapshot finds them.
  for (i = 0; i < vq->size; i++)
    if (vq->chain_len[i])
      n += chain_records(vq, i);
  return n;
}

// The queue's own counters, at the start (phase 0) and the stop (1): the
// page compares them with what it counted in between, and `lsdev -v`
// shows the same numbers from outside.
static uint32_t put_counts(struct virtq *vq, struct vtr_rec *r, int phase)
{
  const uint32_t v[VTR_C_N] = {
    vq->stats.added, vq->stats.indirect, vq->stats.kicks, vq->stats.notifies,
    vq->stats.interrupts, vq->stats.completions, vq->stats.rechecks, vq->stats.errors,
  };
  uint32_t i;

  for (i = 0; i < VTR_C_N; i++)
    set(&r[i], VTR_COUNT, vq->trace_id, (uint16_t)i, (uint16_t)phase, 0, v[i], 0);
  return VTR_C_N;
}

// How long the free list is: free descriptors on a split ring; on a
// packed one the free buffer ids, one for every buffer not out (nfree
// counts ring entries there, which is another thing).
static uint16_t free_len(struct virtq *vq)
{
  if (vq->packed)
    return (uint16_t)(vq->size - vq->outstanding);
  return vq->nfree;
}

// The free list in its order, twelve to a record: the next chain takes
// descriptors (packed: its id) from its front, and the replay checks every
// ADD against it.
static uint32_t put_free(struct virtq *vq, struct vtr_rec *r)
{
  uint16_t buf[PAYLOAD_U16], d = vq->free_head, i, j, n = free_len(vq);
  uint32_t k = 0;

  // link[] chains the free descriptors exactly nfree long (free_chain
  // and add_direct keep it so; packed: release and vpq_add keep the ids
  // so), so this walk cannot run off.
  for (i = 0; i < n; i += PAYLOAD_U16) {
    for (j = 0; j < PAYLOAD_U16 && i + j < n; j++) {
      buf[j] = d;
      d = vq->link[d];
    }
    set(&r[k], VTR_FREE, vq->trace_id, j, 0, 0, 0, 0);
    put_u16s(&r[k++], buf, j);
  }
  return k;
}

// The available ring's entries, twelve to a record, old ones included:
// they are what the device would find there, and the page shows them.
static uint32_t put_avail_ring(struct virtq *vq, struct vtr_rec *r)
{
  uint16_t buf[PAYLOAD_U16], i, j;
  uint32_t k = 0;

  for (i = 0; i < vq->size; i += PAYLOAD_U16) {
    for (j = 0; j < PAYLOAD_U16 && i + j < vq->size; j++)
      buf[j] = peek16(&vq->avail->ring[i + j]);
    set(&r[k], VTR_AVRING, vq->trace_id, i, 0, 0, 0, 0);
    put_u16s(&r[k++], buf, j);
  }
  return k;
}

// The queue itself, first in either layout's snapshot: its size, its
// number on the device, which layout and optional features shape its
// steps, and the device's address (to tell which QEMU device it is); then
// its name. Returns the records written: 1 + text_records(name).
static uint32_t put_queue(struct virtq *vq, struct vtr_rec *r, const char *name)
{
  set(r, VTR_QUEUE, vq->trace_id, vq->size, vq->index,
      (vq->event_idx ? VTR_Q_EVENT_IDX : 0) | (vq->itab_count ? VTR_Q_INDIRECT : 0) |
      (vq->broken ? VTR_Q_BROKEN : 0) | (vq->packed ? VTR_Q_PACKED : 0),
      (uint32_t)vq->itab_count << 16 | vq->itab_entries, vq->dev ? (uint64_t)vq->dev->base : 0);
  return 1 + put_text(r + 1, vq->trace_id, name);
}

// Everything the replay needs to start from: sizes and features, the
// driver's private indices, what ring memory says now, the free list, the
// available ring, and every chain the device holds.
static void put_snapshot(struct virtq *vq, struct vtr_rec *r, const char *name)
{
  int qid = vq->trace_id;
  uint16_t i;
  uint32_t k = 0;

  k += put_queue(vq, r, name);
  // What only the driver knows (no device can see these) ...
  set(&r[k++], VTR_STATE, qid, vq->avail_idx, vq->avail_pub, vq->last_used,
      (uint32_t)vq->nfree << 16 | vq->outstanding, (uint64_t)vq->intr_off << 16 | vq->free_head);
  // ... and what the shared memory says, both sides' words.
  set(&r[k++], VTR_RINGS, qid, peek16(&vq->avail->flags), peek16(&vq->avail->idx),
      peek16(vq->used_event), (uint32_t)peek16(&vq->used->idx) << 16 | peek16(&vq->used->flags),
      peek16(vq->avail_event));
  k += put_counts(vq, &r[k], 0);
  k += put_free(vq, &r[k]);
  k += put_avail_ring(vq, &r[k]);
  // Chains handed out before the start: the device may return them during
  // the recording, and the replay must know what they held. Their ring
  // position is not kept anywhere (0xffff: unknown).
  for (i = 0; i < vq->size; i++)
    if (vq->chain_len[i])
      k += put_chain(vq, &r[k], VTR_HELD, i, 0xffff);
}

// ---- the packed ring (2.8): its entries and its snapshot ----
//
// One ring that both sides write, so everything read of it is read
// through volatile, and nothing read of it is trusted to size a group of
// records unless it was read once and that one value is used throughout.

// A ring entry (or an indirect table's entry) as a record, a=slot b=flags
// c=id d=len x=addr, read field by field through volatile: the device may
// be writing it.
static void put_pentry(struct vtr_rec *r, int type, int qid, uint16_t slot,
                       struct pvirtq_desc *e)
{
  volatile struct pvirtq_desc *v = e;

  set(r, type, qid, slot, v->flags, v->id, v->len, v->addr);
}

// The ppos of the entry n places before slot `pos` of the lap `wrap`:
// where a buffer that ends just before pos began. Going back past slot 0
// lands in the lap before, which had the other wrap counter.
static uint16_t ppos_back(struct virtq *vq, uint16_t pos, uint8_t wrap, uint16_t n)
{
  if (n > pos)
    return vtr_ppos((uint16_t)(pos + vq->size - n), (uint8_t)(wrap ^ 1));
  return vtr_ppos((uint16_t)(pos - n), wrap);
}

// virtq_packed.c's lap positions (0 .. 2*size-1: the first lap has wrap
// counter 1, the next 0) as ppos values.
static uint16_t lap_ppos(struct virtq *vq, uint16_t lap)
{
  if (lap < vq->size)
    return vtr_ppos(lap, 1);
  return vtr_ppos((uint16_t)(lap - vq->size), 0);
}

// The next slot after `slot`, round the end of the ring.
static uint16_t next_slot(struct virtq *vq, uint16_t slot)
{
  return (uint16_t)(slot + 1 == vq->size ? 0 : slot + 1);
}

// Buffer id's indirect table (2.8.7): where it is, and from the entry
// that points at it how many of its entries were filled (len / 16),
// capped at the table's size so that an entry a device scribbled on
// cannot make us read past it.
static struct pvirtq_desc *ptable(struct virtq *vq, uint16_t id)
{
  return (struct pvirtq_desc *)&vq->itab[(size_t)vq->itab_of[id] * vq->itab_entries];
}

static uint16_t ptable_len(struct virtq *vq, struct pvirtq_desc *e)
{
  uint32_t n = peek32(&e->len) / sizeof(struct pvirtq_desc);

  return (uint16_t)(n < vq->itab_entries ? n : vq->itab_entries);
}

// The entry that points at a held buffer's table: among the entries that
// hold buffers (from next_used on), the one with the buffer's id that
// still says INDIRECT. The driver keeps no position per buffer, and a
// used entry the device wrote over it would not say INDIRECT (then the
// table is left out). NULL without one.
static struct pvirtq_desc *held_table_entry(struct virtq *vq, uint16_t id)
{
  uint32_t n = (uint32_t)vq->size - vq->nfree, k;
  uint16_t slot = vq->next_used;
  struct pvirtq_desc *e;

  if (vq->itab_of[id] == VIRTQ_NO_TABLE)
    return 0;
  for (k = 0; k < n; k++) {
    e = &vq->ring[slot];
    if (peek16(&e->id) == id && (peek16(&e->flags) & VIRTQ_DESC_F_INDIRECT))
      return e;
    slot = next_slot(vq, slot);
  }
  return 0;
}

// The most records a packed snapshot can take: the table of a held buffer
// is counted whole, since the entry that says how much of it is used may
// change before put_psnapshot reads it (give_back returns the rest).
static uint32_t psnapshot_records(struct virtq *vq, const char *name)
{
  // QUEUE and its name, PSTATE, PEVENTS, the counters, the free ids ...
  uint32_t n = 1 + text_records(name) + 2 + VTR_C_N;
  uint16_t id;

  n += (free_len(vq) + PAYLOAD_U16 - 1) / PAYLOAD_U16;
  // ... every ring entry, each a record of its own (16 bytes of memory,
  // all of them worth seeing) ...
  n += vq->size;
  // ... and each buffer out, with its table's entries if it has one.
  for (id = 0; id < vq->size; id++)
    if (vq->chain_len[id])
      n += 1u + (vq->itab_of[id] != VIRTQ_NO_TABLE ? vq->itab_entries : 0);
  return n;
}

// A buffer out before the start: HELD (no position: the driver keeps
// none; the replay finds its entries among the PRINGs by id), then its
// table, if its entry can still say how long it is. Returns the records.
static uint32_t put_pheld(struct virtq *vq, struct vtr_rec *r, uint16_t id)
{
  struct pvirtq_desc *e = held_table_entry(vq, id);
  uint16_t ntab = e ? ptable_len(vq, e) : 0, i;
  uint32_t k = 0;

  set(&r[k++], VTR_HELD, vq->trace_id, id, 0xffff, vq->chain_len[id], vq->writable[id],
      (uint64_t)(uintptr_t)vq->token[id]);
  for (i = 0; i < ntab; i++)
    put_pentry(&r[k++], VTR_IDESC, vq->trace_id, i, &ptable(vq, id)[i]);
  return k;
}

// A packed queue's snapshot: the queue, the driver's positions with their
// wrap counters and what its next kick will store, both event
// suppression structures, the counters, the free ids, the whole ring as
// it is in memory, and the buffers out. Returns the records written.
static uint32_t put_psnapshot(struct virtq *vq, struct vtr_rec *r, const char *name)
{
  int qid = vq->trace_id;
  uint16_t i;
  uint32_t k = 0;

  k += put_queue(vq, r, name);
  // What only the driver knows: where it fills next, what the device may
  // see (up to pub_avail), where it reads next, each with its lap; and
  // the flags word the next kick stores at pub_avail (2.8.21).
  set(&r[k++], VTR_PSTATE, qid, vtr_ppos(vq->next_avail, vq->avail_wrap),
      vtr_ppos(vq->pub_avail, vq->pub_wrap), vtr_ppos(vq->next_used, vq->used_wrap),
      (uint32_t)vq->nfree << 16 | vq->outstanding,
      (uint64_t)vq->pub_flags << 48 | (uint64_t)vq->unpub << 32 |
      (uint64_t)vq->intr_off << 16 | vq->free_head);
  // Each structure as the one 32-bit word its writer stores (virtq_packed.c).
  set(&r[k++], VTR_PEVENTS, qid, 0, 0, 0, peek32((uint32_t *)(void *)vq->driver_event),
      peek32((uint32_t *)(void *)vq->device_event));
  k += put_counts(vq, &r[k], 0);
  k += put_free(vq, &r[k]);
  for (i = 0; i < vq->size; i++)
    put_pentry(&r[k++], VTR_PRING, qid, i, &vq->ring[i]);
  for (i = 0; i < vq->size; i++)
    if (vq->chain_len[i])
      k += put_pheld(vq, &r[k], i);
  return k;
}

int virtq_trace_start(struct virtq *vq, struct vtrace *t, const char *name)
{
  struct vtr_rec *r;
  uint32_t n;
  int qid;

  // Started twice into the same recording: one snapshot is enough, and a
  // second id for the same queue would split its steps in two.
  if (vq->trace)
    return vq->trace == t ? vq->trace_id : -1;  // already recording
  if (vq->mem == 0)
    return -1;  // not set up, or destroyed
  vos_lock(&t->lock);
  // Ids are a byte in every record; the page also wants a handful of
  // queues, not hundreds.
  if (t->nqueues >= VTR_MAX_QUEUES) {
    vos_unlock(&t->lock);
    return -1;
  }
  // Room for the whole snapshot or nothing: a queue whose snapshot was
  // dropped is not recorded at all, rather than recorded wrong.
  // Each layout its own snapshot (the split ring's three areas, or the
  // packed ring and its two structures).
  n = vq->packed ? psnapshot_records(vq, name) : snapshot_records(vq, name);
  r = reserve(t, n);
  if (r == 0) {
    vos_unlock(&t->lock);
    return -1;
  }
  qid = t->nqueues++;
  vq->trace_id = (uint8_t)qid;
  if (vq->packed)
    give_back(t, n - put_psnapshot(vq, r, name));
  else
    put_snapshot(vq, r, name);
  vos_unlock(&t->lock);
  // Last: from here on the hooks fire, and the snapshot they build on is
  // already in the buffer (the caller holds the driver's lock, so no step
  // can slip in between).
  vq->trace = t;
  return qid;
}

void virtq_trace_stop(struct virtq *vq)
{
  struct vtrace *t = vq->trace;
  struct vtr_rec *r;

  if (t == 0)
    return;
  // The counters once more: their difference from the snapshot's is what
  // the driver itself counted, and the page holds its own count of the
  // steps against it (a hook that missed a step would show there).
  vos_lock(&t->lock);
  r = reserve(t, VTR_C_N);
  if (r)
    put_counts(vq, r, 1);
  vos_unlock(&t->lock);
  // The caller holds the driver's lock, so no hook is running on this
  // queue now, and none will look at t through vq again.
  vq->trace = 0;
}

// ---- the driver's steps ----

// Room for a step of n records, with the buffer's lock held until done():
// the caller fills the records in between, so no other CPU's step lands
// in the middle of them. NULL (dropped) when there is no room.
static struct vtr_rec *step(struct virtq *vq, uint32_t n)
{
  vos_lock(&vq->trace->lock);
  return reserve(vq->trace, n);
}

static void done(struct virtq *vq)
{
  vos_unlock(&vq->trace->lock);
}

// ---- the packed ring's steps (2.8) ----
// Each public hook below hands a packed queue to one of these in its
// first line, as virtq.c hands it to virtq_packed.c.

// A buffer made available, not yet published: ADD, one DESC per ring
// entry (they lie one after another, ending just before next_avail), the
// table's entries, and a WRAP when the entries passed the end of the ring.
static void padd(struct virtq *vq, uint16_t id)
{
  uint16_t n = vq->chain_len[id], i, ntab = 0;
  uint16_t first = ppos_back(vq, vq->next_avail, vq->avail_wrap, n), slot = first & 0x7fff;
  uint8_t wrapped = (uint8_t)((first >> 15) != vq->avail_wrap);
  int qid = vq->trace_id;
  struct vtr_rec *r;
  uint32_t k = 0;

  // The table's length read once, from the entry we just wrote (2.8.7),
  // and that one value sizes the step and bounds the records.
  if (vq->itab_of[id] != VIRTQ_NO_TABLE)
    ntab = ptable_len(vq, &vq->ring[slot]);
  r = step(vq, 1u + n + ntab + wrapped);
  if (r) {
    set(&r[k++], VTR_ADD, qid, id, first, n, vq->writable[id], (uint64_t)(uintptr_t)vq->token[id]);
    for (i = 0; i < n; i++) {
      put_pentry(&r[k], VTR_DESC, qid, slot, &vq->ring[slot]);
      // The first entry filled since the last kick still shows last
      // lap's flags in memory; the device sees pub_flags once vpq_kick
      // stores them, and that is what the record says.
      if (i == 0 && first == vtr_ppos(vq->pub_avail, vq->pub_wrap))
        r[k].b = vq->pub_flags;
      k++;
      slot = next_slot(vq, slot);
    }
    for (i = 0; i < ntab; i++)
      put_pentry(&r[k++], VTR_IDESC, qid, i, &ptable(vq, id)[i]);
    // Passing the end flipped the Driver Ring Wrap Counter (2.8.1): the
    // entries after it carry the new lap's AVAIL/USED bits.
    if (wrapped)
      set(&r[k++], VTR_WRAP, qid, VTR_WRAP_DRIVER, vq->avail_wrap, vq->next_avail, 0, 0);
  }
  done(vq);
}

// Published from lap position old to new (vpq_kick's own numbers), and
// whether the device's structure asked for it: RING_EVENT_FLAGS_DESC with
// EVENT_IDX names an entry (the event index decides), ENABLE and DISABLE
// are flags alone. Read once more, as the split ring's KICK does.
static void pkick(struct virtq *vq, uint16_t old, uint16_t new, int notified)
{
  uint32_t ev = peek32((uint32_t *)(void *)vq->device_event);
  int desc = ((ev >> 16) & 3) == RING_EVENT_FLAGS_DESC && vq->event_idx;
  struct vtr_rec *r = step(vq, 1);

  if (r)
    set(r, VTR_KICK, vq->trace_id, lap_ppos(vq, old), lap_ppos(vq, new), (uint16_t)(notified != 0),
        desc ? VTR_WHY_EVENT_IDX : VTR_WHY_FLAGS, ev);
  done(vq);
}

// An interrupt: the one entry the driver looks at next, and its flags
// (the packed ring has no index saying how far the device got, 2.8.2).
static void pintr(struct virtq *vq)
{
  struct vtr_rec *r = step(vq, 1);

  if (r)
    set(r, VTR_INTR, vq->trace_id, vtr_ppos(vq->next_used, vq->used_wrap),
        peek16(&vq->ring[vq->next_used].flags), 0, 0, 0);
  done(vq);
}

// A used entry checked and taken, before vpq_get skips the buffer's
// entries (chain_len[id] of them, 2.8.6): USED, and WRAP when skipping
// them passes the end of the ring.
static void pused(struct virtq *vq, uint32_t id, uint32_t len)
{
  uint16_t n = vq->chain_len[id];
  uint32_t past = (uint32_t)vq->next_used + n;
  uint8_t wrapped = (uint8_t)(past >= vq->size);
  int qid = vq->trace_id;
  struct vtr_rec *r = step(vq, 1u + wrapped);

  if (r) {
    set(&r[0], VTR_USED, qid, vtr_ppos(vq->next_used, vq->used_wrap),
        peek16(&vq->ring[vq->next_used].flags), n, id, len);
    if (wrapped)
      set(&r[1], VTR_WRAP, qid, VTR_WRAP_DRIVER_USED, (uint8_t)(vq->used_wrap ^ 1),
          (uint16_t)(past - vq->size), 0, 0);
  }
  done(vq);
}

// A used entry refused at next_used: its flags too, since an impossible
// wrap counter in them is one of the reasons (virtq_packed.c used_ready).
static void pbad(struct virtq *vq, const char *why, uint32_t id, uint32_t len)
{
  struct vtr_rec *r = step(vq, 1 + text_records(why));

  if (r) {
    set(r, VTR_BAD, vq->trace_id, vtr_ppos(vq->next_used, vq->used_wrap),
        peek16(&vq->ring[vq->next_used].flags), 0, id, len);
    put_text(r + 1, vq->trace_id, why);
  }
  done(vq);
}

// The Driver Event Suppression structure just written, as one word: the
// DESC form naming next_used with EVENT_IDX (b = 1), ENABLE or DISABLE
// without (2.8.10).
static void pintr_switch(struct virtq *vq, int type)
{
  struct vtr_rec *r = step(vq, 1);

  if (r)
    set(r, type, vq->trace_id, 0, (uint16_t)(vq->event_idx != 0), 0, 0,
        peek32((uint32_t *)(void *)vq->driver_event));
  done(vq);
}

// ---- the driver's steps (both layouts) ----

void virtq_trace_add(struct virtq *vq, uint16_t head)
{
  if (vq->packed) { padd(vq, head); return; }
  struct vtr_rec *r = step(vq, chain_records(vq, head));

  // The chain is complete in memory now, its head in the available ring,
  // not yet published: the state the page shows as "written, not yet
  // visible". virtq_add has already advanced avail_idx past this chain's entry.
  if (r)
    put_chain(vq, r, VTR_ADD, head, (uint16_t)(vq->avail_idx - 1));
  done(vq);
}

void virtq_trace_kick(struct virtq *vq, uint16_t old_idx, uint16_t new_idx, int notified)
{
  if (vq->packed) { pkick(vq, old_idx, new_idx, notified); return; }
  struct vtr_rec *r = step(vq, 1);

  // What the decision rested on, read once more: the device may have
  // moved it since, so this is what it says now (nearly always the same).
  if (r)
    set(r, VTR_KICK, vq->trace_id, old_idx, new_idx, (uint16_t)(notified != 0),
        vq->event_idx ? VTR_WHY_EVENT_IDX : VTR_WHY_FLAGS,
        vq->event_idx ? peek16(vq->avail_event) : peek16(&vq->used->flags));
  done(vq);
}

void virtq_trace_intr(struct virtq *vq)
{
  if (vq->packed) { pintr(vq); return; }
  struct vtr_rec *r = step(vq, 1);

  // How far the device has got (used.idx) against how far we have read:
  // the gap is what this interrupt is about.
  if (r)
    set(r, VTR_INTR, vq->trace_id, peek16(&vq->used->idx), vq->last_used, 0, 0, 0);
  done(vq);
}

void virtq_trace_used(struct virtq *vq, uint32_t id, uint32_t len)
{
  if (vq->packed) { pused(vq, id, len); return; }
  struct vtr_rec *r = step(vq, 1);

  // Before free_chain: chain_len[id] still says how many descriptors go
  // back (virtq_get checked id before calling).
  if (r)
    set(r, VTR_USED, vq->trace_id, vq->last_used, 0, vq->chain_len[id], id, len);
  done(vq);
}

void virtq_trace_bad(struct virtq *vq, const char *why, uint32_t id, uint32_t len)
{
  if (vq->packed) { pbad(vq, why, id, len); return; }
  struct vtr_rec *r = step(vq, 1 + text_records(why));

  // The element as the device wrote it, and the check it failed.
  if (r) {
    set(r, VTR_BAD, vq->trace_id, vq->last_used, 0, 0, id, len);
    put_text(r + 1, vq->trace_id, why);
  }
  done(vq);
}

void virtq_trace_broken(struct virtq *vq, const char *why)
{
  struct vtr_rec *r = step(vq, 1 + text_records(why));

  // The queue gives up for good (a bad used element, a used.idx that ran
  // ahead, or the driver's own timeout): the last step most recordings of
  // a misbehaving device end with.
  if (r) {
    set(r, VTR_BROKEN, vq->trace_id, 0, 0, 0, 0, 0);
    put_text(r + 1, vq->trace_id, why);
  }
  done(vq);
}

void virtq_trace_intr_on(struct virtq *vq)
{
  if (vq->packed) { pintr_switch(vq, VTR_INTR_ON); return; }
  struct vtr_rec *r = step(vq, 1);

  // Whichever word virtq_enable_intr just wrote: used_event with
  // EVENT_IDX (b = 1), avail.flags without.
  if (r)
    set(r, VTR_INTR_ON, vq->trace_id, 0, (uint16_t)(vq->event_idx != 0),
        vq->event_idx ? peek16(vq->used_event) : peek16(&vq->avail->flags), 0, 0);
  done(vq);
}

void virtq_trace_intr_off(struct virtq *vq)
{
  if (vq->packed) { pintr_switch(vq, VTR_INTR_OFF); return; }
  struct vtr_rec *r = step(vq, 1);

  // Only without EVENT_IDX does turning interrupts off write anything
  // (VIRTQ_AVAIL_F_NO_INTERRUPT, 2.7.7), so only then is there a step.
  if (r)
    set(r, VTR_INTR_OFF, vq->trace_id, 0, 0, peek16(&vq->avail->flags), 0, 0);
  done(vq);
}

void virtq_trace_drain(struct virtq *vq, uint16_t head)
{
  struct vtr_rec *r = step(vq, 1);

  // After a reset the device will never return this chain; the driver
  // takes it back without a used element, and so does the replay.
  if (r)
    set(r, VTR_DRAIN, vq->trace_id, head, 0, 0, 0, 0);
  done(vq);
}

// ---- the device's steps ----

// One record of the device's side. The device model has no struct virtq,
// only the buffer and the id the driver's side got for the same queue.
static void dev_step(struct vtrace *t, int qid, int type, uint16_t a, uint16_t b,
                     uint16_t c, uint32_t d, uint64_t x)
{
  struct vtr_rec *r;

  // The same buffer and lock as the driver's steps: in the host tests both
  // sides write one buffer, and its order is the order things happened.
  vos_lock(&t->lock);
  r = reserve(t, 1);
  if (r)
    set(r, type, qid, a, b, c, d, x);
  vos_unlock(&t->lock);
}

// Where the device stands when its side starts recording: the next
// available entry it will read, the next used entry it will write, and how
// many chains it holds. The driver cannot know the first and the last.
void vtrace_dev_state(struct vtrace *t, int qid, uint16_t last_avail, uint16_t used_idx,
                      uint16_t held)
{
  dev_step(t, qid, VTR_DSTATE, last_avail, used_idx, held, 0, 0);
}

// A QueueNotify write reached the device (4.2.3.3). avail.idx as the
// device reads it then shows how much the notification announced.
void vtrace_dev_notify(struct vtrace *t, int qid, uint16_t avail_idx)
{
  dev_step(t, qid, VTR_DNOTIFY, avail_idx, 0, 0, 0, 0);
}

// The device read avail.ring[pos % size] and took the chain at head: the
// other end of the driver's ADD at the same position.
void vtrace_dev_pop(struct vtrace *t, int qid, uint16_t pos, uint16_t head)
{
  dev_step(t, qid, VTR_DPOP, pos, head, 0, 0, 0);
}

// The device wrote used.ring[pos % size] = {id, len} and then used.idx =
// pos + 1 (2.7.8.2): the other end of the driver's USED at that position.
void vtrace_dev_used(struct vtrace *t, int qid, uint16_t pos, uint32_t id, uint32_t len)
{
  dev_step(t, qid, VTR_DUSED, pos, 0, 0, id, len);
}

// The device wrote avail_event (2.7.10, EVENT_IDX): "notify me when you
// publish this entry". The driver's next KICK reads it.
void vtrace_dev_event(struct vtrace *t, int qid, uint16_t avail_event)
{
  dev_step(t, qid, VTR_DEVENT, avail_event, 0, 0, 0, 0);
}

// After writing used elements old_idx .. new_idx - 1 the device decided
// whether to interrupt, by used_event or by avail.flags (2.7.7), and this
// is what it read and what it did.
void vtrace_dev_irq(struct vtrace *t, int qid, uint16_t old_idx, uint16_t new_idx,
                    int sent, int why, uint16_t value)
{
  dev_step(t, qid, VTR_DIRQ, old_idx, new_idx, (uint16_t)(sent != 0), (uint32_t)why, value);
}

// ---- the device's steps on a packed ring (2.8) ----

// A QueueNotify reached the device: where it will read next, and the
// flags there then (the one word the device polls, 2.8.2), which show
// whether the notification announced anything.
void vtrace_dev_pnotify(struct vtrace *t, int qid, uint16_t at, uint16_t flags)
{
  dev_step(t, qid, VTR_DNOTIFY, at, flags, 0, 0, 0);
}

// The device took buffer id, whose nent entries start at `at`: the other
// end of the driver's ADD at the same position.
void vtrace_dev_ppop(struct vtrace *t, int qid, uint16_t at, uint16_t id, uint16_t nent)
{
  dev_step(t, qid, VTR_DPOP, at, id, nent, 0, 0);
}

// The device wrote a used entry {id, len} at `at`, its flags last (2.8.22
// from the other side), and will skip the nent entries the buffer took:
// the other end of the driver's USED at that position.
void vtrace_dev_pused(struct vtrace *t, int qid, uint16_t at, uint16_t flags, uint16_t nent,
                      uint32_t id, uint32_t len)
{
  dev_step(t, qid, VTR_DUSED, at, flags, nent, id, len);
}

// The device wrote its event suppression structure (with EVENT_IDX, the
// RING_EVENT_FLAGS_DESC form: "notify me when this entry is made
// available"). The driver's next KICK reads it.
void vtrace_dev_pevent(struct vtrace *t, int qid, uint32_t word)
{
  dev_step(t, qid, VTR_DEVENT, 0, 0, 0, 0, word);
}

// After used entries from old_pos to new_pos: what the driver's structure
// said and what the device did. Its flags decide alone unless they are
// RING_EVENT_FLAGS_DESC, where the entry it names does (2.8.10).
void vtrace_dev_pirq(struct vtrace *t, int qid, uint16_t old_pos, uint16_t new_pos, int sent,
                     uint32_t word)
{
  int desc = ((word >> 16) & 3) == RING_EVENT_FLAGS_DESC;

  dev_step(t, qid, VTR_DIRQ, old_pos, new_pos, (uint16_t)(sent != 0),
           desc ? VTR_WHY_EVENT_IDX : VTR_WHY_FLAGS, word);
}

// One of the device's positions passed the end of the ring and its wrap
// counter flipped (which: VTR_WRAP_DEVICE_AVAIL or VTR_WRAP_DEVICE); it
// now stands at `slot`.
void vtrace_dev_wrap(struct vtrace *t, int qid, int which, uint8_t wrap, uint16_t slot)
{
  dev_step(t, qid, VTR_WRAP, (uint16_t)which, wrap, slot, 0, 0);
}
