// disk.h: the kernel's own view of its disk, the one layer between the file
// system and the virtio block driver (kernel/glue/disk.c implements it).
// The file system never sees a driver structure: it hands the disk buffers
// and block numbers, in the kernel's own types below.
//
// Two ways in, as in the driver underneath:
//   disk_rw(b, write)     the plain path: one cache buffer, the caller sleeps
//                         until the device is done (bio.c bread/bwrite)
//   struct disk_req       the fast paths (bio_fast.c): many segments per
//                         request, many requests in flight, completion by
//                         callback or by disk_wait
//
// See it run: `make qemu` (every block the shell reads comes through here);
// docs/ARCHITECTURE.md, "Follow one block read", walks both paths.
#ifndef DISK_H
#define DISK_H
#include "types.h"

struct buf;

// The most memory segments one request may carry: 256 KB of 4 KB pages.
#define DISK_MAX_SEGS 64

struct disk_seg {
  void *data;     // kernel memory mapped one to one (the cache, kalloc pages)
  uint len;       // bytes; the segments of a request add up to whole sectors
};

// One request of the fast paths. The caller owns it and leaves it alone from
// disk_submit until it is done (its callback ran, or disk_wait returned).
struct disk_req {
  int write;                 // 0: read from the disk, 1: write to it
  uint64 sector;             // first 512-byte sector
  int nseg;                  // 1..DISK_MAX_SEGS
  struct disk_seg seg[DISK_MAX_SEGS];
  // Optional: called once when the request is over, in interrupt context.
  // It must not sleep. Without one, the caller must collect the request
  // with disk_wait (exactly once).
  void (*callback)(struct disk_req *r);
  void *arg;                 // for the callback
  // Set by disk.c.
  int status;                // 0 ok, -1 failed; valid once done
  int done;                  // over and collected: set before the callback runs,
                             //   or by disk_wait (disk_finished asks the driver)
  void *carrier;             // disk.c's driver request that carries this one
};

// How the file system drives the disk, as numbers (see disk.c for the two
// sets: the fast design and the classic one the benchmarks compare with).
// Code reads these where it uses them; no code asks which design is on.
struct disk_tuning {
  uint prefetch;      // blocks one breadahead() call may start (0: the cache
                      //   never reads ahead, every block waits for its bread)
  uint readahead;     // blocks kept started ahead of a sequential reader
  uint direct_min;    // bytes: a read() this big and block-aligned goes
                      //   straight into the reader's pages (0xffffffff: never)
  uint commit_ticks;  // a transaction this old commits at the next end_op
                      //   (0: every operation commits, as in xv6)
};
extern struct disk_tuning disk_tuning;

int    disk_rw(struct buf *b, int write);   // 0, or -1 on a device error
int    disk_submit(struct disk_req *r);     // queue (no notification yet); 0, or -1 refused
void   disk_kick(void);                     // publish what was queued, notify the device
int    disk_wait(struct disk_req *r);       // sleep until done; r->status
int    disk_finished(struct disk_req *r);   // over yet? (no sleep; disk_wait still needed)
int    disk_flush(void);                    // make completed writes durable; 0 or -1
uint64 disk_capacity(void);                 // in 512-byte sectors
int    disk_readonly(void);                 // the device is read-only (VIRTIO_BLK_F_RO)
int    disk_packed(void);                   // its queue is a packed ring (virtio 1.2 2.8)
#endif
