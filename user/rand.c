// rand.c: print random bytes from the virtio entropy device, in hex.
//
//   rand [n]      n bytes (default 16, at most 4096)
//
// The bytes come from /dev/random, which the kernel serves from the
// virtio-rng device (kernel/glue/devfiles.c, virtio/virtio_rng.c); QEMU
// fills them from the host's own random source. `make qemu` adds the device
// (-device virtio-rng-device); without it rand says so.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "user/user.h"

static uchar buf[4096];

int
main(int argc, char *argv[])
{
  int n = argc > 1 ? atoi(argv[1]) : 16;

  if(n < 1 || n > (int)sizeof(buf)){
    fprintf(2, "usage: rand [n]   (1 <= n <= %d)\n", (int)sizeof(buf));
    exit(1);
  }
  int fd = open("/dev/random", O_RDONLY);
  if(fd < 0){
    fprintf(2, "rand: cannot open /dev/random\n");
    exit(1);
  }
  int got = 0;
  while(got < n){
    int r = read(fd, buf + got, n - got);
    if(r <= 0){
      fprintf(2, "rand: no random bytes (is there a virtio-rng device?)\n");
      exit(1);
    }
    got += r;
  }
  close(fd);
  for(int i = 0; i < n; i++)
    printf("%02x%s", buf[i], (i % 32 == 31 || i == n - 1) ? "\n" : "");
  exit(0);
}
