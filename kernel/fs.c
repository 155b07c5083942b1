// fs.c: the file system proper: superblock, block allocator, inodes, file
// contents, directories and path names. The layers, bottom up:
//
//   blocks       bio.c (cache) and log.c (transactions) underneath
//   allocator    balloc/bfree: a bitmap with one bit per block
//   inodes       ialloc, iget/iput (references), ilock/iunlock (contents),
//                itrunc, iupdate; bmap maps a file's block n to a disk block
//                (direct, indirect and double-indirect blocks: fs.h)
//   contents     readi/writei: bytes at an offset, across blocks, one
//                block at a time through the cache; readi's fast paths
//                (read-ahead, reads straight into user memory, lock-free
//                copies of cached blocks) are in fs_fast.c
//   directories  dirlookup/dirlink: files holding struct dirent arrays
//   path names   namei/nameiparent: "/a/b/c", one element at a time
//   boot         fsinit: check the superblock against itself and the
//                device, replay the log (log.c), check the root directory,
//                free inodes orphaned by a crash
//
// The on-disk format is in fs.h. Every function that changes the disk runs
// inside a transaction (begin_op .. end_op, log.c) and uses log_write instead
// of bwrite, so a crash leaves either all or none of an operation's blocks.
//
// Errors never panic: a failed disk read (bread returning NULL), a full
// disk, a full inode table or a corrupt on-disk value becomes 0/-1 for the
// caller, which passes -1 up to the system call. Only broken kernel
// invariants (a lock not held, a reference count gone negative) panic. A
// disk that cannot be mounted at all (not our file system, a superblock
// whose regions do not fit, no usable root directory) is refused at boot
// with a message naming what is wrong, and the machine powers off.
//
// Locking and lock order (take them in this order, never backwards):
//   1. begin_op: an operation is admitted to the log before it takes any
//      inode or buffer lock (begin_op may wait for a commit, and the commit
//      needs the buffers).
//   2. inode sleeplocks: a directory before the inodes it contains (parent
//      before child). Path lookup holds one inode lock at a time, so ".."
//      (child to parent) cannot deadlock: it unlocks the child first.
//   3. buffer sleeplocks, after the inode lock; at most ONE buffer at a time
//      (bio.c's no-deadlock argument depends on it; see itrunc and bmap).
//   4. spinlocks last: itable.lock, bcache.lock, log.lock (before bcache),
//      ftable.lock. They are held only for short bookkeeping, never across
//      sleeping.
// What each lock protects:
//   itable.lock   which slot holds which inode (dev, inum) and ref counts
//   ip->lock      the inode's fields (valid, type, size, addrs...) and its
//                 file contents and directory entries
//   b->lock       a cached block's bytes
//
// See it run: `make qemu`; `ls`, `mkdir d`, `echo hi > d/f`, `cat d/f`
// exercise every layer. `usertests -q` runs many processes on it at once.
#include "types.h"
#include "param.h"
#include "stat.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "buf.h"
#include "file.h"
#include "defs.h"
#include "disk.h"

_Static_assert(BSIZE % sizeof(struct dinode) == 0, "inodes must tile a block");
_Static_assert(BSIZE % sizeof(struct dirent) == 0, "dirents must tile a block");

// The superblock, read once at boot and never changed afterwards, so it is
// read without a lock. (One disk, one file system.)
static struct superblock sb;

// Set once (read-only disk, or a failed commit), never cleared. A lone flag
// that publishes no other data, so relaxed atomic accesses are enough.
static int fs_ro;

int
fs_readonly(void)
{
  return __atomic_load_n(&fs_ro, __ATOMIC_RELAXED);
}

void
fs_set_readonly(void)
{
  __atomic_store_n(&fs_ro, 1, __ATOMIC_RELAXED);
}

// First block of the data region: everything before it is metadata.
static uint
datastart(void)
{
  return sb.size - sb.nblocks;
}

// Is b a block number a file may point to? Guards against corrupt inodes.
// (fs_fast.c's block-map reader uses it too.)
int
is_data_block(uint b)
{
  return b >= datastart() && b < sb.size;
}

// ---- boot: checking the disk before trusting it ----
//
// Everything on a disk is input: an image may be damaged, cut short, or
// made by hand to hurt. Before any other code uses the superblock, its
// fields must describe regions that lie in order, inside the file system
// and inside the device. Each sum is taken in 64 bits: in 32 bits a field
// near 2^32 wraps (inodestart 0xFFFFFFF0 plus 64 inode blocks is 48) and
// passes a comparison it should fail. A disk that fails a check is
// refused: one line says which field is wrong and why, and the machine
// powers off. That is not a panic: the kernel is fine, the disk is not,
// and nothing has been written to it yet.

// Say that the disk is refused (the caller has printed why) and power off.
static void
refuse_disk(void)
{
  printf("fs: check the image on the host with build/mkfs/fsck; powering off\n");
  sbi_shutdown();
}

