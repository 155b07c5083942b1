// usertests.c: the kernel's test suite, run inside the machine.
//
//   $ usertests           every test: the quick part, then the slow part
//   $ usertests -q        only the quick part (seconds to a minute)
//   $ usertests pipeeof   one test by name (several names are fine too)
//   $ usertests -l        list the tests
//
// Output: one line per test, "test NAME: OK" or "test NAME: FAILED: why",
// then "ALL TESTS PASSED" (exit status 0) or "SOME TESTS FAILED" (1).
// `make check` runs "usertests -q" and reads these lines.
//
// How a test runs: usertests forks a child for it, so a test that crashes
// or is killed fails alone and the suite goes on; a second child is a
// watchdog that sleeps for the test's time limit, and if it wakes first
// the test is killed and reported as timed out. A test function returns 0
// when all went well, or a string saying what went wrong.
//
// The full and quick runs also measure free memory (by growing a fresh
// process with sbrk until it fails) before the first test and after the
// last; the "memleak" test fails if pages went missing in between (so run
// it with nothing else running: a background job's memory counts as lost).
//
// Tests make files and directories in the current directory, named after
// the test, and remove them again.
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/fs.h"
#include "kernel/riscv.h"
#include "kernel/memlayout.h"
#include "kernel/devinfo.h"
#include "user/user.h"

#define TICKS_PER_SEC 10   // the kernel's timer runs at 10 Hz

// A big scratch buffer most tests share (each test is its own process).
static char buf[8192];

// ---------------------------------------------------------------------
// Small helpers.

// Build "msg N" in a static buffer, for failure messages with a number.
static char*
why(const char *msg, long n)
{
  static char s[160];
  int len = strlen(msg);
  if(len > 120)
    len = 120;
  memmove(s, msg, len);
  s[len++] = ' ';
  char digits[24];
  int k = 0;
  uint64 u = n < 0 ? -(uint64)n : n;
  do {
    digits[k++] = '0' + u % 10;
    u /= 10;
  } while(u != 0);
  if(n < 0)
    digits[k++] = '-';
  while(k > 0)
    s[len++] = digits[--k];
  s[len] = 0;
  return s;
}

// Wait for any child; returns its exit status, or -100 if there is none.
static int
waitstatus(void)
{
  int status;
  if(wait(&status) < 0)
    return -100;
  return status;
}

// Fork, and in the child run fn and exit with its result. Returns the
// child's exit status (so a crash shows up as -1).
static int
inchild(int (*fn)(void))
{
  int pid = fork();
  if(pid < 0)
    return -100;
  if(pid == 0)
    exit(fn());
  int status;
  if(wait(&status) != pid)
    return -101;
  return status;
}

// Create name with n bytes of content made by pattern(). Returns 0 or -1.
static int
makefile(const char *name, int n, char seed)
{
  int fd = open(name, O_CREATE | O_WRONLY | O_TRUNC);
  if(fd < 0)
    return -1;
  for(int i = 0; i < n; i++)
    buf[i % sizeof(buf)] = seed + i;
  int left = n;
  while(left > 0){
    int chunk = left < sizeof(buf) ? left : sizeof(buf);
    if(write(fd, buf, chunk) != chunk){
      close(fd);
      return -1;
    }
    left -= chunk;
  }
  close(fd);
  return 0;
}

// Read up to max bytes of a file; returns the count or -1.
static int
readfile(const char *name, char *dst, int max)
{
  int fd = open(name, O_RDONLY);
  if(fd < 0)
    return -1;
  int got = 0, n;
  while(got < max && (n = read(fd, dst + got, max - got)) > 0)
    got += n;
  close(fd);
  return got;
}

// Run path with argv in a child whose standard output is a pipe; collect
// the output into out (0-terminated). Returns the child's exit status; 77
// means exec itself returned (failed).
#define EXEC_FAILED 77
static int
exec_capture(char *path, char **argv, char *out, int max)
{
  int p[2];
  if(pipe(p) < 0)
    return -100;
  int pid = fork();
  if(pid < 0)
    return -100;
  if(pid == 0){
    close(1);
    dup(p[1]);
    close(p[0]);
    close(p[1]);
    // exec returns only when it fails, and then it must say -1.
    exit(exec(path, argv) == -1 ? EXEC_FAILED : EXEC_FAILED + 1);
  }
  close(p[1]);
  int got = 0, n;
  while((n = read(p[0], out + got, max - 1 - got)) > 0)
    got += n;
  out[got] = 0;
  close(p[0]);
  int status;
  if(wait(&status) != pid)
    return -101;
  return status;
}

static uint64
stack_pointer(void)
{
  uint64 sp;
  asm volatile("mv %0, sp" : "=r"(sp));
  return sp;
}

// ---------------------------------------------------------------------
// Processes.

// exit statuses reach wait intact; wait(0) is allowed; no children: -1.
static char*
exitstatus(void)
{
  int codes[] = { 0, 1, 42, -1, 255, -7 };
  int n = sizeof(codes) / sizeof(codes[0]);
  int pids[6];
  for(int i = 0; i < n; i++){
    pids[i] = fork();
    if(pids[i] < 0)
      return "fork failed";
    if(pids[i] == 0)
      exit(codes[i]);
  }
  for(int done = 0; done < n; done++){
    int status;
    int pid = wait(&status);
    int i;
    for(i = 0; i < n; i++)
      if(pids[i] == pid)
        break;
    if(i == n)
      return why("wait returned a pid that is not a child:", pid);
    if(status != codes[i])
      return why("wrong exit status:", status);
    pids[i] = -1;
  }
  if(wait(0) != -1)
    return "wait without children did not return -1";
  int pid = fork();
  if(pid == 0)
    exit(3);
  if(wait(0) != pid)
    return "wait(0) did not return the child";
  if(getpid() <= 0)
    return "getpid";
  return 0;
}

// Fork until the process table is full, then reap every child.
static char*
forkfull(void)
{
  int p[2];
  if(pipe(p) < 0)
    return "pipe failed";
  int n;
  for(n = 0; n < NPROC + 10; n++){
    int pid = fork();
    if(pid < 0)
      break;
    if(pid == 0){
      // Wait for the parent to close the pipe, so every child is alive
      // (not a zombie) when the table fills up.
      char c;
      close(p[1]);
      read(p[0], &c, 1);
      exit(0);
    }
  }
  close(p[0]);
  close(p[1]);
  if(n == NPROC + 10)
    return "fork never failed";
  if(n < NPROC / 2)
    return why("fork failed early; children:", n);
  for(int i = 0; i < n; i++){
    int status = waitstatus();
    if(status != 0)
      return why("a child exited with", status);
  }
  if(wait(0) != -1)
    return "one wait too many succeeded";
  // The table has room again.
  int pid = fork();
  if(pid < 0)
    return "fork fails after all children were reaped";
  if(pid == 0)
    exit(0);
  wait(0);
  return 0;
}

// A child's children are not its parent's: they go to init.
static char*
orphans(void)
{
  int pid = fork();
  if(pid == 0){
    for(int i = 0; i < 5; i++)
      if(fork() == 0){
        sleep(2);
        exit(0);
      }
    exit(0);   // leave the grandchildren behind
  }
  if(pid < 0)
    return "fork failed";
  int status;
  if(wait(&status) != pid || status != 0)
    return "wait for the child";
  if(wait(0) != -1)
    return "wait returned a grandchild";
  return 0;
}

// A sleeping child, a child blocked on a pipe and a child spinning in
// user space all die promptly when killed, with exit status -1.
static int
spin(void)
{
  for(volatile int i = 0; ; i++)
    ;
  return 0;
}

static char*
killchild(void)
{
  int p[2];
  pipe(p);
  for(int kind = 0; kind < 3; kind++){
    int pid = fork();
    if(pid < 0)
      return "fork failed";
    if(pid == 0){
      char c;
      if(kind == 0)
        sleep(1000);
      else if(kind == 1)
        read(p[0], &c, 1);
      else
        spin();
      exit(0);
    }
    sleep(2);
    int t0 = uptime();
    if(kill(pid) != 0)
      return "kill returned an error";
    int status;
    if(wait(&status) != pid)
      return "wait";
    if(status != -1)
      return why("killed child's exit status:", status);
    if(uptime() - t0 > 5 * TICKS_PER_SEC)
      return why("killed child took too long to die; kind", kind);
  }
  // A process can kill itself: it dies on its way back to user space.
  int pid = fork();
  if(pid == 0){
    kill(getpid());
    for(;;)
      getpid();
  }
  int status;
  if(wait(&status) != pid || status != -1)
    return "a process that killed itself did not die";
  if(kill(1000000) != -1)
    return "kill of a pid that does not exist";
  return 0;
}

// sleep() sleeps about the asked number of ticks.
static char*
sleeptime(void)
{
  int t0 = uptime();
  sleep(5);
  int t = uptime() - t0;
  if(t < 5)
    return why("sleep(5) returned after ticks:", t);
  if(t > 100)
    return why("sleep(5) took ticks:", t);
  return 0;
}

// ---------------------------------------------------------------------
// Pipes.

