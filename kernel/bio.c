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
//   bcache_drop()         forget every clean, unused block (benchmarks use
//                         it to measure reads from the disk, not from memory)
// A block that is not cached is read with disk_rw (kernel/glue/disk.c):
// one block, one request, the caller sleeping until it is there. That is
// the whole plain path. The fast paths (reading ahead, many blocks per
// request, reads straight into a process's pages, copying cached blocks
// without their locks) are in bio_fast.c, built on the insides this file
// shares with it through bcache.h.
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
// When every buffer is in use, bget sleeps until one is released rather
// than panicking. That cannot deadlock as long as (1) no code holds one
// buffer LOCKED while asking for another (fs.c and log.c are written that
// way; read-aheads hold many, but the device, not a process, releases
// them), and (2) the buffers held otherwise stay well below NBUF. Besides
// the log's pins (at most 2042), a reader may hold references without
// locks while it breads one more block (bio_fast.c: readi's window of
// peeked blocks, up to 32, and the double-indirect block of a block-map
// lookup). 64 processes doing so at once hold about 2100, which with the
// log's pins still leaves about 1900 of the 4096 free: some unpinned
// buffer is held by someone who will release it without waiting for any
// other buffer.
//
// See it run: `make qemu`; every file read in the shell goes through bread.
// docs/ARCHITECTURE.md, "Follow one block read", starts here.
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

#define NHASH 1024               // hash buckets (a power of two)

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

void
bcache_lock(void)
{
  acquire(&bcache.lock);
}

void
bcache_unlock(void)
{
  release(&bcache.lock);
}

struct buf *
bcache_lookup(uint dev, uint blockno)
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

// Take a reference to b. The first one takes it off the free list.
void
bcache_ref(struct buf *b)
{
  if(b->refcnt++ == 0)
    free_unlink(b);
}

// Drop a reference to b; the last one puts it on the free list and wakes
// whoever waits for a free buffer.
void
bcache_unref(struct buf *b)
{
  if(b->refcnt == 0)
    panic("bio: reference count below zero");
  if(--b->refcnt == 0){
    free_insert(b);
    if(bcache.waiters > 0)
      wakeup(&bcache);
  }
}

struct buf *
bcache_recycle(uint dev, uint blockno)
{
  struct buf *b = bcache.free.prev;   // the least recently used free buffer
  if(b == &bcache.free)
    return 0;
  rehash(b, dev, blockno);
  b->valid = 0;
  bcache_ref(b);
  return b;
}

void
binit(void)
{
  initlock(&bcache.lock, "bcache");
  bcache.free.next = bcache.free.prev = &bcache.free;
  for(struct buf *b = bcache.buf; b < bcache.buf + NBUF; b++){
    initsleeplock(&b->lock, "buffer");
    b->logslot = -1;
    free_insert(b);
  }
  bio_fast_init();
}

// ---- the cache's interface ----

// The buffer for (dev, blockno), with a reference taken and its sleeplock
// held. Its data is valid only if b->valid says so.
static struct buf *
bget(uint dev, uint blockno)
{
  struct buf *b;

  acquire(&bcache.lock);
  for(;;){
    // Cached already? Then everyone must share this one copy.
    if((b = bcache_lookup(dev, blockno)) != 0){
      bcache_ref(b);
      break;
    }
    // Not cached: recycle the least recently used buffer nobody holds.
    // The identity changes under bcache.lock, so no second bget for the
    // same block can miss it and make another copy.
    if((b = bcache_recycle(dev, blockno)) != 0)
      break;
    // All NBUF buffers are held, pinned or being read. Wait for a release;
    // then look again from the top, since the block may be cached by now.
    bcache.waiters++;
    sleep(&bcache, &bcache.lock);
    bcache.waiters--;
  }
  release(&bcache.lock);
  // If a read-ahead holds the lock, this sleeps until the data is there.
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
    // Not cached (or a read-ahead of it failed): read it now, and sleep
    // until the disk is done.
    if(disk_rw(b, 0) < 0){
      // Leave it invalid: the next bread of this block tries the disk again.
      printf("bio: read error on block %d\n", blockno);
      brelse(b);
      return 0;
    }
    // Release order: bio_fast.c's bpeek_many reads the data without the
    // buffer's lock once it sees valid set, so the data must be in memory
    // before valid is.
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

// Done with b: unlock it and drop the reference bread/bget took.
void
brelse(struct buf *b)
{
  if(!holding_buf(b))
    panic("brelse: buffer not locked");
  releasesleep(&b->lock);
  acquire(&bcache.lock);
  bcache_unref(b);
  release(&bcache.lock);
}

// An extra reference keeps the buffer (and so its modified data) in the
// cache: refcnt never drops to 0, so bget never recycles it.
void
bpin(struct buf *b)
{
  acquire(&bcache.lock);
  bcache_ref(b);
  release(&bcache.lock);
}

void
bunpin(struct buf *b)
{
  acquire(&bcache.lock);
  bcache_unref(b);
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
