// fsck.c: check a file-system image on the host, without changing it.
//
//   build/mkfs/fsck [-q] fs.img
//
// It reads the whole image into memory and checks every rule of the
// on-disk format (kernel/fs.h):
//   - the superblock: magic, regions that fit together and into the image;
//   - the log header: empty, or a committed transaction (its checksum
//     matches) that names only blocks a transaction may log, each once.
//     A committed transaction is applied to the in-memory copy first, so
//     the image is checked as the kernel's recovery will leave it; a header
//     whose checksum does not match is an unfinished commit, which recovery
//     ignores (a normal state after a crash, reported as a note);
//   - every inode in use: a known type, a size within MAXFILE, block
//     pointers inside the data region, no holes (every block below the size
//     exists), nothing past the size, indirect blocks exactly where needed;
//   - no block used twice (by two files, or twice in one);
//   - directories: a multiple of 16 bytes, "." and ".." first and right,
//     entries naming inodes in use, no empty or repeated names, no
//     directory with two names;
//   - link counts: nlink equals the number of entries naming the inode
//     (".." counts for the parent, "." does not);
//   - inodes in use that no directory names: an error, unless nlink is 0
//     (an "orphan": a file unlinked while still open at the crash, which
//     the kernel frees at the next boot; a note);
//   - the bitmap: exactly the metadata blocks and the blocks files use are
//     marked in use.
// It prints one line per problem ("fsck: ...", the first 50) and a summary,
// and exits 0 if the image is clean, 1 if not, 2 if it cannot be read.
//
// See it run: `make fsck` checks fs.img; the crash test (make crashtest)
// runs it on every image it kills QEMU over; tests/qemu/test_fs.py damages
// images on purpose and expects it to complain.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/fs.h"

static const char *name;       // the image's file name
static uchar *img;             // the image (with a committed log applied)
static uint imgblocks;         // blocks in the file
static struct superblock sb;   // host byte order
static uint datastart;
static int quiet;
static int problems, notes;

static uint *owner;            // owner[b]: inode using block b, 0 = none
static uint *refs;             // directory entries naming each inode
static uint *parent;           // a directory's parent, 0 = not reached yet

// ---- reporting ----

