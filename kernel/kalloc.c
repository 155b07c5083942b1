// kalloc.c: the physical page allocator. It hands out whole 4096-byte pages
// for user memory, page tables, kernel stacks and pipe buffers.
//
// The free pages are RAM from the end of the kernel image (linker symbol
// `end`, see kernel.ld) up to phys_top (end of RAM, which fdt_parse() read
// from the device tree). Each free page stores the link to the next free
// page in its own first bytes, so the free list needs no memory of its own.
//
// kinit frees RAM from the top down, so at first kalloc hands pages out in
// ascending address order: a process growing on a fresh system gets pages
// that are physically contiguous too, which a direct read (bio.c
// bio_read_direct) gives the device as one DMA segment instead of one per
// page. Nothing depends on it; later frees mix the order up.
//
// Freed pages are filled with a junk byte: code that keeps using a page
// after freeing it then reads garbage and fails quickly instead of
// seeming to work.
//
// See it run: `make qemu`, then `usertests -q`; its memory tests allocate
// every page there is and check the count comes back after each test.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "spinlock.h"
#include "defs.h"

extern char end[];   // first byte after the kernel's bss (kernel.ld)

#define JUNK_FREED 0x01

struct freepage {
  struct freepage *next;
};

static struct {
  struct spinlock lock;
  struct freepage *head;
} kmem;

void
kinit(void)
{
  initlock(&kmem.lock, "kmem");
  for(uint64 pa = PGROUNDDOWN(phys_top) - PGSIZE; pa >= PGROUNDUP((uint64)end); pa -= PGSIZE)
    kfree((void *)pa);
}

// Give back a page that kalloc() returned (or, during kinit, a page of
// free RAM). Anything else means the kernel's bookkeeping is broken.
void
kfree(void *pa)
{
  uint64 a = (uint64)pa;

  if(a % PGSIZE != 0 || a < (uint64)end || a >= phys_top)
    panic("kfree: not a page from the allocator");

  memset(pa, JUNK_FREED, PGSIZE);

  struct freepage *fp = pa;
  acquire(&kmem.lock);
  fp->next = kmem.head;
  kmem.head = fp;
  release(&kmem.lock);
}

// One free page, or 0 when memory is exhausted. Callers must handle 0:
// running out of memory is a normal event (sbrk, fork) not a kernel bug.
void *
kalloc(void)
{
  struct freepage *fp;

  acquire(&kmem.lock);
  fp = kmem.head;
  if(fp)
    kmem.head = fp->next;
  release(&kmem.lock);
  return fp;
}
