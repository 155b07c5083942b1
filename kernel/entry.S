# entry.S: the first instructions every hart runs in the kernel.
#
# OpenSBI enters here in S-mode, paging off, with
#   a0 = this hart's id    a1 = physical address of the device tree
# on the boot hart (chosen by OpenSBI, not always hart 0), and again on every
# other hart that main() starts with the SBI HSM call hart_start(id, _entry, dtb).
#
# Each hart needs its own stack before it can run C. We carve them out of
# boot_stacks (below, in .bss): hart h uses the 4 KB slice ending at
# boot_stacks + (h+1)*4096, because stacks grow down.
#
# S-mode code cannot read the mhartid CSR, so the hart id is kept in tp
# (the "thread pointer" register) for the rest of the kernel's life:
# cpuid() in proc.c reads it back, and the trampoline preserves it.
#
# See it run: `make qemu-gdb`, then in gdb `break _entry` and `continue`.

        .section .text
        .globl _entry
_entry:
        # A hart id we have no stack for would scribble over another hart's
        # stack: park it instead.
        li      t0, 8                   # NCPU in kernel/param.h
        bgeu    a0, t0, park

        mv      tp, a0
        la      sp, boot_stacks
        addi    t0, a0, 1
        slli    t0, t0, 12              # (hartid + 1) * 4096
        add     sp, sp, t0
        call    main                    # main(hartid, dtb); never returns
park:
        wfi
        j       park

        .section .bss
        .align  12
        .globl  boot_stacks
boot_stacks:
        .space  4096 * 8                # one 4 KB stack per possible hart
