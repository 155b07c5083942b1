// nvic.c: the Cortex-M3's interrupt controller (NVIC), the three things
// the port asks of it: let an IRQ through, stop it, and raise it by hand.
// Each register has one bit per IRQ, 32 IRQs to a word, and writing a 1
// acts on that IRQ alone (writing 0 changes nothing), so no
// read-modify-write and no lock is needed.
//
// Follows the ARMv7-M Architecture Reference Manual, B3.4 (Nested
// Vectored Interrupt Controller): NVIC_ISER, NVIC_ICER, NVIC_ISPR; the
// addresses are in cm3.h.
//
// Users: uart.c (UART0 and UART2 lines), board.c (the virtual lines of
// the software virtio devices). See it run: `make qemu-cm3`, then `stat`
// (interrupt counts).
#include <stdint.h>
#include "cm3.h"

void nvic_enable(int irq)
{
  wr32(NVIC_ISER + 4 * (irq / 32), 1u << (irq % 32));
}

void nvic_disable(int irq)
{
  wr32(NVIC_ICER + 4 * (irq / 32), 1u << (irq % 32));
}

void nvic_pend(int irq)
{
  // Setting the pending bit is all a level-less "wire" needs: the handler
  // runs once as soon as nothing masks it, however often it was pended.
  wr32(NVIC_ISPR + 4 * (irq / 32), 1u << (irq % 32));
}
