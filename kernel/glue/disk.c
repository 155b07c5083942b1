// disk.c: the root disk. The file system's block requests (kernel/disk.h,
// in blocks and cache buffers) become requests of the portable virtio-blk
// driver (virtio/virtio_blk.h, in sectors and DMA segments) here, and
// nowhere else.
//
// The plain path is disk_rw: one cache buffer, blocking. It is the first
// stop after the buffer cache when a block is not cached:
//   bread (bio.c) -> disk_rw -> vblk_rw (virtio_blk.c) -> virtq_add,
//   virtq_kick (virtq.c) -> vio_notify (virtio_transport.c) ... the interrupt:
//   virtio_irq (vdev.c) -> disk_intr -> vblk_intr -> the reader wakes up.
// The fast paths (bio_fast.c) use struct disk_req: each one travels in a
// driver request (a "carrier") from a pool kept here.
//
// The tuning (kernel/disk.h) says how hard the file system drives the
// disk. The kernel runs with the fast set below; the benchmarks switch to
// the classic one (bench/kblkbench.c) with disk_retune, which also hands
// the driver the matching limits.
//
// Follows virtio 1.2 section 5.2.6 through the driver (sectors are always
// 512 bytes, whatever the file system's block size).
//
// See it run: `make qemu`; `lsdev -v` shows the disk's counters.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "buf.h"
#include "defs.h"
#include "disk.h"
#include "virtio_blk.h"
#include "virtq_trace.h"

#define SECTORS_PER_BLOCK (BSIZE / VIRTIO_BLK_SECTOR_SIZE)

_Static_assert(DISK_MAX_SEGS == VBLK_MAX_SEGS, "a disk_req must fit one driver request");

// The fast design: read-ahead, direct reads, group commit. The driver gets
// VBLK_LIMITS_FULL (every optional feature the device offers, 32 requests
// in flight, any size).
struct disk_tuning disk_tuning = {
  .prefetch = 256,              // blocks one breadahead call may start
  .readahead = 256,             // 256 KB ahead of a sequential reader
  .direct_min = 64 * 1024,      // reads of 64 KB and up go straight to the reader
  .commit_ticks = 10,           // a transaction commits within 1 s (ticks are 100 ms)
};

static struct vblk disk;        // the driver's state for the root disk
static int attached;

// ---- the plain path ----

int
disk_rw(struct buf *b, int write)
{
  // Block b->blockno spans SECTORS_PER_BLOCK sectors. b->data sits in the
  // buffer cache's static array, which the kernel maps one to one, so the
  // device can be given its address as it is.
  return vblk_rw(&disk, write, (uint64)b->blockno * SECTORS_PER_BLOCK, b->data, BSIZE);
}

// The PLIC said the disk's slot interrupted (vdev.c virtio_irq).
void
disk_intr(void)
{
  vblk_intr(&disk);
}

// ---- the fast paths: requests carried by driver requests ----

#define NCARRIER 96   // read-ahead (32) + one batched transfer (32) + blkbench (32)

struct carrier {
  struct vblk_req vr;          // what the driver sees
  struct disk_req *r;          // what it carries
  int busy;                    // handed out (carriers.lock)
};

static struct {
  struct spinlock lock;
  struct carrier c[NCARRIER];
  int waiters;                 // processes sleeping for a free carrier
} carriers;

// A carrier is free when it is not handed out AND the driver has set its
// request's `done`: the driver still touches the request right after the
// callback we gave it returns. Once it has set done it only reads the
// request's fields under its own lock, which our next submit takes too.
static struct carrier *
carrier_get(void)
{
  acquire(&carriers.lock);
  for(;;){
    int finishing = 0;
    for(int i = 0; i < NCARRIER; i++){
      struct carrier *c = &carriers.c[i];
      if(!c->busy && c->vr.done){
        c->busy = 1;
        release(&carriers.lock);
        return c;
      }
      if(!c->busy)
        finishing = 1;
    }
    if(finishing){
      // A carrier was handed back (carried) but the driver, on another
      // hart, has not set its `done` yet: a few instructions more, unless
      // that process lost its hart right there. That sends no wakeup, so
      // do not sleep: give up the hart for a moment and look again.
      release(&carriers.lock);
      yield();
      acquire(&carriers.lock);
      continue;
    }
    // All in flight: each one finishes without our help, and carried()
    // wakes us.
    carriers.waiters++;
    sleep(&carriers, &carriers.lock);
    carriers.waiters--;
  }
}

static void
carrier_put(struct carrier *c)
{
  acquire(&carriers.lock);
  c->busy = 0;
  if(carriers.waiters > 0)
    wakeup(&carriers);
  release(&carriers.lock);
}

// A request with a callback is over: the driver calls this from its
// interrupt handler (or from vblk_submit if it finishes there), with no
// driver lock held; nothing here sleeps. The carrier goes back now; it
// is reused only once the driver has set its `done` (carrier_get).
static void
carried(struct vblk_req *vr)
{
  struct carrier *c = vr->arg;
  struct disk_req *r = c->r;

  r->status = vr->status;
  carrier_put(c);
  r->done = 1;
  r->callback(r);
}

