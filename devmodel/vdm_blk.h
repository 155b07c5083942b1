// vdm_blk.h: a virtio-blk device (virtio 1.2 section 5.2) for the device
// model: requests come off the queue, go to a block backend (a RAM disk on
// the M3 and in the tests), and their status byte goes back.
//
// Offered features: SEG_MAX, BLK_SIZE, FLUSH, SIZE_MAX when size_max is
// not 0, RO when the backend is read-only, and the ring features
// INDIRECT_DESC and EVENT_IDX (tests may change `vdm.offered` before the
// driver starts). Configuration (5.2.4): capacity, size_max, seg_max,
// geometry, blk_size. The device holds the driver to the limits it
// announced: more data segments than seg_max, or a segment longer than
// size_max, counts as a violation when the driver accepted the feature.
//
// See it run: `make -C tests/host check` (blk_* tests), `blktest` on the
// M3 shell (`make qemu-cm3`).
#ifndef VDM_BLK_H
#define VDM_BLK_H
#include <stdint.h>
#include <stddef.h>
#include "vdm.h"
#include "vdm_backend.h"

struct vdm_blk {
  struct vdm vdm;                 // first: a struct vdm * is a struct vdm_blk *
  struct vdm_blk_backend be;
  uint64_t capacity;              // sectors, as configuration space shows it
  uint32_t size_max;              // 0 at init: VIRTIO_BLK_F_SIZE_MAX not offered
  uint32_t seg_max;
  uint16_t cylinders;
  uint8_t heads, sectors;
  uint32_t blk_size;
  // What the device did (tests and `stat`).
  uint32_t reads, writes, flushes, get_ids, failed;
  uint32_t max_data_segs;         // most data descriptors in one request
  uint32_t max_seg_len;           // longest data descriptor seen
};

// Make `b` a block device on backend `be`, version 2 (modern) or 1 (legacy).
// Features are fixed here (SIZE_MAX only if size_max is set by then); a
// caller may still change size_max, seg_max, blk_size, geometry and
// `vdm.offered` before the driver starts, and then calls vdm_blk_refresh
// to re-render configuration space.
void vdm_blk_init(struct vdm_blk *b, const struct vdm_blk_backend *be, uint32_t version);
void vdm_blk_refresh(struct vdm_blk *b);
// The disk changed size: capacity in sectors; notify = send a
// configuration change notification (5.2.6 allows this while running).
void vdm_blk_set_capacity(struct vdm_blk *b, uint64_t sectors, int notify);

#endif
