// test_ring.c: host unit tests of the split virtqueue itself (virtio/virtq.c)
// at the level of single stores, loads and barriers: the free list and the
// chains built from it, the order in which a chain is published (virtio 1.2
// 2.7.13: barriers (1) and (2) in virtq_kick), the notification decision
// (2.7.10 without EVENT_IDX), taking entries off the used ring (2.7.14:
// barrier (3), one per batch) and indices that wrap at 65536.
//
// The queue is driven by hand, without a driver on top, against the device
// model's entropy device (devmodel/vdm_rng.c), whose requests are chains of
// any number of device-writable buffers. The test itself plays the part of
// a device running beside the CPU where that is the point: vos_mb calls a
// hook (host_set_mb_hook), and at a barrier the hook looks at the rings as
// a device could at that moment, or writes to them as a device could. That
// is how a missing or misplaced barrier becomes a failure a test can see,
// on a host CPU that would never reorder these accesses by itself.
//
// Run: make -C tests/host check, or build/host/test_ring NAME... for some.
// Output: one line per test, "PASS: name" or "FAIL: name: why".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"
#include "host.h"
#include "devfix.h"

#define BASE 0x10008000u
#define MAXQ 64

static struct trng *fr;
static struct vio_dev dev;
static struct virtq vq;
static uint8_t *bufs;          // MAXQ buffers of 64 bytes, DMA memory
static int tok[MAXQ];          // the tokens handed to virtq_add: &tok[i]

// A device and a queue of `size` entries, no ring features, the driver
// past DRIVER_OK: the queue is live.
static int start(uint16_t size)
{
  fr = trng_create(BASE, 2, 7);
  fr->m.vdm.offered &= ~((1ull << VIRTIO_RING_F_EVENT_IDX) |
                         (1ull << VIRTIO_RING_F_INDIRECT_DESC));
  if (!expect(vio_probe(&dev, BASE) == 1, "probe") ||
      !expect(vio_negotiate(&dev, 0) == 0, "negotiate") ||
      !expect(virtq_init(&vq, &dev, 0, size) == 0, "virtq_init") ||
      !expect(vq.size == size, "queue of %u entries, wanted %u", (unsigned)vq.size,
              (unsigned)size))
    return 0;
  vio_driver_ok(&dev);
  bufs = vos_dma_alloc(MAXQ * 64);
  return 1;
}

static void stop(void)
{
  host_set_mb_hook(0, 0);
  if (fr)
    fix_check_model(&fr->m.vdm, 0);
  if (dev.base)
    vio_reset(&dev);
  if (vq.mem)
    virtq_destroy(&vq);
  if (bufs)
    vos_dma_free(bufs, MAXQ * 64);
  bufs = 0;
  if (fr)
    trng_destroy(fr);
  fr = 0;
}

// Add a chain of n device-writable buffers of 8 bytes, buffers first..,
// with token &tok[first]. Returns virtq_add's result.
static int add_chain(int first, int n)
{
  struct virtq_buf b[8];
  int i;

  for (i = 0; i < n; i++) {
    b[i].addr = bufs + 64 * (first + i);
    b[i].len = 8;
    b[i].device_writes = 1;
  }
  return virtq_add(&vq, b, n, &tok[first]);
}

// Let the device do everything it can, then take every completion off the
// used ring; how many there were, or -1 if virtq_get failed.
static int run_and_reap(void **tokens, int max)
{
  void *token;
  uint32_t len;
  int n = 0, r;

  vdm_run(&fr->m.vdm);
  vio_intr_ack(&dev);
  while ((r = virtq_get(&vq, &token, &len)) == 1) {
    if (n < max)
      tokens[n] = token;
    n++;
  }
  return r < 0 ? -1 : n;
}

static uint16_t avail_idx(void)
{
  return *(volatile uint16_t *)&vq.avail->idx;
}

// ---- the free list and chains ----

