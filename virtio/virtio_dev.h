// virtio_dev.h: what every driver does with its device besides moving
// requests: check that the device is of its type, and give up on it (at
// set-up, or later when it misbehaves) the one way the spec asks for.
// Built on the transport interface (virtio_transport.h) and the virtqueue (virtq.h).
//
// Follows virtio 1.2 section 2.1 (device status: FAILED), 2.4 (device
// reset, after which the device no longer uses the driver's memory) and
// chapter 5 (the device type numbers).
//
// See it run: `make -C tests/host check` (every test where a device
// misbehaves ends in vio_give_up; the log says "giving up on the device").
#ifndef VIRTIO_DEV_H
#define VIRTIO_DEV_H
#include <stdint.h>
#include "virtio_transport.h"
#include "virtq.h"

// "network", "block", "console", "entropy", ..., "unknown".
const char *vio_type_name(uint32_t device_id);
// Is d the device type `want`? If not, says so in the log (as driver
// `drv`) and returns 0; the device itself is left untouched, since it is
// someone else's. Every driver's init starts with this check.
int  vio_is_type(struct vio_dev *d, uint32_t want, const char *drv);

// The start of every driver's set-up: d must be of type `type` (else -1,
// and the device is left alone: it is not ours), then the status handshake
// and feature negotiation of 3.1.1 steps 1-6 (vio_negotiate): accept
// `wanted & offered`. 0, or -1 (logged; FAILED set unless not ours). The
// driver goes on with its queues (step 7) and vio_driver_ok (step 8).
int  vio_start(struct vio_dev *d, uint32_t type, const char *drv, uint64_t wanted);

// Give up on a running device: log "<drv>: giving up on the device: why",
// mark the nq queues qs[] broken (their users fail from now on), reset the
// device, which stops it reading or writing our memory, and set FAILED to
// record that the driver gave up. The driver then fails what was in
// flight and wakes its sleepers. nq may be 0.
void vio_give_up(struct vio_dev *d, const char *drv, const char *why,
                 struct virtq **qs, int nq);
// Set-up failed part of the way: log "<drv> <base>: why", reset the
// device (a queue may already be live), set FAILED, and free the nq queues
// qs[] that were set up (those not set up are skipped). The driver frees
// its other memory itself.
void vio_unwind(struct vio_dev *d, const char *drv, const char *why,
                struct virtq **qs, int nq);
#endif
