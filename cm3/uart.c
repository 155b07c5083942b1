// uart.c: the two UARTs the Cortex-M3 port uses, both Stellaris UARTs
// (an ARM PL011 with a few extras) in QEMU's lm3s6965evb.
//
//   UART0 (0x4000C000, IRQ 5)   the console: the shell reads typed lines
//       from an interrupt-filled ring, with flow control when it is full;
//       output is polled (kprintf).
//   UART2 (0x4000E000, IRQ 33)  the byte stream behind the virtio-console
//       device model (vdm_console.c), interrupt driven both ways: it is
//       that device's "wire". QEMU connects it to the third `-serial`.
//
// Follows the LM3S6965 data sheet, chapter 13 (UART): DR (OE bit 11), FR
// (RXFE bit 4, TXFF bit 5), LCRH, CTL, IM, MIS, ICR, and the FIFO
// interrupt rules: the receive interrupt fires when bytes arrive (RX) or
// sit there a while (RT, receive timeout); the transmit interrupt fires
// when the transmit FIFO drains, so transmission is started by writing
// the first bytes directly ("priming") and kept going by the interrupt.
//
// See it run: `make qemu-cm3`; connect to UART2 with the command it prints.
#include <stdint.h>
#include <stddef.h>
#include "cm3.h"
#include "vdm_backend.h"
#include "uart.h"

static void uart_setup(uint32_t base)
{
  wr32(base + UART_CTL, 0);  // off while we configure it
  // 115200 baud from 12.5 MHz: 12.5e6 / (16 * 115200) = 6.78 -> 6 + 50/64.
  // QEMU ignores the rate; real hardware would not.
  wr32(base + UART_IBRD, 6);
  wr32(base + UART_FBRD, 50);
  wr32(base + UART_LCRH, UART_LCRH_WLEN8 | UART_LCRH_FEN);
  wr32(base + UART_IM, 0);
  wr32(base + UART_ICR, 0x7ff);
  wr32(base + UART_CTL, UART_CTL_EN | UART_CTL_TXE | UART_CTL_RXE);
}

// ---- UART0: the console ----
//
// Receive: the interrupt moves bytes from the UART's 16-byte FIFO into a
// ring that the shell empties (uart0_getc). QEMU refills the FIFO from
// the terminal while the handler reads, so a paste could keep one
// interrupt reading for thousands of bytes; instead the handler stops at
// a full ring and masks the receive interrupt. The bytes then wait in the
// FIFO, and once it is full QEMU takes no more from the terminal: the
// sender waits, nothing is lost (the flow control UART2's path gets from
// the device model). uart0_getc unmasks it when half the ring is free.
// A real UART would drop bytes arriving at a full FIFO; it says so with
// the overrun bit (OE) of the next byte read, and `stat` counts those.

#define RX0_SIZE 256
static uint8_t rx0[RX0_SIZE];
static volatile uint32_t rx0_head, rx0_tail;  // ISR writes tail, main reads head
static volatile int rx0_stopped;              // receive interrupt masked: ring was full
struct uart0_stats uart0_stats;

void uart0_init(void)
{
  // Clock gating: a real LM3S6965 keeps a UART dead until its RCGC1 bit is
  // set (and its pins are routed by GPIO AFSEL, which QEMU does not model).
  wr32(SYSCTL_RCGC1, rd32(SYSCTL_RCGC1) | 0x7);
  uart_setup(UART0_BASE);
  wr32(UART0_BASE + UART_IM, UART_INT_RX | UART_INT_RT);
  nvic_enable(IRQ_UART0);
}

void uart0_putc(int c)
{
  if (c == '\n')
    uart0_putc('\r');
  while (rd32(UART0_BASE + UART_FR) & UART_FR_TXFF)
    ;
  wr32(UART0_BASE + UART_DR, (uint32_t)c & 0xff);
}

int uart0_getc(void)
{
  uint32_t s = irq_save();
  int c = -1;

  if (rx0_head != rx0_tail)
    c = rx0[rx0_head++ % RX0_SIZE];
  // Resume at half full, not at the first free byte, so that a long paste
  // costs one stop per 128 bytes rather than one per byte. Pending the
  // interrupt by hand makes the handler look at the FIFO now: the bytes
  // waiting there raise no new receive interrupt of their own (the FIFO
  // did not go from empty to not empty).
  if (rx0_stopped && rx0_tail - rx0_head <= RX0_SIZE / 2) {
    rx0_stopped = 0;
    wr32(UART0_BASE + UART_IM, UART_INT_RX | UART_INT_RT);
    nvic_pend(IRQ_UART0);
  }
  irq_restore(s);
  return c;
}