// The superblock's fields, one at a time, in the order the regions lie on
// the disk. Prints the first problem and returns -1, or returns 0.
static int
sb_check(void)
{
  uint64 inodeblocks = ((uint64)sb.ninodes + IPB - 1) / IPB;
  uint64 bitmapblocks = ((uint64)sb.size + BPB - 1) / BPB;

  if(sb.magic != FSMAGIC){
    printf("fs: superblock field magic is %x, expected %x (this disk was not made by "
           "build/mkfs/mkfs): refusing the disk\n", sb.magic, FSMAGIC);
    return -1;
  }
  // A directory entry's inum is a ushort, and inode 0 is never used.
  if(sb.ninodes <= ROOTINO || sb.ninodes > 65536){
    printf("fs: superblock field ninodes is %u, not between %d and 65536: "
           "refusing the disk\n", sb.ninodes, ROOTINO + 1);
    return -1;
  }
  if(sb.nlog < LOGHDRBLOCKS + MAXOPBLOCKS){
    printf("fs: superblock field nlog is %u; the log needs at least %d blocks "
           "(%d of header, %d for one operation): refusing the disk\n",
           sb.nlog, LOGHDRBLOCKS + MAXOPBLOCKS, LOGHDRBLOCKS, MAXOPBLOCKS);
    return -1;
  }
  if(sb.logstart < 2){
    printf("fs: superblock field logstart is %u, inside the boot block and the "
           "superblock: refusing the disk\n", sb.logstart);
    return -1;
  }
  if((uint64)sb.logstart + sb.nlog > sb.inodestart){
    printf("fs: superblock fields logstart %u + nlog %u pass inodestart %u: "
           "refusing the disk\n", sb.logstart, sb.nlog, sb.inodestart);
    return -1;
  }
  if((uint64)sb.inodestart + inodeblocks > sb.bmapstart){
    printf("fs: superblock field inodestart %u + %u inode blocks (ninodes %u) "
           "passes bmapstart %u: refusing the disk\n",
           sb.inodestart, (uint)inodeblocks, sb.ninodes, sb.bmapstart);
    return -1;
  }
  if(sb.nblocks == 0 || sb.nblocks >= sb.size){
    printf("fs: superblock field nblocks is %u, not between 1 and size - 1 "
           "(size %u): refusing the disk\n", sb.nblocks, sb.size);
    return -1;
  }
  if((uint64)sb.bmapstart + bitmapblocks > datastart()){
    printf("fs: superblock field bmapstart %u + %u bitmap blocks (size %u) passes "
           "the data region, which starts at size - nblocks = %u: refusing the disk\n",
           sb.bmapstart, (uint)bitmapblocks, sb.size, datastart());
    return -1;
  }
  // Freeing a file may clear bits in every bitmap block in one transaction.
  if(bitmapblocks > MAXBITMAP){
    printf("fs: superblock field size is %u blocks, which needs %u bitmap blocks; "
           "one transaction can change at most %d: refusing the disk\n",
           sb.size, (uint)bitmapblocks, MAXBITMAP);
    return -1;
  }
  return 0;
}

// The file system must fit on the device. If its metadata does not, there
// is nothing to mount. If only the end of the data region is missing (an
// image cut short), the files before it can still be read, so the disk is
// mounted read-only: writing could allocate a block the device does not
// have, and a commit naming it could never be installed (log.c checks
// that too). Returns 0, or -1 after saying why the disk is refused.
static int
size_check(uint64 devblocks)
{
  if(datastart() > devblocks){
    printf("fs: superblock field size is %u blocks, but the disk holds only %lu: even "
           "its log, inodes and bitmap (blocks 0..%u) do not fit: refusing the disk\n",
           sb.size, devblocks, datastart() - 1);
    return -1;
  }
  if(sb.size > devblocks){
    printf("fs: superblock field size is %u blocks, but the disk holds only %lu "
           "(the image was cut short): mounting read-only; to write to it, make the "
           "image %lu bytes long again (truncate -s)\n",
           sb.size, devblocks, (uint64)sb.size * BSIZE);
    fs_set_readonly();
  }
  return 0;
}

