// fsfuzz.c: a fuzzer for file-system images. It damages copies of a good
// image (made by mkfs) in the places a checker and a kernel must not
// trust: the superblock's fields, the log header (also as a committed
// transaction, with a correct checksum, so that it is believed and
// applied), inode fields, directory entries, indirect blocks and the
// bitmap, with values chosen to hurt (0, 1, the special blocks, the last
// block and the one after it, 2^32 - 1 and its neighbours, sums that wrap,
// pointers that make loops). The on-disk format it attacks is kernel/fs.h.
//
// Two ways to use it:
//
//   fsfuzz [-s SEED] [-n N] FSCK BASE.img WORK.img
//       N times (default 300): copy BASE.img to WORK.img, damage it, run
//       FSCK WORK.img. FSCK (build/host-fsck/fsck, fsck built with
//       -fsanitize=address,undefined) must finish within 20 seconds,
//       print its summary line and exit 0 (clean) or 1 (problems found);
//       a signal, a sanitizer report, another status or a hang fails the
//       test. The unharmed BASE.img must be clean. Prints one
//       "PASS: fsck_fuzz: ..." or "FAIL: fsck_fuzz: ..." line, the seed and
//       the command that rebuilds a failing image.
//
//   fsfuzz -s SEED -i I IMG
//       damage IMG in place exactly as image I of seed SEED (used by
//       tests/qemu/test_fsfault.py to boot the kernel on damaged copies of
//       fs.img, and to rebuild a failing image by hand). Prints what it did.
//
// Image I of seed S depends on S and I only, so any image can be rebuilt
// alone. The image is read and written with pread/pwrite, so a sparse
// 100 MB fs.img stays sparse.
//
// See it run: `make -C tests/host check` (a fixed seed, 300 images; part of
// `make check`), `make fsfuzz N=5000` (a random seed, more images, and more
// kernel boots).
#define _GNU_SOURCE
// No <fcntl.h> or <sys/stat.h>: their struct stat would clash with the
// kernel's (kernel/stat.h, for T_DIR), so files are opened with stdio.
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/fs.h"

#define FSCK_TIMEOUT 20      // seconds one fsck run may take
#define MAXLIST 256          // remembered inodes and blocks of each kind

// ---- random numbers: splitmix64, so that (seed, image) fixes everything ----

static uint64 rng;

