// virtio_rng.c: the virtio entropy driver (see virtio_rng.h for the
// interface). Follows virtio 1.2 section 5.4: 5.4.5 initialization (the
// generic 3.1.1 steps and one virtqueue), 5.4.6 operation (5.4.6.1: "The
// driver MUST NOT place device-readable buffers into the queue", and it
// must look at the length the device wrote; 5.4.6.2: the device may fill
// less than the whole buffer, so used.len counts, and we never read past
// it). Ring work goes through virtq.h; no registers here.
//
// See it run: `rand` in the shell after `make qemu`; tests/qemu/test_rng.py.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"
#include "virtio_dev.h"
#include "virtio_rng.h"

#define VRNG_QUEUE 0    // requestq, the device's only queue (5.4.2)

// Stop using the device for good (rng->lock held): reset it, so it no
// longer writes into rng->buf, and set FAILED (virtio_dev.c). Then wake
// everyone who waits: the reader whose request is in flight sleeps on rng,
// readers waiting for their turn sleep on &busy, and all of them must see
// `broken` and return -1 instead of waiting for a device that is gone.
static void give_up(struct vrng *rng, const char *why)
{
  struct virtq *q = &rng->vq;

  if (rng->broken)
    return;  // the first reason is the one logged
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

// The platform's "stop waiting" test, if it gave one: the kernel's says
// whether the reading process has been killed (kernel/glue/devfiles.c).
static int interrupted(struct vrng *rng)
{
  return rng->interrupted != 0 && rng->interrupted() != 0;
}

// Ask the device for n <= VRNG_BUF_SIZE bytes and sleep until they are
// there. Returns the byte count (possibly 0), or -1. Lock held.
static int one_request(struct vrng *rng, uint32_t n)
{
  // >>> lab rng: post rng->buf (n bytes, device-writable) with virtq_add, mark it in flight, kick, sleep until vrng_intr took it back; return the bytes the device wrote
  // One buffer, device-writable (the 1 below): the device only writes on
  // this queue (5.4.6.1). Its address doubles as the token, since there
  // is never more than one request out.
  struct virtq_buf b = { rng->buf, n, 1 };

  // The queue has room for this one buffer whenever no request is in
  // flight, which vrng_read made sure of; so a refusal means the queue
  // is broken.
  if (virtq_add(&rng->vq, &b, 1, rng->buf) != VIRTQ_OK) {
    give_up(rng, "queue refused a buffer");
    return -1;
  }
  // From here until vrng_intr clears `inflight`, rng->buf belongs to the
  // device: nobody reads it and nobody posts it again.
  rng->inflight = 1;
  rng->asked = n;
  rng->stats.requests++;
  // Publish and notify (virtq.c has the barriers).
  virtq_kick(&rng->vq);
  // Sleep until vrng_intr has taken the buffer back. vos_sleep lets go of
  // the lock while we sleep, so the interrupt handler can take it, and
  // the loop checks again after every wakeup, ours or not.
  while (rng->inflight && !rng->broken) {
    // If we leave now, buf stays with the device: `inflight` keeps the
    // next reader from posting it again until the completion arrives.
    if (interrupted(rng))
      return -1;
    vos_sleep(rng, &rng->lock);
  }
  if (rng->broken)
    return -1;
  // used.len, already checked by virtq_get to be at most n.
  return (int)rng->got;
  // === stub
  // give_up(rng, "one_request is not written yet");
  // return -1;
  // <<< lab rng
}

int vrng_read(struct vrng *rng, void *buf, uint32_t len)
{
  uint8_t *dst = buf;
  uint32_t done = 0, n, k;
  int got;

  vos_lock(&rng->lock);
  // Wait for our turn. There is one DMA buffer, so one reader at a time
  // (`busy`), and not while the buffer is still with the device after a
  // reader that was interrupted left it there (`inflight`).
  while ((rng->busy || rng->inflight) && rng->ready && !rng->broken && !interrupted(rng))
    vos_sleep(&rng->busy, &rng->lock);
  // The loop also ends when we were interrupted or the device is gone:
  // then no byte is read.
  if (rng->busy || rng->inflight || !rng->ready || rng->broken) {
    vos_unlock(&rng->lock);
    return -1;
  }
  rng->busy = 1;
  // As many requests as it takes: at most VRNG_BUF_SIZE bytes each, and
  // the device may give fewer than asked (5.4.6.2).
  while (done < len) {
    n = len - done;
    if (n > VRNG_BUF_SIZE)
      n = VRNG_BUF_SIZE;
    got = one_request(rng, n);
    if (got < 0)
      break;
    // A device that answers 0 bytes breaks 5.4.6.2 ("MUST place one or
    // more random bytes"); asking again could go on for ever, with the
    // reader asleep and the device busy. Give up on it like on any other
    // broken rule: this read, and every later one, fails with -1.
    if (got == 0) {
      give_up(rng, "the device answered a request with 0 bytes (5.4.6.2: at least one)");
      break;
    }
    // virtq_get checked got <= n, the size of the buffer we posted, so
    // the copy stays inside both buf and the caller's dst. Bytes past got
    // are whatever the buffer held before: never handed out (2.7.8.3).
    for (k = 0; k < (uint32_t)got; k++)
      dst[done + k] = rng->buf[k];
    done += (uint32_t)got;
  }
  // Our turn is over: let the next reader in.
  rng->busy = 0;
  vos_wakeup(&rng->busy);
  vos_unlock(&rng->lock);
  // All of it, or the part we got before an interruption; a broken device
  // is an error even after some bytes, so the caller never mistakes a
  // dead device for a short read.
  if (done == len)
    return (int)len;
  return done > 0 && !rng->broken ? (int)done : -1;
}

void vrng_intr(struct vrng *rng)
{
  vos_lock(&rng->lock);
  // Acknowledge before reaping, as in virtio_blk.c (vblk_intr says why).
  vio_intr_ack(rng->dev);
  // A device we gave up on, or one not set up yet, may still interrupt;
  // there is nothing of ours in its queue to look at.
  if (!rng->ready || rng->broken) {
    vos_unlock(&rng->lock);
    return;
  }
  // The queue's own count of interrupts (and, when the queue is recorded,
  // the interrupt's step: virtq_trace.c); the driver's count is below.
  virtq_count_intr(&rng->vq);
  // >>> lab rng: count the interrupt; take the completion off the used ring (virtq_disable_intr, virtq_get, virtq_enable_intr), check it is our buffer, record its length, end `inflight`
  uint32_t len;
  void *token;
  int r;

  rng->stats.interrupts++;
  // Reap with interrupts off, then turn them on and look once more
  // (virtq_enable_intr returns 1 if a completion slipped in between).
  virtq_disable_intr(&rng->vq);
  do {
    while ((r = virtq_get(&rng->vq, &token, &len)) == 1) {
      // virtq_get has already refused ids we never handed out and ids
      // returned twice. With one buffer, any completion while none is in
      // flight, or for another token, means the device and we disagree
      // about what it holds: stop trusting it.
      if (token != rng->buf || !rng->inflight) {
        give_up(rng, "a completion for a request we did not make");
        break;
      }
      // The buffer is ours again, with len random bytes at its start;
      // barrier (3) in virtq_get ordered our later reads of them after the
      // device's writes.
      rng->got = len;
      rng->inflight = 0;
      rng->stats.bytes += len;
      if (len < rng->asked)
        rng->stats.short_reads++;
    }
    if (r < 0)
      give_up(rng, "queue broken");
  } while (!rng->broken && virtq_enable_intr(&rng->vq));
  // <<< lab rng
  // The reader in one_request sleeps on rng.
  vos_wakeup(rng);
  vos_wakeup(&rng->busy);   // a reader that was interrupted left buf in flight
  vos_unlock(&rng->lock);
}

// A copy taken under the lock, so the counters agree with each other.
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

  // Zero everything, byte by byte (the portable core uses no C library):
  // no buffer, no queue memory, nothing in flight, no `interrupted` hook
  // until the platform sets one.
  for (i = 0; i < sizeof(*rng); i++)
    p[i] = 0;
  rng->dev = d;
  vos_lock_init(&rng->lock, "vrng");
  // 3.1.1 steps 1-6; 5.4.3: the device has no feature bits of its own, so
  // we want none (vio_negotiate still accepts VIRTIO_F_VERSION_1).
  // >>> lab rng: the handshake (vio_start), the request queue (virtq_init), the DMA buffer, ready, DRIVER_OK (5.4.5)
  if (vio_start(d, VIRTIO_ID_ENTROPY, "virtio-rng", VIRTQ_LAYOUT_FEATURES) < 0) {
    rng->broken = 1;
    return -1;
  }
  // Step 7 (5.4.5: "the virtqueue is initialized"). One request at a time
  // needs one descriptor, so we ask for a queue of one entry.
  if (virtq_init(&rng->vq, d, VRNG_QUEUE, 1) < 0)
    return setup_fail(rng, "no request queue");
  // The one buffer the device writes into: DMA memory, never the
  // caller's, which may be anywhere (a user page, a stack).
  rng->buf = vos_dma_alloc(VRNG_BUF_SIZE);
  if (rng->buf == 0)
    return setup_fail(rng, "no memory for the buffer");
  // Step 8. Nothing is posted yet: the first vrng_read posts the buffer,
  // so there is nothing to kick here.
  rng->ready = 1;
  vio_driver_ok(d);
  // === stub
  // return setup_fail(rng, "vrng_init is not written yet");
  // <<< lab rng
  vos_log("virtio-rng %p: %s transport\n", (void *)d->base,
          d->version == 1 ? "legacy" : "modern");
  return 0;
}
