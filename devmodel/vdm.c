// vdm.c: the core of the software virtio device model: the virtio-mmio
// register file and its side effects, and the device's half of the split
// virtqueue. See vdm.h for the picture.
//
// Follows virtio 1.2, read from the device's side:
//   4.2.2  the register layout (struct vdm_regs) and what each register
//          does; 4.2.3.2 queue configuration; 4.2.3.3/4.2.3.4 the two
//          kinds of notification; 4.2.4 the legacy registers
//   2.1    device status (and 2.1.2: DEVICE_NEEDS_RESET)
//   2.2    feature negotiation (2.2.2: a device that cannot work with the
//          driver's features leaves FEATURES_OK clear)
//   2.4    device reset, 2.5 configuration space and ConfigGeneration
//   2.7    split virtqueues: 2.7.5 descriptors, 2.7.5.3 indirect tables,
//          2.7.6 available ring, 2.7.8 used ring, 2.7.7 / 2.7.10
//          notification suppression (flags and EVENT_IDX), 2.7.2 legacy layout
//   2.8    packed virtqueues, the device's half (the section "the packed
//          ring" below): 2.8.1 wrap counters, 2.8.6 lists and skipping,
//          2.8.7 indirect tables, 2.8.10 / 2.8.14 event suppression,
//          2.8.15 and 2.8.18 what the device must do, 2.8.21 / 2.8.22 the
//          order of stores seen from the other side
//
// The model runs on the CPU the driver runs on, so "the device's memory
// accesses" are ordinary loads and stores; the barriers are there anyway,
// at the places a device on another core would need them, so the code
// reads like the protocol it implements.
//
// See it run: `make -C tests/host check`, `make qemu-cm3`.
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtq_trace.h"
#include "vdm.h"

// The register file must match 4.2.2 byte for byte.
_Static_assert(offsetof(struct vdm_regs, device_features) == VIRTIO_MMIO_DEVICE_FEATURES, "0x010");
_Static_assert(offsetof(struct vdm_regs, driver_features) == VIRTIO_MMIO_DRIVER_FEATURES, "0x020");
_Static_assert(offsetof(struct vdm_regs, guest_page_size) == VIRTIO_MMIO_GUEST_PAGE_SIZE, "0x028");
_Static_assert(offsetof(struct vdm_regs, queue_sel) == VIRTIO_MMIO_QUEUE_SEL, "0x030");
_Static_assert(offsetof(struct vdm_regs, queue_pfn) == VIRTIO_MMIO_QUEUE_PFN, "0x040");
_Static_assert(offsetof(struct vdm_regs, queue_ready) == VIRTIO_MMIO_QUEUE_READY, "0x044");
_Static_assert(offsetof(struct vdm_regs, queue_notify) == VIRTIO_MMIO_QUEUE_NOTIFY, "0x050");
_Static_assert(offsetof(struct vdm_regs, interrupt_status) == VIRTIO_MMIO_INTERRUPT_STATUS, "0x060");
_Static_assert(offsetof(struct vdm_regs, interrupt_ack) == VIRTIO_MMIO_INTERRUPT_ACK, "0x064");
_Static_assert(offsetof(struct vdm_regs, status) == VIRTIO_MMIO_STATUS, "0x070");
_Static_assert(offsetof(struct vdm_regs, queue_desc_low) == VIRTIO_MMIO_QUEUE_DESC_LOW, "0x080");
_Static_assert(offsetof(struct vdm_regs, queue_driver_low) == VIRTIO_MMIO_QUEUE_DRIVER_LOW, "0x090");
_Static_assert(offsetof(struct vdm_regs, queue_device_low) == VIRTIO_MMIO_QUEUE_DEVICE_LOW, "0x0a0");
_Static_assert(offsetof(struct vdm_regs, shm_sel) == 0x0ac, "SHMSel at 0x0ac");
_Static_assert(offsetof(struct vdm_regs, queue_reset) == 0x0c0, "QueueReset at 0x0c0");
_Static_assert(offsetof(struct vdm_regs, config_generation) == VIRTIO_MMIO_CONFIG_GENERATION, "0x0fc");
_Static_assert(offsetof(struct vdm_regs, config) == VIRTIO_MMIO_CONFIG, "0x100");
_Static_assert(offsetof(struct vdm, regs) == 0, "the register file starts the device");
_Static_assert(VDM_QUEUE_MAX <= VIRTQ_SIZE_LIMIT && (VDM_QUEUE_MAX & (VDM_QUEUE_MAX - 1)) == 0,
               "VDM_QUEUE_MAX: a power of two the spec allows");

#define REG(field) ((uint32_t)offsetof(struct vdm_regs, field))
#define CONFIG_END (VIRTIO_MMIO_CONFIG + VDM_CONFIG_SIZE)

// ---- small helpers ----

static const char *const fault_names[VDM_FAULT_COUNT] = {
  "none", "ioerr", "unsupp", "bad-status", "no-status", "bad-id", "dup-id",
  "big-len", "idx-jump", "never", "needs-reset", "reset-inflight", "refuse-features",
  "short-len", "scribble",
};

const char *vdm_fault_name(enum vdm_fault f)
{
  if ((unsigned)f >= VDM_FAULT_COUNT)
    return "?";
  return fault_names[f];
}

void vdm_violation(struct vdm *d, const char *what, uint32_t arg)
{
  if (d->violations++ == 0) {
    d->first_violation = what;
    d->violation_arg = arg;
    vos_log("vdm %s: driver broke a spec rule: %s (0x%x)\n", d->ops->name, what,
            (unsigned)arg);
  }
}

int vdm_has_feature(struct vdm *d, int bit)
{
  return (d->features >> bit) & 1;
}

static int modern(struct vdm *d)
{
  return d->regs.version == 2;
}

// The ring layout is the whole device's, fixed at FEATURES_OK (2.8).
static int packed(struct vdm *d)
{
  return vdm_has_feature(d, VIRTIO_F_RING_PACKED);
}

// Ring memory is read and written through volatile pointers: the driver
// is the other party, and the compiler must not cache or merge accesses.
static uint16_t ld16(const uint8_t *p)
{
  return *(const volatile uint16_t *)p;
}

static uint32_t ld32(const uint8_t *p)
{
  return *(const volatile uint32_t *)p;
}

