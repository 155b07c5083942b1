// virtio_pci.c: the virtio-pci transport, modern (the virtio structure
// capabilities) and legacy (the header in I/O BAR0), and the PCI it needs:
// configuration space, BAR sizing and placement, the capability list.
// The handshake, reset and configuration reads built on these primitives
// are virtio_transport.c's, the same as for virtio-mmio.
//
// Follows virtio 1.2:
//   4.1.2  discovery: vendor 0x1af4, device 0x1040 + type (modern) or
//          0x1000-0x103f with the type in the subsystem ID (transitional)
//   4.1.3  layout: natural-width accesses (4.1.3.1)
//   4.1.4  the capabilities: common configuration (4.1.4.3),
//          notifications (4.1.4.4), ISR status (4.1.4.5), device
//          configuration (4.1.4.6); which instance to use (4.1.4.1)
//   4.1.4.10  the legacy header in I/O BAR0
//   4.1.5  virtqueue configuration (4.1.5.1.3, legacy 4.1.5.1.3.1),
//          notifications (4.1.5.2), interrupts (4.1.5.3, 4.1.5.4, 4.1.5.5)
// and for PCI itself the PCI Local Bus Specification 3.0: 6.1 the
// configuration header, 6.2.5 base address registers, 6.7 capabilities.
//
// Interrupts are INTx, the PCI interrupt pins, which a host bridge wires
// to ordinary interrupt controller lines (the PLIC on RISC-V; the device
// tree's interrupt-map says which). No MSI-X: a message-signalled
// interrupt is a memory write to an address the interrupt controller
// answers, and QEMU's default RISC-V virt machine has no such controller
// (its PLIC has no message address; MSIs need the AIA's IMSIC, which
// only `-machine virt,aia=aplic-imsic` adds). Without MSI-X enabled a
// device interrupts on its pin, sets the ISR status byte, and the device
// configuration starts at offset 20 of the legacy header (4.1.4.10).
//
// See it run: `make qemu PCI=1` (modern devices; the Makefile says how to
// get transitional and legacy-only ones); `make -C tests/host check` runs
// the BAR sizing and capability walk against a fake configuration space.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_pci.h"

// ---- PCI configuration space ----
//
// ECAM lets configuration space be read at any width; 32 bits at a time
// is enough, and is the only width the host tests' fake bus answers.

// The two places this file touches configuration space; everything
// else, narrow fields included, goes through them.
uint32_t pci_cfg_read32(uintptr_t cfg, uint32_t off)
{
  return vos_mmio_read32(cfg + off);
}

void pci_cfg_write32(uintptr_t cfg, uint32_t off, uint32_t val)
{
  vos_mmio_write32(cfg + off, val);
}

// A 16-bit field never straddles two words in the header (PCI 3.0 6.1
// aligns every field to its size), so it is a shift of one word.
uint16_t pci_cfg_read16(uintptr_t cfg, uint32_t off)
{
  return (uint16_t)(pci_cfg_read32(cfg, off & ~3u) >> (8 * (off & 2)));
}

uint8_t pci_cfg_read8(uintptr_t cfg, uint32_t off)
{
  return (uint8_t)(pci_cfg_read32(cfg, off & ~3u) >> (8 * (off & 3)));
}

