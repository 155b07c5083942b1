// vdm_blk.c: the device side of virtio-blk for the device model.
//
// Follows virtio 1.2 section 5.2 (Block Device), read as the device:
//   5.2.3  feature bits, 5.2.4 configuration layout
//   5.2.6  device operation: a request is a 16-byte header the device
//          reads (type, reserved, sector), then data (read by the device
//          for T_OUT, written for T_IN), then one status byte it writes;
//          5.2.6.2 device requirements (IOERR beyond the end, UNSUPP for
//          unknown types, a read-only device fails writes)
// and 2.7.4: a modern device must not care how the driver splits that
// layout into descriptors, so the request is read as "the first 16
// readable bytes" and "the last writable byte", wherever they sit.
//
// The numbers are spelled out here rather than taken from the driver's
// virtio_blk.h on purpose: the model is an independent reading of the
// spec, so a misreading in the driver is not silently shared.
//
// See it run: `make -C tests/host check` (blk_* tests) and `blktest` in
// `make qemu-cm3`.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "vdm.h"
#include "vdm_backend.h"
#include "vdm_blk.h"

enum {
  F_SIZE_MAX = 1, F_SEG_MAX = 2, F_RO = 5, F_BLK_SIZE = 6, F_FLUSH = 9,   // 5.2.3
  T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8,         // 5.2.6
  S_OK = 0, S_IOERR = 1, S_UNSUPP = 2,
  SECTOR = 512, ID_BYTES = 20,
};

static struct vdm_blk *blk_of(struct vdm *d)
{
  return (struct vdm_blk *)d;  // struct vdm is the first member
}

