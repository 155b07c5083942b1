// pipe.c: pipes, the byte channels that pipe() creates: what one process
// writes into one end, another reads from the other end.
//
// Follows the POSIX pipe semantics that xv6 programs expect: a read blocks
// until there are bytes or every writer has closed (then it returns 0,
// end of file); a write blocks while the buffer is full, and fails with -1
// once every reader has closed.
//
// The data sits in a 512-byte ring. nread and nwrite count the bytes ever
// read and written; they only grow (uint arithmetic wraps consistently),
// so nwrite - nread is the number of bytes waiting, the buffer is empty
// when they are equal and full when they differ by PIPESIZE.
// Readers sleep on &nread, writers on &nwrite, always with pi->lock as the
// condition lock, so no wakeup is lost.
//
// See it run: `make qemu`, then `ls | grep README` in the shell.
#include "types.h"
#include "riscv.h"
#include "defs.h"
#include "param.h"
#include "spinlock.h"
#include "proc.h"
#include "sleeplock.h"
#include "fs.h"
#include "file.h"

#define PIPESIZE 512

struct pipe {
  struct spinlock lock;
  char data[PIPESIZE];
  uint nread;      // bytes read so far
  uint nwrite;     // bytes written so far
  int readopen;    // is the read end still open?
  int writeopen;   // is the write end still open?
};

// Make a pipe and two open files for it: *f0 reads, *f1 writes.
// Returns 0, or -1 (with nothing left allocated) if out of files or memory.
int
pipealloc(struct file **f0, struct file **f1)
{
  struct pipe *pi = 0;

  *f0 = *f1 = 0;
  if((*f0 = filealloc()) == 0 || (*f1 = filealloc()) == 0)
    goto bad;
  if((pi = kalloc()) == 0)   // a page is far more than we need, but simple
    goto bad;

  initlock(&pi->lock, "pipe");
  pi->nread = 0;
  pi->nwrite = 0;
  pi->readopen = 1;
  pi->writeopen = 1;

  (*f0)->type = FD_PIPE;
  (*f0)->readable = 1;
  (*f0)->writable = 0;
  (*f0)->pipe = pi;
  (*f1)->type = FD_PIPE;
  (*f1)->readable = 0;
  (*f1)->writable = 1;
  (*f1)->pipe = pi;
  return 0;

bad:
  // The files are still FD_NONE, so closing them just frees the slots.
  if(*f0)
    fileclose(*f0);
  if(*f1)
    fileclose(*f1);
  return -1;
}

// One end was closed for good (its last file reference went away).
void
pipeclose(struct pipe *pi, int writable)
{
  acquire(&pi->lock);
  if(writable){
    pi->writeopen = 0;
    wakeup(&pi->nread);    // readers must see end of file
  } else {
    pi->readopen = 0;
    wakeup(&pi->nwrite);   // writers must see the broken pipe
  }
  if(!pi->readopen && !pi->writeopen){
    release(&pi->lock);
    kfree(pi);
    return;
  }
  release(&pi->lock);
}

// Write n bytes from user address addr. Returns n, or fewer if addr turns
// bad partway; -1 if no reader is left, the writer was killed, or not one
// byte could be copied in.
int
pipewrite(struct pipe *pi, uint64 addr, int n)
{
  struct proc *pr = myproc();
  int done = 0;

  acquire(&pi->lock);
  while(done < n){
    if(!pi->readopen || killed(pr)){
      release(&pi->lock);
      return -1;
    }
    uint space = PIPESIZE - (pi->nwrite - pi->nread);
    if(space == 0){
      wakeup(&pi->nread);                 // let readers make room
      sleep(&pi->nwrite, &pi->lock);
      continue;
    }
    // Copy the largest piece that fits: not more than asked, than there
    // is room for, or than reaches the end of the ring before it wraps.
    uint at = pi->nwrite % PIPESIZE;
    uint m = n - done;
    if(m > space)
      m = space;
    if(m > PIPESIZE - at)
      m = PIPESIZE - at;
    if(copyin(pr->pagetable, &pi->data[at], addr + done, m) < 0){
      if(done == 0)
        done = -1;
      break;
    }
    pi->nwrite += m;
    done += m;
  }
  wakeup(&pi->nread);
  release(&pi->lock);
  return done;
}

// Read up to n bytes to user address addr. Blocks while the pipe is empty
// and a writer remains. Returns the bytes read, 0 at end of file, -1 if
// killed while waiting or addr is bad.
int
piperead(struct pipe *pi, uint64 addr, int n)
{
  struct proc *pr = myproc();
  int done = 0;

  // Asking for nothing gets nothing at once, as POSIX says, rather than
  // a wait for bytes the caller does not want.
  if(n == 0)
    return 0;
  acquire(&pi->lock);
  while(pi->nread == pi->nwrite && pi->writeopen){
    if(killed(pr)){
      release(&pi->lock);
      return -1;
    }
    sleep(&pi->nread, &pi->lock);
  }
  while(done < n && pi->nread != pi->nwrite){
    uint at = pi->nread % PIPESIZE;
    uint m = n - done;
    if(m > pi->nwrite - pi->nread)
      m = pi->nwrite - pi->nread;
    if(m > PIPESIZE - at)
      m = PIPESIZE - at;
    // The bytes count as read only after they reached the reader.
    if(copyout(pr->pagetable, addr + done, &pi->data[at], m) < 0){
      if(done == 0)
        done = -1;
      break;
    }
    pi->nread += m;
    done += m;
  }
  wakeup(&pi->nwrite);   // there is room now
  release(&pi->lock);
  return done;
}
