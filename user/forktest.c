// forktest.c: fill the process table with fork, then empty it with wait.
//
//   $ forktest
//   fork test: 61 children before fork failed
//   fork test OK
//
// The children exit at once, but an exited child keeps its process-table
// slot (as a zombie) until its parent waits for it, so fork must start to
// fail once the table is full, and not before NPROC children. Then exactly
// as many waits must succeed as forks did, and one more must fail.
#include "kernel/types.h"
#include "kernel/param.h"
#include "user/user.h"

#define MAXTRY 1000   // more than NPROC: fork must fail long before this

int
main(void)
{
  int n;
  for(n = 0; n < MAXTRY; n++){
    int pid = fork();
    if(pid < 0)
      break;
    if(pid == 0)
      exit(0);
  }
  if(n == MAXTRY){
    printf("fork test FAILED: %d forks and fork never failed\n", MAXTRY);
    return 1;
  }
  printf("fork test: %d children before fork failed\n", n);
  if(n >= NPROC){
    printf("fork test FAILED: more children than NPROC (%d)\n", NPROC);
    return 1;
  }

  for(int i = 0; i < n; i++){
    if(wait(0) < 0){
      printf("fork test FAILED: wait %d of %d returned -1\n", i + 1, n);
      return 1;
    }
  }
  if(wait(0) != -1){
    printf("fork test FAILED: wait found an extra child\n");
    return 1;
  }
  printf("fork test OK\n");
  return 0;
}