// NWRITER writers each send PERWRITER bytes; each byte carries the
// writer's number in the top two bits and a running count in the rest,
// so the reader can check that each writer's bytes arrive whole and in
// order, whatever way the writers interleave.
#define NWRITER   4
#define PERWRITER 5000
static char*
pipedata(void)
{
  int p[2];
  if(pipe(p) < 0)
    return "pipe failed";
  for(int w = 0; w < NWRITER; w++){
    int pid = fork();
    if(pid < 0)
      return "fork failed";
    if(pid == 0){
      close(p[0]);
      int sent = 0;
      while(sent < PERWRITER){
        int n = 1 + (sent * 7 + w * 13) % 300;   // odd sizes, some > 256
        if(n > PERWRITER - sent)
          n = PERWRITER - sent;
        for(int i = 0; i < n; i++)
          buf[i] = (w << 6) | ((sent + i) & 63);
        if(write(p[1], buf, n) != n)
          exit(1);
        sent += n;
      }
      exit(0);
    }
  }
  close(p[1]);
  int count[NWRITER] = {0};
  int n, total = 0;
  while((n = read(p[0], buf, 1 + total % 1000)) > 0){
    for(int i = 0; i < n; i++){
      int w = (buf[i] >> 6) & 3;
      if((buf[i] & 63) != (count[w] & 63))
        return why("bytes out of order from writer", w);
      count[w]++;
    }
    total += n;
  }
  close(p[0]);
  for(int w = 0; w < NWRITER; w++)
    if(waitstatus() != 0)
      return "a writer failed";
  for(int w = 0; w < NWRITER; w++)
    if(count[w] != PERWRITER)
      return why("bytes lost from writer", w);
  return 0;
}

// read returns 0 (end of file) once all write ends are closed, also the
// copies held by other processes.
static char*
pipeeof(void)
{
  int p[2];
  if(pipe(p) < 0)
    return "pipe failed";
  int pid = fork();
  if(pid == 0){
    write(p[1], "hello", 5);
    exit(0);   // closes the child's write end
  }
  close(p[1]);
  char got[10];
  int n = read(p[0], got, sizeof(got));
  if(n != 5 || memcmp(got, "hello", 5) != 0)
    return "data";
  if(read(p[0], got, sizeof(got)) != 0)
    return "no end of file";
  close(p[0]);
  wait(0);
  return 0;
}

// Writing to a pipe nobody can read fails with -1, also for a writer that
// was blocked on a full pipe when the last reader went away.
static char*
pipeclosed(void)
{
  int p[2];
  if(pipe(p) < 0)
    return "pipe failed";
  close(p[0]);
  if(write(p[1], "x", 1) != -1)
    return "write with no reader did not return -1";
  close(p[1]);

  if(pipe(p) < 0)
    return "pipe failed";
  int pid = fork();
  if(pid == 0){
    close(p[0]);
    int n = write(p[1], buf, sizeof(buf));   // more than the pipe holds
    exit(n == sizeof(buf) ? 1 : 0);
  }
  close(p[1]);
  sleep(3);   // let the writer fill the pipe and block
  read(p[0], buf, 10);
  close(p[0]);
  if(waitstatus() != 0)
    return "blocked writer was not stopped when the reader closed";
  if(pipe(p) < 0)
    return "pipe failed";
  close(p[0]);
  close(p[1]);
  if(close(p[0]) != -1)
    return "close of a closed descriptor";
  return 0;
}

// ---------------------------------------------------------------------
// Files.

// create, write, read back, overwrite in place, O_TRUNC, append by offset.
static char*
fileio(void)
{
  char got[64];
  unlink("fileio.f");
  if(open("fileio.f", O_RDONLY) >= 0)
    return "open of a missing file without O_CREATE";
  int fd = open("fileio.f", O_CREATE | O_RDWR);
  if(fd < 0)
    return "create";
  if(write(fd, "hello world", 11) != 11)
    return "write";
  close(fd);
  if(readfile("fileio.f", got, sizeof(got)) != 11 || memcmp(got, "hello world", 11) != 0)
    return "read back";

  // Open without O_TRUNC: writing overwrites from offset 0 and keeps the rest.
  fd = open("fileio.f", O_WRONLY);
  if(fd < 0 || write(fd, "HELLO", 5) != 5)
    return "overwrite";
  if(read(fd, got, 1) != -1)
    return "read from a write-only descriptor";
  close(fd);
  if(readfile("fileio.f", got, sizeof(got)) != 11 || memcmp(got, "HELLO world", 11) != 0)
    return "overwrite did not keep the rest";

  // Append: read to the end, then write there.
  fd = open("fileio.f", O_RDWR);
  if(fd < 0)
    return "open O_RDWR";
  while(read(fd, got, 4) > 0)
    ;
  if(write(fd, "!!", 2) != 2)
    return "append";
  close(fd);
  if(readfile("fileio.f", got, sizeof(got)) != 13 || memcmp(got, "HELLO world!!", 13) != 0)
    return "append result";

  struct stat st;
  fd = open("fileio.f", O_RDONLY);
  if(write(fd, "x", 1) != -1)
    return "write to a read-only descriptor";
  if(fstat(fd, &st) < 0 || st.type != T_FILE || st.size != 13 || st.nlink != 1)
    return "fstat";
  close(fd);

  fd = open("fileio.f", O_RDWR | O_TRUNC);
  if(fd < 0 || fstat(fd, &st) < 0 || st.size != 0)
    return "O_TRUNC did not empty the file";
  write(fd, "abc", 3);
  close(fd);
  if(readfile("fileio.f", got, sizeof(got)) != 3 || memcmp(got, "abc", 3) != 0)
    return "write after O_TRUNC";
  if(unlink("fileio.f") != 0)
    return "unlink";
  if(unlink("fileio.f") != -1)
    return "second unlink";
  return 0;
}

// A file whose name is gone stays usable through an open descriptor.
static char*
unlinkopen(void)
{
  char got[16];
  if(makefile("unlinkopen.f", 100, 'a') < 0)
    return "create";
  int fd = open("unlinkopen.f", O_RDWR);
  if(fd < 0)
    return "open";
  if(unlink("unlinkopen.f") != 0)
    return "unlink";
  if(open("unlinkopen.f", O_RDONLY) >= 0)
    return "name still there after unlink";
  if(read(fd, got, 10) != 10 || got[0] != 'a' || got[9] != 'a' + 9)
    return "read after unlink";
  if(write(fd, "zz", 2) != 2)
    return "write after unlink";
  struct stat st;
  if(fstat(fd, &st) < 0 || st.nlink != 0)
    return "nlink is not 0";
  close(fd);
  // The name can be made again, as a new empty file.
  fd = open("unlinkopen.f", O_CREATE | O_RDWR);
  if(fd < 0 || fstat(fd, &st) < 0 || st.size != 0)
    return "re-create";
  close(fd);
  unlink("unlinkopen.f");
  return 0;
}

// Count the used entries in a directory.
static int
countentries(const char *dir)
{
  int fd = open(dir, O_RDONLY);
  if(fd < 0)
    return -1;
  struct dirent de;
  int n = 0;
  while(read(fd, &de, sizeof(de)) == sizeof(de))
    if(de.inum != 0)
      n++;
  close(fd);
  return n;
}

#define NMANY 40
static char*
manyfiles(void)
{
  char name[] = "manyf/f00";
  mkdir("manyf");
  for(int i = 0; i < NMANY; i++){
    name[7] = '0' + i / 10;
    name[8] = '0' + i % 10;
    if(makefile(name, i * 10, 'A' + i) < 0)
      return why("create file", i);
  }
  if(countentries("manyf") != NMANY + 2)
    return why("directory entries:", countentries("manyf"));
  for(int i = 0; i < NMANY; i++){
    name[7] = '0' + i / 10;
    name[8] = '0' + i % 10;
    struct stat st;
    if(stat(name, &st) < 0 || st.size != i * 10)
      return why("size of file", i);
    if(unlink(name) != 0)
      return why("unlink file", i);
  }
  if(countentries("manyf") != 2)
    return "directory not empty after unlinking all";
  if(unlink("manyf") != 0)
    return "unlink of the empty directory";
  return 0;
}

// Write a file of `blocks` blocks with a pattern in odd-sized writes, read
// it back in other odd sizes and compare.
static char
pattern(int off)
{
  return (off * 7) ^ (off >> 10);
}

static char*
bigwrite(const char *name, int blocks)
{
  int size = blocks * BSIZE;
  int fd = open(name, O_CREATE | O_RDWR | O_TRUNC);
  if(fd < 0)
    return "create";
  for(int off = 0; off < size; ){
    int n = 1500;
    if(n > size - off)
      n = size - off;
    for(int i = 0; i < n; i++)
      buf[i] = pattern(off + i);
    int w = write(fd, buf, n);
    if(w != n){
      close(fd);
      return why("write failed at offset", off);
    }
    off += n;
  }
  close(fd);

  struct stat st;
  if(stat(name, &st) < 0 || st.size != size)
    return "size after writing";

  fd = open(name, O_RDONLY);
  if(fd < 0)
    return "reopen";
  int off = 0, n;
  while((n = read(fd, buf, 700)) > 0){
    for(int i = 0; i < n; i++)
      if(buf[i] != pattern(off + i)){
        close(fd);
        return why("wrong data at offset", off + i);
      }
    off += n;
  }
  close(fd);
  if(off != size)
    return why("read back only bytes:", off);
  return 0;
}

static char*
bigfile(void)
{
  char *err = bigwrite("bigfile.f", 100);
  if(err)
    return err;
  // Truncating frees the blocks: the same file can be written again.
  if((err = bigwrite("bigfile.f", 100)) != 0)
    return err;
  if(unlink("bigfile.f") != 0)
    return "unlink";
  return 0;
}

