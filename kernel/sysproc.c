// sysproc.c: the system calls about processes and time (fork, exit, wait,
// kill, getpid, sbrk, sleep, uptime) and our two extras, devinfo and halt.
// The file system calls are in sysfile.c. sbrk takes xv6-riscv's second
// argument, eager or lazy (vm.h).
//
// Each sys_ function fetches its arguments from the trapframe (syscall.c)
// and returns the value the user sees in a0; -1 means failure.
//
// See it run: `make qemu`; the shell uses fork/exec/wait for every command;
// `lsdev` calls devinfo(); `halt` powers the machine off.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "riscv.h"
#include "spinlock.h"
#include "proc.h"
#include "devinfo.h"
#include "vm.h"
#include "defs.h"

uint64
sys_exit(void)
{
  int status;

  argint(0, &status);
  exit(status);
}

uint64
sys_getpid(void)
{
  return myproc()->pid;
}

uint64
sys_fork(void)
{
  return fork();
}

// wait(int *status): status may be 0 if the caller does not care.
uint64
sys_wait(void)
{
  uint64 addr;

  argaddr(0, &addr);
  return wait(addr);
}

// sbrk(n, mode): grow or shrink memory by n bytes; returns the old end of
// memory (the start of the new bytes), or -1 (all ones) if it cannot grow.
// A shrink by more than the whole memory changes nothing and returns the
// old end, as xv6 does (growproc in proc.c says why).
// mode (vm.h) is SBRK_LAZY for sbrklazy(); anything else, such as
// whatever a caller that passes only n leaves in a1, is the eager sbrk.
//
// Lazy growth only moves the end: p->sz covers the new addresses and no
// page is allocated; each gets its memory at its first use (vmfault in
// vm.c, from a page fault in trap.c or a copyout). So it succeeds far
// beyond the free memory, and fails only if the end would pass TRAPFRAME,
// the first address the process cannot own. Passing USERTOP, where the
// kernel's own regions sit in the process's page table, costs the process
// its fast traps (proc.c proc_unshare). A lazy shrink is an eager
// one: freed pages go back at once.
uint64
sys_sbrk(void)
{
  int n, mode;

  argint(0, &n);
  argint(1, &mode);
  struct proc *p = myproc();
  uint64 oldsz = p->sz;
  if(mode == SBRK_LAZY && n > 0){
    // Checked as a subtraction, which cannot wrap (oldsz <= TRAPFRAME
    // always holds), so the test stays right whatever the sizes.
    if((uint64)n > TRAPFRAME - oldsz)
      return -1;
    if(oldsz + n > USERTOP)
      proc_unshare(p);
    p->sz = oldsz + n;
    return oldsz;
  }
  if(growproc(n) < 0)
    return -1;
  return oldsz;
}

// sleep(n): wait n clock ticks (a tenth of a second each). Returns 0, or
// -1 if the process is killed meanwhile.
uint64
sys_sleep(void)
{
  int n;

  argint(0, &n);
  if(n < 0)
    n = 0;
  acquire(&tickslock);
  uint start = ticks;
  // Unsigned subtraction keeps working when ticks wraps around.
  while(ticks - start < (uint)n){
    if(killed(myproc())){
      release(&tickslock);
      return -1;
    }
    sleep(&ticks, &tickslock);   // clockintr() wakes us every tick
  }
  release(&tickslock);
  return 0;
}

// kill(pid): ask process pid to exit. -1 if there is no such process, and
// for pid 1: init cannot be killed (proc.c kill() says why), so no program
// can take the machine down; halt() is the way to stop it.
uint64
sys_kill(void)
{
  int pid;

  argint(0, &pid);
  return kill(pid);
}

// uptime(): clock ticks since boot.
uint64
sys_uptime(void)
{
  acquire(&tickslock);
  uint t = ticks;
  release(&tickslock);
  return t;
}

// devinfo(int idx, struct devinfo *out): row idx of the boot-time virtio
// device table. Returns 0, or -1 past the last row or for a bad pointer.
uint64
sys_devinfo(void)
{
  int idx;
  uint64 out;
  struct devinfo d;

  argint(0, &idx);
  argaddr(1, &out);
  if(idx < 0 || devinfo_get(idx, &d) < 0)
    return -1;
  if(copyout(myproc()->pagetable, out, (char *)&d, sizeof(d)) < 0)
    return -1;
  return 0;
}

// halt(): power the machine off (used to end automated test runs). The
// file system's pending changes are committed first (log_sync), so that
// "write, then halt" keeps what was written.
uint64
sys_halt(void)
{
  log_sync();
  sbi_shutdown();
}

// rtime(): the `time` CSR, 10 MHz ticks since boot on QEMU virt; finer than
// uptime() (10 ticks a second), for benchmarks.
uint64
sys_rtime(void)
{
  return r_time();
}
