// vdm_backend.h: what a device model needs from the world behind it. Each
// device type talks to its backend only through one of these small tables
// of functions, so the same model runs on the Cortex-M3 board (UART2, a
// RAM disk in SRAM, a PRNG) and in the host tests (in-memory fakes that
// can also push back, fill up and run dry on purpose).
//
//   block    vdm_blk.c      <- vdm_ramdisk.c (portable), or a test's own
//   char     vdm_console.c  <- UART2 (cm3/uart.c) on the M3, a byte FIFO in tests
//   entropy  vdm_rng.c      <- vdm_prng.c (portable)
//   network  vdm_net.c      <- none: loopback; or a test's frame sink
//
// See it run: `make -C tests/host check`, `make qemu-cm3`.
#ifndef VDM_BACKEND_H
#define VDM_BACKEND_H
#include <stdint.h>
#include <stddef.h>

// A disk: byte offsets and lengths, always whole 512-byte sectors here.
struct vdm_blk_backend {
  int      (*read)(void *ctx, uint64_t off, void *buf, uint32_t len);         // 0 / -1
  int      (*write)(void *ctx, uint64_t off, const void *buf, uint32_t len);  // 0 / -1
  int      (*flush)(void *ctx);                                              // 0 / -1
  uint64_t (*size)(void *ctx);   // bytes
  int      (*readonly)(void *ctx);
  void *ctx;
};

// A byte stream in both directions, non-blocking. When `read` finds
// nothing or `write` cannot take everything, the model calls `want` to ask
// for a call to vdm_console_poke() once bytes arrive (rx) or room appears
// (tx): on the M3 that enables the UART's receive or transmit interrupt.
// want(ctx, 0, 0) says the model needs nothing now; a backend that sees
// rx = 0 must leave incoming bytes where they are (that is the flow
// control that keeps a fast sender from losing bytes).
struct vdm_char_backend {
  uint32_t (*read)(void *ctx, uint8_t *buf, uint32_t max);          // bytes read, 0 if none
  uint32_t (*write)(void *ctx, const uint8_t *buf, uint32_t len);   // bytes taken
  void     (*want)(void *ctx, int rx, int tx);
  void *ctx;
};

// Random bytes. Returns how many it wrote (at least 1 when len >= 1).
struct vdm_entropy_backend {
  uint32_t (*fill)(void *ctx, uint8_t *buf, uint32_t len);
  void *ctx;
};

// An Ethernet link, whole frames without any virtio_net_hdr. Only the
// outgoing half is a call: `send` gets each frame the driver transmitted
// and returns 1 if the link took it, 0 if it dropped it (a link that is
// busy loses the frame, like Ethernet; nobody retries). The incoming half
// is pushed, not pulled: whoever owns the link calls vdm_net_receive()
// when a frame arrives, because a wire does not wait for the receiver.
// A model with no backend (send NULL) loops every frame back to itself.
struct vdm_net_backend {
  int  (*send)(void *ctx, const uint8_t *frame, uint32_t len);
  void *ctx;
};

#endif
