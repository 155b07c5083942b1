// scfuzz.c: a system-call fuzzer. Several processes call every system call
// of kernel/syscall.h over and over with random and extreme arguments:
// pointers into the kernel's half of the address space (mapped in every
// process's page table without PTE_U, see kernel/memlayout.h), past the
// Sv39 limit, into the stack's guard page, into read-only text and into
// unmapped memory; strings with no NUL before an unmapped page; huge,
// negative and truncated (junk in the upper 32 bits) sizes, fds, pids and
// counts; crafted ELF files for exec; children that are killed while they
// sleep in the kernel. Where the right answer is known it is checked: a
// bad pointer gives -1 and copies nothing, open and dup return the lowest
// free fd, a pipe holds exactly what was written, a killed child's status
// is -1, user code that touches the kernel's pages dies, exec refuses an
// ELF that would load over the kernel, no memory is lost by the end.
//
//   scfuzz [-s seed] [-n calls] [-t seconds] [-p workers]
//
// defaults: a seed from the clock, 1000000 calls, 10 seconds, 4 workers.
// It prints the seed first and ends with "scfuzz: seed S: PASSED" or a
// "scfuzz: FAILED" line naming the seed, the worker, the iteration and
// the call; the exit status is 0 or 1. A seed gives every worker the same
// first choices again; later ones follow the kernel's answers, so with
// several workers a rerun may part ways where the timing differs.
//
// What it never does: halt; kill a process it did not start (pids are
// its children's or ones that cannot exist); exit the parent; name a file
// outside its own directory /scfuzz.d except to read it ("/", "/README",
// "/console", "/dev/random", and "/echo" to exec in a child); leave memory
// taken (every sbrk is undone in the same step; the steps that take all
// free memory run alone, before and after the workers); block for ever
// (a read of an empty pipe it also writes, a console or socket read
// without timeout, a long sleep: such calls are made only when they
// cannot block, or in a child that is then killed). A worker that reports
// no progress for STALL_SECONDS is a kernel hang: the parent says where
// the worker was, kills it and fails.
//
// Follows: the RISC-V privileged spec's Sv39 (4.4: 39-bit virtual
// addresses, so MAXVA and beyond can never be mapped) and the ELF-64 gABI
// for the crafted executables (kernel/elf.h).
//
// See it run: `make qemu`, then `scfuzz -s 1 -t 5`. `make check` runs a
// short fixed-seed run, then usertests -q, then fsck on the disk image
// (tests/qemu/test_scfuzz.py); `make fuzz MINUTES=10` runs new seeds until
// the time is up and stops at the first failure (tests/qemu/fuzz.py).
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "kernel/riscv.h"
#include "kernel/memlayout.h"
#include "kernel/syscall.h"
#include "kernel/fs.h"
#include "kernel/elf.h"
#include "kernel/vm.h"
#include "user/user.h"

#define BASE          "/scfuzz.d"
#define MAXWORKERS    8
#define SCRATCH       (64 * 1024)   // each process's buffer, at the top of its heap
#define STALL_SECONDS 30
#define TICKS_PER_SEC 10            // sleep() and uptime() count tenths of a second
#define CHILD_OPS     20            // random calls a forked child makes
#define NELEM(a)      (sizeof(a) / sizeof((a)[0]))
#define PIPESIZE      512           // a pipe's buffer (kernel/pipe.c keeps it private)

// ---------------------------------------------------------------------
// Raw system calls: all six argument registers are ours to choose, so an
// int argument can carry junk in its upper 32 bits (the kernel must use
// only the lower half, as the C ABI says).

static uint64
sc(int num, uint64 a0, uint64 a1, uint64 a2, uint64 a3, uint64 a4, uint64 a5)
{
  register uint64 x10 asm("a0") = a0;
  register uint64 x11 asm("a1") = a1;
  register uint64 x12 asm("a2") = a2;
  register uint64 x13 asm("a3") = a3;
  register uint64 x14 asm("a4") = a4;
  register uint64 x15 asm("a5") = a5;
  register uint64 x17 asm("a7") = num;

  asm volatile("ecall"
               : "+r"(x10)
               : "r"(x11), "r"(x12), "r"(x13), "r"(x14), "r"(x15), "r"(x17)
               : "memory");
  return x10;
}

// ---------------------------------------------------------------------
// State of this process (the parent, a worker, or a worker's child).

static uint64 seed;
static int wid = -1;            // worker number; -1 in the parent
static int iter;                // the worker's current iteration
static const char *opname = "-";
static uint64 rs;               // random state
static char *scratch;           // SCRATCH bytes; nothing mapped after them
static uint64 heapend;          // sbrk(0): the end of this process's memory
static uint64 guardpage;        // the stack's guard page (mapped, no PTE_U)
static int mypid;
static int statusfd = -1;       // write end of the parent's status pipe
static char mydir[32];          // BASE "/wN"
static int ischild;             // a worker's forked child
static uint lastuptime;
static uint64 lastrtime;

static uint64
rnd(void)
{
  // xorshift64*: small, fast and good enough to pick arguments.
  rs ^= rs >> 12;
  rs ^= rs << 25;
  rs ^= rs >> 27;
  return rs * 2685821657736338717ULL;
}

static uint64
below(uint64 n)
{
  return n == 0 ? 0 : rnd() % n;
}

static int
chance(int percent)
{
  return below(100) < (uint64)percent;
}

// ---------------------------------------------------------------------
// Reporting to the parent: one 32-byte record per write. All records
// have this size and PIPESIZE (512) is a multiple of it, so a record is
// never split: it fits whole or the writer waits.

enum { R_BEAT, R_CHILD, R_DONE, R_FAIL, R_TICK };

struct rec {
  short worker;
  short type;
  int iter;
  int op;
  int pid;
  uint64 a0, a1;
};

static int curop;

static void
report(int type, uint64 a0, uint64 a1)
{
  struct rec r;

  if(statusfd < 0)
    return;
  r.worker = wid;
  r.type = type;
  r.iter = iter;
  r.op = curop;
  r.pid = mypid;
  r.a0 = a0;
  r.a1 = a1;
  if(write(statusfd, &r, sizeof(r)) != sizeof(r))
    exit(3);     // the parent is gone: nobody to report to
}

// A wrong answer from the kernel: say what, and stop this process.
static void __attribute__((noreturn))
fail(const char *fmt, uint64 a, uint64 b, uint64 c)
{
  // One fprintf for the whole line, so that it comes out in as few
  // writes as printf can manage, not mixed with the kernel's messages.
  static char line[256];
  const char *head = "scfuzz: FAILED: seed %lu worker %d%s iteration %d call %s: ";

  if(strlen(head) + strlen(fmt) + 2 > sizeof(line))
    fmt = "(message too long)";
  strcpy(line, head);
  strcpy(line + strlen(line), fmt);
  strcpy(line + strlen(line), "\n");
  fprintf(2, line, seed, wid, ischild ? " (child)" : "", iter, opname, a, b, c);
  report(R_FAIL, 0, 0);
  exit(1);
}

// ---------------------------------------------------------------------
// The fd table as this process knows it. Each call that makes or frees
// an fd updates it, and checks the kernel agrees (the lowest free fd is
// the one handed out). Pipes carry a copy of the bytes in them: a read is
// made only when it cannot block (bytes there, or no writer left) and a
// write only when it fits (or no reader is left), and what a read returns
// must be what was written, in order.

enum { K_NONE, K_FILE, K_DIR, K_DEV, K_RANDOM, K_PIPER, K_PIPEW, K_SOCK, K_STATUS };

struct fdslot {
  int kind;
  int pipe;     // K_PIPER, K_PIPEW: index into pipes[]
};

struct pipestate {
  int count;    // bytes in it
  int head;     // where the oldest of them is in data[]
  char data[PIPESIZE];   // what they must be, in order
  int rfds;     // our fds on each end
  int wfds;
};

static struct fdslot fds[NOFILE];
static struct pipestate pipes[NOFILE];

static int
lowest_free(void)
{
  for(int fd = 0; fd < NOFILE; fd++)
    if(fds[fd].kind == K_NONE)
      return fd;
  return -1;
}

static int
is_open(int fd)
{
  return fd >= 0 && fd < NOFILE && fds[fd].kind != K_NONE;
}

static void
track(int fd, int kind, int pipe)
{
  fds[fd].kind = kind;
  fds[fd].pipe = pipe;
  if(kind == K_PIPER)
    pipes[pipe].rfds++;
  if(kind == K_PIPEW)
    pipes[pipe].wfds++;
}

static void
untrack(int fd)
{
  if(fds[fd].kind == K_PIPER)
    pipes[fds[fd].pipe].rfds--;
  if(fds[fd].kind == K_PIPEW)
    pipes[fds[fd].pipe].wfds--;
  fds[fd].kind = K_NONE;
}

// A new fd from open, dup, udpbind or pipe: it must be the lowest free one.
static void
check_new_fd(int fd, int kind, int pipe)
{
  int want = lowest_free();

  if(fd != want)
    fail("got fd %ld, but the lowest free fd is %ld", fd, want, 0);
  track(fd, kind, pipe);
}

static void
close_all(void)
{
  for(int fd = 3; fd < NOFILE; fd++){
    if(fds[fd].kind == K_NONE || fds[fd].kind == K_STATUS)
      continue;
    if(close(fd) != 0)
      fail("close of open fd %ld failed", fd, 0, 0);
    untrack(fd);
  }
}

// Every fd the kernel has open for us is one we know of, and the other
// way round: dup() succeeds exactly on the open ones.
static void
check_fds(void)
{
  int nopen = 0;

  for(int fd = 0; fd < NOFILE; fd++)
    nopen += fds[fd].kind != K_NONE;
  for(int fd = 0; fd < NOFILE; fd++){
    if(fds[fd].kind == K_STATUS)
      continue;
    int r = dup(fd);
    if(fds[fd].kind == K_NONE){
      if(r >= 0)
        fail("fd %ld is open, but nothing this process did opened it (dup gave %ld)",
             fd, r, 0);
    } else if(nopen < NOFILE){
      if(r < 0)
        fail("fd %ld is closed, but it was never closed", fd, 0, 0);
      if(r != lowest_free())
        fail("dup gave fd %ld, but the lowest free fd is %ld", r, lowest_free(), 0);
      close(r);
    }
  }
}

// ---------------------------------------------------------------------
// Arguments.

