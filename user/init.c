// init.c: the first real user program. The kernel's initcode execs /init as
// process 1; init never exits.
//
// 1. It connects file descriptors 0, 1 and 2 (standard input, output, error)
//    to the console device, creating the device node "console" (major 1)
//    if the disk does not have one yet. Every later process inherits them.
// 2. It starts the shell, and starts a new one whenever the shell exits
//    (for example after Ctrl-D at the prompt).
// 2b. If the machine has a virtio console with a port for a shell
//    (/dev/vcons: its console port, else the first port that became
//    ready), a child of init runs a second shell there, again and again,
//    and init says which port that is.
// 3. Meanwhile it reaps orphans: when a process exits, its children are
//    given to init, and init's wait() collects them so they do not stay
//    zombies forever.
//
// See it run: `make qemu` prints "init: starting sh" before the first prompt.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/devinfo.h"
#include "user/user.h"

#define CONSOLE_MAJOR 1   // kernel/file.h: devsw[1] is the console
#define VCONSOLE_MAJOR 2  // devsw[2]: the virtio console (kernel/glue/devfiles.c)

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

// Does /dev/vcons have a port behind it? A read of 0 bytes fails when the
// virtio console is missing or has no port (the kernel waits for the
// device to announce its ports first). mkfs puts the node on the disk; on
// a disk made without it (an older image) init makes it, as it does for
// the console.
static int
vcons_present(void)
{
  char c;
  int fd = open("/dev/vcons", O_RDWR);

  if(fd < 0){
    mkdir("/dev");     // fails harmlessly if /dev is there
    mknod("/dev/vcons", VCONSOLE_MAJOR, 0);
    fd = open("/dev/vcons", O_RDWR);
  }
  if(fd < 0)
    return 0;          // a read-only disk without the node: no second shell
  int present = read(fd, &c, 0) == 0;
  close(fd);
  return present;
}

// "init: starting sh on /dev/vcons (virtio-console port 1, a serial port,
// name "x")": the port the kernel chose, from the device table (lsdev -v
// lists the same).
static void
say_shell_port(void)
{
  struct devinfo d;

  for(int i = 0; devinfo(i, &d) == 0; i++){
    for(int k = 0; k < d.nports && k < DEVINFO_NPORT; k++){
      struct devinfo_port *p = &d.port[k];
      if(!(p->flags & DEVINFO_PORT_SHELL))
        continue;
      p->name[sizeof(p->name) - 1] = 0;
      printf("init: starting sh on /dev/vcons (virtio-console port %d, %s", p->id,
             (p->flags & DEVINFO_PORT_CONSOLE) ? "a console port" : "a serial port");
      if(p->name[0])
        printf(", name \"%s\"", p->name);
      printf(")\n");
      return;
    }
  }
  printf("init: starting sh on /dev/vcons\n");
}

// A second shell on the virtio console, if it has a port for one.
static void
start_vconsole_shell(void)
{
  if(!vcons_present())
    return;
  say_shell_port();
  if(fork() != 0)
    return;            // init itself (or fork failed: no second shell)

  // The child: standard input, output and error on the virtio console.
  close(0);
  close(1);
  close(2);
  if(open("/dev/vcons", O_RDWR) != 0)
    exit(1);
  dup(0);
  dup(0);
  for(;;){
    int pid = fork();
    if(pid < 0){
      sleep(10);
      continue;
    }
    if(pid == 0){
      exec("sh", shargv);
      exit(1);
    }
    int w, status = 0;
    while((w = wait(&status)) != pid && w >= 0)
      ;                // our only children are shells; orphans go to init
    if(status != 0)
      sleep(10);       // exec failed: do not spin
    if(!vcons_present())
      exit(0);         // the port went away (unplugged, or the device failed)
  }
}

int
main(void)
{
  open_console();
  start_vconsole_shell();

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
