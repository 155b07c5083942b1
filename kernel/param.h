// param.h: fixed sizes of kernel tables. User programs (xv6's usertests among
// them) read some of these, so the names follow xv6-riscv.
#ifndef PARAM_H
#define PARAM_H
#define NPROC        64   // most processes at once
#define NCPU          8   // most harts; QEMU virt numbers them 0..n-1
#define NOFILE       16   // open files per process
#define NFILE       100   // open files in the whole system
#define NINODE       50   // inodes cached in memory at once
#define NDEV         10   // device major numbers
#define ROOTDEV       1   // device number of the root file system
#define MAXARG       32   // most exec arguments
#define MAXOPBLOCKS  64   // most blocks one file-system operation writes
#define MAXBITMAP    (MAXOPBLOCKS - 16)  // most bitmap blocks (freeing a file
                          // touches all of them in one operation): 384 MB disks
#define LOGSIZE      2050 // blocks in the on-disk log: 8 header + 2042 slots
#define NBUF         4096 // blocks in the buffer cache (4 MB)
#define FSSIZE       102400 // default file system size in blocks (100 MB, mkfs)
#define MAXPATH      128  // longest path name
#define USERSTACK    1    // pages of user stack
#endif