// An int from the values that break code: limits, page sizes, signs.
static int
xint(void)
{
  static const int edge[] = {
    0, 1, -1, 2, 16, 511, 512, 513, 4095, 4096, 4097, 65535, 65536,
    0x7fffffff, (int)0x80000000, -4096, 1 << 20, 1 << 30, (int)0xffff0000,
  };

  if(chance(25))
    return (int)rnd();
  if(chance(35))
    return below(64);
  return edge[below(NELEM(edge))];
}

// An int argument as a register value: usually sign-extended as the C ABI
// passes it, sometimes with random upper bits the kernel must ignore.
static uint64
iarg(int v)
{
  if(chance(25))
    return (rnd() << 32) | (uint)v;
  return (uint64)(long)v;
}

// Addresses whose first byte no user access may touch.
static const uint64 kernel_addrs[] = {
  KERNBASE, KERNBASE + 8, KERNLOAD, KERNLOAD + 0x1234, PHYSTOP - 8, PHYSTOP,
  DEVBASE, KDEV(UART0), KDEV(VIRTIO0), KDEV(PLIC), KDEV(DEVTOP - 8), KSTACKS, KSTACK(0), KSTACK(1) - 8,
  KSTACK(NPROC - 1), TRAPFRAME, TRAPFRAME + 0x100, TRAMPOLINE, MAXVA - 8,
};
static const uint64 beyond_addrs[] = {
  MAXVA, MAXVA + PGSIZE, 1UL << 40, 1UL << 63, ~0UL, ~0UL - 7, 0xffffffc080200000UL,
  0xffffffff80000000UL, 0x8000000000000000UL | KERNLOAD,
};

// Pointer classes, by what the kernel may do with [p, p+len): all of it,
// some of it (it runs into unmapped memory), read it but not write it
// (our text), nothing at all.
enum { P_GOOD, P_EDGE, P_RO, P_BAD };

// The kernel must not write there.
static int
nowrite(int cls)
{
  return cls == P_RO || cls == P_BAD;
}

static int
in_scratch(uint64 p, uint64 len)
{
  uint64 s = (uint64)scratch;
  return p >= s && p <= s + SCRATCH && len <= s + SCRATCH - p;
}

// A pointer the kernel will write up to len bytes to. Good pointers lie
// in scratch, at the very top of our memory, so that a kernel writing
// more than asked can hurt nothing but scratch; no pointer into our own
// data or stack is ever offered for writing.
static uint64
outptr(uint64 len, int *cls)
{
  uint64 end = (uint64)scratch + SCRATCH;

  switch(below(12)){
  case 0: case 1: case 2: case 3:
    if(len <= SCRATCH){
      *cls = P_GOOD;
      return (uint64)scratch + below(SCRATCH - len + 1);
    }
    *cls = P_EDGE;
    return (uint64)scratch;
  case 4:
    *cls = P_EDGE;           // runs into unmapped memory after k bytes
    return end - 1 - below(len < 64 ? 64 : len);
  case 5:
    *cls = P_BAD;            // unmapped: just past our memory, or far past it
    return chance(50) ? heapend + below(64) : heapend + PGSIZE * (1 + below(1000));
  case 6:
    *cls = P_BAD;
    return guardpage + below(PGSIZE);
  case 7:
    *cls = P_RO;             // text: readable, not writable
    return (uint64)&sc + below(64);
  case 8: case 9:
    *cls = P_BAD;
    return kernel_addrs[below(NELEM(kernel_addrs))];
  case 10:
    *cls = P_BAD;
    return beyond_addrs[below(NELEM(beyond_addrs))];
  default: {
    // Anything at all, but never inside our own memory.
    uint64 p = rnd() >> below(40);
    *cls = P_BAD;
    if(p < heapend + PGSIZE)
      p = heapend + PGSIZE + p % PGSIZE;
    return p;
  }
  }
}

// A pointer the kernel will read up to len bytes from: anything
// outptr() offers, and also our text, data and stack.
static uint64
inptr(uint64 len, int *cls)
{
  static char data[64] = "initialized data of scfuzz, read by the kernel";

  if(chance(15)){
    *cls = len <= 64 ? P_GOOD : P_EDGE;
    return chance(50) ? (uint64)data : (uint64)&sc;
  }
  return outptr(len, cls);
}

// ---------------------------------------------------------------------
// Path names. Only names inside the worker's own directory are written;
// a few absolute names are offered to open() read-only.

// The ../shared names are BASE/shared from a worker's directory, where all
// workers meet (from a subdirectory they stay inside the worker's own tree;
// a name never climbs more than one level).
static const char *names[] = {
  "f0", "f1", "f2", "d0", "d1", "d0/f0", "d0/d1", "d0/d1/f0", "d1/f1", "d0/f0/x",
  "", ".", "d0/.", "d0/", "d0//f1", "f1/", "./f2",
  "../shared", "../shared/f0", "../shared/f1", "../shared/d0", "../shared/d0/f0",
};
static const char *ro_names[] = { "/", "/README", "/console", "/dev/random" };
static char longname[300];
static char randname[24];

// Fill the last k bytes of scratch with non-NUL bytes: a string there has
// no terminator before the unmapped page after it.
static uint64
unterminated(uint64 k)
{
  char *end = scratch + SCRATCH;

  memset(end - k, 'u', k);
  return (uint64)(end - k);
}

// A path argument. *bad: the kernel must refuse it (-1) whatever the call.
// ro: an absolute name of an existing file may come back (for open
// O_RDONLY only).
static uint64
path(int *bad, int ro, const char **lit)
{
  int cls;

  *bad = 0;
  *lit = 0;
  switch(below(16)){
  case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
    *lit = names[below(NELEM(names))];
    return (uint64)*lit;
  case 8: {
    // A random name: bytes 1..255 but no '/', starting at 0x80 so that it
    // can never be "." or "..". The kernel truncates it at DIRSIZ.
    int n = 1 + below(sizeof(randname) - 1);
    for(int i = 0; i < n; i++){
      randname[i] = 1 + below(255);
      if(randname[i] == '/')
        randname[i] = 'x';
    }
    randname[0] = 0x80 | randname[0];
    randname[n] = 0;
    return (uint64)randname;
  }
  case 9: {
    // MAXPATH - 1 characters fit, MAXPATH do not.
    static const int lens[] = { MAXPATH - 1, MAXPATH, MAXPATH + 1, 200, 299 };
    int n = lens[below(NELEM(lens))];
    memset(longname, 'a', n);
    longname[n] = 0;
    *bad = n >= MAXPATH;
    return (uint64)longname;
  }
  case 10:
    *bad = 1;
    return unterminated(1 + below(MAXPATH + 64));
  case 11:
    if(ro){
      *lit = ro_names[below(NELEM(ro_names))];
      return (uint64)*lit;
    }
    *lit = names[0];
    return (uint64)*lit;
  default: {
    uint64 p = outptr(MAXPATH, &cls);
    if(cls == P_GOOD || cls == P_EDGE){
      // A name of plain letters there (never whatever earlier calls left
      // in scratch: that could spell an absolute path). Near the end of
      // scratch it may run into the unmapped page before its NUL.
      char *c = (char *)p, *end = scratch + SCRATCH;
      int n = below(MAXPATH + 8);
      for(int i = 0; i < n && c + i < end; i++)
        c[i] = 'g' + below(8);
      if(c + n < end)
        c[n] = 0;
      *bad = c + n >= end || n >= MAXPATH;
      return p;
    }
    *bad = cls == P_BAD;   // our text reads as some string: allowed
    return p;
  }
  }
}

// An fd argument: one we have open (most often), or one that is not.
static int
pickfd(void)
{
  static const int wild[] = { -1, (int)0x80000000, NOFILE, NOFILE + 1, 1000, 0x7fffffff };

  if(chance(70)){
    int fd = below(NOFILE);
    for(int i = 0; i < NOFILE; i++, fd = (fd + 1) % NOFILE)
      if(fds[fd].kind != K_NONE && fds[fd].kind != K_STATUS)
        return fd;
  }
  if(chance(50)){
    int fd = below(NOFILE);
    for(int i = 0; i < NOFILE; i++, fd = (fd + 1) % NOFILE)
      if(fds[fd].kind == K_NONE)
        return fd;
  }
  return wild[below(NELEM(wild))];
}

// A count of bytes: small, a page's worth, or extreme.
static int
pickn(void)
{
  if(chance(50))
    return below(600);
  if(chance(30))
    return below(9000);
  return xint();
}

// ---------------------------------------------------------------------
// The calls. Each op_ function makes one call (or a short sequence) and
// checks what it can.

static void
op_read(void)
{
  int cls, fd = pickfd(), n = pickn();
  int kind = is_open(fd) ? fds[fd].kind : K_NONE;
  struct pipestate *pp = kind == K_PIPER ? &pipes[fds[fd].pipe] : 0;

  // Reads that could wait for ever are not made. That includes reads of
  // 0 bytes: a pipe or socket read waits for data before it looks at n.
  if(n >= 0){
    if(kind == K_DEV || kind == K_SOCK || kind == K_STATUS)
      return;
    if(pp && pp->count == 0 && pp->wfds > 0)
      return;
    if(kind == K_RANDOM && n > 4096)
      n = 4096;
  }
  uint64 p = outptr(n < 0 ? 0 : n, &cls);
  report(R_BEAT, fd, ((uint64)kind << 32) | (uint)n);
  long r = sc(SYS_read, iarg(fd), p, iarg(n), 0, 0, 0);
  if((kind == K_NONE || n < 0) && r != -1)
    fail("read(fd %ld, n %ld) gave %ld, not -1", fd, n, r);
  if(nowrite(cls) && r > 0)
    fail("read into bad address 0x%lx gave %ld bytes", p, r, 0);
  if(n >= 0 && r > n)
    fail("read of %ld bytes gave %ld", n, r, 0);
  if(pp && n >= 0){
    int want = n < pp->count ? n : pp->count;
    if(cls == P_GOOD && r != want)
      fail("read of %ld bytes from a pipe holding %ld gave %ld", n, pp->count, r);
    if(nowrite(cls) && r != -1 && !(want == 0 && r == 0))
      fail("pipe read into a bad address gave %ld, not -1", r, 0, 0);
    if(r > pp->count)
      fail("a pipe read gave %ld bytes, but only %ld were written", r, pp->count, 0);
    // The bytes, in the order they went in. (A reader gets at least the
    // first r bytes of its buffer readable: the kernel wrote them.)
    for(long i = 0; i < r && i < pp->count; i++){
      if(((char *)p)[i] != pp->data[(pp->head + i) % PIPESIZE])
        fail("pipe read: byte %ld of %ld differs from what was written", i, r, 0);
    }
    if(r > 0){
      pp->head = (pp->head + r) % PIPESIZE;
      pp->count -= r;
    }
  }
}