// The root directory, inode ROOTINO: every path name starts there, /init
// among them. If it is not a directory that begins with "." and ".."
// naming itself, no program can be found on the disk: refuse it now, with
// the reason, instead of letting the boot fail later with a riddle.
// Returns 0, or -1 after saying what is wrong.
static int
root_check(uint dev)
{
  struct buf *bp = bread(dev, IBLOCK(ROOTINO, sb));
  if(bp == 0){
    printf("fs: cannot read the root directory's inode (block %u): refusing the disk\n",
           (uint)IBLOCK(ROOTINO, sb));
    return -1;
  }
  struct dinode *dip = (struct dinode *)bp->data + ROOTINO % IPB;
  int type = dip->type;
  uint size = dip->size, first = dip->addrs[0];
  brelse(bp);

  if(type != T_DIR){
    printf("fs: root directory (inode %d) is not a directory (type %d): "
           "refusing the disk\n", ROOTINO, type);
    return -1;
  }
  if(size < 2 * sizeof(struct dirent) || size % sizeof(struct dirent) != 0 ||
     size > MAXFILE * BSIZE){
    printf("fs: root directory (inode %d) has size %u, not a whole number of "
           "%d-byte entries with room for \".\" and \"..\": refusing the disk\n",
           ROOTINO, size, (int)sizeof(struct dirent));
    return -1;
  }
  if(!is_data_block(first)){
    printf("fs: root directory (inode %d): its first block %u is outside the data "
           "region (%u..%u): refusing the disk\n", ROOTINO, first, datastart(),
           sb.size - 1);
    return -1;
  }
  bp = bread(dev, first);
  if(bp == 0){
    printf("fs: root directory (inode %d): cannot read its first block %u: "
           "refusing the disk\n", ROOTINO, first);
    return -1;
  }
  struct dirent *de = (struct dirent *)bp->data;
  int ok = de[0].inum == ROOTINO && namecmp(de[0].name, ".") == 0 &&
           de[1].inum == ROOTINO && namecmp(de[1].name, "..") == 0;
  brelse(bp);
  if(!ok){
    printf("fs: root directory (inode %d) does not begin with \".\" and \"..\" "
           "naming itself: refusing the disk\n", ROOTINO);
    return -1;
  }
  return 0;
}

static void free_orphans(uint dev);

// Mount the disk: check it, replay the log, free orphans. A disk that
// cannot be mounted is refused (a message, then power off).
void
fsinit(int dev)
{
  uint64 devblocks = disk_capacity() / (BSIZE / 512);
  if(devblocks < 2){
    printf("fs: the disk holds %lu sectors, too few for a superblock (block 1): "
           "refusing the disk\n", disk_capacity());
    refuse_disk();
  }
  struct buf *b = bread(dev, 1);
  if(b == 0){
    printf("fs: cannot read the superblock (block 1): refusing the disk\n");
    refuse_disk();
  }
  memmove(&sb, b->data, sizeof(sb));
  brelse(b);

  if(sb_check() < 0 || size_check(devblocks) < 0)
    refuse_disk();
  if(disk_readonly()){
    fs_set_readonly();
    printf("fs: the disk is read-only: writes to files will fail\n");
  }
  initlog(dev, &sb);   // replays a committed transaction, if any
  if(root_check(dev) < 0)
    refuse_disk();
  if(!fs_readonly())
    free_orphans(dev);
  printf("fs: %u blocks (%u for data), %u inodes, %u log blocks%s\n",
         sb.size, sb.nblocks, sb.ninodes, sb.nlog,
         fs_readonly() ? ", read-only" : "");
}

// ---- blocks ----

// Fill block bno with zeros (inside the caller's transaction). Its old
// contents do not matter, so they are not read from the disk.
static void
bzero(uint dev, uint bno)
{
  struct buf *bp = bnew(dev, bno);
  log_write(bp);
  brelse(bp);
}

// Mark a data block free. On a read error the block is lost (stays marked
// in use), which wastes space but never corrupts a file.
static void
bfree(uint dev, uint b)
{
  if(!is_data_block(b)){
    printf("bfree: block %d is not a data block\n", b);
    return;
  }
  struct buf *bp = bread(dev, BBLOCK(b, sb));
  if(bp == 0)
    return;
  uint bi = b % BPB;
  uchar mask = 1 << (bi % 8);
  if((bp->data[bi / 8] & mask) == 0)
    printf("bfree: block %d is already free\n", b);
  bp->data[bi / 8] &= ~mask;
  log_write(bp);
  brelse(bp);
}

// Where the next balloc starts looking: just after the block it handed out
// last. Consecutive allocations (a file being written) get consecutive
// blocks, which lets the log, read-ahead and the device move them in big
// requests; and the search does not rescan the full front of the disk each
// time. Block-map (indirect) blocks have a hint of their own, which starts
// in the last eighth of the data area (map_zone): so a file's data blocks
// lie back to back, not broken by an indirect block every 256 KB, and its
// indirect blocks lie back to back too, so that a big read fetches its
// block map in a few requests instead of one per 256 KB (prefetch_map).
// Only hints (any value works; a full region is searched past, with wrap
// around), so relaxed atomics and no lock.
static uint data_hint, map_hint;

static uint
map_zone(void)
{
  return sb.size - (sb.size - datastart()) / 8;
}

