// udpecho.c: a UDP echo server. Every datagram that arrives on the port
// goes straight back to whoever sent it, unchanged.
//
//   udpecho [port [count]]    port 2000 by default; stop after count
//                             datagrams (default: run until killed)
//
// With `make qemu`, host UDP port NETPORT (printed by make) is forwarded to
// guest port 2000, so from the host:
//   $ udpecho &                                        (in the guest)
//   echo hello | nc -u -w1 127.0.0.1 NETPORT           (on the host)
// tests/qemu/test_net.py sends it 1000 datagrams of 1..1400 bytes.
// Specs: RFC 768 (UDP); the socket calls are described in kernel/glue/sysnet.c.
#include "kernel/types.h"
#include "user/user.h"

static char buf[1500];

int
main(int argc, char *argv[])
{
  int port = argc > 1 ? atoi(argv[1]) : 2000;
  int count = argc > 2 ? atoi(argv[2]) : -1;
  int echoed = 0, failed = 0;

  int fd = udpbind(port);
  if(fd < 0){
    fprintf(2, "udpecho: cannot bind UDP port %d (no network device, or port in use)\n", port);
    exit(1);
  }
  printf("udpecho: listening on port %d\n", port);
  while(count < 0 || echoed + failed < count){
    uint ip;
    int from;
    int n = recvfrom(fd, buf, sizeof(buf), &ip, &from, -1);
    if(n < 0){
      fprintf(2, "udpecho: recvfrom failed\n");
      exit(1);
    }
    // A send can fail when the stack is out of transmit buffers for a
    // moment; the sender notices the missing echo and tries again.
    if(sendto(fd, buf, n, ip, from) == n)
      echoed++;
    else
      failed++;
  }
  printf("udpecho: %d datagrams echoed, %d sends failed\n", echoed, failed);
  close(fd);
  exit(0);
}
