// test_device.c: host unit tests of the device's half of the split
// virtqueue (devmodel/vdm.c) at the level of single stores, loads and
// barriers: taking chains off the available ring (virtio 1.2 2.7.6, and
// 2.7.13.3 read from the device's side), putting elements on the used
// ring (2.7.8, 2.7.8.2), the used buffer notification and its
// suppression (2.7.7: the flags word, and with EVENT_IDX used_event,
// 2.7.7.2), asking for available buffer notifications (avail_event,
// 2.7.10), and the interrupt register pair (InterruptStatus and
// InterruptACK, 4.2.2, 4.2.3.4), and a block request as the device
// answers it (5.2.6).
//
// The test is the driver, and writes the rings by hand: descriptors,
// available ring entries, avail.idx, avail.flags, used_event, exactly as
// virtio/virtq.c would, but one store at a time and nothing more, so that
// what is tested is the device alone. The device is the model's entropy
// device (devmodel/vdm_rng.c): a request is a chain of device-writable
// buffers it fills; and, for block requests, its disk (vdm_blk.c). Where the point is a barrier of the device, vos_mb
// calls a hook (host_set_mb_hook) that plays a driver running beside it
// on another CPU: at the barrier it makes visible a store the device must
// not have read before it, or reads what the device must have written by
// then. That is how a missing barrier becomes a failure on a host CPU that
// would never reorder these accesses by itself.
//
// Run: make -C tests/host check, or build/host/test_device NAME... for some.
// Output: one line per test, "PASS: name" or "FAIL: name: why".
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

#define BASE 0x1000a000u
#define NBUF 64

static struct trng *fr;
static struct vdm *m;          // fr's device model
static struct vio_dev dev;
static struct virtq vq;        // only its rings: virtq_init lays them out
static uint8_t *bufs;          // NBUF buffers of 64 bytes, DMA memory
static int wire;               // times the device pulled its interrupt wire
static uint16_t popped[16];    // heads as the device took them (its observer)
static int npopped;

static void count_wire(void *arg)
{
  wire++;
}

static void observe(struct vdm *d, int event, int q, uint16_t head)
{
  if (event == VDM_EV_POP && npopped < 16)
    popped[npopped++] = head;
}

// A live queue of `size` entries on the entropy device, with EVENT_IDX
// if event_idx, no indirect tables; every buffer 0x00.
static int start(uint16_t size, int event_idx)
{
  uint64_t f = event_idx ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0;

  fr = trng_create(BASE, 2, 11);
  m = &fr->m.vdm;
  m->offered &= ~((1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC));
  m->offered |= f;
  if (!expect(vio_probe(&dev, BASE) == 1, "probe") ||
      !expect(vio_negotiate(&dev, f) == 0, "negotiate") ||
      !expect(virtq_init(&vq, &dev, 0, size) == 0 && vq.size == size, "a queue of %u",
              (unsigned)size))
    return 0;
  vio_driver_ok(&dev);
  m->raise_irq = count_wire;
  m->irq_arg = 0;
  m->observer = observe;
  bufs = vos_dma_alloc(NBUF * 64);
  return 1;
}

static void stop(void)
{
  host_set_mb_hook(0, 0);
  if (fr)
    fix_check_model(m, 0);
  if (dev.base)
    vio_reset(&dev);
  if (vq.mem)
    virtq_destroy(&vq);
  if (bufs)
    vos_dma_free(bufs, NBUF * 64);
  bufs = 0;
  if (fr)
    trng_destroy(fr);
  fr = 0;
  m = 0;
}

// ---- the driver's stores, by hand ----

static void st16(uint16_t *p, uint16_t v)
{
  *(volatile uint16_t *)p = v;
}

static uint16_t ld16(uint16_t *p)
{
  return *(volatile uint16_t *)p;
}

// Descriptors d .. d+n-1 as one chain of n device-writable buffers of 8
// bytes, each in buffer (d + k) % NBUF.
static void chain(uint16_t d, int n)
{
  int k;

  for (k = 0; k < n; k++) {
    struct virtq_desc *x = &vq.desc[d + k];
    x->addr = vos_virt_to_phys(bufs + 64 * ((d + k) % NBUF));
    x->len = 8;
    x->flags = VIRTQ_DESC_F_WRITE | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
    x->next = (uint16_t)(d + k + 1);
  }
}