// A big aligned read goes straight from the disk into the caller's pages
// (fs.c read_direct), except for blocks that are cached: those may hold
// writes the disk has not seen yet (the log commits later), and must be
// copied from the cache. Set up a file whose blocks 64 and 65 were
// rewritten after the cache was emptied, and read it whole in one call:
// disk, cache, disk. Then read it behind a read-ahead still in flight.
static char*
directmix(void)
{
  enum { N = 192 * 1024, K = 1024 };
  if(makefile("dmix.f", N, 'D') < 0)       // byte i is 'D' + i
    return "create";
  if(dropcache() < 0)                      // nothing of it cached now
    return "dropcache";
  char *mem = sbrk(N + K);
  if(mem == (char*)-1)
    return "sbrk";
  char *big = (char*)(((uint64)mem + K - 1) & ~(uint64)(K - 1));
  int fd = open("dmix.f", O_RDWR);
  if(fd < 0)
    return "open";
  if(read(fd, big, 64 * K) != 64 * K)      // blocks 0..63, direct
    return "first 64 KB read";
  memset(buf, '#', 2 * K);
  if(write(fd, buf, 2 * K) != 2 * K)       // blocks 64, 65: cached, changed
    return "write of blocks 64 and 65";
  close(fd);

  memset(big, 0, N);
  fd = open("dmix.f", O_RDONLY);
  if(fd < 0)
    return "reopen";
  if(read(fd, big, N) != N)
    return "the whole-file read";
  close(fd);
  for(int i = 0; i < N; i++){
    char want = i >= 64 * K && i < 66 * K ? '#' : (char)('D' + i);
    if(big[i] != want)
      return why("whole-file read: wrong byte at", i);
  }

  // Again from a cold cache, but first a 1 KB read, which starts
  // read-ahead of the blocks after it: the big read then meets blocks
  // that are cached, and blocks still on their way in.
  if(dropcache() < 0)
    return "dropcache";
  memset(big, 0, N);
  fd = open("dmix.f", O_RDONLY);
  if(fd < 0)
    return "reopen";
  if(read(fd, buf, K) != K || read(fd, big, N - K) != N - K)
    return "1 KB read, then the rest in one read";
  close(fd);
  for(int i = K; i < N; i++){
    char want = i >= 64 * K && i < 66 * K ? '#' : (char)('D' + i);
    if(big[i - K] != want)
      return why("read behind read-ahead: wrong byte at", i);
  }
  sbrk(-(N + K));
  if(unlink("dmix.f") != 0)
    return "unlink";
  return 0;
}

// The largest file: MAXFILE blocks, then one byte more must fail.
static char*
maxfile(void)
{
  char *err = bigwrite("maxfile.f", MAXFILE);
  if(err)
    return err;
  int fd = open("maxfile.f", O_RDWR);
  if(fd < 0)
    return "reopen";
  while(read(fd, buf, sizeof(buf)) > 0)
    ;
  if(write(fd, "x", 1) != -1)
    return "writing past MAXFILE blocks did not fail";
  close(fd);
  if(unlink("maxfile.f") != 0)
    return "unlink";
  return 0;
}

// ---------------------------------------------------------------------
// Directories and links.

static char*
dirs(void)
{
  struct stat st, root, up;
  unlink("dirs.d/sub/f");
  unlink("dirs.d/sub");
  unlink("dirs.d/f");
  unlink("dirs.d");

  if(mkdir("dirs.d") != 0)
    return "mkdir";
  if(mkdir("dirs.d") != -1)
    return "mkdir of an existing name";
  if(mkdir("dirs.nope/x") != -1)
    return "mkdir in a missing directory";
  if(stat("dirs.d", &st) < 0 || st.type != T_DIR)
    return "stat of the new directory";
  if(open("dirs.d", O_RDWR) >= 0 || open("dirs.d", O_WRONLY) >= 0)
    return "a directory opened for writing";
  if(open("dirs.d", O_CREATE | O_RDWR) >= 0)
    return "O_CREATE on a directory's name opened it for writing";

  if(chdir("dirs.d") != 0)
    return "chdir";
  if(mkdir("sub") != 0 || makefile("f", 10, 'x') < 0)
    return "create inside";
  if(chdir("sub") != 0 || chdir("../..") != 0)
    return "chdir sub, chdir ../..";
  if(stat("dirs.d/f", &st) < 0 || st.size != 10)
    return "file made through a relative path";
  if(makefile("dirs.d/sub/f", 5, 'y') < 0)
    return "create in a nested directory";

  if(chdir("dirs.d/f") != -1)
    return "chdir to a file";
  if(open("dirs.d/f/x", O_CREATE | O_RDWR) >= 0)
    return "a file used as a directory";

  if(unlink("dirs.d") != -1)
    return "unlink of a non-empty directory";
  if(unlink("dirs.d/sub") != -1)
    return "unlink of a non-empty subdirectory";
  if(unlink("dirs.d/.") != -1 || unlink("dirs.d/..") != -1)
    return "unlink of . or ..";
  if(unlink("dirs.d/sub/f") != 0 || unlink("dirs.d/sub") != 0)
    return "unlink of the emptied subdirectory";
  if(unlink("dirs.d/f") != 0 || unlink("dirs.d") != 0)
    return "unlink of the emptied directory";
  if(chdir("dirs.d") != -1)
    return "chdir to a removed directory";

  // ".." of the root is the root.
  if(stat("/", &root) < 0 || stat("/..", &up) < 0 || root.ino != up.ino)
    return "/.. is not /";
  if(open("", O_CREATE | O_RDWR) >= 0)
    return "open of an empty path with O_CREATE succeeded";
  return 0;
}

// link() and unlink() keep the link count that fstat shows.
static char*
linkcount(void)
{
  struct stat st;
  unlink("linkcount.a");
  unlink("linkcount.b");
  if(makefile("linkcount.a", 20, 'L') < 0)
    return "create";
  if(link("linkcount.a", "linkcount.b") != 0)
    return "link";
  int fd = open("linkcount.b", O_RDONLY);
  if(fd < 0)
    return "open through the new name";
  if(fstat(fd, &st) < 0 || st.nlink != 2)
    return why("nlink after link:", st.nlink);
  struct stat sa;
  if(stat("linkcount.a", &sa) < 0 || sa.ino != st.ino)
    return "the names are different inodes";
  if(link("linkcount.a", "linkcount.b") != -1)
    return "link to an existing name";
  if(link("linkcount.none", "linkcount.c") != -1)
    return "link of a missing file";
  if(link(".", "linkcount.dir") != -1)
    return "link of a directory";
  if(unlink("linkcount.a") != 0)
    return "unlink";
  if(fstat(fd, &st) < 0 || st.nlink != 1)
    return why("nlink after unlink:", st.nlink);
  char got[20];
  if(read(fd, got, 20) != 20 || got[0] != 'L')
    return "read through the remaining name";
  close(fd);
  if(unlink("linkcount.b") != 0)
    return "unlink of the last name";
  return 0;
}

// rename(old, new): the file moves to the new name (same inode), replaces
// a file already called new (which loses its link, and is gone once no one
// holds it open), does nothing when both names are the same file, and
// refuses directories and missing files, changing nothing.
static char*
renametest(void)
{
  struct stat st, sa;
  char got[20];
  unlink("rename.a");
  unlink("rename.b");
  unlink("rename.c");
  if(makefile("rename.a", 20, 'R') < 0 || makefile("rename.b", 10, 'V') < 0)
    return "create";
  if(stat("rename.a", &sa) < 0)
    return "stat rename.a";
  int victim = open("rename.b", O_RDONLY);
  if(victim < 0)
    return "open rename.b";
  if(rename("rename.a", "rename.b") != 0)
    return "rename over an existing file";
  if(open("rename.a", O_RDONLY) >= 0)
    return "the old name is still there";
  int fd = open("rename.b", O_RDONLY);
  if(fd < 0 || fstat(fd, &st) < 0)
    return "open the new name";
  if(st.ino != sa.ino || st.nlink != 1 || st.size != 20)
    return why("new name is not the old file; nlink", st.nlink);
  if(read(fd, got, 20) != 20 || got[0] != 'R' || got[19] != 'R' + 19)
    return "contents under the new name";
  close(fd);
  // The replaced file lost its only name but is still open: readable, nlink 0.
  if(fstat(victim, &st) < 0 || st.nlink != 0)
    return why("nlink of the replaced file:", st.nlink);
  if(read(victim, got, 10) != 10 || got[0] != 'V')
    return "the replaced file, still open, lost its data";
  close(victim);
  if(rename("rename.b", "rename.b") != 0)
    return "rename to the same name";
  if(link("rename.b", "rename.c") != 0 || rename("rename.b", "rename.c") != 0)
    return "rename between two names of one file";
  if(stat("rename.b", &st) < 0 || stat("rename.c", &st) < 0 || st.nlink != 2)
    return "two names of one file: both must stay, nlink 2";
  if(rename("rename.none", "rename.d") != -1)
    return "rename of a missing file";
  mkdir("rename.dir");
  if(rename("rename.dir", "rename.e") != -1)
    return "rename of a directory";
  if(rename("rename.c", "rename.dir") != -1)
    return "rename over a directory";
  if(stat("rename.c", &st) < 0 || stat("rename.dir", &st) < 0 || st.type != T_DIR)
    return "a refused rename changed something";
  unlink("rename.b");
  unlink("rename.c");
  unlink("rename.dir");
  return 0;
}

// dup and fork share the file offset; dup of a bad descriptor fails.
static char*
dupoffset(void)
{
  char got[16];
  int fd = open("dupoffset.f", O_CREATE | O_RDWR | O_TRUNC);
  if(fd < 0)
    return "create";
  int fd2 = dup(fd);
  if(fd2 < 0)
    return "dup";
  write(fd, "aa", 2);
  write(fd2, "bb", 2);
  int pid = fork();
  if(pid == 0){
    write(fd, "cc", 2);
    exit(0);
  }
  wait(0);
  write(fd2, "dd", 2);
  close(fd);
  close(fd2);
  if(readfile("dupoffset.f", got, sizeof(got)) != 8 || memcmp(got, "aabbccdd", 8) != 0)
    return "offset not shared";
  unlink("dupoffset.f");
  if(dup(-1) != -1 || dup(NOFILE) != -1 || dup(NOFILE - 1) != -1)
    return "dup of a bad descriptor";
  if(read(NOFILE + 5, got, 1) != -1 || write(-3, got, 1) != -1 || close(1000) != -1)
    return "bad descriptor accepted";
  return 0;
}

