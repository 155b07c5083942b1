// bio.c: the buffer cache. It keeps copies of recently used disk blocks in
// NBUF buffers, so that repeated reads of the same block (an inode block, a
// directory, the bitmap, a file being read again) do not go to the disk,
// and so that every block has at most one copy in memory: two processes
// working on the same block see the same bytes and take turns through the
// buffer's sleeplock.
//
// Interface (kernel/defs.h):
//   bread(dev, blockno)   the block, locked, read from disk if not cached;
//                         NULL if the device failed the read
//   bnew(dev, blockno)    the block, locked and zeroed, NOT read from disk:
//                         for a block about to be overwritten (a new block)
//   bwrite(b)             write a locked buffer's data to its block; 0 or -1
//   brelse(b)             unlock it; the cache may reuse it later
//   bpin / bunpin         keep a buffer in the cache (the log does this for
//                         blocks it has not written home yet)
//   breadahead(dev, blocks, n)  start reading the uncached ones of these
//                         blocks, many per disk request, without waiting
//   bio_rw(v, n, write)   read or write n blocks at other places than the
//                         cache's (the log's slots); waits for all of them
//   bcache_drop()         forget every clean, unused block (benchmarks use
//                         it to measure reads from the disk, not from memory)
//
// Finding a buffer: a hash table on block number (NHASH chains), so a
// lookup costs a few comparisons, not a walk over 4096 buffers. Reusing
// one: the free list holds exactly the buffers nobody references
// (refcnt 0), most recently released first; bget takes the last one, and
// invalid buffers are put at that end so they go first.
//
// Two locks, two jobs:
//   bcache.lock (spinlock) guards the hash chains, the free list and every
//     buf's dev, blockno, hashed and refcnt: who the buffer belongs to and
//     whether it may be reused.
//   b->lock (sleeplock) guards b->data and b->valid: held across disk I/O,
//     which sleeps, so it cannot be a spinlock.
// A buffer with refcnt 0 is not locked and nobody waits for it (a waiter
// holds a reference), so bget may give it a new identity without taking its
// sleeplock.
//
// Read-ahead (virtio 1.2 5.2.6: one request may carry many data
// descriptors): breadahead gives each uncached block a buffer, locks it
// and puts runs of consecutive blocks into one vblk_req (up to
// VBLK_MAX_SEGS blocks), all queued before one notification. The process
// returns at once; the request's completion callback (interrupt context)
// marks the buffers valid, unlocks them and drops the reference. A bread of
// such a block meanwhile simply sleeps on the buffer's lock until the data
// is there. A sleeplock released by an interrupt is unusual but sound:
// releasesleep only takes spinlocks (which disable interrupts) and calls
// wakeup, which the disk interrupt may do.
//
// When every buffer is in use, bget sleeps until one is released rather
// than panicking. That cannot deadlock as long as (1) no code holds one
// buffer LOCKED while asking for another (fs.c and log.c are written that
// way; read-aheads hold many, but the device, not a process, releases
// them), and (2) the buffers held otherwise stay well below NBUF. Besides
// the log's pins (at most 2042), a reader may hold references without
// locks while it breads one more block: readi up to 32 peeked blocks of
// its window, bmap_range the double-indirect block. 64 processes doing so
// at once hold about 2100, which with the log's pins still leaves about
// 1900 of the 4096 free: some unpinned buffer is held by someone who will
// release it without waiting for any other buffer.
//
// In the driver's baseline mode (diskmode(1), disk_baseline()) bio_rw sends
// one 1 KB block per request, one request at a time, and the file system
// does not call breadahead: the classic design, for comparisons.
//
// See it run: `make qemu`; every file read in the shell goes through bread.
// `make bench` compares the cold-cache reads of both modes.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "buf.h"
#include "defs.h"
#include "virtio_blk.h"

#define NHASH 1024               // hash buckets (a power of two)
#define SECTORS (BSIZE / 512)    // 512-byte sectors per block

static struct {
  struct spinlock lock;
  struct buf buf[NBUF];
  struct buf *hash[NHASH];
  // The free list: a circular list through prev/next with `free` as a
  // sentinel; free.next is the most recently released buffer.
  struct buf free;
  int waiters;             // processes sleeping in bget for a free buffer
} bcache;

static uint
bucket(uint dev, uint blockno)
{
  return (blockno ^ (dev << 7)) & (NHASH - 1);
}

// ---- hash chains and free list (bcache.lock held) ----

static struct buf *
lookup(uint dev, uint blockno)
{
  for(struct buf *b = bcache.hash[bucket(dev, blockno)]; b; b = b->hnext)
    if(b->dev == dev && b->blockno == blockno)
      return b;
  return 0;
}