static void
op_write(void)
{
  int cls, fd = pickfd(), n = pickn();
  int kind = is_open(fd) ? fds[fd].kind : K_NONE;
  struct pipestate *pp = kind == K_PIPEW ? &pipes[fds[fd].pipe] : 0;
  uint64 p = inptr(n < 0 ? 0 : n, &cls);

  if(n > 0){
    // Writes that could wait for ever (a full pipe we also read) are not
    // made; console writes only from bad addresses (nothing printed).
    if(pp && pp->rfds > 0 && n > PIPESIZE - pp->count)
      return;
    if((kind == K_DEV || kind == K_STATUS) && cls != P_BAD)
      return;
    if(kind == K_SOCK && n > 2048)
      return;
  }
  report(R_BEAT, fd, ((uint64)kind << 32) | (uint)n);
  long r = sc(SYS_write, iarg(fd), p, iarg(n), 0, 0, 0);
  if((kind == K_NONE || n < 0) && r != -1)
    fail("write(fd %ld, n %ld) gave %ld, not -1", fd, n, r);
  if(cls == P_BAD && r > 0)
    fail("write from bad address 0x%lx gave %ld bytes", p, r, 0);
  if(n >= 0 && r > n)
    fail("write of %ld bytes gave %ld", n, r, 0);
  if(pp && n >= 0){
    if(pp->rfds == 0 && n > 0 && r != -1)
      fail("write to a pipe with no reader gave %ld, not -1", r, 0, 0);
    if(pp->rfds > 0 && cls == P_GOOD && r != n)
      fail("write of %ld bytes to a pipe with room for %ld gave %ld", n,
           PIPESIZE - pp->count, r);
    if(r > PIPESIZE - pp->count)
      fail("a pipe write gave %ld, but there was room for %ld", r, PIPESIZE - pp->count, 0);
    // The kernel copied the first r bytes from p, so we can read them too.
    for(long i = 0; i < r && pp->count < PIPESIZE; i++){
      pp->data[(pp->head + pp->count) % PIPESIZE] = ((char *)p)[i];
      pp->count++;
    }
  }
}

static void
op_pipe(void)
{
  int cls;
  uint64 p = outptr(2 * sizeof(int), &cls);
  int before = lowest_free();
  long r = sc(SYS_pipe, p, 0, 0, 0, 0, 0);

  if(r == 0 && !in_scratch(p, 2 * sizeof(int)))
    fail("pipe() with a bad array address 0x%lx succeeded", p, 0, 0);
  if(r == 0){
    int *fd = (int *)p;
    int pi = 0;
    while(pi < NOFILE && (pipes[pi].rfds || pipes[pi].wfds))
      pi++;
    pipes[pi].count = 0;
    pipes[pi].head = 0;
    if(fd[0] != before)
      fail("pipe's read fd is %ld, but the lowest free is %ld", fd[0], before, 0);
    track(fd[0], K_PIPER, pi);
    check_new_fd(fd[1], K_PIPEW, pi);
  } else if(r != -1){
    fail("pipe() gave %ld", r, 0, 0);
  }
}

static void
op_close(void)
{
  int fd = pickfd();

  if(fd >= 0 && fd <= 2)
    return;      // our console; without it a failure could not be reported
  if(fd >= 0 && fd < NOFILE && fds[fd].kind == K_STATUS)
    return;
  long r = sc(SYS_close, iarg(fd), 0, 0, 0, 0, 0);
  if(is_open(fd)){
    if(r != 0)
      fail("close of open fd %ld gave %ld", fd, r, 0);
    untrack(fd);
  } else if(r != -1){
    fail("close of fd %ld, not open, gave %ld", fd, r, 0);
  }
}

static void
op_dup(void)
{
  int fd = pickfd();
  long r;

  if(fd >= 0 && fd < NOFILE && fds[fd].kind == K_STATUS)
    return;
  r = sc(SYS_dup, iarg(fd), 0, 0, 0, 0, 0);
  if(!is_open(fd)){
    if(r != -1)
      fail("dup of fd %ld, not open, gave %ld", fd, r, 0);
    return;
  }
  if(r == -1){
    if(lowest_free() >= 0)
      fail("dup of open fd %ld failed with fd %ld free", fd, lowest_free(), 0);
    return;
  }
  check_new_fd(r, fds[fd].kind, fds[fd].pipe);
}

static int
omode(void)
{
  static const int modes[] = {
    O_RDONLY, O_WRONLY, O_RDWR, O_CREATE | O_RDWR, O_CREATE | O_WRONLY | O_TRUNC,
    O_TRUNC | O_RDONLY, O_CREATE, O_WRONLY | O_RDWR, -1, 0x7fffffff,
  };

  if(chance(10))
    return (int)rnd();
  return modes[below(NELEM(modes))];
}

static void
op_open(void)
{
  int bad, mode = omode();
  const char *lit;
  uint64 p = path(&bad, mode == O_RDONLY, &lit);
  int before = lowest_free();
  long r = sc(SYS_open, p, iarg(mode), 0, 0, 0, 0);
  struct stat st;

  if(bad && r != -1)
    fail("open of a bad path (0x%lx) gave %ld", p, r, 0);
  if(r == -1)
    return;
  if(r < 0 || r >= NOFILE)
    fail("open gave %ld", r, 0, 0);
  if(before < 0)
    fail("open gave fd %ld, but no fd was free", r, 0, 0);
  if(fstat(r, &st) != 0)
    fail("fstat of the fd open just gave (%ld) failed", r, 0, 0);
  int kind = K_DEV;
  if(st.type == T_FILE)
    kind = K_FILE;
  else if(st.type == T_DIR)
    kind = K_DIR;
  else if(lit && strcmp(lit, "/dev/random") == 0)
    kind = K_RANDOM;
  check_new_fd(r, kind, 0);
}

static void
op_fstat(void)
{
  int cls, fd = pickfd();
  uint64 p = outptr(sizeof(struct stat), &cls);
  long r = sc(SYS_fstat, iarg(fd), p, 0, 0, 0, 0);

  if(!is_open(fd) && r != -1)
    fail("fstat of fd %ld, not open, gave %ld", fd, r, 0);
  if(nowrite(cls) && r != -1)
    fail("fstat into bad address 0x%lx gave %ld", p, r, 0);
  int k = is_open(fd) ? fds[fd].kind : K_NONE;
  if(cls == P_GOOD && (k == K_FILE || k == K_DIR) && r != 0)
    fail("fstat of open file fd %ld gave %ld", fd, r, 0);
}

static void op_namecall(void);

static void
op_chdir(void)
{
  int bad;
  const char *lit;
  uint64 p = path(&bad, 0, &lit);
  long r = sc(SYS_chdir, p, 0, 0, 0, 0, 0);

  if(bad && r != -1)
    fail("chdir to a bad path (0x%lx) gave %ld", p, r, 0);
  if(r == 0){
    // One call relative to the new directory, then back home.
    op_namecall();
    if(chdir(mydir) != 0)
      fail("chdir back to %s failed", (uint64)mydir, 0, 0);
  }
}

static void
op_mkdir(void)
{
  int bad;
  const char *lit;
  uint64 p = path(&bad, 0, &lit);
  long r = sc(SYS_mkdir, p, 0, 0, 0, 0, 0);

  if(bad && r != -1)
    fail("mkdir of a bad path (0x%lx) gave %ld", p, r, 0);
  if(lit && (strcmp(lit, ".") == 0 || strcmp(lit, "") == 0) && r != -1)
    fail("mkdir(\"%s\") gave %ld", (uint64)lit, r, 0);
}

static void
op_mknod(void)
{
  int bad, major = chance(50) ? (int)below(NDEV + 2) - 1 : xint();
  int minor = chance(50) ? (int)below(4) : xint();
  const char *lit;
  uint64 p = path(&bad, 0, &lit);
  long r = sc(SYS_mknod, p, iarg(major), iarg(minor), 0, 0, 0);

  if(bad && r != -1)
    fail("mknod of a bad path (0x%lx) gave %ld", p, r, 0);
  // The kernel takes the numbers as shorts: out of range they must be refused.
  if((major < 0 || major >= NDEV || minor < 0 || minor > 32767) && r != -1)
    fail("mknod with major %ld minor %ld gave %ld", major, minor, r);
}

static void
op_unlink(void)
{
  int bad;
  const char *lit;
  uint64 p = path(&bad, 0, &lit);
  long r = sc(SYS_unlink, p, 0, 0, 0, 0, 0);

  if(bad && r != -1)
    fail("unlink of a bad path (0x%lx) gave %ld", p, r, 0);
  if(lit && (strcmp(lit, ".") == 0 || strcmp(lit, "d0/.") == 0 || strcmp(lit, "") == 0) &&
     r != -1)
    fail("unlink(\"%s\") gave %ld", (uint64)lit, r, 0);
}

static void
op_link_or_rename(void)
{
  int bad1, bad2, num = chance(50) ? SYS_link : SYS_rename;
  const char *lit1, *lit2;
  uint64 p1 = path(&bad1, 0, &lit1);
  // The second path may overwrite the first's bytes (both can be in
  // longname or scratch): take its choice, then look again.
  uint64 p2 = path(&bad2, 0, &lit2);
  long r = sc(num, p1, p2, 0, 0, 0, 0);

  if(bad2 && r != -1)
    fail("link/rename to a bad path (0x%lx) gave %ld", p2, r, 0);
}

// One call that names a file, for op_chdir to make from elsewhere.
static void
op_namecall(void)
{
  switch(below(5)){
  case 0: op_open(); break;
  case 1: op_mkdir(); break;
  case 2: op_mknod(); break;
  case 3: op_unlink(); break;
  default: op_link_or_rename(); break;
  }
}