// PCI 3.0 6.2.5.1: a BAR's low bits say what it is (bit 0: I/O; bits 1-2
// of a memory BAR: 64-bit if 2) and are read-only; so are the address bits
// below its size. Writing all ones and reading back therefore shows the
// size as the lowest writable bit. Decoding should be off meanwhile (the
// BAR briefly claims the top of the address space); before pci_enable it is.
int pci_bar_probe(uintptr_t cfg, int i, struct pci_bar *b)
{
  uint32_t reg = PCI_BAR0 + 4 * (uint32_t)i;
  uint32_t orig = pci_cfg_read32(cfg, reg), lo;
  uint32_t orig_hi = 0, hi = 0xffffffffu;
  uint64_t mask;

  // Not placed until pci_bar_assign; the type comes from the flag bits.
  b->addr = 0;
  b->size = 0;
  b->io = orig & 1;
  b->is64 = !b->io && ((orig >> 1) & 3) == 2;
  // A 64-bit BAR takes the next register too; in the last one there is
  // no next register, so the device is broken and its BAR not used.
  if (b->is64 && i == PCI_NBARS - 1)
    return 0;

  // All ones in, the size mask out, the old value back: the BAR holds
  // what it held before, so sizing alone moves nothing.
  pci_cfg_write32(cfg, reg, 0xffffffffu);
  lo = pci_cfg_read32(cfg, reg);
  pci_cfg_write32(cfg, reg, orig);
  if (b->is64) {
    orig_hi = pci_cfg_read32(cfg, reg + 4);
    pci_cfg_write32(cfg, reg + 4, 0xffffffffu);
    hi = pci_cfg_read32(cfg, reg + 4);
    pci_cfg_write32(cfg, reg + 4, orig_hi);
  }
  // Nothing writable: the BAR is not implemented (PCI 3.0 6.2.5.1 says
  // such a register reads 0).
  if (lo == 0 && (!b->is64 || hi == 0))
    return b->is64 ? 2 : 1;

  if (b->io) {
    // I/O BARs keep 2 flag bits; a device that decodes only 16 bits of
    // I/O address may read 0 in the upper half, which is not a size.
    lo &= ~3u;
    if ((lo & 0xffff0000u) == 0)
      lo |= 0xffff0000u;
  } else {
    lo &= ~0xfu;  // type and prefetchable bits
  }
  // The 32-bit case has "all ones" above bit 31: those bits do not exist.
  mask = ((uint64_t)hi << 32) | lo;
  b->size = ~mask + 1;
  return b->is64 ? 2 : 1;
}

// The bus address goes into the register's writable bits; the flag bits
// are read-only, so writing the address alone keeps them.
void pci_bar_assign(uintptr_t cfg, int i, const struct pci_bar *b, uint64_t bus)
{
  uint32_t reg = PCI_BAR0 + 4 * (uint32_t)i;

  pci_cfg_write32(cfg, reg, (uint32_t)bus);
  if (b->is64)
    pci_cfg_write32(cfg, reg + 4, (uint32_t)(bus >> 32));
}

// The command register is 16 bits and shares its word with the status
// register, whose error bits are cleared by writing 1 (PCI 3.0 6.2.3):
// writing 0 there leaves them alone. Bus mastering is what lets the
// device read and write the rings in our memory at all.
void pci_enable(uintptr_t cfg, int io, int mem)
{
  uint32_t cmd = PCI_COMMAND_MASTER;

  if (io)
    cmd |= PCI_COMMAND_IO;
  if (mem)
    cmd |= PCI_COMMAND_MEMORY;
  pci_cfg_write32(cfg, PCI_COMMAND, cmd);
}

// PCI 3.0 6.7: the status register says whether there is a list; each
// entry's second byte points at the next, 0 ends it. The bottom two bits
// of a pointer are reserved and must be masked off. Capabilities live
// past the 64-byte header, so a pointer into the header is garbage, and
// more than PCI_CAP_MAX entries in 192 bytes means the list loops.
int pci_caps(uintptr_t cfg, uint8_t *offs, int max)
{
  int n = 0;
  uint32_t ptr;

  if (!(pci_cfg_read16(cfg, PCI_STATUS) & PCI_STATUS_CAP_LIST))
    return 0;
  ptr = pci_cfg_read8(cfg, PCI_CAP_PTR) & ~3u;
  while (ptr != 0 && n < max && n < PCI_CAP_MAX) {
    if (ptr < 0x40)
      break;
    offs[n++] = (uint8_t)ptr;
    ptr = pci_cfg_read8(cfg, ptr + 1) & ~3u;
  }
  return n;
}

// ---- discovery (4.1.2) ----

