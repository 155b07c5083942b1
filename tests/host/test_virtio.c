// test_virtio.c: host unit tests for the portable virtio core
// (virtio/: virtio_mmio.c, virtq.c, virtio_blk.c), run against the
// software device model's virtio-blk (devmodel/vdm_blk.c on a RAM
// disk, set up by devfix.c) through the host OS interface in vos_host.c.
// The model checks the driver against the spec and counts every violation;
// each test fails if there was one.
//
// What is covered: probing (virtio 1.2 4.2.3.1), the status handshake and
// feature negotiation (3.1.1, 2.2), configuration space reads with
// ConfigGeneration (2.5), modern and legacy queue setup (4.2.3.2, 4.2.4),
// block requests (5.2.6) one at a time and many at once completed out of
// order, and a device that misbehaves in each way the driver checks for.
// Built with AddressSanitizer and UBSan, so a stray memory access fails
// the run too.
//
// Run: make -C tests/host check
// Output: one line per test, "PASS: name" or "FAIL: name: why"; other lines
// (log output, progress) are indented.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtio_dev.h"
#include "virtq.h"
#include "virtio_blk.h"
#include "host.h"
#include "devfix.h"

#define BASE 0x10001000u
#define CAP  2048u  // sectors: a 1 MiB disk

// ---- fixtures shared by the tests (reset before each) ----

static struct tblk *fb;
static struct vio_dev dev;
static struct vblk vb;

static void new_device(int version, uint64_t capacity)
{
  fb = tblk_create(BASE, version, capacity);
  // The device these tests were written for: SEG_MAX (128), BLK_SIZE,
  // FLUSH, no ring features (test_perf_features.c covers those).
  fb->m.vdm.offered &= ~((1ull << VIRTIO_RING_F_INDIRECT_DESC) |
                         (1ull << VIRTIO_RING_F_EVENT_IDX));
  tblk_limits(fb, 0, 128);
}

// Probe and initialise the driver on the current device.
static int start_driver(void)
{
  return tblk_start_driver(&dev, &vb, BASE, 0);
}

static int start_blk(int version, uint64_t capacity)
{
  new_device(version, capacity);
  return start_driver();
}

// ---- simulated concurrent callers ----
//
// vos_sleep calls spawn_caller, which runs the next caller's vblk_rw
// inside the sleeping one: one thread, but each caller really is blocked
// in vblk_rw while the next one submits.

struct caller {
  int write;
  uint64_t sector;
  uint32_t len;
  uint8_t *buf;
  int result;
  int done;
};

#define MAX_CALLERS 40
static struct caller callers[MAX_CALLERS];
static int ncallers, next_caller;

static int spawn_caller(void *arg)
{
  struct caller *c;

  (void)arg;
  if (next_caller >= ncallers)
    return 0;
  c = &callers[next_caller++];
  c->result = vblk_rw(&vb, c->write, c->sector, c->buf, c->len);
  c->done = 1;
  return 1;
}

static void add_reader(uint64_t sector, uint32_t len)
{
  struct caller *c = &callers[ncallers++];
  c->write = 0;
  c->sector = sector;
  c->len = len;
  c->buf = vos_dma_alloc(len);
  c->result = 99;
  c->done = 0;
}

static void run_callers(void)
{
  host_set_spawn(spawn_caller, 0);
  while (spawn_caller(0))
    ;
  host_set_spawn(0, 0);
}

static void free_callers(void)
{
  int i;

  for (i = 0; i < ncallers; i++)
    vos_dma_free(callers[i].buf, callers[i].len);
  ncallers = next_caller = 0;
}

// ---- probe ----

static void test_probe_modern(void)
{
  new_device(2, CAP);
  expect(vio_probe(&dev, BASE) == 1, "probe did not find the device");
  expect(dev.version == 2 && dev.device_id == VIRTIO_ID_BLOCK, "version %u id %u",
         (unsigned)dev.version, (unsigned)dev.device_id);
  expect(dev.vendor_id == 0x4d445456, "vendor 0x%x (the model says \"VTDM\")", (unsigned)dev.vendor_id);
  expect(dev.base == BASE, "base not recorded");
}

static void test_probe_legacy(void)
{
  new_device(1, CAP);
  expect(vio_probe(&dev, BASE) == 1, "probe did not find the device");
  expect(dev.version == 1, "version %u", (unsigned)dev.version);
}

static void test_probe_empty_slot(void)
{
  new_device(2, CAP);
  fb->m.vdm.regs.device_id = 0;
  expect(vio_probe(&dev, BASE) == 0, "empty slot not reported as 0");
  // 4.2.3.1: after DeviceID 0, no other register may be touched.
  expect(fb->m.vdm.reads_after_devid == 0, "%d register reads after DeviceID 0",
         fb->m.vdm.reads_after_devid);
}

static void test_probe_bad_magic(void)
{
  new_device(2, CAP);
  fb->m.vdm.regs.magic = 0x12345678;
  expect(vio_probe(&dev, BASE) == -1, "bad magic accepted");
}

static void test_probe_bad_version(void)
{
  new_device(2, CAP);
  fb->m.vdm.regs.version = 3;
  expect(vio_probe(&dev, BASE) == -1, "version 3 accepted");
}

static void test_type_names(void)
{
  expect(strcmp(vio_type_name(1), "network") == 0, "1: %s", vio_type_name(1));
  expect(strcmp(vio_type_name(2), "block") == 0, "2: %s", vio_type_name(2));
  expect(strcmp(vio_type_name(3), "console") == 0, "3: %s", vio_type_name(3));
  expect(strcmp(vio_type_name(4), "entropy") == 0, "4: %s", vio_type_name(4));
  expect(strcmp(vio_type_name(999), "unknown") == 0, "999: %s", vio_type_name(999));
}

// ---- handshake ----

static int status_log_is(const uint32_t *want, int n)
{
  int i;

  if (fb->m.vdm.nstatus_log != n)
    return 0;
  for (i = 0; i < n; i++) {
    if (fb->m.vdm.status_log[i] != want[i])
      return 0;
  }
  return 1;
}