static void
unhash(struct buf *b)
{
  if(!b->hashed)
    return;
  struct buf **pp = &bcache.hash[bucket(b->dev, b->blockno)];
  while(*pp != b)
    pp = &(*pp)->hnext;
  *pp = b->hnext;
  b->hnext = 0;
  b->hashed = 0;
}

static void
rehash(struct buf *b, uint dev, uint blockno)
{
  unhash(b);
  b->dev = dev;
  b->blockno = blockno;
  uint h = bucket(dev, blockno);
  b->hnext = bcache.hash[h];
  bcache.hash[h] = b;
  b->hashed = 1;
}

static void
free_unlink(struct buf *b)
{
  b->next->prev = b->prev;
  b->prev->next = b->next;
}

// Put b on the free list: at the front (reused last) if it holds data
// worth keeping, at the back (reused first) if not.
static void
free_insert(struct buf *b)
{
  if(b->valid){
    b->next = bcache.free.next;
    b->prev = &bcache.free;
  } else {
    b->next = &bcache.free;
    b->prev = bcache.free.prev;
  }
  b->next->prev = b;
  b->prev->next = b;
}

// Take a reference to b.
static void
ref(struct buf *b)
{
  if(b->refcnt++ == 0)
    free_unlink(b);
}

// Drop a reference to b; the last one puts it on the free list.
static void
unref(struct buf *b)
{
  if(b->refcnt == 0)
    panic("bio: reference count below zero");
  if(--b->refcnt == 0){
    free_insert(b);
    if(bcache.waiters > 0)
      wakeup(&bcache);
  }
}

// The least recently used free buffer, given identity (dev, blockno),
// invalid and referenced once; NULL if every buffer is in use.
static struct buf *
recycle(uint dev, uint blockno)
{
  struct buf *b = bcache.free.prev;
  if(b == &bcache.free)
    return 0;
  rehash(b, dev, blockno);
  b->valid = 0;
  ref(b);
  return b;
}

static void init_io(void);

void
binit(void)
{
  init_io();
  initlock(&bcache.lock, "bcache");
  bcache.free.next = bcache.free.prev = &bcache.free;
  for(struct buf *b = bcache.buf; b < bcache.buf + NBUF; b++){
    initsleeplock(&b->lock, "buffer");
    b->logslot = -1;
    free_insert(b);
  }
}

// The buffer for (dev, blockno), with a reference taken and its sleeplock
// held. Its data is valid only if b->valid says so.
static struct buf *
bget(uint dev, uint blockno)
{
  struct buf *b;

  acquire(&bcache.lock);
  for(;;){
    // Cached already? Then everyone must share this one copy.
    if((b = lookup(dev, blockno)) != 0){
      ref(b);
      break;
    }
    // Not cached: recycle the least recently used buffer nobody holds.
    // The identity changes under bcache.lock, so no second bget for the
    // same block can miss it and make another copy.
    if((b = recycle(dev, blockno)) != 0)
      break;
    // All NBUF buffers are held, pinned or being read. Wait for a release;
    // then look again from the top, since the block may be cached by now.
    bcache.waiters++;
    sleep(&bcache, &bcache.lock);
    bcache.waiters--;
  }
  release(&bcache.lock);
  acquiresleep(&b->lock);
  return b;
}

// Do we hold b's sleeplock? Like holdingsleep(), but without taking the
// lock's spinlock (this runs for every block the file system touches):
// if we hold it, both fields are ours and stable; if we do not, they can
// never read as locked-by-us.
static int
holding_buf(struct buf *b)
{
  return b->lock.locked && b->lock.pid == myproc()->pid;
}

struct buf *
bread(uint dev, uint blockno)
{
  struct buf *b = bget(dev, blockno);
  if(!b->valid){
    if(disk_rw(b, 0) < 0){
      // Leave it invalid: the next bread of this block tries the disk again.
      printf("bio: read error on block %d\n", blockno);
      brelse(b);
      return 0;
    }
    // Release: bpeek may read the data without the lock once it sees this.
    __atomic_store_n(&b->valid, 1, __ATOMIC_RELEASE);
  }
  return b;
}

struct buf *
bnew(uint dev, uint blockno)
{
  struct buf *b = bget(dev, blockno);
  memset(b->data, 0, BSIZE);
  __atomic_store_n(&b->valid, 1, __ATOMIC_RELEASE);   // see bread
  return b;
}

int
bwrite(struct buf *b)
{
  if(!holding_buf(b))
    panic("bwrite: buffer not locked");
  if(disk_rw(b, 1) < 0){
    printf("bio: write error on block %d\n", b->blockno);
    return -1;
  }
  return 0;
}

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
// is not cached and valid), with one hold of bcache.lock for them all: a
// reader of many blocks (readi) pays for the lock once, not per block.
void
bpeek_many(uint dev, const uint *blocks, int n, struct buf **out)
{
  acquire(&bcache.lock);
  for(int i = 0; i < n; i++){
    struct buf *b = blocks[i] ? lookup(dev, blocks[i]) : 0;
    // Acquire: the data bytes are read only after valid was seen set (its
    // writers store it with release order after filling the data).
    if(b && __atomic_load_n(&b->valid, __ATOMIC_ACQUIRE))
      ref(b);
    else
      b = 0;
    out[i] = b;
  }
  release(&bcache.lock);
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
  acquire(&bcache.lock);
  for(int i = 0; i < n; i++)
    if(bufs[i])
      unref(bufs[i]);
  release(&bcache.lock);
}

