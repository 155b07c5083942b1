// vdm.h: the software virtio device model, the DEVICE side of virtio-mmio.
//
// A device here is a block of RAM laid out exactly like the virtio-mmio
// register file (virtio 1.2 section 4.2.2; the legacy layout of 4.2.4 too)
// plus C code that plays the device's part of the protocol. The driver side
// (virtio/) cannot tell it from hardware: it reads the registers
// through vos_mmio_read32 and writes them through vos_mmio_write32, exactly
// as on QEMU's RISC-V `virt` board. The port routes every write into the
// register file to vdm_mmio_write(), which stores the value and runs the
// side effects a real device would: a QueueNotify makes the device pop the
// available ring, do the work, push a used element, set InterruptStatus and
// raise its interrupt; Status, QueueReady and InterruptACK do what 2.1,
// 4.2.3.2 and 4.2.3.4 say. Reads need no code at all: whatever a read would
// return is kept up to date in the RAM words (DeviceFeatures for the current
// DeviceFeaturesSel, QueueNumMax and QueueReady for the current QueueSel ...).
//
// Who uses it:
//   cm3/        the Cortex-M3 board, which has no virtio hardware:
//                      blk, console and entropy devices live in its SRAM
//   tests/host/        the host unit tests drive the portable drivers
//                      against it and make it misbehave on purpose
//
// One model, many device types: the core (vdm.c) knows the transport and
// both virtqueue layouts, split (2.7) and packed (2.8, offered on every
// modern device: VIRTIO_F_RING_PACKED); a device type supplies a `struct vdm_ops`, the same
// shape as a VMM's device trait (device type, queue count and size, device
// and driver features, config read/write, activate, reset) plus one hook
// for "there is new work in queue q":
//   vdm_blk.c      virtio-blk     (5.2)  backend: a RAM disk (vdm_ramdisk.c)
//   vdm_console.c  virtio-console (5.3)  backend: any byte stream (UART2 on the M3)
//   vdm_rng.c      virtio-rng     (5.4)  backend: a PRNG (vdm_prng.c)
//   vdm_net.c      virtio-net     (5.1)  backend: loopback, or any frame sink
//                                        (host tests only: the M3 has no room)
//
// Portable C: only <stdint.h>, <stddef.h>, virtio_os.h (for vos_mb and
// vos_log), virtio/virtio.h for the spec's numbers and virtio/virtq_trace.h
// for recording the device's side of a queue (vdm_trace_start). The port
// supplies vdm_port_mem() below and the interrupt callback in struct vdm.
//
// Distrust of the driver: every address the driver hands over is checked
// through vdm_port_mem() before it is touched, chains are walked with a
// bound, and every access the spec forbids the driver is counted in
// `violations` (the host tests require zero). A careless driver can make
// the device fail its requests, never make it write outside the buffers
// the driver handed over.
//
// See it run: `make -C tests/host check` (every test runs against this
// model) and `make qemu-cm3` (the `devs` and `stat` commands).
#ifndef VDM_H
#define VDM_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"

struct vtrace;  // virtio/virtq_trace.h

// The largest QueueNumMax a model offers; the per-queue list of requests
// the device holds has this many entries (2 bytes each). The M3 build
// lowers it with -DVDM_QUEUE_MAX=16.
#ifndef VDM_QUEUE_MAX
#define VDM_QUEUE_MAX 256
#endif
// Queues a device may have: the console with MULTIPORT has 2 + 2 per port
// (vdm_console.h: 10 for its default 4 ports); net has two, blk and rng
// one. Every device carries this many struct vdm_queue, so the M3 build
// lowers it with its console's port count (-DVDM_MAX_QUEUES=6).
#ifndef VDM_MAX_QUEUES
#define VDM_MAX_QUEUES  10
#endif
// The copies of packed ring entries (struct vdm_pcopy) a device keeps,
// for all its queues together: each queue gets an equal share, and on the
// packed ring the device's QueueNumMax is no larger than that share (a
// device may size its queues by the features negotiated before them,
// 4.2.3.2). The default never limits a queue; the M3 build, whose blk and
// rng models have one queue each but room for six, lowers it with
// -DVDM_PCOPY_MAX=32.
#ifndef VDM_PCOPY_MAX
#define VDM_PCOPY_MAX   (VDM_MAX_QUEUES * VDM_QUEUE_MAX)
#endif
#define VDM_CONFIG_SIZE 64   // bytes of device configuration space we model
// The longest descriptor chain a request may have (the chain is resolved
// into an array of this many entries on the stack). The host tests raise
// it with -DVDM_MAX_SEGS=520 to take the longest chains a queue of 256 allows.
#ifndef VDM_MAX_SEGS
#define VDM_MAX_SEGS    16
#endif
#define VDM_STATUS_LOG  16