// Allocate a block: a data block, or with map a block-map block. Returns
// its number, or 0 if the disk is full or unreadable. Two processes cannot
// get the same block: the bitmap buffer's sleeplock makes the test-and-set
// of a bit one step. A block-map block is zeroed (in the caller's
// transaction); a data block is not, so the caller must fill it through
// bnew() before the transaction ends, since the disk still holds a deleted
// file's old bytes there.
static uint
balloc(uint dev, int map)
{
  uint nbmap = (sb.size + BPB - 1) / BPB;
  uint *hint = map ? &map_hint : &data_hint;
  uint b = __atomic_load_n(hint, __ATOMIC_RELAXED);
  if(b < datastart() || b >= sb.size)
    b = map ? map_zone() : datastart();

  // Visit each bitmap block once, starting at the hint, and the first one
  // again at the end for the bits before the hint.
  for(uint visit = 0; visit <= nbmap; visit++){
    uint base = b - b % BPB;
    struct buf *bp = bread(dev, BBLOCK(base, sb));
    if(bp == 0)
      return 0;
    for(uint bi = b - base; bi < BPB && base + bi < sb.size; bi++){
      if(bi % 8 == 0 && bp->data[bi / 8] == 0xff){
        bi += 7;            // eight blocks in use: skip the byte
        continue;
      }
      uchar mask = 1 << (bi % 8);
      // mkfs marks the metadata blocks in use; skipping them here as well
      // means a damaged bitmap cannot make us overwrite the superblock.
      if(base + bi < datastart() || (bp->data[bi / 8] & mask) != 0)
        continue;
      bp->data[bi / 8] |= mask;
      log_write(bp);
      brelse(bp);
      __atomic_store_n(hint, base + bi + 1, __ATOMIC_RELAXED);
      if(map)
        bzero(dev, base + bi);
      return base + bi;
    }
    brelse(bp);
    b = base + BPB < sb.size ? base + BPB : 0;
  }
  printf("balloc: out of blocks\n");
  return 0;
}

// ---- inodes ----
//
// An inode struct in itable is in use when ref > 0; it then stands for the
// on-disk inode (dev, inum). Its fields (type, size, addrs...) are a copy
// of the disk's, loaded by the first ilock (valid = 1) and written back by
// iupdate. Life cycle, for the callers:
//   ip = iget/ialloc/namei/dirlookup   take a reference (ref++); no lock
//   ilock(ip) ... iunlock(ip)          read or change the fields/contents
//   iput(ip)                           drop the reference; the last iput of
//                                      an inode no directory names frees it
// A reference keeps the slot (and so the file) alive; the lock gives
// exclusive use. They are separate so that a process can keep a file open
// (a reference) without blocking others, and so that path lookup can hold a
// directory without holding its lock.

static struct {
  struct spinlock lock;
  struct inode inode[NINODE];
} itable;

void
iinit(void)
{
  initlock(&itable.lock, "itable");
  for(int i = 0; i < NINODE; i++)
    initsleeplock(&itable.inode[i].lock, "inode");
}

// A reference to inode inum, unlocked and maybe not yet read from disk.
// NULL if all NINODE slots are in use.
static struct inode *
iget(uint dev, uint inum)
{
  struct inode *ip, *empty = 0;

  acquire(&itable.lock);
  for(ip = itable.inode; ip < itable.inode + NINODE; ip++){
    if(ip->ref > 0 && ip->dev == dev && ip->inum == inum){
      ip->ref++;
      release(&itable.lock);
      return ip;
    }
    if(empty == 0 && ip->ref == 0)
      empty = ip;
  }
  if(empty == 0){
    release(&itable.lock);
    printf("iget: inode table full\n");
    return 0;
  }
  empty->dev = dev;
  empty->inum = inum;
  empty->ref = 1;
  empty->valid = 0;
  release(&itable.lock);
  return empty;
}

// Allocate a free on-disk inode and give it type. Returns a reference
// (unlocked), or NULL when no inode is free or the table is full.
struct inode *
ialloc(uint dev, short type)
{
  for(uint blk = 0; blk * IPB < sb.ninodes; blk++){
    struct buf *bp = bread(dev, sb.inodestart + blk);
    if(bp == 0)
      return 0;
    for(uint i = 0; i < IPB; i++){
      uint inum = blk * IPB + i;
      struct dinode *dip = (struct dinode *)bp->data + i;
      if(inum == 0 || inum >= sb.ninodes || dip->type != 0)
        continue;
      // Take the table slot first, so that failing leaves the disk alone.
      struct inode *ip = iget(dev, inum);
      if(ip == 0){
        brelse(bp);
        return 0;
      }
      // Claim it on disk while we hold the buffer: a concurrent ialloc
      // waits for this buffer and then sees type != 0.
      memset(dip, 0, sizeof(*dip));
      dip->type = type;
      log_write(bp);
      brelse(bp);
      return ip;
    }
    brelse(bp);
  }
  printf("ialloc: no free inodes\n");
  return 0;
}

// Copy ip's fields to its disk inode. Caller holds ip->lock and is in a
// transaction. Call it after every change of a field that lives on disk.
void
iupdate(struct inode *ip)
{
  struct buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
  if(bp == 0)
    return;
  struct dinode *dip = (struct dinode *)bp->data + ip->inum % IPB;
  dip->type = ip->type;
  dip->major = ip->major;
  dip->minor = ip->minor;
  dip->nlink = ip->nlink;
  dip->size = ip->size;
  memmove(dip->addrs, ip->addrs, sizeof(ip->addrs));
  log_write(bp);
  brelse(bp);
}

