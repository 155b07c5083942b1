// virtio.h: names and numbers from the virtio 1.2 specification that every
// part of the portable virtio core shares.
//
// What is here: the virtio-mmio register offsets (section 4.2.2, legacy
// registers from 4.2.4), the device status bits (2.1), the feature bits
// reserved for the transport and the rings (2.2, 6), the device type
// numbers (5), the split virtqueue structures (2.7.5, 2.7.6, 2.7.8) and
// the packed virtqueue structures (2.8.13, 2.8.14), each layout drawn.
// Spec names are kept (VIRTIO_MMIO_QUEUE_NOTIFY is the spec's QueueNotify,
// struct virtq_desc is the spec's struct virtq_desc) so you can read this
// file and the spec side by side.
//
// Nothing here runs by itself. To see it used: `make -C tests/host check`
// (host unit tests against a fake device) or `make qemu` (the real
// QEMU virtio-mmio devices).
//
// Byte order: virtio 1.x rings and registers are little-endian; legacy
// (version 1) devices use the guest's native order. Every CPU this code
// targets (RISC-V, x86-64, Cortex-M3) is little-endian, so both are the
// plain C integer types below; the #error makes a big-endian port stop
// here instead of corrupting rings silently.
#ifndef VIRTIO_H
#define VIRTIO_H
#include <stdint.h>
#include <stddef.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the virtio core assumes a little-endian CPU (see the comment above)"
#endif

// ---- virtio-mmio registers (4.2.2), offsets from the device's base ----
// Every control register is 32 bits wide and must be accessed with aligned
// 32-bit loads and stores.
#define VIRTIO_MMIO_MAGIC_VALUE         0x000  // R: 0x74726976, "virt" in ASCII
#define VIRTIO_MMIO_VERSION             0x004  // R: 2 = modern, 1 = legacy
#define VIRTIO_MMIO_DEVICE_ID           0x008  // R: device type, 0 = empty slot
#define VIRTIO_MMIO_VENDOR_ID           0x00c  // R
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010  // R: 32 feature bits, chosen by ...
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014  // W: ... this word index (0 or 1)
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020  // W: 32 accepted bits, chosen by ...
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024  // W: ... this word index
#define VIRTIO_MMIO_GUEST_PAGE_SIZE     0x028  // W: legacy only (4.2.4)
#define VIRTIO_MMIO_QUEUE_SEL           0x030  // W: the queue the next 9 apply to
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034  // R: largest queue size, 0 = no queue
#define VIRTIO_MMIO_QUEUE_NUM           0x038  // W: queue size the driver chose
#define VIRTIO_MMIO_QUEUE_ALIGN         0x03c  // W: legacy only: used ring alignment
#define VIRTIO_MMIO_QUEUE_PFN           0x040  // RW: legacy only: ring page number
#define VIRTIO_MMIO_QUEUE_READY         0x044  // RW: modern only: 1 = queue usable
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050  // W: "queue N has new buffers"
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060  // R: why the interrupt line is up
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064  // W: bits the driver has handled
#define VIRTIO_MMIO_STATUS              0x070  // RW: device status (2.1), 0 = reset
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080  // W: modern: descriptor table address
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090  // W: modern: available ring address
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0  // W: modern: used ring address
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc  // R: modern: config space version
#define VIRTIO_MMIO_CONFIG              0x100  // device-specific configuration space

#define VIRTIO_MMIO_MAGIC               0x74726976u
#define VIRTIO_MMIO_REGION_SIZE         0x1000  // bytes of address space per device

// InterruptStatus / InterruptACK bits (4.2.2).
#define VIRTIO_MMIO_INT_VRING           (1u << 0)  // a used buffer notification
#define VIRTIO_MMIO_INT_CONFIG          (1u << 1)  // a configuration change notification

