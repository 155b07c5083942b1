// vdev.c: the RISC-V kernel's side of the virtio devices. It
//   - probes the virtio-mmio slots the device tree lists (all eight on QEMU
//     virt) by MagicValue, Version, DeviceID and VendorID, then the
//     virtio functions on the PCIe bus (pci.c),
//   - prints the device table at boot and serves it to user space
//     (devinfo() system call, the `lsdev` program),
//   - binds drivers through one table (bindings[]): the first virtio-blk
//     device becomes the root disk (disk.c), the first console and entropy
//     devices become /dev/vcons (and /dev/vport0..) and /dev/random
//     (devfiles.c), the first network device carries the network stack
//     (sysnet.c),
//   - and routes each device's PLIC interrupt to its driver.
//
// A driver does not know which transport its device is on (virtio_transport.h):
// the table row says, in its first column: a virtio-mmio slot number, or
// the PCI bus:device.function.
//
// The drivers themselves are portable and live in virtio/; the glue files
// named above own their state and meet the kernel's structures.
// Follows virtio 1.2 section 4.2.3.1 (device discovery on MMIO: a slot with
// DeviceID 0 is empty and must be skipped).
//
// See it run: `make qemu` prints the table at boot; `lsdev` prints it again;
// `make qemu PCI=1` puts the same devices on PCI.
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
#include "disk.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtio_pci.h"
#include "virtio_dev.h"

// The drivers this kernel has, one row per device type, and the glue file
// that owns each driver's state. Only the first device of a type gets the
// driver; later ones are listed with driver "-". attach() starts the
// driver on a probed device and puts it to use (0, or -1 after the driver
// logged why); intr() is the device's interrupt; counters() fills the four
// numbers `lsdev -v` shows under the names given here; ports(), for a
// device with ports (the console), fills in the row's port list; trace()
// starts or stops recording the driver's queues for /dev/vtrace (vtrace.c).
struct binding {
  uint32 type;                       // VIRTIO_ID_*
  const char *driver;
  int  (*attach)(struct vio_dev *d);
  void (*intr)(void);
  void (*counters)(uint64 *v);
  const char *names[DEVINFO_NSTAT];
  void (*ports)(struct devinfo *out);  // 0: no ports
  int  (*trace)(struct vtrace *t, int on);
};

static const struct binding bindings[] = {
  { VIRTIO_ID_BLOCK,   "virtio-blk",     disk_attach,     disk_intr,     disk_counters,
    { "chains", "notifies", "interrupts", "errors" }, 0, disk_trace },
  { VIRTIO_ID_CONSOLE, "virtio-console", vconsole_attach, vconsole_intr, vconsole_counters,
    { "tx_bytes", "tx_chains", "rx_bytes", "interrupts" }, vconsole_ports, vconsole_trace },
  { VIRTIO_ID_ENTROPY, "virtio-rng",     random_attach,   random_intr,   random_counters,
    { "chains", "bytes", "short_reads", "interrupts" }, 0, random_trace },
  { VIRTIO_ID_NET,     "virtio-net",     sysnet_attach,   sysnet_intr,   sysnet_counters,
    { "tx_frames", "rx_frames", "tx_ring_full", "interrupts" }, 0, sysnet_trace },
};

struct vdev_slot {
  struct vio_dev dev;
  const struct binding *b;  // the driver bound to it, or 0
  const char *driver;       // its name, "failed", or "-"
};

// Rows: the virtio-mmio slots holding a device, then the PCI functions.
#define PCI_NDEV 8
#define NROWS (VIRTIO_NSLOT + PCI_NDEV)
static struct vdev_slot slots[NROWS];
static int nslots;          // rows in slots[]
static int nmmio;           // the first nmmio of them are virtio-mmio slots

// Is row s a PCI function (slot = bus << 8 | device << 3 | function)?
static int
is_pci(struct vdev_slot *s)
{
  return s - slots >= nmmio;
}