struct inode *
idup(struct inode *ip)
{
  acquire(&itable.lock);
  ip->ref++;
  release(&itable.lock);
  return ip;
}

// Lock ip, reading it from disk on first use. Returns -1 (with ip locked
// but ip->valid still 0) if it cannot be read or the disk says it is not a
// file; readi, writei and the directory functions refuse such an inode, so
// a caller that ignores the result still gets -1 further on.
int
ilock(struct inode *ip)
{
  if(ip == 0 || ip->ref < 1)
    panic("ilock: no reference");
  acquiresleep(&ip->lock);
  if(ip->valid)
    return 0;

  struct buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
  if(bp == 0)
    return -1;
  struct dinode *dip = (struct dinode *)bp->data + ip->inum % IPB;
  ip->type = dip->type;
  ip->major = dip->major;
  ip->minor = dip->minor;
  ip->nlink = dip->nlink;
  ip->size = dip->size;
  memmove(ip->addrs, dip->addrs, sizeof(ip->addrs));
  brelse(bp);
  ip->ra_next = 0;
  ip->ra_end = 0;

  // A free inode (a stale or corrupt directory entry) or nonsense values:
  // refuse it rather than act on it.
  if(ip->type < T_DIR || ip->type > T_DEVICE || ip->size > MAXFILE * BSIZE){
    printf("ilock: inode %d is free or corrupt (type %d)\n", ip->inum, ip->type);
    return -1;
  }
  ip->valid = 1;
  return 0;
}

void
iunlock(struct inode *ip)
{
  if(ip == 0 || ip->ref < 1 || !holdingsleep(&ip->lock))
    panic("iunlock: not locked");
  releasesleep(&ip->lock);
}

// Drop a reference. If it was the last one and no directory entry names the
// inode any more (nlink == 0), free its blocks and the inode itself. That
// writes the disk, so every iput must be inside a transaction.
void
iput(struct inode *ip)
{
  acquire(&itable.lock);
  if(ip->ref == 1 && ip->valid && ip->nlink == 0){
    // Nobody else can reach this inode now: ref == 1 means we hold the only
    // pointer, nlink == 0 means no lookup can find it, and ialloc cannot
    // pick it while the disk still says it is in use. So its sleeplock is
    // free, and we may drop itable.lock while we sleep on the disk.
    release(&itable.lock);
    acquiresleep(&ip->lock);
    itrunc(ip);
    ip->type = 0;
    iupdate(ip);       // now ialloc may reuse it
    ip->valid = 0;     // a later iget of the same inum must re-read it
    releasesleep(&ip->lock);
    acquire(&itable.lock);
  }
  if(ip->ref < 1)
    panic("iput: no reference");
  ip->ref--;
  release(&itable.lock);
}

void
iunlockput(struct inode *ip)
{
  iunlock(ip);
  iput(ip);
}

// A file that is unlinked while still open keeps its inode and blocks until
// the last close (iput). If the machine stops before that, the disk is left
// with an inode that is in use but has nlink 0 and no directory entry: an
// "orphan" nobody can reach. Right after boot no file is open, so every
// such inode can be freed. (No transaction ever commits a new inode with
// nlink 0: create() sets nlink in the same transaction as ialloc.)
static void
free_orphans(uint dev)
{
  int n = 0;

  for(uint inum = ROOTINO + 1; inum < sb.ninodes; inum++){
    struct buf *bp = bread(dev, IBLOCK(inum, sb));
    if(bp == 0)
      return;
    struct dinode *dip = (struct dinode *)bp->data + inum % IPB;
    int orphan = dip->type != 0 && dip->nlink == 0;
    brelse(bp);
    if(!orphan)
      continue;
    begin_op();
    struct inode *ip = iget(dev, inum);
    if(ip){
      ilock(ip);
      iunlock(ip);
      iput(ip);     // the last reference with nlink 0: frees it
      n++;
    }
    end_op();
  }
  if(n > 0)
    printf("fs: freed %d orphaned inodes (unlinked files open at the crash)\n", n);
}

// ---- file contents: block map ----
//
// File block bn (0, 1, 2...) is at:
//   bn < NDIRECT:              ip->addrs[bn]
//   next NINDIRECT blocks:     entry bn - NDIRECT of the indirect block
//                              ip->addrs[NDIRECT]
//   next NDINDIRECT blocks:    with k = bn - NDIRECT - NINDIRECT, entry
//                              k % NINDIRECT of the indirect block named by
//                              entry k / NINDIRECT of the double-indirect
//                              block ip->addrs[NDIRECT+1]
// 0 means "no block yet".

// A new block for a block map: an indirect block (fresh == 0), zeroed
// here and placed among the block-map blocks (balloc), or a data block,
// not zeroed: *fresh tells the caller to bnew() it.
static uint
map_alloc(struct inode *ip, int *fresh)
{
  uint b = balloc(ip->dev, fresh == 0);
  if(b && fresh)
    *fresh = 1;
  return b;
}

