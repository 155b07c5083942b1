// devfiles.c: the device files of the virtio console and the entropy
// device, i.e. what read() and write() on /dev/vcons (major VCONSOLE),
// /dev/vport0.. (majors VPORT0 + n) and /dev/random (major RANDOM) do. The
// drivers themselves are portable and live in virtio/; vdev.c finds the
// devices and calls the *_attach functions here, which start the drivers
// and fill in devsw[]. A major whose device is missing keeps an empty
// devsw entry, so read() and write() on its file return -1.
//
// The virtio console may have several ports (QEMU: one per virtconsole or
// virtserialport). Every port n has its own file, /dev/vport<n>; the
// driver handles ports 0 .. VCONS_MAX_PORTS-1. /dev/vcons is the port for
// the second shell: the device's console port if it has one, else the
// first port that became ready (a plain virtserialport is port 1, since
// QEMU keeps port 0 for a virtconsole). The choice is made once, at the
// first use of /dev/vcons, after the driver has heard which ports the
// device has (vcons_settled; at most SETTLE_TICKS of waiting). init makes
// that first use with a read of 0 bytes, which fails when there is no
// port at all; it then prints which port it got (devinfo, DEVINFO_PORT_SHELL).
//
// devsw[] calls read and write with no minor number, so each port file
// has a major of its own and a pair of two-line functions below that name
// the port; xv6's devsw and its console stay as they are.
//
// The device nodes are made by mkfs (mkfs/mkfs.c puts /dev/console,
// /dev/vcons, /dev/random and /dev/vport0..3 on the disk), so they exist
// even on a read-only disk.
//
// The port files are raw: no echo, no line editing, bytes pass unchanged,
// with one exception borrowed from terminals: a Ctrl-D byte (0x04) is not
// data but "end of file" for the one read() that reaches it, so that `cat`
// on the second shell, or on another port, can be ended from the other side.
//
// Specs: the devices behind these files follow virtio 1.2 sections 5.3
// (console) and 5.4 (entropy); see their drivers. The byte stream itself
// is raw, with no terminal discipline beyond the Ctrl-D rule above.
//
// See it run: `make qemu`, then `nc localhost PORT` (PORT printed by make)
// for a shell on the virtio console; `lsdev -v` lists its ports; `rand`
// reads /dev/random; tests/qemu/test_vconsole.py and test_rng.py.
#include "types.h"
#include "param.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "devinfo.h"
#include "defs.h"
#include "virtio_console.h"
#include "virtio_rng.h"
#include "virtq_trace.h"

#define CTRL_D 0x04
#define SETTLE_TICKS 20   // 2 s: QEMU announces its ports within milliseconds

_Static_assert(VPORT0 + VCONS_MAX_PORTS <= NDEV, "a port's major must fit devsw[]");
_Static_assert(VCONS_MAX_PORTS <= DEVINFO_NPORT, "devinfo must list every port");

// The drivers' state, one device of each (static: the console's is tens of KB).
static struct vcons vcons_dev;
static struct vrng rng_dev;
static struct vcons *vcons;     // &vcons_dev once its driver is up
static struct vrng *rng;        // &rng_dev once its driver is up

// One reader at a time per port (`reading`, guarded by lock), so bytes
// come out in the order they came in; a killed process stops waiting for
// its turn. The driver hands us bytes in batches; a Ctrl-D in the middle
// of one splits it, and the bytes after it wait in `pending` for the next
// read(). /dev/vcons and /dev/vport<n> of the same port share this.
struct portfile {
  struct spinlock lock;
  int reading;
  uchar pending[256];
  int pend_off, pend_len;
};
static struct portfile portfiles[VCONS_MAX_PORTS];

// /dev/vcons's port, once chosen (shell_lock).
static struct spinlock shell_lock;
static int shell_chosen;
static int shell_port;

// The drivers' `interrupted` hook: a process that was killed stops waiting.
static int
proc_killed(void)
{
  struct proc *p = myproc();
  return p != 0 && killed(p);
}

