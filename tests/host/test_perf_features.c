// test_perf_features.c: host unit tests for the block-performance features
// of the portable virtio core: VIRTIO_RING_F_EVENT_IDX (virtio 1.2 2.7.7,
// 2.7.10), VIRTIO_RING_F_INDIRECT_DESC (2.7.5.3), VIRTIO_BLK_F_SEG_MAX,
// VIRTIO_BLK_F_SIZE_MAX and VIRTIO_BLK_F_FLUSH (5.2.3, 5.2.4, 5.2.6), the
// asynchronous vblk_submit/vblk_wait API with many requests in flight,
// baseline mode, and devices that offer none of the features.
//
// Runs against the software device model's virtio-blk (devmodel/,
// set up by devfix.c), which checks the driver against the spec and
// counts every violation, through the host OS
// interface in vos_host.c, built with AddressSanitizer and UBSan.
//
// Run: make -C tests/host check
// Output: one line per test, "PASS: name" or "FAIL: name: why"; other lines
// are indented.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"
#include "virtio_blk.h"
#include "host.h"
#include "devfix.h"

#define BASE 0x10001000u
#define CAP  4096u  // sectors: a 2 MiB disk, room for 256 KB requests

#define F(bit) (1ull << (bit))
#define ALL_FEATURES (F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_SEG_MAX) | \
                      F(VIRTIO_BLK_F_BLK_SIZE) | F(VIRTIO_BLK_F_FLUSH) | \
                      F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX))

// ---- fixtures ----

static struct tblk *fb;
static struct vio_dev dev;
static struct vblk vb;

#define NREQ 100
static struct vblk_req reqs[NREQ];

// A device offering exactly `features` (plus VERSION_1 when modern, and
// the test's ring layout), seg_max 128 and size_max 1 MiB in its
// configuration space.
static void new_device(int version, uint64_t features)
{
  fb = tblk_create(BASE, version, CAP);
  fb->m.vdm.offered = features;
  if (version == 2)
    fb->m.vdm.offered |= F(VIRTIO_F_VERSION_1);
  fix_layout(&fb->m.vdm);
  tblk_limits(fb, 1u << 20, 128);
}

// The classic design the benchmarks compare with (bench/kblkbench.c):
// one 1 KB block per device request, one at a time, no optional features.
static const struct vblk_limits classic = { 1024, 1, 0 };

// Start the driver with the limits lim (NULL: everything).
static int start_driver(const struct vblk_limits *lim)
{
  return tblk_start_driver(&dev, &vb, BASE, lim);
}

static int start(int version, uint64_t features, const struct vblk_limits *lim)
{
  new_device(version, features);
  return start_driver(lim);
}

// A read of `nseg` segments of `seglen` bytes each, from one DMA block.
static void make_read(struct vblk_req *r, uint8_t *buf, uint64_t sector, int nseg,
                      uint32_t seglen)
{
  int i;

  memset(r, 0, sizeof(*r));
  r->type = VBLK_READ;
  r->sector = sector;
  r->nseg = nseg;
  for (i = 0; i < nseg; i++) {
    r->seg[i].addr = buf + (size_t)i * seglen;
    r->seg[i].len = seglen;
  }
}

// One read of `nseg` segments of `seglen` bytes into buf (in reqs[0]),
// waited for; the data must be the disk's.
static void read_checked(uint8_t *buf, uint64_t sector, int nseg, uint32_t seglen)
{
  make_read(&reqs[0], buf, sector, nseg, seglen);
  expect(vblk_submit(&vb, &reqs[0]) == 0 && vblk_wait(&vb, &reqs[0]) == 0, "read failed");
  expect(tblk_is_pattern(buf, sector, (uint32_t)nseg * seglen), "wrong data");
}

// Callbacks record their order and check they run without the driver's
// lock (taking it would abort the test with "deadlock" if it were held).
static int cb_order[NREQ], ncb;

static void record_cb(struct vblk_req *r)
{
  vos_lock(&vb.lock);
  vos_unlock(&vb.lock);
  expect(r->done == 0, "done set before the callback ran");
  cb_order[ncb++] = (int)(r - reqs);
}

// ---- negotiation ----

static void test_features_negotiated(void)
{
  struct vblk_stats st;

  if (!start(2, ALL_FEATURES, 0))
    return;
  expect(fb->m.vdm.driver_features == (ALL_FEATURES | F(VIRTIO_F_VERSION_1) | fix_layout_bits()),
         "accepted 0x%llx", (unsigned long long)fb->m.vdm.driver_features);
  vblk_get_stats(&vb, &st);
  expect(st.event_idx && st.indirect_desc && st.flush && st.max_bytes > 1024,
         "in use: event_idx %d indirect %d flush %d max_bytes %u", st.event_idx,
         st.indirect_desc, st.flush, (unsigned)st.max_bytes);
  expect(st.nslot == VBLK_NSLOT && vb.vq.itab_count == VBLK_NSLOT,
         "%d slots, %u indirect tables", st.nslot, (unsigned)vb.vq.itab_count);
  expect(st.seg_max == VBLK_MAX_SEGS, "seg_max %u", (unsigned)st.seg_max);
  expect(st.size_max == (1u << 20), "size_max %u", (unsigned)st.size_max);
}

