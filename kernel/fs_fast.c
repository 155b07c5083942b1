// fs_fast.c: readi's fast paths. fs.c's readi alone is a complete read:
// one block at a time through the cache, bread sleeping for each block
// that is not cached. readi first gives this file a chance, and it does
// three things that make reading fast without changing what a read
// returns:
//
//   read-ahead     start reading this read's blocks, and for a sequential
//                  reader the blocks after them, before they are wanted,
//                  many per request (bio_fast.c breadahead)
//   direct reads   a big block-aligned read goes from the disk straight
//                  into the reader's pages, no copy (bio_fast.c
//                  bio_read_direct)
//   cached copies  blocks already in the cache are copied without their
//                  sleeplocks, a window of them per hold of the cache's
//                  lock (bio_fast.c bpeek_many)
//
// How much of it is used is data (disk_tuning, kernel/disk.h): with the
// classic tuning the benchmarks compare against there is no read-ahead
// and no direct read; only the copying of cached blocks remains, which
// changes nothing the disk sees.
//
// Both fast ways of reading need the block map for many blocks at once:
// bmap_range reads each indirect block once per range instead of once per
// block (fs.c's bmap does the latter, for the plain path and for writes).
//
// See it run: `make bench` (fsbench reads in 4 KB and 64 KB calls and one
// 16 MB call, fast and classic); `usertests directmix`.
#include "types.h"
#include "param.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "buf.h"
#include "file.h"
#include "defs.h"
#include "disk.h"

// ---- the block map, many blocks at once ----

// ip->addrs[k], if it is a block a file may point to; else 0.
static uint
map_root(struct inode *ip, int k)
{
  return is_data_block(ip->addrs[k]) ? ip->addrs[k] : 0;
}

// An indirect block for reading entries out of it: a cached one is
// referenced without its buffer lock (bpeek), as readi reads data blocks,
// since only holders of ip->lock change it; else it is read (bread).
// *peeked says which, for map_put. NULL if it cannot be read.
static struct buf *
map_get(struct inode *ip, uint ind, int *peeked)
{
  struct buf *bp = bpeek(ip->dev, ind);
  *peeked = bp != 0;
  return bp ? bp : bread(ip->dev, ind);
}

static void
map_put(struct buf *bp, int peeked)
{
  if(peeked)
    bunpeek(bp);
  else
    brelse(bp);
}

// Map file blocks bn .. bn+n-1 (no allocation) into out[] (0 where there
// is none), reading each indirect block once rather than once per block:
// what the fast paths use instead of fs.c's bmap. Caller holds ip->lock.
static void
bmap_range(struct inode *ip, uint bn, int n, uint *out)
{
  struct buf *dbp = 0;       // the double-indirect block, kept if peeked
  int dpeeked = 0;

  for(int i = 0; i < n; ){
    uint b = bn + i;
    if(b < NDIRECT){
      out[i++] = is_data_block(ip->addrs[b]) ? ip->addrs[b] : 0;
      continue;
    }
    // The indirect block holding b's entry, and the entry's index.
    uint ind = 0, idx;
    if(b - NDIRECT < NINDIRECT){
      ind = map_root(ip, NDIRECT);
      idx = b - NDIRECT;
    } else {
      uint k = b - NDIRECT - NINDIRECT;
      idx = k % NINDIRECT;
      uint dind = map_root(ip, NDIRECT + 1);
      if(k < NDINDIRECT && dind && dbp == 0)
        dbp = map_get(ip, dind, &dpeeked);
      if(k < NDINDIRECT && dbp){
        ind = ((uint *)dbp->data)[k / NINDIRECT];
        ind = is_data_block(ind) ? ind : 0;
        if(!dpeeked){
          brelse(dbp);       // never hold a locked buffer while reading another
          dbp = 0;
        }
      }
    }
    int cnt = n - i;
    if(cnt > NINDIRECT - idx)
      cnt = NINDIRECT - idx;
    int peeked = 0;
    struct buf *bp = ind ? map_get(ip, ind, &peeked) : 0;
    for(int j = 0; j < cnt; j++){
      uint a = bp ? ((uint *)bp->data)[idx + j] : 0;
      out[i + j] = is_data_block(a) ? a : 0;
    }
    if(bp)
      map_put(bp, peeked);
    i += cnt;
  }
  if(dbp)
    map_put(dbp, dpeeked);
}

