// bio_fast.c: the buffer cache's fast paths. bio.c alone is a complete
// cache: bread reads one block with one disk request and waits for it.
// What is here makes the disk fast without changing what bread promises:
//
//   bpeek_many     copy cached blocks without taking their sleeplocks: one
//                  hold of the cache's lock for a whole window of blocks
//   breadahead     start reading blocks into the cache without waiting:
//                  runs of consecutive blocks share one request, a whole
//                  batch costs one notification (virtio 1.2 5.2.6: one
//                  request may carry many data descriptors)
//   bio_rw         the log's transfers to and from its own slots: many
//                  blocks per request, many requests in flight, waited for
//   bio_read_direct  a big read straight from the disk into a process's
//                  pages, bypassing the cache (fs_fast.c decides when)
//
// Everything reaches the disk through kernel/glue/disk.c's struct
// disk_req, never through a driver structure. How much of this is used is
// data, not code: disk_tuning (kernel/disk.h). With the classic tuning the
// benchmarks use, breadahead starts nothing and every block comes through
// bread, one at a time.
//
// The rules of bio.c hold here too (its opening comment); in particular a
// read-ahead holds its buffers' sleeplocks until the device is done, so a
// bread of such a block simply sleeps on the lock until the data is there.
// A sleeplock released by an interrupt is unusual but sound: releasesleep
// only takes spinlocks (which disable interrupts) and calls wakeup, which
// the disk interrupt may do.
//
// See it run: `make bench` compares the classic and the fast tuning;
// `usertests directmix` mixes direct reads with cached and read-ahead
// blocks; `lsdev -v` before and after `cat README.md` shows how few
// requests a whole file took.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "buf.h"
#include "defs.h"
#include "disk.h"
#include "bcache.h"

#define SECTORS (BSIZE / 512)    // 512-byte sectors per block

// ---- peeking at cached blocks ----

// The buffer of a cached block whose data is valid, referenced but NOT
// locked; NULL if the block is not cached or not valid (use bread). For
// readers that hold the inode lock of the file the block belongs to: only
// holders of that lock change a file block's bytes, so the lock-free copy
// is safe, and it saves the sleeplock's work on the hottest path there is.
// Once valid and referenced, a buffer stays valid. Release with bunpeek.
struct buf *
bpeek(uint dev, uint blockno)
{
  struct buf *b;
  bpeek_many(dev, &blockno, 1, &b);
  return b;
}

// bpeek for blocks[0..n-1] into out[] (NULL for a 0 entry or a block that
// is not cached and valid), with one hold of the cache's lock for them all:
// a reader of many blocks (readi) pays for the lock once, not per block.
void
bpeek_many(uint dev, const uint *blocks, int n, struct buf **out)
{
  bcache_lock();
  for(int i = 0; i < n; i++){
    struct buf *b = blocks[i] ? bcache_lookup(dev, blocks[i]) : 0;
    // Acquire: the data bytes are read only after valid was seen set (its
    // writers, bread and ra_finish, store it with release order after the
    // data is in place).
    if(b && __atomic_load_n(&b->valid, __ATOMIC_ACQUIRE))
      bcache_ref(b);
    else
      b = 0;
    out[i] = b;
  }
  bcache_unlock();
}

void
bunpeek(struct buf *b)
{
  bunpeek_many(&b, 1);
}

// Release what bpeek_many gave (NULL entries are skipped).
void
bunpeek_many(struct buf **bufs, int n)
{
  bcache_lock();
  for(int i = 0; i < n; i++)
    if(bufs[i])
      bcache_unref(bufs[i]);
  bcache_unlock();
}

// ---- read-ahead ----

// A read-ahead request: the disk request and the buffers it fills, in
// order (segment i is bufs[i]->data).
struct rareq {
  struct disk_req r;
  struct buf *bufs[DISK_MAX_SEGS];
  int nbuf;
  int busy;        // handed out; ra.lock
};

#define NRAREQ 32    // read-ahead requests in flight at most

static struct {
  struct spinlock lock;
  struct rareq req[NRAREQ];
} ra;

// A free read-ahead request, or NULL (then the read-ahead stops early:
// it is only a hint).
static struct rareq *
ra_alloc(void)
{
  struct rareq *q = 0;
  acquire(&ra.lock);
  for(int i = 0; i < NRAREQ; i++){
    if(!ra.req[i].busy){
      q = &ra.req[i];
      q->busy = 1;
      q->nbuf = 0;
      break;
    }
  }
  release(&ra.lock);
  return q;
}

static void
ra_free(struct rareq *q)
{
  acquire(&ra.lock);
  q->busy = 0;
  release(&ra.lock);
}

