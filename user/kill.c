// kill.c: ask processes to end. The kernel marks each one killed; it exits
// the next time it is in the kernel (a system call, a timer interrupt, or
// being woken from sleep), with exit status -1.
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
    if(kill(atoi(argv[i])) < 0){
      fprintf(2, "kill: %s: no such process (failed)\n", argv[i]);
      status = 1;
    }
  }
  return status;
}
