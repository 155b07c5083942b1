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
};

extern struct machine machine;
#endif