// ---- read-ahead ----
//
// A reader whose read starts in the block where its last read ended is
// sequential: we start reading the blocks of this read and up to
// disk_tuning.readahead blocks after it, many per request (bio_fast.c
// breadahead), and go on doing so whenever it gets within half a window of
// the end of what was started. So a sequential reader mostly finds its
// blocks cached or on their way, and the device sees big requests, several
// in flight. Any other read only starts its own blocks together. Caller
// holds ip->lock; the state lives in the inode (ra_next, ra_end).
#define RA_BATCH  64         // blocks handed to breadahead at once

static void prefetch_map(struct inode *ip, uint bn, uint n);

static void
readahead(struct inode *ip, uint off, uint n)
{
  uint first = off / BSIZE, last = (off + n - 1) / BSIZE;
  uint nblk = ip->size / BSIZE + (ip->size % BSIZE != 0);
  int sequential = first == ip->ra_next;

  if(!sequential || ip->ra_end < first)
    ip->ra_end = first;      // what was started before does not help
  ip->ra_next = (off + n) / BSIZE;
  uint window = disk_tuning.readahead;
  uint want = last + 1 + (sequential ? window : 0);
  if(want > nblk)
    want = nblk;
  // Never more than breadahead would start: with the classic tuning
  // (prefetch 0) nothing at all, and no block-map work for nothing.
  if(want > first + disk_tuning.prefetch)
    want = first + disk_tuning.prefetch;
  if(ip->ra_end >= want)
    return;
  if(ip->ra_end > last && ip->ra_end - last > window / 2)
    return;                  // enough started: wait for a bigger batch

  // Start the indirect blocks that map the window first, then the direct
  // blocks (which need no map) on their own: the first data and the block
  // map then come back in one round trip, where mapping first would wait
  // for the map and only then send the data.
  prefetch_map(ip, ip->ra_end, want - ip->ra_end);
  uint blocks[RA_BATCH];
  while(ip->ra_end < want){
    int k = want - ip->ra_end;
    if(k > RA_BATCH)
      k = RA_BATCH;
    if(ip->ra_end < NDIRECT && ip->ra_end + k > NDIRECT)
      k = NDIRECT - ip->ra_end;
    bmap_range(ip, ip->ra_end, k, blocks);
    breadahead(ip->dev, blocks, k);
    ip->ra_end += k;
  }
}

// ---- direct reads ----
//
// A read of at least disk_tuning.direct_min bytes at a block-aligned file
// offset into a 1 KB-aligned user buffer skips the cache: the device
// writes the whole blocks straight into the user's pages (bio_fast.c
// bio_read_direct), in requests as big as the read, several in flight.
// Blocks that happen to be cached are copied from the cache. The reader's
// pages cannot go away meanwhile: a process has one thread, and it is in
// this read.

// How far ahead of the data a direct read starts reading the indirect
// blocks that map it: 4 MB of file, 16 indirect blocks. The device works
// through its queue in order, and up to NBATCH big data requests (bio_fast.c)
// are queued ahead of any block map read we start now; a map read started
// only when it is needed waits behind them all (a millisecond and more per
// indirect block under QEMU). Started this far ahead, it is long done when
// direct_next gets there.
#define MAP_AHEAD 4096

