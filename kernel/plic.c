// plic.c: the platform-level interrupt controller, which funnels device
// interrupts (UART, virtio slots) to a hart.
//
// Follows the RISC-V PLIC specification v1.0.0: each interrupt source has a
// priority (0 = never delivered); each "context" (a hart in one privilege
// mode) has an enable bit per source and a priority threshold; a context
// claims an interrupt by reading its claim register, which returns the
// source number and hides it from other harts, and completes it by writing
// the number back. QEMU virt gives hart h context 2h (M-mode) and 2h+1
// (S-mode); we run in S-mode, so we use 2h+1 (see memlayout.h).
//
// The PLIC raises the supervisor external interrupt (scause 9); trap.c then
// calls irq_dispatch().
//
// See it run: `make qemu`, type into the console (UART IRQ 10) or read a
// file (virtio-blk IRQ 1+slot).
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "defs.h"

// addr is a physical address (memlayout.h's PLIC_*); the kernel reaches
// device registers at KDEV(addr).
static void
plic_write(uint64 addr, uint32 v)
{
  *(volatile uint32 *)KDEV(addr) = v;
}

static uint32
plic_read(uint64 addr)
{
  return *(volatile uint32 *)KDEV(addr);
}

// Once, on the boot hart: give every source we use a non-zero priority.
void
plicinit(void)
{
  plic_write(PLIC_PRIORITY + UART0_IRQ*4, 1);
  for(int i = 0; i < VIRTIO_NSLOT; i++)
    plic_write(PLIC_PRIORITY + (VIRTIO0_IRQ + i)*4, 1);
}

// On every hart: its S-mode context accepts any priority above 0, and
// only the boot hart (devices = 1) enables our sources. If every hart
// enabled them, each interrupt would wake every idle hart from wfi; all but
// one would find nothing to claim and go back to sleep. Under QEMU each
// such wakeup runs on the host's CPUs next to the device model's own
// threads: with all three harts taking interrupts, a 4 KB disk request
// took about 220 us from notification to wakeup; with one, about 110 us
// (blkbench, depth 1). Any hart can still run the woken process: if the
// interrupted hart is busy with a process, wakeup() rouses an idle one
// with an IPI (proc.c kick_idle_hart); without that, the woken process
// would wait up to a timer tick (100 ms) for a hart.
void
plicinithart(int devices)
{
  int hart = cpuid();
  uint32 enable = 0;
  if(devices){
    enable = 1u << UART0_IRQ;
    for(int i = 0; i < VIRTIO_NSLOT; i++)
      enable |= 1u << (VIRTIO0_IRQ + i);
  }
  plic_write(PLIC_SENABLE(hart), enable);   // sources 0..31 live in the first word
  plic_write(PLIC_SPRIORITY(hart), 0);      // the threshold
}

// A source found at run time (a PCI function's INTx, kernel/glue/pci.c)
// on the hart that calls this: the boot hart, during virtio_probe_all,
// the one hart that takes device interrupts (plicinithart). Sources from
// 32 up live in the following enable words.
void
plic_enable(int irq)
{
  int hart = cpuid();
  if(irq <= 0 || irq >= PLIC_NSOURCE)
    return;
  plic_write(PLIC_PRIORITY + irq*4, 1);
  uint64 word = PLIC_SENABLE(hart) + (irq / 32) * 4;
  plic_write(word, plic_read(word) | (1u << (irq % 32)));
}

// Handle one supervisor external interrupt: claim it, run its driver,
// complete it. A claim of 0 means nothing is pending any more (the device
// lowered its line before we claimed); there is nothing to do then.
void
irq_dispatch(void)
{
  int hart = cpuid();
  uint32 irq = plic_read(PLIC_SCLAIM(hart));

  if(irq == UART0_IRQ){
    uartintr();
  } else if(irq != 0){
    virtio_irq(irq);        // a virtio-mmio slot or a PCI function; it says if neither
  }

  // Completing tells the PLIC this source may interrupt again. A device
  // that still has its line raised (more work arrived meanwhile) is
  // delivered anew, so nothing is lost.
  if(irq)
    plic_write(PLIC_SCLAIM(hart), irq);
}
