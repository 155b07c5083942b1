// fsstress.c: many processes using the file system at once, every byte
// checked. Part of `make check` (tests/qemu/test_fs.py).
//
//   $ fsstress            4 workers + a writer and a reader on one file
//   $ fsstress N          N workers (1..8)
//
// Workers: each writes its own file in writes of varying sizes (some
// cross transaction chunks, some are a few bytes), reads it back in other
// sizes, checks every byte against the generator, truncates it and starts
// again, for several rounds; and some rounds end with fsync.
// Writer and reader: one process appends 512-byte records to a shared file
// (each record: its number, then bytes derived from it, then a checksum) in
// single write() calls, while the other reads the same file as it grows,
// and checks that every record it sees is whole and in order: a write of
// one record is atomic with respect to reads (both hold the inode lock),
// so a torn or reordered record is a bug.
// Before all that, rename() is checked on its own (onto an existing file,
// onto itself, directories refused, into a subdirectory).
// Prints "fsstress: OK" when every process agrees, "fsstress: FAILED ..."
// otherwise.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define ROUNDS   6
#define WSIZE    (200 * 1024)   // bytes each worker writes per round
#define RECSIZE  512
#define NRECS    2000           // the shared file: 1000 KB

static char buf[32 * 1024];

static uchar
gen(int who, int round, uint off)
{
  return (uchar)(who * 37 + round * 101 + off * 13 + (off >> 8) + (off >> 16));
}

static void
failed(const char *who, const char *what, int n)
{
  printf("fsstress: FAILED: %s: %s %d\n", who, what, n);
  exit(1);
}

static void
worker(int who)
{
  char name[] = "stress.w0";
  name[8] = '0' + who;
  uint seed = 1 + who * 7919;

  for(int round = 0; round < ROUNDS; round++){
    int fd = open(name, O_CREATE | O_RDWR | O_TRUNC);
    if(fd < 0)
      failed(name, "create in round", round);
    for(uint off = 0; off < WSIZE; ){
      seed = seed * 1103515245 + 12345;
      uint n = 1 + (seed >> 8) % sizeof(buf);
      if(n > WSIZE - off)
        n = WSIZE - off;
      for(uint i = 0; i < n; i++)
        buf[i] = gen(who, round, off + i);
      if(write(fd, buf, n) != n)
        failed(name, "write at", off);
      off += n;
    }
    if(round % 2 == 1 && fsync(fd) < 0)
      failed(name, "fsync in round", round);
    close(fd);

    fd = open(name, O_RDONLY);
    if(fd < 0)
      failed(name, "reopen in round", round);
    uint off = 0;
    for(;;){
      seed = seed * 1103515245 + 12345;
      int want = 1 + (seed >> 8) % sizeof(buf);
      int n = read(fd, buf, want);
      if(n < 0)
        failed(name, "read at", off);
      if(n == 0)
        break;
      for(int i = 0; i < n; i++)
        if((uchar)buf[i] != gen(who, round, off + i))
          failed(name, "wrong byte at", off + i);
      off += n;
    }
    close(fd);
    if(off != WSIZE)
      failed(name, "read back only", off);
  }
  unlink(name);
  exit(0);
}

// Record r: its number, payload bytes, and a checksum of both.
static void
make_record(uint r, uchar *rec)
{
  uint sum = 0;
  memcpy(rec, &r, 4);
  for(int i = 4; i < RECSIZE - 4; i++)
    rec[i] = (uchar)(r * 29 + i * 3);
  for(int i = 0; i < RECSIZE - 4; i++)
    sum = sum * 31 + rec[i];
  memcpy(rec + RECSIZE - 4, &sum, 4);
}

static int
record_ok(uint r, uchar *rec)
{
  uchar want[RECSIZE];
  make_record(r, want);
  return memcmp(want, rec, RECSIZE) == 0;
}

static void
writer(void)
{
  uchar rec[RECSIZE];
  int fd = open("stress.shared", O_WRONLY);
  if(fd < 0)
    failed("writer", "open", 0);
  for(uint r = 0; r < NRECS; r++){
    make_record(r, rec);
    if(write(fd, rec, RECSIZE) != RECSIZE)
      failed("writer", "write record", r);
    if(r % 100 == 99 && fsync(fd) < 0)
      failed("writer", "fsync after record", r);
  }
  close(fd);
  exit(0);
}

