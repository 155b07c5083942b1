// lsdev.c: list the virtio devices the kernel found at boot, one row per
// occupied virtio-mmio slot and per virtio PCI function, from the
// devinfo() system call (the same table the kernel prints while booting).
//
//   $ lsdev
//   slot    base        irq  version  type      id  driver          ring
//   0       0x10001000  1    modern   block     2   virtio-blk      split
//   00:01.0 0x40000000  33   modern   network   1   virtio-net      split
//
// slot: the virtio-mmio slot, or the PCI bus:device.function; base: the
// register block, or a PCI function's common configuration (modern) or
// I/O BAR (legacy). version: "modern" is the virtio 1.x interface,
// "legacy" the pre-1.0 one: on MMIO register layout version 2 or 1 (QEMU
// offers legacy unless started with -global
// virtio-mmio.force-legacy=false), on PCI the capabilities or the I/O
// BAR header.
// id is the virtio device type number (virtio 1.2 section 5: 2 = block).
// ring: the virtqueue layout of the device's queues, "split" (virtio 1.2
// 2.7) or "packed" (2.8; `make qemu PACKED=1` makes QEMU offer it), "-"
// when no driver runs the device.
//
//   $ lsdev -v
// adds, under each row, the driver's counters: descriptor chains handed to
// the device, bytes, interrupts (kernel/glue/vdev.c driver_stats). Run it
// before and after a command to see what that command cost the device:
// the virtio console's tx_bytes / tx_chains shows how many bytes travel
// in one chain (transmit is batched, not one descriptor per byte).
// A device with ports (the virtio console, virtio 1.2 section 5.3) gets a
// line per port:
//
//      port 1  serial         guest=open host=open  in=12 out=345 name=org.x
//
// "console" if the device made it a console port, "shell" for the port of
// /dev/vcons, whether this side (guest) and the other side (host) have it
// open, the bytes that went in and out, and the device's name for it.
#include "kernel/types.h"
#include "kernel/devinfo.h"
#include "user/user.h"

static void
print_port(struct devinfo_port *p)
{
  p->name[sizeof(p->name) - 1] = 0;
  printf("      port %d  %-7s %-5s  guest=%s host=%s  in=%ld out=%ld", p->id,
         (p->flags & DEVINFO_PORT_CONSOLE) ? "console" : "serial",
         (p->flags & DEVINFO_PORT_SHELL) ? "shell" : "",
         (p->flags & DEVINFO_PORT_OPEN) ? "open" : "closed",
         (p->flags & DEVINFO_PORT_HOST) ? "open" : "closed", p->rx_bytes, p->tx_bytes);
  if(p->name[0])
    printf(" name=%s", p->name);
  printf("\n");
}

int
main(int argc, char *argv[])
{
  struct devinfo d;
  int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
  if(argc > 1 && !verbose){
    fprintf(2, "usage: lsdev [-v]\n");
    exit(1);
  }
  printf("slot    base        irq  version  type      id  driver          ring\n");
  int i;
  for(i = 0; devinfo(i, &d) == 0; i++){
    // The kernel ends both strings with a 0, but do not rely on it.
    d.name[sizeof(d.name) - 1] = 0;
    d.driver[sizeof(d.driver) - 1] = 0;
    d.ring[sizeof(d.ring) - 1] = 0;
    // A PCI function is named by bus:device.function, a slot by its number.
    if(d.pci)
      printf("%02x:%02x.%d ", d.slot >> 8, (d.slot >> 3) & 31, d.slot & 7);
    else
      printf("%-7d ", d.slot);
    printf("0x%08lx  %-4d %-8s %-9s %-3u %-15s %s\n", d.base, d.irq,
           d.version == 1 ? "legacy" : "modern", d.name, d.device_id, d.driver, d.ring);
    if(!verbose || d.statname[0][0] == 0)
      continue;
    printf("     ");
    for(int k = 0; k < DEVINFO_NSTAT && d.statname[k][0]; k++){
      d.statname[k][sizeof(d.statname[k]) - 1] = 0;
      printf(" %s=%ld", d.statname[k], d.stat[k]);
    }
    printf("\n");
    for(int k = 0; k < d.nports && k < DEVINFO_NPORT; k++)
      print_port(&d.port[k]);
  }
  if(i == 0)
    printf("(no virtio devices)\n");
  return 0;
}