// 4 processes create, write and unlink the same few names at once.
#define CONCNAMES 10
static int conc_id;

static int
concworker(void)
{
  char name[] = "concdir/f0";
  for(int i = 0; i < 60; i++){
    name[9] = '0' + (i * 7 + conc_id) % CONCNAMES;
    if((i + conc_id) % 3 == 0){
      unlink(name);
    } else {
      int fd = open(name, O_CREATE | O_RDWR);
      if(fd < 0)
        return 1;
      if(write(fd, "0123456789", 10) != 10)
        return 2;
      close(fd);
    }
  }
  return 0;
}

static char*
concreate(void)
{
  char name[] = "concdir/f0";
  mkdir("concdir");
  for(int i = 0; i < 4; i++){
    conc_id = i;
    int pid = fork();
    if(pid < 0)
      return "fork failed";
    if(pid == 0)
      exit(concworker());
  }
  for(int i = 0; i < 4; i++){
    int status = waitstatus();
    if(status != 0)
      return why("a worker failed:", status);
  }
  int left = 0;
  for(int i = 0; i < CONCNAMES; i++){
    name[9] = '0' + i;
    struct stat st;
    if(stat(name, &st) == 0){
      left++;
      if(st.size != 10)
        return why("a file has the wrong size:", st.size);
      if(unlink(name) != 0)
        return "unlink";
    }
  }
  if(countentries("concdir") != 2)
    return why("entries left in the directory:", countentries("concdir") - 2);
  if(unlink("concdir") != 0)
    return "directory not removable after removing every file";
  return 0;
}

// Two processes write through one shared descriptor: no write is lost or
// overwritten, because the offset is shared and updated under a lock.
static char*
sharedfd(void)
{
  int fd = open("sharedfd.f", O_CREATE | O_RDWR | O_TRUNC);
  if(fd < 0)
    return "create";
  int pid = fork();
  if(pid < 0)
    return "fork";
  char c = pid == 0 ? 'c' : 'p';
  char rec[10];
  memset(rec, c, sizeof(rec));
  for(int i = 0; i < 300; i++){
    if(write(fd, rec, sizeof(rec)) != sizeof(rec)){
      if(pid == 0)
        exit(1);
      return "write";
    }
  }
  if(pid == 0)
    exit(0);
  if(waitstatus() != 0)
    return "child's write failed";
  close(fd);
  fd = open("sharedfd.f", O_RDONLY);
  int nc = 0, np = 0, n;
  while((n = read(fd, buf, sizeof(buf))) > 0){
    for(int i = 0; i < n; i++){
      if(buf[i] == 'c')
        nc++;
      else if(buf[i] == 'p')
        np++;
    }
  }
  close(fd);
  unlink("sharedfd.f");
  if(nc != 3000 || np != 3000)
    return why("bytes written by the child and kept:", nc);
  return 0;
}

// The current directory can be removed while a process is in it; the
// process cannot create files there any more, but can leave.
static char*
cwdunlink(void)
{
  unlink("cwdunlink.d");
  if(mkdir("cwdunlink.d") != 0 || chdir("cwdunlink.d") != 0)
    return "mkdir, chdir";
  if(unlink("../cwdunlink.d") != 0)
    return "unlink of the (empty) current directory";
  if(open("f", O_CREATE | O_RDWR) >= 0)
    return "created a file in a removed directory";
  if(mkdir("d") != -1)
    return "made a directory in a removed directory";
  if(link("/init", "l") != -1)
    return "linked a file into a removed directory";
  // Nothing is looked up in a removed directory, not even "..", which may
  // name a directory that is gone too (xv6's unlinkcwd does that).
  if(open("..", O_RDONLY) >= 0 || open(".", O_RDONLY) >= 0)
    return "looked up .. or . in a removed directory";
  if(chdir("/") != 0)
    return "chdir / from a removed directory";
  // And a child that exits while its directory is gone.
  int pid = fork();
  if(pid == 0){
    if(mkdir("/cwdunlink.d") != 0 || chdir("/cwdunlink.d") != 0 || unlink("/cwdunlink.d") != 0)
      exit(1);
    exit(0);
  }
  if(waitstatus() != 0)
    return "child in a removed directory";
  return 0;
}

// A process can hold NOFILE open files; the next open, dup or pipe fails,
// and a failed pipe leaves no descriptor behind.
static char*
nofile(void)
{
  int fds[NOFILE];
  int n = 0, fd;
  while((fd = open("/", O_RDONLY)) >= 0){
    if(n == NOFILE)
      return "more than NOFILE descriptors";
    fds[n++] = fd;
  }
  if(n < 2)
    return "cannot open files at all";
  if(fds[n - 1] != NOFILE - 1)
    return why("open failed before descriptor NOFILE-1; last was", fds[n - 1]);
  if(dup(0) != -1)
    return "dup with a full table";
  close(fds[n - 1]);
  int p[2];
  if(pipe(p) != -1)
    return "pipe with one free descriptor";
  fd = open("/", O_RDONLY);
  if(fd != fds[n - 1])
    return "a failed pipe kept a descriptor";
  close(fds[n - 1]);
  close(fds[n - 2]);
  if(pipe(p) != 0)
    return "pipe with two free descriptors";
  return 0;
}

// ---------------------------------------------------------------------
// exec.

static char*
execargs(void)
{
  static char out[1024];
  static char longarg[201];
  memset(longarg, 'x', 200);
  char *argv[] = { "echo", "hello", "", "world", longarg, "end", 0 };
  if(exec_capture("/echo", argv, out, sizeof(out)) != 0)
    return "exec of echo";
  char expect[300];
  strcpy(expect, "hello  world ");
  strcpy(expect + strlen(expect), longarg);
  strcpy(expect + strlen(expect), " end\n");
  if(strcmp(out, expect) != 0)
    return "arguments arrived changed";

  // Twenty arguments still work.
  char *many[21];
  many[0] = "echo";
  for(int i = 1; i < 20; i++)
    many[i] = "a";
  many[20] = 0;
  if(exec_capture("/echo", many, out, sizeof(out)) != 0 || strlen(out) != 38)
    return "exec with 20 arguments";

  char *none[] = { "nothere", 0 };
  if(exec("/usertests.nothere", none) != -1)
    return "exec of a missing file";
  if(exec("/", none) != -1)
    return "exec of a directory";
  if(makefile("execargs.txt", 3000, ' ') < 0)
    return "create";
  if(exec("execargs.txt", none) != -1)
    return "exec of a file that is not ELF";
  unlink("execargs.txt");

  // More than MAXARG arguments: exec fails and this process goes on.
  static char *toomany[MAXARG + 3];
  toomany[0] = "echo";
  for(int i = 1; i < MAXARG + 2; i++)
    toomany[i] = "x";
  toomany[MAXARG + 2] = 0;
  int status = exec_capture("/echo", toomany, out, sizeof(out));
  if(status != EXEC_FAILED)
    return why("exec with too many arguments; exit status", status);

  // Arguments that do not fit on the user stack.
  static char big[300];
  memset(big, 'b', sizeof(big) - 1);
  char *huge[MAXARG];
  int nhuge = (USERSTACK * PGSIZE) / (sizeof(big) - 1) + 2;
  if(nhuge > MAXARG - 1)
    nhuge = MAXARG - 1;
  huge[0] = "echo";
  for(int i = 1; i < nhuge; i++)
    huge[i] = big;
  huge[nhuge] = 0;
  if(nhuge * (sizeof(big) - 1) > USERSTACK * PGSIZE){
    status = exec_capture("/echo", huge, out, sizeof(out));
    if(status != EXEC_FAILED)
      return why("exec with arguments bigger than the stack; exit status", status);
  }
  return 0;
}

// ---------------------------------------------------------------------
// Memory.

static char*
sbrkbasic(void)
{
  char *start = sbrk(0);
  char *a = sbrk(10 * PGSIZE);
  if(a != start)
    return "sbrk did not return the old end";
  if(sbrk(0) != start + 10 * PGSIZE)
    return "sbrk(0) after growing";
  for(int i = 0; i < 10 * PGSIZE; i++)
    if(a[i] != 0)
      return "new memory is not zeroed";
  for(int i = 0; i < 10 * PGSIZE; i++)
    a[i] = i;
  for(int i = 0; i < 10 * PGSIZE; i++)
    if(a[i] != (char)i)
      return "memory does not keep its contents";
  if(sbrk(-5 * PGSIZE) != start + 10 * PGSIZE)
    return "shrinking did not return the old end";
  if(sbrk(0) != start + 5 * PGSIZE)
    return "sbrk(0) after shrinking";
  if(a[5 * PGSIZE - 1] != (char)(5 * PGSIZE - 1))
    return "shrinking changed the memory that is left";
  // Grow again: the pages are new and zeroed.
  sbrk(5 * PGSIZE);
  if(a[5 * PGSIZE] != 0 || a[10 * PGSIZE - 1] != 0)
    return "re-grown memory is not zeroed";

  // Odd sizes: the end moves by exactly what was asked.
  char *e = sbrk(0);
  sbrk(1);
  sbrk(3);
  if(sbrk(0) != e + 4)
    return "sbrk with odd sizes";
  e[3] = 1;

  // Far too much: fails, and the process is still fine.
  char *before = sbrk(0);
  if(sbrk(0x7fffffff) != (char*)-1)
    return "sbrk of 2 GB did not fail";
  if(sbrk(0) != before)
    return "failed sbrk moved the end";
  a[0] = 1;
  return 0;
}

