// virtq_trace.h: a recording of what happens on a virtqueue, one fixed-size
// record per step, so that a person can later watch the rings change step
// by step (`make trace` renders it as a page; tools/trace/ replays it).
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues): the records name the
// spec's objects: descriptors (2.7.5) and indirect tables (2.7.5.3), the
// available ring and avail.idx (2.7.6, 2.7.13), used elements (2.7.8), and
// the two kinds of notification suppression (2.7.7 used_event and
// VIRTQ_AVAIL_F_NO_INTERRUPT, 2.7.10 avail_event and VIRTQ_USED_F_NO_NOTIFY).
// And section 2.8 (Packed Virtqueues) for a packed queue: the descriptor
// ring's entries with their AVAIL/USED bits (2.8.1, 2.8.13), buffer ids
// (2.8.6), indirect tables (2.8.7), the wrap counters, and the two event
// suppression structures (2.8.10, 2.8.14).
//
// See it run: `make trace CMD='cat README.md'` (the kernel records the
// driver's side through /dev/vtrace; PACKED=1 for the packed ring);
// `make -C tests/host check` (test trace_*: the device model records the
// device's side into the same buffer, so one page shows both halves of
// every request, on both layouts).
//
// Two parties write records:
//   the driver (virtio/virtq.c, virtio/virtq_packed.c): each hook there is
//     one line, `if (vq->trace) virtq_trace_...(vq, ...)`, so a queue
//     nobody traces pays one predictable branch per hook and nothing else;
//   the device model (devmodel/vdm.c), on the Cortex-M3 and in the host
//     tests, which knows descriptor indices on the device's side: the
//     vtrace_dev_* functions, behind the same kind of one-line hook.
// QEMU's own device keeps no such record; tools/trace/ merges QEMU's trace
// events instead.
//
// The buffer is an array of records handed over by the port (its size is
// the port's choice: the RISC-V kernel takes 4096 records, 128 KB). When it
// is full, new steps are dropped whole and counted (`dropped`, reported in
// the END record); one slot is always kept for END. Dropping the newest
// rather than the oldest keeps the start of the trace, which the replay
// needs: every step is applied to the state the snapshot at the start
// described.
//
// Locking: the buffer has its own lock, the innermost of all: hooks run
// with a driver's lock held, or in an interrupt handler. Starting and
// stopping a queue's trace must hold that queue's driver lock (so the
// snapshot is not torn by a request being added meanwhile).
#ifndef VIRTQ_TRACE_H
#define VIRTQ_TRACE_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"

struct virtq;

// The format's version, in the BEGIN record; tools/trace/ring.py checks it.
// Version 2 added the packed ring (VTR_Q_PACKED and the types after
// VTR_DIRQ); a version 1 recording is a version 2 one without them.
#define VTR_VERSION 2

// One record: 32 bytes, little-endian, written as it is in memory (every
// target is little-endian). The fields a, b, c, d, x mean what the table
// below says for each type; t is the port's clock (0 without one).
// Records of type VTR_TEXT, VTR_FREE and VTR_AVRING use bytes 8..31 as
// data instead (text, or twelve 16-bit entries).
struct vtr_rec {
  uint32_t seq;    // the record's number since vtrace_begin
  uint8_t  type;   // VTR_*
  uint8_t  qid;    // the traced queue (announced by a VTR_QUEUE record)
  uint16_t a;
  uint16_t b;
  uint16_t c;
  uint32_t d;
  uint64_t x;
  uint64_t t;
};

// Record types. "pos" is a free-running ring position (avail.idx or used.idx
// counting, mod 2^16); the slot it lands in is pos % queue size.
//
// A packed queue (VTR_Q_PACKED in its QUEUE record) has no such indices.
// Its positions ("ppos") are an entry's slot with the wrap counter of its
// lap in bit 15, the way 2.8.14 packs desc_event_off and desc_event_wrap
// (vtr_ppos below). Its snapshot is QUEUE, PSTATE, PEVENTS, the counters,
// FREE (the free buffer ids), one PRING per ring entry, and HELD for each
// buffer out (no DESC records: its entries are among the PRINGs). Its steps
// are the same types as the split ring's where they mean the same, with
// the fields each "packed:" note gives, and WRAP.
enum vtr_type {
  // -- the frame --
  VTR_BEGIN = 1,     // a=VTR_VERSION d=clock ticks per second (0: no clock) x=capacity
  VTR_END,           // d=steps dropped x=records written (this one included)
  VTR_TEXT,          // bytes 8..31: text for the record before it (NUL-padded)