// The device has finished q (or refused it): hand the buffers over.
static void
ra_finish(struct rareq *q, int ok)
{
  for(int i = 0; i < q->nbuf; i++){
    // A failed read-ahead leaves it invalid for bread to retry. Release
    // order: bpeek_many may read the data without the lock once it sees
    // valid.
    __atomic_store_n(&q->bufs[i]->valid, ok, __ATOMIC_RELEASE);
    releasesleep(&q->bufs[i]->lock);
  }
  bcache_lock();
  for(int i = 0; i < q->nbuf; i++)
    bcache_unref(q->bufs[i]);
  bcache_unlock();
  ra_free(q);
}

// The completion callback: interrupt context (or inside disk_submit). It
// must not sleep; nothing here does.
static void
ra_done(struct disk_req *r)
{
  ra_finish((struct rareq *)r->arg, r->status == 0);
}

static void
ra_submit(struct rareq *q)
{
  q->r.write = 0;
  q->r.sector = (uint64)q->bufs[0]->blockno * SECTORS;
  q->r.nseg = q->nbuf;
  q->r.callback = ra_done;
  q->r.arg = q;
  if(disk_submit(&q->r) < 0)
    ra_finish(q, 0);        // refused (bad block number, dead disk): no callback
}

// Start reading those of blocks[0..n-1] that are not cached (0 entries are
// skipped), at most disk_tuning.prefetch of them. Consecutive block
// numbers share a request. Best effort: stops early when buffers or
// read-ahead requests run out. Returns the number of blocks whose read
// was started.
int
breadahead(uint dev, const uint *blocks, int n)
{
  int started = 0, i = 0, stop = 0;

  if(n > disk_tuning.prefetch)
    n = disk_tuning.prefetch;
  while(i < n && !stop){
    struct rareq *q = ra_alloc();
    if(q == 0)
      break;
    // Claim buffers for the next run of consecutive uncached blocks, with
    // one hold of the cache's lock for the whole run.
    bcache_lock();
    for(; i < n && q->nbuf < DISK_MAX_SEGS; i++){
      uint bno = blocks[i];
      if(bno == 0 || bcache_lookup(dev, bno) != 0){
        if(q->nbuf > 0){
          i++;
          break;              // cached (or being read): the run ends here
        }
        continue;
      }
      if(q->nbuf > 0 && q->bufs[q->nbuf - 1]->blockno + 1 != bno)
        break;                // not consecutive: the next run starts here
      struct buf *b = bcache_recycle(dev, bno);
      if(b == 0){
        stop = 1;             // every buffer is in use
        break;
      }
      // Lock it before releasing the cache's lock: the moment the new
      // identity is visible, a bread of this block must find it locked, or
      // it would read the block itself and our read could later land on
      // top of newer data. A buffer off the free list is held by nobody
      // and waited for by nobody (a waiter holds a reference), and only
      // the cache's lock leads to it: the cheap way in is enough.
      acquiresleep_unreached(&b->lock);
      q->bufs[q->nbuf] = b;
      q->r.seg[q->nbuf].data = b->data;
      q->r.seg[q->nbuf].len = BSIZE;
      q->nbuf++;
    }
    bcache_unlock();
    if(q->nbuf == 0){
      ra_free(q);
      continue;
    }
    started += q->nbuf;
    ra_submit(q);
  }
  if(started > 0)
    disk_kick();              // one notification for the whole batch
  return started;
}

// ---- vectored transfers for the log ----

#define NBATCH 32            // requests of one bio_rw in flight at once

static struct {
  struct sleeplock lock;     // one bio_rw or bio_read_direct at a time owns req[]
  struct disk_req req[NBATCH];
} batch;

void
bio_fast_init(void)
{
  initsleeplock(&batch.lock, "bio batch");
  initlock(&ra.lock, "readahead");
}

// Read (write = 0) or write v[0..n-1]. Entries with consecutive block
// numbers travel in one request (sort v by blockno to get the most out of
// it); up to NBATCH requests are in flight, queued with one notification.
// (With the classic driver limits the driver itself sends each block on
// its own, one at a time.) Returns 0, or -1 if any block failed (all were
// attempted).
int
bio_rw(struct bvec *v, int n, int write)
{
  int err = 0, i = 0;

  acquiresleep(&batch.lock);
  while(i < n){
    int k;
    for(k = 0; k < NBATCH && i < n; k++){
      struct disk_req *r = &batch.req[k];
      r->write = write;
      r->sector = (uint64)v[i].blockno * SECTORS;
      r->nseg = 0;
      r->callback = 0;
      do {
        r->seg[r->nseg].data = v[i].data;
        r->seg[r->nseg].len = BSIZE;
        r->nseg++;
        i++;
      } while(i < n && r->nseg < DISK_MAX_SEGS && v[i].blockno == v[i - 1].blockno + 1);
      disk_submit(r);          // a refusal shows as status -1 below
    }
    disk_kick();
    for(int j = 0; j < k; j++)
      if(disk_wait(&batch.req[j]) < 0)
        err = -1;
  }
  releasesleep(&batch.lock);
  if(err)
    printf("bio: %s error in a batch of %d blocks\n", write ? "write" : "read", n);
  return err;
}

