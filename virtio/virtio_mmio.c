// virtio_mmio.c: the virtio-mmio transport, modern (Version 2) and legacy
// (Version 1) register layouts.
//
// Follows virtio 1.2:
//   4.2.2  MMIO device register layout (which register is where)
//   4.2.3  MMIO-specific initialization: probing, queue configuration,
//          notifications in both directions
//   4.2.4  the legacy interface (GuestPageSize, QueueAlign, QueuePFN)
//   3.1.1  the driver's initialization sequence (the status handshake)
//   2.4    device reset, 2.5 configuration space and ConfigGeneration
//
// See it run: `make -C tests/host check` drives it against a fake register
// file that checks every access; `make qemu` probes QEMU's 8 virtio-mmio
// slots at boot.
//
// Every register access goes through vos_mmio_read32/vos_mmio_write32 (the
// spec demands 32-bit accesses to control registers, 4.2.2.2), so this file
// runs unchanged on real hardware and against the host tests' fake device.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"

// How many times we re-read a register while waiting for the device.
// Devices normally answer at once; the bound only keeps a broken one from
// hanging the kernel (bad devices get -1, never an infinite loop).
#define VIO_POLL_LIMIT 1000
// How many times a configuration space read is retried while the device
// keeps changing the space under us (config_read).
#define VIO_CONFIG_RETRY_LIMIT 64

// The only two places this file touches the device. Register accesses
// reach the device in program order among themselves; against ordinary
// memory (the rings) only a vos_mb() orders them, and this file has one
// wherever that matters: before a queue goes live.
static uint32_t reg_read(struct vio_dev *d, uint32_t off)
{
  return vos_mmio_read32(d->base + off);
}

static void reg_write(struct vio_dev *d, uint32_t off, uint32_t val)
{
  vos_mmio_write32(d->base + off, val);
}

// Version 1 is the legacy register layout (4.2.4): 32 feature bits, no
// FEATURES_OK, a queue located by its page number. Version 2 is the
// layout of 4.2.2. The difference stays in this file.
static int is_legacy(struct vio_dev *d)
{
  return d->version == 1;
}

int vio_probe(struct vio_dev *d, uintptr_t base)
{
  uint32_t magic, version;

  // Start from "nothing here", so a probe that fails part way leaves no
  // half-filled description behind.
  d->base = base;
  d->version = 0;
  d->device_id = 0;
  d->vendor_id = 0;
  d->device_features = 0;
  d->features = 0;

  // 4.2.3.1.1: read and check MagicValue and Version first ...
  // 4.2.2.2: a driver must ignore a device whose magic is wrong (it may
  // say so): whatever sits at this address is not virtio-mmio, and
  // writing its registers could do anything.
  magic = reg_read(d, VIRTIO_MMIO_MAGIC_VALUE);
  if (magic != VIRTIO_MMIO_MAGIC) {
    vos_log("virtio-mmio %p: bad magic 0x%x, not a virtio device\n",
            (void *)base, (unsigned)magic);
    return -1;
  }
  // 2 is the layout of 4.2.2; 1 is the legacy one (4.2.4), which QEMU
  // gives its virtio-mmio devices unless told force-legacy=false (`make
  // qemu LEGACY=1` keeps it). Any other version has a layout we cannot know.
  version = reg_read(d, VIRTIO_MMIO_VERSION);
  if (version != 1 && version != 2) {
    vos_log("virtio-mmio %p: unsupported version %u\n",
            (void *)base, (unsigned)version);
    return -1;
  }
  d->version = version;

  // ... then DeviceID. Zero is a placeholder slot: the spec says stop here
  // without touching any other register and without reporting an error.
  d->device_id = reg_read(d, VIRTIO_MMIO_DEVICE_ID);
  if (d->device_id == 0)
    return 0;
  // Only reported (the kernel's devinfo system call passes it on); no
  // driver decides anything by it.
  d->vendor_id = reg_read(d, VIRTIO_MMIO_VENDOR_ID);
  return 1;
}

// The device status field (2.1): the bits the driver has set so far, plus
// DEVICE_NEEDS_RESET if the device set it.
uint32_t vio_get_status(struct vio_dev *d)
{
  return reg_read(d, VIRTIO_MMIO_STATUS);
}

// The driver may only ever add status bits (2.1.1), so every step is
// read-modify-write: it keeps every bit already set, ours and the device's.
static void add_status(struct vio_dev *d, uint32_t bit)
{
  reg_write(d, VIRTIO_MMIO_STATUS, vio_get_status(d) | bit);
}