// ---- the register file (4.2.2), as the driver sees it in memory ----
// Offsets are the spec's; _Static_asserts in vdm.c pin every one.
struct vdm_regs {
  uint32_t magic;               // 0x000 R  "virt"
  uint32_t version;             // 0x004 R  2 modern, 1 legacy
  uint32_t device_id;           // 0x008 R
  uint32_t vendor_id;           // 0x00c R
  uint32_t device_features;     // 0x010 R  the word DeviceFeaturesSel picks
  uint32_t device_features_sel; // 0x014 W
  uint32_t rsv0[2];
  uint32_t driver_features;     // 0x020 W
  uint32_t driver_features_sel; // 0x024 W
  uint32_t guest_page_size;     // 0x028 W  legacy
  uint32_t rsv1;
  uint32_t queue_sel;           // 0x030 W
  uint32_t queue_num_max;       // 0x034 R  of the selected queue
  uint32_t queue_num;           // 0x038 W
  uint32_t queue_align;         // 0x03c W  legacy
  uint32_t queue_pfn;           // 0x040 RW legacy
  uint32_t queue_ready;         // 0x044 RW modern
  uint32_t rsv2[2];
  uint32_t queue_notify;        // 0x050 W
  uint32_t rsv3[3];
  uint32_t interrupt_status;    // 0x060 R
  uint32_t interrupt_ack;       // 0x064 W
  uint32_t rsv4[2];
  uint32_t status;              // 0x070 RW
  uint32_t rsv5[3];
  uint32_t queue_desc_low;      // 0x080 W
  uint32_t queue_desc_high;     // 0x084 W
  uint32_t rsv6[2];
  uint32_t queue_driver_low;    // 0x090 W
  uint32_t queue_driver_high;   // 0x094 W
  uint32_t rsv7[2];
  uint32_t queue_device_low;    // 0x0a0 W
  uint32_t queue_device_high;   // 0x0a4 W
  uint32_t rsv8;
  uint32_t shm_sel;             // 0x0ac W  shared memory regions: we have none,
  uint32_t shm_len_low;         // 0x0b0 R  so the length reads as all ones
  uint32_t shm_len_high;        // 0x0b4 R
  uint32_t shm_base_low;        // 0x0b8 R
  uint32_t shm_base_high;       // 0x0bc R
  uint32_t queue_reset;         // 0x0c0 RW only with VIRTIO_F_RING_RESET (not offered)
  uint32_t rsv9[14];
  uint32_t config_generation;   // 0x0fc R
  uint32_t config[VDM_CONFIG_SIZE / 4];  // 0x100 device-specific, little-endian
};

