// virtio_transport.c: what every transport does the same way, built on
// the primitives each one supplies (struct vio_ops, virtio_transport.h):
// the status handshake and feature negotiation, reset and its wait,
// configuration space reads and their retry, and the calls that only pass
// through to the transport (queue set-up, notify, interrupt acknowledge).
//
// Follows virtio 1.2:
//   3.1.1  the driver's initialization sequence (the status handshake)
//   3.1.2  the legacy sequence (no FEATURES_OK)
//   2.1    device status, 2.2 feature bits, 6.1/6.2 VIRTIO_F_VERSION_1
//   2.4    device reset, 2.5 configuration space and ConfigGeneration
//
// See it run: `make -C tests/host check` (handshake_*, config_* and
// queue_sizes run this over virtio-mmio against the device model);
// `make qemu` and `make qemu PCI=1` boot through it on either transport.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"

// How many times we re-read the status while waiting for a reset.
// Devices normally answer at once; the bound only keeps a broken one from
// hanging the kernel (bad devices get a log line, never an infinite loop).
#define VIO_POLL_LIMIT 1000
// How many times a configuration space read is retried while the device
// keeps changing the space under us (config_read).
#define VIO_CONFIG_RETRY_LIMIT 64

// Version 1 is the legacy interface of either transport (4.2.4, 4.1.4.10):
// 32 feature bits, no FEATURES_OK, no ConfigGeneration. The difference
// between the two transports' legacy layouts stays in their files; the
// difference in the protocol is here.
static int is_legacy(struct vio_dev *d)
{
  return d->version == 1;
}

// The device status field (2.1): the bits the driver has set so far, plus
// DEVICE_NEEDS_RESET if the device set it.
uint32_t vio_get_status(struct vio_dev *d)
{
  return d->ops->get_status(d);
}

// The driver may only ever add status bits (2.1.1), so every step is
// read-modify-write: it keeps every bit already set, ours and the device's.
static void add_status(struct vio_dev *d, uint32_t bit)
{
  d->ops->set_status(d, vio_get_status(d) | bit);
}

void vio_reset(struct vio_dev *d)
{
  int i;

  // Writing 0 resets the device: it drops its queues and stops reading or
  // writing our memory. A device may take a moment; 2.4.2 says to
  // consider the reset done only once the status reads back 0 (virtio-pci
  // says the same of device_status, 4.1.4.3.2). A legacy device also
  // forgets its queues' page numbers (4.2.4, 4.1.4.10).
  d->ops->set_status(d, 0);
  // 2.4.1: once the status reads 0 the device sends no notifications and
  // does not touch the queues until it is initialised again. Only after
  // that may a caller free the rings or hand buffers back to their owners.
  for (i = 0; i < VIO_POLL_LIMIT; i++) {
    if (vio_get_status(d) == 0)
      return;
  }
  // A device that never reads 0 is broken beyond what a driver can fix;
  // all we can do is say so.
  vos_log("%s %p: status still 0x%x after reset\n", d->ops->name,
          (void *)d->base, (unsigned)vio_get_status(d));
}

// FAILED (2.1): "something went wrong in the guest, and it has given up
// on the device". The device is reset before it is used again (2.1.1):
// vio_negotiate starts with a reset.
void vio_fail(struct vio_dev *d)
{
  add_status(d, VIRTIO_STATUS_FAILED);
}

// 3.1.1 step 8: the device is live. Before this the device must not use
// any buffer (2.1.2) and the driver must not notify it (3.1.1), so the
// drivers fill their receive queues first and kick after this call.
void vio_driver_ok(struct vio_dev *d)
{
  add_status(d, VIRTIO_STATUS_DRIVER_OK);
}

// Negotiated, not merely offered: what the driver may use (2.2).
int vio_has_feature(struct vio_dev *d, int bit)
{
  return (d->features >> bit) & 1;
}

