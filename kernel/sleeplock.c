// sleeplock.c: locks that a process may hold for a long time (across disk
// I/O) and that waiters sleep on instead of spinning.
//
// A sleeplock is a flag guarded by a spinlock. Waiting processes sleep on
// the sleeplock's address; sleep() releases the spinlock while they sleep
// and takes it back before returning, so the check of `locked` and the
// decision to sleep cannot miss a wakeup from releasesleep().
// Unlike a spinlock, interrupts stay on while it is held, and the holder
// may itself sleep. Only processes may use it (it records the pid).
//
// See it run: the buffer cache (bio.c) and inodes (fs.c) use sleeplocks;
// `make qemu`, then `cat README` sleeps on one while the disk reads.
#include "types.h"
#include "param.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "defs.h"

void
initsleeplock(struct sleeplock *lk, char *name)
{
  initlock(&lk->lk, "sleep lock");
  lk->name = name;
  lk->locked = 0;
  lk->pid = 0;
  lk->waiters = 0;
}

void
acquiresleep(struct sleeplock *lk)
{
  acquire(&lk->lk);
  while(lk->locked){
    lk->waiters++;
    sleep(lk, &lk->lk);
    lk->waiters--;
  }
  lk->locked = 1;
  lk->pid = myproc()->pid;
  release(&lk->lk);
}

void
releasesleep(struct sleeplock *lk)
{
  acquire(&lk->lk);
  lk->locked = 0;
  lk->pid = 0;
  // wakeup() visits every process slot; most releases have nobody to wake
  // (the buffer cache releases thousands of locks a second), so skip it.
  if(lk->waiters > 0)
    wakeup(lk);
  release(&lk->lk);
}

// Take a sleeplock that nobody holds or waits for, and that nobody can
// reach except through another lock the caller holds: a buffer the read-
// ahead takes off the buffer cache's free list, under bcache.lock (bio.c
// breadahead). Plain stores suffice then: whoever reaches the sleeplock
// next must take that other lock first, which orders our stores before
// its loads. The holder is an I/O in flight, not a process (pid 0); the
// completion releases it with releasesleep. The read-ahead claims dozens
// of buffers at once, and under QEMU acquiresleep's spinlock round trip
// costs about a microsecond each.
void
acquiresleep_unreached(struct sleeplock *lk)
{
  if(lk->locked || lk->waiters)
    panic("acquiresleep_unreached: in use");
  lk->locked = 1;
  lk->pid = 0;
}

// Does the calling process hold it?
int
holdingsleep(struct sleeplock *lk)
{
  int r;

  acquire(&lk->lk);
  r = lk->locked && (lk->pid == myproc()->pid);
  release(&lk->lk);
  return r;
}