// Memory given back with sbrk is really gone: touching it kills.
static int
touch_after_shrink(void)
{
  char *a = sbrk(PGSIZE * 4);
  a[0] = 1;
  sbrk(-PGSIZE * 4);
  a[PGSIZE * 2] = 1;   // must fault
  return 0;
}

static char*
sbrkshrink(void)
{
  int status = inchild(touch_after_shrink);
  if(status != -1)
    return why("touching freed memory did not kill; status", status);
  return 0;
}

// fork copies memory: parent and child do not see each other's writes.
static char*
sbrkfork(void)
{
  int size = 64 * PGSIZE;
  char *a = sbrk(size);
  if(a == (char*)-1)
    return "sbrk";
  for(int i = 0; i < size; i += 100)
    a[i] = 'p';
  int pid = fork();
  if(pid == 0){
    for(int i = 0; i < size; i += 100)
      if(a[i] != 'p')
        exit(1);
    for(int i = 0; i < size; i += 100)
      a[i] = 'c';
    exit(0);
  }
  if(waitstatus() != 0)
    return "child did not see the parent's memory";
  for(int i = 0; i < size; i += 100)
    if(a[i] != 'p')
      return "child's writes reached the parent";
  return 0;
}

// How many bytes can a process add with sbrk before it fails?
static uint64
grow_all(void)
{
  uint64 total = 0;
  for(int step = 1024 * 1024; step >= PGSIZE; step /= 16){
    while(sbrk(step) != (char*)-1){
      total += step;
      // Touch one byte per page of the last step: the memory is really there.
      char *top = sbrk(0);
      for(char *p = top - step; p < top; p += PGSIZE)
        *p = 1;
    }
  }
  return total;
}

// In a fresh child: grow until sbrk fails, and report the total through a
// pipe. Returns the total in bytes, or 0 on failure.
static uint64
freemem(void)
{
  int p[2];
  if(pipe(p) < 0)
    return 0;
  int pid = fork();
  if(pid < 0)
    return 0;
  if(pid == 0){
    close(p[0]);
    uint64 total = grow_all();
    write(p[1], &total, sizeof(total));
    exit(0);
  }
  close(p[1]);
  uint64 total = 0;
  if(read(p[0], &total, sizeof(total)) != sizeof(total))
    total = 0;
  close(p[0]);
  wait(0);
  return total;
}

// Take all memory, give it back, twice: the same amount comes back each
// time, so exit and sbrk do not leak pages. Within one process, a second
// round may get a little more (page-table pages stay allocated) but never
// less.
static int
grow_twice(void)
{
  uint64 a = grow_all();
  sbrk(-(int)a);
  uint64 b = grow_all();
  if(a == 0 || b < a)
    return 1;
  return 0;
}

static char*
sbrkall(void)
{
  uint64 first = freemem();
  uint64 second = freemem();
  if(first == 0)
    return "could not grow at all";
  if(first != second)
    return why("pages lost between two processes:", (long)(first - second) / PGSIZE);
  if(inchild(grow_twice) != 0)
    return "a process got less memory the second time";
  if(freemem() != first)
    return "pages lost after the two-round process";
  return 0;
}

// malloc hands out separate blocks and takes them back.
static char*
mallocfree(void)
{
  static char *blocks[200];
  static int sizes[200];
  for(int round = 0; round < 3; round++){
    for(int i = 0; i < 200; i++){
      sizes[i] = 1 + (i * 37 + round * 11) % 3000;
      blocks[i] = malloc(sizes[i]);
      if(blocks[i] == 0)
        return "malloc returned 0";
      if((uint64)blocks[i] % 16 != 0)
        return "malloc result not 16-byte aligned";
      memset(blocks[i], i, sizes[i]);
    }
    for(int i = 0; i < 200; i++)
      for(int k = 0; k < sizes[i]; k += 7)
        if(blocks[i][k] != (char)i)
          return "blocks overlap";
    // Free every other block first, then the rest, to make holes to merge.
    for(int i = 0; i < 200; i += 2)
      free(blocks[i]);
    for(int i = 1; i < 200; i += 2)
      free(blocks[i]);
  }
  // All freed blocks merge back: one big block fits without growing.
  char *end = sbrk(0);
  char *big = malloc(200000);
  if(big == 0)
    return "big malloc failed";
  if(sbrk(0) != end)
    return "freed blocks did not merge";
  free(big);
  free(0);
  return 0;
}

// ---------------------------------------------------------------------
// Lazily grown memory: sbrklazy(n) (kernel/vm.h) only moves the end of
// memory; each page gets its zeroed memory at its first touch (a page
// fault, or a system call writing into it).

#define LAZYBIG (1024 * 1024 * 1024)   // 1 GB: far more than the 128 MB machine has

// Move the end of memory up to a page boundary (eagerly), so the lazy
// region that follows starts on a fresh page. Returns the new end.
static char*
align_end(void)
{
  char *end = sbrk(0);
  sbrk(PGROUNDUP((uint64)end) - (uint64)end);
  return sbrk(0);
}

// A few pages spread over 1 GB reserved lazily: they read as zero, keep
// what is written, a child sees them after fork (and its own writes stay
// its own), a child can exec, and shrinking gives the reservation back.
static char*
lazysbrk(void)
{
  static const uint64 offs[] = { 0, PGSIZE, 123 * PGSIZE + 17, LAZYBIG / 2, LAZYBIG - 1 };
  int n = sizeof(offs) / sizeof(offs[0]);
  char *start = sbrk(0);
  char *a = sbrklazy(LAZYBIG);
  if(a != start)
    return "sbrklazy did not return the old end";
  if(sbrk(0) != start + LAZYBIG)
    return "sbrk(0) after sbrklazy";
  for(int i = 0; i < n; i++){
    if(a[offs[i]] != 0)
      return why("a fresh lazy page is not zero; case", i);
    a[offs[i]] = 'a' + i;
  }
  for(int i = 0; i < n; i++)
    if(a[offs[i]] != 'a' + i)
      return why("lazy memory did not keep its contents; case", i);

  int pid = fork();
  if(pid < 0)
    return "fork";
  if(pid == 0){
    for(int i = 0; i < n; i++)
      if(a[offs[i]] != 'a' + i)
        exit(1);
    if(a[LAZYBIG / 4] != 0)      // untouched in the parent: zero here too
      exit(2);
    a[LAZYBIG / 4] = 'c';
    a[0] = 'c';
    exit(0);
  }
  int status = waitstatus();
  if(status != 0)
    return why("the child did not see the lazy pages; status", status);
  if(a[0] != 'a' || a[LAZYBIG / 4] != 0)
    return "the child's writes reached the parent";

  // exec from a process with untouched pages frees its old memory cleanly.
  char out[16];
  char *argv[] = { "echo", "lazy", 0 };
  if(exec_capture("/echo", argv, out, sizeof(out)) != 0 || strcmp(out, "lazy\n") != 0)
    return "exec from a lazily grown process";

  if(sbrk(-LAZYBIG) != start + LAZYBIG)
    return "shrinking did not return the old end";
  if(sbrk(0) != start)
    return "sbrk(0) after shrinking";
  return 0;
}

// System calls treat lazy memory as the program would see it: write()
// from never-touched pages writes zeros; read() into never-touched pages
// fills them, both a big aligned read (which fs.c's read_direct sends
// straight from the disk into the pages) and a small one (copyout); and a
// path may end in an untouched page, which reads as zeros.
static char*
lazyio(void)
{
  enum { N = 128 * 1024 };       // at least fs.c's DIRECT_MIN (64 KB)
  align_end();
  char *w = sbrklazy(N);         // written from, never touched
  char *r = sbrklazy(N + PGSIZE);
  if(w == (char*)-1 || r == (char*)-1)
    return "sbrklazy";

  int fd = open("lazyio.f", O_CREATE | O_RDWR | O_TRUNC);
  if(fd < 0)
    return "create";
  if(write(fd, w, N) != N)
    return "write() from untouched lazy memory";
  close(fd);
  fd = open("lazyio.f", O_RDONLY);
  int got, total = 0;
  while((got = read(fd, buf, sizeof(buf))) > 0){
    for(int i = 0; i < got; i++)
      if(buf[i] != 0)
        return why("untouched memory did not write as zeros; byte", total + i);
    total += got;
  }
  close(fd);
  if(total != N)
    return why("the file written from lazy memory has length", total);

  if(makefile("lazyio.f", N, 'L') < 0)   // byte i is 'L' + i
    return "create the pattern file";
  fd = open("lazyio.f", O_RDONLY);
  if(fd < 0)
    return "open the pattern file";
  if(read(fd, r, N) != N)
    return "big read() into untouched lazy memory";
  close(fd);
  for(int i = 0; i < N; i++)
    if(r[i] != (char)('L' + i))
      return why("big read into lazy memory: wrong byte", i);
  char *small = r + N + 100;             // an untouched page, odd address
  fd = open("lazyio.f", O_RDONLY);
  if(read(fd, small, 50) != 50)
    return "small read() into untouched lazy memory";
  close(fd);
  for(int i = 0; i < 50; i++)
    if(small[i] != (char)('L' + i))
      return why("small read into lazy memory: wrong byte", i);
  unlink("lazyio.f");

  // "/" in the last byte of a touched page; its terminator is the first
  // byte of the untouched page after it.
  char *q = sbrklazy(2 * PGSIZE);
  q[PGSIZE - 1] = '/';
  fd = open(q + PGSIZE - 1, O_RDONLY);
  if(fd < 0)
    return "open() of a path ending in an untouched page";
  struct stat st;
  if(fstat(fd, &st) < 0 || st.type != T_DIR)
    return "the path ending in an untouched page is not /";
  close(fd);
  return 0;
}

