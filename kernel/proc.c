// proc.c: processes: creating them (userinit, fork), running them
// (scheduler, sched, yield), blocking them (sleep, wakeup) and ending them
// (exit, wait, kill).
//
// Each process has a kernel thread: a kernel stack plus a saved struct
// context. A hart runs its scheduler loop on its boot stack; to run a
// process it swtch()es to that process's kernel thread, which returns to
// user mode through usertrapret(). Giving the hart back (yield, sleep,
// exit) means calling sched(), which swtch()es back to the scheduler.
// The RISC-V parts live in trap.c and trampoline.S; this file is portable
// C apart from cpuid().
//
// Locks, and the order in which they may be taken (a hart holding a lock
// may only acquire locks further down the list, never the other way):
//
//   1. wait_lock      guards every p->parent; taken by fork (setting it),
//                     exit (reparenting) and wait (finding children).
//   2. a "condition" lock passed to sleep() (tickslock, a pipe's lock,
//      cons.lock, the UART's transmit lock, a sleeplock's spinlock, the
//      disk's lock...); wakeup() is called with it held and takes p->lock
//      of each process.
//   3. p->lock        guards p->state, chan, killed, xstate, pid. Held
//                     across swtch() in both directions (see sched).
//   4. leaf locks     kmem, printf's lock, ftable/itable locks: taken
//                     briefly, never while waiting for anything.
//
// A hart holds at most one p->lock at a time. The scheduler takes the
// lock of the process it runs and that process releases it (in forkret, or
// in yield/sleep after sched() returns), so the lock travels with the
// switch. fork() holds the new child's lock while copying the parent into
// it (filedup/idup take leaf locks under it); while the child is USED no
// scheduler runs it and no wait() collects it, so holding it is safe.
//
// See it run: `make qemu`, then press Ctrl-P at the shell: procdump()
// lists every process and its state.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "stat.h"
#include "file.h"
#include "defs.h"

struct cpu cpus[NCPU];
struct proc proc[NPROC];

static struct proc *initproc;        // the first process; adopts orphans
static int nextpid = 1;
static struct spinlock wait_lock;

extern char trampoline[];            // trampoline.S
extern char initcode_start[];        // initblob.S: the first user program
extern char initcode_end[];

static void freeproc(struct proc *p);
static void forkret(void);

// Give every process slot a kernel stack, mapped high in the kernel page
// table with an unmapped guard page below it, so a stack overflow faults
// instead of silently trampling the neighbour. Called by kvmmake().
void
proc_mapstacks(pagetable_t kpgtbl)
{
  for(int i = 0; i < NPROC; i++){
    char *pa = kalloc();
    if(pa == 0)
      panic("proc_mapstacks: out of memory");
    kvmmap(kpgtbl, KSTACK(i), (uint64)pa, PGSIZE, PTE_R | PTE_W);
  }
}

void
procinit(void)
{
  initlock(&wait_lock, "wait_lock");
  for(int i = 0; i < NPROC; i++){
    struct proc *p = &proc[i];
    initlock(&p->lock, "proc");
    p->state = UNUSED;
    p->kstack = KSTACK(i);
  }
}

// Which hart is this? entry.S put the hart id in tp, and the trampoline
// keeps it there (see trapframe->kernel_hartid). The answer is only stable
// while interrupts are off: otherwise a timer interrupt could move this
// thread to another hart right after we looked.
int
cpuid(void)
{
  return r_tp();
}

// This hart's struct cpu. Interrupts must be off (see cpuid).
struct cpu *
mycpu(void)
{
  return &cpus[cpuid()];
}

// The process running on this hart, or 0 in the scheduler.
struct proc *
myproc(void)
{
  push_off();    // so we read the cpu we are still on
  struct proc *p = mycpu()->proc;
  pop_off();
  return p;
}

// A fresh process id. An atomic add, so no lock is needed; RELAXED is
// enough because the pid orders nothing else.
static int
allocpid(void)
{
  return __atomic_fetch_add(&nextpid, 1, __ATOMIC_RELAXED);
}

