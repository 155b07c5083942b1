// ping.c: send ICMP echo requests and print the replies (RFC 792).
//
//   ping [-c count] [-s size] a.b.c.d      default: 4 pings of 56 data bytes
//
// Each ping is one icmpecho() system call: the kernel sends the request
// (identifier = our pid, sequence number = seq), waits up to a second for
// the matching reply, checks that its data came back unchanged and returns
// the round-trip time. Under QEMU user networking `ping 10.0.2.2` reaches
// QEMU's built-in gateway, which answers by itself.
//
// Exit status 0 if at least one reply came back.
// See it run: `make qemu`, then `ping 10.0.2.2`; the frames are in
// packets.pcap (`tshark -r packets.pcap -Y icmp`); `make check` runs it in
// tests/qemu/test_net.py (ping).
#include "kernel/types.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  int count = 4, size = 56, i;
  char *host = 0;

  for(i = 1; i < argc; i++){
    if(strcmp(argv[i], "-c") == 0 && i + 1 < argc)
      count = atoi(argv[++i]);
    else if(strcmp(argv[i], "-s") == 0 && i + 1 < argc)
      size = atoi(argv[++i]);
    else
      host = argv[i];
  }
  uint ip = host ? parse_ip(host) : ~0u;
  if(ip == ~0u || count < 1 || size < 0 || size > 1472){
    fprintf(2, "usage: ping [-c count] [-s size (0..1472)] a.b.c.d\n");
    exit(1);
  }
  printf("PING %s: %d data bytes\n", host, size);
  int received = 0;
  for(int seq = 1; seq <= count; seq++){
    int rtt = icmpecho(ip, seq, size, 1000);
    if(rtt >= 0){
      printf("%d bytes from %s: icmp_seq=%d time=%d ms\n", size + 8, host, seq, rtt);
      received++;
    } else if(rtt == -2){
      printf("reply from %s: icmp_seq=%d with wrong data\n", host, seq);
    } else {
      printf("no reply from %s: icmp_seq=%d\n", host, seq);
    }
    if(seq < count)
      sleep(2);        // a fifth of a second between pings
  }
  printf("--- %s: %d sent, %d received\n", host, count, received);
  exit(received > 0 ? 0 : 1);
}
