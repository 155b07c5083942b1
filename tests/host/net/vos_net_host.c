// vos_net_host.c: virtio/virtio_os.h for the network stack's host
// tests: a fake clock, flag locks, and a sleep that lets the test's
// "rest of the world" run (see nethost.h).
//
// Run: make -C tests/host/net check
#include <stdarg.h>
#include <stdio.h>
#include "virtio_os.h"
#include "net.h"
#include "nethost.h"

#define SLEEP_LIMIT 100000   // more sleeps than any test needs: it is stuck

uint64_t nh_now;
int nh_locks_held;
int nh_sleeps;
int nh_wakeups;
int nh_verbose = 1;

static void (*sleep_hook)(void *chan);

void nh_default_sleep(void *chan)
{
  (void)chan;
  nh_now += 10;
  net_tick();
}

void nh_set_sleep_hook(void (*fn)(void *chan))
{
  sleep_hook = fn;
}

void nh_reset(void)
{
  nh_locks_held = 0;
  nh_sleeps = 0;
  nh_wakeups = 0;
  sleep_hook = 0;
}

uint64_t vos_time_ms(void)
{
  return nh_now;
}

void vos_lock_init(vos_lock_t *lk, const char *name)
{
  lk->held = 0;
  lk->name = name;
}

void vos_lock(vos_lock_t *lk)
{
  if (lk->held)
    nh_fail("deadlock: lock %s taken while already held", lk->name);
  lk->held = 1;
  nh_locks_held++;
}

void vos_unlock(vos_lock_t *lk)
{
  if (!lk->held)
    nh_fail("vos_unlock(%s): not held", lk->name);
  lk->held = 0;
  nh_locks_held--;
}

void vos_sleep(void *chan, vos_lock_t *lk)
{
  if (!lk->held)
    nh_fail("vos_sleep: lock %s not held", lk->name);
  if (++nh_sleeps > SLEEP_LIMIT)
    nh_fail("stuck: %d sleeps", nh_sleeps);
  lk->held = 0;
  nh_locks_held--;
  if (sleep_hook)
    sleep_hook(chan);
  else
    nh_default_sleep(chan);
  if (lk->held)
    nh_fail("vos_sleep: lock %s still held by the sleep hook", lk->name);
  lk->held = 1;
  nh_locks_held++;
}

void vos_wakeup(void *chan)
{
  (void)chan;
  nh_wakeups++;
}

void vos_mb(void)
{
  __sync_synchronize();
}

void vos_log(const char *fmt, ...)
{
  va_list ap;

  if (!nh_verbose)
    return;
  // Indented, so a log line never looks like a PASS/FAIL line.
  fputs("    log: ", stdout);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}
