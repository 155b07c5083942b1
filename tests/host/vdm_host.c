// vdm_host.c: the host tests' glue for the device model: bus ops, the
// model's view of driver memory (vdm_port_mem), and a fake byte stream.
// See vdm_host.h.
//
// Run: make -C tests/host check
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "host.h"
#include "vdm.h"
#include "vdm_backend.h"
#include "vdm_host.h"

// Only memory from vos_dma_alloc, and only whole live ranges of it: a
// device that followed a stray address would make ASan (or this check)
// fail the test instead of scribbling.
void *vdm_port_mem(uint64_t pa, uint64_t len)
{
  return host_dma_ptr(pa, len);
}

static uint32_t bus_read(void *dev, uint32_t off)
{
  return vdm_mmio_read(dev, off);
}

static void bus_write(void *dev, uint32_t off, uint32_t val)
{
  vdm_mmio_write(dev, off, val);
}

static void bus_run(void *dev)
{
  vdm_run(dev);
}

static int bus_irq(void *dev)
{
  return vdm_irq_pending(dev);
}

static const struct host_dev_ops vdm_bus_ops = { bus_read, bus_write, bus_run, bus_irq };

void vdm_host_attach(struct vdm *d, uintptr_t base)
{
  host_bus_attach(base, &vdm_bus_ops, d);
}

void vdm_host_detach(uintptr_t base)
{
  host_bus_detach(base);
}

// ---- the fake byte stream ----

void fakechar_init(struct fakechar *f)
{
  memset(f, 0, sizeof(*f));
}

static uint32_t fc_read(void *ctx, uint8_t *buf, uint32_t max)
{
  struct fakechar *f = ctx;
  uint32_t n = 0;

  if (f->chunk && max > f->chunk)
    max = f->chunk;
  while (n < max && f->in_head != f->in_tail)
    buf[n++] = f->in[f->in_head++ % FAKECHAR_BUF];
  return n;
}

static uint32_t fc_write(void *ctx, const uint8_t *buf, uint32_t len)
{
  struct fakechar *f = ctx;
  uint32_t cap = f->out_cap ? f->out_cap : FAKECHAR_BUF, n = 0;

  if (f->chunk && len > f->chunk)
    len = f->chunk;
  while (n < len && f->out_len < cap)
    f->out[f->out_len++] = buf[n++];
  return n;
}

static void fc_want(void *ctx, int rx, int tx)
{
  struct fakechar *f = ctx;

  f->want_rx = rx;
  f->want_tx = tx;
  f->want_calls++;
}

void fakechar_backend(struct fakechar *f, struct vdm_char_backend *be)
{
  be->read = fc_read;
  be->write = fc_write;
  be->want = fc_want;
  be->ctx = f;
}

uint32_t fakechar_push(struct fakechar *f, const void *buf, uint32_t n)
{
  const uint8_t *b = buf;
  uint32_t i;

  for (i = 0; i < n && f->in_tail - f->in_head < FAKECHAR_BUF; i++)
    f->in[f->in_tail++ % FAKECHAR_BUF] = b[i];
  return i;
}
