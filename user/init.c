// init.c: the first real user program. The kernel's initcode execs /init as
// process 1; init never exits.
//
// 1. It connects file descriptors 0, 1 and 2 (standard input, output, error)
//    to the console device, creating the device node "console" (major 1)
//    if the disk does not have one yet. Every later process inherits them.
// 2. It starts the shell, and starts a new one whenever the shell exits
//    (for example after Ctrl-D at the prompt).
// 3. Meanwhile it reaps orphans: when a process exits, its children are
//    given to init, and init's wait() collects them so they do not stay
//    zombies forever.
//
// See it run: `make qemu` prints "init: starting sh" before the first prompt.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define CONSOLE_MAJOR 1   // kernel/file.h: devsw[1] is the console

static char *shargv[] = { "sh", 0 };

static void
open_console(void)
{
  if(open("console", O_RDWR) < 0){
    mknod("console", CONSOLE_MAJOR, 0);
    if(open("console", O_RDWR) < 0)
      exit(1);   // nowhere to even print an error; the kernel reports init's exit
  }
  // The open returned fd 0 (the lowest free one); 1 and 2 are copies of it.
  dup(0);
  dup(0);
}

int
main(void)
{
  open_console();

  for(;;){
    printf("init: starting sh\n");
    int pid = fork();
    if(pid < 0){
      printf("init: fork failed\n");
      sleep(10);
      continue;
    }
    if(pid == 0){
      exec("sh", shargv);
      printf("init: exec sh failed\n");
      exit(1);
    }

    // Collect exited processes until the shell itself is among them.
    for(;;){
      int w = wait(0);
      if(w == pid)
        break;           // the shell exited: start a new one
      if(w < 0){
        printf("init: wait returned an error\n");
        sleep(10);       // do not spin if something is badly wrong
        break;
      }
      // else an orphan was reaped; keep waiting for the shell
    }
  }
}
