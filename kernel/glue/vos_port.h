// vos_port.h (RISC-V kernel): the kernel's half of virtio/virtio_os.h.
// The portable virtio core locks with the kernel's own spinlocks.
#ifndef VOS_PORT_H
#define VOS_PORT_H
#include "spinlock.h"
typedef struct spinlock vos_lock_t;
#endif