static void test_handshake_modern(void)
{
  // reset, ACKNOWLEDGE, +DRIVER, +FEATURES_OK, +DRIVER_OK (3.1.1)
  static const uint32_t want[] = { 0, 1, 3, 11, 15 };

  if (!start_blk(2, CAP))
    return;
  expect(status_log_is(want, 5), "status writes: %d of them, last 0x%x",
         fb->m.vdm.nstatus_log, fb->m.vdm.nstatus_log ? (unsigned)fb->m.vdm.status_log[fb->m.vdm.nstatus_log - 1] : 0);
  // Offered SEG_MAX, BLK_SIZE, FLUSH, VERSION_1 (and RING_PACKED on the
  // packed layout): the driver wants them all.
  expect(fb->m.vdm.driver_features == ((1ull << 32) | (1ull << 9) | (1ull << 6) | (1ull << 2) |
                                       fix_layout_bits()),
         "accepted 0x%llx",
         (unsigned long long)fb->m.vdm.driver_features);
  expect(vblk_capacity(&vb) == CAP, "capacity %llu", (unsigned long long)vblk_capacity(&vb));
  expect(vb.blk_size == 4096, "blk_size %u", (unsigned)vb.blk_size);
  expect(!vblk_readonly(&vb), "read-only without VIRTIO_BLK_F_RO");
  expect(fb->m.vdm.q[0].num == VBLK_QUEUE_SIZE && fb->m.vdm.q[0].ready == 1, "queue num %u ready %u", fb->m.vdm.q[0].num, fb->m.vdm.q[0].ready);
}

static void test_handshake_legacy(void)
{
  static const uint32_t want[] = { 0, 1, 3, 7 };  // no FEATURES_OK on legacy

  if (!start_blk(1, CAP))
    return;
  expect(status_log_is(want, 4), "status writes: %d of them", fb->m.vdm.nstatus_log);
  expect(fb->m.vdm.driver_features == ((1ull << 9) | (1ull << 6) | (1ull << 2)), "accepted 0x%llx",
         (unsigned long long)fb->m.vdm.driver_features);
  expect(fb->m.vdm.regs.guest_page_size == 4096 && fb->m.vdm.q[0].align == 4096,
         "GuestPageSize %u QueueAlign %u", fb->m.vdm.regs.guest_page_size, fb->m.vdm.q[0].align);
  expect(fb->m.vdm.q[0].num == VBLK_QUEUE_SIZE && fb->m.vdm.q[0].pfn != 0, "QueueNum %u QueuePFN 0x%x", fb->m.vdm.q[0].num, fb->m.vdm.q[0].pfn);
}

static void test_handshake_features_ok_refused(void)
{
  new_device(2, CAP);
  fb->m.vdm.fault = VDM_FAULT_REFUSE_FEATURES;
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vblk_init(&vb, &dev, &VBLK_LIMITS_FULL) == -1, "init succeeded without FEATURES_OK");
  expect(fb->m.vdm.regs.status & VIRTIO_STATUS_FAILED, "FAILED not set (status 0x%x)", fb->m.vdm.regs.status);
  expect(!(fb->m.vdm.regs.status & VIRTIO_STATUS_DRIVER_OK), "DRIVER_OK set anyway");
}

static void test_handshake_no_version_1(void)
{
  new_device(2, CAP);
  fb->m.vdm.offered &= ~(1ull << 32);
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vblk_init(&vb, &dev, &VBLK_LIMITS_FULL) == -1, "modern device without VERSION_1 accepted");
  expect(fb->m.vdm.regs.status & VIRTIO_STATUS_FAILED, "FAILED not set");
}

static void test_init_wrong_device_type(void)
{
  new_device(2, CAP);
  fb->m.vdm.regs.device_id = VIRTIO_ID_CONSOLE;
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vblk_init(&vb, &dev, &VBLK_LIMITS_FULL) == -1, "console accepted as a disk");
  expect(fb->m.vdm.nstatus_log == 0, "someone else's device was touched");
}

// QueueNumMax that is not a power of two, tiny, or zero.
static void test_queue_sizes(void)
{
  uint8_t *buf;

  // A split ring's size is a power of two (2.7), a packed ring's any
  // number (2.8.10.1): the driver takes the largest it may.
  new_device(2, CAP);
  fb->m.vdm.queue_max = 100;
  if (!start_driver())
    return;
  expect(fb->m.vdm.q[0].num == (host_packed ? 100 : 64), "QueueNumMax 100 -> QueueNum %u",
         fb->m.vdm.q[0].num);
  vblk_shutdown(&vb);
  tblk_destroy(fb);

  new_device(2, CAP);
  fb->m.vdm.queue_max = 5;  // -> 4 descriptors (packed: 5): one request at a time
  if (!start_driver())
    return;
  expect(fb->m.vdm.q[0].num == (host_packed ? 5 : 4) && vb.nslot == 1,
         "QueueNumMax 5 -> QueueNum %u, %d slots", fb->m.vdm.q[0].num, vb.nslot);
  add_reader(7, 512);
  add_reader(8, 1024);
  run_callers();
  expect(callers[0].result == 0 && callers[1].result == 0, "results %d %d",
         callers[0].result, callers[1].result);
  expect(tblk_is_pattern(callers[1].buf, 8, 1024), "wrong data");
  free_callers();
  vblk_shutdown(&vb);
  tblk_destroy(fb);

  new_device(2, CAP);
  fb->m.vdm.queue_max = 2;  // no room for a 3-descriptor request
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vblk_init(&vb, &dev, &VBLK_LIMITS_FULL) == -1, "queue of 2 accepted");
  expect(fb->m.vdm.regs.status & VIRTIO_STATUS_FAILED, "FAILED not set");
  tblk_destroy(fb);

  new_device(2, CAP);
  fb->m.vdm.queue_max = 0;  // no queue 0 at all
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vblk_init(&vb, &dev, &VBLK_LIMITS_FULL) == -1, "missing queue accepted");
  buf = vos_dma_alloc(512);
  expect(vblk_rw(&vb, 0, 0, buf, 512) == -1, "I/O on a device that failed init");
  vos_dma_free(buf, 512);
}

// ---- configuration space ----

