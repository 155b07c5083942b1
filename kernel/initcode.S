# initcode.S: the first user program. It runs at user address 0 in the
# first process (userinit in proc.c) and does one thing:
#
#     exec("/init", { "/init", 0 });
#     for(;;) exit(-1);       // only reached if the exec failed
#
# It is written in assembly because there is no C library, stack or heap
# yet. The Makefile links it at address 0 and strips it to raw bytes
# (kernel/initcode.bin), which initblob.S embeds in the kernel. It uses
# the ordinary system call convention: number in a7, arguments in a0.., ecall.
#
# See it run: `make qemu`; the first line /init prints ("init: starting
# sh") means this program's exec worked. kernel/initcode.out disassembles
# with `riscv64-unknown-elf-objdump -d kernel/initcode.out`.

#include "syscall.h"

        .section .text
        .globl start
start:
        la      a0, init_path           # pc-relative, so it works at address 0
        la      a1, init_argv
        li      a7, SYS_exec
        ecall

        # exec only returns on failure. init must never exit (the kernel
        # panics "init exiting"), which says loudly that /init is missing.
fail:
        li      a0, -1
        li      a7, SYS_exit
        ecall
        j       fail

init_path:
        .string "/init"

        .balign 8
init_argv:                              # char *argv[] = { "/init", 0 }
        .dword  init_path
        .dword  0