void uart0_isr(void)
{
  uint32_t d;

  irq_events++;
  uart0_stats.irqs++;
  // RX clears itself when the FIFO is read empty; only RT needs ICR, and
  // before the reads: clearing RX after them would also clear it for a
  // byte that landed after the last read, which would then sit unnoticed.
  wr32(UART0_BASE + UART_ICR, UART_INT_RT);
  while (!(rd32(UART0_BASE + UART_FR) & UART_FR_RXFE)) {
    if (rx0_tail - rx0_head == RX0_SIZE) {
      // Ring full: leave the rest in the FIFO until the shell catches up.
      rx0_stopped = 1;
      uart0_stats.stops++;
      wr32(UART0_BASE + UART_IM, 0);
      return;
    }
    d = rd32(UART0_BASE + UART_DR);
    if (d & UART_DR_OE)
      uart0_stats.overruns++;
    rx0[rx0_tail++ % RX0_SIZE] = (uint8_t)d;
    uart0_stats.rx_bytes++;
  }
}

// ---- UART2: the virtio-console device's backend ----
//
// Receive: bytes stay in the UART's own 16-byte FIFO until the device
// model reads them. While the model has no receive buffer it masks the
// receive interrupt (want rx = 0), the FIFO fills, and QEMU stops taking
// bytes from the socket: end-to-end flow control, nothing is dropped.
// Transmit: a ring in SRAM; write() copies into it and primes the FIFO,
// the transmit interrupt moves the rest, a FIFO's worth at a time.

#define TX2_SIZE 256
#define FIFO_DEPTH 16
static uint8_t tx2[TX2_SIZE];
static uint32_t tx2_head, tx2_tail;   // all access with interrupts masked
static int tx2_running;               // transmit interrupt enabled, ring draining
static uint32_t im2;                  // our copy of UART2's interrupt mask
static void (*event_fn)(void *arg);
static void *event_arg;
struct uart2_stats uart2_stats;

static void set_mask(uint32_t bits, int on)
{
  im2 = on ? (im2 | bits) : (im2 & ~bits);
  wr32(UART2_BASE + UART_IM, im2);
}

// Move up to one FIFO's worth from the ring to the UART.
static void tx2_pump(void)
{
  int n = 0;

  while (tx2_head != tx2_tail && n < FIFO_DEPTH &&
         !(rd32(UART2_BASE + UART_FR) & UART_FR_TXFF)) {
    wr32(UART2_BASE + UART_DR, tx2[tx2_head++ % TX2_SIZE]);
    n++;
  }
  uart2_stats.tx_bytes += n;
  tx2_running = tx2_head != tx2_tail;
  set_mask(UART_INT_TX, tx2_running);
}

static uint32_t be_read(void *ctx, uint8_t *buf, uint32_t max)
{
  uint32_t n = 0;

  while (n < max && !(rd32(UART2_BASE + UART_FR) & UART_FR_RXFE))
    buf[n++] = (uint8_t)rd32(UART2_BASE + UART_DR);
  uart2_stats.rx_bytes += n;
  return n;
}

static uint32_t be_write(void *ctx, const uint8_t *buf, uint32_t len)
{
  uint32_t s = irq_save(), n = 0;

  while (n < len && tx2_tail - tx2_head < TX2_SIZE)
    tx2[tx2_tail++ % TX2_SIZE] = buf[n++];
  if (n < len)
    uart2_stats.tx_full++;
  // Prime the FIFO if it is idle; from then on the interrupt drives it.
  if (!tx2_running)
    tx2_pump();
  irq_restore(s);
  return n;
}

static void be_want(void *ctx, int rx, int tx)
{
  uint32_t s = irq_save();

  // tx needs nothing extra: while the ring holds bytes the transmit
  // interrupt is on, and the ISR reports room after every batch.
  set_mask(UART_INT_RX | UART_INT_RT, rx);
  irq_restore(s);
}

void uart2_init(void)
{
  uart_setup(UART2_BASE);
  im2 = 0;
  nvic_enable(IRQ_UART2);
}

void uart2_backend(struct vdm_char_backend *be, void (*event)(void *arg), void *arg)
{
  be->read = be_read;
  be->write = be_write;
  be->want = be_want;
  be->ctx = 0;
  event_fn = event;
  event_arg = arg;
}

void uart2_isr(void)
{
  uint32_t mis = rd32(UART2_BASE + UART_MIS);

  irq_events++;
  uart2_stats.irqs++;
  // RX clears itself when the FIFO is read empty; TX and RT need ICR.
  wr32(UART2_BASE + UART_ICR, mis & (UART_INT_TX | UART_INT_RT));
  if (mis & UART_INT_TX)
    tx2_pump();
  // Bytes arrived or room appeared: let the device model continue. It
  // runs with interrupts masked, like every other entry into the model.
  if (event_fn) {
    uint32_t s = irq_save();
    event_fn(event_arg);
    irq_restore(s);
  }
}