// Walk the chain at head in the descriptor table: 1 if it is exactly the
// n buffers of add_chain(first, n), in order, flagged right.
static int chain_is(uint16_t head, int first, int n, uint8_t *used)
{
  uint16_t d = head;
  int i;

  for (i = 0; i < n; i++) {
    struct virtq_desc *x = &vq.desc[d];
    if (d >= vq.size || used[d])
      return expect(0, "chain %d: descriptor %u is out of range or in two chains", first,
                    (unsigned)d);
    used[d] = 1;
    if (x->addr != vos_virt_to_phys(bufs + 64 * (first + i)) || x->len != 8)
      return expect(0, "chain %d buffer %d: descriptor %u has addr 0x%llx len %u", first, i,
                    (unsigned)d, (unsigned long long)x->addr, (unsigned)x->len);
    if (!(x->flags & VIRTQ_DESC_F_WRITE))
      return expect(0, "chain %d buffer %d: a buffer the device writes lacks VIRTQ_DESC_F_WRITE",
                    first, i);
    if ((i + 1 < n) != !!(x->flags & VIRTQ_DESC_F_NEXT))
      return expect(0, "chain %d buffer %d of %d: VIRTQ_DESC_F_NEXT %s", first, i, n,
                    i + 1 < n ? "missing" : "set on the last descriptor");
    d = x->next;
  }
  return 1;
}

// Chains of 1, 2 and 3 buffers take 6 descriptors, each chain laid out
// as the device will follow it; then one-buffer chains fill the queue and
// the next is refused. Nothing is published: this is virtq_add alone.
static void test_ring_chains(void)
{
  uint8_t used[MAXQ];
  uint16_t heads[3];
  int i, k;

  if (!start(16)) {
    stop();
    return;
  }
  expect(virtq_free_count(&vq) == 16, "%d descriptors free after virtq_init, not 16",
         virtq_free_count(&vq));
  for (k = 0; k < 3; k++) {
    if (!expect(add_chain(10 * k, k + 1) == VIRTQ_OK, "virtq_add of a %d-buffer chain failed",
                k + 1))
      goto out;
    heads[k] = vq.avail->ring[k];
  }
  if (!expect(vq.avail_idx == 3, "avail_idx is %u after 3 chains were added, not 3: each chain's "
              "head goes into the next available ring entry (2.7.13.2)", (unsigned)vq.avail_idx))
    goto out;
  expect(virtq_free_count(&vq) == 10, "%d descriptors free after chains of 1, 2 and 3 buffers, "
         "not 10", virtq_free_count(&vq));
  memset(used, 0, sizeof(used));
  for (k = 0; k < 3; k++)
    if (!chain_is(heads[k], 10 * k, k + 1, used))
      goto out;
  for (i = 0; i < 10; i++)
    if (!expect(add_chain(30 + i, 1) == VIRTQ_OK, "one-buffer chain %d refused with %d of 16 "
                "descriptors in use", i + 1, 6 + i))
      goto out;
  expect(add_chain(50, 1) == VIRTQ_ERR_FULL, "a chain was not refused with VIRTQ_ERR_FULL when "
         "all 16 descriptors were in use");
  expect(virtq_free_count(&vq) == 0, "%d descriptors free in a full queue",
         virtq_free_count(&vq));
out:
  stop();
}

// Chains of 1 to 4 buffers, their lengths cycling with `round`, added until
// the queue refuses one; returns how many went in.
static int add_mixed_chains(int round)
{
  int added = 0, first = 0;

  while (first < 40) {
    int len = 1 + (round + first) % 4;
    if (add_chain(first, len) != VIRTQ_OK)
      break;
    first += len;
    added++;
  }
  return added;
}

