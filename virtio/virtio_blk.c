// virtio_blk.c: the virtio block driver. It turns "read these sectors into
// this buffer" into a chain of descriptors on the device's request queue,
// and finishes the request when the device puts the chain on the used ring.
//
// Follows virtio 1.2 section 5.2 (Block Device):
//   5.2.3  feature bits. Always asked for: VIRTIO_BLK_F_RO and
//          VIRTIO_BLK_F_BLK_SIZE. If the limits allow (struct vblk_limits)
//          and the device offers them: VIRTIO_BLK_F_SEG_MAX,
//          VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_FLUSH and the ring features
//          VIRTIO_RING_F_EVENT_IDX and VIRTIO_RING_F_INDIRECT_DESC (2.7).
//   5.2.4  configuration layout: capacity, size_max, seg_max, blk_size
//   5.2.5  device initialization, with section 3.1.1 for the order of steps
//   5.2.6  device operation: a request is header + data + status byte
//   5.2.6.2 when a write is stable, which is why vblk_flush may do nothing
//
// How to read this file:
//   Part 1  one request, start to finish: vblk_rw builds the three-part
//           chain, hands it to the queue (virtq.c) and sleeps; vblk_intr
//           takes it off the used ring and wakes the caller. This is the
//           path every block the file system reads first goes through.
//   Part 2  setting the device up: the status handshake, the features, the
//           limits the device announces, the queue.
//   Part 3  many requests in flight: the asynchronous API (vblk_submit),
//           big requests cut to the device's limits, callbacks, one
//           notification for a batch. The speed machinery; the plain path
//           never needs it.
//   Part 4  giving up on a device, statistics, shutdown.
//
// See it run: `make -C tests/host check` (blk_* and perf_* tests: round
// trips, split requests, flushes, many requests completed out of order,
// devices that misbehave), `make qemu` (boot log: features in use), and
// `blkbench` in the shell (throughput and notifications per request).
//
// Concurrency: many processes (on many harts) may use the disk at once.
// Each device request takes a free "slot": its request header and status
// byte, in DMA memory. The slot's header address is the token the
// virtqueue gives back on completion, so a completion leads straight to
// the slot, and from there to the caller's request; completions may come
// in any order. Everything is protected by vb->lock, which vos_sleep
// releases while a caller sleeps. Callbacks run after the lock is dropped.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"
#include "virtio_dev.h"
#include "virtio_blk.h"

// The status byte starts as a value the device never writes, so a device
// that "completes" a request without writing its status is caught.
#define VBLK_STATUS_UNSET 0xff

// Sector numbers and lengths in the protocol are in 512-byte units,
// whatever the device's own block size (5.2.5).
#define SECTOR VIRTIO_BLK_SECTOR_SIZE
// Data bytes per device request when nothing smaller applies: well below
// 2^32, so a chain's total length (2.7.5.2) can never overflow.
#define VBLK_MAX_BYTES (1u << 30)
// size_max when the device announces none.
#define NO_LIMIT 0xffffffffu

// Everything: the kernel's disk runs with these (kernel/glue/disk.c).
const struct vblk_limits VBLK_LIMITS_FULL = {
  .max_bytes = VBLK_MAX_BYTES,
  // >>> lab blk: as many requests in flight as there are slots, once completions find their request by token
  .max_inflight = VBLK_NSLOT,
  // === stub
  // .max_inflight = 1,
  // <<< lab blk
  .features = VBLK_OPTIONAL_FEATURES,
};

// Feature bit n as a mask for vio_negotiate.
static uint64_t bit(int n)
{
  return (uint64_t)1 << n;
}

// Defined in parts 3 and 4; part 1 calls them on its error paths.
static void run_callbacks(struct vblk *vb);
static void fail_outstanding(struct vblk *vb);
static void fail_locked(struct vblk *vb, const char *why);
static int bad_request(struct vblk *vb, struct vblk_req *r);

// =====================================================================
// Part 1: one request, start to finish
// =====================================================================
//
// The life of one file-system read, vblk_rw(disk, 0, sector, buf, 1024):
//   vblk_rw      takes a slot (a request header and a status byte in DMA
//                memory), fills in the header, builds the three-buffer
//                chain, hands it to the queue (virtq_add), publishes it and
//                notifies the device (virtq_kick), and sleeps.
//   the device   reads the header, writes 1024 bytes into buf and then the
//                status byte, puts the chain in the used ring, and raises
//                its interrupt.
//   vblk_intr    acknowledges the interrupt and reaps: virtq_get hands back
//                the slot's token, request_ok reads the status byte,
//                part_done frees the slot, finish_req and mark_done set
//                `done` and wake the sleeper.
//   vblk_rw      wakes up, sees `done`, returns the status: 0 or -1.
// The small helpers come first, in the order vblk_rw uses them; vblk_rw
// itself follows them, then the completion side.

// The one test of "may we use the device": set up, and not given up on.
static int usable(struct vblk *vb)
{
  return vb->ready && !vb->dead;
}

// ---- slots (all with vb->lock held) ----
//
// A slot is what one device request needs besides the caller's data: the
// 16-byte header the device reads and the status byte it writes (struct
// vblk_dma). Both must be in DMA memory, and each request in flight needs
// its own, so there are nslot of them, and as many requests in flight at
// most. slot_req[i] is the caller's request slot i works for, 0 if free.

// Take a free slot for r's next device request. The caller has checked
// nslot_free > 0.
static int slot_alloc(struct vblk *vb, struct vblk_req *r)
{
  int i;

  // A plain scan: there are at most VBLK_NSLOT (32) slots.
  for (i = 0; i < vb->nslot; i++) {
    if (vb->slot_req[i] == 0) {
      vb->slot_req[i] = r;
      vb->nslot_free--;
      return i;
    }
  }
  return -1;  // callers check nslot_free first; never reached
}

static void slot_free(struct vblk *vb, int slot)
{
  vb->slot_req[slot] = 0;
  vb->nslot_free++;
  // A wakeup scans every sleeping process on some ports; skip it when
  // nobody waits for room (the common case with many requests in flight).
  if (vb->slot_waiters > 0)
    vos_wakeup(&vb->nslot_free);
}

