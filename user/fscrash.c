// fscrash.c: the guest half of the crash test (tests/qemu/crashtest.py).
//
//   fscrash run SEED NOPS        do NOPS random file operations in /ct
//   fscrash verify SEED NOPS K   check /ct after a crash: operations 0..K
//                                were durable, so all of them must be there
//
// `run` creates, appends to, truncates, renames and deletes up to NFILES
// files in /ct, chosen by a pseudo-random generator started from SEED.
// Every operation is one system call (open with O_CREATE or O_TRUNC, one
// write() of at most 8 KB, rename(), unlink()), and so atomic by the
// README's promise. After about half of them it calls fsync(fd) or sync()
// and, once that returned, prints "D i": operations 0..i are durable.
// The harness kills QEMU at a random moment, checks the image with fsck,
// boots it and runs `verify` with the last i it saw.
//
// `verify` replays the same sequence on a model (no disk I/O: each file is
// its length and a running hash of its bytes, which are a function of the
// operation that wrote them) and compares the real /ct with the model after
// j operations, for every j from K+1 up: the disk must look exactly like
// one of those states. Operations after K may or may not have reached the
// disk (a commit may have happened without a sync), but never partly, and
// never out of order. It prints "verify: OK ..." or "verify: FAILED ...".
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/fs.h"
#include "user/user.h"

#define NFILES 12            // f0 .. f11; 12 fds + 3 standard ones fit in NOFILE
#define MAXLEN (48 * 1024)   // a file this long is truncated instead
#define MAXAPPEND 8192       // one write: 9 blocks, well within one transaction

enum { CREATE, APPEND, TRUNC, RENAME, DELETE };

struct file {
  int exists;
  uint len;
  uint hash;                 // FNV-1a of the contents
};

struct op {
  int type;
  int a, b;                  // file indexes (b: rename's target)
  uint len;                  // bytes appended
  int sync;                  // 0 none, 1 sync(), 2 fsync(fd)
};

static struct file model[NFILES];
static uint rng;
static char buf[MAXAPPEND];

