// vm.c: page tables. One kernel page table shared by all harts, and one
// page table per user process.
//
// Follows the RISC-V privileged spec v1.12, section 4.3 (Sv39: three
// levels of 512-entry tables, 4 KB pages, 39-bit virtual addresses) and
// 4.1.11 (satp).
//
// The kernel table maps RAM at its physical addresses (virtual ==
// physical), so kernel code can use a physical address from kalloc() as a
// pointer; device registers at KDEV(pa); the per-process kernel stacks;
// and the trampoline page (see the map in memlayout.h).
//
// A user table maps the process's memory from address 0 up to p->sz, and
// the trapframe and trampoline pages at the very top. While p->sz stays
// below USERTOP (2 GB), which is every process in practice, it also maps
// the kernel's own regions, shared with the kernel table (uvmkshare), which
// user code cannot touch (PTE_U clear). Then a trap from user mode runs the
// kernel on the user's table, and nothing switches page tables except the
// scheduler, when a hart changes process, and exec. Whoever changes the
// table of the running process marks it (p->tlbstale) so that the return
// to user mode fences the hart's cached translations (trap.c). A process
// that grows past USERTOP (lazily, say: the xv6 ABI lets user memory reach
// TRAPFRAME) gives the kernel's regions back (proc.c proc_unshare) and from
// then on traps the way xv6's always do: the trampoline switches to the
// kernel table and back.
//
// Below p->sz a page may also be missing: sbrklazy() (see
// vm.h) only raises p->sz, and a page gets its memory when it is first
// used, from vmfault(): on a user page fault (trap.c), or when a system
// call copies data into it (copyout). A system call that reads such an
// untouched page (copyin, copyinstr) gets zeros, which is what the page
// would hold, without allocating it. Every loop over a user range therefore
// skips missing pages, and skips a missing page-table page in one step
// (walkhole), because a lazy process may own up to 256 GB of addresses.
//
// The kernel never dereferences user addresses directly: copyin()/copyout()
// translate them with walk() and check the PTE_U bit and the permissions,
// so a bad pointer from a user program becomes -1 instead of a kernel fault.
//
// See it run: `make qemu-gdb`, then `info mem` in the QEMU monitor
// (Ctrl-a c) prints the current page table.
#include "param.h"
#include "types.h"
#include "memlayout.h"
#include "machine.h"
#include "riscv.h"
#include "spinlock.h"
#include "proc.h"
#include "defs.h"

pagetable_t kernel_pagetable;

extern char etext[];        // end of kernel text (kernel.ld; page aligned)
extern char trampoline[];   // trampoline.S, one page inside the text

// Map `want` bytes of a PCI window at KDEV, or as much of it as
// pci_map_len allows (none if it lies above DEVTOP).
static void
map_window(pagetable_t kpgtbl, uint64 cpu, uint64 size, uint64 want)
{
  uint64 len = pci_map_len(cpu, size, want);
  if(len)
    kvmmap(kpgtbl, KDEV(cpu), cpu, len, PTE_R | PTE_W);
}

// Build the kernel page table. Runs once on the boot hart, paging off.
static pagetable_t
kvmmake(void)
{
  pagetable_t kpgtbl = kalloc();
  if(kpgtbl == 0)
    panic("kvmmake: out of memory");
  memset(kpgtbl, 0, PGSIZE);

  // Device registers: the UART, the 8 virtio-mmio slots and the PLIC,
  // above the RAM slot (KDEV), since their physical addresses are user
  // addresses in every user table.
  kvmmap(kpgtbl, KDEV(UART0), UART0, PGSIZE, PTE_R | PTE_W);
  kvmmap(kpgtbl, KDEV(VIRTIO0), VIRTIO0, VIRTIO_NSLOT * VIRTIO_STRIDE, PTE_R | PTE_W);
  kvmmap(kpgtbl, KDEV(PLIC), PLIC, PLIC_SIZE, PTE_R | PTE_W);
  // The PCIe host bridge, if the device tree has one: bus 0's
  // configuration space and the first part of the I/O and 32-bit memory
  // windows, where kernel/glue/pci.c places the BARs.
  if(machine.has_pci){
    map_window(kpgtbl, machine.ecam_base, machine.ecam_size, PCI_ECAM_MAP);
    map_window(kpgtbl, machine.pci_io.cpu, machine.pci_io.size, PCI_IO_MAP);
    map_window(kpgtbl, machine.pci_mem32.cpu, machine.pci_mem32.size, PCI_MEM_MAP);
  }

  // Kernel code may be executed but not written; everything after it
  // (data, bss, and the free pages kalloc hands out) the other way round.
  // OpenSBI's memory below KERNLOAD stays unmapped.
  kvmmap(kpgtbl, KERNLOAD, KERNLOAD, (uint64)etext - KERNLOAD, PTE_R | PTE_X);
  kvmmap(kpgtbl, (uint64)etext, (uint64)etext, phys_top - (uint64)etext, PTE_R | PTE_W);

  // The trampoline at the top of the address space, at the same virtual
  // address as in every user table (which map it themselves: the top slot
  // also holds each process's own trapframe).
  kvmmap(kpgtbl, TRAMPOLINE, (uint64)trampoline, PGSIZE, PTE_R | PTE_X);

  proc_mapstacks(kpgtbl);
  return kpgtbl;
}

