// log.c: a write-ahead redo log with group commit and write-back. It makes
// every file-system operation all-or-nothing with respect to crashes, and
// lets many operations share one trip to the disk.
//
// The problem: creating a file changes several blocks (the bitmap, an inode
// block, a directory block). The disk writes them independently, so a
// crash between two of those writes would leave, say, a directory entry
// naming an inode that is still marked free. The log solves it like this:
//
//   1. While an operation runs, log_write() only records which cached blocks
//      it changed, and pins them in the buffer cache. Nothing goes home yet.
//      Operations pile up in one transaction (absorbing repeated changes to
//      the same block) until a commit is due (see "When" below).
//   2. Commit: the blocks' contents are written to the log's slots and the
//      log header (the list of home block numbers and a checksum over the
//      header and every logged block) after them, all in a few big requests
//      in flight together; then the disk's write cache is flushed
//      (VIRTIO_BLK_T_FLUSH, virtio 1.2 5.2.6.2). After the flush the
//      transaction is durable: the commit point.
//   3. Install: the blocks are written to their home locations, sorted so
//      that neighbours share a request, all in flight together; flush again.
//   4. The header is rewritten with n = 0: nothing to replay any more.
//
// Why a checksum rather than "header last": the device may complete the
// requests of step 2 in any order, and a crash may leave any subset of them
// on disk. Recovery (at boot) believes a header only if its checksum matches
// the header and all n logged blocks as they are on disk; so a header that
// reached the disk before some of its blocks is simply not a commit, and the
// old state stands. If it matches, recovery performs step 3 again: writing
// the same bytes twice does not matter, so it does not matter how far a
// crashed install got. Step 3's flush comes before step 4 and before the
// next commit overwrites the slots, so a transaction is never both
// half-installed and unrecoverable. A header is believed only if every
// block it names is an inode, bitmap or data block that the device really
// has (loggable), and a commit is written only under the same rule: a
// transaction naming a block past the device's end could never be
// installed, and every boot would try again.
//
// When does a commit happen? (Durability, as promised in the README.)
//   - sync() and fsync(fd) (log_sync): commit what is pending and wait for
//     it, flush included. This is the only promise: after they return, every
//     operation that finished before the call is on disk.
//   - the log is nearly full (begin_op finds no room for one more
//     operation), or the transaction is older than disk_tuning.commit_ticks
//     (1 s) when an operation ends, or the machine is halted (sys_halt
//     syncs). With the classic tuning the benchmarks compare against
//     (commit_ticks 0, kernel/disk.h) every operation commits, as in xv6.
// Transactions commit in order, so after a crash the disk shows every
// operation up to some point and none after it.
//
// Group commit: many processes may be inside an operation at once
// (begin_op .. end_op); a commit waits until none is (want_commit stops new
// ones from starting meanwhile). begin_op admits an operation only if the
// log has room for MAXOPBLOCKS more blocks for every operation already
// running, so the log cannot overflow; hence no operation may write more
// than MAXOPBLOCKS distinct blocks (file.c splits big writes for that).
//
// Errors: if a commit cannot write the disk, we print
// "fs: write error, file system is now read-only" and stop writing anything.
// The disk is left either before the commit point (old state) or after it
// (recovery will finish the job at the next boot), so it stays consistent;
// memory may hold changes that never reach the disk.
//
// Locking: log.lock (spinlock) guards the struct below, and every buf's
// logslot. Lock order is log.lock before bcache.lock (log_write calls
// bpin). begin_op is called before taking any inode or buffer lock, since
// it may wait for a commit that needs the buffers.
//
// On disk (fs.h): blocks sb.logstart .. + LOGHDRBLOCKS-1 hold struct
// logheader; slot i is block sb.logstart + LOGHDRBLOCKS + i.
//
// See it run: `make crashtest` kills QEMU at random moments and checks that
// every synced operation survived; a boot after such a kill may print
// "fs: recovering N blocks from the log".
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "buf.h"
#include "defs.h"
#include "disk.h"

_Static_assert(LOGSIZE > LOGHDRBLOCKS + MAXOPBLOCKS, "LOGSIZE too small");
_Static_assert(LOGSIZE - LOGHDRBLOCKS < NBUF / 2, "the log may pin at most half the cache");