// Entry i of the available ring names head, and avail.idx becomes i + 1:
// in that order, as 2.7.13 asks of a driver.
static void publish(uint16_t i, uint16_t head)
{
  vq.avail->ring[i % vq.size] = head;
  st16(&vq.avail->idx, (uint16_t)(i + 1));
}

static uint16_t used_idx(void)
{
  return ld16(&vq.used->idx);
}

static uint16_t avail_event(void)
{
  return ld16(vq.avail_event);
}

// ---- taking chains off the available ring (2.7.6) ----

// Four chains, one of them three buffers long, published out of
// descriptor order: the device takes each, in the ring's order, and gives
// it back whole.
static void test_dev_pop_chains(void)
{
  static const uint16_t heads[4] = { 3, 1, 2, 5 };
  static const uint32_t lens[4] = { 8, 8, 8, 24 };
  int i;

  if (!start(16, 0))
    goto out;
  chain(1, 1);
  chain(2, 1);
  chain(3, 1);
  chain(5, 3);
  for (i = 0; i < 4; i++)
    publish((uint16_t)i, heads[i]);
  vdm_run(m);
  if (!expect(m->q[0].stats.requests == 4 && npopped == 4, "the device took %u of the 4 "
              "chains published (avail.idx 4)", m->q[0].stats.requests))
    goto out;
  expect(m->q[0].last_avail == 4, "last_avail %u after 4 entries", (unsigned)m->q[0].last_avail);
  for (i = 0; i < 4; i++)
    expect(popped[i] == heads[i], "the device's chain %d: head %u, but ring entry %d names %u",
           i, (unsigned)popped[i], i, (unsigned)heads[i]);
  // What the device did with them is step 2's: each came back whole.
  if (used_idx() == 4)
    for (i = 0; i < 4; i++)
      expect(vq.used->ring[i].id == heads[i] && vq.used->ring[i].len == lens[i],
             "used element %d: id %u len %u, want id %u len %u (the chain of ring entry %d)", i,
             (unsigned)vq.used->ring[i].id, (unsigned)vq.used->ring[i].len,
             (unsigned)heads[i], (unsigned)lens[i], i);
out:
  stop();
}

// The stale ring entry a device would read if it did not wait for its
// barrier after loading avail.idx.
static void pop_barrier_hook(void *arg)
{
  int *armed = arg;

  if (*armed) {
    // The driver's store of the entry: a device reordering its loads
    // could have read the entry before this.
    vq.avail->ring[0] = 4;
    *armed = 0;
  }
}

// 2.7.13.3 from the device's side: it reads avail.idx, then the entries
// it covers. Here avail.idx already says 1 while ring entry 0 still holds
// what was there before (200, no descriptor); the entry's real value
// arrives at the device's first barrier. A device that read the entry
// before that barrier took the stale one.
static void test_dev_pop_barrier(void)
{
  int armed = 1;

  if (!start(16, 0))
    goto out;
  chain(4, 1);
  vq.avail->ring[0] = 200;
  st16(&vq.avail->idx, 1);
  host_set_mb_hook(pop_barrier_hook, &armed);
  vdm_run(m);
  host_set_mb_hook(0, 0);
  if (!expect(npopped == 1 || m->violations > 0,
              "the device took %d chains after avail.idx became 1", npopped))
    goto out;
  expect(m->violations == 0 && npopped == 1 && popped[0] == 4,
         "the device read ring entry 0 before its barrier after the load of avail.idx: it saw "
         "the entry as it was before the driver wrote it (%s)",
         m->violations ? m->first_violation : "the wrong head");
  m->violations = 0;
out:
  stop();
}

// ---- the used ring (2.7.8) ----