// Legacy devices locate the rings by page number. We always tell them
// pages are 4096 bytes and the used ring starts on a 4096-byte boundary.
#define VIRTIO_LEGACY_PAGE_SIZE         4096u
// Conditional because a port short of RAM may pick a smaller power of two
// for the whole build: the Cortex-M3 port (64 KB of SRAM, modern devices
// only) uses -DVIRTIO_LEGACY_QUEUE_ALIGN=16, or every queue would spend
// about 3.5 KB on padding. QueueAlign tells a legacy device the value;
// a modern device only needs the used ring 4-byte aligned (2.7.1).
#ifndef VIRTIO_LEGACY_QUEUE_ALIGN
#define VIRTIO_LEGACY_QUEUE_ALIGN       4096u
#endif

// ---- device status bits (2.1) ----
// The first four in the order the driver sets them while it initialises
// the device (3.1.1), which is not the order of their values: FEATURES_OK
// (8, step 5) comes before DRIVER_OK (4, step 8). Each is added to the
// bits already set; the driver never clears one (2.1.1), and only a reset
// (writing 0) clears them, all at once. The last two are not steps.
#define VIRTIO_STATUS_ACKNOWLEDGE        1   // step 2: the OS found a virtio device
#define VIRTIO_STATUS_DRIVER             2   // step 3: the OS has a driver for it
#define VIRTIO_STATUS_FEATURES_OK        8   // step 5: feature negotiation finished
#define VIRTIO_STATUS_DRIVER_OK          4   // step 8: driver ready, the device may work
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64  // set by the device: it is in an error state
#define VIRTIO_STATUS_FAILED             128 // set by the driver: it gave up on the device

// ---- feature bits not tied to one device type (2.2 and chapter 6) ----
// Bits 0-23 and 50-127 belong to the device type (see virtio_blk.h for the
// block ones); 24-40 are these, for the rings and negotiation.
#define VIRTIO_RING_F_INDIRECT_DESC  28  // descriptors may point at descriptor tables
#define VIRTIO_RING_F_EVENT_IDX      29  // used_event / avail_event suppression
#define VIRTIO_F_INDIRECT_DESC       VIRTIO_RING_F_INDIRECT_DESC  // the 1.x spelling
#define VIRTIO_F_EVENT_IDX           VIRTIO_RING_F_EVENT_IDX
#define VIRTIO_F_VERSION_1           32  // a virtio 1.x (non-legacy) device
#define VIRTIO_F_ACCESS_PLATFORM     33  // device addresses go through an IOMMU
#define VIRTIO_F_RING_PACKED         34  // the packed ring layout (2.8) is available
#define VIRTIO_F_IN_ORDER            35  // buffers are used in the order they were made available
#define VIRTIO_F_ORDER_PLATFORM      36
#define VIRTIO_F_SR_IOV              37
#define VIRTIO_F_NOTIFICATION_DATA   38  // QueueNotify carries more than the queue index
#define VIRTIO_F_NOTIF_CONFIG_DATA   39
#define VIRTIO_F_RING_RESET          40  // single queues can be reset

// ---- device types (chapter 5, the DeviceID register) ----
#define VIRTIO_ID_NET        1
#define VIRTIO_ID_BLOCK      2
#define VIRTIO_ID_CONSOLE    3
#define VIRTIO_ID_ENTROPY    4
#define VIRTIO_ID_BALLOON    5   // traditional memory balloon
#define VIRTIO_ID_SCSI       8
#define VIRTIO_ID_9P         9
#define VIRTIO_ID_GPU        16
#define VIRTIO_ID_INPUT      18
#define VIRTIO_ID_SOCKET     19  // vsock
#define VIRTIO_ID_CRYPTO     20
#define VIRTIO_ID_IOMMU      23
#define VIRTIO_ID_MEM        24
#define VIRTIO_ID_SOUND      25
#define VIRTIO_ID_FS         26
#define VIRTIO_ID_PMEM       27
#define VIRTIO_ID_I2C        34
#define VIRTIO_ID_GPIO       41

