// sysfile.c: the file-system system calls. Each one fetches and checks its
// arguments (syscall.c's argint/argaddr/argstr), then calls file.c and
// fs.c. Any bad argument (a bad fd, a bad address, a path longer than
// MAXPATH, a name that does not exist) returns -1.
//
// Every call that may change the disk runs as one transaction:
// begin_op() .. end_op() around all of its inode work (log.c). Lookups that
// might drop the last reference to an inode (iput) need one too.
//
// On a read-only file system (fs_readonly(): a read-only disk, or a disk
// write that failed), every call that would write returns -1: creating,
// opening a file for writing or truncation, link, unlink, mkdir, mknod.
// Reading files and opening devices (the console) still work.
//
// See it run: the shell's `mkdir d`, `ln a b`, `rm b`, `echo x > f` and
// `cat < f` are sys_mkdir, sys_link, sys_unlink, sys_open/sys_write, and
// sys_open/sys_read. xv6's usertests exercise every error path here.
#include "types.h"
#include "riscv.h"
#include "param.h"
#include "stat.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "fcntl.h"
#include "defs.h"

// Fetch argument n as a file descriptor of the calling process.
// Returns 0 and sets *pfd / *pf, or -1 if it is not an open fd.
static int
argfd(int n, int *pfd, struct file **pf)
{
  int fd;

  argint(n, &fd);
  if(fd < 0 || fd >= NOFILE)
    return -1;
  struct file *f = myproc()->ofile[fd];
  if(f == 0)
    return -1;
  if(pfd)
    *pfd = fd;
  if(pf)
    *pf = f;
  return 0;
}

// Give f the lowest free fd of the calling process; -1 if all NOFILE are
// in use. The fd table is private to the process, so no lock. (sysnet.c
// uses it too, for sockets.)
int
fdalloc(struct file *f)
{
  struct proc *p = myproc();
  for(int fd = 0; fd < NOFILE; fd++){
    if(p->ofile[fd] == 0){
      p->ofile[fd] = f;
      return fd;
    }
  }
  return -1;
}

uint64
sys_dup(void)
{
  struct file *f;
  int fd;

  if(argfd(0, 0, &f) < 0)
    return -1;
  if((fd = fdalloc(f)) < 0)
    return -1;
  filedup(f);
  return fd;
}

// read(fd, buf, n) and write(fd, buf, n): the same arguments and checks,
// then fileread or filewrite (file.c), which check buf as they copy.
static uint64
readwrite(int write)
{
  struct file *f;
  uint64 addr;
  int n;

  argaddr(1, &addr);
  argint(2, &n);
  if(argfd(0, 0, &f) < 0 || n < 0)
    return -1;
  return write ? filewrite(f, addr, n) : fileread(f, addr, n);
}

uint64
sys_read(void)
{
  return readwrite(0);
}

uint64
sys_write(void)
{
  return readwrite(1);
}

uint64
sys_close(void)
{
  struct file *f;
  int fd;

  if(argfd(0, &fd, &f) < 0)
    return -1;
  myproc()->ofile[fd] = 0;
  fileclose(f);
  return 0;
}

uint64
sys_fstat(void)
{
  struct file *f;
  uint64 st;       // user address of a struct stat

  argaddr(1, &st);
  if(argfd(0, 0, &f) < 0)
    return -1;
  return filestat(f, st);
}

// The first half of link and rename: the file `old` (not a directory),
// its link count raised by one for the name about to be added. Counting
// the new link before adding the entry means the file is never named by
// more entries than nlink says, even while another process looks on; if
// adding the entry fails, nlink_drop takes the count back. Both changes
// are in the caller's transaction, so a crash keeps neither or both.
// Returns the inode referenced and unlocked, or 0.
static struct inode *
nlink_take(char *old)
{
  struct inode *ip = namei(old);

  if(ip == 0)
    return 0;
  // Directories may not be linked: a second name could make a cycle that
  // ".." and unlink's emptiness check cannot cope with. nlink is a short.
  if(ilock(ip) < 0 || ip->type == T_DIR || ip->nlink >= 32767){
    iunlockput(ip);
    return 0;
  }
  ip->nlink++;
  iupdate(ip);
  iunlock(ip);
  return ip;
}

