// vos_port.h (host unit tests): the host's half of kernel/virtio/virtio_os.h.
//
// The tests run in one thread, so a lock is just a flag: taking a lock that
// is already held can only be a deadlock in the code under test, and
// vos_host.c reports it as a test failure instead of hanging.
#ifndef VOS_PORT_H
#define VOS_PORT_H
typedef struct {
  int held;
  const char *name;
} vos_lock_t;
#endif