// Feature bits come 32 at a time on every transport; the transport's
// get_features writes its select register first, as 4.2.2.2 and
// 4.1.4.3.2 ask.
static uint64_t read_device_features(struct vio_dev *d)
{
  uint64_t lo, hi = 0;

  lo = d->ops->get_features(d, 0);
  // A legacy device has only 32 feature bits: every bit from 32 up
  // (VIRTIO_F_VERSION_1 first) came with virtio 1.0.
  if (!is_legacy(d))
    hi = d->ops->get_features(d, 1);
  return (hi << 32) | lo;
}

// The accepted subset, in the same 32-bit words.
static void write_driver_features(struct vio_dev *d, uint64_t accept)
{
  d->ops->set_features(d, 0, (uint32_t)accept);
  if (!is_legacy(d))
    d->ops->set_features(d, 1, (uint32_t)(accept >> 32));
}

// 3.1.1: if a step goes irrecoverably wrong the driver sets FAILED and
// stops initialising; the device stays unusable until the next reset.
static int negotiate_fail(struct vio_dev *d, const char *why)
{
  vos_log("%s %p (device type %u): %s\n", d->ops->name, (void *)d->base,
          (unsigned)d->device_id, why);
  vio_fail(d);
  return -1;
}

int vio_negotiate(struct vio_dev *d, uint64_t wanted)
{
  uint64_t offered, accept;
  const uint64_t version_1 = (uint64_t)1 << VIRTIO_F_VERSION_1;

  // 3.1.1 steps 1-3: reset, "I see you", "I can drive you". The reset
  // also clears a FAILED left by an earlier attempt (2.1.1).
  vio_reset(d);
  add_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
  add_status(d, VIRTIO_STATUS_DRIVER);

  // Step 4: accept only what both sides understand (2.2.1: never accept
  // a feature the device did not offer).
  offered = read_device_features(d);
  d->device_features = offered;
  accept = wanted & offered;
  if (is_legacy(d)) {
    accept &= 0xffffffffu;  // the only word a legacy device has
  } else {
    // A modern register layout with a device that does not speak
    // virtio 1.x would be a contradiction; refuse it rather than guess.
    // (6.2: a device MUST offer VIRTIO_F_VERSION_1.)
    if (!(offered & version_1))
      return negotiate_fail(d, "modern device does not offer VIRTIO_F_VERSION_1");
    // 6.1: a driver MUST accept it when offered. Accepting it tells the
    // device to use the 1.x formats: little-endian fields (2.7.3 is the
    // legacy exception), the 12-byte network header (5.1.6.1).
    accept |= version_1;
  }
  write_driver_features(d, accept);
  d->features = accept;

  // Legacy devices have no FEATURES_OK step (3.1.2): the features simply
  // apply, and a device that cannot work with them has no way to say so.
  if (is_legacy(d))
    return 0;

  // Steps 5-6: freeze the features, then read the status back; a device
  // that cannot work with this subset leaves FEATURES_OK clear (2.2.2).
  add_status(d, VIRTIO_STATUS_FEATURES_OK);
  if (!(vio_get_status(d) & VIRTIO_STATUS_FEATURES_OK))
    return negotiate_fail(d, "device did not accept our features (FEATURES_OK clear)");
  return 0;
}

// Queue set-up differs in every register between the transports and their
// flavours; the steps and their barrier are explained in each transport.
uint32_t vio_queue_max(struct vio_dev *d, uint16_t q)
{
  return d->ops->queue_max(d, q);
}

int vio_queue_setup(struct vio_dev *d, uint16_t q, uint16_t size,
                    uint64_t desc_pa, uint64_t driver_pa, uint64_t device_pa)
{
  return d->ops->queue_setup(d, q, size, desc_pa, driver_pa, device_pa);
}

// Only the legacy PCI interface has no way to choose a queue size:
// 4.1.5.1.3.1 "There was no mechanism to negotiate the queue size". A
// legacy virtio-mmio device has a writable QueueNum (4.2.4), a modern
// device of either transport a writable queue size (4.2.2, 4.1.4.3).
int vio_queue_size_fixed(struct vio_dev *d)
{
  return d->ops->fixed_queue_size;
}

