// syscall.c: system call dispatch, and fetching system call arguments
// safely from user space.
//
// Follows the RISC-V calling convention as the user stubs (user/usys.py)
// use it: the call number is in a7, arguments in a0..a5, the result goes
// back in a0. uservec saved all of them in the trapframe.
//
// Arguments are untrusted: a pointer may point anywhere. Integers are
// taken as they come, and each system call checks its own ranges;
// pointers are only ever dereferenced through copyin()/copyinstr(), which
// fail on anything that is not mapped for user access, so a bad pointer
// makes the call return -1 instead of crashing the kernel.
//
// See it run: `make qemu`, then `usertests -q badarg` (and copyin,
// copyout, copyinstr*) hammer these with bad pointers.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "spinlock.h"
#include "proc.h"
#include "syscall.h"
#include "defs.h"

// Read the 8-byte word at user address addr, which must lie inside the
// process's memory. Returns 0 or -1.
int
fetchaddr(uint64 addr, uint64 *ip)
{
  struct proc *p = myproc();

  // Written so that addr + 8 cannot wrap around.
  if(addr >= p->sz || p->sz - addr < sizeof(uint64))
    return -1;
  if(copyin(p->pagetable, (char *)ip, addr, sizeof(*ip)) != 0)
    return -1;
  return 0;
}

// Copy the zero-terminated string at user address addr into buf (at most
// max bytes, terminator included). Returns its length, or -1.
int
fetchstr(uint64 addr, char *buf, int max)
{
  struct proc *p = myproc();

  if(max <= 0 || copyinstr(p->pagetable, buf, addr, max) < 0)
    return -1;
  return strlen(buf);
}

// The raw value of argument n (0..5).
static uint64
argraw(int n)
{
  struct trapframe *tf = myproc()->trapframe;

  switch(n){
  case 0: return tf->a0;
  case 1: return tf->a1;
  case 2: return tf->a2;
  case 3: return tf->a3;
  case 4: return tf->a4;
  case 5: return tf->a5;
  }
  panic("argraw: no such argument");
}

void
argint(int n, int *ip)
{
  *ip = argraw(n);
}

// A user address. Not checked here: copyin()/copyout() check it when it
// is used, which is the only moment the check can be trusted.
void
argaddr(int n, uint64 *ip)
{
  *ip = argraw(n);
}

// Argument n as a string copied into buf (at most max bytes).
// Returns its length, or -1 if the pointer or the string is bad.
int
argstr(int n, char *buf, int max)
{
  uint64 addr;

  argaddr(n, &addr);
  return fetchstr(addr, buf, max);
}

// The system calls, defined in sysproc.c and sysfile.c.
uint64 sys_fork(void);
uint64 sys_exit(void);
uint64 sys_wait(void);
uint64 sys_pipe(void);
uint64 sys_read(void);
uint64 sys_kill(void);
uint64 sys_exec(void);
uint64 sys_fstat(void);
uint64 sys_chdir(void);
uint64 sys_dup(void);
uint64 sys_getpid(void);
uint64 sys_sbrk(void);
uint64 sys_sleep(void);
uint64 sys_uptime(void);
uint64 sys_open(void);
uint64 sys_write(void);
uint64 sys_mknod(void);
uint64 sys_unlink(void);
uint64 sys_link(void);
uint64 sys_mkdir(void);
uint64 sys_close(void);
uint64 sys_devinfo(void);
uint64 sys_halt(void);
uint64 sys_diskmode(void);
uint64 sys_udpbind(void);
uint64 sys_sendto(void);
uint64 sys_recvfrom(void);
uint64 sys_icmpecho(void);
uint64 sys_netstat(void);
uint64 sys_blkbench(void);
uint64 sys_fsync(void);
uint64 sys_sync(void);
uint64 sys_rename(void);
uint64 sys_dropcache(void);
uint64 sys_rtime(void);

// Indexed by call number (syscall.h); number 0 is no call.
static uint64 (*syscalls[])(void) = {
  [SYS_fork]    sys_fork,
  [SYS_exit]    sys_exit,
  [SYS_wait]    sys_wait,
  [SYS_pipe]    sys_pipe,
  [SYS_read]    sys_read,
  [SYS_kill]    sys_kill,
  [SYS_exec]    sys_exec,
  [SYS_fstat]   sys_fstat,
  [SYS_chdir]   sys_chdir,
  [SYS_dup]     sys_dup,
  [SYS_getpid]  sys_getpid,
  [SYS_sbrk]    sys_sbrk,
  [SYS_sleep]   sys_sleep,
  [SYS_uptime]  sys_uptime,
  [SYS_open]    sys_open,
  [SYS_write]   sys_write,
  [SYS_mknod]   sys_mknod,
  [SYS_unlink]  sys_unlink,
  [SYS_link]    sys_link,
  [SYS_mkdir]   sys_mkdir,
  [SYS_close]   sys_close,
  [SYS_devinfo] sys_devinfo,
  [SYS_halt]    sys_halt,
  [SYS_udpbind] sys_udpbind,
  [SYS_sendto]  sys_sendto,
  [SYS_recvfrom] sys_recvfrom,
  [SYS_icmpecho] sys_icmpecho,
  [SYS_netstat] sys_netstat,
  [SYS_diskmode] sys_diskmode,
  [SYS_blkbench] sys_blkbench,
  [SYS_fsync]   sys_fsync,
  [SYS_sync]    sys_sync,
  [SYS_rename]  sys_rename,
  [SYS_dropcache] sys_dropcache,
  [SYS_rtime]   sys_rtime,
};

// Called by usertrap() for an ecall from user mode.
void
syscall(void)
{
  struct proc *p = myproc();
  uint64 num = p->trapframe->a7;

  if(num > 0 && num < NELEM(syscalls) && syscalls[num]){
    p->trapframe->a0 = syscalls[num]();
  } else {
    printf("%d %s: unknown sys call %ld\n", p->pid, p->name, num);
    p->trapframe->a0 = -1;
  }
}
