// printf.c: kprintf for the Cortex-M3 port, on UART0, polled (so it works
// from interrupt handlers and before interrupts are on). Also panic() and
// the string functions GCC may call even in freestanding code (memset,
// memcpy, memmove, memcmp: it turns struct copies and zeroing loops into
// calls to them).
//
// Formats: %d %u %x %p %s %c and %%, with l or ll for 64-bit values, a
// field width, '-' to left-justify and '0' to zero-pad. The same set the
// portable core's vos_log promises (virtio_os.h).
//
// See it run: everything `make qemu-cm3` prints comes through here.
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include "cm3.h"

static void put_padded(const char *s, int len, int width, int left, char pad)
{
  int i;

  if (!left)
    for (i = len; i < width; i++)
      uart0_putc(pad);
  for (i = 0; i < len; i++)
    uart0_putc(s[i]);
  if (left)
    for (i = len; i < width; i++)
      uart0_putc(' ');
}

// Digits of v in base 10 or 16, most significant first, into buf (at
// least 21 bytes). 64-bit division comes from libgcc (__aeabi_uldivmod).
static int utoa(uint64_t v, unsigned base, char *buf)
{
  char tmp[24];
  int n = 0, i;

  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v != 0);
  for (i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  return n;
}

void kvprintf(const char *fmt, va_list ap)
{
  char buf[24];
  const char *s;
  int width, left, lng, n;
  char pad;
  uint64_t u;
  int64_t v;

  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      uart0_putc(*fmt);
      continue;
    }
    fmt++;
    left = 0;
    pad = ' ';
    width = 0;
    lng = 0;
    if (*fmt == '-') {
      left = 1;
      fmt++;
    }
    if (*fmt == '0') {
      pad = '0';
      fmt++;
    }
    while (*fmt >= '0' && *fmt <= '9')
      width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l') {
      lng++;
      fmt++;
    }
    switch (*fmt) {
    case 'd':
      v = lng >= 2 ? va_arg(ap, long long) : lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
      n = 0;
      if (v < 0) {
        buf[n++] = '-';
        u = (uint64_t)0 - (uint64_t)v;
      } else {
        u = (uint64_t)v;
      }
      n += utoa(u, 10, buf + n);
      put_padded(buf, n, width, left, pad);
      break;
    case 'u':
    case 'x':
      u = lng >= 2 ? va_arg(ap, unsigned long long)
        : lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
      n = utoa(u, *fmt == 'u' ? 10 : 16, buf);
      put_padded(buf, n, width, left, pad);
      break;
    case 'p':
      buf[0] = '0';
      buf[1] = 'x';
      n = 2 + utoa((uintptr_t)va_arg(ap, void *), 16, buf + 2);
      put_padded(buf, n, width, left, pad);
      break;
    case 's':
      s = va_arg(ap, const char *);
      if (s == 0)
        s = "(null)";
      for (n = 0; s[n]; n++)
        ;
      put_padded(s, n, width, left, ' ');
      break;
    case 'c':
      buf[0] = (char)va_arg(ap, int);
      put_padded(buf, 1, width, left, ' ');
      break;
    case '%':
      uart0_putc('%');
      break;
    case 0:
      return;
    default:  // unknown: show it rather than guess
      uart0_putc('%');
      uart0_putc(*fmt);
    }
  }
}

void kprintf(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  kvprintf(fmt, ap);
  va_end(ap);
}

void panic(const char *why)
{
  irq_save();
  kprintf("\npanic: %s\n", why);
  for (;;)
    __asm__ volatile("wfi");
}

// ---- what GCC may call ----

void *memset(void *dst, int c, size_t n)
{
  uint8_t *d = dst;

  while (n--)
    *d++ = (uint8_t)c;
  return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
  uint8_t *d = dst;
  const uint8_t *s = src;

  while (n--)
    *d++ = *s++;
  return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
  uint8_t *d = dst;
  const uint8_t *s = src;

  if (d < s) {
    while (n--)
      *d++ = *s++;
  } else {
    while (n--)
      d[n] = s[n];
  }
  return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
  const uint8_t *x = a, *y = b;

  for (; n; n--, x++, y++) {
    if (*x != *y)
      return *x - *y;
  }
  return 0;
}
