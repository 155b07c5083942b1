// test_trace.c: host unit tests of the virtqueue recording
// (virtio/virtq_trace.c) with both halves of every request in one
// buffer: the driver's side from the hooks in virtq.c and virtq_packed.c,
// the device's side from the device model's (devmodel/vdm.c,
// vdm_trace_start).
//
// Follows virtio 1.2 section 2.7 (Split Virtqueues) and 2.8 (Packed
// Virtqueues): every test runs on both layouts (host_run), and the checks
// compare what each side recorded with what the other did (every chain or
// buffer the driver added is popped by the device at the same ring
// position, every used element the device wrote is reaped by the driver at
// the same position). trace_packed_wrap drives a small packed ring round
// and round and checks each side's wrap counters (2.8.1) as recorded.
//
// Some of the tests leave their recordings in build/host/ as raw records
// (trace-blk.vtr, with EVENT_IDX and indirect tables; trace-blk-plain.vtr,
// with neither; the same with -packed, on the packed ring; and
// trace-blk-packed-wrap.vtr): tests/qemu/test_trace.py renders them with
// tools/trace/vtrace.py and checks the page shows both halves.
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
#include "virtq_trace.h"
#include "virtio_blk.h"
#include "host.h"
#include "devfix.h"

#define BASE 0x10001000u
#define CAP  2048u       // sectors
#define NREC 4096
#define NREQ 8

static struct tblk *fb;
static struct vio_dev dev;
static struct vblk vb;
static struct vtr_rec buf[NREC], out[NREC];
static struct vtrace tr;
static struct vblk_req reqs[NREQ];
static char outdir[512];   // where the test program lives (build/host)

static uint64_t fake_now;

// A clock that only moves forward: records get distinct, ordered times.
static uint64_t fake_clock(void)
{
  return ++fake_now;
}

// A block device offering `features` (and the test's ring layout) with
// queues of at most qmax entries, and the driver started on it.
static int start_sized(uint64_t features, uint16_t qmax)
{
  fb = tblk_create(BASE, 2, CAP);
  fb->m.vdm.offered = features | (1ull << VIRTIO_F_VERSION_1);
  fb->m.vdm.queue_max = qmax;
  fix_layout(&fb->m.vdm);
  tblk_limits(fb, 1u << 20, 64);
  if (!tblk_start_driver(&dev, &vb, BASE, 0))
    return 0;
  return fix_check_layout(&vb.vq, &dev);
}

static int start(uint64_t features)
{
  return start_sized(features, VDM_QUEUE_MAX);
}

#define F(bit) (1ull << (bit))
#define ALL (F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_FLUSH) | \
             F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX))

// Record queue 0 on both sides.
static int trace_on(struct vtrace *t, struct vtr_rec *b, uint32_t n)
{
  int qid;

  vtrace_init(t, b, n, fake_clock, 1000000);
  vtrace_begin(t);
  vos_lock(&vb.lock);
  qid = virtq_trace_start(&vb.vq, t, "blk requestq");
  vos_unlock(&vb.lock);
  if (!expect(qid == 0, "virtq_trace_start returned %d", qid))
    return -1;
  vdm_trace_start(&fb->m.vdm, 0, t, qid);
  return qid;
}

static uint32_t trace_off(struct vtrace *t)
{
  vos_lock(&vb.lock);
  virtq_trace_stop(&vb.vq);
  vos_unlock(&vb.lock);
  vdm_trace_stop(&fb->m.vdm, 0);
  vtrace_end(t);
  return vtrace_read(t, out, NREC);
}

static int count(uint32_t n, int type)
{
  uint32_t i;
  int c = 0;

  for (i = 0; i < n; i++)
    c += out[i].type == type;
  return c;
}

static void save(const char *name, uint32_t n)
{
  char path[600];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", outdir, name);
  f = fopen(path, "wb");
  if (!expect(f != 0, "cannot write %s", path))
    return;
  expect(fwrite(out, sizeof(out[0]), n, f) == n, "short write to %s", path);
  fclose(f);
}

