// test_rng.c: host unit tests of the entropy driver (virtio/virtio_rng.c)
// step by step, against the device model's entropy device
// (devmodel/vdm_rng.c on its PRNG): the status handshake and the features
// (virtio 1.2 3.1.1, 5.4.3, 5.4.5), one request (5.4.6: one device-writable
// buffer, no more bytes asked for than the reader wants), reads that take
// many requests, and the interrupt that hands the buffer back and wakes
// the reader. test_devmodel.c has the rest: the byte stream, short fills,
// and every way the device can misbehave.
//
// Run: make -C tests/host check, or build/host/test_rng NAME... for some.
// Output: one line per test, "PASS: name" or "FAIL: name: why".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"
#include "virtio_rng.h"
#include "host.h"
#include "devfix.h"

#define BASE 0x10008000u

static struct trng *tr;
static struct vio_dev dev;
static struct vrng vr;
static int up;             // vrng_init was called: its memory must be freed
static uint8_t *buf;       // the reader's buffer (any memory: the driver copies)

static void rng_intr(void *arg)
{
  vrng_intr(arg);
}

// A device of the given transport version on its PRNG, and the driver
// started on it.
static int start(int version, uint64_t seed)
{
  tr = trng_create(BASE, version, seed);
  buf = calloc(1, 4096);
  if (!expect(vio_probe(&dev, BASE) == 1, "probe"))
    return 0;
  up = 1;
  if (!expect(vrng_init(&vr, &dev) == 0, "vrng_init failed on a working entropy device"))
    return 0;
  host_set_irq_handler(BASE, rng_intr, &vr);
  return 1;
}

static void stop(void)
{
  if (tr)
    fix_check_model(&tr->m.vdm, 0);
  if (up) {
    vio_reset(&dev);
    if (vr.vq.mem || vr.vq.itab)
      virtq_destroy(&vr.vq);
    if (vr.buf)
      vos_dma_free(vr.buf, VRNG_BUF_SIZE);
  }
  up = 0;
  if (tr)
    trng_destroy(tr);
  tr = 0;
  free(buf);
  buf = 0;
}

// Did the driver write exactly these values to Status, in this order?
static int status_writes_are(const uint32_t *want, int n)
{
  const struct vdm *m = &tr->m.vdm;
  int i;

  if (m->nstatus_log != n)
    return 0;
  for (i = 0; i < n; i++)
    if (m->status_log[i] != want[i])
      return 0;
  return 1;
}

static void show_status_writes(char *out, size_t len)
{
  const struct vdm *m = &tr->m.vdm;
  size_t k = 0;
  int i;

  out[0] = 0;
  for (i = 0; i < m->nstatus_log && k + 8 < len; i++)
    k += (size_t)snprintf(out + k, len - k, "%s%u", i ? " " : "", (unsigned)m->status_log[i]);
}

static void handshake(int version)
{
  // reset, ACKNOWLEDGE, +DRIVER, +FEATURES_OK, +DRIVER_OK (3.1.1); a
  // legacy device has no FEATURES_OK step (3.1.2).
  static const uint32_t modern[] = { 0, 1, 3, 11, 15 };
  static const uint32_t legacy[] = { 0, 1, 3, 7 };
  const struct vdm *m;
  char seen[128];

  if (!start(version, 1))
    return;
  m = &tr->m.vdm;
  show_status_writes(seen, sizeof(seen));
  expect(version == 2 ? status_writes_are(modern, 5) : status_writes_are(legacy, 4),
         "the driver wrote Status %s; want %s (3.1.1: reset, ACKNOWLEDGE, DRIVER, "
         "%sDRIVER_OK)", seen, version == 2 ? "0 1 3 11 15" : "0 1 3 7",
         version == 2 ? "FEATURES_OK, " : "");
  // 5.4.3: no device features; a modern device needs VIRTIO_F_VERSION_1.
  expect(m->driver_features == (version == 2 ? (1ull << VIRTIO_F_VERSION_1) : 0),
         "the driver accepted features 0x%llx; want %s", (unsigned long long)m->driver_features,
         version == 2 ? "VIRTIO_F_VERSION_1 only" : "none");
  expect(m->q[0].num >= 1 && (version == 1 ? m->q[0].pfn != 0 : m->q[0].ready == 1),
         "the request queue (queue 0) was not set up: QueueNum %u, %s %u", (unsigned)m->q[0].num,
         version == 1 ? "QueuePFN" : "QueueReady",
         version == 1 ? (unsigned)m->q[0].pfn : (unsigned)m->q[0].ready);
  expect(vr.ready && vr.buf != 0, "after vrng_init: ready %d, buffer %p", vr.ready, (void *)vr.buf);
}

static void test_rng_handshake(void)        { handshake(2); stop(); }
static void test_rng_handshake_legacy(void) { handshake(1); stop(); }

