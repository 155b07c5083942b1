// virtio_mmio.c: the virtio-mmio transport, modern (Version 2) and legacy
// (Version 1) register layouts: probing, and the primitives of struct
// vio_ops (virtio_transport.h) on its registers. The handshake, reset and
// configuration reads built on them are virtio_transport.c's, the same
// for virtio-pci (virtio_pci.c).
//
// Follows virtio 1.2:
//   4.2.2  MMIO device register layout (which register is where)
//   4.2.3  MMIO-specific initialization: probing, queue configuration,
//          notifications in both directions
//   4.2.4  the legacy interface (GuestPageSize, QueueAlign, QueuePFN)
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
// layout of 4.2.2. The register-level difference stays in this file; the
// protocol's (the second feature word, FEATURES_OK, ConfigGeneration) is
// in virtio_transport.c, for the legacy PCI header too.
static int is_legacy(struct vio_dev *d)
{
  return d->version == 1;
}

static const struct vio_ops mmio_ops;

int vio_probe(struct vio_dev *d, uintptr_t base)
{
  uint32_t magic, version;

  // Start from "nothing here", so a probe that fails part way leaves no
  // half-filled description behind.
  d->ops = &mmio_ops;
  d->base = base;
  d->version = 0;
  d->device_id = 0;
  d->vendor_id = 0;
  d->device_features = 0;
  d->features = 0;
  d->notify_base = d->isr = d->device_cfg = 0;  // virtio-pci's, not ours
  d->notify_mul = d->notify_len = 0;

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

// ---- the primitives (struct vio_ops) ----

// The device status field (2.1); writing 0 resets the device.
static uint32_t mmio_get_status(struct vio_dev *d)
{
  return reg_read(d, VIRTIO_MMIO_STATUS);
}

static void mmio_set_status(struct vio_dev *d, uint32_t status)
{
  reg_write(d, VIRTIO_MMIO_STATUS, status);
}

// Feature bits come 32 at a time; DeviceFeaturesSel picks the word, and
// 4.2.2.2 requires writing it before every read of DeviceFeatures.
static uint32_t mmio_get_features(struct vio_dev *d, uint32_t word)
{
  reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, word);
  return reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

// The accepted bits, in the same 32-bit words; 4.2.2.2 again requires
// the select register to be written first.
static void mmio_set_features(struct vio_dev *d, uint32_t word, uint32_t bits)
{
  reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, word);
  reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, bits);
}

// 4.2.3.2 steps 1-3 (legacy: 4.2.4 steps 1-3): select the queue, check
// it is not in use, read its largest size.
static uint32_t mmio_queue_max(struct vio_dev *d, uint16_t q)
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

static int mmio_queue_setup(struct vio_dev *d, uint16_t q, uint16_t size,
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
static void mmio_notify(struct vio_dev *d, uint16_t q)
{
  // Without VIRTIO_F_NOTIFICATION_DATA (never negotiated here) the value
  // is just the queue index (4.2.3.3).
  reg_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

// 4.2.3.4.1: after an interrupt the driver reads InterruptStatus to learn
// why, and acknowledges the events it handles by writing them to
// InterruptACK. The device keeps each bit (and its interrupt line) up
// until it is acknowledged (4.2.2.1).
static uint32_t mmio_intr_ack(struct vio_dev *d)
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

// The space starts at offset 0x100 (4.2.2); virtio_transport.c picks the
// field's bytes out of the words this returns.
static uint32_t mmio_config_read32(struct vio_dev *d, uint32_t off)
{
  return reg_read(d, VIRTIO_MMIO_CONFIG + off);
}

// Changes whenever the device changes its configuration space (4.2.2);
// a legacy device has no such register, and virtio_transport.c does not
// ask one for it.
static uint32_t mmio_config_generation(struct vio_dev *d)
{
  return reg_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
}

// The table vio_probe puts in every virtio-mmio device. One table for
// both layouts: each function above asks is_legacy where they differ,
// and a legacy device's QueueNum is writable (4.2.4), so the queue size
// is the driver's choice on both.
static const struct vio_ops mmio_ops = {
  .name = "virtio-mmio",
  .fixed_queue_size = 0,
  .get_status = mmio_get_status,
  .set_status = mmio_set_status,
  .get_features = mmio_get_features,
  .set_features = mmio_set_features,
  .queue_max = mmio_queue_max,
  .queue_setup = mmio_queue_setup,
  .notify = mmio_notify,
  .intr_ack = mmio_intr_ack,
  .config_read32 = mmio_config_read32,
  .config_generation = mmio_config_generation,
};