uint32_t vio_pci_device_type(uint16_t vendor, uint16_t device, uint16_t subsys)
{
  // Every virtio function has the vendor ID 4.1.2 gives them.
  if (vendor != VIRTIO_PCI_VENDOR)
    return 0;
  // The modern range: the device ID says the type directly.
  if (device >= 0x1040 && device <= 0x107f)
    return device - 0x1040u;
  // The transitional range: the subsystem device ID carries the type
  // (4.1.2.3), as it did for legacy drivers.
  if (device >= 0x1000 && device <= 0x103f)
    return subsys;
  return 0;
}

// ---- the virtio structure capabilities (4.1.4) ----

// One struct virtio_pci_cap, as found in configuration space.
struct vcap {
  uint8_t type, bar;
  uint32_t offset, length;
  uint32_t mul;          // notify only: notify_off_multiplier
};

// The fields of struct virtio_pci_cap (4.1.4): cap_vndr, cap_next,
// cap_len, cfg_type in the first word; bar in the second; offset and
// length after; the notification capability adds a multiplier (4.1.4.4).
// 0 if the entry is not a usable virtio structure capability.
static int read_vcap(uintptr_t cfg, uint32_t at, struct vcap *c)
{
  uint32_t w0 = pci_cfg_read32(cfg, at);
  uint32_t cap_len = (w0 >> 16) & 0xff;

  if ((w0 & 0xff) != PCI_CAP_ID_VNDR || cap_len < 16)
    return 0;
  // cap_len may be larger than this (4.1.4.1: accept it); the fields we
  // read sit at fixed places from the start.
  c->type = (uint8_t)(w0 >> 24);
  c->bar = (uint8_t)pci_cfg_read32(cfg, at + 4);
  c->offset = pci_cfg_read32(cfg, at + 8);
  c->length = pci_cfg_read32(cfg, at + 12);
  c->mul = 0;
  if (c->type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
    // The multiplier is part of the notification capability: a shorter
    // one is malformed.
    if (cap_len < 20)
      return 0;
    c->mul = pci_cfg_read32(cfg, at + 16);
  }
  return 1;
}

// Where the CPU reaches a capability's structure, if it is usable: 4.1.4.1
// says to ignore a reserved bar value, and the structure must lie inside
// a BAR we placed and be as long as what we will touch (4.1.4.1 lets the
// driver check `length`). 0 otherwise.
static uintptr_t vcap_addr(const struct vcap *c, const struct pci_bar bars[PCI_NBARS],
                           uint32_t need)
{
  const struct pci_bar *b;

  if (c->bar >= PCI_NBARS)
    return 0;
  b = &bars[c->bar];
  if (b->addr == 0 || b->size == 0)
    return 0;
  // In 64 bits, so that offset + length cannot wrap around.
  if ((uint64_t)c->offset + c->length > b->size || c->length < need)
    return 0;
  return (uintptr_t)(b->addr + c->offset);
}

static const struct vio_ops pci_modern_ops, pci_legacy_ops;