// ---- direct reads ----
//
// Big reads (fs_fast.c: disk_tuning.direct_min bytes or more,
// block-aligned) skip the cache and let the device write straight into
// the reader's pages: no copy, and the device sees requests as big as the
// read. next(arg, v, max) fills v[] with up to max of the next blocks, in
// order, each with the BSIZE bytes of (identity-mapped) memory it goes to;
// it returns how many, 0 when done, -1 to stop with an error. A block that
// is cached (perhaps changed and not yet on disk) is copied from the cache
// instead: the disk may hold an older version. Consecutive blocks whose
// memory is contiguous share a segment, consecutive segments a request of
// at most DREQ bytes, and NBATCH requests are in flight; when all are, the
// older half is waited for. DREQ is where blkbench's raw throughput stops
// growing with request size; without a cap, a reader whose pages happen to
// be physically contiguous would get one huge request that the device
// could not start on until we had built all of it. The caller holds the
// inode lock of the file, so no other process can bring one of these
// blocks into the cache meanwhile. Returns 0 or -1.
#define DWIN 256                 // blocks next() hands over at once: an indirect block's worth
#define DREQ (256 * 1024)        // bytes per request at most (see above)
#define DKICK 4                  // requests published per notification

int
bio_read_direct(uint dev, int (*next)(void *arg, struct bvec *v, int max), void *arg)
{
  int err = 0, oldest = 0, inflight = 0, nsub = 0;
  struct disk_req *cur = 0;
  uint curnext = 0;              // the block that would continue cur
  uint curlen = 0;               // cur's bytes
  // Window buffers: static, since batch.lock makes us the only user (and
  // the kernel stack is one page).
  static struct bvec v[DWIN];
  static uint bno[DWIN];
  static struct buf *cached[DWIN];

  acquiresleep(&batch.lock);
  for(;;){
    int k = next(arg, v, DWIN);
    if(k <= 0){
      if(k < 0)
        err = -1;
      break;
    }
    // The window's cached blocks, referenced with one hold of the cache's
    // lock (bpeek_many; no buffer locks: we hold the file's inode lock).
    // A block that is cached but still being read (read-ahead) is not
    // among them: the disk holds its only version, so we read it too.
    for(int i = 0; i < k; i++)
      bno[i] = v[i].blockno;
    bpeek_many(dev, bno, k, cached);

    for(int i = 0; i < k && !err; i++){
      uchar *addr = v[i].data;
      if(cached[i]){
        memmove(addr, cached[i]->data, BSIZE);
        continue;
      }
      if(cur && bno[i] == curnext && curlen < DREQ){
        struct disk_seg *last = &cur->seg[cur->nseg - 1];
        if((uchar *)last->data + last->len == addr){
          last->len += BSIZE;    // memory contiguous too: same segment
          curnext++;
          curlen += BSIZE;
          continue;
        }
        if(cur->nseg < DISK_MAX_SEGS){
          cur->seg[cur->nseg].data = addr;
          cur->seg[cur->nseg].len = BSIZE;
          cur->nseg++;
          curnext++;
          curlen += BSIZE;
          continue;
        }
      }
      // A new request; first make room for it. The finished one is
      // queued, and published with the first request and then with every
      // DKICK-th: the device starts at once and always has work queued,
      // and we pay for one notification per DKICK requests, not per
      // request (QEMU handles a notification on the guest's own CPU).
      if(cur){
        disk_submit(cur);        // a refusal shows as status -1 when waited for
        if(nsub++ % DKICK == 0)
          disk_kick();
        inflight++;
      }
      if(inflight == NBATCH){
        // Full: wait for the older half, not just the oldest. Each sleep
        // costs two context switches (and under QEMU, TLB refills), and
        // the device still has the younger half queued meanwhile.
        // (disk_wait publishes whatever is still queued before it sleeps.)
        while(inflight > NBATCH / 2){
          if(disk_wait(&batch.req[oldest]) < 0)
            err = -1;
          oldest = (oldest + 1) % NBATCH;
          inflight--;
        }
      }
      cur = &batch.req[(oldest + inflight) % NBATCH];
      cur->write = 0;
      cur->sector = (uint64)bno[i] * SECTORS;
      cur->nseg = 1;
      cur->seg[0].data = addr;
      cur->seg[0].len = BSIZE;
      cur->callback = 0;
      curnext = bno[i] + 1;
      curlen = BSIZE;
    }
    bunpeek_many(cached, k);
    if(err)
      break;
  }
  if(cur){
    disk_submit(cur);
    inflight++;
  }
  disk_kick();
  for(; inflight > 0; inflight--){
    if(disk_wait(&batch.req[oldest]) < 0)
      err = -1;
    oldest = (oldest + 1) % NBATCH;
  }
  releasesleep(&batch.lock);
  return err;
}