static struct {
  struct spinlock lock;
  uint dev;
  uint start;               // first header block
  uint nslots;              // usable slots: min(sb.nlog - LOGHDRBLOCKS, LOG_MAXSLOTS)
  uint size;                // first block a header may not name: the file system's
                            // size, or the device's if that is smaller
  uint first_home;          // lowest block a header may name (sb.inodestart)
  int outstanding;          // operations between begin_op and end_op
  int committing;           // a commit is writing; begin_op must wait
  int want_commit;          // commit as soon as outstanding reaches 0
  int failed;               // a commit failed: the fs is read-only
  uint commits;             // commits finished since boot (log_sync waits on it)
  uint seq;                 // commit number written in the header
  uint started;             // ticks when the transaction got its first block
  int sleepers;             // processes sleeping on &log (begin_op, log_sync)
  int n;                    // blocks in the transaction being built
  uint block[LOG_MAXSLOTS];         // home block number of slot i
  struct buf *pinned[LOG_MAXSLOTS]; // the cached buffer of block[i]
} log;

// Scratch space for commits and recovery. Only the committing process (or
// recovery, before any process uses the file system) touches it: no lock.
static uchar hdr[LOGHDRBLOCKS * BSIZE] __attribute__((aligned(8)));
static struct bvec vec[LOG_MAXSLOTS + LOGHDRBLOCKS];
static ushort order[LOG_MAXSLOTS];

static struct logheader *
header(void)
{
  return (struct logheader *)hdr;
}

// wakeup() visits every process; an end_op with nobody waiting (the usual
// case) skips it.
static void
wake_waiters(void)
{
  if(log.sleepers > 0)
    wakeup(&log);
}

// Sleep on &log (log.lock held), counted so that wake_waiters knows.
static void
wait_log(void)
{
  log.sleepers++;
  sleep(&log, &log.lock);
  log.sleepers--;
}

static void
went_readonly(void)
{
  printf("fs: write error, file system is now read-only\n");
  fs_set_readonly();
}

// Write header blocks 0..nb-1 from hdr. 0 or -1.
static int
write_header(int nb)
{
  for(int i = 0; i < nb; i++){
    vec[i].blockno = log.start + i;
    vec[i].data = hdr + i * BSIZE;
  }
  return bio_rw(vec, nb, 1);
}

// Mark the log empty on disk (step 4). The commit number stays.
static int
clear_header(void)
{
  memset(hdr, 0, BSIZE);
  header()->seq = log.seq;
  return write_header(1);
}

// Sort order[0..n-1] so that block[order[k]] ascends (heapsort: no
// recursion, no extra memory, n log n even for the worst order).
static void
sift(uint *block, int root, int n)
{
  for(;;){
    int c = 2 * root + 1;
    if(c >= n)
      return;
    if(c + 1 < n && block[order[c + 1]] > block[order[c]])
      c++;
    if(block[order[root]] >= block[order[c]])
      return;
    ushort t = order[root];
    order[root] = order[c];
    order[c] = t;
    root = c;
  }
}

static void
sort_by_block(uint *block, int n)
{
  for(int i = 0; i < n; i++)
    order[i] = i;
  for(int i = n / 2 - 1; i >= 0; i--)
    sift(block, i, n);
  for(int end = n - 1; end > 0; end--){
    ushort t = order[0];
    order[0] = order[end];
    order[end] = t;
    sift(block, 0, end);
  }
}

// Step 3: write slot contents (data[i]) home to block[i], in block order,
// then flush. 0 or -1.
static int
install(uint *block, struct buf **bufs, int n)
{
  sort_by_block(block, n);
  for(int k = 0; k < n; k++){
    vec[k].blockno = block[order[k]];
    vec[k].data = bufs[order[k]]->data;
  }
  if(bio_rw(vec, n, 1) < 0)
    return -1;
  return disk_flush();
}

// ---- recovery at boot ----

// May a transaction log block b? Only inode, bitmap and data blocks that
// the device has: a commit naming any other block would overwrite the
// superblock or the log itself, or could never be installed, and every
// boot would try again.
static int
loggable(uint b)
{
  return b >= log.first_home && b < log.size;
}

// Does the header in hdr (n > 0) name only blocks a transaction can log,
// each at most once? Recovery holds all their buffers at once, so a
// duplicate would make it wait for itself. Says what is wrong if not.
static int
header_sane(struct logheader *h)
{
  for(uint i = 0; i < h->n; i++){
    if(!loggable(h->block[i])){
      printf("fs: the log header names block %u for slot %u, outside blocks %u..%u "
             "(inodes, bitmap and data on this disk); ignoring it\n",
             h->block[i], i, log.first_home, log.size - 1);
      return 0;
    }
  }
  sort_by_block(h->block, h->n);
  for(uint k = 1; k < h->n; k++){
    if(h->block[order[k]] == h->block[order[k - 1]]){
      printf("fs: the log header names block %u twice; ignoring it\n",
             h->block[order[k]]);
      return 0;
    }
  }
  return 1;
}