// ip->addrs[k]; with alloc, a new block if there is none. 0 if none (disk
// full, or a corrupt pointer).
static uint
root_entry(struct inode *ip, int k, int alloc, int *fresh)
{
  if(ip->addrs[k] == 0 && alloc)
    ip->addrs[k] = map_alloc(ip, fresh);
  return is_data_block(ip->addrs[k]) ? ip->addrs[k] : 0;
}

// Entry idx of indirect block ind; with alloc, a new block if it is 0.
// 0 if none (disk full, I/O error or a corrupt pointer).
static uint
ind_entry(struct inode *ip, uint ind, uint idx, int alloc, int *fresh)
{
  struct buf *bp = bread(ip->dev, ind);
  if(bp == 0)
    return 0;
  uint addr = ((uint *)bp->data)[idx];
  brelse(bp);
  if(addr == 0 && alloc){
    // We released the indirect block before balloc so as never to hold two
    // buffers. Nobody changed it meanwhile: only holders of ip->lock do.
    if((addr = map_alloc(ip, fresh)) == 0)
      return 0;
    if((bp = bread(ip->dev, ind)) == 0){
      bfree(ip->dev, addr);
      if(fresh)
        *fresh = 0;
      return 0;
    }
    ((uint *)bp->data)[idx] = addr;
    log_write(bp);
    brelse(bp);
  }
  return is_data_block(addr) ? addr : 0;
}

// The disk block holding file block bn. With alloc, missing blocks (and the
// indirect blocks on the way) are allocated; the caller must iupdate
// afterwards since ip->addrs may change, and if *fresh was set the data
// block is new and unwritten: get it with bnew(), not bread(). Returns 0 if
// there is none (past the end, disk full, I/O error or a corrupt pointer).
// Caller holds ip->lock.
static uint
bmap(struct inode *ip, uint bn, int alloc, int *fresh)
{
  *fresh = 0;
  if(bn < NDIRECT)
    return root_entry(ip, bn, alloc, fresh);
  bn -= NDIRECT;
  if(bn < NINDIRECT){
    uint ind = root_entry(ip, NDIRECT, alloc, 0);
    return ind ? ind_entry(ip, ind, bn, alloc, fresh) : 0;
  }
  bn -= NINDIRECT;
  if(bn >= NDINDIRECT)
    return 0;
  uint dind = root_entry(ip, NDIRECT + 1, alloc, 0);
  uint mid = dind ? ind_entry(ip, dind, bn / NINDIRECT, alloc, 0) : 0;
  return mid ? ind_entry(ip, mid, bn % NINDIRECT, alloc, fresh) : 0;
}

// Free the file blocks numbered keep and up that indirect block blk maps.
// blk heads a tree of `depth` levels (1: its entries are data blocks; 2:
// they are indirect blocks of depth 1) whose first entry maps file block
// `first`. If nothing below blk stays, blk itself is freed and we return 1
// (the caller clears its pointer to it); otherwise the cleared entries are
// written into blk and we return 0.
//
// Entries are copied out a slice at a time because bfree needs the bitmap
// buffer and we may hold only one buffer at once; a slice keeps the kernel
// stack small (this recurses once).
static int
free_tree(struct inode *ip, uint blk, uint first, uint keep, int depth)
{
  uint span = depth == 1 ? 1 : NINDIRECT;   // file blocks per entry
  uint slice[32];
  int all = keep <= first;

  if(!is_data_block(blk))
    return 1;               // corrupt pointer: drop it, free nothing
  for(uint e0 = 0; e0 < NINDIRECT; e0 += NELEM(slice)){
    if(first + (e0 + NELEM(slice)) * span <= keep)
      continue;             // this slice maps only blocks that stay
    struct buf *bp = bread(ip->dev, blk);
    if(bp == 0)
      return 0;             // the rest stay allocated: lost, not corrupt
    memmove(slice, (uint *)bp->data + e0, sizeof(slice));
    brelse(bp);
    if(depth > 1)
      breadahead(ip->dev, slice, NELEM(slice));  // the next level, in parallel
    int changed = 0;
    for(uint j = 0; j < NELEM(slice); j++){
      uint ebase = first + (e0 + j) * span;
      if(slice[j] == 0 || ebase + span <= keep)
        continue;
      if(depth == 1)
        bfree(ip->dev, slice[j]);
      else if(!free_tree(ip, slice[j], ebase, keep, depth - 1))
        continue;           // part of that subtree stays
      slice[j] = 0;
      changed = 1;
    }
    if(changed && !all){
      if((bp = bread(ip->dev, blk)) == 0)
        return 0;
      memmove((uint *)bp->data + e0, slice, sizeof(slice));
      log_write(bp);
      brelse(bp);
    }
  }
  if(!all)
    return 0;
  bfree(ip->dev, blk);
  return 1;
}

