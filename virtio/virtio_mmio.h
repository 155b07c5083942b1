// virtio_mmio.h: the virtio-mmio transport, the layer that knows where the
// registers are. Drivers and virtq.c talk to a device only through these
// functions; nothing above this layer knows whether the device is modern
// (Version 2) or legacy (Version 1).
//
// Follows virtio 1.2 section 4.2 (Virtio Over MMIO): 4.2.2 register layout,
// 4.2.3 initialization and queue configuration, 4.2.4 the legacy interface;
// section 3.1 (device initialization) for the status handshake and 2.5 for
// configuration space reads.
//
// See it run: `make -C tests/host check` (probe/handshake tests against a
// fake register file) or `make qemu` (the boot log lists every slot).
//
// Locking: none inside. A driver calls these with its own lock held, or
// during initialisation before anyone else can reach the device.
#ifndef VIRTIO_MMIO_H
#define VIRTIO_MMIO_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"

struct vio_dev {
  uintptr_t base;           // address of the register block
  int slot;                 // set by the platform glue (slot number, irq); vio_probe
  int irq;                  //   leaves both alone
  uint32_t version;         // 2 = modern, 1 = legacy
  uint32_t device_id;       // VIRTIO_ID_*, 0 = empty slot
  uint32_t vendor_id;
  uint64_t device_features; // what the device offered (read by vio_negotiate)
  uint64_t features;        // what was negotiated: offered & wanted (+ VERSION_1)
};

// Identify the device at `base`: checks MagicValue and Version, reads
// DeviceID and VendorID into *d.
// Returns 1: a device is there; 0: the slot is empty (DeviceID 0);
// -1: not a virtio-mmio device or a version we do not speak (logged).
int         vio_probe(struct vio_dev *d, uintptr_t base);
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

// Queue configuration (4.2.3.2, legacy 4.2.4). vio_queue_max selects queue
// q and returns QueueNumMax, or 0 if the queue does not exist or is already
// in use. vio_queue_setup hands the device the three ring areas (guest
// physical addresses) and enables the queue; a legacy device needs them
// contiguous in the legacy layout (2.7.2). Returns 0 or -1 (logged).
uint32_t vio_queue_max(struct vio_dev *d, uint16_t q);
int      vio_queue_setup(struct vio_dev *d, uint16_t q, uint16_t size,
                         uint64_t desc_pa, uint64_t driver_pa, uint64_t device_pa);

// Available buffer notification (4.2.3.3): "queue q has new buffers".
void     vio_notify(struct vio_dev *d, uint16_t q);
// Read InterruptStatus and acknowledge exactly those bits (4.2.3.4).
// Returns them (VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_INT_CONFIG).
uint32_t vio_intr_ack(struct vio_dev *d);

// Device configuration space (2.5), `off` bytes from its start, read
// little-endian. On a modern device the read is repeated until
// ConfigGeneration shows it was not torn by a concurrent change.
uint8_t  vio_config_read8(struct vio_dev *d, uint32_t off);
uint16_t vio_config_read16(struct vio_dev *d, uint32_t off);
uint32_t vio_config_read32(struct vio_dev *d, uint32_t off);
uint64_t vio_config_read64(struct vio_dev *d, uint32_t off);

#endif
