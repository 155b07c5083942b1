// fakeblk.c: the device side of virtio-blk over virtio-mmio, for host
// tests. See fakeblk.h. Written from the spec's device requirements
// (virtio 1.2 sections 2.1, 2.7, 4.2.2, 4.2.4, 5.2); deliberately shares no
// code with kernel/virtio/ so a misreading of the spec there is not
// repeated here.
//
// Run: make -C tests/host check
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "fakeblk.h"

// Register offsets and bits, spelled out here again on purpose (see above).
enum {
  R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_VENDOR_ID = 0x00c,
  R_DEV_FEATURES = 0x010, R_DEV_FEATURES_SEL = 0x014,
  R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024,
  R_GUEST_PAGE_SIZE = 0x028, R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034,
  R_QUEUE_NUM = 0x038, R_QUEUE_ALIGN = 0x03c, R_QUEUE_PFN = 0x040,
  R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050, R_INT_STATUS = 0x060,
  R_INT_ACK = 0x064, R_STATUS = 0x070,
  R_DESC_LO = 0x080, R_DESC_HI = 0x084, R_DRIVER_LO = 0x090, R_DRIVER_HI = 0x094,
  R_DEVICE_LO = 0x0a0, R_DEVICE_HI = 0x0a4, R_CONFIG_GEN = 0x0fc, R_CONFIG = 0x100,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8,
       S_NEEDS_RESET = 64, S_FAILED = 128 };
#define F_VERSION_1 (1ull << 32)
#define D_NEXT 1
#define D_WRITE 2

static void violation(struct fakeblk *fb, const char *fmt, ...)
{
  va_list ap;

  if (fb->violations++ == 0) {
    va_start(ap, fmt);
    vsnprintf(fb->first_violation, sizeof(fb->first_violation), fmt, ap);
    va_end(ap);
  }
}

uint8_t fb_pattern(uint64_t sector, uint32_t i)
{
  return (uint8_t)(sector * 7 + i * 13 + (i >> 8) + 1);
}

static int modern(struct fakeblk *fb)
{
  return fb->version == 2;
}

// ---- reset and configuration ----

