// pci.c: the RISC-V kernel's side of virtio-pci. It
//   - enumerates bus 0 of the PCIe host bridge the device tree describes
//     (kernel/fdt.c), through ECAM: function f of device d has its 4 KB of
//     configuration space at ecam_base + (d << 15) + (f << 12) (PCI
//     Express Base Specification 7.2.2),
//   - places the BARs of every virtio function (vendor 0x1af4) in the
//     bridge's windows, since nothing before us does on this machine
//     (OpenSBI leaves them 0): memory BARs, 32- and 64-bit alike, in the
//     32-bit memory window, I/O BARs in the I/O window, each aligned to its
//     size; then turns on decoding and bus mastering,
//   - finds each function's interrupt: its pin (INTA-INTD) and device
//     number, masked by interrupt-map-mask, pick a row of the
//     interrupt-map, which names the PLIC source; QEMU rotates the pins by
//     slot ("swizzling") so that four devices using INTA land on four
//     different sources,
//   - and hands each function to vio_pci_probe (virtio/virtio_pci.c),
//     which walks its capabilities. vdev.c then binds the drivers exactly
//     as it does for virtio-mmio slots.
//
// Follows virtio 1.2 section 4.1.2 (discovery) and, for PCI, the PCI Local
// Bus Specification 3.0 sections 6.1 (header, multi-function bit), 6.2.5
// (BARs). MSI-X is never enabled; virtio_pci.c's opening says why.
//
// On RISC-V there are no I/O instructions: an I/O port p is the memory
// address io_window.cpu + p - io_window.bus, which the bridge turns into
// an I/O cycle. The kernel maps only the first part of each window (vm.c,
// PCI_*_MAP in memlayout.h), so BARs are placed only there.
//
// See it run: `make qemu PCI=1` (the device table lists the functions as
// bus:device.function); `make qemu PCI=1 PCI_LEGACY=1` for legacy-only ones.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "machine.h"
#include "riscv.h"
#include "spinlock.h"
#include "defs.h"
#include "virtio_pci.h"

// How much of a window (CPU address cpu, size bytes) the kernel maps: up
// to `want` bytes, and none of it unless that part lies below DEVTOP,
// where KDEV reaches (memlayout.h). vm.c maps exactly this much, and this
// file places BARs only in it.
uint64
pci_map_len(uint64 cpu, uint64 size, uint64 want)
{
  uint64 len = size < want ? size : want;
  if(cpu % PGSIZE != 0 || cpu >= DEVTOP || len > DEVTOP - cpu)
    return 0;
  return len & ~(uint64)(PGSIZE - 1);
}

// Where the next BAR of a window may go: its bus and CPU addresses and
// how much of it is mapped.
struct bar_window {
  const char *name;
  struct pci_window *w;
  uint64 mapped;
  uint64 used;
};

static struct bar_window io_win = { "I/O", &machine.pci_io, 0, 0 };
static struct bar_window mem_win = { "memory", &machine.pci_mem32, 0, 0 };

// The configuration space of bus 0, device dev, function fn.
static uint64
ecam(int dev, int fn)
{
  return machine.ecam_base + ((uint64)dev << 15) + ((uint64)fn << 12);
}

// Place one BAR: BARs are naturally aligned (PCI 3.0 6.2.5.1: the size is
// a power of two and the low address bits are read-only), so round the
// window's next free offset up to the size. A memory BAR gets at least a
// page of its own, so no two devices share a page. 0 if it does not fit.
static int
place(struct bar_window *win, struct pci_bar *b, uint64 cfg, int i)
{
  uint64 align = b->size;
  if(!b->io && align < PGSIZE)
    align = PGSIZE;
  uint64 at = (win->used + align - 1) & ~(align - 1);
  if(win->mapped == 0 || at >= win->mapped || b->size > win->mapped - at){
    printf("pci: no room for a %d-byte %s BAR in the mapped window\n",
           (int)b->size, win->name);
    return 0;
  }
  win->used = at + align;          // align >= size: the BAR and its padding
  b->addr = win->w->cpu + at;
  pci_bar_assign(cfg, i, b, win->w->bus + at);
  return 1;
}

