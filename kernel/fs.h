// fs.h: the on-disk format of the file system. The kernel (fs.c, log.c),
// the host program that builds disk images (mkfs/mkfs.c) and user programs
// that read directories (ls) all include this file, so it holds nothing but
// sizes, structs and address arithmetic: no kernel code, no RISC-V code.
//
// See it: `make fs.img` prints mkfs's one-line layout summary; the kernel
// prints the superblock at boot ("fs: N blocks, ...").
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
//   are copied to their home locations; its first block is the log header.
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
#define FSMAGIC 0x53464B54  // the bytes "TKFS" at the start of the superblock

// Block 1. All counts are in blocks unless they say otherwise.
struct superblock {
  uint magic;       // FSMAGIC, or this is not our file system
  uint size;        // blocks in the whole image
  uint nblocks;     // data blocks (the last nblocks blocks of the image)
  uint ninodes;     // inodes (numbered 0 .. ninodes-1; 0 is never used)
  uint nlog;        // log blocks, header included
  uint logstart;    // first log block (the header)
  uint inodestart;  // first inode block
  uint bmapstart;   // first bitmap block
};

// A file's contents are found through addrs[]: the first NDIRECT entries are
// block numbers of its first NDIRECT blocks; addrs[NDIRECT] names one
// "indirect" block holding NINDIRECT more block numbers. 0 means "none yet".
#define NDIRECT   12
#define NINDIRECT (BSIZE / sizeof(uint))
#define MAXFILE   (NDIRECT + NINDIRECT)  // most blocks in one file (268 KB)

// An inode on disk: 64 bytes, so 16 fit in a block.
struct dinode {
  short type;                // T_DIR, T_FILE, T_DEVICE (stat.h); 0 = free
  short major;               // device number, for T_DEVICE
  short minor;
  short nlink;               // directory entries that name this inode
  uint  size;                // bytes of content
  uint  addrs[NDIRECT + 1];  // data block numbers, then the indirect block
};

#define IPB (BSIZE / sizeof(struct dinode))       // inodes per block
#define IBLOCK(i, sb) ((i) / IPB + (sb).inodestart) // block holding inode i

#define BPB (BSIZE * 8)                           // bitmap bits per block
#define BBLOCK(b, sb) ((b) / BPB + (sb).bmapstart)  // bitmap block for block b

// A directory is a file whose content is an array of these. Names shorter
// than DIRSIZ end with a 0 byte; a name of exactly DIRSIZ bytes has none.
// inum 0 marks a free slot.
#define DIRSIZ 14
struct dirent {
  ushort inum;
  char   name[DIRSIZ];
};
#endif
