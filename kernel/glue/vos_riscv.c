// vos_riscv.c: the RISC-V kernel's implementation of the virtio OS interface
// (virtio/virtio_os.h). The portable virtio core calls these and
// never includes a kernel header itself.
//
// The kernel maps RAM one to one (virtual == physical, see memlayout.h), so
// translating addresses is the identity. Rings need physically contiguous
// memory larger than a page (a legacy ring of 64 entries spans two pages),
// which kalloc() cannot promise, so DMA memory comes from a fixed pool in
// .bss managed with one bit per page.
//
// See it run: every disk access in `make qemu` goes through here.
#include <stdarg.h>
#include "types.h"
#include "riscv.h"
#include "memlayout.h"
#include "spinlock.h"
#include "defs.h"
#include "virtio_os.h"

#define DMA_POOL_PAGES 64     // 256 KB: rings and request headers of 8 devices

static uchar dma_pool[DMA_POOL_PAGES * PGSIZE] __attribute__((aligned(PGSIZE)));
static uchar dma_used[DMA_POOL_PAGES];   // 1 = page handed out
static struct spinlock dma_lock;
static int dma_lock_ready;

void *
vos_dma_alloc(size_t size)
{
  int want = (size + PGSIZE - 1) / PGSIZE;
  void *p = 0;

  // The first caller is the boot hart during virtio_probe_all(), before any
  // other hart runs, so this lazy initialisation cannot race.
  if(!dma_lock_ready){
    initlock(&dma_lock, "dma");
    dma_lock_ready = 1;
  }
  if(want == 0)
    return 0;
  acquire(&dma_lock);
  for(int start = 0; start + want <= DMA_POOL_PAGES; start++){
    int run = 0;
    while(run < want && !dma_used[start + run])
      run++;
    if(run == want){
      for(int i = 0; i < want; i++)
        dma_used[start + i] = 1;
      p = &dma_pool[start * PGSIZE];
      break;
    }
    start += run;       // skip past the page that was in use
  }
  release(&dma_lock);
  if(p)
    memset(p, 0, want * PGSIZE);
  return p;
}

void
vos_dma_free(void *p, size_t size)
{
  int first = ((uchar *)p - dma_pool) / PGSIZE;
  int n = (size + PGSIZE - 1) / PGSIZE;
  if((uchar *)p < dma_pool || first + n > DMA_POOL_PAGES)
    panic("vos_dma_free: not from the pool");
  acquire(&dma_lock);
  for(int i = 0; i < n; i++)
    dma_used[first + i] = 0;
  release(&dma_lock);
}

uint64_t
vos_virt_to_phys(void *p)
{
  return (uint64_t)p;   // RAM is mapped virtual == physical
}

void *
vos_phys_to_virt(uint64_t pa)
{
  return (void *)pa;
}

// The drivers name a register by its physical (bus) address, as the
// device tree gives it; the kernel maps device registers at KDEV(pa)
// (memlayout.h).
uint32_t
vos_mmio_read32(uintptr_t addr)
{
  return *(volatile uint32_t *)KDEV(addr);
}

void
vos_mmio_write32(uintptr_t addr, uint32_t val)
{
  *(volatile uint32_t *)KDEV(addr) = val;
}

// The narrow accessors are single lb/lh/sb/sh instructions, so the
// device sees an access of exactly that width (virtio-pci's 8- and
// 16-bit fields, the legacy I/O header).
uint8_t
vos_mmio_read8(uintptr_t addr)
{
  return *(volatile uint8_t *)KDEV(addr);
}

uint16_t
vos_mmio_read16(uintptr_t addr)
{
  return *(volatile uint16_t *)KDEV(addr);
}

void
vos_mmio_write8(uintptr_t addr, uint8_t val)
{
  *(volatile uint8_t *)KDEV(addr) = val;
}

void
vos_mmio_write16(uintptr_t addr, uint16_t val)
{
  *(volatile uint16_t *)KDEV(addr) = val;
}

void
vos_mb(void)
{
  // `fence iorw, iorw` orders RAM accesses (the rings) and device-register
  // accesses (QueueNotify, InterruptStatus) against each other, so e.g. a
  // QueueNotify write cannot overtake the ring stores it announces. GCC's
  // __sync_synchronize() emits only `fence rw,rw`, which leaves out I/O.
  asm volatile("fence iorw, iorw" ::: "memory");
}

void
vos_lock_init(vos_lock_t *lk, const char *name)
{
  initlock(lk, (char *)name);
}

void
vos_lock(vos_lock_t *lk)
{
  acquire(lk);
}

void
vos_unlock(vos_lock_t *lk)
{
  release(lk);
}

void
vos_sleep(void *chan, vos_lock_t *lk)
{
  sleep(chan, lk);
}

void
vos_wakeup(void *chan)
{
  wakeup(chan);
}

// The `time` CSR counts at 10 MHz on QEMU virt (the device tree's
// timebase-frequency), so 10000 counts are one millisecond.
uint64_t
vos_time_ms(void)
{
  return r_time() / 10000;
}

void
vos_log(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}
