// mkfs.c: build a file-system image on the host, for the kernel to boot.
//
//   build/mkfs/mkfs [-s blocks] fs.img user/_init user/_sh README.md ...
//
// makes fs.img, FSSIZE blocks of BSIZE bytes (kernel/param.h, kernel/fs.h)
// or as many as -s says:
//   block 0            boot block (unused, zero)
//   block 1            superblock
//   2 ..               the log (LOGSIZE blocks: LOGHDRBLOCKS of header, all
//                      zero, which means empty, then the slots)
//   then               inode blocks (NINODES inodes)
//   then               the free bitmap (the blocks mkfs used are marked)
//   then               data blocks
// The root directory (inode ROOTINO) holds ".", "..", a device node
// "console" (major CONSOLE = 1, minor 0; it is here so that init can open the
// console even on a read-only disk, where it could not mknod one), and each
// file named on the command line under its base name with one leading '_'
// removed (user/_cat becomes "cat"), and a directory "dev" with the device
// nodes console (major 1), vcons (2, the virtio console's shell port), random
// (3, the virtio entropy device), vport0..vport3 (4..7, the virtio console's
// ports by number) and vtrace (8, the virtqueue recording of `make trace`);
// the kernel's devsw[] serves only the majors whose device is present
// (kernel/glue/devfiles.c, kernel/glue/vtrace.c).
//
// Byte order: the kernel reads the image on RISC-V, which is little-endian.
// Every number goes through le16()/le32(), which store it little-endian
// whatever the host's order is. (On an x86_64 host they change nothing,
// since it is little-endian too.)
//
// The image is sparse: only the blocks mkfs fills are written; the rest
// (unused data blocks, the log, free inodes) are holes, which read as
// zeros. A 100 MB image takes well under 1 MB of host disk until used.
//
// Build and run: `make fs.img` (or `gcc -Wall -Werror -I. -o build/mkfs/mkfs
// mkfs/mkfs.c`); it prints one line with the layout. `build/mkfs/fsck fs.img`
// checks the result.
//
// Only standard C I/O is used: <sys/stat.h> would clash with the kernel's
// struct stat (kernel/stat.h), which we need for T_DIR and friends.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/fs.h"

#define NINODES 1024
#define CONSOLE_MAJOR 1    // kernel/file.h's CONSOLE; file.h is kernel-only
#define VCONSOLE_MAJOR 2   // kernel/file.h's VCONSOLE
#define RANDOM_MAJOR 3     // kernel/file.h's RANDOM
#define VPORT0_MAJOR 4     // kernel/file.h's VPORT0: /dev/vport<n> is major VPORT0 + n
#define NVPORT 4           // ports 0..3, as many as the kernel drives (VCONS_MAX_PORTS)
#define VTRACE_MAJOR 8     // kernel/file.h's VTRACE

_Static_assert(sizeof(struct dinode) == 64, "struct dinode must be 64 bytes");
_Static_assert(sizeof(struct dirent) == 16, "struct dirent must be 16 bytes");
_Static_assert(BSIZE % sizeof(struct dinode) == 0, "inodes must tile a block");

static FILE *img;
static const char *imgname;
static struct superblock sb;     // in disk (little-endian) byte order
static uint fssize = FSSIZE;     // blocks in the image (-s)
static uint ninodeblocks, nbitmap, nmeta;
static uint next_inum = 1;       // next free inode (0 is never used)
static uint next_block;          // next free data block

// ---- byte order ----

static ushort
le16(ushort x)
{
  uchar b[2] = { x & 0xff, x >> 8 };
  ushort y;
  memcpy(&y, b, 2);
  return y;
}

static uint
le32(uint x)
{
  uchar b[4] = { x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, x >> 24 };
  uint y;
  memcpy(&y, b, 4);
  return y;
}
// Both are their own inverse, so they also convert disk order to host order.

// ---- errors and raw block I/O ----

