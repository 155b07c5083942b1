// virtq_trace.h: a recording of what happens on a virtqueue, one fixed-size
// record per step, so that a person can later watch the descriptor table,
// the available ring and the used ring change step by step (`make trace`
// renders it as a page; tools/trace/ replays it).
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues): the records name the
// spec's objects: descriptors (2.7.5) and indirect tables (2.7.5.3), the
// available ring and avail.idx (2.7.6, 2.7.13), used elements (2.7.8), and
// the two kinds of notification suppression (2.7.7 used_event and
// VIRTQ_AVAIL_F_NO_INTERRUPT, 2.7.10 avail_event and VIRTQ_USED_F_NO_NOTIFY).
//
// See it run: `make trace CMD='cat README.md'` (the kernel records the
// driver's side through /dev/vtrace); `make -C tests/host check` (test
// trace_*: the device model records the device's side into the same
// buffer, so one page shows both halves of every request).
//
// Two parties write records:
//   the driver (virtio/virtq.c): each hook there is one line,
//     `if (vq->trace) virtq_trace_...(vq, ...)`, so a queue nobody traces
//     pays one predictable branch per hook and nothing else;
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

// The format's version, in the BEGIN record; tools/trace/vtrace.py checks it.
#define VTR_VERSION 1

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
  VTR_AVRING,        // a=first slot; bytes 8..31: avail.ring[a .. a+11] (up to the size)
  VTR_HELD,          // a chain the device held already: fields as VTR_ADD (b = 0xffff)

  // -- the driver's steps (virtq.c) --
  VTR_ADD,           // a=head b=pos in the avail ring c=ring descriptors
                     // d=writable bytes x=token; then its DESC and IDESC records
  VTR_DESC,          // part of ADD/HELD: a=descriptor b=flags c=next d=len x=addr
  VTR_IDESC,         // part of ADD/HELD: an indirect table's entry a=position, rest as DESC
  VTR_KICK,          // avail.idx published: a=old b=new c=1 notified / 0 suppressed
                     // d=VTR_WHY_* x=what was read (avail_event or used.flags)
  VTR_INTR,          // an interrupt taken and acknowledged: a=used.idx now b=last_used
  VTR_USED,          // a used element reaped: a=pos d=id x=len c=descriptors freed
  VTR_BAD,           // a used element refused: a=pos d=id x=len; TEXT: why
  VTR_BROKEN,        // the queue gave up; TEXT: why
  VTR_INTR_ON,       // "interrupt me": b=1 used_event c=its value; b=0 avail.flags c=flags
  VTR_INTR_OFF,      // "no interrupts while I reap": c=avail.flags written
  VTR_DRAIN,         // after a reset, a chain taken back unreturned: a=head

  // -- the device's steps (devmodel/vdm.c) --
  VTR_DSTATE,        // snapshot: a=last_avail b=used_idx c=chains held
  VTR_DNOTIFY,       // QueueNotify arrived: a=avail.idx the device sees
  VTR_DPOP,          // a chain taken off the available ring: a=pos b=head
  VTR_DUSED,         // a used element written: a=pos d=id x=len
  VTR_DEVENT,        // avail_event written (EVENT_IDX): a=its value
  VTR_DIRQ,          // after used elements: a=old used.idx b=new c=1 interrupt sent
                     // / 0 suppressed d=VTR_WHY_* x=what was read (used_event or avail.flags)

  VTR_NTYPES
};

// VTR_QUEUE flags.
#define VTR_Q_EVENT_IDX 1   // VIRTIO_RING_F_EVENT_IDX in use
#define VTR_Q_INDIRECT  2   // indirect tables allocated
#define VTR_Q_BROKEN    4

// Why a notification or an interrupt was sent or not (2.7.7, 2.7.10).
#define VTR_WHY_EVENT_IDX 1 // the other side's event index decided (x = its value)
#define VTR_WHY_FLAGS     2 // the other side's flags word decided (x = the flags)

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

// ---- the driver's side (virtio/virtq.c) ----

// Start recording vq into t as `name` ("blk requestq"): a snapshot of its
// state now, then every step. The driver's lock for vq must be held, and
// the queue set up (virtq_init clears vq->trace: a queue set up again is
// not traced until someone starts it again). Returns the queue's id in the
// trace, or -1 (no id left, no room, or no queue).
int  virtq_trace_start(struct virtq *vq, struct vtrace *t, const char *name);
// The queue's counters once more, then stop. The driver's lock must be held.
void virtq_trace_stop(struct virtq *vq);

// The hooks (each called only when vq->trace is set).
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
#endif
