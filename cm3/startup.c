// startup.c: what runs before main on the Cortex-M3: the vector table,
// the reset handler (copy .data, zero .bss, paint the stack), and fault
// handlers that say what went wrong instead of hanging silently.
//
// Follows the ARMv7-M Architecture Reference Manual, B1.5.2-B1.5.3 (the
// vector table: word 0 = initial SP, word 1 = reset, then the system
// exceptions, then one word per external interrupt) and B1.5.6 (the
// hardware stacks r0-r3, r12, lr, pc, xPSR on exception entry).
//
// See it run: `make qemu-cm3` (the banner comes from main after this).
#include <stdint.h>
#include <stddef.h>
#include "cm3.h"

extern uint32_t _data_start[], _data_end[], _data_load[];
extern uint32_t _bss_start[], _bss_end[];
extern uint32_t _stack_bottom[], _stack_top[];

int  main(void);
void uart0_isr(void);
void uart2_isr(void);
void virtio_isr(void);
void systick_isr(void);

#define STACK_PAINT 0x5741434bu   // "KCAW": stack_high_water() looks for it

void reset_handler(void)
{
  uint32_t *src = _data_load, *dst, *sp;

  for (dst = _data_start; dst < _data_end; dst++)
    *dst = *src++;
  for (dst = _bss_start; dst < _bss_end; dst++)
    *dst = 0;
  // Paint the stack below our own frame, so `stat` can report how deep
  // it ever got.
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (dst = _stack_bottom; dst < sp - 16; dst++)
    *dst = STACK_PAINT;
  main();
  panic("main returned");
}

uint32_t stack_high_water(void)
{
  uint32_t *p = _stack_bottom;

  while (p < _stack_top && *p == STACK_PAINT)
    p++;
  return (uint32_t)((uint8_t *)_stack_top - (uint8_t *)p);
}

uint32_t stack_size(void)
{
  return (uint32_t)((uint8_t *)_stack_top - (uint8_t *)_stack_bottom);
}

// A fault: print the registers the hardware stacked and the fault status,
// then stop. `frame` is the stack the exception entry pushed.
void fault_report(uint32_t *frame, uint32_t exc)
{
  kprintf("\n*** fault: exception %u at pc 0x%x lr 0x%x\n", (unsigned)exc,
          (unsigned)frame[6], (unsigned)frame[5]);
  kprintf("    r0 0x%x r1 0x%x r2 0x%x r3 0x%x r12 0x%x xpsr 0x%x\n",
          (unsigned)frame[0], (unsigned)frame[1], (unsigned)frame[2],
          (unsigned)frame[3], (unsigned)frame[4], (unsigned)frame[7]);
  kprintf("    CFSR 0x%x HFSR 0x%x BFAR 0x%x\n", (unsigned)rd32(SCB_CFSR),
          (unsigned)rd32(SCB_HFSR), (unsigned)rd32(SCB_BFAR));
  panic("fault");
}

// Which stack the exception frame is on depends on bit 2 of EXC_RETURN
// (in lr); we only use the main stack, but checking costs two instructions.
__attribute__((naked)) void fault_handler(void)
{
  __asm__ volatile(
    "tst lr, #4\n"
    "ite eq\n"
    "mrseq r0, msp\n"
    "mrsne r0, psp\n"
    "mrs r1, ipsr\n"
    "b fault_report\n");
}

static void unexpected_isr(void)
{
  uint32_t ipsr;

  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  kprintf("unexpected exception %u\n", (unsigned)ipsr);
  panic("unexpected interrupt");
}

typedef void (*vector_t)(void);

// 16 system exception vectors, then NUM_IRQS external ones. Unused
// entries point at unexpected_isr so a stray interrupt is loud.
__attribute__((section(".vectors"), used))
const vector_t vector_table[16 + NUM_IRQS] = {
  [0] = (vector_t)_stack_top,          // initial main stack pointer
  [1] = reset_handler,
  [2] = fault_handler,                 // NMI
  [3] = fault_handler,                 // HardFault
  [4] = fault_handler,                 // MemManage
  [5] = fault_handler,                 // BusFault
  [6] = fault_handler,                 // UsageFault
  [7 ... 10] = unexpected_isr,         // reserved
  [11] = unexpected_isr,               // SVCall
  [12] = unexpected_isr,               // DebugMonitor
  [13] = unexpected_isr,               // reserved
  [14] = unexpected_isr,               // PendSV
  [15] = systick_isr,
  [16 ... 16 + IRQ_UART0 - 1] = unexpected_isr,
  [16 + IRQ_UART0] = uart0_isr,
  [16 + IRQ_UART0 + 1 ... 16 + IRQ_UART2 - 1] = unexpected_isr,
  [16 + IRQ_UART2] = uart2_isr,
  [16 + IRQ_UART2 + 1 ... 16 + IRQ_VIRTIO0 - 1] = unexpected_isr,
  [16 + IRQ_VIRTIO0 ... 16 + IRQ_VIRTIO0 + 3] = virtio_isr,
  [16 + IRQ_VIRTIO0 + 4 ... 16 + NUM_IRQS - 1] = unexpected_isr,
};