// 4.1.4.1: "the driver SHOULD use the first instance of each virtio
// structure type they can support", so a later instance only counts when
// every earlier one was unusable. The common configuration, the
// notification area and the ISR byte must all be there (4.1.4.3.1,
// 4.1.4.4.1, 4.1.4.5.1); the device configuration only for device types
// that have one (4.1.4.6), so its absence is left to the driver.
static int find_modern(struct vio_dev *d, uintptr_t cfg, const struct pci_bar bars[PCI_NBARS])
{
  uint8_t offs[PCI_CAP_MAX];
  int n = pci_caps(cfg, offs, PCI_CAP_MAX), i;
  struct vcap c;
  uintptr_t a;

  for (i = 0; i < n; i++) {
    if (!read_vcap(cfg, offs[i], &c))
      continue;  // another vendor-specific capability, or another kind
    if (c.type == VIRTIO_PCI_CAP_COMMON_CFG && d->base == 0) {
      d->base = vcap_addr(&c, bars, VIRTIO_PCI_COMMON_LEN);
    } else if (c.type == VIRTIO_PCI_CAP_NOTIFY_CFG && d->notify_base == 0) {
      // Each queue's address is offset + queue_notify_off * multiplier,
      // at least 2 bytes wide (4.1.4.4); vio_queue_setup checks it fits.
      a = vcap_addr(&c, bars, 2);
      if (a != 0) {
        d->notify_base = a;
        d->notify_mul = c.mul;
        d->notify_len = c.length;
      }
    } else if (c.type == VIRTIO_PCI_CAP_ISR_CFG && d->isr == 0) {
      d->isr = vcap_addr(&c, bars, 1);
    } else if (c.type == VIRTIO_PCI_CAP_DEVICE_CFG && d->device_cfg == 0) {
      d->device_cfg = vcap_addr(&c, bars, 0);
    }
    // Anything else (PCI_CFG access, shared memory, vendor data, reserved
    // types) is not used here: 4.1.4.1 says to ignore what we do not know.
  }
  return d->base != 0 && d->notify_base != 0 && d->isr != 0;
}

int vio_pci_probe(struct vio_dev *d, uintptr_t cfg, const struct pci_bar bars[PCI_NBARS])
{
  uint16_t vendor = pci_cfg_read16(cfg, PCI_VENDOR_ID);
  uint16_t device = pci_cfg_read16(cfg, PCI_DEVICE_ID);
  int i;

  // Start from "nothing here", so a probe that fails part way leaves no
  // half-filled description behind.
  d->ops = 0;
  d->base = d->notify_base = d->isr = d->device_cfg = 0;
  d->notify_mul = d->notify_len = 0;
  for (i = 0; i < VIO_NQUEUE; i++)
    d->notify_off[i] = 0;
  d->version = 0;
  d->device_features = d->features = 0;
  d->device_id = vio_pci_device_type(vendor, device, pci_cfg_read16(cfg, PCI_SUBSYS_ID));
  // Only reported, like virtio-mmio's VendorID (4.1.2: informational).
  d->vendor_id = pci_cfg_read16(cfg, PCI_SUBSYS_VENDOR_ID);
  if (d->device_id == 0) {
    vos_log("virtio-pci %04x:%04x: not a virtio device\n", vendor, device);
    return -1;
  }

  // Modern first: a transitional device (0x1000-0x103f) offers both, and
  // the capabilities are what virtio 1.x drivers use.
  if (find_modern(d, cfg, bars)) {
    d->ops = &pci_modern_ops;
    d->version = 2;
    return 1;
  }
  // A modern-only device ID without its capabilities is broken; one in
  // the transitional range without them is legacy-only (4.1.4.10: the
  // legacy header is in BAR0, the first I/O region).
  if (device < 0x1040 && bars[0].io && bars[0].addr != 0 &&
      bars[0].size >= VIRTIO_PCI_CONFIG) {
    d->ops = &pci_legacy_ops;
    d->version = 1;
    d->base = (uintptr_t)bars[0].addr;
    d->notify_base = d->isr = 0;
    // With MSI-X off (always, here) the device configuration follows the
    // 20-byte header at once (4.1.4.10).
    d->device_cfg = d->base + VIRTIO_PCI_CONFIG;
    return 1;
  }
  vos_log("virtio-pci %04x:%04x: no usable virtio capabilities and no legacy I/O BAR\n",
          vendor, device);
  return -1;
}

// ---- modern: the common configuration structure (4.1.4.3) ----
//
// Every field is accessed at its natural width (4.1.3.1); 64-bit fields
// as two 32-bit halves, low first, which 4.1.3.1 allows.

// device_status is one byte (4.1.4.3); writing 0 resets the device, and
// virtio_transport.c then waits for it to read 0 (4.1.4.3.2).
static uint32_t modern_get_status(struct vio_dev *d)
{
  return vos_mmio_read8(d->base + VIRTIO_PCI_COMMON_STATUS);
}