// Chains go back on the free list when the device returns them, in any
// order, and the list never loses or doubles a descriptor.
static void test_ring_free_list(void)
{
  void *tokens[MAXQ];
  int i, k, round, n;

  if (!start(16)) {
    stop();
    return;
  }
  for (k = 0; k < 3; k++)
    if (!expect(add_chain(10 * k, k + 1) == VIRTQ_OK, "virtq_add of a %d-buffer chain failed",
                k + 1))
      goto out;
  virtq_kick(&vq);
  n = run_and_reap(tokens, MAXQ);
  expect(n == 3, "%d completions for 3 chains", n);
  expect(virtq_free_count(&vq) == 16, "%d descriptors free after every chain came back, not 16",
         virtq_free_count(&vq));
  // Exactly 16 one-buffer chains fit again, and the 17th is refused.
  for (i = 0; i < 16; i++)
    if (!expect(add_chain(i, 1) == VIRTQ_OK, "chain %d of 16 refused after the first chains "
                "came back", i + 1))
      goto out;
  expect(add_chain(20, 1) == VIRTQ_ERR_FULL, "a 17th chain in a queue of 16 was not refused "
         "with VIRTQ_ERR_FULL");
  virtq_kick(&vq);
  n = run_and_reap(tokens, MAXQ);
  expect(n == 16, "%d completions for 16 chains", n);
  // Many rounds, the device finishing chains newest first: every
  // descriptor keeps coming back, none is lost or handed out twice.
  fr->m.vdm.reverse = 1;
  for (round = 0; round < 300 && !host_test_failure(); round++) {
    int added = add_mixed_chains(round);
    virtq_kick(&vq);
    n = run_and_reap(tokens, MAXQ);
    expect(n == added, "round %d: %d completions for %d chains", round, n, added);
    expect(virtq_free_count(&vq) == 16, "round %d: %d descriptors free after every chain came "
           "back, not 16", round, virtq_free_count(&vq));
  }
out:
  stop();
}

// A device that writes over a chain's descriptors once it has returned it
// (VDM_FAULT_SCRIBBLE: every `next` pointing at the head, NEXT cleared).
// The descriptors' next and flags are the device's copy of the chain: the
// driver writes them and must never read them back. Its free list is in
// link[], its own memory, so after many rounds of chains of 1 to 4
// descriptors every descriptor is still free exactly once: a full queue's
// worth of one-buffer chains fits, each on a descriptor of its own, and the
// device finds every chain well formed.
static void test_ring_free_list_scribbled(void)
{
  void *tokens[MAXQ];
  uint8_t used[MAXQ];
  int i, k, round, n;

  if (!start(16)) {
    stop();
    return;
  }
  fr->m.vdm.fault = VDM_FAULT_SCRIBBLE;
  for (round = 0; round < 50 && !host_test_failure(); round++) {
    int added = add_mixed_chains(round);
    virtq_kick(&vq);
    n = run_and_reap(tokens, MAXQ);
    if (!expect(n == added, "round %d: %d completions for %d chains, with a device that "
                "rewrites the next and flags of the descriptors it returned", round, n, added))
      break;
    expect(virtq_free_count(&vq) == 16, "round %d: %d descriptors free after every chain came "
           "back, not 16", round, virtq_free_count(&vq));
  }
  fr->m.vdm.fault = VDM_FAULT_NONE;
  memset(used, 0, sizeof(used));
  for (i = 0; i < 16 && !host_test_failure(); i++) {
    uint16_t pos = (uint16_t)(vq.avail_idx % vq.size), head;
    if (!expect(add_chain(i, 1) == VIRTQ_OK, "one-buffer chain %d of 16 refused after the "
                "device had rewritten the descriptors of returned chains", i + 1))
      break;
    head = vq.avail->ring[pos];
    expect(head < vq.size && !used[head], "one-buffer chain %d of 16 got descriptor %u, %s: "
           "the free list followed the descriptors' next or flags, which the device rewrote, "
           "instead of link[] (free_chain)", i + 1, (unsigned)head,
           head >= vq.size ? "past the table" : "already in another chain");
    if (head < vq.size)
      used[head] = 1;
  }
  if (!host_test_failure()) {
    expect(add_chain(20, 1) == VIRTQ_ERR_FULL, "a 17th chain in a queue of 16 was not refused");
    virtq_kick(&vq);
    n = run_and_reap(tokens, MAXQ);
    expect(n == 16, "%d completions for 16 chains", n);
    for (k = 0; k < 16 && k < n; k++)
      expect(tokens[k] == &tok[k], "completion %d: token %p, want %p", k, tokens[k],
             (void *)&tok[k]);
  }
  stop();
}

// ---- publishing: barrier (1) ----

#define MAXSNAP 16
struct snap {
  uint16_t idx;
  uint16_t ring[MAXQ];
  struct virtq_desc desc[MAXQ];
  uint32_t notifies;
};
static struct snap snaps[MAXSNAP];
static int nsnap;

