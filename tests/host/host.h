// host.h: the host test harness around the portable virtio core.
//
// vos_host.c implements virtio/virtio_os.h for a single-threaded
// Linux process:
//   - DMA memory comes from aligned_alloc (so AddressSanitizer watches it)
//     and gets a made-up "physical" address from 0x80000000 up. Only memory
//     from vos_dma_alloc has one: handing the device any other pointer (a
//     stack variable, say) is reported as a test failure, and the fake
//     device can only reach memory that is really allocated.
//   - vos_mmio_read32/write32 go to whichever fake device is attached at
//     that address (host_bus_attach).
//   - vos_sleep is the "scheduler": it may start another simulated caller
//     (host_set_spawn), otherwise it lets every fake device process its
//     queues and calls the interrupt handler of each device whose interrupt
//     is pending. So a blocking vblk_rw completes in one thread.
//   - A vos_sleep that makes no progress for a while calls the test's
//     watchdog (host_set_watchdog); after many more it aborts the test
//     (longjmp back to the runner) instead of hanging. So does a driver
//     that polls: a million lock acquisitions with no sleep in between.
//   - vos_mb counts barriers and calls the test's hook (host_set_mb_hook),
//     the moment a device running beside the driver may look at the rings.
//   - host_run is the runner every test program uses (see the end of
//     this file).
//
// Run: make -C tests/host check
#ifndef HOST_H
#define HOST_H
#include <stdint.h>
#include <stddef.h>
#include <setjmp.h>

struct host_dev_ops {
  uint32_t (*read)(void *dev, uint32_t off);
  void     (*write)(void *dev, uint32_t off, uint32_t val);
  void     (*run)(void *dev);          // process whatever the driver queued
  int      (*irq_pending)(void *dev);  // is the interrupt line up?
};

void  host_bus_attach(uintptr_t base, const struct host_dev_ops *ops, void *dev);
void  host_bus_detach(uintptr_t base);
void  host_set_irq_handler(uintptr_t base, void (*fn)(void *arg), void *arg);

// The device side's view of DMA memory: a pointer to [pa, pa+len) if that
// range lies inside one live vos_dma_alloc block, else NULL.
void *host_dma_ptr(uint64_t pa, uint64_t len);
int   host_dma_live(void);  // blocks allocated and not freed
void  host_dma_free_all(void);  // after an aborted test

// Scheduling hooks (see above). spawn returns 1 if it ran a caller.
void  host_set_spawn(int (*fn)(void *arg), void *arg);
void  host_set_watchdog(void (*fn)(void *arg), void *arg, int after_stalls);
// Run one scheduler step outside of any vos_sleep (devices, interrupts).
// It resets the stall count instead of adding to it.
void  host_step(void);
extern int host_irq_calls;     // interrupt handler invocations
extern int host_sleep_calls;   // vos_sleep calls
extern int host_mb_calls;      // vos_mb calls
// Call fn at every vos_mb (after the fence), until host_reset.
void  host_set_mb_hook(void (*fn)(void *arg), void *arg);

// Harness errors: misuse of the OS interface by the code under test
// (bus errors, non-DMA pointers, lock misuse). Checked after every test.
void        host_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *host_first_error(void);
// Abort the running test: longjmp to the runner's jmp_buf.
void        host_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void        host_set_abort_jmp(jmp_buf *jb);
const char *host_abort_reason(void);
// Forget all hooks, handlers, devices and errors between tests.
void        host_reset(void);
// 1: print vos_log lines (default), 0: keep them quiet.
extern int  host_verbose;
// The running test's most recent vos_log line (of its last 64, kept
// whatever host_verbose says) that contains `text`, or NULL.
const char *host_log_find(const char *text);

// ---- the test runner all three test programs share ----
//
// A test is a void function that states what must hold with expect(). The
// first failed expectation is kept (later ones usually just follow from
// it) and the test goes on, so it still frees what it allocated. Each test
// prints exactly one line, "PASS: name" or "FAIL: name: why", and every
// other line the programs print is indented, so the two cannot be confused.

#define HOST_FAILURE_MAX 512

// Record the first failed expectation of the running test; returns `ok`,
// so a test can stop with `if (!expect(...)) return;`.
int  expect(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// The failure recorded so far in the running test, or NULL.
const char *host_test_failure(void);
// Forget it, so a test can record it again with more context added.
void host_test_clear_failure(void);

// Called first by each test program's main, with its arguments: "-q" keeps
// vos_log quiet (each test starts at that verbosity, whatever the one
// before it left behind); names run only those tests (a name the program
// does not have fails); "-w WORD" puts WORD in every result line, "PASS
// WORD: name" (tools/labs/grade.py chooses one per run). setup and cleanup (either may be NULL) are
// what the program adds around each test: setup puts its fixtures in a
// known state; cleanup checks the devices and frees everything after the
// test. cleanup gets aborted = 1 when host_abort cut the test short: the
// drivers were left in the middle of something and their DMA memory is
// already taken back, so they must only be forgotten, not shut down.
void host_tests_begin(int argc, char **argv, void (*setup)(void),
                      void (*cleanup)(int aborted));
// Run one test: reset the harness, call fn, check what every test must
// leave behind (no DMA block still live, no misuse of the OS interface)
// and print the PASS/FAIL line.
//
// host_run does that twice, once for each ring layout: "name" with
// devices that offer only the split ring, then "name/packed" with modern
// devices that also offer VIRTIO_F_RING_PACKED, which the drivers then
// use (virtio 1.2 2.7 and 2.8). host_run_split is for tests that cannot
// have a packed ring: legacy devices (the bit is past their 32 feature
// bits), rings built by hand in the split layout. host_run_packed is for
// tests of the packed layout alone.
void host_run(const char *name, void (*fn)(void));
void host_run_split(const char *name, void (*fn)(void));
void host_run_packed(const char *name, void (*fn)(void));
// The layout of the test running now: 0 split, 1 packed. The device
// fixtures (devfix.c) offer VIRTIO_F_RING_PACKED exactly when it is 1.
extern int host_packed;
// Print how many tests failed; returns the program's exit status.
int  host_tests_done(void);

#endif
