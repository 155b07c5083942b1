// vdm_net.h: a virtio network device (virtio 1.2 section 5.1) for the
// device model: one receiveq (queue 0) and one transmitq (queue 1), no
// control queue. Every frame the driver transmits leaves through the
// backend, or, with no backend, comes straight back into the next
// receive buffer the driver posted (loopback). Frames from outside arrive
// through vdm_net_receive(); one that finds no receive buffer is dropped
// and counted, as a real NIC drops it.
//
// Offered features: VIRTIO_NET_F_MAC (mac in configuration space),
// VIRTIO_NET_F_STATUS (status: link up or down, changed with
// vdm_net_set_link), INDIRECT_DESC, EVENT_IDX (VERSION_1 on a modern
// device, as every type). Nothing that changes a frame: no checksum or
// segmentation offload, no MRG_RXBUF. So the header in front of every
// frame is 12 bytes with VERSION_1 and 10 bytes on a legacy device.
//
// Only the host tests build it (the Cortex-M3 image has no room for a
// network device).
//
// See it run: `make -C tests/host check` (net_* and fault_net_* tests in
// test_devmodel).
#ifndef VDM_NET_H
#define VDM_NET_H
#include <stdint.h>
#include <stddef.h>
#include "vdm.h"
#include "vdm_backend.h"

#define VDM_NET_RXQ       0
#define VDM_NET_TXQ       1
#define VDM_NET_FRAME_MAX 1514   // Ethernet header + 1500, no FCS (5.1.6.3)

struct vdm_net {
  struct vdm vdm;              // first: a struct vdm * is a struct vdm_net *
  struct vdm_net_backend be;   // be.send NULL: loopback
  uint8_t mac[6];              // what configuration space shows
  uint16_t status;             // VIRTIO_NET_S_LINK_UP (1) or 0
  // gso_type in the header of every received frame: 0 (GSO_NONE), as
  // 5.1.6.4.1 requires of a driver that took no GUEST_TSO/UFO; a test of
  // a device that breaks that rule sets another value.
  uint8_t rx_gso_type;
  uint8_t frame[VDM_NET_FRAME_MAX];  // a transmitted frame on its way out
  // What went through (tests look at these).
  uint32_t rx_frames, rx_bytes;   // frames put into receive buffers
  uint32_t rx_dropped;            // arrived with no receive buffer to take them
  uint32_t rx_too_long;           // empty, or longer than a frame or the buffer
  uint32_t tx_frames, tx_bytes;   // frames the driver transmitted
  uint32_t tx_bad;                // transmit buffers with no sendable frame in them
  uint32_t tx_lost;               // frames the backend would not take
};

// Make `n` a network device with MAC `mac`, link up, on backend `be`
// (NULL: loopback), version 2 (modern) or 1 (legacy). A caller may still
// change `vdm.offered` before the driver starts (a test of a device
// without VIRTIO_NET_F_MAC, say).
void vdm_net_init(struct vdm_net *n, const uint8_t mac[6], const struct vdm_net_backend *be,
                  uint32_t version);
// A frame arrives from the link: into the oldest receive buffer the
// driver posted, behind a header saying "nothing special". 0 if it was
// delivered, -1 if it was dropped (counted in rx_dropped or rx_too_long).
int  vdm_net_receive(struct vdm_net *n, const void *frame, uint32_t len);
// The link goes up or down: status changes and the driver gets a
// configuration change notification.
void vdm_net_set_link(struct vdm_net *n, int up);

#endif