static void
problem(const char *fmt, ...)
{
  va_list ap;
  if(++problems > 50)
    return;
  va_start(ap, fmt);
  printf("fsck: ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

static void
note(const char *fmt, ...)
{
  va_list ap;
  notes++;
  if(quiet)
    return;
  va_start(ap, fmt);
  printf("fsck: note: ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

// ---- little-endian fields ----

static uint
get16(const uchar *p)
{
  return p[0] | (p[1] << 8);
}

static uint
get32(const uchar *p)
{
  return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint)p[3] << 24);
}

static uint64
get64(const uchar *p)
{
  return get32(p) | ((uint64)get32(p + 4) << 32);
}

static uchar *
block(uint b)
{
  return img + (uint64)b * BSIZE;
}

// A host-order copy of an on-disk inode.
struct inode {
  int type, major, minor, nlink;
  uint size;
  uint addrs[NDIRECT + 2];
};

static void
get_inode(uint inum, struct inode *ip)
{
  const uchar *p = block(inum / IPB + sb.inodestart) + (inum % IPB) * sizeof(struct dinode);
  ip->type = (short)get16(p);
  ip->major = (short)get16(p + 2);
  ip->minor = (short)get16(p + 4);
  ip->nlink = (short)get16(p + 6);
  ip->size = get32(p + 8);
  for(int i = 0; i < NDIRECT + 2; i++)
    ip->addrs[i] = get32(p + 12 + 4 * i);
}

// ---- loading ----

static void
load(void)
{
  FILE *f = fopen(name, "rb");
  if(f == 0){
    fprintf(stderr, "fsck: cannot open %s\n", name);
    exit(2);
  }
  if(fseek(f, 0, SEEK_END) != 0){
    fprintf(stderr, "fsck: cannot seek in %s\n", name);
    exit(2);
  }
  long bytes = ftell(f);
  if(bytes < 2 * BSIZE){
    fprintf(stderr, "fsck: %s is too small to hold a file system\n", name);
    exit(2);
  }
  imgblocks = bytes / BSIZE;
  img = malloc((size_t)imgblocks * BSIZE);
  if(img == 0){
    fprintf(stderr, "fsck: out of memory\n");
    exit(2);
  }
  rewind(f);
  if(fread(img, BSIZE, imgblocks, f) != imgblocks){
    fprintf(stderr, "fsck: cannot read %s\n", name);
    exit(2);
  }
  fclose(f);
}

// 1 if the superblock can be trusted enough to go on. The fields are
// checked one by one, in the order the regions lie on the disk, and every
// sum is taken in 64 bits: in 32 bits a field near 2^32 wraps around
// (inodestart 0xFFFFFFF0 plus 64 inode blocks is 48) and passes. The
// kernel's fsinit checks the same rules.
static int
check_super(void)
{
  const uchar *p = block(1);
  sb.magic = get32(p);
  sb.size = get32(p + 4);
  sb.nblocks = get32(p + 8);
  sb.ninodes = get32(p + 12);
  sb.nlog = get32(p + 16);
  sb.logstart = get32(p + 20);
  sb.inodestart = get32(p + 24);
  sb.bmapstart = get32(p + 28);

  if(sb.magic != FSMAGIC){
    problem("superblock: magic %x, expected %x (not a file system of this format)",
            sb.magic, FSMAGIC);
    return 0;
  }
  uint64 inodeblocks = ((uint64)sb.ninodes + IPB - 1) / IPB;
  uint64 bitmapblocks = ((uint64)sb.size + BPB - 1) / BPB;
  if(sb.ninodes <= ROOTINO || sb.ninodes > 65536){
    problem("superblock: ninodes is %u, not between %d and 65536", sb.ninodes,
            ROOTINO + 1);
    return 0;
  }
  if(sb.logstart < 2){
    problem("superblock: logstart is %u, inside the boot block and the superblock",
            sb.logstart);
    return 0;
  }
  if((uint64)sb.logstart + sb.nlog > sb.inodestart){
    problem("superblock: logstart %u + nlog %u passes inodestart %u",
            sb.logstart, sb.nlog, sb.inodestart);
    return 0;
  }
  if((uint64)sb.inodestart + inodeblocks > sb.bmapstart){
    problem("superblock: inodestart %u + %u inode blocks (ninodes %u) passes "
            "bmapstart %u", sb.inodestart, (uint)inodeblocks, sb.ninodes, sb.bmapstart);
    return 0;
  }
  if(sb.nblocks == 0 || sb.nblocks >= sb.size){
    problem("superblock: nblocks is %u, not between 1 and size - 1 (size %u)",
            sb.nblocks, sb.size);
    return 0;
  }
  datastart = sb.size - sb.nblocks;
  if((uint64)sb.bmapstart + bitmapblocks > datastart){
    problem("superblock: bmapstart %u + %u bitmap blocks (size %u) passes the data "
            "region, which starts at size - nblocks = %u", sb.bmapstart,
            (uint)bitmapblocks, sb.size, datastart);
    return 0;
  }
  if(bitmapblocks > MAXBITMAP)
    problem("superblock: size %u needs %u bitmap blocks; the kernel allows at most %d",
            sb.size, (uint)bitmapblocks, MAXBITMAP);
  if(sb.nlog < LOGHDRBLOCKS + MAXOPBLOCKS)
    problem("superblock: nlog is %u: the log is too small (the kernel needs at least %d)",
            sb.nlog, LOGHDRBLOCKS + MAXOPBLOCKS);

  // An image shorter than its file system (cut short when copied, say):
  // the kernel mounts it read-only. What is there can still be checked, as
  // long as the metadata is; a pointer to a block past the end is reported
  // (claim, in_data), never followed.
  if(sb.size > imgblocks){
    problem("superblock: size is %u blocks, but the image has only %u: blocks %u..%u "
            "are missing (the kernel mounts it read-only)", sb.size, imgblocks,
            imgblocks, sb.size - 1);
    if(datastart > imgblocks){
      problem("superblock: the log, inodes and bitmap (blocks 0..%u) do not fit in "
              "the image", datastart - 1);
      return 0;
    }
  }
  return 1;
}

// Blocks of the file system that the image holds: the bound for every
// per-block table and loop.
static uint
present(void)
{
  return sb.size < imgblocks ? sb.size : imgblocks;
}

// Is b a block of the data region that the image really holds?
static int
in_data(uint b)
{
  return b >= datastart && b < sb.size && b < imgblocks;
}

// ---- the log ----

static int
cmp_uint(const void *a, const void *b)
{
  uint x = *(const uint *)a, y = *(const uint *)b;
  return x < y ? -1 : x > y;
}

static void
check_log(void)
{
  uint nslots = sb.nlog > LOGHDRBLOCKS ? sb.nlog - LOGHDRBLOCKS : 0;
  if(nslots > LOG_MAXSLOTS)
    nslots = LOG_MAXSLOTS;
  const uchar *h = block(sb.logstart);
  uint magic = get32(h), n = get32(h + 4), seq = get32(h + 8);

  if(n == 0){
    note("log: empty (last commit %u)", seq);
    return;
  }
  if(magic != LOGMAGIC || n > nslots){
    note("log: the header (n = %u) is not a commit; recovery ignores it", n);
    return;
  }
  uint nb = LOGHDR_NBLOCKS(n);
  uchar *copy = malloc(nb * BSIZE);
  uint *homes = malloc(n * sizeof(uint));
  if(copy == 0 || homes == 0){
    fprintf(stderr, "fsck: out of memory\n");
    exit(2);
  }
  memcpy(copy, h, nb * BSIZE);
  uint64 want = get64(copy + 16);
  memset(copy + 16, 0, 8);
  uint64 sum = logsum(LOGSUM_INIT, copy, nb * BSIZE);
  for(uint i = 0; i < n; i++)
    sum = logsum(sum, block(sb.logstart + LOGHDRBLOCKS + i), BSIZE);
  if(sum != want){
    note("log: an unfinished commit of %u blocks (checksum mismatch); "
         "recovery ignores it", n);
    free(copy);
    free(homes);
    return;
  }

  int bad = 0;
  for(uint i = 0; i < n; i++){
    homes[i] = get32(copy + LOGHDR_FIXED + 4 * i);
    if(homes[i] < sb.inodestart || homes[i] >= sb.size){
      problem("log: committed block %u is logged for block %u, outside the "
              "inode, bitmap and data regions", i, homes[i]);
      bad = 1;
    } else if(homes[i] >= imgblocks){
      problem("log: committed block %u is logged for block %u, past the end of the "
              "image (%u blocks): it can never be installed", i, homes[i], imgblocks);
      bad = 1;
    }
  }
  uint *sorted = malloc(n * sizeof(uint));
  if(sorted == 0){
    fprintf(stderr, "fsck: out of memory\n");
    exit(2);
  }
  memcpy(sorted, homes, n * sizeof(uint));
  qsort(sorted, n, sizeof(uint), cmp_uint);
  for(uint i = 1; i < n; i++){
    if(sorted[i] == sorted[i - 1]){
      problem("log: block %u is logged twice in one commit", sorted[i]);
      bad = 1;
    }
  }
  free(sorted);
  if(!bad){
    note("log: commit %u of %u blocks is not installed yet; checking the image "
         "as recovery will leave it", seq, n);
    for(uint i = 0; i < n; i++)
      memcpy(block(homes[i]), block(sb.logstart + LOGHDRBLOCKS + i), BSIZE);
  }
  free(copy);
  free(homes);
}

// ---- blocks of files ----

// Record that inode inum uses block b. 1 if b may be read as part of the
// file, 0 if it is out of range or already taken.
static int
claim(uint inum, uint b, const char *what)
{
  if(b < datastart || b >= sb.size){
    problem("inode %u: %s block %u is outside the data region", inum, what, b);
    return 0;
  }
  if(b >= imgblocks){
    problem("inode %u: %s block %u is past the end of the image", inum, what, b);
    return 0;
  }
  if(owner[b] != 0){
    if(owner[b] == inum)
      problem("inode %u: block %u is used twice in the file", inum, b);
    else
      problem("block %u is used by inode %u and by inode %u", b, owner[b], inum);
    return 0;
  }
  owner[b] = inum;
  return 1;
}

// Check pointer a to file block fbn of a file of nb blocks.
static void
check_data(uint inum, uint a, uint fbn, uint nb)
{
  if(fbn < nb){
    if(a == 0)
      problem("inode %u: block %u of the file is missing (a hole)", inum, fbn);
    else
      claim(inum, a, "data");
  } else if(a != 0){
    problem("inode %u: block %u of the file exists past the end (size says %u blocks)",
            inum, fbn, nb);
    claim(inum, a, "data");
  }
}

// Indirect block `ind` maps file blocks first, first+1, ... (depth 1) or
// first .. first + NINDIRECT*NINDIRECT - 1 through indirect blocks (depth 2).
static void
check_tree(uint inum, uint ind, uint first, uint nb, int depth, const char *what)
{
  if(ind == 0){
    if(nb > first)
      problem("inode %u: %s block is missing, but the size needs it", inum, what);
    return;
  }
  if(nb <= first)
    problem("inode %u: %s block %u exists, but the size (%u blocks) does not reach it",
            inum, what, ind, nb);
  if(!claim(inum, ind, what))
    return;
  const uchar *p = block(ind);
  uint span = depth == 1 ? 1 : NINDIRECT;
  for(uint k = 0; k < NINDIRECT; k++){
    uint a = get32(p + 4 * k);
    if(depth == 1)
      check_data(inum, a, first + k, nb);
    else
      check_tree(inum, a, first + k * span, nb, 1, "second-level indirect");
  }
}

static void
check_blocks(uint inum, struct inode *ip)
{
  uint nb = ip->size / BSIZE + (ip->size % BSIZE != 0);
  for(uint i = 0; i < NDIRECT; i++)
    check_data(inum, ip->addrs[i], i, nb);
  check_tree(inum, ip->addrs[NDIRECT], NDIRECT, nb, 1, "indirect");
  check_tree(inum, ip->addrs[NDIRECT + 1], NDIRECT + NINDIRECT, nb, 2,
             "double-indirect");
}

// The disk block holding file block fbn, or 0 if there is none or a
// pointer on the way leads outside the data region (check_blocks has
// reported that already). Every pointer is checked before it is followed:
// a damaged inode must not make fsck read outside the image.
static uint
file_block(struct inode *ip, uint fbn)
{
  if(fbn < NDIRECT)
    return ip->addrs[fbn];
  fbn -= NDIRECT;
  if(fbn < NINDIRECT){
    uint ind = ip->addrs[NDIRECT];
    return in_data(ind) ? get32(block(ind) + 4 * fbn) : 0;
  }
  fbn -= NINDIRECT;
  if(fbn >= NDINDIRECT)
    return 0;
  uint top = ip->addrs[NDIRECT + 1];
  uint mid = in_data(top) ? get32(block(top) + 4 * (fbn / NINDIRECT)) : 0;
  return in_data(mid) ? get32(block(mid) + 4 * (fbn % NINDIRECT)) : 0;
}

// ---- directories ----

struct entry {
  uint inum;
  char name[DIRSIZ + 1];
};

// The entries of directory inum; *n gets the count. Stops at the first
// block that is missing or outside the data region (already reported).
static struct entry *
read_dir(uint inum, struct inode *ip, uint *n)
{
  uint count = ip->size / sizeof(struct dirent);
  if(ip->size > (uint64)MAXFILE * BSIZE)
    count = 0;     // reported by the inode check; too big to be a file
  struct entry *e = calloc(count + 1, sizeof(*e));
  if(e == 0){
    fprintf(stderr, "fsck: out of memory\n");
    exit(2);
  }
  for(uint i = 0; i < count; i++){
    uint off = i * sizeof(struct dirent);
    uint b = file_block(ip, off / BSIZE);
    if(!in_data(b)){
      count = i;
      break;
    }
    const uchar *p = block(b) + off % BSIZE;
    e[i].inum = get16(p);
    memcpy(e[i].name, p + 2, DIRSIZ);
    e[i].name[DIRSIZ] = 0;
  }
  *n = count;
  return e;
}

// A name as it can be printed: a damaged entry may hold any bytes, which
// become '?' here. buf must have room for DIRSIZ + 1 bytes.
static const char *
shown(const char *name, char *buf)
{
  for(int i = 0; i <= DIRSIZ; i++){
    uchar c = name[i];
    buf[i] = (c == 0 || (c >= ' ' && c < 0x7f)) ? c : '?';
    if(c == 0)
      break;
  }
  return buf;
}

static int
cmp_entry(const void *a, const void *b)
{
  const struct entry *x = *(const struct entry *const *)a;
  const struct entry *y = *(const struct entry *const *)b;
  return strcmp(x->name, y->name);
}

// Report every name that appears more than once among directory d's n
// entries in use. Sorted, so that a directory of millions of entries (a
// damaged size can claim one) takes n log n steps, not n squared.
static void
check_names(uint d, struct entry *e, uint n)
{
  struct entry **byname = malloc((n + 1) * sizeof(*byname));
  if(byname == 0){
    fprintf(stderr, "fsck: out of memory\n");
    exit(2);
  }
  uint m = 0;
  for(uint i = 0; i < n; i++)
    if(e[i].inum != 0 && e[i].name[0] != 0)
      byname[m++] = &e[i];
  qsort(byname, m, sizeof(*byname), cmp_entry);
  char buf[DIRSIZ + 1];
  for(uint i = 1; i < m; i++)
    if(strcmp(byname[i]->name, byname[i - 1]->name) == 0 &&
       (i + 1 == m || strcmp(byname[i]->name, byname[i + 1]->name) != 0))
      problem("directory %u: the name \"%s\" appears twice", d,
              shown(byname[i]->name, buf));
  free(byname);
}

static int
inode_type(uint inum)
{
  struct inode in;
  get_inode(inum, &in);
  return in.type;
}

// Walk the tree from the root, breadth first, counting references.
static void
walk_dirs(void)
{
  uint *queue = malloc(sb.ninodes * sizeof(uint));
  uint head = 0, tail = 0;
  char buf[DIRSIZ + 1];
  if(queue == 0){
    fprintf(stderr, "fsck: out of memory\n");
    exit(2);
  }
  queue[tail++] = ROOTINO;
  parent[ROOTINO] = ROOTINO;

  while(head < tail){
    uint d = queue[head++];
    struct inode dp;
    get_inode(d, &dp);
    if(dp.size % sizeof(struct dirent) != 0)
      problem("directory %u: size %u is not a multiple of %d", d, dp.size,
              (int)sizeof(struct dirent));
    uint n;
    struct entry *e = read_dir(d, &dp, &n);
    if(n < 2 || strcmp(e[0].name, ".") != 0 || e[0].inum != d)
      problem("directory %u: entry 0 is not \".\" naming itself", d);
    if(n < 2 || strcmp(e[1].name, "..") != 0 || e[1].inum != parent[d])
      problem("directory %u: entry 1 is not \"..\" naming its parent %u", d, parent[d]);
    check_names(d, e, n);
    for(uint i = 0; i < n; i++){
      uint t = e[i].inum;
      if(t == 0)
        continue;
      if(i == 0 && strcmp(e[i].name, ".") == 0)
        continue;          // "." is not counted in nlink
      if(e[i].name[0] == 0){
        problem("directory %u: entry %u (inode %u) has an empty name", d, i, t);
        continue;
      }
      if(t >= sb.ninodes){
        problem("directory %u: \"%s\" names inode %u; there are only %u",
                d, shown(e[i].name, buf), t, sb.ninodes);
        continue;
      }
      int type = inode_type(t);
      if(type == 0){
        problem("directory %u: \"%s\" names inode %u, which is free", d,
                shown(e[i].name, buf), t);
        continue;
      }
      refs[t]++;
      if(i == 1 && strcmp(e[i].name, "..") == 0)
        continue;          // counted for the parent; not a way down
      if(type == T_DIR){
        if(parent[t] != 0)
          problem("directory %u has a second name \"%s\" in directory %u", t,
                  shown(e[i].name, buf), d);
        else {
          parent[t] = d;
          queue[tail++] = t;
        }
      }
    }
    free(e);
  }
  free(queue);
}

// ---- main ----

int
main(int argc, char *argv[])
{
  int a = 1;
  if(argc > 1 && strcmp(argv[1], "-q") == 0){
    quiet = 1;
    a = 2;
  }
  if(argc != a + 1){
    fprintf(stderr, "usage: fsck [-q] fs.img\n");
    return 2;
  }
  name = argv[a];
  load();
  if(!check_super()){
    printf("fsck: %s: cannot check further: %d problem%s\n", name, problems,
           problems == 1 ? "" : "s");
    return 1;
  }
  check_log();

  owner = calloc(present(), sizeof(uint));
  refs = calloc(sb.ninodes, sizeof(uint));
  parent = calloc(sb.ninodes, sizeof(uint));
  if(owner == 0 || refs == 0 || parent == 0){
    fprintf(stderr, "fsck: out of memory\n");
    return 2;
  }

  // Every inode in use: its type, size and blocks.
  uint nfiles = 0, ndirs = 0, ndevs = 0, used = 0;
  for(uint inum = 1; inum < sb.ninodes; inum++){
    struct inode in;
    get_inode(inum, &in);
    if(in.type == 0)
      continue;
    if(in.type == T_DIR)
      ndirs++;
    else if(in.type == T_FILE)
      nfiles++;
    else if(in.type == T_DEVICE)
      ndevs++;
    else {
      problem("inode %u: unknown type %d", inum, in.type);
      continue;
    }
    if(in.size > (uint64)MAXFILE * BSIZE){
      problem("inode %u: size %u is more than MAXFILE blocks", inum, in.size);
      continue;
    }
    check_blocks(inum, &in);
  }

  struct inode root;
  get_inode(ROOTINO, &root);
  if(root.type != T_DIR)
    problem("inode %d (the root) is not a directory (type %d)", ROOTINO, root.type);
  else
    walk_dirs();

  // Link counts, and inodes no directory names.
  for(uint inum = 1; inum < sb.ninodes; inum++){
    struct inode in;
    get_inode(inum, &in);
    if(in.type < T_DIR || in.type > T_DEVICE)
      continue;
    if(refs[inum] == 0 && inum != ROOTINO){
      if(in.nlink == 0)
        note("inode %u: an orphan (nlink 0, no name: unlinked while open); "
             "the kernel frees it at boot", inum);
      else
        problem("inode %u (type %d, nlink %d) is in use but no directory names it",
                inum, in.type, in.nlink);
      continue;
    }
    if((uint)in.nlink != refs[inum])
      problem("inode %u: nlink is %d but %u directory entries name it",
              inum, in.nlink, refs[inum]);
  }

  // The bitmap against what is really used.
  uint leaked = 0, unmarked = 0;
  for(uint b = 0; b < present(); b++){
    int inuse = b < datastart || owner[b] != 0;
    int marked = (block(BBLOCK(b, sb))[(b % BPB) / 8] >> (b % 8)) & 1;
    if(inuse)
      used++;
    if(marked && !inuse){
      if(leaked++ < 10)
        problem("block %u is marked in use, but no file uses it", b);
    } else if(!marked && inuse){
      if(unmarked++ < 10)
        problem("block %u is used (%s %u) but marked free", b,
                b < datastart ? "metadata, region before" : "by inode",
                b < datastart ? datastart : owner[b]);
    }
  }
  if(leaked > 10)
    problem("... %u blocks marked in use but unused in all", leaked);
  if(unmarked > 10)
    problem("... %u used blocks marked free in all", unmarked);

  if(problems > 0){
    printf("fsck: %s: %d problem%s\n", name, problems, problems == 1 ? "" : "s");
    return 1;
  }
  printf("fsck: %s: clean: %u files, %u directories, %u devices, %u of %u blocks "
         "in use%s\n", name, nfiles, ndirs, ndevs, used, sb.size,
         notes ? " (see the notes)" : "");
  return 0;
}