static void device_reset(struct fakeblk *fb)
{
  fb->status = 0;
  fb->driver_features = 0;
  fb->dev_features_sel = fb->drv_features_sel = 0;
  fb->queue_sel = 0;
  fb->num = 0;
  fb->ready = 0;
  fb->desc_pa = fb->driver_pa = fb->device_pa = 0;
  fb->pfn = 0;
  fb->live = 0;
  fb->isr = 0;
  fb->last_avail = 0;
  fb->used_idx = 0;
  fb->npending = 0;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
  int i;
  for (i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void set_capacity(struct fakeblk *fb, uint64_t cap)
{
  fb->capacity = cap;
  put_le(fb->config + 0, cap, 8);
}

static uint32_t config_word(struct fakeblk *fb, uint32_t off)
{
  uint32_t v = 0;
  int i;

  for (i = 0; i < 4; i++) {
    if (off + i < sizeof(fb->config))
      v |= (uint32_t)fb->config[off + i] << (8 * i);
  }
  // A concurrent config change, simulated: it lands right after this word
  // was read, so a driver reading a 64-bit field sees the old low half and
  // the new high half unless it checks ConfigGeneration. Only the config
  // bytes change (the test does no I/O with the new size).
  if (fb->gen_bumps > 0) {
    fb->gen_bumps--;
    fb->generation++;
    put_le(fb->config + 0, fb->bump_capacity, 8);
  }
  return v;
}

// ---- the queue ----

static uint16_t *avail_idx_ptr(struct fakeblk *fb)
{
  return host_dma_ptr(fb->driver_pa + 2, 2);
}

static int queue_ok(struct fakeblk *fb)
{
  if (!fb->live || !(fb->status & S_DRIVER_OK))
    return 0;
  if (!host_dma_ptr(fb->desc_pa, 16ull * fb->num) ||
      !host_dma_ptr(fb->driver_pa, 6 + 2ull * fb->num) ||
      !host_dma_ptr(fb->device_pa, 6 + 8ull * fb->num)) {
    violation(fb, "ring addresses outside DMA memory");
    fb->live = 0;
    return 0;
  }
  return 1;
}

static void push_used(struct fakeblk *fb, uint32_t id, uint32_t len)
{
  uint8_t *used = host_dma_ptr(fb->device_pa, 6 + 8ull * fb->num);
  uint8_t *e = used + 4 + 8 * (fb->used_idx % fb->num);

  memcpy(e, &id, 4);
  memcpy(e + 4, &len, 4);
  // Device side of 2.7.8: the element is written before used.idx moves.
  __sync_synchronize();
  fb->used_idx++;
  memcpy(used + 2, &fb->used_idx, 2);
}

struct seg {
  uint8_t *p;
  uint32_t len;
  int write;
};

// Walk a chain from `head` the way a careful device would: bounded, every
// address checked. Returns the number of segments or -1.
static int walk_chain(struct fakeblk *fb, uint16_t head, struct seg *segs, int max)
{
  uint8_t *table = host_dma_ptr(fb->desc_pa, 16ull * fb->num);
  uint32_t d = head;
  int n = 0, seen_write = 0;

  for (;;) {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
    if (d >= fb->num || n >= max || n >= (int)fb->num) {
      violation(fb, "bad descriptor chain from head %u", head);
      return -1;
    }
    memcpy(&addr, table + 16 * d, 8);
    memcpy(&len, table + 16 * d + 8, 4);
    memcpy(&flags, table + 16 * d + 12, 2);
    memcpy(&next, table + 16 * d + 14, 2);
    segs[n].p = host_dma_ptr(addr, len);
    segs[n].len = len;
    segs[n].write = (flags & D_WRITE) != 0;
    if (segs[n].p == 0 || len == 0) {
      violation(fb, "descriptor %u: address 0x%llx len %u is not DMA memory",
                d, (unsigned long long)addr, len);
      return -1;
    }
    if (segs[n].write)
      seen_write = 1;
    else if (seen_write)
      violation(fb, "readable descriptor after a writable one (2.7.4.2)");
    n++;
    if (!(flags & D_NEXT))
      return n;
    d = next;
  }
}

// Carry out one request; returns the used.len to report, sets *status_p.
static uint32_t do_request(struct fakeblk *fb, uint16_t head, uint8_t **status_p)
{
  struct seg segs[64];
  uint32_t type, written = 0;
  uint64_t sector, off;
  int n, k;
  uint8_t status = 0;

  *status_p = 0;
  n = walk_chain(fb, head, segs, 64);
  if (n < 0)
    return 0;
  if (n < 2 || segs[0].write || segs[0].len < 16 || !segs[n - 1].write) {
    violation(fb, "request %u is not header + data + status", head);
    return 0;
  }
  *status_p = segs[n - 1].p;
  memcpy(&type, segs[0].p, 4);
  memcpy(&sector, segs[0].p + 8, 8);
  fb->requests++;
  if (sector > fb->capacity) {
    violation(fb, "request at sector %llu, beyond capacity", (unsigned long long)sector);
    **status_p = 1;
    return 1;
  }
  off = sector * 512;  // cannot overflow now: capacity is small
  for (k = 1; k < n - 1; k++) {
    if (segs[k].len % 512 != 0)
      violation(fb, "data length %u not a multiple of 512", segs[k].len);
    if (segs[k].len > fb->capacity * 512 - off) {
      violation(fb, "request beyond capacity");
      status = 1;
      break;
    }
    if (type == 0 && segs[k].write) {
      memcpy(segs[k].p, fb->disk + off, segs[k].len);
      written += segs[k].len;
    } else if (type == 1 && !segs[k].write) {
      if (fb->offered & (1u << 5)) {
        status = 1;  // VIRTIO_BLK_F_RO: writes fail
        violation(fb, "write request to a read-only device");
        break;
      }
      memcpy(fb->disk + off, segs[k].p, segs[k].len);
    } else {
      violation(fb, "data direction does not match request type %u", type);
      status = 1;
      break;
    }
    off += segs[k].len;
  }
  if (type == 0)
    fb->reads++;
  else if (type == 1)
    fb->writes++;
  else
    status = 2;
  **status_p = status;
  return written + 1;
}

static void complete(struct fakeblk *fb, uint16_t head)
{
  uint8_t *status;
  uint32_t len = do_request(fb, head, &status);
  uint32_t id = head;

  switch (fb->mode) {
  case FB_IOERR:      if (status) *status = 1; break;
  case FB_UNSUPP:     if (status) *status = 2; break;
  case FB_BAD_STATUS: if (status) *status = 9; break;
  case FB_NO_STATUS:  if (status) *status = 0xff; break;  // what the driver put there
  case FB_BAD_ID:     id = fb->num + 5; break;
  case FB_BIG_LEN:    len += 4096; break;
  default: break;
  }
  if (fb->ndone < FB_MAX_PENDING)
    fb->done_order[fb->ndone++] = head;
  push_used(fb, id, len);
  if (fb->mode == FB_IDX_JUMP) {
    uint8_t *used = host_dma_ptr(fb->device_pa, 4);
    fb->used_idx += 40;
    memcpy(used + 2, &fb->used_idx, 2);
  }
  fb->isr |= 1;
}

static void take_pending(struct fakeblk *fb, int i)
{
  uint16_t head = fb->pending[i];
  memmove(&fb->pending[i], &fb->pending[i + 1],
          (size_t)(fb->npending - i - 1) * sizeof(fb->pending[0]));
  fb->npending--;
  complete(fb, head);
}

static void collect_avail(struct fakeblk *fb)
{
  uint16_t avail_idx;
  uint8_t *avail = host_dma_ptr(fb->driver_pa, 6 + 2ull * fb->num);
  int outstanding;

  memcpy(&avail_idx, avail_idx_ptr(fb), 2);
  // Device side of 2.7.13.3: read avail.idx, then the entries it covers.
  __sync_synchronize();
  outstanding = (uint16_t)(avail_idx - fb->used_idx);
  if (outstanding > (int)fb->num)
    violation(fb, "avail.idx %u is more than a ring ahead of used.idx %u",
              avail_idx, fb->used_idx);
  while (fb->last_avail != avail_idx && fb->npending < FB_MAX_PENDING) {
    uint16_t head;
    memcpy(&head, avail + 4 + 2 * (fb->last_avail % fb->num), 2);
    fb->pending[fb->npending++] = head;
    if (fb->narrive < FB_MAX_PENDING)
      fb->arrive_order[fb->narrive++] = head;
    fb->last_avail++;
  }
  if (fb->npending > fb->max_outstanding)
    fb->max_outstanding = fb->npending;
}

void fakeblk_run(struct fakeblk *fb)
{
  uint8_t *used;

  if (!queue_ok(fb))
    return;
  used = host_dma_ptr(fb->device_pa, 4);
  used[0] = fb->no_notify ? 1 : 0;  // used.flags (2.7.10)
  collect_avail(fb);
  if (fb->npending == 0 || fb->mode == FB_NEVER)
    return;
  if (fb->mode == FB_NEEDS_RESET) {
    fb->status |= S_NEEDS_RESET;
    fb->isr |= 2;
    return;
  }
  if (fb->mode == FB_DUP_ID) {
    uint16_t first;
    if (fb->npending < 2)
      return;  // wait for a second request
    first = fb->pending[0];
    take_pending(fb, 0);
    // The second request's entry, with the first one's id. len 0, so only
    // the "is this id outstanding?" check can catch it.
    push_used(fb, first, 0);
    fb->npending--;           // and the second request is forgotten
    memmove(&fb->pending[0], &fb->pending[1], (size_t)fb->npending * sizeof(fb->pending[0]));
    fb->isr |= 1;
    return;
  }
  if (fb->complete_on_ack) {
    take_pending(fb, 0);
    return;
  }
  while (fb->npending > 0)
    take_pending(fb, fb->reverse ? fb->npending - 1 : 0);
}

void fakeblk_resize(struct fakeblk *fb, uint64_t capacity)
{
  uint8_t *disk = calloc(capacity ? capacity : 1, 512);
  memcpy(disk, fb->disk, (capacity < fb->capacity ? capacity : fb->capacity) * 512);
  free(fb->disk);
  fb->disk = disk;
  set_capacity(fb, capacity);
  fb->generation++;
  fb->isr |= 2;
}

// ---- registers ----

static int is_legacy_only(uint32_t off)
{
  return off == R_GUEST_PAGE_SIZE || off == R_QUEUE_ALIGN || off == R_QUEUE_PFN;
}

static int is_modern_only(uint32_t off)
{
  return off == R_QUEUE_READY || off == R_CONFIG_GEN ||
         (off >= R_DESC_LO && off <= R_DEVICE_HI);
}

static uint32_t reg_read(void *dev, uint32_t off)
{
  struct fakeblk *fb = dev;

  if (fb->devid_read && off != R_MAGIC && off != R_VERSION && off != R_DEVICE_ID)
    fb->id_reads_after_devid++;
  if ((modern(fb) && is_legacy_only(off)) || (!modern(fb) && is_modern_only(off)))
    violation(fb, "read of register 0x%03x, which a version %u device lacks",
              off, fb->version);
  if (off >= R_CONFIG)
    return config_word(fb, off - R_CONFIG);
  switch (off) {
  case R_MAGIC:       return fb->magic;
  case R_VERSION:     return fb->version;
  case R_DEVICE_ID:   fb->devid_read = 1; return fb->device_id;
  case R_VENDOR_ID:   return fb->vendor_id;
  case R_DEV_FEATURES:
    if (fb->dev_features_sel == 0)
      return (uint32_t)fb->offered;
    if (fb->dev_features_sel == 1 && modern(fb))
      return (uint32_t)(fb->offered >> 32);
    return 0;
  case R_QUEUE_NUM_MAX:
    if (!modern(fb) && fb->pfn != 0)
      violation(fb, "QueueNumMax read while QueuePFN is set (4.2.4)");
    return fb->queue_sel == 0 ? fb->num_max : 0;
  case R_QUEUE_READY: return fb->queue_sel == 0 ? fb->ready : 0;
  case R_QUEUE_PFN:   return fb->queue_sel == 0 ? fb->pfn : 0;
  case R_INT_STATUS:  return fb->isr;
  case R_STATUS:      return fb->status;
  case R_CONFIG_GEN:  fb->gen_reads++; return fb->generation;
  default:
    violation(fb, "read of write-only or unknown register 0x%03x", off);
    return 0;
  }
}

static void write_status(struct fakeblk *fb, uint32_t val)
{
  uint32_t added = val & ~fb->status;

  if (fb->nstatus_log < FB_MAX_STATUS_LOG)
    fb->status_log[fb->nstatus_log++] = val;
  if (val == 0) {
    device_reset(fb);
    return;
  }
  if (fb->status & ~val)
    violation(fb, "driver cleared status bits 0x%x (2.1.1)", fb->status & ~val);
  if ((added & S_DRIVER) && !(val & S_ACK))
    violation(fb, "DRIVER before ACKNOWLEDGE");
  if ((added & S_FEATURES_OK) && !(val & S_DRIVER))
    violation(fb, "FEATURES_OK before DRIVER");
  if ((added & S_FEATURES_OK) && !modern(fb))
    violation(fb, "FEATURES_OK written to a legacy device");
  if ((added & S_DRIVER_OK) && modern(fb) && !(val & S_FEATURES_OK) && !(val & S_FAILED))
    violation(fb, "DRIVER_OK without FEATURES_OK");
  fb->status = val;
  if (added & S_FEATURES_OK) {
    // 2.2.2: a device that cannot live with the features leaves it clear.
    if (fb->refuse_features_ok || !(fb->driver_features & F_VERSION_1))
      fb->status &= ~(uint32_t)S_FEATURES_OK;
  }
}

static void check_queue_writable(struct fakeblk *fb, uint32_t off)
{
  if (modern(fb) && fb->ready)
    violation(fb, "register 0x%03x written while QueueReady is 1", off);
}

static void set_half(uint64_t *v, int high, uint32_t val)
{
  if (high)
    *v = (*v & 0xffffffffull) | ((uint64_t)val << 32);
  else
    *v = (*v & ~0xffffffffull) | val;
}

static void legacy_locate(struct fakeblk *fb)
{
  uint64_t base = (uint64_t)fb->pfn * fb->guest_page_size;
  uint64_t avail_end = base + 16ull * fb->num + 2ull * (3 + fb->num);

  if (fb->guest_page_size == 0 || fb->queue_align == 0 || fb->num == 0) {
    violation(fb, "QueuePFN written before GuestPageSize/QueueAlign/QueueNum");
    return;
  }
  fb->desc_pa = base;
  fb->driver_pa = base + 16ull * fb->num;
  fb->device_pa = (avail_end + fb->queue_align - 1) / fb->queue_align * fb->queue_align;
  fb->live = 1;
}

static void reg_write(void *dev, uint32_t off, uint32_t val)
{
  struct fakeblk *fb = dev;

  if ((modern(fb) && is_legacy_only(off)) || (!modern(fb) && is_modern_only(off)))
    violation(fb, "write of register 0x%03x, which a version %u device lacks",
              off, fb->version);
  switch (off) {
  case R_DEV_FEATURES_SEL: fb->dev_features_sel = val; return;
  case R_DRV_FEATURES_SEL: fb->drv_features_sel = val; return;
  case R_DRV_FEATURES:
    if (!(fb->status & S_DRIVER) || (fb->status & S_FEATURES_OK))
      violation(fb, "DriverFeatures written outside the negotiation window");
    if (fb->drv_features_sel <= 1)
      set_half(&fb->driver_features, fb->drv_features_sel == 1, val);
    if (fb->driver_features & ~fb->offered)
      violation(fb, "driver accepted features 0x%llx that were not offered",
                (unsigned long long)(fb->driver_features & ~fb->offered));
    return;
  case R_GUEST_PAGE_SIZE: fb->guest_page_size = val; return;
  case R_QUEUE_SEL: fb->queue_sel = val; return;
  case R_QUEUE_NUM:
    check_queue_writable(fb, off);
    if (val > fb->num_max || val == 0 || (val & (val - 1)) != 0)
      violation(fb, "QueueNum %u (max %u, must be a power of two)", val, fb->num_max);
    fb->num = val;
    return;
  case R_QUEUE_ALIGN: fb->queue_align = val; return;
  case R_QUEUE_PFN:
    fb->pfn = val;
    if (val == 0)
      fb->live = 0;
    else
      legacy_locate(fb);
    return;
  case R_QUEUE_READY:
    if (val == 1 && (fb->num == 0 || fb->desc_pa == 0 || fb->driver_pa == 0 || fb->device_pa == 0))
      violation(fb, "QueueReady before the queue was configured");
    if (fb->desc_pa % 16 || fb->driver_pa % 2 || fb->device_pa % 4)
      violation(fb, "misaligned ring (2.7.1)");
    fb->ready = val;
    fb->live = val != 0;
    return;
  case R_DESC_LO: check_queue_writable(fb, off); set_half(&fb->desc_pa, 0, val); return;
  case R_DESC_HI: check_queue_writable(fb, off); set_half(&fb->desc_pa, 1, val); return;
  case R_DRIVER_LO: check_queue_writable(fb, off); set_half(&fb->driver_pa, 0, val); return;
  case R_DRIVER_HI: check_queue_writable(fb, off); set_half(&fb->driver_pa, 1, val); return;
  case R_DEVICE_LO: check_queue_writable(fb, off); set_half(&fb->device_pa, 0, val); return;
  case R_DEVICE_HI: check_queue_writable(fb, off); set_half(&fb->device_pa, 1, val); return;
  case R_QUEUE_NOTIFY:
    if (!(fb->status & S_DRIVER_OK))
      violation(fb, "QueueNotify before DRIVER_OK");
    if (val != 0)
      violation(fb, "QueueNotify for queue %u, which does not exist", val);
    fb->notifies++;
    return;
  case R_INT_ACK:
    if (val & ~fb->isr)
      violation(fb, "InterruptACK 0x%x acknowledges bits that are not set", val);
    // The race the driver must survive: a completion lands just before
    // the acknowledgement, whose write then clears its interrupt bit too.
    if (fb->complete_on_ack && queue_ok(fb)) {
      collect_avail(fb);
      while (fb->npending > 0)
        take_pending(fb, 0);
    }
    fb->isr &= ~val;
    return;
  case R_STATUS: write_status(fb, val); return;
  default:
    violation(fb, "write of read-only or unknown register 0x%03x", off);
  }
}

static int irq_pending(void *dev)
{
  struct fakeblk *fb = dev;
  return fb->isr != 0;
}

static void run(void *dev)
{
  fakeblk_run(dev);
}

static const struct host_dev_ops fakeblk_ops = { reg_read, reg_write, run, irq_pending };

struct fakeblk *fakeblk_create(uintptr_t base, int version, uint64_t capacity)
{
  struct fakeblk *fb = calloc(1, sizeof(*fb));
  uint64_t s;
  uint32_t i;

  fb->base = base;
  fb->magic = 0x74726976;
  fb->version = (uint32_t)version;
  fb->device_id = 2;
  fb->vendor_id = 0x554d4551;  // "QEMU"
  // SEG_MAX (2), BLK_SIZE (6), FLUSH (9); VERSION_1 on a modern device.
  fb->offered = (1u << 2) | (1u << 6) | (1u << 9);
  if (version == 2)
    fb->offered |= F_VERSION_1;
  fb->num_max = 256;
  fb->disk = calloc(capacity ? capacity : 1, 512);
  for (s = 0; s < capacity; s++)
    for (i = 0; i < 512; i++)
      fb->disk[s * 512 + i] = fb_pattern(s, i);
  set_capacity(fb, capacity);
  put_le(fb->config + 12, 128, 4);     // seg_max
  put_le(fb->config + 16, 0x1234, 2);  // geometry.cylinders
  fb->config[18] = 0x56;               // geometry.heads
  fb->config[19] = 0x78;               // geometry.sectors
  put_le(fb->config + 20, 4096, 4);    // blk_size
  host_bus_attach(base, &fakeblk_ops, fb);
  return fb;
}

void fakeblk_destroy(struct fakeblk *fb)
{
  host_bus_detach(fb->base);
  free(fb->disk);
  free(fb);
}