static uint64
rnd64(void)
{
  uint64 z = (rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A number in [0, n); n > 0.
static uint
rnd(uint n)
{
  return (uint)(rnd64() % n);
}

static void
seed_image(uint64 seed, uint64 index)
{
  rng = seed * 0x100000001b3ULL + index;
  rnd64();
}

// ---- what the good image holds (found once, before any damage) ----

struct list {
  uint v[MAXLIST];
  int n;
};

static void
add(struct list *l, uint v)
{
  if(l->n < MAXLIST)
    l->v[l->n++] = v;
}

static uint
pick(const struct list *l, uint fallback)
{
  return l->n ? l->v[rnd(l->n)] : fallback;
}

static struct {
  int fd;
  struct superblock sb;
  uint imgblocks;        // blocks in the file
  uint datastart;
  uint nslots;           // log slots
  struct list inodes;    // inodes in use
  struct list dirs;      // directory inodes
  struct list dirblocks; // blocks holding directory entries
  struct list indirect;  // indirect and double-indirect blocks
  struct list data;      // data blocks of files
  struct list inodeblocks; // inode blocks holding inodes in use
} fz;

static void
die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL: fsck_fuzz: ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  exit(1);
}

static void
rd(uint b, void *buf)
{
  memset(buf, 0, BSIZE);
  if(b < fz.imgblocks && pread(fz.fd, buf, BSIZE, (off_t)b * BSIZE) < 0)
    die("read of block %u: %s", b, strerror(errno));
}

static void
wr(uint b, const void *buf)
{
  if(pwrite(fz.fd, buf, BSIZE, (off_t)b * BSIZE) != BSIZE)
    die("write of block %u: %s", b, strerror(errno));
}

static void
get_dinode(uint inum, struct dinode *d)
{
  uchar buf[BSIZE];
  rd(IBLOCK(inum, fz.sb), buf);
  memcpy(d, buf + (inum % IPB) * sizeof(*d), sizeof(*d));
}

// Note the blocks of an inode in use: its direct blocks, its indirect
// blocks (following only pointers into the data region).
static void
note_blocks(struct dinode *d, int isdir)
{
  uint ind[NINDIRECT];
  for(int i = 0; i < NDIRECT; i++)
    if(d->addrs[i]){
      add(&fz.data, d->addrs[i]);
      if(isdir)
        add(&fz.dirblocks, d->addrs[i]);
    }
  for(int k = NDIRECT; k < NDIRECT + 2; k++){
    uint b = d->addrs[k];
    if(b < fz.datastart || b >= fz.sb.size)
      continue;
    add(&fz.indirect, b);
    rd(b, ind);
    for(uint j = 0; j < NINDIRECT && ind[j]; j++){
      if(k == NDIRECT + 1)
        add(&fz.indirect, ind[j]);
      else if(rnd(4) == 0)
        add(&fz.data, ind[j]);
    }
  }
}

// Read the superblock and find inodes, directories and blocks to damage.
static void
survey(int fd)
{
  uchar buf[BSIZE];
  memset(&fz, 0, sizeof(fz));
  fz.fd = fd;
  off_t end = lseek(fd, 0, SEEK_END);
  if(end < 2 * BSIZE)
    die("the base image is too small");
  fz.imgblocks = end / BSIZE;
  rd(1, buf);
  memcpy(&fz.sb, buf, sizeof(fz.sb));
  if(fz.sb.magic != FSMAGIC || fz.sb.size > fz.imgblocks || fz.sb.nblocks >= fz.sb.size)
    die("the base image is not a good file system");
  fz.datastart = fz.sb.size - fz.sb.nblocks;
  fz.nslots = fz.sb.nlog - LOGHDRBLOCKS;
  if(fz.nslots > LOG_MAXSLOTS)
    fz.nslots = LOG_MAXSLOTS;
  for(uint inum = 1; inum < fz.sb.ninodes; inum++){
    struct dinode d;
    get_dinode(inum, &d);
    if(d.type == 0)
      continue;
    add(&fz.inodes, inum);
    if(fz.inodeblocks.n == 0 ||
       fz.inodeblocks.v[fz.inodeblocks.n - 1] != IBLOCK(inum, fz.sb))
      add(&fz.inodeblocks, IBLOCK(inum, fz.sb));
    if(d.type == T_DIR)
      add(&fz.dirs, inum);
    note_blocks(&d, d.type == T_DIR);
  }
}

// ---- values that hurt ----

// A 32-bit value to put where v was.
static uint
bad32(uint v)
{
  switch(rnd(16)){
  case 0: return 0;
  case 1: return 1;
  case 2: return 2;
  case 3: return v - 1;
  case 4: return v + 1;
  case 5: return v * 2;
  case 6: return v / 2;
  case 7: return 0xFFFFFFFF;
  case 8: return 0xFFFFFFFE;
  case 9: return 0xFFFFFFF0;
  case 10: return 0xFFFFFFF8;
  case 11: return 0x80000000;
  case 12: return 0x7FFFFFFF;
  case 13: return fz.imgblocks + rnd(3) - 1;
  case 14: return (uint)rnd64();
  default: return v ^ (1u << rnd(32));
  }
}

// A block number to point at: the special places of the disk, blocks
// in use by others, the edges of the disk and beyond.
static uint
bad_block(void)
{
  switch(rnd(20)){
  case 0: return 0;
  case 1: return 1;
  case 2: return fz.sb.logstart;
  case 3: return fz.sb.logstart + LOGHDRBLOCKS;
  case 4: return fz.sb.inodestart;
  case 5: return pick(&fz.inodeblocks, fz.sb.inodestart);
  case 6: return fz.sb.bmapstart;
  case 7: return fz.datastart - 1;
  case 8: return fz.datastart;
  case 9: return fz.sb.size - 1;
  case 10: return fz.sb.size;
  case 11: return fz.sb.size + 1;
  case 12: return 0xFFFFFFFF;
  case 13: return 0xFFFFFFF0;
  case 14: return 0x80000000;
  case 15: return pick(&fz.dirblocks, fz.datastart);
  case 16: return pick(&fz.indirect, fz.datastart);
  case 17: return pick(&fz.data, fz.datastart);
  case 18: return fz.datastart + rnd(fz.sb.nblocks);
  default: return bad32(fz.datastart);
  }
}

// An inode number for a directory entry.
static uint
bad_inum(uint dir)
{
  switch(rnd(10)){
  case 0: return 0;
  case 1: return ROOTINO;
  case 2: return dir;
  case 3: return pick(&fz.dirs, ROOTINO);
  case 4: return pick(&fz.inodes, ROOTINO);
  case 5: return fz.sb.ninodes - 1;
  case 6: return fz.sb.ninodes;
  case 7: return 0xFFFF;
  case 8: return fz.inodes.n ? fz.inodes.v[fz.inodes.n - 1] + 1 + rnd(3) : 2;  // free ones
  default: return rnd(0x10000);
  }
}

// ---- damage to one block's contents (in memory) ----

static void
damage_inode(uchar *blk, uint idx)
{
  struct dinode *d = (struct dinode *)blk + idx;
  static const short types[] = { 0, T_DIR, T_FILE, T_DEVICE, 4, -1, 0x7fff, -32768 };
  static const short shorts[] = { 0, 1, 2, 3, 9, 10, 11, -1, 0x7fff, -32768 };
  switch(rnd(7)){
  case 0: d->type = types[rnd(8)]; break;
  case 1: d->major = shorts[rnd(10)]; break;
  case 2: d->nlink = shorts[rnd(10)]; break;
  case 3: {
    static const uint sizes[] = { 0, 1, 15, 16, 31, 1023, 1024, 1025,
                                  NDIRECT * BSIZE, NDIRECT * BSIZE + 1,
                                  (NDIRECT + NINDIRECT) * BSIZE + 1,
                                  MAXFILE * BSIZE, MAXFILE * BSIZE + 1,
                                  0x80000000u, 0xFFFFFFFFu };
    d->size = rnd(3) ? sizes[rnd(15)] : bad32(d->size);
    break;
  }
  case 4:
  case 5: d->addrs[rnd(NDIRECT + 2)] = bad_block(); break;
  default: {
    // A loop or a share: a map pointer names one of the file's own map
    // blocks (the other one, or itself), or another file's.
    uint *to = &d->addrs[NDIRECT + rnd(2)];
    uint from = d->addrs[NDIRECT + rnd(2)];
    *to = from ? from : pick(&fz.indirect, 0);
    break;
  }
  }
}

static void
damage_dirent(uchar *blk, uint idx, uint dir)
{
  struct dirent *de = (struct dirent *)blk + idx;
  switch(rnd(6)){
  case 0:
  case 1:
  case 2: de->inum = bad_inum(dir); break;
  case 3: {
    static const char *names[] = { "", ".", "..", "init", "sh", "console", "dev",
                                   "README.md", "abcdefghijklmn" };
    const char *nm = names[rnd(9)];
    memset(de->name, 0, DIRSIZ);
    memcpy(de->name, nm, strlen(nm));
    break;
  }
  case 4:
    for(int i = 0; i < DIRSIZ; i++)
      de->name[i] = (char)rnd(256);
    break;
  default:
    // a copy of a neighbour: the same name twice, or the same inode
    memcpy(de, (struct dirent *)blk + rnd(BSIZE / sizeof(*de)), sizeof(*de));
    break;
  }
}

static void
damage_bytes(uchar *blk)
{
  int n = 1 + rnd(8);
  for(int i = 0; i < n; i++){
    uint off = rnd(BSIZE);
    blk[off] = rnd(2) ? (uchar)rnd(256) : blk[off] ^ (1 << rnd(8));
  }
}

// Damage block b's contents in memory as what it is (inode block,
// directory block, indirect block, bitmap block, or anything).
static void
damage_contents(uint b, uchar *blk)
{
  int is_inode = b >= fz.sb.inodestart && b < fz.sb.bmapstart;
  int is_bitmap = b >= fz.sb.bmapstart && b < fz.datastart;
  int is_dir = 0, is_ind = 0;
  for(int i = 0; i < fz.dirblocks.n; i++)
    is_dir |= fz.dirblocks.v[i] == b;
  for(int i = 0; i < fz.indirect.n; i++)
    is_ind |= fz.indirect.v[i] == b;
  if(is_inode)
    damage_inode(blk, rnd(IPB));
  else if(is_dir)
    damage_dirent(blk, rnd(8) < 6 ? rnd(8) : rnd(BSIZE / sizeof(struct dirent)), ROOTINO);
  else if(is_ind)
    ((uint *)blk)[rnd(8) < 6 ? rnd(4) : rnd(NINDIRECT)] = bad_block();
  else if(is_bitmap)
    blk[rnd(8) < 4 ? rnd(8) : rnd(BSIZE)] = rnd(2) ? 0 : 0xff;
  else
    damage_bytes(blk);
}

// ---- damage to the image ----

static const char *sbfield[] = { "magic", "size", "nblocks", "ninodes", "nlog",
                                 "logstart", "inodestart", "bmapstart" };

static void
hurt_super(FILE *say)
{
  uchar buf[BSIZE];
  rd(1, buf);
  uint f = rnd(8);
  uint *field = (uint *)buf + f;
  uint old = *field;
  // The field, or another field's value (regions that overlap).
  *field = rnd(5) ? bad32(old) : ((uint *)buf)[1 + rnd(7)];
  wr(1, buf);
  fprintf(say, "superblock %s %u -> %u; ", sbfield[f], old, *field);
}

// A block a committed transaction might name as its home.
static uint
home_block(void)
{
  switch(rnd(6)){
  case 0: return bad_block();
  case 1: return pick(&fz.inodeblocks, fz.sb.inodestart);
  case 2: return pick(&fz.dirblocks, fz.datastart);
  case 3: return fz.sb.bmapstart + rnd(fz.datastart - fz.sb.bmapstart);
  case 4: return pick(&fz.indirect, fz.datastart);
  default: return pick(&fz.data, fz.datastart);
  }
}

// Write a log header. Mostly a committed one (its checksum matches), whose
// slots hold damaged copies of its home blocks: fsck and the kernel apply
// it before they look at anything else.
static void
hurt_log(FILE *say)
{
  static uchar hdr[LOGHDRBLOCKS * BSIZE] __attribute__((aligned(8)));
  static uchar slot[8][BSIZE] __attribute__((aligned(8)));
  struct logheader *h = (struct logheader *)hdr;
  uint n = rnd(4) ? 1 + rnd(4) : (rnd(2) ? fz.nslots : fz.nslots + 1);
  int commit = rnd(4) != 0;

  memset(hdr, 0, sizeof(hdr));
  h->magic = rnd(10) ? LOGMAGIC : bad32(LOGMAGIC);
  h->n = rnd(12) ? n : bad32(n);
  h->seq = 7;
  uint listed = h->n < LOG_MAXSLOTS ? h->n : LOG_MAXSLOTS;
  for(uint i = 0; i < listed; i++)
    h->block[i] = (i > 0 && rnd(8) == 0) ? h->block[i - 1] : home_block();
  uint nb = LOGHDR_NBLOCKS(listed);
  uint nslots_written = listed < 8 ? listed : 8;
  for(uint i = 0; i < nslots_written; i++){
    rd(h->block[i], slot[i]);
    damage_contents(h->block[i], slot[i]);
  }
  if(commit && listed <= 8){
    uint64 sum = logsum(LOGSUM_INIT, hdr, nb * BSIZE);
    for(uint i = 0; i < listed; i++)
      sum = logsum(sum, slot[i], BSIZE);
    h->sum = sum;
  } else {
    h->sum = rnd64();
  }
  for(uint i = 0; i < nb; i++)
    wr(fz.sb.logstart + i, hdr + i * BSIZE);
  for(uint i = 0; i < nslots_written; i++)
    wr(fz.sb.logstart + LOGHDRBLOCKS + i, slot[i]);
  fprintf(say, "log header n %u (%s), first home %u; ", h->n,
          commit && listed <= 8 ? "committed" : "not a commit", listed ? h->block[0] : 0);
}

static void
hurt_inode(FILE *say)
{
  uchar buf[BSIZE];
  uint inum;
  switch(rnd(4)){
  case 0: inum = ROOTINO; break;
  case 1: inum = fz.sb.ninodes - 1; break;
  default: inum = pick(&fz.inodes, ROOTINO); break;
  }
  rd(IBLOCK(inum, fz.sb), buf);
  damage_inode(buf, inum % IPB);
  wr(IBLOCK(inum, fz.sb), buf);
  fprintf(say, "inode %u; ", inum);
}

static void
hurt_dirent(FILE *say)
{
  uchar buf[BSIZE];
  uint b = pick(&fz.dirblocks, fz.datastart);
  uint idx = rnd(4) ? rnd(4) : rnd(BSIZE / sizeof(struct dirent));
  rd(b, buf);
  damage_dirent(buf, idx, ROOTINO);
  wr(b, buf);
  fprintf(say, "directory block %u entry %u; ", b, idx);
}

static void
hurt_indirect(FILE *say)
{
  uchar buf[BSIZE];
  if(fz.indirect.n == 0)
    return;
  uint b = pick(&fz.indirect, 0);
  uint k = rnd(4) ? rnd(4) : rnd(NINDIRECT);
  rd(b, buf);
  // a pointer anywhere, or back to itself or another map block: a loop
  ((uint *)buf)[k] = rnd(3) ? bad_block() : (rnd(2) ? b : pick(&fz.indirect, b));
  wr(b, buf);
  fprintf(say, "indirect block %u entry %u; ", b, k);
}

static void
hurt_bitmap(FILE *say)
{
  uchar buf[BSIZE];
  uint b = fz.sb.bmapstart + rnd(fz.datastart - fz.sb.bmapstart);
  rd(b, buf);
  switch(rnd(3)){
  case 0:
    memset(buf, rnd(2) ? 0 : 0xff, BSIZE);
    break;
  default: {
    uint byte = rnd(3) ? rnd(fz.datastart / 8 + 64 > BSIZE ? BSIZE : fz.datastart / 8 + 64)
                       : rnd(BSIZE);
    buf[byte] ^= 1 << rnd(8);
    break;
  }
  }
  wr(b, buf);
  fprintf(say, "bitmap block %u; ", b);
}

static void
hurt_bytes(FILE *say)
{
  uchar buf[BSIZE];
  uint b;
  switch(rnd(4)){
  case 0: b = 1; break;
  case 1: b = pick(&fz.inodeblocks, fz.sb.inodestart); break;
  case 2: b = pick(&fz.dirblocks, fz.datastart); break;
  default: b = pick(&fz.indirect, fz.sb.logstart); break;
  }
  rd(b, buf);
  damage_bytes(buf);
  wr(b, buf);
  fprintf(say, "bytes of block %u; ", b);
}

// Damage the image (already a copy of the base) as image `index` of `seed`.
static void
damage(int fd, uint64 seed, uint64 index, FILE *say)
{
  static void (*const hurt[])(FILE *) = {
    hurt_super, hurt_log, hurt_inode, hurt_inode, hurt_dirent, hurt_dirent,
    hurt_indirect, hurt_bitmap, hurt_bytes,
  };
  seed_image(seed, index);
  survey(fd);
  int n = 1 + rnd(3);
  for(int i = 0; i < n; i++)
    hurt[rnd(sizeof(hurt) / sizeof(hurt[0]))](say);
  fprintf(say, "\n");
}

// ---- running fsck ----

// Run fsck on img; its output goes to out. Returns the wait() status, or
// -1 if it ran past the timeout (it is killed).
static int
run_fsck(const char *fsck, const char *img, const char *out)
{
  fflush(stdout);      // or the child's copy of the buffer is printed twice
  pid_t pid = fork();
  if(pid < 0)
    die("fork: %s", strerror(errno));
  if(pid == 0){
    if(freopen(out, "w", stdout) == 0)
      _exit(126);
    dup2(1, 2);
    // A sanitizer report must end the run with a signal: ASan's default
    // exit status is 1, which is fsck's "problems found".
    setenv("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=0", 1);
    setenv("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_stacktrace=1", 1);
    alarm(FSCK_TIMEOUT);
    execl(fsck, fsck, img, (char *)0);
    _exit(127);
  }
  int st;
  while(waitpid(pid, &st, 0) < 0)
    if(errno != EINTR)
      die("waitpid: %s", strerror(errno));
  if(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
    return -1;
  return st;
}

static char *
slurp(const char *path)
{
  static char text[1 << 16];
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
  text[n] = 0;
  if(f)
    fclose(f);
  return text;
}

// Why this run of fsck is a failure, or NULL if it is fine.
static const char *
judge(int st, const char *text, const char *img)
{
  static char why[256];
  if(st == -1)
    return "fsck ran for more than 20 seconds (a loop?)";
  if(WIFSIGNALED(st)){
    snprintf(why, sizeof(why), "fsck died of signal %d", WTERMSIG(st));
    return why;
  }
  if(strstr(text, "Sanitizer") || strstr(text, "runtime error"))
    return "a sanitizer report";
  int rc = WEXITSTATUS(st);
  if(rc != 0 && rc != 1){
    snprintf(why, sizeof(why), "fsck exited with status %d", rc);
    return why;
  }
  // The last line is the summary: clean, N problems, or cannot check further.
  char want[512];
  snprintf(want, sizeof(want), "fsck: %s: ", img);
  const char *s = strstr(text, want);
  if(s == 0 || (rc == 0 && strstr(s, ": clean") == 0) ||
     (rc == 1 && strstr(s, "problem") == 0))
    return "no summary line matching the exit status";
  return 0;
}

static void
copy_base(const uchar *base, size_t len, const char *work)
{
  FILE *f = fopen(work, "wb");
  if(f == 0 || fwrite(base, 1, len, f) != len || fclose(f) != 0)
    die("cannot write %s: %s", work, strerror(errno));
}

static uchar *
load_base(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if(f == 0)
    die("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  rewind(f);
  uchar *p = malloc(*len);
  if(p == 0 || fread(p, 1, *len, f) != *len)
    die("cannot read %s", path);
  fclose(f);
  return p;
}

// fsck on n damaged images. me is this program's path (for the line that
// rebuilds a failing image); every path printed is absolute, since the
// test runs in tests/host/fsck.
static int
fuzz_fsck(const char *me, const char *fsck, const char *basepath, const char *work,
          uint64 seed, long n)
{
  size_t len;
  uchar *base = load_base(basepath, &len);
  char out[1024], desc[1024];
  char *self = realpath(me, 0), *checker = realpath(fsck, 0), *orig = realpath(basepath, 0);
  if(self == 0 || checker == 0 || orig == 0)
    die("cannot find %s, %s or %s", me, fsck, basepath);
  snprintf(out, sizeof(out), "%s.out", work);
  snprintf(desc, sizeof(desc), "%s.what", work);

  printf("    fsck_fuzz: seed %llu, %ld images (repeat: FSFUZZ_SEED=%llu make -C tests/host/fsck "
         "check)\n", (unsigned long long)seed, n, (unsigned long long)seed);
  copy_base(base, len, work);
  int st = run_fsck(fsck, work, out);
  if(st != 0)
    die("fsck does not call the undamaged base image clean:\n%s", slurp(out));

  long clean = 0, reported = 0;
  for(long i = 0; i < n; i++){
    copy_base(base, len, work);
    FILE *img = fopen(work, "r+b");
    FILE *say = fopen(desc, "w");
    if(img == 0 || say == 0)
      die("cannot open %s", work);
    damage(fileno(img), seed, i, say);
    fclose(say);
    fclose(img);
    st = run_fsck(fsck, work, out);
    const char *text = slurp(out);
    const char *why = judge(st, text, work);
    if(why){
      char what[1024];
      snprintf(what, sizeof(what), "%s", slurp(desc));
      printf("FAIL: fsck_fuzz: image %ld of seed %llu: %s\n  damage: %s"
             "  rebuild: cp %s x.img && %s -s %llu -i %ld x.img && %s x.img\n"
             "  fsck said:\n%s\n", i, (unsigned long long)seed, why, what, orig, self,
             (unsigned long long)seed, i, checker, slurp(out));
      free(base);
      free(self);
      free(checker);
      free(orig);
      return 1;
    }
    if(WEXITSTATUS(st) == 0)
      clean++;
    else
      reported++;
  }
  printf("PASS: fsck_fuzz: %ld damaged images, fsck reported %ld and called %ld clean "
         "(damage that breaks no rule: a free inode's fields, a name's bytes), never crashed\n",
         n, reported, clean);
  free(base);
  free(self);
  free(checker);
  free(orig);
  return 0;
}

static void
usage(void)
{
  fprintf(stderr, "usage: fsfuzz [-s SEED] [-n N] FSCK BASE.img WORK.img\n"
                  "       fsfuzz -s SEED -i I IMG\n");
  exit(2);
}

int
main(int argc, char *argv[])
{
  uint64 seed = 0;
  long n = 300, index = -1;
  int opt;
  const char *env = getenv("FSFUZZ_SEED");
  if(env && *env)
    seed = strtoull(env, 0, 0);
  while((opt = getopt(argc, argv, "s:n:i:")) != -1){
    switch(opt){
    case 's': seed = strtoull(optarg, 0, 0); break;
    case 'n': n = strtol(optarg, 0, 0); break;
    case 'i': index = strtol(optarg, 0, 0); break;
    default: usage();
    }
  }
  if(seed == 0)
    seed = ((uint64)time(0) << 20) ^ (uint64)getpid();
  if(index >= 0){
    if(optind + 1 != argc)
      usage();
    FILE *img = fopen(argv[optind], "r+b");
    if(img == 0)
      die("cannot open %s: %s", argv[optind], strerror(errno));
    printf("fsfuzz: seed %llu image %ld: ", (unsigned long long)seed, index);
    damage(fileno(img), seed, index, stdout);
    fclose(img);
    return 0;
  }
  if(optind + 3 != argc)
    usage();
  return fuzz_fsck(argv[0], argv[optind], argv[optind + 1], argv[optind + 2], seed, n);
}