// At a barrier: what a device looking at the rings right now would see.
static void take_snapshot(void *arg)
{
  struct snap *s;

  (void)arg;
  if (nsnap >= MAXSNAP)
    return;
  s = &snaps[nsnap++];
  s->idx = avail_idx();
  memcpy(s->ring, vq.avail->ring, 2 * vq.size);
  memcpy(s->desc, vq.desc, sizeof(struct virtq_desc) * vq.size);
  s->notifies = fr->m.vdm.q[0].stats.notifies;
}

// Did snapshot s already hold chain k (published at ring position pos) as
// it is now, while avail.idx did not yet cover it?
static int snap_has_chain(struct snap *s, uint16_t pos)
{
  uint16_t head = vq.avail->ring[pos % vq.size], d = head;
  int i;

  if (s->ring[pos % vq.size] != head)
    return 0;
  for (i = 0; i < vq.size; i++) {
    if (memcmp(&s->desc[d], &vq.desc[d], sizeof(struct virtq_desc)) != 0)
      return 0;
    if (!(vq.desc[d].flags & VIRTQ_DESC_F_NEXT))
      return 1;
    d = vq.desc[d].next % vq.size;
  }
  return 0;
}

static void publish_case(int nchains)
{
  uint16_t old = avail_idx();
  int k, i, ok = 0;

  nsnap = 0;
  host_set_mb_hook(take_snapshot, 0);
  for (k = 0; k < nchains; k++)
    if (!expect(add_chain(3 * k, 3) == VIRTQ_OK, "virtq_add failed"))
      return;
  virtq_kick(&vq);
  host_set_mb_hook(0, 0);
  if (!expect(avail_idx() == (uint16_t)(old + nchains),
              "avail.idx went from %u to %u for %d chains: virtq_kick must publish every chain "
              "added since the last kick", (unsigned)old, (unsigned)avail_idx(), nchains))
    return;
  for (i = 0; i < nsnap && !ok; i++) {
    if (snaps[i].idx != old)
      continue;
    ok = 1;
    for (k = 0; k < nchains; k++)
      ok &= snap_has_chain(&snaps[i], (uint16_t)(old + k));
  }
  expect(ok, "no barrier between the stores that build the chain (descriptors, available ring "
         "entries) and the store of avail.idx: a device could see the new avail.idx first and "
         "read a stale ring entry or descriptor (2.7.13.3.1, barrier (1))");
}

static void test_ring_publish_barrier(void)
{
  void *tokens[MAXQ];

  if (!start(32)) {
    stop();
    return;
  }
  publish_case(1);
  run_and_reap(tokens, MAXQ);
  if (!host_test_failure())
    publish_case(4);   // a batch: one barrier covers all four
  run_and_reap(tokens, MAXQ);
  stop();
}

// ---- notifying: barrier (2) and VIRTQ_USED_F_NO_NOTIFY ----

static uint16_t watch_idx;     // the avail.idx the kick will publish
static int went_idle;          // the "device" cleared NO_NOTIFY at a barrier

// A device that was busy (NO_NOTIFY set) and goes idle at this barrier: it
// clears the flag, takes its own barrier and reads avail.idx. The driver's
// store of the new idx may not have reached it yet (the driver's barrier
// is what guarantees that the device's store of the flag then reaches the
// driver's next load instead), so from here on only a notification can
// tell it about the new chain.
static void idle_at_barrier(void *arg)
{
  (void)arg;
  if (!went_idle && avail_idx() == watch_idx) {
    *(volatile uint16_t *)&vq.used->flags = 0;
    went_idle = 1;
  }
}

