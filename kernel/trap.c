// trap.c: what happens when the hart leaves what it was doing: system
// calls, faults, and interrupts, from user mode and from the kernel.
//
// Follows the RISC-V privileged spec v1.12, 4.1 (scause codes, sstatus
// SPP/SPIE, sie/sip; 4.1.8 scause and 4.1.9 stval for the page faults that
// lazily grown memory relies on, see lazyfault()) and the SBI spec v1.0
// chapter 6 (the timer: S-mode cannot program the timer hardware itself;
// it asks OpenSBI with sbi_set_timer(deadline), and the supervisor timer
// interrupt fires when the `time` CSR passes the deadline).
//
// From user mode: uservec (trampoline.S) saves the registers and calls
// usertrap(); usertrapret() and userret go back. From kernel mode:
// kernelvec (kernelvec.S) calls kerneltrap().
//
// See it run: `make qemu`, then in the shell run a program that
// dereferences a bad pointer: the kernel prints "usertrap(): unexpected
// scause ..." and kills just that process. `usertests lazysbrk` touches
// pages of a lazily grown heap: each first touch is a page fault that
// lazyfault() turns into a fresh page, silently.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "spinlock.h"
#include "proc.h"
#include "defs.h"

// The timer fires every TICK_INTERVAL units of the `time` CSR. QEMU virt's
// timebase is 10 MHz, so 1000000 units is 100 ms: 10 ticks per second.
#define TICK_INTERVAL 1000000

struct spinlock tickslock;
uint ticks;            // timer ticks since boot; sleep() and uptime() read it

// Only one hart counts ticks, or ticks would run NCPU times too fast. We
// pick the boot hart, the only one that runs trapinit(), so the count
// starts as soon as interrupts are on and does not assume hart 0 exists.
static int tick_hart;

extern char trampoline[], uservec[], userret[];

void kernelvec(void);   // kernelvec.S
void usertrap(void);

// Once, on the boot hart.
void
trapinit(void)
{
  initlock(&tickslock, "time");
  tick_hart = cpuid();
}

// On every hart: send traps to kernelvec while in the kernel, accept
// external, timer and software interrupts, and arm the first timer.
// Interrupts stay globally off (sstatus.SIE) until the scheduler turns
// them on.
void
trapinithart(void)
{
  w_stvec((uint64)kernelvec);
  w_sie(r_sie() | SIE_SEIE | SIE_STIE | SIE_SSIE);
  sbi_set_timer(r_time() + TICK_INTERVAL);
}

// A supervisor timer interrupt arrived.
void
clockintr(void)
{
  if(cpuid() == tick_hart){
    acquire(&tickslock);
    ticks++;
    wakeup(&ticks);     // processes in sleep(n) re-check their deadline
    release(&tickslock);
    nettick();          // the network stack's timers (ARP, ping and recv timeouts)
  }
  // A new deadline also clears the pending timer interrupt (SBI 6.1);
  // without it the interrupt would fire again as soon as we sret.
  sbi_set_timer(r_time() + TICK_INTERVAL);
}

// Handle an interrupt if scause names one we know.
// Returns 2 for the timer, 1 for another interrupt, 0 if it is not an
// interrupt we expect (an exception, or an unknown cause).
static int
devintr(uint64 scause)
{
  if(scause == SCAUSE_S_EXTERNAL){
    irq_dispatch();     // the PLIC says which device
    return 1;
  }
  if(scause == SCAUSE_S_TIMER){
    clockintr();
    return 2;
  }
  if(scause == SCAUSE_S_SOFTWARE){
    // Another hart's wakeup() woke us from the scheduler's wfi: there is a
    // process to run, which the scheduler will find. Acknowledge it by
    // clearing the pending bit, or it would fire again at once.
    w_sip(r_sip() & ~SIP_SSIP);
    return 1;
  }
  return 0;
}

// A load or store page fault in a page the process reserved with
// sbrklazy() but had not touched yet: vmfault() (vm.c) maps a zeroed page
// there, and returning to user mode runs the faulting instruction again
// (sepc still points at it; 4.1.7). Returns 1 if so. Any other page fault
// is a real error: an address at or above sz, the stack guard page (mapped
// without PTE_U, so not "untouched"), a store to read-only text, or no
// memory left for the page; those return 0 and kill as before.
//
// stval is the faulting virtual address for page faults (4.1.9). An
// instruction page fault (scause 12) is not served, as in xv6-riscv: lazy
// pages are mapped without PTE_X, like every eager sbrk page (growproc
// maps the heap PTE_W only), so serving it would fault again on the same
// fetch for ever; jumping into the lazy heap is the same error as jumping
// into the eager heap and kills the same way.
static int
lazyfault(struct proc *p, uint64 scause)
{
  if(scause != SCAUSE_LOAD_PAGE_FAULT && scause != SCAUSE_STORE_PAGE_FAULT)
    return 0;
  return vmfault(p->pagetable, r_stval()) != 0;
}

