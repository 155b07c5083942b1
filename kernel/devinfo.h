// devinfo.h: one row of the boot-time device table, as the devinfo() system
// call hands it to user space (see user/lsdev.c).
#ifndef DEVINFO_H
#define DEVINFO_H
struct devinfo {
  int slot;          // virtio-mmio slot 0..7
  int irq;           // PLIC interrupt number
  uint64 base;       // physical address of the register block
  uint version;      // 1 = legacy transport, 2 = modern
  uint device_id;    // virtio device type (2 = block, 3 = console, ...)
  uint vendor_id;    // "QEMU" is 0x554d4551
  char name[16];     // device type by name ("block"; "unknown" if we have none)
  char driver[16];   // bound driver, or "-" when none
};
#endif