static void test_ring_notify_barrier(void)
{
  void *tokens[MAXQ];
  uint32_t before;

  if (!start(16)) {
    stop();
    return;
  }
  *(volatile uint16_t *)&vq.used->flags = VIRTQ_USED_F_NO_NOTIFY;
  went_idle = 0;
  watch_idx = (uint16_t)(avail_idx() + 1);
  before = fr->m.vdm.q[0].stats.notifies;
  host_set_mb_hook(idle_at_barrier, 0);
  if (expect(add_chain(0, 2) == VIRTQ_OK, "virtq_add failed")) {
    virtq_kick(&vq);
    host_set_mb_hook(0, 0);
    if (expect(went_idle, "no barrier after the store of avail.idx in virtq_kick: the driver's "
               "read of used.flags could come before that store reaches the device "
               "(2.7.13.4.1, barrier (2))"))
      expect(fr->m.vdm.q[0].stats.notifies == before + 1,
             "the device cleared VIRTQ_USED_F_NO_NOTIFY at the barrier after the avail.idx store "
             "(it went idle without seeing the new chain) and was not notified: read used.flags "
             "after barrier (2), then notify unless NO_NOTIFY is set (2.7.10, 2.7.13.4.1)");
  }
  host_set_mb_hook(0, 0);
  run_and_reap(tokens, MAXQ);
  stop();
}

static void test_ring_notify_suppressed(void)
{
  void *tokens[MAXQ];
  uint32_t *notifies;
  int i;

  if (!start(16)) {
    stop();
    return;
  }
  notifies = &fr->m.vdm.q[0].stats.notifies;
  // A device that polls says so; then no kick may notify it.
  fr->m.vdm.no_notify = 1;
  vdm_run(&fr->m.vdm);           // writes VIRTQ_USED_F_NO_NOTIFY into used.flags
  for (i = 0; i < 5; i++) {
    add_chain(i, 1);
    virtq_kick(&vq);
  }
  expect(*notifies == 0, "%u notifications to a device that set VIRTQ_USED_F_NO_NOTIFY (2.7.10)",
         (unsigned)*notifies);
  run_and_reap(tokens, MAXQ);
  // One that wants them gets one per kick that published something,
  // none for a kick with nothing new.
  fr->m.vdm.no_notify = 0;
  vdm_run(&fr->m.vdm);
  for (i = 0; i < 3 && !host_test_failure(); i++) {
    add_chain(2 * i, 2);
    virtq_kick(&vq);
    virtq_kick(&vq);
    expect(*notifies == (uint32_t)i + 1, "%u notifications after %d kicks that published a chain "
           "(and %d that published nothing): want one each, and none for nothing new",
           (unsigned)*notifies, i + 1, i + 1);
  }
  run_and_reap(tokens, MAXQ);
  stop();
}

// ---- the used ring: barrier (3), batches ----

static struct virtq_used_elem real_entry;
static uint16_t real_pos;
static int restored;

// The device's entry becomes visible at the driver's barrier: a driver
// that reads the entry without barrier (3) after its read of used.idx
// reads what the slot held before.
static void restore_entry(void *arg)
{
  (void)arg;
  if (!restored) {
    vq.used->ring[real_pos % vq.size] = real_entry;
    restored = 1;
  }
}

static void test_ring_used_barrier(void)
{
  void *token = 0;
  uint32_t len = 0;
  int r;

  if (!start(16)) {
    stop();
    return;
  }
  // Two chains out; the device completes the first. Its used entry is
  // then made to look like the slot's old contents (the second chain's
  // head) until the driver's next barrier.
  add_chain(0, 1);
  add_chain(1, 1);
  virtq_kick(&vq);
  fr->m.vdm.complete_on_ack = 1;   // one completion per run
  vdm_run(&fr->m.vdm);
  real_pos = (uint16_t)(*(volatile uint16_t *)&vq.used->idx - 1);
  real_entry = vq.used->ring[real_pos % vq.size];
  if (!expect(real_entry.id == vq.avail->ring[0], "the device did not complete the first chain"))
    goto out;
  vq.used->ring[real_pos % vq.size].id = vq.avail->ring[1];
  vq.used->ring[real_pos % vq.size].len = 0;
  restored = 0;
  host_set_mb_hook(restore_entry, 0);
  r = virtq_get(&vq, &token, &len);
  host_set_mb_hook(0, 0);
  restore_entry(0);
  if (!expect(r == 1, "virtq_get returned %d for a completed chain", r))
    goto out;
  expect(token == &tok[0], "virtq_get took the used ring entry as it was before the device "
         "wrote it (it returned the other chain's token): read used.idx, then barrier (3), then "
         "the entry (2.7.8.2)");
  expect(len == real_entry.len, "used.len %u, the device wrote %u", (unsigned)len,
         (unsigned)real_entry.len);
out:
  host_set_mb_hook(0, 0);
  fr->m.vdm.complete_on_ack = 0;
  {
    void *tokens[MAXQ];
    vio_intr_ack(&dev);
    run_and_reap(tokens, MAXQ);
  }
  stop();
}