void
kvminit(void)
{
  kernel_pagetable = kvmmake();
}

// The top-level slots of the kernel's own regions (memlayout.h): RAM,
// device registers (two slots), kernel stacks. Each covers 1 GB.
static const uint64 kslots[] = { KERNBASE, DEVBASE, DEVBASE + (1L << 30), KSTACKS };
#define NKSLOTS (sizeof(kslots) / sizeof(kslots[0]))

// Put the kernel's mappings into user table pagetable: its top-level
// entries for the kernel's slots point at the kernel table's own
// second-level tables, so every kernel page is mapped there exactly as in
// the kernel table, with no copy to keep up to date (kvmmake maps them all
// at boot, before any process exists, and nothing is added later).
void
uvmkshare(pagetable_t pagetable)
{
  for(int i = 0; i < NKSLOTS; i++)
    pagetable[PX(2, kslots[i])] = kernel_pagetable[PX(2, kslots[i])];
}

// Take them out again, before the user table is freed (the tables they
// point to are the kernel's) or when the process grows past USERTOP
// (proc.c proc_unshare). An entry that is not the kernel's is the
// process's own and stays.
void
uvmkunshare(pagetable_t pagetable)
{
  for(int i = 0; i < NKSLOTS; i++)
    if(pagetable[PX(2, kslots[i])] == kernel_pagetable[PX(2, kslots[i])])
      pagetable[PX(2, kslots[i])] = 0;
}

// Make this hart translate through page table pt from now on: the
// scheduler does it when the hart changes process, exec when a process
// changes table. The fence before the write orders the stores that built
// a user table (ours, or another hart's, which p->lock ordered before our
// loads) before the walks that will read it, including the fetch of the
// next instruction; the kernel table has not changed since kvminithart
// fenced it, and under QEMU each fence costs a flush, so it goes without.
// The fence after drops what the hart cached from the table before (all
// our tables use ASID 0, so the hart cannot tell their entries apart).
// Privileged spec 4.2.1.
void
vmswitch(pagetable_t pt)
{
  if(pt != kernel_pagetable)
    sfence_vma();
  w_satp(MAKE_SATP(pt));
  sfence_vma();
}

// Turn paging on with the kernel table. Every hart calls this once.
void
kvminithart(void)
{
  // The page-table walker reads the tables with loads that are not
  // ordered against our earlier stores to them; this fence makes the
  // stores of kvmmake() visible to the walker before satp points at them.
  sfence_vma();
  w_satp(MAKE_SATP(kernel_pagetable));
  // Drop any translation cached from before.
  sfence_vma();
}

// Find the leaf PTE for virtual address va, creating the missing
// intermediate tables if `alloc` is set. Returns 0 if va is too big for
// Sv39, or if a table is missing (and alloc is 0 or memory is exhausted).
// The returned PTE may be invalid (V clear): the slot where a mapping
// would go.
pte_t *
walk(pagetable_t pagetable, uint64 va, int alloc)
{
  if(va >= MAXVA)
    return 0;

  for(int level = 2; level > 0; level--){
    pte_t *pte = &pagetable[PX(level, va)];
    if(*pte & PTE_V){
      if(*pte & (PTE_R | PTE_W | PTE_X))
        return 0;   // a superpage leaf; we never make these
      pagetable = (pagetable_t)PTE2PA(*pte);
    } else {
      if(!alloc)
        return 0;
      pagetable = kalloc();
      if(pagetable == 0)
        return 0;
      // A fresh table must be all invalid entries, not junk.
      memset(pagetable, 0, PGSIZE);
      *pte = PA2PTE(pagetable) | PTE_V;
    }
  }
  return &pagetable[PX(0, va)];
}