// ---- the split virtqueue (2.7) ----
//
// One queue is three areas of memory shared by driver and device. Each
// area has exactly one writer, which is what makes the protocol work
// without locks between the two sides:
//
//   Descriptor Table (Descriptor Area)        written by the DRIVER
//   16 bytes per entry, "size" entries, 16-byte aligned
//   +-------------------------------------------------------------+
//   | [0] addr (u64) | len (u32) | flags (u16) | next (u16)       |
//   | [1] ...          each entry describes one buffer; NEXT in   |
//   | ...              flags chains entries into a request, WRITE |
//   | [size-1]         marks a buffer the device writes into      |
//   +-------------------------------------------------------------+
//
//   Available Ring (Driver Area)              written by the DRIVER
//   +-------+-----+---------+---------+-----+------------+------------+
//   | flags | idx | ring[0] | ring[1] | ... | ring[n-1]  | used_event |
//   +-------+-----+---------+---------+-----+------------+------------+
//   ring[i] = index of the first descriptor (the "head") of a chain the
//   driver hands over. idx counts every head ever added (it wraps at
//   65536); the device reads ring[j % size] for every j it has not seen.
//
//   Used Ring (Device Area)                   written by the DEVICE
//   +-------+-----+----------------+-----+------------------+-------------+
//   | flags | idx | ring[0]        | ... | ring[n-1]        | avail_event |
//   |       |     | {id, len}      |     | {id, len}        |             |
//   +-------+-----+----------------+-----+------------------+-------------+
//   ring[i].id = head of a chain the device has finished with, len = how
//   many bytes it wrote into that chain's WRITE buffers; idx counts every
//   entry ever added, like the available ring's.
//
//   A request's life: driver fills descriptors -> puts the head in the
//   available ring -> advances avail.idx -> writes QueueNotify -> device
//   does the work -> puts {head, len} in the used ring -> advances used.idx
//   -> raises its interrupt -> driver reads the used entry and frees the
//   descriptors.
//
// Legacy (version 1) devices need all three areas in one contiguous block,
// the used ring starting on a QueueAlign boundary (2.7.2); the device is
// told only where the block starts and finds the rest itself, with
// virtq_legacy_used_offset below. virtq.c uses that layout for modern
// devices too, so there is only one.

struct virtq_desc {
  uint64_t addr;   // guest-physical address of the buffer, 64 bits on every CPU
  uint32_t len;    // its length in bytes
  uint16_t flags;  // VIRTQ_DESC_F_*
  uint16_t next;   // next descriptor of the chain when flags has VIRTQ_DESC_F_NEXT
};

#define VIRTQ_DESC_F_NEXT      1  // the chain continues at `next`
#define VIRTQ_DESC_F_WRITE     2  // the device writes this buffer (else it only reads it)
#define VIRTQ_DESC_F_INDIRECT  4  // the buffer is a table of descriptors (VIRTIO_RING_F_INDIRECT_DESC)

struct virtq_avail {
  uint16_t flags;   // VIRTQ_AVAIL_F_NO_INTERRUPT
  uint16_t idx;     // where the driver will put the next head (mod size)
  uint16_t ring[];  // size entries, then a u16 used_event (VIRTIO_RING_F_EVENT_IDX)
};

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1  // driver: "no used buffer notifications, please"

struct virtq_used_elem {
  uint32_t id;   // head of the finished chain (32 bits only for padding)
  uint32_t len;  // bytes the device wrote into the chain
};

struct virtq_used {
  uint16_t flags;                 // VIRTQ_USED_F_NO_NOTIFY
  uint16_t idx;                   // where the device will put the next entry (mod size)
  struct virtq_used_elem ring[];  // size entries, then a u16 avail_event
};

#define VIRTQ_USED_F_NO_NOTIFY 1  // device: "no available buffer notifications, please"

