// proc.h: processes and harts as the kernel sees them.
//
// struct trapframe is shared with trampoline.S, which saves and restores
// it by byte offset; the offsets are written next to each field and must
// stay in step with the assembly. struct context is shared with swtch.S in
// the same way.
#ifndef PROC_H
#define PROC_H
#include "types.h"
#include "param.h"
#include "riscv.h"
#include "spinlock.h"

// The registers swtch() saves when one kernel thread hands the hart to
// another. Only the callee-saved ones: swtch is an ordinary function call,
// so the caller already saved everything else on its own stack.
struct context {
  uint64 ra;     // where swtch returns to in the new thread
  uint64 sp;
  uint64 s0;
  uint64 s1;
  uint64 s2;
  uint64 s3;
  uint64 s4;
  uint64 s5;
  uint64 s6;
  uint64 s7;
  uint64 s8;
  uint64 s9;
  uint64 s10;
  uint64 s11;
};

// Per-hart state. A hart finds its own entry through cpuid() (the hart id
// in tp), and must not migrate meanwhile, so callers keep interrupts off.
struct cpu {
  struct proc *proc;        // the process running here, or 0
  struct context context;   // the scheduler's registers; swtch() here to enter it
  int noff;                 // depth of push_off() nesting
  int intena;               // were interrupts on before the first push_off()?
  int idle;                 // about to wfi, or in it: wake it with an IPI (proc.c)
};

extern struct cpu cpus[NCPU];

// Everything a trap from user mode must save, in one page per process that
// is mapped at TRAPFRAME in the user page table (so the trampoline can reach
// it at a fixed address) and lives at p->trapframe in the kernel.
//
// Layout: user register xN is at byte offset 8*N, so the assembly reads
// like the register numbers. x0 is always zero and needs no slot; the user
// pc (sepc) takes that slot instead. The kernel's values, which the
// trampoline loads on the way in, follow from offset 256.
struct trapframe {
  /*   0 */ uint64 epc;           // user pc: where to resume (sepc)
  /*   8 */ uint64 ra;            // x1
  /*  16 */ uint64 sp;            // x2
  /*  24 */ uint64 gp;            // x3
  /*  32 */ uint64 tp;            // x4
  /*  40 */ uint64 t0;            // x5
  /*  48 */ uint64 t1;            // x6
  /*  56 */ uint64 t2;            // x7
  /*  64 */ uint64 s0;            // x8
  /*  72 */ uint64 s1;            // x9
  /*  80 */ uint64 a0;            // x10
  /*  88 */ uint64 a1;            // x11
  /*  96 */ uint64 a2;            // x12
  /* 104 */ uint64 a3;            // x13
  /* 112 */ uint64 a4;            // x14
  /* 120 */ uint64 a5;            // x15
  /* 128 */ uint64 a6;            // x16
  /* 136 */ uint64 a7;            // x17
  /* 144 */ uint64 s2;            // x18
  /* 152 */ uint64 s3;            // x19
  /* 160 */ uint64 s4;            // x20
  /* 168 */ uint64 s5;            // x21
  /* 176 */ uint64 s6;            // x22
  /* 184 */ uint64 s7;            // x23
  /* 192 */ uint64 s8;            // x24
  /* 200 */ uint64 s9;            // x25
  /* 208 */ uint64 s10;           // x26
  /* 216 */ uint64 s11;           // x27
  /* 224 */ uint64 t3;            // x28
  /* 232 */ uint64 t4;            // x29
  /* 240 */ uint64 t5;            // x30
  /* 248 */ uint64 t6;            // x31
  /* 256 */ uint64 kernel_satp;   // kernel page table to switch to, or 0:
                                 //   the user table maps the kernel (kshared)
  /* 264 */ uint64 kernel_sp;     // top of this process's kernel stack
  /* 272 */ uint64 kernel_trap;   // address of usertrap()
  /* 280 */ uint64 kernel_hartid; // the kernel's tp: which hart we are on
};

enum procstate { UNUSED, USED, SLEEPING, RUNNABLE, RUNNING, ZOMBIE };

// One process. The comment on each group says which lock protects it.
struct proc {
  struct spinlock lock;

  // p->lock must be held to use these:
  enum procstate state;
  void *chan;                  // what it sleeps on, if SLEEPING
  int killed;                  // someone asked it to die
  int xstate;                  // exit status for the parent's wait()
  int pid;

  // wait_lock (proc.c) must be held to use this:
  struct proc *parent;

  // Private to the process itself (or to whoever holds it in USED/ZOMBIE
  // state while building or tearing it down), so no lock:
  uint64 kstack;               // virtual address of its kernel stack
  uint64 sz;                   // bytes of user memory, from address 0
  pagetable_t pagetable;       // user page table
  int kshared;                 // pagetable maps the kernel too (memory below
                               //   USERTOP): traps do not switch tables
  int tlbstale;                // kshared: pagetable changed since the hart
                               //   last fenced
  struct trapframe *trapframe; // the page mapped at TRAPFRAME
  struct context context;      // swtch() here to run its kernel thread
  struct file *ofile[NOFILE];  // open files, indexed by fd
  struct inode *cwd;           // current directory
  char name[16];               // for procdump (^P)
};

#endif
