// virtio_blk.c: the virtio block driver. Turns "read/write len bytes at
// sector s" into a three-part descriptor chain, sleeps until the device
// finishes it, and reports the device's status byte as 0 or -1.
//
// Follows virtio 1.2 section 5.2 (Block Device):
//   5.2.3  feature bits: we accept VIRTIO_BLK_F_RO and VIRTIO_BLK_F_BLK_SIZE;
//          not FLUSH, because we never send VIRTIO_BLK_T_FLUSH (5.2.5.1), and
//          without it the device must not keep writes in a volatile cache
//   5.2.4  configuration layout: capacity, blk_size
//   5.2.5  device initialization, 5.2.6 device operation (requests, status)
// and section 3.1.1 for the order of the initialization steps.
//
// See it run: `make -C tests/host check` (blk_* tests: round trips,
// concurrent requests completed out of order, a read-only disk, and a
// device that misbehaves in every way we check for), or `make qemu`.
//
// Concurrency: many processes (on many harts) may be in vblk_rw at once.
// Each takes a free "slot" (its request header and status byte, in DMA
// memory), queues its chain and sleeps on its own waiter; vblk_intr, from
// the interrupt, completes whichever requests the device finished, in
// whatever order, frees their slots and wakes exactly their owners.
// Everything is protected by vb->lock, which vos_sleep releases while a
// caller sleeps.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"
#include "virtio_blk.h"

// A caller of vblk_rw waiting for its request. It lives on that caller's
// stack and is the request's virtqueue token. Only the CPU touches it (the
// interrupt handler writes the result), never the device, so a kernel
// stack is fine here.
struct vblk_waiter {
  int slot;    // which vb->dma entry holds our header and status
  int done;    // set (under vb->lock) when the result is final
  int result;  // 0 or -1
};

// The status byte starts as a value the device never writes, so a device
// that "completes" a request without writing its status is caught.
#define VBLK_STATUS_UNSET 0xff

static int slot_alloc(struct vblk *vb, struct vblk_waiter *w)
{
  int i;

  for (i = 0; i < vb->nslot; i++) {
    if (vb->slot_owner[i] == 0) {
      vb->slot_owner[i] = w;
      vb->nslot_free--;
      return i;
    }
  }
  return -1;  // callers check nslot_free first; never reached
}

static void slot_free(struct vblk *vb, int slot)
{
  vb->slot_owner[slot] = 0;
  vb->nslot_free++;
  vos_wakeup(&vb->nslot_free);  // someone may be waiting for a slot
}

// Record a request's outcome and wake its caller.
static void finish(struct vblk *vb, struct vblk_waiter *w, int result)
{
  slot_free(vb, w->slot);
  w->result = result;
  w->done = 1;
  vos_wakeup(w);
}

// Fail every request the device still holds. Only after a reset: a
// device that is still running could yet write into buffers we are about
// to hand back to their owners.
static void fail_outstanding(struct vblk *vb)
{
  void *token;

  while (virtq_drain(&vb->vq, &token) == 1)
    finish(vb, (struct vblk_waiter *)token, -1);
}

// Give up on the device. Called with vb->lock held.
static void fail_locked(struct vblk *vb, const char *why)
{
  if (vb->dead)
    return;
  vos_log("virtio-blk: giving up on the device: %s\n", why);
  vb->dead = 1;
  vb->errors++;
  virtq_mark_broken(&vb->vq, why);
  // Reset first so the device stops using the rings and our buffers, then
  // FAILED to record that the driver has given up (2.1).
  vio_reset(vb->dev);
  vio_fail(vb->dev);
  fail_outstanding(vb);
  vos_wakeup(&vb->nslot_free);  // callers waiting for a slot must see `dead`
}

static int init_fail(struct vblk *vb, const char *why)
{
  vos_log("virtio-blk %p: %s\n", (void *)vb->dev->base, why);
  // The queue may already be live: stop the device before freeing memory.
  vio_reset(vb->dev);
  vio_fail(vb->dev);
  virtq_destroy(&vb->vq);
  if (vb->dma)
    vos_dma_free(vb->dma, (size_t)vb->nslot * sizeof(struct vblk_dma));
  vb->dma = 0;
  return -1;
}