// Queue r without notifying the device (disk_kick does, for a whole
// batch; disk_wait and a full queue do too). May sleep for room. Returns
// 0, or -1 if the driver refused it at once (then r is done with status
// -1, and its callback has not been called).
int
disk_submit(struct disk_req *r)
{
  struct carrier *c = carrier_get();

  r->done = 0;
  r->status = -1;
  r->carrier = c;
  c->r = r;
  c->vr.type = r->write ? VBLK_WRITE : VBLK_READ;
  c->vr.sector = r->sector;
  c->vr.nseg = r->nseg;
  for(int i = 0; i < r->nseg && i < VBLK_MAX_SEGS; i++){
    c->vr.seg[i].addr = r->seg[i].data;
    c->vr.seg[i].len = r->seg[i].len;
  }
  // A request without a callback needs none from the driver either:
  // disk_wait waits on the driver's request itself, and the driver wakes
  // the sleeper straight from its interrupt handler (only if someone
  // sleeps). That is the path of every big transfer, so it has no more
  // steps than the driver's own API.
  c->vr.complete = r->callback ? carried : 0;
  c->vr.arg = c;
  if(vblk_submit_nokick(&disk, &c->vr) < 0){
    carrier_put(c);
    r->carrier = 0;
    r->done = 1;
    return -1;
  }
  return 0;
}

void
disk_kick(void)
{
  vblk_kick(&disk);
}

// Wait for a request submitted without a callback (every such request
// must be waited for once: that is when its carrier goes back). vblk_wait
// publishes whatever is still queued, then sleeps until the interrupt
// handler marks the driver's request done.
int
disk_wait(struct disk_req *r)
{
  struct carrier *c = r->carrier;

  if(r->done || c == 0)
    return r->status;        // refused at submit, or waited for already
  r->status = vblk_wait(&disk, &c->vr);
  r->done = 1;
  r->carrier = 0;
  carrier_put(c);
  return r->status;
}

// Has r finished? For a caller that keeps many requests in flight and
// wants to collect, without sleeping, the ones that are over
// (bench/kblkbench.c); it still calls disk_wait for each.
int
disk_finished(struct disk_req *r)
{
  struct carrier *c = r->carrier;

  return r->done || (c != 0 && c->vr.done);
}

int
disk_flush(void)
{
  return vblk_flush(&disk);
}

uint64
disk_capacity(void)
{
  return vblk_capacity(&disk);
}

int
disk_readonly(void)
{
  return vblk_readonly(&disk);
}

// The virtqueue layer took the packed layout for the disk's queue (it
// does whenever the device offered VIRTIO_F_RING_PACKED). For blkbench,
// which shows it next to the figures it measured.
int
disk_packed(void)
{
  return attached && disk.vq.packed;
}

// ---- set-up, re-tuning, counters ----

// Start the driver on the probed device dev (vdev.c): 0, or -1 if it
// failed (the driver said why).
int
disk_attach(struct vio_dev *dev)
{
  initlock(&carriers.lock, "disk carriers");
  for(int i = 0; i < NCARRIER; i++)
    carriers.c[i].vr.done = 1;       // never submitted: free
  if(vblk_init(&disk, dev, &VBLK_LIMITS_FULL) < 0)
    return -1;
  // The file system reads and writes whole BSIZE blocks at BSIZE
  // boundaries. A device with bigger blocks of its own (QEMU's
  // logical_block_size=4096) fails such requests, although the spec calls
  // its block size a hint: refuse it now, with its name, rather than
  // let the first read of the superblock fail.
  uint32 bs = vblk_block_size(&disk);
  if(bs > BSIZE){
    printf("disk %p: the device's block size is %d bytes, bigger than the file system's "
           "%d-byte blocks: refusing the disk\n", (void *)dev->base, (int)bs, BSIZE);
    vblk_shutdown(&disk);
    return -1;
  }
  attached = 1;
  return 0;
}

// Drive the disk another way: the driver is re-initialised with limits
// (after the requests in flight finish) and the file system follows
// tuning from its next call on. For the benchmarks. 0, or -1 (no disk, or
// the device failed).
int
disk_retune(const struct vblk_limits *limits, const struct disk_tuning *tuning)
{
  if(!attached)
    return -1;
  if(vblk_reinit(&disk, limits) < 0)
    return -1;
  disk_tuning = *tuning;
  return 0;
}

void
disk_stats(struct vblk_stats *st)
{
  vblk_get_stats(&disk, st);
}

// `lsdev -v`'s four counters (the names are in vdev.c's table).
// /dev/vtrace (vdev.c's table): record the request queue, or stop.
int
disk_trace(struct vtrace *t, int on)
{
  int r = 0;

  if(!attached)
    return -1;
  vos_lock(&disk.lock);
  if(on)
    r = virtq_trace_start(&disk.vq, t, "virtio-blk requestq") < 0 ? -1 : 0;
  else
    virtq_trace_stop(&disk.vq);
  vos_unlock(&disk.lock);
  return r;
}

void
disk_counters(uint64 *v)
{
  struct vblk_stats st;
  vblk_get_stats(&disk, &st);
  v[0] = st.requests;
  v[1] = st.notifies;
  v[2] = st.interrupts;
  v[3] = st.errors;
}