// Done with b: unlock it and drop the reference bread/bget took.
void
brelse(struct buf *b)
{
  if(!holding_buf(b))
    panic("brelse: buffer not locked");
  releasesleep(&b->lock);
  acquire(&bcache.lock);
  unref(b);
  release(&bcache.lock);
}

// An extra reference keeps the buffer (and so its modified data) in the
// cache: refcnt never drops to 0, so bget never recycles it.
void
bpin(struct buf *b)
{
  acquire(&bcache.lock);
  ref(b);
  release(&bcache.lock);
}

void
bunpin(struct buf *b)
{
  acquire(&bcache.lock);
  unref(b);
  release(&bcache.lock);
}

// Forget every cached block nobody uses (pinned blocks, which the log has
// not written home yet, stay). Returns how many were dropped.
int
bcache_drop(void)
{
  int n = 0;
  acquire(&bcache.lock);
  for(struct buf *b = bcache.buf; b < bcache.buf + NBUF; b++){
    if(b->refcnt == 0 && b->hashed){
      unhash(b);
      b->valid = 0;
      free_unlink(b);
      free_insert(b);     // to the reuse-first end
      n++;
    }
  }
  release(&bcache.lock);
  return n;
}

// ---- read-ahead ----

// A read-ahead request: the driver's request and the buffers it fills, in
// order (segment i is bufs[i]->data).
struct rareq {
  struct vblk_req r;
  struct buf *bufs[VBLK_MAX_SEGS];
  int nbuf;
  int busy;        // handed out; ra.lock
};

#define NRAREQ 32    // read-ahead requests in flight at most

static struct {
  struct spinlock lock;
  struct rareq req[NRAREQ];
} ra;