static void test_ring_used_batch(void)
{
  void *token;
  uint32_t len;
  int i, r, mb;

  if (!start(16)) {
    stop();
    return;
  }
  for (i = 0; i < 4; i++)
    add_chain(i, 1);
  virtq_kick(&vq);
  vdm_run(&fr->m.vdm);
  vio_intr_ack(&dev);
  mb = host_mb_calls;
  r = virtq_get(&vq, &token, &len);
  expect(r == 1 && token == &tok[0], "first completion: %d", r);
  expect(host_mb_calls - mb == 1, "%d barriers to take the first of four completions off the "
         "used ring: one, after reading used.idx (barrier (3))", host_mb_calls - mb);
  mb = host_mb_calls;
  for (i = 1; i < 4; i++) {
    r = virtq_get(&vq, &token, &len);
    expect(r == 1 && token == &tok[i], "completion %d: %d, token %p", i, r, token);
  }
  expect(host_mb_calls == mb, "%d more barriers for three more completions already covered by "
         "the first one's used.idx: one barrier serves a whole batch", host_mb_calls - mb);
  r = virtq_get(&vq, &token, &len);
  expect(r == 0, "virtq_get returned %d with nothing left in the used ring", r);
  expect(virtq_free_count(&vq) == 16, "%d descriptors free after every chain came back",
         virtq_free_count(&vq));
  stop();
}

// ---- what the device must not write ----

// The device lies in its used ring in the way `fault` names, as it
// finishes one of two chains. (A first round of two chains that come back
// properly leaves entries in the used ring from the lap before, as a ring
// in use has; and every entry the device has not written in this lap is
// made to name the chain still out, with a length that fits it, so a
// driver that reads an entry the device never wrote takes it for a
// completion.) Whatever the device wrote, no chain may come back that the
// device did not finish, none twice, none with more bytes than it holds,
// and the lie itself must be refused: virtq_get returns -1 and the queue
// is broken from then on. near_wrap: the indices first run to 8 short of
// 65536, so the lie's used.idx lands past the wrap, a small number, while
// the driver's last_used is still near 65535.
static void used_lie(enum vdm_fault fault, const char *what, int near_wrap)
{
  void *tokens[MAXQ];
  void *token;
  uint32_t len, done0;
  int seen[2] = { 0, 0 };
  int i, r, n = 0;
  uint16_t stale;

  if (!start(16)) {
    stop();
    return;
  }
  while (near_wrap && vq.avail_idx != (uint16_t)(65536 - 8)) {
    add_chain(0, 1);
    virtq_kick(&vq);
    if (!expect(run_and_reap(tokens, MAXQ) == 1, "%s: chain %u did not come back", what,
                (unsigned)vq.avail_idx))
      goto out;
  }
  add_chain(0, 2);
  add_chain(2, 1);
  virtq_kick(&vq);
  if (!expect(run_and_reap(tokens, MAXQ) == 2, "%s: before any lie, the first two chains did "
              "not come back", what))
    goto out;
  add_chain(0, 1);
  add_chain(2, 1);
  virtq_kick(&vq);
  // The device finishes the first of the two (complete_on_ack, in order);
  // the second one's head is what the unwritten entries name.
  stale = vq.avail->ring[(uint16_t)(vq.avail_idx - 1) % vq.size];
  for (i = 0; i < vq.size; i++) {
    vq.used->ring[i].id = stale;
    vq.used->ring[i].len = 0;
  }
  done0 = fr->m.vdm.q[0].stats.completions;
  fr->m.vdm.fault = fault;
  fr->m.vdm.complete_on_ack = 1;   // one chain finished per vdm_run
  vdm_run(&fr->m.vdm);
  while ((r = virtq_get(&vq, &token, &len)) == 1 && n < 8) {
    n++;
    if (!expect((uint32_t)n <= fr->m.vdm.q[0].stats.completions - done0 || fault == VDM_FAULT_DUP_ID,
                "%s: virtq_get returned %d chains, the device finished %u: it read used ring "
                "entries the device never wrote", what, n,
                (unsigned)(fr->m.vdm.q[0].stats.completions - done0)))
      goto out;
    if (!expect(token == &tok[0] || token == &tok[2], "%s: virtq_get returned token %p, which "
                "was never handed to virtq_add: it believed the device's used.id", what, token))
      goto out;
    i = token == &tok[0] ? 0 : 1;
    if (!expect(!seen[i], "%s: the same chain came back twice: a used.id that names no "
                "outstanding chain head was believed (2.7.8)", what))
      goto out;
    seen[i] = 1;
    if (!expect(len <= 8, "%s: used.len %u was believed for a chain of 8 writable bytes (2.7.8)",
                what, (unsigned)len))
      goto out;
  }
  if (expect(r == -1, "%s: virtq_get returned %d after %d completions, not -1: the lie was "
             "believed (2.7.8)", what, r, n))
    expect(virtq_is_broken(&vq), "%s: virtq_get returned -1 but the queue is not broken", what);
out:
  fr->m.vdm.fault = VDM_FAULT_NONE;
  fr->m.vdm.complete_on_ack = 0;
  stop();
}