// Sleep until a slot may have come free (or the device state changed).
// vos_sleep lets go of vb->lock while we sleep, so completions can run;
// we hold it again when it returns. The room may be gone again by then
// (another caller was faster), so every caller loops around this.
static void wait_for_room(struct vblk *vb)
{
  vb->slot_waiters++;
  vos_sleep(&vb->nslot_free, &vb->lock);
  vb->slot_waiters--;
}

// The slot a token (the address of the slot's header) stands for. Tokens
// come from virtq_get, which returns only tokens we gave virtq_add, and
// those are &vb->dma[slot]: the difference is always a valid slot.
static int token_slot(struct vblk *vb, void *token)
{
  // >>> lab blk: the slot whose header address the token is
  return (int)((struct vblk_dma *)token - vb->dma);
  // === stub
  // return 0;  // right only while there is one slot
  // <<< lab blk
}

// Fill in slot's header (5.2.6: type, reserved, sector) and set its status
// byte to a value the device never writes.
static void fill_header(struct vblk *vb, int slot, int type, uint64_t sector)
{
  struct vblk_dma *d = &vb->dma[slot];

  // Plain stores: the device reads the header only after barrier (1) in
  // virtq_kick. The fields are little-endian (native for a legacy
  // device, 5.2.6.3), which on our CPUs is the same thing.
  d->hdr.type = type == VBLK_READ ? VIRTIO_BLK_T_IN :
                type == VBLK_WRITE ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_FLUSH;
  d->hdr.reserved = 0;
  // 5.2.6.1: the driver MUST set sector to 0 for a flush.
  d->hdr.sector = type == VBLK_FLUSH ? 0 : sector;
  // The slot's previous request left its status here, probably OK. A
  // device that completes without writing the byte must not make that old
  // OK count for this request (host test blk_status_unwritten).
  d->status = VBLK_STATUS_UNSET;
}

// ---- finishing requests (vb->lock held) ----

// The request is over: whoever waits for it may return. `done` is written
// and read only under vb->lock, so a waiter that sees done = 1 also sees
// the status written before it. The wakeup goes to the sleeper in vblk_rw
// or vblk_wait, which sleep on the request's address; `waiting` says
// whether there is one, since a wakeup may scan every sleeping process.
static void mark_done(struct vblk_req *r)
{
  r->done = 1;
  if (r->drv.waiting)
    vos_wakeup(r);
}

// Every device request of r is over: record the outcome. Without a
// callback (vblk_rw, vblk_wait) the request is done now and its sleeper
// woken; with one, it goes on the list that run_callbacks (part 3) works
// through once the lock is dropped.
static void finish_req(struct vblk *vb, struct vblk_req *r)
{
  // One failed part fails the whole request: the caller cannot tell which
  // of its sectors made it.
  r->status = r->drv.failed ? -1 : 0;
  // The counters count caller requests, not device requests.
  if (r->drv.failed)
    vb->errors++;
  else if (r->type == VBLK_READ)
    vb->reads++;
  else if (r->type == VBLK_WRITE)
    vb->writes++;
  else
    vb->flushes++;
  // Append, not push: callbacks run in the order their requests finished.
  if (r->complete) {
    r->drv.cb_next = 0;
    if (vb->cb_tail)
      vb->cb_tail->drv.cb_next = r;
    else
      vb->cb_head = r;
    vb->cb_tail = r;
    return;
  }
  mark_done(r);
}

// One device request (the one in `slot`) is over. A request of the plain
// path has exactly one; a big one of part 3 may have many.
static void part_done(struct vblk *vb, int slot, int ok)
{
  struct vblk_req *r = vb->slot_req[slot];

  // The slot is free the moment its device request is over; the next
  // request may take it while we are still finishing this one.
  slot_free(vb, slot);
  if (!ok)
    r->drv.failed = 1;
  // parts counts r's device requests still out: the last one finishes r.
  if (--r->drv.parts == 0)
    finish_req(vb, r);
}

// Start r (vb->lock held): results cleared, new requests held back while
// vblk_reinit drains, and the checks that need no device. 0, or -1 with r
// done and failed.
static int start_req(struct vblk *vb, struct vblk_req *r)
{
  // A caller may reuse a vblk_req for one request after another, so
  // nothing from the last one may survive.
  r->done = 0;
  r->status = -1;
  r->drv.parts = 0;
  r->drv.failed = 0;
  r->drv.waiting = 0;
  r->drv.cb_next = 0;
  // vblk_reinit is swapping the device's set-up: wait until it is done.
  while (vb->draining)
    wait_for_room(vb);
  // A dead device, or a request no device could carry out (beyond the
  // disk, a write to a read-only disk, ...): fail at once, without
  // bothering the device.
  if (!usable(vb) || bad_request(vb, r)) {
    vb->errors++;
    r->done = 1;
    return -1;
  }
  return 0;
}

// Does a buffer of len bytes fit in one device request? (It always does
// for the file system's blocks, unless a device announces tiny limits.)
static int fits_one_request(struct vblk *vb, uint32_t len)
{
  return len <= vb->max_bytes && len <= vb->size_max && vb->seg_max >= 1;
}

