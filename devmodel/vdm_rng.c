// vdm_rng.c: the device side of virtio-rng for the device model.
//
// Follows virtio 1.2 section 5.4 (Entropy Device): one queue (requestq),
// no feature bits, no configuration; 5.4.6: the driver only posts
// device-writable buffers, and the device "MUST place one or more random
// bytes into the buffer, but it MAY use less than the entire buffer".
//
// See it run: `make -C tests/host check`, `rng` in `make qemu-cm3`.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "vdm.h"
#include "vdm_backend.h"
#include "vdm_rng.h"

static struct vdm_rng *rng_of(struct vdm *d)
{
  return (struct vdm_rng *)d;  // struct vdm is the first member
}

static uint64_t rng_features(struct vdm *d)
{
  return (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX);
}

// Fill the chain's writable bytes; stop early when the backend gives
// less than asked (allowed, see above). Returns used.len.
static uint32_t rng_work(struct vdm *d, int qi, uint16_t head)
{
  struct vdm_rng *r = rng_of(d);
  struct vdm_chain c;
  uint32_t done = 0, room, got;
  uint8_t *p;

  if (vdm_chain_get(d, qi, head, &c) < 0) {
    d->q[qi].stats.errors++;
    return 0;
  }
  if (c.indirect)
    d->q[qi].stats.indirect++;
  if (c.readable != 0) {
    vdm_violation(d, "device-readable buffer in the entropy queue (5.4.6.1)", head);
    d->q[qi].stats.errors++;
    return 0;
  }
  while (done < c.writable) {
    p = vdm_chain_at(&c, 1, done, &room);
    got = r->be.fill(r->be.ctx, p, room);
    done += got;
    if (got < room)
      break;
  }
  r->bytes += done;
  return done;
}

static void rng_queue_work(struct vdm *d, int qi)
{
  vdm_finish_held(d, qi, rng_work);
}

static const struct vdm_ops rng_ops = {
  .name = "rng",
  .device_id = VIRTIO_ID_ENTROPY,
  .num_queues = 1,
  .queue_max = VDM_QUEUE_MAX,
  .device_features = rng_features,
  .queue_work = rng_queue_work,
};

void vdm_rng_init(struct vdm_rng *r, const struct vdm_entropy_backend *be, uint32_t version)
{
  r->be = *be;
  r->bytes = 0;
  vdm_attach(&r->vdm, &rng_ops, version);
}
