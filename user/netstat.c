// netstat.c: the network counters: what the stack (net/) did with
// every frame it received and sent, what the virtio-net driver saw, and the
// interface's addresses. Malformed frames show up here as drops, each
// under its reason (rx_ip_bad_csum, rx_udp_bad_len, ...).
//
//   netstat        counters that are not zero
//   netstat -a     all of them
//   netstat NAME   one counter's value alone (for scripts and tests)
//
// The counters are defined in net/net.h (the stack) and
// virtio/virtio_net.h (the driver); the netstat() system call is in
// kernel/glue/sysnet.c. See it run: `make qemu`, then `ping 10.0.2.2` and
// `netstat`; tests/qemu/test_net.py reads it after its malformed frames.
#include "kernel/types.h"
#include "user/user.h"

static int
same(const char *a, const char *b)
{
  return strcmp(a, b) == 0;
}

int
main(int argc, char *argv[])
{
  char name[32];
  uint64 v;
  int all = argc > 1 && same(argv[1], "-a");
  const char *only = (argc > 1 && !all) ? argv[1] : 0;

  if(netstat(0, name, &v) < 0){
    fprintf(2, "netstat: no network device\n");
    exit(1);
  }
  for(int i = 0; netstat(i, name, &v) == 0; i++){
    if(only){
      if(same(name, only)){
        printf("%ld\n", v);
        exit(0);
      }
    } else if(same(name, "mac")){
      printf("%-28s ", name);
      for(int k = 5; k >= 0; k--)
        printf("%02x%s", (int)((v >> (8 * k)) & 0xff), k ? ":" : "\n");
    } else if(same(name, "ip")){
      printf("%-28s %d.%d.%d.%d\n", name, (int)(v >> 24) & 0xff, (int)(v >> 16) & 0xff,
             (int)(v >> 8) & 0xff, (int)v & 0xff);
    } else if(all || v != 0){
      printf("%-28s %ld\n", name, v);
    }
  }
  if(only){
    fprintf(2, "netstat: no counter named %s\n", only);
    exit(1);
  }
  exit(0);
}