// The ordering a notification needs (the ring stores before it) is
// barrier (2) in virtq_kick; this is only the transport's register write.
void vio_notify(struct vio_dev *d, uint16_t q)
{
  d->ops->notify(d, q);
}

// The drivers call this first thing in their handlers and then handle
// every event it returned before they return; why first and not last is
// explained in vblk_intr.
uint32_t vio_intr_ack(struct vio_dev *d)
{
  return d->ops->intr_ack(d);
}

// ---- configuration space (2.5) ----
//
// The transports read configuration space one aligned 32-bit word at a
// time (config_read32), and the bytes of a field are picked out here.
// (4.2.2.2 and 4.1.3.1 ask for 8- and 16-bit accesses to 8- and 16-bit
// fields; QEMU and the device model accept the wider read. A port for a
// device that insists would read narrow fields with vos_mmio_read8/16.)

static uint64_t config_read_bytes(struct vio_dev *d, uint32_t off, int nbytes)
{
  uint64_t val = 0;
  uint32_t word = 0, word_off = 0;
  int have_word = 0;
  int i;

  // One register read per 32-bit word the field touches, not per byte:
  // fewer accesses, and the bytes of a word come from one read.
  for (i = 0; i < nbytes; i++) {
    uint32_t at = off + (uint32_t)i;
    uint32_t aligned = at & ~3u;
    if (!have_word || aligned != word_off) {
      word = d->ops->config_read32(d, aligned);
      word_off = aligned;
      have_word = 1;
    }
    // Registers are little-endian (4.2.2, 4.1.3): the byte at `at` is this
    // far up the word, and the field's byte i is its 2^(8i) place (2.5:
    // fields are little-endian; a legacy device uses the guest's order,
    // 2.5.3, which on our little-endian CPUs is the same).
    val |= (uint64_t)((word >> (8 * (at & 3))) & 0xff) << (8 * i);
  }
  return val;
}

static uint64_t config_read(struct vio_dev *d, uint32_t off, int nbytes)
{
  uint64_t val = 0, again;
  uint32_t before, after;
  int i;

  if (is_legacy(d)) {
    // No ConfigGeneration on legacy devices: 2.5.4 suggests reading until
    // two reads agree (it matters for 64-bit fields such as capacity).
    val = config_read_bytes(d, off, nbytes);
    for (i = 0; i < VIO_CONFIG_RETRY_LIMIT; i++) {
      again = config_read_bytes(d, off, nbytes);
      if (again == val)
        return val;
      val = again;
    }
  } else {
    // If the generation changed while we read, the device updated the
    // space under us and the bytes may be a mix of old and new: retry.
    // This is the loop 2.5.1 asks for: a field wider than 32 bits (the
    // disk's capacity) takes two reads and could otherwise be torn.
    for (i = 0; i < VIO_CONFIG_RETRY_LIMIT; i++) {
      before = d->ops->config_generation(d);
      val = config_read_bytes(d, off, nbytes);
      after = d->ops->config_generation(d);
      if (before == after)
        return val;
    }
  }
  // A device that changes the space on every read would keep us here
  // forever; after the limit we take the last value and say so.
  vos_log("%s %p: config space keeps changing, using last read\n",
          d->ops->name, (void *)d->base);
  return val;
}

// One function per field width: the width the spec gives a field (le64
// capacity in 5.2.4, u8 mac[6] in 5.1.4) picks the function.
uint8_t vio_config_read8(struct vio_dev *d, uint32_t off)
{
  return (uint8_t)config_read(d, off, 1);
}

uint16_t vio_config_read16(struct vio_dev *d, uint32_t off)
{
  return (uint16_t)config_read(d, off, 2);
}

uint32_t vio_config_read32(struct vio_dev *d, uint32_t off)
{
  return (uint32_t)config_read(d, off, 4);
}

uint64_t vio_config_read64(struct vio_dev *d, uint32_t off)
{
  return config_read(d, off, 8);
}
