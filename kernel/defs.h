// defs.h: every function one kernel file offers another, grouped by the file
// that defines it. Read this first to find your way around the kernel.
// (The portable virtio core has its own headers under virtio/; the
// disk's interface for the file system is kernel/disk.h.)
#ifndef DEFS_H
#define DEFS_H
#include "types.h"

struct buf;
struct context;
struct file;
struct inode;
struct pipe;
struct proc;
struct spinlock;
struct sleeplock;
struct stat;
struct superblock;
struct devinfo;

// ---- boot and machine: main.c, sbi.c, fdt.c, plic.c, uart.c ----
extern uint64 phys_top;           // end of RAM (from the device tree; PHYSTOP if none)
extern volatile int panicked;     // set by panic(); other harts stop printing
void   sbi_console_putchar(int c);
long   sbi_set_timer(uint64 when);                 // TIME extension
long   sbi_hart_start(uint64 hartid, uint64 start, uint64 opaque);  // HSM
void   sbi_shutdown(void) __attribute__((noreturn)); // SRST: power off
int    sbi_hart_is_stopped(uint64 hartid);
void   sbi_send_ipi(uint64 hartid);                 // IPI: a software interrupt there
void   fdt_parse(uint64 dtb);     // fills in machine facts (memory, harts, devices)
void   plicinit(void);
void   plicinithart(int devices);
void   plic_enable(int irq);      // one more source for this hart (a PCI device's INTx)
void   irq_dispatch(void);        // claim an external interrupt, route it, complete it
void   uartinit(void);
void   uartpaging(void);
void   uartputc(int c);           // may sleep until there is room
void   uartputc_sync(int c);      // spins; for kernel printf and echo
void   uartintr(void);

// ---- the glue to the portable code (kernel/glue/) ----
// vdev.c: probe table, driver binding, irq routing
void   virtio_probe_all(void);    // probe the slots and PCI, start drivers, print the table
void   virtio_irq(int irq);       // a PLIC interrupt no other device claims: virtio's
int    devinfo_get(int idx, struct devinfo *out);  // idx-th table row; -1 past the end
struct vtrace;
int    vdev_trace(const char *name, struct vtrace *t, int on);  // record a driver's queues
// pci.c: bus 0 of the PCIe host bridge
struct vio_dev;
int    pci_probe_virtio(struct vio_dev *devs, int max);  // place BARs, probe; how many
uint64 pci_map_len(uint64 cpu, uint64 size, uint64 want); // how much of a window vm.c maps
// Each driver's binding (vdev.c's table): attach a probed device (0 or
// -1), its interrupt, the four counters `lsdev -v` shows, and starting or
// stopping the recording of its queues (on = 1 / 0; 0, or -1 if not even
// one queue could start).
int    disk_attach(struct vio_dev *d);       // disk.c: the root disk (kernel/disk.h
void   disk_intr(void);                      //   has what the file system calls)
void   disk_counters(uint64 *v);
int    disk_trace(struct vtrace *t, int on);
int    vconsole_attach(struct vio_dev *d);   // devfiles.c: /dev/vcons
void   vconsole_intr(void);
void   vconsole_counters(uint64 *v);
void   vconsole_ports(struct devinfo *out);  // its ports, for devinfo
int    vconsole_trace(struct vtrace *t, int on);
int    random_attach(struct vio_dev *d);     // devfiles.c: /dev/random
void   random_intr(void);
void   random_counters(uint64 *v);
int    random_trace(struct vtrace *t, int on);
int    sysnet_attach(struct vio_dev *d);     // sysnet.c: the network stack
void   sysnet_intr(void);
void   sysnet_counters(uint64 *v);
int    sysnet_trace(struct vtrace *t, int on);
// vtrace.c: /dev/vtrace, the recording `make trace` reads
void   vtraceinit(void);
// disk.c, for the benchmarks (bench/kblkbench.c)
struct vblk_limits;
struct vblk_stats;
struct disk_tuning;
int    disk_retune(const struct vblk_limits *lim, const struct disk_tuning *t);
void   disk_stats(struct vblk_stats *st);
// sysnet.c: sockets and the network clock
struct sock;
void   nettick(void);                    // clockintr: the stack's timers
int    sockread(struct file *f, uint64 addr, int n);   // FD_SOCK files (file.c)
int    sockwrite(struct file *f, uint64 addr, int n);
void   sockclose(struct sock *s);

