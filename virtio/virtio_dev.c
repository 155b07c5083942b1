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
#include "virtio_mmio.h"
#include "virtq.h"
#include "virtio_dev.h"

const char *vio_type_name(uint32_t device_id)
{
  switch (device_id) {
  case VIRTIO_ID_NET:     return "network";
  case VIRTIO_ID_BLOCK:   return "block";
  case VIRTIO_ID_CONSOLE: return "console";
  case VIRTIO_ID_ENTROPY: return "entropy";
  case VIRTIO_ID_BALLOON: return "balloon";
  case VIRTIO_ID_SCSI:    return "scsi";
  case VIRTIO_ID_9P:      return "9p";
  case VIRTIO_ID_GPU:     return "gpu";
  case VIRTIO_ID_INPUT:   return "input";
  case VIRTIO_ID_SOCKET:  return "vsock";
  case VIRTIO_ID_CRYPTO:  return "crypto";
  case VIRTIO_ID_IOMMU:   return "iommu";
  case VIRTIO_ID_MEM:     return "memory";
  case VIRTIO_ID_SOUND:   return "sound";
  case VIRTIO_ID_FS:      return "fs";
  case VIRTIO_ID_PMEM:    return "pmem";
  case VIRTIO_ID_I2C:     return "i2c";
  case VIRTIO_ID_GPIO:    return "gpio";
  default:                return "unknown";
  }
}

int vio_is_type(struct vio_dev *d, uint32_t want, const char *drv)
{
  if (d->device_id == want)
    return 1;
  vos_log("%s %p: device type %u (%s) is not the %s device this driver drives\n", drv,
          (void *)d->base, (unsigned)d->device_id, vio_type_name(d->device_id),
          vio_type_name(want));
  return 0;
}

int vio_start(struct vio_dev *d, uint32_t type, const char *drv, uint64_t wanted)
{
  if (!vio_is_type(d, type, drv))
    return -1;
  return vio_negotiate(d, wanted);
}

void vio_give_up(struct vio_dev *d, const char *drv, const char *why,
                 struct virtq **qs, int nq)
{
  int i;

  vos_log("%s: giving up on the device: %s\n", drv, why);
  // Broken first: a queue that is broken refuses new chains and returns
  // nothing more from its used ring, whatever the device still writes.
  for (i = 0; i < nq; i++)
    virtq_mark_broken(qs[i], why);
  // Reset: from now on the device does not touch our rings or buffers, so
  // the driver may hand them back to their owners. Then FAILED, which
  // only records our verdict (2.1.1: the driver sets it, never clears it).
  vio_reset(d);
  vio_fail(d);
}

void vio_unwind(struct vio_dev *d, const char *drv, const char *why,
                struct virtq **qs, int nq)
{
  int i;

  vos_log("%s %p: %s\n", drv, (void *)d->base, why);
  // The device must stop before the memory it may read is freed.
  vio_reset(d);
  vio_fail(d);
  for (i = 0; i < nq; i++)
    if (qs[i]->mem || qs[i]->itab)
      virtq_destroy(qs[i]);
}