// One link fewer for ip (referenced, unlocked); ip stays referenced.
static void
nlink_drop(struct inode *ip)
{
  ilock(ip);
  ip->nlink--;
  iupdate(ip);
  iunlock(ip);
}

// The start of link(old, new) and rename(old, new): fetch both paths,
// begin a transaction and take a link on old (nlink_take). Returns the
// inode with the transaction open, or 0 with none (bad arguments, a
// read-only file system, no such file, a directory).
static struct inode *
link_begin(char *old, char *new)
{
  struct inode *ip;

  if(argstr(0, old, MAXPATH) < 0 || argstr(1, new, MAXPATH) < 0)
    return 0;
  if(fs_readonly())
    return 0;
  begin_op();
  if((ip = nlink_take(old)) == 0)
    end_op();
  return ip;
}

// link(old, new): a second directory entry new for the file old.
uint64
sys_link(void)
{
  char old[MAXPATH], new[MAXPATH], name[DIRSIZ + 1];
  struct inode *dp, *ip;

  if((ip = link_begin(old, new)) == 0)
    return -1;

  // ip stays referenced, but unlocked while we lock the new parent: we may
  // hold only a parent and then its child, not the other way round.
  if((dp = nameiparent(new, name)) == 0)
    goto undo;
  if(ilock(dp) < 0 || dp->nlink == 0 || dp->dev != ip->dev ||
     dirlink(dp, name, ip->inum) < 0){
    iunlockput(dp);
    goto undo;
  }
  iunlockput(dp);
  iput(ip);
  end_op();
  return 0;

undo:
  nlink_drop(ip);
  iput(ip);
  end_op();
  return -1;
}

// Is directory dp (locked) empty apart from "." and ".."? An unreadable
// directory counts as not empty, so we never remove what we cannot see.
static int
isdirempty(struct inode *dp)
{
  struct dirent de;

  for(uint off = 2 * sizeof(de); off + sizeof(de) <= dp->size; off += sizeof(de)){
    if(readi(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de))
      return 0;
    if(de.inum != 0)
      return 0;
  }
  return 1;
}

uint64
sys_unlink(void)
{
  char path[MAXPATH], name[DIRSIZ + 1];
  struct inode *dp, *ip;
  struct dirent de;
  uint off;

  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  if(fs_readonly())
    return -1;

  begin_op();
  if((dp = nameiparent(path, name)) == 0){
    end_op();
    return -1;
  }
  if(ilock(dp) < 0)
    goto fail_dp;
  // "." and ".." are part of their directory; removing them would break
  // the tree. Remove the directory itself (from its parent) instead.
  if(namecmp(name, ".") == 0 || namecmp(name, "..") == 0)
    goto fail_dp;
  if((ip = dirlookup(dp, name, &off)) == 0)
    goto fail_dp;
  // Parent before child: the lock order. A corrupt entry naming dp itself
  // would deadlock here, so refuse it.
  if(ip == dp){
    iput(ip);
    goto fail_dp;
  }
  if(ilock(ip) < 0 || ip->nlink < 1 ||
     (ip->type == T_DIR && !isdirempty(ip))){
    iunlockput(ip);
    goto fail_dp;
  }

  memset(&de, 0, sizeof(de));
  if(writei(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de)){
    iunlockput(ip);
    goto fail_dp;
  }
  if(ip->type == T_DIR){
    dp->nlink--;          // the child's ".." no longer names dp
    iupdate(dp);
  }
  iunlockput(dp);

  // If this was the last name and nobody has the file open, this iput
  // (through iunlockput) frees it, in this same transaction.
  ip->nlink--;
  iupdate(ip);
  iunlockput(ip);
  end_op();
  return 0;

fail_dp:
  iunlockput(dp);
  end_op();
  return -1;
}

