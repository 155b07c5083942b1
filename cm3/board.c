// board.c: the virtio devices of the Cortex-M3 board. The board has no
// virtio hardware, so its devices are software models (devmodel/)
// whose register files sit in SRAM; everything above the register file is
// the portable core, the very files the RISC-V kernel compiles.
//
//   slot  device model              backend          virtual IRQ   driver
//   0     vdm_blk      (blk, 2)     RAM disk (16 KB) 48            virtio_blk.c
//   1     vdm_console  (console, 3) UART2 (port 0)   49            virtio_console.c
//   2     vdm_rng      (entropy, 4) xorshift PRNG    50            virtio_rng.c
//   3     empty (DeviceID 0)        -                51            -
//
// The slots are found the way vdev.c finds QEMU's on RISC-V (virtio 1.2
// 4.2.3.1): vio_probe reads MagicValue, Version and DeviceID at each
// listed base and skips a DeviceID of 0. A device interrupt is the model
// pending its NVIC line (ISPR); virtio_isr then calls the driver's
// interrupt function, the same one vdev.c calls from the PLIC on RISC-V.
//
// The console is a MULTIPORT device, as QEMU's virtio-serial is: its
// control queues carry the ports' announcements (virtio 1.2 5.3.6.2), and
// its one port, port 0, is a console port on UART2; max_nr_ports is 2, so
// the driver also sets up the queues of a port 1 that is never plugged.
//
// See it run: `make qemu-cm3`, then `devs`, `blktest`, `stat`, `rng 16`.
#include <stdint.h>
#include <stddef.h>
#include "cm3.h"
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtq.h"
#include "virtio_dev.h"
#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_rng.h"
#include "vdm.h"
#include "vdm_blk.h"
#include "vdm_console.h"
#include "vdm_rng.h"
#include "vdm_ramdisk.h"
#include "vdm_prng.h"
#include "uart.h"
#include "board.h"

#define NSLOT 4
#define RAMDISK_BYTES (16 * 1024)

// ---- the device side ----

static uint8_t ramdisk_mem[RAMDISK_BYTES];
static struct vdm_ramdisk ramdisk;
static struct vdm_prng prng;
static struct vdm_blk blk_model;
static struct vdm_console cons_model;
static struct vdm_rng rng_model;
static struct vdm_regs empty_regs;   // a placeholder slot: DeviceID 0

struct slot {
  uintptr_t base;       // what the "device tree" says is there
  struct vdm *model;    // NULL: not a model (the placeholder)
  struct vio_dev dev;   // what probing found
  const char *driver;   // bound driver, or "-"
  void (*intr)(void *drv);
  void *drv;
};

static struct slot slots[NSLOT];

// The device's interrupt wire: pend its NVIC line.
static void raise_virtio_irq(void *arg)
{
  struct slot *s = arg;

  nvic_pend(s->dev.irq);
}

// UART2 has bytes or room: the console model carries on.
static void uart2_event(void *arg)
{
  vdm_console_poke(&cons_model);
}

static void setup_models(void)
{
  struct vdm_blk_backend bbe;
  struct vdm_char_backend cbe;
  struct vdm_entropy_backend ebe;
  int i;

  ramdisk.mem = ramdisk_mem;
  ramdisk.size = RAMDISK_BYTES;
  ramdisk.readonly = 0;
  vdm_ramdisk_backend(&ramdisk, &bbe);
  vdm_blk_init(&blk_model, &bbe, 2);
  blk_model.blk_size = VIRTIO_BLK_SECTOR_SIZE;
  // Both ring layouts in one image: the disk on the split ring (virtio 1.2
  // 2.7, the one the vq lab has students write and checks here with
  // blktest), the console and the entropy device on the packed ring (2.8),
  // which the models offer on every modern device.
  blk_model.vdm.offered &= ~((uint64_t)1 << VIRTIO_F_RING_PACKED);

  uart2_init();
  uart2_backend(&cbe, uart2_event, 0);
  vdm_console_init_multiport(&cons_model, 2, 2);
  vdm_console_add_port(&cons_model, 0, &cbe, 1, "uart2");

  vdm_prng_seed(&prng, 0x5eed1234abcdull);
  vdm_prng_backend(&prng, &ebe);
  vdm_rng_init(&rng_model, &ebe, 2);

  empty_regs.magic = VIRTIO_MMIO_MAGIC;
  empty_regs.version = 2;
  empty_regs.device_id = 0;

  slots[0].model = &blk_model.vdm;
  slots[1].model = &cons_model.vdm;
  slots[2].model = &rng_model.vdm;
  slots[3].model = 0;
  for (i = 0; i < NSLOT; i++) {
    struct slot *s = &slots[i];
    s->base = s->model ? vdm_base(s->model) : (uintptr_t)&empty_regs;
    s->dev.slot = i;
    s->dev.irq = IRQ_VIRTIO0 + i;
    s->driver = "-";
    if (s->model) {
      // The "device" works the moment it is notified, on this CPU.
      s->model->sync_notify = 1;
      s->model->raise_irq = raise_virtio_irq;
      s->model->irq_arg = s;
    }
  }
}

