// string.c: the few C library string and memory functions the kernel uses.
//
// There is no C library in the kernel, but GCC may still emit calls to
// memset, memcpy and memmove on its own (to zero a struct or copy one), so
// those must exist under exactly these names. Semantics follow ISO C11
// section 7.24, except that sizes are `uint` (kernel/defs.h).
//
// See it run: everything uses these; kalloc() fills every freed page with
// memset().
#include "types.h"
#include "defs.h"

// Is every one of these addresses a multiple of 8? Then we may move whole
// 64-bit words, which is 8 times fewer loop trips for page-sized work.
static int
aligned8(const void *a, const void *b, uint n)
{
  return (((uint64)a | (uint64)b | n) & 7) == 0;
}

void *
memset(void *dst, int c, uint n)
{
  uchar *d = dst;

  if(aligned8(dst, 0, n)){
    uint64 word = (uchar)c;
    word |= word << 8;
    word |= word << 16;
    word |= word << 32;
    uint64 *w = dst;
    for(uint i = 0; i < n / 8; i++)
      w[i] = word;
    return dst;
  }
  for(uint i = 0; i < n; i++)
    d[i] = c;
  return dst;
}

int
memcmp(const void *a, const void *b, uint n)
{
  const uchar *s1 = a, *s2 = b;

  for(uint i = 0; i < n; i++){
    if(s1[i] != s2[i])
      return s1[i] - s2[i];
  }
  return 0;
}

// Copy n bytes; the two ranges may overlap.
void *
memmove(void *dst, const void *src, uint n)
{
  uchar *d = dst;
  const uchar *s = src;

  if(n == 0 || d == s)
    return dst;
  if(d < s || d >= s + n){
    // Copying forwards is safe: we never overwrite a source byte we have
    // yet to read.
    if(aligned8(d, s, n)){
      uint64 *dw = dst;
      const uint64 *sw = src;
      for(uint i = 0; i < n / 8; i++)
        dw[i] = sw[i];
    } else {
      for(uint i = 0; i < n; i++)
        d[i] = s[i];
    }
  } else {
    // dst starts inside src: copy from the end backwards for the same reason.
    for(uint i = n; i > 0; i--)
      d[i - 1] = s[i - 1];
  }
  return dst;
}

// C says the ranges of memcpy must not overlap; memmove handles both cases,
// so one implementation serves.
void *
memcpy(void *dst, const void *src, uint n)
{
  return memmove(dst, src, n);
}

int
strncmp(const char *a, const char *b, uint n)
{
  for(; n > 0; n--, a++, b++){
    if(*a != *b)
      return (uchar)*a - (uchar)*b;
    if(*a == 0)
      return 0;
  }
  return 0;
}

// C's strncpy: copies at most n bytes and pads with zeros, but does NOT
// terminate dst when src is n bytes or longer (directory entries rely on
// exactly this).
char *
strncpy(char *dst, const char *src, int n)
{
  int i = 0;

  for(; i < n && src[i]; i++)
    dst[i] = src[i];
  for(; i < n; i++)
    dst[i] = 0;
  return dst;
}

// Like strncpy, but always zero-terminates dst (within n bytes), and does
// not pad. Use it whenever the result must be a proper C string.
char *
safestrcpy(char *dst, const char *src, int n)
{
  int i;

  if(n <= 0)
    return dst;
  for(i = 0; i < n - 1 && src[i]; i++)
    dst[i] = src[i];
  dst[i] = 0;
  return dst;
}

int
strlen(const char *s)
{
  int n = 0;

  while(s[n])
    n++;
  return n;
}
