// riscv.h: the RISC-V facts the kernel needs in C: page-table entry bits,
// supervisor CSR bits, and one small inline function per CSR access.
//
// Follows the RISC-V privileged spec (v1.12): 4.1 (supervisor CSRs:
// sstatus, sie/sip, stvec, sepc, scause, stval, satp) and 4.3 (Sv39 paging).
// Assembly files may include it for the constants; the C-only parts sit
// behind #ifndef __ASSEMBLER__. User programs include it too (usertests
// reads PGSIZE and MAXVA), so nothing here may depend on kernel-only headers.
//
// See it run: `make qemu-gdb`, then `info registers` in gdb shows the CSRs
// these functions read and write.
#ifndef RISCV_H
#define RISCV_H

// ---- pages and Sv39 page tables (privileged spec 4.3, 4.4) ----

#define PGSIZE  4096               // bytes per page
#define PGSHIFT 12                 // bits of offset within a page

#define PGROUNDUP(sz)   (((sz) + PGSIZE - 1) & ~(PGSIZE - 1))
#define PGROUNDDOWN(a)  (((a)) & ~(PGSIZE - 1))

// Bits in a page-table entry. A PTE with V set and R, W, X all clear points
// to the next level of the tree; any of R/W/X set makes it a leaf.
#define PTE_V (1L << 0)   // valid
#define PTE_R (1L << 1)   // readable
#define PTE_W (1L << 2)   // writable
#define PTE_X (1L << 3)   // executable
#define PTE_U (1L << 4)   // user mode may use it (and S-mode may not execute it)

// A PTE holds the physical page number (PA >> 12) starting at bit 10; the
// low 10 bits are flags.
#define PA2PTE(pa)      ((((uint64)(pa)) >> 12) << 10)
#define PTE2PA(pte)     (((pte) >> 10) << 12)
#define PTE_FLAGS(pte)  ((pte) & 0x3FF)

// A 39-bit virtual address is three 9-bit table indexes above the 12-bit
// page offset: level 2 (the root) uses bits 38..30, level 0 bits 20..12.
#define PXMASK          0x1FF
#define PXSHIFT(level)  (PGSHIFT + 9 * (level))
#define PX(level, va)   ((((uint64)(va)) >> PXSHIFT(level)) & PXMASK)

// Sv39 requires bits 63..39 of an address to copy bit 38. Staying below
// bit 38 keeps every address we use positive and avoids sign extension.
#define MAXVA (1L << (9 + 9 + 9 + 12 - 1))

// ---- supervisor CSR bits (privileged spec 4.1) ----

#define SSTATUS_SPP  (1L << 8)   // trap came from S-mode (1) or U-mode (0); sret returns there
#define SSTATUS_SPIE (1L << 5)   // SIE before the trap; sret copies it back into SIE
#define SSTATUS_SIE  (1L << 1)   // supervisor interrupts enabled
#define SSTATUS_SUM  (1L << 18)  // S-mode may touch user pages (we never set it)

#define SIE_SEIE (1L << 9)       // external interrupts (from the PLIC)
#define SIE_STIE (1L << 5)       // timer interrupts (armed through SBI)
#define SIE_SSIE (1L << 1)       // software interrupts (inter-hart)
#define SIP_SSIP (1L << 1)       // sip: a software interrupt is pending

#define SATP_SV39 (8L << 60)     // satp.MODE = 8 selects Sv39
// satp holds the mode and the physical page number of the root table.
#define MAKE_SATP(pagetable) (SATP_SV39 | (((uint64)(pagetable)) >> 12))

// scause: bit 63 set means an interrupt; the rest is the cause number.
#define SCAUSE_INTR          (1UL << 63)
#define SCAUSE_S_SOFTWARE    (SCAUSE_INTR | 1)
#define SCAUSE_S_TIMER       (SCAUSE_INTR | 5)
#define SCAUSE_S_EXTERNAL    (SCAUSE_INTR | 9)
#define SCAUSE_ECALL_U       8   // `ecall` from user mode: a system call
// Page faults (scause 4.1.8, table 4.2): stval (4.1.9) holds the virtual
// address that failed. The code says what the access was: an instruction
// fetch, a load, or a store (atomic memory operations count as stores).
#define SCAUSE_INST_PAGE_FAULT   12
#define SCAUSE_LOAD_PAGE_FAULT   13
#define SCAUSE_STORE_PAGE_FAULT  15