// A few reads of different shapes, three of them in flight at once, and a
// flush: one segment, four segments, sixteen.
static void workload(uint8_t *data)
{
  static const int nseg[3] = { 1, 4, 16 };
  int i, j;

  memset(reqs, 0, sizeof(reqs));
  for (i = 0; i < 3; i++) {
    reqs[i].type = VBLK_READ;
    reqs[i].sector = (uint64_t)i * 64;
    reqs[i].nseg = nseg[i];
    for (j = 0; j < nseg[i]; j++) {
      reqs[i].seg[j].addr = data + (size_t)(i * 16 + j) * 512;
      reqs[i].seg[j].len = 512;
    }
    expect(vblk_submit_nokick(&vb, &reqs[i]) == 0, "submit %d", i);
  }
  vblk_kick(&vb);
  for (i = 0; i < 3; i++)
    expect(vblk_wait(&vb, &reqs[i]) == 0 &&
           tblk_is_pattern(data + (size_t)i * 16 * 512, (uint64_t)i * 64, (uint32_t)nseg[i] * 512),
           "request %d", i);
  expect(vblk_rw(&vb, 0, 200, data, 1024) == 0 && tblk_is_pattern(data, 200, 1024), "vblk_rw");
  expect(vblk_flush(&vb) == 0, "flush");
}

// The two halves agree: every ADD's ring position is popped by the device
// with the same head, every used element the device wrote at a position
// is reaped there with the same id and length; counts match both sides'
// own counters. The same on the packed ring, where an ADD has the buffer
// id in a and its first entry's position (slot and wrap counter) in b, and
// the device's DPOP the other way round, as on the split ring.
static void check_halves(uint32_t n, uint32_t added, uint32_t dev_notifies)
{
  uint32_t i, j;
  int adds = count(n, VTR_ADD), pops = count(n, VTR_DPOP);
  int used = count(n, VTR_USED), dused = count(n, VTR_DUSED);
  int kicks_notified = 0;

  expect(adds == (int)added && adds > 0, "%d ADD records for %u chains", adds, (unsigned)added);
  expect(pops == adds && dused == adds && used == adds,
         "ADD %d, device pops %d, device used %d, driver reaped %d", adds, pops, dused, used);
  for (i = 0; i < n; i++) {
    if (out[i].type == VTR_KICK && out[i].c)
      kicks_notified++;
    if (out[i].type == VTR_ADD) {
      for (j = i + 1; j < n; j++)
        if (out[j].type == VTR_DPOP && out[j].a == out[i].b)
          break;
      expect(j < n && out[j].b == out[i].a, "ADD head %u at pos %u: device popped %s",
             out[i].a, out[i].b, j < n ? "another head" : "nothing");
    }
    if (out[i].type == VTR_DUSED) {
      for (j = i + 1; j < n; j++)
        if (out[j].type == VTR_USED && out[j].a == out[i].a)
          break;
      expect(j < n && out[j].d == out[i].d && out[j].x == out[i].x,
             "used element at pos %u (id %u) not reaped as written", out[i].a, (unsigned)out[i].d);
    }
  }
  expect(kicks_notified == count(n, VTR_DNOTIFY) && (uint32_t)kicks_notified == dev_notifies,
         "%d notifying kicks, %d DNOTIFY records, device counted %u", kicks_notified,
         count(n, VTR_DNOTIFY), (unsigned)dev_notifies);
  expect(out[0].type == VTR_BEGIN && out[0].a == VTR_VERSION && out[n - 1].type == VTR_END &&
         out[n - 1].d == 0 && out[n - 1].x == n, "frame: BEGIN ... END(dropped 0, %u records)",
         (unsigned)n);
  for (i = 0; i < n; i++)
    expect(out[i].seq == i, "record %u has seq %u", (unsigned)i, (unsigned)out[i].seq);
}

// The file a test leaves its recording in: name.vtr, or name-packed.vtr
// on the packed ring.
static void save_layout(const char *name, uint32_t n)
{
  char file[64];

  snprintf(file, sizeof(file), "%s%s.vtr", name, host_packed ? "-packed" : "");
  save(file, n);
}

