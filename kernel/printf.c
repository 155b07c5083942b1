// printf.c: formatted output to the console for the kernel, and panic().
//
// Supports the conversions the kernel uses, a subset of ISO C11 7.21.6.1:
//   %d %i %u %x %p %s %c %%, the length modifiers l and ll, and an
//   optional zero flag and field width ("%08x", "%2d").
// Output goes byte by byte to uartputc_sync(), which spins instead of
// sleeping, so printf works anywhere: with interrupts off, with locks
// held, in an interrupt handler.
//
// A lock keeps lines from different harts from interleaving. panic() stops
// taking it: the panicking hart may already hold it (a panic inside
// printf), and a broken kernel must still be able to say why it died.
//
// See it run: `make qemu` (every boot message comes through here).
#include <stdarg.h>
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "riscv.h"
#include "defs.h"

volatile int panicked = 0;    // set once a panic message is out

static struct {
  struct spinlock lock;
  volatile int locking;       // 0 before printfinit and after panic()
} pr;

static const char digits[] = "0123456789abcdef";

void
printfinit(void)
{
  initlock(&pr.lock, "pr");
  pr.locking = 1;
}

// Print x in the given base, at least `width` characters wide, padded with
// `pad` (' ' or '0'). `negative` says x is the magnitude of a negative
// number. Returns the number of characters printed.
static int
printnum(uint64 x, int base, int negative, int width, char pad)
{
  char buf[24];   // 2^64 has 20 decimal digits, plus a sign
  int n = 0;

  do {
    buf[n++] = digits[x % base];
    x /= base;
  } while(x != 0);

  int len = n + negative;
  int out = 0;
  if(negative && pad == '0'){
    uartputc_sync('-');     // "-0042", not "00-42"
    out++;
    negative = 0;
  }
  for(; len < width; len++, out++)
    uartputc_sync(pad);
  if(negative){
    uartputc_sync('-');
    out++;
  }
  while(n > 0){
    uartputc_sync(buf[--n]);
    out++;
  }
  return out;
}

static int
printstr(const char *s, int width)
{
  int out = 0;

  if(s == 0)
    s = "(null)";
  for(int len = strlen(s); len < width; len++, out++)
    uartputc_sync(' ');
  for(; *s; s++, out++)
    uartputc_sync(*s);
  return out;
}

// Format and print, without the lock. Returns the characters printed.
static int
format(const char *fmt, va_list ap)
{
  int out = 0;

  for(int i = 0; fmt[i]; i++){
    char c = fmt[i];
    if(c != '%'){
      uartputc_sync(c);
      out++;
      continue;
    }

    // %[0][width][l|ll]conversion
    c = fmt[++i];
    char pad = ' ';
    if(c == '0'){
      pad = '0';
      c = fmt[++i];
    }
    int width = 0;
    while(c >= '0' && c <= '9'){
      width = width * 10 + (c - '0');
      c = fmt[++i];
    }
    int longs = 0;
    while(c == 'l'){
      longs++;
      c = fmt[++i];
    }

    if(c == 0)
      break;    // the format ended in the middle of a conversion
    if(c == 'd' || c == 'i'){
      long v = longs ? va_arg(ap, long) : va_arg(ap, int);
      if(v < 0)
        out += printnum(-(uint64)v, 10, 1, width, pad);   // works for LONG_MIN too
      else
        out += printnum(v, 10, 0, width, pad);
    } else if(c == 'u'){
      uint64 v = longs ? va_arg(ap, uint64) : va_arg(ap, uint);
      out += printnum(v, 10, 0, width, pad);
    } else if(c == 'x'){
      uint64 v = longs ? va_arg(ap, uint64) : va_arg(ap, uint);
      out += printnum(v, 16, 0, width, pad);
    } else if(c == 'p'){
      // Pointers always print as 0x and all 16 hex digits, so addresses
      // line up in columns.
      uartputc_sync('0');
      uartputc_sync('x');
      out += 2 + printnum((uint64)va_arg(ap, void *), 16, 0, 16, '0');
    } else if(c == 's'){
      out += printstr(va_arg(ap, const char *), width);
    } else if(c == 'c'){
      uartputc_sync(va_arg(ap, int));
      out++;
    } else if(c == '%'){
      uartputc_sync('%');
      out++;
    } else {
      // Unknown: show it as written, so the mistake is visible.
      uartputc_sync('%');
      uartputc_sync(c);
      out += 2;
    }
  }
  return out;
}

int
vprintf(const char *fmt, va_list ap)
{
  // Read the flag once: panic() may clear it meanwhile, and we must
  // release only what we acquired.
  int locking = pr.locking;

  if(locking)
    acquire(&pr.lock);
  int n = format(fmt, ap);
  if(locking)
    release(&pr.lock);
  return n;
}

int
printf(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  int n = vprintf(fmt, ap);
  va_end(ap);
  return n;
}

// A kernel invariant is broken: say so and stop this hart for good.
void
panic(const char *s)
{
  intr_off();
  pr.locking = 0;
  printf("panic: %s\n", s);
  panicked = 1;    // uartputc() stops other harts' console output
  for(;;)
    ;
}