// Find an UNUSED slot and make it a process with a trapframe page, a user
// page table holding just the trampoline and trapframe, and a kernel
// thread that starts in forkret(). Returns it with p->lock held, or 0 if
// the table is full or memory ran out.
static struct proc *
allocproc(void)
{
  struct proc *p;

  for(p = proc; p < &proc[NPROC]; p++){
    acquire(&p->lock);
    if(p->state == UNUSED)
      goto found;
    release(&p->lock);
  }
  return 0;

found:
  p->pid = allocpid();
  p->state = USED;

  p->trapframe = kalloc();
  if(p->trapframe == 0){
    freeproc(p);
    release(&p->lock);
    return 0;
  }
  memset(p->trapframe, 0, PGSIZE);

  p->pagetable = proc_pagetable(p);
  if(p->pagetable == 0){
    freeproc(p);
    release(&p->lock);
    return 0;
  }
  p->kshared = 1;
  p->tlbstale = 0;

  // When the scheduler first swtch()es here, "return" into forkret on the
  // top of this process's (empty) kernel stack.
  memset(&p->context, 0, sizeof(p->context));
  p->context.ra = (uint64)forkret;
  p->context.sp = p->kstack + PGSIZE;
  return p;
}

// Release everything a process owns except its kernel stack (which
// belongs to the slot) and mark the slot UNUSED. p->lock must be held.
// Open files and cwd were already given up by exit() (or never taken).
static void
freeproc(struct proc *p)
{
  if(p->trapframe)
    kfree(p->trapframe);
  p->trapframe = 0;
  if(p->pagetable)
    proc_freepagetable(p->pagetable, p->sz);
  p->pagetable = 0;
  p->sz = 0;
  p->pid = 0;
  p->parent = 0;
  p->name[0] = 0;
  p->chan = 0;
  p->killed = 0;
  p->xstate = 0;
  p->state = UNUSED;
}

// A user page table with no user memory yet, only what every process has:
// the kernel's regions (uvmkshare), and at the top the trampoline and its
// trapframe. None has PTE_U: user code cannot touch them, only the kernel
// can, in supervisor mode. Returns 0 if memory ran out.
pagetable_t
proc_pagetable(struct proc *p)
{
  pagetable_t pagetable = uvmcreate();
  if(pagetable == 0)
    return 0;

  if(mappages(pagetable, TRAMPOLINE, PGSIZE, (uint64)trampoline, PTE_R | PTE_X) < 0){
    uvmfree(pagetable, 0);
    return 0;
  }
  if(mappages(pagetable, TRAPFRAME, PGSIZE, (uint64)p->trapframe, PTE_R | PTE_W) < 0){
    uvmunmap(pagetable, TRAMPOLINE, 1, 0);
    uvmfree(pagetable, 0);
    return 0;
  }
  uvmkshare(pagetable);
  return pagetable;
}

// Free a user page table and its sz bytes of user memory. The kernel's
// regions and the trampoline are shared and the trapframe belongs to
// struct proc, so those are only unmapped, not freed. No hart may be using
// the table any more (the scheduler and exec switch away first).
void
proc_freepagetable(pagetable_t pagetable, uint64 sz)
{
  uvmkunshare(pagetable);
  uvmunmap(pagetable, TRAMPOLINE, 1, 0);
  uvmunmap(pagetable, TRAPFRAME, 1, 0);
  uvmfree(pagetable, sz);
}

// Create the first process. It runs initcode (initcode.S) at user address
// 0, which execs /init.
void
userinit(void)
{
  uint64 size = initcode_end - initcode_start;
  if(size > PGSIZE)
    panic("userinit: initcode larger than a page");

  struct proc *p = allocproc();
  if(p == 0)
    panic("userinit: no memory");
  initproc = p;

  // One page at address 0, readable and executable but not writable:
  // initcode needs no stack and no data it writes.
  char *mem = kalloc();
  if(mem == 0)
    panic("userinit: no memory");
  memset(mem, 0, PGSIZE);
  memmove(mem, initcode_start, size);
  if(mappages(p->pagetable, 0, PGSIZE, (uint64)mem, PTE_R | PTE_X | PTE_U) < 0)
    panic("userinit: no memory");
  p->sz = PGSIZE;

  p->trapframe->epc = 0;        // start of initcode
  p->trapframe->sp = PGSIZE;    // initcode pushes nothing; just not garbage
  safestrcpy(p->name, "initcode", sizeof(p->name));
  // p->cwd is set in forkret(), once the file system is up.

  p->state = RUNNABLE;
  release(&p->lock);
}