// The port behind /dev/vcons, or -1 if the device has none (yet). The
// first call waits until the driver has heard the device's announcements,
// or SETTLE_TICKS have passed, and the answer it gets is kept.
static int
shell_port_get(void)
{
  uint t0;
  int p;

  if(vcons == 0)
    return -1;
  acquire(&tickslock);
  t0 = ticks;
  release(&tickslock);
  while(!vcons_settled(vcons) && !proc_killed()){
    acquire(&tickslock);
    if(ticks - t0 >= SETTLE_TICKS){
      release(&tickslock);
      break;
    }
    sleep(&ticks, &tickslock);
    release(&tickslock);
  }
  acquire(&shell_lock);
  if(!shell_chosen){
    // No port yet: nothing is kept, so a port that comes later can still be chosen.
    shell_port = vcons_pick_port(vcons);
    shell_chosen = shell_port >= 0;
  }
  p = shell_chosen ? shell_port : -1;
  release(&shell_lock);
  return p;
}

static int
reader_enter(struct portfile *pf)
{
  acquire(&pf->lock);
  while(pf->reading){
    if(proc_killed()){
      release(&pf->lock);
      return -1;
    }
    sleep(&pf->reading, &pf->lock);
  }
  pf->reading = 1;
  release(&pf->lock);
  return 0;
}

static void
reader_leave(struct portfile *pf)
{
  acquire(&pf->lock);
  pf->reading = 0;
  wakeup(&pf->reading);
  release(&pf->lock);
}

// The reader's turn: bytes from `pending`, refilled from the driver.
static int
read_pending(int port, struct portfile *pf, int user_dst, uint64 dst, int n)
{
  int r, m;

  if(pf->pend_off == pf->pend_len){
    r = vcons_read(vcons, port, pf->pending, sizeof(pf->pending), 0);   // sleeps for a byte
    if(r <= 0)
      return -1;
    pf->pend_off = 0;
    pf->pend_len = r;
  }
  if(pf->pending[pf->pend_off] == CTRL_D){
    pf->pend_off++;
    return 0;                 // end of file, this once
  }
  for(m = 0; m < n && pf->pend_off + m < pf->pend_len && pf->pending[pf->pend_off + m] != CTRL_D; m++)
    ;
  if(either_copyout(user_dst, dst, &pf->pending[pf->pend_off], m) < 0)
    return -1;
  pf->pend_off += m;
  return m;
}

// read() on port `port`'s file. A read of 0 bytes says whether the port
// is there (0) or not (-1).
static int
port_read(int port, int user_dst, uint64 dst, int n)
{
  struct vcons_port_info pi;
  int r;

  if(port < 0 || vcons == 0 || n < 0)
    return -1;
  if(n == 0)
    return vcons_port_info(vcons, port, &pi) == 0 && pi.present ? 0 : -1;
  if(reader_enter(&portfiles[port]) < 0)
    return -1;
  r = read_pending(port, &portfiles[port], user_dst, dst, n);
  reader_leave(&portfiles[port]);
  return r;
}

// write() on port `port`'s file. Copy the caller's bytes a page at a
// time; the driver then spreads each page over as many transmit buffers as
// it needs (many bytes per chain).
static int
port_write(int port, int user_src, uint64 src, int n)
{
  char *page;
  int done = 0;

  if(port < 0 || vcons == 0 || n < 0)
    return -1;
  if((page = kalloc()) == 0)
    return -1;
  while(done < n){
    int m = n - done;
    if(m > PGSIZE)
      m = PGSIZE;
    if(either_copyin(page, user_src, src + done, m) < 0)
      break;
    int r = vcons_write(vcons, port, page, m);
    if(r <= 0)
      break;
    done += r;
    if(r < m)
      break;                  // interrupted part way
  }
  kfree(page);
  return done > 0 || n == 0 ? done : -1;
}

// /dev/vcons: the shell's port.
static int vconsread(int u, uint64 a, int n)  { return port_read(shell_port_get(), u, a, n); }
static int vconswrite(int u, uint64 a, int n) { return port_write(shell_port_get(), u, a, n); }

// /dev/vport0 .. /dev/vport3: devsw passes no minor, so one pair per port.
static int vport0read(int u, uint64 a, int n)  { return port_read(0, u, a, n); }
static int vport0write(int u, uint64 a, int n) { return port_write(0, u, a, n); }
static int vport1read(int u, uint64 a, int n)  { return port_read(1, u, a, n); }
static int vport1write(int u, uint64 a, int n) { return port_write(1, u, a, n); }
static int vport2read(int u, uint64 a, int n)  { return port_read(2, u, a, n); }
static int vport2write(int u, uint64 a, int n) { return port_write(2, u, a, n); }
static int vport3read(int u, uint64 a, int n)  { return port_read(3, u, a, n); }
static int vport3write(int u, uint64 a, int n) { return port_write(3, u, a, n); }

