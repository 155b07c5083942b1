// virtio_mmio.h: the virtio-mmio transport, the layer that knows where the
// registers are when a device is a block of memory-mapped registers.
// Probing is all it adds to the transport interface (virtio_transport.h):
// vio_probe finds the device and puts virtio-mmio's primitives under it,
// and from then on the drivers and virtq.c use the vio_* functions of
// virtio_transport.h, which this header includes, and cannot tell whether
// the device is modern (Version 2) or legacy (Version 1), or that it is
// virtio-mmio at all.
//
// Follows virtio 1.2 section 4.2 (Virtio Over MMIO): 4.2.2 register layout,
// 4.2.3 initialization and queue configuration, 4.2.4 the legacy interface.
//
// See it run: `make -C tests/host check` (probe/handshake tests against a
// fake register file) or `make qemu` (the boot log lists every slot).
#ifndef VIRTIO_MMIO_H
#define VIRTIO_MMIO_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"

// Identify the device at `base`: checks MagicValue and Version, reads
// DeviceID and VendorID into *d and makes d a virtio-mmio device.
// Returns 1: a device is there; 0: the slot is empty (DeviceID 0);
// -1: not a virtio-mmio device or a version we do not speak (logged).
int vio_probe(struct vio_dev *d, uintptr_t base);

#endif