// argv for exec: arrays of good strings, too many of them, bad pointers
// in them or for them, strings longer than a page, no terminating 0.
static uint64
pickargv(int *bad)
{
  uint64 *v = (uint64 *)scratch;
  int n, cls;
  char *s = scratch + 8 * 64;

  *bad = 0;
  switch(below(7)){
  case 0: case 1:
    n = below(MAXARG + 3);
    strcpy(s, "arg");
    for(int i = 0; i < n; i++)
      v[i] = (uint64)s;
    v[n] = 0;
    *bad = n >= MAXARG;
    return (uint64)v;
  case 2:
    v[0] = (uint64)s;
    strcpy(s, "x");
    v[1] = outptr(8, &cls);
    v[2] = 0;
    *bad = cls == P_BAD;
    return (uint64)v;
  case 3:
    // A string of PGSIZE characters: one more than fetchstr takes.
    memset(s, 'L', PGSIZE);
    s[PGSIZE] = 0;
    v[0] = (uint64)s;
    v[1] = 0;
    *bad = 1;
    return (uint64)v;
  case 4: {
    // No 0 before the unmapped page: pointers to the very end.
    uint64 *end = (uint64 *)(scratch + SCRATCH);
    for(int i = 1; i <= 16; i++)
      end[-i] = (uint64)s;
    strcpy(s, "y");
    *bad = 1;
    return (uint64)(end - 1 - below(16));
  }
  case 5:
    v[0] = unterminated(1 + below(PGSIZE + 8));
    v[1] = 0;
    *bad = 1;
    return (uint64)v;
  default: {
    uint64 p = outptr(8, &cls);
    *bad = cls == P_BAD;
    return p;
  }
  }
}

// exec in the worker itself, always of something that cannot run: the
// worker must get -1 back and carry on.
static void
op_exec_fails(void)
{
  int badpath, badargv;
  const char *lit;
  uint64 p, argv = pickargv(&badargv);

  if(chance(30)){
    static const char *notprog[] = { "/", "/README", "/console", ".", "d0", "f0", "nosuch" };
    p = (uint64)notprog[below(NELEM(notprog))];
  } else {
    p = path(&badpath, 0, &lit);
  }
  long r = sc(SYS_exec, p, argv, 0, 0, 0, 0);
  if(r != -1)
    fail("exec of something that is no program gave %ld", r, 0, 0);
}

static void
check_break(const char *when)
{
  uint64 b = (uint64)sbrk(0);

  if(b != heapend)
    fail("the break is 0x%lx, not 0x%lx, %s", b, heapend, (uint64)when);
}

static void
op_sbrk(void)
{
  long r;

  switch(below(4)){
  case 0: {
    // Eager growth by up to 8 MB: fresh pages read as zeros; then give
    // them back.
    int n = PGSIZE * (1 + below(2048)) - below(2) * below(PGSIZE);
    r = sc(SYS_sbrk, iarg(n), SBRK_EAGER, 0, 0, 0, 0);
    if(r == -1)
      return;       // memory is short right now: allowed
    if(r != heapend)
      fail("sbrk(%ld) gave 0x%lx, not the old break 0x%lx", n, r, heapend);
    char *p = (char *)r;
    if(p[0] != 0 || p[n - 1] != 0)
      fail("fresh sbrk memory at 0x%lx is not zero", r, 0, 0);
    p[0] = p[n - 1] = 1;
    r = sc(SYS_sbrk, iarg(-n), SBRK_EAGER, 0, 0, 0, 0);
    if(r != heapend + n)
      fail("shrinking by %ld gave 0x%lx", n, r, 0);
    check_break("after growing and shrinking");
    break;
  }
  case 1: {
    // Lazy growth by up to 1 GB, a few pages touched, given back.
    int n = (int)(below(1 << 30) & ~(PGSIZE - 1)) + PGSIZE;
    r = sc(SYS_sbrk, iarg(n), SBRK_LAZY, 0, 0, 0, 0);
    if(r != heapend)
      fail("sbrklazy(%ld) gave 0x%lx, not 0x%lx", n, r, heapend);
    for(int i = 0; i < 4; i++){
      char *p = (char *)r + below(n);
      if(*p != 0)
        fail("lazy page at 0x%lx is not zero", (uint64)p, 0, 0);
      *p = 7;
    }
    r = sc(SYS_sbrk, iarg(-n), SBRK_LAZY, 0, 0, 0, 0);
    if(r != heapend + n)
      fail("shrinking lazy memory by %ld gave 0x%lx", n, r, 0);
    check_break("after lazy growth and shrinking");
    break;
  }
  case 2: {
    // Shrinking by more than we have: refused (-1) or ignored (xv6
    // returns the old break), but the break must not move.
    static const int huge[] = { (int)0x80000000, -0x7fffffff, -(1 << 30) };
    int n = huge[below(NELEM(huge))];
    r = sc(SYS_sbrk, iarg(n), below(3), 0, 0, 0, 0);
    if(r != -1 && r != heapend)
      fail("sbrk(%ld) gave 0x%lx", n, r, 0);
    check_break("after a shrink below zero");
    break;
  }
  default:
    // sbrk(0) in either mode, with junk in the mode register.
    r = sc(SYS_sbrk, iarg(0), rnd(), 0, 0, 0, 0);
    if(r != heapend)
      fail("sbrk(0) gave 0x%lx, not 0x%lx", r, heapend, 0);
    break;
  }
}

static void
op_sleep(void)
{
  static const int n[] = { -1, (int)0x80000000, 0, 1, -100 };
  int v = n[below(NELEM(n))];
  uint t0 = uptime();
  long r = sc(SYS_sleep, iarg(v), 0, 0, 0, 0, 0);
  uint t1 = uptime();

  if(r != 0)
    fail("sleep(%ld) gave %ld", v, r, 0);
  if(v <= 0 && t1 - t0 > 5 * TICKS_PER_SEC)
    fail("sleep(%ld) took %ld ticks", v, t1 - t0, 0);
}

static void
op_clocks(void)
{
  uint up = uptime();
  uint64 rt = rtime();

  if(getpid() != mypid)
    fail("getpid gave %ld, fork said %ld", getpid(), mypid, 0);
  if(up < lastuptime)
    fail("uptime went back from %ld to %ld", lastuptime, up, 0);
  if(rt < lastrtime)
    fail("rtime went back from %ld to %ld", lastrtime, rt, 0);
  lastuptime = up;
  lastrtime = rt;
}

static void
op_wait_nochild(void)
{
  int cls;
  uint64 p = outptr(4, &cls);
  long r = sc(SYS_wait, chance(30) ? 0 : p, 0, 0, 0, 0, 0);

  if(r != -1)
    fail("wait with no children gave %ld", r, 0, 0);
}

static void
op_kill_nobody(void)
{
  // pids that cannot exist: never anyone else's process.
  static const int pid[] = { -1, 0, (int)0x80000000, 0x7fffffff, 1 << 30, -2 };
  int v = pid[below(NELEM(pid))];
  long r = sc(SYS_kill, iarg(v), 0, 0, 0, 0, 0);

  if(r != -1)
    fail("kill(%ld) gave %ld", v, r, 0);
}

static void
op_devinfo(void)
{
  int cls, idx = chance(50) ? (int)below(10) : xint();
  uint64 p = outptr(64, &cls);
  long r = sc(SYS_devinfo, iarg(idx), p, 0, 0, 0, 0);

  if(r != 0 && r != -1)
    fail("devinfo(%ld) gave %ld", idx, r, 0);
  if(nowrite(cls) && r != -1)
    fail("devinfo into bad address 0x%lx gave %ld", p, r, 0);
  if(idx < 0 && r != -1)
    fail("devinfo(%ld) gave %ld", idx, r, 0);
}

static void
op_netstat(void)
{
  int c1, c2, i = chance(60) ? (int)below(40) : xint();
  uint64 name = outptr(32, &c1), val = outptr(8, &c2);
  long r = sc(SYS_netstat, iarg(i), name, val, 0, 0, 0);

  if(r != 0 && r != -1)
    fail("netstat(%ld) gave %ld", i, r, 0);
  if((nowrite(c1) || nowrite(c2)) && r != -1)
    fail("netstat into bad addresses 0x%lx 0x%lx gave 0", name, val, 0);
}

// Addresses for the network calls: never anything beyond the machine
// (10.0.2.15 is the guest itself, nobody answers at 10.0.2.99).
static uint
pickip(void)
{
  static const uint ip[] = { 0x0a00020f, 0x0a000263, 0, 0xffffffff };
  return ip[below(NELEM(ip))];
}

static void
op_udpbind(void)
{
  int port = chance(50) ? (int)(2000 + below(20)) : xint();
  long r = sc(SYS_udpbind, iarg(port), 0, 0, 0, 0, 0);

  if((port < 0 || port > 65535) && r != -1)
    fail("udpbind(%ld) gave %ld", port, r, 0);
  if(r >= 0)
    check_new_fd(r, K_SOCK, 0);
}

static void
op_sendto(void)
{
  int cls, fd = pickfd(), n = chance(50) ? (int)below(1600) : xint();
  int port = chance(50) ? (int)(2000 + below(20)) : xint();
  uint64 p = inptr(n < 0 ? 0 : n, &cls);
  long r = sc(SYS_sendto, iarg(fd), p, iarg(n), pickip(), iarg(port), 0);

  if((!is_open(fd) || fds[fd].kind != K_SOCK) && r != -1)
    fail("sendto on fd %ld, not a socket, gave %ld", fd, r, 0);
  if((n < 0 || n > 1472) && r != -1)
    fail("sendto of %ld bytes gave %ld", n, r, 0);
  if(cls == P_BAD && n > 0 && r != -1)
    fail("sendto from bad address 0x%lx gave %ld", p, r, 0);
}

static void
op_recvfrom(void)
{
  int c1, c2, c3, fd = pickfd(), n = pickn();
  int sock = is_open(fd) && fds[fd].kind == K_SOCK;
  // A socket read without a timeout would wait for ever.
  int timeout = sock ? (int)below(3) * 5 : xint();
  uint64 p = outptr(n < 0 ? 0 : n, &c1);
  uint64 ip = chance(30) ? 0 : outptr(4, &c2);
  uint64 port = chance(30) ? 0 : outptr(4, &c3);
  long r = sc(SYS_recvfrom, iarg(fd), p, iarg(n), ip, port, iarg(timeout));

  if(!sock && r != -1)
    fail("recvfrom on fd %ld, not a socket, gave %ld", fd, r, 0);
}

