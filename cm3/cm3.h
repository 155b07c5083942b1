// cm3.h: the Cortex-M3 port's hardware facts and small helpers, for QEMU's
// `lm3s6965evb` board (TI Stellaris LM3S6965: 256 KB flash at 0x00000000,
// 64 KB SRAM at 0x20000000).
//
// Sources: ARMv7-M Architecture Reference Manual (B3.4 NVIC, B3.3 SysTick,
// B1.4 PRIMASK), the LM3S6965 data sheet (UART registers, IRQ numbers),
// QEMU's hw/arm/stellaris.c (which UART is where: the n-th `-serial`
// option binds UARTn; IRQ 5, 6, 33 for UART0, 1, 2).
//
// See it run: `make qemu-cm3`.
#ifndef CM3_H
#define CM3_H
#include <stdint.h>
#include <stddef.h>

// ---- memory ----
#define FLASH_BASE   0x00000000u
#define FLASH_SIZE   (256u * 1024)
#define SRAM_BASE    0x20000000u
#define SRAM_SIZE    (64u * 1024)

// ---- interrupts ----
// NVIC IRQ numbers (exception number = IRQ + 16).
#define IRQ_UART0    5
#define IRQ_UART2    33
// The virtual interrupt lines of the software virtio devices: IRQs no
// Stellaris peripheral uses in QEMU's model (it wires 0-8, 14-24, 28-31,
// 33-35, 37 and 42). Slot i raises IRQ_VIRTIO0 + i by pending it in NVIC
// ISPR, the way a device's wire would.
#define IRQ_VIRTIO0  48
#define NUM_IRQS     64   // QEMU's stellaris NVIC has 64 external lines

#define NVIC_ISER    0xE000E100u  // set-enable, one bit per IRQ, 32 per word
#define NVIC_ICER    0xE000E180u  // clear-enable
#define NVIC_ISPR    0xE000E200u  // set-pending
#define NVIC_ICPR    0xE000E280u  // clear-pending
#define SCB_VTOR     0xE000ED08u
#define SCB_CFSR     0xE000ED28u  // configurable fault status
#define SCB_HFSR     0xE000ED2Cu
#define SCB_BFAR     0xE000ED38u

#define SYST_CSR     0xE000E010u  // SysTick control and status
#define SYST_RVR     0xE000E014u  // reload value
#define SYST_CVR     0xE000E018u  // current value
// QEMU's Stellaris clock after reset: 200 MHz PLL / (SYSDIV 15 + 1) =
// 12.5 MHz (RCC = 0x078e3ad1). SysTick runs from its reference clock
// (CLKSOURCE = 0): in QEMU 7.2 the processor-clock source never ticks
// ("Timer with period zero"), the reference clock does, at this same rate
// (measured: 100 ticks per second of wall time with the reload below).
#define CPU_HZ       12500000u

// ---- UARTs (a PL011 with Stellaris extras) ----
#define UART0_BASE   0x4000C000u
#define UART1_BASE   0x4000D000u
#define UART2_BASE   0x4000E000u
#define UART_DR      0x000   // data
#define UART_FR      0x018   // flags
#define UART_IBRD    0x024
#define UART_FBRD    0x028
#define UART_LCRH    0x02C   // line control
#define UART_CTL     0x030   // control (PL011 "CR")
#define UART_IFLS    0x034
#define UART_IM      0x038   // interrupt mask (PL011 "IMSC"): 1 = enabled
#define UART_RIS     0x03C
#define UART_MIS     0x040   // masked interrupt status
#define UART_ICR     0x044   // interrupt clear
#define UART_DR_OE   (1u << 11)  // overrun: bytes were lost before this one
#define UART_FR_RXFE (1u << 4)   // receive FIFO empty
#define UART_FR_TXFF (1u << 5)   // transmit FIFO full
#define UART_INT_RX  (1u << 4)
#define UART_INT_TX  (1u << 5)
#define UART_INT_RT  (1u << 6)   // receive timeout: bytes sit below the trigger level
#define UART_LCRH_FEN   (1u << 4)  // FIFOs on (16 bytes each way)
#define UART_LCRH_WLEN8 (3u << 5)
#define UART_CTL_EN  (1u << 0)
#define UART_CTL_TXE (1u << 8)
#define UART_CTL_RXE (1u << 9)

#define SYSCTL_RCGC1 0x400FE104u  // run-mode clock gating: bit n = UARTn

// ---- register access ----
static inline uint32_t rd32(uint32_t addr)
{
  return *(volatile uint32_t *)addr;
}

static inline void wr32(uint32_t addr, uint32_t v)
{
  *(volatile uint32_t *)addr = v;
}

// ---- interrupt masking (PRIMASK) ----
// PRIMASK = 1 blocks every interrupt with configurable priority; a
// pending one is taken as soon as PRIMASK goes back to 0. On this single
// core that is all the mutual exclusion there is.
static inline uint32_t irq_save(void)
{
  uint32_t primask;

  __asm__ volatile("mrs %0, primask" : "=r"(primask));
  __asm__ volatile("cpsid i" ::: "memory");
  return primask;
}

static inline void irq_restore(uint32_t primask)
{
  __asm__ volatile("msr primask, %0" :: "r"(primask) : "memory");
}

static inline int irq_disabled(void)
{
  uint32_t primask;

  __asm__ volatile("mrs %0, primask" : "=r"(primask));
  return primask & 1;
}

// Sleep until an interrupt is pending, with PRIMASK set: WFI wakes on a
// pending interrupt even when PRIMASK keeps it from being taken, so a
// wakeup that happened after the caller's last check is not lost; then
// open the window for the handler to run and close it again.
static inline void wait_for_interrupt_masked(void)
{
  __asm__ volatile("wfi" ::: "memory");
  __asm__ volatile("cpsie i" ::: "memory");
  __asm__ volatile("isb" ::: "memory");  // let the pending handler run here
  __asm__ volatile("cpsid i" ::: "memory");
}

// nvic.c: one interrupt line on, off, or raised by software.
void nvic_enable(int irq);
void nvic_disable(int irq);
void nvic_pend(int irq);

// Every interrupt handler bumps this: the idle loop sleeps only if it has
// not moved since the loop last looked for work.
extern volatile uint32_t irq_events;

// ---- board services (board.c, uart.c, printf.c, startup.c, vos_cm3.c) ----
void     uart0_init(void);
void     uart0_putc(int c);
int      uart0_getc(void);            // -1 if nothing typed
void     uart2_init(void);
void     kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void     kvprintf(const char *fmt, __builtin_va_list ap);
void     panic(const char *why) __attribute__((noreturn));
uint32_t ticks_ms(void);
void     systick_init(void);
uint32_t stack_high_water(void);   // bytes of stack ever used (startup.c)
uint32_t stack_size(void);
void     dma_usage(uint32_t *in_use, uint32_t *peak, uint32_t *total);  // vos_cm3.c
int      dma_pool_holds(uint64_t pa, uint64_t len);  // vos_cm3.c: [pa, pa+len) in the pool

// GCC may emit calls to these even in freestanding code (printf.c has them).
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int   memcmp(const void *a, const void *b, size_t n);

#endif
