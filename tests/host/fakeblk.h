// fakeblk.h: a fake virtio-blk device for the host tests, backed by a RAM
// disk, with the virtio-mmio register layout of a modern (Version 2) or a
// legacy (Version 1) device.
//
// It is written from the device's side of the virtio 1.2 spec (4.2.2,
// 4.2.4, 2.7, 5.2) independently of kernel/virtio/, and it also checks the
// driver: every access the spec forbids (reading a write-only register,
// clearing a status bit, a QueueNum above QueueNumMax, a notify before
// DRIVER_OK, a malformed request chain ...) is counted in `violations`.
//
// On request it misbehaves (see enum fb_mode), to test that the driver
// survives devices that return bad status, bad used ring entries, or
// nothing at all.
//
// Run: make -C tests/host check
#ifndef FAKEBLK_H
#define FAKEBLK_H
#include <stdint.h>
#include <stddef.h>

enum fb_mode {
  FB_NORMAL,
  FB_IOERR,          // status VIRTIO_BLK_S_IOERR
  FB_UNSUPP,         // status VIRTIO_BLK_S_UNSUPP
  FB_BAD_STATUS,     // status 9, which the spec does not define
  FB_NO_STATUS,      // complete without writing the status byte
  FB_BAD_ID,         // used.id = queue size + 5
  FB_DUP_ID,         // with two requests pending: complete the first, then
                     // report the first's id again instead of the second
  FB_BIG_LEN,        // used.len 4096 bytes more than the chain can hold
  FB_IDX_JUMP,       // used.idx advances 40 past the entries written
  FB_NEVER,          // never complete anything
  FB_NEEDS_RESET,    // set DEVICE_NEEDS_RESET + config interrupt instead of completing
};

#define FB_MAX_PENDING 1024
#define FB_MAX_STATUS_LOG 16

struct fakeblk {
  uintptr_t base;

  // identity, as vio_probe sees it
  uint32_t magic, version, device_id, vendor_id;

  // feature negotiation
  uint64_t offered;
  uint64_t driver_features;
  uint32_t dev_features_sel, drv_features_sel;
  int refuse_features_ok;   // leave FEATURES_OK clear when the driver sets it

  uint32_t status;
  uint32_t status_log[FB_MAX_STATUS_LOG];  // every value written to Status
  int nstatus_log;

  // queue 0 (the only one)
  uint32_t queue_sel;
  uint32_t num_max, num;
  uint32_t ready;                          // modern
  uint64_t desc_pa, driver_pa, device_pa;  // modern, or computed from QueuePFN
  uint32_t guest_page_size, queue_align, pfn;  // legacy
  int live;                                // queue enabled (ready or pfn != 0)

  uint32_t isr;      // InterruptStatus
  uint32_t generation;
  int gen_bumps;     // config reads during which the config "changes" (see .c)
  uint64_t bump_capacity;  // the capacity after such a change
  uint8_t config[64];

  uint8_t *disk;
  uint64_t capacity; // sectors

  // behaviour
  enum fb_mode mode;
  int reverse;           // complete pending requests newest first
  int complete_on_ack;   // complete one request per run, the rest when the
                         // driver writes InterruptACK (just before it lands)
  int no_notify;         // set VIRTQ_USED_F_NO_NOTIFY in the used ring

  // device-side queue state
  uint16_t last_avail;   // next avail ring entry to read
  uint16_t used_idx;     // our copy of used.idx
  uint16_t pending[FB_MAX_PENDING];
  int npending;

  // what happened, for the tests
  int notifies;
  int requests, reads, writes;
  int max_outstanding;
  uint16_t arrive_order[FB_MAX_PENDING];  // heads in the order they were made available
  int narrive;
  uint16_t done_order[FB_MAX_PENDING];    // heads in completion order
  int ndone;
  int gen_reads;                          // ConfigGeneration reads
  int id_reads_after_devid;  // register reads after DeviceID (probe test)
  int devid_read;
  int violations;
  char first_violation[200];
};

// A block device with `capacity` sectors of RAM disk, sector s filled with
// fb_pattern(s, i), attached to the host bus at `base`.
struct fakeblk *fakeblk_create(uintptr_t base, int version, uint64_t capacity);
void            fakeblk_destroy(struct fakeblk *fb);
uint8_t         fb_pattern(uint64_t sector, uint32_t i);
// Process the queue now (host_step does this too).
void            fakeblk_run(struct fakeblk *fb);
// Change the capacity and raise a configuration change interrupt.
void            fakeblk_resize(struct fakeblk *fb, uint64_t capacity);

#endif