// Translate a USER virtual address to the physical address of its page,
// or 0 if it is not mapped for user access. Only for user addresses:
// kernel-only pages (the guard page, the trapframe) count as unmapped.
uint64
walkaddr(pagetable_t pagetable, uint64 va)
{
  pte_t *pte = walk(pagetable, va, 0);

  if(pte == 0 || (*pte & PTE_V) == 0 || (*pte & PTE_U) == 0)
    return 0;
  return PTE2PA(*pte);
}

// walk(pagetable, va, 0) for loops over long, mostly empty stretches of a
// user table. When the table that would hold va's leaf is missing, it
// returns 0 and sets *next to the end of the hole: the 2 MB a missing
// level-0 table would cover, or the 1 GB of a missing level-1 table. The
// caller continues there instead of asking about each of the 512 or
// 262144 pages in between. Otherwise it returns the leaf's slot (valid or
// not) and *next is the following page.
static pte_t *
walkhole(pagetable_t pagetable, uint64 va, uint64 *next)
{
  if(va >= MAXVA)
    panic("walkhole: address beyond Sv39");

  for(int level = 2; level > 0; level--){
    pte_t *pte = &pagetable[PX(level, va)];
    // A leaf this high would be a superpage; user tables never have them,
    // so like walk() we treat it as no table at all.
    if((*pte & PTE_V) == 0 || (*pte & (PTE_R | PTE_W | PTE_X)) != 0){
      uint64 span = 1UL << PXSHIFT(level);
      *next = (va & ~(span - 1)) + span;
      return 0;
    }
    pagetable = (pagetable_t)PTE2PA(*pte);
  }
  *next = PGROUNDDOWN(va) + PGSIZE;
  return &pagetable[PX(0, va)];
}

// Add a mapping to the kernel table at boot. Failing here means we cannot
// boot at all.
void
kvmmap(pagetable_t kpgtbl, uint64 va, uint64 pa, uint64 sz, int perm)
{
  if(mappages(kpgtbl, va, sz, pa, perm) != 0)
    panic("kvmmap: out of memory");
}

// Map the pages covering [va, va+size) to consecutive physical pages
// starting at pa, with permissions perm (PTE_V is added). va and pa must
// be page aligned. Returns 0, or -1 if a page-table page could not be
// allocated; the pages mapped before the failure stay mapped, and the
// caller undoes them (it knows which range it asked for).
int
mappages(pagetable_t pagetable, uint64 va, uint64 size, uint64 pa, int perm)
{
  if(va % PGSIZE != 0 || pa % PGSIZE != 0)
    panic("mappages: not page aligned");
  if(size == 0)
    panic("mappages: size 0");

  uint64 last = PGROUNDDOWN(va + size - 1);
  for(uint64 a = va; ; a += PGSIZE, pa += PGSIZE){
    pte_t *pte = walk(pagetable, a, 1);
    if(pte == 0)
      return -1;
    if(*pte & PTE_V)
      panic("mappages: page already mapped");
    *pte = PA2PTE(pa) | perm | PTE_V;
    if(a == last)
      break;
  }
  return 0;
}

// Remove the mappings of the npages pages from va (page aligned), and give
// the physical pages back to kalloc if do_free. Pages that have no mapping
// are skipped: below a lazily grown process's sz they are the pages it
// never touched.
void
uvmunmap(pagetable_t pagetable, uint64 va, uint64 npages, int do_free)
{
  if(va % PGSIZE != 0)
    panic("uvmunmap: not page aligned");

  uint64 end = va + npages * PGSIZE;
  uint64 next;
  for(uint64 a = va; a < end; a = next){
    pte_t *pte = walkhole(pagetable, a, &next);
    if(pte == 0 || (*pte & PTE_V) == 0)
      continue;
    if(PTE_FLAGS(*pte) == PTE_V)
      panic("uvmunmap: not a leaf");
    if(do_free)
      kfree((void *)PTE2PA(*pte));
    *pte = 0;
  }
}

// An empty user page table, or 0 if out of memory.
pagetable_t
uvmcreate(void)
{
  pagetable_t pagetable = kalloc();

  if(pagetable == 0)
    return 0;
  memset(pagetable, 0, PGSIZE);
  return pagetable;
}

// Grow a process's memory from oldsz to newsz bytes with zeroed pages,
// readable and user-accessible, plus xperm (PTE_W and/or PTE_X).
// Returns newsz, or 0 with nothing changed if memory ran out.
uint64
uvmalloc(pagetable_t pagetable, uint64 oldsz, uint64 newsz, int xperm)
{
  if(newsz < oldsz)
    return oldsz;

  // The page holding byte oldsz-1 is already mapped (or, grown lazily,
  // will be when it is first touched); start after it.
  for(uint64 a = PGROUNDUP(oldsz); a < newsz; a += PGSIZE){
    char *mem = kalloc();
    if(mem == 0){
      uvmdealloc(pagetable, a, oldsz);
      return 0;
    }
    // Zero it: the user must not see what the page held before
    // (another process's data).
    memset(mem, 0, PGSIZE);
    if(mappages(pagetable, a, PGSIZE, (uint64)mem, PTE_R | PTE_U | xperm) != 0){
      kfree(mem);
      uvmdealloc(pagetable, a, oldsz);
      return 0;
    }
  }
  return newsz;
}

