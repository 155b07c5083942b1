// virtio_blk.h: the virtio block device driver (a disk made of 512-byte
// sectors), built on virtq.h and virtio_mmio.h.
//
// Follows virtio 1.2 section 5.2 (Block Device): 5.2.3 feature bits, 5.2.4
// configuration layout, 5.2.5 initialization, 5.2.6 requests.
//
// See it run: `make -C tests/host check` (blk_* tests against a RAM-disk
// fake device) or `make qemu` (the file system lives on it).
//
// Usage (the platform glue does this):
//   static struct vblk disk;
//   vblk_init(&disk, &dev);                    // once, at boot
//   vblk_rw(&disk, 0, sector, buf, 1024);      // from any process, any hart
//   vblk_intr(&disk);                          // from the device's interrupt
#ifndef VIRTIO_BLK_H
#define VIRTIO_BLK_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"

// ---- spec facts (5.2) ----
// Feature bits.
#define VIRTIO_BLK_F_SIZE_MAX      1   // size_max: largest single segment
#define VIRTIO_BLK_F_SEG_MAX       2   // seg_max: most segments per request
#define VIRTIO_BLK_F_GEOMETRY      4
#define VIRTIO_BLK_F_RO            5   // the device is read-only
#define VIRTIO_BLK_F_BLK_SIZE      6   // blk_size: the device's preferred block size
#define VIRTIO_BLK_F_FLUSH         9   // VIRTIO_BLK_T_FLUSH exists (a write cache)
#define VIRTIO_BLK_F_TOPOLOGY      10
#define VIRTIO_BLK_F_CONFIG_WCE    11
#define VIRTIO_BLK_F_MQ            12
#define VIRTIO_BLK_F_DISCARD       13
#define VIRTIO_BLK_F_WRITE_ZEROES  14

// Configuration space (struct virtio_blk_config), byte offsets.
#define VIRTIO_BLK_CFG_CAPACITY    0   // le64: size in 512-byte sectors, always present
#define VIRTIO_BLK_CFG_SIZE_MAX    8   // le32
#define VIRTIO_BLK_CFG_SEG_MAX     12  // le32
#define VIRTIO_BLK_CFG_GEOMETRY    16  // le16 cylinders, u8 heads, u8 sectors
#define VIRTIO_BLK_CFG_BLK_SIZE    20  // le32

// Request types and status values.
#define VIRTIO_BLK_T_IN            0   // read from the disk
#define VIRTIO_BLK_T_OUT           1   // write to the disk
#define VIRTIO_BLK_T_FLUSH         4
#define VIRTIO_BLK_T_GET_ID        8
#define VIRTIO_BLK_S_OK            0
#define VIRTIO_BLK_S_IOERR         1
#define VIRTIO_BLK_S_UNSUPP        2

#define VIRTIO_BLK_SECTOR_SIZE     512  // sector numbers are always in these units

// A request is a chain of three parts (5.2.6):
//   struct virtio_blk_req_hdr   device reads   (type, reserved, sector)
//   data[len]                   device writes (T_IN) or reads (T_OUT)
//   u8 status                   device writes  (VIRTIO_BLK_S_*)
// The spec writes it as one struct virtio_blk_req { type; reserved; sector;
// data[]; status; }; the header part is what has a fixed layout.
struct virtio_blk_req_hdr {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "virtio_blk_req header is 16 bytes");

// ---- the driver ----

// Queue size we ask for: min(QueueNumMax, this). Each request uses three
// descriptors, so VBLK_NSLOT requests can be in flight at once.
#define VBLK_QUEUE_SIZE 64
#define VBLK_NSLOT (VBLK_QUEUE_SIZE / 3)

// The part of a request the device reads and writes besides the caller's
// data: one per slot, in DMA memory (never on a kernel stack).
struct vblk_dma {
  struct virtio_blk_req_hdr hdr;
  uint8_t status;
  uint8_t pad[15];  // to 32 bytes: every slot's header stays 16-byte aligned
};
_Static_assert(sizeof(struct vblk_dma) == 32, "vblk_dma is 32 bytes");

struct vblk_waiter;  // a sleeping caller of vblk_rw (private to virtio_blk.c)

struct vblk {
  struct vio_dev *dev;
  vos_lock_t lock;       // protects everything below and the virtqueue
  struct virtq vq;
  int ready;             // vblk_init succeeded and the device is not dead
  int dead;              // we gave up on the device: every request fails
  int readonly;          // VIRTIO_BLK_F_RO
  uint64_t capacity;     // in 512-byte sectors
  uint32_t blk_size;     // device's preferred block size (information only)
  int nslot;             // requests that can be in flight (<= VBLK_NSLOT)
  int nslot_free;
  struct vblk_dma *dma;  // nslot entries, from vos_dma_alloc
  struct vblk_waiter *slot_owner[VBLK_NSLOT];  // 0 = free
  uint32_t reads, writes, errors;  // request counters
};

int      vblk_init(struct vblk *vb, struct vio_dev *d);
int      vblk_rw(struct vblk *vb, int write, uint64_t sector, void *buf, uint32_t len);
void     vblk_intr(struct vblk *vb);
uint64_t vblk_capacity(struct vblk *vb);
int      vblk_readonly(struct vblk *vb);

// Give up on the device: reset it and fail every request in flight and
// every later one with -1. For a platform timeout when the device stops
// answering (the host tests use it for a device that never completes).
void     vblk_fail(struct vblk *vb, const char *why);
// Reset the device, fail what is in flight, free the rings and slots.
// Nobody may be inside vblk_rw or vblk_intr any more.
void     vblk_shutdown(struct vblk *vb);
void     vblk_log_stats(struct vblk *vb);

#endif
