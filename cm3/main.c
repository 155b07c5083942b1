// main.c: the Cortex-M3 port's main program: bring the board up, then
// loop forever serving two things:
//   UART0  a small shell: devs, blktest, stat, rng, echo, sleep, help
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
#include "uart.h"

volatile uint32_t irq_events;

// ---- the shell ----

#define LINE_MAX 80
static char line[LINE_MAX];
static int line_len;
// Characters typed past the end of `line` in the current line: not
// stored, not echoed; at the end of the line the whole line is refused.
static uint32_t line_over;

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

// A count typed as an argument: decimal digits, blanks around them
// allowed, a value from 1 to max. Returns 0 with the value in *v, or -1
// for anything else (no digits, a sign, other characters, too big: it
// never wraps).
static int parse_count(const char *s, uint32_t max, uint32_t *v)
{
  uint32_t n = 0;
  int digits = 0;

  while (*s == ' ')
    s++;
  for (; *s >= '0' && *s <= '9'; s++, digits++) {
    if (n <= max)   // once past max it stays past: no overflow
      n = n * 10 + (uint32_t)(*s - '0');
  }
  while (*s == ' ')
    s++;
  if (digits == 0 || *s != 0 || n < 1 || n > max)
    return -1;
  *v = n;
  return 0;
}

// The argument of a command that takes one count: nothing (dflt), or a
// count from 1 to max. Returns -1 after saying what is wrong.
static int count_arg(const char *name, const char *arg, uint32_t dflt, uint32_t max,
                     uint32_t *v)
{
  while (*arg == ' ')
    arg++;
  *v = dflt;
  if (*arg != 0 && parse_count(arg, max, v) < 0) {
    kprintf("%s: '%s' is not a count from 1 to %u\n", name, arg, (unsigned)max);
    return -1;
  }
  return 0;
}

// `sleep MS`: wait without reading the terminal (what typed-ahead input
// does meanwhile shows in `stat`: uart0's ring-full stops).
static void sleep_command(const char *arg)
{
  uint32_t ms, t0 = ticks_ms(), s;

  if (count_arg("sleep", arg, 0, 10000, &ms) < 0)
    return;
  if (ms == 0) {
    kprintf("sleep: how many milliseconds? (1 to 10000)\n");
    return;
  }
  s = irq_save();
  while (ticks_ms() - t0 < ms)
    wait_for_interrupt_masked();
  irq_restore(s);
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
  uart0_stats.lines++;
  if (streq(cmd, "help")) {
    kprintf("devs      the virtio device table (probed like RISC-V's slots)\n"
            "blktest   write patterns to the virtio-blk RAM disk and read them back\n"
            "stat      per-queue counters, memory use\n"
            "rng [n]   n random bytes from virtio-rng, 1 to 64 (default 16)\n"
            "echo TEXT print TEXT\n"
            "sleep ms  wait ms milliseconds (1 to 10000) without reading input\n"
            "UART2 (third -serial) echoes every byte through virtio-console\n");
  } else if (streq(cmd, "devs")) {
    board_devs();
  } else if (streq(cmd, "blktest")) {
    board_blktest();
  } else if (streq(cmd, "stat")) {
    board_stat();
  } else if (streq(cmd, "echo") || starts_with(cmd, "echo ")) {
    // The rest of the line as typed, after the one separating space: a
    // way to see exactly what the shell received.
    kprintf("%s\n", cmd[4] ? cmd + 5 : "");
  } else if (streq(cmd, "rng") || starts_with(cmd, "rng ")) {
    uint32_t n;
    if (count_arg("rng", cmd + 3, 16, BOARD_RNG_MAX, &n) == 0)
      board_rng(n);
  } else if (streq(cmd, "sleep") || starts_with(cmd, "sleep ")) {
    sleep_command(cmd + 5);
  } else {
    kprintf("unknown command '%s' (try help)\n", cmd);
  }
}

// End of line: run it, or refuse it whole if it did not fit (running the
// part that fitted could do something the user never asked for).
static void end_of_line(void)
{
  uart0_putc('\n');
  if (line_over > 0) {
    kprintf("line too long: %u characters, at most %d; not run\n",
            (unsigned)(line_len + line_over), LINE_MAX - 1);
    uart0_stats.long_lines++;
    uart0_stats.long_bytes += (uint32_t)line_len + line_over;
  } else {
    line[line_len] = 0;
    run_command(line);
  }
  line_len = 0;
  line_over = 0;
  prompt();
}

// Take typed characters; run a command at end of line. Returns 1 if it did
// anything.
static int shell_poll(void)
{
  int c, did = 0;

  while ((c = uart0_getc()) >= 0) {
    did = 1;
    if (c == '\r' || c == '\n') {
      end_of_line();
    } else if (c == 0x7f || c == '\b') {
      // Rub out the unseen excess first, then what the terminal shows.
      if (line_over > 0) {
        line_over--;
      } else if (line_len > 0) {
        line_len--;
        kprintf("\b \b");
      }
    } else if (c >= ' ') {
      if (line_len < LINE_MAX - 1 && line_over == 0) {
        line[line_len++] = (char)c;
        uart0_putc(c);
      } else {
        line_over++;
      }
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
