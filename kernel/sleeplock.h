// sleeplock.h: a lock whose waiters sleep instead of spinning, for long
// holds such as a disk read (buffers and inodes use it). See sleeplock.c.
#ifndef SLEEPLOCK_H
#define SLEEPLOCK_H
#include "types.h"
#include "spinlock.h"

struct sleeplock {
  uint locked;           // 1 while some process holds it
  struct spinlock lk;    // protects this struct and orders sleep/wakeup
  char *name;
  int pid;               // the holder, for holdingsleep()
  int waiters;           // processes sleeping in acquiresleep (lk)
};
#endif