static void
op_icmpecho(void)
{
  int len = chance(50) ? (int)below(1500) : xint();
  int timeout = chance(70) ? (int)below(20) : xint();

  if(timeout > 50 && timeout <= 60000)
    timeout = 50;
  long r = sc(SYS_icmpecho, pickip(), iarg(xint()), iarg(len), iarg(timeout), 0, 0);
  if((len < 0 || len > 1472 || timeout < 0 || timeout > 60000) && r != -1)
    fail("icmpecho(len %ld, timeout %ld) gave %ld", len, timeout, r);
}

static void
op_diskmode(void)
{
  // Switching the driver's mode is rare; asking and nonsense are common.
  static const int m[] = { -1, -1, 2, -2, (int)0x80000000, 0x7fffffff, 0, 1 };
  int v = m[below(chance(3) ? NELEM(m) : NELEM(m) - 2)];
  long r = sc(SYS_diskmode, iarg(v), 0, 0, 0, 0, 0);

  if(v == -1 && r != 0 && r != 1)
    fail("diskmode(-1) gave %ld", r, 0, 0);
  if(v != -1 && v != 0 && v != 1 && r != -1)
    fail("diskmode(%ld) gave %ld", v, r, 0);
  if((v == 0 || v == 1) && r != v && r != -1)
    fail("diskmode(%ld) gave %ld", v, r, 0);
}

static void
op_blkbench(void)
{
  int cls, reqsize, depth, nreq, wr;

  if(chance(30)){
    // Small enough to be quick; writes fail (no scratch area past the
    // file system on this disk) or go to that area only.
    reqsize = 512 * (1 + below(8));
    depth = 1 + below(4);
    nreq = 1 + below(4);
    wr = below(2);
  } else {
    reqsize = xint();
    depth = xint();
    nreq = chance(50) ? xint() : 0;
    wr = xint();
  }
  int valid = reqsize >= 512 && reqsize % 512 == 0 && reqsize <= 256 * 1024 &&
              depth >= 1 && depth <= 32 && nreq >= 1 && nreq <= 1000000 &&
              (wr == 0 || wr == 1);
  if(valid && (nreq > 8 || reqsize > 4096 || depth > 4))
    return;      // a real benchmark: too long for here
  uint64 p = outptr(256, &cls);
  long r = sc(SYS_blkbench, iarg(reqsize), iarg(depth), iarg(nreq), iarg(wr), p, 0);
  if(!valid && r != -1)
    fail("blkbench(%ld, %ld, ...) with bad arguments gave %ld", reqsize, depth, r);
  if(nowrite(cls) && r == 0)
    fail("blkbench wrote its result to bad address 0x%lx", p, 0, 0);
}

static void
op_sync(void)
{
  int fd = pickfd();
  long r;

  switch(below(8)){
  case 0:
    r = sc(SYS_dropcache, 0, 0, 0, 0, 0, 0);
    if(r < 0)
      fail("dropcache gave %ld", r, 0, 0);
    break;
  case 1: case 2: case 3:
    if(sync() != 0)
      fail("sync failed", 0, 0, 0);
    break;
  default:
    r = sc(SYS_fsync, iarg(fd), 0, 0, 0, 0, 0);
    if(!is_open(fd) && r != -1)
      fail("fsync of fd %ld, not open, gave %ld", fd, r, 0);
    break;
  }
}

static void
op_nosuchcall(void)
{
  // Numbers with no call behind them (the kernel prints a line for each).
  static const int num[] = { 0, 29, 32, 39, 45, 64, 1000, -1, 0x7fffffff };
  int v = num[below(NELEM(num))];
  long r = sc(v, rnd(), rnd(), rnd(), rnd(), rnd(), rnd());

  if(r != -1)
    fail("system call number %ld gave %ld", v, r, 0);
}

// ---------------------------------------------------------------------
// Calls made from a forked child, which is waited for (and maybe killed)
// in the same step. A child first drops its pipes, so that its parent's
// byte counts stay true. It keeps the status pipe: its records tell the
// parent where it is, should it hang.

static void
become_child(void)
{
  ischild = 1;
  mypid = getpid();
  for(int fd = 3; fd < NOFILE; fd++){
    int k = fds[fd].kind;
    if(k == K_PIPER || k == K_PIPEW){
      close(fd);
      untrack(fd);
    }
  }
}

// Fork; in the child run fn, which must exit. In the parent wait for the
// child and return its exit status; -2 if fork failed (no process slot
// free: allowed).
static int
in_child(void (*fn)(void), int killafter)
{
  int pid = fork();

  if(pid < 0)
    return -2;
  if(pid == 0){
    become_child();
    fn();
    exit(0);
  }
  report(R_CHILD, pid, 0);
  if(killafter){
    sleep(killafter);
    if(kill(pid) != 0)
      fail("kill of our own child %ld gave -1", pid, 0, 0);
  }
  if(chance(20)){
    // A status address the kernel cannot write: -1, and the child stays
    // for a wait with a good address.
    int cls;
    uint64 bad;
    do
      bad = outptr(4, &cls);
    while(!nowrite(cls));
    long r = sc(SYS_wait, bad, 0, 0, 0, 0, 0);
    if(r != -1)
      fail("wait with status address 0x%lx gave %ld, not -1", bad, r, 0);
  }
  int status = 12345;
  int w = wait(&status);
  if(w != pid)
    fail("wait gave %ld, not our only child %ld", w, pid, 0);
  report(R_CHILD, 0, 0);
  return status;
}

static int exit_value;

static void
child_exit(void)
{
  exit(exit_value);
}

static void
op_fork_exit(void)
{
  exit_value = chance(50) ? (int)below(256) : xint();
  int st = in_child(child_exit, 0);
  if(st != -2 && st != exit_value)
    fail("child exited with %ld, wait said %ld", exit_value, st, 0);
}

static void
op_fork_many(void)
{
  int pids[6], n = 2 + below(5), st;

  for(int i = 0; i < n; i++){
    pids[i] = fork();
    if(pids[i] == 0){
      become_child();
      exit(20 + i);
    }
  }
  int forked = 0;
  for(int i = 0; i < n; i++)
    forked += pids[i] > 0;
  for(int k = 0; k < forked; k++){
    int w = wait(&st);
    int j = st - 20;
    if(j < 0 || j >= n || pids[j] != w)
      fail("wait gave pid %ld with status %ld; no child of ours matches", w, st, 0);
    pids[j] = -1;
  }
  if(wait(0) != -1)
    fail("a child is left after all were collected", 0, 0, 0);
}

// Fork until the process table is full, every child waiting on a pipe;
// then close the pipe (they all see end of file and exit) and collect
// them. Meanwhile every other fork in the system fails: they must cope.
static void
op_fork_fill(void)
{
  int p[2], n = 0, st;
  char c;

  if(pipe(p) != 0)
    return;
  for(;;){
    int pid = fork();
    if(pid < 0)
      break;
    if(pid == 0){
      become_child();
      close(p[1]);
      exit(read(p[0], &c, 1) == 0 ? 0 : 56);
    }
    n++;
  }
  report(R_BEAT, n, 0);
  close(p[0]);
  close(p[1]);
  for(int i = 0; i < n; i++){
    int w = wait(&st);
    if(w < 0 || st != 0)
      fail("child %ld of %ld (pid %ld) of a full process table ended badly", i, n, w);
  }
  if(n >= NPROC)
    fail("%ld forks succeeded: more than the %ld process slots", n, NPROC, 0);
}

// Send standard output and error to the file "out": children that exec
// programs must not print on the console.
static void
output_to_file(void)
{
  close(1);
  if(open("out", O_CREATE | O_WRONLY | O_TRUNC) != 1)
    exit(90);
  close(2);
  if(dup(1) != 2)
    exit(91);
}

static void
child_exec_echo(void)
{
  static char *argv[MAXARG];
  static char words[MAXARG][16];
  int n = 1 + below(MAXARG - 2);

  output_to_file();
  argv[0] = "echo";
  for(int i = 1; i < n; i++){
    int len = below(15);
    for(int k = 0; k < len; k++)
      words[i][k] = 'a' + below(26);
    words[i][len] = 0;
    argv[i] = words[i];
  }
  argv[n] = 0;
  exec("/echo", argv);
  exit(77);
}

static int bigarg_len;

static void
child_exec_bigargs(void)
{
  static char *argv[MAXARG];
  char *s = scratch;

  output_to_file();
  memset(s, 'B', bigarg_len);
  s[bigarg_len] = 0;
  argv[0] = s;
  argv[1] = bigarg_len < 2000 ? s : 0;   // many copies of a short one
  for(int i = 2; argv[1] && i < MAXARG - 1; i++)
    argv[i] = s;
  exec("/echo", argv);
  exit(77);
}

static void
op_fork_exec(void)
{
  int st;

  if(chance(50)){
    st = in_child(child_exec_echo, 0);
    if(st != -2 && st != 0)
      fail("exec of /echo: the child's status is %ld", st, 0, 0);
    return;
  }
  // One argument of 3000 bytes fits the one-page stack; 31 of 100 bytes
  // do too; 4095 (4 KB with its NUL, no room left for argv[]) and 31 of
  // 1999 do not, and exec must say so instead of running the program.
  static const int lens[] = { 3000, 100, 4095, 1999 };
  int k = below(NELEM(lens));
  bigarg_len = lens[k];
  st = in_child(child_exec_bigargs, 0);
  if(st == -2)
    return;
  if(k < 2 && st != 0)
    fail("exec with arguments that fit (%ld bytes): status %ld", bigarg_len, st, 0);
  if(k >= 2 && st != 77)
    fail("exec with arguments too big for the stack (%ld bytes): status %ld, not 77",
         bigarg_len, st, 0);
}

// ---- crafted ELF files ----
//
// A minimal RISC-V executable: the file header, two program headers (the
// second counts only when phnum says 2), and four instructions that exit
// with status 42. Each mutation breaks one thing and says which outcomes
// are right: 42 (it ran), 77 (exec refused it), -1 (it ran and was
// killed by a fault).

#define CODE_OFF 176
enum { RAN = 1, REFUSED = 2, KILLED = 4, ANY = 8 };

static const uint code[] = {
  0x02a00513,   // li a0, 42
  0x00200893,   // li a7, SYS_exit (2)
  0x00000073,   // ecall
  0x0000006f,   // j . (not reached)
};