// A trap from user mode. uservec (trampoline.S) jumps here on the
// process's kernel stack, in the kernel page table, with interrupts off.
void
usertrap(void)
{
  if((r_sstatus() & SSTATUS_SPP) != 0)
    panic("usertrap: not from user mode");

  // From here on we are in the kernel: a trap now must go to kernelvec,
  // not to uservec, which would overwrite the saved user registers.
  w_stvec((uint64)kernelvec);

  struct proc *p = myproc();
  p->trapframe->epc = r_sepc();

  uint64 scause = r_scause();
  int which = 0;

  if(scause == SCAUSE_ECALL_U){
    if(killed(p))
      exit(-1);
    // Return to the instruction after the ecall, not the ecall again.
    p->trapframe->epc += 4;
    // sepc, scause and sstatus are saved or used up; a system call may
    // take long, so let interrupts in.
    intr_on();
    syscall();
  } else if((which = devintr(scause)) != 0){
    // handled
  } else if(lazyfault(p, scause)){
    // the page is there now; the instruction runs again
  } else {
    printf("usertrap(): unexpected scause 0x%lx pid=%d sepc=0x%lx stval=0x%lx\n",
           scause, p->pid, r_sepc(), r_stval());
    setkilled(p);
  }

  if(killed(p))
    exit(-1);

  // The timer tick ends this process's time slice.
  if(which == 2)
    yield();

  usertrapret();
}

// Return to user mode through userret (trampoline.S), setting up what
// uservec will need on the next trap.
void
usertrapret(void)
{
  struct proc *p = myproc();

  // Interrupts off until sret: from the moment stvec points at uservec, a
  // trap taken in the kernel would be mistaken for one from user mode.
  intr_off();

  w_stvec(TRAMPOLINE + (uservec - trampoline));

  // uservec switches to the kernel table only for a process whose table
  // does not map the kernel (proc.c proc_unshare).
  p->trapframe->kernel_satp = p->kshared ? 0 : MAKE_SATP(kernel_pagetable);
  p->trapframe->kernel_sp = p->kstack + PGSIZE;   // stacks grow down
  p->trapframe->kernel_trap = (uint64)usertrap;
  p->trapframe->kernel_hartid = r_tp();

  // sret goes to user mode (SPP = 0) with interrupts on (SPIE = 1).
  uint64 x = r_sstatus();
  x &= ~SSTATUS_SPP;
  x |= SSTATUS_SPIE;
  w_sstatus(x);

  w_sepc(p->trapframe->epc);

  // A kshared process: the hart has run the kernel on its page table since
  // the trap (the scheduler put it in satp). If the kernel changed the
  // table meanwhile (sbrk, a lazy page filled in), the hart may still hold
  // translations from before, stale or missing: a fence makes it walk the
  // table again (privileged spec 4.2.1; the spec asks for one even when a
  // mapping was only added). Under QEMU a fence empties the whole software
  // TLB, so only a changed table pays for it. Any other process: userret
  // switches to its table, and fences, as xv6 does.
  uint64 satp = 0;
  if(p->kshared){
    if(r_satp() != MAKE_SATP(p->pagetable) || p->sz > USERTOP)
      panic("usertrapret: kshared, but not on the process's table or too big");
    if(p->tlbstale)
      sfence_vma();
  } else {
    satp = MAKE_SATP(p->pagetable);
  }
  p->tlbstale = 0;

  // Call userret at its trampoline address, which is mapped in every user
  // page table.
  void (*ret)(uint64) = (void (*)(uint64))(TRAMPOLINE + (userret - trampoline));
  ret(satp);
}

// A trap while in the kernel, through kernelvec. Only interrupts are
// expected here; an exception means a kernel bug.
void
kerneltrap(void)
{
  // Saved because a yield below lets other code trap and overwrite them.
  uint64 sepc = r_sepc();
  uint64 sstatus = r_sstatus();
  uint64 scause = r_scause();

  if((sstatus & SSTATUS_SPP) == 0)
    panic("kerneltrap: not from supervisor mode");
  if(intr_get() != 0)
    panic("kerneltrap: interrupts enabled");

  int which = devintr(scause);
  if(which == 0){
    printf("kerneltrap: scause 0x%lx sepc=0x%lx stval=0x%lx\n",
           scause, sepc, r_stval());
    panic("kerneltrap");
  }

  // The timer ends a process's time slice even while it runs in the
  // kernel. In the scheduler itself (no process) there is nothing to give up.
  if(which == 2 && myproc() != 0)
    yield();

  w_sepc(sepc);
  w_sstatus(sstatus);
}
