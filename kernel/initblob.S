# initblob.S: embeds the first user program (initcode.S, assembled and
# stripped to raw bytes in build/kernel/initcode.bin by the Makefile) into the
# kernel image. userinit() in proc.c copies the bytes between
# initcode_start and initcode_end to user address 0 of the first process.
#
# See it run: `riscv64-unknown-elf-nm build/kernel/kernel | grep initcode`.

        .section .rodata
        .globl  initcode_start
        .globl  initcode_end
        .balign 8
initcode_start:
        .incbin "build/kernel/initcode.bin"
initcode_end:
