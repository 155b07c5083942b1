// exec.c: replace the calling process's memory with a program read from
// an ELF file, and start it with arguments.
//
// Follows the ELF-64 format (see elf.h) and the RISC-V psABI's
// conventions for the stack (16-byte aligned sp).
//
// exec() builds the new address space in a fresh page table and only
// switches to it once nothing can fail any more; until then the old
// program is untouched, so a failed exec() returns -1 to a caller that is
// still intact.
//
// The new user address space, from address 0 up:
//
//   PT_LOAD segments     text R+X (a store there faults), data/bss R+W
//   guard page           mapped without PTE_U: running off the stack faults
//   stack                USERSTACK pages; sp starts at the top, below the
//                        argument strings and the argv[] array
//   (heap)               grown later by sbrk(), up to TRAPFRAME (see USERTOP)
//
// See it run: every command typed in the shell is exec()ed; `usertests
// exectest` and `usertests bigargtest` check the argument handling.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "spinlock.h"
#include "proc.h"
#include "defs.h"
#include "elf.h"

// Page permissions for a segment. Everything loaded is readable (RISC-V
// forbids writable-but-unreadable pages, and a page with none of R/W/X
// would not even be a leaf); write and execute come from the file.
static int
flags2perm(uint32 flags)
{
  int perm = 0;

  if(flags & PF_X)
    perm |= PTE_X;
  if(flags & PF_W)
    perm |= PTE_W;
  return perm;
}

// Is this the header of an executable we can run?
static int
elf_ok(struct elfhdr *elf)
{
  return elf->ident[0] == ELFMAG0 && elf->ident[1] == ELFMAG1 &&
         elf->ident[2] == ELFMAG2 && elf->ident[3] == ELFMAG3 &&
         elf->ident[EI_CLASS] == ELFCLASS64 &&
         elf->ident[EI_DATA] == ELFDATA2LSB &&
         elf->type == ET_EXEC &&
         elf->machine == EM_RISCV &&
         elf->phentsize == sizeof(struct proghdr);
}

// Read n bytes at file offset off into user address va of pagetable,
// whose pages must already be mapped. Returns 0 or -1.
static int
loadseg(pagetable_t pagetable, uint64 va, struct inode *ip, uint off, uint n)
{
  while(n > 0){
    uint64 va0 = PGROUNDDOWN(va);
    uint64 pa = walkaddr(pagetable, va0);
    if(pa == 0)
      panic("loadseg: page not mapped");
    uint m = PGSIZE - (va - va0);
    if(m > n)
      m = n;
    // Write through the kernel's identity map of the physical page: the
    // page may be read-only for the user, and it is not in our page table.
    if(readi(ip, 0, pa + (va - va0), off, m) != m)
      return -1;
    va += m;
    off += m;
    n -= m;
  }
  return 0;
}

// Map and load one PT_LOAD segment into pagetable, whose memory so far is
// *sz bytes; *sz grows to the segment's end. Returns 0 or -1.
static int
loadsegment(pagetable_t pagetable, uint64 *sz, struct inode *ip, struct proghdr *ph)
{
  // The file may be hostile: check every size before using it.
  if(ph->memsz < ph->filesz)
    return -1;
  if(ph->vaddr + ph->memsz < ph->vaddr)                  // wraps around
    return -1;
  if(ph->vaddr + ph->memsz > USERTOP)   // the new table maps the kernel there
    return -1;
  if(ph->off + ph->filesz < ph->off || ph->off + ph->filesz > 0xffffffffUL)
    return -1;                                           // readi offsets are uint
  // Segments must come in increasing address order and not overlap
  // (the gABI requires the order).
  if(ph->vaddr < *sz)
    return -1;
  if(ph->memsz == 0)
    return 0;

  int perm = flags2perm(ph->flags);

  // A segment may start inside the last page of the previous one (when
  // a linker packs them). That page then needs both sets of permissions.
  if(PGROUNDDOWN(ph->vaddr) < PGROUNDUP(*sz)){
    pte_t *pte = walk(pagetable, PGROUNDDOWN(ph->vaddr), 0);
    if(pte == 0 || (*pte & PTE_V) == 0)
      panic("loadsegment: shared page not mapped");
    *pte |= perm;
  }

  uint64 newsz = uvmalloc(pagetable, *sz, ph->vaddr + ph->memsz, perm);
  if(newsz == 0)
    return -1;
  *sz = newsz;

  // Bytes past filesz stay zero: uvmalloc() zeroed the pages.
  return loadseg(pagetable, ph->vaddr, ip, ph->off, ph->filesz);
}