static int
make_elf(char *buf, int m, uint64 *filelen)
{
  struct elfhdr *eh = (struct elfhdr *)buf;
  struct proghdr *ph = (struct proghdr *)(buf + sizeof(*eh));
  int expect = RAN;

  memset(buf, 0, CODE_OFF + sizeof(code));
  eh->ident[0] = ELFMAG0;
  eh->ident[1] = ELFMAG1;
  eh->ident[2] = ELFMAG2;
  eh->ident[3] = ELFMAG3;
  eh->ident[EI_CLASS] = ELFCLASS64;
  eh->ident[EI_DATA] = ELFDATA2LSB;
  eh->ident[EI_VERSION] = EV_CURRENT;
  eh->type = ET_EXEC;
  eh->machine = EM_RISCV;
  eh->version = EV_CURRENT;
  eh->entry = CODE_OFF;
  eh->phoff = sizeof(*eh);
  eh->ehsize = sizeof(*eh);
  eh->phentsize = sizeof(*ph);
  eh->phnum = 1;
  ph[0].type = PT_LOAD;
  ph[0].flags = PF_R | PF_X;
  ph[0].off = 0;
  ph[0].vaddr = 0;
  ph[0].filesz = CODE_OFF + sizeof(code);
  ph[0].memsz = ph[0].filesz;
  ph[0].align = PGSIZE;
  ph[1] = ph[0];
  memmove(buf + CODE_OFF, code, sizeof(code));
  *filelen = CODE_OFF + sizeof(code);

  switch(m){
  case 0: break;
  case 1: ph[0].vaddr = KERNBASE; eh->entry += KERNBASE; expect = REFUSED; break;
  case 2: ph[0].vaddr = USERTOP - PGSIZE; ph[0].memsz = 2 * PGSIZE; expect = REFUSED; break;
  case 3: ph[0].vaddr = 0xfffffffffffff000UL; expect = REFUSED; break;
  case 4: ph[0].memsz = ph[0].filesz - 1; expect = REFUSED; break;
  case 5: eh->phoff = 0x100000000UL; expect = REFUSED; break;
  case 6: eh->phnum = 0xffff; expect = REFUSED; break;
  case 7: eh->entry = KERNLOAD; expect = KILLED; break;
  case 8: ph[0].filesz = 0x100000; ph[0].memsz = 0x100000; expect = REFUSED; break;
  case 9: ph[0].off = 0xffffffffffffff00UL; expect = REFUSED; break;
  case 10: eh->phnum = 2; expect = REFUSED; break;           // overlaps the first
  case 11: eh->type = 3; expect = REFUSED; break;             // ET_DYN
  case 12: eh->machine = 62; expect = REFUSED; break;         // x86-64
  case 13: eh->ident[EI_CLASS] = 1; expect = REFUSED; break;  // 32-bit
  case 14: eh->phentsize = 32; expect = REFUSED; break;
  case 15: ph[0].memsz = 2 * 1024 * 1024; break;              // a big bss
  case 16: ph[0].flags = PF_R | PF_W; expect = KILLED; break; // not executable
  case 17: ph[0].type = 0; expect = KILLED; break;            // nothing loaded
  case 18: *filelen = 40; expect = REFUSED; break;            // header cut short
  case 19: eh->entry = MAXVA + 16; expect = KILLED; break;
  case 20:
    ph[1].vaddr = KERNBASE - PGSIZE;                          // second segment crosses
    ph[1].memsz = 2 * PGSIZE;                                 // into the kernel
    eh->phnum = 2;
    expect = REFUSED;
    break;
  default: {
    // Random values in a few header fields (never the entry point or the
    // code: random instructions could make any system call at all).
    static const uint64 v[] = {
      0, 1, 8, 56, 64, 0xffff, 0x1000, KERNBASE, USERTOP - 1, MAXVA, ~0UL, 1UL << 32,
    };
    for(int k = 1 + below(3); k > 0; k--){
      uint64 x = chance(50) ? v[below(NELEM(v))] : rnd();
      switch(below(9)){
      case 0: eh->phoff = x; break;
      case 1: eh->phnum = x; break;
      case 2: ph[0].off = x; break;
      case 3: ph[0].filesz = x; break;
      case 4: ph[0].memsz = x < (1 << 20) ? x : 1 << 20; break;  // never a memory hog
      case 5: ph[0].flags = x; break;
      case 6: ph[0].type = x; break;
      case 7: ph[1].vaddr = x; ph[1].memsz = x & 0xfffff; eh->phnum = 2; break;
      default: *filelen = x % (*filelen + 1); break;
      }
    }
    // A segment at a high address would make exec allocate every page
    // below it (xv6's memory is one range from 0): keep it low here.
    if(ph[0].vaddr + ph[0].memsz >= 4 * 1024 * 1024 && ph[0].vaddr < USERTOP)
      ph[0].vaddr = 0;
    if(ph[1].vaddr + ph[1].memsz >= 4 * 1024 * 1024 && ph[1].vaddr < USERTOP)
      ph[1].vaddr = 0x10000;
    expect = ANY;
    break;
  }
  }
  return expect;
}

#define NMUTATIONS 21
static int elf_mutation;
static uint64 elf_len;

// The file is in scratch already (made by the parent before fork).
static void
child_exec_elf(void)
{
  char name[8];
  char *argv[2] = { "elf", 0 };

  name[0] = 'e';
  name[1] = 'l';
  name[2] = 'f';
  name[3] = '0' + wid;
  name[4] = 0;
  int fd = open(name, O_CREATE | O_WRONLY | O_TRUNC);
  if(fd < 0)
    exit(88);
  if(write(fd, scratch, elf_len) != elf_len)
    exit(89);
  close(fd);
  exec(name, argv);
  exit(77);
}

static void
op_fork_elf(void)
{
  elf_mutation = below(NMUTATIONS + 5);   // five in 26 of the random kind
  int expect = make_elf(scratch, elf_mutation, &elf_len);
  int st = in_child(child_exec_elf, 0);
  if(st == -2 || st == 88 || st == 89)
    return;   // no process, or the disk is full
  int got = st == 42 ? RAN : st == 77 ? REFUSED : st == -1 ? KILLED : 0;
  if(!(expect & ANY) && !(expect & got))
    fail("crafted ELF number %ld: status %ld; expected %ld (1 ran, 2 refused, 4 killed)",
         elf_mutation, st, expect);
}

// ---- children that are killed while they wait ----

static int pipefd[2];
static int block_kind;

static void
child_block(void)
{
  char c;

  switch(block_kind){
  case 0: read(pipefd[0], &c, 1); break;         // empty pipe, writer alive
  case 1: sleep(1000); break;
  case 2: for(;;) ; break;                        // spinning in user mode
  case 3: {
    int s = udpbind(0);
    if(s >= 0)
      recvfrom(s, &c, 1, 0, 0, -1);               // no timeout
    else
      sleep(1000);
    break;
  }
  case 4: wait(0); sleep(1000); break;            // no children: then sleeps
  default: pause(1000); break;
  }
  exit(55);     // woke up without being killed
}

static void
op_fork_kill(void)
{
  block_kind = below(6);
  if(pipe(pipefd) != 0)
    return;
  // The pipe's fds are this step's alone: the tracker never sees them.
  int st = in_child(child_block, 1 + below(3));
  close(pipefd[0]);
  close(pipefd[1]);
  if(st != -2 && st != -1)
    fail("a child killed while blocked (kind %ld) has status %ld, not -1", block_kind, st, 0);
}

// ---- children that touch memory they must not ----

static int badmem_kind;

static void
child_badmem(void)
{
  volatile char *p;
  static const uint64 addr[] = {
    KERNBASE, KERNLOAD, KERNLOAD + 0x2000, PHYSTOP - 8, KDEV(UART0), KDEV(VIRTIO0),
    KSTACK(0), TRAPFRAME, TRAMPOLINE, MAXVA, 1UL << 63,
  };

  switch(badmem_kind){
  case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 10:
    p = (volatile char *)addr[badmem_kind];
    (void)*p;
    break;
  case 11:
    p = (volatile char *)(addr[below(7)]);
    *p = 1;
    break;
  case 12:
    p = (volatile char *)guardpage;
    (void)*p;
    break;
  case 13:
    p = (volatile char *)&sc;      // text is not writable
    *p = 0;
    break;
  default: {
    void (*f)(void) = (void (*)(void))(chance(50) ? KERNLOAD : TRAMPOLINE);
    f();
    break;
  }
  }
  exit(66);     // the access went through
}

static void
op_fork_badmem(void)
{
  badmem_kind = below(15);
  int st = in_child(child_badmem, 0);
  if(st != -2 && st != -1)
    fail("a child that touched forbidden memory (kind %ld) has status %ld, not -1",
         badmem_kind, st, 0);
}

// ---- a child whose memory reaches past USERTOP ----

static int bigmem_kind;

// Grow lazily in 2 GB steps until the kernel says no (it must, before the
// trapframe), use the top and the middle, fork, shrink back.
static void
child_hugemem(void)
{
  int steps = 0;
  uint64 sz;

  while(sbrklazy(0x7fffffff) != SBRK_ERROR)
    steps++;
  sz = (uint64)sbrk(0);
  if(sz > TRAPFRAME || sz != heapend + (uint64)steps * 0x7fffffff)
    exit(41);
  if(sbrklazy(TRAPFRAME - sz + 1) != SBRK_ERROR || (uint64)sbrk(0) != sz)
    exit(42);
  volatile char *top = (volatile char *)(sz - 1), *mid = (volatile char *)(sz / 2);
  *top = 1;
  *mid = 2;
  int pid = fork();
  if(pid == 0)
    exit(*top == 1 && *mid == 2 ? 0 : 43);
  int st = -7;
  if(pid > 0 && (wait(&st) != pid || st != 0))
    exit(44);
  for(; steps > 0; steps--)
    if(sbrk(-0x7fffffff) == SBRK_ERROR)
      exit(45);
  if((uint64)sbrk(0) != heapend)
    exit(46);
  exit(0);
}