// Bind the driver for s's device type if this is the first device of
// that type: the row of bindings[] it got, or 0.
static const struct binding *
bind(struct vdev_slot *s)
{
  for(int i = 0; i < NELEM(bindings); i++){
    const struct binding *b = &bindings[i];
    if(b->type != s->dev.device_id)
      continue;
    for(int j = 0; j < nslots; j++)
      if(slots[j].b == b)
        return 0;         // this type already has its device
    if(b->attach(&s->dev) < 0){
      s->driver = "failed";
      return 0;
    }
    s->driver = b->driver;
    return b;
  }
  return 0;               // a type we have no driver for
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
#define COL_SLOT   10    // "  " and the slot number, or bus:device.function
#define COL_BASE   20    // 0x and 16 hex digits
#define COL_IRQ     5
#define COL_VERSION 9    // "modern" or "legacy"
#define COL_TYPE   15    // type name and number: "unknown (4660)"
#define COL_DRIVER 16    // "virtio-console", "failed", "-"

// The ring layout of a slot's queues. All queues of a device share it: it
// is a feature bit (VIRTIO_F_RING_PACKED), negotiated once for the device
// before any queue exists, and the virtqueue layer (virtio/virtq.h) uses
// the packed ring exactly when it was. Without a bound driver nothing was
// negotiated, or it failed part way: "-".
static const char *
ring_layout(struct vdev_slot *s)
{
  if(s->b == 0)
    return "-";
  return vio_has_feature(&s->dev, VIRTIO_F_RING_PACKED) ? "packed" : "split";
}

static void
print_row(struct vdev_slot *s)
{
  if(is_pci(s))
    pad_cell(printf("  %02x:%02x.%d", s->dev.slot >> 8, (s->dev.slot >> 3) & 31,
                    s->dev.slot & 7), COL_SLOT);
  else
    pad_cell(printf("  %d", s->dev.slot), COL_SLOT);
  pad_cell(printf("%p", (void *)s->dev.base), COL_BASE);
  pad_cell(printf("%d", s->dev.irq), COL_IRQ);
  pad_cell(printf("%s", s->dev.version == 1 ? "legacy" : "modern"), COL_VERSION);
  // An id we have no name for prints as "unknown (N)": listed, never fatal.
  pad_cell(printf("%s (%d)", vio_type_name(s->dev.device_id), (int)s->dev.device_id),
           COL_TYPE);
  pad_cell(printf("%s", s->driver), COL_DRIVER);
  printf("%s\n", ring_layout(s));
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
    s->b = bind(s);
    nslots++;
  }
  nmmio = nslots;

  // Then PCI: pci.c places the BARs, probes, finds the interrupts; the
  // drivers bind the same way.
  static struct vio_dev found[PCI_NDEV];   // not on the boot stack
  int npci = pci_probe_virtio(found, PCI_NDEV);
  for(int i = 0; i < npci; i++){
    struct vdev_slot *s = &slots[nslots];
    s->dev = found[i];        // before bind: the driver keeps &s->dev
    s->driver = "-";
    s->b = bind(s);
    nslots++;
  }

  // Print after binding, so driver messages do not split the table.
  printf("virtio device table (slot: virtio-mmio slot, or PCI bus:device.function):\n");
  pad_cell(printf("  slot"), COL_SLOT);
  pad_cell(printf("base"), COL_BASE);
  pad_cell(printf("irq"), COL_IRQ);
  pad_cell(printf("version"), COL_VERSION);
  pad_cell(printf("type"), COL_TYPE);
  pad_cell(printf("driver"), COL_DRIVER);
  printf("ring\n");
  for(int i = 0; i < nslots; i++)
    print_row(&slots[i]);
  if(nslots == 0)
    printf("  (no virtio devices)\n");

  struct vdev_slot *disk = 0;
  int refused = 0;
  for(int i = 0; i < nslots; i++){
    if(slots[i].b && slots[i].b->type == VIRTIO_ID_BLOCK)
      disk = &slots[i];
    else if(slots[i].dev.device_id == VIRTIO_ID_BLOCK)
      refused++;
  }
  if(disk == 0){
    // Nothing to run on: power off with a reason, not a panic.
    if(refused)
      printf("no usable virtio-blk disk: the driver refused every block device (see above); "
             "powering off\n");
    else
      printf("no virtio-blk disk: start QEMU with -drive file=fs.img,if=none,format=raw,id=x0"
             " -device virtio-blk-device,drive=x0 (or use `make qemu`); powering off\n");
    sbi_shutdown();
  }
  if(is_pci(disk))
    printf("disk: pci %02x:%02x.%d, %d KB%s\n", disk->dev.slot >> 8, (disk->dev.slot >> 3) & 31,
           disk->dev.slot & 7, (int)(disk_capacity() / 2), disk_readonly() ? ", read-only" : "");
  else
    printf("disk: slot %d, %d KB%s\n", disk->dev.slot,
           (int)(disk_capacity() / 2), disk_readonly() ? ", read-only" : "");
}

// The PLIC says source irq interrupted: hand it to its drivers. A PCI
// interrupt pin may be shared by several functions (the interrupt-map
// gives 32 slots 4 sources), so every driver on the line is called; each
// reads its device's interrupt status first and finds nothing to do if
// the interrupt was another's.
void
virtio_irq(int irq)
{
  int found = 0;
  for(int i = 0; i < nslots; i++){
    if(slots[i].dev.irq == irq && slots[i].b){
      slots[i].b->intr();
      found = 1;
    }
  }
  // A device without a driver never had its queues set up and so cannot
  // interrupt; if one does anyway, say so once per occurrence.
  if(!found)
    printf("virtio: interrupt %d from a device without a driver\n", irq);
}

// Start (on = 1) or stop (on = 0) recording into t the queues of the
// device whose driver is "virtio-" name ("blk", "console", "net", "rng"),
// or of every device with a driver when name is 0. Returns how many
// devices answered, or -1 when none has that driver.
int
vdev_trace(const char *name, struct vtrace *t, int on)
{
  int n = 0;

  for(int i = 0; i < nslots; i++){
    const struct binding *b = slots[i].b;
    if(b == 0)
      continue;
    if(name && (strncmp(b->driver, "virtio-", 7) != 0 ||
                strncmp(b->driver + 7, name, 16) != 0))
      continue;
    if(b->trace(t, on) < 0)
      return -1;
    n++;
  }
  return n > 0 ? n : -1;
}

int
devinfo_get(int idx, struct devinfo *out)
{
  if(idx < 0 || idx >= nslots)
    return -1;
  struct vdev_slot *s = &slots[idx];
  memset(out, 0, sizeof(*out));
  out->slot = s->dev.slot;
  out->pci = is_pci(s);
  out->irq = s->dev.irq;
  out->base = s->dev.base;
  out->version = s->dev.version;
  out->device_id = s->dev.device_id;
  out->vendor_id = s->dev.vendor_id;
  safestrcpy(out->name, vio_type_name(s->dev.device_id), sizeof(out->name));
  safestrcpy(out->driver, s->driver, sizeof(out->driver));
  safestrcpy(out->ring, ring_layout(s), sizeof(out->ring));
  // The driver's counters, for `lsdev -v` (none for a device without one).
  if(s->b){
    uint64 v[DEVINFO_NSTAT];
    s->b->counters(v);
    for(int i = 0; i < DEVINFO_NSTAT; i++){
      safestrcpy(out->statname[i], s->b->names[i], sizeof(out->statname[i]));
      out->stat[i] = v[i];
    }
    if(s->b->ports)
      s->b->ports(out);
  }
  return 0;
}
