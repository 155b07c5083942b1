// fdt.c: read the flattened device tree (FDT) that QEMU builds and OpenSBI
// hands us in a1, to learn how much RAM there is, which harts exist, and where
// the PLIC, the UART, the virtio-mmio slots and the PCIe host bridge are.
//
// Follows the Devicetree Specification v0.4, chapter 5 (the flattened
// format): a header, then a "structure block" of 32-bit big-endian tokens
//
//   FDT_BEGIN_NODE "name\0" (padded to 4)    opens a node
//   FDT_PROP len nameoff value (padded)      a property of the open node
//   FDT_END_NODE                             closes it
//   FDT_NOP                                  ignored
//   FDT_END                                  end of the tree
//
// and a "strings block" holding property names (FDT_PROP refers to them by
// offset). A node's `reg` property is a list of (address, size) pairs whose
// widths, in 32-bit cells, come from the *parent's* #address-cells and
// #size-cells, so the walk keeps those per depth.
//
// The PCIe host bridge (compatible "pci-host-ecam-generic") is described
// by the PCI bus binding (IEEE 1275 PCI Bus Binding 2.1, and the
// Devicetree Specification's 2.4 interrupt mapping): its `reg` is the
// ECAM window; each `ranges` row maps a PCI address (3 cells: phys.hi
// with the space code in bits 24-25, then 64 bits of address) to a CPU
// address (the parent's #address-cells) for a size (#size-cells); each
// `interrupt-map` row maps a device's unit address and pin, after the
// `interrupt-map-mask`, to an interrupt of the controller its phandle
// names: the PLIC, whose #address-cells and #interrupt-cells size the row.
//
// If a1 does not point at a device tree (bad magic) we keep the fixed QEMU
// virt map from memlayout.h: 128 MB, harts 0..NCPU-1 probed with HSM, the
// eight virtio slots at 0x10001000 + 0x1000*i.
//
// See it run: the boot banner prints what was found ("fdt: ..."). To look at
// the tree yourself: `qemu-system-riscv64 -machine virt,dumpdtb=virt.dtb` and
// `dtc -I dtb virt.dtb` (package device-tree-compiler).
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "machine.h"
#include "defs.h"

#define FDT_MAGIC      0xd00dfeed
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE   2
#define FDT_PROP       3
#define FDT_NOP        4
#define FDT_END        9
#define FDT_MAXDEPTH   16

struct machine machine;
uint64 phys_top = PHYSTOP;

struct fdt_header {        // all fields big-endian
  uint32 magic;
  uint32 totalsize;
  uint32 off_dt_struct;
  uint32 off_dt_strings;
  uint32 off_mem_rsvmap;
  uint32 version;
  uint32 last_comp_version;
  uint32 boot_cpuid_phys;
  uint32 size_dt_strings;
  uint32 size_dt_struct;
};

static uint32
be32(const void *p)
{
  const uchar *b = p;
  return ((uint32)b[0] << 24) | ((uint32)b[1] << 16) | ((uint32)b[2] << 8) | b[3];
}

// Read a value `cells` 32-bit cells wide (1 or 2) at p.
static uint64
cells_value(const uchar *p, int cells)
{
  uint64 v = 0;
  for(int i = 0; i < cells; i++)
    v = (v << 32) | be32(p + 4*i);
  return v;
}

static int
str_eq(const char *a, const char *b)
{
  while(*a && *a == *b){
    a++;
    b++;
  }
  return *a == *b;
}

static int
str_prefix(const char *s, const char *prefix)
{
  while(*prefix){
    if(*s++ != *prefix++)
      return 0;
  }
  return 1;
}

// `compatible` is a list of NUL-terminated strings; is `want` one of them?
static int
compatible_has(const char *list, int len, const char *want)
{
  int i = 0;
  while(i < len){
    if(str_eq(list + i, want))
      return 1;
    while(i < len && list[i])
      i++;
    i++;
  }
  return 0;
}

