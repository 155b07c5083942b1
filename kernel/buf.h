// buf.h: one block of the disk held in memory by the buffer cache (bio.c).
//
// A buffer is shared: bio.c's hash table, free list and reference count say
// who the buffer belongs to and whether it may be reused; the sleeplock
// says who may read or change its bytes. See bio.c for the rules, and
// log.c for what "pinned" (an extra reference) and logslot mean.
#ifndef BUF_H
#define BUF_H
#include "types.h"
#include "sleeplock.h"
#include "fs.h"

struct buf {
  int valid;              // data holds the block's contents (a read succeeded)
  int disk;               // free for the disk driver's bookkeeping
  uint dev;               // which device and block this buffer caches
  uint blockno;
  struct sleeplock lock;  // held by whoever reads or changes data, and by
                          // a read-ahead until its disk read completes
  uint refcnt;            // bread()s not yet brelse()d, log pins, read-aheads
  struct buf *prev;       // the free list (only while refcnt == 0),
  struct buf *next;       //   most recently used first
  struct buf *hnext;      // next buffer in the same hash bucket
  int hashed;             // on a hash chain: has an identity (dev, blockno)
  int logslot;            // log.c: slot in the running transaction, or -1
                          //   (guarded by log.c's lock)
  uchar data[BSIZE] __attribute__((aligned(8)));  // 8: word copies, logsum
};

// One block of a vectored transfer (bio_rw): the disk block and the BSIZE
// bytes of kernel memory it goes to or comes from. The log uses it to write
// its slots and to install blocks, which are not cached under those numbers.
struct bvec {
  uint blockno;
  uchar *data;
};
#endif