static void test_config_reads(void)
{
  new_device(2, CAP);
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vio_config_read64(&dev, 0) == CAP, "capacity");
  expect(vio_config_read32(&dev, 20) == 4096, "blk_size");
  expect(vio_config_read16(&dev, 16) == 0x1234, "geometry.cylinders 0x%x",
         vio_config_read16(&dev, 16));
  expect(vio_config_read8(&dev, 18) == 0x56, "geometry.heads");
  expect(vio_config_read8(&dev, 19) == 0x78, "geometry.sectors");
  // Fields that straddle two 32-bit words still come out right.
  expect(vio_config_read16(&dev, 17) == 0x5612, "read16 at 17: 0x%x",
         vio_config_read16(&dev, 17));
  expect(vio_config_read32(&dev, 18) == 0x10007856, "read32 at 18: 0x%x",
         (unsigned)vio_config_read32(&dev, 18));
}

static void test_config_generation_retry(void)
{
  new_device(2, CAP);
  // The capacity changes from 2048 to 2^32 + 5 sectors between the two
  // 32-bit reads of the driver's first attempt: that attempt sees
  // 2^32 + 2048, a size the disk never had.
  fb->gen_bumps = 1;  // see struct tblk
  fb->bump_capacity = (1ull << 32) + 5;
  if (!start_driver())
    return;
  expect(vblk_capacity(&vb) == (1ull << 32) + 5, "capacity 0x%llx (torn read?)",
         (unsigned long long)vblk_capacity(&vb));
  // capacity: 2 attempts x 2 reads, seg_max: 1 x 2, blk_size: 1 x 2
  expect(fb->m.vdm.gen_reads == 8, "ConfigGeneration read %d times", fb->m.vdm.gen_reads);
}

// ---- block I/O ----

static void roundtrip(int version)
{
  const uint32_t len = 8 * 512, guard = 64;
  uint8_t *src, *dst;
  uint32_t i;
  int ok = 1;

  if (!start_blk(version, CAP))
    return;
  src = vos_dma_alloc(len);
  dst = vos_dma_alloc(len + guard);
  for (i = 0; i < len; i++)
    src[i] = (uint8_t)(i * 31 + 5);
  memset(dst + len, 0xab, guard);

  expect(vblk_rw(&vb, 1, 10, src, len) == 0, "write failed");
  expect(memcmp(fb->disk + 10 * 512, src, len) == 0, "disk does not hold what we wrote");
  expect(vblk_rw(&vb, 0, 10, dst, len) == 0, "read failed");
  expect(memcmp(dst, src, len) == 0, "read back different data");
  for (i = 0; i < guard; i++)
    ok &= dst[len + i] == 0xab;
  expect(ok, "bytes after the buffer were overwritten");
  expect(vblk_rw(&vb, 0, CAP - 1, dst, 512) == 0, "read of the last sector failed");
  expect(tblk_is_pattern(dst, CAP - 1, 512), "last sector has the wrong data");
  expect(fb->m.vdm.q[0].num == VBLK_QUEUE_SIZE, "queue size %u", fb->m.vdm.q[0].num);

  expect(vb.vq.stats.added == 3 && vb.vq.stats.completions == 3,
         "counters: added %u completions %u", (unsigned)vb.vq.stats.added,
         (unsigned)vb.vq.stats.completions);
  expect(vb.vq.stats.notifies == 3 && (int)fb->m.vdm.q[0].stats.notifies == 3, "notifies %u (device saw %d)",
         (unsigned)vb.vq.stats.notifies, (int)fb->m.vdm.q[0].stats.notifies);
  expect(vb.vq.stats.interrupts >= 3 && vb.vq.stats.errors == 0, "interrupts %u errors %u",
         (unsigned)vb.vq.stats.interrupts, (unsigned)vb.vq.stats.errors);
  expect(vb.reads == 2 && vb.writes == 1 && vb.errors == 0, "reads %u writes %u errors %u",
         (unsigned)vb.reads, (unsigned)vb.writes, (unsigned)vb.errors);
  vblk_log_stats(&vb);
  vos_dma_free(src, len);
  vos_dma_free(dst, len + guard);
}

static void test_blk_roundtrip_modern(void)
{
  roundtrip(2);
}

static void test_blk_roundtrip_legacy(void)
{
  roundtrip(1);
}

static void test_blk_large_request(void)
{
  const uint32_t len = 128 * 512;  // 64 KiB in one request
  uint8_t *buf;

  if (!start_blk(2, CAP))
    return;
  buf = vos_dma_alloc(len);
  expect(vblk_rw(&vb, 0, 100, buf, len) == 0, "read failed");
  expect(tblk_is_pattern(buf, 100, len), "wrong data");
  memset(buf, 0x5a, len);
  expect(vblk_rw(&vb, 1, 900, buf, len) == 0, "write failed");
  expect(fb->disk[900 * 512] == 0x5a && fb->disk[900 * 512 + len - 1] == 0x5a &&
         fb->disk[900 * 512 + len] == tblk_pattern(900 + 128, 0), "disk contents");
  vos_dma_free(buf, len);
}

static void test_blk_bad_args(void)
{
  uint8_t *buf;

  if (!start_blk(2, CAP))
    return;
  buf = vos_dma_alloc(1024);
  expect(vblk_rw(&vb, 0, 0, buf, 0) == -1, "len 0");
  expect(vblk_rw(&vb, 0, 0, buf, 100) == -1, "len 100");
  expect(vblk_rw(&vb, 0, 0, 0, 512) == -1, "NULL buffer");
  expect(vblk_rw(&vb, 0, CAP, buf, 512) == -1, "sector == capacity");
  expect(vblk_rw(&vb, 0, CAP - 1, buf, 1024) == -1, "runs past the end");
  expect(vblk_rw(&vb, 0, ~0ull, buf, 512) == -1, "sector 2^64-1");
  expect(vblk_rw(&vb, 0, ~0ull - 1, buf, 1024) == -1, "sector + count overflows");
  expect((int)fb->m.vdm.q[0].stats.requests == 0, "device saw %d requests", (int)fb->m.vdm.q[0].stats.requests);
  expect(!virtq_is_broken(&vb.vq), "bad arguments broke the queue");
  expect(vblk_rw(&vb, 0, 3, buf, 1024) == 0 && tblk_is_pattern(buf, 3, 1024),
         "a good request after the bad ones failed");
  vos_dma_free(buf, 1024);
}