int vblk_init(struct vblk *vb, struct vio_dev *d)
{
  uint64_t wanted;
  int i;

  vb->dev = d;
  vos_lock_init(&vb->lock, "vblk");
  vb->ready = 0;
  vb->dead = 0;
  vb->readonly = 0;
  vb->capacity = 0;
  vb->blk_size = VIRTIO_BLK_SECTOR_SIZE;
  vb->nslot = 0;
  vb->nslot_free = 0;
  vb->dma = 0;
  vb->vq.mem = 0;
  vb->reads = vb->writes = vb->errors = 0;
  for (i = 0; i < VBLK_NSLOT; i++)
    vb->slot_owner[i] = 0;

  if (d->device_id != VIRTIO_ID_BLOCK) {
    // Not ours: leave the device alone rather than mark it FAILED.
    vos_log("virtio-blk %p: device type %u is not a block device\n",
            (void *)d->base, (unsigned)d->device_id);
    return -1;
  }

  // 3.1.1 steps 1-6.
  wanted = ((uint64_t)1 << VIRTIO_BLK_F_RO) | ((uint64_t)1 << VIRTIO_BLK_F_BLK_SIZE);
  if (vio_negotiate(d, wanted) < 0)
    return -1;  // logged, FAILED set
  vb->readonly = vio_has_feature(d, VIRTIO_BLK_F_RO);

  // Step 7: device-specific setup. capacity is always there (5.2.4);
  // blk_size only if its feature was negotiated.
  vb->capacity = vio_config_read64(d, VIRTIO_BLK_CFG_CAPACITY);
  if (vio_has_feature(d, VIRTIO_BLK_F_BLK_SIZE))
    vb->blk_size = vio_config_read32(d, VIRTIO_BLK_CFG_BLK_SIZE);

  if (virtq_init(&vb->vq, d, 0, VBLK_QUEUE_SIZE) < 0)
    return init_fail(vb, "no usable request queue");
  vb->nslot = vb->vq.size / 3;
  if (vb->nslot > VBLK_NSLOT)
    vb->nslot = VBLK_NSLOT;
  if (vb->nslot == 0)
    return init_fail(vb, "request queue too small for a 3-descriptor request");
  vb->dma = vos_dma_alloc((size_t)vb->nslot * sizeof(struct vblk_dma));
  if (vb->dma == 0)
    return init_fail(vb, "no memory for request headers");
  vb->nslot_free = vb->nslot;

  // Step 8: from here on the device may process requests.
  vio_driver_ok(d);
  vb->ready = 1;
  vos_log("virtio-blk %p: %llu sectors (%llu KiB)%s, %s transport, queue %u, "
          "%d requests in flight\n", (void *)d->base,
          (unsigned long long)vb->capacity, (unsigned long long)(vb->capacity / 2),
          vb->readonly ? ", read-only" : "", d->version == 1 ? "legacy" : "modern",
          (unsigned)vb->vq.size, vb->nslot);
  return 0;
}

// Sleep until a slot is free or the device is dead. Returns the slot or -1.
static int wait_for_slot(struct vblk *vb, struct vblk_waiter *w)
{
  while (vb->nslot_free == 0 && !vb->dead)
    vos_sleep(&vb->nslot_free, &vb->lock);
  if (vb->dead)
    return -1;
  return slot_alloc(vb, w);
}

// Checks that need no device. Called with vb->lock held.
static int bad_request(struct vblk *vb, int write, uint64_t sector, void *buf, uint32_t len)
{
  uint64_t nsect = len / VIRTIO_BLK_SECTOR_SIZE;

  if (buf == 0 || len == 0 || len % VIRTIO_BLK_SECTOR_SIZE != 0)
    return 1;  // 5.2.6.1: data must be a multiple of 512 bytes
  if (nsect > vb->capacity || sector > vb->capacity - nsect)
    return 1;  // 5.2.6.1: never read or write beyond capacity
  if (write && vb->readonly)
    return 1;  // 5.2.5: writes to a VIRTIO_BLK_F_RO device fail
  return 0;
}

int vblk_rw(struct vblk *vb, int write, uint64_t sector, void *buf, uint32_t len)
{
  struct vblk_waiter w;
  struct vblk_dma *req;
  struct virtq_buf chain[3];
  int err;

  vos_lock(&vb->lock);
  if (!vb->ready || vb->dead || bad_request(vb, write, sector, buf, len)) {
    vb->errors++;
    vos_unlock(&vb->lock);
    return -1;
  }
  w.done = 0;
  w.result = -1;
  w.slot = wait_for_slot(vb, &w);
  if (w.slot < 0) {
    vb->errors++;
    vos_unlock(&vb->lock);
    return -1;
  }

  req = &vb->dma[w.slot];
  req->hdr.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
  req->hdr.reserved = 0;
  req->hdr.sector = sector;
  req->status = VBLK_STATUS_UNSET;

  // 5.2.6: header (device reads), data (device writes it for a read),
  // status (device writes).
  chain[0].addr = &req->hdr;
  chain[0].len = sizeof(req->hdr);
  chain[0].device_writes = 0;
  chain[1].addr = buf;
  chain[1].len = len;
  chain[1].device_writes = !write;
  chain[2].addr = &req->status;
  chain[2].len = 1;
  chain[2].device_writes = 1;

  // A free slot means three free descriptors (nslot <= size / 3), so this
  // only fails on a broken queue.
  err = virtq_add(&vb->vq, chain, 3, &w);
  if (err != VIRTQ_OK) {
    slot_free(vb, w.slot);
    if (err == VIRTQ_ERR_BROKEN)
      fail_locked(vb, "request queue broken");
    vb->errors++;
    vos_unlock(&vb->lock);
    return -1;
  }
  virtq_kick(&vb->vq);

  // vblk_intr (or fail_locked) sets w.done and wakes us. Loop: a wakeup
  // may be meant for someone else.
  while (!w.done)
    vos_sleep(&w, &vb->lock);

  if (w.result == 0) {
    if (write)
      vb->writes++;
    else
      vb->reads++;
  } else {
    vb->errors++;
  }
  vos_unlock(&vb->lock);
  return w.result;
}

