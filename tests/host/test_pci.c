// test_pci.c: host unit tests for the PCI half of virtio/virtio_pci.c:
// sizing and placing BARs (PCI Local Bus 3.0 6.2.5.1), walking the
// capability list (6.7), and vio_pci_probe's choice between the virtio
// structure capabilities (virtio 1.2 4.1.4, 4.1.4.1) and the legacy I/O
// BAR header (4.1.4.10), against a fake PCI function's configuration
// space on the host bus (vos_host.c).
//
// The fake behaves as PCI says a function's header does: a BAR keeps its
// type bits read-only and the address bits below its size read as 0, so
// writing all ones reads back the size; the capability list is whatever a
// test builds, including broken ones.
//
// Run: make -C tests/host check
// Output: one line per test, "PASS: name" or "FAIL: name: why".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_pci.h"
#include "host.h"

#define CFG 0x30008000u  // where the fake function's configuration space sits

// ---- the fake function ----

struct fake_fn {
  uint8_t cfg[PCI_CFG_SIZE];
  uint64_t bar_size[PCI_NBARS];  // 0: not implemented; the upper half of a
                                 //   64-bit BAR has its own entry 0
  int writes_outside;            // writes to registers a driver must not write
};

static struct fake_fn fn;

static uint32_t get32(uint32_t off)
{
  uint32_t v;
  memcpy(&v, fn.cfg + off, 4);
  return v;
}

static void put32(uint32_t off, uint32_t v)
{
  memcpy(fn.cfg + off, &v, 4);
}

static uint32_t fake_read(void *dev, uint32_t off)
{
  return get32(off);
}

// A BAR register keeps only the address bits at or above its size; its
// low flag bits never change. The upper half of a 64-bit BAR keeps the
// bits at or above the size's upper half.
static void bar_write(int i, uint32_t val)
{
  uint32_t off = PCI_BAR0 + 4 * (uint32_t)i;
  uint32_t old = get32(off);
  uint64_t size;
  uint32_t flags, mask;

  if (i > 0 && (get32(off - 4) & 7) == 4 && fn.bar_size[i - 1]) {
    // The upper half of the 64-bit BAR before it.
    size = fn.bar_size[i - 1];
    mask = (uint32_t)(~(size - 1) >> 32);
    put32(off, val & mask);
    return;
  }
  size = fn.bar_size[i];
  if (size == 0)
    return;                       // not implemented: reads 0 whatever is written
  flags = old & ((old & 1) ? 3u : 0xfu);
  mask = (uint32_t)~(size - 1);
  put32(off, (val & mask & ~((old & 1) ? 3u : 0xfu)) | flags);
}

static void fake_write(void *dev, uint32_t off, uint32_t val)
{
  if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_NBARS) {
    bar_write((int)(off - PCI_BAR0) / 4, val);
  } else if (off == PCI_COMMAND) {
    put32(off, (get32(off) & 0xffff0000u) | (val & 0xffffu));
  } else {
    fn.writes_outside++;          // IDs, capabilities: read-only to a driver
  }
}

// Configuration space does nothing by itself and never interrupts.
static void fake_run(void *dev) {}
static int fake_irq(void *dev) { return 0; }

static const struct host_dev_ops fake_ops = { fake_read, fake_write, fake_run, fake_irq };

// A function with vendor/device/subsystem IDs and, if `caps`, the
// capability-list bit in its status register.
static void fake_new(uint16_t vendor, uint16_t device, uint16_t subsys, int caps)
{
  memset(&fn, 0, sizeof(fn));
  put32(PCI_VENDOR_ID, (uint32_t)device << 16 | vendor);
  put32(PCI_COMMAND, caps ? (uint32_t)PCI_STATUS_CAP_LIST << 16 : 0);
  put32(PCI_SUBSYS_VENDOR_ID, (uint32_t)subsys << 16 | 0x1af4);
  host_bus_attach(CFG, &fake_ops, &fn);
}