// ---- misbehaviour on request (the host tests and `make check` use them) ----
enum vdm_fault {
  VDM_FAULT_NONE,
  VDM_FAULT_IOERR,          // blk: status VIRTIO_BLK_S_IOERR
  VDM_FAULT_UNSUPP,         // blk: status VIRTIO_BLK_S_UNSUPP
  VDM_FAULT_BAD_STATUS,     // blk: status 9, which the spec does not define
  VDM_FAULT_NO_STATUS,      // blk: complete without writing the status byte
  VDM_FAULT_BAD_ID,         // used.id = queue size + 5 (out of range)
  VDM_FAULT_DUP_ID,         // used.id of a request already returned
  VDM_FAULT_BIG_LEN,        // used.len 4096 bytes more than the chain can take
  VDM_FAULT_IDX_JUMP,       // used.idx jumps 40 past the entries written; packed:
                            // the used entry carries the wrap counter of a lap ahead
  VDM_FAULT_NEVER,          // never complete anything
  VDM_FAULT_NEEDS_RESET,    // DEVICE_NEEDS_RESET + config interrupt instead of completing
  VDM_FAULT_RESET_INFLIGHT, // the device resets itself while it holds requests
  VDM_FAULT_REFUSE_FEATURES,// leave FEATURES_OK clear: "cannot work with these features"
  VDM_FAULT_SHORT_LEN,      // used.len 2 when the device wrote more: shorter than any
                            // header a driver expects back (net: 10 or 12 bytes)
  VDM_FAULT_SCRIBBLE,       // split: once a chain is in the used ring, rewrite its
                            // descriptors' next and flags (a device may: the driver
                            // must find its free list in its own memory, not there)
  VDM_FAULT_COUNT
};
const char *vdm_fault_name(enum vdm_fault f);

// Events reported to an optional observer (tests record orderings).
#define VDM_EV_POP  1   // the device took a chain off the available ring
#define VDM_EV_DONE 2   // the device put it on the used ring

struct vdm_queue_stats {
  uint32_t notifies;    // QueueNotify writes for this queue
  uint32_t requests;    // chains taken off the available ring
  uint32_t completions; // chains put on the used ring
  uint32_t interrupts;  // used buffer notifications sent
  uint32_t errors;      // malformed chains and requests that failed
  uint32_t indirect;    // chains that came in an indirect table (2.7.5.3)
};

// The packed layout (2.8): a buffer's ring entries, copied as the device
// takes the buffer off the ring. The device must keep them: the used
// entries it writes later, in the order buffers finish, may land on top
// of entries of buffers it still holds (2.8.6, 2.8.12).
struct vdm_pcopy {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t link;   // the buffer's next copy; on the free list, the next free one
  uint16_t id;     // first copy only: the buffer id (from the list's last entry)
  uint16_t nent;   // first copy only: ring entries the buffer took
  uint8_t  bad;    // first copy only: the list broke a rule (a violation was
                   // counted); it goes back with len 0, nothing touched
};

struct vdm_queue {
  uint16_t num;           // QueueNum: entries in each ring
  uint16_t last_avail;    // the next available ring entry we will read
  uint16_t used_idx;      // our copy of used.idx
  uint8_t  ready;         // modern QueueReady, or legacy QueuePFN != 0
  uint32_t align;         // legacy QueueAlign
  uint32_t pfn;           // legacy QueuePFN
  uint64_t desc_pa, driver_pa, device_pa;
  uint16_t npending;      // chains we hold (popped, not yet used) ...
  uint16_t pending[VDM_QUEUE_MAX];  // ... their heads, oldest first (packed:
                                    // each buffer's first copy in copy[])
  struct vdm_queue_stats stats;
  // The device's half of a recording (virtio/virtq_trace.h), or NULL.
  // A reset keeps it: the recording outlives the queue's set-up.
  struct vtrace *trace;
  uint8_t trace_id;       // the id the driver's half of the recording uses

  // ---- the packed layout, with VIRTIO_F_RING_PACKED (vdm.c, 2.8) ----
  uint16_t avail_pos;     // the ring entry we read next ...
  uint8_t  avail_wrap;    // ... and the driver's wrap counter it must show
  uint8_t  used_wrap;     // the Device Ring Wrap Counter (2.8.1) ...
  uint16_t used_pos;      // ... and where our next used entry goes
  uint16_t copy_free;     // first free slot of copy[]
  struct vdm_pcopy *copy; // this queue's share of the device's pcopy[]: num slots
};

struct vdm;