// The device model's view of driver memory: the DMA pool and nothing else,
// as an IOMMU would allow only the pages mapped for the device. Every
// buffer the drivers hand a device comes from vos_dma_alloc, so a
// descriptor naming any other address (the stack, the model's own state,
// a peripheral) is a driver bug: the model refuses the chain and counts a
// violation instead of writing there.
void *vdm_port_mem(uint64_t pa, uint64_t len)
{
  if (!dma_pool_holds(pa, len))
    return 0;
  return (void *)(uintptr_t)pa;
}

int board_mmio_write(uintptr_t addr, uint32_t val)
{
  uint32_t s;
  int i;

  for (i = 0; i < NSLOT; i++) {
    if (slots[i].model && vdm_contains(slots[i].model, addr)) {
      // Masked: the model's state is also touched from the UART2 and
      // virtio interrupts, and the device must see one write at a time.
      s = irq_save();
      vdm_mmio_write(slots[i].model, (uint32_t)(addr - slots[i].base), val);
      irq_restore(s);
      return 1;
    }
  }
  if (addr >= (uintptr_t)&empty_regs && addr < (uintptr_t)(&empty_regs + 1))
    return 1;  // an empty slot ignores writes
  return 0;
}

// ---- the driver side ----

static struct vblk disk;
static struct vcons cons;
static struct vrng rng;
static int have_disk, have_cons, have_rng;
static uint32_t echoed;      // bytes the echo service sent back

// The drivers' interrupt functions, the ones vdev.c calls on RISC-V.
static void blk_intr(void *drv)
{
  vblk_intr(drv);
}

static void cons_intr(void *drv)
{
  vcons_intr(drv);
}

static void rng_intr(void *drv)
{
  vrng_intr(drv);
}

static void bind(struct slot *s)
{
  switch (s->dev.device_id) {
  case VIRTIO_ID_BLOCK:
    if (!have_disk && vblk_init(&disk, &s->dev, &VBLK_LIMITS_FULL) == 0) {
      have_disk = 1;
      s->driver = "virtio-blk";
      s->drv = &disk;
      s->intr = blk_intr;
    }
    break;
  case VIRTIO_ID_CONSOLE:
    if (!have_cons && vcons_init(&cons, &s->dev) == 0) {
      have_cons = 1;
      s->driver = "virtio-console";
      s->drv = &cons;
      s->intr = cons_intr;
    }
    break;
  case VIRTIO_ID_ENTROPY:
    if (!have_rng && vrng_init(&rng, &s->dev) == 0) {
      have_rng = 1;
      s->driver = "virtio-rng";
      s->drv = &rng;
      s->intr = rng_intr;
    }
    break;
  default:
    break;
  }
  // A device may have raised its line during the handshake; the pending
  // bit waits for the enable, and the driver then finds the work.
  if (s->intr)
    nvic_enable(s->dev.irq);
}

// Interrupt of virtual line IRQ_VIRTIO0 + slot: hand it to the driver.
void virtio_isr(void)
{
  uint32_t ipsr;
  int slot;

  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  irq_events++;
  slot = (int)(ipsr & 0x1ff) - 16 - IRQ_VIRTIO0;
  if (slot >= 0 && slot < NSLOT && slots[slot].intr)
    slots[slot].intr(slots[slot].drv);
}