// What we learn about the node currently open at one depth.
struct fdt_node {
  const char *name;
  int addr_cells;          // #address-cells for this node's children
  int size_cells;          // #size-cells for this node's children
  uint64 reg_addr;
  uint64 reg_size;
  int has_reg;
  int irq;                 // first cell of `interrupts`, or -1
  const char *compat;
  int compat_len;
  const char *device_type;
  int addr_cells_seen;     // #address-cells was given (an interrupt
                           //   controller's default is 0, not 2)
  int int_cells;           // #interrupt-cells
  uint32 phandle;
  const uchar *ranges, *imap, *imask;   // the PCI host's properties, raw
  int ranges_len, imap_len, imask_len;
  int bus0;                // bus-range: its first bus
};

// The host bridge's interrupt-map is read after the walk, once the PLIC's
// phandle and cell counts are known (QEMU puts the PLIC after the bridge).
static const uchar *pci_imap_raw;
static int pci_imap_len;
static int pci_addr_cells = 3, pci_int_cells = 1;
static uint32 plic_phandle;
static int plic_addr_cells, plic_int_cells = 1;

static void
set_fallback(void)
{
  machine.from_fdt = 0;
  machine.mem_base = KERNBASE;
  machine.mem_size = PHYSTOP - KERNBASE;
  machine.nharts = NCPU;          // main() asks HSM which of these exist
  for(int i = 0; i < NCPU; i++)
    machine.hartids[i] = i;
  machine.plic_base = PLIC;
  machine.uart_base = UART0;
  machine.uart_irq = UART0_IRQ;
  machine.nvirtio = VIRTIO_NSLOT;
  for(int i = 0; i < VIRTIO_NSLOT; i++){
    machine.virtio[i].base = VIRTIO0 + i*VIRTIO_STRIDE;
    machine.virtio[i].irq = VIRTIO0_IRQ + i;
  }
}

// The PCIe host bridge: its ECAM window, and the three kinds of window
// its `ranges` may list. A row is PCI address (3 cells), CPU address (the
// parent's #address-cells), size (the bridge's #size-cells); the space
// code in bits 24-25 of phys.hi says I/O (1), 32-bit memory (2) or 64-bit
// memory (3). A row we cannot read (more than 2 cells for an address or
// size) is skipped; only the first window of each kind is kept.
static void
pci_host(struct fdt_node *n, struct fdt_node *parent)
{
  int pac = parent ? parent->addr_cells : 2;
  int sc = n->size_cells;
  int row = 4 * (3 + pac + sc);

  machine.has_pci = 1;
  machine.ecam_base = n->reg_addr;
  machine.ecam_size = n->reg_size;
  machine.pci_bus0 = n->bus0;
  pci_addr_cells = n->addr_cells;
  pci_int_cells = n->int_cells;
  if(pac >= 1 && pac <= 2 && sc >= 1 && sc <= 2 && n->addr_cells == 3){
    for(int off = 0; off + row <= n->ranges_len; off += row){
      const uchar *r = n->ranges + off;
      struct pci_window w;
      w.bus = cells_value(r + 4, 2);
      w.cpu = cells_value(r + 12, pac);
      w.size = cells_value(r + 12 + 4*pac, sc);
      int space = (be32(r) >> 24) & 3;
      struct pci_window *to = space == 1 ? &machine.pci_io :
                              space == 2 ? &machine.pci_mem32 :
                              space == 3 ? &machine.pci_mem64 : 0;
      if(to && to->size == 0)
        *to = w;
    }
  }
  // The mask is as wide as a row's unit address and pin: phys.hi (bus,
  // device, function), two address cells no row distinguishes by, the pin.
  if(n->imask && n->imask_len >= 16){
    machine.pci_imask_hi = be32(n->imask);
    machine.pci_imask_pin = be32(n->imask + 12);
  }
  pci_imap_raw = n->imap;
  pci_imap_len = n->imap_len;
}