// >>> lab blk: nothing to write here: the starter's vblk_rw needs this declaration until yours no longer polls
// === stub
// static void reap(struct vblk *vb);
// <<< lab blk
int vblk_rw(struct vblk *vb, int write, uint64_t sector, void *buf, uint32_t len)
{
  // Our record of the request. It may live on the caller's stack: the
  // device never sees it, only the slot's header, buf and the status byte.
  struct vblk_req r;
  // >>> lab blk: your variables
  int slot, status;
  // === stub
  // int status;
  // <<< lab blk

  // 1. Describe the request: one segment, no callback (the caller waits).
  r.type = write ? VBLK_WRITE : VBLK_READ;
  r.sector = sector;
  r.nseg = 1;
  r.seg[0].addr = buf;
  r.seg[0].len = len;
  r.complete = 0;
  r.arg = 0;

  // Bigger than one device request may carry: part 3 cuts it up.
  if (!fits_one_request(vb, len)) {
    if (vblk_submit(vb, &r) < 0)
      return -1;
    return vblk_wait(vb, &r);
  }

  // >>> lab blk: under vb->lock: start_req, wait for a slot and 3 descriptors, the header, the chain (5.2.6) with the slot's header as token, virtq_add, virtq_kick, sleep until done; return the status
  // 2. Everything from here to the sleep happens under vb->lock: the
  // slots, the queue and the counters are shared with every other caller
  // and with the interrupt handler.
  vos_lock(&vb->lock);
  if (start_req(vb, &r) < 0) {
    vos_unlock(&vb->lock);
    return -1;
  }
  // 3. Room for it: a slot for its header and status byte, and three
  // descriptors (or one, if it goes in an indirect table). Whatever is
  // in flight will free both when it completes.
  while (usable(vb) && (vb->nslot_free == 0 || !virtq_room(&vb->vq, 3)))
    wait_for_room(vb);
  // The device may have died while we slept (vblk_fail wakes us). The
  // request fails like one the device failed: finish_req counts it in
  // vb->errors (once) and marks it done.
  if (!usable(vb)) {
    r.drv.failed = 1;
    finish_req(vb, &r);
    vos_unlock(&vb->lock);
    return -1;
  }
  // 4. The header: what to do, and where on the disk.
  slot = slot_alloc(vb, &r);
  fill_header(vb, slot, r.type, sector);

  // 5. The chain (5.2.6): the header, which the device reads; the data,
  // which the device writes on a read and reads on a write; the status
  // byte, which it writes last. Device-readable buffers come first
  // (2.7.4.2), and each part has a descriptor of its own, as a legacy
  // device without VIRTIO_F_ANY_LAYOUT requires (5.2.6.4).
  vb->chain[0].addr = &vb->dma[slot].hdr;
  vb->chain[0].len = sizeof(struct virtio_blk_req_hdr);
  vb->chain[0].device_writes = 0;
  vb->chain[1].addr = buf;
  vb->chain[1].len = len;
  vb->chain[1].device_writes = !write;
  vb->chain[2].addr = &vb->dma[slot].status;
  vb->chain[2].len = 1;
  vb->chain[2].device_writes = 1;
  r.drv.parts = 1;  // one device request, which part_done will count off
  // 6. Onto the queue. The slot's header address is the token that comes
  // back in the used ring (token_slot). virtq_add fails only on a broken
  // queue or a driver bug, since we checked for room.
  if (virtq_add(&vb->vq, vb->chain, 3, &vb->dma[slot]) != VIRTQ_OK) {
    slot_free(vb, slot);
    r.drv.failed = 1;
    finish_req(vb, &r);
    fail_locked(vb, "the request queue refused a request");
    vos_unlock(&vb->lock);
    // fail_locked failed every request still in flight; those with a
    // callback (part 3's) only went on the callback list, to be run
    // without the lock: now.
    run_callbacks(vb);
    return -1;
  }
  // 7. Publish the chain and notify the device, unless it said it does
  // not need to be told (virtq.c has the barriers and the reasons). From
  // here on the device may read the header and buf at any moment.
  virtq_kick(&vb->vq);

  // 8. Sleep until vblk_intr sees the chain in the used ring (or we give
  // up on the device). vos_sleep releases vb->lock while we sleep, so the
  // interrupt handler can take it; the loop re-checks after every wakeup.
  // `done` cannot be missed between the test and the sleep: vblk_intr
  // needs vb->lock to set it, and vos_sleep gives the lock up only once
  // we are asleep.
  while (!r.done) {
    r.drv.waiting = 1;
    vos_sleep(&r, &vb->lock);
  }
  // 9. The status finish_req recorded: 0 only if the device wrote
  // VIRTIO_BLK_S_OK. On a read, buf now holds the sectors.
  status = r.status;
  vos_unlock(&vb->lock);
  return status;
  // === stub
  // // The starter's way until you write yours: part 3 sends the request
  // // (one at a time, since VBLK_LIMITS_FULL allows one in flight), and the
  // // caller polls the used ring itself until its request is done.
  // if (vblk_submit(vb, &r) < 0)
  //   return -1;
  // vos_lock(&vb->lock);
  // while (!r.done)
  //   reap(vb);
  // status = r.status;
  // vos_unlock(&vb->lock);
  // run_callbacks(vb);
  // return status;
  // <<< lab blk
}

// ---- completions ----

// Turn the status byte of a finished device request into 1 (ok) or 0.
static int request_ok(struct vblk *vb, int slot)
{
  // Barrier (3) in virtq_get ordered this read after the device's write: the
  // device wrote the status byte and the used entry before it advanced
  // used.idx (2.7.8.2), and we read used.idx first. volatile: read it
  // once, now.
  uint8_t status = *(volatile uint8_t *)&vb->dma[slot].status;
  // The header is ours (the device only reads it), so it can be trusted
  // to say what the request was.
  struct virtio_blk_req_hdr *h = &vb->dma[slot].hdr;

  // Only S_OK is success. IOERR and UNSUPP are the device's honest "no";
  // any other value (VBLK_STATUS_UNSET: never written) is a device bug
  // (host tests blk_unknown_status, blk_status_unwritten). All of them
  // fail this request alone: the ring itself was used correctly, so the
  // queue and the other requests carry on.
  if (status == VIRTIO_BLK_S_OK)
    return 1;
  vos_log("virtio-blk: %s of sector %llu failed: %s (status %u)\n",
          h->type == VIRTIO_BLK_T_OUT ? "write" :
          h->type == VIRTIO_BLK_T_FLUSH ? "flush" : "read",
          (unsigned long long)h->sector,
          status == VIRTIO_BLK_S_IOERR ? "I/O error" :
          status == VIRTIO_BLK_S_UNSUPP ? "unsupported" : "unknown status",
          (unsigned)status);
  return 0;
}