static void both_halves(uint64_t features, const char *name)
{
  uint8_t *data;
  uint32_t n, added0, notifies0, intr0;

  if (!start(features))
    return;
  data = vos_dma_alloc(48 * 512);
  expect(vblk_rw(&vb, 0, 1, data, 512) == 0, "warm-up read");
  added0 = vb.vq.stats.added;
  notifies0 = fb->m.vdm.q[0].stats.notifies;
  intr0 = vb.vq.stats.interrupts;
  if (trace_on(&tr, buf, NREC) < 0)
    goto out;
  workload(data);
  n = trace_off(&tr);
  check_halves(n, vb.vq.stats.added - added0, fb->m.vdm.q[0].stats.notifies - notifies0);
  expect(count(n, VTR_DSTATE) == 1 && count(n, VTR_QUEUE) == 1, "one snapshot per side");
  expect(count(n, VTR_INTR) == (int)(vb.vq.stats.interrupts - intr0) && count(n, VTR_INTR) > 0,
         "%d INTR records for %u interrupts", count(n, VTR_INTR),
         (unsigned)(vb.vq.stats.interrupts - intr0));
  if (features & F(VIRTIO_RING_F_INDIRECT_DESC))
    expect(count(n, VTR_IDESC) >= 4 + 16 + 2, "%d indirect entries recorded", count(n, VTR_IDESC));
  else
    expect(count(n, VTR_IDESC) == 0 && count(n, VTR_DESC) >= 3 + 6 + 18,
           "%d DESC, %d IDESC records", count(n, VTR_DESC), count(n, VTR_IDESC));
  // Each layout's own snapshot, and nothing of the other's.
  if (host_packed)
    expect(count(n, VTR_PSTATE) == 1 && count(n, VTR_PEVENTS) == 1 &&
           count(n, VTR_PRING) == vb.vq.size && count(n, VTR_STATE) == 0 &&
           (out[1].c & VTR_Q_PACKED), "packed snapshot: %d PSTATE, %d PRING of %u entries",
           count(n, VTR_PSTATE), count(n, VTR_PRING), (unsigned)vb.vq.size);
  else
    expect(count(n, VTR_STATE) == 1 && count(n, VTR_AVRING) > 0 && count(n, VTR_PRING) == 0 &&
           !(out[1].c & VTR_Q_PACKED), "split snapshot: %d STATE, %d PRING",
           count(n, VTR_STATE), count(n, VTR_PRING));
  save_layout(name, n);
out:
  vos_dma_free(data, 48 * 512);
}

static void test_both_halves(void)
{
  both_halves(ALL, "trace-blk");
}

static void test_both_halves_plain(void)
{
  both_halves(F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_FLUSH), "trace-blk-plain");
}

// Nobody traces: the queue's pointer is clear after set-up, and a begun
// trace holds BEGIN and END only, whatever the driver did.
static void test_off_records_nothing(void)
{
  uint8_t *data;
  uint32_t n;

  if (!start(ALL))
    return;
  expect(vb.vq.trace == 0 && fb->m.vdm.q[0].trace == 0, "a fresh queue is traced");
  vtrace_init(&tr, buf, NREC, 0, 0);
  vtrace_begin(&tr);
  data = vos_dma_alloc(48 * 512);
  workload(data);
  vtrace_end(&tr);
  n = vtrace_read(&tr, out, NREC);
  expect(n == 2 && out[0].type == VTR_BEGIN && out[1].type == VTR_END && out[0].d == 0,
         "%u records, first type %d", (unsigned)n, out[0].type);
  vos_dma_free(data, 48 * 512);
}