// A free read-ahead request, or NULL. An entry is free when its callback
// has run (busy cleared) AND the driver has set `done`: the driver still
// touches the request right after the callback returns. Once done == 1 is
// seen, the driver only reads r->waiting (never set for callback requests)
// under its own lock, which our next submit takes too.
static struct rareq *
ra_alloc(void)
{
  struct rareq *q = 0;
  acquire(&ra.lock);
  for(int i = 0; i < NRAREQ; i++){
    if(!ra.req[i].busy && ra.req[i].r.done){
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
    // order: bpeek may read the data without the lock once it sees valid.
    __atomic_store_n(&q->bufs[i]->valid, ok, __ATOMIC_RELEASE);
    releasesleep(&q->bufs[i]->lock);
  }
  acquire(&bcache.lock);
  for(int i = 0; i < q->nbuf; i++)
    unref(q->bufs[i]);
  release(&bcache.lock);
  ra_free(q);
}

// The completion callback: interrupt context (or inside disk_submit), no
// driver lock held. It must not sleep; nothing here does.
static void
ra_done(struct vblk_req *r)
{
  ra_finish((struct rareq *)r->arg, r->status == 0);
}

static void
ra_submit(struct rareq *q)
{
  q->r.type = VBLK_READ;
  q->r.sector = (uint64)q->bufs[0]->blockno * SECTORS;
  q->r.nseg = q->nbuf;
  q->r.complete = ra_done;
  q->r.arg = q;
  if(disk_submit_nokick(&q->r) < 0)
    ra_finish(q, 0);        // refused (bad block number, dead disk): no callback
}

// Start reading those of blocks[0..n-1] that are not cached (0 entries are
// skipped). Consecutive block numbers share a request. Best effort: stops
// early when buffers or read-ahead requests run out. Returns the number of
// blocks whose read was started.
int
breadahead(uint dev, const uint *blocks, int n)
{
  int started = 0, i = 0, stop = 0;

  while(i < n && !stop){
    struct rareq *q = ra_alloc();
    if(q == 0)
      break;
    // Claim buffers for the next run of consecutive uncached blocks, with
    // one hold of bcache.lock for the whole run.
    acquire(&bcache.lock);
    for(; i < n && q->nbuf < VBLK_MAX_SEGS; i++){
      uint bno = blocks[i];
      if(bno == 0 || lookup(dev, bno) != 0){
        if(q->nbuf > 0){
          i++;
          break;              // cached (or being read): the run ends here
        }
        continue;
      }
      if(q->nbuf > 0 && q->bufs[q->nbuf - 1]->blockno + 1 != bno)
        break;                // not consecutive: the next run starts here
      struct buf *b = recycle(dev, bno);
      if(b == 0){
        stop = 1;             // every buffer is in use
        break;
      }
      // Lock it before releasing bcache.lock: the moment the new identity
      // is visible, a bread of this block must find it locked, or it would
      // read the block itself and our read could later land on top of
      // newer data. A buffer off the free list is held by nobody and
      // waited for by nobody (a waiter holds a reference), and only
      // bcache.lock leads to it: the cheap way in is enough.
      acquiresleep_unreached(&b->lock);
      q->bufs[q->nbuf] = b;
      q->r.seg[q->nbuf].addr = b->data;
      q->r.seg[q->nbuf].len = BSIZE;
      q->nbuf++;
    }
    release(&bcache.lock);
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
  struct sleeplock lock;     // one bio_rw at a time owns req[]
  struct vblk_req req[NBATCH];
} batch;

static void
init_io(void)
{
  initsleeplock(&batch.lock, "bio batch");
  initlock(&ra.lock, "readahead");
  for(int i = 0; i < NRAREQ; i++)
    ra.req[i].r.done = 1;    // never submitted: free
}

// Read (write = 0) or write v[0..n-1]. Entries with consecutive block
// numbers travel in one request (sort v by blockno to get the most out of
// it); up to NBATCH requests are in flight, queued with one notification.
// In baseline mode: one block per request, each waited for. Returns 0, or
// -1 if any block failed (all were attempted).
int
bio_rw(struct bvec *v, int n, int write)
{
  int err = 0, i = 0;
  int one = disk_baseline();   // the classic design: 1 KB, one at a time
  int maxreq = one ? 1 : NBATCH;

  acquiresleep(&batch.lock);
  while(i < n){
    int k;
    for(k = 0; k < maxreq && i < n; k++){
      struct vblk_req *r = &batch.req[k];
      r->type = write ? VBLK_WRITE : VBLK_READ;
      r->sector = (uint64)v[i].blockno * SECTORS;
      r->nseg = 0;
      r->complete = 0;
      r->arg = 0;
      do {
        r->seg[r->nseg].addr = v[i].data;
        r->seg[r->nseg].len = BSIZE;
        r->nseg++;
        i++;
      } while(!one && i < n && r->nseg < VBLK_MAX_SEGS &&
              v[i].blockno == v[i - 1].blockno + 1);
      disk_submit_nokick(r);   // a refusal shows as status -1 below
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
// Big reads (fs.c readi: 64 KB or more, block-aligned) skip the cache and
// let the device write straight into the reader's pages: no copy, and the
// device sees requests as big as the read. next(arg, v, max) fills v[] with
// up to max of the next blocks, in order, each with the BSIZE bytes of
// (identity-mapped) memory it goes to; it returns how many, 0 when done,
// -1 to stop with an error. A block that is cached (perhaps changed and not
// yet on disk) is copied from the cache instead: the disk may hold an older
// version. Consecutive blocks whose memory is contiguous share a segment,
// consecutive segments a request of at most DREQ bytes, and NBATCH
// requests are in flight; when all are, the older half is waited for. DREQ is where
// blkbench's raw throughput stops growing with request size; without a
// cap, a reader whose pages happen to be physically contiguous would get
// one huge request that the device could not start on until we had built
// all of it. The caller holds the inode lock of the file, so
// no other process can bring one of these blocks into the cache meanwhile.
// Returns 0 or -1.
#define DWIN 256                 // blocks next() hands over at once: an indirect block's worth
#define DREQ (256 * 1024)        // bytes per request at most (see above)
#define DKICK 4                  // requests published per notification

int
bio_read_direct(uint dev, int (*next)(void *arg, struct bvec *v, int max), void *arg)
{
  int err = 0, oldest = 0, inflight = 0, nsub = 0;
  struct vblk_req *cur = 0;
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
        struct vblk_seg *last = &cur->seg[cur->nseg - 1];
        if((uchar *)last->addr + last->len == addr){
          last->len += BSIZE;    // memory contiguous too: same segment
          curnext++;
          curlen += BSIZE;
          continue;
        }
        if(cur->nseg < VBLK_MAX_SEGS){
          cur->seg[cur->nseg].addr = addr;
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
        disk_submit_nokick(cur); // a refusal shows as status -1 when waited for
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
      cur->type = VBLK_READ;
      cur->sector = (uint64)bno[i] * SECTORS;
      cur->nseg = 1;
      cur->seg[0].addr = addr;
      cur->seg[0].len = BSIZE;
      cur->complete = 0;
      cur->arg = 0;
      curnext = bno[i] + 1;
      curlen = BSIZE;
    }
    bunpeek_many(cached, k);
    if(err)
      break;
  }
  if(cur){
    disk_submit_nokick(cur);
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
