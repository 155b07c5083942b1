// grind.c: hammer the kernel with random system calls until something
// breaks. It is not a test with expected results so much as a way to find
// kernel panics, deadlocks and leaks that only show up under odd mixes of
// calls.
//
//   $ grind          run until stopped (Ctrl-a x leaves QEMU)
//   $ grind 20       run 20 rounds, then exit 0
//
// Each round forks NWORKER workers. Each worker makes OPS random choices
// among about twenty operations: files and directories in the shared
// directory /grindir (so the workers collide on the same names), pipes,
// fork/exit/wait, kill, sbrk, exec of missing programs, dup/close of
// random descriptors, calls with bad pointers. Results of operations that
// the other worker can disturb are not checked; things private to one
// worker (its pipe's data, its memory, its child's exit status) are, and a
// wrong result stops grind with exit status 1. A worker dying is not
// counted as an error as long as the kernel survives.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define NWORKER 2
#define OPS     200
#define NNAMES  6     // names shared by the workers: /grindir/f0 .. f5, d0 .. d5

static uint64 rng;

// xorshift64: a fast generator with a full period; quality does not matter.
static uint64
rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static char fname[] = "/grindir/f0";
static char dname[] = "/grindir/d0";
static char buf[1200];

static char*
pickfile(void)
{
  fname[10] = '0' + rnd() % NNAMES;
  return fname;
}

static char*
pickdir(void)
{
  dname[10] = '0' + rnd() % NNAMES;
  return dname;
}

static void
bad(const char *what)
{
  printf("grind: worker %d: %s\n", getpid(), what);
  exit(2);
}

// Write n bytes, read them back through a pipe with a child in between.
static void
op_pipe(void)
{
  int p[2];
  if(pipe(p) < 0)
    return;
  int n = 1 + rnd() % sizeof(buf);
  int pid = fork();
  if(pid == 0){
    close(p[0]);
    for(int i = 0; i < n; i++)
      buf[i] = i * 13;
    write(p[1], buf, n);
    exit(0);
  }
  close(p[1]);
  int got = 0, r;
  static char in[1200];
  while((r = read(p[0], in + got, sizeof(in) - got)) > 0)
    got += r;
  close(p[0]);
  if(pid > 0){
    wait(0);
    if(got != n)
      bad("pipe lost data");
    for(int i = 0; i < n; i++)
      if(in[i] != (char)(i * 13))
        bad("pipe corrupted data");
  }
}

static void
op_sbrk(void)
{
  int pages = 1 + rnd() % 8;
  char *a = sbrk(pages * 4096);
  if(a == (char*)-1)
    return;
  for(int i = 0; i < pages * 4096; i += 512)
    a[i] = i / 512;
  for(int i = 0; i < pages * 4096; i += 512)
    if(a[i] != (char)(i / 512))
      bad("memory changed under us");
  sbrk(-pages * 4096);
}

static void
op_forkwait(void)
{
  int code = rnd() % 100;
  int pid = fork();
  if(pid == 0)
    exit(code);
  if(pid < 0)
    return;
  int status;
  if(wait(&status) != pid || status != code)
    bad("wait returned the wrong child or status");
}

static void
op_kill(void)
{
  int pid = fork();
  if(pid == 0){
    for(;;)
      sleep(1);
  }
  if(pid < 0)
    return;
  if(rnd() % 2)
    sleep(1);
  kill(pid);
  int status;
  if(wait(&status) != pid || status != -1)
    bad("a killed child did not exit with -1");
}

static void
worker(void)
{
  for(int i = 0; i < OPS; i++){
    int fd;
    switch(rnd() % 20){
    case 0:
      if((fd = open(pickfile(), O_CREATE | O_RDWR)) >= 0){
        write(fd, buf, rnd() % sizeof(buf));
        close(fd);
      }
      break;
    case 1:
      if((fd = open(pickfile(), O_RDONLY)) >= 0){
        read(fd, buf, sizeof(buf));
        close(fd);
      }
      break;
    case 2:
      unlink(pickfile());
      break;
    case 3:
      mkdir(pickdir());
      break;
    case 4:
      unlink(pickdir());
      break;
    case 5:
      if(chdir(pickdir()) == 0){
        if((fd = open("x", O_CREATE | O_RDWR)) >= 0)
          close(fd);
        unlink("x");
      }
      chdir("/grindir");
      break;
    case 6: {
      char old[sizeof(fname)];
      strcpy(old, pickfile());
      link(old, pickfile());
      break;
    }
    case 7:
      op_pipe();
      break;
    case 8:
      op_forkwait();
      break;
    case 9:
      op_sbrk();
      break;
    case 10:
      if((fd = dup(rnd() % 20)) >= 3)
        close(fd);
      break;
    case 11: {
      char *argv[] = { "nothere", 0 };
      if(exec("/grindir/nothere", argv) != -1)
        bad("exec of a missing file did not fail");
      break;
    }
    case 12:
      if((fd = open("/grindir", O_RDONLY)) >= 0){
        read(fd, buf, sizeof(buf));
        close(fd);
      }
      break;
    case 13: {
      struct stat st;
      fstat(rnd() % 20, &st);
      break;
    }
    case 14:
      op_kill();
      break;
    case 15:
      // Descriptors 0..2 are the console: leave them alone.
      write(3 + rnd() % 17, buf, 10);
      break;
    case 16:
      if((fd = open(pickfile(), O_CREATE | O_RDWR | O_TRUNC)) >= 0)
        close(fd);
      break;
    case 17:
      // A random 64-bit pointer is almost never mapped: must be -1.
      if((fd = open("/grindir", O_RDONLY)) >= 0){
        read(fd, (void*)(rnd() | 0x8000000000L), 16);
        close(fd);
      }
      break;
    case 18:
      if((fd = open(pickfile(), O_RDONLY)) >= 0){
        int fd2 = dup(fd);
        close(fd);
        if(fd2 >= 0){
          read(fd2, buf, 100);
          close(fd2);
        }
      }
      break;
    case 19:
      sleep(rnd() % 2);
      break;
    }
  }
  exit(0);
}

int
main(int argc, char *argv[])
{
  int rounds = argc > 1 ? atoi(argv[1]) : 0;
  mkdir("/grindir");
  for(int round = 1; rounds == 0 || round <= rounds; round++){
    for(int w = 0; w < NWORKER; w++){
      rng = 0x9e3779b97f4a7c15ULL * (round * NWORKER + w + 1);
      int pid = fork();
      if(pid == 0){
        chdir("/grindir");
        worker();
      }
      if(pid < 0)
        printf("grind: fork failed\n");
    }
    int status;
    while(wait(&status) >= 0){
      if(status == 2){
        printf("grind: FAILED in round %d\n", round);
        return 1;
      }
    }
    if(round % 10 == 0)
      printf("grind: %d rounds\n", round);
  }
  printf("grind: done\n");
  return 0;
}
