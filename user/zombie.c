// zombie.c: leave a zombie for a moment. The child exits at once; the
// parent does not wait for it and exits 5 seconds later, after which init
// inherits the child and collects it. Meanwhile the child is a zombie
// (press Ctrl-P on the console if the kernel lists processes on it).
//
//   $ zombie
#include "kernel/types.h"
#include "user/user.h"

int
main(void)
{
  int pid = fork();
  if(pid < 0){
    fprintf(2, "zombie: fork failed\n");
    return 1;
  }
  if(pid == 0)
    exit(0);
  sleep(50);   // 5 seconds at 10 ticks a second
  return 0;
}
