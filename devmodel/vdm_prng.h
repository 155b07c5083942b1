// vdm_prng.h: a small pseudo-random generator (xorshift64*), the entropy
// backend (vdm_backend.h) behind the device model's virtio-rng. Not
// cryptographic: it stands in for a hardware noise source so that the
// driver's side of virtio-rng can be exercised anywhere.
//
// See it run: `rng` in `make qemu-cm3`; `make -C tests/host check`.
#ifndef VDM_PRNG_H
#define VDM_PRNG_H
#include <stdint.h>
#include <stddef.h>
#include "vdm_backend.h"

struct vdm_prng {
  uint64_t state;     // never 0
  uint32_t max_chunk; // give at most this many bytes per fill (0: no limit);
                      // the spec lets a device fill only part of a buffer
  uint64_t produced;
};

void     vdm_prng_seed(struct vdm_prng *p, uint64_t seed);
uint64_t vdm_prng_next(struct vdm_prng *p);
void     vdm_prng_backend(struct vdm_prng *p, struct vdm_entropy_backend *be);

#endif