// BAR i: `size` bytes; io, or memory 32/64-bit (type bits 2 for 64).
static void fake_bar(int i, uint64_t size, int io, int is64)
{
  fn.bar_size[i] = size;
  put32(PCI_BAR0 + 4 * (uint32_t)i, io ? 1u : (is64 ? 4u | 8u : 0u));
}

// A virtio structure capability at `at` (4.1.4), linked to `next`.
static void fake_vcap(uint32_t at, uint32_t next, uint8_t type, uint8_t bar,
                      uint32_t offset, uint32_t length, uint32_t mul)
{
  uint32_t len = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 20 : 16;
  put32(at, PCI_CAP_ID_VNDR | next << 8 | len << 16 | (uint32_t)type << 24);
  put32(at + 4, bar);
  put32(at + 8, offset);
  put32(at + 12, length);
  if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
    put32(at + 16, mul);
}

// Another kind of capability (MSI-X, say) at `at`.
static void fake_cap(uint32_t at, uint32_t next, uint8_t id)
{
  put32(at, id | next << 8);
}

// ---- tests ----

// Each kind of BAR sizes as PCI says, the register gets its old value
// back, and the 64-bit one takes two registers.
static void test_pci_bar_sizing(void)
{
  struct pci_bar b;

  fake_new(0x1af4, 0x1041, 1, 0);
  fake_bar(0, 0x20, 1, 0);        // I/O, 32 ports
  fake_bar(1, 0x1000, 0, 0);      // memory, 32-bit, 4 KB
  fake_bar(2, 0x4000, 0, 1);      // memory, 64-bit, 16 KB (registers 2 and 3)
  put32(PCI_BAR0 + 4, 0x40001000u);  // an address already in BAR1

  expect(pci_bar_probe(CFG, 0, &b) == 1 && b.io && !b.is64 && b.size == 0x20,
         "I/O BAR: io %d is64 %d size 0x%llx", b.io, b.is64, (unsigned long long)b.size);
  expect(pci_bar_probe(CFG, 1, &b) == 1 && !b.io && !b.is64 && b.size == 0x1000,
         "32-bit BAR: io %d is64 %d size 0x%llx", b.io, b.is64, (unsigned long long)b.size);
  expect(get32(PCI_BAR0 + 4) == 0x40001000u, "BAR1 not restored: 0x%x", get32(PCI_BAR0 + 4));
  expect(pci_bar_probe(CFG, 2, &b) == 2 && !b.io && b.is64 && b.size == 0x4000,
         "64-bit BAR: io %d is64 %d size 0x%llx", b.io, b.is64, (unsigned long long)b.size);
  expect(pci_bar_probe(CFG, 4, &b) == 1 && b.size == 0, "unimplemented BAR has a size");
  // A 64-bit BAR in the last register has no upper half: refused.
  fake_bar(5, 0x1000, 0, 1);
  expect(pci_bar_probe(CFG, 5, &b) == 0, "64-bit BAR in register 5 accepted");

  // Placing: the address lands in the register, both halves for 64 bits,
  // and the flag bits stay.
  pci_bar_probe(CFG, 2, &b);
  pci_bar_assign(CFG, 2, &b, 0x123454000ull);
  expect(get32(PCI_BAR0 + 8) == (0x23454000u | 0xcu) && get32(PCI_BAR0 + 12) == 1,
         "64-bit BAR holds 0x%x 0x%x", get32(PCI_BAR0 + 8), get32(PCI_BAR0 + 12));
  pci_enable(CFG, 1, 1);
  expect((get32(PCI_COMMAND) & 0xffff) ==
         (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER),
         "command register 0x%x", get32(PCI_COMMAND) & 0xffff);
  expect(fn.writes_outside == 0, "%d writes outside the BARs and command", fn.writes_outside);
  host_bus_detach(CFG);
}

