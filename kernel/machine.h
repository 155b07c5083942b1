// machine.h: the facts about the machine that the kernel learns at boot from
// the device tree (kernel/fdt.c), with QEMU virt's fixed map as the fallback.
#ifndef MACHINE_H
#define MACHINE_H
#include "param.h"
#include "memlayout.h"

struct machine {
  int    from_fdt;           // 1 if a device tree was found and parsed
  uint64 mem_base;           // RAM
  uint64 mem_size;
  int    nharts;             // harts listed under /cpus (at most NCPU)
  uint64 hartids[NCPU];
  uint64 plic_base;
  uint64 uart_base;
  int    uart_irq;
  int    nvirtio;            // virtio,mmio nodes, sorted by address
  struct {
    uint64 base;
    int irq;
  } virtio[VIRTIO_NSLOT];

  // The PCIe host bridge (node "pci-host-ecam-generic"), if there is one.
  // kernel/glue/pci.c enumerates its bus 0 and places the BARs in its
  // windows; vm.c maps what pci.c will use (PCI_ECAM_MAP, PCI_IO_MAP,
  // PCI_MEM_MAP bytes of each, below).
  int    has_pci;
  uint64 ecam_base;          // reg: configuration space, 1 MB per bus
  uint64 ecam_size;
  int    pci_bus0;           // bus-range: the first bus number (ECAM starts there)
  struct pci_window {        // ranges: CPU address, PCI bus address, size (0: none)
    uint64 cpu;
    uint64 bus;
    uint64 size;
  } pci_io, pci_mem32, pci_mem64;
  // interrupt-map-mask and interrupt-map: a device's (phys.hi, pin), masked,
  // finds its row; the row gives the PLIC source.
  uint32 pci_imask_hi;       // of the unit address's first cell (bus, device, function)
  uint32 pci_imask_pin;
  int    npci_imap;
  struct {
    uint32 hi;
    uint32 pin;
    int irq;
  } pci_imap[PCI_NIMAP];
};

extern struct machine machine;
#endif
