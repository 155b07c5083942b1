// virtio_os.h: the one boundary between the portable virtio core and the
// operating system it runs in.
//
// Everything under virtio/, the network stack (net/) and the software
// device model (devmodel/) includes this header and nothing OS-specific.
// Each port supplies `vos_port.h` (which defines vos_lock_t) on its include
// path and implements the functions below:
//   kernel/glue/vos_port.h + kernel/glue/vos_riscv.c    the RISC-V kernel
//   tests/host/vos_port.h + tests/host/vos_host.c       host unit tests
//   tests/host/net/vos_net_host.c                       the network stack's host tests
//   cm3/vos_port.h + cm3/vos_cm3.c                      the Cortex-M3 port
//
// Memory handed to a device must be "DMA-able": reachable by the device at
// the address vos_virt_to_phys() returns. Get it from vos_dma_alloc().
#ifndef VIRTIO_OS_H
#define VIRTIO_OS_H
#include <stdint.h>
#include <stddef.h>
#include "vos_port.h"

// Zeroed, 4096-byte aligned, physically contiguous memory for rings and
// request headers. Returns NULL when there is none left. (A port with only
// modern devices may align less, at least 16: the Cortex-M3 port does,
// see cm3/vos_cm3.c; legacy rings must start on a page.)
void    *vos_dma_alloc(size_t size);
void     vos_dma_free(void *p, size_t size);
uint64_t vos_virt_to_phys(void *p);
void    *vos_phys_to_virt(uint64_t pa);

// 32-bit register access (virtio-mmio registers are all 32 bits wide,
// virtio 1.2 section 4.2.2). On a port whose registers live in RAM, a write
// also runs the device model's side effects. The core assumes accesses to
// one device's registers reach it in program order; ordering them against
// ordinary memory (the rings) takes vos_mb().
uint32_t vos_mmio_read32(uintptr_t addr);
void     vos_mmio_write32(uintptr_t addr, uint32_t val);
// 8- and 16-bit register access, at an address aligned to the width.
// virtio-pci has 8- and 16-bit fields that must be accessed at their own
// width (virtio 1.2 section 4.1.3.1); only a port that builds
// virtio_pci.c needs them (not the Cortex-M3 port).
uint8_t  vos_mmio_read8(uintptr_t addr);
uint16_t vos_mmio_read16(uintptr_t addr);
void     vos_mmio_write8(uintptr_t addr, uint8_t val);
void     vos_mmio_write16(uintptr_t addr, uint16_t val);

// Full memory barrier: every load and store before it is visible to the
// device before any load or store after it, register accesses included
// (on RISC-V `fence iorw, iorw`). virtq.c says at each use who writes
// what and who reads it.
void     vos_mb(void);

// Mutual exclusion between harts and interrupt handlers, and blocking.
void     vos_lock_init(vos_lock_t *lk, const char *name);
void     vos_lock(vos_lock_t *lk);
void     vos_unlock(vos_lock_t *lk);
// Atomically release lk and wait until vos_wakeup(chan); lk is held again on
// return. Callers loop re-checking their condition.
void     vos_sleep(void *chan, vos_lock_t *lk);
void     vos_wakeup(void *chan);

// Milliseconds since some fixed moment (boot, say); never goes backwards.
// Timer-tick resolution is enough. The network stack (net/) uses it
// for ARP cache expiry, ARP retries and ping timeouts.
uint64_t vos_time_ms(void);

// Diagnostics. Formats: %d %u %x %p %s %c, with l or ll for 64-bit values.
void     vos_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