// The type cell, "console (3)", padded to `width` so that the driver
// column lines up whatever the type's name (kprintf pads one value, not
// a composed cell). At least one space always follows.
static void print_type(uint32_t id, int width)
{
  const char *name = vio_type_name(id);
  int len = 3;           // " (" and ")"
  uint32_t v = id;

  while (name[len - 3])
    len++;
  do {
    len++;
    v /= 10;
  } while (v);
  kprintf("%s (%u)", name, (unsigned)id);
  do {
    kprintf(" ");
  } while (++len < width);
}

// The ring layout the driver negotiated for all of the device's queues:
// the drivers take the packed one (VIRTIO_F_RING_PACKED) wherever the
// model offers it (all but the disk, setup_models); "-" without a driver.
static const char *ring_layout(struct slot *s)
{
  if (s->driver[0] == '-')
    return "-";
  return vio_has_feature(&s->dev, VIRTIO_F_RING_PACKED) ? "packed" : "split";
}

static void print_row(struct slot *s)
{
  kprintf("  %-5d 0x%08x  %-4d %-8s ", s->dev.slot, (unsigned)s->base, s->dev.irq,
          s->dev.version == 1 ? "legacy" : "modern");
  print_type(s->dev.device_id, 15);
  kprintf("%-15s %s\n", s->driver, ring_layout(s));
}

void board_devs(void)
{
  int i;

  kprintf("virtio-mmio device table (register files in SRAM):\n");
  kprintf("  slot  base        irq  version  type           driver          ring\n");
  for (i = 0; i < NSLOT; i++) {
    if (slots[i].dev.device_id != 0)
      print_row(&slots[i]);
  }
}

void board_init(void)
{
  int i, r;

  setup_models();
  for (i = 0; i < NSLOT; i++) {
    struct slot *s = &slots[i];
    // Exactly what vdev.c does with each virtio,mmio node on RISC-V.
    r = vio_probe(&s->dev, s->base);
    s->dev.slot = i;
    s->dev.irq = IRQ_VIRTIO0 + i;
    if (r != 1)
      continue;  // DeviceID 0: an empty slot; or no virtio device at all
    bind(s);
  }
  board_devs();
}

// ---- `blktest` ----

static uint8_t pattern(uint64_t sector, uint32_t i, uint32_t seed)
{
  return (uint8_t)(sector * 31 + i * 7 + (i >> 8) + seed * 101 + 1);
}

static void fill(uint8_t *buf, uint64_t sector, uint32_t nsect, uint32_t seed)
{
  uint32_t i;

  for (i = 0; i < nsect * 512; i++)
    buf[i] = pattern(sector + i / 512, i % 512, seed);
}

static int check(const uint8_t *buf, uint64_t sector, uint32_t nsect, uint32_t seed)
{
  uint32_t i;

  for (i = 0; i < nsect * 512; i++) {
    if (buf[i] != pattern(sector + i / 512, i % 512, seed)) {
      kprintf("blktest: sector %u byte %u: got 0x%x, wrote 0x%x\n",
              (unsigned)(sector + i / 512), (unsigned)(i % 512), buf[i],
              pattern(sector + i / 512, i % 512, seed));
      return -1;
    }
  }
  return 0;
}

