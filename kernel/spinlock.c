// spinlock.c: mutual exclusion between harts by spinning on an atomic swap.
//
// Follows the RISC-V unprivileged spec: the "A" extension (chapter 8,
// amoswap with .aq/.rl ordering bits) and the RVWMO memory model (chapter
// 17), through GCC's __atomic builtins.
//
// Two rules make spinlocks safe here:
//  1. Interrupts stay off on a hart while it holds any spinlock. Otherwise
//     an interrupt handler that wants the same lock (tickslock, the UART
//     lock...) would spin forever on the hart that holds it.
//  2. A hart never acquires a lock it already holds (acquire() panics).
// push_off()/pop_off() count nesting so that releasing the inner of two
// locks does not turn interrupts back on too early.
//
// See it run: every system call takes locks; `make qemu CPUS=3` makes them
// contend. A deadlock shows up as a hang; a double acquire as
// "panic: acquire: already held".
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "spinlock.h"
#include "proc.h"
#include "defs.h"

void
initlock(struct spinlock *lk, char *name)
{
  lk->name = name;
  lk->locked = 0;
  lk->cpu = 0;
}

void
acquire(struct spinlock *lk)
{
  push_off();   // rule 1, and mycpu() below needs a hart that stays put
  if(holding(lk)){
    printf("lock %s: ", lk->name);
    panic("acquire: already held");
  }

  // Swap 1 in until the old value was 0: then we are the one that took it.
  // ACQUIRE ordering (amoswap.w.aq) means no load or store of the data the
  // lock protects can be performed before the swap succeeds, so we see
  // everything the previous holder wrote before its release.
  while(__atomic_exchange_n(&lk->locked, 1, __ATOMIC_ACQUIRE) != 0)
    ;

  lk->cpu = mycpu();
}

void
release(struct spinlock *lk)
{
  if(!holding(lk)){
    printf("lock %s: ", lk->name);
    panic("release: not held");
  }
  lk->cpu = 0;

  // RELEASE ordering (a fence before the store) makes every load and store
  // we did inside the critical section visible before other harts can see
  // locked == 0 and take the lock.
  __atomic_store_n(&lk->locked, 0, __ATOMIC_RELEASE);

  pop_off();
}

// Does this hart hold the lock? Interrupts must be off, or the answer could
// be stale by the time the caller looks at it (we could move harts).
int
holding(struct spinlock *lk)
{
  return lk->locked && lk->cpu == mycpu();
}

// Like intr_off(), but nests: n push_off()s need n pop_off()s before
// interrupts come back, and they only come back if they were on before
// the first push_off().
void
push_off(void)
{
  int was_on = intr_get();

  intr_off();
  // Only now is it safe to use mycpu(): with interrupts off we cannot be
  // rescheduled onto another hart.
  struct cpu *c = mycpu();
  if(c->noff == 0)
    c->intena = was_on;
  c->noff++;
}

void
pop_off(void)
{
  struct cpu *c = mycpu();

  if(intr_get())
    panic("pop_off: interrupts on");
  if(c->noff < 1)
    panic("pop_off: not pushed");
  c->noff--;
  if(c->noff == 0 && c->intena)
    intr_on();
}