static void test_features_absent(void)
{
  const uint32_t len = 64 * 4096;
  uint8_t *buf;
  struct vblk_stats st;
  int i;

  if (!start(2, 0, 0))
    return;
  expect(fb->m.vdm.driver_features == (F(VIRTIO_F_VERSION_1) | fix_layout_bits()), "accepted 0x%llx",
         (unsigned long long)fb->m.vdm.driver_features);
  vblk_get_stats(&vb, &st);
  expect(!st.event_idx && !st.indirect_desc && !st.flush, "features in use anyway");
  buf = vos_dma_alloc(len);
  // 64 segments in one request: 66 plain descriptors in a queue of 256.
  read_checked(buf, 7, 64, 4096);
  expect((int)fb->m.vdm.q[0].stats.requests == 1 && (int)fb->m.max_data_segs == 64, "%d device requests, %d segments",
         (int)fb->m.vdm.q[0].stats.requests, (int)fb->m.max_data_segs);
  expect(vblk_flush(&vb) == 0 && (int)fb->m.vdm.q[0].stats.requests == 1, "flush without FLUSH reached the device");
  // Many small requests in flight at once, plain descriptors.
  for (i = 0; i < 20; i++) {
    make_read(&reqs[i], buf + 4096 * i, (uint64_t)i * 8, 1, 4096);
    expect(vblk_submit_nokick(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  vblk_kick(&vb);
  for (i = 0; i < 20; i++)
    expect(vblk_wait(&vb, &reqs[i]) == 0 && tblk_is_pattern(buf + 4096 * i, (uint64_t)i * 8, 4096),
           "request %d", i);
  expect(fb->max_outstanding == 20, "%d in flight", fb->max_outstanding);
  vos_dma_free(buf, len);
}

// No indirect descriptors and a queue of 64: a 64-segment request does not
// fit in one chain (66 > 64), so it goes out as two.
static void test_features_absent_small_queue(void)
{
  const uint32_t len = 64 * 4096;
  uint8_t *buf;

  new_device(2, 0);
  fb->m.vdm.queue_max = 64;
  if (!start_driver(0))
    return;
  buf = vos_dma_alloc(len);
  read_checked(buf, 100, 64, 4096);
  expect((int)fb->m.vdm.q[0].stats.requests == 2 && (int)fb->m.max_data_segs == 62, "%d device requests, at most %d segments",
         (int)fb->m.vdm.q[0].stats.requests, (int)fb->m.max_data_segs);
  expect(vb.nslot == 64 / 3, "%d slots", vb.nslot);
  vos_dma_free(buf, len);
}

static void test_baseline_mode(void)
{
  const uint32_t len = 8192;
  uint8_t *buf;
  struct vblk_stats st;

  if (!start(2, ALL_FEATURES, &classic))
    return;
  // None of the optional features; the ring layout is not one of them
  // (it is the queue layer's, whatever the driver's limits).
  expect(fb->m.vdm.driver_features == (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_BLK_SIZE) |
                                       fix_layout_bits()),
         "accepted 0x%llx", (unsigned long long)fb->m.vdm.driver_features);
  vblk_get_stats(&vb, &st);
  expect(st.max_bytes == 1024 && !st.event_idx && !st.indirect_desc && !st.flush && st.nslot == 1,
         "max_bytes %u event_idx %d indirect %d flush %d nslot %d", (unsigned)st.max_bytes,
         st.event_idx, st.indirect_desc, st.flush, st.nslot);
  buf = vos_dma_alloc(len);
  read_checked(buf, 30, 2, 4096);
  // One 1 KB block per device request, one at a time.
  expect((int)fb->m.vdm.q[0].stats.requests == 8 && fb->max_outstanding == 1, "%d requests, %d in flight",
         (int)fb->m.vdm.q[0].stats.requests, fb->max_outstanding);
  expect(vblk_flush(&vb) == 0 && (int)fb->m.flushes == 0 && (int)fb->m.vdm.q[0].stats.requests == 8,
         "baseline flush reached the device");
  vos_dma_free(buf, len);
}

static void test_reinit_modes(void)
{
  uint8_t *buf;
  struct vblk_stats st;

  if (!start(1, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc(4096);
  expect(vblk_rw(&vb, 0, 1, buf, 4096) == 0, "read in full mode");
  expect(vblk_reinit(&vb, &classic) == 0, "reinit to baseline");
  vblk_get_stats(&vb, &st);
  expect(st.max_bytes == 1024 && !st.event_idx && st.nslot == 1, "not in the classic mode");
  expect(vblk_rw(&vb, 0, 2, buf, 4096) == 0 && tblk_is_pattern(buf, 2, 4096), "read in baseline");
  expect(vblk_reinit(&vb, &VBLK_LIMITS_FULL) == 0, "reinit back");
  vblk_get_stats(&vb, &st);
  expect(st.max_bytes > 1024 && st.event_idx && st.indirect_desc, "full mode not back");
  expect(vblk_rw(&vb, 0, 3, buf, 4096) == 0 && tblk_is_pattern(buf, 3, 4096), "read after reinit");
  expect(vb.reads == 3, "%u reads counted", (unsigned)vb.reads);
  vos_dma_free(buf, 4096);
}

// ---- EVENT_IDX ----

// n single-sector reads, each with its own vblk_submit (and so its own
// kick), with no chance for the device to run in between; then wait.
static void submit_each(uint8_t *buf, int first, int n)
{
  int i;

  for (i = first; i < first + n; i++) {
    make_read(&reqs[i], buf + 512 * i, (uint64_t)i, 1, 512);
    expect(vblk_submit(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  for (i = first; i < first + n; i++)
    expect(vblk_wait(&vb, &reqs[i]) == 0 && tblk_is_pattern(buf + 512 * i, (uint64_t)i, 512),
           "request %d", i);
}

static void kick_suppression(int version)
{
  uint8_t *buf;

  if (!start(version, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc(512 * 32);
  // The device has not looked at the ring since its avail_event said
  // "tell me about entry 0": only the first of 8 kicks notifies.
  submit_each(buf, 0, 8);
  expect((int)fb->m.vdm.q[0].stats.notifies == 1, "%d notifies for the first 8", (int)fb->m.vdm.q[0].stats.notifies);
  // It has caught up and asks for entry 8: again one notify for 8 kicks.
  submit_each(buf, 8, 8);
  expect((int)fb->m.vdm.q[0].stats.notifies == 2 && vb.vq.stats.notifies == 2 && vb.vq.stats.kicks == 16,
         "%d notifies (driver counted %u) for 16 kicks (%u)", (int)fb->m.vdm.q[0].stats.notifies,
         (unsigned)vb.vq.stats.notifies, (unsigned)vb.vq.stats.kicks);
  // A device that keeps polling and never moves avail_event gets nothing.
  fb->m.vdm.event_idx_hold = 1;
  submit_each(buf, 16, 16);
  expect((int)fb->m.vdm.q[0].stats.notifies == 3, "%d notifies with a polling device", (int)fb->m.vdm.q[0].stats.notifies);
  vos_dma_free(buf, 512 * 32);
}

static void test_event_idx_kick_suppression(void)        { kick_suppression(2); }
// Legacy: used_event/avail_event live at the ends of the rings the device
// locates from QueuePFN; a layout mistake shows up as wrong counts here.
static void test_event_idx_kick_suppression_legacy(void) { kick_suppression(1); }

static void test_no_event_idx_kicks(void)
{
  uint8_t *buf;

  if (!start(2, ALL_FEATURES & ~F(VIRTIO_RING_F_EVENT_IDX), 0))
    return;
  buf = vos_dma_alloc(512 * 16);
  submit_each(buf, 0, 16);
  expect((int)fb->m.vdm.q[0].stats.notifies == 16, "%d notifies for 16 kicks without EVENT_IDX", (int)fb->m.vdm.q[0].stats.notifies);
  vos_dma_free(buf, 512 * 16);
}

// 8 requests finished by the device in one go: with EVENT_IDX it raises
// one interrupt (for the entry used_event names), without it eight.
static void interrupts_per_batch(uint64_t features, int want_irqs)
{
  uint8_t *buf;
  int i;

  if (!start(2, features, 0))
    return;
  buf = vos_dma_alloc(512 * 8);
  for (i = 0; i < 8; i++) {
    make_read(&reqs[i], buf + 512 * i, (uint64_t)i, 1, 512);
    expect(vblk_submit_nokick(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  vblk_kick(&vb);
  for (i = 0; i < 8; i++)
    expect(vblk_wait(&vb, &reqs[i]) == 0, "request %d", i);
  expect((int)fb->m.vdm.q[0].stats.notifies == 1, "%d notifies for one batch", (int)fb->m.vdm.q[0].stats.notifies);
  expect((int)fb->m.vdm.q[0].stats.interrupts == want_irqs, "%d used buffer notifications, expected %d",
         (int)fb->m.vdm.q[0].stats.interrupts, want_irqs);
  expect(host_irq_calls == 1 && vb.vq.stats.interrupts == 1, "%d interrupts handled",
         host_irq_calls);
  vos_dma_free(buf, 512 * 8);
}

static void test_event_idx_interrupt_suppression(void)
{
  interrupts_per_batch(ALL_FEATURES, 1);
}

static void test_no_event_idx_interrupts(void)
{
  interrupts_per_batch(ALL_FEATURES & ~F(VIRTIO_RING_F_EVENT_IDX), 8);
}

// The queue layer alone, with requests built by hand.
struct hand_req {
  struct virtio_blk_req_hdr hdr;
  uint8_t status;
  uint8_t pad[15];
};

static struct virtq hvq;
static struct hand_req *hreq;
static uint8_t *hdata;
static int htok[8];

static int hand_queue(int version, uint64_t features, uint16_t size)
{
  fb = tblk_create(BASE, version, CAP);
  // The classic device (SEG_MAX, BLK_SIZE, FLUSH) plus `features`.
  fb->m.vdm.offered &= ~(F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX));
  fb->m.vdm.offered |= features;
  if (!expect(vio_probe(&dev, BASE) == 1, "probe") ||
      !expect(vio_negotiate(&dev, features | VIRTQ_LAYOUT_FEATURES) == 0, "negotiate") ||
      !expect(virtq_init(&hvq, &dev, 0, size) == 0, "virtq_init"))
    return 0;
  vio_driver_ok(&dev);
  hreq = vos_dma_alloc(8 * sizeof(*hreq));
  hdata = vos_dma_alloc(8 * 512);
  return 1;
}

static void hand_done(void)
{
  vio_reset(&dev);
  virtq_destroy(&hvq);
  vos_dma_free(hreq, 8 * sizeof(*hreq));
  vos_dma_free(hdata, 8 * 512);
}

// Add hand request i (a one-sector read of sector i) and publish it.
static int hand_add(int i)
{
  struct virtq_buf b[3] = {
    { &hreq[i].hdr, 16, 0 }, { hdata + 512 * i, 512, 1 }, { &hreq[i].status, 1, 1 },
  };
  hreq[i].hdr.type = VIRTIO_BLK_T_IN;
  hreq[i].hdr.sector = (uint64_t)i;
  if (virtq_add(&hvq, b, 3, &htok[i]) != VIRTQ_OK)
    return 0;
  virtq_kick(&hvq);
  return 1;
}

// The race virtq_enable_intr closes: a completion that lands after the
// driver's last look at the used ring but before it asks for the next
// interrupt raises none, so only the re-check can find it.
static void recheck_race(uint64_t features)
{
  void *token;
  uint32_t len;

  if (!hand_queue(2, features, 16))
    return;
  expect(hand_add(0), "add 0");
  tblk_run(fb);
  expect((int)fb->m.vdm.q[0].stats.interrupts == 1 && vio_intr_ack(&dev) == VIRTIO_MMIO_INT_VRING, "first interrupt");
  virtq_disable_intr(&hvq);
  expect(virtq_get(&hvq, &token, &len) == 1 && token == &htok[0], "completion 0");
  expect(virtq_get(&hvq, &token, &len) == 0, "extra completion");
  // Now, before the driver re-arms: the device finishes request 1.
  expect(hand_add(1), "add 1");
  tblk_run(fb);
  expect((int)fb->m.vdm.q[0].stats.interrupts == 1 && fb->m.vdm.regs.interrupt_status == 0, "interrupt while suppressed (%d)", (int)fb->m.vdm.q[0].stats.interrupts);
  expect(virtq_enable_intr(&hvq) == 1, "the re-check missed completion 1");
  expect(virtq_get(&hvq, &token, &len) == 1 && token == &htok[1], "completion 1");
  expect(virtq_enable_intr(&hvq) == 0, "re-check found a completion that is not there");
  expect(hvq.stats.rechecks == 1, "%u rechecks", (unsigned)hvq.stats.rechecks);
  // Re-armed: the next completion interrupts again.
  expect(hand_add(2), "add 2");
  tblk_run(fb);
  expect((int)fb->m.vdm.q[0].stats.interrupts == 2 && fb->m.vdm.regs.interrupt_status == VIRTIO_MMIO_INT_VRING, "no interrupt after re-arming");
  expect(virtq_get(&hvq, &token, &len) == 1 && token == &htok[2], "completion 2");
  expect(tblk_is_pattern(hdata + 1024, 2, 512), "data of request 2");
  hand_done();
}

static void test_event_idx_recheck_race(void)   { recheck_race(F(VIRTIO_RING_F_EVENT_IDX)); }
static void test_no_interrupt_flag_race(void)   { recheck_race(0); }

// The same race with the device finishing at the exact moment it matters:
// at virtq_enable_intr's barrier (4), after the driver stored used_event
// (on the packed ring: its event suppression structure, RING_EVENT_FLAGS_DESC
// naming entry 1) and before it looks at used.idx (the next entry's flags)
// again. On a host every store is seen at
// once, so a missing barrier changes no outcome here; what the test can
// see is where the barrier is. It plays the device at the driver's first
// barrier and checks that used_event was stored by then, and that the
// second look, coming after the barrier, found what the device did there.
struct barrier_watch {
  int armed;         // the next vos_mb is the one inside virtq_enable_intr
  int fired;         // it came
  uint16_t seen;     // the entry the driver had asked for at that moment
  uint16_t want;     // the one it should ask for: the next it has not read
};

static void recheck_barrier_hook(void *arg)
{
  struct barrier_watch *w = arg;

  if (!w->armed)
    return;
  w->armed = 0;      // the device's own barriers below must not re-enter
  w->fired = 1;
  // What the driver has asked for by now: used_event on the split ring;
  // on the packed ring the structure's desc, if its flags say DESC.
  if (hvq.packed) {
    w->seen = hvq.driver_event->flags == RING_EVENT_FLAGS_DESC ?
              (uint16_t)(hvq.driver_event->desc & 0x7fff) : 0xffff;
    w->want = hvq.next_used;
  } else {
    w->seen = *hvq.used_event;
    w->want = hvq.last_used;
  }
  tblk_run(fb);      // the device finishes request 1 now
}

static void test_event_idx_recheck_at_barrier(void)
{
  struct barrier_watch w = { 0, 0, 0, 0 };
  void *token;
  uint32_t len;
  int r;

  if (!hand_queue(2, F(VIRTIO_RING_F_EVENT_IDX), 16))
    return;
  expect(hand_add(0), "add 0");
  tblk_run(fb);
  vio_intr_ack(&dev);
  virtq_disable_intr(&hvq);
  expect(virtq_get(&hvq, &token, &len) == 1 && token == &htok[0], "completion 0");
  expect(hand_add(1), "add 1");
  w.armed = 1;
  host_set_mb_hook(recheck_barrier_hook, &w);
  r = virtq_enable_intr(&hvq);
  host_set_mb_hook(0, 0);
  if (!expect(w.fired, "virtq_enable_intr made no barrier before its second look at used.idx "
              "(barrier (4), 2.7.7.2): on real hardware a device finishing just then and the "
              "driver could both read old values, and the request would wait for ever"))
    goto out;
  // One completion taken so far: the driver must have asked for the next
  // entry it has not read (used ring entry 1; on the packed ring the
  // position after the first chain).
  expect(w.seen == w.want, "at virtq_enable_intr's barrier the driver asked for entry %u, not "
         "%u: the barrier must come after the store of used_event (or, on the packed ring, of "
         "the event suppression structure)", (unsigned)w.seen, (unsigned)w.want);
  expect(r == 1, "the device finished request 1 at the driver's barrier (4) and the second look "
         "at used.idx returned %d, not 1: the look must come after the barrier", r);
  if (r == 1)
    expect(virtq_get(&hvq, &token, &len) == 1 && token == &htok[1], "completion 1");
out:
  hand_done();
}

// 70000 requests, one at a time: avail.idx and used.idx wrap at 65536 and
// both suppression windows must keep working across the wrap.
static void test_event_idx_wraparound(void)
{
  void *token;
  uint32_t len;
  int i, ok = 1;

  host_verbose = 0;
  if (!hand_queue(2, F(VIRTIO_RING_F_EVENT_IDX), 8))
    return;
  for (i = 0; i < 70000 && ok; i++) {
    ok &= hand_add(i % 8);
    tblk_run(fb);
    ok &= fb->m.vdm.regs.interrupt_status == VIRTIO_MMIO_INT_VRING;
    vio_intr_ack(&dev);
    ok &= virtq_get(&hvq, &token, &len) == 1 && token == &htok[i % 8];
    ok &= virtq_enable_intr(&hvq) == 0;
  }
  expect(ok, "went wrong at request %d", i - 1);
  expect((int)fb->m.vdm.q[0].stats.notifies == 70000 && (int)fb->m.vdm.q[0].stats.interrupts == 70000, "%d notifies, %d interrupts",
         (int)fb->m.vdm.q[0].stats.notifies, (int)fb->m.vdm.q[0].stats.interrupts);
  hand_done();
  host_verbose = 1;
}

// ---- indirect descriptors ----

static void test_indirect_large_request(void)
{
  const uint32_t len = 64 * 4096;
  uint8_t *buf;
  int i;

  if (!start(2, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc(len);
  for (i = 0; i < (int)len; i++)
    buf[i] = (uint8_t)(i * 7 + 3);
  make_read(&reqs[0], buf, 1000, 64, 4096);
  reqs[0].type = VBLK_WRITE;
  expect(vblk_submit_nokick(&vb, &reqs[0]) == 0, "submit");
  expect(virtq_free_count(&vb.vq) == vb.vq.size - 1, "a 66-buffer chain took %d descriptors",
         vb.vq.size - virtq_free_count(&vb.vq));
  expect(vblk_wait(&vb, &reqs[0]) == 0, "write failed");
  expect(memcmp(fb->disk + 1000 * 512, buf, len) == 0, "disk contents");
  memset(buf, 0, len);
  make_read(&reqs[1], buf, 1000, 64, 4096);
  expect(vblk_submit(&vb, &reqs[1]) == 0 && vblk_wait(&vb, &reqs[1]) == 0, "read failed");
  for (i = 0; i < (int)len && buf[i] == (uint8_t)(i * 7 + 3); i++)
    ;
  expect(i == (int)len, "read back differs at byte %d", i);
  expect((int)fb->m.vdm.q[0].stats.requests == 2 && (int)fb->m.vdm.q[0].stats.indirect == 2 && (int)fb->m.max_data_segs == 64,
         "%d requests, %d indirect, %d segments", (int)fb->m.vdm.q[0].stats.requests, (int)fb->m.vdm.q[0].stats.indirect,
         (int)fb->m.max_data_segs);
  expect(vb.vq.itab_nfree == vb.vq.itab_count, "indirect tables not returned");
  vos_dma_free(buf, len);
}

// A queue of 8 descriptors holds 8 requests at once with indirect tables
// (2 with plain descriptors).
static void test_indirect_small_queue(void)
{
  uint8_t *buf;
  int i;

  new_device(2, ALL_FEATURES);
  fb->m.vdm.queue_max = 8;
  if (!start_driver(0))
    return;
  expect(vb.nslot == 8, "%d slots", vb.nslot);
  buf = vos_dma_alloc(8 * 4096);
  for (i = 0; i < 8; i++) {
    make_read(&reqs[i], buf + 4096 * i, (uint64_t)i * 8, 4, 1024);  // 6-buffer chains
    expect(vblk_submit_nokick(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  vblk_kick(&vb);
  for (i = 0; i < 8; i++)
    expect(vblk_wait(&vb, &reqs[i]) == 0 && tblk_is_pattern(buf + 4096 * i, (uint64_t)i * 8, 4096),
           "request %d", i);
  expect(fb->max_outstanding == 8 && (int)fb->m.vdm.q[0].stats.indirect == 8, "%d in flight, %d indirect",
         fb->max_outstanding, (int)fb->m.vdm.q[0].stats.indirect);
  // seg_max: 8 - 2 = 6 data pieces per chain, the queue size (2.7.5.3.1).
  make_read(&reqs[0], buf, 0, 8, 4096);
  expect(vblk_submit(&vb, &reqs[0]) == 0 && vblk_wait(&vb, &reqs[0]) == 0, "big read");
  expect((int)fb->m.max_data_segs == 6 && tblk_is_pattern(buf, 0, 8 * 4096), "%d segments per chain",
         (int)fb->m.max_data_segs);
  vos_dma_free(buf, 8 * 4096);
}

// A device that reports more bytes written than an indirect chain's
// writable buffers hold, or an id that is not a chain head: the queue
// breaks and the driver resets the device.
static void indirect_bad(enum vdm_fault mode)
{
  uint8_t *buf;
  int r;

  if (!start(2, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc(16384);
  fb->m.vdm.fault = mode;
  make_read(&reqs[0], buf, 4, 4, 4096);
  expect(vblk_submit(&vb, &reqs[0]) == 0, "submit");
  r = vblk_wait(&vb, &reqs[0]);
  expect(r == -1, "request returned %d", r);
  expect((int)fb->m.vdm.q[0].stats.indirect == 1, "the chain was not indirect");
  expect(virtq_is_broken(&vb.vq), "queue not marked broken");
  expect(fb->m.vdm.regs.status & VIRTIO_STATUS_FAILED, "device not marked FAILED");
  expect(!fb->m.vdm.q[0].ready, "device not reset");
  fb->m.vdm.fault = VDM_FAULT_NONE;
  expect(vblk_rw(&vb, 0, 4, buf, 512) == -1, "I/O on a dead device");
  vos_dma_free(buf, 16384);
}

static void test_indirect_bad_len(void) { indirect_bad(VDM_FAULT_BIG_LEN); }
static void test_indirect_bad_id(void)  { indirect_bad(VDM_FAULT_BAD_ID); }

// The queue layer: more chains than tables, and chains longer than a
// table, fall back to plain descriptors; everything comes back.
static void test_indirect_fallback(void)
{
  void *token;
  uint32_t len;
  int i, n = 0;
  struct virtq_buf b[6];

  if (!hand_queue(2, F(VIRTIO_RING_F_INDIRECT_DESC), 32))
    return;
  expect(virtq_init_indirect(&hvq, 2, 5) == 1, "virtq_init_indirect");
  for (i = 0; i < 3; i++)
    expect(hand_add(i), "add %d", i);
  expect(hvq.stats.indirect == 2 && virtq_free_count(&hvq) == 32 - 2 - 3,
         "%u indirect, %d free", (unsigned)hvq.stats.indirect, virtq_free_count(&hvq));
  expect(virtq_room(&hvq, 3) && !virtq_room(&hvq, 33), "virtq_room");
  // Six buffers: longer than a table of 5, so plain descriptors.
  hreq[3].hdr.type = VIRTIO_BLK_T_IN;
  hreq[3].hdr.sector = 3;
  b[0] = (struct virtq_buf){ &hreq[3].hdr, 16, 0 };
  for (i = 0; i < 4; i++)
    b[1 + i] = (struct virtq_buf){ hdata + 1536 + 128 * i, 128, 1 };
  b[5] = (struct virtq_buf){ &hreq[3].status, 1, 1 };
  expect(virtq_add(&hvq, b, 6, &htok[3]) == VIRTQ_OK, "add 6-buffer chain");
  virtq_kick(&hvq);
  expect(hvq.stats.indirect == 2 && virtq_free_count(&hvq) == 32 - 2 - 3 - 6,
         "long chain: %d free", virtq_free_count(&hvq));
  fb->m.vdm.reverse = 1;
  tblk_run(fb);
  while (virtq_get(&hvq, &token, &len) == 1)
    n++;
  expect(n == 4 && virtq_free_count(&hvq) == 32 && hvq.itab_nfree == 2,
         "%d back, %d free, %u tables free", n, virtq_free_count(&hvq),
         (unsigned)hvq.itab_nfree);
  expect(tblk_is_pattern(hdata + 1536, 3, 512) && tblk_is_pattern(hdata, 0, 512), "data");
  expect((int)fb->m.vdm.q[0].stats.indirect == 2, "device saw %d indirect chains", (int)fb->m.vdm.q[0].stats.indirect);
  hand_done();
}

// ---- SEG_MAX and SIZE_MAX ----

static void test_seg_max_split(void)
{
  uint8_t *buf;

  new_device(2, ALL_FEATURES);
  tblk_limits(fb, fb->m.size_max, 4);  // seg_max 4
  if (!start_driver(0))
    return;
  buf = vos_dma_alloc(10 * 512);
  read_checked(buf, 77, 10, 512);
  expect((int)fb->m.vdm.q[0].stats.requests == 3 && (int)fb->m.max_data_segs == 4, "%d requests of at most %d segments",
         (int)fb->m.vdm.q[0].stats.requests, (int)fb->m.max_data_segs);
  vos_dma_free(buf, 10 * 512);
}

static void test_size_max_split(void)
{
  uint8_t *buf;

  new_device(2, ALL_FEATURES);
  tblk_limits(fb, 1024, 3);  // size_max 1 KB, seg_max 3
  if (!start_driver(0))
    return;
  buf = vos_dma_alloc(8192);
  read_checked(buf, 200, 1, 8192);
  // 8 pieces of 1 KB, 3 per request: 3 + 3 + 2.
  expect(fb->m.max_seg_len == 1024 && (int)fb->m.vdm.q[0].stats.requests == 3, "pieces of %u bytes, %d requests",
         (unsigned)fb->m.max_seg_len, (int)fb->m.vdm.q[0].stats.requests);
  vos_dma_free(buf, 8192);
}

// size_max below a sector: a device request must still carry whole
// sectors, so it takes two 256-byte pieces (seg_max 2); with seg_max 1 no
// request can be built and it is refused without touching the device.
static void test_size_max_below_sector(void)
{
  uint8_t *buf;

  new_device(2, ALL_FEATURES);
  tblk_limits(fb, 256, 2);
  if (!start_driver(0))
    return;
  buf = vos_dma_alloc(2048);
  make_read(&reqs[0], buf, 9, 1, 2048);
  expect(vblk_submit(&vb, &reqs[0]) == 0 && vblk_wait(&vb, &reqs[0]) == 0, "read failed");
  expect(tblk_is_pattern(buf, 9, 2048) && (int)fb->m.vdm.q[0].stats.requests == 4 && fb->m.max_seg_len == 256,
         "%d requests, pieces of %u", (int)fb->m.vdm.q[0].stats.requests, (unsigned)fb->m.max_seg_len);
  vblk_shutdown(&vb);
  tblk_destroy(fb);

  new_device(2, ALL_FEATURES);
  tblk_limits(fb, 256, 1);
  if (!start_driver(0))
    return;
  make_read(&reqs[0], buf, 9, 1, 512);
  expect(vblk_submit(&vb, &reqs[0]) == 0 && vblk_wait(&vb, &reqs[0]) == -1,
         "a request the limits cannot carry succeeded");
  expect((int)fb->m.vdm.q[0].stats.requests == 0 && !virtq_is_broken(&vb.vq), "device saw %d requests",
         (int)fb->m.vdm.q[0].stats.requests);
  vos_dma_free(buf, 2048);
}

// Segments that are not whole sectors: cuts fall only where a whole number
// of sectors is covered.
static void test_odd_segments(void)
{
  static const uint32_t lens[4] = { 100, 412, 512, 1536 };
  uint8_t *buf;
  uint32_t off = 0;
  int i;

  new_device(2, ALL_FEATURES);
  tblk_limits(fb, fb->m.size_max, 2);
  if (!start_driver(0))
    return;
  buf = vos_dma_alloc(2560);
  memset(&reqs[0], 0, sizeof(reqs[0]));
  reqs[0].type = VBLK_READ;
  reqs[0].sector = 40;
  reqs[0].nseg = 4;
  for (i = 0; i < 4; i++) {
    reqs[0].seg[i].addr = buf + off;
    reqs[0].seg[i].len = lens[i];
    off += lens[i];
  }
  expect(vblk_submit(&vb, &reqs[0]) == 0 && vblk_wait(&vb, &reqs[0]) == 0, "read failed");
  expect(tblk_is_pattern(buf, 40, 2560) && (int)fb->m.vdm.q[0].stats.requests == 2, "%d requests or wrong data",
         (int)fb->m.vdm.q[0].stats.requests);
  // 100 + 300 + 112: two pieces never make a whole sector.
  reqs[0].seg[1].len = 300;
  reqs[0].seg[2].len = 112;
  reqs[0].nseg = 3;
  expect(vblk_submit(&vb, &reqs[0]) == 0 && vblk_wait(&vb, &reqs[0]) == -1,
         "an uncuttable request succeeded");
  reqs[0].seg[2].len = 100;  // 500 bytes: not whole sectors at all
  expect(vblk_submit(&vb, &reqs[0]) == -1 && reqs[0].done && reqs[0].status == -1,
         "a request of 500 bytes was accepted");
  vos_dma_free(buf, 2560);
}

// ---- flush ----

static void test_flush(void)
{
  uint8_t *buf;

  if (!start(2, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc(4096);
  expect(vblk_rw(&vb, 1, 8, buf, 4096) == 0, "write");
  expect(vblk_flush(&vb) == 0 && (int)fb->m.flushes == 1, "flush: device saw %d", (int)fb->m.flushes);
  // Asynchronous, with a callback.
  memset(&reqs[0], 0, sizeof(reqs[0]));
  reqs[0].type = VBLK_FLUSH;
  reqs[0].complete = record_cb;
  expect(vblk_submit(&vb, &reqs[0]) == 0 && vblk_wait(&vb, &reqs[0]) == 0, "async flush");
  expect(ncb == 1 && (int)fb->m.flushes == 2, "callback %d, flushes %d", ncb, (int)fb->m.flushes);
  fb->m.vdm.fault = VDM_FAULT_IOERR;
  expect(vblk_flush(&vb) == -1, "a failed flush returned 0");
  fb->m.vdm.fault = VDM_FAULT_NONE;
  expect(vb.flushes == 2 && vb.errors == 1, "flushes %u errors %u", (unsigned)vb.flushes,
         (unsigned)vb.errors);
  vos_dma_free(buf, 4096);
}

static void test_flush_not_offered(void)
{
  if (!start(2, ALL_FEATURES & ~F(VIRTIO_BLK_F_FLUSH), 0))
    return;
  expect(!(fb->m.vdm.driver_features & F(VIRTIO_BLK_F_FLUSH)), "FLUSH accepted");
  expect(vblk_flush(&vb) == 0, "flush failed");
  expect((int)fb->m.vdm.q[0].stats.requests == 0, "device saw %d requests", (int)fb->m.vdm.q[0].stats.requests);
}

// ---- the asynchronous API ----

static void test_async_out_of_order(void)
{
  uint8_t *buf;
  int i, n = VBLK_NSLOT;

  if (!start(2, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc((size_t)n * 8192);
  fb->m.vdm.reverse = 1;
  for (i = 0; i < n; i++) {
    make_read(&reqs[i], buf + 8192 * i, (uint64_t)i * 20, 1 + i % 2, 4096);
    reqs[i].complete = record_cb;
    expect(vblk_submit_nokick(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  expect((int)fb->m.vdm.q[0].stats.notifies == 0, "notified before the kick");
  vblk_kick(&vb);
  for (i = 0; i < n; i++) {
    expect(vblk_wait(&vb, &reqs[i]) == 0, "request %d failed", i);
    expect(tblk_is_pattern(buf + 8192 * i, (uint64_t)i * 20, 4096 * (1 + i % 2)),
           "request %d got someone else's data", i);
  }
  expect((int)fb->m.vdm.q[0].stats.notifies == 1 && fb->max_outstanding == n, "%d notifies, %d in flight",
         (int)fb->m.vdm.q[0].stats.notifies, fb->max_outstanding);
  expect(ncb == n, "%d callbacks for %d requests", ncb, n);
  for (i = 0; i < ncb; i++)
    expect(cb_order[i] == n - 1 - i, "callback %d was request %d", i, cb_order[i]);
  vos_dma_free(buf, (size_t)n * 8192);
}

// Three times as many requests as slots: vblk_submit_nokick sleeps for
// room (and kicks what it queued, or nothing would ever finish).
static void test_async_more_than_slots(void)
{
  uint8_t *buf;
  int i, n = 3 * VBLK_NSLOT;

  if (!start(2, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc((size_t)n * 512);
  for (i = 0; i < n; i++) {
    make_read(&reqs[i], buf + 512 * i, (uint64_t)i, 1, 512);
    reqs[i].complete = record_cb;
    expect(vblk_submit_nokick(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  for (i = 0; i < n; i++)
    expect(vblk_wait(&vb, &reqs[i]) == 0 && tblk_is_pattern(buf + 512 * i, (uint64_t)i, 512),
           "request %d", i);
  expect(fb->max_outstanding == VBLK_NSLOT && ncb == n, "%d in flight, %d callbacks",
         fb->max_outstanding, ncb);
  vos_dma_free(buf, (size_t)n * 512);
}

// Mixed traffic on a small queue without indirect tables: two of part 3's
// long chains (6 data segments each, 8 descriptors) fill all 16 of the
// queue's descriptors while 3 of its 5 slots are still free. A vblk_rw
// that comes now has a slot but no room for its 3 descriptors: it must
// wait for room (virtq_room), not hand virtq_add a chain it cannot take.
static void test_mixed_long_chains(void)
{
  const uint32_t seg = 512;
  uint8_t *buf;
  int i, r;

  new_device(2, F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE));
  fb->m.vdm.queue_max = 16;
  if (!start_driver(0))
    return;
  if (!expect(vb.vq.size == 16 && vb.nslot == 5 && !vb.vq.itab_count,
              "queue of %u, %d slots, %d indirect tables: want 16, 5 and none",
              (unsigned)vb.vq.size, vb.nslot, (int)vb.vq.itab_count))
    return;
  buf = vos_dma_alloc(13 * seg);
  for (i = 0; i < 2; i++) {
    make_read(&reqs[i], buf + (size_t)i * 6 * seg, (uint64_t)i * 10, 6, seg);
    reqs[i].complete = record_cb;
    expect(vblk_submit(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  if (expect(virtq_free_count(&vb.vq) < 3 && vb.nslot_free > 0,
             "%d descriptors and %d slots free after two 8-descriptor chains: want fewer than "
             "3 descriptors and a free slot", virtq_free_count(&vb.vq), vb.nslot_free)) {
    r = vblk_rw(&vb, 0, 40, buf + 12 * seg, seg);
    expect(r == 0 && tblk_is_pattern(buf + 12 * seg, 40, seg), "vblk_rw with a free slot but "
           "no room in the queue for its 3 descriptors returned %d%s: it must wait until "
           "virtq_room says the chain fits", r, vb.dead ? " and the driver gave up on the "
           "device" : "");
  }
  for (i = 0; i < 2; i++)
    expect(vblk_wait(&vb, &reqs[i]) == 0 && tblk_is_pattern(buf + (size_t)i * 6 * seg,
           (uint64_t)i * 10, 6 * seg), "long request %d failed or got wrong data", i);
  expect(ncb == 2, "%d callbacks for 2 requests", ncb);
  vos_dma_free(buf, 13 * seg);
}

static void test_async_rejected(void)
{
  uint8_t *buf;

  new_device(2, ALL_FEATURES | F(VIRTIO_BLK_F_RO));
  if (!start_driver(0))
    return;
  buf = vos_dma_alloc(4096);
  make_read(&reqs[0], buf, CAP - 1, 1, 1024);  // runs past the end
  reqs[0].complete = record_cb;
  expect(vblk_submit(&vb, &reqs[0]) == -1, "request past the end accepted");
  expect(reqs[0].done && reqs[0].status == -1 && vblk_wait(&vb, &reqs[0]) == -1,
         "rejected request not done with -1");
  make_read(&reqs[1], buf, 0, 0, 512);  // no segments
  expect(vblk_submit(&vb, &reqs[1]) == -1, "request without segments accepted");
  make_read(&reqs[2], buf, 0, VBLK_MAX_SEGS, 8);
  reqs[2].nseg = VBLK_MAX_SEGS + 1;
  expect(vblk_submit(&vb, &reqs[2]) == -1, "too many segments accepted");
  make_read(&reqs[3], buf, 0, 1, 512);
  reqs[3].type = VBLK_WRITE;  // read-only disk
  expect(vblk_submit(&vb, &reqs[3]) == -1, "write to a read-only disk accepted");
  make_read(&reqs[4], buf, 0, 1, 512);
  reqs[4].type = 7;
  expect(vblk_submit(&vb, &reqs[4]) == -1, "unknown type accepted");
  expect(ncb == 0 && (int)fb->m.vdm.q[0].stats.requests == 0, "%d callbacks, %d device requests", ncb, (int)fb->m.vdm.q[0].stats.requests);
  vos_dma_free(buf, 4096);
}

static void watchdog_fail(void *arg)
{
  vblk_fail((struct vblk *)arg, "request timed out (test watchdog)");
}

// The device stops answering with 10 requests in flight: every one is
// finished with -1 and its callback runs.
static void test_async_device_dies(void)
{
  uint8_t *buf;
  int i;

  if (!start(2, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc(10 * 512);
  fb->m.vdm.fault = VDM_FAULT_NEVER;
  host_set_watchdog(watchdog_fail, &vb, 5);
  for (i = 0; i < 10; i++) {
    make_read(&reqs[i], buf + 512 * i, (uint64_t)i, 1, 512);
    reqs[i].complete = record_cb;
    expect(vblk_submit(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  for (i = 0; i < 10; i++)
    expect(vblk_wait(&vb, &reqs[i]) == -1, "request %d did not fail", i);
  expect(ncb == 10, "%d callbacks", ncb);
  vos_dma_free(buf, 10 * 512);
}

// What blkbench does, at depth 8: keep 8 requests in flight, refill in
// batches with one kick each. Target: at most 0.25 notifications and
// interrupts per request.
static void test_depth8_ratios(void)
{
  uint8_t *buf;
  int i, issued = 0, finished = 0, total = 400, depth = 8;
  double notif, intr, sent;

  if (!start(2, ALL_FEATURES, 0))
    return;
  buf = vos_dma_alloc(4096);
  for (i = 0; i < depth; i++) {
    make_read(&reqs[i], buf, (uint64_t)(issued++ % 64) * 8, 1, 4096);
    expect(vblk_submit_nokick(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  vblk_kick(&vb);
  while (finished < total && !host_test_failure()) {
    int k = finished % depth, refill = 0;
    expect(vblk_wait(&vb, &reqs[k]) == 0, "request %d", finished);
    // Take every finished request in order, refill each, one kick.
    while (finished < total && reqs[finished % depth].done) {
      struct vblk_req *r = &reqs[finished % depth];
      finished++;
      if (issued < total) {
        make_read(r, buf, (uint64_t)(issued++ % 64) * 8, 1, 4096);
        expect(vblk_submit_nokick(&vb, r) == 0, "submit %d", issued - 1);
        refill++;
      }
    }
    if (refill)
      vblk_kick(&vb);
  }
  notif = (double)vb.vq.stats.notifies / total;
  intr = (double)vb.vq.stats.interrupts / total;
  // What the device sent, not only what reached the driver: here several
  // used buffer notifications before the driver runs make one interrupt,
  // as they may on a real interrupt line.
  sent = (double)fb->m.vdm.q[0].stats.interrupts / total;
  printf("    depth 8: %.3f notifications, %.3f interrupts per request (the device sent %.3f)\n",
         notif, intr, sent);
  expect(notif <= 0.25 && intr <= 0.25 && sent <= 0.25, "%.3f notifications, %.3f interrupts "
         "per request (the device sent %.3f)", notif, intr, sent);
  vos_dma_free(buf, 4096);
}

// ---- runner ----

static void setup(void)
{
  memset(&vb, 0, sizeof(vb));
  memset(&dev, 0, sizeof(dev));
  memset(reqs, 0, sizeof(reqs));
  ncb = 0;
  fb = 0;
}

static void cleanup(int aborted)
{
  tblk_cleanup(&fb, &vb, aborted);
}

int main(int argc, char **argv)
{
  host_tests_begin(argc, argv, setup, cleanup);
  host_run("perf_features_negotiated", test_features_negotiated);
  host_run("perf_features_absent", test_features_absent);
  host_run("perf_features_absent_small_queue", test_features_absent_small_queue);
  host_run("perf_baseline_mode", test_baseline_mode);
  host_run_split("perf_reinit_modes", test_reinit_modes);
  host_run("perf_event_idx_kick_suppression", test_event_idx_kick_suppression);
  host_run_split("perf_event_idx_kick_suppression_legacy", test_event_idx_kick_suppression_legacy);
  host_run("perf_no_event_idx_kicks", test_no_event_idx_kicks);
  host_run("perf_event_idx_interrupt_suppression", test_event_idx_interrupt_suppression);
  host_run("perf_no_event_idx_interrupts", test_no_event_idx_interrupts);
  host_run("perf_event_idx_recheck_race", test_event_idx_recheck_race);
  host_run("perf_event_idx_recheck_at_barrier", test_event_idx_recheck_at_barrier);
  host_run("perf_no_interrupt_flag_race", test_no_interrupt_flag_race);
  host_run("perf_event_idx_wraparound", test_event_idx_wraparound);
  host_run("perf_indirect_large_request", test_indirect_large_request);
  host_run("perf_indirect_small_queue", test_indirect_small_queue);
  host_run("perf_indirect_bad_len", test_indirect_bad_len);
  host_run("perf_indirect_bad_id", test_indirect_bad_id);
  host_run("perf_indirect_fallback", test_indirect_fallback);
  host_run("perf_seg_max_split", test_seg_max_split);
  host_run("perf_size_max_split", test_size_max_split);
  host_run("perf_size_max_below_sector", test_size_max_below_sector);
  host_run("perf_odd_segments", test_odd_segments);
  host_run("perf_flush", test_flush);
  host_run("perf_flush_not_offered", test_flush_not_offered);
  host_run("perf_async_out_of_order", test_async_out_of_order);
  host_run("perf_async_more_than_slots", test_async_more_than_slots);
  host_run("perf_mixed_long_chains", test_mixed_long_chains);
  host_run("perf_async_rejected", test_async_rejected);
  host_run("perf_async_device_dies", test_async_device_dies);
  host_run("perf_depth8_ratios", test_depth8_ratios);

  return host_tests_done();
}
