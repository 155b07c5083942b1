// devfiles.c: the device files of the virtio console and the entropy
// device, i.e. what read() and write() on /dev/vcons (major VCONSOLE) and
// /dev/random (major RANDOM) do. The drivers themselves are portable and
// live in virtio/; vdev.c finds the devices and calls the *_attach
// functions here, which start the drivers and fill in devsw[]. A major
// whose device is missing
// keeps an empty devsw entry, so read() and write() on its file return -1
// (init relies on that to decide whether to start a second shell).
//
// The device nodes are made by mkfs (mkfs/mkfs.c puts /dev/console,
// /dev/vcons and /dev/random on the disk), so they exist even on a
// read-only disk.
//
// /dev/vcons is raw: no echo, no line editing, bytes pass unchanged, with
// one exception borrowed from terminals: a Ctrl-D byte (0x04) is not data
// but "end of file" for the one read() that reaches it, so that `cat` on
// the second shell can be ended from the other side.
//
// Specs: the devices behind these files follow virtio 1.2 sections 5.3
// (console) and 5.4 (entropy); see their drivers. The byte stream itself
// is raw, with no terminal discipline beyond the Ctrl-D rule above.
//
// See it run: `make qemu`, then `nc localhost PORT` (PORT printed by make)
// for a shell on the virtio console; `rand` reads /dev/random;
// tests/qemu/test_vconsole.py and test_rng.py.
#include "types.h"
#include "param.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "defs.h"
#include "virtio_console.h"
#include "virtio_rng.h"

#define CTRL_D 0x04

// The drivers' state, one device of each (static: a few KB each).
static struct vcons vcons_dev;
static struct vrng rng_dev;
static struct vcons *vcons;     // &vcons_dev once its driver is up
static struct vrng *rng;        // &rng_dev once its driver is up

// The virtio console hands us bytes in batches; a Ctrl-D in the middle of
// one splits it, and the bytes after it wait here for the next read().
// One reader at a time (`reading`, guarded by rlock), so bytes come out in
// the order they came in. A killed process stops waiting for its turn.
static struct spinlock rlock;
static int reading;
static uchar pending[256];
static int pend_off, pend_len;

// The drivers' `interrupted` hook: a process that was killed stops waiting.
static int
proc_killed(void)
{
  struct proc *p = myproc();
  return p != 0 && killed(p);
}

static int
reader_enter(void)
{
  acquire(&rlock);
  while(reading){
    if(proc_killed()){
      release(&rlock);
      return -1;
    }
    sleep(&reading, &rlock);
  }
  reading = 1;
  release(&rlock);
  return 0;
}

static void
reader_leave(void)
{
  acquire(&rlock);
  reading = 0;
  wakeup(&reading);
  release(&rlock);
}

// The reader's turn: bytes from `pending`, refilled from the driver.
static int
read_pending(int user_dst, uint64 dst, int n)
{
  int r, m;

  if(pend_off == pend_len){
    r = vcons_read(vcons, pending, sizeof(pending), 0);   // sleeps for a byte
    if(r <= 0)
      return -1;
    pend_off = 0;
    pend_len = r;
  }
  if(pending[pend_off] == CTRL_D){
    pend_off++;
    return 0;                 // end of file, this once
  }
  for(m = 0; m < n && pend_off + m < pend_len && pending[pend_off + m] != CTRL_D; m++)
    ;
  if(either_copyout(user_dst, dst, &pending[pend_off], m) < 0)
    return -1;
  pend_off += m;
  return m;
}

static int
vconsread(int user_dst, uint64 dst, int n)
{
  int r;

  if(n <= 0)
    return n == 0 ? 0 : -1;   // a 0-byte read tells init the device is there
  if(reader_enter() < 0)
    return -1;
  r = read_pending(user_dst, dst, n);
  reader_leave();
  return r;
}

// Copy the caller's bytes a page at a time; the driver then spreads each
// page over as many transmit buffers as it needs (many bytes per chain).
static int
vconswrite(int user_src, uint64 src, int n)
{
  char *page;
  int done = 0;

  if(n < 0)
    return -1;
  if((page = kalloc()) == 0)
    return -1;
  while(done < n){
    int m = n - done;
    if(m > PGSIZE)
      m = PGSIZE;
    if(either_copyin(page, user_src, src + done, m) < 0)
      break;
    int r = vcons_write(vcons, page, m);
    if(r <= 0)
      break;
    done += r;
    if(r < m)
      break;                  // interrupted part way
  }
  kfree(page);
  return done > 0 || n == 0 ? done : -1;
}

static int
randomread(int user_dst, uint64 dst, int n)
{
  uchar buf[64];
  int done = 0;

  if(n < 0)
    return -1;
  while(done < n && !proc_killed()){
    int m = n - done;
    if(m > (int)sizeof(buf))
      m = sizeof(buf);
    int r = vrng_read(rng, buf, m);
    if(r <= 0)
      break;
    if(either_copyout(user_dst, dst + done, buf, r) < 0)
      break;
    done += r;
  }
  return done > 0 || n == 0 ? done : -1;
}

// ---- binding (vdev.c's driver table) ----

// Start the console driver on the probed device d and make /dev/vcons
// use it. 0, or -1 (the driver said why; the device file stays empty).
int
vconsole_attach(struct vio_dev *d)
{
  if(vcons_init(&vcons_dev, d) < 0)
    return -1;
  initlock(&rlock, "vconsread");
  vcons_dev.interrupted = proc_killed;
  vcons = &vcons_dev;
  devsw[VCONSOLE].read = vconsread;
  devsw[VCONSOLE].write = vconswrite;
  return 0;
}

void
vconsole_intr(void)
{
  vcons_intr(&vcons_dev);
}

// `lsdev -v`'s four counters (the names are in vdev.c's table).
void
vconsole_counters(uint64 *v)
{
  struct vcons_stats st;
  vcons_get_stats(&vcons_dev, &st);
  v[0] = st.tx_bytes;
  v[1] = st.tx_buffers;
  v[2] = st.rx_bytes;
  v[3] = st.interrupts;
}

int
random_attach(struct vio_dev *d)
{
  if(vrng_init(&rng_dev, d) < 0)
    return -1;
  rng_dev.interrupted = proc_killed;
  rng = &rng_dev;
  devsw[RANDOM].read = randomread;
  devsw[RANDOM].write = 0;    // nothing to mix our bytes into: writing fails
  return 0;
}

void
random_intr(void)
{
  vrng_intr(&rng_dev);
}

void
random_counters(uint64 *v)
{
  struct vrng_stats st;
  vrng_get_stats(&rng_dev, &st);
  v[0] = st.requests;
  v[1] = st.bytes;
  v[2] = st.short_reads;
  v[3] = st.interrupts;
}
