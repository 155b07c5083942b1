// uart.c: the 16550 UART at 0x10000000 that QEMU connects to the terminal.
//
// Follows the 16550 data sheet (register map below). Receive is interrupt
// driven: each received byte goes to consoleintr(). Transmit is interrupt
// driven too: uartputc() puts bytes in a small ring and the UART's
// "transmit holding register empty" interrupt pulls them out, so a process
// writing to the console sleeps instead of spinning. Kernel printf and
// console echo use uartputc_sync(), which spins, because they may run with
// interrupts off.
//
// Registers (byte offsets from UART0):
//   0 RHR (read: received byte)   THR (write: byte to send)
//   1 IER interrupt enable        2 FCR FIFO control (write)
//   3 LCR line control            5 LSR line status
// With LCR's DLAB bit set, offsets 0 and 1 are the baud divisor instead.
//
// See it run: `make qemu` and type.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "spinlock.h"
#include "defs.h"

#define RHR 0
#define THR 0
#define IER 1
#define IER_RX_ENABLE (1<<0)
#define IER_TX_ENABLE (1<<1)
#define FCR 2
#define FCR_FIFO_ENABLE (1<<0)
#define FCR_FIFO_CLEAR  (3<<1)
#define LCR 3
#define LCR_EIGHT_BITS (3<<0)
#define LCR_BAUD_LATCH (1<<7)
#define LSR 5
#define LSR_RX_READY (1<<0)
#define LSR_TX_IDLE  (1<<5)

// Where the registers are: at their physical address while paging is off
// (the first boot messages), at KDEV(UART0) once it is on (memlayout.h).
static uint64 uart_regs = UART0;

static volatile uchar *
reg(int r)
{
  return (volatile uchar *)(uart_regs + r);
}

// Paging is on (vm.c kvminithart, on the boot hart): use the mapping.
void
uartpaging(void)
{
  uart_regs = KDEV(UART0);
}

// Bytes waiting to be sent. uart_tx_w and uart_tx_r count forever; the
// slot is the count modulo the size, and w - r is how many are waiting.
#define UART_TX_BUF 32
static struct spinlock uart_tx_lock;
static char uart_tx_buf[UART_TX_BUF];
static uint64 uart_tx_w;
static uint64 uart_tx_r;

void
uartinit(void)
{
  *reg(IER) = 0;                         // quiet while we configure
  *reg(LCR) = LCR_BAUD_LATCH;            // divisor: QEMU ignores the value,
  *reg(0) = 3;                           // real hardware would run 38400 baud
  *reg(1) = 0;
  *reg(LCR) = LCR_EIGHT_BITS;            // 8 data bits, no parity, 1 stop bit
  *reg(FCR) = FCR_FIFO_ENABLE | FCR_FIFO_CLEAR;
  *reg(IER) = IER_RX_ENABLE | IER_TX_ENABLE;
  initlock(&uart_tx_lock, "uart");
}

// Move bytes from the ring to the UART while it can take them.
// Called with uart_tx_lock held, from uartputc() and from the interrupt.
static void
uartstart(void)
{
  while(uart_tx_w != uart_tx_r){
    if((*reg(LSR) & LSR_TX_IDLE) == 0)
      return;          // busy: the next TX-empty interrupt calls us again
    int c = uart_tx_buf[uart_tx_r % UART_TX_BUF];
    uart_tx_r++;
    wakeup(&uart_tx_r);   // room in the ring for a sleeping uartputc()
    *reg(THR) = c;
  }
}

// Queue a byte for sending; sleep while the ring is full.
void
uartputc(int c)
{
  acquire(&uart_tx_lock);
  while(panicked == 0 && uart_tx_w == uart_tx_r + UART_TX_BUF)
    sleep(&uart_tx_r, &uart_tx_lock);
  if(panicked){
    release(&uart_tx_lock);
    for(;;)
      ;
  }
  uart_tx_buf[uart_tx_w % UART_TX_BUF] = c;
  uart_tx_w++;
  uartstart();
  release(&uart_tx_lock);
}

// Send a byte now, spinning until the UART takes it. Safe with interrupts
// off; used by printf and for echoing typed characters.
void
uartputc_sync(int c)
{
  push_off();
  while((*reg(LSR) & LSR_TX_IDLE) == 0)
    ;
  *reg(THR) = c;
  pop_off();
}

// The UART interrupts when a byte arrived or when it can take more bytes.
// We do not need to know which: drain the receiver, then refill the sender.
void
uartintr(void)
{
  while(*reg(LSR) & LSR_RX_READY)
    consoleintr(*reg(RHR));

  acquire(&uart_tx_lock);
  uartstart();
  release(&uart_tx_lock);
}
