// fs.h: the on-disk format of the file system. The kernel (fs.c, log.c),
// the host programs that build and check disk images (mkfs/mkfs.c,
// mkfs/fsck.c) and user programs that read directories (ls) all include
// this file, so it holds nothing but sizes, structs, address arithmetic and
// the log checksum (which the kernel and fsck must compute identically).
//
// See it: `make fs.img` prints mkfs's one-line layout summary; the kernel
// prints the superblock at boot ("fs: N blocks, ..."); `build/mkfs/fsck fs.img`
// checks an image against every rule written down here.
//
// The disk is an array of BSIZE-byte blocks:
//
//   block 0     1           2 .. 2+nlog-1   inodestart ..   bmapstart ..   size-nblocks .. size-1
//   +--------+------------+---------------+---------------+--------------+---------------------+
//   | boot   | superblock | log: header + | inode blocks  | free bitmap  | data blocks         |
//   | unused |            | logged blocks | IPB per block | 1 bit/block  | file and directory  |
//   |        |            |               |               |              | contents, indirect  |
//   +--------+------------+---------------+---------------+--------------+---------------------+
//
// - The superblock says where each region starts; mkfs writes it once.
// - The log (log.c) is where a transaction's blocks are written before they
//   are copied to their home locations. Its first LOGHDRBLOCKS blocks hold
//   the log header; slot i of the log is block logstart + LOGHDRBLOCKS + i.
// - Inode i lives in block IBLOCK(i, sb) at index i % IPB. Inode 0 is never
//   used, so inum 0 can mean "empty" in a directory entry.
// - Bit b of the bitmap is 1 when block b is in use (metadata blocks are
//   marked in use too, so the allocator cannot hand them out).
//
// Every multi-byte number on disk is little-endian: RISC-V is little-endian,
// and mkfs writes little-endian explicitly whatever host it runs on.
#ifndef FS_H
#define FS_H
#include "types.h"

#define BSIZE   1024        // block size in bytes
#define ROOTINO 1           // inode number of the root directory "/"
// "TKF2": version 2 of the format (double-indirect blocks, checksummed
// log). A version-1 image is refused at boot rather than misread.
#define FSMAGIC 0x32464B54

// Block 1. All counts are in blocks unless they say otherwise.
struct superblock {
  uint magic;       // FSMAGIC, or this is not our file system
  uint size;        // blocks in the whole image
  uint nblocks;     // data blocks (the last nblocks blocks of the image)
  uint ninodes;     // inodes (numbered 0 .. ninodes-1; 0 is never used)
  uint nlog;        // log blocks, header blocks included
  uint logstart;    // first log block (the header)
  uint inodestart;  // first inode block
  uint bmapstart;   // first bitmap block
};

// A file's contents are found through addrs[]:
//   addrs[0 .. NDIRECT-1]  the first NDIRECT blocks of the file
//   addrs[NDIRECT]         an indirect block: NINDIRECT more block numbers
//   addrs[NDIRECT+1]       a double-indirect block: NINDIRECT numbers of
//                          indirect blocks, each naming NINDIRECT blocks
// 0 means "none". A file has no holes: its blocks 0 .. ceil(size/BSIZE)-1
// all exist, none after them does, and an indirect block exists exactly
// when some block it maps exists (fsck checks all of this).
#define NDIRECT    11
#define NINDIRECT  (BSIZE / sizeof(uint))          // 256
#define NDINDIRECT (NINDIRECT * NINDIRECT)         // 65536
#define MAXFILE    (NDIRECT + NINDIRECT + NDINDIRECT)  // 65803 blocks, 64.3 MB

// An inode on disk: 64 bytes, so 16 fit in a block.
struct dinode {
  short type;                // T_DIR, T_FILE, T_DEVICE (stat.h); 0 = free
  short major;               // device number, for T_DEVICE
  short minor;
  short nlink;               // directory entries that name this inode
  uint  size;                // bytes of content
  uint  addrs[NDIRECT + 2];  // data blocks, the indirect, the double-indirect
};

#define IPB (BSIZE / sizeof(struct dinode))       // inodes per block
#define IBLOCK(i, sb) ((i) / IPB + (sb).inodestart) // block holding inode i

#define BPB (BSIZE * 8)                           // bitmap bits per block
#define BBLOCK(b, sb) ((b) / BPB + (sb).bmapstart)  // bitmap block for block b

// A directory is a file whose content is an array of these. Names shorter
// than DIRSIZ end with a 0 byte; a name of exactly DIRSIZ bytes has none.
// inum 0 marks a free slot. Entry 0 is ".", entry 1 is "..".
#define DIRSIZ 14
struct dirent {
  ushort inum;
  char   name[DIRSIZ];
};

// ---- the log header ----
//
// It fills the first LOGHDRBLOCKS blocks of the log (only as many as its
// block list needs are ever written). A transaction is committed exactly
// when the header on disk has magic LOGMAGIC, 0 < n <= the log's slots, and
// a checksum `sum` that matches the header and the n logged blocks: a
// header or log block that did not reach the disk (a crash in the middle of
// a commit, in any order of completion) makes the sum mismatch, and the
// transaction counts as never committed. n == 0 means "no transaction".
#define LOGMAGIC     0x474F4C54  // "TLOG"
#define LOGHDRBLOCKS 8
struct logheader {
  uint   magic;
  uint   n;        // logged blocks; block[i] is the home of log slot i
  uint   seq;      // commit number since mkfs, for messages only
  uint   pad;
  uint64 sum;      // logsum() of the header (with sum = 0) then the blocks
  uint   block[];  // n home block numbers, continuing over the header blocks
};
#define LOGHDR_FIXED  24
#define LOG_MAXSLOTS  ((LOGHDRBLOCKS * BSIZE - LOGHDR_FIXED) / sizeof(uint))  // 2042
// Header blocks needed to hold a list of n block numbers.
#define LOGHDR_NBLOCKS(n) ((LOGHDR_FIXED + 4 * (n) + BSIZE - 1) / BSIZE)

// The log checksum: a 64-bit FNV-1a style hash over little-endian 64-bit
// words (the byte count must be a multiple of 8). It is not cryptographic;
// it only has to notice blocks that are stale or torn, and a single changed
// word changes it. Start with LOGSUM_INIT and feed the pieces in order.
#define LOGSUM_INIT  0xcbf29ce484222325ULL
static inline uint64
logsum(uint64 h, const void *p, uint n)
{
  const uchar *b = (const uchar *)p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // Fast path (the kernel's buffers are 8-byte aligned): a native load is
  // the little-endian word. may_alias: the bytes are not really uint64s.
  typedef uint64 __attribute__((__may_alias__)) word_t;
  if(((unsigned long)p & 7) == 0){
    const word_t *w = (const word_t *)p;
    for(uint i = 0; i < n / 8; i++){
      h = (h ^ w[i]) * 0x100000001b3ULL;
      h ^= h >> 29;
    }
    return h;
  }
#endif
  for(uint i = 0; i + 8 <= n; i += 8){
    uint64 w = 0;
    for(int k = 7; k >= 0; k--)      // little-endian on any host
      w = (w << 8) | b[i + k];
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;                    // spread high bits into the low ones
  }
  return h;
}
#endif