int board_blktest(void)
{
  static uint32_t runs;
  const uint32_t big = 4;  // sectors per multi-sector request
  uint32_t seed = ++runs, nsect, s, k, writes = 0, reads = 0;
  uint8_t *buf;
  int bad = 0;

  if (!have_disk) {
    kprintf("blktest: no virtio-blk device\n");
    return -1;
  }
  nsect = (uint32_t)vblk_capacity(&disk);
  buf = vos_dma_alloc(big * 512);
  if (buf == 0) {
    kprintf("blktest: no DMA memory\n");
    return -1;
  }
  // Every sector on its own: write all, then read all back.
  for (s = 0; s < nsect && !bad; s++, writes++) {
    fill(buf, s, 1, seed);
    bad = vblk_rw(&disk, 1, s, buf, 512);
  }
  for (s = 0; s < nsect && !bad; s++, reads++) {
    memset(buf, 0, 512);
    bad = vblk_rw(&disk, 0, s, buf, 512) || check(buf, s, 1, seed);
  }
  // Multi-sector requests with a new pattern, read back in other sizes.
  seed += 1000;
  for (s = 0; s + big <= nsect && !bad; s += big, writes++) {
    fill(buf, s, big, seed);
    bad = vblk_rw(&disk, 1, s, buf, big * 512);
  }
  for (s = 0; s + big <= nsect && !bad; s += big) {
    for (k = 0; k < big && !bad; k += 2, reads++) {
      memset(buf, 0, 1024);
      bad = vblk_rw(&disk, 0, s + k, buf, 1024) || check(buf, s + k, 2, seed);
    }
  }
  // Past the end must fail, and must not be sent to the device at all.
  if (!bad && (vblk_rw(&disk, 0, nsect, buf, 512) != -1 ||
               vblk_rw(&disk, 0, nsect - 1, buf, 1024) != -1)) {
    kprintf("blktest: a request beyond the disk did not fail\n");
    bad = 1;
  }
  vos_dma_free(buf, big * 512);
  if (bad) {
    kprintf("blktest: FAILED\n");
    return -1;
  }
  // The two refused requests show in `stat` as the driver's errors.
  kprintf("blktest: %u sectors, %u writes and %u reads, patterns %u and %u, "
          "2 requests past the end refused: OK\n", (unsigned)nsect, (unsigned)writes,
          (unsigned)reads, (unsigned)(seed - 1000), (unsigned)seed);
  return 0;
}

// ---- `stat` ----

// One line per queue: what the driver counted (virtq.h's counters), then
// what the device model counted. The console and rng drivers count their
// interrupts per device, not per queue (see the lines after the table):
// those driver columns read "-".
static void queue_row(const char *dev, int qi, const char *qname, struct virtq *vq,
                      int drv_intrs_per_queue, struct vdm *m)
{
  struct vdm_queue_stats *ds = &m->q[qi].stats;

  kprintf("  %-8s %d %-10s %8u %8u ", dev, qi, qname, (unsigned)vq->stats.added,
          (unsigned)vq->stats.notifies);
  if (drv_intrs_per_queue)
    kprintf("%8u ", (unsigned)vq->stats.interrupts);
  else
    kprintf("%8s ", "-");
  kprintf("%8u %6u | %8u %8u %8u %6u\n", (unsigned)vq->stats.completions,
          (unsigned)vq->stats.errors, (unsigned)ds->requests, (unsigned)ds->notifies,
          (unsigned)ds->interrupts, (unsigned)ds->errors);
}

extern uint8_t _data_start[], _bss_end[];