static void
recover(void)
{
  struct logheader *h = header();

  vec[0].blockno = log.start;
  vec[0].data = hdr;
  if(bio_rw(vec, 1, 0) < 0){
    printf("fs: cannot read the log header\n");
    went_readonly();
    return;
  }
  log.seq = h->seq;
  if(h->n == 0)
    return;
  if(h->magic != LOGMAGIC || h->n > log.nslots){
    printf("fs: the log header is not a commit (n = %d); ignoring it\n", h->n);
    goto clear;
  }
  int n = h->n, nb = LOGHDR_NBLOCKS(n);
  for(int i = 1; i < nb; i++){
    vec[i - 1].blockno = log.start + i;
    vec[i - 1].data = hdr + i * BSIZE;
  }
  if(nb > 1 && bio_rw(vec, nb - 1, 0) < 0)
    goto readerr;
  if(!header_sane(h))
    goto clear;

  // Read each slot into the cache buffer of its home block (no process
  // uses the file system yet, so we may hold them all), then check the sum.
  uint64 want = h->sum;
  h->sum = 0;
  uint64 sum = logsum(LOGSUM_INIT, hdr, nb * BSIZE);
  for(int i = 0; i < n; i++){
    log.pinned[i] = bnew(log.dev, h->block[i]);
    vec[i].blockno = log.start + LOGHDRBLOCKS + i;
    vec[i].data = log.pinned[i]->data;
  }
  int readok = bio_rw(vec, n, 0) == 0;
  for(int i = 0; readok && i < n; i++)
    sum = logsum(sum, log.pinned[i]->data, BSIZE);

  int installed = 0;
  if(!readok){
    printf("fs: cannot read the log\n");
    went_readonly();
  } else if(sum != want){
    printf("fs: the log holds an unfinished commit (checksum mismatch); ignoring it\n");
  } else if(fs_readonly()){
    printf("fs: read-only disk: %d committed blocks in the log not replayed\n", n);
  } else {
    printf("fs: recovering %d blocks from the log (commit %d)\n", n, h->seq);
    if(install(h->block, log.pinned, n) == 0)
      installed = 1;
    else
      went_readonly();
  }
  // Installed buffers hold their blocks' contents now; the others do not.
  for(int i = 0; i < n; i++){
    if(!installed)
      log.pinned[i]->valid = 0;
    brelse(log.pinned[i]);
  }

clear:
  if(!fs_readonly() && clear_header() < 0)
    went_readonly();
  return;

readerr:
  printf("fs: cannot read the log\n");
  went_readonly();
}

void
initlog(int dev, struct superblock *sb)
{
  initlock(&log.lock, "log");
  log.dev = dev;
  log.start = sb->logstart;
  // fsinit mounts a file system bigger than its device read-only; a
  // header naming a block past the device's end is impossible all the same.
  uint64 devblocks = disk_capacity() / (BSIZE / 512);
  log.size = sb->size < devblocks ? sb->size : (uint)devblocks;
  log.first_home = sb->inodestart;
  log.nslots = sb->nlog > LOGHDRBLOCKS ? sb->nlog - LOGHDRBLOCKS : 0;
  if(log.nslots > LOG_MAXSLOTS)
    log.nslots = LOG_MAXSLOTS;   // the rest of a larger on-disk log stays unused
  if(log.nslots > LOGSIZE - LOGHDRBLOCKS)
    log.nslots = LOGSIZE - LOGHDRBLOCKS;  // keep the cache's half free (bio.c)
  // fsinit refused a disk whose log is smaller (the superblock's nlog).
  if(log.nslots < MAXOPBLOCKS)
    panic("initlog: log smaller than one operation; fsinit should have refused it");
  for(uint i = 0; i < log.nslots; i++)
    log.block[i] = 0;
  recover();
}

// ---- commits ----

// Steps 2 to 4 for the n blocks of the transaction. 0 or -1.
static int
write_commit(int n)
{
  struct logheader *h = header();
  int nb = LOGHDR_NBLOCKS(n);

  // The file system only writes blocks inside its regions, and fsinit keeps
  // it read-only when the device is smaller. Checked once more here, where
  // it counts: a committed header naming a block the device does not have
  // would fail its install at every boot from then on.
  for(int i = 0; i < n; i++){
    if(!loggable(log.block[i])){
      printf("fs: a transaction names block %u, outside blocks %u..%u: "
             "not committing it\n", log.block[i], log.first_home, log.size - 1);
      return -1;
    }
  }

  memset(hdr, 0, nb * BSIZE);
  h->magic = LOGMAGIC;
  h->n = n;
  h->seq = ++log.seq;
  for(int i = 0; i < n; i++)
    h->block[i] = log.block[i];
  // The pinned buffers cannot change under us: no operation runs during a
  // commit, and readers do not write. So no buffer locks are needed here.
  uint64 sum = logsum(LOGSUM_INIT, hdr, nb * BSIZE);
  for(int i = 0; i < n; i++)
    sum = logsum(sum, log.pinned[i]->data, BSIZE);
  h->sum = sum;

  // Step 2: the slots straight from the cache, then the header blocks;
  // the order does not matter for safety (see the top), and the slots
  // first is the classic order in baseline mode.
  for(int i = 0; i < n; i++){
    vec[i].blockno = log.start + LOGHDRBLOCKS + i;
    vec[i].data = log.pinned[i]->data;
  }
  for(int i = 0; i < nb; i++){
    vec[n + i].blockno = log.start + i;
    vec[n + i].data = hdr + i * BSIZE;
  }
  if(bio_rw(vec, n + nb, 1) < 0 || disk_flush() < 0)
    return -1;
  // Step 3 (with its flush), then step 4.
  if(install(log.block, log.pinned, n) < 0)
    return -1;
  return clear_header();
}

