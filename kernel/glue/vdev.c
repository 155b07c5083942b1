// vdev.c: the RISC-V kernel's side of the virtio devices. It
//   - probes the virtio-mmio slots the device tree lists (all eight on QEMU
//     virt) by MagicValue, Version, DeviceID and VendorID,
//   - prints the device table at boot and serves it to user space
//     (devinfo() system call, the `lsdev` program),
//   - binds drivers: the first virtio-blk device becomes the root disk;
//     the first console, entropy and network devices get their drivers too
//     (virtio_console.c, virtio_rng.c, virtio_net.c), and are handed on to
//     devfiles.c (/dev/vcons, /dev/random) and sysnet.c (the network stack),
//   - routes each slot's PLIC interrupt to its driver,
//   - and is the block device the buffer cache calls (disk_rw).
//
// The drivers themselves are portable and live in virtio/; this file
// is the only place where they meet kernel structures (struct buf).
// Follows virtio 1.2 section 4.2.3.1 (device discovery on MMIO: a slot with
// DeviceID 0 is empty and must be skipped).
//
// See it run: `make qemu` prints the table at boot; `lsdev` prints it again.
// QEMU fills slots from the highest address down unless the command line
// says `bus=virtio-mmio-bus.N`, so the disk can be in any slot.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "machine.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "buf.h"
#include "devinfo.h"
#include "defs.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_rng.h"
#include "virtio_net.h"

struct vdev_slot {
  struct vio_dev dev;
  const char *driver;     // bound driver's name, or "-"
};

static struct vdev_slot slots[VIRTIO_NSLOT];
static int nslots;          // rows in slots[] (slots holding a device)

static struct vblk disk;    // the root file system's disk
static struct vdev_slot *disk_slot;

// One of each of these, if present. The driver structs hold the queues'
// bookkeeping (a few KB each), so they are static, never on a stack.
static struct vcons vcons;
static struct vdev_slot *vcons_slot;
static struct vrng rng;
static struct vdev_slot *rng_slot;
static struct vnet vnet;
static struct vdev_slot *vnet_slot;

// Start the driver for a console, entropy or network device, if it is the
// first of its kind. Returns the driver's name, "failed", or "-" (not ours).
static const char *
bind_other(struct vdev_slot *s)
{
  uint32 id = s->dev.device_id;

  if(id == VIRTIO_ID_CONSOLE && vcons_slot == 0){
    if(vcons_init(&vcons, &s->dev) < 0)
      return "failed";
    vcons_slot = s;
    return "virtio-console";
  }
  if(id == VIRTIO_ID_ENTROPY && rng_slot == 0){
    if(vrng_init(&rng, &s->dev) < 0)
      return "failed";
    rng_slot = s;
    return "virtio-rng";
  }
  if(id == VIRTIO_ID_NET && vnet_slot == 0){
    if(vnet_init(&vnet, &s->dev) < 0)
      return "failed";
    vnet_slot = s;
    return "virtio-net";
  }
  return "-";
}

// Pad a table cell that took `used` characters out to `width`. The kernel's
// printf can only pad on the left, and a fixed number of spaces after each
// cell misaligns the columns as soon as one type name ("console (3)") is
// longer than another ("block (2)"). The boot hart prints the table before
// the other harts start, so the cell and its padding cannot be split by
// another hart's output. At least one space always follows, so a cell
// wider than its column (a huge unknown type number) cannot run into the
// next one.
static void
pad_cell(int used, int width)
{
  do {
    printf(" ");
    used++;
  } while(used < width);
}

// Column widths; the header in virtio_probe_all() uses the same ones.
#define COL_SLOT    8    // "  " and the slot number
#define COL_BASE   20    // 0x and 16 hex digits
#define COL_IRQ     5
#define COL_VERSION 9    // "modern" or "legacy"
#define COL_TYPE   15    // type name and number: "unknown (4660)"

