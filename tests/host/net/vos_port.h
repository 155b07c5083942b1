// vos_port.h (network stack host tests): this directory's half of
// kernel/virtio/virtio_os.h. The tests run in one thread, so a lock is a
// flag; vos_net_host.c turns misuse (taking a held lock, sleeping without
// it) into a test failure instead of a hang.
//
// Run: make -C tests/host/net check
#ifndef VOS_PORT_H
#define VOS_PORT_H
typedef struct {
  int held;
  const char *name;
} vos_lock_t;
#endif