// Each interrupt-map row: the child unit address (the bridge's
// #address-cells, 3) and pin (its #interrupt-cells, 1), the parent
// controller's phandle, then the parent's unit address and interrupt
// (its #address-cells and #interrupt-cells: 0 and 1 for the PLIC). A row
// that names another controller cannot be sized, so the walk stops there
// and the devices it would route get no interrupt (pci.c says so).
static void
pci_irq_map(void)
{
  int row = 4 * (pci_addr_cells + pci_int_cells + 1 + plic_addr_cells + plic_int_cells);
  const uchar *m = pci_imap_raw;

  if(pci_addr_cells != 3 || pci_int_cells != 1 || plic_int_cells != 1 || m == 0)
    return;
  for(int off = 0; off + row <= pci_imap_len && machine.npci_imap < PCI_NIMAP; off += row){
    const uchar *r = m + off;
    if(be32(r + 16) != plic_phandle){
      printf("fdt: PCI interrupt-map names a controller other than the PLIC\n");
      return;
    }
    int i = machine.npci_imap++;
    machine.pci_imap[i].hi = be32(r);
    machine.pci_imap[i].pin = be32(r + 12);
    machine.pci_imap[i].irq = be32(r + 20 + 4*plic_addr_cells);
  }
}

// Called when a node closes: all its properties have been seen.
static void
node_done(struct fdt_node *n, struct fdt_node *parent)
{
  if(n->device_type && str_eq(n->device_type, "memory") && n->has_reg){
    machine.mem_base = n->reg_addr;
    machine.mem_size = n->reg_size;
  } else if(parent && parent->name && str_eq(parent->name, "cpus")
            && str_prefix(n->name, "cpu@") && n->has_reg){
    if(machine.nharts < NCPU)
      machine.hartids[machine.nharts++] = n->reg_addr;
  } else if(n->compat && (compatible_has(n->compat, n->compat_len, "riscv,plic0") ||
                          compatible_has(n->compat, n->compat_len, "sifive,plic-1.0.0"))){
    machine.plic_base = n->reg_addr;
    plic_phandle = n->phandle;
    plic_addr_cells = n->addr_cells_seen ? n->addr_cells : 0;
    plic_int_cells = n->int_cells;
  } else if(n->compat && compatible_has(n->compat, n->compat_len, "pci-host-ecam-generic")
            && n->has_reg && !machine.has_pci){
    pci_host(n, parent);
  } else if(n->compat && compatible_has(n->compat, n->compat_len, "ns16550a")){
    machine.uart_base = n->reg_addr;
    if(n->irq >= 0)
      machine.uart_irq = n->irq;
  } else if(n->compat && compatible_has(n->compat, n->compat_len, "virtio,mmio")
            && n->has_reg && machine.nvirtio < VIRTIO_NSLOT){
    // QEMU lists the slots from the highest address down; keep them sorted
    // by address so table row i is slot i (insertion sort, at most 8).
    int i = machine.nvirtio++;
    while(i > 0 && machine.virtio[i-1].base > n->reg_addr){
      machine.virtio[i] = machine.virtio[i-1];
      i--;
    }
    machine.virtio[i].base = n->reg_addr;
    machine.virtio[i].irq = n->irq;
  }
}