// Shrink a process's memory from oldsz to newsz bytes, freeing the pages
// that no longer hold any byte below newsz. Returns the new size.
uint64
uvmdealloc(pagetable_t pagetable, uint64 oldsz, uint64 newsz)
{
  if(newsz >= oldsz)
    return oldsz;

  uint64 from = PGROUNDUP(newsz);
  uint64 to = PGROUNDUP(oldsz);
  if(from < to)
    uvmunmap(pagetable, from, (to - from) / PGSIZE, 1);
  return newsz;
}

// Free the page-table pages themselves, bottom up. All leaf mappings must
// already be gone; a leaf left behind would be a leaked user page.
static void
freewalk(pagetable_t pagetable)
{
  for(int i = 0; i < 512; i++){
    pte_t pte = pagetable[i];
    if((pte & PTE_V) == 0)
      continue;
    if(pte & (PTE_R | PTE_W | PTE_X))
      panic("freewalk: leaf still mapped");
    freewalk((pagetable_t)PTE2PA(pte));
    pagetable[i] = 0;
  }
  kfree(pagetable);
}

// Free a user page table and the sz bytes of memory it maps from 0.
// The trapframe and trampoline mappings must be removed first
// (proc_freepagetable does that).
void
uvmfree(pagetable_t pagetable, uint64 sz)
{
  if(sz > 0)
    uvmunmap(pagetable, 0, PGROUNDUP(sz) / PGSIZE, 1);
  freewalk(pagetable);
}

// Give the child (fork) its own copy of the parent's memory: every mapped
// page below sz is duplicated with the same permissions. A page the parent
// never touched (sbrklazy) stays unmapped in the child too: the child's sz
// is the same, so it gets the page, zeroed, when it touches it. Returns 0,
// or -1 with everything this call mapped undone.
int
uvmcopy(pagetable_t old, pagetable_t new, uint64 sz)
{
  uint64 a, next;

  for(a = 0; a < sz; a = next){
    pte_t *pte = walkhole(old, a, &next);
    if(pte == 0 || (*pte & PTE_V) == 0)
      continue;
    char *mem = kalloc();
    if(mem == 0)
      goto fail;
    memmove(mem, (char *)PTE2PA(*pte), PGSIZE);
    if(mappages(new, a, PGSIZE, (uint64)mem, PTE_FLAGS(*pte)) != 0){
      kfree(mem);
      goto fail;
    }
  }
  return 0;

fail:
  // What is mapped in `new` lies below a (a page boundary here).
  uvmunmap(new, 0, a / PGSIZE, 1);
  return -1;
}

// Make one page unusable from user mode (the stack guard page). It stays
// mapped, without PTE_U: a touch is then a fault on a mapped page, which
// vmfault() refuses, so the guard page is never taken for an untouched
// lazy page and filled in.
void
uvmclear(pagetable_t pagetable, uint64 va)
{
  pte_t *pte = walk(pagetable, va, 0);

  if(pte == 0 || (*pte & PTE_V) == 0)
    panic("uvmclear: not mapped");
  *pte &= ~PTE_U;
}

// Is va in a page the current process owns but has never touched: below
// its sz (so sbrklazy reserved it) and with no mapping? Only the current
// process's own table can be asked about, since its sz says which
// addresses it owns; for any other table (exec's new one) the answer is
// no, which keeps the old rule there: unmapped means bad address.
static int
untouched(pagetable_t pagetable, uint64 va)
{
  struct proc *p = myproc();

  if(p == 0 || p->pagetable != pagetable || va >= p->sz)
    return 0;
  pte_t *pte = walk(pagetable, va, 0);
  return pte == 0 || (*pte & PTE_V) == 0;
}

