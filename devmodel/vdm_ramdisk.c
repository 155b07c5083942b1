// vdm_ramdisk.c: a RAM disk behind the block backend interface
// (vdm_backend.h). Bounds are checked here too, although vdm_blk.c already
// checked them: a backend should not trust its caller with its memory.
//
// See it run: `blktest` in `make qemu-cm3`; `make -C tests/host check`.
#include <stdint.h>
#include <stddef.h>
#include "vdm_backend.h"
#include "vdm_ramdisk.h"

static int inside(struct vdm_ramdisk *rd, uint64_t off, uint32_t len)
{
  return off <= rd->size && len <= rd->size - off;
}

static int rd_read(void *ctx, uint64_t off, void *buf, uint32_t len)
{
  struct vdm_ramdisk *rd = ctx;
  uint8_t *dst = buf;
  uint32_t i;

  if (!inside(rd, off, len))
    return -1;
  for (i = 0; i < len; i++)
    dst[i] = rd->mem[off + i];
  return 0;
}

static int rd_write(void *ctx, uint64_t off, const void *buf, uint32_t len)
{
  struct vdm_ramdisk *rd = ctx;
  const uint8_t *src = buf;
  uint32_t i;

  if (rd->readonly || !inside(rd, off, len))
    return -1;
  for (i = 0; i < len; i++)
    rd->mem[off + i] = src[i];
  return 0;
}

static int rd_flush(void *ctx)
{
  struct vdm_ramdisk *rd = ctx;

  rd->flushes++;
  return 0;
}

static uint64_t rd_size(void *ctx)
{
  return ((struct vdm_ramdisk *)ctx)->size;
}

static int rd_readonly(void *ctx)
{
  return ((struct vdm_ramdisk *)ctx)->readonly;
}

void vdm_ramdisk_backend(struct vdm_ramdisk *rd, struct vdm_blk_backend *be)
{
  be->read = rd_read;
  be->write = rd_write;
  be->flush = rd_flush;
  be->size = rd_size;
  be->readonly = rd_readonly;
  be->ctx = rd;
}
