// nettest.c: a UDP conversation with a server on the host, checking every
// reply.
//
//   nettest a.b.c.d port [count]      default count 50
//
// The server (tests/qemu/test_net.py runs one) answers each datagram with
// the same bytes in reverse order, so a reply is proof that the server read
// the datagram, not an echo of our own frame. Datagram i carries its
// number in its first four bytes and has a size that walks through
// 4..1472 bytes; a reply with an older number (the answer to a datagram we
// already sent again) is skipped. A missing reply is retried up to 3 times.
// Under QEMU user networking the host is 10.0.2.2.
//
// Also checked on the way: a port cannot be bound twice, port 0 gets a
// free port of its own, a datagram larger than 1472 bytes is refused, and
// a reply comes from the address and port we sent to.
//
// Prints "nettest: OK" (exit 0) or "nettest: FAILED ..." (exit 1).
// Specs: RFC 768 (UDP). See it run: `python3 tests/run_tests.py nettest`,
// or by hand: a reversing UDP server on the host's 127.0.0.1:PORT (the
// one in tests/qemu/test_net.py, reverse_server), then in `make qemu`
// `nettest 10.0.2.2 PORT`.
#include "kernel/types.h"
#include "user/user.h"

static uchar out[1500], in[1500];

static void
fail(const char *why, int i)
{
  printf("nettest: FAILED: %s (datagram %d)\n", why, i);
  exit(1);
}

static int
get32(const uchar *p)
{
  return p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24);
}

// Fill datagram i: its number, then a pattern of its own.
static int
build(int i)
{
  int len = 4 + (i * 337) % 1469;
  out[0] = i;
  out[1] = i >> 8;
  out[2] = i >> 16;
  out[3] = i >> 24;
  for(int k = 4; k < len; k++)
    out[k] = (uchar)(k * 7 + i);
  return len;
}

// Wait for the reply to datagram i; 1 if it came and is right, 0 on timeout.
static int
await(int fd, int i, int len, uint ip, int port)
{
  for(;;){
    uint from;
    int fport;
    int n = recvfrom(fd, in, sizeof(in), &from, &fport, 1000);
    if(n < 0)
      return 0;
    if(from != ip || fport != port)
      fail("reply from an unexpected address or port", i);
    if(n < 4)
      fail("reply too short", i);
    // The server reversed the bytes: our number is in the last four.
    uchar num[4] = { in[n - 1], in[n - 2], in[n - 3], in[n - 4] };
    int j = get32(num);
    if(j < i)
      continue;        // the late answer to an earlier try
    if(j != i || n != len)
      fail("reply for the wrong datagram or of the wrong length", i);
    for(int k = 0; k < len; k++)
      if(in[n - 1 - k] != out[k])
        fail("reply data differs", i);
    return 1;
  }
}

int
main(int argc, char *argv[])
{
  if(argc < 3){
    fprintf(2, "usage: nettest a.b.c.d port [count]\n");
    exit(1);
  }
  uint ip = parse_ip(argv[1]);
  int port = atoi(argv[2]);
  int count = argc > 3 ? atoi(argv[3]) : 50;
  if(ip == ~0u || port < 1 || port > 65535 || count < 1){
    fprintf(2, "nettest: bad address, port or count\n");
    exit(1);
  }

  int fd = udpbind(0);
  if(fd < 0)
    fail("udpbind(0) failed: is there a network device?", -1);
  int fd2 = udpbind(4321);
  if(fd2 < 0)
    fail("udpbind(4321) failed", -1);
  if(udpbind(4321) >= 0)
    fail("port 4321 bound twice", -1);
  close(fd2);
  if(sendto(fd, out, 1473, ip, port) >= 0)
    fail("a 1473-byte datagram was accepted", -1);

  int retries = 0;
  for(int i = 0; i < count; i++){
    int len = build(i), tries = 0;
    for(;;){
      if(sendto(fd, out, len, ip, port) != len)
        fail("sendto failed", i);
      if(await(fd, i, len, ip, port))
        break;
      if(++tries > 3)
        fail("no reply after 3 retries", i);
      retries++;
    }
  }
  printf("nettest: %d datagrams, %d replies checked, %d retries\n", count, count, retries);
  printf("nettest: OK\n");
  close(fd);
  exit(0);
}
