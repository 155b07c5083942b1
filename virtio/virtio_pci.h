// virtio_pci.h: the virtio-pci transport, and the little of PCI it needs:
// reading a function's configuration header, sizing and placing its BARs,
// walking its capability list. vio_pci_probe makes a PCI function a
// struct vio_dev (virtio_transport.h); from then on the drivers cannot
// tell it from a virtio-mmio device.
//
// Follows virtio 1.2 section 4.1 (Virtio Over PCI Bus): 4.1.2 discovery,
// 4.1.3 layout, 4.1.4 the virtio structure capabilities, 4.1.4.10 the
// legacy I/O BAR layout, 4.1.5 initialization and operation. The PCI
// parts follow the PCI Local Bus Specification 3.0, 6.1 (the type 0
// configuration header), 6.2.5 (base address registers) and 6.7
// (capabilities list).
//
// Portable: configuration space is reached through vos_mmio_read32 and
// vos_mmio_write32 at `cfg`, the function's 4 KB of ECAM (PCI Express
// Base Specification 7.2.2: bus, device and function select the 4 KB), so
// the same code runs in the kernel and against the host tests' fake
// configuration space. Finding the host bridge, choosing addresses for
// the BARs and routing interrupts belong to the platform
// (kernel/glue/pci.c on RISC-V).
//
// See it run: `make qemu PCI=1`; `make -C tests/host check` (pci_* tests).
#ifndef VIRTIO_PCI_H
#define VIRTIO_PCI_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"

// ---- the type 0 configuration header (PCI 3.0 section 6.1) ----
#define PCI_VENDOR_ID        0x00  // 16 bits; 0xffff: no function here
#define PCI_DEVICE_ID        0x02
#define PCI_COMMAND          0x04  // 16 bits, PCI_COMMAND_* below
#define PCI_STATUS           0x06  // 16 bits; bit 4: a capability list exists
#define PCI_REVISION_ID      0x08
#define PCI_HEADER_TYPE      0x0e  // bits 0-6: layout (0 = a device); bit 7: multi-function
#define PCI_BAR0             0x10  // six 32-bit base address registers
#define PCI_SUBSYS_VENDOR_ID 0x2c
#define PCI_SUBSYS_ID        0x2e
#define PCI_CAP_PTR          0x34  // offset of the first capability
#define PCI_INTERRUPT_PIN    0x3d  // 0: none, 1-4: INTA#-INTD#

#define PCI_COMMAND_IO       0x1   // answer I/O BAR accesses
#define PCI_COMMAND_MEMORY   0x2   // answer memory BAR accesses
#define PCI_COMMAND_MASTER   0x4   // may read and write memory (the rings)
#define PCI_COMMAND_INTX_OFF 0x400 // INTx disabled
#define PCI_STATUS_CAP_LIST  0x10
#define PCI_NBARS            6
#define PCI_CFG_SIZE         0x1000  // ECAM gives each function 4 KB

#define PCI_CAP_ID_VNDR      0x09  // vendor-specific: what virtio's structures use
#define PCI_CAP_MAX          48    // (256 - 64) / 4: more means a loop

#define VIRTIO_PCI_VENDOR    0x1af4

// virtio_pci_cap.cfg_type (4.1.4)
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

// The common configuration structure (4.1.4.3), offsets
#define VIRTIO_PCI_COMMON_DFSELECT   0x00  // le32 device_feature_select
#define VIRTIO_PCI_COMMON_DF         0x04  // le32 device_feature
#define VIRTIO_PCI_COMMON_GFSELECT   0x08  // le32 driver_feature_select
#define VIRTIO_PCI_COMMON_GF         0x0c  // le32 driver_feature
#define VIRTIO_PCI_COMMON_MSIX       0x10  // le16 config_msix_vector
#define VIRTIO_PCI_COMMON_NUMQ       0x12  // le16 num_queues
#define VIRTIO_PCI_COMMON_STATUS     0x14  // u8 device_status
#define VIRTIO_PCI_COMMON_CFGGEN     0x15  // u8 config_generation
#define VIRTIO_PCI_COMMON_Q_SELECT   0x16  // le16 queue_select
#define VIRTIO_PCI_COMMON_Q_SIZE     0x18  // le16 queue_size
#define VIRTIO_PCI_COMMON_Q_MSIX     0x1a  // le16 queue_msix_vector
#define VIRTIO_PCI_COMMON_Q_ENABLE   0x1c  // le16 queue_enable
#define VIRTIO_PCI_COMMON_Q_NOFF     0x1e  // le16 queue_notify_off
#define VIRTIO_PCI_COMMON_Q_DESC     0x20  // le64 queue_desc
#define VIRTIO_PCI_COMMON_Q_AVAIL    0x28  // le64 queue_driver
#define VIRTIO_PCI_COMMON_Q_USED     0x30  // le64 queue_device
#define VIRTIO_PCI_COMMON_LEN        0x38  // the bytes this driver uses