  // -- a snapshot: the state a queue is in when tracing starts (not steps) --
  VTR_QUEUE,         // a=size b=queue number c=VTR_Q_* flags
                     // d=indirect tables<<16 | entries per table x=device base; TEXT: name
  VTR_STATE,         // driver's private state: a=avail_idx b=avail_pub c=last_used
                     // d=outstanding | nfree<<16  x=free_head | intr_off<<16
  VTR_RINGS,         // ring memory: a=avail.flags b=avail.idx c=used_event
                     // d=used.flags | used.idx<<16  x=avail_event
  VTR_COUNT,         // a=VTR_C_* b=0 at start, 1 at stop d=the counter's value
  VTR_FREE,          // a=entries in this record (<= 12); bytes 8..31: the free list, in order
                     // (packed: the free buffer ids, the next vpq_add's first)
  VTR_AVRING,        // a=first slot; bytes 8..31: avail.ring[a .. a+11] (up to the size)
  VTR_HELD,          // a chain the device held already: fields as VTR_ADD (b = 0xffff)
                     // (packed: a=id c=ring entries; IDESC records only)

  // -- the driver's steps (virtq.c; packed: virtq_packed.c) --
  VTR_ADD,           // a=head b=pos in the avail ring c=ring descriptors
                     // d=writable bytes x=token; then its DESC and IDESC records
                     // packed: a=buffer id b=ppos of its first entry c=ring entries;
                     // then WRAP if they pass the ring's end
  VTR_DESC,          // part of ADD/HELD: a=descriptor b=flags c=next d=len x=addr
                     // packed: a ring entry a=slot b=flags c=id d=len x=addr, b as
                     // the device sees it once published (the first entry filled
                     // since a kick holds its flags back until then, 2.8.21)
  VTR_IDESC,         // part of ADD/HELD: an indirect table's entry a=position, rest as DESC
  VTR_KICK,          // avail.idx published: a=old b=new c=1 notified / 0 suppressed
                     // d=VTR_WHY_* x=what was read (avail_event or used.flags)
                     // packed: a=ppos of the first entry published b=of the next to
                     // fill; x=the device's event suppression structure read
  VTR_INTR,          // an interrupt taken and acknowledged: a=used.idx now b=last_used
                     // packed: a=ppos of the driver's next used entry b=its flags then
  VTR_USED,          // a used element reaped: a=pos d=id x=len c=descriptors freed
                     // packed: a=ppos b=flags c=ring entries it skips; then WRAP
                     // if they pass the ring's end
  VTR_BAD,           // a used element refused: a=pos d=id x=len; TEXT: why
                     // packed: a=ppos b=the entry's flags
  VTR_BROKEN,        // the queue gave up; TEXT: why
  VTR_INTR_ON,       // "interrupt me": b=1 used_event c=its value; b=0 avail.flags c=flags
                     // packed: b as split, x=the driver's structure written
  VTR_INTR_OFF,      // "no interrupts while I reap": c=avail.flags written
                     // packed: x=the driver's structure written
  VTR_DRAIN,         // after a reset, a chain taken back unreturned: a=head (packed: id)