#ifndef __ASSEMBLER__
#include "types.h"

typedef uint64 pte_t;
typedef uint64 *pagetable_t;   // the root table: 512 PTEs in one page

// One reader and one writer per CSR. They are `volatile` because a CSR can
// change behind the compiler's back (sip by hardware, time continuously).

static inline uint64
r_sstatus(void)
{
  uint64 x;
  asm volatile("csrr %0, sstatus" : "=r"(x));
  return x;
}

static inline void
w_sstatus(uint64 x)
{
  asm volatile("csrw sstatus, %0" : : "r"(x));
}

static inline uint64
r_sip(void)
{
  uint64 x;
  asm volatile("csrr %0, sip" : "=r"(x));
  return x;
}

static inline void
w_sip(uint64 x)
{
  asm volatile("csrw sip, %0" : : "r"(x));
}

static inline uint64
r_sie(void)
{
  uint64 x;
  asm volatile("csrr %0, sie" : "=r"(x));
  return x;
}

static inline void
w_sie(uint64 x)
{
  asm volatile("csrw sie, %0" : : "r"(x));
}

// sepc: where the trap happened; sret jumps here.
static inline uint64
r_sepc(void)
{
  uint64 x;
  asm volatile("csrr %0, sepc" : "=r"(x));
  return x;
}

static inline void
w_sepc(uint64 x)
{
  asm volatile("csrw sepc, %0" : : "r"(x));
}

// stvec: where traps go (direct mode: the low two bits stay 0).
static inline uint64
r_stvec(void)
{
  uint64 x;
  asm volatile("csrr %0, stvec" : "=r"(x));
  return x;
}

static inline void
w_stvec(uint64 x)
{
  asm volatile("csrw stvec, %0" : : "r"(x));
}

static inline uint64
r_satp(void)
{
  uint64 x;
  asm volatile("csrr %0, satp" : "=r"(x));
  return x;
}

static inline void
w_satp(uint64 x)
{
  asm volatile("csrw satp, %0" : : "r"(x));
}

static inline uint64
r_scause(void)
{
  uint64 x;
  asm volatile("csrr %0, scause" : "=r"(x));
  return x;
}

// stval: the faulting address of a page fault, or the bad instruction.
static inline uint64
r_stval(void)
{
  uint64 x;
  asm volatile("csrr %0, stval" : "=r"(x));
  return x;
}

// The `time` CSR counts at the platform's timebase (10 MHz on QEMU virt).
static inline uint64
r_time(void)
{
  uint64 x;
  asm volatile("rdtime %0" : "=r"(x));
  return x;
}

// tp holds this hart's id in the kernel (see entry.S and trampoline.S).
static inline uint64
r_tp(void)
{
  uint64 x;
  asm volatile("mv %0, tp" : "=r"(x));
  return x;
}

static inline void
w_tp(uint64 x)
{
  asm volatile("mv tp, %0" : : "r"(x));
}

static inline uint64
r_sp(void)
{
  uint64 x;
  asm volatile("mv %0, sp" : "=r"(x));
  return x;
}

static inline uint64
r_ra(void)
{
  uint64 x;
  asm volatile("mv %0, ra" : "=r"(x));
  return x;
}

// Interrupts on this hart. csrs/csrc set or clear bits atomically, so no
// interrupt can slip in between a read and a write of sstatus.
static inline void
intr_on(void)
{
  asm volatile("csrs sstatus, %0" : : "r"(SSTATUS_SIE) : "memory");
}

static inline void
intr_off(void)
{
  asm volatile("csrc sstatus, %0" : : "r"(SSTATUS_SIE) : "memory");
}

static inline int
intr_get(void)
{
  return (r_sstatus() & SSTATUS_SIE) != 0;
}

// Forget cached translations after changing a page table. The operands
// zero, zero mean "every address, every address space".
static inline void
sfence_vma(void)
{
  asm volatile("sfence.vma zero, zero" : : : "memory");
}

#endif // __ASSEMBLER__
#endif // RISCV_H