// Touch a page of lazy memory after giving it back: must fault.
static int
touch_freed_lazy(void)
{
  volatile char *a = sbrklazy(16 * PGSIZE);
  a[PGSIZE] = 1;
  sbrk(-16 * PGSIZE);
  a[PGSIZE] = 2;
  return 0;
}

// The same for a page that was never touched before it was given back.
static int
touch_freed_untouched(void)
{
  volatile char *a = sbrklazy(16 * PGSIZE);
  sbrk(-16 * PGSIZE);
  return a[3 * PGSIZE];
}

// Just past the end of lazy memory: never the process's.
static int
touch_lazy_end(void)
{
  align_end();
  volatile char *a = sbrklazy(4 * PGSIZE);
  return a[4 * PGSIZE];
}

// Jump into lazy memory, untouched (then the page is not even mapped) or
// touched (mapped readable and writable but not executable, like sbrk's).
static int
exec_untouched_lazy(void)
{
  align_end();
  char *a = sbrklazy(2 * PGSIZE);
  void (*f)(void) = (void (*)(void))(uint64)(a + PGSIZE);
  f();
  return 0;
}

static int
exec_touched_lazy(void)
{
  align_end();
  char *a = sbrklazy(PGSIZE);
  a[0] = 0x13;           // the low byte of an addi (a nop), in case it ran
  void (*f)(void) = (void (*)(void))(uint64)a;
  f();
  return 0;
}

// Touch every page of 1 GB: memory runs out long before the end, and the
// fault that finds none kills the process (the memleak check at the end of
// the run sees that its pages all came back).
static int
touch_all_lazy(void)
{
  volatile char *a = sbrklazy(LAZYBIG);
  for(uint64 off = 0; off < LAZYBIG; off += PGSIZE)
    a[off] = 1;
  return 0;
}

// Bad uses of lazy memory kill the process, exactly as with eager memory.
static char*
lazykill(void)
{
  static struct { int (*fn)(void); char *what; } cases[] = {
    { touch_freed_lazy,      "touching a freed lazy page" },
    { touch_freed_untouched, "touching a freed, never touched lazy page" },
    { touch_lazy_end,        "touching the byte after lazy memory" },
    { exec_untouched_lazy,   "jumping into an untouched lazy page" },
    { exec_touched_lazy,     "jumping into a touched lazy page" },
    { touch_all_lazy,        "touching more lazy pages than there is memory" },
  };
  static char msg[120];
  for(int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
    int status = inchild(cases[i].fn);
    if(status != -1){
      strcpy(msg, cases[i].what);
      strcpy(msg + strlen(msg), " did not kill; status");
      return why(msg, status);
    }
  }
  return 0;
}

// Lazy growth in 1 GB steps stops just short of the trapframe; then the
// last page below it can be had eagerly, and not one byte more either way.
// A process that owns 256 GB of addresses with a few pages in use still
// takes page faults up there, forks and exits quickly (the kernel skips
// missing page tables a 2 MB or 1 GB stretch at a time). Past USERTOP the
// process's page table gives the kernel's regions back (proc.c
// proc_unshare), so the pages there, where the kernel sits in a small
// process's table, are checked too, and a system call still works.
static int
grow_to_top(void)
{
  while(sbrklazy(LAZYBIG) != (char*)-1)
    ;
  uint64 top = (uint64)sbrk(0);
  if(top > TRAPFRAME - PGSIZE || TRAPFRAME - top >= LAZYBIG)
    return 1;
  if((uint64)sbrklazy(TRAPFRAME - PGSIZE - top) != top)
    return 2;
  char *last = sbrk(PGSIZE);
  if((uint64)last != TRAPFRAME - PGSIZE || last[PGSIZE - 1] != 0)
    return 3;
  last[PGSIZE - 1] = 1;
  if(sbrk(1) != (char*)-1 || sbrklazy(1) != (char*)-1)
    return 4;
  if((uint64)sbrk(0) != TRAPFRAME)
    return 5;

  // Where a small process's table has the kernel's RAM, devices (two
  // slots: the second holds the PCIe memory window), stacks.
  char *kslot[] = { (char*)KERNBASE, (char*)KDEV(UART0), (char*)KDEV(DEVTOP - PGSIZE),
                    (char*)KSTACK(0) };
  for(int i = 0; i < 4; i++){
    if(kslot[i][0] != 0)
      return 8;
    kslot[i][0] = 'k' + i;
  }
  int fds[2];
  if(pipe(fds) != 0 || write(fds[1], kslot[0], 1) != 1 ||
     read(fds[0], kslot[1] + 1, 1) != 1 || kslot[1][1] != 'k')
    return 9;
  close(fds[0]);
  close(fds[1]);

  char *mid = (char*)(100UL * LAZYBIG);  // 100 GB, far from everything mapped
  mid[0] = 'm';
  int pid = fork();
  if(pid < 0)
    return 6;
  if(pid == 0)
    exit(mid[0] == 'm' && last[PGSIZE - 1] == 1 && mid[PGSIZE] == 0 &&
         kslot[3][0] == 'k' + 3 ? 0 : 1);
  if(waitstatus() != 0)
    return 7;
  return 0;
}

static char*
lazytop(void)
{
  int status = inchild(grow_to_top);
  if(status != 0)
    return why("growing lazily to the trapframe: step", status);
  return 0;
}

// ---------------------------------------------------------------------
// Protection.

static int
write_text(void)
{
  volatile char *p = (volatile char*)(uint64)write_text;
  char c = *p;      // reading code is allowed
  *p = c + 1;       // writing it must fault
  return 0;
}

static char*
textwrite(void)
{
  int status = inchild(write_text);
  if(status != -1)
    return why("write to program text did not kill; status", status);
  return 0;
}

// The kernel is mapped in every process's page table (memlayout.h), but
// only for supervisor mode: a user load or store there must fault and kill.
static int
read_kernel(void)
{
  return *(volatile char*)(KERNLOAD + 100);     // kernel text
}

static int
write_kernel(void)
{
  *(volatile char*)(PHYSTOP - 100) = 1;         // a free page, as the kernel sees it
  return 0;
}

static int
write_uart(void)
{
  *(volatile char*)KDEV(UART0) = 'X';           // the console's transmit register
  return 0;
}

static int
read_kstack(void)
{
  return *(volatile char*)(KSTACK(0) + 16);
}

static char*
kernmem(void)
{
  int (*fns[])(void) = { read_kernel, write_kernel, write_uart, read_kstack };
  for(int i = 0; i < 4; i++){
    int status = inchild(fns[i]);
    if(status != -1)
      return why("user access to kernel memory did not kill; case", i);
  }
  return 0;
}

// Recurse with big frames until the stack runs into the guard page below it.
static int
deep(int n)
{
  volatile char frame[512];
  frame[0] = n;
  frame[511] = n;
  if(n == 0)
    return frame[0];
  return deep(n - 1) + frame[511];
}

static int
overflow_stack(void)
{
  deep(USERSTACK * PGSIZE / 512 * 4);   // four stacks' worth
  return 0;
}

static int
below_stack(void)
{
  // One page below the current stack page is the guard page.
  volatile char *p = (char*)(PGROUNDDOWN(stack_pointer()) - PGSIZE + 8);
  *p = 1;
  return 0;
}

static char*
stackguard(void)
{
  int status = inchild(overflow_stack);
  if(status != -1)
    return why("stack overflow did not kill; status", status);
  status = inchild(below_stack);
  if(status != -1)
    return why("write to the guard page did not kill; status", status);
  return 0;
}

// System calls with addresses that are not the process's memory fail with
// -1 and do not crash anything. Addresses: all ones, MAXVA, the kernel's
// RAM, device registers and stacks (mapped in the process's own page table,
// but not for user mode), the trampoline and trapframe pages, a hole above
// the heap, the stack guard page, and (for reads into memory) the
// read-only program text.
static char*
badptr(void)
{
  uint64 addrs[10];
  int n = 0;
  addrs[n++] = 0xffffffffffffffffUL;
  addrs[n++] = MAXVA;
  addrs[n++] = KERNBASE;
  addrs[n++] = KDEV(UART0);
  addrs[n++] = KSTACK(0);
  addrs[n++] = TRAMPOLINE;
  addrs[n++] = TRAPFRAME;
  addrs[n++] = PGROUNDUP((uint64)sbrk(0)) + 16 * PGSIZE;
  addrs[n++] = PGROUNDDOWN(stack_pointer()) - PGSIZE;
  addrs[n++] = (uint64)badptr & ~(uint64)15;   // text: readable, not writable

  if(makefile("badptr.f", 100, 'b') < 0)
    return "create";
  int rfd = open("badptr.f", O_RDONLY);
  int wfd = open("badptr.w", O_CREATE | O_RDWR);
  if(rfd < 0 || wfd < 0)
    return "open";

  for(int i = 0; i < n; i++){
    void *p = (void*)addrs[i];
    int text = (i == n - 1);
    char saved[16];
    if(text)
      memmove(saved, p, sizeof(saved));
    if(read(rfd, p, 16) != -1)
      return why("read into a bad address; case", i);
    if(text && memcmp(saved, p, sizeof(saved)) != 0)
      return "read changed the program text";
    if(fstat(rfd, p) != -1)
      return why("fstat into a bad address; case", i);
    if(pipe(p) != -1)
      return why("pipe into a bad address; case", i);
    if(devinfo(0, p) != -1)
      return why("devinfo into a bad address; case", i);
    int pid = fork();
    if(pid == 0)
      exit(0);
    if(wait(p) != -1)
      return why("wait into a bad address; case", i);
    while(wait(0) >= 0)
      ;
    if(text)
      continue;   // the rest read from memory: text is readable
    if(write(wfd, p, 16) != -1)
      return why("write from a bad address; case", i);
    if(open(p, O_RDONLY) != -1 || open(p, O_CREATE | O_RDWR) != -1)
      return why("open of a bad path address; case", i);
    if(mkdir(p) != -1 || unlink(p) != -1 || chdir(p) != -1 || link(p, "x") != -1)
      return why("path call with a bad address; case", i);
    // In a child each: if exec wrongly succeeded, echo would replace us.
    char *argv[] = { "echo", p, 0 };
    static char out[64];
    if(exec_capture(p, argv + 1, out, sizeof(out)) != EXEC_FAILED ||
       exec_capture("/echo", p, out, sizeof(out)) != EXEC_FAILED ||
       exec_capture("/echo", argv, out, sizeof(out)) != EXEC_FAILED)
      return why("exec with a bad address; case", i);
  }

  // Buffers and strings that start in the heap and run off its end.
  // Grow to a page boundary first, so the end of the heap is the end of
  // mapped memory.
  uint64 cur = (uint64)sbrk(0);
  sbrk(PGROUNDUP(cur) - cur + PGSIZE);
  char *end = sbrk(0);
  int r = read(rfd, end - 4, 100);
  if(r != -1 && (r < 0 || r > 4))
    return why("read past the end of memory returned", r);
  r = write(wfd, end - 4, 100);
  if(r != -1 && (r < 0 || r > 4))
    return why("write from past the end of memory returned", r);
  end[-1] = 'x';   // a path whose terminating 0 would be past the end
  if(open(end - 1, O_CREATE | O_RDWR) != -1 || mkdir(end - 1) != -1 || unlink(end - 1) != -1)
    return "a path running off the end of memory was accepted";

  // A path longer than MAXPATH is refused, not cut short.
  static char longpath[MAXPATH + 20];
  memset(longpath, 'p', sizeof(longpath) - 1);
  if(open(longpath, O_CREATE | O_RDWR) != -1 || unlink(longpath) != -1)
    return "a path longer than MAXPATH was accepted";

  close(rfd);
  close(wfd);
  unlink("badptr.f");
  unlink("badptr.w");
  return 0;
}