void board_stat(void)
{
  uint32_t used = (uint32_t)(_bss_end - _data_start), in_use, peak, total;
  struct vcons_stats cst;

  kprintf("                       driver: requests notifies    intrs     done errors"
          " | device: requests notifies    intrs errors\n");
  if (have_disk)
    queue_row("blk", 0, "requestq", &disk.vq, 1, &blk_model.vdm);
  if (have_cons) {
    queue_row("console", 0, "receiveq", &cons.port[0].rxq, 0, &cons_model.vdm);
    queue_row("console", 1, "transmitq", &cons.port[0].txq, 0, &cons_model.vdm);
    if (cons.multiport) {
      queue_row("console", 2, "c-receiveq", &cons.crxq, 0, &cons_model.vdm);
      queue_row("console", 3, "c-transmitq", &cons.ctxq, 0, &cons_model.vdm);
    }
  }
  if (have_rng)
    queue_row("rng", 0, "requestq", &rng.vq, 0, &rng_model.vdm);
  kprintf("  blk driver: %u reads, %u writes, %u errors; device: %u reads, %u writes,"
          " %u failed, %u violations\n", (unsigned)disk.reads, (unsigned)disk.writes,
          (unsigned)disk.errors, (unsigned)blk_model.reads, (unsigned)blk_model.writes,
          (unsigned)blk_model.failed, (unsigned)blk_model.vdm.violations);
  vcons_get_stats(&cons, &cst);
  kprintf("  console driver: %u interrupts, %u bytes in, %u out; device: %u bytes in,"
          " %u out, %u violations\n", (unsigned)cst.interrupts,
          (unsigned)cst.rx_bytes, (unsigned)cst.tx_bytes,
          (unsigned)cons_model.rx_bytes, (unsigned)cons_model.tx_bytes,
          (unsigned)cons_model.vdm.violations);
  kprintf("  console control: %u messages in, %u out, %u dropped; echo on port %d\n",
          (unsigned)cst.ctrl_in, (unsigned)cst.ctrl_out,
          (unsigned)(cst.ctrl_short + cst.ctrl_unknown + cst.ctrl_bad_id + cst.ctrl_bad_state +
                     cst.ctrl_bad_value), vcons_pick_port(&cons));
  kprintf("  uart2: %u interrupts, %u bytes in, %u out; echo: %u bytes\n",
          (unsigned)uart2_stats.irqs, (unsigned)uart2_stats.rx_bytes,
          (unsigned)uart2_stats.tx_bytes, (unsigned)echoed);
  kprintf("  uart0: %u interrupts, %u bytes in, %u ring-full stops, %u overruns; shell: "
          "%u lines, %u too long (%u bytes dropped)\n", (unsigned)uart0_stats.irqs,
          (unsigned)uart0_stats.rx_bytes, (unsigned)uart0_stats.stops,
          (unsigned)uart0_stats.overruns, (unsigned)uart0_stats.lines,
          (unsigned)uart0_stats.long_lines, (unsigned)uart0_stats.long_bytes);
  kprintf("  rng driver: %u interrupts, %u bytes; device: %u bytes, %u violations\n",
          (unsigned)rng.stats.interrupts, (unsigned)rng.stats.bytes,
          (unsigned)rng_model.bytes, (unsigned)rng_model.vdm.violations);
  dma_usage(&in_use, &peak, &total);
  kprintf("memory: SRAM %u bytes, .data+.bss %u, stack %u (deepest %u), free %u;"
          " DMA pool %u/%u in use (peak %u)\n", (unsigned)SRAM_SIZE, (unsigned)used,
          (unsigned)stack_size(), (unsigned)stack_high_water(),
          (unsigned)(SRAM_SIZE - used - stack_size()), (unsigned)in_use, (unsigned)total,
          (unsigned)peak);
  kprintf("uptime %u ms\n", (unsigned)ticks_ms());
}

// ---- `rng` ----

int board_rng(uint32_t n)
{
  uint8_t buf[BOARD_RNG_MAX];
  uint32_t i;
  int got;

  if (!have_rng) {
    kprintf("rng: no virtio-rng device\n");
    return -1;
  }
  if (n > sizeof(buf))   // the shell refuses such counts; never overrun buf
    n = sizeof(buf);
  got = vrng_read(&rng, buf, n);  // the driver copies: any buffer will do
  if (got < 0) {
    kprintf("rng: read failed\n");
    return -1;
  }
  kprintf("rng: %d bytes:", got);
  for (i = 0; i < (uint32_t)got; i++)
    kprintf(" %02x", buf[i]);
  kprintf("\n");
  return 0;
}

// ---- the UART2 echo service ----
//
// Whatever the console driver received goes straight back out, on the
// port a console user gets (vcons_pick_port: port 0, the console port on
// UART2, once the device has announced it). Reads do not block (the shell
// must keep working); a write may sleep while every transmit buffer is
// with the device, and the device gives them back as UART2 drains.

static uint8_t echo_buf[128];

void echo_poll(void)
{
  int n, port;

  if (!have_cons || (port = vcons_pick_port(&cons)) < 0)
    return;
  while ((n = vcons_read(&cons, (uint32_t)port, echo_buf, sizeof(echo_buf), 1)) > 0) {
    if (vcons_write(&cons, (uint32_t)port, echo_buf, (uint32_t)n) != n) {
      kprintf("echo: virtio-console write failed\n");
      return;
    }
    echoed += (uint32_t)n;
  }
}