void vio_reset(struct vio_dev *d)
{
  int i;

  // Writing 0 resets the device: it drops its queues and stops reading or
  // writing our memory. A device may take a moment; 2.4.2 says to
  // consider the reset done only once Status reads back 0.
  // A legacy device also forgets its queues' page numbers (4.2.4).
  reg_write(d, VIRTIO_MMIO_STATUS, 0);
  // 2.4.1: once Status reads 0 the device sends no notifications and
  // does not touch the queues until it is initialised again. Only after
  // that may a caller free the rings or hand buffers back to their owners.
  for (i = 0; i < VIO_POLL_LIMIT; i++) {
    if (vio_get_status(d) == 0)
      return;
  }
  // A device that never reads 0 is broken beyond what a driver can fix;
  // all we can do is say so.
  vos_log("virtio-mmio %p: status still 0x%x after reset\n",
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

static uint64_t read_device_features(struct vio_dev *d)
{
  uint64_t lo, hi = 0;

  // Feature bits come 32 at a time; DeviceFeaturesSel picks the word, and
  // 4.2.2.2 requires writing it before every read of DeviceFeatures.
  reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  lo = reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
  // A legacy device has only 32 feature bits: every bit from 32 up
  // (VIRTIO_F_VERSION_1 first) came with virtio 1.0.
  if (!is_legacy(d)) {
    reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    hi = reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
  }
  return (hi << 32) | lo;
}

// The accepted subset, in the same 32-bit words; 4.2.2.2 again requires
// the select register to be written first.
static void write_driver_features(struct vio_dev *d, uint64_t accept)
{
  reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)accept);
  if (!is_legacy(d)) {
    reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(accept >> 32));
  }
}

// 3.1.1: if a step goes irrecoverably wrong the driver sets FAILED and
// stops initialising; the device stays unusable until the next reset.
static int negotiate_fail(struct vio_dev *d, const char *why)
{
  vos_log("virtio-mmio %p (device type %u): %s\n", (void *)d->base,
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
    // A Version 2 register layout with a device that does not speak
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

  // Steps 5-6: freeze the features, then read Status back; a device that
  // cannot work with this subset leaves FEATURES_OK clear (2.2.2).
  add_status(d, VIRTIO_STATUS_FEATURES_OK);
  if (!(vio_get_status(d) & VIRTIO_STATUS_FEATURES_OK))
    return negotiate_fail(d, "device did not accept our features (FEATURES_OK clear)");
  return 0;
}

// 4.2.3.2 steps 1-3 (legacy: 4.2.4 steps 1-3): select the queue, check
// it is not in use, read its largest size.
uint32_t vio_queue_max(struct vio_dev *d, uint16_t q)
{
  reg_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
  // A queue that is already live belongs to someone else (or to a driver
  // that did not reset the device); do not touch it. 4.2.2.2 also forbids
  // writing a ready queue's size and addresses. A legacy queue is live
  // while its page number is not 0.
  if (is_legacy(d)) {
    if (reg_read(d, VIRTIO_MMIO_QUEUE_PFN) != 0)
      return 0;
  } else {
    if (reg_read(d, VIRTIO_MMIO_QUEUE_READY) != 0)
      return 0;
  }
  // 0 here means the queue does not exist (4.2.2).
  return reg_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
}

static int queue_setup_legacy(struct vio_dev *d, uint16_t q, uint16_t size,
                              uint64_t desc_pa, uint64_t driver_pa,
                              uint64_t device_pa)
{
  uint64_t pfn = desc_pa / VIRTIO_LEGACY_PAGE_SIZE;

  // A legacy device is only told where the descriptor table starts and
  // computes the other two areas itself, so they had better be where it
  // will look.
  if (desc_pa % VIRTIO_LEGACY_PAGE_SIZE != 0 ||
      driver_pa != desc_pa + 16 * (uint64_t)size ||
      device_pa != desc_pa + virtq_legacy_used_offset(size, VIRTIO_LEGACY_QUEUE_ALIGN)) {
    vos_log("virtio-mmio %p: queue %u not in the legacy layout\n",
            (void *)d->base, (unsigned)q);
    return -1;
  }
  // QueuePFN is a 32-bit page number, and 0 is no address at all: it is
  // what "stop using the queue" writes (4.2.4).
  if (pfn == 0 || pfn > 0xffffffffu) {
    vos_log("virtio-mmio %p: queue %u at 0x%llx has no 32-bit page number\n",
            (void *)d->base, (unsigned)q, (unsigned long long)desc_pa);
    return -1;
  }
  // 4.2.4: the page size first (the device multiplies QueuePFN by it),
  // then steps 1, 5 and 6: select the queue, its size, and QueueAlign,
  // where the used ring starts (2.7.2).
  reg_write(d, VIRTIO_MMIO_GUEST_PAGE_SIZE, VIRTIO_LEGACY_PAGE_SIZE);
  reg_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
  reg_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
  reg_write(d, VIRTIO_MMIO_QUEUE_ALIGN, VIRTIO_LEGACY_QUEUE_ALIGN);
  // Step 7: writing the page number makes the queue live, and the device
  // may read the rings from then on.
  //   We wrote: the rings (zeroed by vos_dma_alloc in virtq_init), then
  //   QueuePFN (a register).
  //   The device reads: QueuePFN, then avail.idx and the rest.
  //   Without the barrier the register store could overtake the zeroing,
  //   and the device could find whatever the memory held before, say a
  //   non-zero avail.idx, and start on requests nobody made.
  vos_mb();
  reg_write(d, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)pfn);
  return 0;
}

