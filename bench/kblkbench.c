// kblkbench.c: the kernel's half of the benchmarks: two system calls.
//
//   diskmode(mode)  1: drive the disk the classic way, for comparisons: the
//                   driver gets the classic limits (one 1 KB request at a
//                   time, no EVENT_IDX, no indirect descriptors, no
//                   SEG_MAX/SIZE_MAX/FLUSH) and the file system the classic
//                   tuning (no read-ahead, no direct reads, a commit after
//                   every call); 0: back to the fast design; -1: only report
//                   the current mode. Waits for requests in flight first.
//                   Returns the mode, or -1. Both designs are data handed
//                   to disk_retune (kernel/glue/disk.c): nothing in the
//                   driver or the file system asks which one is on.
//   blkbench(reqsize, depth, nreq, write, &result)
//                   issue nreq requests of reqsize bytes (512..256 KB, a
//                   multiple of 512) keeping `depth` of them (1..32) in
//                   flight, and report the time and the driver's counters.
//
// Where the requests go: writes only to the scratch area past the end of
// the file system (superblock `size`), so the file system is never
// touched; `make bench` gives QEMU a disk larger than fs.img for this.
// Without a scratch area writes fail with BLKBENCH_NOSCRATCH, and reads
// use the whole disk (reading is harmless). Every request in flight has
// pages of its own, as the requests of a real reader would: were they to
// share one set of pages, the host would copy into the same few hundred KB
// over and over, which its caches make faster than any real transfer.
//
// Time comes from the `time` CSR (r_time(), 10 MHz on QEMU virt). The
// counters come from the virtio core (virtio 1.2 2.7.7/2.7.10: a
// notification is a QueueNotify write, an interrupt a used buffer
// notification that reached the driver).
//
// See it run: `blkbench` in the shell (bench/blkbench.c prints the tables).
#include "types.h"
#include "param.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "buf.h"
#include "proc.h"
#include "defs.h"
#include "disk.h"
#include "virtio_blk.h"
#include "blkbench.h"

#define SECTORS_PER_PAGE (PGSIZE / 512)
#define REQS_PER_PAGE (PGSIZE / sizeof(struct disk_req))

_Static_assert(REQS_PER_PAGE >= 1, "a disk_req must fit in a page");
_Static_assert(BLKBENCH_MAXBYTES / PGSIZE <= DISK_MAX_SEGS, "a request is one page per segment");

// The classic design: what the driver may use, and how the file system
// drives the disk (kernel/disk.h). One 1 KB block per device request, one
// request in flight, no optional features; no read-ahead, no direct
// reads, a commit after every operation.
static const struct vblk_limits classic_limits = {
  .max_bytes = 1024,
  .max_inflight = 1,
  .features = 0,
};
static const struct disk_tuning classic_tuning = {
  .prefetch = 0,
  .readahead = 0,
  .direct_min = 0xffffffff,
  .commit_ticks = 0,
};
// The fast design, as the kernel boots with it (saved by the first switch).
static struct disk_tuning fast_tuning;
static int classic;              // the mode diskmode() last set

struct bench {
  int reqsize, depth, nreq, write;
  int npages;
  char *data[BLKBENCH_MAXDEPTH][BLKBENCH_MAXBYTES / PGSIZE];  // each request's data pages
  char *reqpage[BLKBENCH_MAXDEPTH];          // pages holding the vblk_reqs
  struct disk_req *req[BLKBENCH_MAXDEPTH];
  uint64 area_start, area_end;               // sectors
  uint64 slots;                              // request-sized places in the area
};

// Sectors past the end of the file system, rounded up to a page.
static int
fs_end_sector(uint64 *end)
{
  struct buf *b = bread(ROOTDEV, 1);
  struct superblock sb;

  if(b == 0)
    return -1;
  memmove(&sb, b->data, sizeof(sb));
  brelse(b);
  if(sb.magic != FSMAGIC)
    return -1;
  *end = ((uint64)sb.size * (BSIZE / 512) + SECTORS_PER_PAGE - 1) /
         SECTORS_PER_PAGE * SECTORS_PER_PAGE;
  return 0;
}

static int
choose_area(struct bench *bb)
{
  uint64 cap = disk_capacity(), fs_end, nsect = bb->reqsize / 512;

  if(fs_end_sector(&fs_end) < 0)
    return -1;
  if(fs_end + nsect <= cap){
    bb->area_start = fs_end;
  } else if(!bb->write){
    bb->area_start = 0;
  } else {
    return BLKBENCH_NOSCRATCH;
  }
  bb->area_end = cap;
  bb->slots = (cap - bb->area_start) / nsect;
  return bb->slots > 0 ? 0 : BLKBENCH_NOSCRATCH;
}

static void
free_pages(struct bench *bb)
{
  for(int d = 0; d < BLKBENCH_MAXDEPTH; d++)
    for(int i = 0; i < bb->npages; i++)
      if(bb->data[d][i])
        kfree(bb->data[d][i]);
  for(int i = 0; i < BLKBENCH_MAXDEPTH; i++)
    if(bb->reqpage[i])
      kfree(bb->reqpage[i]);
}

