// blkbench.h: what the blkbench() system call reports, shared by the kernel
// (bench/kblkbench.c) and user programs (bench/blkbench.c). Plain integer
// fields only, so the layout is the same on both sides.
//
// See it run: `blkbench` in the shell (or `make bench`).
#ifndef BLKBENCH_H
#define BLKBENCH_H

#define BLKBENCH_MAXBYTES (256 * 1024)  // largest request: 64 pages of 4 KB
#define BLKBENCH_MAXDEPTH 32            // most requests in flight
#define BLKBENCH_NOSCRATCH (-2)         // writes need a disk larger than the file system

struct blkbench_result {
  uint64 ticks;       // r_time() ticks (10 MHz) from the first submit to the last completion
  uint64 bytes;       // data moved
  uint   nreq;        // requests completed
  uint   errors;      // ... of which failed
  uint   requests;    // device requests (descriptor chains) they took
  uint   indirect;    // ... of which went in an indirect table
  uint   kicks;       // batches published to the device
  uint   notifies;    // QueueNotify writes
  uint   interrupts;  // disk interrupts handled
  int    event_idx;   // features in use while it ran
  int    indirect_desc;
  int    flush;
  int    baseline;    // 1: the classic driver (diskmode(1))
  int    packed;      // 1: the disk's queue is a packed ring (virtio 1.2 2.8)
  uint   seg_max;     // data segments per device request
  uint   queue_size;
  uint   nslot;       // device requests in flight at most
  uint64 area_start;  // sectors the requests went to: [area_start, area_end)
  uint64 area_end;
};

#endif