// ---- console.c ----
void   consoleinit(void);
void   consoleintr(int c);
void   consputc(int c);

// ---- printf.c ----
int    printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int    vprintf(const char *fmt, __builtin_va_list ap);  // for vos_log
void   panic(const char *s) __attribute__((noreturn));
void   printfinit(void);

// ---- kalloc.c ----
void  *kalloc(void);
void   kfree(void *pa);
void   kinit(void);

// ---- string.c ----
int    memcmp(const void *a, const void *b, uint n);
void  *memmove(void *dst, const void *src, uint n);
void  *memset(void *dst, int c, uint n);
void  *memcpy(void *dst, const void *src, uint n);
char  *safestrcpy(char *dst, const char *src, int n);
int    strlen(const char *s);
int    strncmp(const char *a, const char *b, uint n);
char  *strncpy(char *dst, const char *src, int n);

// ---- spinlock.c ----
void   acquire(struct spinlock *lk);
void   release(struct spinlock *lk);
int    holding(struct spinlock *lk);
void   initlock(struct spinlock *lk, char *name);
void   push_off(void);
void   pop_off(void);

// ---- sleeplock.c ----
void   acquiresleep(struct sleeplock *lk);
void   acquiresleep_unreached(struct sleeplock *lk); // bio_fast.c read-ahead: nobody can reach it
void   releasesleep(struct sleeplock *lk);
int    holdingsleep(struct sleeplock *lk);
void   initsleeplock(struct sleeplock *lk, char *name);

// ---- proc.c ----
int    cpuid(void);
struct cpu *mycpu(void);
struct proc *myproc(void);
void   procinit(void);
void   userinit(void);
int    fork(void);
void   exit(int status) __attribute__((noreturn));
int    wait(uint64 addr);
int    kill(int pid);
int    killed(struct proc *p);
void   setkilled(struct proc *p);
int    growproc(int n);
void   proc_unshare(struct proc *p);   // p grows past USERTOP: xv6-style traps from now on
void   proc_mapstacks(uint64 *kpgtbl);
uint64 *proc_pagetable(struct proc *p);
void   proc_freepagetable(uint64 *pagetable, uint64 sz);
void   scheduler(void) __attribute__((noreturn));
void   sched(void);
void   yield(void);
void   sleep(void *chan, struct spinlock *lk);
void   wakeup(void *chan);
int    either_copyout(int user_dst, uint64 dst, void *src, uint64 len);
int    either_copyin(void *dst, int user_src, uint64 src, uint64 len);
void   procdump(void);

// ---- swtch.S ----
void   swtch(struct context *old, struct context *new);

// ---- trap.c ----
extern uint ticks;
extern struct spinlock tickslock;
void   trapinit(void);
void   trapinithart(void);
void   usertrapret(void);
void   clockintr(void);

// ---- syscall.c ----
void   argint(int n, int *ip);
void   argaddr(int n, uint64 *ip);
int    argstr(int n, char *buf, int max);
int    fetchaddr(uint64 addr, uint64 *ip);
int    fetchstr(uint64 addr, char *buf, int max);
void   syscall(void);

// ---- vm.c ----
typedef uint64 pte_t;
typedef uint64 *pagetable_t;
void   kvminit(void);
void   kvminithart(void);
extern pagetable_t kernel_pagetable;
void   vmswitch(pagetable_t pt);      // satp = pt, then fence
void   kvmmap(pagetable_t kpgtbl, uint64 va, uint64 pa, uint64 sz, int perm);
int    mappages(pagetable_t pt, uint64 va, uint64 size, uint64 pa, int perm);
pagetable_t uvmcreate(void);
void   uvmkshare(pagetable_t pt);     // map the kernel's regions into a user table
void   uvmkunshare(pagetable_t pt);
uint64 uvmalloc(pagetable_t pt, uint64 oldsz, uint64 newsz, int xperm);
uint64 uvmdealloc(pagetable_t pt, uint64 oldsz, uint64 newsz);
int    uvmcopy(pagetable_t old, pagetable_t new, uint64 sz);
void   uvmfree(pagetable_t pt, uint64 sz);
void   uvmunmap(pagetable_t pt, uint64 va, uint64 npages, int do_free);
void   uvmclear(pagetable_t pt, uint64 va);
pte_t *walk(pagetable_t pt, uint64 va, int alloc);
uint64 walkaddr(pagetable_t pt, uint64 va);
int    copyout(pagetable_t pt, uint64 dstva, char *src, uint64 len);
int    copyin(pagetable_t pt, char *dst, uint64 srcva, uint64 len);
int    copyinstr(pagetable_t pt, char *dst, uint64 srcva, uint64 max);
uint64 vmfault(pagetable_t pt, uint64 va);  // map an untouched lazy page; 0 if none

