// devinfo.h: one row of the boot-time device table, as the devinfo() system
// call hands it to user space (see user/lsdev.c).
#ifndef DEVINFO_H
#define DEVINFO_H
#define DEVINFO_NSTAT 4

struct devinfo {
  int slot;          // virtio-mmio slot 0..7
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
};
#endif