// A buffer too small for the whole run: what is kept is a whole
// beginning, closed by END with the count of the steps dropped. Each step
// is all there or not at all (an ADD with every descriptor), and nothing
// follows a dropped step: a later, smaller one (a kick, a reap) that
// still fits would speak of a chain the recording never added. Buffers
// of many sizes, so that the first step that does not fit falls on every
// kind of step, with room left for smaller ones.
static void test_bounded(void)
{
  uint8_t *data;
  uint32_t n, i, k, cap, base = 64;

  if (!start(ALL))
    return;
  data = vos_dma_alloc(48 * 512);
  // The packed snapshot holds every ring entry: room for those too.
  if (host_packed)
    base += vb.vq.size;
  for (cap = base; cap <= base + 96 && !host_test_failure(); cap++) {
    if (trace_on(&tr, buf, cap) < 0)
      goto out;
    workload(data);
    workload(data);
    n = trace_off(&tr);
    expect(n <= cap && n > cap / 2 && out[n - 1].type == VTR_END && out[n - 1].d > 0,
           "buffer of %u: %u records, last type %d, %u dropped", (unsigned)cap, (unsigned)n,
           out[n - 1].type, (unsigned)out[n - 1].d);
    for (i = 0; i < n; i++) {
      if (out[i].type == VTR_USED || out[i].type == VTR_DUSED) {
        uint32_t id = out[i].d;
        for (k = i; k > 0; k--)
          if ((out[k - 1].type == VTR_ADD || out[k - 1].type == VTR_HELD) && out[k - 1].a == id)
            break;
        expect(k > 0, "buffer of %u: record %u (type %d) returns chain %u, which the recording "
               "never added: its ADD was dropped and a later, smaller step kept", (unsigned)cap,
               (unsigned)i, out[i].type, (unsigned)id);
      }
      if (out[i].type != VTR_ADD)
        continue;
      for (k = 1; i + k < n && (out[i + k].type == VTR_DESC || out[i + k].type == VTR_IDESC); k++)
        ;
      expect(k - 1 >= out[i].c, "buffer of %u: ADD at record %u has %u of its %u descriptors",
             (unsigned)cap, (unsigned)i, (unsigned)(k - 1), (unsigned)out[i].c);
    }
    expect(vtrace_read(&tr, out, NREC) == 0, "records read twice");
  }
out:
  vos_dma_free(data, 48 * 512);
}

// Started while the device holds chains: the snapshot lists them (HELD,
// with their descriptors) and the free list without them; the device then
// pops and returns exactly those.
static void test_snapshot_held(void)
{
  uint8_t *data;
  uint32_t n, i, nfree = 0;
  int held = 0, j;

  if (!start(ALL))
    return;
  data = vos_dma_alloc(48 * 512);
  memset(reqs, 0, sizeof(reqs));
  for (j = 0; j < 2; j++) {
    reqs[j].type = VBLK_READ;
    reqs[j].sector = (uint64_t)j * 8;
    reqs[j].nseg = 2;
    reqs[j].seg[0].addr = data + j * 2048;
    reqs[j].seg[0].len = 1024;
    reqs[j].seg[1].addr = data + j * 2048 + 1024;
    reqs[j].seg[1].len = 1024;
    expect(vblk_submit(&vb, &reqs[j]) == 0, "submit %d", j);
  }
  if (trace_on(&tr, buf, NREC) < 0)
    goto out;
  for (j = 0; j < 2; j++)
    expect(vblk_wait(&vb, &reqs[j]) == 0, "request %d", j);
  n = trace_off(&tr);
  for (i = 0; i < n; i++) {
    if (out[i].type == VTR_HELD) {
      held++;
      // An indirect chain: one ring descriptor, then its table. On the
      // packed ring the entry itself is among the PRING records, and the
      // table (header, two data buffers, status) follows the HELD.
      if (host_packed)
        expect(out[i].b == 0xffff && out[i].c == 1 && out[i + 1].type == VTR_IDESC &&
               out[i + 4].type == VTR_IDESC && out[i + 2].d == 1024,
               "HELD buffer %u: %u ring entries, then record type %d", out[i].a, out[i].c,
               out[i + 1].type);
      else
        expect(out[i].b == 0xffff && out[i].c == 1 && out[i + 1].type == VTR_DESC &&
               (out[i + 1].b & VIRTQ_DESC_F_INDIRECT) && out[i + 2].type == VTR_IDESC,
               "HELD chain %u: %u ring descriptors", out[i].a, out[i].c);
    }
    if (out[i].type == VTR_FREE)
      nfree += out[i].a;
  }
  expect(held == 2, "%d chains held in the snapshot", held);
  expect(nfree == (uint32_t)vb.vq.size - 2, "free list of %u in the snapshot", (unsigned)nfree);
  expect(count(n, VTR_DPOP) == 2 && count(n, VTR_USED) == 2 && count(n, VTR_ADD) == 0,
         "pops %d reaps %d adds %d", count(n, VTR_DPOP), count(n, VTR_USED), count(n, VTR_ADD));
out:
  vos_dma_free(data, 48 * 512);
}