static uint64_t blk_features(struct vdm *d)
{
  struct vdm_blk *b = blk_of(d);
  uint64_t f = (1ull << F_SEG_MAX) | (1ull << F_BLK_SIZE) | (1ull << F_FLUSH) |
               (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX);

  if (b->be.readonly && b->be.readonly(b->be.ctx))
    f |= 1ull << F_RO;
  if (b->size_max != 0)
    f |= 1ull << F_SIZE_MAX;
  return f;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
  int i;

  for (i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

// struct virtio_blk_config (5.2.4): capacity at 0, size_max 8, seg_max 12,
// geometry 16 (cylinders le16, heads, sectors), blk_size 20.
static void blk_config_read(struct vdm *d, uint8_t *cfg, uint32_t len)
{
  struct vdm_blk *b = blk_of(d);

  if (len < 24)
    return;
  put_le(cfg + 0, b->capacity, 8);
  put_le(cfg + 8, b->size_max, 4);
  put_le(cfg + 12, b->seg_max, 4);
  put_le(cfg + 16, b->cylinders, 2);
  cfg[18] = b->heads;
  cfg[19] = b->sectors;
  put_le(cfg + 20, b->blk_size, 4);
}

// Move n bytes between the disk at byte `pos` and the chain's data bytes,
// which start at chain offset `at` (readable bytes for a write, writable
// bytes for a read), one contiguous piece at a time.
static int transfer(struct vdm_blk *b, struct vdm_chain *c, int to_disk,
                    uint32_t at, uint64_t pos, uint32_t n)
{
  uint32_t done = 0, room, k;
  uint8_t *p;
  int r;

  while (done < n) {
    p = vdm_chain_at(c, !to_disk, at + done, &room);
    if (p == 0)
      return -1;
    k = n - done < room ? n - done : room;
    if (to_disk)
      r = b->be.write(b->be.ctx, pos + done, p, k);
    else
      r = b->be.read(b->be.ctx, pos + done, p, k);
    if (r < 0)
      return -1;
    done += k;
  }
  return 0;
}

// Is [sector, sector + n bytes) a whole number of sectors inside the disk?
static int in_range(struct vdm_blk *b, uint64_t sector, uint32_t n)
{
  uint64_t nsect = n / SECTOR;

  if (n % SECTOR != 0) {
    vdm_violation(&b->vdm, "data length not a multiple of 512 (5.2.6.1)", n);
    return 0;
  }
  if (sector > b->capacity || nsect > b->capacity - sector) {
    vdm_violation(&b->vdm, "request beyond capacity (5.2.6.1)", (uint32_t)sector);
    return 0;
  }
  return 1;
}

static uint8_t do_read(struct vdm_blk *b, struct vdm_chain *c, uint64_t sector,
                       uint32_t *written)
{
  uint32_t n = c->writable - 1;  // everything writable but the status byte

  if (c->readable != 16)
    vdm_violation(&b->vdm, "T_IN request with device-readable data", c->readable);
  if (!in_range(b, sector, n))
    return S_IOERR;
  if (transfer(b, c, 0, 0, sector * SECTOR, n) < 0)
    return S_IOERR;
  *written = n;
  b->reads++;
  return S_OK;
}

static uint8_t do_write(struct vdm_blk *b, struct vdm_chain *c, uint64_t sector)
{
  uint32_t n = c->readable - 16;  // everything readable after the header

  if (c->writable != 1)
    vdm_violation(&b->vdm, "T_OUT request with device-writable data", c->writable);
  if (vdm_has_feature(&b->vdm, F_RO)) {
    vdm_violation(&b->vdm, "write request to a read-only device", (uint32_t)sector);
    return S_IOERR;
  }
  if (!in_range(b, sector, n))
    return S_IOERR;
  if (transfer(b, c, 1, 16, sector * SECTOR, n) < 0)
    return S_IOERR;
  b->writes++;
  return S_OK;
}

static uint8_t do_get_id(struct vdm_blk *b, struct vdm_chain *c, uint32_t *written)
{
  static const char id[ID_BYTES] = "vdm-ramdisk";
  uint32_t n = c->writable - 1;

  if (n > ID_BYTES)
    n = ID_BYTES;
  *written = vdm_chain_write(c, 0, id, n);
  b->get_ids++;
  return S_OK;
}

// The descriptors that carry data: all but a header descriptor of exactly
// 16 bytes and a status descriptor of exactly 1 byte. Checked against the
// limits the device announced (5.2.4), if the driver took them.
static void check_segments(struct vdm_blk *b, struct vdm_chain *c)
{
  struct vdm *d = &b->vdm;
  uint32_t nseg = 0;
  int i;

  for (i = 0; i < c->n; i++) {
    if (i == 0 && !c->seg[0].write && c->seg[0].len == 16)
      continue;
    if (i == c->n - 1 && c->seg[i].write && c->seg[i].len == 1)
      continue;
    nseg++;
    if (c->seg[i].len > b->max_seg_len)
      b->max_seg_len = c->seg[i].len;
    if (vdm_has_feature(d, F_SIZE_MAX) && c->seg[i].len > b->size_max)
      vdm_violation(d, "segment longer than size_max", c->seg[i].len);
  }
  if (nseg > b->max_data_segs)
    b->max_data_segs = nseg;
  if (vdm_has_feature(d, F_SEG_MAX) && nseg > b->seg_max)
    vdm_violation(d, "more data segments than seg_max", nseg);
}

// One request: returns used.len (bytes written into the chain).
static uint32_t blk_work(struct vdm *d, int qi, uint16_t head)
{
  struct vdm_blk *b = blk_of(d);
  struct vdm_chain c;
  uint8_t hdr[16], status;
  uint32_t type, written = 0;
  uint64_t sector;

  if (vdm_chain_get(d, qi, head, &c) < 0) {
    d->q[qi].stats.errors++;
    return 0;  // nothing we can safely write into
  }
  if (c.readable < 16 || c.writable < 1) {
    vdm_violation(d, "request is not header + data + status (5.2.6)", head);
    d->q[qi].stats.errors++;
    return 0;
  }
  if (c.indirect)
    d->q[qi].stats.indirect++;
  check_segments(b, &c);
  // >>> lab devmodel: the request's header, the chain's first 16 readable bytes: type (le32 at 0) and sector (le64 at 8) (5.2.6)
  vdm_chain_read(&c, 0, hdr, 16);
  type = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
         (uint32_t)hdr[3] << 24;
  sector = 0;
  for (int i = 7; i >= 0; i--)
    sector = (sector << 8) | hdr[8 + i];
  // === stub
  // // Every request is of a type we do not know (VIRTIO_BLK_S_UNSUPP).
  // (void)hdr;
  // type = 0xffffffffu;
  // sector = 0;
  // <<< lab devmodel

  switch (type) {
  case T_IN:
    status = do_read(b, &c, sector, &written);
    break;
  case T_OUT:
    status = do_write(b, &c, sector);
    break;
  case T_FLUSH:
    if (!vdm_has_feature(d, F_FLUSH) || c.readable != 16 || c.writable != 1) {
      vdm_violation(d, "flush without VIRTIO_BLK_F_FLUSH, or with data", c.readable);
      status = S_UNSUPP;
    } else {
      b->flushes++;
      status = (b->be.flush && b->be.flush(b->be.ctx) < 0) ? S_IOERR : S_OK;
    }
    break;
  case T_GET_ID:
    status = do_get_id(b, &c, &written);
    break;
  default:
    status = S_UNSUPP;
  }

  switch (d->fault) {
  case VDM_FAULT_IOERR:      status = S_IOERR; break;
  case VDM_FAULT_UNSUPP:     status = S_UNSUPP; break;
  case VDM_FAULT_BAD_STATUS: status = 9; break;
  default: break;
  }
  if (status != S_OK) {
    b->failed++;
    d->q[qi].stats.errors++;
  }
  // >>> lab devmodel: the status byte into the chain's last writable byte (unless d->fault is VDM_FAULT_NO_STATUS); return used.len: the bytes written, status included (2.7.8)
  // The status byte is the chain's last writable byte. Leaving it alone
  // is the "forgot to write the status" fault.
  if (d->fault != VDM_FAULT_NO_STATUS)
    vdm_chain_write(&c, c.writable - 1, &status, 1);
  return written + 1;
  // === stub
  // return 0;
  // <<< lab devmodel
}

static void blk_queue_work(struct vdm *d, int qi)
{
  vdm_finish_held(d, qi, blk_work);
}

static const struct vdm_ops blk_ops = {
  .name = "blk",
  .device_id = VIRTIO_ID_BLOCK,
  .num_queues = 1,
  .queue_max = VDM_QUEUE_MAX,
  .device_features = blk_features,
  .config_read = blk_config_read,
  .queue_work = blk_queue_work,
};

void vdm_blk_init(struct vdm_blk *b, const struct vdm_blk_backend *be, uint32_t version)
{
  b->be = *be;
  b->capacity = be->size(be->ctx) / SECTOR;
  b->size_max = 0;
  b->seg_max = VDM_MAX_SEGS - 2;  // a header and a status descriptor besides the data
  b->cylinders = 0x1234;          // made up, but distinctive in tests
  b->heads = 0x56;
  b->sectors = 0x78;
  b->blk_size = 4096;
  b->reads = b->writes = b->flushes = b->get_ids = b->failed = 0;
  b->max_data_segs = b->max_seg_len = 0;
  vdm_attach(&b->vdm, &blk_ops, version);
}

void vdm_blk_refresh(struct vdm_blk *b)
{
  vdm_config_changed(&b->vdm, 0);
}

void vdm_blk_set_capacity(struct vdm_blk *b, uint64_t sectors, int notify)
{
  b->capacity = sectors;
  vdm_config_changed(&b->vdm, notify);
}