static void
child_bigmem(void)
{
  if(bigmem_kind == 2)
    child_hugemem();
  // Lazily 2 GB and 64 MB more: from then on the start of the kernel's
  // half of the address space is this process's own memory (proc.c
  // proc_unshare).
  char *old = sbrklazy(0x7fffffff);
  if((uint64)old != heapend || sbrklazy(64 << 20) != old + 0x7fffffff)
    exit(31);
  volatile char *k = (volatile char *)KERNLOAD;
  if(*k != 0)
    exit(32);           // a fresh lazy page, not the kernel's text
  *k = 5;
  // The kernel copies into it too, through the process's own table.
  close_all();
  int fd = open("/README", O_RDONLY);
  if(fd < 0 || read(fd, (char *)KERNLOAD + 100, 50) != 50)
    exit(33);
  close(fd);
  int pid = fork();
  if(pid == 0){
    exit(*k == 5 && ((char *)KERNLOAD)[100] != 0 ? 0 : 34);
  }
  int st = -7;
  if(pid > 0 && (wait(&st) != pid || st != 0))
    exit(35);
  if(bigmem_kind == 1){
    // exec from a process whose table holds no kernel regions: the new
    // program gets an ordinary table, the old memory (past USERTOP too)
    // is freed.
    char *argv[3] = { "echo", "bigmem", 0 };
    output_to_file();
    exec("/echo", argv);
    exit(38);
  }
  if(sbrk(-(64 << 20)) != old + 0x7fffffff + (64 << 20) || sbrk(-0x7fffffff) != old + 0x7fffffff)
    exit(36);
  if((uint64)sbrk(0) != heapend)
    exit(37);
  exit(0);
}

static void
op_fork_bigmem(void)
{
  bigmem_kind = below(3);
  int st = in_child(child_bigmem, 0);
  if(st != -2 && st != 0)
    fail("a child with memory past USERTOP (kind %ld) failed with status %ld "
         "(see child_bigmem)", bigmem_kind, st, 0);
}

// ---- a child that makes random calls ----

static void pick_and_run(int forks_ok);

static void
child_fuzz(void)
{
  for(int i = 0; i < CHILD_OPS; i++)
    pick_and_run(0);
  exit(0);
}

static void
op_fork_fuzz(void)
{
  int st = in_child(child_fuzz, chance(20) ? 1 : 0);
  if(st != -2 && st != 0 && st != -1)
    fail("a child making random calls ended with status %ld", st, 0, 0);
}

// ---------------------------------------------------------------------
// The table of steps, with weights.

struct op {
  const char *name;
  void (*fn)(void);
  int weight;
  int forks;    // makes a child: not from inside a child
};

static const struct op ops[] = {
  { "read", op_read, 30, 0 },
  { "write", op_write, 30, 0 },
  { "pipe", op_pipe, 12, 0 },
  { "close", op_close, 24, 0 },
  { "dup", op_dup, 12, 0 },
  { "open", op_open, 30, 0 },
  { "fstat", op_fstat, 12, 0 },
  { "chdir", op_chdir, 9, 0 },
  { "mkdir", op_mkdir, 12, 0 },
  { "mknod", op_mknod, 9, 0 },
  { "unlink", op_unlink, 15, 0 },
  { "link/rename", op_link_or_rename, 12, 0 },
  { "exec", op_exec_fails, 12, 0 },
  { "sbrk", op_sbrk, 12, 0 },
  { "sleep", op_sleep, 3, 0 },
  { "getpid/uptime/rtime", op_clocks, 6, 0 },
  { "wait", op_wait_nochild, 6, 0 },
  { "kill", op_kill_nobody, 6, 0 },
  { "devinfo", op_devinfo, 6, 0 },
  { "netstat", op_netstat, 6, 0 },
  { "udpbind", op_udpbind, 6, 0 },
  { "sendto", op_sendto, 6, 0 },
  { "recvfrom", op_recvfrom, 6, 0 },
  { "icmpecho", op_icmpecho, 3, 0 },
  { "diskmode", op_diskmode, 3, 0 },
  { "blkbench", op_blkbench, 3, 0 },
  { "sync", op_sync, 3, 0 },
  { "fork+exit", op_fork_exit, 2, 1 },
  { "fork many", op_fork_many, 1, 1 },
  { "fork until the process table is full", op_fork_fill, 1, 1 },
  { "fork+exec", op_fork_exec, 1, 1 },
  { "fork+exec crafted ELF", op_fork_elf, 2, 1 },
  { "fork+kill", op_fork_kill, 1, 1 },
  { "fork+bad memory", op_fork_badmem, 1, 1 },
  { "fork+memory past USERTOP", op_fork_bigmem, 1, 1 },
  { "fork+random calls", op_fork_fuzz, 1, 1 },
};
static const struct op nosuch = { "no such call", op_nosuchcall, 0, 0 };
static int totalweight;

static const struct op *
opbyindex(int i)
{
  return i >= 0 && i < (int)NELEM(ops) ? &ops[i] : &nosuch;
}

static void
pick_and_run(int forks_ok)
{
  int w, i;

  if(below(1000) == 0){
    i = NELEM(ops);   // "no such call": rare, since the kernel prints a line for it
  } else {
    do {
      w = below(totalweight);
      for(i = 0; w >= ops[i].weight; i++)
        w -= ops[i].weight;
    } while(ops[i].forks && !forks_ok);
  }
  curop = i;
  opname = opbyindex(i)->name;
  report(R_BEAT, 0, 0);
  opbyindex(i)->fn();
}

// ---------------------------------------------------------------------
// Directories and the witness file.

static char pathbuf[MAXPATH + 32];