// Create path as a new inode of the given type, or, for T_FILE, return the
// file that is already there. Returns it locked and referenced, or NULL.
// Caller is in a transaction.
static struct inode *
create(char *path, short type, short major, short minor)
{
  struct inode *ip, *dp;
  char name[DIRSIZ + 1];

  if((dp = nameiparent(path, name)) == 0)
    return 0;
  if(ilock(dp) < 0){
    iunlockput(dp);
    return 0;
  }
  // A directory that was removed while some process still had it as its
  // current directory has nlink 0. Nothing can reach it by name, so a file
  // created in it could never be found again: refuse.
  if(dp->nlink == 0){
    iunlockput(dp);
    return 0;
  }

  if((ip = dirlookup(dp, name, 0)) != 0){
    // Already there. Unlock dp before locking ip: if name is "." then ip
    // is dp, and we must not lock it twice.
    iunlockput(dp);
    if(ilock(ip) == 0 && type == T_FILE &&
       (ip->type == T_FILE || ip->type == T_DEVICE))
      return ip;        // open(O_CREATE) of an existing file opens it
    iunlockput(ip);
    return 0;
  }

  if((ip = ialloc(dp->dev, type)) == 0){
    iunlockput(dp);
    return 0;
  }
  if(ilock(ip) < 0)
    goto fail;
  ip->major = major;
  ip->minor = minor;
  ip->nlink = 1;
  iupdate(ip);

  if(type == T_DIR){
    // "." is not counted in ip->nlink (it would keep every directory's
    // count from reaching 0); ".." counts as a link to dp, added below.
    if(dirlink(ip, ".", ip->inum) < 0 || dirlink(ip, "..", dp->inum) < 0)
      goto fail;
  }
  if(dirlink(dp, name, ip->inum) < 0)
    goto fail;
  if(type == T_DIR){
    dp->nlink++;
    iupdate(dp);
  }
  iunlockput(dp);
  return ip;

fail:
  // Nothing names the new inode, so dropping the last reference with
  // nlink 0 frees it and any blocks it got (iput). All in this transaction.
  ip->nlink = 0;
  iupdate(ip);
  iunlockput(ip);
  iunlockput(dp);
  return 0;
}

uint64
sys_open(void)
{
  char path[MAXPATH];
  int omode, fd;
  struct file *f;
  struct inode *ip;

  argint(1, &omode);
  if(argstr(0, path, MAXPATH) < 0)
    return -1;

  int wants_write = (omode & (O_WRONLY | O_RDWR | O_TRUNC)) != 0;
  begin_op();
  if((omode & O_CREATE) && !fs_readonly()){
    if((ip = create(path, T_FILE, 0, 0)) == 0){
      end_op();
      return -1;
    }
  } else {
    // Read-only file system: O_CREATE may still open a file that exists,
    // exactly as create() would, but creates nothing.
    if((ip = namei(path)) == 0){
      end_op();
      return -1;
    }
    if(ilock(ip) < 0 || ((omode & O_CREATE) && ip->type == T_DIR))
      goto fail;
  }

  // A directory is only read (its entries), never written through open.
  if(ip->type == T_DIR && omode != O_RDONLY)
    goto fail;
  if(ip->type == T_DEVICE && (ip->major < 0 || ip->major >= NDEV))
    goto fail;
  // On a read-only file system a device may still be opened for writing:
  // that writes the device (the console), not the disk.
  if(fs_readonly() && wants_write && ip->type != T_DEVICE)
    goto fail;

  if((f = filealloc()) == 0)
    goto fail;
  if((fd = fdalloc(f)) < 0){
    fileclose(f);
    goto fail;
  }
  if(ip->type == T_DEVICE){
    f->type = FD_DEVICE;
    f->major = ip->major;
  } else {
    f->type = FD_INODE;
    f->off = 0;
  }
  f->ip = ip;
  f->readable = !(omode & O_WRONLY);
  f->writable = (omode & O_WRONLY) || (omode & O_RDWR);

  if((omode & O_TRUNC) && ip->type == T_FILE)
    itrunc(ip);
  iunlock(ip);
  end_op();
  return fd;

fail:
  iunlockput(ip);
  end_op();
  return -1;
}

