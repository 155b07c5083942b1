// nethost.h: the host test harness around the portable network stack.
//
// vos_net_host.c implements the parts of virtio/virtio_os.h that
// net/ uses, for one Linux thread:
//   - vos_time_ms() reads a fake clock, nh_now, that only tests move.
//   - vos_lock/vos_unlock keep a count of locks held (nh_locks_held), so
//     the test's xmit can check that the stack never calls the driver
//     with its lock held.
//   - vos_sleep() is the scheduler: it drops the lock, runs the test's
//     sleep hook (by default: 10 ms pass and net_tick() runs, like a timer
//     interrupt during the sleep), then takes the lock again. A test that
//     sleeps too often without finishing fails instead of hanging.
//
// Run: make -C tests/host/net check
#ifndef NETHOST_H
#define NETHOST_H
#include <stdint.h>

extern uint64_t nh_now;          // the clock vos_time_ms() returns
extern int      nh_locks_held;   // vos_lock minus vos_unlock
extern int      nh_sleeps;       // vos_sleep calls since nh_reset
extern int      nh_wakeups;      // vos_wakeup calls since nh_reset
extern int      nh_verbose;      // 1: print vos_log lines

// Called inside vos_sleep with no lock held; NULL restores the default.
void nh_set_sleep_hook(void (*fn)(void *chan));
void nh_default_sleep(void *chan);   // nh_now += 10; net_tick()
void nh_reset(void);

// Provided by the test program: fail the running test (does not return).
void nh_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#endif
