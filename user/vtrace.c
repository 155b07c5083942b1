// vtrace.c: record what a command does to the virtqueues, and print the
// recording on the console for `make trace` to turn into a page.
//
//   $ vtrace cat README.md              the disk's queue (the default)
//   $ vtrace -d blk,net ping 10.0.2.2   several devices (blk console net rng all)
//   $ vtrace "cat README.md | wc"       shell syntax: quote the whole line
//   $ vtrace -p                         print what /dev/vtrace holds now (after
//                                       `echo on blk > /dev/vtrace` ... `echo off > /dev/vtrace`)
//
// It writes "on DEVICES" to /dev/vtrace (kernel/glue/vtrace.c), runs the
// command line through a shell reading it from a pipe, waits, writes
// "off", then reads the records (32 bytes each, virtio/virtq_trace.h) and
// prints them between two marker lines, one record per line in
// hexadecimal with a checksum:
//
//   ==vtrace begin v1==
//   vt <64 hex digits: the record's bytes> <4 hex digits: Fletcher-16 of them>
//   ...
//   ==vtrace end N records==
//
// Anything else the console prints meanwhile (a kernel message from
// another hart) may land between or inside these lines; the checksum lets
// tools/trace/vtrace.py tell a damaged line from a good one, and each
// record carries its sequence number, so a lost one is noticed too.
//
// See it run: `make trace CMD='cat README.md'`.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define RECSIZE 32
#define CHUNK 64      // records per read()

static const char hexdigit[] = "0123456789abcdef";

// Fletcher-16: two running sums, so a swapped or shifted byte shows.
static uint
fletcher16(const uchar *p, int n)
{
  uint a = 0, b = 0;

  for(int i = 0; i < n; i++){
    a = (a + p[i]) % 255;
    b = (b + a) % 255;
  }
  return (b << 8) | a;
}

// One record, one write(): a line cannot be split by another writer.
static void
print_record(const uchar *r)
{
  char line[3 + 2 * RECSIZE + 1 + 4 + 1];
  uint ck = fletcher16(r, RECSIZE);
  int k = 0;

  line[k++] = 'v';
  line[k++] = 't';
  line[k++] = ' ';
  for(int i = 0; i < RECSIZE; i++){
    line[k++] = hexdigit[r[i] >> 4];
    line[k++] = hexdigit[r[i] & 15];
  }
  line[k++] = ' ';
  for(int s = 12; s >= 0; s -= 4)
    line[k++] = hexdigit[(ck >> s) & 15];
  line[k++] = '\n';
  write(1, line, k);
}

// Every record the device file holds, framed. Returns how many.
static int
print_all(int fd)
{
  static uchar buf[CHUNK * RECSIZE];
  int n, total = 0;

  // The begin marker starts a line of its own even when something else
  // ended without a newline just before it: a shell prompt ("$ ") that
  // was printed after the command line was typed ahead (a grader types
  // while the previous command is still running), for one.
  printf("\n==vtrace begin v1==\n");
  while((n = read(fd, buf, sizeof(buf))) > 0){
    for(int i = 0; i + RECSIZE <= n; i += RECSIZE)
      print_record(buf + i);
    total += n / RECSIZE;
  }
  printf("==vtrace end %d records==\n", total);
  return total;
}

static int
control(int fd, char *cmd)
{
  return write(fd, cmd, strlen(cmd)) == strlen(cmd) ? 0 : -1;
}

// The command line argv[0..argc-1], one shell line, run by sh from a pipe.
static void
run(int argc, char **argv)
{
  static char line[512];
  int p[2], n = 0;

  for(int i = 0; i < argc; i++){
    int len = strlen(argv[i]);
    if(n + len + 2 > sizeof(line)){
      fprintf(2, "vtrace: command line too long\n");
      return;
    }
    memmove(line + n, argv[i], len);
    n += len;
    line[n++] = i + 1 < argc ? ' ' : '\n';
  }
  if(pipe(p) < 0){
    fprintf(2, "vtrace: no pipe\n");
    return;
  }
  int pid = fork();
  if(pid < 0){
    fprintf(2, "vtrace: fork failed\n");
    return;
  }
  if(pid == 0){
    char *shargv[] = { "sh", 0 };
    close(0);
    dup(p[0]);
    close(p[0]);
    close(p[1]);
    exec("sh", shargv);
    fprintf(2, "vtrace: cannot run sh\n");
    exit(1);
  }
  close(p[0]);
  write(p[1], line, n);
  close(p[1]);          // end of input: sh exits after the line
  wait(0);
}

int
main(int argc, char *argv[])
{
  char on[64] = "on blk";
  int first = 1;

  if(argc < 2){
    fprintf(2, "usage: vtrace [-d dev[,dev...]] command...   (dev: blk console net rng all)\n"
               "       vtrace -p\n");
    exit(1);
  }
  int fd = open("/dev/vtrace", O_RDWR);
  if(fd < 0){
    fprintf(2, "vtrace: cannot open /dev/vtrace\n");
    exit(1);
  }
  if(strcmp(argv[1], "-p") == 0){
    print_all(fd);
    exit(0);
  }
  if(strcmp(argv[1], "-d") == 0){
    if(argc < 4 || strlen(argv[2]) > sizeof(on) - 4){
      fprintf(2, "vtrace: -d needs devices and a command\n");
      exit(1);
    }
    strcpy(on + 3, argv[2]);
    first = 3;
  }
  if(control(fd, on) < 0){
    fprintf(2, "vtrace: cannot record %s (no such device?)\n", on + 3);
    exit(1);
  }
  run(argc - first, argv + first);
  // A request the command started may still be finishing (read-ahead):
  // one clock tick lets its completion land in the recording too.
  sleep(1);
  control(fd, "off");
  print_all(fd);
  exit(0);
}