// How many block map entries the page direct_next maps into can hold; it
// is asked for windows of bio_fast.c's DWIN (256) at most, an indirect block's
// worth. Each bmap_range call costs about as much as mapping a few dozen
// blocks (the cache lock, the indirect blocks), so the windows are big.
#define DMAP (PGSIZE / sizeof(uint))

struct direct {
  struct inode *ip;
  uint end;                  // the file block after the last one to read
  pagetable_t pt;
  uint64 dst;                // where the next block goes (user address)
  uint bn;                   // the next file block
  uint left;                 // blocks still to go
  uint mapped;               // block map reads are started up to here
  uint *map;                 // a page for a window of the block map
  uint64 page;               // the user page last translated, ...
  pte_t *pte;                // ... its PTE (0: none yet) ...
  uint64 pa;                 // ... and its physical address (0: none yet)
};

// Start reading the indirect blocks that map file blocks [bn, bn+n), so
// that the block map does not stall a direct read once per 256 KB. (A
// file's indirect blocks are usually consecutive, see balloc, so this is
// one request for several of them.)
static void
prefetch_map(struct inode *ip, uint bn, uint n)
{
  uint dfirst = NDIRECT + NINDIRECT, want[RA_BATCH];
  int k = 0;
  if(bn < dfirst && bn + n > NDIRECT && ip->addrs[NDIRECT])
    want[k++] = ip->addrs[NDIRECT];
  if(bn + n > dfirst && is_data_block(ip->addrs[NDIRECT + 1])){
    uint j = bn > dfirst ? (bn - dfirst) / NINDIRECT : 0;
    uint hi = (bn + n - 1 - dfirst) / NINDIRECT;
    while(j <= hi && j < NINDIRECT){
      struct buf *bp = bread(ip->dev, ip->addrs[NDIRECT + 1]);
      if(bp == 0)
        return;
      while(k < RA_BATCH && j <= hi && j < NINDIRECT)
        want[k++] = ((uint *)bp->data)[j++];
      brelse(bp);
      breadahead(ip->dev, want, k);
      k = 0;
    }
  }
  if(k > 0)
    breadahead(ip->dev, want, k);
}

// bio_read_direct's source of blocks: the next file blocks and the kernel
// addresses of the user memory they go to. The block map is read a window
// at a time, the page table walked once per page.
static int
direct_next(void *arg, struct bvec *v, int max)
{
  struct direct *d = arg;
  uint *map = d->map;
  int k = d->left < (uint)max ? d->left : max;
  if(k > DMAP)
    k = DMAP;
  if(k == 0)
    return 0;
  // Keep the block map reads MAP_AHEAD ahead. Started a quarter of that
  // at a time (4 indirect blocks), not per window: even when every block
  // it names is cached, a prefetch_map call costs as much as mapping a
  // whole window.
  if(d->mapped < d->end && d->bn + MAP_AHEAD >= d->mapped){
    uint n = d->end - d->mapped < MAP_AHEAD / 4 ? d->end - d->mapped : MAP_AHEAD / 4;
    prefetch_map(d->ip, d->mapped, n);
    d->mapped += n;
  }
  bmap_range(d->ip, d->bn, k, map);
  for(int i = 0; i < k; i++){
    uint64 page = PGROUNDDOWN(d->dst);
    if(d->pa == 0 || page != d->page){
      // The next page's PTE sits right after this one's, in the same leaf
      // page-table page, unless the page starts a new 2 MB region: no
      // need to walk the tree from the top for each page.
      pte_t *pte;
      if(d->pte && page == d->page + PGSIZE && PX(0, page) != 0)
        pte = d->pte + 1;
      else
        pte = walk(d->pt, page, 0);
      int need = PTE_V | PTE_U | PTE_W;
      // A page of a lazily grown heap that was never touched gets its
      // memory here, as copyout would give it (vm.c vmfault); then the
      // read can go straight into it. If that fails (out of memory, or
      // not such a page), the slow path's copyout reports the error.
      if((pte == 0 || (*pte & PTE_V) == 0) && vmfault(d->pt, page) != 0)
        pte = walk(d->pt, page, 0);
      if(pte == 0 || (*pte & need) != need)
        return -1;           // a bad address: readi's slow path reports it
      d->page = page;
      d->pte = pte;
      d->pa = PTE2PA(*pte);
    }
    if(map[i] == 0)
      return -1;             // a corrupt block map: the same
    v[i].blockno = map[i];
    v[i].data = (uchar *)(d->pa + d->dst % PGSIZE);
    d->dst += BSIZE;
  }
  d->bn += k;
  d->left -= k;
  return k;
}

