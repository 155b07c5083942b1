// spinlock.h: a lock that a hart waits for by spinning. Hold it only for
// short stretches; interrupts stay off on the holding hart (see spinlock.c).
#ifndef SPINLOCK_H
#define SPINLOCK_H
#include "types.h"

struct cpu;

struct spinlock {
  uint locked;        // 0 = free, 1 = held; changed only atomically
  char *name;         // for panic messages
  struct cpu *cpu;    // the hart holding it, so holding() can check
};
#endif