static void
print_row(struct vdev_slot *s)
{
  pad_cell(printf("  %d", s->dev.slot), COL_SLOT);
  pad_cell(printf("%p", (void *)s->dev.base), COL_BASE);
  pad_cell(printf("%d", s->dev.irq), COL_IRQ);
  pad_cell(printf("%s", s->dev.version == 1 ? "legacy" : "modern"), COL_VERSION);
  // An id we have no name for prints as "unknown (N)": listed, never fatal.
  pad_cell(printf("%s (%d)", vio_type_name(s->dev.device_id), (int)s->dev.device_id),
           COL_TYPE);
  printf("%s\n", s->driver);
}

void
virtio_probe_all(void)
{
  for(int i = 0; i < machine.nvirtio && nslots < VIRTIO_NSLOT; i++){
    uint64 base = machine.virtio[i].base;
    struct vdev_slot *s = &slots[nslots];

    if(vio_probe(&s->dev, base) != 1)
      continue;           // empty slot (DeviceID 0), or not a virtio device
    s->dev.slot = (base >= VIRTIO0) ? (base - VIRTIO0) / VIRTIO_STRIDE : i;
    s->dev.irq = machine.virtio[i].irq;
    s->driver = "-";

    if(s->dev.device_id == VIRTIO_ID_BLOCK && disk_slot == 0){
      if(vblk_init(&disk, &s->dev) == 0){
        s->driver = "virtio-blk";
        disk_slot = s;
      } else {
        s->driver = "failed";
      }
    } else {
      s->driver = bind_other(s);
    }
    nslots++;
  }

  // Print after binding, so driver messages do not split the table.
  printf("virtio-mmio device table:\n");
  pad_cell(printf("  slot"), COL_SLOT);
  pad_cell(printf("base"), COL_BASE);
  pad_cell(printf("irq"), COL_IRQ);
  pad_cell(printf("version"), COL_VERSION);
  pad_cell(printf("type"), COL_TYPE);
  printf("driver\n");
  for(int i = 0; i < nslots; i++)
    print_row(&slots[i]);
  if(nslots == 0)
    printf("  (no virtio devices)\n");

  // Only now that every driver is up do the device files and the network
  // stack start using them.
  if(vcons_slot)
    vconsole_attach(&vcons);
  if(rng_slot)
    random_attach(&rng);
  if(vnet_slot)
    sysnet_attach(&vnet);

  if(disk_slot == 0){
    printf("no virtio-blk disk: start QEMU with -drive file=fs.img,if=none,format=raw,id=x0"
           " -device virtio-blk-device,drive=x0 (or use `make qemu`)\n");
    sbi_shutdown();
  }
  printf("disk: slot %d, %d KB%s\n", disk_slot->dev.slot,
         (int)(vblk_capacity(&disk) / 2), vblk_readonly(&disk) ? ", read-only" : "");
}

// The PLIC says slot irq-VIRTIO0_IRQ interrupted: hand it to its driver.
void
virtio_irq(int irq)
{
  if(disk_slot && disk_slot->dev.irq == irq){
    vblk_intr(&disk);
    return;
  }
  if(vcons_slot && vcons_slot->dev.irq == irq){
    vcons_intr(&vcons);
    return;
  }
  if(rng_slot && rng_slot->dev.irq == irq){
    vrng_intr(&rng);
    return;
  }
  if(vnet_slot && vnet_slot->dev.irq == irq){
    vnet_intr(&vnet);
    return;
  }
  // A device without a driver never had its queues set up and so cannot
  // interrupt; if one does anyway, say so once per occurrence.
  printf("virtio: interrupt %d from a slot without a driver\n", irq);
}

int
disk_rw(struct buf *b, int write)
{
  // Block b->blockno spans BSIZE/512 sectors. b->data sits in the buffer
  // cache's static array, which is identity-mapped and so DMA-able.
  return vblk_rw(&disk, write, (uint64)b->blockno * (BSIZE / 512), b->data, BSIZE);
}

int
disk_readonly(void)
{
  return vblk_readonly(&disk);
}

