// memlayout.h: where things are in physical memory on QEMU's RISC-V `virt`
// machine, and how the kernel and user address spaces are laid out.
// The device tree (kernel/fdt.c) can move RAM's end; everything else here is
// fixed by QEMU (hw/riscv/virt.c) and by OpenSBI.
//
// Physical memory map (QEMU virt, -bios default):
//
//   0x03000000  PCIe I/O window (64 KB of I/O ports)
//   0x0c000000  PLIC (platform-level interrupt controller, 4 MB)
//   0x10000000  UART0, a 16550                         IRQ 10
//   0x10001000  virtio-mmio slot 0                     IRQ 1
//   0x10002000  virtio-mmio slot 1                     IRQ 2
//      ...        (slot i at 0x10001000 + 0x1000*i)    IRQ 1+i
//   0x10008000  virtio-mmio slot 7                     IRQ 8
//   0x30000000  PCIe configuration space (ECAM, 256 MB: 1 MB per bus)
//   0x40000000  PCIe 32-bit memory window (1 GB)       IRQ 32-35 (INTx, swizzled)
//   0x80000000  RAM starts; OpenSBI lives in the first 2 MB (PMP-protected,
//               the kernel never touches it)
//   0x80200000  KERNLOAD: OpenSBI jumps here; kernel text, then data, bss,
//               then the page allocator's free pages up to the end of RAM
//   0x80000000 + RAM size   end of RAM (128 MB by default: 0x88000000)
//
// Virtual address space. The kernel's mappings (PTE_U clear, so user code
// cannot touch them) are in the kernel page table, and also in the page
// table of every process whose memory ends below USERTOP (2 GB): every
// process, in practice. A trap from user mode then runs the kernel on the
// user's own table, and a system call writes satp not at all. (xv6 gives
// the kernel a table of its own and switches on every trap; under QEMU that
// made a system call cost 16 us instead of 2.5, since QEMU empties its
// software TLB at each satp write. docs/ARCHITECTURE.md, "Memory and
// traps", has the rest.) Each kernel region below fills whole 1 GB slots
// of the top-level table, so a user table shares them by copying four
// top-level entries (vm.c uvmkshare); the kernel never adds a slot after
// boot. User memory may still grow up to TRAPFRAME, as in xv6: a process
// that passes USERTOP gives the four entries back (proc.c proc_unshare)
// and its traps switch page tables, xv6's way. In its table, then:
//
//   MAXVA - 2 pages: trapframe and trampoline; 0 up to p->sz: its memory.
//
// In the kernel's table, and in every other process's:
//
//   MAXVA           +------------------+
//                   | TRAMPOLINE       |  trap entry/exit code (the same page in
//   TRAMPOLINE      +------------------+  every table, mapped per table)
//                   | TRAPFRAME        |  saved user registers (user tables)
//   TRAPFRAME       +------------------+
//                   :                  :
//   0x1_8000_0000   +------------------+
//                   | kernel stacks    |  one page per process slot, each above
//   KSTACKS         +------------------+  an unmapped guard page   (1 GB slot)
//                   | device registers |  KDEV(pa) = pa + DEVBASE for pa below
//                   |                  |  DEVTOP: PLIC, UART, virtio-mmio; PCIe
//                   |                  |  ECAM and the BAR windows (2 GB: two
//   DEVBASE         +------------------+  slots)
//                   | RAM, one to one  |  kernel text, data, free pages (virtual
//   KERNBASE        +------------------+  == physical)              (1 GB slot)
//                   | user memory      |  text+data from 0, a guard page, the
//   0               +------------------+  stack, then the heap (user tables)
//
#ifndef MEMLAYOUT_H
#define MEMLAYOUT_H

#define UART0       0x10000000L
#define UART0_IRQ   10

#define VIRTIO0     0x10001000L           // slot 0; slot i is VIRTIO0 + i*VIRTIO_STRIDE
#define VIRTIO_STRIDE 0x1000L
#define VIRTIO_NSLOT 8
#define VIRTIO0_IRQ 1                     // slot i interrupts on VIRTIO0_IRQ + i

// The PCIe host bridge (QEMU virt, from the device tree: kernel/fdt.c):
// configuration space (ECAM) at 0x30000000, the I/O window at 0x03000000,
// the 32-bit memory window at 0x40000000; INTA-INTD of the slots on PLIC
// sources 32-35 (the interrupt-map swizzles them by slot). The kernel maps
// bus 0's configuration space and the first part of each window
// (vm.c), and places BARs only there (kernel/glue/pci.c).
#define PCI_ECAM_MAP     0x100000L        // bus 0: 32 devices x 8 functions x 4 KB
#define PCI_IO_MAP       0x10000L         // 64 KB of I/O ports
#define PCI_MEM_MAP      0x400000L        // 4 MB of memory BARs
#define PCI_NIMAP        32               // interrupt-map rows kept

#define PLIC             0x0c000000L
#define PLIC_SIZE        0x400000L
#define PLIC_NSOURCE     96                // QEMU virt's riscv,ndev is 95 (sources 1-95)
#define PLIC_PRIORITY    (PLIC + 0x0)
#define PLIC_PENDING     (PLIC + 0x1000)
// QEMU virt gives each hart two PLIC contexts: 2*hart for M-mode, 2*hart+1 for S-mode.
#define PLIC_SENABLE(hart)   (PLIC + 0x2000 + (2*(hart)+1)*0x80)
#define PLIC_SPRIORITY(hart) (PLIC + 0x200000 + (2*(hart)+1)*0x1000)
#define PLIC_SCLAIM(hart)    (PLIC + 0x200004 + (2*(hart)+1)*0x1000)

#define KERNBASE    0x80000000L            // start of RAM (OpenSBI below KERNLOAD)
#define KERNLOAD    0x80200000L            // kernel.ld links the kernel here
#define PHYSTOP     (KERNBASE + 128*1024*1024)  // default end of RAM; see phys_top

// One page below the highest address holds the trampoline.
#define TRAMPOLINE  (MAXVA - PGSIZE)
#define TRAPFRAME   (TRAMPOLINE - PGSIZE)

// Device registers at physical address pa (below DEVTOP: the PCIe host
// bridge's 32-bit memory window on QEMU virt reaches up to 2 GB) are
// reached by the kernel at virtual address KDEV(pa).
#define DEVBASE     0xC0000000L
#define DEVTOP      0x80000000L
#define KDEV(pa)    ((uint64)(pa) + DEVBASE)
// Kernel stack of process slot p, with an unmapped guard page below each.
#define KSTACKS     (DEVBASE + DEVTOP)
#define KSTACK(p)   (KSTACKS + (2*(p) + 1) * PGSIZE)

// User address space: text+data from 0, a guard page, the stack, then the
// heap grown by sbrk(), up to TRAPFRAME. Below USERTOP, where the kernel's
// mappings begin, the process's table maps the kernel too (see above).
#define USERTOP     KERNBASE
#endif