// The device reads these structures with the layout the spec fixes, so the
// compiler must not pad them differently on any CPU we build for.
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc must be 16 bytes");
_Static_assert(offsetof(struct virtq_desc, len) == 8, "virtq_desc.len at 8");
_Static_assert(offsetof(struct virtq_desc, flags) == 12, "virtq_desc.flags at 12");
_Static_assert(offsetof(struct virtq_desc, next) == 14, "virtq_desc.next at 14");
_Static_assert(sizeof(struct virtq_avail) == 4, "virtq_avail header must be 4 bytes");
_Static_assert(offsetof(struct virtq_avail, ring) == 4, "avail.ring at 4");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem must be 8 bytes");
_Static_assert(sizeof(struct virtq_used) == 4, "virtq_used header must be 4 bytes");
_Static_assert(offsetof(struct virtq_used, ring) == 4, "used.ring at 4");

// The legacy layout (2.7.2): where the used ring starts, in bytes from the
// descriptor table, for a queue of `size` entries and a QueueAlign of
// `align` (a power of two). The descriptor table (16 bytes an entry) and
// the available ring (flags, idx, size entries and the used_event word,
// counted whether EVENT_IDX is used or not) come first, then padding up to
// the next multiple of align. The driver lays its rings out with it
// (virtq.c), the transports check them with it (virtio_mmio.c, virtio_pci.c), and the
// device model finds them with it (devmodel/vdm.c): one formula for all.
static inline uint64_t virtq_legacy_used_offset(uint32_t size, uint32_t align)
{
  uint64_t avail_end = 16 * (uint64_t)size + 2 * (3 + (uint64_t)size);
  return (avail_end + align - 1) / align * align;
}