// A 64-bit address goes into a Low/High register pair (4.2.2), each 32
// bits wide: the spec allows only 32-bit register accesses (4.2.2.2).
static void write_addr(struct vio_dev *d, uint32_t low_reg, uint64_t pa)
{
  reg_write(d, low_reg, (uint32_t)pa);
  reg_write(d, low_reg + 4, (uint32_t)(pa >> 32));  // the ...HIGH register
}

int vio_queue_setup(struct vio_dev *d, uint16_t q, uint16_t size,
                    uint64_t desc_pa, uint64_t driver_pa, uint64_t device_pa)
{
  if (is_legacy(d))
    return queue_setup_legacy(d, q, size, desc_pa, driver_pa, device_pa);

  // 4.2.3.2 steps 1, 5-7 (vio_queue_max did steps 2-3, virtq.c step 4).
  // QueueSel again: this call does not rely on what an earlier call left
  // selected.
  reg_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
  // Step 5: size, at most QueueNumMax (4.2.2.2; virtq.c picked it so).
  reg_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
  // Step 6: the three areas (2.7: descriptor table, available ring, used
  // ring), wherever they are; a modern device needs no fixed layout.
  write_addr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, desc_pa);
  write_addr(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, driver_pa);
  write_addr(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, device_pa);
  // Step 7. The device may read the rings as soon as it sees QueueReady
  // (4.2.2.1 forbids it only while QueueReady is 0).
  //   We wrote: the rings (zeroed in virtq_init), then QueueReady.
  //   The device reads: QueueReady, then the rings.
  //   The barrier makes the zeroing visible before the register write;
  //   without it the device could start from whatever the memory held
  //   before, the same failure as in the legacy case above.
  vos_mb();
  reg_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
  return 0;
}

// The ordering a notification needs (the ring stores before it) is
// barrier (2) in virtq_kick; this is only the register write.
void vio_notify(struct vio_dev *d, uint16_t q)
{
  // Without VIRTIO_F_NOTIFICATION_DATA (never negotiated here) the value
  // is just the queue index (4.2.3.3).
  reg_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

// 4.2.3.4.1: after an interrupt the driver reads InterruptStatus to learn
// why, and acknowledges the events it handles by writing them to
// InterruptACK. The device keeps each bit (and its interrupt line) up
// until it is acknowledged (4.2.2.1). The drivers call this first thing
// in their handlers and then handle every event it returned before they
// return; why first and not last is explained in vblk_intr.
uint32_t vio_intr_ack(struct vio_dev *d)
{
  uint32_t st = reg_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
  // Only the defined bits may be written back (4.2.2.2); the driver must
  // ignore the others, whatever a device sets there.
  st &= VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG;
  // Nothing set: another device's interrupt on a shared line, or one we
  // already handled. Nothing to acknowledge.
  if (st != 0)
    reg_write(d, VIRTIO_MMIO_INTERRUPT_ACK, st);
  return st;
}

// ---- configuration space (2.5) ----
//
// The OS interface only offers 32-bit register access, so every field is
// read through the aligned 32-bit word(s) that contain it and the bytes are
// picked out. (4.2.2.2 asks for 8- and 16-bit accesses to 8- and 16-bit
// fields; QEMU and the fake device accept the wider read. A port for a
// device that insists would add narrow accessors to virtio_os.h.)

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
      word = reg_read(d, VIRTIO_MMIO_CONFIG + aligned);
      word_off = aligned;
      have_word = 1;
    }
    // Registers are little-endian (4.2.2): the byte at `at` is this far up
    // the word, and the field's byte i is its 2^(8i) place (2.5: fields
    // are little-endian; a legacy device uses the guest's order, 2.5.3,
    // which on our little-endian CPUs is the same).
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
      before = reg_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
      val = config_read_bytes(d, off, nbytes);
      after = reg_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
      if (before == after)
        return val;
    }
  }
  // A device that changes the space on every read would keep us here
  // forever; after the limit we take the last value and say so.
  vos_log("virtio-mmio %p: config space keeps changing, using last read\n",
          (void *)d->base);
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