// Grow (n > 0) or shrink (n < 0) the caller's memory by n bytes; growth
// allocates every new page now (the eager sbrk; sys_sbrk does lazy growth
// itself). Returns 0, or -1 (memory unchanged) if memory ran out or the
// heap would pass the trapframe.
//
// A shrink by more than the whole memory changes nothing and returns 0,
// so sbrk() reports the unchanged end: xv6-riscv behaves so (its
// usertests lazy_copy and sbrk8000 check it), and a wild negative n (an
// unsigned size that did not fit in an int) then cannot take away the
// program's own code. The pages freed by a shrink may have never been
// touched (lazy growth); uvmdealloc skips those.
int
growproc(int n)
{
  struct proc *p = myproc();
  uint64 sz = p->sz;

  if(n > 0){
    if(sz + n > TRAPFRAME)
      return -1;
    if(sz + n > USERTOP)
      proc_unshare(p);
    uint64 newsz = uvmalloc(p->pagetable, sz, sz + n, PTE_W);
    if(newsz == 0)
      return -1;
    sz = newsz;
  } else if(n < 0){
    uint64 shrink = (uint64)(-(long)n);   // long: -n of INT_MIN fits
    if(shrink > sz)
      return 0;
    sz = uvmdealloc(p->pagetable, sz, sz - shrink);
  }
  if(sz != p->sz)
    p->tlbstale = 1;   // the hart runs on this table: fence before user mode
  p->sz = sz;
  return 0;
}

// p, the caller, is about to own memory at or above USERTOP, where its page
// table holds the kernel's regions (memlayout.h). Give them back, and from
// now on run p the way xv6 runs every process: the kernel on the kernel
// table, a switch at every trap (trampoline.S, trap.c usertrapret). We are
// on p's table right now, so we leave it first. Until exec gives p a new
// table, it stays this way.
void
proc_unshare(struct proc *p)
{
  if(!p->kshared)
    return;
  // Interrupts off: a timer tick must not reschedule us halfway, or the
  // scheduler, still seeing kshared, would put us back on our table
  // after (or while) it loses the kernel's mappings.
  push_off();
  p->kshared = 0;
  vmswitch(kernel_pagetable);
  uvmkunshare(p->pagetable);
  pop_off();
}

// Create a copy of the calling process. The child returns 0 from the
// system call, the parent the child's pid; -1 if the process table is
// full or memory ran out.
int
fork(void)
{
  struct proc *p = myproc();
  struct proc *np = allocproc();
  if(np == 0)
    return -1;

  // A parent that owns memory past USERTOP gets a child like itself: its
  // table must not hold the kernel's regions where that memory goes.
  if(!p->kshared){
    uvmkunshare(np->pagetable);
    np->kshared = 0;
  }
  if(uvmcopy(p->pagetable, np->pagetable, p->sz) < 0){
    freeproc(np);
    release(&np->lock);
    return -1;
  }
  np->sz = p->sz;

  // Same registers, so the child resumes right after the ecall too,
  // except that fork() returns 0 in the child.
  *np->trapframe = *p->trapframe;
  np->trapframe->a0 = 0;

  for(int fd = 0; fd < NOFILE; fd++){
    if(p->ofile[fd])
      np->ofile[fd] = filedup(p->ofile[fd]);
  }
  np->cwd = idup(p->cwd);
  safestrcpy(np->name, p->name, sizeof(np->name));
  int pid = np->pid;
  release(&np->lock);

  // parent is guarded by wait_lock, which comes before p->lock in the
  // lock order, so np->lock had to be released first.
  acquire(&wait_lock);
  np->parent = p;
  release(&wait_lock);

  acquire(&np->lock);
  np->state = RUNNABLE;
  release(&np->lock);

  return pid;
}