// ---- exec.c ----
int    exec(char *path, char **argv);

// ---- pipe.c ----
int    pipealloc(struct file **f0, struct file **f1);
void   pipeclose(struct pipe *pi, int writable);
int    piperead(struct pipe *pi, uint64 addr, int n);
int    pipewrite(struct pipe *pi, uint64 addr, int n);

// ---- bio.c (the cache) and bio_fast.c (its fast paths) ----
struct bvec;
void   binit(void);
struct buf *bread(uint dev, uint blockno);   // NULL if the device failed the read
struct buf *bnew(uint dev, uint blockno);    // locked, zeroed, not read from disk
int    bwrite(struct buf *b);                // 0, or -1 if the device failed the write
void   brelse(struct buf *b);
void   bpin(struct buf *b);
void   bunpin(struct buf *b);
int    bcache_drop(void);         // forget clean unused blocks; how many
void   bio_fast_init(void);
struct buf *bpeek(uint dev, uint blockno);   // cached+valid, referenced, NOT locked; or NULL
void   bunpeek(struct buf *b);
void   bpeek_many(uint dev, const uint *blocks, int n, struct buf **out);
void   bunpeek_many(struct buf **bufs, int n);
int    breadahead(uint dev, const uint *blocks, int n);  // start reads; no wait
int    bio_rw(struct bvec *v, int n, int write);  // batched I/O, waits; 0 or -1
int    bio_read_direct(uint dev, int (*next)(void *, struct bvec *, int), void *arg);

// ---- log.c ----
void   initlog(int dev, struct superblock *sb);
void   log_write(struct buf *b);
void   begin_op(void);
void   end_op(void);
int    log_sync(void);            // commit and flush everything so far; 0 or -1

// ---- fs.c, and fs_fast.c (readi's fast paths) ----
void   fsinit(int dev);
int    fs_readonly(void);          // 1 when writes are refused (read-only disk or I/O error)
void   fs_set_readonly(void);      // log.c, after a failed commit: refuse writes from now on
int    dirlink(struct inode *dp, char *name, uint inum);
struct inode *dirlookup(struct inode *dp, char *name, uint *poff);
struct inode *ialloc(uint dev, short type);
struct inode *idup(struct inode *ip);
void   iinit(void);
int    ilock(struct inode *ip);    // 0, or -1 if unreadable (then locked but !valid)
void   iput(struct inode *ip);
void   iunlock(struct inode *ip);
void   iunlockput(struct inode *ip);
void   iupdate(struct inode *ip);
int    namecmp(const char *s, const char *t);
struct inode *namei(char *path);
struct inode *nameiparent(char *path, char *name);
int    readi(struct inode *ip, int user_dst, uint64 dst, uint off, uint n);
int    is_data_block(uint b);      // a block number a file may point to?
void   stati(struct inode *ip, struct stat *st);
int    writei(struct inode *ip, int user_src, uint64 src, uint off, uint n);
void   itrunc(struct inode *ip);
uint   readi_fast(struct inode *ip, int user_dst, uint64 dst, uint off, uint n);

// ---- file.c ----
struct file *filealloc(void);
void   fileclose(struct file *f);
struct file *filedup(struct file *f);
void   fileinit(void);
int    fileread(struct file *f, uint64 addr, int n);
int    filestat(struct file *f, uint64 addr);
int    filewrite(struct file *f, uint64 addr, int n);

// ---- sysfile.c ----
int    fdalloc(struct file *f);

#define NELEM(x) (sizeof(x)/sizeof((x)[0]))
#endif
