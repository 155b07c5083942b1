// stressfs.c: several processes write and read back files at the same
// time, to exercise the buffer cache, the log and the inode locks under
// concurrency.
//
//   $ stressfs
//
// Each of NCHILD children writes its own file "stressfs.N" with a pattern
// that depends on N and the position, reads it back and checks it, a few
// rounds over, then removes it. The parent reports each child's result.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define NCHILD  4
#define NBLOCKS 20    // 512-byte writes per file
#define ROUNDS  3

static char buf[512];

static void
fill(int child, int block)
{
  for(int i = 0; i < sizeof(buf); i++)
    buf[i] = 'a' + (child * 7 + block * 3 + i) % 26;
}

// Returns 0 if every write and read-back matched.
static int
stress(int child)
{
  char name[] = "stressfs.0";
  name[9] = '0' + child;
  for(int round = 0; round < ROUNDS; round++){
    int fd = open(name, O_CREATE | O_RDWR | O_TRUNC);
    if(fd < 0){
      printf("stressfs: child %d: cannot create %s\n", child, name);
      return -1;
    }
    for(int b = 0; b < NBLOCKS; b++){
      fill(child, b);
      if(write(fd, buf, sizeof(buf)) != sizeof(buf)){
        printf("stressfs: child %d: write failed\n", child);
        close(fd);
        return -1;
      }
    }
    close(fd);

    static char got[512];
    fd = open(name, O_RDONLY);
    if(fd < 0){
      printf("stressfs: child %d: cannot reopen %s\n", child, name);
      return -1;
    }
    for(int b = 0; b < NBLOCKS; b++){
      fill(child, b);
      if(read(fd, got, sizeof(got)) != sizeof(got) || memcmp(got, buf, sizeof(buf)) != 0){
        printf("stressfs: child %d: block %d reads back wrong\n", child, b);
        close(fd);
        return -1;
      }
    }
    close(fd);
  }
  unlink(name);
  return 0;
}

int
main(void)
{
  printf("stressfs starting: %d processes\n", NCHILD);
  for(int i = 0; i < NCHILD; i++){
    int pid = fork();
    if(pid < 0){
      printf("stressfs: fork failed\n");
      break;
    }
    if(pid == 0)
      exit(stress(i) == 0 ? 0 : 1);
  }
  int bad = 0, status;
  while(wait(&status) >= 0)
    if(status != 0)
      bad++;
  if(bad){
    printf("stressfs: %d processes FAILED\n", bad);
    return 1;
  }
  printf("stressfs OK\n");
  return 0;
}