// Hand p's children to initproc, which waits for orphans forever.
// Caller holds wait_lock.
static void
reparent(struct proc *p)
{
  for(struct proc *pp = proc; pp < &proc[NPROC]; pp++){
    if(pp->parent == p){
      pp->parent = initproc;
      wakeup(initproc);   // a child may already be a zombie
    }
  }
}

// Process 1 is ending. kill() refuses it, so either initcode's exec of
// /init failed (the process still has initcode's name: the disk has no
// usable /init), or /init itself exited or crashed. Nobody would be left to
// adopt orphans, so say which it was and power off, after committing
// what the file system holds (as halt does). Not a panic: no kernel
// invariant broke, the disk or the program /init did.
static void
init_ended(struct proc *p, int status)
{
  if(strncmp(p->name, "initcode", sizeof(p->name)) != 0){
    printf("init: /init (pid 1) ended with status %d (it exited, or a fault "
           "killed it); nothing is left to run: powering off\n", status);
    log_sync();
    sbi_shutdown();
  }
  // Why could /init not be started? Look it up (a lookup may drop the last
  // reference to an inode, hence the transaction).
  const char *why = "it is not a program this kernel can load: a bad ELF header or "
                    "unreadable blocks";
  begin_op();
  struct inode *ip = namei("/init");
  if(ip == 0)
    why = "the root directory has no usable entry for it";
  else {
    if(ilock(ip) < 0)
      why = "the inode of /init is damaged";
    else if(ip->type != T_FILE)
      why = "/init is not a file";
    iunlockput(ip);
  }
  end_op();
  printf("boot: cannot run /init (%s): refusing the disk; powering off\n", why);
  sbi_shutdown();
}

// End the calling process. It stays a ZOMBIE, still holding its memory,
// until its parent's wait() collects the exit status and frees it.
void
exit(int status)
{
  struct proc *p = myproc();

  if(p == initproc)
    init_ended(p, status);

  for(int fd = 0; fd < NOFILE; fd++){
    if(p->ofile[fd]){
      struct file *f = p->ofile[fd];
      p->ofile[fd] = 0;
      fileclose(f);
    }
  }

  // Dropping the last reference to an inode may free it on disk, which is
  // a file-system transaction.
  if(p->cwd){
    begin_op();
    iput(p->cwd);
    end_op();
    p->cwd = 0;
  }

  acquire(&wait_lock);
  reparent(p);
  // The parent may be asleep in wait(); wait() sleeps on its own proc.
  wakeup(p->parent);

  acquire(&p->lock);
  p->xstate = status;
  p->state = ZOMBIE;
  // The parent cannot see ZOMBIE before we hold p->lock (it takes our
  // lock to check), and we hold it into sched(), so it cannot free our
  // kernel stack while we are still running on it.
  release(&wait_lock);

  sched();
  panic("exit: zombie returned");
}

// Wait for a child to exit; copy its exit status to user address addr
// (unless addr is 0) and return its pid. -1 if there are no children, the
// caller was killed, or addr is bad.
int
wait(uint64 addr)
{
  struct proc *p = myproc();

  acquire(&wait_lock);
  for(;;){
    int havekids = 0;
    for(struct proc *pp = proc; pp < &proc[NPROC]; pp++){
      if(pp->parent != p)
        continue;
      // Its lock, so that we do not look at a child still inside exit().
      acquire(&pp->lock);
      havekids = 1;
      if(pp->state == ZOMBIE){
        int pid = pp->pid;
        if(addr != 0 && copyout(p->pagetable, addr, (char *)&pp->xstate,
                                sizeof(pp->xstate)) < 0){
          // Leave the zombie for a later wait() with a good address.
          release(&pp->lock);
          release(&wait_lock);
          return -1;
        }
        freeproc(pp);
        release(&pp->lock);
        release(&wait_lock);
        return pid;
      }
      release(&pp->lock);
    }

    if(!havekids || killed(p)){
      release(&wait_lock);
      return -1;
    }
    // exit() of a child calls wakeup(parent).
    sleep(p, &wait_lock);
  }
}