// The device trait: what a device type tells the core.
struct vdm_ops {
  const char *name;
  uint32_t device_id;       // DeviceID (chapter 5)
  uint16_t num_queues;      // <= VDM_MAX_QUEUES
  uint16_t queue_max;       // QueueNumMax of every queue (<= VDM_QUEUE_MAX)
  uint64_t (*device_features)(struct vdm *d);
  // The driver set FEATURES_OK with these features: 0 accept, -1 refuse.
  int      (*set_driver_features)(struct vdm *d, uint64_t features);
  // Render the configuration space (len bytes, little-endian) into cfg.
  void     (*config_read)(struct vdm *d, uint8_t *cfg, uint32_t len);
  // The driver wrote a 32-bit word of configuration space.
  void     (*config_write)(struct vdm *d, uint32_t off, uint32_t val);
  void     (*activate)(struct vdm *d);  // DRIVER_OK: start the backend
  void     (*reset)(struct vdm *d);     // forget every request, quiet the backend
  // Queue q has chains the device holds (q->pending): do what can be done.
  void     (*queue_work)(struct vdm *d, int q);
};

struct vdm {
  // The register file comes first, so the device's base address is the
  // address of the struct; the port finds the device from an address with
  // vdm_contains().
  struct vdm_regs regs;
  const struct vdm_ops *ops;

  uint64_t offered;          // device features (ops->device_features at attach)
  uint64_t driver_features;  // what the driver wrote to DriverFeatures
  uint64_t features;         // accepted at FEATURES_OK (legacy: at DRIVER_OK)
  uint16_t queue_max;        // QueueNumMax (ops->queue_max; tests change it)
  struct vdm_queue q[VDM_MAX_QUEUES];
  struct vdm_pcopy pcopy[VDM_PCOPY_MAX];  // the queues' shares (vdm_queue.copy)

  // 1: a QueueNotify write does the work before the write returns (the
  // M3: the "device" runs on the CPU that notified it). 0: it only counts,
  // and vdm_run() does the work later (the host tests: a device running
  // beside the driver, which lets requests pile up).
  int sync_notify;
  // The interrupt line (the port's; may be NULL). Called whenever the
  // device sets an InterruptStatus bit it has not suppressed.
  void (*raise_irq)(void *arg);
  void *irq_arg;

  // Misbehaviour and test knobs.
  enum vdm_fault fault;
  int reverse;          // finish held requests newest first
  int complete_on_ack;  // finish one request per vdm_run, the rest just
                        // before an InterruptACK write lands
  int no_notify;        // set VIRTQ_USED_F_NO_NOTIFY (packed: RING_EVENT_FLAGS_DISABLE):
                        // "I poll, do not notify"
  int event_idx_hold;   // EVENT_IDX: leave avail_event (packed: the Device Event
                        // Suppression structure) alone (a busy device that is
                        // not waiting for notifications)
  // head: the chain's head (packed: its buffer id)
  void (*observer)(struct vdm *d, int event, int q, uint16_t head);
  void (*on_config_read)(struct vdm *d, uint32_t off);  // after a config word is read
  void *test_arg;

  // What happened (for tests and the `stat` command).
  uint32_t status_log[VDM_STATUS_LOG];  // every value the driver wrote to Status
  int nstatus_log;
  int gen_reads;          // ConfigGeneration reads (vdm_mmio_read only)
  int devid_read;         // DeviceID was read ...
  int reads_after_devid;  // ... and these register reads followed it
  uint32_t irqs;          // interrupts raised
  uint32_t resets;        // device resets (driver's or our own)
  int self_reset;         // we reset ourselves (RESET_INFLIGHT, vdm_reset) and the
                          // driver has not reset us since: it cannot know, so
                          // its notifications meanwhile are not its fault
  int violations;         // driver actions the spec forbids
  const char *first_violation;
  uint32_t violation_arg;
};

// Set up `d` as a device of the given type and version (2 modern, 1 legacy)
// and reset it. The caller then sets sync_notify / raise_irq / knobs.
void     vdm_attach(struct vdm *d, const struct vdm_ops *ops, uint32_t version);
// The register file's address, and whether addr falls inside it.
uintptr_t vdm_base(struct vdm *d);
int      vdm_contains(struct vdm *d, uintptr_t addr);

