// vdm_console.h: a virtio console device (virtio 1.2 section 5.3) for the
// device model, with one port or, like QEMU's virtio-serial, several.
//
// One port (vdm_console_init): port 0 on queues 0 and 1, no control
// queues, no MULTIPORT; what the model always was. Bytes from the char
// backend fill the driver's receive buffers (receiveq, queue 0); buffers
// the driver puts on the transmitq (queue 1) go out through the backend,
// as fast as it takes them. On the M3 the backend is UART2, interrupt
// driven both ways.
//
// Several ports (vdm_console_init_multiport): VIRTIO_CONSOLE_F_MULTIPORT
// is offered, max_nr_ports is in the configuration space, and the control
// queues (2: to the driver, 3: from it) carry the protocol of 5.3.6.2 the
// way QEMU speaks it: on DEVICE_READY the device announces every port it
// has (DEVICE_ADD); on PORT_READY it says CONSOLE_PORT for a console
// port, PORT_NAME for a named one and PORT_OPEN 1 if the port's other
// end is connected. A port carries bytes to the driver only once the
// driver opened it (PORT_OPEN 1), and bytes the driver sends to a port
// nobody is connected to are thrown away, as QEMU does. Ports come and
// go (vdm_console_add_port, _remove_port), their other end connects and
// disconnects (vdm_console_host_open), and a test may hand the driver any
// bytes at all as a control message (vdm_console_ctrl_inject).
//
// Offered features: VIRTIO_CONSOLE_F_SIZE (cols x rows in configuration
// space), VIRTIO_CONSOLE_F_EMERG_WRITE (a byte written to emerg_wr goes out
// port 0's backend at once, even before the queues exist), INDIRECT_DESC,
// EVENT_IDX, and MULTIPORT when made with vdm_console_init_multiport.
//
// See it run: `make -C tests/host check` (console_* tests); the UART2 echo
// service in `make qemu-cm3` (multiport, port 0 on UART2).
#ifndef VDM_CONSOLE_H
#define VDM_CONSOLE_H
#include <stdint.h>
#include <stddef.h>
#include "vdm.h"
#include "vdm_backend.h"

// Ports that have queues and a backend (ids 0..MAX-1); max_nr_ports may
// say more, as QEMU's 31 does, for ports that are never attached. The M3
// build passes 2.
#ifndef VDM_CONSOLE_MAX_PORTS
#define VDM_CONSOLE_MAX_PORTS 4
#endif
#define VDM_CONSOLE_NAME_MAX   40   // longest port name announced (bytes, no 0)
#define VDM_CONSOLE_CTRL_MAX   (8 + VDM_CONSOLE_NAME_MAX + 1)  // longest control message
#define VDM_CONSOLE_CTRL_QUEUE 16   // messages to the driver waiting for a buffer

// Port 0's two queues, the two control queues, two per further port (5.3.2).
_Static_assert(2 + 2 * VDM_CONSOLE_MAX_PORTS <= VDM_MAX_QUEUES,
               "VDM_MAX_QUEUES too small for VDM_CONSOLE_MAX_PORTS");

struct vdm_console_port {
  struct vdm_char_backend be;
  int attached;                // the port exists (has a backend)
  int console;                 // announced with CONSOLE_PORT
  char name[VDM_CONSOLE_NAME_MAX + 1];  // "": no PORT_NAME
  int host_open;               // the backend's other end is connected
  int guest_ready;             // the driver said PORT_READY 1
  int guest_open;              // the driver said PORT_OPEN 1 (one port: at DRIVER_OK)
  uint32_t tx_off;             // bytes of the oldest transmit buffer already sent
  int want_rx, want_tx;        // what we last asked the backend for
  uint32_t rx_bytes, tx_bytes; // what went through
  uint32_t tx_discarded;       // transmit buffers thrown away: nobody connected
};

struct vdm_console_msg {
  uint32_t len;
  uint8_t bytes[VDM_CONSOLE_CTRL_MAX];
};

struct vdm_console {
  struct vdm vdm;              // first: a struct vdm * is a struct vdm_console *
  struct vdm_ops ops;          // this device's: the queue count follows max_nr_ports
  int multiport;               // MULTIPORT offered
  uint32_t max_nr_ports;       // what the configuration space says
  uint16_t cols, rows;
  struct vdm_console_port port[VDM_CONSOLE_MAX_PORTS];
  int device_ready;            // the driver sent DEVICE_READY 1
  // Messages to the driver (control receiveq), oldest first.
  struct vdm_console_msg ctrl[VDM_CONSOLE_CTRL_QUEUE];
  uint32_t ctrl_first, ctrl_count;
  uint32_t ctrl_in, ctrl_out;  // messages from / to the driver
  // QEMU's way (set by tests): a message to the driver that finds no
  // control receive buffer is lost, not kept for later.
  int ctrl_lossy;
  uint32_t ctrl_dropped;       // to the driver, lost: no room to keep it (or ctrl_lossy)
  uint32_t ctrl_truncated;     // to the driver, cut to fit a buffer too small
  uint32_t ports_refused;      // PORT_READY 0 from the driver
  uint32_t rx_bytes, tx_bytes, emerg_bytes;  // all ports together
};

// One port, no MULTIPORT: port 0 on backend `be`, there from the start.
void vdm_console_init(struct vdm_console *c, const struct vdm_char_backend *be,
                      uint32_t version);
// MULTIPORT with `max_nr_ports` (>= 1) in configuration space and no port
// yet: add them with vdm_console_add_port.
void vdm_console_init_multiport(struct vdm_console *c, uint32_t max_nr_ports,
                                uint32_t version);
// Attach port `id` (< VDM_CONSOLE_MAX_PORTS and < max_nr_ports) on `be`,
// its other end connected. console: announce it as a console port; name
// NULL or "" for none. Once the driver said DEVICE_READY this is a
// hot-plug: DEVICE_ADD goes out at once. 0, or -1 (no such slot, taken).
int  vdm_console_add_port(struct vdm_console *c, uint32_t id, const struct vdm_char_backend *be,
                          int console, const char *name);
// Unplug port `id`: its pending transmit buffers come back unsent, and
// the driver is told (DEVICE_REMOVE). 0, or -1 if it was not attached.
int  vdm_console_remove_port(struct vdm_console *c, uint32_t id);
// The other end of port `id` connects (1) or goes away (0); the driver
// is told with PORT_OPEN once it has the port.
void vdm_console_host_open(struct vdm_console *c, uint32_t id, int open);
// Hand the driver `len` bytes as one control message (tests: anything,
// malformed included). 0, or -1 if too long or the queue of messages is full.
int  vdm_console_ctrl_inject(struct vdm_console *c, const void *msg, uint32_t len);
// A backend has bytes for us or room again (it asked with `want`).
void vdm_console_poke(struct vdm_console *c);

#endif