// The text of the TEXT records from out[i] on (up to the first record of
// another kind), NUL-terminated in t: a reason spans as many as it needs.
static void record_text(uint32_t i, uint32_t n, char *t, size_t size)
{
  size_t k = 0, j;

  for (; i < n && out[i].type == VTR_TEXT; i++)
    for (j = 8; j < sizeof(struct vtr_rec) && k + 1 < size; j++)
      t[k++] = (char)((uint8_t *)&out[i])[j];
  t[k] = 0;
}

// A device that lies: the refused used element is recorded with its id
// and the reason the queue gave, and then the queue giving up with that
// same reason. The reason's words are the driver's own (virtq_get's
// bad_used), so the test compares them with the queue's broken_why, not
// with a wording of its own.
static void test_bad_used(void)
{
  uint8_t *data;
  uint32_t n, i;
  int bad = 0, broken = 0;
  char text[256];
  const char *why;

  if (!start(ALL))
    return;
  data = vos_dma_alloc(512);
  if (trace_on(&tr, buf, NREC) < 0)
    goto out;
  fb->m.vdm.fault = VDM_FAULT_BAD_ID;
  expect(vblk_rw(&vb, 0, 3, data, 512) < 0, "a read with a bad used id succeeded");
  n = trace_off(&tr);
  why = vb.vq.broken_why;
  if (!expect(virtq_is_broken(&vb.vq) && why && why[0], "the queue did not break on a used id "
              "past the queue"))
    goto out;
  for (i = 0; i + 1 < n; i++) {
    if (out[i].type == VTR_BAD) {
      bad++;
      record_text(i + 1, n, text, sizeof(text));
      expect(out[i].d == (uint32_t)vb.vq.size + 5 && strcmp(text, why) == 0,
             "BAD record: id %u (the device wrote %u), reason \"%s\" (the queue's: \"%s\")",
             (unsigned)out[i].d, (unsigned)vb.vq.size + 5, text, why);
    }
    if (out[i].type == VTR_BROKEN) {
      broken++;
      record_text(i + 1, n, text, sizeof(text));
      expect(strcmp(text, why) == 0, "BROKEN record: reason \"%s\" (the queue's: \"%s\")",
             text, why);
    }
  }
  expect(bad == 1 && broken == 1, "%d BAD and %d BROKEN records", bad, broken);
out:
  fb->m.vdm.fault = VDM_FAULT_NONE;
  vos_dma_free(data, 512);
}