// Free file blocks keep, keep+1, ... and every indirect block that then
// maps nothing. Caller holds ip->lock, is in a transaction and iupdates.
// It writes the bitmap blocks (fsinit made sure all of them fit in one
// transaction), the inode and at most two indirect blocks that stay.
static void
free_from(struct inode *ip, uint keep)
{
  for(uint i = keep; i < NDIRECT; i++){
    if(ip->addrs[i] != 0){
      bfree(ip->dev, ip->addrs[i]);
      ip->addrs[i] = 0;
    }
  }
  if(ip->addrs[NDIRECT] != 0 &&
     free_tree(ip, ip->addrs[NDIRECT], NDIRECT, keep, 1))
    ip->addrs[NDIRECT] = 0;
  if(ip->addrs[NDIRECT + 1] != 0 &&
     free_tree(ip, ip->addrs[NDIRECT + 1], NDIRECT + NINDIRECT, keep, 2))
    ip->addrs[NDIRECT + 1] = 0;
}

// Free all of ip's blocks and make it empty. Caller holds ip->lock and is
// in a transaction.
void
itrunc(struct inode *ip)
{
  free_from(ip, 0);
  ip->size = 0;
  iupdate(ip);
}

void
stati(struct inode *ip, struct stat *st)
{
  st->dev = ip->dev;
  st->ino = ip->inum;
  st->type = ip->type;
  st->nlink = ip->nlink;
  st->size = ip->size;
}

// ---- file contents: bytes ----

// Copy up to n bytes from offset off of ip to dst (a user address if
// user_dst, else kernel). Returns the bytes copied (0 at or past the end),
// or -1 if dst is a bad address or nothing could be read. Caller holds
// ip->lock.
int
readi(struct inode *ip, int user_dst, uint64 dst, uint off, uint n)
{
  uint tot, m;

  if(!ip->valid)
    return -1;
  if(off > ip->size)
    return 0;
  if(n > ip->size - off)     // also catches off + n wrapping around
    n = ip->size - off;

  // The fast paths first (fs_fast.c): a big aligned read goes straight
  // from the disk into the reader's pages, read-ahead starts this read's
  // blocks (and, for a sequential reader, those after them) many per
  // request, and the leading blocks already in the cache are copied
  // without their locks. They report how many bytes they copied; with the
  // classic tuning (kernel/disk.h) they copy only cached blocks.
  tot = readi_fast(ip, user_dst, dst, off, n);
  off += tot;
  dst += tot;

  // The plain path: the rest, one block at a time through the cache. A
  // block that is not cached is read by bread, which sleeps until the disk
  // has it (or until a read-ahead of it finishes).
  for(; tot < n; tot += m, off += m, dst += m){
    int fresh;
    uint addr = bmap(ip, off / BSIZE, 0, &fresh);
    struct buf *bp = addr ? bread(ip->dev, addr) : 0;
    if(bp == 0)
      break;                 // I/O error or a corrupt block map: stop here
    m = BSIZE - off % BSIZE;
    if(m > n - tot)
      m = n - tot;
    int bad = either_copyout(user_dst, dst, bp->data + off % BSIZE, m) == -1;
    brelse(bp);
    if(bad)
      return -1;
  }
  // Some bytes and then an error: report the bytes (the next read will
  // meet the error first and get -1).
  return tot == 0 && n > 0 ? -1 : tot;
}

// Copy n bytes from src (user address if user_src) to ip at offset off,
// growing the file if needed. off may not be past the end (no holes).
// Returns the bytes written, or -1 if none could be (bad address, disk
// full, file at MAXFILE, I/O error). Caller holds ip->lock and is in a
// transaction, and n must be small enough for one transaction (file.c).
int
writei(struct inode *ip, int user_src, uint64 src, uint off, uint n)
{
  uint tot, m;

  if(!ip->valid || off > ip->size || off + n < off)
    return -1;
  if((uint64)off + n > MAXFILE * BSIZE){
    if(off >= MAXFILE * BSIZE)
      return -1;
    n = MAXFILE * BSIZE - off;       // write what fits
  }

  for(tot = 0; tot < n; tot += m, off += m, src += m){
    int fresh;
    uint addr = bmap(ip, off / BSIZE, 1, &fresh);
    // A fresh block's old bytes do not matter: bnew zeroes it, no read.
    struct buf *bp = addr == 0 ? 0 : fresh ? bnew(ip->dev, addr) : bread(ip->dev, addr);
    if(bp == 0)
      break;
    m = BSIZE - off % BSIZE;
    if(m > n - tot)
      m = n - tot;
    int bad = either_copyin(bp->data + off % BSIZE, user_src, src, m) == -1;
    // Log the block even after a fault: part of it may have been copied,
    // and the cached copy must not differ from what the log will write.
    log_write(bp);
    brelse(bp);
    if(bad)
      break;
  }
  if(off > ip->size)
    ip->size = off;
  // A write that stopped early may have allocated blocks (or an indirect
  // block) past the new end: free them, so that a file never has blocks
  // its size does not cover (fsck checks that).
  if(tot < n)
    free_from(ip, ip->size / BSIZE + (ip->size % BSIZE != 0));
  // Even if size did not change, bmap may have added blocks to ip->addrs.
  iupdate(ip);
  if(tot == 0 && n > 0)
    return -1;
  return tot;
}

