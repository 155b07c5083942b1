// vtrace.c: /dev/vtrace (major VTRACE), the kernel's end of `make trace`.
// The recording itself is portable (virtio/virtq_trace.c); this file owns
// its buffer, turns recording on and off for the devices a user names, and
// hands the records to whoever reads the file.
//
//   write "on blk"            empty the buffer, then record every queue of
//   write "on blk net"        the named devices (blk, console, net, rng, or
//   write "on all"            all of them): a snapshot of each, then each step
//   write "off"               stop, and close the recording with its END record
//   read                      the records, 32 bytes each (virtq_trace.h),
//                             oldest first; 0 once all have been read
//
// Each write is one command (a trailing newline is ignored), so a shell
// can drive it too: `echo on blk > /dev/vtrace`. The program user/vtrace.c
// does the whole dance around one command and prints the records on the
// console in a framed hexadecimal form that tools/trace/ decodes.
//
// Follows virtio 1.2 sections 2.7 and 2.8 (split and packed rings) through
// what it records (see virtio/virtq_trace.h); nothing here touches a ring.
//
// See it run: `make trace CMD='cat README.md'`; or at the shell prompt
// `vtrace cat README.md`.
#include "types.h"
#include "param.h"
#include "riscv.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "file.h"
#include "defs.h"
#include "virtq_trace.h"

// 4096 records of 32 bytes: 128 KB, room for a few thousand steps (a
// `cat README.md` takes a few dozen; a snapshot of a 256-entry queue
// about 50 records, or about 290 on the packed ring, one per entry).
#define VTRACE_NREC 4096
#define TIMEBASE_HZ 10000000   // the `time` CSR on QEMU virt (riscv.h r_time)

static struct vtr_rec recs[VTRACE_NREC];
static struct vtrace trace;

// One command at a time; `on` names which devices "off" will stop.
static struct spinlock ctl;
static int recording;

static uint64_t
vtrace_now(void)
{
  return r_time();
}

// The next word of s (from *pos on), copied into w; 0 when there is none.
static int
next_word(const char *s, int n, int *pos, char *w, int wmax)
{
  int i = *pos, k = 0;

  while(i < n && (s[i] == ' ' || s[i] == ',' || s[i] == '\n' || s[i] == '\t'))
    i++;
  while(i < n && s[i] != ' ' && s[i] != ',' && s[i] != '\n' && s[i] != '\t'){
    if(k < wmax - 1)
      w[k++] = s[i];
    i++;
  }
  w[k] = 0;
  *pos = i;
  return k > 0;
}

// "on NAME..." with the lock held: a new recording of the named devices.
// -1 if a name has no device behind it (nothing is recorded then).
static int
turn_on(const char *cmd, int n, int pos)
{
  char w[16];
  int any = 0;

  if(recording)
    vdev_trace(0, &trace, 0);
  vtrace_begin(&trace);
  recording = 1;
  while(next_word(cmd, n, &pos, w, sizeof(w))){
    if(vdev_trace(strncmp(w, "all", 4) == 0 ? 0 : w, &trace, 1) <= 0){
      vdev_trace(0, &trace, 0);
      vtrace_end(&trace);
      recording = 0;
      return -1;
    }
    any = 1;
  }
  if(!any)
    any = vdev_trace("blk", &trace, 1) > 0;   // the disk, as `make trace` does
  return any ? 0 : -1;
}

static int
vtracewrite(int user_src, uint64 src, int n)
{
  char cmd[64], w[8];
  int pos = 0, r = -1;

  if(n <= 0 || n >= sizeof(cmd))
    return -1;
  if(either_copyin(cmd, user_src, src, n) < 0)
    return -1;
  cmd[n] = 0;
  if(!next_word(cmd, n, &pos, w, sizeof(w)))
    return -1;
  acquire(&ctl);
  if(strncmp(w, "on", 3) == 0){
    r = turn_on(cmd, n, pos);
  } else if(strncmp(w, "off", 4) == 0 && recording){
    vdev_trace(0, &trace, 0);
    vtrace_end(&trace);
    recording = 0;
    r = 0;
  }
  release(&ctl);
  return r < 0 ? -1 : n;
}

// Whole records only: a read of fewer than 32 bytes is refused.
static int
vtraceread(int user_dst, uint64 dst, int n)
{
  struct vtr_rec chunk[8];     // 256 bytes of kernel stack at a time
  int done = 0;

  if(n < (int)sizeof(struct vtr_rec))
    return -1;
  while(n - done >= (int)sizeof(struct vtr_rec)){
    int want = (n - done) / sizeof(struct vtr_rec);
    if(want > NELEM(chunk))
      want = NELEM(chunk);
    int got = vtrace_read(&trace, chunk, want);
    if(got == 0)
      break;
    if(either_copyout(user_dst, dst + done, chunk, got * sizeof(struct vtr_rec)) < 0)
      return done > 0 ? done : -1;
    done += got * sizeof(struct vtr_rec);
  }
  return done;
}

void
vtraceinit(void)
{
  initlock(&ctl, "vtracectl");
  vtrace_init(&trace, recs, VTRACE_NREC, vtrace_now, TIMEBASE_HZ);
  devsw[VTRACE].read = vtraceread;
  devsw[VTRACE].write = vtracewrite;
}
