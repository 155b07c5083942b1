// stat.h: what fstat() reports. Layout is the xv6 user ABI.
#ifndef STAT_H
#define STAT_H
#define T_DIR     1   // directory
#define T_FILE    2   // regular file
#define T_DEVICE  3   // device node (major/minor select a driver)

struct stat {
  int dev;     // device holding the file system
  uint ino;    // inode number
  short type;  // T_DIR, T_FILE or T_DEVICE
  short nlink; // directory entries naming this inode
  uint64 size; // bytes
};
#endif
