// buf.h: one block of the disk held in memory by the buffer cache (bio.c).
//
// A buffer is shared: bio.c's list and reference count say who may reuse it,
// the sleeplock says who may read or change its bytes. See bio.c for the
// rules, and log.c for what "pinned" (an extra reference) means.
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
  struct sleeplock lock;  // held by whoever reads or changes data
  uint refcnt;            // bread()s not yet brelse()d, plus log pins
  struct buf *prev;       // the LRU list, most recently used first
  struct buf *next;
  uchar data[BSIZE];
};
#endif