// ---- directories ----

int
namecmp(const char *s, const char *t)
{
  return strncmp(s, t, DIRSIZ);
}

// Find name in directory dp (locked). Returns 1 and sets *poff and *pinum
// if found, 0 if not, -1 on a read error, if dp is not a directory, or if
// it has been removed (nlink 0: someone's current directory still holds
// it). A removed directory is empty; its "." and ".." stay in its blocks
// until the last reference goes, but ".." may name a directory that is
// gone too, whose inode is free. So nothing is looked up or added there.
static int
dir_find(struct inode *dp, char *name, uint *poff, uint *pinum)
{
  struct dirent de;

  if(!dp->valid || dp->type != T_DIR || dp->nlink == 0)
    return -1;
  for(uint off = 0; off + sizeof(de) <= dp->size; off += sizeof(de)){
    if(readi(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de))
      return -1;
    if(de.inum == 0 || namecmp(name, de.name) != 0)
      continue;
    if(de.inum >= sb.ninodes){
      printf("fs: directory inode %u: entry \"%s\" names inode %u, but the superblock "
             "field ninodes says there are %u: damaged disk\n", dp->inum, name,
             de.inum, sb.ninodes);
      return -1;
    }
    if(poff)
      *poff = off;
    *pinum = de.inum;
    return 1;
  }
  return 0;
}

// Look name up in directory dp (locked). Returns a reference to the inode
// (unlocked), or NULL if absent or on error. If poff, sets *poff to the
// entry's byte offset in dp.
struct inode *
dirlookup(struct inode *dp, char *name, uint *poff)
{
  uint inum;
  if(dir_find(dp, name, poff, &inum) != 1)
    return 0;
  return iget(dp->dev, inum);
}

// Add entry (name, inum) to directory dp (locked), in the first free slot
// or at the end. -1 if name is already there or on error. Names longer than
// DIRSIZ are stored cut to DIRSIZ bytes.
int
dirlink(struct inode *dp, char *name, uint inum)
{
  struct dirent de;
  uint inum_found, off;

  if(dir_find(dp, name, 0, &inum_found) != 0)
    return -1;               // exists, or we cannot tell
  for(off = 0; off + sizeof(de) <= dp->size; off += sizeof(de)){
    if(readi(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de))
      return -1;
    if(de.inum == 0)
      break;
  }
  memset(&de, 0, sizeof(de));
  de.inum = inum;
  strncpy(de.name, name, DIRSIZ);
  if(writei(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de))
    return -1;
  return 0;
}

// ---- path names ----

// Copy the next element of path into name (DIRSIZ+1 bytes, always
// terminated) and return the rest of path with leading slashes skipped; NULL
// if there is no element left. An element longer than DIRSIZ is cut to
// DIRSIZ bytes, as in Unix V6/V7 and xv6 (usertests' "fourteen" checks it).
//   skipelem("a/bb/c", name) = "bb/c", name = "a"
//   skipelem("///a//bb", name) = "bb", name = "a"
//   skipelem("a", name) = "", name = "a"
//   skipelem("", name) = skipelem("////", name) = NULL
static char *
skipelem(char *path, char *name)
{
  while(*path == '/')
    path++;
  if(*path == 0)
    return 0;
  char *s = path;
  while(*path != '/' && *path != 0)
    path++;
  int len = path - s;
  if(len > DIRSIZ)
    len = DIRSIZ;
  memmove(name, s, len);
  name[len] = 0;
  while(*path == '/')
    path++;
  return path;
}

// Walk path from the root (if it starts with '/') or the current directory.
// Returns a reference (unlocked) to the inode named, or with parent set to
// the directory holding the last element, whose name goes into name. NULL
// if any element is missing or not a directory. Must run in a transaction,
// since it calls iput.
static struct inode *
namex(char *path, int parent, char *name)
{
  struct inode *ip, *next;
  struct proc *p = myproc();

  if(*path == '/' || p == 0 || p->cwd == 0)
    ip = iget(ROOTDEV, ROOTINO);
  else
    ip = idup(p->cwd);
  if(ip == 0)
    return 0;

  while((path = skipelem(path, name)) != 0){
    if(ilock(ip) < 0 || ip->type != T_DIR){
      iunlockput(ip);
      return 0;
    }
    if(parent && *path == 0){
      iunlock(ip);           // name is the last element: ip is its parent
      return ip;
    }
    next = dirlookup(ip, name, 0);
    // Unlock ip before next is locked (by the next round), so that ".."
    // never makes us hold a child while waiting for its parent.
    iunlockput(ip);
    if(next == 0)
      return 0;
    ip = next;
  }
  if(parent){
    iput(ip);                // "/" or "": no last element to return
    return 0;
  }
  return ip;
}

struct inode *
namei(char *path)
{
  char name[DIRSIZ + 1];
  return namex(path, 0, name);
}

// name must have room for DIRSIZ + 1 bytes.
struct inode *
nameiparent(char *path, char *name)
{
  return namex(path, 1, name);
}
