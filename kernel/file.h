// file.h: open files, in-memory inodes, and the device switch.
//
// Three levels name a file, from the top:
//   fd (a small int, per process) -> struct file (file.c: an open file,
//   shared by dup and fork, holds the offset) -> struct inode (fs.c: the
//   file itself, one copy in memory per file however often it is open).
// Devices (major numbers) are reached through devsw[], filled in by their
// drivers: console.c sets devsw[CONSOLE].
//
// See it run: in the shell, `cat README.md` goes fd -> file -> inode ->
// blocks; `echo hi > console` goes fd -> file -> devsw[CONSOLE].write.
#ifndef FILE_H
#define FILE_H
#include "types.h"
#include "sleeplock.h"
#include "fs.h"

struct file {
  enum { FD_NONE, FD_PIPE, FD_INODE, FD_DEVICE, FD_SOCK } type;
  int ref;             // fds (in any process) that point here; ftable.lock
  char readable;
  char writable;
  struct pipe *pipe;   // FD_PIPE
  struct inode *ip;    // FD_INODE and FD_DEVICE
  uint off;            // FD_INODE: where the next read or write starts; ip->lock
  short major;         // FD_DEVICE: index into devsw[]
  struct sock *sock;   // FD_SOCK: a UDP socket (sysnet.c)
};

// The in-memory copy of an inode (fs.c explains the locking in detail).
//   itable.lock protects dev, inum and ref (who may reuse the slot);
//   lock (the sleeplock) protects everything below it.
struct inode {
  uint dev;            // device and inode number: which file this is
  uint inum;
  int ref;             // pointers to this struct held by the kernel
  struct sleeplock lock;
  int valid;           // the fields below were read from disk

  // copy of struct dinode (fs.h)
  short type;
  short major;
  short minor;
  short nlink;
  uint size;
  uint addrs[NDIRECT + 2];

  // Read-ahead state (fs.c readahead), also under lock: the file block a
  // sequential reader will want next, and the end of what was started.
  uint ra_next;
  uint ra_end;
};

// A device driver's read and write. user_dst/user_src is 1 when dst/src is
// a user virtual address, 0 when it is a kernel address. They return the
// bytes moved, or -1.
struct devsw {
  int (*read)(int user_dst, uint64 dst, int n);
  int (*write)(int user_src, uint64 src, int n);
};

extern struct devsw devsw[];

#define CONSOLE 1            // major number of the console
#define VCONSOLE 2           // the virtio console, /dev/vcons (devfiles.c)
#define RANDOM 3             // the virtio entropy device, /dev/random (devfiles.c)
#define VPORT0 4             // /dev/vport0: virtio console port 0; port n is VPORT0 + n
#define VTRACE 8             // the virtqueue recording, /dev/vtrace (vtrace.c); after vport0..3
#endif