static void test_blk_readonly(void)
{
  uint8_t *buf;

  new_device(2, CAP);
  fb->m.vdm.offered |= 1u << 5;  // VIRTIO_BLK_F_RO
  if (!start_driver())
    return;
  expect(vblk_readonly(&vb) == 1, "not read-only");
  expect(fb->m.vdm.driver_features & (1u << 5), "VIRTIO_BLK_F_RO not accepted");
  buf = vos_dma_alloc(512);
  expect(vblk_rw(&vb, 1, 5, buf, 512) == -1, "write to a read-only disk succeeded");
  expect((int)fb->m.writes == 0, "the write reached the device");
  expect(vblk_rw(&vb, 0, 5, buf, 512) == 0 && tblk_is_pattern(buf, 5, 512), "read failed");
  vos_dma_free(buf, 512);
}

// One request against a device in `mode`: it must fail with -1. If the
// device broke the queue protocol, the driver must have given up on it
// (reset + FAILED) and fail later requests too; if it only returned an
// error status, the next request must work.
static void misbehave(enum vdm_fault mode, int breaks_queue)
{
  const uint32_t len = 1024, guard = 64;
  uint8_t *buf;
  uint32_t i;
  int ok = 1, r;

  if (!start_blk(2, CAP))
    return;
  fb->m.vdm.fault = mode;
  buf = vos_dma_alloc(len + guard);
  memset(buf + len, 0xcd, guard);
  r = vblk_rw(&vb, 0, 4, buf, len);
  expect(r == -1, "request returned %d", r);
  for (i = 0; i < guard; i++)
    ok &= buf[len + i] == 0xcd;
  expect(ok, "memory after the buffer was overwritten");
  fb->m.vdm.fault = VDM_FAULT_NONE;
  r = vblk_rw(&vb, 0, 4, buf, len);
  if (breaks_queue) {
    expect(virtq_is_broken(&vb.vq), "queue not marked broken");
    expect(fb->m.vdm.regs.status & VIRTIO_STATUS_FAILED, "device not marked FAILED");
    expect(!fb->m.vdm.q[0].ready, "device not reset: it could still use the rings");
    expect(r == -1, "request on a dead device returned %d", r);
  } else {
    expect(!virtq_is_broken(&vb.vq), "an error status broke the queue");
    expect(r == 0 && tblk_is_pattern(buf, 4, len), "next request failed (%d)", r);
  }
  vos_dma_free(buf, len + guard);
}

static void test_blk_ioerr(void)          { misbehave(VDM_FAULT_IOERR, 0); }
static void test_blk_unsupp(void)         { misbehave(VDM_FAULT_UNSUPP, 0); }
static void test_blk_unknown_status(void) { misbehave(VDM_FAULT_BAD_STATUS, 0); }
static void test_blk_status_unwritten(void) { misbehave(VDM_FAULT_NO_STATUS, 0); }
static void test_blk_used_id_out_of_range(void) { misbehave(VDM_FAULT_BAD_ID, 1); }
static void test_blk_used_len_too_big(void)     { misbehave(VDM_FAULT_BIG_LEN, 1); }
static void test_blk_used_idx_runs_ahead(void)  { misbehave(VDM_FAULT_IDX_JUMP, 1); }
static void test_blk_needs_reset(void)          { misbehave(VDM_FAULT_NEEDS_RESET, 1); }

static void watchdog_fail(void *arg)
{
  vblk_fail((struct vblk *)arg, "request timed out (test watchdog)");
}

static void test_blk_never_completes(void)
{
  host_set_watchdog(watchdog_fail, &vb, 5);
  misbehave(VDM_FAULT_NEVER, 1);
}

static void test_blk_used_id_repeated(void)
{
  if (!start_blk(2, CAP))
    return;
  fb->m.vdm.fault = VDM_FAULT_DUP_ID;
  add_reader(1, 512);
  add_reader(2, 512);
  run_callers();
  expect(callers[0].done && callers[1].done, "a caller never returned");
  expect(callers[0].result == 0 && tblk_is_pattern(callers[0].buf, 1, 512),
         "the genuinely completed request failed (%d)", callers[0].result);
  expect(callers[1].result == -1, "the request whose id was never returned got %d",
         callers[1].result);
  expect(virtq_is_broken(&vb.vq), "queue not marked broken");
  expect(fb->m.vdm.regs.status & VIRTIO_STATUS_FAILED, "device not marked FAILED");
  free_callers();
}

static void test_blk_out_of_order(void)
{
  int i, n = 8;

  if (!start_blk(2, CAP))
    return;
  fb->m.vdm.reverse = 1;
  for (i = 0; i < n; i++)
    add_reader(100 + 10 * (uint64_t)i, 512 * (uint32_t)(i + 1));
  run_callers();
  for (i = 0; i < n; i++) {
    expect(callers[i].result == 0, "caller %d got %d", i, callers[i].result);
    expect(tblk_is_pattern(callers[i].buf, callers[i].sector, callers[i].len),
           "caller %d got someone else's data", i);
  }
  expect(fb->max_outstanding == n, "only %d requests were in flight together",
         fb->max_outstanding);
  expect(fb->ndone == n && fb->narrive == n, "%d done, %d arrived", fb->ndone, fb->narrive);
  for (i = 0; i < fb->ndone && i < n; i++)
    expect(fb->done_order[i] == fb->arrive_order[n - 1 - i], "not completed in reverse");
  free_callers();
}

// More callers than requests fit in the queue: the rest sleep for a slot.
static void test_blk_queue_full(void)
{
  int i, n = VBLK_NSLOT + 8;

  if (!start_blk(2, CAP))
    return;
  fb->m.vdm.reverse = 1;
  for (i = 0; i < n; i++)
    add_reader((uint64_t)i * 3, 512);
  run_callers();
  for (i = 0; i < n; i++) {
    expect(callers[i].result == 0 && tblk_is_pattern(callers[i].buf, callers[i].sector, 512),
           "caller %d: result %d or wrong data", i, callers[i].result);
  }
  expect(fb->max_outstanding == VBLK_NSLOT, "%d in flight at most, expected %d",
         fb->max_outstanding, VBLK_NSLOT);
  expect(virtq_free_count(&vb.vq) == vb.vq.size, "%d descriptors free afterwards",
         virtq_free_count(&vb.vq));
  free_callers();
}

