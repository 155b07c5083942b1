// virtio_dev.c: device-type names and checks, and the one way a driver
// gives up on a device. See virtio_dev.h for the interface.
//
// Follows virtio 1.2 section 2.1 (FAILED: "something went wrong in the
// guest, and it has given up on the device"), 2.4 (a reset makes the
// device stop using the driver's memory) and chapter 5 (device types).
//
// See it run: `make -C tests/host check`; the misbehaving-device tests
// print "giving up on the device".
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_transport.h"
#include "virtq.h"
#include "virtio_dev.h"

// The names lsdev and the boot log print. The table of IDs opens chapter
// 5; the comment on each line is the section that describes the device,
// for a reader who meets one in the boot log and wants to know more.
// This project drives the first four.
const char *vio_type_name(uint32_t device_id)
{
  switch (device_id) {
  case VIRTIO_ID_NET:     return "network";   // 5.1, virtio_net.c
  case VIRTIO_ID_BLOCK:   return "block";     // 5.2, virtio_blk.c
  case VIRTIO_ID_CONSOLE: return "console";   // 5.3, virtio_console.c
  case VIRTIO_ID_ENTROPY: return "entropy";   // 5.4, virtio_rng.c
  case VIRTIO_ID_BALLOON: return "balloon";   // 5.5
  case VIRTIO_ID_SCSI:    return "scsi";      // 5.6
  case VIRTIO_ID_9P:      return "9p";        // an ID only: 1.2 describes no 9P device
  case VIRTIO_ID_GPU:     return "gpu";       // 5.7
  case VIRTIO_ID_INPUT:   return "input";     // 5.8
  case VIRTIO_ID_SOCKET:  return "vsock";     // 5.10
  case VIRTIO_ID_CRYPTO:  return "crypto";    // 5.9
  case VIRTIO_ID_IOMMU:   return "iommu";     // 5.13
  case VIRTIO_ID_MEM:     return "memory";    // 5.15
  case VIRTIO_ID_SOUND:   return "sound";     // 5.14
  case VIRTIO_ID_FS:      return "fs";        // 5.11
  case VIRTIO_ID_PMEM:    return "pmem";      // 5.19
  case VIRTIO_ID_I2C:     return "i2c";       // 5.16
  case VIRTIO_ID_GPIO:    return "gpio";      // 5.18
  default:                return "unknown";   // 0 is an empty slot (4.2.2)
  }
}

// The check comes before anything that changes the device: a driver that
// reset someone else's device, or set FAILED on it, would break the
// driver that owns it. So on a mismatch the only effect is a log line.
int vio_is_type(struct vio_dev *d, uint32_t want, const char *drv)
{
  if (d->device_id == want)
    return 1;
  vos_log("%s %p: device type %u (%s) is not the %s device this driver drives\n", drv,
          (void *)d->base, (unsigned)d->device_id, vio_type_name(d->device_id),
          vio_type_name(want));
  return 0;
}

// The console, net and rng drivers' init begins here, so they do 3.1.1
// steps 1-6 the same way; what differs between them is only `wanted`.
// The block driver makes the same two calls apart (vio_is_type in
// vblk_init, vio_negotiate in its setup()), because vblk_reinit runs
// setup() again on a device whose type is already known.
int vio_start(struct vio_dev *d, uint32_t type, const char *drv, uint64_t wanted)
{
  if (!vio_is_type(d, type, drv))
    return -1;  // not ours: untouched, and no FAILED on it
  // Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (virtio_transport.c).
  return vio_negotiate(d, wanted);
}

void vio_give_up(struct vio_dev *d, const char *drv, const char *why,
                 struct virtq **qs, int nq)
{
  const char *queue_why = 0;
  int i;

  // A queue that broke before the driver gave up knows what the device
  // did (virtq.c's broken_why: the entry it refused, the index that ran
  // ahead); the driver's own reason often says only where it noticed
  // ("receive queue broken"). The first such queue's reason goes on the
  // line too.
  for (i = 0; i < nq && queue_why == 0; i++)
    if (qs[i]->broken && qs[i]->broken_why && qs[i]->broken_why != why)
      queue_why = qs[i]->broken_why;
  // One line that names the driver and the reason: the misbehaving-device
  // tests look for it, and it is the first thing to read in a log when a
  // device stops working.
  vos_log("%s: giving up on the device: %s%s%s\n", drv, why, queue_why ? ": " : "",
          queue_why ? queue_why : "");
  // Broken first: a queue that is broken refuses new chains and returns
  // nothing more from its used ring, whatever the device still writes.
  for (i = 0; i < nq; i++)
    virtq_mark_broken(qs[i], why);
  // Reset: from now on the device does not touch our rings or buffers, so
  // the driver may hand them back to their owners. Then FAILED, which
  // only records our verdict (2.1.1: the driver sets it, never clears it).
  // The order matters: FAILED first and then a reset would lose FAILED,
  // since a reset clears every status bit (2.1), and nobody could see
  // afterwards that the driver had given up.
  vio_reset(d);
  vio_fail(d);
}

// Used on the way out of a driver's init, where a queue may already be
// live: the same reset and FAILED as vio_give_up, then the queues' memory
// is freed. (vio_give_up keeps the queues: the driver still takes the
// outstanding requests back out of them, with virtq_drain, to fail them.)
void vio_unwind(struct vio_dev *d, const char *drv, const char *why,
                struct virtq **qs, int nq)
{
  int i;

  vos_log("%s %p: %s\n", drv, (void *)d->base, why);
  // The device must stop before the memory it may read is freed (3.3.1:
  // buffers of a live queue may not be taken away), and vio_reset waits
  // until the device says it has stopped (Status reads 0, 2.4.2).
  vio_reset(d);
  vio_fail(d);
  // A queue that was never set up, or whose virtq_init failed before it
  // allocated, has mem and itab 0 (the drivers zero their state first).
  for (i = 0; i < nq; i++)
    if (qs[i]->mem || qs[i]->itab)
      virtq_destroy(qs[i]);
}