// ---------------------------------------------------------------------
// Devices.

static char*
devinfotest(void)
{
  struct devinfo d;
  int rows = 0, disks = 0;
  int pci = 0;
  for(int i = 0; devinfo(i, &d) == 0; i++){
    rows++;
    if(d.pci){
      // A PCI function: bus 0 (the only one enumerated), device 1-31
      // (0 is the host bridge), an interrupt from the PLIC's range, and
      // every PCI row after the virtio-mmio ones.
      pci = 1;
      if(d.slot >> 8 != 0 || (d.slot >> 3) == 0 || (d.slot >> 3) >= 32)
        return why("PCI function out of range:", d.slot);
      if(d.irq <= 0 || d.irq >= 1024)
        return why("PCI interrupt:", d.irq);
    } else {
      if(pci)
        return "a virtio-mmio row after a PCI row";
      if(i >= VIRTIO_NSLOT)
        return "more rows than virtio slots";
      if(d.slot < 0 || d.slot >= VIRTIO_NSLOT)
        return why("slot out of range:", d.slot);
      if(d.base != VIRTIO0 + d.slot * VIRTIO_STRIDE)
        return why("base does not match the slot; slot", d.slot);
      if(d.irq != VIRTIO0_IRQ + d.slot)
        return why("irq does not match the slot; slot", d.slot);
    }
    if(d.version != 1 && d.version != 2)
      return why("version:", d.version);
    if(d.device_id == 2 && strcmp(d.name, "block") == 0)
      disks++;
  }
  if(rows == 0)
    return "no devices";
  if(disks == 0)
    return "no block device";
  if(devinfo(-1, &d) != -1 || devinfo(rows, &d) != -1 || devinfo(1 << 30, &d) != -1)
    return "devinfo past the end did not fail";
  return 0;
}

// ---------------------------------------------------------------------
// Slow tests: longer versions of the above and concurrency.

static char*
forkstress(void)
{
  for(int i = 0; i < 4; i++){
    int pid = fork();
    if(pid < 0)
      return "fork failed";
    if(pid == 0){
      for(int k = 0; k < 200; k++){
        int c = fork();
        if(c == 0)
          exit(k % 7);
        if(c > 0){
          int status;
          if(wait(&status) != c || status != k % 7)
            exit(1);
        }
      }
      exit(0);
    }
  }
  for(int i = 0; i < 4; i++)
    if(waitstatus() != 0)
      return "a forker saw a wrong child or status";
  return 0;
}

// One megabyte through a pipe, checked byte by byte.
static char*
bigpipe(void)
{
  int total = 1024 * 1024;
  int p[2];
  if(pipe(p) < 0)
    return "pipe";
  int pid = fork();
  if(pid == 0){
    close(p[0]);
    for(int off = 0; off < total; off += 4000){
      int n = total - off < 4000 ? total - off : 4000;
      for(int i = 0; i < n; i++)
        buf[i] = pattern(off + i);
      if(write(p[1], buf, n) != n)
        exit(1);
    }
    exit(0);
  }
  close(p[1]);
  int off = 0, n;
  while((n = read(p[0], buf, 3000)) > 0){
    for(int i = 0; i < n; i++)
      if(buf[i] != pattern(off + i))
        return why("wrong byte at", off + i);
    off += n;
  }
  close(p[0]);
  if(waitstatus() != 0)
    return "writer failed";
  if(off != total)
    return why("bytes received:", off);
  return 0;
}

// 4 processes each write and check their own files at the same time.
static int fs_id;

static int
fsworker(void)
{
  char name[] = "fsstress.0";
  name[9] = '0' + fs_id;
  for(int round = 0; round < 5; round++){
    int size = 20 * BSIZE + fs_id * 100;
    int fd = open(name, O_CREATE | O_RDWR | O_TRUNC);
    if(fd < 0)
      return 1;
    for(int i = 0; i < size; i++)
      buf[i % 1000] = fs_id + i;
    for(int off = 0; off < size; off += 1000){
      int n = size - off < 1000 ? size - off : 1000;
      for(int i = 0; i < n; i++)
        buf[i] = fs_id * 31 + off + i;
      if(write(fd, buf, n) != n)
        return 2;
    }
    close(fd);
    fd = open(name, O_RDONLY);
    for(int off = 0; off < size; off += 1000){
      int n = size - off < 1000 ? size - off : 1000;
      if(read(fd, buf, n) != n)
        return 3;
      for(int i = 0; i < n; i++)
        if(buf[i] != (char)(fs_id * 31 + off + i))
          return 4;
    }
    close(fd);
  }
  unlink(name);
  return 0;
}

static char*
fsstress(void)
{
  for(int i = 0; i < 4; i++){
    fs_id = i;
    int pid = fork();
    if(pid < 0)
      return "fork";
    if(pid == 0)
      exit(fsworker());
  }
  for(int i = 0; i < 4; i++){
    int status = waitstatus();
    if(status != 0)
      return why("a worker failed at step", status);
  }
  return 0;
}

// exec many times in a row.
static char*
execloop(void)
{
  static char out[64];
  char *argv[] = { "echo", "again", 0 };
  for(int i = 0; i < 60; i++){
    if(exec_capture("/echo", argv, out, sizeof(out)) != 0 || strcmp(out, "again\n") != 0)
      return why("exec failed on round", i);
  }
  return 0;
}

// Several processes grow and shrink their memory at the same time.
static char*
sbrkstress(void)
{
  for(int i = 0; i < 4; i++){
    int pid = fork();
    if(pid < 0)
      return "fork";
    if(pid == 0){
      for(int k = 0; k < 30; k++){
        int size = (1 + (k * 5 + i) % 40) * PGSIZE;
        char *a = sbrk(size);
        if(a == (char*)-1)
          exit(1);
        for(int off = 0; off < size; off += PGSIZE)
          a[off] = i + k;
        for(int off = 0; off < size; off += PGSIZE)
          if(a[off] != (char)(i + k))
            exit(2);
        sbrk(-size);
      }
      exit(0);
    }
  }
  for(int i = 0; i < 4; i++)
    if(waitstatus() != 0)
      return "a process saw wrong memory";
  return 0;
}

// Fill the system-wide file table from several processes: opens fail
// with -1 when it is full, and everything works again afterwards.
static char*
filetable(void)
{
  int nproc = NFILE / NOFILE + 2;
  int p[2];
  pipe(p);
  for(int i = 0; i < nproc; i++){
    int pid = fork();
    if(pid < 0)
      return "fork";
    if(pid == 0){
      close(p[1]);
      while(open("/", O_RDONLY) >= 0)
        ;
      char c;
      read(p[0], &c, 1);   // hold the files until the parent says go
      exit(0);
    }
  }
  sleep(5);
  close(p[0]);
  close(p[1]);
  for(int i = 0; i < nproc; i++)
    if(waitstatus() != 0)
      return "a child failed";
  int fd = open("/", O_RDONLY);
  if(fd < 0)
    return "open fails after the file table was emptied";
  close(fd);
  return 0;
}

// Kill children at random moments while they work with files and pipes.
static char*
killrace(void)
{
  for(int round = 0; round < 20; round++){
    int pid = fork();
    if(pid < 0)
      return "fork";
    if(pid == 0){
      char name[] = "killrace.0";
      name[9] = '0' + round % 10;
      for(;;){
        int fd = open(name, O_CREATE | O_RDWR);
        if(fd >= 0){
          write(fd, buf, 2000);
          close(fd);
        }
        unlink(name);
        int q[2];
        if(pipe(q) == 0){
          write(q[1], "x", 1);
          close(q[0]);
          close(q[1]);
        }
        int c = fork();
        if(c == 0)
          exit(0);
        if(c > 0)
          wait(0);
      }
    }
    sleep(round % 3);
    kill(pid);
    int status = waitstatus();
    if(status != -1)
      return why("killed child's status:", status);
  }
  sleep(5);   // grandchildren that were orphaned finish
  for(int i = 0; i < 10; i++){
    char name[] = "killrace.0";
    name[9] = '0' + i;
    unlink(name);
  }
  return 0;
}