uint64
sys_mkdir(void)
{
  char path[MAXPATH];
  struct inode *ip;

  if(argstr(0, path, MAXPATH) < 0 || fs_readonly())
    return -1;
  begin_op();
  if((ip = create(path, T_DIR, 0, 0)) == 0){
    end_op();
    return -1;
  }
  iunlockput(ip);
  end_op();
  return 0;
}

uint64
sys_mknod(void)
{
  char path[MAXPATH];
  struct inode *ip;
  int major, minor;

  argint(1, &major);
  argint(2, &minor);
  if(argstr(0, path, MAXPATH) < 0 || fs_readonly())
    return -1;
  if(major < 0 || major >= NDEV || minor < 0 || minor > 32767)
    return -1;
  begin_op();
  if((ip = create(path, T_DEVICE, major, minor)) == 0){
    end_op();
    return -1;
  }
  // create() hands back an existing file or device for T_FILE only; for
  // T_DEVICE it always makes a new one, so this really is our device.
  iunlockput(ip);
  end_op();
  return 0;
}

uint64
sys_chdir(void)
{
  char path[MAXPATH];
  struct inode *ip;
  struct proc *p = myproc();

  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  begin_op();
  if((ip = namei(path)) == 0){
    end_op();
    return -1;
  }
  if(ilock(ip) < 0 || ip->type != T_DIR){
    iunlockput(ip);
    end_op();
    return -1;
  }
  iunlock(ip);
  iput(p->cwd);        // may be the last reference to a removed directory
  end_op();
  p->cwd = ip;
  return 0;
}

// exec(path, argv): copy the argument strings into the kernel, one page
// each (kalloc), since exec will throw away the user memory they live in.
// At most MAXARG entries including the terminating NULL.
uint64
sys_exec(void)
{
  char path[MAXPATH];
  char *argv[MAXARG];
  uint64 uargv, uarg;
  int i, ret = -1;

  argaddr(1, &uargv);
  if(argstr(0, path, MAXPATH) < 0)
    return -1;
  memset(argv, 0, sizeof(argv));
  for(i = 0; ; i++){
    if(i >= MAXARG)
      goto out;                       // too many arguments
    if(fetchaddr(uargv + sizeof(uint64) * i, &uarg) < 0)
      goto out;                       // argv itself is a bad pointer
    if(uarg == 0)
      break;                          // the NULL that ends argv
    if((argv[i] = kalloc()) == 0)
      goto out;
    if(fetchstr(uarg, argv[i], PGSIZE) < 0)
      goto out;                       // bad pointer, or longer than a page
  }
  ret = exec(path, argv);

out:
  for(i = 0; i < MAXARG && argv[i] != 0; i++)
    kfree(argv[i]);
  return ret;
}

// pipe(fdarray): fdarray[0] reads, fdarray[1] writes.
uint64
sys_pipe(void)
{
  uint64 fdarray;     // user address of int[2]
  struct file *rf, *wf;
  int fd[2];
  struct proc *p = myproc();

  argaddr(0, &fdarray);
  if(pipealloc(&rf, &wf) < 0)
    return -1;
  fd[0] = fdalloc(rf);
  fd[1] = fd[0] < 0 ? -1 : fdalloc(wf);
  if(fd[1] < 0 || either_copyout(1, fdarray, fd, sizeof(fd)) < 0){
    if(fd[0] >= 0)
      p->ofile[fd[0]] = 0;
    if(fd[1] >= 0)
      p->ofile[fd[1]] = 0;
    fileclose(rf);
    fileclose(wf);
    return -1;
  }
  return 0;
}

// ---- durability and rename (syscalls 40..43) ----
//
// The promise (README, "Disk and durability"): an operation's changes reach
// the disk all together or not at all, in the order the operations
// finished; they are certain to be on the disk once fsync() or sync()
// returns 0. Both commit the whole log (every file's changes, not only
// fd's): the log holds one transaction for the whole file system.