// Size and place every BAR of the function at cfg into bars[]; turn on
// the decoding the placed ones need, and bus mastering.
static void
place_bars(uint64 cfg, struct pci_bar bars[PCI_NBARS])
{
  int io = 0, mem = 0;

  // Decoding off while the BARs are sized and moved (their values pass
  // through all ones and stray addresses meanwhile).
  pci_cfg_write32(cfg, PCI_COMMAND, 0);
  for(int i = 0; i < PCI_NBARS; i++)
    bars[i].addr = bars[i].size = 0;
  for(int i = 0; i < PCI_NBARS; ){
    int used = pci_bar_probe(cfg, i, &bars[i]);
    if(used == 0)
      break;                    // a 64-bit BAR in the last register: broken
    if(bars[i].size != 0){
      if(bars[i].io)
        io |= place(&io_win, &bars[i], cfg, i);
      else
        mem |= place(&mem_win, &bars[i], cfg, i);
    }
    i += used;
  }
  pci_enable(cfg, io, mem);
}

// The PLIC source of bus 0's device dev, function fn, pin (1-4), by the
// interrupt-map: the unit address's first cell holds bus (bits 16-23),
// device (11-15) and function (8-10); masked, with the masked pin, it must
// equal a row's. -1 if no row matches.
static int
intx_irq(int dev, int fn, int pin)
{
  uint32 hi = ((uint32)dev << 11) | ((uint32)fn << 8);

  for(int i = 0; i < machine.npci_imap; i++){
    if(machine.pci_imap[i].hi == (hi & machine.pci_imask_hi) &&
       machine.pci_imap[i].pin == ((uint32)pin & machine.pci_imask_pin))
      return machine.pci_imap[i].irq;
  }
  return -1;
}

// One virtio function: place its BARs, find its interrupt, probe it.
// 1 if *d is now a device vdev.c can bind.
static int
probe_function(int dev, int fn, struct vio_dev *d)
{
  uint64 cfg = ecam(dev, fn);
  struct pci_bar bars[PCI_NBARS];

  place_bars(cfg, bars);
  if(vio_pci_probe(d, cfg, bars) != 1)
    return 0;
  d->slot = (machine.pci_bus0 << 8) | (dev << 3) | fn;
  int pin = pci_cfg_read8(cfg, PCI_INTERRUPT_PIN);
  d->irq = (pin >= 1 && pin <= 4) ? intx_irq(dev, fn, pin) : -1;
  if(d->irq < 0)
    printf("pci %02x:%02x.%d: no interrupt (pin %d not in the interrupt-map)\n",
           machine.pci_bus0, dev, fn, pin);
  else
    plic_enable(d->irq);
  return 1;
}

// Enumerate bus 0 and fill devs[] with its virtio functions, at most max;
// returns how many. A function that reads vendor 0xffff is not there;
// functions 1-7 are looked at only when function 0 has the multi-function
// bit (PCI 3.0 6.2.1), since a single-function device may answer at every
// function number with the same registers.
int
pci_probe_virtio(struct vio_dev *devs, int max)
{
  int n = 0;

  if(!machine.has_pci)
    return 0;
  uint64 ecam_len = pci_map_len(machine.ecam_base, machine.ecam_size, PCI_ECAM_MAP);
  if(ecam_len < PCI_ECAM_MAP){
    printf("pci: configuration space at %p is not mapped; PCI devices ignored\n",
           (void *)machine.ecam_base);
    return 0;
  }
  io_win.mapped = pci_map_len(machine.pci_io.cpu, machine.pci_io.size, PCI_IO_MAP);
  mem_win.mapped = pci_map_len(machine.pci_mem32.cpu, machine.pci_mem32.size, PCI_MEM_MAP);

  for(int dev = 0; dev < 32; dev++){
    for(int fn = 0; fn < 8 && n < max; fn++){
      uint64 cfg = ecam(dev, fn);
      uint16 vendor = pci_cfg_read16(cfg, PCI_VENDOR_ID);
      if(vendor == 0xffff){
        if(fn == 0)
          break;                // no device in this slot
        continue;
      }
      uint8 htype = pci_cfg_read8(cfg, PCI_HEADER_TYPE);
      // Only type 0 headers (devices) have six BARs; the host bridge
      // itself (device 0 on QEMU) is not a virtio vendor anyway.
      if(vendor == VIRTIO_PCI_VENDOR && (htype & 0x7f) == 0 &&
         probe_function(dev, fn, &devs[n]))
        n++;
      if(fn == 0 && !(htype & 0x80))
        break;                  // single-function device
    }
  }
  return n;
}