static void modern_set_status(struct vio_dev *d, uint32_t status)
{
  vos_mmio_write8(d->base + VIRTIO_PCI_COMMON_STATUS, (uint8_t)status);
}

// device_feature shows the 32 bits device_feature_select picks.
static uint32_t modern_get_features(struct vio_dev *d, uint32_t word)
{
  vos_mmio_write32(d->base + VIRTIO_PCI_COMMON_DFSELECT, word);
  return vos_mmio_read32(d->base + VIRTIO_PCI_COMMON_DF);
}

// driver_feature takes the 32 accepted bits of the word
// driver_feature_select picks; the select goes first, every time.
static void modern_set_features(struct vio_dev *d, uint32_t word, uint32_t bits)
{
  vos_mmio_write32(d->base + VIRTIO_PCI_COMMON_GFSELECT, word);
  vos_mmio_write32(d->base + VIRTIO_PCI_COMMON_GF, bits);
}

// 4.1.5.1.3 steps 1-2: select the queue, read its size (0: no such
// queue). queue_size reads the largest size until the driver writes a
// smaller one, and a reset puts it back. A queue already enabled belongs
// to someone else; leave it alone, as on virtio-mmio.
static uint32_t modern_queue_max(struct vio_dev *d, uint16_t q)
{
  vos_mmio_write16(d->base + VIRTIO_PCI_COMMON_Q_SELECT, q);
  if (vos_mmio_read16(d->base + VIRTIO_PCI_COMMON_Q_ENABLE) != 0)
    return 0;
  return vos_mmio_read16(d->base + VIRTIO_PCI_COMMON_Q_SIZE);
}

// A 64-bit field as two 32-bit halves, low first (4.1.3: "64-bit fields
// are to be treated as two 32-bit fields"); the device takes the address
// only when queue_enable is written, so the two writes need not be atomic.
static void write64(uintptr_t at, uint64_t v)
{
  vos_mmio_write32(at, (uint32_t)v);
  vos_mmio_write32(at + 4, (uint32_t)(v >> 32));
}

static int modern_queue_setup(struct vio_dev *d, uint16_t q, uint16_t size,
                              uint64_t desc_pa, uint64_t driver_pa, uint64_t device_pa)
{
  uint32_t noff;

  if (q >= VIO_NQUEUE) {
    vos_log("virtio-pci %p: queue %u: only %d queues kept per device (VIO_NQUEUE)\n",
            (void *)d->base, (unsigned)q, VIO_NQUEUE);
    return -1;
  }
  vos_mmio_write16(d->base + VIRTIO_PCI_COMMON_Q_SELECT, q);
  // Where this queue's notifications go (4.1.4.4): the device must leave
  // room for a 16-bit write there (4.1.4.4.1); one that does not would
  // have us write outside its notification area.
  noff = vos_mmio_read16(d->base + VIRTIO_PCI_COMMON_Q_NOFF);
  if ((uint64_t)noff * d->notify_mul + 2 > d->notify_len) {
    vos_log("virtio-pci %p: queue %u notifies outside the notification area\n",
            (void *)d->base, (unsigned)q);
    return -1;
  }
  d->notify_off[q] = (uint16_t)noff;
  // Step 3: the size we picked, a power of two no larger than queue_size
  // (4.1.4.3.2). Step 4 (the rings, zeroed) was virtq_init's.
  vos_mmio_write16(d->base + VIRTIO_PCI_COMMON_Q_SIZE, size);
  // The three areas, wherever they are; no fixed layout (2.7).
  write64(d->base + VIRTIO_PCI_COMMON_Q_DESC, desc_pa);
  write64(d->base + VIRTIO_PCI_COMMON_Q_AVAIL, driver_pa);
  write64(d->base + VIRTIO_PCI_COMMON_Q_USED, device_pa);
  // Step 5 (an MSI-X vector) does not apply: MSI-X stays off (see the top
  // of this file), and the device interrupts on its pin.
  // Last, queue_enable: 4.1.4.3.2 wants every other field set first.
  //   We wrote: the rings (zeroed in virtq_init), then queue_enable.
  //   The device reads: queue_enable, then the rings.
  //   The barrier makes the zeroing visible before the register write;
  //   without it the device could start from whatever the memory held
  //   before, say a non-zero avail.idx, and run requests nobody made.
  vos_mb();
  vos_mmio_write16(d->base + VIRTIO_PCI_COMMON_Q_ENABLE, 1);
  return 0;
}