static void test_ring_used_checks(void)
{
  used_lie(VDM_FAULT_BAD_ID, "used.id past the queue (21 in a queue of 16)", 0);
  if (!host_test_failure())
    used_lie(VDM_FAULT_DUP_ID, "the same used.id twice", 0);
  if (!host_test_failure())
    used_lie(VDM_FAULT_BIG_LEN, "used.len larger than the chain", 0);
  if (!host_test_failure())
    used_lie(VDM_FAULT_IDX_JUMP, "used.idx 40 entries ahead", 0);
  // Compared as plain ints, a used.idx that wrapped looks far behind
  // last_used, never ahead: only the uint16_t difference sees the lie.
  if (!host_test_failure())
    used_lie(VDM_FAULT_IDX_JUMP, "used.idx 40 entries ahead, across the 65536 wrap", 1);
}

// ---- indices wrap ----

static void test_ring_wraparound(void)
{
  void *tokens[MAXQ];
  int i, n, ok = 1;

  host_verbose = 0;
  if (!start(4)) {
    stop();
    return;
  }
  // 70000 chains, two at a time: avail.idx, used.idx and our own copies of
  // them pass 65535 and start again at 0.
  for (i = 0; i < 35000 && ok; i++) {
    ok &= add_chain(0, 1) == VIRTQ_OK;
    ok &= add_chain(1, 2) == VIRTQ_OK;
    virtq_kick(&vq);
    n = run_and_reap(tokens, MAXQ);
    ok &= n == 2 && tokens[0] == &tok[0] && tokens[1] == &tok[1];
  }
  expect(ok, "went wrong at chain pair %d (avail.idx %u)", i - 1, (unsigned)avail_idx());
  expect(virtq_free_count(&vq) == 4, "%d descriptors free at the end", virtq_free_count(&vq));
  stop();
}

static void setup(void)
{
  memset(&vq, 0, sizeof(vq));
  memset(&dev, 0, sizeof(dev));
  fr = 0;
  bufs = 0;
}

static void cleanup(int aborted)
{
  if (aborted) {
    if (fr)
      trng_destroy(fr);
    fr = 0;
    bufs = 0;
  }
}

int main(int argc, char **argv)
{
  host_tests_begin(argc, argv, setup, cleanup);
  host_run_split("ring_chains", test_ring_chains);
  host_run_split("ring_free_list", test_ring_free_list);
  host_run_split("ring_free_list_scribbled", test_ring_free_list_scribbled);
  host_run_split("ring_publish_barrier", test_ring_publish_barrier);
  host_run_split("ring_notify_barrier", test_ring_notify_barrier);
  host_run_split("ring_notify_suppressed", test_ring_notify_suppressed);
  host_run_split("ring_used_barrier", test_ring_used_barrier);
  host_run_split("ring_used_batch", test_ring_used_batch);
  host_run_split("ring_used_checks", test_ring_used_checks);
  host_run_split("ring_wraparound", test_ring_wraparound);
  return host_tests_done();
}