// A queue of 4 entries, 30 chains in rounds of 3: every element lands in
// entry used_idx % 4, names its chain and the bytes written, and used.idx
// counts them all.
static void test_dev_used_ring(void)
{
  uint16_t n = 0, i, k;

  if (!start(4, 0))
    goto out;
  for (k = 0; k < 10; k++) {
    for (i = 0; i < 3; i++) {
      chain(i, 1);
      publish((uint16_t)(n + i), i);
    }
    vdm_run(m);
    if (!expect(used_idx() == (uint16_t)(n + 3), "round %u: used.idx %u, want %u", (unsigned)k,
                (unsigned)used_idx(), (unsigned)(n + 3)))
      goto out;
    for (i = 0; i < 3; i++) {
      struct virtq_used_elem *e = &vq.used->ring[(n + i) % 4];
      if (!expect(e->id == i && e->len == 8, "round %u: used entry %u (position %u) has id %u "
                  "len %u, want id %u len 8", (unsigned)k, (unsigned)(n + i),
                  (unsigned)((n + i) % 4), (unsigned)e->id, (unsigned)e->len, (unsigned)i))
        goto out;
    }
    n = (uint16_t)(n + 3);
  }
out:
  stop();
}

struct used_watch {
  uint16_t old_idx;   // used.idx before the device's work
  int seen;           // a barrier found the element written, used.idx not yet moved
};

static void used_barrier_hook(void *arg)
{
  struct used_watch *w = arg;

  if (used_idx() == w->old_idx && vq.used->ring[w->old_idx % vq.size].id == 7)
    w->seen = 1;
}

// 2.7.8.2: the device writes the element, then (after a barrier) used.idx,
// which is what the driver reads first. Some barrier of the device must
// find the element already written and used.idx not yet moved.
static void test_dev_used_barrier(void)
{
  struct used_watch w = { 0, 0 };

  if (!start(16, 0))
    goto out;
  vq.used->ring[0].id = 0xffff;
  chain(7, 1);
  publish(0, 7);
  host_set_mb_hook(used_barrier_hook, &w);
  vdm_run(m);
  host_set_mb_hook(0, 0);
  if (!expect(used_idx() == 1, "used.idx %u after one chain", (unsigned)used_idx()))
    goto out;
  expect(w.seen, "no barrier between the store of the used element and the store of used.idx "
         "(2.7.8.2): a driver could read the new used.idx and an old element");
out:
  stop();
}

// ---- the used buffer notification (2.7.7, 4.2.3.4) ----