// The capability list is walked in order; a loop or a pointer into the
// header ends it.
static void test_pci_caps_walk(void)
{
  uint8_t offs[PCI_CAP_MAX];
  int n;

  fake_new(0x1af4, 0x1041, 1, 1);
  put32(PCI_CAP_PTR, 0x40);
  fake_cap(0x40, 0x50, 0x11);
  fake_cap(0x50, 0x60, 0x05);
  fake_cap(0x60, 0, 0x09);
  n = pci_caps(CFG, offs, PCI_CAP_MAX);
  expect(n == 3 && offs[0] == 0x40 && offs[1] == 0x50 && offs[2] == 0x60,
         "walk found %d capabilities", n);

  fake_cap(0x60, 0x40, 0x09);    // 0x60 -> 0x40: a loop
  n = pci_caps(CFG, offs, PCI_CAP_MAX);
  expect(n == PCI_CAP_MAX, "looping list: %d entries, want the bound %d", n, PCI_CAP_MAX);

  fake_cap(0x60, 0x10, 0x09);    // 0x60 -> 0x10: into the header
  n = pci_caps(CFG, offs, PCI_CAP_MAX);
  expect(n == 3, "list into the header: %d entries", n);

  put32(PCI_COMMAND, 0);          // no capability-list bit: no list at all
  n = pci_caps(CFG, offs, PCI_CAP_MAX);
  expect(n == 0, "list without the status bit: %d entries", n);
  host_bus_detach(CFG);
}

static struct pci_bar bars[PCI_NBARS];

// BAR4 (64-bit, 16 KB) holds the four structures QEMU puts there.
static void modern_function(uint16_t device)
{
  fake_new(0x1af4, device, 2, 1);
  memset(bars, 0, sizeof(bars));
  bars[4].addr = 0x40004000u;
  bars[4].size = 0x4000;
  bars[4].is64 = 1;
  put32(PCI_CAP_PTR, 0x40);
  fake_cap(0x40, 0x50, 0x11);                                   // MSI-X: not ours
  fake_vcap(0x50, 0x60, VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x0000, 0x1000, 0);
  fake_vcap(0x60, 0x70, VIRTIO_PCI_CAP_ISR_CFG, 4, 0x1000, 0x1000, 0);
  fake_vcap(0x70, 0x80, VIRTIO_PCI_CAP_DEVICE_CFG, 4, 0x2000, 0x1000, 0);
  fake_vcap(0x80, 0, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000, 4);
}

static void test_pci_probe_modern(void)
{
  struct vio_dev d;

  modern_function(0x1042);
  d.base = 0;
  expect(vio_pci_probe(&d, CFG, bars) == 1, "modern function refused");
  expect(d.version == 2 && d.device_id == VIRTIO_ID_BLOCK, "version %u type %u",
         (unsigned)d.version, (unsigned)d.device_id);
  expect(d.base == 0x40004000u && d.isr == 0x40005000u && d.device_cfg == 0x40006000u &&
         d.notify_base == 0x40007000u && d.notify_mul == 4 && d.notify_len == 0x1000,
         "structures at %p %p %p %p", (void *)d.base, (void *)d.isr, (void *)d.device_cfg,
         (void *)d.notify_base);
  expect(d.ops != 0 && !d.ops->fixed_queue_size, "modern ops");
  expect(fn.writes_outside == 0, "the probe wrote configuration space");
  host_bus_detach(CFG);
}

