// sysnet.c: the network system calls, UDP sockets as files, and the
// kernel's side of the portable network stack (net/: its timer tick,
// how a sleeping caller learns it was killed or timed out).
//
// A UDP socket is an open file of type FD_SOCK (file.h). udpbind() makes
// one; read() takes the next datagram, write() sends to the last address
// this socket sent to or heard from, close() unbinds the port; sendto()
// and recvfrom() name the address explicitly. The stack copies data to
// and from kernel memory only, so every call goes through a page from
// kalloc() between the user's buffer and the stack.
//
// Calls (numbers in syscall.h; prototypes for user programs in user.h):
//   udpbind(port)                          -> fd; port 0 picks a free one
//   sendto(fd, buf, n, ip, port)           -> n or -1 (n <= 1472)
//   recvfrom(fd, buf, n, &ip, &port, ms)   -> bytes; ms < 0 waits for ever,
//                                             0 polls, > 0 waits that long
//   icmpecho(ip, seq, len, ms)             -> round trip in ms, -1 no reply,
//                                             -2 the reply's data differed
//   netstat(i, name, &value)               -> 0, or -1 past the last counter
// Addresses and ports are host byte order numbers: 10.0.2.2 is 0x0a000202.
//
// Specs: none of its own; the protocols (RFC 768 UDP, RFC 792 ICMP echo,
// ...) are the stack's, listed in net/net.h.
//
// See it run: `make qemu`, then `ping 10.0.2.2`, `udpecho &`, `netstat`;
// `make check` runs tests/qemu/test_net.py.
#include "types.h"
#include "param.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "defs.h"
#include "net.h"
#include "virtio_net.h"
#include "virtq_trace.h"

static struct netif *nif;     // the one interface; 0 without a network device
static struct vnet vnet_dev;    // the driver's state for the one NIC
static struct vnet *vnet;       // &vnet_dev once it is up

// ---- sockets ----

struct sock {
  int used;
  struct udp_sock *u;
  uint32 peer_ip;             // write()'s destination; 0 = none yet
  uint16 peer_port;
};

static struct spinlock socklock;
static struct sock socks[NET_UDP_SOCKETS];

static struct sock *
sockalloc(void)
{
  struct sock *s = 0;

  acquire(&socklock);
  for(int i = 0; i < NET_UDP_SOCKETS; i++){
    if(!socks[i].used){
      s = &socks[i];
      s->used = 1;
      s->u = 0;
      s->peer_ip = 0;
      s->peer_port = 0;
      break;
    }
  }
  release(&socklock);
  return s;
}

static void
sockfree(struct sock *s)
{
  acquire(&socklock);
  s->used = 0;
  release(&socklock);
}

static void
setpeer(struct sock *s, uint32 ip, uint16 port)
{
  acquire(&socklock);
  s->peer_ip = ip;
  s->peer_port = port;
  release(&socklock);
}

// ---- timeouts and kill: the stack's "should a sleeper give up" hook ----

// A caller of recvfrom with a timeout registers its deadline here while it
// may sleep in the stack. The stack calls should_stop() from the sleeping
// process itself, at least every net_tick.
static struct spinlock waitlock;
static struct {
  struct proc *p;
  uint64 deadline_ms;
} waiters[NPROC];

static int
should_stop(void)
{
  struct proc *p = myproc();
  int stop = 0;

  if(p == 0)
    return 0;
  if(killed(p))
    return 1;
  acquire(&waitlock);
  for(int i = 0; i < NPROC; i++)
    if(waiters[i].p == p && vos_time_ms() >= waiters[i].deadline_ms)
      stop = 1;
  release(&waitlock);
  return stop;
}

static int
wait_begin(uint64 deadline_ms)
{
  int slot = -1;

  acquire(&waitlock);
  for(int i = 0; i < NPROC && slot < 0; i++){
    if(waiters[i].p == 0){
      waiters[i].p = myproc();
      waiters[i].deadline_ms = deadline_ms;
      slot = i;
    }
  }
  release(&waitlock);
  return slot;
}

static void
wait_end(int slot)
{
  if(slot < 0)
    return;
  acquire(&waitlock);
  waiters[slot].p = 0;
  release(&waitlock);
}

// ---- reads and writes through the file table (file.c calls these) ----