// One read of 10 bytes: one request for 10 bytes, no more.
static void test_rng_one_request(void)
{
  const struct vdm_queue_stats *q;
  struct vdm_prng ref;
  struct vdm_entropy_backend be;
  uint8_t want[10];
  int r;

  if (!start(2, 4242)) {
    stop();
    return;
  }
  q = &tr->m.vdm.q[0].stats;
  r = vrng_read(&vr, buf, 10);
  if (!expect(r == 10, "vrng_read of 10 bytes returned %d", r))
    goto out;
  expect(q->requests == 1 && q->completions == 1,
         "the device saw %u requests and completed %u for one read of 10 bytes: want one",
         (unsigned)q->requests, (unsigned)q->completions);
  expect(q->notifies >= 1, "the device was never notified of the request");
  expect(tr->m.bytes == 10, "the device wrote %u bytes for a read of 10: ask for what the "
         "reader wants, never more (the buffer holds %d)", (unsigned)tr->m.bytes, VRNG_BUF_SIZE);
  vdm_prng_seed(&ref, 4242);
  vdm_prng_backend(&ref, &be);
  be.fill(be.ctx, want, 10);
  expect(memcmp(buf, want, 10) == 0, "the 10 bytes read are not the ones the device wrote");
  expect(vr.stats.requests == 1 && vr.stats.bytes == 10,
         "the driver counted %u requests and %u bytes; want 1 and 10",
         (unsigned)vr.stats.requests, (unsigned)vr.stats.bytes);
out:
  stop();
}

// A read bigger than the buffer: as many requests as it takes, each no
// bigger than the buffer, the bytes in the device's order.
static void test_rng_many_requests(void)
{
  const struct vdm_queue_stats *q;
  struct vdm_prng ref;
  struct vdm_entropy_backend be;
  static uint8_t want[1000];
  uint32_t k, n;
  int r;

  if (!start(2, 99)) {
    stop();
    return;
  }
  q = &tr->m.vdm.q[0].stats;
  r = vrng_read(&vr, buf, 1000);
  if (!expect(r == 1000, "vrng_read of 1000 bytes returned %d", r))
    goto out;
  n = (1000 + VRNG_BUF_SIZE - 1) / VRNG_BUF_SIZE;
  expect(q->requests == n, "%u requests for 1000 bytes with a buffer of %d: want %u",
         (unsigned)q->requests, VRNG_BUF_SIZE, (unsigned)n);
  expect(tr->m.bytes == 1000, "the device wrote %u bytes for a read of 1000",
         (unsigned)tr->m.bytes);
  vdm_prng_seed(&ref, 99);
  vdm_prng_backend(&ref, &be);
  for (k = 0; k < 1000; k += VRNG_BUF_SIZE)
    be.fill(be.ctx, want + k, 1000 - k < VRNG_BUF_SIZE ? 1000 - k : VRNG_BUF_SIZE);
  expect(memcmp(buf, want, 1000) == 0, "the bytes read are not the device's, in its order");
out:
  stop();
}

// The reader sleeps while the device works; the interrupt handler takes
// the buffer back and wakes it. Every request ends in an interrupt the
// driver handled, and the queue is empty afterwards.
static void test_rng_interrupt(void)
{
  int r, sleeps, irqs;

  if (!start(2, 5)) {
    stop();
    return;
  }
  sleeps = host_sleep_calls;
  irqs = host_irq_calls;
  r = vrng_read(&vr, buf, 3 * VRNG_BUF_SIZE);
  if (!expect(r == 3 * VRNG_BUF_SIZE, "vrng_read returned %d", r))
    goto out;
  expect(host_sleep_calls - sleeps >= 3, "the reader slept %d times for 3 requests: it must "
         "sleep (vos_sleep) until the interrupt hands the buffer back",
         host_sleep_calls - sleeps);
  expect(host_irq_calls - irqs >= 3 && vr.stats.interrupts >= 3,
         "%d interrupts delivered, %u counted by the driver, for 3 requests",
         host_irq_calls - irqs, (unsigned)vr.stats.interrupts);
  expect(!vr.inflight && !vr.busy, "after the read: inflight %d, busy %d", vr.inflight, vr.busy);
  expect(virtq_free_count(&vr.vq) == vr.vq.size, "%d of %u descriptors free after the read: a "
         "completion was not taken off the used ring", virtq_free_count(&vr.vq),
         (unsigned)vr.vq.size);
  // The next read works too: nothing was left behind.
  expect(vrng_read(&vr, buf, 7) == 7, "a second read failed");
out:
  stop();
}

static void setup(void)
{
  memset(&vr, 0, sizeof(vr));
  memset(&dev, 0, sizeof(dev));
  tr = 0;
  up = 0;
  buf = 0;
}

static void cleanup(int aborted)
{
  if (aborted) {
    if (tr)
      trng_destroy(tr);
    tr = 0;
    free(buf);
    buf = 0;
    up = 0;
  }
}

int main(int argc, char **argv)
{
  host_tests_begin(argc, argv, setup, cleanup);
  host_run_split("rng_handshake", test_rng_handshake);
  host_run_split("rng_handshake_legacy", test_rng_handshake_legacy);
  host_run_split("rng_one_request", test_rng_one_request);
  host_run_split("rng_many_requests", test_rng_many_requests);
  host_run_split("rng_interrupt", test_rng_interrupt);
  return host_tests_done();
}