static uint64_t ld64(const uint8_t *p)
{
  return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

static void st16(uint8_t *p, uint16_t v)
{
  *(volatile uint16_t *)p = v;
}

static void st32(uint8_t *p, uint32_t v)
{
  *(volatile uint32_t *)p = v;
}

// The three ring areas of queue q, checked against the port's idea of
// driver memory every time (the driver might have freed them). Each split
// ring size includes the trailing event word (2.7.6, 2.7.8). In the
// packed layout the descriptor area is the ring (16 bytes an entry too)
// and the other two are the 4-byte event suppression structures
// (2.8.10.1); avail_area is then the driver's one, used_area ours.
static uint8_t *desc_area(struct vdm *d, struct vdm_queue *q)
{
  return vdm_port_mem(q->desc_pa, 16ull * q->num);
}

static uint8_t *avail_area(struct vdm *d, struct vdm_queue *q)
{
  return vdm_port_mem(q->driver_pa, packed(d) ? 4ull : 6ull + 2ull * q->num);
}

static uint8_t *used_area(struct vdm *d, struct vdm_queue *q)
{
  return vdm_port_mem(q->device_pa, packed(d) ? 4ull : 6ull + 8ull * q->num);
}

static void raise_irq(struct vdm *d, uint32_t why)
{
  // >>> lab devmodel: the reason's bit into InterruptStatus, counted in d->irqs, then the wire: d->raise_irq(d->irq_arg) if the port gave one (4.2.2, 4.2.3.4)
  d->regs.interrupt_status |= why;
  d->irqs++;
  if (d->raise_irq)
    d->raise_irq(d->irq_arg);
  // <<< lab devmodel
}

// ---- configuration space (2.5) ----

static void render_config(struct vdm *d)
{
  uint8_t cfg[VDM_CONFIG_SIZE];
  uint32_t i;

  for (i = 0; i < VDM_CONFIG_SIZE; i++)
    cfg[i] = 0;
  if (d->ops->config_read)
    d->ops->config_read(d, cfg, VDM_CONFIG_SIZE);
  // Configuration fields are little-endian (2.5 for modern devices; on
  // every CPU we target the legacy "native" order is the same).
  for (i = 0; i < VDM_CONFIG_SIZE / 4; i++)
    d->regs.config[i] = (uint32_t)cfg[4 * i] | (uint32_t)cfg[4 * i + 1] << 8 |
                        (uint32_t)cfg[4 * i + 2] << 16 | (uint32_t)cfg[4 * i + 3] << 24;
}

void vdm_config_changed(struct vdm *d, int notify)
{
  render_config(d);
  // A driver that read part of the old space and part of the new one sees
  // the generation change and reads again (2.5.1).
  d->regs.config_generation++;
  if (notify && (d->regs.status & VIRTIO_STATUS_DRIVER_OK))
    raise_irq(d, VIRTIO_MMIO_INT_CONFIG);
}

// ---- what reads return: kept current in the RAM words ----

static void refresh_feature_window(struct vdm *d)
{
  uint32_t sel = d->regs.device_features_sel;

  if (sel == 0)
    d->regs.device_features = (uint32_t)d->offered;
  else if (sel == 1 && modern(d))
    d->regs.device_features = (uint32_t)(d->offered >> 32);
  else
    d->regs.device_features = 0;  // a legacy device has 32 feature bits
}

// A queue's share of the device's copies of packed ring entries (vdm.h,
// VDM_PCOPY_MAX): on the packed ring QueueNumMax is no larger.
static uint32_t copy_share(struct vdm *d)
{
  return VDM_PCOPY_MAX / d->ops->num_queues;
}

// QueueNumMax of every queue (4.2.2). The driver reads it after the
// features are settled (4.2.3.2), so it may depend on them.
static uint32_t queue_num_max(struct vdm *d)
{
  if (packed(d) && copy_share(d) < d->queue_max)
    return copy_share(d);
  return d->queue_max;
}

static void refresh_queue_window(struct vdm *d)
{
  uint32_t sel = d->regs.queue_sel;

  if (sel < d->ops->num_queues) {
    d->regs.queue_num_max = queue_num_max(d);
    d->regs.queue_ready = modern(d) ? d->q[sel].ready : 0;
    d->regs.queue_pfn = modern(d) ? 0 : d->q[sel].pfn;
  } else {
    d->regs.queue_num_max = 0;  // "this queue does not exist"
    d->regs.queue_ready = 0;
    d->regs.queue_pfn = 0;
  }
}

// ---- reset (2.4) ----

static void device_reset(struct vdm *d)
{
  int i;

  d->resets++;
  for (i = 0; i < VDM_MAX_QUEUES; i++) {
    struct vdm_queue *q = &d->q[i];
    q->num = 0;
    q->last_avail = 0;
    q->used_idx = 0;
    q->ready = 0;
    q->align = 0;
    q->pfn = 0;
    q->desc_pa = q->driver_pa = q->device_pa = 0;
    q->npending = 0;  // whatever we held is forgotten, never written to
    q->avail_pos = q->used_pos = 0;
    q->avail_wrap = q->used_wrap = 1;
    // Queue i's share of the copies: a fixed slice of pcopy[].
    q->copy = i < d->ops->num_queues ? &d->pcopy[(size_t)i * copy_share(d)] : 0;
  }
  d->driver_features = 0;
  d->features = 0;
  d->regs.status = 0;
  d->regs.interrupt_status = 0;
  d->regs.device_features_sel = 0;
  d->regs.driver_features_sel = 0;
  d->regs.queue_sel = 0;
  d->regs.guest_page_size = 0;
  if (d->ops->reset)
    d->ops->reset(d);
  render_config(d);
  refresh_feature_window(d);
  refresh_queue_window(d);
}

void vdm_reset(struct vdm *d)
{
  device_reset(d);
  d->self_reset = 1;
}

void vdm_attach(struct vdm *d, const struct vdm_ops *ops, uint32_t version)
{
  uint32_t *w = (uint32_t *)&d->regs;
  size_t i;

  for (i = 0; i < sizeof(d->regs) / 4; i++)
    w[i] = 0;
  d->ops = ops;
  d->regs.magic = VIRTIO_MMIO_MAGIC;
  d->regs.version = version;
  d->regs.device_id = ops->device_id;
  d->regs.vendor_id = 0x4d445456;  // "VTDM" in little-endian ASCII: ours
  // No shared memory regions: their length reads as all ones (4.2.2).
  d->regs.shm_len_low = d->regs.shm_len_high = 0xffffffffu;
  d->regs.shm_base_low = d->regs.shm_base_high = 0xffffffffu;
  d->offered = ops->device_features ? ops->device_features(d) : 0;
  // Every modern device speaks both ring layouts; a legacy one cannot
  // offer the packed one (bit 34 is past its 32 feature bits).
  if (version == 2)
    d->offered |= (uint64_t)1 << VIRTIO_F_VERSION_1 | (uint64_t)1 << VIRTIO_F_RING_PACKED;
  else
    d->offered &= 0xffffffffu;
  d->queue_max = ops->queue_max;
  d->sync_notify = 0;
  d->raise_irq = 0;
  d->irq_arg = 0;
  d->fault = VDM_FAULT_NONE;
  d->reverse = d->complete_on_ack = d->no_notify = d->event_idx_hold = 0;
  d->observer = 0;
  d->on_config_read = 0;
  d->nstatus_log = 0;
  d->gen_reads = d->devid_read = d->reads_after_devid = 0;
  d->irqs = d->resets = 0;
  d->self_reset = 0;
  d->violations = 0;
  d->first_violation = 0;
  d->violation_arg = 0;
  for (i = 0; i < VDM_MAX_QUEUES; i++) {
    struct vdm_queue_stats *s = &d->q[i].stats;
    s->notifies = s->requests = s->completions = s->interrupts = s->errors = 0;
    s->indirect = 0;
    d->q[i].trace = 0;
  }
  device_reset(d);
  d->resets = 0;
}

uintptr_t vdm_base(struct vdm *d)
{
  return (uintptr_t)&d->regs;
}

int vdm_contains(struct vdm *d, uintptr_t addr)
{
  return addr >= vdm_base(d) && addr - vdm_base(d) < sizeof(d->regs);
}

// ---- the available ring (2.7.6) ----

int vdm_queue_live(struct vdm *d, int qi)
{
  struct vdm_queue *q = &d->q[qi];
  uint32_t st = d->regs.status;

  if (qi >= d->ops->num_queues || !q->ready || q->num == 0)
    return 0;
  if (!(st & VIRTIO_STATUS_DRIVER_OK) || (st & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
    return 0;
  if (!desc_area(d, q) || !avail_area(d, q) || !used_area(d, q)) {
    vdm_violation(d, "ring outside driver memory", (uint32_t)qi);
    q->ready = 0;
    return 0;
  }
  return 1;
}

static void pop_packed(struct vdm *d, int qi);

// Move every head the driver has published into q->pending.
static void pop_avail(struct vdm *d, int qi)
{
  struct vdm_queue *q = &d->q[qi];
  uint8_t *avail = avail_area(d, q);
  uint8_t *used = used_area(d, q);
  uint16_t idx, head = 0;

  if (packed(d)) {
    pop_packed(d, qi);
    return;
  }
  for (;;) {
    // >>> lab devmodel: read avail.idx (the driver's), then the barrier that keeps every later read of the ring after it
    idx = ld16(avail + 2);
    // 2.7.13.3 from the other side: the driver wrote the ring entries,
    // then avail.idx. We read idx first; entries after this barrier.
    vos_mb();
    // === stub
    // // Nothing published is seen: the device takes no request.
    // return;
    // <<< lab devmodel
    // (Unless our own fault moved used.idx: then the count means nothing.)
    if ((uint16_t)(idx - q->used_idx) > q->num && d->fault != VDM_FAULT_IDX_JUMP &&
        d->fault != VDM_FAULT_DUP_ID)
      vdm_violation(d, "avail.idx more than a ring ahead of used.idx", idx);
    while (q->last_avail != idx) {
      if (q->npending >= q->num || q->npending >= VDM_QUEUE_MAX) {
        vdm_violation(d, "more chains available than the ring holds", idx);
        break;
      }
      // >>> lab devmodel: the head in ring entry last_avail (2.7.6), one entry on; refuse a head that is no descriptor (a violation, an error); hold the chain in q->pending, counted
      head = ld16(avail + 4 + 2 * (q->last_avail % q->num));
      q->last_avail++;
      if (head >= q->num) {
        vdm_violation(d, "available ring entry is not a descriptor", head);
        q->stats.errors++;
        continue;  // nothing we could ever return it as
      }
      q->pending[q->npending++] = head;
      q->stats.requests++;
      // === stub
      // break;
      // <<< lab devmodel
      if (q->trace) vtrace_dev_pop(q->trace, q->trace_id, (uint16_t)(q->last_avail - 1), head);
      if (d->observer)
        d->observer(d, VDM_EV_POP, qi, head);
    }
    if (!vdm_has_feature(d, VIRTIO_RING_F_EVENT_IDX) || d->event_idx_hold)
      return;
    if (q->trace) vtrace_dev_event(q->trace, q->trace_id, q->last_avail);
    // >>> lab evidx: avail_event (the word after the used ring's entries) asks for entry last_avail; then a barrier and one more look at avail.idx, and round again if it moved (2.7.10)
    // 2.7.10 with EVENT_IDX: "notify me when you publish entry last_avail".
    // Then look at avail.idx once more: an entry published before the
    // driver could see our avail_event would otherwise wait for a
    // notification that never comes.
    st16(used + 4 + 8 * q->num, q->last_avail);
    vos_mb();
    if (ld16(avail + 2) == q->last_avail)
      return;
    // === stub
    // // Asks for the next entry but never looks again: an entry published
    // // while this store was on its way waits for a notification that
    // // never comes.
    // st16(used + 4 + 8 * q->num, q->last_avail);
    // return;
    // <<< lab evidx
  }
}

void vdm_queue_fetch(struct vdm *d, int qi)
{
  if (vdm_queue_live(d, qi))
    pop_avail(d, qi);
}

static void service_queue(struct vdm *d, int qi)
{
  struct vdm_queue *q = &d->q[qi];

  if (!vdm_queue_live(d, qi))
    return;
  // used.flags (2.7.10): a device that polls may ask not to be notified.
  // Packed: the flags of our event suppression structure (2.8.10); with
  // EVENT_IDX pop_packed then writes the RING_EVENT_FLAGS_DESC form, so
  // no_notify counts only without it, as in the split ring (2.7.10.1).
  if (!packed(d))
    st16(used_area(d, q), d->no_notify ? VIRTQ_USED_F_NO_NOTIFY : 0);
  else if (d->no_notify || !vdm_has_feature(d, VIRTIO_RING_F_EVENT_IDX))
    st32(used_area(d, q), (uint32_t)(d->no_notify ? RING_EVENT_FLAGS_DISABLE :
                                      RING_EVENT_FLAGS_ENABLE) << 16);
  pop_avail(d, qi);
  if (d->fault == VDM_FAULT_NEVER)
    return;
  if (q->npending > 0 && d->ops->queue_work)
    d->ops->queue_work(d, qi);
}

void vdm_run(struct vdm *d)
{
  int i;

  for (i = 0; i < d->ops->num_queues; i++)
    service_queue(d, i);
}

void vdm_trace_start(struct vdm *d, int qi, struct vtrace *t, int qid)
{
  struct vdm_queue *q = &d->q[qi];

  q->trace = t;
  q->trace_id = (uint8_t)qid;
  // The packed ring's positions go with their wrap counters (ppos).
  if (packed(d))
    vtrace_dev_state(t, qid, vtr_ppos(q->avail_pos, q->avail_wrap),
                     vtr_ppos(q->used_pos, q->used_wrap), q->npending);
  else
    vtrace_dev_state(t, qid, q->last_avail, q->used_idx, q->npending);
}

void vdm_trace_stop(struct vdm *d, int qi)
{
  d->q[qi].trace = 0;
}

int vdm_irq_pending(struct vdm *d)
{
  return d->regs.interrupt_status != 0;
}

// ---- descriptor chains (2.7.5, 2.7.5.3; packed: 2.8.6, 2.8.7) ----

// Byte totals while a chain is walked, 64 bits wide so that no sum of
// 32-bit lengths can wrap before the 4 GiB check at the end.
struct walk {
  uint64_t readable, writable;
};

// One buffer of a chain into c->seg, after the rules every layout shares:
// it lies in driver memory, it is not empty, no readable buffer follows a
// writable one (2.7.4.2, 2.8.17), and it fits our segment array.
static int add_seg(struct vdm *d, struct vdm_chain *c, struct walk *w, uint64_t addr,
                   uint32_t len, int write, uint16_t head)
{
  if (c->n == VDM_MAX_SEGS) {
    vdm_violation(d, "chain longer than this device accepts", head);
    return -1;
  }
  c->seg[c->n].p = vdm_port_mem(addr, len);
  c->seg[c->n].len = len;
  c->seg[c->n].write = write != 0;
  if (len == 0 || c->seg[c->n].p == 0) {
    vdm_violation(d, "buffer outside driver memory", head);
    return -1;
  }
  if (write) {
    w->writable += len;
  } else {
    if (w->writable != 0) {
      vdm_violation(d, "readable buffer after a writable one (2.7.4.2)", head);
      return -1;
    }
    w->readable += len;
  }
  c->n++;
  return 0;
}

// An indirect table in driver memory: addr and len from the descriptor
// that points at it, which must be the only one naming it. Returns the
// table, or NULL after counting a violation.
static uint8_t *indirect_table(struct vdm *d, struct vdm_queue *q, uint64_t addr,
                               uint32_t len, uint16_t head)
{
  uint8_t *table;

  // Whole descriptors, and only with the feature (2.7.5.3.1, 2.8.19).
  if (!vdm_has_feature(d, VIRTIO_RING_F_INDIRECT_DESC) || len == 0 || len % 16 != 0) {
    vdm_violation(d, "bad indirect descriptor", head);
    return 0;
  }
  // The spec fixes no alignment for a table; we read it with 32-bit
  // loads, so we need 4 (every driver here gives 16, like a ring's).
  table = vdm_port_mem(addr, len);
  if (table == 0 || addr % 4 != 0) {
    vdm_violation(d, "indirect table outside driver memory or misaligned", head);
    return 0;
  }
  if (len / 16 > q->num)
    vdm_violation(d, "indirect table longer than the queue (2.7.5.3.1)", len / 16);
  return table;
}

// The split layout: follow `next` from head through the descriptor table,
// and at most once into an indirect table.
static int walk_split(struct vdm *d, struct vdm_queue *q, uint16_t head,
                      struct vdm_chain *c, struct walk *w)
{
  uint8_t *table = desc_area(d, q);
  uint32_t entries = q->num, i = head, steps = 0;
  int indirect = 0;

  if (table == 0)
    return -1;
  for (;;) {
    uint8_t *e;
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;

    // A chain visits each descriptor at most once, so a longer walk is a
    // loop the driver built (2.7.5.2 forbids loops; 2.7.5.3.1 chains longer than the queue).
    if (i >= entries || steps >= entries) {
      vdm_violation(d, "descriptor chain leaves its table or loops", head);
      return -1;
    }
    steps++;
    e = table + 16 * i;
    addr = ld64(e);
    len = ld32(e + 8);
    flags = ld16(e + 12);
    next = ld16(e + 14);

    if (flags & VIRTQ_DESC_F_INDIRECT) {
      // 2.7.5.3.1: never together with NEXT, never inside a table.
      if (indirect || (flags & VIRTQ_DESC_F_NEXT)) {
        vdm_violation(d, "bad indirect descriptor", head);
        return -1;
      }
      table = indirect_table(d, q, addr, len, head);
      if (table == 0)
        return -1;
      entries = len / 16;
      indirect = 1;
      c->indirect = 1;
      i = 0;
      steps = 0;
      continue;
    }
    if (add_seg(d, c, w, addr, len, flags & VIRTQ_DESC_F_WRITE, head) < 0)
      return -1;
    if (!(flags & VIRTQ_DESC_F_NEXT))
      return 0;
    i = next;
  }
}

// The packed layout: the copies pop_packed made of the buffer's ring
// entries (first is the first copy), or one entry pointing at a table
// whose entries simply follow each other (2.8.7).
static int walk_packed(struct vdm *d, struct vdm_queue *q, uint16_t first,
                       struct vdm_chain *c, struct walk *w)
{
  struct vdm_pcopy *cp;
  uint16_t k, i = first;
  uint8_t *table;
  uint32_t j;

  if (first >= q->num || q->copy[first].bad)
    return -1;  // never a buffer, or one pop_packed already refused
  cp = &q->copy[first];
  if (cp->flags & VIRTQ_DESC_F_INDIRECT) {
    // 2.8.19: an indirect entry is never part of a NEXT list.
    if (cp->nent != 1) {
      vdm_violation(d, "indirect entry in a list (2.8.19)", cp->id);
      return -1;
    }
    table = indirect_table(d, q, cp->addr, cp->len, cp->id);
    if (table == 0)
      return -1;
    c->indirect = 1;
    // Inside the table only WRITE means something; other flags and the
    // ids are ignored by the device (2.8.7).
    for (j = 0; j < cp->len / 16; j++) {
      uint8_t *e = table + 16 * j;
      if (add_seg(d, c, w, ld64(e), ld32(e + 8), ld16(e + 14) & VIRTQ_DESC_F_WRITE,
                  cp->id) < 0)
        return -1;
    }
    return 0;
  }
  for (k = 0; k < cp->nent; k++) {
    struct vdm_pcopy *e = &q->copy[i];
    if (e->flags & VIRTQ_DESC_F_INDIRECT) {
      vdm_violation(d, "indirect entry in a list (2.8.19)", cp->id);
      return -1;
    }
    if (add_seg(d, c, w, e->addr, e->len, e->flags & VIRTQ_DESC_F_WRITE, cp->id) < 0)
      return -1;
    i = e->link;
  }
  return 0;
}

int vdm_chain_get(struct vdm *d, int qi, uint16_t head, struct vdm_chain *c)
{
  struct vdm_queue *q = &d->q[qi];
  struct walk w = { 0, 0 };
  int r;

  c->n = 0;
  c->indirect = 0;
  c->readable = c->writable = 0;
  r = packed(d) ? walk_packed(d, q, head, c, &w) : walk_split(d, q, head, c, &w);
  if (r < 0)
    return -1;
  if (w.readable + w.writable > 0xffffffffu) {
    vdm_violation(d, "chain longer than 4 GiB", head);
    return -1;
  }
  c->readable = (uint32_t)w.readable;
  c->writable = (uint32_t)w.writable;
  return 0;
}

uint8_t *vdm_chain_at(struct vdm_chain *c, int write, uint32_t off, uint32_t *room)
{
  int i;

  for (i = 0; i < c->n; i++) {
    if (c->seg[i].write != (write != 0))
      continue;
    if (off < c->seg[i].len) {
      *room = c->seg[i].len - off;
      return c->seg[i].p + off;
    }
    off -= c->seg[i].len;
  }
  *room = 0;
  return 0;
}

static uint32_t chain_copy(struct vdm_chain *c, int write, uint32_t off,
                           uint8_t *mem, uint32_t n)
{
  uint32_t done = 0, room, k, j;
  uint8_t *p;

  while (done < n) {
    p = vdm_chain_at(c, write, off + done, &room);
    if (p == 0)
      break;
    k = n - done < room ? n - done : room;
    for (j = 0; j < k; j++) {
      if (write)
        p[j] = mem[done + j];
      else
        mem[done + j] = p[j];
    }
    done += k;
  }
  return done;
}

uint32_t vdm_chain_read(struct vdm_chain *c, uint32_t off, void *dst, uint32_t n)
{
  return chain_copy(c, 0, off, dst, n);
}

uint32_t vdm_chain_write(struct vdm_chain *c, uint32_t off, const void *src, uint32_t n)
{
  return chain_copy(c, 1, off, (uint8_t *)src, n);
}

// ---- the used ring (2.7.8) and used buffer notifications (2.7.7) ----

static void push_used(struct vdm *d, int qi, uint32_t id, uint32_t len)
{
  struct vdm_queue *q = &d->q[qi];

  // >>> lab devmodel: the used element {id, len} in entry used_idx % num, the barrier, then used_idx one on and stored in used.idx (2.7.8, 2.7.8.2)
  uint8_t *used = used_area(d, q);
  uint8_t *e = used + 4 + 8 * (q->used_idx % q->num);

  st32(e, id);
  st32(e + 4, len);
  // 2.7.8.2: the element (and the data written into the buffers before
  // it) must be visible before the driver sees used.idx move.
  vos_mb();
  q->used_idx++;
  st16(used + 2, q->used_idx);
  // === stub
  // // The driver never sees the completion. (st32 is yours to use here.)
  // (void)st32;
  // <<< lab devmodel
  q->stats.completions++;
  if (q->trace) vtrace_dev_used(q->trace, q->trace_id, (uint16_t)(q->used_idx - 1), id, len);
}

static void signal_used(struct vdm *d, int qi, uint16_t old_idx)
{
  struct vdm_queue *q = &d->q[qi];
  uint8_t *avail = avail_area(d, q);
  uint16_t new_idx = q->used_idx, seen;
  int send, why;

  // >>> lab devmodel: the barrier between our used.idx store and our reads of the driver's suppression fields
  // Our used.idx store must be visible before we read the driver's
  // suppression fields: the driver sets them and then re-reads used.idx,
  // so one of us always sees the other.
  vos_mb();
  // <<< lab devmodel
  if (vdm_has_feature(d, VIRTIO_RING_F_EVENT_IDX)) {
    // >>> lab evidx: used_event (the word after the available ring's entries) into seen; send if it names one of the entries old_idx .. new_idx-1 just written, wrap-safe (2.7.7.2)
    // 2.7.7.2: interrupt if used_event names one of the entries written
    // since old_idx (indices old_idx .. new_idx-1, mod 2^16).
    seen = ld16(avail + 4 + 2 * q->num);
    why = VTR_WHY_EVENT_IDX;
    send = (uint16_t)(new_idx - seen - 1) < (uint16_t)(new_idx - old_idx);
    // === stub
    // // An interrupt for every batch of completions: never one too few.
    // seen = 0;
    // why = VTR_WHY_EVENT_IDX;
    // send = 1;
    // <<< lab evidx
  } else {
    // >>> lab devmodel: without EVENT_IDX, send unless avail.flags holds VIRTQ_AVAIL_F_NO_INTERRUPT (2.7.7); seen is the flags word
    seen = ld16(avail);
    why = VTR_WHY_FLAGS;
    send = !(seen & VIRTQ_AVAIL_F_NO_INTERRUPT);
    // === stub
    // seen = 0;
    // why = VTR_WHY_FLAGS;
    // send = 0;
    // <<< lab devmodel
  }
  if (q->trace) vtrace_dev_irq(q->trace, q->trace_id, old_idx, new_idx, send, why, seen);
  if (send) {
    // >>> lab devmodel: the used buffer notification: count it in the queue's stats, raise_irq for a used buffer (VIRTIO_MMIO_INT_VRING)
    q->stats.interrupts++;
    raise_irq(d, VIRTIO_MMIO_INT_VRING);
    // <<< lab devmodel
  }
}

static void drop_pending(struct vdm_queue *q, int i)
{
  int j;

  for (j = i; j + 1 < q->npending; j++)
    q->pending[j] = q->pending[j + 1];
  q->npending--;
}

// The faults that stop a completion. Returns 1 if one does (after doing
// what that fault does), 0 if the completion may go ahead.
static int fault_blocks(struct vdm *d)
{
  switch (d->fault) {
  case VDM_FAULT_NEVER:
    return 1;
  case VDM_FAULT_NEEDS_RESET:
    // 2.1.2: the device is in an error state and tells the driver with a
    // configuration change notification.
    if (!(d->regs.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
      d->regs.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
      raise_irq(d, VIRTIO_MMIO_INT_CONFIG);
    }
    return 1;
  case VDM_FAULT_RESET_INFLIGHT:
    // The device loses its state with requests in flight: it will never
    // return them, nor touch their buffers again.
    vos_log("vdm %s: resetting itself with requests in flight (fault)\n", d->ops->name);
    device_reset(d);
    d->self_reset = 1;
    return 1;
  default:
    return 0;
  }
}

// VDM_FAULT_SCRIBBLE: the chain at head is back in the used ring, and the
// device writes over its descriptors as a buggy or hostile one may: every
// `next` pointing back at the head, NEXT cleared and WRITE flipped. The
// descriptor table is the driver's to fill, never to read back: a driver
// that walks `next` (or the flags) to put the chain on its free list now
// loses descriptors or hands one out twice. One pass, reading each
// descriptor before overwriting it; at most num steps, whatever the table
// says. An indirect chain's ring descriptor is one descriptor like any.
static void scribble_chain(struct vdm *d, struct vdm_queue *q, uint16_t head)
{
  uint8_t *table = desc_area(d, q);
  uint16_t i = head, n, flags, next;

  if (table == 0)
    return;
  for (n = 0; n < q->num && i < q->num; n++) {
    uint8_t *e = table + 16 * (uint32_t)i;
    flags = ld16(e + 12);
    next = ld16(e + 14);
    st16(e + 12, (uint16_t)((flags & ~VIRTQ_DESC_F_NEXT) ^ VIRTQ_DESC_F_WRITE));
    st16(e + 14, head);
    if (!(flags & VIRTQ_DESC_F_NEXT))
      break;
    i = next;
  }
}

// The split ring's half of vdm_complete: a used element {head, len}, the
// used-ring faults, and maybe an interrupt.
static void complete_split(struct vdm *d, int qi, uint16_t head, uint32_t len)
{
  struct vdm_queue *q = &d->q[qi];
  uint16_t old_idx = q->used_idx;
  uint32_t id = head;

  if (d->fault == VDM_FAULT_BAD_ID)
    id = (uint32_t)q->num + 5;
  push_used(d, qi, id, len);
  if (d->fault == VDM_FAULT_SCRIBBLE)
    scribble_chain(d, q, head);
  if (d->observer)
    d->observer(d, VDM_EV_DONE, qi, head);
  if (d->fault == VDM_FAULT_DUP_ID) {
    // Report this head again. If we hold another request, its used
    // entry carries the repeated id and that request is forgotten.
    if (q->npending > 0)
      drop_pending(q, 0);
    push_used(d, qi, head, 0);
  }
  if (d->fault == VDM_FAULT_IDX_JUMP) {
    // The lie is published like the truth: entries first (none, here),
    // barrier, then the index the driver reads.
    q->used_idx += 40;
    vos_mb();
    st16(used_area(d, q) + 2, q->used_idx);
  }
  signal_used(d, qi, old_idx);
}

static void complete_packed(struct vdm *d, int qi, uint16_t first, uint32_t len);

int vdm_complete(struct vdm *d, int qi, int i, uint32_t len)
{
  struct vdm_queue *q = &d->q[qi];
  struct vdm_chain c;
  uint16_t head;

  if (!vdm_queue_live(d, qi) || i >= q->npending || fault_blocks(d))
    return -1;
  head = q->pending[i];
  drop_pending(q, i);
  if (d->fault == VDM_FAULT_BIG_LEN && vdm_chain_get(d, qi, head, &c) == 0)
    len = c.writable + 4096;
  // Within the chain, so virtq_get cannot tell: the driver's own checks
  // of what the bytes mean must catch it.
  if (d->fault == VDM_FAULT_SHORT_LEN && len > 2)
    len = 2;
  if (packed(d))
    complete_packed(d, qi, head, len);
  else
    complete_split(d, qi, head, len);
  return 0;
}

void vdm_finish_held(struct vdm *d, int qi,
                     uint32_t (*work)(struct vdm *d, int q, uint16_t head))
{
  struct vdm_queue *q = &d->q[qi];
  int budget = q->npending, i;
  uint32_t len;

  if (d->complete_on_ack)
    budget = 1;
  while (q->npending > 0 && budget-- > 0) {
    if (fault_blocks(d))
      return;
    i = d->reverse ? q->npending - 1 : 0;
    len = work(d, qi, q->pending[i]);
    if (vdm_complete(d, qi, i, len) < 0)
      return;
  }
}

// ---- the packed ring (2.8), the device's half ----
//
// The driver's half is virtio/virtq_packed.c; virtio.h draws the ring.
// The device reads the ring from avail_pos on, in order, and takes a
// buffer when the entry there shows AVAIL for the driver's current lap;
// it copies the buffer's entries (copy[]) because its used entries,
// written in the order buffers finish, will land on top of them. It
// writes used entries from used_pos on, one per buffer, and skips as many
// entries as the buffer took (2.8.6).

// Positions with their wrap counter, numbered 0 .. 2*num-1 (first lap
// wrap 1, the next wrap 0), as virtq_packed.c does on the driver's side.
static uint32_t lap_pos(struct vdm_queue *q, uint16_t pos, uint8_t wrap)
{
  return wrap ? pos : (uint32_t)q->num + pos;
}

static uint32_t steps_between(struct vdm_queue *q, uint32_t from, uint32_t to)
{
  uint32_t period = 2 * (uint32_t)q->num;

  return (to + period - from % period) % period;
}

// The driver made this entry available in the lap whose wrap counter is
// `wrap`: AVAIL equal to it, USED not (2.8.1). 2.8.15: nothing else may
// make the device use an entry.
static int entry_avail(uint16_t flags, uint8_t wrap)
{
  return ((flags & VIRTQ_DESC_F_AVAIL) != 0) == wrap && ((flags & VIRTQ_DESC_F_USED) != 0) != wrap;
}

static void step(struct vdm_queue *q, uint16_t *pos, uint8_t *wrap, uint16_t n)
{
  uint32_t p = (uint32_t)*pos + n;

  if (p >= q->num) {
    p -= q->num;
    *wrap ^= 1;
  }
  *pos = (uint16_t)p;
}

// Recording (virtio/virtq_trace.h): a pop and a used entry, each followed
// by a WRAP record when it took the position past the end of the ring.
// trace_take runs before take_packed moves avail_pos to pos/wrap;
// trace_used_packed before push_used_packed steps used_pos.
static void trace_take(struct vdm_queue *q, uint16_t id, uint16_t nent, uint16_t pos,
                       uint8_t wrap)
{
  vtrace_dev_ppop(q->trace, q->trace_id, vtr_ppos(q->avail_pos, q->avail_wrap), id, nent);
  if (wrap != q->avail_wrap)
    vtrace_dev_wrap(q->trace, q->trace_id, VTR_WRAP_DEVICE_AVAIL, wrap, pos);
}

static void trace_used_packed(struct vdm_queue *q, uint32_t id, uint32_t len, uint16_t flags,
                              uint16_t nent)
{
  uint16_t pos = q->used_pos;
  uint8_t wrap = q->used_wrap;

  vtrace_dev_pused(q->trace, q->trace_id, vtr_ppos(pos, wrap), flags, nent, id, len);
  step(q, &pos, &wrap, nent);
  if (wrap != q->used_wrap)
    vtrace_dev_wrap(q->trace, q->trace_id, VTR_WRAP_DEVICE, wrap, pos);
}

// A lap position (lap_pos) as the recording's ppos: slot and wrap counter.
static uint16_t lap_ppos(struct vdm_queue *q, uint32_t lap)
{
  if (lap < q->num)
    return vtr_ppos((uint16_t)lap, 1);
  return vtr_ppos((uint16_t)(lap - q->num), 0);
}

// The event suppression word for "the entry at pos, in the lap of wrap",
// with flags RING_EVENT_FLAGS_DESC (2.8.14), as one 32-bit store writes it.
static uint32_t event_word(uint16_t pos, uint8_t wrap)
{
  return (uint32_t)(pos | (uint16_t)wrap << 15) | (uint32_t)RING_EVENT_FLAGS_DESC << 16;
}

// QueueReady on a packed queue: both wrap counters start at 1, both
// positions at entry 0 (2.8.1), every copy slot free. With EVENT_IDX our
// structure asks for entry 0 of the first lap: what a zeroed avail_event
// asks of a split ring's driver (a zeroed structure would mean ENABLE,
// "notify me every time").
static void packed_start(struct vdm *d, struct vdm_queue *q)
{
  uint8_t *ev = used_area(d, q);
  uint16_t i;

  q->avail_pos = q->used_pos = 0;
  q->avail_wrap = q->used_wrap = 1;
  q->npending = 0;
  for (i = 0; i < q->num; i++)
    q->copy[i].link = (uint16_t)(i + 1);
  q->copy_free = 0;  // q->num ends the free list
  if (ev && vdm_has_feature(d, VIRTIO_RING_F_EVENT_IDX))
    st32(ev, event_word(0, 1));
}

// Take the buffer whose first entry is at avail_pos. 1: taken into
// q->pending; 0: the entry is not available; -1: there is no room to hold
// it, which only a driver making more entries available than the ring
// has can cause (counted).
static int take_packed(struct vdm *d, int qi, uint8_t *ring)
{
  struct vdm_queue *q = &d->q[qi];
  uint16_t pos = q->avail_pos, first = q->copy_free, prev = 0, slot, flags, id = 0, n = 0;
  uint8_t wrap = q->avail_wrap, bad = 0;

  if (!entry_avail(ld16(ring + 16 * pos + 14), wrap))
    return 0;
  if (q->npending >= q->num || first >= q->num) {
    vdm_violation(d, "more entries available than the ring holds", pos);
    return -1;
  }
  // 2.8.21.1 from the other side: the driver filled the entries, then
  // (after a barrier) stored this first flags word. We read the flags
  // first; the entries after this barrier.
  vos_mb();
  for (;;) {
    uint8_t *e = ring + 16 * pos;
    flags = ld16(e + 14);
    // 2.8.6: every entry of a list carries the flags of its lap, not just
    // the first. One that does not ends the list here, unused.
    if (n > 0 && !entry_avail(flags, wrap)) {
      vdm_violation(d, "list continues into an entry not made available (2.8.6)", pos);
      bad = 1;
      break;
    }
    slot = q->copy_free;
    if (slot >= q->num) {
      vdm_violation(d, "more entries available than the ring holds", pos);
      bad = 1;
      break;
    }
    q->copy_free = q->copy[slot].link;
    q->copy[slot].addr = ld64(e);
    q->copy[slot].len = ld32(e + 8);
    q->copy[slot].flags = flags;
    if (n > 0)
      q->copy[prev].link = slot;
    prev = slot;
    id = ld16(e + 12);  // the list's last entry has the buffer id (2.8.6)
    n++;
    step(q, &pos, &wrap, 1);
    if (!(flags & VIRTQ_DESC_F_NEXT))
      break;
    // 2.8.17: no list longer than the queue (and no list goes round it).
    if (n == q->num) {
      vdm_violation(d, "list longer than the queue (2.8.17)", id);
      bad = 1;
      break;
    }
  }
  q->copy[first].id = id;
  q->copy[first].nent = n;
  q->copy[first].bad = bad;
  if (q->trace) trace_take(q, id, n, pos, wrap);
  q->avail_pos = pos;
  q->avail_wrap = wrap;
  q->pending[q->npending++] = first;
  q->stats.requests++;
  if (d->observer)
    d->observer(d, VDM_EV_POP, qi, id);
  return 1;
}

// Every buffer the driver has made available into q->pending, then, with
// EVENT_IDX, "notify me at the next entry" and one more look, as pop_avail
// does with avail_event: a buffer made available before the driver could
// see our request would otherwise wait for a notification never sent.
static void pop_packed(struct vdm *d, int qi)
{
  struct vdm_queue *q = &d->q[qi];
  uint8_t *ring = desc_area(d, q), *ev = used_area(d, q);
  int r;

  for (;;) {
    while ((r = take_packed(d, qi, ring)) == 1)
      ;
    if (r < 0 || !vdm_has_feature(d, VIRTIO_RING_F_EVENT_IDX) || d->event_idx_hold)
      return;
    st32(ev, event_word(q->avail_pos, q->avail_wrap));
    if (q->trace) vtrace_dev_pevent(q->trace, q->trace_id, event_word(q->avail_pos, q->avail_wrap));
    vos_mb();
    if (!entry_avail(ld16(ring + 16 * q->avail_pos + 14), q->avail_wrap))
      return;
  }
}

// The copy slots of the buffer whose first copy is `first` go back.
static void free_copies(struct vdm_queue *q, uint16_t first)
{
  uint16_t i = first, k, next, n = q->copy[first].nent;

  for (k = 0; k < n; k++) {
    next = q->copy[i].link;
    q->copy[i].link = q->copy_free;
    q->copy_free = i;
    i = next;
  }
}

// One used entry at used_pos for a buffer that took nent entries. 2.8.22
// from our side: the data and the entry's id and len, barrier, then the
// flags (AVAIL = USED = our wrap counter) that the driver polls. WRITE in
// a used entry says we wrote into the buffer (2.8.3).
static void push_used_packed(struct vdm *d, int qi, uint32_t id, uint32_t len, uint16_t nent)
{
  struct vdm_queue *q = &d->q[qi];
  uint8_t *e = desc_area(d, q) + 16 * q->used_pos;
  uint16_t flags = q->used_wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0;

  if (len > 0)
    flags |= VIRTQ_DESC_F_WRITE;
  st32(e + 8, len);
  st16(e + 12, (uint16_t)id);
  vos_mb();
  st16(e + 14, flags);
  if (q->trace) trace_used_packed(q, id, len, flags, nent);
  step(q, &q->used_pos, &q->used_wrap, nent);
  q->stats.completions++;
}

// A used buffer notification unless the driver's structure says no
// (2.8.10): DISABLE never, ENABLE always, DESC (with EVENT_IDX) if the
// entry it names is among those we marked used since `old`.
static void signal_packed(struct vdm *d, int qi, uint32_t old)
{
  struct vdm_queue *q = &d->q[qi];
  uint32_t new = lap_pos(q, q->used_pos, q->used_wrap), ev, want;
  uint16_t flags;
  int send;

  // As in signal_used: our flags stores visible before we read the
  // driver's structure, which it writes before its last look at them.
  vos_mb();
  ev = ld32(avail_area(d, q));
  flags = (uint16_t)(ev >> 16) & 3;
  if (flags == RING_EVENT_FLAGS_DISABLE) {
    send = 0;
  } else if (flags == RING_EVENT_FLAGS_DESC && vdm_has_feature(d, VIRTIO_RING_F_EVENT_IDX)) {
    want = lap_pos(q, (uint16_t)(ev & 0x7fff), (uint8_t)((ev >> 15) & 1));
    send = steps_between(q, old, want) < steps_between(q, old, new);
  } else {
    send = 1;
  }
  if (q->trace) vtrace_dev_pirq(q->trace, q->trace_id, lap_ppos(q, old), lap_ppos(q, new), send, ev);
  if (send) {
    q->stats.interrupts++;
    raise_irq(d, VIRTIO_MMIO_INT_VRING);
  }
}

// The packed half of vdm_complete, with the used-ring faults in their
// packed form.
static void complete_packed(struct vdm *d, int qi, uint16_t first, uint32_t len)
{
  struct vdm_queue *q = &d->q[qi];
  uint32_t old = lap_pos(q, q->used_pos, q->used_wrap), id = q->copy[first].id;
  uint16_t other, nent = 1;

  if (d->fault == VDM_FAULT_BAD_ID)
    id = (uint32_t)q->num + 5;
  // The packed ring has no index to run ahead; its position is told by
  // the wrap counter in each used entry. A device whose idea of that
  // position jumped a lap writes last lap's counter: AVAIL = USED = !W
  // on an entry the driver made available with AVAIL = W.
  if (d->fault == VDM_FAULT_IDX_JUMP)
    q->used_wrap ^= 1;
  push_used_packed(d, qi, id, len, q->copy[first].nent);
  if (d->observer)
    d->observer(d, VDM_EV_DONE, qi, q->copy[first].id);
  if (d->fault == VDM_FAULT_DUP_ID) {
    // This id again, in the used entry of another buffer we hold (that
    // one is forgotten), or past everything if we hold no other.
    if (q->npending > 0) {
      other = q->pending[0];
      drop_pending(q, 0);
      nent = q->copy[other].nent;
      free_copies(q, other);
    }
    push_used_packed(d, qi, q->copy[first].id, 0, nent);
  }
  free_copies(q, first);
  signal_packed(d, qi, old);
}

// ---- register writes: the side effects ----

static void set_half(uint64_t *v, int high, uint32_t val)
{
  if (high)
    *v = (*v & 0xffffffffull) | ((uint64_t)val << 32);
  else
    *v = (*v & ~0xffffffffull) | val;
}

// Features are final: check them against what we offered and ask the type.
static int accept_features(struct vdm *d)
{
  uint64_t f = d->driver_features;

  if (f & ~d->offered) {
    vdm_violation(d, "driver accepted features that were not offered", (uint32_t)(f & ~d->offered));
    return -1;
  }
  if (modern(d) && !(f & ((uint64_t)1 << VIRTIO_F_VERSION_1)))
    return -1;  // 2.2.3 / 6.1: a modern device needs VERSION_1
  if (d->fault == VDM_FAULT_REFUSE_FEATURES)
    return -1;
  if (d->ops->set_driver_features && d->ops->set_driver_features(d, f) < 0)
    return -1;
  d->features = f;
  return 0;
}

static void write_status(struct vdm *d, uint32_t val)
{
  uint32_t old = d->regs.status, added = val & ~old;

  if (d->nstatus_log < VDM_STATUS_LOG)
    d->status_log[d->nstatus_log++] = val;
  if (val == 0) {
    device_reset(d);
    d->self_reset = 0;
    return;
  }
  // 2.1.1: the driver only ever adds bits, and in the order of 3.1.1.
  if (old & ~val)
    vdm_violation(d, "driver cleared status bits (2.1.1)", old & ~val);
  if ((added & VIRTIO_STATUS_DRIVER) && !(val & VIRTIO_STATUS_ACKNOWLEDGE))
    vdm_violation(d, "DRIVER before ACKNOWLEDGE", val);
  if ((added & VIRTIO_STATUS_FEATURES_OK) && !(val & VIRTIO_STATUS_DRIVER))
    vdm_violation(d, "FEATURES_OK before DRIVER", val);
  if ((added & VIRTIO_STATUS_FEATURES_OK) && !modern(d))
    vdm_violation(d, "FEATURES_OK written to a legacy device", val);
  if ((added & VIRTIO_STATUS_DRIVER_OK) && modern(d) &&
      !(val & (VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)))
    vdm_violation(d, "DRIVER_OK without FEATURES_OK", val);
  d->regs.status = val | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);

  // 2.2.2: a device that cannot work with these features leaves
  // FEATURES_OK clear, and the driver must read it back to find out.
  if ((added & VIRTIO_STATUS_FEATURES_OK) && modern(d) && accept_features(d) < 0)
    d->regs.status &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
  // Legacy devices have no FEATURES_OK: the features apply at DRIVER_OK.
  if ((added & VIRTIO_STATUS_DRIVER_OK) && !modern(d))
    accept_features(d);
  if ((added & VIRTIO_STATUS_DRIVER_OK) && !(val & VIRTIO_STATUS_FAILED)) {
    if (d->ops->activate)
      d->ops->activate(d);
    // Buffers the driver added before DRIVER_OK are ours from now on.
    if (d->sync_notify)
      vdm_run(d);
  }
}

// The queue QueueSel picks, for the registers that configure one; NULL
// (and a violation) if it does not exist.
static struct vdm_queue *selected(struct vdm *d, uint32_t off)
{
  uint32_t sel = d->regs.queue_sel;

  if (sel >= d->ops->num_queues) {
    vdm_violation(d, "queue register written for a queue that does not exist", off);
    return 0;
  }
  if (modern(d) && d->q[sel].ready)
    vdm_violation(d, "queue register written while QueueReady is 1", off);
  return &d->q[sel];
}

// A split ring's size is a power of two (2.7); a packed ring's any number
// up to QueueNumMax (2.8.10.1).
static int num_ok(struct vdm *d, uint32_t n)
{
  if (packed(d))
    return n != 0 && n <= queue_num_max(d);
  return n != 0 && n <= d->queue_max && (n & (n - 1)) == 0;
}

static void write_queue_ready(struct vdm *d, uint32_t val)
{
  struct vdm_queue *q;
  uint32_t sel = d->regs.queue_sel;

  if (sel >= d->ops->num_queues) {
    vdm_violation(d, "QueueReady for a queue that does not exist", sel);
    return;
  }
  q = &d->q[sel];
  if (val == 0) {
    q->ready = 0;
  } else if (!num_ok(d, q->num) || q->desc_pa == 0 || q->driver_pa == 0 || q->device_pa == 0) {
    vdm_violation(d, "QueueReady before the queue was configured", sel);
  } else if (q->desc_pa % 16 || q->driver_pa % (packed(d) ? 4 : 2) || q->device_pa % 4) {
    vdm_violation(d, "misaligned ring (2.7.1, 2.8.10.1)", sel);  // and we refuse it
  } else {
    q->ready = 1;
    if (packed(d))
      packed_start(d, q);
  }
  refresh_queue_window(d);
}

// Legacy: the driver gives only the page number of one contiguous block;
// the device works out where the three areas are (2.7.2).
static void write_queue_pfn(struct vdm *d, uint32_t val)
{
  struct vdm_queue *q = selected(d, REG(queue_pfn));
  uint64_t base;

  if (q == 0)
    return;
  q->pfn = val;
  q->ready = 0;
  if (val != 0) {
    if (d->regs.guest_page_size == 0 || q->align == 0 || (q->align & (q->align - 1)) ||
        !num_ok(d, q->num)) {
      vdm_violation(d, "QueuePFN before GuestPageSize/QueueAlign/QueueNum", val);
    } else {
      base = (uint64_t)val * d->regs.guest_page_size;
      q->desc_pa = base;
      q->driver_pa = base + 16ull * q->num;
      q->device_pa = base + virtq_legacy_used_offset(q->num, q->align);
      q->ready = 1;
    }
  }
  refresh_queue_window(d);
}

// A recorded QueueNotify: with the avail.idx the device finds there now
// (none while the queue is not set up); on the packed ring with the flags
// of the entry it reads next, the one word it polls (2.8.2).
static void trace_notify(struct vdm *d, struct vdm_queue *q)
{
  uint8_t *avail = q->num ? avail_area(d, q) : 0;
  uint8_t *ring = q->num ? desc_area(d, q) : 0;

  if (packed(d))
    vtrace_dev_pnotify(q->trace, q->trace_id, vtr_ppos(q->avail_pos, q->avail_wrap),
                       ring ? ld16(ring + 16 * q->avail_pos + 14) : 0);
  else
    vtrace_dev_notify(q->trace, q->trace_id, avail ? ld16(avail + 2) : 0);
}

static void write_notify(struct vdm *d, uint32_t val)
{
  // After a reset of our own the driver may notify until it notices (a
  // network driver without a transmit timeout never does).
  if (!(d->regs.status & VIRTIO_STATUS_DRIVER_OK) && !d->self_reset)
    vdm_violation(d, "QueueNotify before DRIVER_OK", val);
  if (val >= d->ops->num_queues) {
    vdm_violation(d, "QueueNotify for a queue that does not exist", val);
    return;
  }
  d->q[val].stats.notifies++;
  if (d->q[val].trace) trace_notify(d, &d->q[val]);
  if (d->sync_notify)
    service_queue(d, (int)val);
}

static void write_ack(struct vdm *d, uint32_t val)
{
  if (val & ~d->regs.interrupt_status)
    vdm_violation(d, "InterruptACK of bits that are not set", val);
  // The race a driver must survive: a completion lands just before the
  // acknowledgement, whose write then clears that completion's bit too.
  if (d->complete_on_ack) {
    d->complete_on_ack = 0;
    vdm_run(d);
    d->complete_on_ack = 1;
  }
  // >>> lab devmodel: the bits the driver acknowledged leave InterruptStatus (4.2.2)
  d->regs.interrupt_status &= ~val;
  // <<< lab devmodel
}

static int legacy_only(uint32_t off)
{
  return off == REG(guest_page_size) || off == REG(queue_align) || off == REG(queue_pfn);
}

static int modern_only(uint32_t off)
{
  return off == REG(queue_ready) || off == REG(config_generation) ||
         (off >= REG(queue_desc_low) && off <= REG(queue_reset));
}

static void check_version(struct vdm *d, uint32_t off, const char *what)
{
  if ((modern(d) && legacy_only(off)) || (!modern(d) && modern_only(off)))
    vdm_violation(d, what, off);
}

void vdm_mmio_write(struct vdm *d, uint32_t off, uint32_t val)
{
  struct vdm_queue *q;

  check_version(d, off, "write of a register this version lacks");
  if (off >= VIRTIO_MMIO_CONFIG && off < CONFIG_END) {
    if (d->ops->config_write)
      d->ops->config_write(d, off - VIRTIO_MMIO_CONFIG, val);
    else
      vdm_violation(d, "write to read-only configuration space", off);
    return;
  }
  switch (off) {
  case REG(device_features_sel):
    d->regs.device_features_sel = val;
    refresh_feature_window(d);
    return;
  case REG(driver_features_sel):
    d->regs.driver_features_sel = val;
    return;
  case REG(driver_features):
    d->regs.driver_features = val;
    if (!(d->regs.status & VIRTIO_STATUS_DRIVER) || (d->regs.status & VIRTIO_STATUS_FEATURES_OK))
      vdm_violation(d, "DriverFeatures written outside the negotiation window", val);
    if (d->regs.driver_features_sel <= 1)
      set_half(&d->driver_features, d->regs.driver_features_sel == 1, val);
    if (d->driver_features & ~d->offered)
      vdm_violation(d, "driver accepted features that were not offered",
                    (uint32_t)(d->driver_features & ~d->offered));
    return;
  case REG(guest_page_size):
    d->regs.guest_page_size = val;
    return;
  case REG(queue_sel):
    d->regs.queue_sel = val;
    refresh_queue_window(d);
    return;
  case REG(queue_num):
    d->regs.queue_num = val;
    if ((q = selected(d, off)) == 0)
      return;
    if (!num_ok(d, val))
      vdm_violation(d, "QueueNum not a power of two up to QueueNumMax", val);
    q->num = (uint16_t)(num_ok(d, val) ? val : 0);
    return;
  case REG(queue_align):
    d->regs.queue_align = val;
    if ((q = selected(d, off)) != 0)
      q->align = val;
    return;
  case REG(queue_pfn):
    write_queue_pfn(d, val);
    return;
  case REG(queue_ready):
    write_queue_ready(d, val);
    return;
  case REG(queue_desc_low):
  case REG(queue_desc_high):
  case REG(queue_driver_low):
  case REG(queue_driver_high):
  case REG(queue_device_low):
  case REG(queue_device_high):
    ((uint32_t *)&d->regs)[off / 4] = val;
    if ((q = selected(d, off)) == 0)
      return;
    if (off <= REG(queue_desc_high))
      set_half(&q->desc_pa, off == REG(queue_desc_high), val);
    else if (off <= REG(queue_driver_high))
      set_half(&q->driver_pa, off == REG(queue_driver_high), val);
    else
      set_half(&q->device_pa, off == REG(queue_device_high), val);
    return;
  case REG(queue_notify):
    d->regs.queue_notify = val;
    write_notify(d, val);
    return;
  case REG(interrupt_ack):
    d->regs.interrupt_ack = val;
    write_ack(d, val);
    return;
  case REG(status):
    write_status(d, val);
    return;
  case REG(shm_sel):
    d->regs.shm_sel = val;
    return;
  default:
    vdm_violation(d, "write of a read-only or unknown register", off);
  }
}

// ---- register reads (only the checks: the values are in RAM) ----

static int readable_reg(uint32_t off)
{
  switch (off) {
  case REG(magic): case REG(version): case REG(device_id): case REG(vendor_id):
  case REG(device_features): case REG(queue_num_max): case REG(queue_pfn):
  case REG(queue_ready): case REG(interrupt_status): case REG(status):
  case REG(shm_len_low): case REG(shm_len_high): case REG(shm_base_low):
  case REG(shm_base_high): case REG(config_generation):
    return 1;
  default:
    return off >= VIRTIO_MMIO_CONFIG && off < CONFIG_END;
  }
}

uint32_t vdm_mmio_read(struct vdm *d, uint32_t off)
{
  uint32_t val;

  if (off % 4 != 0 || off >= sizeof(d->regs)) {
    vdm_violation(d, "read outside the register file", off);
    return 0;
  }
  // 4.2.3.1: after reading DeviceID 0 the driver must not touch anything.
  if (d->devid_read && off != REG(magic) && off != REG(version) && off != REG(device_id))
    d->reads_after_devid++;
  if (off == REG(device_id))
    d->devid_read = 1;
  check_version(d, off, "read of a register this version lacks");
  if (!readable_reg(off))
    vdm_violation(d, "read of a write-only or unknown register", off);
  if (off == REG(queue_num_max) && !modern(d) && d->regs.queue_pfn != 0)
    vdm_violation(d, "QueueNumMax read while QueuePFN is set (4.2.4)", off);
  if (off == REG(config_generation))
    d->gen_reads++;
  val = ((uint32_t *)&d->regs)[off / 4];
  if (off >= VIRTIO_MMIO_CONFIG && d->on_config_read)
    d->on_config_read(d, off - VIRTIO_MMIO_CONFIG);
  return val;
}