// The asynchronous block API for the file system and benchmarks (see
// virtio/virtio_blk.h for the rules: data buffers must be
// identity-mapped kernel memory, e.g. the buffer cache or kalloc pages).
int
disk_submit(struct vblk_req *r)
{
  return vblk_submit(&disk, r);
}

int
disk_submit_nokick(struct vblk_req *r)
{
  return vblk_submit_nokick(&disk, r);
}

void
disk_kick(void)
{
  vblk_kick(&disk);
}

int
disk_wait(struct vblk_req *r)
{
  return vblk_wait(&disk, r);
}

int
disk_flush(void)
{
  return vblk_flush(&disk);
}

uint64
disk_capacity(void)
{
  return vblk_capacity(&disk);
}

void
disk_stats(struct vblk_stats *st)
{
  vblk_get_stats(&disk, st);
}

// Re-initialise the disk driver in full (0) or baseline (1) mode, waiting
// for requests in flight first. -1 if there is no disk or it failed.
int
disk_setmode(int baseline)
{
  if(disk_slot == 0)
    return -1;
  return vblk_reinit(&disk, baseline ? VBLK_BASELINE : 0);
}

// Is the driver in baseline mode? The file system asks before each batch
// and read-ahead, so that diskmode(1) makes it classic too (one 1 KB
// block per request, no read-ahead, a commit per operation). A plain read
// of an int that only diskmode() changes, so no lock.
int
disk_baseline(void)
{
  return (__atomic_load_n(&disk.flags, __ATOMIC_RELAXED) & VBLK_BASELINE) != 0;
}

static void
stat_set(struct devinfo *out, int i, const char *name, uint64 value)
{
  safestrcpy(out->statname[i], name, sizeof(out->statname[i]));
  out->stat[i] = value;
}

// The counters `lsdev -v` shows for a slot's driver (none for a device
// without one). Chains are descriptor chains made available to the device.
static void
driver_stats(struct vdev_slot *s, struct devinfo *out)
{
  if(s == disk_slot){
    struct vblk_stats st;
    vblk_get_stats(&disk, &st);
    stat_set(out, 0, "chains", st.requests);
    stat_set(out, 1, "notifies", st.notifies);
    stat_set(out, 2, "interrupts", st.interrupts);
    stat_set(out, 3, "errors", st.errors);
  } else if(s == vcons_slot){
    struct vcons_stats st;
    vcons_get_stats(&vcons, &st);
    stat_set(out, 0, "tx_bytes", st.tx_bytes);
    stat_set(out, 1, "tx_chains", st.tx_buffers);
    stat_set(out, 2, "rx_bytes", st.rx_bytes);
    stat_set(out, 3, "interrupts", st.interrupts);
  } else if(s == vnet_slot){
    struct vnet_stats st;
    vnet_get_stats(&vnet, &st);
    stat_set(out, 0, "tx_frames", st.tx_frames);
    stat_set(out, 1, "rx_frames", st.rx_frames);
    stat_set(out, 2, "tx_ring_full", st.tx_ring_full);
    stat_set(out, 3, "interrupts", st.interrupts);
  } else if(s == rng_slot){
    struct vrng_stats st;
    vrng_get_stats(&rng, &st);
    stat_set(out, 0, "chains", st.requests);
    stat_set(out, 1, "bytes", st.bytes);
    stat_set(out, 2, "short_reads", st.short_reads);
    stat_set(out, 3, "interrupts", st.interrupts);
  }
}

int
devinfo_get(int idx, struct devinfo *out)
{
  if(idx < 0 || idx >= nslots)
    return -1;
  struct vdev_slot *s = &slots[idx];
  memset(out, 0, sizeof(*out));
  out->slot = s->dev.slot;
  out->irq = s->dev.irq;
  out->base = s->dev.base;
  out->version = s->dev.version;
  out->device_id = s->dev.device_id;
  out->vendor_id = s->dev.vendor_id;
  safestrcpy(out->name, vio_type_name(s->dev.device_id), sizeof(out->name));
  safestrcpy(out->driver, s->driver, sizeof(out->driver));
  driver_stats(s, out);
  return 0;
}