// Little-endian fields in byte buffers (console control messages,
// configuration bytes: 5.3.6.2, 2.5), read and written a byte at a time,
// so that neither the field's alignment in the buffer nor the CPU's own
// byte order matters. The drivers and the device model share them.
static inline uint16_t vio_get_le16(const uint8_t *p)
{
  return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t vio_get_le32(const uint8_t *p)
{
  return (uint32_t)vio_get_le16(p) | (uint32_t)vio_get_le16(p + 2) << 16;
}

static inline void vio_put_le16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static inline void vio_put_le32(uint8_t *p, uint32_t v)
{
  vio_put_le16(p, (uint16_t)v);
  vio_put_le16(p + 2, (uint16_t)(v >> 16));
}

// The largest queue size the spec allows (2.7): sizes are powers of two.
// The packed layout has the same limit (2.8: "up to 2^15 entries").
#define VIRTQ_SIZE_LIMIT 32768

// ---- the packed virtqueue (2.8), with VIRTIO_F_RING_PACKED ----
//
// The transport hands the device the same three addresses as for a split
// ring (QueueDesc, QueueDriver, QueueDevice), but behind them lies one
// ring and two small words instead of three rings:
//
//   Descriptor Ring (Descriptor Area)    written by the DRIVER and the DEVICE
//   16 bytes per entry, "size" entries (any size up to 2^15, 2.8.10.1),
//   16-byte aligned
//   +--------------------------------------------------------------+
//   | [0] addr (u64) | len (u32) | id (u16) | flags (u16)          |
//   | [1] ...          flags: NEXT, WRITE, INDIRECT as in a split  |
//   | ...              ring, plus AVAIL (bit 7) and USED (bit 15)  |
//   | [size-1]                                                     |
//   +--------------------------------------------------------------+
//   The driver fills entries in ring order, [0] again after [size-1], and
//   names each buffer by an id of its choosing (in the last entry of a
//   chain, 2.8.6). The device reads them in the same order and, as it
//   finishes buffers (in any order), writes one used entry {id, len} per
//   buffer over them, again in ring order from [0] on (2.8.12). Nothing
//   says "there is a new entry" except the entry's own flags:
//
//   Each side keeps a wrap counter, 1 at the start, flipped each time it
//   passes the end of the ring (2.8.1). In a lap where the counter is W:
//     driver makes an entry available:  AVAIL = W, USED = !W
//     device marks an entry used:       AVAIL = W, USED = W
//   so an entry left from the lap before (or the zeroes of the first
//   lap) reads as neither: its AVAIL bit is !W.
//
//     the ring from where the driver reads next, in a lap with counter W
//     (drawn as if no part crossed the end of the ring):
//     +-----------------+-------------------+------------------------+
//     | used, not yet   | available, not    | free: left from the    |
//     | read by driver  | used yet          | lap before             |
//     | AVAIL=USED=W    | AVAIL=W, USED=!W  | AVAIL=!W, USED either  |
//     +-----------------+-------------------+------------------------+
//     ^ the driver reads^ the device writes ^ the driver fills its
//       its next used     its next used       next entry here
//       entry here        entry here
//
//   Driver Event Suppression (Driver Area)   written by the DRIVER, read by the device
//   Device Event Suppression (Device Area)   written by the DEVICE, read by the driver
//   4 bytes each, 4-byte aligned (2.8.10.1), both struct pvirtq_event_suppress:
//   +-----------------------------------+-------------------------------+
//   | desc: desc_event_off (bits 0-14), | flags: desc_event_flags       |
//   |       desc_event_wrap (bit 15)    |   (bits 0-1), the rest 0      |
//   +-----------------------------------+-------------------------------+
//   flags ENABLE: "notify me"; DISABLE: "do not"; DESC (only with
//   VIRTIO_F_EVENT_IDX): "notify me once the entry at desc_event_off, in
//   the lap whose wrap counter is desc_event_wrap, is made available (the
//   device's structure) or used (the driver's)". This is the packed
//   ring's notification suppression (2.8.10): the driver's structure
//   governs used buffer notifications (interrupts), the device's one
//   available buffer notifications (QueueNotify writes).
//
//   A request's life: driver fills the entries of its chain -> barrier ->
//   flags of the chain's first entry (now the device may read it) ->
//   QueueNotify unless the device's structure says no -> device does the
//   work -> writes {id, len} -> barrier -> flags (AVAIL = USED = W) ->
//   interrupt unless the driver's structure says no -> driver sees the
//   flags, reads id and len, skips as many entries as the chain had.

struct pvirtq_desc {
  uint64_t addr;   // guest-physical address of the buffer (unused in a used entry)
  uint32_t len;    // its length; in a used entry: bytes the device wrote (2.8.4)
  uint16_t id;     // buffer id: the driver's name for the buffer (2.8.13)
  uint16_t flags;  // VIRTQ_DESC_F_* above, and the two below
};

#define VIRTQ_DESC_F_AVAIL  (1 << 7)   // bit 7: see the wrap counters above (2.8.1)
#define VIRTQ_DESC_F_USED   (1 << 15)  // bit 15

struct pvirtq_event_suppress {
  uint16_t desc;   // desc_event_off | desc_event_wrap << 15 (only with RING_EVENT_FLAGS_DESC)
  uint16_t flags;  // desc_event_flags: RING_EVENT_FLAGS_*; bits 2-15 reserved, 0
};

#define RING_EVENT_FLAGS_ENABLE  0x0  // notify me
#define RING_EVENT_FLAGS_DISABLE 0x1  // do not notify me
#define RING_EVENT_FLAGS_DESC    0x2  // notify me for the entry in `desc` (VIRTIO_F_EVENT_IDX); 0x3 is reserved

_Static_assert(sizeof(struct pvirtq_desc) == 16, "pvirtq_desc must be 16 bytes");
_Static_assert(offsetof(struct pvirtq_desc, len) == 8, "pvirtq_desc.len at 8");
_Static_assert(offsetof(struct pvirtq_desc, id) == 12, "pvirtq_desc.id at 12");
_Static_assert(offsetof(struct pvirtq_desc, flags) == 14, "pvirtq_desc.flags at 14");
_Static_assert(sizeof(struct pvirtq_event_suppress) == 4, "pvirtq_event_suppress must be 4 bytes");
_Static_assert(offsetof(struct pvirtq_event_suppress, flags) == 2, "event flags at 2");

#endif
