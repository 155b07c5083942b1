// board.h: the Cortex-M3 board's virtio side: software device models in
// SRAM, probed and driven exactly like QEMU's virtio-mmio slots on RISC-V
// (virtio 1.2 4.2.3.1). See board.c; see it run: `make qemu-cm3`, `devs`.
#ifndef BOARD_H
#define BOARD_H
#include <stdint.h>
#include <stddef.h>

// vos_mmio_write32 asks this first: 1 if addr is in a device model's
// register file (the model has seen the write), 0 if it is ordinary memory.
int  board_mmio_write(uintptr_t addr, uint32_t val);

void board_init(void);     // models, probe, drivers, the device table
void board_devs(void);     // `devs`
void board_stat(void);     // `stat`
int  board_blktest(void);  // `blktest`: 0 passed, -1 failed
int  board_rng(uint32_t n);// `rng N`: print N random bytes, N <= BOARD_RNG_MAX
#define BOARD_RNG_MAX 64
void echo_poll(void);      // one step of the UART2 echo service
#endif
