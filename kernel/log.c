// log.c: a write-ahead redo log, which makes every file-system operation
// all-or-nothing with respect to crashes.
//
// The problem: creating a file changes several blocks (the bitmap, an inode
// block, a directory block). The disk writes one block at a time, so a crash
// between two of those writes would leave, say, a directory entry naming an
// inode that is still marked free. The log solves it like this:
//
//   1. While an operation runs, log_write() only records which cached blocks
//      it changed, and pins them in the buffer cache. Nothing goes home yet.
//   2. At commit, copies of those blocks are written to the log region.
//   3. Then the log header is written with n = the number of blocks. This
//      single-block write is the commit point: before it, the disk says
//      "no transaction" and the old state is intact; after it, the disk
//      holds every new block (in the log) and the header says where each
//      one belongs.
//   4. The blocks are copied to their home locations ("install").
//   5. The header is written with n = 0: the transaction is done.
//
// After a crash, recovery at boot (initlog) reads the header: if n > 0 it
// performs step 4 and 5 again. Doing step 4 twice writes the same bytes
// twice, so it does not matter how far the crashed install got. Hence each
// transaction either happened completely or not at all.
//
// Group commit: many processes may be inside an operation at once
// (begin_op .. end_op); their blocks pile up in one transaction, committed
// when the last of them calls end_op. A block changed by several of them is
// logged once ("absorption"). begin_op admits an operation only if the log
// has room for MAXOPBLOCKS more blocks for every operation already running,
// so the log cannot overflow; hence no operation may write more than
// MAXOPBLOCKS distinct blocks (file.c splits big writes for that reason).
//
// Errors: if a commit cannot write the disk, we print
// "fs: write error, file system is now read-only" and stop writing anything.
// The disk is left either before step 3 (old state) or after it (recovery
// will finish the job at the next boot), so it stays consistent; memory may
// hold changes that never reach the disk.
//
// Locking: log.lock (spinlock) guards the struct below. Lock order is
// log.lock before bcache.lock (log_write calls bpin). begin_op is called
// before taking any inode or buffer lock, since it may wait for a commit
// that needs the buffers.
//
// On disk (fs.h): block sb.logstart holds struct logheader; the blocks after
// it hold the logged copies, slot i at sb.logstart + 1 + i.
//
// See it run: `make qemu`, create a file, kill QEMU (Ctrl-a x) in the middle
// of `usertests`; the next boot prints "fs: recovering N blocks from the log".
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "buf.h"
#include "defs.h"

// We use at most LOGSIZE-1 slots so that the log never pins all NBUF
// (== LOGSIZE) buffers of the cache; bio.c relies on that.
#define LOGSLOTS (LOGSIZE - 1)

// The log header, on disk in block sb.logstart and in memory in log.lh.
struct logheader {
  uint n;                   // blocks in the transaction; 0 = none
  uint block[LOGSLOTS];     // home block number of the copy in slot i
};
_Static_assert(sizeof(struct logheader) <= BSIZE, "log header must fit in a block");

static struct {
  struct spinlock lock;
  uint dev;
  uint start;               // block number of the header
  uint nslots;              // usable slots: min(sb.nlog - 1, LOGSLOTS)
  int outstanding;          // operations between begin_op and end_op
  int committing;           // a commit is writing; begin_op must wait
  struct logheader lh;      // the transaction being built
  struct buf *pinned[LOGSLOTS];  // the cached buffer of lh.block[i]
} log;

// A private buffer for the log's own disk traffic: copies into log slots,
// the header, and recovery. It is not part of the cache, so a commit needs no
// free cache buffer. Only the committing process (or recovery, before any
// process uses the file system) touches it, so it needs no lock.
static struct buf iobuf;

static void recover(struct superblock *sb);

void
initlog(int dev, struct superblock *sb)
{
  initlock(&log.lock, "log");
  log.dev = dev;
  log.start = sb->logstart;
  log.nslots = sb->nlog - 1;
  if(log.nslots > LOGSLOTS)
    log.nslots = LOGSLOTS;   // the rest of a larger on-disk log stays unused
  if(sb->nlog < 1 || log.nslots < MAXOPBLOCKS){
    printf("fs: the log has %d blocks; one operation needs %d plus a header\n",
           sb->nlog, MAXOPBLOCKS);
    panic("fs: log too small");
  }
  recover(sb);
}

// Read or write the iobuf to/from block blockno. 0 or -1.
static int
log_io(uint blockno, int write)
{
  iobuf.dev = log.dev;
  iobuf.blockno = blockno;
  if(disk_rw(&iobuf, write) < 0){
    printf("log: %s error on block %d\n", write ? "write" : "read", blockno);
    return -1;
  }
  return 0;
}

// Write the header with n blocks (from log.lh.block). Step 3 when n > 0,
// step 5 when n == 0.
static int
write_head(uint n)
{
  struct logheader *h = (struct logheader *)iobuf.data;
  memset(iobuf.data, 0, BSIZE);
  h->n = n;
  for(uint i = 0; i < n; i++)
    h->block[i] = log.lh.block[i];
  return log_io(log.start, 1);
}

static void
went_readonly(void)
{
  printf("fs: write error, file system is now read-only\n");
  fs_set_readonly();
}