// Each hart's scheduler loop, entered from main() and never left. It picks
// a RUNNABLE process, runs it until it gives the hart back through
// sched(), and looks again. A hart with nothing to run waits for an
// interrupt with wfi instead of spinning, which saves the host's CPU.
void
scheduler(void)
{
  struct cpu *c = mycpu();

  c->proc = 0;
  for(;;){
    // Let interrupts that are pending now be handled (a wakeup from a
    // device, the timer), then scan with interrupts off. With them off no
    // interrupt on this hart can make a process RUNNABLE between the scan
    // and the wfi below and be missed: wfi wakes up on a pending
    // interrupt even while sstatus.SIE is clear (privileged spec 3.3.3).
    intr_on();
    intr_off();

    // Other harts' wakeups cannot interrupt us (device interrupts go to
    // one hart, plic.c), so we say we may go idle before we look: a waker
    // that makes a process RUNNABLE after our look then sees the flag and
    // sends an IPI, which ends the wfi below (kick_idle_hart). The fence
    // orders our store before our loads of p->state; the waker's orders
    // its store of p->state before its load of the flag. So one of us
    // sees the other's store.
    __atomic_store_n(&c->idle, 1, __ATOMIC_RELAXED);
    __sync_synchronize();

    int found = 0;
    for(struct proc *p = proc; p < &proc[NPROC]; p++){
      acquire(&p->lock);
      if(p->state == RUNNABLE){
        __atomic_store_n(&c->idle, 0, __ATOMIC_RELAXED);
        // The process releases p->lock itself (in forkret, or after
        // sched() returns in yield/sleep), and takes it again before
        // switching back here.
        p->state = RUNNING;
        c->proc = p;
        // The process's kernel code runs on its own page table, which
        // maps the kernel too (kshared); back here, the hart returns to
        // the kernel table before p->lock is released, since once it is,
        // a parent may free the table of an exited p.
        // (A process that is not kshared runs its kernel code on the
        // kernel table, which the hart is on already.)
        if(p->kshared)
          vmswitch(p->pagetable);
        swtch(&c->context, &p->context);
        if(r_satp() != MAKE_SATP(kernel_pagetable))
          vmswitch(kernel_pagetable);
        c->proc = 0;
        found = 1;
      }
      release(&p->lock);
    }
    if(!found)
      asm volatile("wfi");
    __atomic_store_n(&c->idle, 0, __ATOMIC_RELAXED);
  }
}

// A process just became RUNNABLE. If the caller is a process (running on
// its hart, or interrupted there), that hart is busy, while another may
// sleep in the scheduler's wfi until its next timer tick, 100 ms away:
// wake one with an IPI. (A wakeup from an interrupt taken in the
// scheduler needs none: that hart scans next.)
static void
kick_idle_hart(struct proc *self)
{
  if(self == 0)
    return;
  __sync_synchronize();   // our p->state store before our loads of idle
  for(int i = 0; i < NCPU; i++){
    // (Our own hart's flag is clear: it is running a process, us.)
    if(__atomic_load_n(&cpus[i].idle, __ATOMIC_RELAXED)){
      sbi_send_ipi(i);
      return;
    }
  }
}

// Give the hart back to this hart's scheduler. The caller holds p->lock
// (and no other lock) and has already changed p->state. intena belongs to
// this kernel thread, not to the hart, so it is saved and restored around
// the switch.
void
sched(void)
{
  struct proc *p = myproc();

  if(!holding(&p->lock))
    panic("sched: p->lock not held");
  if(mycpu()->noff != 1)
    panic("sched: other locks held");
  if(p->state == RUNNING)
    panic("sched: still RUNNING");
  if(intr_get())
    panic("sched: interrupts on");

  int intena = mycpu()->intena;
  swtch(&p->context, &mycpu()->context);
  // We may be back on a different hart.
  mycpu()->intena = intena;
}

// Give up the hart for one scheduling round.
void
yield(void)
{
  struct proc *p = myproc();

  acquire(&p->lock);
  p->state = RUNNABLE;
  sched();
  release(&p->lock);
}