// Read the whole blocks of [off, off+n) straight to user address dst.
// Returns the bytes read, or 0 if this read does not qualify or failed
// (then readi does it the ordinary way, which also reports errors).
static uint
read_direct(struct inode *ip, uint64 dst, uint off, uint n)
{
  struct proc *p = myproc();
  uint whole = n / BSIZE * BSIZE;
  if(n < disk_tuning.direct_min || off % BSIZE != 0 || dst % BSIZE != 0 ||
     p == 0 || dst + whole < dst || dst + whole > p->sz)
    return 0;
  struct direct d;
  d.ip = ip;
  d.pt = p->pagetable;
  d.dst = dst;
  d.bn = off / BSIZE;
  d.left = whole / BSIZE;
  d.end = d.bn + d.left;
  d.pa = d.page = 0;
  d.pte = 0;
  d.mapped = d.bn + (d.left < MAP_AHEAD ? d.left : MAP_AHEAD);
  if((d.map = (uint *)kalloc()) == 0)
    return 0;
  prefetch_map(ip, d.bn, d.mapped - d.bn);
  int r = bio_read_direct(ip->dev, direct_next, &d);
  kfree(d.map);
  if(r < 0)
    return 0;
  ip->ra_next = (off + whole) / BSIZE;   // a following read is sequential
  return whole;
}


// ---- readi's entry point ----

#define RMAP 32              // blocks copied per window (per hold of the cache's lock)

// Copy the leading blocks of [off, off+n) that are cached and valid to
// dst, stopping at the first that is not (readi's plain loop reads it,
// waiting for the disk). Returns the bytes copied. The window's blocks are
// referenced with one hold of the cache's lock (bpeek_many) and copied
// without their buffer locks: only holders of ip->lock change a file's
// blocks, and we hold it.
static uint
copy_cached(struct inode *ip, int user_dst, uint64 dst, uint off, uint n)
{
  uint tot = 0, m, map[RMAP];
  struct buf *peek[RMAP];

  while(tot < n){
    uint bn = off / BSIZE;
    int k = (off + (n - tot) - 1) / BSIZE - bn + 1;
    if(k > RMAP)
      k = RMAP;
    bmap_range(ip, bn, k, map);
    bpeek_many(ip->dev, map, k, peek);
    int i;
    for(i = 0; i < k && peek[i]; i++){
      m = BSIZE - off % BSIZE;
      if(m > n - tot)
        m = n - tot;
      if(either_copyout(user_dst, dst, peek[i]->data + off % BSIZE, m) == -1)
        break;               // readi's plain loop meets the fault and reports it
      tot += m;
      off += m;
      dst += m;
    }
    bunpeek_many(peek, k);
    if(i < k)
      break;                 // not cached (or a fault): the plain path goes on
  }
  return tot;
}

// readi's fast paths (see the top of this file). Returns the bytes of
// [off, off+n) it copied to dst, from the start; readi does the rest.
uint
readi_fast(struct inode *ip, int user_dst, uint64 dst, uint off, uint n)
{
  uint tot = 0;

  if(user_dst)
    tot = read_direct(ip, dst, off, n);
  if(n > tot){
    readahead(ip, off + tot, n - tot);
    tot += copy_cached(ip, user_dst, dst + tot, off + tot, n - tot);
  }
  return tot;
}