// The legacy header in I/O BAR0 (4.1.4.10), offsets
#define VIRTIO_PCI_HOST_FEATURES  0   // le32 R: device features 0-31
#define VIRTIO_PCI_GUEST_FEATURES 4   // le32 RW: driver features 0-31
#define VIRTIO_PCI_QUEUE_PFN      8   // le32 RW: queue address / 4096
#define VIRTIO_PCI_QUEUE_NUM      12  // le16 R: queue size (fixed by the device)
#define VIRTIO_PCI_QUEUE_SEL      14  // le16 RW
#define VIRTIO_PCI_QUEUE_NOTIFY   16  // le16 RW
#define VIRTIO_PCI_STATUS         18  // u8 RW
#define VIRTIO_PCI_ISR            19  // u8 R: reading clears it
#define VIRTIO_PCI_CONFIG         20  // device configuration, MSI-X off
#define VIRTIO_PCI_LEGACY_ALIGN   4096  // 4.1.5.1.3.1: the legacy layout's alignment

// One base address register as found and placed. `addr` is where the CPU
// reaches it (0: not placed); what the register holds is the bus address.
struct pci_bar {
  uint64_t addr;
  uint64_t size;       // 0: the BAR is not implemented
  int io;              // 1: I/O space, 0: memory space
  int is64;            // a 64-bit memory BAR, which takes this and the next register
};

// Configuration space, 32 bits at a time at `cfg` + off (off aligned).
uint32_t pci_cfg_read32(uintptr_t cfg, uint32_t off);
void     pci_cfg_write32(uintptr_t cfg, uint32_t off, uint32_t val);
// Narrower fields, picked out of their aligned word.
uint16_t pci_cfg_read16(uintptr_t cfg, uint32_t off);
uint8_t  pci_cfg_read8(uintptr_t cfg, uint32_t off);

// Size BAR i (PCI 3.0 6.2.5.1: write all ones, read back, restore) into
// *b (addr 0). Returns how many registers it takes: 1, or 2 for a 64-bit
// BAR; 0 if i is the last register and claims to be 64-bit (refused).
int  pci_bar_probe(uintptr_t cfg, int i, struct pci_bar *b);
// Put BAR i at bus address `bus` (both halves for a 64-bit BAR).
void pci_bar_assign(uintptr_t cfg, int i, const struct pci_bar *b, uint64_t bus);
// Turn on decoding of the placed BARs and bus mastering (PCI_COMMAND).
void pci_enable(uintptr_t cfg, int io, int mem);

// The offsets of the function's capabilities (PCI 3.0 6.7), in list order,
// at most max of them. A list that loops or points into the header ends
// the walk there. Returns how many.
int  pci_caps(uintptr_t cfg, uint8_t *offs, int max);

// The virtio device type of a PCI function (4.1.2): 0x1040 + type for a
// modern device, the subsystem device ID for a transitional one (4.1.2.3).
// 0 if vendor/device are not a virtio device.
uint32_t vio_pci_device_type(uint16_t vendor, uint16_t device, uint16_t subsys);

// Make the virtio function at `cfg`, whose BARs the platform placed
// (bars[], addr != 0 where placed), a struct vio_dev: through its virtio
// capabilities (modern) when it has them, else through the legacy header
// in I/O BAR0 (a legacy-only device). Returns 1, or -1 (logged) when
// neither is usable. d->slot and d->irq are the caller's.
int  vio_pci_probe(struct vio_dev *d, uintptr_t cfg, const struct pci_bar bars[PCI_NBARS]);

#endif