// 4.1.5.2: without VIRTIO_F_NOTIFICATION_DATA (never negotiated here) the
// notification is the 16-bit queue index, written to the queue's own
// address. The ring stores before it are ordered by barrier (2) in
// virtq_kick.
static void modern_notify(struct vio_dev *d, uint16_t q)
{
  uintptr_t at = d->notify_base + (uintptr_t)d->notify_off[q] * d->notify_mul;

  vos_mmio_write16(at, q);
}

// 4.1.4.5: reading the ISR status byte returns why the device interrupted
// and clears it, which also lowers the interrupt pin: the read is the
// acknowledgement (4.1.5.5). Bit 0 is a used buffer notification, bit 1 a
// configuration change; the rest are reserved, and ignored.
static uint32_t modern_intr_ack(struct vio_dev *d)
{
  return vos_mmio_read8(d->isr) & (VIO_INT_VRING | VIO_INT_CONFIG);
}

// The device configuration structure (4.1.4.6) is 4-byte aligned, so an
// aligned word of it is an aligned word of the BAR. A device type with no
// configuration has no structure; the drivers of such types read none.
static uint32_t modern_config_read32(struct vio_dev *d, uint32_t off)
{
  if (d->device_cfg == 0)
    return 0;
  return vos_mmio_read32(d->device_cfg + off);
}

// Changes whenever the device changes its configuration (4.1.4.3.1).
static uint32_t modern_config_generation(struct vio_dev *d)
{
  return vos_mmio_read8(d->base + VIRTIO_PCI_COMMON_CFGGEN);
}

static const struct vio_ops pci_modern_ops = {
  .name = "virtio-pci",
  .fixed_queue_size = 0,
  .get_status = modern_get_status,
  .set_status = modern_set_status,
  .get_features = modern_get_features,
  .set_features = modern_set_features,
  .queue_max = modern_queue_max,
  .queue_setup = modern_queue_setup,
  .notify = modern_notify,
  .intr_ack = modern_intr_ack,
  .config_read32 = modern_config_read32,
  .config_generation = modern_config_generation,
};

// ---- legacy: the header in I/O BAR0 (4.1.4.10) ----
//
// On RISC-V an I/O BAR is reached through the host bridge's I/O window, a
// range of memory addresses (kernel/glue/pci.c), so the same vos_mmio_*
// accessors reach it; widths as 4.1.4.10's table gives them.

// Device Status is the byte at offset 18; 0 resets the device, and with
// it the queue addresses (a legacy device has nothing else to forget).
static uint32_t legacy_get_status(struct vio_dev *d)
{
  return vos_mmio_read8(d->base + VIRTIO_PCI_STATUS);
}

static void legacy_set_status(struct vio_dev *d, uint32_t status)
{
  vos_mmio_write8(d->base + VIRTIO_PCI_STATUS, (uint8_t)status);
}

// Only bits 0-31 exist here (4.1.4.10); virtio_transport.c asks for no
// other word of a legacy device.
static uint32_t legacy_get_features(struct vio_dev *d, uint32_t word)
{
  return vos_mmio_read32(d->base + VIRTIO_PCI_HOST_FEATURES);
}

// Driver (guest) features: the one word, which the device applies at
// once (a legacy device has no FEATURES_OK to refuse them, 3.1.2).
static void legacy_set_features(struct vio_dev *d, uint32_t word, uint32_t bits)
{
  vos_mmio_write32(d->base + VIRTIO_PCI_GUEST_FEATURES, bits);
}