// A driver store to the register file (the port calls this from
// vos_mmio_write32). off is the byte offset, a multiple of 4.
void     vdm_mmio_write(struct vdm *d, uint32_t off, uint32_t val);
// A driver load, with the spec checks (reads of write-only registers ...)
// and counters the host tests want. A port may instead read the RAM word
// directly: the value is the same.
uint32_t vdm_mmio_read(struct vdm *d, uint32_t off);

// Do all the work the device can do now: take new chains off every live
// queue and let the device type work on them (also for a driver that did
// not notify because we set VIRTQ_USED_F_NO_NOTIFY).
void     vdm_run(struct vdm *d);
// The device's half of "is the interrupt line up" (InterruptStatus != 0).
int      vdm_irq_pending(struct vdm *d);
// Reset the device from its own side (as on a Status write of 0).
void     vdm_reset(struct vdm *d);

// ---- for device types ----

// A chain resolved to memory the device may touch. Readable segments come
// first (2.7.4.2); `readable` and `writable` are the byte totals.
struct vdm_seg {
  uint8_t *p;
  uint32_t len;
  uint8_t write;
};
struct vdm_chain {
  int n;
  int indirect;          // it came in an indirect table
  uint32_t readable, writable;
  struct vdm_seg seg[VDM_MAX_SEGS];
};

// Walk the chain at `head` of queue q (following an indirect table when the
// driver negotiated VIRTIO_RING_F_INDIRECT_DESC). 0, or -1 when the chain
// is malformed (counted as a violation). head is what q->pending holds:
// a head, or with the packed layout a buffer's first copy.
int      vdm_chain_get(struct vdm *d, int q, uint16_t head, struct vdm_chain *c);
// Where byte `off` of the chain's readable (write = 0) or writable
// (write = 1) bytes is, and how many contiguous bytes follow it there.
// NULL when off is past the end.
uint8_t *vdm_chain_at(struct vdm_chain *c, int write, uint32_t off, uint32_t *room);
// Copy between a chain and plain memory; returns the bytes copied.
uint32_t vdm_chain_read(struct vdm_chain *c, uint32_t off, void *dst, uint32_t n);
uint32_t vdm_chain_write(struct vdm_chain *c, uint32_t off, const void *src, uint32_t n);

// Record the device's side of queue q into t, under the id the driver's
// side of the same queue got from virtq_trace_start, so that one replay
// shows both halves: where the device stands now, then every chain it
// pops, every used element it writes, every avail_event it sets and every
// interrupt it sends or suppresses. vdm_trace_stop ends it.
void     vdm_trace_start(struct vdm *d, int q, struct vtrace *t, int qid);
void     vdm_trace_stop(struct vdm *d, int q);

// Is queue q live (DRIVER_OK, ready, not stopped by a fault)?
int      vdm_queue_live(struct vdm *d, int q);
// Take the chains the driver has published on live queue q into
// q->pending without waiting for a notification or for vdm_run, and
// without calling queue_work: for a device type that needs a buffer the
// moment something arrives from outside (net: a frame off the wire).
void     vdm_queue_fetch(struct vdm *d, int q);
// Give the chain held at position i of q->pending back to the driver with
// `len` bytes written. Applies the used-ring faults. 0 done; -1 the
// device's fault kept it (the caller must stop working on q for now).
int      vdm_complete(struct vdm *d, int q, int i, uint32_t len);
// For device types that can finish any request at once (blk, rng): finish
// the held requests in the order the knobs ask for; `work` does the
// request and returns used.len.
void     vdm_finish_held(struct vdm *d, int q,
                         uint32_t (*work)(struct vdm *d, int q, uint16_t head));
// The type changed its configuration: re-render it, bump ConfigGeneration,
// and if `notify` send a configuration change notification.
void     vdm_config_changed(struct vdm *d, int notify);
// Count something the driver did wrong.
void     vdm_violation(struct vdm *d, const char *what, uint32_t arg);
int      vdm_has_feature(struct vdm *d, int bit);

// ---- supplied by the port ----
// The device's view of driver memory: a pointer to [pa, pa + len) if that
// whole range is memory the driver may hand a device, else NULL.
void    *vdm_port_mem(uint64_t pa, uint64_t len);

#endif