// The packed ring's wrap counters (2.8.1), as both sides recorded them: a
// queue of 7 entries, requests of three entries each (no indirect tables),
// 21 of them: 63 entries, so each of the four positions (the driver's
// next to fill and next used, the device's next to read and next to use)
// passes the end of the ring 9 times and ends at slot 0 with its wrap
// counter 0. Each pass is one WRAP record, flipping 1, 0, 1, ...; every
// entry the driver made available carries its lap's AVAIL/USED bits, and
// every used entry the device wrote AVAIL = USED = its own counter.
static void test_packed_wrap(void)
{
  uint8_t *data;
  uint32_t n, i;
  int j, flips[4] = { 0, 0, 0, 0 }, ok_bits = 1;
  uint8_t expect_wrap[4] = { 0, 0, 0, 0 };

  if (!start_sized(F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_RING_F_EVENT_IDX), 7))
    return;
  if (!expect(vb.vq.size == 7, "queue of %u entries", (unsigned)vb.vq.size))
    return;
  data = vos_dma_alloc(512);
  if (trace_on(&tr, buf, NREC) < 0)
    goto out;
  for (j = 0; j < 21; j++)
    expect(vblk_rw(&vb, 0, (uint64_t)j, data, 512) == 0 && tblk_is_pattern(data, (uint64_t)j, 512),
           "read %d", j);
  n = trace_off(&tr);
  check_halves(n, 21, count(n, VTR_DNOTIFY));
  for (i = 0; i < n; i++) {
    if (out[i].type == VTR_WRAP && out[i].a < 4) {
      // 1 -> 0 -> 1 ...: flip k leaves the counter at k % 2 == 1 ? 0 : 1.
      expect(out[i].b == expect_wrap[out[i].a] && out[i].c < 7, "WRAP %u: counter %u at slot %u",
             out[i].a, out[i].b, out[i].c);
      expect_wrap[out[i].a] ^= 1;
      flips[out[i].a]++;
    }
    if (out[i].type == VTR_ADD) {
      // The entries after the end carry the next lap's bits.
      uint16_t slot = out[i].b & 0x7fff, k;
      uint8_t wrap = (uint8_t)(out[i].b >> 15);
      for (k = 0; k < out[i].c; k++) {
        uint16_t f = out[i + 1 + k].b;
        ok_bits &= out[i + 1 + k].type == VTR_DESC && out[i + 1 + k].a == slot &&
                   !!(f & VIRTQ_DESC_F_AVAIL) == wrap && !!(f & VIRTQ_DESC_F_USED) != wrap;
        if (++slot == 7) {
          slot = 0;
          wrap ^= 1;
        }
      }
    }
    if (out[i].type == VTR_DUSED) {
      uint8_t wrap = (uint8_t)(out[i].a >> 15);
      ok_bits &= !!(out[i].b & VIRTQ_DESC_F_AVAIL) == wrap && !!(out[i].b & VIRTQ_DESC_F_USED) == wrap;
    }
  }
  expect(ok_bits, "an entry's AVAIL/USED bits do not match its lap");
  expect(flips[VTR_WRAP_DRIVER] == 9 && flips[VTR_WRAP_DRIVER_USED] == 9 &&
         flips[VTR_WRAP_DEVICE_AVAIL] == 9 && flips[VTR_WRAP_DEVICE] == 9,
         "wrap counters flipped %d (driver), %d (driver reading), %d (device reading), %d (device)",
         flips[0], flips[1], flips[2], flips[3]);
  expect(vb.vq.next_avail == 0 && vb.vq.avail_wrap == 0 && vb.vq.next_used == 0 &&
         vb.vq.used_wrap == 0, "driver at %u (wrap %u), reading at %u (wrap %u)",
         (unsigned)vb.vq.next_avail, (unsigned)vb.vq.avail_wrap, (unsigned)vb.vq.next_used,
         (unsigned)vb.vq.used_wrap);
  save("trace-blk-packed-wrap.vtr", n);
out:
  vos_dma_free(data, 512);
}

static void setup(void)
{
  memset(&vb, 0, sizeof(vb));
  memset(&dev, 0, sizeof(dev));
  fb = 0;
  fake_now = 0;
}

static void cleanup(int aborted)
{
  // The device is in tr's recording only while a test runs.
  if (fb)
    vdm_trace_stop(&fb->m.vdm, 0);
  tblk_cleanup(&fb, &vb, aborted);
}

int main(int argc, char **argv)
{
  const char *slash = strrchr(argv[0], '/');
  size_t len = slash ? (size_t)(slash - argv[0]) : 1;

  snprintf(outdir, sizeof(outdir), "%.*s", (int)len, slash ? argv[0] : ".");
  host_tests_begin(argc, argv, setup, cleanup);
  host_run("trace_both_halves", test_both_halves);
  host_run("trace_both_halves_plain", test_both_halves_plain);
  host_run("trace_off_records_nothing", test_off_records_nothing);
  host_run("trace_bounded", test_bounded);
  host_run("trace_snapshot_held", test_snapshot_held);
  host_run("trace_bad_used", test_bad_used);
  host_run_packed("trace_packed_wrap", test_packed_wrap);
  return host_tests_done();
}