// Called with log.committing set and no operation outstanding, so nobody
// else reads or changes the transaction, and we may sleep on the disk
// without holding log.lock.
static void
commit(void)
{
  int n = log.n;
  if(n == 0)
    return;
  if(!fs_readonly() && write_commit(n) < 0){
    log.failed = 1;
    went_readonly();
  }
  // Only now, with the blocks home (or given up on), may the cache evict
  // them: evicting earlier would lose the change or expose old data.
  acquire(&log.lock);
  for(int i = 0; i < n; i++)
    log.pinned[i]->logslot = -1;
  log.n = 0;
  release(&log.lock);
  for(int i = 0; i < n; i++)
    bunpin(log.pinned[i]);
}

// Commit now. Called with log.lock held, no operation outstanding and no
// commit running; returns with log.lock held.
static void
commit_locked(void)
{
  log.committing = 1;
  release(&log.lock);
  commit();
  acquire(&log.lock);
  log.committing = 0;
  log.want_commit = 0;
  log.commits++;
  wake_waiters();
}

static int
too_old(void)
{
  uint now = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
  return log.n > 0 && now - log.started >= disk_tuning.commit_ticks;
}

// ---- transactions ----

// Start an operation. Waits while a commit is due or writing, and while
// the log might not have room for this operation's MAXOPBLOCKS blocks on
// top of the blocks already logged and the worst case of every operation
// running. If the log is that full and nobody is running, commit first.
void
begin_op(void)
{
  acquire(&log.lock);
  for(;;){
    if(log.committing || log.want_commit){
      wait_log();
    } else if(log.n + (log.outstanding + 1) * MAXOPBLOCKS > log.nslots){
      if(log.outstanding == 0)
        commit_locked();
      else {
        log.want_commit = 1;    // the last end_op commits
        wait_log();
      }
    } else {
      break;
    }
  }
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
  if(b->logslot >= 0){
    release(&log.lock);         // already in this transaction: absorbed
    return;
  }
  // begin_op's reservation makes this impossible unless some operation
  // wrote more than MAXOPBLOCKS blocks: a kernel bug.
  if(log.n >= log.nslots)
    panic("log_write: transaction too big");
  if(log.n == 0)
    log.started = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
  b->logslot = log.n;
  log.block[log.n] = b->blockno;
  log.pinned[log.n] = b;
  log.n++;
  bpin(b);
  release(&log.lock);
}

// End an operation. The last one out commits if a commit is due.
void
end_op(void)
{
  acquire(&log.lock);
  if(log.outstanding < 1 || log.committing)
    panic("end_op: no operation in progress");
  log.outstanding--;
  if(log.outstanding == 0 && log.n > 0 &&
     (log.want_commit || too_old())){
    commit_locked();
  } else {
    // This operation's unused reservation is free again, or a commit
    // someone asked for found nothing to write: waiters may go on.
    if(log.outstanding == 0)
      log.want_commit = 0;
    wake_waiters();
  }
  release(&log.lock);
}

// sync() and fsync(): make every operation that finished before this call
// durable. 0, or -1 if a commit failed (the file system is read-only then).
int
log_sync(void)
{
  acquire(&log.lock);
  uint target;
  if(log.committing){
    // Everything finished so far is in the commit being written.
    target = log.commits + 1;
  } else if(log.n == 0){
    // Nothing pending; every earlier commit was flushed before it ended.
    release(&log.lock);
    return log.failed ? -1 : 0;
  } else if(log.outstanding == 0){
    commit_locked();
    target = log.commits;
  } else {
    target = log.commits + 1;
    log.want_commit = 1;       // the last running operation commits
  }
  while((int)(log.commits - target) < 0)
    wait_log();
  int r = log.failed ? -1 : 0;
  release(&log.lock);
  return r;
}