// Turn the status byte of a finished request into 0 or -1.
static int request_result(struct vblk *vb, struct vblk_waiter *w)
{
  // virtq_get's barrier ordered this read after the device's write.
  uint8_t status = *(volatile uint8_t *)&vb->dma[w->slot].status;
  struct virtio_blk_req_hdr *h = &vb->dma[w->slot].hdr;

  if (status == VIRTIO_BLK_S_OK)
    return 0;
  vos_log("virtio-blk: %s of sector %llu failed: %s (status %u)\n",
          h->type == VIRTIO_BLK_T_OUT ? "write" : "read",
          (unsigned long long)h->sector,
          status == VIRTIO_BLK_S_IOERR ? "I/O error" :
          status == VIRTIO_BLK_S_UNSUPP ? "unsupported" : "unknown status",
          (unsigned)status);
  return -1;
}

// Configuration change notification: the capacity may have changed
// (5.2.6.1), or the device may be telling us it needs a reset (2.1.2).
static void config_changed(struct vblk *vb)
{
  uint64_t cap;

  if (vio_get_status(vb->dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
    fail_locked(vb, "device set DEVICE_NEEDS_RESET");
    return;
  }
  cap = vio_config_read64(vb->dev, VIRTIO_BLK_CFG_CAPACITY);
  if (cap != vb->capacity) {
    vos_log("virtio-blk: capacity changed from %llu to %llu sectors\n",
            (unsigned long long)vb->capacity, (unsigned long long)cap);
    vb->capacity = cap;
  }
}

void vblk_intr(struct vblk *vb)
{
  uint32_t why;
  void *token;
  uint32_t len;
  int r;

  vos_lock(&vb->lock);
  // Acknowledge BEFORE reaping. A completion the device posts after our
  // last look at the used ring raises InterruptStatus again, so it gets an
  // interrupt of its own. Acking after reaping could clear the bit of a
  // completion we never saw, and its caller would sleep forever. The
  // price is an occasional interrupt that finds nothing to do.
  why = vio_intr_ack(vb->dev);
  if (!vb->ready || vb->dead) {
    vos_unlock(&vb->lock);
    return;
  }
  virtq_count_intr(&vb->vq);
  if (why & VIRTIO_MMIO_INT_CONFIG)
    config_changed(vb);

  // Reap until the used ring is really empty, not just the entries that
  // were there when the interrupt fired: everything the device finished
  // before our acknowledgement was announced only by the interrupt we just
  // acknowledged, so nobody else is going to come for it.
  while ((r = virtq_get(&vb->vq, &token, &len)) == 1) {
    struct vblk_waiter *w = (struct vblk_waiter *)token;
    finish(vb, w, request_result(vb, w));
  }
  if (r < 0)
    fail_locked(vb, "bad entry in the used ring");
  vos_unlock(&vb->lock);
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

int vblk_readonly(struct vblk *vb)
{
  return vb->readonly;
}

void vblk_fail(struct vblk *vb, const char *why)
{
  vos_lock(&vb->lock);
  if (vb->ready)
    fail_locked(vb, why);
  vos_unlock(&vb->lock);
}

void vblk_shutdown(struct vblk *vb)
{
  vos_lock(&vb->lock);
  if (vb->ready) {
    vio_reset(vb->dev);
    fail_outstanding(vb);
    virtq_destroy(&vb->vq);
    vos_dma_free(vb->dma, (size_t)vb->nslot * sizeof(struct vblk_dma));
    vb->dma = 0;
    vb->ready = 0;
    vb->dead = 1;
  }
  vos_unlock(&vb->lock);
}

void vblk_log_stats(struct vblk *vb)
{
  vos_log("virtio-blk: %u reads, %u writes, %u errors%s\n", (unsigned)vb->reads,
          (unsigned)vb->writes, (unsigned)vb->errors, vb->dead ? ", device dead" : "");
  virtq_log_stats(&vb->vq, "virtio-blk");
}
