// virtio_transport.h: what a driver and the virtqueue know of the device
// under them. A virtio device sits on a transport (virtio 1.2 chapter 4):
// memory-mapped registers (virtio-mmio, 4.2, virtio_mmio.c) or a PCI
// function (virtio-pci, 4.1, virtio_pci.c), each in a modern and a legacy
// flavour. The drivers and virtq.c call only the vio_* functions below and
// cannot tell which one is under them.
//
// Two layers:
//   - struct vio_ops: the primitive register-level operations, one table
//     per transport (get/set the status byte, one 32-bit word of feature
//     bits, queue select/size/set-up, notify, read and acknowledge the
//     interrupt status, one word of configuration space, the
//     configuration generation). The transport's probe function fills in
//     d->ops.
//   - the vio_* functions (virtio_transport.c): what is the same on every
//     transport, built on those operations: the status handshake and
//     feature negotiation of 3.1.1, reset and its wait (2.4), configuration
//     reads that are retried until ConfigGeneration says they were not
//     torn (2.5.1, 2.5.4).
//
// See it run: `make -C tests/host check` (the handshake, reset and
// configuration tests run these over virtio-mmio against the device
// model), `make qemu` (virtio-mmio) and `make qemu PCI=1` (virtio-pci).
//
// Locking: none inside. A driver calls these with its own lock held, or
// during initialisation before anyone else can reach the device.
#ifndef VIRTIO_TRANSPORT_H
#define VIRTIO_TRANSPORT_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"

struct vio_dev;

// The queues of one device whose virtio-pci notification address is kept
// (queue_notify_off, 4.1.4.4): the network card uses 2, the multiport
// console 2 per port and 2 for control (10 for its 4 ports).
// virtio_pci.c refuses a queue beyond it. A port without virtio-pci (the
// Cortex-M3's) sets it to 1 for the whole build.
#ifndef VIO_NQUEUE
#define VIO_NQUEUE 16
#endif

// One transport's primitives. Every function takes the device; none of
// them waits or retries (virtio_transport.c does that where the spec asks).
struct vio_ops {
  const char *name;                                   // "virtio-mmio", "virtio-pci": log lines
  int fixed_queue_size;                               // 1: see vio_queue_size_fixed
  uint32_t (*get_status)(struct vio_dev *d);          // the device status field (2.1)
  void     (*set_status)(struct vio_dev *d, uint32_t status);  // 0 resets the device
  uint32_t (*get_features)(struct vio_dev *d, uint32_t word);  // offered bits 32*word..
  void     (*set_features)(struct vio_dev *d, uint32_t word, uint32_t bits);  // accepted
  // Select queue q; 0 if it does not exist or is live already, else the
  // largest size the device takes.
  uint32_t (*queue_max)(struct vio_dev *d, uint16_t q);
  // Hand the device the three ring areas and make the queue live.
  int      (*queue_setup)(struct vio_dev *d, uint16_t q, uint16_t size,
                          uint64_t desc_pa, uint64_t driver_pa, uint64_t device_pa);
  void     (*notify)(struct vio_dev *d, uint16_t q);  // "queue q has new buffers"
  uint32_t (*intr_ack)(struct vio_dev *d);            // read and acknowledge: VIO_INT_* bits
  uint32_t (*config_read32)(struct vio_dev *d, uint32_t off);  // aligned word of config space
  uint32_t (*config_generation)(struct vio_dev *d);   // modern devices only
};

// Why the device interrupted (vio_intr_ack). Both transports use these
// two bits: virtio-mmio's InterruptStatus (4.2.2) and virtio-pci's ISR
// status (4.1.4.5) put them in the same places.
#define VIO_INT_VRING  VIRTIO_MMIO_INT_VRING   // a used buffer notification
#define VIO_INT_CONFIG VIRTIO_MMIO_INT_CONFIG  // a configuration change notification