// One datagram into user memory at dst. Returns its length (cut to n).
static int
sock_recv(struct sock *s, uint64 dst, int n, int timeout_ms, uint32 *ip, uint16 *port)
{
  char *page;
  int r, slot = -1;

  if(n < 0 || (page = kalloc()) == 0)
    return -1;
  if(n > NET_UDP_MAX)
    n = NET_UDP_MAX;
  if(timeout_ms > 0){
    slot = wait_begin(vos_time_ms() + (uint64)timeout_ms);
    if(slot < 0){
      kfree(page);
      return -1;
    }
  }
  r = udp_recvfrom(s->u, page, n, ip, port, timeout_ms == 0);
  wait_end(slot);
  if(r > 0 && copyout(myproc()->pagetable, dst, page, r) < 0)
    r = -1;
  kfree(page);
  return r;
}

static int
sock_send(struct sock *s, uint64 src, int n, uint32 ip, int port)
{
  char *page;
  int r;

  if(n < 0 || n > NET_UDP_MAX || port <= 0 || port > 65535)
    return -1;
  if((page = kalloc()) == 0)
    return -1;
  r = -1;
  if(copyin(myproc()->pagetable, page, src, n) == 0)
    r = udp_sendto(s->u, ip, (uint16)port, page, n);
  kfree(page);
  return r;
}

int
sockread(struct file *f, uint64 addr, int n)
{
  uint32 ip;
  uint16 port;
  int r = sock_recv(f->sock, addr, n, -1, &ip, &port);

  if(r >= 0)
    setpeer(f->sock, ip, port);
  return r;
}

int
sockwrite(struct file *f, uint64 addr, int n)
{
  struct sock *s = f->sock;

  if(s->peer_ip == 0)
    return -1;                // nobody to send to yet: use sendto()
  return sock_send(s, addr, n, s->peer_ip, s->peer_port);
}

void
sockclose(struct sock *s)
{
  udp_close(s->u);
  sockfree(s);
}

// ---- system calls ----

// Argument n as an fd of the caller that is a socket.
static struct sock *
argsock(int n)
{
  int fd;
  struct file *f;

  argint(n, &fd);
  if(fd < 0 || fd >= NOFILE || (f = myproc()->ofile[fd]) == 0 || f->type != FD_SOCK)
    return 0;
  return f->sock;
}

uint64
sys_udpbind(void)
{
  int port, fd;
  struct sock *s;
  struct file *f;

  argint(0, &port);
  if(nif == 0 || port < 0 || port > 65535)
    return -1;
  if((s = sockalloc()) == 0)
    return -1;
  if((s->u = udp_open((uint16)port)) == 0){
    sockfree(s);
    return -1;
  }
  if((f = filealloc()) == 0){
    sockclose(s);
    return -1;
  }
  f->type = FD_SOCK;
  f->sock = s;
  f->readable = 1;
  f->writable = 1;
  if((fd = fdalloc(f)) < 0){
    fileclose(f);             // closes the socket too
    return -1;
  }
  return fd;
}

uint64
sys_sendto(void)
{
  struct sock *s = argsock(0);
  uint64 buf;
  int n, ip, port, r;

  argaddr(1, &buf);
  argint(2, &n);
  argint(3, &ip);
  argint(4, &port);
  if(s == 0)
    return -1;
  r = sock_send(s, buf, n, (uint32)ip, port);
  if(r >= 0)
    setpeer(s, (uint32)ip, (uint16)port);
  return r;
}

uint64
sys_recvfrom(void)
{
  struct sock *s = argsock(0);
  uint64 buf, ipaddr, portaddr;
  int n, timeout, r;
  uint32 ip = 0;
  uint16 port = 0;

  argaddr(1, &buf);
  argint(2, &n);
  argaddr(3, &ipaddr);
  argaddr(4, &portaddr);
  argint(5, &timeout);
  if(s == 0)
    return -1;
  r = sock_recv(s, buf, n, timeout, &ip, &port);
  if(r < 0)
    return -1;
  int iport = port;
  pagetable_t pt = myproc()->pagetable;
  if(ipaddr && copyout(pt, ipaddr, (char *)&ip, sizeof(ip)) < 0)
    return -1;
  if(portaddr && copyout(pt, portaddr, (char *)&iport, sizeof(iport)) < 0)
    return -1;
  setpeer(s, ip, port);
  return r;
}

uint64
sys_icmpecho(void)
{
  int ip, seq, len, timeout;
  uint32 from, rtt;
  uint16 id = myproc()->pid & 0xffff;
  char *page;
  int r;

  argint(0, &ip);
  argint(1, &seq);
  argint(2, &len);
  argint(3, &timeout);
  if(nif == 0 || len < 0 || len > NET_PING_MAX || timeout < 0 || timeout > 60000)
    return -1;
  if((page = kalloc()) == 0)
    return -1;
  // Request data: a pattern that depends on the sequence number, so a
  // late reply to an earlier ping cannot pass for this one.
  char *out = page, *back = page + 2048;
  for(int i = 0; i < len; i++)
    out[i] = (char)(i + seq);
  r = -1;
  if(icmp_ping(nif, (uint32)ip, id, (uint16)seq, out, len) == 0){
    r = icmp_wait_reply(id, (uint16)seq, timeout, back, len, &from, &rtt);
    if(r >= 0){
      int check = len < NET_PING_COPY ? len : NET_PING_COPY;
      r = (r == len && memcmp(out, back, check) == 0) ? (int)rtt : -2;
    }
  }
  kfree(page);
  return r;
}