static int (*const vportread[])(int, uint64, int) = {
  vport0read, vport1read, vport2read, vport3read,
};
static int (*const vportwrite[])(int, uint64, int) = {
  vport0write, vport1write, vport2write, vport3write,
};
_Static_assert(VCONS_MAX_PORTS <= NELEM(vportread), "a port without a file");

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

// Start the console driver on the probed device d and make /dev/vcons and
// the port files use it. 0, or -1 (the driver said why; the files stay empty).
int
vconsole_attach(struct vio_dev *d)
{
  if(vcons_init(&vcons_dev, d) < 0)
    return -1;
  for(int i = 0; i < VCONS_MAX_PORTS; i++){
    initlock(&portfiles[i].lock, "vport");
    devsw[VPORT0 + i].read = vportread[i];
    devsw[VPORT0 + i].write = vportwrite[i];
  }
  initlock(&shell_lock, "vcons shell");
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

// `lsdev -v`'s four counters (the names are in vdev.c's table): the sums
// over every port.
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

// The ports the device has now, for devinfo (lsdev -v, init).
void
vconsole_ports(struct devinfo *out)
{
  struct vcons_port_info pi;
  int shell;

  acquire(&shell_lock);
  shell = shell_chosen ? shell_port : -1;
  release(&shell_lock);
  out->nports = 0;
  for(int i = 0; i < VCONS_MAX_PORTS; i++){
    if(vcons_port_info(&vcons_dev, i, &pi) < 0 || !pi.present)
      continue;
    struct devinfo_port *dp = &out->port[out->nports++];
    dp->id = i;
    dp->flags = (pi.console ? DEVINFO_PORT_CONSOLE : 0) | (pi.guest_open ? DEVINFO_PORT_OPEN : 0) |
                (pi.host_open ? DEVINFO_PORT_HOST : 0) | (i == shell ? DEVINFO_PORT_SHELL : 0);
    dp->rx_bytes = pi.stats.rx_bytes;
    dp->tx_bytes = pi.stats.tx_bytes;
    safestrcpy(dp->name, pi.name, sizeof(dp->name));
  }
}

// /dev/vtrace (vdev.c's table): record every queue the console has (each
// port's receive and transmit queue, and with MULTIPORT the control
// queues), or stop. One lock covers them all.
int
vconsole_trace(struct vtrace *t, int on)
{
  char rx[] = "virtio-console port0 receiveq", tx[] = "virtio-console port0 transmitq";
  int r = 0;

  if(vcons == 0)
    return -1;
  vos_lock(&vcons->lock);
  for(int i = 0; i < vcons->nports; i++){
    struct vcons_port *p = &vcons->port[i];
    rx[19] = tx[19] = '0' + i;
    if(!on){
      virtq_trace_stop(&p->rxq);
      virtq_trace_stop(&p->txq);
    } else if(virtq_trace_start(&p->rxq, t, rx) < 0 || virtq_trace_start(&p->txq, t, tx) < 0){
      r = -1;
    }
  }
  if(vcons->multiport && !on){
    virtq_trace_stop(&vcons->crxq);
    virtq_trace_stop(&vcons->ctxq);
  } else if(vcons->multiport && r == 0){
    if(virtq_trace_start(&vcons->crxq, t, "virtio-console control receiveq") < 0 ||
       virtq_trace_start(&vcons->ctxq, t, "virtio-console control transmitq") < 0)
      r = -1;
  }
  vos_unlock(&vcons->lock);
  return r;
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

int
random_trace(struct vtrace *t, int on)
{
  int r = 0;

  if(rng == 0)
    return -1;
  vos_lock(&rng->lock);
  if(on)
    r = virtq_trace_start(&rng->vq, t, "virtio-rng requestq") < 0 ? -1 : 0;
  else
    virtq_trace_stop(&rng->vq);
  vos_unlock(&rng->lock);
  return r;
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