static uint
rand(void)
{
  // xorshift32: tiny and good enough to pick operations.
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

#define HASH_INIT 2166136261u

static uint
hash_bytes(uint h, const char *p, int n)
{
  for(int i = 0; i < n; i++)
    h = (h ^ (uchar)p[i]) * 16777619u;
  return h;
}

// Byte k of what operation i appends.
static char
content(int i, uint k)
{
  return (char)((i * 131 + k * 7 + (k >> 9)) ^ (i >> 3));
}

static void
fill(int i, uint len)
{
  for(uint k = 0; k < len; k++)
    buf[k] = content(i, k);
}

static void
name_of(char *name, int f)
{
  strcpy(name, "/ct/f");
  if(f >= 10){
    name[5] = '1';
    name[6] = '0' + f - 10;
    name[7] = 0;
  } else {
    name[5] = '0' + f;
    name[6] = 0;
  }
}

// Pick file index with exists == want, starting at a random place; -1 if none.
static int
pick(int want)
{
  int start = rand() % NFILES;
  for(int k = 0; k < NFILES; k++){
    int f = (start + k) % NFILES;
    if(model[f].exists == want)
      return f;
  }
  return -1;
}

// Choose operation i from the model's state. `run` and `verify` call this
// in the same order, so they draw the same numbers.
static void
choose(struct op *op)
{
  int r = rand() % 100;
  op->len = 0;
  op->b = -1;
  if(r < 15)
    op->type = CREATE;
  else if(r < 65)
    op->type = APPEND;
  else if(r < 72)
    op->type = TRUNC;
  else if(r < 87)
    op->type = RENAME;
  else
    op->type = DELETE;

  if(op->type == CREATE){
    op->a = pick(0);
    if(op->a < 0){
      op->type = APPEND;       // every name is taken
    }
  }
  if(op->type != CREATE){
    op->a = pick(1);
    if(op->a < 0){
      op->type = CREATE;       // nothing exists yet
      op->a = pick(0);
    }
  }
  if(op->type == APPEND){
    op->len = 1 + rand() % MAXAPPEND;
    if(model[op->a].len + op->len > MAXLEN)
      op->type = TRUNC;
  }
  if(op->type == RENAME){
    op->b = (op->a + 1 + rand() % (NFILES - 1)) % NFILES;   // any other name
  }
  int s = rand() % 4;
  op->sync = s < 2 ? 0 : (s == 2 || op->type != APPEND) ? 1 : 2;
}

// Apply op (number i) to the model.
static void
apply(int i, struct op *op)
{
  struct file *f = &model[op->a];
  switch(op->type){
  case CREATE:
  case TRUNC:
    f->exists = 1;
    f->len = 0;
    f->hash = HASH_INIT;
    break;
  case APPEND:
    fill(i, op->len);
    f->hash = hash_bytes(f->hash, buf, op->len);
    f->len += op->len;
    break;
  case RENAME:
    model[op->b] = *f;
    f->exists = 0;
    break;
  case DELETE:
    f->exists = 0;
    break;
  }
}

static void
die(int i, const char *what)
{
  printf("fscrash: FAILED: operation %d: %s\n", i, what);
  exit(1);
}

static int
run(int nops)
{
  int fd[NFILES];
  char name[16], name2[16];

  for(int f = 0; f < NFILES; f++)
    fd[f] = -1;
  if(mkdir("/ct") < 0)
    die(-1, "mkdir /ct (run it on a fresh image)");
  if(sync() < 0)
    die(-1, "sync");
  printf("fscrash: ready\n");

  for(int i = 0; i < nops; i++){
    struct op op;
    choose(&op);
    name_of(name, op.a);
    switch(op.type){
    case CREATE:
      if((fd[op.a] = open(name, O_CREATE | O_RDWR)) < 0)
        die(i, "create");
      break;
    case APPEND:
      fill(i, op.len);
      if(write(fd[op.a], buf, op.len) != op.len)
        die(i, "write");
      break;
    case TRUNC: {
      int nfd = open(name, O_RDWR | O_TRUNC);
      if(nfd < 0)
        die(i, "open O_TRUNC");
      close(fd[op.a]);
      fd[op.a] = nfd;
      break;
    }
    case RENAME:
      name_of(name2, op.b);
      if(fd[op.b] >= 0)
        close(fd[op.b]);     // the target is replaced: close it first
      if(rename(name, name2) < 0)
        die(i, "rename");
      fd[op.b] = fd[op.a];
      fd[op.a] = -1;
      break;
    case DELETE:
      close(fd[op.a]);
      fd[op.a] = -1;
      if(unlink(name) < 0)
        die(i, "unlink");
      break;
    }
    int target = op.type == RENAME ? op.b : op.a;
    apply(i, &op);
    if(op.sync == 1 && sync() < 0)
      die(i, "sync");
    if(op.sync == 2 && fsync(fd[target]) < 0)
      die(i, "fsync");
    if(op.sync)
      printf("D %d\n", i);
  }
  printf("fscrash: done\n");
  return 0;
}

// What is really in /ct: one struct file per name, and 0, or -1 if /ct
// holds a name that is not one of ours (or cannot be read).
static int
scan(struct file *real)
{
  char name[16];
  struct dirent de;

  for(int f = 0; f < NFILES; f++){
    name_of(name, f);
    real[f].exists = 0;
    int fd = open(name, O_RDONLY);
    if(fd < 0)
      continue;
    real[f].exists = 1;
    real[f].len = 0;
    real[f].hash = HASH_INIT;
    int n;
    while((n = read(fd, buf, sizeof(buf))) > 0){
      real[f].hash = hash_bytes(real[f].hash, buf, n);
      real[f].len += n;
    }
    close(fd);
    if(n < 0){
      printf("verify: cannot read %s\n", name);
      return -1;
    }
  }
  int dfd = open("/ct", O_RDONLY);
  if(dfd < 0){
    printf("verify: /ct is missing\n");
    return -1;
  }
  while(read(dfd, &de, sizeof(de)) == sizeof(de)){
    if(de.inum == 0 || strcmp(de.name, ".") == 0 || strcmp(de.name, "..") == 0)
      continue;
    int ours = 0;
    for(int f = 0; f < NFILES; f++){
      name_of(name, f);
      if(strcmp(de.name, name + 4) == 0)
        ours = 1;
    }
    if(!ours){
      printf("verify: unexpected name /ct/%s\n", de.name);
      close(dfd);
      return -1;
    }
  }
  close(dfd);
  return 0;
}

static int
same(struct file *real)
{
  for(int f = 0; f < NFILES; f++){
    if(real[f].exists != model[f].exists)
      return 0;
    if(real[f].exists && (real[f].len != model[f].len || real[f].hash != model[f].hash))
      return 0;
  }
  return 1;
}

static void
show(struct file *real)
{
  for(int f = 0; f < NFILES; f++){
    if(!real[f].exists && !model[f].exists)
      continue;
    printf("  f%d: disk %s len %d hash %x; expected %s len %d hash %x\n", f,
           real[f].exists ? "yes" : "no", real[f].exists ? real[f].len : 0,
           real[f].exists ? real[f].hash : 0, model[f].exists ? "yes" : "no",
           model[f].exists ? model[f].len : 0, model[f].exists ? model[f].hash : 0);
  }
}

static int
verify(int nops, int durable)
{
  struct file real[NFILES];
  struct op op;

  if(scan(real) < 0){
    printf("verify: FAILED\n");
    return 1;
  }
  // The model after j operations, j = 0 .. nops; acceptable from
  // j = durable + 1 on.
  for(int j = 0; ; j++){
    if(j >= durable + 1 && same(real)){
      printf("verify: OK: the disk holds the state after %d operations "
             "(durable: %d)\n", j, durable + 1);
      return 0;
    }
    if(j == nops)
      break;
    choose(&op);
    apply(j, &op);
  }
  printf("verify: FAILED: no state after %d or more operations matches the disk\n",
         durable + 1);
  return 1;
}

static void
usage(void)
{
  fprintf(2, "usage: fscrash run SEED NOPS | fscrash verify SEED NOPS DURABLE\n");
  exit(2);
}

int
main(int argc, char *argv[])
{
  if(argc < 4)
    usage();
  rng = atoi(argv[2]) * 2654435761u + 1;   // never 0: xorshift would stick
  if(rng == 0)
    rng = 1;
  int nops = atoi(argv[3]);
  if(strcmp(argv[1], "run") == 0 && argc == 4)
    exit(run(nops));
  if(strcmp(argv[1], "verify") == 0 && argc == 5){
    uint seed_rng = rng;
    int durable = atoi(argv[4]);
    if(argv[4][0] == '-')
      durable = -atoi(argv[4] + 1);
    int r = verify(nops, durable);
    if(r != 0){
      // Show the differences against the state after durable+1 operations.
      rng = seed_rng;
      for(int f = 0; f < NFILES; f++)
        model[f].exists = 0;
      struct op op;
      for(int j = 0; j < durable + 1 && j < nops; j++){
        choose(&op);
        apply(j, &op);
      }
      struct file real[NFILES];
      if(scan(real) == 0)
        show(real);
    }
    exit(r);
  }
  usage();
  return 0;
}
