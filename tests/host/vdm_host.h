// vdm_host.h: puts device-model devices (devmodel/) on the host
// tests' fake bus (vos_host.c), and a fake byte stream for the console.
//
// On the host a device's register file lives inside its struct vdm like on
// the M3, but the driver reaches it at a made-up bus address: the bus
// forwards loads to vdm_mmio_read (which also checks them) and stores to
// vdm_mmio_write. vos_sleep's scheduler step calls vdm_run, so requests
// pile up between steps the way they would at a device running beside the
// CPU, and delivers the interrupt when InterruptStatus is non-zero.
//
// Run: make -C tests/host check
#ifndef VDM_HOST_H
#define VDM_HOST_H
#include <stdint.h>
#include <stddef.h>
#include "vdm.h"
#include "vdm_backend.h"

void vdm_host_attach(struct vdm *d, uintptr_t base);
void vdm_host_detach(uintptr_t base);

// A byte stream with a bounded input queue (bytes "arriving at the UART")
// and a bounded output queue (bytes "sent"); `out_cap` lower than the
// buffer makes the stream push back.
#define FAKECHAR_BUF 65536
struct fakechar {
  uint8_t in[FAKECHAR_BUF];
  uint32_t in_head, in_tail;    // in_tail - in_head bytes waiting
  uint8_t out[FAKECHAR_BUF];
  uint32_t out_len;             // bytes sent so far (kept in order)
  uint32_t out_cap;             // sends refused beyond this many (0: FAKECHAR_BUF)
  uint32_t chunk;               // at most this many bytes per read/write call (0: any)
  int want_rx, want_tx;         // what the model last asked for
  int want_calls;
};
void     fakechar_init(struct fakechar *f);
void     fakechar_backend(struct fakechar *f, struct vdm_char_backend *be);
uint32_t fakechar_push(struct fakechar *f, const void *buf, uint32_t n);  // bytes queued
#endif