struct vio_dev {
  const struct vio_ops *ops; // the transport: set by its probe function
  uintptr_t base;           // virtio-mmio: the register block; virtio-pci: the
                            //   common configuration (modern) or the I/O BAR (legacy)
  int slot;                 // set by the platform glue (a slot number, or a PCI
  int irq;                  //   bus:device.function; the interrupt); probing leaves both alone
  uint32_t version;         // 2 = modern, 1 = legacy (the transport's layout)
  uint32_t device_id;       // VIRTIO_ID_*, 0 = empty slot
  uint32_t vendor_id;       // virtio-mmio VendorID; virtio-pci subsystem vendor
  uint64_t device_features; // what the device offered (read by vio_negotiate)
  uint64_t features;        // what was negotiated: offered & wanted (+ VERSION_1)
  // Where virtio-pci's other structures are (4.1.4), found by walking the
  // function's capabilities; unused on virtio-mmio.
  uintptr_t notify_base;    // modern: notification area (4.1.4.4),
  uint32_t notify_mul;      //   its notify_off_multiplier and length,
  uint32_t notify_len;
  uint16_t notify_off[VIO_NQUEUE];  // and each queue's queue_notify_off
  uintptr_t isr;            // modern: the ISR status byte (4.1.4.5)
  uintptr_t device_cfg;     // device configuration (4.1.4.6; legacy: after the header)
};

// The status handshake (3.1.1). vio_negotiate does steps 1-6: reset,
// ACKNOWLEDGE, DRIVER, read the offered features, accept `wanted & offered`
// (plus VIRTIO_F_VERSION_1, which a modern device must offer), set
// FEATURES_OK and check the device kept it. Returns 0, or -1 with FAILED
// set and the reason logged. The driver then sets up its queues, reads
// its configuration and calls vio_driver_ok (step 8).
int      vio_negotiate(struct vio_dev *d, uint64_t wanted);
void     vio_driver_ok(struct vio_dev *d);
void     vio_fail(struct vio_dev *d);      // set FAILED: the driver gave up
void     vio_reset(struct vio_dev *d);     // device forgets everything, stops using memory
uint32_t vio_get_status(struct vio_dev *d);
int      vio_has_feature(struct vio_dev *d, int bit);  // negotiated?

// Queue configuration (4.2.3.2 on MMIO, 4.1.5.1.3 on PCI; legacy 4.2.4
// and 4.1.4.10). vio_queue_max selects queue q and returns its largest
// size, or 0 if the queue does not exist or is already in use.
// vio_queue_setup hands the device the three ring areas (guest physical
// addresses) and enables the queue; a legacy device needs them contiguous
// in the legacy layout (2.7.2). Returns 0 or -1 (logged).
uint32_t vio_queue_max(struct vio_dev *d, uint16_t q);
int      vio_queue_setup(struct vio_dev *d, uint16_t q, uint16_t size,
                         uint64_t desc_pa, uint64_t driver_pa, uint64_t device_pa);
// 1 if the device decides the queue size and the driver cannot pick a
// smaller one: a legacy virtio-pci device (its QueueSize register is
// read-only, 4.1.4.10). The queue must then have vio_queue_max entries.
int      vio_queue_size_fixed(struct vio_dev *d);

// Available buffer notification (2.7.13.4): "queue q has new buffers".
void     vio_notify(struct vio_dev *d, uint16_t q);
// Read why the device interrupted and acknowledge exactly that (4.2.3.4
// on MMIO; on PCI reading the ISR status is the acknowledgement, 4.1.4.5).
// Returns the bits (VIO_INT_VRING, VIO_INT_CONFIG).
uint32_t vio_intr_ack(struct vio_dev *d);

// Device configuration space (2.5), `off` bytes from its start, read
// little-endian. On a modern device the read is repeated until
// ConfigGeneration shows it was not torn by a concurrent change.
uint8_t  vio_config_read8(struct vio_dev *d, uint32_t off);
uint16_t vio_config_read16(struct vio_dev *d, uint32_t off);
uint32_t vio_config_read32(struct vio_dev *d, uint32_t off);
uint64_t vio_config_read64(struct vio_dev *d, uint32_t off);

#endif