// A completion that lands just before the driver's InterruptACK write.
// The driver must still find it: acknowledge first, then reap until empty.
static void test_blk_ack_race(void)
{
  if (!start_blk(2, CAP))
    return;
  fb->m.vdm.complete_on_ack = 1;
  add_reader(11, 512);
  add_reader(12, 512);
  run_callers();
  expect(callers[0].result == 0 && callers[1].result == 0, "results %d %d",
         callers[0].result, callers[1].result);
  expect(host_irq_calls == 1, "%d interrupts to finish two requests", host_irq_calls);
  free_callers();
}

static void test_blk_no_notify(void)
{
  uint8_t *buf;
  int i;

  if (!start_blk(2, CAP))
    return;
  fb->m.vdm.no_notify = 1;  // the device polls: VIRTQ_USED_F_NO_NOTIFY (2.7.10)
  buf = vos_dma_alloc(512);
  for (i = 0; i < 3; i++)
    expect(vblk_rw(&vb, 0, (uint64_t)i, buf, 512) == 0, "read %d failed", i);
  // Only the first kick, before the device had set the flag, notifies.
  expect((int)fb->m.vdm.q[0].stats.notifies == 1 && vb.vq.stats.notifies == 1, "%d notifies", (int)fb->m.vdm.q[0].stats.notifies);
  vos_dma_free(buf, 512);
}

static void test_blk_config_change(void)
{
  uint8_t *buf;

  if (!start_blk(2, CAP))
    return;
  buf = vos_dma_alloc(512);
  expect(vblk_rw(&vb, 0, CAP + 5, buf, 512) == -1, "read beyond capacity");
  tblk_resize(fb, 2 * CAP);  // raises a configuration change interrupt
  expect(vblk_rw(&vb, 0, 0, buf, 512) == 0, "read failed");
  expect(vblk_capacity(&vb) == 2 * CAP, "capacity %llu after resize",
         (unsigned long long)vblk_capacity(&vb));
  expect(vblk_rw(&vb, 0, CAP + 5, buf, 512) == 0, "read in the new space failed");
  vos_dma_free(buf, 512);
}

// ---- the virtqueue layer directly ----

// A block read request built by hand: header, data (split into `nseg`
// writable pieces), status.
struct hand_req {
  struct virtio_blk_req_hdr hdr;
  uint8_t status;
};

static void test_virtq_tokens_reverse(void)
{
  static struct virtq vq;
  struct hand_req *req;
  uint8_t *data;
  int tokens[5], i, r;
  void *token;
  uint32_t len;

  new_device(2, CAP);
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vio_negotiate(&dev, VIRTQ_LAYOUT_FEATURES) == 0, "negotiate");
  if (!expect(virtq_init(&vq, &dev, 0, 64) == 0, "virtq_init"))
    return;
  vio_driver_ok(&dev);
  req = vos_dma_alloc(5 * sizeof(*req));
  data = vos_dma_alloc(5 * 512);
  for (i = 0; i < 5; i++) {
    struct virtq_buf b[3] = {
      { &req[i].hdr, 16, 0 }, { data + 512 * i, 512, 1 }, { &req[i].status, 1, 1 },
    };
    req[i].hdr.type = VIRTIO_BLK_T_IN;
    req[i].hdr.sector = (uint64_t)i;
    expect(virtq_add(&vq, b, 3, &tokens[i]) == VIRTQ_OK, "add %d", i);
  }
  expect(virtq_free_count(&vq) == 64 - 15, "free %d", virtq_free_count(&vq));
  expect(virtq_get(&vq, &token, &len) == 0, "completion before the kick");
  virtq_kick(&vq);  // one notification for all five
  expect(vq.stats.notifies == 1 && (int)fb->m.vdm.q[0].stats.notifies == 1, "notifies %d", (int)fb->m.vdm.q[0].stats.notifies);

  fb->m.vdm.reverse = 1;
  tblk_run(fb);
  expect(vio_intr_ack(&dev) == VIRTIO_MMIO_INT_VRING, "interrupt status");
  for (i = 4; i >= 0; i--) {
    r = virtq_get(&vq, &token, &len);
    expect(r == 1 && token == &tokens[i], "completion %d: r %d, wrong token", i, r);
    expect(len == 513, "len %u", (unsigned)len);
    expect(req[i].status == 0 && tblk_is_pattern(data + 512 * i, (uint64_t)i, 512), "request %d", i);
  }
  expect(virtq_get(&vq, &token, &len) == 0, "extra completion");
  expect(virtq_free_count(&vq) == 64 && vq.outstanding == 0, "descriptors not all back");
  vio_reset(&dev);
  virtq_destroy(&vq);
  vos_dma_free(req, 5 * sizeof(*req));
  vos_dma_free(data, 5 * 512);
}

static void test_virtq_multi_segment(void)
{
  static struct virtq vq;
  struct hand_req *req;
  uint8_t *a, *b;
  int tok;
  void *token;
  uint32_t len;

  new_device(1, CAP);  // legacy, for variety
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vio_negotiate(&dev, 0) == 0, "negotiate");
  if (!expect(virtq_init(&vq, &dev, 0, 16) == 0, "virtq_init"))
    return;
  vio_driver_ok(&dev);
  req = vos_dma_alloc(sizeof(*req));
  a = vos_dma_alloc(512);
  b = vos_dma_alloc(1024);
  req->hdr.type = VIRTIO_BLK_T_IN;
  req->hdr.sector = 40;
  {
    struct virtq_buf chain[4] = {
      { &req->hdr, 16, 0 }, { a, 512, 1 }, { b, 1024, 1 }, { &req->status, 1, 1 },
    };
    expect(virtq_add(&vq, chain, 4, &tok) == VIRTQ_OK, "add");
  }
  virtq_kick(&vq);
  tblk_run(fb);
  expect(virtq_get(&vq, &token, &len) == 1 && token == &tok, "no completion");
  expect(len == 512 + 1024 + 1, "len %u", (unsigned)len);
  expect(tblk_is_pattern(a, 40, 512) && tblk_is_pattern(b, 41, 1024), "data split wrongly");
  expect(vq.size == 16, "size %u", (unsigned)vq.size);
  vio_reset(&dev);
  virtq_destroy(&vq);
  vos_dma_free(req, sizeof(*req));
  vos_dma_free(a, 512);
  vos_dma_free(b, 1024);
}

