// devfix.c: the host tests' device fixtures (see devfix.h).
//
// Run: make -C tests/host check
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "virtio_mmio.h"
#include "devfix.h"

uint64_t fix_layout_bits(void)
{
  return host_packed ? (uint64_t)1 << VIRTIO_F_RING_PACKED : 0;
}

void fix_layout(struct vdm *m)
{
  m->offered &= ~((uint64_t)1 << VIRTIO_F_RING_PACKED);
  if (m->regs.version == 2)
    m->offered |= fix_layout_bits();
}

uint8_t tblk_pattern(uint64_t sector, uint32_t i)
{
  return (uint8_t)(sector * 7 + i * 13 + (i >> 8) + 1);
}

int tblk_is_pattern(const uint8_t *buf, uint64_t sector, uint32_t len)
{
  uint32_t i;

  for (i = 0; i < len; i++) {
    if (buf[i] != tblk_pattern(sector + i / 512, i % 512))
      return 0;
  }
  return 1;
}

static void blk_observer(struct vdm *d, int event, int q, uint16_t head)
{
  struct tblk *t = d->test_arg;

  if (event == VDM_EV_POP) {
    if (d->q[q].npending > t->max_outstanding)
      t->max_outstanding = d->q[q].npending;
    if (t->narrive < TBLK_LOG)
      t->arrive_order[t->narrive++] = head;
  } else if (event == VDM_EV_DONE) {
    if (t->ndone < TBLK_LOG)
      t->done_order[t->ndone++] = head;
  }
}

static void blk_config_read_hook(struct vdm *d, uint32_t off)
{
  struct tblk *t = d->test_arg;

  // It lands right after this word was read: a driver reading a 64-bit
  // field sees the old low half and the new high half unless it checks
  // ConfigGeneration. Only configuration space changes (no I/O follows).
  if (t->gen_bumps > 0) {
    t->gen_bumps--;
    vdm_blk_set_capacity(&t->m, t->bump_capacity, 0);
  }
}

struct tblk *tblk_create(uintptr_t base, int version, uint64_t capacity)
{
  struct tblk *t = calloc(1, sizeof(*t));
  struct vdm_blk_backend be;
  uint64_t s;
  uint32_t i;

  t->base = base;
  t->capacity = capacity;
  t->disk = calloc(capacity ? capacity : 1, 512);
  for (s = 0; s < capacity; s++)
    for (i = 0; i < 512; i++)
      t->disk[s * 512 + i] = tblk_pattern(s, i);
  t->rd.mem = t->disk;
  t->rd.size = capacity * 512;
  vdm_ramdisk_backend(&t->rd, &be);
  vdm_blk_init(&t->m, &be, (uint32_t)version);
  t->m.vdm.test_arg = t;
  t->m.vdm.observer = blk_observer;
  t->m.vdm.on_config_read = blk_config_read_hook;
  fix_layout(&t->m.vdm);
  vdm_host_attach(&t->m.vdm, base);
  return t;
}

void tblk_destroy(struct tblk *t)
{
  vdm_host_detach(t->base);
  free(t->disk);
  free(t);
}

void tblk_run(struct tblk *t)
{
  vdm_run(&t->m.vdm);
}

void tblk_resize(struct tblk *t, uint64_t capacity)
{
  uint8_t *disk = calloc(capacity ? capacity : 1, 512);
  uint64_t keep = capacity < t->capacity ? capacity : t->capacity;

  memcpy(disk, t->disk, keep * 512);
  free(t->disk);
  t->disk = disk;
  t->capacity = capacity;
  t->rd.mem = disk;
  t->rd.size = capacity * 512;
  vdm_blk_set_capacity(&t->m, capacity, 1);
}

void tblk_limits(struct tblk *t, uint32_t size_max, uint32_t seg_max)
{
  t->m.size_max = size_max;
  t->m.seg_max = seg_max;
  vdm_blk_refresh(&t->m);
}

static struct tcons *tcons_alloc(uintptr_t base)
{
  struct tcons *t = calloc(1, sizeof(*t));
  int i;

  t->base = base;
  for (i = 0; i < VDM_CONSOLE_MAX_PORTS; i++)
    fakechar_init(&t->fc[i]);
  return t;
}

struct tcons *tcons_create(uintptr_t base, int version)
{
  struct tcons *t = tcons_alloc(base);
  struct vdm_char_backend be;

