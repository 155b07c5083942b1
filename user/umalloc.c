// umalloc.c: malloc() and free() on top of sbrk().
//
// Memory is handed out in blocks; each block starts with a 16-byte header
// holding its size, counted in 16-byte units (header included), so every
// address malloc returns is 16-byte aligned.
//
// Free blocks sit on one circular list sorted by address. Keeping the list
// sorted is what lets free() merge a block with the free neighbours right
// before and after it in memory, so freed memory does not stay chopped into
// small pieces. The list starts at `base`, a zero-size header that is never
// handed out, so the list is never empty.
//
// malloc searches from where the previous search stopped (next fit) for a
// block that is large enough, and cuts the request off the block's end, so
// the remaining free part stays where it is in the list. When no block fits,
// it asks the kernel for more memory with sbrk, at least 64 KB at a time to
// keep system calls rare, and frees that into the list.
//
// Memory is never returned to the kernel. Run a program that uses malloc
// (sh, usertests) to see it work; usertests' "malloc" test exercises it.
#include "kernel/types.h"
#include "user/user.h"

struct header {
  struct header *next;   // next free block by address (free blocks only)
  uint64 units;          // size of this block in headers, header included
};

#define UNIT        sizeof(struct header)
#define MIN_GROW    4096   // units: 64 KB

static struct header base;     // the list anchor, size 0
static struct header *rover;   // where the next search starts; 0 before first use

void
free(void *ptr)
{
  if(ptr == 0)
    return;
  struct header *b = (struct header*)ptr - 1;

  // Find p, the free block just below b in memory. Either b lies between p
  // and p->next, or p is the highest free block (the list wraps at p) and b
  // is above all free blocks or below all of them.
  struct header *p = rover;
  for(;;){
    if(b == p || b == p->next){
      // Already on the free list: linking it in again would make a loop.
      fprintf(2, "free: %p freed twice\n", ptr);
      return;
    }
    if(p < b && b < p->next)
      break;
    if(p >= p->next && (b > p || b < p->next))
      break;
    p = p->next;
  }

  // Join with the block above if they touch, else just link to it.
  if(b + b->units == p->next){
    b->units += p->next->units;
    b->next = p->next->next;
  } else {
    b->next = p->next;
  }
  // Join with the block below if they touch, else link p to b.
  if(p + p->units == b){
    p->units += b->units;
    p->next = b->next;
  } else {
    p->next = b;
  }
  rover = p;
}

// Get at least `units` more units from the kernel and put them on the free
// list. Returns 0 if the kernel has no more memory.
static int
grow(uint64 units)
{
  if(units < MIN_GROW)
    units = MIN_GROW;
  if(units * UNIT > 0x7fffffff)   // sbrk takes an int
    return 0;
  char *top = sbrk(0);
  // Keep headers aligned even if someone else called sbrk with an odd size.
  int skew = (uint64)top % UNIT ? UNIT - (uint64)top % UNIT : 0;
  char *mem = sbrk(units * UNIT + skew);
  if(mem == (char*)-1)
    return 0;
  struct header *h = (struct header*)(mem + skew);
  h->units = units;
  free(h + 1);
  return 1;
}

void*
malloc(uint nbytes)
{
  uint64 units = ((uint64)nbytes + UNIT - 1) / UNIT + 1;

  if(rover == 0){
    base.next = &base;
    base.units = 0;
    rover = &base;
  }

  struct header *prev = rover;
  for(struct header *p = prev->next; ; prev = p, p = p->next){
    if(p->units >= units){
      if(p->units == units){
        prev->next = p->next;       // exact fit: unlink the whole block
      } else {
        p->units -= units;          // cut the tail off
        p += p->units;
        p->units = units;
      }
      rover = prev;
      return p + 1;
    }
    if(p == rover){
      // Went all the way round: nothing fits. grow() frees new memory into
      // the list and points rover at it, so keep searching from there.
      if(!grow(units))
        return 0;
      p = rover;
    }
  }
}