// Select the queue; its address register is not 0 while it is live.
// queue_size is read-only: the device's one size (4.1.5.1.3.1).
static uint32_t legacy_queue_max(struct vio_dev *d, uint16_t q)
{
  vos_mmio_write16(d->base + VIRTIO_PCI_QUEUE_SEL, q);
  if (vos_mmio_read32(d->base + VIRTIO_PCI_QUEUE_PFN) != 0)
    return 0;
  return vos_mmio_read16(d->base + VIRTIO_PCI_QUEUE_NUM);
}

static int legacy_queue_setup(struct vio_dev *d, uint16_t q, uint16_t size,
                              uint64_t desc_pa, uint64_t driver_pa, uint64_t device_pa)
{
  uint64_t pfn = desc_pa / VIRTIO_PCI_LEGACY_ALIGN;
  uint16_t num;

  vos_mmio_write16(d->base + VIRTIO_PCI_QUEUE_SEL, q);
  num = vos_mmio_read16(d->base + VIRTIO_PCI_QUEUE_NUM);
  // The device computes where everything is from its own queue size and
  // an alignment of 4096 (4.1.5.1.3.1, the layout of 2.7.2): the rings
  // must be exactly there, and exactly that big.
  if (size != num || desc_pa % VIRTIO_PCI_LEGACY_ALIGN != 0 ||
      driver_pa != desc_pa + 16 * (uint64_t)size ||
      device_pa != desc_pa + virtq_legacy_used_offset(size, VIRTIO_PCI_LEGACY_ALIGN)) {
    vos_log("virtio-pci %p: queue %u of %u entries not in the legacy layout the device "
            "expects (%u entries, 4096-aligned)\n", (void *)d->base, (unsigned)q,
            (unsigned)size, (unsigned)num);
    return -1;
  }
  // The queue address is a 32-bit page number, and 0 is what "stop using
  // the queue" writes.
  if (pfn == 0 || pfn > 0xffffffffu) {
    vos_log("virtio-pci %p: queue %u at 0x%llx has no 32-bit page number\n",
            (void *)d->base, (unsigned)q, (unsigned long long)desc_pa);
    return -1;
  }
  // Writing the page number makes the queue live: the same barrier, for
  // the same reason, as before queue_enable above.
  vos_mb();
  vos_mmio_write32(d->base + VIRTIO_PCI_QUEUE_PFN, (uint32_t)pfn);
  return 0;
}

// One notification register for every queue: the value says which.
static void legacy_notify(struct vio_dev *d, uint16_t q)
{
  vos_mmio_write16(d->base + VIRTIO_PCI_QUEUE_NOTIFY, q);
}

// The same read-to-clear ISR byte as the modern one, in the header.
static uint32_t legacy_intr_ack(struct vio_dev *d)
{
  return vos_mmio_read8(d->base + VIRTIO_PCI_ISR) & (VIO_INT_VRING | VIO_INT_CONFIG);
}

// 4.1.4.10 lets a legacy driver read the device configuration at any
// width; offset 20 is 4-aligned, so words stay aligned.
static uint32_t legacy_config_read32(struct vio_dev *d, uint32_t off)
{
  return vos_mmio_read32(d->device_cfg + off);
}

// Legacy devices have no generation counter (2.5.4): virtio_transport.c
// reads twice instead and never calls this.
static uint32_t legacy_config_generation(struct vio_dev *d)
{
  return 0;
}

static const struct vio_ops pci_legacy_ops = {
  .name = "virtio-pci",
  .fixed_queue_size = 1,  // queue_size is read-only (4.1.5.1.3.1)
  .get_status = legacy_get_status,
  .set_status = legacy_set_status,
  .get_features = legacy_get_features,
  .set_features = legacy_set_features,
  .queue_max = legacy_queue_max,
  .queue_setup = legacy_queue_setup,
  .notify = legacy_notify,
  .intr_ack = legacy_intr_ack,
  .config_read32 = legacy_config_read32,
  .config_generation = legacy_config_generation,
};