void
fdt_parse(uint64 dtb)
{
  const struct fdt_header *h = (const struct fdt_header *)dtb;

  set_fallback();
  if(dtb == 0 || (dtb & 3) != 0 || be32(&h->magic) != FDT_MAGIC)
    return;

  const uchar *structs = (const uchar *)dtb + be32(&h->off_dt_struct);
  const uchar *structs_end = structs + be32(&h->size_dt_struct);
  const char *strings = (const char *)dtb + be32(&h->off_dt_strings);

  // Parsed values replace the fallback only where the tree has them.
  machine.from_fdt = 1;
  machine.nharts = 0;
  machine.nvirtio = 0;

  struct fdt_node stack[FDT_MAXDEPTH];
  int depth = -1;
  const uchar *p = structs;

  while(p < structs_end){
    uint32 token = be32(p);
    p += 4;
    if(token == FDT_BEGIN_NODE){
      const char *name = (const char *)p;
      int len = strlen(name);
      p += (len + 1 + 3) & ~3;
      if(++depth >= FDT_MAXDEPTH)
        break;                   // deeper than anything QEMU builds
      struct fdt_node *n = &stack[depth];
      memset(n, 0, sizeof(*n));
      n->name = name;
      // Defaults from the Devicetree spec section 2.3.5.
      n->addr_cells = 2;
      n->size_cells = 1;
      n->irq = -1;
      n->int_cells = 1;
    } else if(token == FDT_PROP){
      uint32 len = be32(p);
      uint32 nameoff = be32(p + 4);
      const uchar *val = p + 8;
      p += 8 + ((len + 3) & ~3);
      if(depth < 0)
        continue;
      struct fdt_node *n = &stack[depth];
      const char *pname = strings + nameoff;
      if(str_eq(pname, "#address-cells") && len >= 4){
        n->addr_cells = be32(val);
        n->addr_cells_seen = 1;
      } else if(str_eq(pname, "#interrupt-cells") && len >= 4){
        n->int_cells = be32(val);
      } else if(str_eq(pname, "phandle") && len >= 4){
        n->phandle = be32(val);
      } else if(str_eq(pname, "ranges")){
        n->ranges = val;
        n->ranges_len = len;
      } else if(str_eq(pname, "interrupt-map")){
        n->imap = val;
        n->imap_len = len;
      } else if(str_eq(pname, "interrupt-map-mask")){
        n->imask = val;
        n->imask_len = len;
      } else if(str_eq(pname, "bus-range") && len >= 4){
        n->bus0 = be32(val);
      } else if(str_eq(pname, "#size-cells") && len >= 4){
        n->size_cells = be32(val);
      } else if(str_eq(pname, "reg") && depth > 0){
        // The widths come from the parent node.
        int ac = stack[depth-1].addr_cells;
        int sc = stack[depth-1].size_cells;
        if(ac >= 1 && ac <= 2 && sc >= 0 && sc <= 2 && len >= 4*(ac+sc)){
          n->reg_addr = cells_value(val, ac);
          n->reg_size = sc ? cells_value(val + 4*ac, sc) : 0;
          n->has_reg = 1;
        }
      } else if(str_eq(pname, "interrupts") && len >= 4){
        n->irq = be32(val);
      } else if(str_eq(pname, "compatible")){
        n->compat = (const char *)val;
        n->compat_len = len;
      } else if(str_eq(pname, "device_type")){
        n->device_type = (const char *)val;
      }
    } else if(token == FDT_END_NODE){
      if(depth < 0)
        break;
      node_done(&stack[depth], depth > 0 ? &stack[depth-1] : 0);
      depth--;
    } else if(token == FDT_NOP){
      continue;
    } else {
      break;                     // FDT_END or garbage: stop either way
    }
  }

  if(machine.nharts == 0){       // a tree without /cpus: assume every hart
    machine.nharts = NCPU;
    for(int i = 0; i < NCPU; i++)
      machine.hartids[i] = i;
  }
  if(machine.nvirtio == 0){      // no virtio nodes listed: probe the fixed slots
    machine.nvirtio = VIRTIO_NSLOT;
    for(int i = 0; i < VIRTIO_NSLOT; i++){
      machine.virtio[i].base = VIRTIO0 + i*VIRTIO_STRIDE;
      machine.virtio[i].irq = VIRTIO0_IRQ + i;
    }
  }
  if(machine.has_pci)
    pci_irq_map();
  if(machine.mem_size != 0)
    phys_top = machine.mem_base + machine.mem_size;
  // RAM is mapped one to one in a single 1 GB slot of the address space
  // (memlayout.h); with more RAM than that, the rest goes unused.
  if(phys_top > DEVBASE){
    printf("fdt: using only the first %d MB of RAM\n", (int)((DEVBASE - KERNBASE) >> 20));
    phys_top = DEVBASE;
  }
}