  fakechar_backend(&t->fc[0], &be);
  vdm_console_init(&t->m, &be, (uint32_t)version);
  t->m.vdm.test_arg = t;
  fix_layout(&t->m.vdm);
  vdm_host_attach(&t->m.vdm, base);
  return t;
}

struct tcons *tcons_create_multiport(uintptr_t base, int version, uint32_t max_nr_ports)
{
  struct tcons *t = tcons_alloc(base);

  vdm_console_init_multiport(&t->m, max_nr_ports, (uint32_t)version);
  t->m.vdm.test_arg = t;
  fix_layout(&t->m.vdm);
  vdm_host_attach(&t->m.vdm, base);
  return t;
}

int tcons_add_port(struct tcons *t, uint32_t id, int console, const char *name)
{
  struct vdm_char_backend be;

  if (id >= VDM_CONSOLE_MAX_PORTS)
    return -1;
  fakechar_backend(&t->fc[id], &be);
  return vdm_console_add_port(&t->m, id, &be, console, name);
}

void tcons_destroy(struct tcons *t)
{
  vdm_host_detach(t->base);
  free(t);
}

struct trng *trng_create(uintptr_t base, int version, uint64_t seed)
{
  struct trng *t = calloc(1, sizeof(*t));
  struct vdm_entropy_backend be;

  t->base = base;
  vdm_prng_seed(&t->prng, seed);
  vdm_prng_backend(&t->prng, &be);
  vdm_rng_init(&t->m, &be, (uint32_t)version);
  t->m.vdm.test_arg = t;
  fix_layout(&t->m.vdm);
  vdm_host_attach(&t->m.vdm, base);
  return t;
}

void trng_destroy(struct trng *t)
{
  vdm_host_detach(t->base);
  free(t);
}

// A locally administered address (bit 1 of the first byte), like QEMU's
// 52:54:00:... ones, and different from the driver's made-up fallback.
const uint8_t tnet_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int tnet_send(void *ctx, const uint8_t *frame, uint32_t len)
{
  struct tnet *t = ctx;

  if (t->ncap < TNET_CAP) {
    memcpy(t->cap[t->ncap], frame, len);
    t->cap_len[t->ncap] = len;
  }
  t->ncap++;
  return 1;
}

struct tnet *tnet_create(uintptr_t base, int version, int capture)
{
  struct tnet *t = calloc(1, sizeof(*t));
  struct vdm_net_backend be = { tnet_send, t };

  t->base = base;
  vdm_net_init(&t->m, tnet_mac, capture ? &be : 0, (uint32_t)version);
  t->m.vdm.test_arg = t;
  fix_layout(&t->m.vdm);
  vdm_host_attach(&t->m.vdm, base);
  return t;
}

void tnet_destroy(struct tnet *t)
{
  vdm_host_detach(t->base);
  free(t);
}

int fix_check_layout(const struct virtq *vq, const struct vio_dev *d)
{
  int want = host_packed && d->version == 2;

  return expect(vq->packed == want, "queue %u of device %p: %s ring, the test wants %s",
                (unsigned)vq->index, (void *)d->base, vq->packed ? "packed" : "split",
                want ? "packed" : "split");
}

void fix_check_model(const struct vdm *m, const char *who)
{
  if (m->violations)
    expect(0, "%s%sdevice saw %d spec violations, first: %s (0x%x)", who ? who : "",
           who ? " " : "", m->violations, m->first_violation, (unsigned)m->violation_arg);
}

// ---- the block driver on a tblk ----

// The bus hands interrupt handlers a void *; vblk_intr wants its vblk.
static void tblk_intr(void *arg)
{
  vblk_intr((struct vblk *)arg);
}

int tblk_start_driver(struct vio_dev *dev, struct vblk *vb, uintptr_t base,
                      const struct vblk_limits *lim)
{
  int r = vio_probe(dev, base);

  if (!expect(r == 1, "vio_probe returned %d", r))
    return 0;
  r = vblk_init(vb, dev, lim ? lim : &VBLK_LIMITS_FULL);
  if (!expect(r == 0, "vblk_init returned %d", r) || !fix_check_layout(&vb->vq, dev))
    return 0;
  host_set_irq_handler(base, tblk_intr, vb);
  return 1;
}

void tblk_cleanup(struct tblk **t, struct vblk *vb, int aborted)
{
  if (!aborted) {
    if (*t)
      fix_check_model(&(*t)->m.vdm, 0);
    if (vb->ready)
      vblk_shutdown(vb);
  }
  if (*t)
    tblk_destroy(*t);
  *t = 0;
}
