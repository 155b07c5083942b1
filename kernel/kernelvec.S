# kernelvec.S: the trap vector while the hart runs kernel code.
#
# trap.c points stvec here whenever the hart is in the kernel (S-mode).
# Traps here are interrupts (timer, devices) that arrive while the kernel
# runs with interrupts on, or kernel bugs (kerneltrap() panics on those).
# Follows the RISC-V privileged spec 4.1.2 (stvec, direct mode: the address
# must be 4-byte aligned) and the psABI's register roles.
#
# We are already on a kernel stack and in the kernel page table, so it is
# enough to save the registers a C function may clobber (ra, t0-t6,
# a0-a7), call kerneltrap(), restore them and sret. kerneltrap() itself
# preserves s0-s11 and sp like any C function.
#
# tp is deliberately NOT saved and restored: kerneltrap() may yield, and
# this thread may resume on another hart, whose id must stay in tp.
# gp is not used by the kernel (it is linked with -mno-relax).
#
# See it run: `make qemu-gdb`, `break kerneltrap`; the timer hits it 10
# times a second on an idle hart.

        .section .text
        .globl kerneltrap
        .globl kernelvec
        .balign 4
kernelvec:
        addi    sp, sp, -128
        sd      ra,   0(sp)
        sd      t0,   8(sp)
        sd      t1,  16(sp)
        sd      t2,  24(sp)
        sd      a0,  32(sp)
        sd      a1,  40(sp)
        sd      a2,  48(sp)
        sd      a3,  56(sp)
        sd      a4,  64(sp)
        sd      a5,  72(sp)
        sd      a6,  80(sp)
        sd      a7,  88(sp)
        sd      t3,  96(sp)
        sd      t4, 104(sp)
        sd      t5, 112(sp)
        sd      t6, 120(sp)

        call    kerneltrap

        ld      ra,   0(sp)
        ld      t0,   8(sp)
        ld      t1,  16(sp)
        ld      t2,  24(sp)
        ld      a0,  32(sp)
        ld      a1,  40(sp)
        ld      a2,  48(sp)
        ld      a3,  56(sp)
        ld      a4,  64(sp)
        ld      a5,  72(sp)
        ld      a6,  80(sp)
        ld      a7,  88(sp)
        ld      t3,  96(sp)
        ld      t4, 104(sp)
        ld      t5, 112(sp)
        ld      t6, 120(sp)
        addi    sp, sp, 128

        # Back to the interrupted kernel code: sepc and sstatus.SPP were
        # restored by kerneltrap() in case it yielded meanwhile.
        sret
