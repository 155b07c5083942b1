// devinfo.h: one row of the boot-time device table, as the devinfo() system
// call hands it to user space (see user/lsdev.c, and user/init.c, which
// finds the port of its second shell here).
//
// The struct only grows at its end, and the kernel and the programs on
// the disk are built from this one header together (make fs.img).
#ifndef DEVINFO_H
#define DEVINFO_H
#define DEVINFO_NSTAT 4
#define DEVINFO_NPORT 4    // ports listed for a device with ports (the virtio console)

// One port of a virtio console (virtio 1.2 section 5.3): each port is a
// byte stream of its own, /dev/vport<id>.
struct devinfo_port {
  int id;            // the device's number for the port
  uint flags;        // DEVINFO_PORT_* below
  uint64 rx_bytes;   // bytes that came in on it
  uint64 tx_bytes;   // bytes that went out on it
  char name[32];     // the name the device gave it (QEMU's name=), or ""
};
#define DEVINFO_PORT_CONSOLE 1   // the device made it a console port
#define DEVINFO_PORT_OPEN    2   // this side opened it
#define DEVINFO_PORT_HOST    4   // the other side is connected
#define DEVINFO_PORT_SHELL   8   // /dev/vcons, the second shell, is this port

struct devinfo {
  int slot;          // virtio-mmio slot 0..7, or PCI bus << 8 | device << 3 | function
  int pci;           // 1: a PCI function (base: its common configuration, or
                     //   its legacy I/O BAR), 0: a virtio-mmio slot
  int irq;           // PLIC interrupt number
  uint64 base;       // physical address of the register block
  uint version;      // 1 = legacy transport, 2 = modern
  uint device_id;    // virtio device type (2 = block, 3 = console, ...)
  uint vendor_id;    // "QEMU" is 0x554d4551
  char name[16];     // device type by name ("block"; "unknown" if we have none)
  char driver[16];   // bound driver, or "-" when none
  // A few of the driver's counters, by name ("" when unused), so that
  // `lsdev -v` shows a student what the driver did: how many descriptor
  // chains it handed over, how many bytes each carried, how many
  // interrupts came back.
  uint64 stat[DEVINFO_NSTAT];
  char statname[DEVINFO_NSTAT][12];
  // The ports the device has now, lowest number first (0 for a device
  // without ports); port[nports..] are zero.
  int nports;
  struct devinfo_port port[DEVINFO_NPORT];
  // The virtqueue layout every queue of the device uses, as the driver
  // negotiated it: "split" (virtio 1.2 2.7), "packed" (2.8, when the device
  // offered VIRTIO_F_RING_PACKED: `make qemu PACKED=1`), "-" without a driver.
  char ring[8];
};
#endif
