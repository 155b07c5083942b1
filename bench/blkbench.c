// blkbench.c: raw block device benchmark. Drives the blkbench() system
// call (bench/kblkbench.c) over a grid of request sizes and queue depths
// and prints:
//   - the ring layout and the features the disk driver uses (virtio 1.2:
//     2.7 split or 2.8 packed ring, 2.7.5.3 indirect descriptors,
//     2.7.7/2.7.10 EVENT_IDX, 5.2.3 SEG_MAX/SIZE_MAX/FLUSH),
//   - throughput in MB/s (10^6 bytes/s) for writes and then reads of 4 KB
//     to 256 KB per request at queue depth 1 to 32 (each request in flight
//     with its own memory, the reads of data the writes put there),
//   - notifications (QueueNotify writes) and interrupts per request at
//     depth 1, 8 and 32,
//   - the same for baseline mode (diskmode(1): the classic driver, one
//     1 KB request at a time, no EVENT_IDX or indirect descriptors).
//
//   $ blkbench            the whole run (on a disk larger than fs.img:
//                         cp fs.img bench.img; truncate -s 64M bench.img)
//   $ blkbench quick      fewer requests per cell (the QEMU tests)
//   $ blkbench info       only the features and the scratch area
//
// Writes go only to the scratch area past the end of the file system; on a
// disk without one (plain `make qemu`) the write table is skipped.
#include "kernel/types.h"
#include "bench/blkbench.h"
#include "user/user.h"

static const int sizes[] = { 4096, 8192, 16384, 32768, 65536, 131072, 262144 };
static const int depths[] = { 1, 2, 4, 8, 16, 32 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define NDEPTHS (sizeof(depths) / sizeof(depths[0]))

static uint64 bytes_per_cell = 8 * 1024 * 1024;
static int min_requests = 64;

// Requests for one measurement: about bytes_per_cell of data, at least a
// few rounds of the queue.
static int
nreq_for(int size, int depth)
{
  uint64 n = bytes_per_cell / size;
  if(n < (uint64)min_requests)
    n = min_requests;
  if(n < (uint64)depth * 4)
    n = depth * 4;
  return (int)n;
}

// x / y with three decimals, e.g. "0.125".
static void
print_ratio(uint64 x, uint64 y)
{
  uint64 v = y ? (x * 1000 + y / 2) / y : 0;
  printf("%4d.%03d", (int)(v / 1000), (int)(v % 1000));
}

// MB/s with one decimal: bytes / (ticks / 10^7 s) / 10^6.
static void
print_mbps(struct blkbench_result *r)
{
  uint64 v = r->ticks ? r->bytes * 100 / r->ticks : 0;
  printf(" %5d.%d", (int)(v / 10), (int)(v % 10));
}

static int
measure(int size, int depth, int write, struct blkbench_result *r)
{
  int rc = blkbench(size, depth, nreq_for(size, depth), write, r);
  if(rc == 0 && r->errors)
    printf("(%d errors) ", r->errors);
  return rc;
}

static void
print_features(void)
{
  struct blkbench_result r;

  if(blkbench(4096, 1, 1, 0, &r) < 0){
    printf("blkbench: the benchmark system call failed\n");
    exit(1);
  }
  printf("disk driver: %s mode, features:%s%s%s, queue %d, %d requests in flight, "
         "%d segments per request, %s ring\n", r.baseline ? "baseline" : "full",
         r.event_idx ? " EVENT_IDX" : "", r.indirect_desc ? " INDIRECT_DESC" : "",
         r.flush ? " FLUSH" : "", r.queue_size, r.nslot, r.seg_max,
         r.packed ? "packed" : "split");
  // The probe above is a read, and reads use the whole disk when there
  // is no room past the file system: area_start 0 (where the file system
  // itself starts) means no scratch area, and the write table is skipped.
  if(r.area_start > 0)
    printf("scratch area: sectors %ld..%ld\n", r.area_start, r.area_end);
  else
    printf("scratch area: none (the file system fills the disk's %ld sectors): "
           "writes skipped, reads from sector 0\n", r.area_end);
}

// Returns 0, or BLKBENCH_NOSCRATCH when writes have nowhere to go.
static int
table(int write)
{
  struct blkbench_result r;

  printf("\n%s throughput, MB/s\n", write ? "write" : "read");
  printf("  size \\ depth");
  for(int d = 0; d < NDEPTHS; d++)
    printf(" %7d", depths[d]);
  printf("\n");
  for(int s = 0; s < NSIZES; s++){
    printf("  %4d KB      ", sizes[s] / 1024);
    for(int d = 0; d < NDEPTHS; d++){
      int rc = measure(sizes[s], depths[d], write, &r);
      if(rc == BLKBENCH_NOSCRATCH){
        printf(" (no scratch area past the file system: skipped)\n");
        return rc;
      }
      if(rc < 0)
        printf("    fail");
      else
        print_mbps(&r);
    }
    printf("\n");
  }
  return 0;
}

static void
ratios(const char *what, int size, int write)
{
  static const int ds[] = { 1, 8, 32 };
  struct blkbench_result r;

  printf("  %s\n", what);
  for(int i = 0; i < 3; i++){
    if(measure(size, ds[i], write, &r) < 0){
      printf("    depth %2d: failed\n", ds[i]);
      continue;
    }
    printf("    depth %2d:", ds[i]);
    print_ratio(r.notifies, r.nreq);
    printf(" notifications/req");
    print_ratio(r.interrupts, r.nreq);
    printf(" interrupts/req");
    print_ratio(r.requests, r.nreq);
    printf(" device requests/req ");
    print_mbps(&r);
    printf(" MB/s\n");
  }
}

static void
baseline(void)
{
  struct blkbench_result r;

  if(diskmode(1) != 1){
    printf("\nbaseline mode: diskmode(1) failed\n");
    return;
  }
  printf("\nbaseline mode (the classic driver: one 1 KB request at a time)\n");
  print_features();
  ratios("1 KB reads", 1024, 0);
  ratios("64 KB reads (split into 1 KB requests)", 65536, 0);
  if(measure(4096, 1, 1, &r) == 0){
    printf("  4 KB writes, depth 1:");
    print_mbps(&r);
    printf(" MB/s\n");
  }
  if(diskmode(0) != 0)
    printf("blkbench: could not go back to full mode\n");
}

int
main(int argc, char *argv[])
{
  if(argc > 1 && strcmp(argv[1], "quick") == 0){
    bytes_per_cell = 512 * 1024;
    min_requests = 16;
  } else if(argc > 1 && strcmp(argv[1], "info") != 0){
    fprintf(2, "usage: blkbench [quick|info]\n");
    exit(1);
  }
  if(diskmode(-1) != 0)
    diskmode(0);
  printf("blkbench: raw virtio-blk throughput\n");
  print_features();
  if(argc > 1 && strcmp(argv[1], "info") == 0)
    exit(0);
  // Writes first: then the reads find data the host really holds. Reads
  // of a never-written scratch area would be reads of a hole in the image
  // file, which the host answers with zeros faster than any real read.
  table(1);
  table(0);
  printf("\nnotifications and interrupts per request\n");
  ratios("4 KB reads", 4096, 0);
  ratios("64 KB reads", 65536, 0);
  baseline();
  printf("blkbench: done\n");
  exit(0);
}