  // -- the device's steps (devmodel/vdm.c) --
  VTR_DSTATE,        // snapshot: a=last_avail b=used_idx c=chains held
                     // packed: a=ppos of the next entry it reads b=of the next it uses
  VTR_DNOTIFY,       // QueueNotify arrived: a=avail.idx the device sees
                     // packed: a=ppos of its next entry b=that entry's flags
  VTR_DPOP,          // a chain taken off the available ring: a=pos b=head
                     // packed: a=ppos of the buffer's first entry b=id c=its entries;
                     // then WRAP if they pass the ring's end
  VTR_DUSED,         // a used element written: a=pos d=id x=len
                     // packed: a=ppos b=flags written c=ring entries it skips; then WRAP
  VTR_DEVENT,        // avail_event written (EVENT_IDX): a=its value
                     // packed: x=the device's structure written
  VTR_DIRQ,          // after used elements: a=old used.idx b=new c=1 interrupt sent
                     // / 0 suppressed d=VTR_WHY_* x=what was read (used_event or avail.flags)
                     // packed: a, b=ppos before and after x=the driver's structure read

  // -- the packed ring's own (2.8) --
  VTR_PSTATE,        // snapshot, driver's private state: a=next_avail b=pub_avail
                     // c=next_used (each a ppos) d=outstanding | nfree<<16
                     // x=free_head | intr_off<<16 | unpub<<32 | pub_flags<<48
  VTR_PEVENTS,       // snapshot, the event suppression structures as in memory (each
                     // desc | flags<<16): d=the driver's x=the device's
  VTR_PRING,         // snapshot, one ring entry as in memory: a=slot b=flags c=id d=len x=addr
  VTR_WRAP,          // a wrap counter flipped, its position past the ring's end (2.8.1):
                     // a=VTR_WRAP_* b=its new value c=the slot its position is at now

  VTR_NTYPES
};

// VTR_QUEUE flags.
#define VTR_Q_EVENT_IDX 1   // VIRTIO_RING_F_EVENT_IDX in use
#define VTR_Q_INDIRECT  2   // indirect tables allocated
#define VTR_Q_BROKEN    4
#define VTR_Q_PACKED    8   // the packed layout (VIRTIO_F_RING_PACKED): the packed records

// Why a notification or an interrupt was sent or not (2.7.7, 2.7.10; packed
// 2.8.10: EVENT_IDX when the structure's flags were RING_EVENT_FLAGS_DESC).
#define VTR_WHY_EVENT_IDX 1 // the other side's event index decided (x = its value)
#define VTR_WHY_FLAGS     2 // the other side's flags word decided (x = the flags)

// VTR_WRAP: whose wrap counter. Each side keeps two positions on the one
// ring, and a wrap counter with each (2.8.1).
#define VTR_WRAP_DRIVER       0 // the Driver Ring Wrap Counter: the driver filling entries
#define VTR_WRAP_DRIVER_USED  1 // the driver reading used entries (the device's counter)
#define VTR_WRAP_DEVICE_AVAIL 2 // the device reading available entries (the driver's)
#define VTR_WRAP_DEVICE       3 // the Device Ring Wrap Counter: the device writing used entries

// A packed position: the slot in bits 0-14, the wrap counter in bit 15.
static inline uint16_t vtr_ppos(uint16_t slot, uint8_t wrap)
{
  return (uint16_t)(slot | (uint16_t)(wrap & 1) << 15);
}

// VTR_COUNT counters: the queue's struct virtq_stats.
enum vtr_counter {
  VTR_C_ADDED, VTR_C_INDIRECT, VTR_C_KICKS, VTR_C_NOTIFIES, VTR_C_INTERRUPTS,
  VTR_C_COMPLETIONS, VTR_C_RECHECKS, VTR_C_ERRORS, VTR_C_N
};

#define VTR_MAX_QUEUES 16

struct vtrace {
  vos_lock_t lock;
  struct vtr_rec *rec;     // the port's array ...
  uint32_t cap;            // ... of this many records
  uint32_t n;              // records written
  uint32_t rd;             // records handed out by vtrace_read
  uint32_t dropped;        // steps that found no room
  uint8_t nqueues;         // queue ids handed out
  uint8_t ended;           // END is written: nothing more goes in
  uint64_t (*clock)(void); // the port's clock for t, or NULL
  uint32_t clock_hz;
};

// Hand the buffer over; the trace is empty and ended until vtrace_begin.
void     vtrace_init(struct vtrace *t, struct vtr_rec *buf, uint32_t cap,
                     uint64_t (*clock)(void), uint32_t clock_hz);