static void test_virtq_add_errors(void)
{
  static struct virtq vq;
  uint8_t *mem;
  int tok, n = 0, r;
  void *token;

  new_device(2, CAP);
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vio_negotiate(&dev, VIRTQ_LAYOUT_FEATURES) == 0, "negotiate");
  if (!expect(virtq_init(&vq, &dev, 0, 64) == 0, "virtq_init"))
    return;
  mem = vos_dma_alloc(4096);
  {
    struct virtq_buf ok[3] = { { mem, 16, 0 }, { mem + 512, 512, 1 }, { mem + 16, 1, 1 } };
    struct virtq_buf backwards[2] = { { mem, 16, 1 }, { mem + 16, 16, 0 } };
    struct virtq_buf empty[1] = { { mem, 0, 0 } };
    struct virtq_buf huge[2] = { { mem, 0x80000000u, 0 }, { mem, 0x80000000u, 1 } };

    expect(virtq_add(&vq, ok, 0, &tok) == VIRTQ_ERR_INVAL, "n = 0");
    expect(virtq_add(&vq, ok, 65, &tok) == VIRTQ_ERR_INVAL, "n > size");
    expect(virtq_add(&vq, ok, 3, 0) == VIRTQ_ERR_INVAL, "NULL token");
    expect(virtq_add(&vq, backwards, 2, &tok) == VIRTQ_ERR_INVAL,
           "readable buffer after a writable one");
    expect(virtq_add(&vq, empty, 1, &tok) == VIRTQ_ERR_INVAL, "zero-length buffer");
    expect(virtq_add(&vq, huge, 2, &tok) == VIRTQ_ERR_INVAL, "chain of 4 GiB");
    expect(virtq_free_count(&vq) == 64, "rejected adds used descriptors");
    while ((r = virtq_add(&vq, ok, 3, &tok)) == VIRTQ_OK)
      n++;
    expect(r == VIRTQ_ERR_FULL && n == 21, "%d adds, then %d", n, r);
    expect(virtq_free_count(&vq) == 1, "%d free", virtq_free_count(&vq));
  }
  // Never kicked, never seen by the device: reset and take them all back.
  vio_reset(&dev);
  n = 0;
  while (virtq_drain(&vq, &token) == 1)
    n++;
  expect(n == 21 && virtq_free_count(&vq) == 64, "drained %d", n);
  virtq_mark_broken(&vq, "test");
  expect(virtq_add(&vq, (struct virtq_buf[]){ { mem, 16, 0 } }, 1, &tok) == VIRTQ_ERR_BROKEN,
         "add on a broken queue");
  virtq_destroy(&vq);
  vos_dma_free(mem, 4096);
}

// Chains added but not kicked are invisible to the device, however long
// it looks (split: avail.idx not yet moved; packed: the first entry's
// flags held back), and one kick publishes them all.
static void test_virtq_invisible_until_kick(void)
{
  static struct virtq vq;
  struct hand_req *req;
  uint8_t *data;
  int tokens[3], i;
  void *token;
  uint32_t len;

  new_device(2, CAP);
  expect(vio_probe(&dev, BASE) == 1, "probe");
  expect(vio_negotiate(&dev, VIRTQ_LAYOUT_FEATURES) == 0, "negotiate");
  if (!expect(virtq_init(&vq, &dev, 0, 16) == 0, "virtq_init") || !fix_check_layout(&vq, &dev))
    return;
  vio_driver_ok(&dev);
  req = vos_dma_alloc(3 * sizeof(*req));
  data = vos_dma_alloc(3 * 512);
  for (i = 0; i < 3; i++) {
    struct virtq_buf b[3] = {
      { &req[i].hdr, 16, 0 }, { data + 512 * i, 512, 1 }, { &req[i].status, 1, 1 },
    };
    req[i].hdr.type = VIRTIO_BLK_T_IN;
    req[i].hdr.sector = (uint64_t)i;
    expect(virtq_add(&vq, b, 3, &tokens[i]) == VIRTQ_OK, "add %d", i);
  }
  tblk_run(fb);
  expect(fb->m.vdm.q[0].stats.requests == 0, "the device took %u chains before the kick",
         (unsigned)fb->m.vdm.q[0].stats.requests);
  virtq_kick(&vq);
  tblk_run(fb);
  expect(fb->m.vdm.q[0].stats.requests == 3, "the device took %u of 3 chains after the kick",
         (unsigned)fb->m.vdm.q[0].stats.requests);
  for (i = 0; i < 3; i++)
    expect(virtq_get(&vq, &token, &len) == 1 && token == &tokens[i] &&
           tblk_is_pattern(data + 512 * i, (uint64_t)i, 512), "completion %d", i);
  vio_reset(&dev);
  virtq_destroy(&vq);
  vos_dma_free(req, 3 * sizeof(*req));
  vos_dma_free(data, 3 * 512);
}

// ---- the packed layout by hand (2.8) ----
//
// A queue set up the way a driver would, then the device's part played
// by the model or, where the test needs a device that breaks a rule, by
// stores into the ring.

static struct virtq pq;
static struct hand_req *preq;
static uint8_t *pdata;
static int ptok[8];

// A packed queue of `size` entries (at most QueueNumMax: the model's
// queue_max is set to it, so any size can be tried) on a fresh device.
static int packed_queue(uint16_t size)
{
  new_device(2, CAP);
  fb->m.vdm.queue_max = size;
  preq = vos_dma_alloc(8 * sizeof(*preq));
  pdata = vos_dma_alloc(8 * 512);
  if (!expect(vio_probe(&dev, BASE) == 1, "probe") ||
      !expect(vio_negotiate(&dev, VIRTQ_LAYOUT_FEATURES) == 0, "negotiate") ||
      !expect(virtq_init(&pq, &dev, 0, size) == 0, "virtq_init") ||
      !expect(pq.packed && pq.size == size, "packed %d, size %u", pq.packed, (unsigned)pq.size))
    return 0;
  vio_driver_ok(&dev);
  return 1;
}

