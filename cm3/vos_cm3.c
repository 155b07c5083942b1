// vos_cm3.c: the Cortex-M3 implementation of the virtio OS interface
// (virtio/virtio_os.h), which the unchanged portable core
// (virtio_mmio.c, virtq.c, virtio_blk.c, virtio_console.c, virtio_rng.c)
// calls.
//
//   DMA memory      a pool in SRAM, 16-byte granules, first fit. The board
//                   has no MMU and no IOMMU: an address is its own
//                   "physical" address. Blocks are 16-byte aligned, not
//                   4096: the port has only modern (Version 2) devices,
//                   which take any ring address with the spec's alignment
//                   (16 for descriptors), and the build sets
//                   VIRTIO_LEGACY_QUEUE_ALIGN=16 so a queue is not padded
//                   to 4 KB. A legacy device would be refused cleanly by
//                   virtio_mmio.c (its rings must start on a page).
//   register access the devices are software models whose register files
//                   are RAM (devmodel/): a load is a plain load, a
//                   store into a register file goes to vdm_mmio_write so
//                   the device reacts, with interrupts masked so that the
//                   model never runs in two contexts at once.
//   locks           PRIMASK (see vos_port.h).
//   sleep           WFI with PRIMASK still set, then unmask for one
//                   instant. Race-free on one core: if the interrupt that
//                   makes the caller's condition true arrives after the
//                   caller checked it, it is pending, so WFI returns at
//                   once and the handler runs in the unmasked instant; the
//                   caller loops and sees the new state. Any interrupt
//                   wakes every sleeper, which is what vos_wakeup means here.
//   time            SysTick at 100 Hz.
//   log             kprintf on UART0.
//
// See it run: `make qemu-cm3`; `stat` shows the pool's high-water mark.
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include "cm3.h"
#include "virtio_os.h"
#include "board.h"

// ---- DMA memory ----

#define DMA_POOL_BYTES 8192
#define GRANULE 16
#define NGRAN (DMA_POOL_BYTES / GRANULE)

static uint8_t dma_pool[DMA_POOL_BYTES] __attribute__((aligned(GRANULE)));
static uint32_t dma_map[NGRAN / 32];     // bit set = granule in use
static uint32_t dma_in_use, dma_peak;    // granules

// Is [pa, pa+len) inside the DMA pool? The device model asks (board.c
// vdm_port_mem) before it touches memory a driver named in a descriptor.
int dma_pool_holds(uint64_t pa, uint64_t len)
{
  uint64_t start = (uintptr_t)dma_pool;

  return pa >= start && pa <= start + DMA_POOL_BYTES && len <= start + DMA_POOL_BYTES - pa;
}

static int granule_used(uint32_t g)
{
  return (dma_map[g / 32] >> (g % 32)) & 1;
}

static void granule_set(uint32_t g, int used)
{
  if (used)
    dma_map[g / 32] |= 1u << (g % 32);
  else
    dma_map[g / 32] &= ~(1u << (g % 32));
}

void *vos_dma_alloc(size_t size)
{
  uint32_t want = (uint32_t)((size + GRANULE - 1) / GRANULE), start, run, i;
  uint32_t s;
  void *p = 0;

  if (size == 0 || want > NGRAN)
    return 0;
  s = irq_save();
  for (start = 0; start + want <= NGRAN; start += run + 1) {
    run = 0;
    while (run < want && !granule_used(start + run))
      run++;
    if (run == want) {
      for (i = 0; i < want; i++)
        granule_set(start + i, 1);
      dma_in_use += want;
      if (dma_in_use > dma_peak)
        dma_peak = dma_in_use;
      p = &dma_pool[start * GRANULE];
      break;
    }
  }
  irq_restore(s);
  if (p)
    memset(p, 0, want * GRANULE);
  return p;
}