// Remove everything under pathbuf (a directory), and pathbuf itself if
// self. Entries named in keep stay. Returns 0, or -1 if something stayed.
static int
rmtree(int self, const char *keep)
{
  struct dirent de;
  struct stat st;
  int len = strlen(pathbuf), bad = 0;
  int fd = open(pathbuf, O_RDONLY);

  if(fd < 0)
    return -1;
  if(fstat(fd, &st) < 0 || st.type != T_DIR){
    close(fd);
    return unlink(pathbuf);
  }
  while(read(fd, &de, sizeof(de)) == sizeof(de)){
    char name[DIRSIZ + 1];
    if(de.inum == 0)
      continue;
    memmove(name, de.name, DIRSIZ);
    name[DIRSIZ] = 0;
    if(strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
      continue;
    if(keep && strcmp(name, keep) == 0)
      continue;
    if(len + 1 + strlen(name) >= MAXPATH){
      bad = -1;
      continue;
    }
    pathbuf[len] = '/';
    strcpy(pathbuf + len + 1, name);
    if(unlink(pathbuf) != 0 && rmtree(1, 0) != 0)
      bad = -1;
    pathbuf[len] = 0;
  }
  close(fd);
  if(self && unlink(pathbuf) != 0)
    bad = -1;
  return bad;
}

#define WITNESS_LEN 3000

static char
witness_byte(int i)
{
  return (char)(i * 7 + wid * 31 + seed);
}

static void
witness_write(void)
{
  int fd = open("witness", O_CREATE | O_WRONLY | O_TRUNC);

  for(int i = 0; i < WITNESS_LEN; i++)
    scratch[i] = witness_byte(i);
  if(fd < 0 || write(fd, scratch, WITNESS_LEN) != WITNESS_LEN)
    fail("cannot write the witness file", 0, 0, 0);
  close(fd);
}

// The witness file, written at the start and never named by any call,
// must still hold what was written.
static void
witness_check(void)
{
  char *w = scratch + SCRATCH - WITNESS_LEN - 8;
  int fd;

  strcpy(pathbuf, mydir);
  strcpy(pathbuf + strlen(pathbuf), "/witness");
  fd = open(pathbuf, O_RDONLY);
  if(fd < 0)
    fail("the witness file is gone", 0, 0, 0);
  int n = read(fd, w, WITNESS_LEN + 8);
  close(fd);
  if(n != WITNESS_LEN)
    fail("the witness file has %ld bytes, not %ld", n, WITNESS_LEN, 0);
  for(int i = 0; i < WITNESS_LEN; i++)
    if(w[i] != witness_byte(i))
      fail("the witness file changed at byte %ld", i, 0, 0);
}

// Start afresh: no fds, an empty directory (but the witness).
static void
reset(void)
{
  close_all();
  strcpy(pathbuf, mydir);
  rmtree(0, "witness");
}

// ---------------------------------------------------------------------
// A worker.

static void
worker(int w, int ncalls, uint deadline)
{
  wid = w;
  rs = seed * 0x9E3779B97F4A7C15ULL + (w + 1) * 0xBF58476D1CE4E5B9ULL;
  if(rs == 0)
    rs = 1;
  mypid = getpid();
  strcpy(mydir, BASE "/w0");
  mydir[strlen(mydir) - 1] = '0' + w;
  if(mkdir(mydir) != 0 || chdir(mydir) != 0)
    fail("cannot make and enter %s", (uint64)mydir, 0, 0);
  witness_write();
  for(iter = 0; iter < ncalls; iter++){
    if(iter % 32 == 0 && uptime() >= deadline)
      break;
    if(iter % 64 == 63)
      check_fds();
    if(iter % 256 == 255 && lowest_free() >= 0)
      witness_check();    // (it needs a free fd for a moment)
    if(iter % 512 == 511)
      reset();
    pick_and_run(1);
  }
  opname = "end of run";
  reset();
  check_fds();
  witness_check();
  check_break("at the end");
  if(wait(0) != -1)
    fail("a child is left at the end", 0, 0, 0);
  report(R_DONE, iter, 0);
  exit(0);
}

// ---------------------------------------------------------------------
// The parent.

// Free memory, in pages: grow until the kernel says no, then give it all
// back. Takes every free page for a moment, so only while no worker runs.
static int
countfree(void)
{
  int pages = 0;
  uint64 start = (uint64)sbrk(0);

  while(sbrk(64 * PGSIZE) != SBRK_ERROR)
    pages += 64;
  while(sbrk(PGSIZE) != SBRK_ERROR)
    pages++;
  sbrk(-(int)((uint64)sbrk(0) - start));
  if((uint64)sbrk(0) != start)
    fail("countfree could not give its memory back", 0, 0, 0);
  return pages;
}

// The steps that take all free memory for a moment: alone.
static void
solo_memory_checks(void)
{
  long r;

  opname = "sbrk (alone)";
  // More than the machine has, eagerly: refused, nothing kept.
  r = sc(SYS_sbrk, 1 << 30, SBRK_EAGER, 0, 0, 0, 0);
  if(r != -1)
    fail("sbrk(1 GB) on a 128 MB machine gave 0x%lx", r, 0, 0);
  check_break("after sbrk(1 GB) failed");
  r = sc(SYS_sbrk, 0x7fffffff, SBRK_EAGER, 0, 0, 0, 0);
  if(r != -1)
    fail("sbrk(2 GB) gave 0x%lx", r, 0, 0);
  check_break("after sbrk(2 GB) failed");
  // An ELF whose segment ends right at USERTOP: exec must allocate all the
  // pages below it, run out, and fail cleanly.
  opname = "exec of a 2 GB ELF (alone)";
  chdir(BASE);
  int pid = fork();
  if(pid == 0){
    uint64 len;
    char *argv[2] = { "big", 0 };
    struct elfhdr *eh = (struct elfhdr *)scratch;
    struct proghdr *ph = (struct proghdr *)(scratch + sizeof(*eh));
    make_elf(scratch, 0, &len);
    ph[0].vaddr = USERTOP - 2 * PGSIZE;
    ph[0].memsz = PGSIZE;
    eh->entry = ph[0].vaddr + CODE_OFF;
    int fd = open("big", O_CREATE | O_WRONLY | O_TRUNC);
    if(fd < 0 || write(fd, scratch, len) != len)
      exit(88);
    close(fd);
    exec("big", argv);
    exit(77);
  }
  int st = 0;
  if(pid < 0 || wait(&st) != pid)
    fail("fork or wait for the 2 GB ELF failed", 0, 0, 0);
  if(st != 77)
    fail("exec of an ELF needing 2 GB of memory: status %ld, not 77", st, 0, 0);
  unlink("big");
  chdir("/");
}

static int
parse_args(int argc, char **argv, uint64 *s, int *n, int *t, int *p)
{
  for(int i = 1; i + 1 < argc; i += 2){
    char *a = argv[i], *v = argv[i + 1];
    if(a[0] != '-' || a[2] != 0 || v[0] < '0' || v[0] > '9')
      return -1;
    uint64 x = 0;
    for(; *v >= '0' && *v <= '9'; v++)
      x = x * 10 + (*v - '0');
    if(*v != 0)
      return -1;
    if(a[1] == 's')
      *s = x;
    else if(a[1] == 'n' && x > 0 && x <= 100000000)
      *n = x;
    else if(a[1] == 't' && x > 0 && x <= 100000)
      *t = x;
    else if(a[1] == 'p' && x >= 1 && x <= MAXWORKERS)
      *p = x;
    else
      return -1;
  }
  return argc % 2 == 1 ? 0 : -1;
}

int
main(int argc, char *argv[])
{
  int ncalls = 1000000, secs = 10, nworkers = 4;
  int wpid[MAXWORKERS], done[MAXWORKERS], child[MAXWORKERS];
  uint last[MAXWORKERS];
  struct rec lastrec[MAXWORKERS];
  struct stat st;
  int failed = 0;

  seed = rtime();
  if(parse_args(argc, argv, &seed, &ncalls, &secs, &nworkers) < 0){
    fprintf(2, "usage: scfuzz [-s seed] [-n calls per worker] [-t seconds] [-p workers 1..%d]\n",
            MAXWORKERS);
    exit(2);
  }
  printf("scfuzz: seed %lu, %d workers, up to %d calls each, %d seconds\n", seed, nworkers,
         ncalls, secs);

  for(int i = 0; i < (int)NELEM(ops); i++)
    totalweight += ops[i].weight;
  mypid = getpid();
  guardpage = PGROUNDDOWN((uint64)&st) - PGSIZE;
  scratch = sbrk(SCRATCH);
  if(scratch == SBRK_ERROR){
    fprintf(2, "scfuzz: no memory\n");
    exit(2);
  }
  heapend = (uint64)sbrk(0);
  for(int fd = 0; fd < 3; fd++)
    fds[fd].kind = K_DEV;

  // Our directory: a leftover of an earlier run (it has our mark) goes;
  // anything else by that name is not ours to remove.
  if(stat(BASE, &st) == 0){
    if(stat(BASE "/.scfuzz", &st) != 0){
      fprintf(2, "scfuzz: %s exists and is not scfuzz's; remove it first\n", BASE);
      exit(2);
    }
    strcpy(pathbuf, BASE);
    rmtree(1, 0);
  }
  if(mkdir(BASE) != 0 || mkdir(BASE "/shared") != 0 ||
     open(BASE "/.scfuzz", O_CREATE | O_WRONLY) != 3){
    fprintf(2, "scfuzz: cannot make %s\n", BASE);
    exit(2);
  }
  close(3);

  int mode0 = diskmode(-1);
  int free0 = countfree();
  solo_memory_checks();
  int free1 = countfree();
  if(free1 < free0 - 16)
    fail("the memory checks lost %ld pages (free %ld before, %ld after)", free0 - free1,
         free0, free1);

  // The status pipe: workers and the clock child write records, we read.
  int sp[2];
  if(pipe(sp) != 0){
    fprintf(2, "scfuzz: pipe failed\n");
    exit(2);
  }
  uint start = uptime();
  uint deadline = start + secs * TICKS_PER_SEC;

  int clock = fork();
  if(clock == 0){
    struct rec tick;
    memset(&tick, 0, sizeof(tick));
    tick.type = R_TICK;
    close(sp[0]);
    for(;;){
      sleep(TICKS_PER_SEC / 2);
      if(write(sp[1], &tick, sizeof(tick)) != sizeof(tick))
        exit(0);
    }
  }
  for(int w = 0; w < nworkers; w++){
    done[w] = 0;
    child[w] = 0;
    last[w] = start;
    lastrec[w].op = -1;
    lastrec[w].pid = 0;
    wpid[w] = fork();
    if(wpid[w] == 0){
      // The status pipe's write end moves to the top fd, out of the way
      // of the lowest-free-fd checks: dup gives the lowest free fd, so
      // dup until the top is reached, then close the rest.
      int fd = sp[1];
      close(sp[0]);
      while(fd >= 0 && fd < NOFILE - 1)
        fd = dup(sp[1]);
      if(fd != NOFILE - 1)
        exit(4);
      for(fd = 3; fd < NOFILE - 1; fd++)
        close(fd);
      statusfd = NOFILE - 1;
      fds[statusfd].kind = K_STATUS;
      worker(w, ncalls, deadline);
    }
    if(wpid[w] < 0){
      fprintf(2, "scfuzz: fork failed\n");
      exit(2);
    }
  }
  close(sp[1]);

  // Watch: every record is a sign of life; the clock's tick is our time.
  static struct rec buf[PIPESIZE / sizeof(struct rec)];
  int ndone = 0;
  uint now = start;
  uint64 calls = 0;
  while(ndone < nworkers && !failed){
    int n = read(sp[0], buf, sizeof(buf));
    if(n <= 0)
      break;
    for(int i = 0; i < n / (int)sizeof(struct rec); i++){
      struct rec *r = &buf[i];
      if(r->type == R_TICK){
        now = uptime();
        continue;
      }
      int w = r->worker;
      if(w < 0 || w >= nworkers)
        continue;
      last[w] = now;
      if(r->type == R_BEAT)
        lastrec[w] = *r;
      if(r->type == R_CHILD)
        child[w] = r->a0;
      if(r->type == R_DONE && !done[w]){
        done[w] = 1;
        ndone++;
        calls += r->a0;
      }
      if(r->type == R_FAIL)
        failed = 1;
    }
    for(int w = 0; w < nworkers && !failed; w++){
      if(done[w] || now - last[w] < STALL_SECONDS * TICKS_PER_SEC)
        continue;
      int op = lastrec[w].op;
      fprintf(2, "scfuzz: FAILED: seed %lu worker %d: no progress for %d seconds; its last "
              "step: iteration %d, call %s (0x%lx 0x%lx), by %s %d\n", seed, w,
              STALL_SECONDS, lastrec[w].iter, op >= 0 ? opbyindex(op)->name : "(none yet)",
              lastrec[w].a0, lastrec[w].a1,
              lastrec[w].pid == wpid[w] ? "the worker, pid" : "its child, pid", lastrec[w].pid);
      failed = 1;
    }
    if(!failed && now > deadline + 120 * TICKS_PER_SEC){
      fprintf(2, "scfuzz: FAILED: seed %lu: the run is 2 minutes past its end\n", seed);
      failed = 1;
    }
  }
  // Whatever is left (after a failure) is stopped; then everyone is
  // collected. A process that ignores kill keeps us here: the hang shows.
  for(int w = 0; w < nworkers; w++){
    if(!done[w] || failed){
      kill(wpid[w]);
      if(child[w] > 0)
        kill(child[w]);
    }
  }
  kill(clock);
  close(sp[0]);
  int status, pid;
  while((pid = wait(&status)) > 0){
    for(int w = 0; w < nworkers; w++)
      if(pid == wpid[w] && status != 0 && !failed){
        fprintf(2, "scfuzz: FAILED: seed %lu worker %d ended with status %d\n", seed, w,
                status);
        failed = 1;
      }
  }

  // The workers may have switched the disk driver's mode: put it back.
  if(mode0 >= 0 && diskmode(-1) != mode0 && diskmode(mode0) != mode0){
    fprintf(2, "scfuzz: FAILED: seed %lu: cannot set the disk mode back to %d\n", seed, mode0);
    failed = 1;
  }
  int free2 = 0;
  if(!failed){
    wid = -1;
    opname = "end of run";
    free2 = countfree();
    // A few pages may stay with the kernel for good reasons (a file's
    // cached blocks are not in this count); thousands of calls leaking
    // one page each would not hide below this.
    if(free2 < free0 - 64){
      fprintf(2, "scfuzz: FAILED: seed %lu: %d pages of memory lost (free %d before, %d after)\n",
              seed, free0 - free2, free0, free2);
      failed = 1;
    }
  }
  strcpy(pathbuf, BASE);
  if(rmtree(1, 0) != 0 || stat(BASE, &st) == 0){
    fprintf(2, "scfuzz: FAILED: seed %lu: cannot remove %s\n", seed, BASE);
    failed = 1;
  }
  if(failed){
    printf("scfuzz: seed %lu: FAILED\n", seed);
    exit(1);
  }
  printf("scfuzz: seed %lu: PASSED, %lu calls by %d workers in %d seconds; %d pages free "
         "before, %d after\n", seed, calls, nworkers, (uptime() - start) / TICKS_PER_SEC,
         free0, free2);
  exit(0);
}