// 4.1.4.1: a capability naming a reserved BAR, or reaching past its BAR,
// is skipped and the next instance of the type is used; a later instance
// never replaces a usable earlier one.
static void test_pci_probe_first_usable(void)
{
  struct vio_dev d;
  int r;

  modern_function(0x1042);
  put32(0x80, get32(0x80) | 0xa0u << 8);  // the notify capability goes on to 0xa0..
  fake_vcap(0xa0, 0xb0, VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x3800, 0x100, 0);  // a second one
  fake_vcap(0xb0, 0, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000, 0);
  r = vio_pci_probe(&d, CFG, bars);  // before expect: its arguments are read in any order
  expect(r == 1 && d.base == 0x40004000u && d.notify_mul == 4,
         "probe %d; a later instance replaced the first: common %p mul %u", r, (void *)d.base,
         (unsigned)d.notify_mul);

  fake_vcap(0x50, 0x60, VIRTIO_PCI_CAP_COMMON_CFG, 7, 0, 0x1000, 0);       // reserved bar
  r = vio_pci_probe(&d, CFG, bars);
  expect(r == 1 && d.base == 0x40007800u,
         "common configuration with bar 7 not skipped: %d %p", r, (void *)d.base);

  fake_vcap(0x50, 0x60, VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x3f00, 0x1000, 0);  // past the BAR
  r = vio_pci_probe(&d, CFG, bars);
  expect(r == 1 && d.base == 0x40007800u,
         "common configuration past its BAR not skipped: %d %p", r, (void *)d.base);

  fake_vcap(0xa0, 0xb0, VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x3800, 0x10, 0);   // too short
  expect(vio_pci_probe(&d, CFG, bars) == -1,
         "a function with no usable common configuration was accepted");
  host_bus_detach(CFG);
}

// A legacy-only function (transitional ID, no capabilities) is driven
// through its I/O BAR0 header; a modern ID without capabilities, or a
// function that is not virtio, is refused.
static void test_pci_probe_legacy(void)
{
  struct vio_dev d;

  fake_new(0x1af4, 0x1001, VIRTIO_ID_BLOCK, 0);
  memset(bars, 0, sizeof(bars));
  bars[0].addr = 0x03000040u;
  bars[0].size = 0x40;
  bars[0].io = 1;
  d.ops = 0;
  expect(vio_pci_probe(&d, CFG, bars) == 1 && d.ops, "legacy function refused");
  expect(d.version == 1 && d.device_id == VIRTIO_ID_BLOCK && d.base == 0x03000040u &&
         d.device_cfg == 0x03000040u + VIRTIO_PCI_CONFIG && d.ops->fixed_queue_size,
         "legacy: version %u type %u base %p config %p", (unsigned)d.version,
         (unsigned)d.device_id, (void *)d.base, (void *)d.device_cfg);
  bars[0].addr = 0;               // the platform could not place BAR0
  expect(vio_pci_probe(&d, CFG, bars) == -1, "legacy function without its BAR accepted");
  host_bus_detach(CFG);

  fake_new(0x1af4, 0x1041, 1, 0);
  bars[0].addr = 0x03000040u;
  expect(vio_pci_probe(&d, CFG, bars) == -1, "modern ID without capabilities accepted");
  host_bus_detach(CFG);
}

static void test_pci_device_type(void)
{
  expect(vio_pci_device_type(0x1af4, 0x1041, 0) == VIRTIO_ID_NET, "0x1041");
  expect(vio_pci_device_type(0x1af4, 0x1044, 0) == VIRTIO_ID_ENTROPY, "0x1044");
  expect(vio_pci_device_type(0x1af4, 0x1003, VIRTIO_ID_CONSOLE) == VIRTIO_ID_CONSOLE,
         "transitional 0x1003");
  expect(vio_pci_device_type(0x1af4, 0x1110, 0) == 0, "0x1110 is not virtio");
  expect(vio_pci_device_type(0x8086, 0x1041, 0) == 0, "another vendor");
}

int main(int argc, char **argv)
{
  host_tests_begin(argc, argv, 0, 0);
  host_run("pci_bar_sizing", test_pci_bar_sizing);
  host_run("pci_caps_walk", test_pci_caps_walk);
  host_run("pci_probe_modern", test_pci_probe_modern);
  host_run("pci_probe_first_usable", test_pci_probe_first_usable);
  host_run("pci_probe_legacy", test_pci_probe_legacy);
  host_run("pci_device_type", test_pci_device_type);
  return host_tests_done();
}
