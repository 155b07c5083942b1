// ulib.c: the entry point of every user program, the small string and
// memory helpers a C program expects (there is no libc here), and the two
// flavours of sbrk over the one system call.
//
// Linked into every program by the Makefile (ULIB). The kernel's exec starts
// a program at `start` (user.ld says ENTRY(start)) with argc in a0 and argv
// in a1, the registers of the first two C arguments, so start can be a plain
// C function.
//
// The memory helpers are compiled without gcc's loop-to-library-call
// transformation: otherwise gcc may notice that the loop in memset "is" a
// memset and compile it into a call to memset, which would call itself.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/vm.h"
#include "user/user.h"

#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

int main(int argc, char **argv);

// Returning from main means exit(main's value); that is why `start`, not
// main, is the entry point. Its own section lets user.ld put it first, at
// address 0, where it is easy to find in a disassembly (user/NAME.asm).
__attribute__((section(".text.start")))
void
start(int argc, char **argv)
{
  exit(main(argc, argv));
}

char*
strcpy(char *dst, const char *src)
{
  char *d = dst;
  while((*d++ = *src++) != 0)
    ;
  return dst;
}

int
strcmp(const char *a, const char *b)
{
  // Compare as unsigned chars, so that bytes >= 0x80 sort after ASCII.
  while(*a != 0 && *a == *b){
    a++;
    b++;
  }
  return (uchar)*a - (uchar)*b;
}

uint
strlen(const char *s)
{
  uint n = 0;
  while(s[n] != 0)
    n++;
  return n;
}

char*
strchr(const char *s, char c)
{
  for(; *s != 0; s++)
    if(*s == c)
      return (char*)s;
  return 0;
}

NO_LIBCALLS void*
memset(void *dst, int c, uint n)
{
  uchar *d = dst;
  for(uint i = 0; i < n; i++)
    d[i] = (uchar)c;
  return dst;
}

// Copy n bytes between possibly overlapping areas: when the destination
// starts inside the source, copy from the end backwards so that no source
// byte is overwritten before it has been copied.
NO_LIBCALLS void*
memmove(void *dst, const void *src, int n)
{
  uchar *d = dst;
  const uchar *s = src;
  if(n <= 0 || d == s)
    return dst;
  if(s < d && d < s + n){
    while(n-- > 0)
      d[n] = s[n];
  } else {
    for(int i = 0; i < n; i++)
      d[i] = s[i];
  }
  return dst;
}

// gcc may call memcpy for structure copies, so it must exist; memmove is
// always a correct memcpy.
void*
memcpy(void *dst, const void *src, uint n)
{
  return memmove(dst, src, n);
}

int
memcmp(const void *a, const void *b, uint n)
{
  const uchar *p = a, *q = b;
  for(uint i = 0; i < n; i++)
    if(p[i] != q[i])
      return p[i] - q[i];
  return 0;
}

// Read one line from standard input, keeping the newline, reading one byte
// at a time so that nothing after the line is consumed (another program may
// read the rest of the input). Stops after max-1 bytes. At end of input it
// returns an empty string, which is how callers detect EOF.
char*
gets(char *buf, int max)
{
  int i = 0;
  while(i + 1 < max){
    char c;
    if(read(0, &c, 1) < 1)
      break;
    buf[i++] = c;
    if(c == '\n' || c == '\r')
      break;
  }
  buf[i] = 0;
  return buf;
}

int
stat(const char *path, struct stat *st)
{
  int fd = open(path, O_RDONLY);
  if(fd < 0)
    return -1;
  int r = fstat(fd, st);
  close(fd);
  return r;
}

// Newer xv6 versions call sleep() pause(); programs written for them
// compile here too.
int
pause(int ticks)
{
  return sleep(ticks);
}

// The two kinds of sbrk (kernel/vm.h). Both are the one system call, stub
// sys_sbrk, with the mode passed explicitly. sbrk(n) allocates the new
// pages now and fails (SBRK_ERROR) if memory runs out. sbrklazy(n) only
// reserves the addresses; each page gets its zeroed memory when the
// program first touches it, so a program can reserve far more than it
// will use. Touching a page when no memory is left kills the program, as
// any bad access does. Shrinking (n < 0) frees the pages with either.
char*
sbrk(int n)
{
  return sys_sbrk(n, SBRK_EAGER);
}

char*
sbrklazy(int n)
{
  return sys_sbrk(n, SBRK_LAZY);
}

// A dotted IPv4 address to the number the network calls take:
// "10.0.2.2" -> 0x0a000202; ~0 (all ones) if it is not four numbers 0..255.
uint
parse_ip(const char *s)
{
  uint ip = 0;

  for(int part = 0; part < 4; part++){
    if(*s < '0' || *s > '9')
      return ~0u;
    uint n = 0;
    while(*s >= '0' && *s <= '9' && n <= 255)
      n = n * 10 + (*s++ - '0');
    if(n > 255 || (part < 3 && *s++ != '.'))
      return ~0u;
    ip = (ip << 8) | n;
  }
  return *s == 0 ? ip : ~0u;
}

// Decimal string to int: optional spaces, optional '-', digits. Stops at the
// first non-digit; no overflow checking.
int
atoi(const char *s)
{
  int neg = 0, n = 0;
  while(*s == ' ' || *s == '\t')
    s++;
  if(*s == '-'){
    neg = 1;
    s++;
  }
  while(*s >= '0' && *s <= '9')
    n = n * 10 + (*s++ - '0');
  return neg ? -n : n;
}