// fsync(fd): -1 for a bad fd or one that is not a file or device.
uint64
sys_fsync(void)
{
  struct file *f;

  if(argfd(0, 0, &f) < 0)
    return -1;
  if(f->type != FD_INODE && f->type != FD_DEVICE)
    return -1;
  return log_sync() < 0 ? -1 : 0;
}

uint64
sys_sync(void)
{
  return log_sync() < 0 ? -1 : 0;
}

// dropcache(): sync, then forget every cached block nobody is using, so
// that the next reads come from the disk (benchmarks measure cold reads
// this way). Returns the number of blocks dropped, or -1.
uint64
sys_dropcache(void)
{
  if(log_sync() < 0)
    return -1;
  return bcache_drop();
}

// Remove directory entry `name` of dp (locked) if it still names inode
// inum. 1 if removed, 0 if not there any more, -1 on an I/O error.
static int
remove_entry(struct inode *dp, char *name, uint inum)
{
  struct dirent de;
  uint off;
  struct inode *ip = dirlookup(dp, name, &off);

  if(ip == 0)
    return 0;
  int same = ip->inum == inum;
  iput(ip);                 // not the last reference: the caller holds one
  if(!same)
    return 0;
  memset(&de, 0, sizeof(de));
  return writei(dp, 0, (uint64)&de, off, sizeof(de)) == sizeof(de) ? 1 : -1;
}

// rename(old, new): the file old gets the name new, in one transaction:
// after a crash either old or new names it, never neither and never both.
// If new names a file (or device) already, that name is taken over and
// the file it named loses a link (and is freed if that was its last), as
// in POSIX. Directories are not renamed (that would need a cycle check and
// a ".." update), and new may not be a directory. Returns 0 or -1.
//
// Locks: one directory at a time (first new's, then old's), each before
// the file in it, so it cannot deadlock with any other call. Like link,
// we count the new link first, so that the file is never named by more
// entries than nlink says, even while another process looks on.
uint64
sys_rename(void)
{
  char old[MAXPATH], new[MAXPATH], name[DIRSIZ + 1];
  struct inode *ip, *dp, *victim = 0;
  struct dirent de;
  uint off;

  if((ip = link_begin(old, new)) == 0)
    return -1;

  // 1. The new name: a new entry, or the existing one pointed at ip.
  if((dp = nameiparent(new, name)) == 0)
    goto undo;
  if(ilock(dp) < 0 || dp->nlink == 0 || dp->dev != ip->dev ||
     namecmp(name, ".") == 0 || namecmp(name, "..") == 0){
    iunlockput(dp);
    goto undo;
  }
  if((victim = dirlookup(dp, name, &off)) != 0){
    if(victim == ip){
      // old and new already name the same file: POSIX says do nothing.
      iput(victim);
      iunlockput(dp);
      nlink_drop(ip);
      iput(ip);
      end_op();
      return 0;
    }
    if(victim == dp || ilock(victim) < 0 || victim->type == T_DIR){
      if(victim != dp)
        iunlock(victim);
      iput(victim);
      iunlockput(dp);
      goto undo;
    }
    memset(&de, 0, sizeof(de));
    de.inum = ip->inum;
    strncpy(de.name, name, DIRSIZ);
    if(writei(dp, 0, (uint64)&de, off, sizeof(de)) != sizeof(de)){
      iunlockput(victim);
      iunlockput(dp);
      goto undo;
    }
    victim->nlink--;
    iupdate(victim);
    iunlock(victim);        // the iput below may free it, after dp is unlocked
  } else if(dirlink(dp, name, ip->inum) < 0){
    iunlockput(dp);
    goto undo;
  }
  iunlockput(dp);

  // 2. The old name goes, if it still names the file (a concurrent call
  // may have removed or replaced it meanwhile; then there is nothing to do).
  if((dp = nameiparent(old, name)) != 0){
    if(ilock(dp) == 0 && remove_entry(dp, name, ip->inum) == 1)
      nlink_drop(ip);
    iunlockput(dp);
  }
  if(victim)
    iput(victim);
  iput(ip);
  end_op();
  return 0;

undo:
  nlink_drop(ip);
  iput(ip);
  end_op();
  return -1;
}