// Configuration change notification (3.2.1). Either the device may be
// telling us it needs a reset (2.1.2), or a configuration field changed
// (3.2 lets the device change any of them), which for a disk means the
// capacity: a disk image that grew or shrank.
static void config_changed(struct vblk *vb)
{
  uint64_t cap;

  // DEVICE_NEEDS_RESET: requests in flight may or may not have completed
  // (2.1.1), so none of them can be trusted. Give up on the device.
  if (vio_get_status(vb->dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
    fail_locked(vb, "device set DEVICE_NEEDS_RESET");
    return;
  }
  // bad_request reads vb->capacity, so from now on requests past the new
  // end are refused (5.2.6.1: never read or write beyond capacity). A
  // 64-bit field: config_read retries it until it is not torn.
  cap = vio_config_read64(vb->dev, VIRTIO_BLK_CFG_CAPACITY);
  if (cap != vb->capacity) {
    vos_log("virtio-blk: capacity changed from %llu to %llu sectors\n",
            (unsigned long long)vb->capacity, (unsigned long long)cap);
    vb->capacity = cap;
  }
}

// Reap every used entry, then ask for an interrupt at the next one and
// look once more: virtq_enable_intr returns 1 if something slipped in
// between our last look and the request (2.7.14 explains the race).
static void reap(struct vblk *vb)
{
  void *token;
  uint32_t len;
  int r, slot;

  // While we reap, an interrupt per completion would only make the next
  // handler wait for our lock and find nothing: ask for none.
  virtq_disable_intr(&vb->vq);
  do {
    // virtq_get checked the entry: the token is a chain we handed out and
    // have not had back. len is not used: a block request's success is
    // its status byte, not how many bytes the device says it wrote (and
    // legacy devices were known to get len wrong, 5.2.6.3).
    while ((r = virtq_get(&vb->vq, &token, &len)) == 1) {
      slot = token_slot(vb, token);
      part_done(vb, slot, request_ok(vb, slot));
    }
    // The queue broke: a used entry that did not check out, a used.idx
    // that ran ahead (the device broke the ring protocol), or the queue's
    // own give-up. Nothing more the device writes can be believed. Reset
    // it and fail everything in flight; vio_give_up adds the queue's
    // reason to ours.
    if (r < 0) {
      fail_locked(vb, "the request queue broke");
      return;
    }
  } while (virtq_enable_intr(&vb->vq));
}

void vblk_intr(struct vblk *vb)
{
  uint32_t why;

  // The lock keeps us apart from callers adding requests on other harts.
  vos_lock(&vb->lock);
  // 1. Acknowledge BEFORE reaping. A completion the device posts after our
  // last look at the used ring raises InterruptStatus again, so it gets an
  // interrupt of its own. Acking after reaping could clear the bit of a
  // completion we never saw, and its caller would sleep forever (host test
  // blk_ack_race). The price is an occasional interrupt that finds nothing
  // to do. (4.2.3.4.1 words it "after the interrupt is handled, acknowledge
  // it"; what it protects is that every acknowledged event gets handled,
  // and it does: the reap below looks after the acknowledgement.)
  // The ack is a register write and the used ring is memory. The first
  // reads of the reap may pass the ack, and that is harmless: what they
  // miss, they miss because the device had not written it yet. The last
  // look, in virtq_enable_intr, comes after barrier (4), so it cannot pass
  // the ack: a completion whose interrupt we just cleared is seen there.
  why = vio_intr_ack(vb->dev);
  // A device we gave up on may still interrupt (the interrupt was on its
  // way when we reset it), and so may one we are still setting up. Either
  // way there is no queue of ours to read.
  if (!usable(vb)) {
    vos_unlock(&vb->lock);
    return;
  }
  virtq_count_intr(&vb->vq);
  // 2. A configuration change: new capacity, or a device asking for reset.
  if (why & VIRTIO_MMIO_INT_CONFIG)
    config_changed(vb);
  // 3. Reap until the used ring is really empty, not just the entries that
  // were there when the interrupt fired: everything the device finished
  // before our acknowledgement was announced only by the interrupt we just
  // acknowledged, so nobody else is going to come for it. (We do not
  // test the VRING bit: an entry is in the ring or it is not, and a look
  // costs a memory read.)
  if (usable(vb))
    reap(vb);
  vos_unlock(&vb->lock);
  // 4. Requests with callbacks (part 3) are finished outside the lock.
  // The plain path has none: its sleepers were woken in mark_done.
  run_callbacks(vb);
}

// =====================================================================
// Part 2: setting the device up (3.1.1, 5.2.5)
// =====================================================================

// Free what setup() allocated; the device must be reset already (3.3.1:
// the memory of a live queue may not be taken away from the device).
static void release_memory(struct vblk *vb)
{
  if (vb->vq.mem || vb->vq.itab)
    virtq_destroy(&vb->vq);
  if (vb->dma)
    vos_dma_free(vb->dma, (size_t)vb->nslot * sizeof(struct vblk_dma));
  vb->dma = 0;
}

// Set-up failed: stop the device (its queue may already be live) before
// freeing the memory it might still read, and remember it is dead.
static int setup_fail(struct vblk *vb, const char *why)
{
  vio_unwind(vb->dev, "virtio-blk", why, 0, 0);
  release_memory(vb);
  vb->dead = 1;
  return -1;
}

// Everything setup() decides, back to what it assumes of a device that
// announces nothing: 512-byte blocks, no limits but ours. The counters,
// the lock and the sleepers are left alone (vblk_reinit keeps them).
static void reset_fields(struct vblk *vb, const struct vblk_limits *lim)
{
  int i;

  vb->limits = *lim;
  vb->ready = 0;
  vb->dead = 0;
  vb->readonly = 0;
  vb->has_flush = 0;
  vb->capacity = 0;
  vb->blk_size = SECTOR;
  vb->seg_max = VBLK_MAX_SEGS;
  vb->size_max = NO_LIMIT;
  // Our own cap on a device request: the limit we were given, and never
  // more than VBLK_MAX_BYTES or less than a sector.
  vb->max_bytes = lim->max_bytes;
  if (vb->max_bytes > VBLK_MAX_BYTES)
    vb->max_bytes = VBLK_MAX_BYTES;
  if (vb->max_bytes < SECTOR)
    vb->max_bytes = SECTOR;
  // No slots and no queue memory yet: release_memory and vio_unwind free
  // only what these point at.
  vb->nslot = 0;
  vb->nslot_free = 0;
  vb->dma = 0;
  vb->vq.mem = 0;
  vb->vq.itab = 0;
  for (i = 0; i < VBLK_NSLOT; i++)
    vb->slot_req[i] = 0;
}

// The limits a device may announce (5.2.4). They only ever make our
// requests smaller. A zero would forbid every request, which no real
// device means; we log it and ignore it. Returns 0: no value a device can
// put here is a reason to refuse it (the type matches setup_queue's, so
// setup() can run the two in a row).
static const char *read_limits(struct vblk *vb)
{
  struct vio_dev *d = vb->dev;
  uint32_t v;

  // Each field only if its feature was negotiated: without it the field
  // may hold anything (2.5.1: check the feature before reading).
  // seg_max counts data segments; the header and the status byte come on
  // top (setup_queue keeps seg_max + 2 within the queue).
  if (vio_has_feature(d, VIRTIO_BLK_F_SEG_MAX)) {
    v = vio_config_read32(d, VIRTIO_BLK_CFG_SEG_MAX);
    if (v == 0)
      vos_log("virtio-blk: seg_max 0 ignored\n");
    else if (v < vb->seg_max)
      vb->seg_max = v;
  }
  // size_max: the longest single segment. Rounded down to whole sectors,
  // so that a piece next_cut shortens to size_max still ends on a sector
  // boundary, where a request may end.
  if (vio_has_feature(d, VIRTIO_BLK_F_SIZE_MAX)) {
    v = vio_config_read32(d, VIRTIO_BLK_CFG_SIZE_MAX);
    if (v == 0)
      vos_log("virtio-blk: size_max 0 ignored\n");
    else
      vb->size_max = v >= SECTOR ? v - v % SECTOR : v;  // whole sectors when possible
  }
  if (vio_has_feature(d, VIRTIO_BLK_F_BLK_SIZE)) {
    // The device's block size. The spec calls it a hint (5.2.5: sector
    // numbers stay in 512-byte units whatever it says), but a real device
    // may fail requests that do not start and end on its blocks (QEMU
    // with logical_block_size=4096 does), so the platform may want to
    // know: vblk_block_size. A value that is no power of two from 512 to
    // 64 KB cannot be a block size; it is logged and ignored.
    v = vio_config_read32(d, VIRTIO_BLK_CFG_BLK_SIZE);
    if (v < SECTOR || v > 65536 || (v & (v - 1)) != 0)
      vos_log("virtio-blk: blk_size %u ignored\n", (unsigned)v);
    else
      vb->blk_size = v;
  }
  return 0;
}

// Queue, indirect tables and slots. Returns 0, or why it failed.
static const char *setup_queue(struct vblk *vb)
{
  uint32_t size;
  int indirect = 0;

  // Queue 0 is requestq (5.2.2); without VIRTIO_BLK_F_MQ it is the only one.
  if (virtq_init(&vb->vq, vb->dev, 0, VBLK_QUEUE_SIZE) < 0)
    return "no usable request queue";
  size = vb->vq.size;
  if (size < 3)
    return "request queue too small for a 3-descriptor request";
  // A chain is header + data + status, and no chain may be longer than
  // the queue (2.7.5.3.1), indirect or not.
  if (vb->seg_max > size - 2)
    vb->seg_max = size - 2;
  // Requests in flight: what the limits allow, what our arrays hold, and
  // no more than the queue has descriptors, since each request holds one
  // at least.
  vb->nslot = vb->limits.max_inflight;
  if (vb->nslot > VBLK_NSLOT)
    vb->nslot = VBLK_NSLOT;
  if (vb->nslot < 1)
    vb->nslot = 1;
  if (vb->nslot > (int)size)
    vb->nslot = (int)size;
  // One indirect table per request in flight, each long enough for the
  // longest chain we build (virtq_init_indirect does nothing unless the
  // feature was negotiated).
  indirect = virtq_init_indirect(&vb->vq, (uint16_t)vb->nslot,
                                 (uint16_t)(vb->seg_max + 2)) == 1;
  // With plain descriptors a request takes at least three of them.
  if (!indirect && vb->nslot > (int)size / 3)
    vb->nslot = (int)size / 3;
  // The slots: a header and a status byte for each request in flight,
  // in memory the device can reach.
  vb->dma = vos_dma_alloc((size_t)vb->nslot * sizeof(struct vblk_dma));
  if (vb->dma == 0)
    return "no memory for request headers";
  vb->nslot_free = vb->nslot;
  return 0;
}

// The boot log's lines about the disk: its size, the transport, and which
// optional features and limits are in use, so a reader of the log knows
// which paths of this file the disk takes.
static void log_features(struct vblk *vb)
{
  struct vio_dev *d = vb->dev;

  vos_log("virtio-blk %p: %llu sectors (%llu KiB)%s, %s transport, queue %u, "
          "%d requests in flight\n", (void *)d->base,
          (unsigned long long)vb->capacity, (unsigned long long)(vb->capacity / 2),
          vb->readonly ? ", read-only" : "", d->version == 1 ? "legacy" : "modern",
          (unsigned)vb->vq.size, vb->nslot);
  vos_log("virtio-blk: features:%s%s%s%s%s%s; at most %u segments per request\n",
          vb->vq.event_idx ? " EVENT_IDX" : "",
          vb->vq.itab_count ? " INDIRECT_DESC" : "",
          vb->has_flush ? " FLUSH" : "",
          vio_has_feature(d, VIRTIO_BLK_F_SEG_MAX) ? " SEG_MAX" : "",
          vio_has_feature(d, VIRTIO_BLK_F_SIZE_MAX) ? " SIZE_MAX" : "",
          (d->features & VBLK_OPTIONAL_FEATURES) == 0 ? " none" : "",
          (unsigned)vb->seg_max);
  if (vb->size_max != NO_LIMIT || vb->max_bytes < VBLK_MAX_BYTES)
    vos_log("virtio-blk: at most %u bytes per segment, %u bytes per request\n",
            (unsigned)(vb->size_max < vb->max_bytes ? vb->size_max : vb->max_bytes),
            (unsigned)vb->max_bytes);
}

// Negotiate and set everything up. vb->lock, if anyone else can see vb,
// is held.
static int setup(struct vblk *vb, const struct vblk_limits *lim)
{
  struct vio_dev *d = vb->dev;
  uint64_t wanted;
  const char *why;

  reset_fields(vb, lim);
  // 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK.
  // RO and BLK_SIZE we must know about whatever the limits; the rest only
  // make things faster, and the limits say which of them we may use.
  // (5.2.6.1: a driver SHOULD accept RO if offered; not accepting it
  // would not make the disk writable, only every write fail.)
  wanted = bit(VIRTIO_BLK_F_RO) | bit(VIRTIO_BLK_F_BLK_SIZE) | VIRTQ_LAYOUT_FEATURES |
           (lim->features & VBLK_OPTIONAL_FEATURES);
  if (vio_negotiate(d, wanted) < 0) {
    vb->dead = 1;
    return -1;  // logged, FAILED set
  }
  // Only negotiated features count: a FLUSH offered but left out by the
  // limits means every write is stable on completion (vblk_flush).
  vb->readonly = vio_has_feature(d, VIRTIO_BLK_F_RO);
  vb->has_flush = vio_has_feature(d, VIRTIO_BLK_F_FLUSH);

  // Step 7: device-specific setup. capacity is always there (5.2.4), the
  // other fields only if their feature was negotiated.
  vb->capacity = vio_config_read64(d, VIRTIO_BLK_CFG_CAPACITY);
  why = read_limits(vb);
  if (why == 0)
    why = setup_queue(vb);
  if (why)
    return setup_fail(vb, why);

  // Step 8: from here on the device may process requests. `ready` only
  // after DRIVER_OK, so no request is queued before the device is live.
  vio_driver_ok(d);
  vb->ready = 1;
  log_features(vb);
  return 0;
}

// The parts of vb that live as long as the driver (lock, counters,
// sleepers, the callback list) are set here once; setup() does the rest,
// and vblk_reinit runs it again.
int vblk_init(struct vblk *vb, struct vio_dev *d, const struct vblk_limits *lim)
{
  vb->dev = d;
  vos_lock_init(&vb->lock, "vblk");
  vb->draining = 0;
  vb->slot_waiters = 0;  // not in reset_fields: vblk_reinit may have sleepers
  vb->cb_head = vb->cb_tail = 0;
  vb->reads = vb->writes = vb->flushes = vb->errors = 0;
  reset_fields(vb, lim);

  // Not a block device: leave it untouched (it is someone else's), and
  // stay dead so every request fails cleanly.
  if (!vio_is_type(d, VIRTIO_ID_BLOCK, "virtio-blk")) {
    vb->dead = 1;
    return -1;
  }
  return setup(vb, lim);
}

int vblk_reinit(struct vblk *vb, const struct vblk_limits *lim)
{
  int r;

  if (vb->dev == 0 || vb->dev->device_id != VIRTIO_ID_BLOCK)
    return -1;
  vos_lock(&vb->lock);
  // New requests wait while draining is set; requests in flight finish.
  // Every slot back (nslot_free == nslot) means nothing is in flight.
  vb->draining = 1;
  while (usable(vb) && vb->nslot_free != vb->nslot) {
    virtq_kick(&vb->vq);  // anything queued but unpublished must go out
    wait_for_room(vb);
  }
  // Features can only be renegotiated through a reset (2.2), and the reset
  // is also what lets us free the rings (3.3.1).
  vio_reset(vb->dev);
  fail_outstanding(vb);  // only after a device death; normally nothing
  release_memory(vb);
  r = setup(vb, lim);
  // Let the requests that waited in start_req go, to the new set-up (or
  // to a dead device, which fails them).
  vb->draining = 0;
  vos_wakeup(&vb->nslot_free);
  vos_unlock(&vb->lock);
  run_callbacks(vb);
  return r;
}

// =====================================================================
// Part 3: many requests in flight (the asynchronous API)
// =====================================================================
//
// A caller's vblk_req may be bigger than one device request may carry:
// more segments than seg_max, segments longer than size_max, more bytes
// than max_bytes. issue() cuts it into device requests ("parts") and puts
// them all on the queue, sleeping for slots and descriptors when the queue
// is full; the request is done when its last part completes. Nothing is
// published until vblk_kick (or a wait, or a full queue), so a batch of
// requests costs one notification.

// Checks that need no device. Called with vb->lock held. Most rules here
// are ones the spec puts on the driver (5.2.6.1), the others the API's;
// a request that breaks one is refused before the device sees it.
static int bad_request(struct vblk *vb, struct vblk_req *r)
{
  uint64_t total = 0, nsect;
  int i;

  // A flush has no data and no sector (5.2.6.1).
  if (r->type == VBLK_FLUSH)
    return 0;
  if (r->type != VBLK_READ && r->type != VBLK_WRITE)
    return 1;
  if (r->nseg < 1 || r->nseg > VBLK_MAX_SEGS)
    return 1;
  for (i = 0; i < r->nseg; i++) {
    if (r->seg[i].addr == 0 || r->seg[i].len == 0)
      return 1;
    total += r->seg[i].len;  // at most 64 lengths below 2^32: no overflow
  }
  if (total % SECTOR != 0)
    return 1;  // 5.2.6.1: data is a multiple of 512 bytes
  nsect = total / SECTOR;
  // Written so that nothing can overflow: sector + nsect could wrap past
  // 2^64 for a sector near the top and slip under the capacity.
  if (nsect > vb->capacity || r->sector > vb->capacity - nsect)
    return 1;  // 5.2.6.1: never read or write beyond capacity
  if (r->type == VBLK_WRITE && vb->readonly)
    return 1;  // 5.2.5: writes to a VIRTIO_BLK_F_RO device fail
  return 0;
}

// Where issue() is in the caller's request, and where the device request
// it is building would end.
struct cursor {
  int seg;           // caller segment ...
  uint32_t off;      // ... and byte offset in it
  uint64_t sector;   // the sector at that point
};

// The data pieces of r's next device request, starting at *at: the
// caller's segments, cut into pieces of at most size_max bytes, at most
// seg_max pieces and max_bytes bytes in all, and cut only where a whole
// number of sectors has been covered. Fills vb->chain[1..n] and returns n
// (> 0) with *end where the request ends; 0 when r has been issued
// completely; -1 when the device's limits leave no way forward (size_max
// so small that seg_max pieces do not cover a sector).
static int next_cut(struct vblk *vb, struct vblk_req *r, const struct cursor *at,
                    struct cursor *end)
{
  int seg = at->seg, n = 0, best = 0;
  uint32_t off = at->off, bytes = 0;
  int dev_writes = r->type == VBLK_READ;

  // Add pieces while the request may grow: another descriptor allowed
  // (seg_max), bytes left under max_bytes, caller segments left.
  while (seg < r->nseg && n < (int)vb->seg_max && bytes < vb->max_bytes) {
    // The rest of this caller segment, cut to what one descriptor may
    // carry and to what the request still has room for.
    uint32_t piece = r->seg[seg].len - off;
    if (piece > vb->size_max)
      piece = vb->size_max;
    if (piece > vb->max_bytes - bytes)
      piece = vb->max_bytes - bytes;
    // chain[0] is kept for the header: data pieces start at chain[1].
    vb->chain[1 + n].addr = (uint8_t *)r->seg[seg].addr + off;
    vb->chain[1 + n].len = piece;
    vb->chain[1 + n].device_writes = dev_writes;
    n++;
    bytes += piece;
    off += piece;
    if (off == r->seg[seg].len) {
      seg++;
      off = 0;
    }
    // A request may only end on a sector boundary; remember the last
    // place where it could.
    if (bytes % SECTOR == 0) {
      best = n;
      end->seg = seg;
      end->off = off;
      end->sector = at->sector + bytes / SECTOR;
    }
  }
  // Pieces after the last sector boundary are dropped here and cut again
  // as the start of the next request.
  if (n == 0)
    return 0;
  return best > 0 ? best : -1;
}

// Build the whole chain of r's next device request in vb->chain: header,
// data pieces, status. Returns its length, 0 if r is fully issued, -1 if
// it cannot be split (see next_cut).
static int build_chain(struct vblk *vb, struct vblk_req *r, const struct cursor *at,
                       struct cursor *end)
{
  int n;

  if (r->type == VBLK_FLUSH) {
    // A flush is one device request; seg 1 marks it as sent.
    if (at->seg > 0)
      return 0;
    n = 0;  // 5.2.6.1: a flush carries no data, only header + status
    end->seg = 1;
    end->off = 0;
    end->sector = 0;
  } else {
    n = next_cut(vb, r, at, end);
    if (n <= 0)
      return n;
  }
  // The header and status descriptors around the data. Their addresses
  // depend on the slot, which add_part picks.
  vb->chain[0].len = sizeof(struct virtio_blk_req_hdr);
  vb->chain[0].device_writes = 0;
  vb->chain[n + 1].len = 1;
  vb->chain[n + 1].device_writes = 1;
  return n + 2;
}

// Put the chain in vb->chain (length n) for r, starting at sector, in a
// free slot and on the queue. 0 or -1.
static int add_part(struct vblk *vb, struct vblk_req *r, int n, uint64_t sector)
{
  int slot = slot_alloc(vb, r);  // issue() checked nslot_free
  int err;

  // As in vblk_rw: the slot's header and status byte close the chain, and
  // the header's address is the token.
  fill_header(vb, slot, r->type, sector);
  vb->chain[0].addr = &vb->dma[slot].hdr;
  vb->chain[n - 1].addr = &vb->dma[slot].status;
  err = virtq_add(&vb->vq, vb->chain, n, &vb->dma[slot]);
  // issue() checked for room, so FULL cannot happen; BROKEN means the
  // device is done for; INVAL would be a bug in the cutting above.
  if (err != VIRTQ_OK) {
    slot_free(vb, slot);
    if (err == VIRTQ_ERR_BROKEN)
      fail_locked(vb, "request queue broken");
    else
      vos_log("virtio-blk: virtq_add refused a request (%d)\n", err);
    return -1;
  }
  r->drv.parts++;
  return 0;
}

// Issue every device request of r, sleeping for slots and descriptors as
// needed. r->drv.parts holds one extra count while we are at it, so r
// cannot finish (by completions that arrive while we sleep) before it is
// all out.
static void issue(struct vblk *vb, struct vblk_req *r)
{
  struct cursor at = { 0, 0, r->sector }, end;
  int n;

  r->drv.parts = 1;
  if (r->type == VBLK_FLUSH && !vb->has_flush)
    at.seg = 1;  // nothing to send: see vblk_flush
  // One device request per turn, until build_chain says r is all out.
  for (;;) {
    if (!usable(vb)) {
      r->drv.failed = 1;
      break;
    }
    n = build_chain(vb, r, &at, &end);
    if (n == 0)
      break;
    if (n < 0) {
      vos_log("virtio-blk: device limits (seg_max %u, size_max %u) cannot carry a sector\n",
              (unsigned)vb->seg_max, (unsigned)vb->size_max);
      r->drv.failed = 1;
      break;
    }
    if (vb->nslot_free == 0 || !virtq_room(&vb->vq, n)) {
      // Full. Whatever we queued must reach the device, or nothing will
      // ever free up. The chain is rebuilt after the sleep: another
      // caller may have used vb->chain meanwhile.
      virtq_kick(&vb->vq);
      wait_for_room(vb);
      continue;
    }
    if (add_part(vb, r, n, at.sector) < 0) {
      r->drv.failed = 1;
      break;
    }
    at = end;
  }
  // Drop the extra count. If every part has completed already (or none
  // was sent), r finishes here; otherwise the last completion finishes it.
  if (--r->drv.parts == 0)
    finish_req(vb, r);
}

// Queue r without publishing it: the caller adds more and then calls
// vblk_kick once, so a batch costs one barrier pair and at most one
// notification. (issue() still kicks if the queue fills up.)
int vblk_submit_nokick(struct vblk *vb, struct vblk_req *r)
{
  int ret = -1;

  vos_lock(&vb->lock);
  if (start_req(vb, r) == 0) {
    issue(vb, r);
    ret = 0;
  }
  vos_unlock(&vb->lock);
  // r may have finished already (a flush with nothing to do, a device
  // that died): its callback runs now, outside the lock.
  run_callbacks(vb);
  return ret;
}

// vblk_submit_nokick and vblk_kick in one: queue r and publish it at once.
int vblk_submit(struct vblk *vb, struct vblk_req *r)
{
  int ret = -1;

  vos_lock(&vb->lock);
  if (start_req(vb, r) == 0) {
    issue(vb, r);
    ret = 0;
    if (usable(vb))
      virtq_kick(&vb->vq);
  }
  vos_unlock(&vb->lock);
  run_callbacks(vb);
  return ret;
}

// Publish everything queued since the last kick (virtq_kick notifies the
// device only if it is waiting for it).
void vblk_kick(struct vblk *vb)
{
  vos_lock(&vb->lock);
  if (usable(vb))
    virtq_kick(&vb->vq);
  vos_unlock(&vb->lock);
}

int vblk_wait(struct vblk *vb, struct vblk_req *r)
{
  int status;

  vos_lock(&vb->lock);
  // A request queued with vblk_submit_nokick and never kicked would never
  // finish: publish it (virtq_kick does nothing if there is nothing new).
  if (!r->done && usable(vb))
    virtq_kick(&vb->vq);
  // vblk_intr (or fail_locked, or run_callbacks) sets done and wakes us.
  // Loop: a wakeup may be meant for someone else.
  while (!r->done) {
    r->drv.waiting = 1;
    vos_sleep(r, &vb->lock);
  }
  r->drv.waiting = 0;
  status = r->status;
  vos_unlock(&vb->lock);
  return status;
}

// vblk_flush without VIRTIO_BLK_F_FLUSH returns 0 without asking the
// device, and that is correct (5.2.6.2): if the device offered FLUSH and
// we did not accept it (the limits left it out), every write is stable
// when it completes; if the device did not offer it, it has no write
// cache the driver can flush, and there is no command that could make a
// completed write any safer than the device already makes it.
int vblk_flush(struct vblk *vb)
{
  struct vblk_req r;

  r.type = VBLK_FLUSH;
  r.sector = 0;
  r.nseg = 0;
  r.complete = 0;
  r.arg = 0;
  if (vblk_submit(vb, &r) < 0)
    return -1;
  return vblk_wait(vb, &r);
}

// Run the callbacks of finished requests, without vb->lock: a callback may
// take its own locks and wake others. `done` is set only after the
// callback returned, so a vblk_wait on the same request cannot return
// (and its caller reuse the request) while the callback still runs.
static void run_callbacks(struct vblk *vb)
{
  struct vblk_req *r;

  // One request per turn of the loop, the lock taken only to unlink it:
  // a callback may run for a while, and completions must go on meanwhile.
  for (;;) {
    vos_lock(&vb->lock);
    r = vb->cb_head;
    if (r) {
      vb->cb_head = r->drv.cb_next;
      if (vb->cb_head == 0)
        vb->cb_tail = 0;
    }
    vos_unlock(&vb->lock);
    if (r == 0)
      return;
    r->complete(r);
    vos_lock(&vb->lock);
    mark_done(r);
    vos_unlock(&vb->lock);
  }
}

// =====================================================================
// Part 4: giving up, statistics, shutdown
// =====================================================================

// Fail every device request the device still holds. Only after a reset: a
// device that is still running could yet write into buffers we are about
// to hand back to their owners.
static void fail_outstanding(struct vblk *vb)
{
  void *token;

  // Each drained chain is one device request: fail it like a completion
  // with a bad status, so its caller's request finishes with -1.
  while (virtq_drain(&vb->vq, &token) == 1)
    part_done(vb, token_slot(vb, token), 0);
}

// Give up on the device. Called with vb->lock held.
static void fail_locked(struct vblk *vb, const char *why)
{
  struct virtq *q = &vb->vq;

  if (vb->dead)
    return;
  vb->dead = 1;
  // Reset (the device stops using our memory) and FAILED (2.1), then
  // every request still out fails, and callers waiting for a slot must
  // wake up to see `dead`.
  vio_give_up(vb->dev, "virtio-blk", why, &q, 1);
  fail_outstanding(vb);
  vos_wakeup(&vb->nslot_free);
}

// The platform's way to give up (a timeout), taking the lock itself.
// Only a device that was set up has anything to fail.
void vblk_fail(struct vblk *vb, const char *why)
{
  vos_lock(&vb->lock);
  if (vb->ready)
    fail_locked(vb, why);
  vos_unlock(&vb->lock);
  run_callbacks(vb);
}

// The end of the driver: reset first, so the device lets go of our memory,
// then fail what it still held and free the rings and slots. No FAILED:
// nothing went wrong, and the next driver may set the device up again.
void vblk_shutdown(struct vblk *vb)
{
  vos_lock(&vb->lock);
  if (vb->ready) {
    vio_reset(vb->dev);
    fail_outstanding(vb);
    release_memory(vb);
    vb->ready = 0;
    vb->dead = 1;
  }
  vos_unlock(&vb->lock);
  run_callbacks(vb);
}

uint64_t vblk_capacity(struct vblk *vb)
{
  uint64_t cap;

  // Under the lock: on a 32-bit CPU a 64-bit load is two loads and could
  // see half of a concurrent update from config_changed.
  vos_lock(&vb->lock);
  cap = vb->capacity;
  vos_unlock(&vb->lock);
  return cap;
}

// Read-only and the block size are decided at set-up and only change in
// vblk_reinit, so a plain read is enough.
int vblk_readonly(struct vblk *vb)
{
  return vb->readonly;
}

uint32_t vblk_block_size(struct vblk *vb)
{
  return vb->blk_size;
}

// A snapshot under the lock, so the numbers belong together: the queue's
// counters (device requests) next to ours (caller requests), and what the
// set-up decided. A queue that is not set up reports no features.
void vblk_get_stats(struct vblk *vb, struct vblk_stats *st)
{
  struct virtq_stats *q = &vb->vq.stats;

  vos_lock(&vb->lock);
  st->requests = q->added;
  st->indirect = q->indirect;
  st->kicks = q->kicks;
  st->notifies = q->notifies;
  st->interrupts = q->interrupts;
  st->completions = q->completions;
  st->rechecks = q->rechecks;
  st->reads = vb->reads;
  st->writes = vb->writes;
  st->flushes = vb->flushes;
  st->errors = vb->errors;
  st->event_idx = vb->ready && vb->vq.event_idx;
  st->indirect_desc = vb->ready && vb->vq.itab_count > 0;
  st->flush = vb->has_flush;
  st->seg_max = vb->seg_max;
  st->size_max = vb->size_max;
  st->max_bytes = vb->max_bytes;
  st->queue_size = vb->ready ? vb->vq.size : 0;
  st->nslot = vb->nslot;
  vos_unlock(&vb->lock);
}

// The driver's counters and then the queue's, for a test's log.
void vblk_log_stats(struct vblk *vb)
{
  vos_log("virtio-blk: %u reads, %u writes, %u flushes, %u errors%s\n",
          (unsigned)vb->reads, (unsigned)vb->writes, (unsigned)vb->flushes,
          (unsigned)vb->errors, vb->dead ? ", device dead" : "");
  virtq_log_stats(&vb->vq, "virtio-blk");
}