// A new process's kernel thread starts here, from the scheduler's swtch(),
// still holding p->lock.
static void
forkret(void)
{
  static int first = 1;
  struct proc *p = myproc();

  release(&p->lock);

  if(first){
    // The file system's set-up reads the disk and so sleeps, which needs
    // a process; this is the first one. No other process exists before it
    // forks, so `first` needs no lock.
    first = 0;
    fsinit(ROOTDEV);
    p->cwd = namei("/");
    if(p->cwd == 0)
      panic("forkret: no root directory");
  }

  usertrapret();
}

// Atomically release lk and sleep on chan; take lk again when woken.
// "Atomically" is the point: wakeup(chan) needs p->lock, which we take
// before releasing lk, so a wakeup cannot slip in between the caller's
// check of its condition and our going to sleep.
void
sleep(void *chan, struct spinlock *lk)
{
  struct proc *p = myproc();

  acquire(&p->lock);
  release(lk);

  p->chan = chan;
  p->state = SLEEPING;
  sched();
  p->chan = 0;

  release(&p->lock);
  acquire(lk);
}

// Wake every process sleeping on chan. The caller should hold the
// condition lock the sleepers passed to sleep().
void
wakeup(void *chan)
{
  struct proc *self = myproc();
  int woke = 0;

  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    if(p == self)
      continue;     // we hold no lock for ourselves, and we are awake
    acquire(&p->lock);
    if(p->state == SLEEPING && p->chan == chan){
      p->state = RUNNABLE;
      woke = 1;
    }
    release(&p->lock);
  }
  if(woke)
    kick_idle_hart(self);
}

// Ask process pid to die. It exits the next time it crosses from the
// kernel to user mode or checks killed() in a sleep loop; waking it makes
// that happen soon. Returns 0, or -1 if there is no such process.
//
// init (pid 1) cannot be killed: kill(1) returns -1 and init runs on. It
// adopts every orphan and restarts the shell; without it the machine has
// nothing left to run, and any program could stop the machine with one
// call (halt is the way to do that on purpose).
int
kill(int pid)
{
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    acquire(&p->lock);
    if(p->pid == pid && p->state != UNUSED){
      if(p == initproc){
        release(&p->lock);
        return -1;
      }
      p->killed = 1;
      int woke = p->state == SLEEPING;
      if(woke)
        p->state = RUNNABLE;   // its sleep loop sees killed and returns
      release(&p->lock);
      if(woke)
        kick_idle_hart(myproc());
      return 0;
    }
    release(&p->lock);
  }
  return -1;
}

void
setkilled(struct proc *p)
{
  acquire(&p->lock);
  p->killed = 1;
  release(&p->lock);
}

int
killed(struct proc *p)
{
  acquire(&p->lock);
  int k = p->killed;
  release(&p->lock);
  return k;
}

// Copy to a user address (user_dst = 1) or a kernel address. For code
// such as the console that serves both. Returns 0 or -1.
int
either_copyout(int user_dst, uint64 dst, void *src, uint64 len)
{
  if(user_dst)
    return copyout(myproc()->pagetable, dst, src, len);
  memmove((void *)dst, src, len);
  return 0;
}

// Copy from a user address (user_src = 1) or a kernel address.
int
either_copyin(void *dst, int user_src, uint64 src, uint64 len)
{
  if(user_src)
    return copyin(myproc()->pagetable, dst, src, len);
  memmove(dst, (void *)src, len);
  return 0;
}

// List the processes on the console (Ctrl-P). It takes no locks on
// purpose: it is a debugging aid for a machine that may be stuck with
// some lock held.
void
procdump(void)
{
  static char *names[] = {
    [UNUSED]   "unused",
    [USED]     "used",
    [SLEEPING] "sleep",
    [RUNNABLE] "runble",
    [RUNNING]  "run",
    [ZOMBIE]   "zombie",
  };

  printf("\n");
  for(struct proc *p = proc; p < &proc[NPROC]; p++){
    if(p->state == UNUSED)
      continue;
    char *state = "???";
    if(p->state >= 0 && p->state < NELEM(names) && names[p->state])
      state = names[p->state];
    printf("%d %s %s\n", p->pid, state, p->name);
  }
}
