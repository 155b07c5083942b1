// kill.c: ask processes to end. The kernel marks each one killed; it exits
// the next time it is in the kernel (a system call, a timer interrupt, or
// being woken from sleep), with exit status -1. Process 1 (init) cannot be
// killed: the kernel refuses, so that no program can take the machine down.
//
//   $ kill 5
#include "kernel/types.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  if(argc < 2){
    fprintf(2, "usage: kill pid...\n");
    return 1;
  }
  int status = 0;
  for(int i = 1; i < argc; i++){
    int pid = atoi(argv[i]);
    if(kill(pid) < 0){
      if(pid == 1)
        fprintf(2, "kill: 1 is init, which cannot be killed\n");
      else
        fprintf(2, "kill: %s: no such process\n", argv[i]);
      status = 1;
    }
  }
  return status;
}