static void
die(const char *what, const char *detail)
{
  fprintf(stderr, "mkfs: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static void
write_block(uint bno, const void *buf)
{
  if(fseek(img, (long)bno * BSIZE, SEEK_SET) != 0 || fwrite(buf, BSIZE, 1, img) != 1)
    die("write failed", imgname);
}

static void
read_block(uint bno, void *buf)
{
  if(fseek(img, (long)bno * BSIZE, SEEK_SET) != 0 || fread(buf, BSIZE, 1, img) != 1)
    die("read failed", imgname);
}

// ---- inodes ----

static uint
inode_block(uint inum)
{
  return inum / IPB + le32(sb.inodestart);
}

static void
read_inode(uint inum, struct dinode *ip)
{
  uchar buf[BSIZE];
  read_block(inode_block(inum), buf);
  memcpy(ip, buf + (inum % IPB) * sizeof(*ip), sizeof(*ip));
}

static void
write_inode(uint inum, const struct dinode *ip)
{
  uchar buf[BSIZE];
  read_block(inode_block(inum), buf);
  memcpy(buf + (inum % IPB) * sizeof(*ip), ip, sizeof(*ip));
  write_block(inode_block(inum), buf);
}

// A new inode of the given type with one link and no content.
static uint
new_inode(short type)
{
  struct dinode din;

  if(next_inum >= NINODES)
    die("out of inodes", 0);
  uint inum = next_inum++;
  memset(&din, 0, sizeof(din));
  din.type = le16(type);
  din.nlink = le16(1);
  write_inode(inum, &din);
  return inum;
}

// Data blocks are handed out in order; the image was zeroed, so a new
// block is already all zeros.
static uint
new_block(void)
{
  if(next_block >= fssize)
    die("disk image full: use a bigger -s (or FSSIZE in kernel/param.h)", 0);
  return next_block++;
}

// Entry idx of indirect block ind, allocating a block for it if it is 0.
static uint
ind_entry(uint ind, uint idx)
{
  uint entries[NINDIRECT];
  read_block(ind, entries);
  if(entries[idx] == 0){
    entries[idx] = le32(new_block());
    write_block(ind, entries);
  }
  return le32(entries[idx]);
}

// *slot (an inode's addrs[] entry, disk order), allocating it if 0.
static uint
root_entry(uint *slot)
{
  if(*slot == 0)
    *slot = le32(new_block());
  return le32(*slot);
}

// The disk block for block fbn of the file, allocating as needed (the
// layout is in kernel/fs.h: direct, indirect, double-indirect).
static uint
file_block(struct dinode *din, uint fbn)
{
  if(fbn < NDIRECT)
    return root_entry(&din->addrs[fbn]);
  fbn -= NDIRECT;
  if(fbn < NINDIRECT)
    return ind_entry(root_entry(&din->addrs[NDIRECT]), fbn);
  fbn -= NINDIRECT;
  uint mid = ind_entry(root_entry(&din->addrs[NDIRECT + 1]), fbn / NINDIRECT);
  return ind_entry(mid, fbn % NINDIRECT);
}

// Add n bytes to the end of inode inum's content.
static void
append(uint inum, const void *data, uint n, const char *what)
{
  struct dinode din;
  uchar buf[BSIZE];
  const uchar *p = data;

  read_inode(inum, &din);
  uint off = le32(din.size);
  while(n > 0){
    uint fbn = off / BSIZE;
    if(fbn >= MAXFILE)
      die("file larger than MAXFILE blocks", what);
    uint bno = file_block(&din, fbn);
    uint m = BSIZE - off % BSIZE;
    if(m > n)
      m = n;
    read_block(bno, buf);
    memcpy(buf + off % BSIZE, p, m);
    write_block(bno, buf);
    off += m;
    p += m;
    n -= m;
  }
  din.size = le32(off);
  write_inode(inum, &din);
}

static void
add_dirent(uint dir, uint inum, const char *name)
{
  struct dirent de;
  memset(&de, 0, sizeof(de));
  de.inum = le16(inum);
  // A name of exactly DIRSIZ bytes fills the field with no terminating 0.
  size_t len = strlen(name);
  memcpy(de.name, name, len < DIRSIZ ? len : DIRSIZ);
  append(dir, &de, sizeof(de), name);
}

// A device node `name` in directory dir.
static void
add_device(uint dir, const char *name, int major)
{
  struct dinode din;
  uint inum = new_inode(T_DEVICE);

  read_inode(inum, &din);
  din.major = le16(major);
  din.minor = le16(0);
  write_inode(inum, &din);
  add_dirent(dir, inum, name);
}

// /dev and its device nodes. The new directory's ".." is one more link to
// the root, counted as the kernel's mkdir counts it.
static void
make_dev_dir(uint root)
{
  struct dinode din;
  uint dev = new_inode(T_DIR);

  add_dirent(dev, dev, ".");
  add_dirent(dev, root, "..");
  add_dirent(root, dev, "dev");
  read_inode(root, &din);
  din.nlink = le16(le16(din.nlink) + 1);
  write_inode(root, &din);
  add_device(dev, "console", CONSOLE_MAJOR);
  add_device(dev, "vcons", VCONSOLE_MAJOR);
  add_device(dev, "random", RANDOM_MAJOR);
  for(int i = 0; i < NVPORT; i++){
    char name[] = "vport0";
    name[5] = (char)('0' + i);
    add_device(dev, name, VPORT0_MAJOR + i);
  }
  add_device(dev, "vtrace", VTRACE_MAJOR);
}

// ---- the image ----

static void
layout(void)
{
  nbitmap = (fssize + BPB - 1) / BPB;
  ninodeblocks = (NINODES + IPB - 1) / IPB;
  nmeta = 2 + LOGSIZE + ninodeblocks + nbitmap;
  if(nmeta + 100 >= fssize)
    die("the size leaves no room for data", 0);
  // The kernel frees a whole file in one transaction, which may touch
  // every bitmap block plus the inode block (see fsinit in kernel/fs.c).
  if(nbitmap > MAXBITMAP)
    die("the size is too big for the kernel's transactions (MAXBITMAP)", 0);

  sb.magic = le32(FSMAGIC);
  sb.size = le32(fssize);
  sb.nblocks = le32(fssize - nmeta);
  sb.ninodes = le32(NINODES);
  sb.nlog = le32(LOGSIZE);
  sb.logstart = le32(2);
  sb.inodestart = le32(2 + LOGSIZE);
  sb.bmapstart = le32(2 + LOGSIZE + ninodeblocks);
  next_block = nmeta;
}

// Mark blocks 0 .. used-1 in use: the metadata and everything we wrote.
static void
write_bitmap(uint used)
{
  uchar buf[BSIZE];
  for(uint i = 0; i < nbitmap; i++){
    memset(buf, 0, sizeof(buf));
    for(uint bit = 0; bit < BPB; bit++){
      uint b = i * BPB + bit;
      if(b < used)
        buf[bit / 8] |= 1 << (bit % 8);
    }
    write_block(le32(sb.bmapstart) + i, buf);
  }
}

// user/_cat -> "cat"; README.md -> "README.md".
static const char *
base_name(const char *path)
{
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  if(name[0] == '_')
    name++;
  return name;
}

static void
add_file(uint root, const char *path, char (*names)[DIRSIZ + 1], int nnames)
{
  const char *name = base_name(path);
  if(name[0] == 0 || strlen(name) > DIRSIZ)
    die("name empty or longer than DIRSIZ (14) bytes", path);
  for(int i = 0; i < nnames; i++)
    if(strcmp(names[i], name) == 0)
      die("two files with the same name", path);
  strcpy(names[nnames], name);

  FILE *in = fopen(path, "rb");
  if(in == 0)
    die("cannot open", path);
  uint inum = new_inode(T_FILE);
  add_dirent(root, inum, name);
  char buf[BSIZE];
  size_t n;
  while((n = fread(buf, 1, sizeof(buf), in)) > 0)
    append(inum, buf, n, path);
  if(ferror(in))
    die("read error", path);
  fclose(in);
}

int
main(int argc, char *argv[])
{
  uchar zero[BSIZE];
  int first = 1;              // argv index of the image name

  if(argc > 2 && strcmp(argv[1], "-s") == 0){
    char *end;
    unsigned long n = strtoul(argv[2], &end, 0);
    if(*end != 0 || n == 0 || n > 0x7fffffffUL / BSIZE)
      die("-s wants a number of blocks", argv[2]);
    fssize = n;
    first = 3;
  }
  if(argc < first + 1){
    fprintf(stderr, "usage: mkfs [-s blocks] fs.img files...\n");
    return 1;
  }
  imgname = argv[first];
  layout();

  if((img = fopen(imgname, "w+b")) == 0)
    die("cannot create", imgname);
  // Writing the last block gives the file its full size; everything not
  // written later stays a hole of zeros: an empty log (header n = 0),
  // free inodes, free data blocks.
  memset(zero, 0, sizeof(zero));
  write_block(fssize - 1, zero);

  uchar sbbuf[BSIZE];
  memset(sbbuf, 0, sizeof(sbbuf));
  memcpy(sbbuf, &sb, sizeof(sb));
  write_block(1, sbbuf);

  uint root = new_inode(T_DIR);
  if(root != ROOTINO)
    die("root directory did not get inode ROOTINO", 0);
  add_dirent(root, root, ".");
  add_dirent(root, root, "..");   // the root is its own parent

  uint console = new_inode(T_DEVICE);
  struct dinode din;
  read_inode(console, &din);
  din.major = le16(CONSOLE_MAJOR);
  din.minor = le16(0);
  write_inode(console, &din);
  add_dirent(root, console, "console");
  make_dev_dir(root);

  // Names already in the root directory, to refuse duplicates.
  char (*names)[DIRSIZ + 1] = calloc(argc + 4, sizeof(*names));
  if(names == 0)
    die("out of memory", 0);
  int nnames = 0;
  strcpy(names[nnames++], ".");
  strcpy(names[nnames++], "..");
  strcpy(names[nnames++], "console");
  strcpy(names[nnames++], "dev");
  for(int i = first + 1; i < argc; i++, nnames++)
    add_file(root, argv[i], names, nnames);
  free(names);

  write_bitmap(next_block);
  if(fclose(img) != 0)
    die("write failed", imgname);

  printf("mkfs: %s: %d blocks = boot 1 + super 1 + log %d + inodes %u (%d inodes) "
         "+ bitmap %u + data %u; %d files, %u data blocks used\n",
         imgname, fssize, LOGSIZE, ninodeblocks, NINODES, nbitmap,
         fssize - nmeta, argc - first - 1, next_block - nmeta);
  return 0;
}
