// vdm_console.h: a virtio console device (virtio 1.2 section 5.3), port 0
// only, for the device model. Bytes from the char backend fill the
// driver's receive buffers (receiveq, queue 0); buffers the driver puts on
// the transmitq (queue 1) go out through the backend, as fast as it takes
// them. On the M3 the backend is UART2, interrupt driven both ways.
//
// Offered features: VIRTIO_CONSOLE_F_SIZE (cols x rows in configuration
// space), VIRTIO_CONSOLE_F_EMERG_WRITE (a byte written to emerg_wr goes out
// at once, even before the queues exist), INDIRECT_DESC, EVENT_IDX.
// Not MULTIPORT: there are no control queues.
//
// See it run: `make -C tests/host check` (console_* tests); the UART2 echo
// service in `make qemu-cm3`.
#ifndef VDM_CONSOLE_H
#define VDM_CONSOLE_H
#include <stdint.h>
#include <stddef.h>
#include "vdm.h"
#include "vdm_backend.h"

#define VDM_CONSOLE_RXQ 0
#define VDM_CONSOLE_TXQ 1

struct vdm_console {
  struct vdm vdm;              // first: a struct vdm * is a struct vdm_console *
  struct vdm_char_backend be;
  uint16_t cols, rows;
  uint32_t tx_off;             // bytes of the oldest transmit buffer already sent
  int want_rx, want_tx;        // what we last asked the backend for
  uint32_t rx_bytes, tx_bytes, emerg_bytes;  // what went through
};

void vdm_console_init(struct vdm_console *c, const struct vdm_char_backend *be,
                      uint32_t version);
// The backend has bytes for us or room again (it asked with `want`).
void vdm_console_poke(struct vdm_console *c);

#endif
