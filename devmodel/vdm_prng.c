// vdm_prng.c: xorshift64* (Marsaglia's xorshift with a multiplicative
// output step, as described by Vigna), behind the entropy backend interface.
//
// See it run: `rng` in `make qemu-cm3`; `make -C tests/host check`.
#include <stdint.h>
#include <stddef.h>
#include "vdm_backend.h"
#include "vdm_prng.h"

void vdm_prng_seed(struct vdm_prng *p, uint64_t seed)
{
  // An all-zero state would stay zero forever.
  p->state = seed ? seed : 0x9e3779b97f4a7c15ull;
  p->produced = 0;
}

uint64_t vdm_prng_next(struct vdm_prng *p)
{
  uint64_t x = p->state;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  p->state = x;
  return x * 0x2545f4914f6cdd1dull;
}

static uint32_t prng_fill(void *ctx, uint8_t *buf, uint32_t len)
{
  struct vdm_prng *p = ctx;
  uint64_t word = 0;
  uint32_t i;

  if (p->max_chunk != 0 && len > p->max_chunk)
    len = p->max_chunk;
  for (i = 0; i < len; i++) {
    if (i % 8 == 0)
      word = vdm_prng_next(p);
    buf[i] = (uint8_t)(word >> (8 * (i % 8)));
  }
  p->produced += len;
  return len;
}

void vdm_prng_backend(struct vdm_prng *p, struct vdm_entropy_backend *be)
{
  be->fill = prng_fill;
  be->ctx = p;
}