static void packed_done(void)
{
  vio_reset(&dev);
  if (pq.mem)
    virtq_destroy(&pq);
  vos_dma_free(preq, 8 * sizeof(*preq));
  vos_dma_free(pdata, 8 * 512);
}

// Hand request i (a one-sector read of sector 100 + i, three entries).
static int packed_add(int i)
{
  struct virtq_buf b[3] = {
    { &preq[i].hdr, 16, 0 }, { pdata + 512 * i, 512, 1 }, { &preq[i].status, 1, 1 },
  };
  preq[i].hdr.type = VIRTIO_BLK_T_IN;
  preq[i].hdr.sector = 100 + (uint64_t)i;
  return virtq_add(&pq, b, 3, &ptok[i]) == VIRTQ_OK;
}

// The flags a device writes into a used entry in the lap of `wrap`.
static uint16_t used_flags(int wrap)
{
  return wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0;
}

// A queue of 7 entries (no power of two, 2.8.10.1) and chains of 3: two
// requests at a time fill 6 entries, so each round starts one entry
// further on, and both wrap counters flip at a different place each lap.
// The device finishes each pair newest first; after every round the
// driver's idea of where the next used entry goes must be the device's.
static void test_packed_odd_size_wrap(void)
{
  struct vdm_queue *q;
  void *token;
  uint32_t len;
  int round, ok = 1, flips = 0, last_wrap = 1;

  if (!packed_queue(7))
    goto out;
  q = &fb->m.vdm.q[0];
  fb->m.vdm.reverse = 1;
  for (round = 0; round < 60 && ok; round++) {
    ok &= expect(packed_add(0) && packed_add(1), "round %d: add", round);
    ok &= expect(!virtq_room(&pq, 3), "round %d: room for a third chain of 3 in 7", round);
    virtq_kick(&pq);
    tblk_run(fb);
    ok &= expect(virtq_get(&pq, &token, &len) == 1 && token == &ptok[1] && len == 513,
                 "round %d: first completion", round);
    ok &= expect(virtq_get(&pq, &token, &len) == 1 && token == &ptok[0] && len == 513,
                 "round %d: second completion", round);
    ok &= expect(virtq_get(&pq, &token, &len) == 0, "round %d: a third completion", round);
    ok &= expect(tblk_is_pattern(pdata, 100, 512) && tblk_is_pattern(pdata + 512, 101, 512),
                 "round %d: data", round);
    ok &= expect(pq.next_used == q->used_pos && pq.used_wrap == q->used_wrap &&
                 pq.next_avail == q->avail_pos && pq.avail_wrap == q->avail_wrap,
                 "round %d: driver at %u/%u (wrap %u/%u), device at %u/%u (wrap %u/%u)", round,
                 pq.next_avail, pq.next_used, pq.avail_wrap, pq.used_wrap, q->avail_pos,
                 q->used_pos, q->avail_wrap, q->used_wrap);
    ok &= expect(virtq_free_count(&pq) == 7 && pq.outstanding == 0, "round %d: %d free",
                 round, virtq_free_count(&pq));
    vio_intr_ack(&dev);
    flips += pq.used_wrap != last_wrap;
    last_wrap = pq.used_wrap;
  }
  // 60 rounds of 6 entries: 360 entries, 51 laps of 7.
  expect(flips >= 50, "the wrap counter flipped %d times", flips);
out:
  packed_done();
}

// A used entry where no buffer is out: the device ran ahead of what it
// was given. virtq_get must refuse it and break the queue.
static void test_packed_used_runs_ahead(void)
{
  struct pvirtq_desc *e;
  void *token;
  uint32_t len;

  if (!packed_queue(16))
    goto out;
  expect(packed_add(0), "add");
  virtq_kick(&pq);
  tblk_run(fb);
  expect(virtq_get(&pq, &token, &len) == 1 && token == &ptok[0], "the genuine completion");
  // Nothing is out now; the entry after the used one was never given.
  e = &pq.ring[pq.next_used];
  e->id = 0;
  e->len = 0;
  e->flags = used_flags(pq.used_wrap);
  expect(virtq_get(&pq, &token, &len) == -1, "a used entry past everything given was taken");
  expect(virtq_is_broken(&pq) && pq.broken_why &&
         strstr(pq.broken_why, "runs ahead"), "queue broken: %s", pq.broken_why ? pq.broken_why : "no");
out:
  packed_done();
}

// Flags no honest device writes on an entry the driver made available:
// USED for this lap but AVAIL for the last (AVAIL != USED in a used
// entry, 2.8.1). The request fails (drained), the queue breaks.
static void test_packed_impossible_wrap(void)
{
  struct pvirtq_desc *e;
  void *token;
  uint32_t len;

  if (!packed_queue(16))
    goto out;
  expect(packed_add(0), "add");
  virtq_kick(&pq);
  e = &pq.ring[pq.next_used];
  e->flags = (uint16_t)(pq.used_wrap ? VIRTQ_DESC_F_USED : VIRTQ_DESC_F_AVAIL);
  expect(virtq_enable_intr(&pq) == 1, "the re-check did not report the bad entry");
  expect(virtq_get(&pq, &token, &len) == -1, "an entry with AVAIL != USED was taken as used");
  expect(virtq_is_broken(&pq) && strstr(pq.broken_why, "wrap counter"), "queue broken: %s",
         pq.broken_why ? pq.broken_why : "no");
  vio_reset(&dev);
  expect(virtq_drain(&pq, &token) == 1 && token == &ptok[0] && virtq_drain(&pq, &token) == 0,
         "the outstanding request was not drained once");
  expect(virtq_free_count(&pq) == 16, "%d entries free after the drain", virtq_free_count(&pq));
out:
  packed_done();
}

// The barriers seen by a device at the moment they are taken: vos_mb
// calls the test's hook (host_set_mb_hook), and the hook looks at the ring
// (or writes to it) as a device running beside the CPU could.

// Barrier (1): at some barrier of the kick, every entry of the batch is
// written, ids and flags included, except the first one's flags: a device
// polling that entry cannot see any of it yet. After the kick, it can.
static int seen_complete;