// Without EVENT_IDX: an interrupt after every batch of completions unless
// avail.flags says VIRTQ_AVAIL_F_NO_INTERRUPT; each sets the used buffer
// bit of InterruptStatus and pulls the wire; InterruptACK clears the bits
// acknowledged. A configuration change sets the other bit.
static void test_dev_interrupts(void)
{
  if (!start(16, 0))
    goto out;
  chain(0, 1);
  chain(1, 1);
  publish(0, 0);
  publish(1, 1);
  vdm_run(m);
  if (!expect(used_idx() == 2, "used.idx %u after two chains", (unsigned)used_idx()))
    goto out;
  expect(m->regs.interrupt_status == VIRTIO_MMIO_INT_VRING && wire >= 1 &&
         m->q[0].stats.interrupts >= 1 && m->irqs >= 1,
         "after two completions: InterruptStatus 0x%x, wire pulled %d times, %u interrupts "
         "counted (want the used buffer bit 0x1, the wire, the count)",
         (unsigned)m->regs.interrupt_status, wire, m->q[0].stats.interrupts);
  expect(vio_intr_ack(&dev) == VIRTIO_MMIO_INT_VRING && m->regs.interrupt_status == 0,
         "InterruptACK left InterruptStatus 0x%x", (unsigned)m->regs.interrupt_status);
  // Interrupts suppressed: the completions go unannounced.
  st16(&vq.avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
  wire = 0;
  chain(2, 1);
  publish(2, 2);
  vdm_run(m);
  expect(used_idx() == 3 && m->regs.interrupt_status == 0 && wire == 0,
         "with VIRTQ_AVAIL_F_NO_INTERRUPT: used.idx %u, InterruptStatus 0x%x, the wire pulled "
         "%d times (want no interrupt, 2.7.7.1)", (unsigned)used_idx(),
         (unsigned)m->regs.interrupt_status, wire);
  st16(&vq.avail->flags, 0);
  chain(3, 1);
  publish(3, 3);
  vdm_run(m);
  expect(m->regs.interrupt_status == VIRTIO_MMIO_INT_VRING && wire == 1,
         "interrupts on again: InterruptStatus 0x%x, wire %d", (unsigned)m->regs.interrupt_status,
         wire);
  vdm_config_changed(m, 1);
  expect(m->regs.interrupt_status == (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG) &&
         wire == 2, "a configuration change: InterruptStatus 0x%x, wire %d (want 0x3, 2)",
         (unsigned)m->regs.interrupt_status, wire);
  expect(vio_intr_ack(&dev) == 3 && m->regs.interrupt_status == 0,
         "InterruptACK of both bits left 0x%x", (unsigned)m->regs.interrupt_status);
out:
  stop();
}

static void flags_race_hook(void *arg)
{
  uint16_t *old = arg;

  // The driver, re-arming: its flags store reaches memory now, while its
  // own re-check of used.idx ran before the device's store (so the driver
  // found nothing and sleeps).
  if (used_idx() != *old && ld16(&vq.avail->flags) == VIRTQ_AVAIL_F_NO_INTERRUPT)
    st16(&vq.avail->flags, 0);
}

// The race of 2.7.14 from the device's side: the driver turns interrupts
// back on and then looks at used.idx; the device stores used.idx and then
// looks at the flags. Each needs a barrier between its store and its load.
// Here the driver's flags store lands just after the device's used.idx
// store: a device that read the flags without its barrier in between saw
// NO_INTERRUPT, and the completion is never announced.
static void test_dev_interrupt_barrier(void)
{
  uint16_t old = 0;

  if (!start(16, 0))
    goto out;
  st16(&vq.avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
  chain(0, 1);
  publish(0, 0);
  host_set_mb_hook(flags_race_hook, &old);
  vdm_run(m);
  host_set_mb_hook(0, 0);
  if (!expect(used_idx() == 1, "used.idx %u after one chain", (unsigned)used_idx()))
    goto out;
  expect(m->regs.interrupt_status == VIRTIO_MMIO_INT_VRING && wire == 1,
         "the interrupt was lost: the device read avail.flags without a barrier after its store "
         "of used.idx (InterruptStatus 0x%x)", (unsigned)m->regs.interrupt_status);
out:
  stop();
}

// ---- EVENT_IDX, the device's side (2.7.7.2, 2.7.10) ----

// Complete one chain: published as entry n, taken, used. Returns whether
// the device interrupted for it (and acknowledges that).
static int one(uint16_t n)
{
  int before = wire;

  chain((uint16_t)(n % 8), 1);
  publish(n, (uint16_t)(n % 8));
  vdm_run(m);
  vio_intr_ack(&dev);
  return wire != before;
}

// used_event = e: "interrupt me when you write the used entry e" (the
// entry with index e, so used.idx moving past e). One chain at a time, and
// then batches, and across the 65536 wrap of the indices.
static void test_dev_event_idx_interrupts(void)
{
  uint16_t n;
  int got;

  if (!start(8, 1))
    goto out;
  st16(vq.used_event, 2);
  for (n = 0; n < 4; n++) {
    got = one(n);
    if (!expect(got == (n == 2), "used_event 2, used entry %u written: %s", (unsigned)n,
                got ? "an interrupt" : "no interrupt"))
      goto out;
  }
  // A batch of three (entries 4, 5, 6) that covers used_event 5: one interrupt.
  st16(vq.used_event, 5);
  chain(0, 1);
  chain(1, 1);
  chain(2, 1);
  publish(4, 0);
  publish(5, 1);
  publish(6, 2);
  wire = 0;
  vdm_run(m);
  vio_intr_ack(&dev);
  expect(used_idx() == 7 && wire == 1, "used entries 4..6 with used_event 5: %d interrupts "
         "(want 1)", wire);
  // Up to the wrap, with an interrupt asked for at its last entry, 65535:
  // used.idx goes from 65535 to 0 as that entry is written.
  host_verbose = 0;
  st16(vq.used_event, 65535);
  for (n = 7;; n++) {
    got = one(n);
    if (got != (n == 65535)) {
      expect(0, "used_event 65535, used entry %u: %s (the indices wrap at 65536)",
             (unsigned)n, got ? "an interrupt" : "no interrupt");
      goto out;
    }
    if (n == 65535)
      break;
  }
  host_verbose = 1;
  // And past it.
  st16(vq.used_event, 1);
  for (n = 0; n != 3; n++) {
    got = one(n);
    if (!expect(got == (n == 1), "after the wrap: used_event 1, used entry %u: %s",
                (unsigned)n, got ? "an interrupt" : "no interrupt"))
      goto out;
  }
out:
  host_verbose = 1;
  stop();
}

// After taking what was published, the device asks to be told about the
// next entry: avail_event = last_avail (2.7.10), every time.
static void test_dev_event_idx_avail_event(void)
{
  uint16_t n;

  if (!start(8, 1))
    goto out;
  for (n = 0; n < 20; n++) {
    one(n);
    if (!expect(avail_event() == (uint16_t)(n + 1), "after entry %u: avail_event %u, want %u",
                (unsigned)n, (unsigned)avail_event(), (unsigned)(n + 1)))
      goto out;
  }
out:
  stop();
}

static void avail_race_hook(void *arg)
{
  int *armed = arg;

  // The driver published entry 1 having read avail_event before the
  // device's new value reached it: it saw no reason to notify.
  if (*armed && m->q[0].last_avail == 1 && avail_event() == 1) {
    chain(1, 1);
    publish(1, 1);
    *armed = 0;
  }
}

// The race of 2.7.10 from the device's side: the device stores
// avail_event and must then look at avail.idx once more, after a barrier;
// the driver stores avail.idx and then reads avail_event. Here entry 1 is
// published just as the device's avail_event store lands: the driver did
// not notify, so only the device's second look finds it.
static void test_dev_event_idx_recheck(void)
{
  int armed = 1;

  if (!start(8, 1))
    goto out;
  chain(0, 1);
  publish(0, 0);
  host_set_mb_hook(avail_race_hook, &armed);
  vdm_run(m);
  host_set_mb_hook(0, 0);
  if (!expect(!armed, "the device never asked for entry 1 (avail_event %u)",
              (unsigned)avail_event()))
    goto out;
  expect(m->q[0].stats.requests == 2 && used_idx() == 2,
         "entry 1, published as the device asked for it, was left in the ring (%u of 2 taken): "
         "after storing avail_event the device must look at avail.idx again, after a barrier",
         m->q[0].stats.requests);
out:
  stop();
}

// ---- a block request, as the device answers it (5.2.6) ----

#define BLK_BASE 0x1000b000u

struct blk_req {
  struct virtio_blk_req_hdr hdr;
  uint8_t data[512];
  uint8_t status;
};

// One request of `type` for `sector` on a fresh ring entry n: header
// (device-readable), 512 data bytes (device-writable for a read,
// readable otherwise), status byte (device-writable). Returns used.len,
// or -1 if the device did not give the chain back.
static int blk_request(struct blk_req *r, uint16_t n, uint32_t type, uint64_t sector)
{
  int in = type == VIRTIO_BLK_T_IN;

  r->hdr.type = type;
  r->hdr.reserved = 0;
  r->hdr.sector = sector;
  r->status = 0xee;
  vq.desc[0] = (struct virtq_desc){ vos_virt_to_phys(&r->hdr), 16, VIRTQ_DESC_F_NEXT, 1 };
  vq.desc[1] = (struct virtq_desc){ vos_virt_to_phys(r->data), 512,
                                    (uint16_t)(VIRTQ_DESC_F_NEXT | (in ? VIRTQ_DESC_F_WRITE : 0)),
                                    2 };
  vq.desc[2] = (struct virtq_desc){ vos_virt_to_phys(&r->status), 1, VIRTQ_DESC_F_WRITE, 0 };
  publish(n, 0);
  vdm_run(m);
  if (used_idx() != (uint16_t)(n + 1))
    return -1;
  return (int)vq.used->ring[n % vq.size].len;
}

// A read, a write, an unknown type, a read past the end: the header read
// right (type and sector, little-endian), the data moved, the status byte
// written, and used.len counting what the device wrote: data and status
// for a read, the status alone otherwise.
static void test_dev_blk_request(void)
{
  struct tblk *tb = tblk_create(BLK_BASE, 2, 64);
  struct blk_req *r = vos_dma_alloc(sizeof(*r));
  int len, i;

  m = &tb->m.vdm;
  m->offered &= ~((1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_RING_F_INDIRECT_DESC));
  if (!expect(vio_probe(&dev, BLK_BASE) == 1, "probe") ||
      !expect(vio_negotiate(&dev, 0) == 0, "negotiate") ||
      !expect(virtq_init(&vq, &dev, 0, 16) == 0, "a queue"))
    goto out;
  vio_driver_ok(&dev);
  len = blk_request(r, 0, VIRTIO_BLK_T_IN, 5);
  if (!expect(len >= 0, "a read of sector 5 never came back"))
    goto out;
  expect(r->status == VIRTIO_BLK_S_OK, "a read of sector 5: status byte 0x%x", r->status);
  expect(tblk_is_pattern(r->data, 5, 512), "a read of sector 5 returned other bytes (the "
         "header's sector read wrong?)");
  expect(len == 513, "a read of 512 bytes: used.len %d, want 513 (the data and the status "
         "byte)", len);
  for (i = 0; i < 512; i++)
    r->data[i] = (uint8_t)(i ^ 0x5a);
  len = blk_request(r, 1, VIRTIO_BLK_T_OUT, 0x21);
  expect(len == 1 && r->status == VIRTIO_BLK_S_OK, "a write of sector 33: used.len %d, status "
         "0x%x (want 1, 0)", len, r->status);
  for (i = 0; i < 512 && tb->disk[33 * 512 + i] == (uint8_t)(i ^ 0x5a); i++)
    ;
  expect(i == 512, "the write of sector 33 did not reach the disk (byte %d)", i);
  len = blk_request(r, 2, 0x7f, 0);
  expect(len == 1 && r->status == VIRTIO_BLK_S_UNSUPP, "an unknown request type: used.len %d, "
         "status 0x%x (want 1, VIRTIO_BLK_S_UNSUPP)", len, r->status);
  len = blk_request(r, 3, VIRTIO_BLK_T_IN, 64);
  expect(len >= 1 && r->status == VIRTIO_BLK_S_IOERR, "a read past the end: used.len %d, "
         "status 0x%x (want VIRTIO_BLK_S_IOERR)", len, r->status);
  m->violations = 0;  // the read past the end was on purpose
out:
  vio_reset(&dev);
  if (vq.mem)
    virtq_destroy(&vq);
  vos_dma_free(r, sizeof(*r));
  tblk_destroy(tb);
  m = 0;
}

// ---- runner ----

static void setup(void)
{
  memset(&dev, 0, sizeof(dev));
  memset(&vq, 0, sizeof(vq));
  wire = 0;
  npopped = 0;
}

static void cleanup(int aborted)
{
  if (aborted) {
    host_set_mb_hook(0, 0);
    if (fr)
      trng_destroy(fr);
    fr = 0;
    m = 0;
    bufs = 0;
  }
}

int main(int argc, char **argv)
{
  host_tests_begin(argc, argv, setup, cleanup);
  host_run_split("dev_pop_chains", test_dev_pop_chains);
  host_run_split("dev_pop_barrier", test_dev_pop_barrier);
  host_run_split("dev_used_ring", test_dev_used_ring);
  host_run_split("dev_used_barrier", test_dev_used_barrier);
  host_run_split("dev_interrupts", test_dev_interrupts);
  host_run_split("dev_interrupt_barrier", test_dev_interrupt_barrier);
  host_run_split("dev_blk_request", test_dev_blk_request);
  host_run_split("dev_event_idx_interrupts", test_dev_event_idx_interrupts);
  host_run_split("dev_event_idx_avail_event", test_dev_event_idx_avail_event);
  host_run_split("dev_event_idx_recheck", test_dev_event_idx_recheck);
  return host_tests_done();
}