// Set up the user stack at the top of pagetable's sz bytes (which end in
// the stack pages): copy the argument strings, then the argv[] array of
// pointers to them. Returns the new sp, or 0 if they do not fit.
// ustack[] receives the strings' user addresses.
static uint64
pushargs(pagetable_t pagetable, uint64 sz, char **argv, uint64 *argcp)
{
  uint64 ustack[MAXARG + 1];
  uint64 sp = sz;
  uint64 stackbase = sp - USERSTACK * PGSIZE;
  uint64 argc;

  for(argc = 0; argv[argc]; argc++){
    if(argc >= MAXARG)
      return 0;
    uint64 len = strlen(argv[argc]) + 1;
    if(sp - stackbase < len)
      return 0;
    sp -= len;
    sp -= sp % 16;      // the psABI wants sp 16-byte aligned
    if(sp < stackbase)
      return 0;
    if(copyout(pagetable, sp, argv[argc], len) < 0)
      return 0;
    ustack[argc] = sp;
  }
  ustack[argc] = 0;     // C requires argv[argc] == 0

  uint64 arraysize = (argc + 1) * sizeof(uint64);
  if(sp - stackbase < arraysize)
    return 0;
  sp -= arraysize;
  sp -= sp % 16;
  if(sp < stackbase)
    return 0;
  if(copyout(pagetable, sp, (char *)ustack, arraysize) < 0)
    return 0;

  *argcp = argc;
  return sp;
}

// Run the program at path with arguments argv (a 0-terminated array of
// kernel strings). On success the process is running the new program and
// the return value (argc) lands in a0, main's first argument; on failure
// it returns -1 and the old program continues.
int
exec(char *path, char **argv)
{
  struct proc *p = myproc();
  struct elfhdr elf;
  struct proghdr ph;
  pagetable_t pagetable = 0;
  uint64 sz = 0;
  struct inode *ip;

  begin_op();
  if((ip = namei(path)) == 0){
    end_op();
    return -1;
  }
  ilock(ip);

  if(readi(ip, 0, (uint64)&elf, 0, sizeof(elf)) != sizeof(elf))
    goto bad;
  if(!elf_ok(&elf))
    goto bad;
  // readi() takes 32-bit offsets; checking phoff alone first keeps the
  // sum below from wrapping around.
  if(elf.phoff > 0xffffffffUL ||
     elf.phoff + (uint64)elf.phnum * sizeof(ph) > 0xffffffffUL)
    goto bad;

  if((pagetable = proc_pagetable(p)) == 0)
    goto bad;

  for(int i = 0; i < elf.phnum; i++){
    uint off = elf.phoff + i * sizeof(ph);
    if(readi(ip, 0, (uint64)&ph, off, sizeof(ph)) != sizeof(ph))
      goto bad;
    if(ph.type != PT_LOAD)
      continue;
    if(loadsegment(pagetable, &sz, ip, &ph) < 0)
      goto bad;
  }
  iunlockput(ip);
  end_op();
  ip = 0;

  // The guard page and the stack, on fresh pages above the program. Like
  // the segments, they must stay below USERTOP: the new table maps the
  // kernel there.
  sz = PGROUNDUP(sz);
  if(sz + (1 + USERSTACK) * PGSIZE > USERTOP)
    goto bad;
  uint64 newsz = uvmalloc(pagetable, sz, sz + (1 + USERSTACK) * PGSIZE, PTE_W);
  if(newsz == 0)
    goto bad;
  uvmclear(pagetable, sz);    // the guard page
  sz = newsz;

  uint64 argc;
  uint64 sp = pushargs(pagetable, sz, argv, &argc);
  if(sp == 0)
    goto bad;

  // Nothing can fail any more: commit to the new program.

  // main(argc, argv): argc is exec's return value (a0), argv goes in a1.
  p->trapframe->a1 = sp;

  // The process is now called by the last element of the path.
  char *last = path;
  for(char *s = path; *s; s++){
    if(*s == '/')
      last = s + 1;
  }
  safestrcpy(p->name, last, sizeof(p->name));

  pagetable_t oldpagetable = p->pagetable;
  uint64 oldsz = p->sz;
  p->pagetable = pagetable;
  p->sz = sz;
  p->trapframe->epc = elf.entry;
  p->trapframe->sp = sp;
  p->kshared = 1;            // proc_pagetable shared the kernel's regions
  p->tlbstale = 0;
  vmswitch(pagetable);       // off the old table before it is freed
  proc_freepagetable(oldpagetable, oldsz);

  return argc;

bad:
  if(pagetable)
    proc_freepagetable(pagetable, sz);
  if(ip){
    iunlockput(ip);
    end_op();
  }
  return -1;
}