static int entry_avail(uint16_t pos, uint8_t wrap)
{
  uint16_t f = pq.ring[pos].flags;
  return ((f & VIRTQ_DESC_F_AVAIL) != 0) == wrap && ((f & VIRTQ_DESC_F_USED) != 0) != wrap;
}

static void publish_hook(void *arg)
{
  uint16_t pos = pq.pub_avail, k;
  uint8_t wrap = pq.pub_wrap;
  int ok = !entry_avail(pos, wrap) && pq.ring[pos].id == 0 && pq.ring[pos].len == 16;

  (void)arg;
  for (k = 1; k < 6 && ok; k++) {
    if (++pos == pq.size) {
      pos = 0;
      wrap ^= 1;
    }
    ok = entry_avail(pos, wrap) && pq.ring[pos].id == k / 3;
  }
  seen_complete |= ok;
}

static void test_packed_publish_barrier(void)
{
  uint16_t head;
  uint8_t wrap;

  if (!packed_queue(16))
    goto out;
  expect(packed_add(0) && packed_add(1), "add");
  head = pq.pub_avail;
  wrap = pq.pub_wrap;
  expect(!entry_avail(head, wrap), "the first entry was made available by virtq_add");
  seen_complete = 0;
  host_set_mb_hook(publish_hook, 0);
  virtq_kick(&pq);
  host_set_mb_hook(0, 0);
  expect(seen_complete, "no barrier between the stores that fill the batch's entries and the "
         "store of its first entry's flags (2.8.21.1.1, barrier (1))");
  expect(entry_avail(head, wrap), "the kick did not make the first entry available");
out:
  packed_done();
}

// Barrier (3): the device's id and len reach memory before its flags,
// but the CPU may serve our later loads early. The hook plays that: at
// the first barrier of virtq_get the entry's id and len are the
// device's; before it they are leftovers. Read before the barrier, the
// leftover id (7, never handed out) would break the queue.
static int used_hook_done;

static void used_hook(void *arg)
{
  struct pvirtq_desc *e = &pq.ring[pq.next_used];

  (void)arg;
  if (used_hook_done++)
    return;
  e->id = 0;
  e->len = 513;
}

static void test_packed_used_barrier(void)
{
  struct pvirtq_desc *e;
  void *token;
  uint32_t len;
  int r;

  if (!packed_queue(16))
    goto out;
  expect(packed_add(0), "add");
  virtq_kick(&pq);
  e = &pq.ring[pq.next_used];
  e->id = 7;
  e->len = 999;
  e->flags = used_flags(pq.used_wrap);
  used_hook_done = 0;
  host_set_mb_hook(used_hook, 0);
  r = virtq_get(&pq, &token, &len);
  host_set_mb_hook(0, 0);
  expect(r == 1 && token == &ptok[0] && len == 513,
         "the used entry's id and len were read before barrier (3), or not at all (queue %s)",
         virtq_is_broken(&pq) ? pq.broken_why : "working");
out:
  packed_done();
}

// ---- runner ----

static void setup(void)
{
  memset(&vb, 0, sizeof(vb));
  memset(&dev, 0, sizeof(dev));
  fb = 0;
  ncallers = next_caller = 0;
}

static void cleanup(int aborted)
{
  tblk_cleanup(&fb, &vb, aborted);
}

int main(int argc, char **argv)
{
  host_tests_begin(argc, argv, setup, cleanup);
  host_run("probe_modern", test_probe_modern);
  host_run_split("probe_legacy", test_probe_legacy);
  host_run("probe_empty_slot", test_probe_empty_slot);
  host_run("probe_bad_magic", test_probe_bad_magic);
  host_run("probe_bad_version", test_probe_bad_version);
  host_run("type_names", test_type_names);
  host_run("handshake_modern", test_handshake_modern);
  host_run_split("handshake_legacy", test_handshake_legacy);
  host_run("handshake_features_ok_refused", test_handshake_features_ok_refused);
  host_run("handshake_no_version_1", test_handshake_no_version_1);
  host_run("init_wrong_device_type", test_init_wrong_device_type);
  host_run("queue_sizes", test_queue_sizes);
  host_run("config_reads", test_config_reads);
  host_run("config_generation_retry", test_config_generation_retry);
  host_run("blk_roundtrip_modern", test_blk_roundtrip_modern);
  host_run_split("blk_roundtrip_legacy", test_blk_roundtrip_legacy);
  host_run("blk_large_request", test_blk_large_request);
  host_run("blk_bad_args", test_blk_bad_args);
  host_run("blk_readonly", test_blk_readonly);
  host_run("blk_ioerr", test_blk_ioerr);
  host_run("blk_unsupp", test_blk_unsupp);
  host_run("blk_unknown_status", test_blk_unknown_status);
  host_run("blk_status_unwritten", test_blk_status_unwritten);
  host_run("blk_used_id_out_of_range", test_blk_used_id_out_of_range);
  host_run("blk_used_id_repeated", test_blk_used_id_repeated);
  host_run("blk_used_len_too_big", test_blk_used_len_too_big);
  host_run("blk_used_idx_runs_ahead", test_blk_used_idx_runs_ahead);
  host_run("blk_never_completes", test_blk_never_completes);
  host_run("blk_needs_reset", test_blk_needs_reset);
  host_run("blk_out_of_order", test_blk_out_of_order);
  host_run("blk_queue_full", test_blk_queue_full);
  host_run("blk_ack_race", test_blk_ack_race);
  host_run("blk_no_notify", test_blk_no_notify);
  host_run("blk_config_change", test_blk_config_change);
  host_run("virtq_tokens_reverse", test_virtq_tokens_reverse);
  host_run_split("virtq_multi_segment", test_virtq_multi_segment);
  host_run("virtq_add_errors", test_virtq_add_errors);
  host_run("virtq_invisible_until_kick", test_virtq_invisible_until_kick);
  host_run_packed("virtq_odd_size_wrap", test_packed_odd_size_wrap);
  host_run_packed("virtq_used_runs_ahead", test_packed_used_runs_ahead);
  host_run_packed("virtq_impossible_wrap", test_packed_impossible_wrap);
  host_run_packed("virtq_publish_barrier", test_packed_publish_barrier);
  host_run_packed("virtq_used_barrier", test_packed_used_barrier);

  return host_tests_done();
}
