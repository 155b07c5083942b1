// file.c: the open-file table and the device switch.
//
// A struct file is what open() or pipe() creates and a file descriptor
// points to. dup() and fork() share it (ref counts the fds), which is how
// a shell and its children share one offset on the same file. Reads and
// writes dispatch on the kind of file:
//   FD_PIPE    pipe.c
//   FD_DEVICE  devsw[major] (console.c registers CONSOLE)
//   FD_INODE   readi/writei in fs.c, at f->off
//
// Locking: ftable.lock guards every f->ref (and so which slots are free).
// Everything else in a struct file is set before it is shared and read-only
// afterwards, except f->off, which is guarded by the inode's sleeplock (two
// processes writing through one shared fd get disjoint ranges).
//
// See it run: `echo hi > x` in the shell opens x (sysfile.c), writes
// through filewrite, and closes it through fileclose; `cat x` reads it back.
#include "types.h"
#include "param.h"
#include "stat.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "file.h"
#include "defs.h"

struct devsw devsw[NDEV];

static struct {
  struct spinlock lock;
  struct file file[NFILE];
} ftable;

void
fileinit(void)
{
  initlock(&ftable.lock, "ftable");
}

// A free struct file with ref 1, or NULL if all NFILE are open.
struct file *
filealloc(void)
{
  acquire(&ftable.lock);
  for(struct file *f = ftable.file; f < ftable.file + NFILE; f++){
    if(f->ref == 0){
      f->ref = 1;
      release(&ftable.lock);
      return f;
    }
  }
  release(&ftable.lock);
  return 0;
}

struct file *
filedup(struct file *f)
{
  acquire(&ftable.lock);
  if(f->ref < 1)
    panic("filedup: file not open");
  f->ref++;
  release(&ftable.lock);
  return f;
}

// Drop one reference; the last one releases the pipe end or the inode.
void
fileclose(struct file *f)
{
  acquire(&ftable.lock);
  if(f->ref < 1)
    panic("fileclose: file not open");
  if(--f->ref > 0){
    release(&ftable.lock);
    return;
  }
  // Copy what we need and free the slot before the slow part: pipeclose
  // and iput may sleep, which we may not do holding a spinlock.
  struct file copy = *f;
  f->type = FD_NONE;
  release(&ftable.lock);

  if(copy.type == FD_PIPE){
    pipeclose(copy.pipe, copy.writable);
  } else if(copy.type == FD_SOCK){
    sockclose(copy.sock);
  } else if(copy.type == FD_INODE || copy.type == FD_DEVICE){
    // The last iput of an unlinked file frees it: that writes the disk.
    begin_op();
    iput(copy.ip);
    end_op();
  }
}

// Copy f's metadata to the struct stat at user address addr. 0 or -1.
int
filestat(struct file *f, uint64 addr)
{
  struct stat st;

  if(f->type != FD_INODE && f->type != FD_DEVICE)
    return -1;
  ilock(f->ip);
  stati(f->ip, &st);
  iunlock(f->ip);
  return either_copyout(1, addr, &st, sizeof(st));
}

static int
device_ok(struct file *f)
{
  return f->major >= 0 && f->major < NDEV;
}

// Read up to n bytes into user address addr. Bytes read, 0 at end, or -1.
int
fileread(struct file *f, uint64 addr, int n)
{
  int r;

  if(!f->readable || n < 0)
    return -1;
  switch(f->type){
  case FD_PIPE:
    return piperead(f->pipe, addr, n);
  case FD_DEVICE:
    if(!device_ok(f) || devsw[f->major].read == 0)
      return -1;
    return devsw[f->major].read(1, addr, n);
  case FD_SOCK:
    return sockread(f, addr, n);
  case FD_INODE:
    ilock(f->ip);
    r = readi(f->ip, 1, addr, f->off, n);
    if(r > 0)
      f->off += r;
    iunlock(f->ip);
    return r;
  default:
    panic("fileread: bad file type");
  }
}

// How many bytes of a file write fit in one transaction. A chunk of k
// blocks' worth of bytes touches at most k+1 data blocks (if it does not
// start on a block boundary, its first block already exists, so at most k
// are new). On the way to them it may change the indirect block, the
// double-indirect block and two of the indirect blocks below it (k+1 <= 256
// consecutive file blocks span at most two), and allocate each of those 4.
// Worst case it writes: k+1 data blocks, a bitmap block for each of the
// k+4 new blocks, the 4 indirect blocks and the inode's block:
// 2k + 10 <= MAXOPBLOCKS, so k = 27 blocks for MAXOPBLOCKS = 64.
#define WRITE_CHUNK (((MAXOPBLOCKS - 10) / 2) * BSIZE)

// Write n bytes from user address addr. Returns n, or fewer if the write
// stopped early (disk full, bad address), or -1 if nothing was written.
int
filewrite(struct file *f, uint64 addr, int n)
{
  if(!f->writable || n < 0)
    return -1;
  switch(f->type){
  case FD_PIPE:
    return pipewrite(f->pipe, addr, n);
  case FD_DEVICE:
    if(!device_ok(f) || devsw[f->major].write == 0)
      return -1;
    return devsw[f->major].write(1, addr, n);
  case FD_SOCK:
    return sockwrite(f, addr, n);
  case FD_INODE:
    break;
  default:
    panic("filewrite: bad file type");
  }

  // The file system may have turned read-only since the file was opened.
  if(fs_readonly())
    return -1;
  // Each chunk is its own transaction, so a big write is not atomic as a
  // whole: a crash may keep its first chunks. Each chunk is.
  int done = 0;
  while(done < n){
    int chunk = n - done;
    if(chunk > WRITE_CHUNK)
      chunk = WRITE_CHUNK;
    begin_op();
    ilock(f->ip);
    int r = writei(f->ip, 1, addr + done, f->off, chunk);
    if(r > 0)
      f->off += r;
    iunlock(f->ip);
    end_op();
    if(r < 0)
      break;
    done += r;
    if(r != chunk)
      break;           // disk full, file at MAXFILE, or a bad address
  }
  return done > 0 ? done : -1;
}