// The stack's counters, then the driver's, then the interface's address.
static const char *vnet_names[] = {
  "vnet_rx_frames", "vnet_rx_bytes", "vnet_rx_short", "vnet_rx_bad_hdr",
  "vnet_rx_no_receiver", "vnet_tx_frames", "vnet_tx_bytes", "vnet_tx_ring_full",
  "vnet_tx_bad_len", "vnet_tx_reclaimed", "vnet_interrupts",
};
_Static_assert(sizeof(struct vnet_stats) == NELEM(vnet_names) * sizeof(uint32),
               "one name per struct vnet_stats counter");

uint64
sys_netstat(void)
{
  int i, nstack = net_stat_count(), ndrv = NELEM(vnet_names);
  uint64 nameaddr, valaddr, value = 0;
  const char *name;
  char buf[32];

  argint(0, &i);
  argaddr(1, &nameaddr);
  argaddr(2, &valaddr);
  if(nif == 0 || i < 0)
    return -1;
  if(i < nstack){
    struct net_stats st;
    net_get_stats(&st);
    name = net_stat_name(i);
    value = st.n[i];
  } else if(i < nstack + ndrv){
    struct vnet_stats vs;
    vnet_get_stats(vnet, &vs);
    name = vnet_names[i - nstack];
    value = ((uint32 *)&vs)[i - nstack];
  } else if(i == nstack + ndrv){
    name = "mac";             // 6 bytes, first byte most significant
    for(int k = 0; k < 6; k++)
      value = (value << 8) | nif->mac[k];
  } else if(i == nstack + ndrv + 1){
    name = "ip";
    value = nif->ip;
  } else {
    return -1;
  }
  safestrcpy(buf, (char *)name, sizeof(buf));
  pagetable_t pt = myproc()->pagetable;
  if(copyout(pt, nameaddr, buf, strlen(buf) + 1) < 0 ||
     copyout(pt, valaddr, (char *)&value, sizeof(value)) < 0)
    return -1;
  return 0;
}

// ---- start-up and the clock ----

// vdev.c found a network device: start its driver and the stack on it.
// 0, or -1 (the driver said why; the network calls then fail).
int
sysnet_attach(struct vio_dev *d)
{
  static struct netif the_nif;

  if(vnet_init(&vnet_dev, d) < 0)
    return -1;
  initlock(&socklock, "socks");
  initlock(&waitlock, "netwait");
  net_set_qemu_defaults(&the_nif);
  net_init(&the_nif);
  net_set_intr_check(should_stop);
  vnet_attach_netif(&vnet_dev, &the_nif);
  vnet = &vnet_dev;
  nif = &the_nif;
  return 0;
}

void
sysnet_intr(void)
{
  vnet_intr(&vnet_dev);
}

// `lsdev -v`'s four counters (the names are in vdev.c's table).
void
sysnet_counters(uint64 *v)
{
  struct vnet_stats st;
  vnet_get_stats(&vnet_dev, &st);
  v[0] = st.tx_frames;
  v[1] = st.rx_frames;
  v[2] = st.tx_ring_full;
  v[3] = st.interrupts;
}

// /dev/vtrace (vdev.c's table): record both queues, each under its own
// lock, or stop.
int
sysnet_trace(struct vtrace *t, int on)
{
  int r = 0;

  if(vnet == 0)
    return -1;
  vos_lock(&vnet->rx_lock);
  if(on)
    r = virtq_trace_start(&vnet->rxq, t, "virtio-net receiveq") < 0 ? -1 : 0;
  else
    virtq_trace_stop(&vnet->rxq);
  vos_unlock(&vnet->rx_lock);
  vos_lock(&vnet->tx_lock);
  if(on && r == 0)
    r = virtq_trace_start(&vnet->txq, t, "virtio-net transmitq") < 0 ? -1 : 0;
  else
    virtq_trace_stop(&vnet->txq);
  vos_unlock(&vnet->tx_lock);
  return r;
}

// From clockintr, on one hart, every tick: ARP timers and waking sleepers.
void
nettick(void)
{
  if(nif)
    net_tick();
}
