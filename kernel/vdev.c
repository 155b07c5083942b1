// vdev.c: the RISC-V kernel's side of the virtio devices. It
//   - probes the virtio-mmio slots the device tree lists (all eight on QEMU
//     virt) by MagicValue, Version, DeviceID and VendorID,
//   - prints the device table at boot and serves it to user space
//     (devinfo() system call, the `lsdev` program),
//   - binds drivers: the first virtio-blk device becomes the root disk,
//   - routes each slot's PLIC interrupt to its driver,
//   - and is the block device the buffer cache calls (disk_rw).
//
// The drivers themselves are portable and live in kernel/virtio/; this file
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

struct vdev_slot {
  struct vio_dev dev;
  const char *driver;     // bound driver's name, or "-"
};

static struct vdev_slot slots[VIRTIO_NSLOT];
static int nslots;          // rows in slots[] (slots holding a device)

static struct vblk disk;    // the root file system's disk
static struct vdev_slot *disk_slot;

static void
print_row(struct vdev_slot *s)
{
  printf("  %d     %p  %d    %s  %s (%d)  %s\n",
         s->dev.slot, (void *)s->dev.base, s->dev.irq,
         s->dev.version == 1 ? "legacy" : "modern",
         vio_type_name(s->dev.device_id), (int)s->dev.device_id, s->driver);
}

void
virtio_probe_all(void)
{
  printf("virtio-mmio device table:\n");
  printf("  slot  base        irq  version type           driver\n");
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
    }
    print_row(s);
    nslots++;
  }
  if(nslots == 0)
    printf("  (no virtio devices)\n");

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
  return 0;
}
