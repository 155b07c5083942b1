// main.c: the Cortex-M3 port's main program: bring the board up, then
// loop forever serving two things:
//   UART0  a small shell: devs, blktest, stat, rng, help
//   UART2  the echo service: bytes arriving at UART2 travel device model
//          -> receive virtqueue -> virtio-console driver -> this loop ->
//          transmit virtqueue -> device model -> back out of UART2
// and sleeping (WFI) whenever neither has work.
//
// There are no processes: interrupt handlers do the device work and this
// loop is the only thread. It may block inside a driver call (vblk_rw
// sleeps in vos_sleep until its interrupt), which is fine with one thread.
//
// See it run: `make qemu-cm3`.
#include <stdint.h>
#include <stddef.h>
#include "cm3.h"
#include "board.h"

volatile uint32_t irq_events;

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

// ---- the shell ----

#define LINE_MAX 80
static char line[LINE_MAX];
static int line_len;

static int streq(const char *a, const char *b)
{
  while (*a && *a == *b) {
    a++;
    b++;
  }
  return *a == *b;
}

static int starts_with(const char *s, const char *prefix)
{
  while (*prefix && *s == *prefix) {
    s++;
    prefix++;
  }
  return *prefix == 0;
}

static uint32_t parse_uint(const char *s, uint32_t dflt)
{
  uint32_t v = 0;

  while (*s == ' ')
    s++;
  if (*s < '0' || *s > '9')
    return dflt;
  while (*s >= '0' && *s <= '9')
    v = v * 10 + (uint32_t)(*s++ - '0');
  return v;
}

static void prompt(void)
{
  kprintf("cm3> ");
}

static void run_command(char *cmd)
{
  while (*cmd == ' ')
    cmd++;
  if (*cmd == 0)
    return;
  if (streq(cmd, "help")) {
    kprintf("devs      the virtio device table (probed like RISC-V's slots)\n"
            "blktest   write patterns to the virtio-blk RAM disk and read them back\n"
            "stat      per-queue counters, memory use\n"
            "rng [n]   n random bytes from virtio-rng (default 16)\n"
            "UART2 (third -serial) echoes every byte through virtio-console\n");
  } else if (streq(cmd, "devs")) {
    board_devs();
  } else if (streq(cmd, "blktest")) {
    board_blktest();
  } else if (streq(cmd, "stat")) {
    board_stat();
  } else if (streq(cmd, "rng") || starts_with(cmd, "rng ")) {
    board_rng(parse_uint(cmd + 3, 16));
  } else {
    kprintf("unknown command '%s' (try help)\n", cmd);
  }
}

// Take typed characters; run a command at end of line. Returns 1 if it did
// anything.
static int shell_poll(void)
{
  int c, did = 0;

  while ((c = uart0_getc()) >= 0) {
    did = 1;
    if (c == '\r' || c == '\n') {
      uart0_putc('\n');
      line[line_len] = 0;
      run_command(line);
      line_len = 0;
      prompt();
    } else if (c == 0x7f || c == '\b') {
      if (line_len > 0) {
        line_len--;
        kprintf("\b \b");
      }
    } else if (c >= ' ' && line_len < LINE_MAX - 1) {
      line[line_len++] = (char)c;
      uart0_putc(c);
    }
  }
  return did;
}

int main(void)
{
  uint32_t seen;

  uart0_init();
  kprintf("\nvirtio teaching kernel, Cortex-M3 port (QEMU lm3s6965evb)\n");
  systick_init();
  board_init();
  kprintf("UART0: this shell (try help); UART2: echo through virtio-console\n");
  prompt();
  for (;;) {
    seen = irq_events;
    shell_poll();
    echo_poll();
    // Sleep only if no interrupt came in since `seen`: checking and
    // sleeping with interrupts masked closes the window in which a new
    // byte could arrive unnoticed (see wait_for_interrupt_masked).
    irq_save();
    if (irq_events == seen)
      wait_for_interrupt_masked();
    irq_restore(0);
  }
}
