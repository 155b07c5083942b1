// vdm_rng.h: a virtio entropy device (virtio 1.2 section 5.4) for the
// device model: the driver posts writable buffers on the one queue, the
// device fills them from an entropy backend (vdm_prng.c).
//
// See it run: `make -C tests/host check` (rng_* tests), `rng` in
// `make qemu-cm3`.
#ifndef VDM_RNG_H
#define VDM_RNG_H
#include <stdint.h>
#include <stddef.h>
#include "vdm.h"
#include "vdm_backend.h"

struct vdm_rng {
  struct vdm vdm;            // first: a struct vdm * is a struct vdm_rng *
  struct vdm_entropy_backend be;
  uint32_t bytes;            // random bytes handed out
};

void vdm_rng_init(struct vdm_rng *r, const struct vdm_entropy_backend *be, uint32_t version);

#endif
