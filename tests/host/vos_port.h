// vos_port.h (host unit tests): the host's half of virtio/virtio_os.h,
// for both harnesses: vos_host.c (tests/host) and vos_net_host.c
// (tests/host/net, which has this directory on its include path).
//
// The tests run in one thread, so a lock is just a flag: taking a lock that
// is already held can only be a deadlock in the code under test, and the
// harness reports it as a test failure instead of hanging.
//
// Run: make -C tests/host check   (runs tests/host/net's tests too)
#ifndef VOS_PORT_H
#define VOS_PORT_H
typedef struct {
  int held;
  const char *name;
} vos_lock_t;
#endif
