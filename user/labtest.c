// labtest.c: the guest half of the lab grader (tools/labs/grade.py). The
// grader types one labtest line at the shell for each check and reads back
// only what labtest frames with the word it chose for this run:
//
//   <<WORD NAME begin>>
//   ... what the check printed ...
//   <<WORD NAME pass>>              or   <<WORD NAME fail: why>>
//                                   or   <<WORD NAME exit STATUS>>   (run)
//
// so the grader never has to pick a shell prompt out of other output (a
// kernel message from another hart, a program's own "$ "), and a program
// that prints "OK" cannot pass a check: the word changes every run.
//
//   labtest WORD run NAME PROG ARG...   run PROG, frame its output and exit status
//   labtest WORD fs NAME                files written, synced, the cache
//                                       dropped, read back from the disk
//   labtest WORD rng NAME               /dev/random: sizes, distinct bytes,
//                                       four readers at once
//   labtest WORD blk NAME               4 KB reads kept 1, 8 and 32 deep in
//                                       flight (the blkbench system call):
//                                       notifications and interrupts per request
//
// See it run: `make grade` in a lab's starter (labs/README.md), or type
// `labtest hello fs t` at the shell prompt after `make qemu`.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "bench/blkbench.h"
#include "user/user.h"

static char *word, *name;

static void
frame(const char *what)
{
  printf("\n<<%s %s %s>>\n", word, name, what);
}

static void
fail(const char *why)
{
  printf("\n<<%s %s fail: %s>>\n", word, name, why);
  exit(1);
}

// ---- run: any program, framed ----

static int
run(char **argv)
{
  int pid = fork(), status = -1;
  if(pid < 0)
    fail("fork failed");
  if(pid == 0){
    exec(argv[0], argv);
    printf("labtest: cannot run %s\n", argv[0]);
    exit(127);
  }
  if(wait(&status) != pid)
    fail("wait failed");
  printf("\n<<%s %s exit %d>>\n", word, name, status);
  return 0;
}

// ---- fs: the disk behind the file system ----

// Byte i of test file k: never the same for two files, rarely repeating.
static uchar
pattern(int k, int i)
{
  return (uchar)(i * 7 + (i >> 8) * 13 + k * 101 + 1);
}

static char fsname[] = "labtest.f0";
static uchar buf[8192];

static void
fs_write(int k, int size)
{
  fsname[9] = '0' + k;
  int fd = open(fsname, O_CREATE | O_RDWR | O_TRUNC);
  if(fd < 0)
    fail("cannot create a file");
  for(int off = 0; off < size; off += sizeof(buf)){
    int n = size - off < (int)sizeof(buf) ? size - off : (int)sizeof(buf);
    for(int i = 0; i < n; i++)
      buf[i] = pattern(k, off + i);
    if(write(fd, buf, n) != n)
      fail("a write came up short");
  }
  if(fsync(fd) != 0)
    fail("fsync failed");
  close(fd);
}

static void
fs_check(int k, int size)
{
  fsname[9] = '0' + k;
  int fd = open(fsname, O_RDONLY);
  if(fd < 0)
    fail("a file written a moment ago is gone");
  for(int off = 0; off < size; off += sizeof(buf)){
    int n = size - off < (int)sizeof(buf) ? size - off : (int)sizeof(buf);
    if(read(fd, buf, n) != n)
      fail("a read came up short");
    for(int i = 0; i < n; i++){
      if(buf[i] != pattern(k, off + i)){
        printf("file %s byte %d: 0x%x, expected 0x%x\n", fsname, off + i, buf[i],
               pattern(k, off + i));
        fail("data read back differs from what was written");
      }
    }
  }
  if(read(fd, buf, 1) != 0)
    fail("a file is longer than what was written");
  close(fd);
}

static void
fs(void)
{
  static const int sizes[] = { 1000, 70000, 300000 };
  int total = 0;
  for(int k = 0; k < 3; k++){
    fs_write(k, sizes[k]);
    total += sizes[k];
  }
  // Forget every cached block: the reads below must come from the disk.
  if(dropcache() < 0)
    fail("dropcache failed");
  for(int k = 0; k < 3; k++)
    fs_check(k, sizes[k]);
  for(int k = 0; k < 3; k++){
    fsname[9] = '0' + k;
    if(unlink(fsname) != 0)
      fail("unlink failed");
  }
  printf("fs: %d bytes in 3 files written, synced, read back from the disk\n", total);
  frame("pass");
}

