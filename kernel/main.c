// main.c: the boot flow. Every hart arrives here from entry.S.
//
// The first hart to arrive is the one OpenSBI chose to boot (any hart can
// win its lottery; it is not always hart 0). It sets up the whole machine,
// then starts the other harts with the SBI HSM extension; they only set up
// their own per-hart state. docs/ARCHITECTURE.md ("Boot flow") lists the
// steps and why they come in this order.
//
// See it run: `make qemu` prints a banner, the machine facts from the device
// tree, the virtio device table, one line per hart, then the shell prompt.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "machine.h"
#include "defs.h"

extern char _entry[];

// 0 until the boot hart has finished the shared set-up. The other harts
// wait for it; they are not started before then anyway, but the flag also
// orders their reads of everything the boot hart wrote (see below).
static volatile int started = 0;
static volatile int boot_hart_claimed = 0;

static void
start_other_harts(uint64 self, uint64 dtb)
{
  for(int i = 0; i < machine.nharts; i++){
    uint64 id = machine.hartids[i];
    if(id == self || id >= NCPU)
      continue;
    // Without a device tree we try every possible id; HSM tells us which
    // harts exist (a missing one is not "stopped").
    if(!sbi_hart_is_stopped(id))
      continue;
    long err = sbi_hart_start(id, (uint64)_entry, dtb);
    if(err != 0)
      printf("hart %d: SBI hart_start failed (%d)\n", (int)id, (int)err);
  }
}

void
main(uint64 hartid, uint64 dtb)
{
  // The first hart here boots the machine. The others are only started
  // below, so this cannot race, but an atomic swap says what we mean.
  if(__sync_lock_test_and_set(&boot_hart_claimed, 1) == 0){
    uartinit();
    printfinit();
    fdt_parse(dtb);
    printf("\nvirtio teaching kernel booting on hart %d\n", (int)hartid);
    if(machine.from_fdt)
      printf("fdt: %d MB RAM at %p, %d harts, PLIC %p, UART %p irq %d, %d virtio-mmio slots\n",
             (int)(machine.mem_size >> 20), (void *)machine.mem_base, machine.nharts,
             (void *)machine.plic_base, (void *)machine.uart_base, machine.uart_irq,
             machine.nvirtio);
    else
      printf("fdt: no device tree at %p, using QEMU virt's fixed map\n", (void *)dtb);
    if(machine.has_pci)
      printf("fdt: PCIe host: ECAM %p, I/O window %p, memory window %p (%d MB), "
             "%d interrupt-map rows\n", (void *)machine.ecam_base, (void *)machine.pci_io.cpu,
             (void *)machine.pci_mem32.cpu, (int)(machine.pci_mem32.size >> 20),
             machine.npci_imap);
    if(machine.plic_base != PLIC || machine.uart_base != UART0)
      printf("fdt: warning: PLIC/UART not where memlayout.h expects them\n");

    kinit();             // physical page allocator
    kvminit();           // kernel page table
    kvminithart();       // paging on
    uartpaging();        // the UART's registers move to their mapping (memlayout.h)
    procinit();          // process table
    trapinit();
    trapinithart();      // trap vector, first timer
    plicinit();          // interrupt priorities
    plicinithart(1);     // this hart takes device interrupts (plic.c says why one)
    binit();             // buffer cache
    iinit();             // inode table
    fileinit();          // open-file table
    consoleinit();       // console device (major 1)
    virtio_probe_all();  // device table; virtio-blk disk
    vtraceinit();        // /dev/vtrace, the ring recording (major 4)
    userinit();          // first user process (runs /init)

    // Everything above must be visible to the other harts before they use
    // it: the fence orders our stores before the store to `started`, and
    // their fence orders their load of `started` before their other loads.
    __sync_synchronize();
    started = 1;
    start_other_harts(hartid, dtb);
  } else {
    while(started == 0)
      ;
    __sync_synchronize();
    kvminithart();
    trapinithart();
    plicinithart(0);
    printf("hart %d started\n", (int)hartid);
  }
  scheduler();
}
