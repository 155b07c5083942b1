// bio.c: the buffer cache. It keeps copies of recently used disk blocks in
// NBUF buffers, so that repeated reads of the same block (an inode block, a
// directory, the bitmap) do not go to the disk, and so that every block has
// at most one copy in memory: two processes working on the same block see
// the same bytes and take turns through the buffer's sleeplock.
//
// Interface (kernel/defs.h):
//   bread(dev, blockno)  the block, locked, read from disk if not cached;
//                        NULL if the device failed the read
//   bwrite(b)            write a locked buffer's data to its block; 0 or -1
//   brelse(b)            unlock it; the cache may reuse it later
//   bpin / bunpin        keep a buffer in the cache (the log does this for
//                        blocks it has not written home yet)
//
// Two locks, two jobs:
//   bcache.lock (spinlock) guards the list and every buf's dev, blockno and
//     refcnt: who the buffer belongs to and whether it may be reused.
//   b->lock (sleeplock) guards b->data and b->valid: held across disk I/O,
//     which sleeps, so it cannot be a spinlock.
// A buffer with refcnt 0 is not locked and nobody waits for it (a waiter
// holds a reference), so bget may give it a new identity without taking its
// sleeplock.
//
// When every buffer is in use, bget sleeps until one is released rather
// than panicking. That cannot deadlock as long as (1) no code holds one
// buffer while asking for another (fs.c and log.c are written that way) and
// (2) the log pins fewer than NBUF buffers (log.c keeps it to LOGSIZE-1):
// then some unpinned buffer is held by someone who will brelse it without
// waiting for any other buffer.
//
// See it run: `make qemu`; every file read in the shell goes through bread.
// A failing disk shows up as "bio: read error" and -1 from the system call.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "buf.h"
#include "defs.h"

static struct {
  struct spinlock lock;
  struct buf buf[NBUF];
  // A circular list through prev/next, with head as a sentinel:
  // head.next is the most recently released buffer, head.prev the least.
  struct buf head;
  int waiters;             // processes sleeping in bget for a free buffer
} bcache;

void
binit(void)
{
  initlock(&bcache.lock, "bcache");
  bcache.head.prev = &bcache.head;
  bcache.head.next = &bcache.head;
  for(struct buf *b = bcache.buf; b < bcache.buf + NBUF; b++){
    initsleeplock(&b->lock, "buffer");
    b->next = bcache.head.next;
    b->prev = &bcache.head;
    bcache.head.next->prev = b;
    bcache.head.next = b;
  }
}

// Unlink b and put it at the front (most recently used end). bcache.lock held.
static void
move_to_front(struct buf *b)
{
  b->next->prev = b->prev;
  b->prev->next = b->next;
  b->next = bcache.head.next;
  b->prev = &bcache.head;
  bcache.head.next->prev = b;
  bcache.head.next = b;
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
    for(b = bcache.head.next; b != &bcache.head; b = b->next){
      if(b->dev == dev && b->blockno == blockno){
        b->refcnt++;
        release(&bcache.lock);
        acquiresleep(&b->lock);
        return b;
      }
    }
    // Not cached: recycle the least recently used buffer nobody holds.
    // The identity changes under bcache.lock, so no second bget for the
    // same block can miss it and make another copy.
    for(b = bcache.head.prev; b != &bcache.head; b = b->prev){
      if(b->refcnt == 0){
        b->dev = dev;
        b->blockno = blockno;
        b->valid = 0;
        b->refcnt = 1;
        release(&bcache.lock);
        acquiresleep(&b->lock);
        return b;
      }
    }
    // All NBUF buffers are held or pinned. Wait for a brelse; then look
    // again from the top, since the block may have been cached meanwhile.
    bcache.waiters++;
    sleep(&bcache, &bcache.lock);
    bcache.waiters--;
  }
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
    b->valid = 1;
  }
  return b;
}

int
bwrite(struct buf *b)
{
  if(!holdingsleep(&b->lock))
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
  if(!holdingsleep(&b->lock))
    panic("brelse: buffer not locked");
  releasesleep(&b->lock);

  acquire(&bcache.lock);
  b->refcnt--;
  if(b->refcnt == 0){
    // Most recently used goes to the front, so the LRU scan from the back
    // finds the buffers least likely to be wanted again.
    move_to_front(b);
    if(bcache.waiters > 0)
      wakeup(&bcache);
  }
  release(&bcache.lock);
}

// An extra reference keeps the buffer (and so its modified data) in the
// cache: refcnt never drops to 0, so bget never recycles it.
void
bpin(struct buf *b)
{
  acquire(&bcache.lock);
  b->refcnt++;
  release(&bcache.lock);
}

void
bunpin(struct buf *b)
{
  acquire(&bcache.lock);
  if(b->refcnt == 0)
    panic("bunpin: not pinned");
  b->refcnt--;
  if(b->refcnt == 0 && bcache.waiters > 0)
    wakeup(&bcache);
  release(&bcache.lock);
}
