// vos_port.h (Cortex-M3): this port's half of virtio/virtio_os.h.
//
// One core, no threads: a lock is "interrupts masked" (PRIMASK = 1), which
// keeps every interrupt handler out while the lock is held. `saved` is the
// PRIMASK value to restore on unlock, so locks nest; `held` catches a lock
// taken twice, which on this machine would not deadlock but would unmask
// interrupts too early on the inner unlock. See vos_cm3.c; see it run:
// `make qemu-cm3` (every driver call takes one of these).
#ifndef VOS_PORT_H
#define VOS_PORT_H
#include <stdint.h>
typedef struct {
  uint32_t saved;
  int held;
  const char *name;
} vos_lock_t;
#endif