static int
alloc_pages(struct bench *bb)
{
  bb->npages = (bb->reqsize + PGSIZE - 1) / PGSIZE;
  for(int d = 0; d < bb->depth; d++){
    for(int i = 0; i < bb->npages; i++){
      if((bb->data[d][i] = kalloc()) == 0)
        return -1;
      memset(bb->data[d][i], 0x5a, PGSIZE);
    }
  }
  for(int i = 0; i < bb->depth; i++){
    int page = i / REQS_PER_PAGE;
    if(bb->reqpage[page] == 0 && (bb->reqpage[page] = kalloc()) == 0)
      return -1;
    bb->req[i] = (struct disk_req *)bb->reqpage[page] + i % REQS_PER_PAGE;
  }
  return 0;
}

// Set up the request in flight slot `slot` as the k-th of the run: its
// own place in the area, one segment per data page of that slot.
static struct disk_req *
fill(struct bench *bb, int slot, int k)
{
  struct disk_req *r = bb->req[slot];
  uint64 nsect = bb->reqsize / 512;
  int left = bb->reqsize;

  r->write = bb->write;
  r->sector = bb->area_start + ((uint64)k % bb->slots) * nsect;
  r->nseg = bb->npages;
  for(int i = 0; i < bb->npages; i++){
    r->seg[i].data = bb->data[slot][i];
    r->seg[i].len = left < PGSIZE ? left : PGSIZE;
    left -= r->seg[i].len;
  }
  r->callback = 0;
  r->arg = 0;
  return r;
}

// Keep `depth` requests in flight. The oldest is waited for; then every
// request that has finished in order behind it is refilled too, and the
// whole batch is published with one kick.
static int
run(struct bench *bb)
{
  int issued = 0, finished = 0, errors = 0;

  for(int i = 0; i < bb->depth && issued < bb->nreq; i++)
    disk_submit(fill(bb, i, issued++));
  disk_kick();
  while(finished < bb->nreq){
    int refill = 0;
    do {
      int slot = finished % bb->depth;
      if(disk_wait(bb->req[slot]) < 0)
        errors++;
      finished++;
      if(issued < bb->nreq){
        disk_submit(fill(bb, slot, issued++));
        refill++;
      }
    } while(finished < issued && disk_finished(bb->req[finished % bb->depth]));
    if(refill)
      disk_kick();
  }
  return errors;
}

static int
bench(struct bench *bb, struct blkbench_result *res)
{
  struct vblk_stats s0, s1;
  uint64 t0, t1;
  int r;

  if((r = choose_area(bb)) < 0)
    return r;
  if(alloc_pages(bb) < 0)
    return -1;
  disk_stats(&s0);
  t0 = r_time();
  res->errors = run(bb);
  t1 = r_time();
  disk_stats(&s1);

  res->ticks = t1 - t0;
  res->nreq = bb->nreq;
  res->bytes = (uint64)bb->nreq * bb->reqsize;
  res->requests = s1.requests - s0.requests;
  res->indirect = s1.indirect - s0.indirect;
  res->kicks = s1.kicks - s0.kicks;
  res->notifies = s1.notifies - s0.notifies;
  res->interrupts = s1.interrupts - s0.interrupts;
  res->event_idx = s1.event_idx;
  res->indirect_desc = s1.indirect_desc;
  res->flush = s1.flush;
  res->baseline = classic;
  res->packed = disk_packed();
  res->seg_max = s1.seg_max;
  res->queue_size = s1.queue_size;
  res->nslot = s1.nslot;
  res->area_start = bb->area_start;
  res->area_end = bb->area_end;
  return 0;
}

uint64
sys_blkbench(void)
{
  static struct bench bb;      // too big for a kernel stack
  static int busy;             // one benchmark at a time: bb is shared
  struct blkbench_result res;
  uint64 out;
  int r;

  // An atomic swap, so two harts cannot both see 0.
  if(__sync_lock_test_and_set(&busy, 1))
    return -1;
  memset(&res, 0, sizeof(res));
  memset(&bb, 0, sizeof(bb));
  argint(0, &bb.reqsize);
  argint(1, &bb.depth);
  argint(2, &bb.nreq);
  argint(3, &bb.write);
  argaddr(4, &out);
  if(bb.reqsize < 512 || bb.reqsize % 512 != 0 || bb.reqsize > BLKBENCH_MAXBYTES ||
     bb.depth < 1 || bb.depth > BLKBENCH_MAXDEPTH || bb.nreq < 1 || bb.nreq > 1000000 ||
     (bb.write != 0 && bb.write != 1) || (bb.write && disk_readonly())){
    __sync_lock_release(&busy);
    return -1;
  }
  r = bench(&bb, &res);
  free_pages(&bb);
  __sync_lock_release(&busy);
  if(r < 0)
    return r;
  if(copyout(myproc()->pagetable, out, (char *)&res, sizeof(res)) < 0)
    return -1;
  return 0;
}

uint64
sys_diskmode(void)
{
  int mode;

  argint(0, &mode);
  if(mode == -1)
    return classic;
  if(mode != 0 && mode != 1)
    return -1;
  if(!classic)
    fast_tuning = disk_tuning;   // what the kernel booted with
  if(disk_retune(mode ? &classic_limits : &VBLK_LIMITS_FULL,
                 mode ? &classic_tuning : &fast_tuning) < 0)
    return -1;
  classic = mode;
  return mode;
}