static void
reader(void)
{
  static uchar pend[RECSIZE];
  int have = 0;              // bytes of the next record in pend
  uint next = 0;             // number of the next record
  int fd = open("stress.shared", O_RDONLY);
  if(fd < 0)
    failed("reader", "open", 0);
  int idle = 0;
  while(next < NRECS){
    int n = read(fd, pend + have, RECSIZE - have);
    if(n < 0)
      failed("reader", "read at record", next);
    if(n == 0){
      // Caught up with the writer: wait a little (it may be slow, not dead).
      if(++idle > 2000)
        failed("reader", "no new data; stuck at record", next);
      sleep(1);
      continue;
    }
    idle = 0;
    have += n;
    if(have == RECSIZE){
      if(!record_ok(next, pend))
        failed("reader", "torn or wrong record", next);
      next++;
      have = 0;
    }
  }
  close(fd);
  exit(0);
}

// rename(): the cases the crash test does not reach.
static void
rename_checks(void)
{
  char b[8];
  int fd = open("stress.ra", O_CREATE | O_WRONLY | O_TRUNC);
  if(fd < 0 || write(fd, "first", 5) != 5)
    failed("rename", "setup", 0);
  close(fd);
  fd = open("stress.rb", O_CREATE | O_WRONLY | O_TRUNC);
  if(fd < 0 || write(fd, "second!", 7) != 7)
    failed("rename", "setup", 1);
  close(fd);
  if(rename("stress.ra", "stress.ra") != 0 || (fd = open("stress.ra", O_RDONLY)) < 0)
    failed("rename", "a file onto itself", 0);
  close(fd);
  if(rename("stress.ra", "stress.rb") != 0)
    failed("rename", "onto an existing file", 0);
  if(open("stress.ra", O_RDONLY) >= 0)
    failed("rename", "the old name still exists", 0);
  fd = open("stress.rb", O_RDONLY);
  if(fd < 0 || read(fd, b, sizeof(b)) != 5 || memcmp(b, "first", 5) != 0)
    failed("rename", "the new name has the wrong contents", 0);
  close(fd);
  if(rename("stress.none", "stress.rc") != -1)
    failed("rename", "a missing file did not fail", 0);
  if(mkdir("stress.d") != 0)
    failed("rename", "mkdir", 0);
  if(rename("stress.d", "stress.e") != -1)
    failed("rename", "renaming a directory did not fail", 0);
  if(rename("stress.rb", "stress.d") != -1)
    failed("rename", "renaming onto a directory did not fail", 0);
  if(rename("stress.rb", "stress.d/inner") != 0 || (fd = open("stress.d/inner", O_RDONLY)) < 0)
    failed("rename", "into a subdirectory", 0);
  close(fd);
  if(unlink("stress.d/inner") != 0 || unlink("stress.d") != 0)
    failed("rename", "cleanup", 0);
}

int
main(int argc, char *argv[])
{
  int nworkers = 4;
  if(argc > 1)
    nworkers = atoi(argv[1]);
  if(nworkers < 1 || nworkers > 8){
    fprintf(2, "usage: fsstress [workers 1..8]\n");
    exit(2);
  }
  rename_checks();
  int fd = open("stress.shared", O_CREATE | O_RDWR | O_TRUNC);
  if(fd < 0)
    failed("main", "create stress.shared", 0);
  close(fd);

  uint64 t0 = uptime();
  int nproc = 0;
  for(int w = 0; w < nworkers; w++, nproc++)
    if(fork() == 0)
      worker(w);
  if(fork() == 0)
    reader();
  nproc++;
  if(fork() == 0)
    writer();
  nproc++;

  int bad = 0;
  for(int i = 0; i < nproc; i++){
    int status;
    if(wait(&status) < 0 || status != 0)
      bad++;
  }
  unlink("stress.shared");
  if(bad){
    printf("fsstress: FAILED: %d of %d processes\n", bad, nproc);
    exit(1);
  }
  if(sync() < 0){
    printf("fsstress: FAILED: sync\n");
    exit(1);
  }
  printf("fsstress: OK: %d workers x %d rounds of %d KB, %d shared records, %d ticks\n",
         nworkers, ROUNDS, WSIZE / 1024, NRECS, (int)(uptime() - t0));
  exit(0);
}