// Give an untouched page of the current process (see untouched()) its
// memory: a zeroed page, readable and writable by the user, not
// executable, exactly what an eager sbrk would have mapped there
// (growproc). Returns its physical address, or 0 if va is not in an
// untouched page (at or above sz, or mapped already: a fault there has
// another cause, such as writing to text or touching the stack guard
// page) or memory ran out. The caller decides what a 0 means: trap.c
// kills the process, copyout() returns -1.
//
// Nothing is flushed here. The user reaches the page only after the return
// to user mode, which fences first if the table changed (p->tlbstale, set
// here; trap.c usertrapret); that orders our store to the PTE before the
// page-table walker's later reads and drops anything the hart remembered
// about the entry while it was invalid (privileged spec 4.2.1). The kernel
// itself (copyout) uses the page through its physical address, not
// through this mapping.
uint64
vmfault(pagetable_t pagetable, uint64 va)
{
  if(!untouched(pagetable, va))
    return 0;
  char *mem = kalloc();
  if(mem == 0)
    return 0;
  // Zeroed: the process must see what a fresh sbrk page holds, not the
  // previous owner's data.
  memset(mem, 0, PGSIZE);
  if(mappages(pagetable, PGROUNDDOWN(va), PGSIZE, (uint64)mem,
              PTE_R | PTE_W | PTE_U) != 0){
    kfree(mem);
    return 0;
  }
  struct proc *p = myproc();
  if(p && p->pagetable == pagetable)
    p->tlbstale = 1;
  return (uint64)mem;
}

// The PTE of the user page holding va, if the user may access it with
// all the permissions in `need`; else 0.
static pte_t *
userpte(pagetable_t pagetable, uint64 va, int need)
{
  pte_t *pte = walk(pagetable, va, 0);

  if(pte == 0)
    return 0;
  if((*pte & (PTE_V | PTE_U | need)) != (PTE_V | PTE_U | need))
    return 0;
  return pte;
}

// Copy len bytes from kernel address src to user address dstva.
// Returns 0, or -1 if some byte of the destination is not a writable user
// page (the bytes before it may already have been copied). An untouched
// lazy page is given its memory first, as a user store would; if memory
// has run out, that is -1 too.
int
copyout(pagetable_t pagetable, uint64 dstva, char *src, uint64 len)
{
  while(len > 0){
    uint64 va0 = PGROUNDDOWN(dstva);
    pte_t *pte = userpte(pagetable, va0, PTE_W);
    if(pte == 0 && vmfault(pagetable, va0) != 0)
      pte = userpte(pagetable, va0, PTE_W);
    if(pte == 0)
      return -1;
    uint64 off = dstva - va0;
    uint64 n = PGSIZE - off;
    if(n > len)
      n = len;
    memmove((char *)PTE2PA(*pte) + off, src, n);
    len -= n;
    src += n;
    dstva = va0 + PGSIZE;
  }
  return 0;
}

// Copy len bytes from user address srcva to kernel address dst.
// Returns 0, or -1 if some byte is not in a readable user page. An
// untouched lazy page reads as the zeros it would hold; it is not
// allocated just to be read (write(fd, buf, n) from a fresh sbrklazy
// buffer costs no memory).
int
copyin(pagetable_t pagetable, char *dst, uint64 srcva, uint64 len)
{
  while(len > 0){
    uint64 va0 = PGROUNDDOWN(srcva);
    pte_t *pte = userpte(pagetable, va0, PTE_R);
    if(pte == 0 && !untouched(pagetable, va0))
      return -1;
    uint64 off = srcva - va0;
    uint64 n = PGSIZE - off;
    if(n > len)
      n = len;
    if(pte != 0)
      memmove(dst, (char *)PTE2PA(*pte) + off, n);
    else
      memset(dst, 0, n);
    len -= n;
    dst += n;
    srcva = va0 + PGSIZE;
  }
  return 0;
}

// Copy a zero-terminated string from user address srcva into dst, at most
// max bytes including the terminator. Returns 0, or -1 if the string runs
// into an unmapped page or is longer than max-1 characters. An untouched
// lazy page is all zeros, so the string ends at its first byte there.
int
copyinstr(pagetable_t pagetable, char *dst, uint64 srcva, uint64 max)
{
  while(max > 0){
    uint64 va0 = PGROUNDDOWN(srcva);
    pte_t *pte = userpte(pagetable, va0, PTE_R);
    if(pte == 0){
      if(!untouched(pagetable, va0))
        return -1;
      *dst = 0;
      return 0;
    }
    char *p = (char *)PTE2PA(*pte) + (srcva - va0);
    uint64 n = PGSIZE - (srcva - va0);
    if(n > max)
      n = max;
    for(uint64 i = 0; i < n; i++){
      dst[i] = p[i];
      if(p[i] == 0)
        return 0;
    }
    dst += n;
    max -= n;
    srcva = va0 + PGSIZE;
  }
  return -1;   // no terminator within max bytes
}
