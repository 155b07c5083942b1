// devfix.h: test fixtures: device-model devices (devmodel/) on the
// host tests' fake bus, with the extra bookkeeping tests look at. Every
// device-side check the tests make goes through these models; there is no
// other fake device.
//
//   struct tblk   virtio-blk on a RAM disk whose sector s byte i starts as
//                 tblk_pattern(s, i); records arrival/completion order
//   struct tcons  virtio-console, each port on a fakechar byte stream (vdm_host.h)
//   struct trng   virtio-rng on the xorshift PRNG
//   struct tnet   virtio-net, looping frames back or capturing them
//
// and the checks every test makes of them afterwards (fix_check_model), and
// the block driver started on a tblk the way test_virtio.c and
// test_perf_features.c both use it (tblk_start_driver, tblk_cleanup).
//
// Run: make -C tests/host check
#ifndef DEVFIX_H
#define DEVFIX_H
#include <stdint.h>
#include <stddef.h>
#include "vdm.h"
#include "vdm_blk.h"
#include "vdm_console.h"
#include "vdm_rng.h"
#include "vdm_net.h"
#include "vdm_ramdisk.h"
#include "vdm_prng.h"
#include "vdm_host.h"
#include "virtio_blk.h"
#include "virtq.h"

#define TBLK_LOG 1024

struct tblk {
  struct vdm_blk m;           // the device model: m.vdm is the generic part
  struct vdm_ramdisk rd;
  uint8_t *disk;
  uint64_t capacity;          // sectors
  uintptr_t base;
  // A concurrent configuration change, simulated: while gen_bumps > 0,
  // each configuration read is followed by the capacity becoming
  // bump_capacity (and ConfigGeneration moving).
  int gen_bumps;
  uint64_t bump_capacity;
  // Observed.
  int max_outstanding;                  // most chains the device held at once
  uint16_t arrive_order[TBLK_LOG];      // heads as they came off the avail ring
  int narrive;
  uint16_t done_order[TBLK_LOG];        // heads as they went on the used ring
  int ndone;
};

struct tblk *tblk_create(uintptr_t base, int version, uint64_t capacity);
void         tblk_destroy(struct tblk *t);
void         tblk_run(struct tblk *t);
// The disk grows or shrinks; a configuration change notification follows.
void         tblk_resize(struct tblk *t, uint64_t capacity);
// Announce size_max (0: feature not offered) and seg_max.
void         tblk_limits(struct tblk *t, uint32_t size_max, uint32_t seg_max);
uint8_t      tblk_pattern(uint64_t sector, uint32_t i);
// 1 if buf holds the disk's initial contents from `sector` on, len bytes.
int          tblk_is_pattern(const uint8_t *buf, uint64_t sector, uint32_t len);

// Probe the tblk at `base` into dev and start the block driver on it with
// the limits lim (NULL: VBLK_LIMITS_FULL); route the device's interrupt to
// vblk_intr. On failure records why (expect) and returns 0.
int          tblk_start_driver(struct vio_dev *dev, struct vblk *vb, uintptr_t base,
                               const struct vblk_limits *lim);
// The cleanup after a test (see host_tests_begin) for programs with one tblk:
// unless the test aborted, record any spec violation the device saw and
// shut the driver down if it is running; then destroy *t (if any), *t = NULL.
void         tblk_cleanup(struct tblk **t, struct vblk *vb, int aborted);

// The console: fc[n] is port n's wire. tcons_create makes the one-port
// device (port 0, no MULTIPORT); tcons_create_multiport a MULTIPORT one
// with max_nr_ports in its configuration and no port, and tcons_add_port
// attaches port `id` on fc[id] (name NULL: none).
struct tcons {
  struct vdm_console m;
  struct fakechar fc[VDM_CONSOLE_MAX_PORTS];
  uintptr_t base;
};
struct tcons *tcons_create(uintptr_t base, int version);
struct tcons *tcons_create_multiport(uintptr_t base, int version, uint32_t max_nr_ports);
int           tcons_add_port(struct tcons *t, uint32_t id, int console, const char *name);
void          tcons_destroy(struct tcons *t);

struct trng {
  struct vdm_rng m;
  struct vdm_prng prng;
  uintptr_t base;
};
struct trng *trng_create(uintptr_t base, int version, uint64_t seed);
void         trng_destroy(struct trng *t);

// The network device: with capture = 0 every transmitted frame comes back
// into the device's own receive side (the model's loopback); with
// capture = 1 the link is a recorder instead: the first TNET_CAP frames
// are kept, all are counted, and nothing comes back. Frames from outside
// arrive with vdm_net_receive(&t->m, frame, len).
#define TNET_CAP 64
extern const uint8_t tnet_mac[6];   // what the device's configuration space says
struct tnet {
  struct vdm_net m;
  uintptr_t base;
  uint32_t ncap;                         // frames the link was given
  uint32_t cap_len[TNET_CAP];
  uint8_t cap[TNET_CAP][VDM_NET_FRAME_MAX];
};
struct tnet *tnet_create(uintptr_t base, int version, int capture);
void         tnet_destroy(struct tnet *t);

// The ring layout of the running test (host_packed, host.h): a modern
// device model offers VIRTIO_F_RING_PACKED exactly when the test runs on
// the packed layout. The *_create functions below call it; a test that
// sets `offered` itself calls it again afterwards.
void fix_layout(struct vdm *m);
// What the driver of a modern device negotiated it should: the packed
// bit when the test runs on the packed layout, else nothing.
uint64_t fix_layout_bits(void);

// Fail the running test unless queue vq of device d got the layout the
// test runs on: packed exactly on the packed layout with a modern device.
// Returns what expect() returns.
int fix_check_layout(const struct virtq *vq, const struct vio_dev *d);

// Fail the running test if the device model saw the driver break the spec.
// `who` names the device in the message ("blk device saw ..."); NULL for
// programs with only one device ("device saw ...").
void fix_check_model(const struct vdm *m, const char *who);

#endif
