# trampoline.S: the code that switches between user mode and the kernel.
#
# Follows the RISC-V privileged spec v1.12: 4.1.2 (stvec), 4.1.4 (sscratch),
# 4.1.11 (satp), 3.3.2 and 4.2.1 (sret, sfence.vma).
#
# The problem it solves: a trap from user mode arrives with every register
# holding user values. The kernel needs its own stack and the hart id in
# tp, but it cannot touch any register before saving it. Usually the page
# table needs no change: the user's table maps the kernel too (memlayout.h;
# a process below USERTOP, p->kshared), so the kernel runs on it. (xv6
# always switches satp here, to a kernel table of its own, and back in
# userret; docs/ARCHITECTURE.md, "Memory and traps", says why we mostly do
# not.) For a process that has grown past USERTOP we do switch, as xv6 does.
# So:
#
#  * This page is mapped at the same virtual address, TRAMPOLINE, in the
#    kernel page table and in every user page table (without PTE_U, so
#    user code cannot use it). Execution continues smoothly across a write
#    to satp because the next instruction has the same address in both
#    address spaces. kernel.ld puts the `trampsec` section on a page of
#    its own and names its start `trampoline`.
#  * Every user page table also maps the process's trapframe at TRAPFRAME
#    (without PTE_U). struct trapframe (proc.h) is where the user
#    registers go, and where usertrapret() left the kernel's satp (or 0),
#    stack pointer, usertrap() address and hart id for the way in.
#  * sscratch is free while the hart runs user code; it briefly holds a0
#    so that a0 can hold the trapframe address.
#
# Trapframe layout (proc.h): user register xN at offset 8*N; epc at 0;
# kernel_satp 256, kernel_sp 264, kernel_trap 272, kernel_hartid 280.
#
# See it run: `make qemu-gdb`, then in gdb `break *0x3ffffff000` (uservec
# at TRAMPOLINE) and run any user program.

#include "riscv.h"
#include "memlayout.h"

        .section trampsec, "ax"
        .globl uservec
        .globl userret

# stvec points here while the hart runs user code. sepc, scause and stval
# describe the trap; usertrap() reads them.
        .balign 4
uservec:
        csrw    sscratch, a0
        li      a0, TRAPFRAME

        sd      x1,    8(a0)
        sd      x2,   16(a0)
        sd      x3,   24(a0)
        sd      x4,   32(a0)
        sd      x5,   40(a0)
        sd      x6,   48(a0)
        sd      x7,   56(a0)
        sd      x8,   64(a0)
        sd      x9,   72(a0)
        # x10 is a0: saved below from sscratch
        sd      x11,  88(a0)
        sd      x12,  96(a0)
        sd      x13, 104(a0)
        sd      x14, 112(a0)
        sd      x15, 120(a0)
        sd      x16, 128(a0)
        sd      x17, 136(a0)
        sd      x18, 144(a0)
        sd      x19, 152(a0)
        sd      x20, 160(a0)
        sd      x21, 168(a0)
        sd      x22, 176(a0)
        sd      x23, 184(a0)
        sd      x24, 192(a0)
        sd      x25, 200(a0)
        sd      x26, 208(a0)
        sd      x27, 216(a0)
        sd      x28, 224(a0)
        sd      x29, 232(a0)
        sd      x30, 240(a0)
        sd      x31, 248(a0)
        csrr    t0, sscratch
        sd      t0,   80(a0)            # the user's a0

        # The kernel's world, as usertrapret() recorded it.
        ld      sp, 264(a0)             # this process's kernel stack
        ld      tp, 280(a0)             # hart id
        ld      t0, 272(a0)             # usertrap
        ld      t1, 256(a0)             # kernel page table, or 0

        # Only if the user table does not map the kernel: switch to the
        # kernel table, then drop the user's cached translations. One
        # fence, after the write, is enough (privileged spec 4.2.1): it
        # orders every earlier store, page-table stores included, before
        # every later translation. Until it executes, the only translation
        # used is this page's, which is the same in both tables.
        beqz    t1, 1f
        csrw    satp, t1
        sfence.vma zero, zero
1:
        # usertrap() never returns here; it leaves through userret.
        jr      t0

# userret(satp): called by usertrapret() on the kernel stack. a0 = 0: the
# hart is on the process's own table already (which usertrapret fenced if
# the kernel changed it); else a0 = the user table in satp format, to
# switch to, as xv6 does: the fence after the write both publishes the
# kernel's stores to that table (sbrk, exec) to the walker and drops the
# kernel's cached translations. sepc and sstatus are already set up for
# the sret below.
userret:
        beqz    a0, 1f
        csrw    satp, a0
        sfence.vma zero, zero
1:
        li      a0, TRAPFRAME
        ld      x1,    8(a0)
        ld      x2,   16(a0)
        ld      x3,   24(a0)
        ld      x4,   32(a0)            # user tp; the kernel's is in kernel_hartid
        ld      x5,   40(a0)
        ld      x6,   48(a0)
        ld      x7,   56(a0)
        ld      x8,   64(a0)
        ld      x9,   72(a0)
        ld      x11,  88(a0)
        ld      x12,  96(a0)
        ld      x13, 104(a0)
        ld      x14, 112(a0)
        ld      x15, 120(a0)
        ld      x16, 128(a0)
        ld      x17, 136(a0)
        ld      x18, 144(a0)
        ld      x19, 152(a0)
        ld      x20, 160(a0)
        ld      x21, 168(a0)
        ld      x22, 176(a0)
        ld      x23, 184(a0)
        ld      x24, 192(a0)
        ld      x25, 200(a0)
        ld      x26, 208(a0)
        ld      x27, 216(a0)
        ld      x28, 224(a0)
        ld      x29, 232(a0)
        ld      x30, 240(a0)
        ld      x31, 248(a0)
        ld      x10,  80(a0)            # a0 last: it was our base register

        # To user mode at sepc, with interrupts as sstatus.SPIE says (on).
        sret
