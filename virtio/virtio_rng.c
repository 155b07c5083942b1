// virtio_rng.c: the virtio entropy driver (see virtio_rng.h for the
// interface). Follows virtio 1.2 section 5.4: 5.4.5 initialization (the
// generic 3.1.1 steps and one virtqueue), 5.4.6 operation ("the driver
// MUST NOT place driver-readable buffers into the queue"; the device may
// fill less than the whole buffer, so used.len counts, and we never read
// past it). Ring work goes through virtq.h; no registers here.
//
// See it run: `rand` in the shell after `make qemu`; tests/qemu/test_rng.py.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"
#include "virtio_dev.h"
#include "virtio_rng.h"

#define VRNG_QUEUE 0    // requestq

static void give_up(struct vrng *rng, const char *why)
{
  struct virtq *q = &rng->vq;

  if (rng->broken)
    return;
  rng->broken = 1;
  vio_give_up(rng->dev, "virtio-rng", why, &q, 1);
  vos_wakeup(rng);
  vos_wakeup(&rng->busy);
}

// Set-up failed: stop the device and free its queue.
static int setup_fail(struct vrng *rng, const char *why)
{
  struct virtq *q = &rng->vq;

  vio_unwind(rng->dev, "virtio-rng", why, &q, 1);
  rng->broken = 1;
  return -1;
}

static int interrupted(struct vrng *rng)
{
  return rng->interrupted != 0 && rng->interrupted() != 0;
}

// Ask the device for n <= VRNG_BUF_SIZE bytes and sleep until they are
// there. Returns the byte count (possibly 0), or -1. Lock held.
static int one_request(struct vrng *rng, uint32_t n)
{
  struct virtq_buf b = { rng->buf, n, 1 };

  if (virtq_add(&rng->vq, &b, 1, rng->buf) != VIRTQ_OK) {
    give_up(rng, "queue refused a buffer");
    return -1;
  }
  rng->inflight = 1;
  rng->asked = n;
  rng->stats.requests++;
  virtq_kick(&rng->vq);
  while (rng->inflight && !rng->broken) {
    // If we leave now, buf stays with the device: `inflight` keeps the
    // next reader from posting it again until the completion arrives.
    if (interrupted(rng))
      return -1;
    vos_sleep(rng, &rng->lock);
  }
  if (rng->broken)
    return -1;
  return (int)rng->got;
}

int vrng_read(struct vrng *rng, void *buf, uint32_t len)
{
  uint8_t *dst = buf;
  uint32_t done = 0, n, k;
  int got;

  vos_lock(&rng->lock);
  while ((rng->busy || rng->inflight) && rng->ready && !rng->broken && !interrupted(rng))
    vos_sleep(&rng->busy, &rng->lock);
  if (rng->busy || rng->inflight || !rng->ready || rng->broken) {
    vos_unlock(&rng->lock);
    return -1;
  }
  rng->busy = 1;
  while (done < len) {
    n = len - done;
    if (n > VRNG_BUF_SIZE)
      n = VRNG_BUF_SIZE;
    got = one_request(rng, n);
    if (got < 0)
      break;
    // virtq_get checked got <= n, the size of the buffer we posted.
    for (k = 0; k < (uint32_t)got; k++)
      dst[done + k] = rng->buf[k];
    done += (uint32_t)got;
  }
  rng->busy = 0;
  vos_wakeup(&rng->busy);
  vos_unlock(&rng->lock);
  if (done == len)
    return (int)len;
  return done > 0 && !rng->broken ? (int)done : -1;
}

void vrng_intr(struct vrng *rng)
{
  uint32_t len;
  void *token;
  int r;

  vos_lock(&rng->lock);
  vio_intr_ack(rng->dev);   // before reaping, as in virtio_blk.c
  if (!rng->ready || rng->broken) {
    vos_unlock(&rng->lock);
    return;
  }
  rng->stats.interrupts++;
  virtq_disable_intr(&rng->vq);
  do {
    while ((r = virtq_get(&rng->vq, &token, &len)) == 1) {
      if (token != rng->buf || !rng->inflight) {
        give_up(rng, "a completion for a request we did not make");
        break;
      }
      rng->got = len;
      rng->inflight = 0;
      rng->stats.bytes += len;
      if (len < rng->asked)
        rng->stats.short_reads++;
    }
    if (r < 0)
      give_up(rng, "queue broken");
  } while (!rng->broken && virtq_enable_intr(&rng->vq));
  vos_wakeup(rng);
  vos_wakeup(&rng->busy);   // a reader that was interrupted left buf in flight
  vos_unlock(&rng->lock);
}

void vrng_get_stats(struct vrng *rng, struct vrng_stats *out)
{
  vos_lock(&rng->lock);
  *out = rng->stats;
  vos_unlock(&rng->lock);
}

int vrng_init(struct vrng *rng, struct vio_dev *d)
{
  uint8_t *p = (uint8_t *)rng;
  uint32_t i;

  for (i = 0; i < sizeof(*rng); i++)
    p[i] = 0;
  rng->dev = d;
  vos_lock_init(&rng->lock, "vrng");
  // 3.1.1 steps 1-6; 5.4.3: the device has no feature bits of its own.
  if (vio_start(d, VIRTIO_ID_ENTROPY, "virtio-rng", 0) < 0) {
    rng->broken = 1;
    return -1;
  }
  if (virtq_init(&rng->vq, d, VRNG_QUEUE, 1) < 0)
    return setup_fail(rng, "no request queue");
  rng->buf = vos_dma_alloc(VRNG_BUF_SIZE);
  if (rng->buf == 0)
    return setup_fail(rng, "no memory for the buffer");
  rng->ready = 1;
  vio_driver_ok(d);
  vos_log("virtio-rng %p: %s transport\n", (void *)d->base,
          d->version == 1 ? "legacy" : "modern");
  return 0;
}