// Empty the buffer and write BEGIN. Queues still pointing at t keep
// recording, but under ids nobody announced: stop them first.
void     vtrace_begin(struct vtrace *t);
// Write END (it always has room). Later records are refused.
void     vtrace_end(struct vtrace *t);
// Copy out up to max records not yet read; returns how many.
uint32_t vtrace_read(struct vtrace *t, struct vtr_rec *out, uint32_t max);

// ---- the driver's side (virtio/virtq.c, virtio/virtq_packed.c) ----

// Start recording vq into t as `name` ("blk requestq"): a snapshot of its
// state now, then every step. The driver's lock for vq must be held, and
// the queue set up (virtq_init clears vq->trace: a queue set up again is
// not traced until someone starts it again). Returns the queue's id in the
// trace, or -1 (no id left, no room, or no queue).
int  virtq_trace_start(struct virtq *vq, struct vtrace *t, const char *name);
// The queue's counters once more, then stop. The driver's lock must be held.
void virtq_trace_stop(struct virtq *vq);

// The hooks (each called only when vq->trace is set), from both layouts'
// code; on a packed queue each writes what its record type's "packed:"
// note says. There head is a buffer id, and virtq_trace_kick's old_idx
// and new_idx are lap positions (virtq_packed.c's lap_pos, 0 .. 2*size-1)
// of the first entry published and of the next one to fill.
void virtq_trace_add(struct virtq *vq, uint16_t head);
void virtq_trace_kick(struct virtq *vq, uint16_t old_idx, uint16_t new_idx, int notified);
void virtq_trace_intr(struct virtq *vq);
void virtq_trace_used(struct virtq *vq, uint32_t id, uint32_t len);
void virtq_trace_bad(struct virtq *vq, const char *why, uint32_t id, uint32_t len);
void virtq_trace_broken(struct virtq *vq, const char *why);
void virtq_trace_intr_on(struct virtq *vq);
void virtq_trace_intr_off(struct virtq *vq);
void virtq_trace_drain(struct virtq *vq, uint16_t head);

// ---- the device's side (devmodel/vdm.c) ----
// The device records under the id the driver's side got for the same queue
// (vdm_trace_start in vdm.h), so both halves land on one queue.
void vtrace_dev_state(struct vtrace *t, int qid, uint16_t last_avail, uint16_t used_idx,
                      uint16_t held);
void vtrace_dev_notify(struct vtrace *t, int qid, uint16_t avail_idx);
void vtrace_dev_pop(struct vtrace *t, int qid, uint16_t pos, uint16_t head);
void vtrace_dev_used(struct vtrace *t, int qid, uint16_t pos, uint32_t id, uint32_t len);
void vtrace_dev_event(struct vtrace *t, int qid, uint16_t avail_event);
void vtrace_dev_irq(struct vtrace *t, int qid, uint16_t old_idx, uint16_t new_idx,
                    int sent, int why, uint16_t value);
// The packed ring's (2.8): every position a ppos (vtr_ppos), every event
// suppression structure one word (desc | flags << 16). vtrace_dev_state
// takes ppos values too. The device model calls vtrace_dev_wrap after a
// pop or a used entry that took its position past the ring's end.
void vtrace_dev_pnotify(struct vtrace *t, int qid, uint16_t at, uint16_t flags);
void vtrace_dev_ppop(struct vtrace *t, int qid, uint16_t at, uint16_t id, uint16_t nent);
void vtrace_dev_pused(struct vtrace *t, int qid, uint16_t at, uint16_t flags, uint16_t nent,
                      uint32_t id, uint32_t len);
void vtrace_dev_pevent(struct vtrace *t, int qid, uint32_t word);
void vtrace_dev_pirq(struct vtrace *t, int qid, uint16_t old_pos, uint16_t new_pos, int sent,
                     uint32_t word);
void vtrace_dev_wrap(struct vtrace *t, int qid, int which, uint8_t wrap, uint16_t slot);
#endif
