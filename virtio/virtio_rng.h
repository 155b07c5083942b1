// virtio_rng.h: the virtio entropy device driver ("virtio-rng"): random
// bytes from the host, built on virtq.h and virtio_mmio.h. Portable.
//
// Follows virtio 1.2 section 5.4 (Entropy Device): one queue (requestq,
// 5.4.2), no feature bits and no configuration (5.4.3, 5.4.4); the driver
// posts device-writable buffers and the device fills them, used.len saying
// how many bytes it wrote, possibly fewer than asked (5.4.6).
//
// See it run: `make qemu` (it adds -device virtio-rng-device), then `rand`
// in the shell, or `python3 tests/run_tests.py rng`.
//
// Usage:
//   static struct vrng rng;
//   vrng_init(&rng, &dev);           // once; 0 or -1
//   vrng_intr(&rng);                 // from the device's interrupt
//   vrng_read(&rng, buf, 32);        // blocks until 32 bytes arrived
//
// One request at a time: a reader posts the driver's DMA buffer, sleeps
// until the device fills it, copies, and repeats until it has enough.
// Locking: rng->lock protects everything; the interrupt takes it too.
#ifndef VIRTIO_RNG_H
#define VIRTIO_RNG_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"

// An #ifndef default: the Cortex-M3 port, short of RAM, passes a smaller
// one with -D (cm3/Makefile, TUNE).
#ifndef VRNG_BUF_SIZE
#define VRNG_BUF_SIZE 64   // bytes asked for per request
#endif

struct vrng_stats {
  uint32_t requests;     // buffers handed to the device
  uint32_t bytes;        // bytes it delivered
  uint32_t short_reads;  // requests it answered with fewer bytes than asked
  uint32_t interrupts;
};

struct vrng {
  struct vio_dev *dev;
  vos_lock_t lock;
  struct virtq vq;
  uint8_t *buf;          // VRNG_BUF_SIZE bytes of DMA memory the device fills
  int ready;
  int broken;
  int busy;              // a reader owns buf; others sleep on &busy
  int inflight;          // buf is with the device
  uint32_t asked;        // bytes the request in flight asked for
  uint32_t got;          // bytes the device wrote into buf (valid when !inflight)
  // Optional (NULL by default): a blocked reader gives up when it returns non-zero.
  int (*interrupted)(void);
  struct vrng_stats stats;
};

// Handshake, requestq 0, DRIVER_OK. 0, or -1 (logged).
int  vrng_init(struct vrng *rng, struct vio_dev *d);
// Fills buf with len random bytes from the device, sleeping as needed.
// Returns len; the bytes so far if interrupted part way; -1 if the device
// is broken or the wait was interrupted before any byte came.
int  vrng_read(struct vrng *rng, void *buf, uint32_t len);
void vrng_intr(struct vrng *rng);
void vrng_get_stats(struct vrng *rng, struct vrng_stats *out);

#endif