// Fill the disk with files of up to MAXFILE blocks until a write fails.
// Returns the number of blocks written; *nfiles is how many files exist.
static int
fill_disk(int *nfiles)
{
  char name[] = "diskfull.00";
  int blocks = 0;
  memset(buf, 'F', BSIZE);
  for(*nfiles = 0; *nfiles < 100; ){
    name[9] = '0' + *nfiles / 10;
    name[10] = '0' + *nfiles % 10;
    int fd = open(name, O_CREATE | O_RDWR);
    if(fd < 0)
      break;
    (*nfiles)++;
    int i;
    for(i = 0; i < MAXFILE && write(fd, buf, BSIZE) == BSIZE; i++)
      blocks++;
    close(fd);
    if(i < MAXFILE)
      break;   // the disk is full
  }
  return blocks;
}

static int
empty_disk(int nfiles)
{
  char name[] = "diskfull.00";
  for(int k = 0; k < nfiles; k++){
    name[9] = '0' + k / 10;
    name[10] = '0' + k % 10;
    if(unlink(name) != 0)
      return -1;
  }
  return 0;
}

// Fill the disk until a write fails: the failure is an error return, not a
// crash, and once the files are removed all the space comes back.
static char*
diskfull(void)
{
  int nfiles;
  int blocks = fill_disk(&nfiles);
  if(blocks < 100)
    return why("the disk was full after blocks:", blocks);
  if(mkdir("diskfull.d") == 0)   // may or may not fit; must not crash
    unlink("diskfull.d");
  if(empty_disk(nfiles) < 0)
    return "unlink";
  // The directory may have grown by a block the first time; apart from
  // that, exactly the same space must be free again.
  int again = fill_disk(&nfiles);
  if(empty_disk(nfiles) < 0)
    return "unlink";
  if(again < blocks)
    return why("blocks lost after freeing a full disk:", blocks - again);
  return 0;
}

// Use up every inode; creation then fails with -1, and removing the files
// gives the inodes back.
static char*
inodefull(void)
{
  char name[] = "ifull/000";
  if(mkdir("ifull") != 0)
    return "mkdir";
  int n;
  for(n = 0; n < 1000; n++){
    name[6] = '0' + n / 100;
    name[7] = '0' + n / 10 % 10;
    name[8] = '0' + n % 10;
    int fd = open(name, O_CREATE | O_RDWR);
    if(fd < 0)
      break;
    close(fd);
  }
  if(n == 1000)
    return "1000 files and no limit";
  if(n < 20)
    return why("out of inodes after files:", n);
  if(mkdir("ifull.d") == 0)
    return "mkdir with no free inodes";
  for(int k = 0; k < n; k++){
    name[6] = '0' + k / 100;
    name[7] = '0' + k / 10 % 10;
    name[8] = '0' + k % 10;
    if(unlink(name) != 0)
      return "unlink";
  }
  if(unlink("ifull") != 0)
    return "unlink dir";
  if(mkdir("ifull") != 0 || unlink("ifull") != 0)
    return "mkdir after freeing the inodes";
  return 0;
}

// Deep directory trees made and removed.
static char*
dirtree(void)
{
  char path[MAXPATH];
  for(int round = 0; round < 3; round++){
    strcpy(path, "tree");
    int len = 4;
    int depth;
    for(depth = 0; depth < 10; depth++){
      if(mkdir(path) != 0)
        return why("mkdir at depth", depth);
      path[len++] = '/';
      path[len++] = 'd';
      path[len] = 0;
    }
    if(makefile(path, 10, 'd') < 0)
      return "file at the bottom";
    // Remove bottom up.
    while(len > 0){
      if(unlink(path) != 0)
        return why("unlink at length", len);
      char *slash = 0;
      for(char *s = path; *s; s++)
        if(*s == '/')
          slash = s;
      if(slash == 0)
        break;
      *slash = 0;
      len = slash - path;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------
// The table of tests and the runner.

struct test {
  char *(*fn)(void);
  char *name;
  int slow;        // only in the full run
  int limit;       // seconds before the watchdog kills it
};

static struct test tests[] = {
  { exitstatus,  "exitstatus",  0, 20 },
  { forkfull,    "forkfull",    0, 30 },
  { orphans,     "orphans",     0, 20 },
  { killchild,   "killchild",   0, 30 },
  { sleeptime,   "sleep",       0, 20 },
  { pipedata,    "pipedata",    0, 30 },
  { pipeeof,     "pipeeof",     0, 20 },
  { pipeclosed,  "pipeclosed",  0, 20 },
  { fileio,      "fileio",      0, 20 },
  { unlinkopen,  "unlinkopen",  0, 20 },
  { manyfiles,   "manyfiles",   0, 60 },
  { bigfile,     "bigfile",     0, 60 },
  { directmix,   "directmix",   0, 30 },
  { dirs,        "dirs",        0, 30 },
  { linkcount,   "linkcount",   0, 20 },
  { renametest,  "rename",      0, 20 },
  { dupoffset,   "dupoffset",   0, 20 },
  { concreate,   "concreate",   0, 60 },
  { sharedfd,    "sharedfd",    0, 60 },
  { cwdunlink,   "cwdunlink",   0, 20 },
  { nofile,      "nofile",      0, 20 },
  { execargs,    "execargs",    0, 30 },
  { sbrkbasic,   "sbrkbasic",   0, 60 },
  { sbrkshrink,  "sbrkshrink",  0, 20 },
  { sbrkfork,    "sbrkfork",    0, 30 },
  { sbrkall,     "sbrkall",     0, 120 },
  { mallocfree,  "malloc",      0, 30 },
  { lazysbrk,    "lazysbrk",    0, 30 },
  { lazyio,      "lazyio",      0, 30 },
  { lazykill,    "lazykill",    0, 60 },
  { lazytop,     "lazytop",     0, 30 },
  { textwrite,   "textwrite",   0, 20 },
  { kernmem,     "kernmem",     0, 20 },
  { stackguard,  "stackguard",  0, 20 },
  { badptr,      "badptr",      0, 60 },
  { devinfotest, "devinfo",     0, 20 },

  { maxfile,     "maxfile",     1, 200 },
  { forkstress,  "forkstress",  1, 120 },
  { bigpipe,     "bigpipe",     1, 120 },
  { fsstress,    "fsstress",    1, 200 },
  { execloop,    "execloop",    1, 120 },
  { sbrkstress,  "sbrkstress",  1, 120 },
  { filetable,   "filetable",   1, 60 },
  { killrace,    "killrace",    1, 120 },
  { dirtree,     "dirtree",     1, 120 },
  { diskfull,    "diskfull",    1, 300 },
  { inodefull,   "inodefull",   1, 200 },
};
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

// Run one test in a child, with a watchdog. Returns 1 if it passed.
static int
run(struct test *t)
{
  int pid = fork();
  if(pid < 0){
    printf("test %s: FAILED: fork for the test failed\n", t->name);
    return 0;
  }
  if(pid == 0){
    char *err = t->fn();
    if(err){
      printf("test %s: FAILED: %s\n", t->name, err);
      exit(1);
    }
    exit(0);
  }
  int dog = fork();
  if(dog == 0){
    sleep(t->limit * TICKS_PER_SEC);
    exit(0);
  }

  int status;
  int w = wait(&status);
  if(w == dog || (dog < 0 && w != pid)){
    kill(pid);
    wait(0);
    printf("test %s: FAILED: no result after %d seconds\n", t->name, t->limit);
    return 0;
  }
  if(dog > 0){
    kill(dog);
    wait(0);
  }
  if(status == 0){
    printf("test %s: OK\n", t->name);
    return 1;
  }
  if(status != 1)   // status 1: the test printed its own reason
    printf("test %s: FAILED: exit status %d (killed by the kernel?)\n", t->name, status);
  return 0;
}

int
main(int argc, char *argv[])
{
  int quick = 0, named = 0;
  for(int i = 1; i < argc; i++){
    if(strcmp(argv[i], "-q") == 0){
      quick = 1;
    } else if(strcmp(argv[i], "-l") == 0){
      for(int k = 0; k < NTESTS; k++)
        printf("%s%s\n", tests[k].name, tests[k].slow ? " (slow)" : "");
      return 0;
    } else {
      named++;
    }
  }

  printf("usertests starting\n");
  int failed = 0, ran = 0;
  uint64 mem0 = 0;
  if(named == 0)
    mem0 = freemem();

  for(int k = 0; k < NTESTS; k++){
    struct test *t = &tests[k];
    int want;
    if(named){
      want = 0;
      for(int i = 1; i < argc; i++)
        if(strcmp(argv[i], t->name) == 0)
          want = 1;
    } else {
      want = !(quick && t->slow);
    }
    if(!want)
      continue;
    ran++;
    if(!run(t))
      failed++;
  }

  if(named == 0){
    uint64 mem1 = freemem();
    if(mem0 == 0 || mem1 != mem0){
      printf("test memleak: FAILED: %ld pages free before the tests, %ld after\n",
             (long)(mem0 / PGSIZE), (long)(mem1 / PGSIZE));
      failed++;
    } else {
      printf("test memleak: OK\n");
    }
  } else if(ran < named){
    printf("usertests: unknown test name; usertests -l lists them\n");
    failed++;
  }

  if(failed){
    printf("SOME TESTS FAILED\n");
    return 1;
  }
  printf("ALL TESTS PASSED\n");
  return 0;
}
