// bcache.h: the buffer cache's insides, shared by bio.c (the cache) and
// bio_fast.c (its fast paths), and by nobody else. Everything else uses
// bread/bwrite/brelse (defs.h).
//
// All of these are called with the cache's lock held (bcache_lock), which
// guards the hash chains, the free list and every buffer's identity
// (dev, blockno) and reference count. See bio.c for the rules.
#ifndef BCACHE_H
#define BCACHE_H
#include "types.h"

struct buf;

void        bcache_lock(void);
void        bcache_unlock(void);
// The buffer holding (dev, blockno), or NULL if the block is not cached.
struct buf *bcache_lookup(uint dev, uint blockno);
// Give the least recently used free buffer the identity (dev, blockno):
// invalid, referenced once, NOT locked. NULL if every buffer is in use.
// The caller has checked that the block is not cached.
struct buf *bcache_recycle(uint dev, uint blockno);
void        bcache_ref(struct buf *b);     // one more reference
void        bcache_unref(struct buf *b);   // one less; the last frees it
#endif
