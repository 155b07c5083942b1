// vdm_ramdisk.h: a RAM disk, the block backend (vdm_backend.h) behind the
// device model's virtio-blk on the Cortex-M3 and in the host tests.
//
// See it run: `blktest` in `make qemu-cm3`; `make -C tests/host check`.
#ifndef VDM_RAMDISK_H
#define VDM_RAMDISK_H
#include <stdint.h>
#include <stddef.h>
#include "vdm_backend.h"

struct vdm_ramdisk {
  uint8_t *mem;       // the disk's bytes; the owner allocates them
  uint64_t size;      // bytes, a multiple of 512
  int readonly;
  uint32_t flushes;   // counted; a RAM disk has no cache to write back
};

// Fill `be` with the functions that serve `rd`.
void vdm_ramdisk_backend(struct vdm_ramdisk *rd, struct vdm_blk_backend *be);

#endif