// ---- rng: /dev/random ----

static int
rng_read(int fd, uchar *p, int n)
{
  int got = 0;
  while(got < n){
    int r = read(fd, p + got, n - got);
    if(r <= 0)
      return got;
    got += r;
  }
  return got;
}

// How many different byte values p[0..n-1] holds.
static int
distinct(uchar *p, int n)
{
  uchar seen[256];
  int count = 0;
  memset(seen, 0, sizeof(seen));
  for(int i = 0; i < n; i++){
    if(!seen[p[i]]){
      seen[p[i]] = 1;
      count++;
    }
  }
  return count;
}

static void
rng(void)
{
  // Sizes around the driver's buffer (64 bytes on RISC-V): under, equal,
  // one more, many buffers.
  static const int sizes[] = { 1, 7, 64, 65, 100, 4096 };
  static uchar a[4096], b[4096];
  int fd = open("/dev/random", O_RDONLY);
  if(fd < 0)
    fail("cannot open /dev/random");
  for(int s = 0; s < (int)(sizeof(sizes) / sizeof(sizes[0])); s++){
    int n = sizes[s], got = rng_read(fd, a, n);
    if(got != n){
      printf("read(/dev/random, %d): %d bytes\n", n, got);
      fail("a read of /dev/random returned fewer bytes than asked");
    }
  }
  if(rng_read(fd, a, 32) != 32 || rng_read(fd, b, 32) != 32)
    fail("a read of /dev/random failed");
  if(memcmp(a, b, 32) == 0)
    fail("two reads of 32 bytes returned the same bytes");
  if(distinct(a, 32) < 8)
    fail("32 random bytes hold fewer than 8 different values");
  if(rng_read(fd, a, 4096) != 4096)
    fail("a read of 4096 bytes failed");
  int d = distinct(a, 4096);
  printf("rng: 4096 bytes hold %d different values\n", d);
  if(d < 200)
    fail("4096 random bytes hold fewer than 200 different values");
  close(fd);

  // Four readers at once: each must get all it asked for.
  int pids[4];
  for(int k = 0; k < 4; k++){
    pids[k] = fork();
    if(pids[k] < 0)
      fail("fork failed");
    if(pids[k] == 0){
      int f = open("/dev/random", O_RDONLY);
      int ok = f >= 0;
      for(int round = 0; ok && round < 20; round++)
        ok = rng_read(f, b, 200) == 200;
      exit(ok ? 0 : 1);
    }
  }
  int bad = 0;
  for(int k = 0; k < 4; k++){
    int status = -1;
    wait(&status);
    if(status != 0)
      bad++;
  }
  if(bad){
    printf("rng: %d of 4 readers running at once came up short\n", bad);
    fail("readers of /dev/random running at once did not all get their bytes");
  }
  printf("rng: 4 readers at once got 4000 bytes each\n");
  frame("pass");
}

// ---- blk: requests in flight ----

static void
blk(void)
{
  static const int depths[] = { 1, 8, 32 };
  struct blkbench_result r;

  for(int i = 0; i < 3; i++){
    // 256 reads of 4 KB from the disk (reading never changes it).
    if(blkbench(4096, depths[i], 256, 0, &r) < 0)
      fail("the blkbench system call failed");
    printf("depth %d: %d requests, %d device requests, %d notifications, %d interrupts, "
           "%d errors, %d slots\n", depths[i], r.nreq, r.requests, r.notifies, r.interrupts,
           r.errors, r.nslot);
    if(r.errors)
      fail("reads failed");
  }
  frame("pass");
}

int
main(int argc, char *argv[])
{
  if(argc < 4){
    fprintf(2, "usage: labtest WORD run NAME PROG ARG... | fs NAME | rng NAME | blk NAME\n");
    exit(2);
  }
  word = argv[1];
  name = argv[3];
  frame("begin");
  if(strcmp(argv[2], "run") == 0 && argc > 4)
    run(argv + 4);
  else if(strcmp(argv[2], "fs") == 0)
    fs();
  else if(strcmp(argv[2], "rng") == 0)
    rng();
  else if(strcmp(argv[2], "blk") == 0)
    blk();
  else
    fail("unknown check");
  exit(0);
}