void vos_dma_free(void *p, size_t size)
{
  uint32_t first = (uint32_t)((uint8_t *)p - dma_pool) / GRANULE;
  uint32_t n = (uint32_t)((size + GRANULE - 1) / GRANULE), i, s;

  if ((uint8_t *)p < dma_pool || first + n > NGRAN)
    panic("vos_dma_free: not from the pool");
  s = irq_save();
  for (i = 0; i < n; i++)
    granule_set(first + i, 0);
  dma_in_use -= n;
  irq_restore(s);
}

void dma_usage(uint32_t *in_use, uint32_t *peak, uint32_t *total)
{
  *in_use = dma_in_use * GRANULE;
  *peak = dma_peak * GRANULE;
  *total = DMA_POOL_BYTES;
}

uint64_t vos_virt_to_phys(void *p)
{
  return (uint64_t)(uintptr_t)p;  // no MMU: addresses are physical
}

void *vos_phys_to_virt(uint64_t pa)
{
  return (void *)(uintptr_t)pa;
}

// ---- registers ----

uint32_t vos_mmio_read32(uintptr_t addr)
{
  // Real MMIO or a model's register file in RAM: the same load either way.
  return *(volatile uint32_t *)addr;
}

void vos_mmio_write32(uintptr_t addr, uint32_t val)
{
  uint32_t s;

  if (board_mmio_write(addr, val))
    return;  // a device model took it
  s = irq_save();
  *(volatile uint32_t *)addr = val;
  irq_restore(s);
}

void vos_mb(void)
{
  // The models run on this CPU, so program order already holds for them;
  // DMB keeps the code honest for real bus masters.
  __asm__ volatile("dmb" ::: "memory");
}

// ---- locks and sleep ----

void vos_lock_init(vos_lock_t *lk, const char *name)
{
  lk->saved = 0;
  lk->held = 0;
  lk->name = name;
}

void vos_lock(vos_lock_t *lk)
{
  uint32_t s = irq_save();

  if (lk->held) {
    kprintf("vos_lock: %s already held\n", lk->name);
    panic("lock taken twice");
  }
  lk->held = 1;
  lk->saved = s;
}

void vos_unlock(vos_lock_t *lk)
{
  uint32_t s = lk->saved;

  if (!lk->held) {
    kprintf("vos_unlock: %s not held\n", lk->name);
    panic("unlock of a free lock");
  }
  lk->held = 0;
  irq_restore(s);
}

static int in_handler(void)
{
  uint32_t ipsr;

  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  return (ipsr & 0x1ff) != 0;
}

void vos_sleep(void *chan, vos_lock_t *lk)
{
  uint32_t saved = lk->saved;

  if (!lk->held)
    panic("vos_sleep without its lock");
  // Unmasking interrupts would break any other lock the caller holds, and
  // a handler cannot wait for another handler of the same priority.
  if ((saved & 1) || in_handler())
    panic("vos_sleep with interrupts masked by someone else, or in a handler");
  lk->held = 0;               // a handler may take it while we wait
  wait_for_interrupt_masked();
  lk->held = 1;
  lk->saved = saved;
}

void vos_wakeup(void *chan)
{
  // Nothing to do: the interrupt that led here already woke the sleeper.
}

// ---- time ----

#define TICK_HZ 100
static volatile uint64_t ticks;

void systick_init(void)
{
  wr32(SYST_RVR, CPU_HZ / TICK_HZ - 1);
  wr32(SYST_CVR, 0);
  wr32(SYST_CSR, 3);  // reference clock, interrupt, enable
}

void systick_isr(void)
{
  ticks++;
  irq_events++;
}

uint64_t vos_time_ms(void)
{
  uint32_t s = irq_save();  // a 64-bit load is two loads on this CPU
  uint64_t t = ticks;

  irq_restore(s);
  return t * (1000 / TICK_HZ);
}

uint32_t ticks_ms(void)
{
  return (uint32_t)vos_time_ms();
}

// ---- log ----

void vos_log(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
}
