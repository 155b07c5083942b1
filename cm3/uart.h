// uart.h: the counters of UART0 (the shell's terminal) and UART2 as the
// device model's byte stream (see uart.c for the LM3S6965 UART facts it
// follows). See it run: `make qemu-cm3`, then
// `nc localhost CM3PORT` and `stat` for the counters below.
#ifndef UART_H
#define UART_H
#include <stdint.h>
#include "vdm_backend.h"

// UART0, the shell's terminal: what the receive interrupt did, and what
// became of the bytes. The last three are the shell's (main.c): lines it
// ran, and lines it refused as too long with the characters they held.
struct uart0_stats {
  uint32_t irqs, rx_bytes;
  uint32_t stops;      // times the ring was full and the interrupt masked
  uint32_t overruns;   // bytes the UART itself lost (DR's OE bit)
  uint32_t lines, long_lines, long_bytes;
};
extern struct uart0_stats uart0_stats;

struct uart2_stats {
  uint32_t rx_bytes, tx_bytes, tx_full, irqs;
};
extern struct uart2_stats uart2_stats;

// Fill `be` with UART2's functions; `event` is called (interrupts masked)
// from the UART2 interrupt when bytes arrived or transmit room appeared.
void uart2_backend(struct vdm_char_backend *be, void (*event)(void *arg), void *arg);
#endif