// ---- recovery at boot ----

static int
header_ok(struct logheader *h, struct superblock *sb)
{
  if(h->n > log.nslots)
    return 0;
  for(uint i = 0; i < h->n; i++){
    // Only blocks after the log are ever logged.
    if(h->block[i] < sb->inodestart || h->block[i] >= sb->size)
      return 0;
  }
  return 1;
}

static void
recover(struct superblock *sb)
{
  if(log_io(log.start, 0) < 0){
    printf("fs: cannot read the log header\n");
    went_readonly();
    return;
  }
  memmove(&log.lh, iobuf.data, sizeof(log.lh));
  if(log.lh.n == 0)
    return;

  if(!header_ok(&log.lh, sb)){
    printf("fs: log header is corrupt (n = %d); ignoring it\n", log.lh.n);
    log.lh.n = 0;
    if(!fs_readonly() && write_head(0) < 0)
      went_readonly();
    return;
  }
  if(fs_readonly()){
    // We may not write, so we cannot finish the committed transaction.
    // If the crash came mid-install, some files may look half-updated.
    printf("fs: read-only disk: %d committed blocks in the log not replayed\n",
           log.lh.n);
    log.lh.n = 0;
    return;
  }

  printf("fs: recovering %d blocks from the log\n", log.lh.n);
  // Step 4 again: copy slot i to its home. The cache holds none of these
  // blocks yet (only the superblock has been read), so nothing stale remains.
  for(uint i = 0; i < log.lh.n; i++){
    if(log_io(log.start + 1 + i, 0) < 0 || log_io(log.lh.block[i], 1) < 0){
      went_readonly();
      log.lh.n = 0;
      return;
    }
  }
  log.lh.n = 0;
  if(write_head(0) < 0)    // step 5
    went_readonly();
}

// ---- transactions ----

// Start an operation. Waits while a commit is writing, and while the log
// might not have room for this operation's MAXOPBLOCKS blocks on top of the
// blocks already logged and the worst case of every operation running.
void
begin_op(void)
{
  acquire(&log.lock);
  while(log.committing ||
        log.lh.n + (log.outstanding + 1) * MAXOPBLOCKS > log.nslots)
    sleep(&log, &log.lock);
  log.outstanding++;
  release(&log.lock);
}

// Record that the caller changed b (which it holds, from bread) inside the
// current operation. The block is written at commit, not now; until then the
// pin keeps the changed copy in the cache. Use it in place of bwrite.
void
log_write(struct buf *b)
{
  acquire(&log.lock);
  if(log.outstanding < 1)
    panic("log_write outside of a transaction");
  for(uint i = 0; i < log.lh.n; i++){
    if(log.lh.block[i] == b->blockno){
      release(&log.lock);      // already in this transaction: absorbed
      return;
    }
  }
  // begin_op's reservation makes this impossible unless some operation
  // wrote more than MAXOPBLOCKS blocks: a kernel bug.
  if(log.lh.n >= log.nslots)
    panic("log_write: transaction too big");
  log.lh.block[log.lh.n] = b->blockno;
  log.pinned[log.lh.n] = b;
  log.lh.n++;
  bpin(b);
  release(&log.lock);
}

// Step 2: copy each changed block into its log slot.
static int
write_log(void)
{
  for(uint i = 0; i < log.lh.n; i++){
    struct buf *b = log.pinned[i];
    acquiresleep(&b->lock);     // a reader may be looking at it
    memmove(iobuf.data, b->data, BSIZE);
    releasesleep(&b->lock);
    if(log_io(log.start + 1 + i, 1) < 0)
      return -1;
  }
  return 0;
}

// Step 4: write each changed block home, from its cached copy.
static int
install(void)
{
  for(uint i = 0; i < log.lh.n; i++){
    struct buf *b = log.pinned[i];
    acquiresleep(&b->lock);
    int r = bwrite(b);
    releasesleep(&b->lock);
    if(r < 0)
      return -1;
  }
  return 0;
}

// Called with log.committing set and no operation outstanding, so nobody
// else reads or changes log.lh, and we may sleep on the disk without
// holding log.lock.
static void
commit(void)
{
  if(log.lh.n == 0)
    return;
  if(!fs_readonly()){
    if(write_log() < 0 || write_head(log.lh.n) < 0 ||
       install() < 0 || write_head(0) < 0)
      went_readonly();
  }
  // Only now, with the blocks home (or given up on), may the cache evict
  // them: evicting earlier would lose the change or expose old data.
  for(uint i = 0; i < log.lh.n; i++)
    bunpin(log.pinned[i]);
  log.lh.n = 0;
}

// End an operation. The last one out commits everybody's blocks.
void
end_op(void)
{
  int do_commit = 0;

  acquire(&log.lock);
  if(log.outstanding < 1 || log.committing)
    panic("end_op: no operation in progress");
  log.outstanding--;
  if(log.outstanding == 0){
    do_commit = 1;
    log.committing = 1;
  } else {
    // This operation's unused reservation is free again: a waiting
    // begin_op may fit now.
    wakeup(&log);
  }
  release(&log.lock);

  if(do_commit){
    commit();
    acquire(&log.lock);
    log.committing = 0;
    wakeup(&log);
    release(&log.lock);
  }
}
