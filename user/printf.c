// printf.c: formatted output for user programs.
//
//   printf(fmt, ...)        to standard output (fd 1)
//   fprintf(fd, fmt, ...)   to any file descriptor
//
// Conversions: %d %i %u %x %p %s %c %%, with the length modifiers l and ll
// (%ld %lu %lx %lld ...: 64-bit values) and an optional '-' (left-justify),
// '0' (pad with zeros) and field width, e.g. "%-10s" "%08x" "%6d".
// An unknown conversion is printed as it was written.
//
// Output is collected in a small buffer and handed to write() in as few calls
// as possible, usually one per printf. That is faster than a system call per
// character, and when several processes print at once their lines mostly stay
// whole instead of being mixed character by character.
#include "kernel/types.h"
#include "user/user.h"
#include <stdarg.h>

struct out {
  int fd;
  int n;            // bytes waiting in buf
  char buf[128];
};

static void
flush(struct out *o)
{
  if(o->n > 0)
    write(o->fd, o->buf, o->n);
  o->n = 0;
}

static void
putc(struct out *o, char c)
{
  if(o->n == sizeof(o->buf))
    flush(o);
  o->buf[o->n++] = c;
}

struct spec {
  int left;         // '-': pad on the right
  int zero;         // '0': pad with zeros instead of spaces
  int width;        // minimum field width
};

// Emit s (len bytes) padded to the field width. Zero padding goes after a
// leading '-' or "0x", so -0042 and 0x00ff come out right.
static void
putfield(struct out *o, struct spec *sp, const char *s, int len, int prefix)
{
  int pad = sp->width > len ? sp->width - len : 0;
  if(sp->left){
    for(int i = 0; i < len; i++)
      putc(o, s[i]);
    while(pad-- > 0)
      putc(o, ' ');
    return;
  }
  if(sp->zero){
    for(int i = 0; i < prefix; i++)
      putc(o, s[i]);
    while(pad-- > 0)
      putc(o, '0');
    for(int i = prefix; i < len; i++)
      putc(o, s[i]);
    return;
  }
  while(pad-- > 0)
    putc(o, ' ');
  for(int i = 0; i < len; i++)
    putc(o, s[i]);
}

static const char digits[] = "0123456789abcdef";

// Print an unsigned 64-bit value in base 10 or 16; neg adds a '-' and
// prefix0x a "0x" in front.
static void
putnum(struct out *o, struct spec *sp, uint64 v, int base, int neg, int prefix0x)
{
  char tmp[24];   // 20 decimal digits of 2^64, plus sign or "0x"
  int i = sizeof(tmp);
  do {
    tmp[--i] = digits[v % base];
    v /= base;
  } while(v != 0);
  if(prefix0x){
    tmp[--i] = 'x';
    tmp[--i] = '0';
  }
  if(neg)
    tmp[--i] = '-';
  putfield(o, sp, tmp + i, sizeof(tmp) - i, neg + 2 * prefix0x);
}

static void
vformat(struct out *o, const char *fmt, va_list ap)
{
  for(; *fmt; fmt++){
    if(*fmt != '%'){
      putc(o, *fmt);
      continue;
    }
    const char *start = fmt;   // to print an unknown conversion as written
    struct spec sp = {0, 0, 0};
    fmt++;
    for(; *fmt == '-' || *fmt == '0'; fmt++){
      if(*fmt == '-')
        sp.left = 1;
      else
        sp.zero = 1;
    }
    while(*fmt >= '0' && *fmt <= '9')
      sp.width = sp.width * 10 + (*fmt++ - '0');
    int longs = 0;
    while(*fmt == 'l'){
      longs++;
      fmt++;
    }

    switch(*fmt){
    case 'd':
    case 'i': {
      long v = longs ? va_arg(ap, long) : va_arg(ap, int);
      // Negate as unsigned: -v overflows for the most negative value.
      if(v < 0)
        putnum(o, &sp, -(uint64)v, 10, 1, 0);
      else
        putnum(o, &sp, v, 10, 0, 0);
      break;
    }
    case 'u':
      putnum(o, &sp, longs ? va_arg(ap, uint64) : va_arg(ap, uint), 10, 0, 0);
      break;
    case 'x':
      putnum(o, &sp, longs ? va_arg(ap, uint64) : va_arg(ap, uint), 16, 0, 0);
      break;
    case 'p': {
      // Always all 16 hex digits: addresses line up in columns.
      struct spec full = {sp.left, 1, 18};
      putnum(o, &full, (uint64)va_arg(ap, void*), 16, 0, 1);
      break;
    }
    case 's': {
      const char *s = va_arg(ap, const char*);
      if(s == 0)
        s = "(null)";
      sp.zero = 0;
      putfield(o, &sp, s, strlen(s), 0);
      break;
    }
    case 'c': {
      char c = va_arg(ap, int);
      sp.zero = 0;
      putfield(o, &sp, &c, 1, 0);
      break;
    }
    case '%':
      putc(o, '%');
      break;
    case 0:
      // A lone '%' at the end of the format: print it and stop.
      for(; *start; start++)
        putc(o, *start);
      return;
    default:
      for(; start <= fmt; start++)
        putc(o, *start);
      break;
    }
  }
}

void
fprintf(int fd, const char *fmt, ...)
{
  struct out o;
  o.fd = fd;
  o.n = 0;
  va_list ap;
  va_start(ap, fmt);
  vformat(&o, fmt, ap);
  va_end(ap);
  flush(&o);
}

void
printf(const char *fmt, ...)
{
  struct out o;
  o.fd = 1;
  o.n = 0;
  va_list ap;
  va_start(ap, fmt);
  vformat(&o, fmt, ap);
  va_end(ap);
  flush(&o);
}
