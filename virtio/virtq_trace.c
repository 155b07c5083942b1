// virtq_trace.c: writes the records virtq_trace.h describes: a snapshot of
// a queue when its recording starts, then one record (or one group of
// records) per step of the driver (virtq.c's hooks) or of the device model
// (devmodel/vdm.c's hooks), into a bounded array the port supplies.
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues) for what it reads:
// the descriptor table and indirect tables (2.7.5, 2.7.5.3), the available
// ring (2.7.6), the used ring (2.7.8), used_event and avail_event (2.7.7,
// 2.7.10). It only reads the rings, never writes them, so recording cannot
// change what the device sees; the one thing it adds is time under its own
// lock.
//
// See it run: `make trace CMD='cat README.md'`, or the trace_* host tests
// (`make -C tests/host check`).
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
  // still say how many steps it lost.
  if (t->ended || t->cap == 0 || n > t->cap - 1 - t->n) {
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

// The free list in its order, twelve to a record: the next chain takes
// descriptors from its front, and the replay checks every ADD against it.
static uint32_t put_free(struct virtq *vq, struct vtr_rec *r)
{
  uint16_t buf[PAYLOAD_U16], d = vq->free_head, i, j;
  uint32_t k = 0;

  // link[] chains the free descriptors exactly nfree long (free_chain
  // and add_direct keep it so), so this walk cannot run off.
  for (i = 0; i < vq->nfree; i += PAYLOAD_U16) {
    for (j = 0; j < PAYLOAD_U16 && i + j < vq->nfree; j++) {
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

// Everything the replay needs to start from: sizes and features, the
// driver's private indices, what ring memory says now, the free list, the
// available ring, and every chain the device holds.
static void put_snapshot(struct virtq *vq, struct vtr_rec *r, const char *name)
{
  int qid = vq->trace_id;
  uint16_t i;
  uint32_t k = 0;

  // The queue itself: its size, its number on the device, which optional
  // features shape its steps, and the device's address (to tell which
  // QEMU device it is).
  set(&r[k++], VTR_QUEUE, qid, vq->size, vq->index,
      (vq->event_idx ? VTR_Q_EVENT_IDX : 0) | (vq->itab_count ? VTR_Q_INDIRECT : 0) |
      (vq->broken ? VTR_Q_BROKEN : 0),
      (uint32_t)vq->itab_count << 16 | vq->itab_entries, vq->dev ? (uint64_t)vq->dev->base : 0);
  k += put_text(&r[k], qid, name);
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

int virtq_trace_start(struct virtq *vq, struct vtrace *t, const char *name)
{
  struct vtr_rec *r;
  int qid;

  // Started twice into the same recording: one snapshot is enough, and a
  // second id for the same queue would split its steps in two.
  if (vq->trace)
    return vq->trace == t ? vq->trace_id : -1;  // already recording
  if (vq->mem == 0)
    return -1;  // not set up, or destroyed
  // The records and their replay (tools/trace) describe the split ring's
  // three areas; a packed queue (virtq_packed.c) has none of them and is
  // not recorded, rather than recorded wrong.
  if (vq->packed)
    return -1;
  vos_lock(&t->lock);
  // Ids are a byte in every record; the page also wants a handful of
  // queues, not hundreds.
  if (t->nqueues >= VTR_MAX_QUEUES) {
    vos_unlock(&t->lock);
    return -1;
  }
  // Room for the whole snapshot or nothing: a queue whose snapshot was
  // dropped is not recorded at all, rather than recorded wrong.
  r = reserve(t, snapshot_records(vq, name));
  if (r == 0) {
    vos_unlock(&t->lock);
    return -1;
  }
  qid = t->nqueues++;
  vq->trace_id = (uint8_t)qid;
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

void virtq_trace_add(struct virtq *vq, uint16_t head)
{
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
  struct vtr_rec *r = step(vq, 1);

  // How far the device has got (used.idx) against how far we have read:
  // the gap is what this interrupt is about.
  if (r)
    set(r, VTR_INTR, vq->trace_id, peek16(&vq->used->idx), vq->last_used, 0, 0, 0);
  done(vq);
}

void virtq_trace_used(struct virtq *vq, uint32_t id, uint32_t len)
{
  struct vtr_rec *r = step(vq, 1);

  // Before free_chain: chain_len[id] still says how many descriptors go
  // back (virtq_get checked id before calling).
  if (r)
    set(r, VTR_USED, vq->trace_id, vq->last_used, 0, vq->chain_len[id], id, len);
  done(vq);
}

void virtq_trace_bad(struct virtq *vq, const char *why, uint32_t id, uint32_t len)
{
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
