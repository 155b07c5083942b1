// test_console.c: host unit tests of the console driver's ports and
// control queue (virtio/virtio_console.c, virtio 1.2 5.3.6.2) against the
// multiport console model (devmodel/vdm_console.c), which speaks the
// control protocol the way QEMU's virtio-serial does.
//
// What is covered:
//   - the ports a device announces: the driver answers PORT_READY and
//     PORT_OPEN, learns names, console ports and whether the other end is
//     connected, and every port carries its own bytes both ways
//   - which port a shell gets: a console port if there is one, else the
//     first port that became ready (a plain virtserialport is port 1)
//   - a writer waits while nobody is connected to the port, and is let go
//     by the device's PORT_OPEN 1
//   - ports beyond the ones the driver has room for are refused, not ignored
//   - ports that come and go (hot-plug)
//   - control messages that lie (too short, unknown events, port numbers
//     beyond max_nr_ports, ports that were never added or are added twice,
//     values that mean nothing): each is dropped and counted under its
//     reason, nothing else changes, and the ports keep working
//   - a flood of announcements that would make the driver owe more
//     answers than it keeps: bounded, counted, the driver goes on
//   - a device that, like QEMU, drops control messages it has no buffer
//     for, and offers few buffers: one message at a time, nothing is lost
//   - a control queue that breaks (bad used entries): the driver gives up
//     on the device with vio_give_up, and callers get -1
//   - the same protocol on the legacy transport, and the one-port device
//     (no MULTIPORT) exactly as before
// Built with AddressSanitizer and UBSan like the other host tests.
//
// Run: make -C tests/host check   (or build/host/test_console [-q])
// Output: "PASS: name" or "FAIL: name: why"; other lines are indented.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_os.h"
#include "virtio.h"
#include "virtio_mmio.h"
#include "virtio_dev.h"
#include "virtq.h"
#include "virtio_console.h"
#include "host.h"
#include "devfix.h"

#define CONS_BASE 0x10002000u

static struct tcons *tc;
static struct vio_dev dcons;
static struct vcons vc;
static int vc_up;
static int timed_out;

// ---- fixtures ----

static int timed_out_fn(void)
{
  return timed_out;
}

static void watchdog(void *arg)
{
  timed_out = 1;
}

// A blocking call below ends by itself or, after a few scheduler steps
// without progress, through the driver's `interrupted` hook.
static void arm_watchdog(void)
{
  timed_out = 0;
  host_set_watchdog(watchdog, 0, 5);
}

static void disarm_watchdog(void)
{
  timed_out = 0;
  host_set_watchdog(0, 0, 0);
}

static void cons_intr(void *arg)
{
  vcons_intr(arg);
}

static void steps(int n)
{
  while (n-- > 0)
    host_step();
}

// Start the driver on the model at CONS_BASE and let the start-up
// conversation run until the driver says it is settled.
static int start_driver(void)
{
  int i;

  if (!expect(vio_probe(&dcons, CONS_BASE) == 1, "console probe"))
    return 0;
  vc_up = 1;  // vcons_init allocates before it can fail
  if (!expect(vcons_init(&vc, &dcons) == 0, "vcons_init failed"))
    return 0;
  fix_check_layout(&vc.port[0].rxq, &dcons);
  if (vc.multiport)
    fix_check_layout(&vc.crxq, &dcons);
  vc.interrupted = timed_out_fn;
  host_set_irq_handler(CONS_BASE, cons_intr, &vc);
  for (i = 0; i < 100 && !vcons_settled(&vc); i++)
    steps(1);
  return expect(vcons_settled(&vc), "not settled after 100 steps");
}

static void stop_driver(void)
{
  uint32_t i;

  if (!vc_up)
    return;
  vc_up = 0;
  // No shutdown call (a kernel never unloads the driver): reset the
  // device so it lets go of the memory, then free the queues and buffers.
  vio_reset(vc.dev);
  if (vc.crxq.mem)
    virtq_destroy(&vc.crxq);
  if (vc.ctxq.mem)
    virtq_destroy(&vc.ctxq);
  for (i = 0; i < VCONS_MAX_PORTS; i++) {
    if (vc.port[i].rxq.mem)
      virtq_destroy(&vc.port[i].rxq);
    if (vc.port[i].txq.mem)
      virtq_destroy(&vc.port[i].txq);
  }
  if (vc.dma)
    vos_dma_free(vc.dma, vc.dma_size);
  vc.dma = 0;
}

// A control message as a device sends it (5.3.6.2), little-endian.
static void ctrl_msg(uint8_t *m, uint32_t id, uint16_t event, uint16_t value)
{
  m[0] = (uint8_t)id;
  m[1] = (uint8_t)(id >> 8);
  m[2] = (uint8_t)(id >> 16);
  m[3] = (uint8_t)(id >> 24);
  m[4] = (uint8_t)event;
  m[5] = (uint8_t)(event >> 8);
  m[6] = (uint8_t)value;
  m[7] = (uint8_t)(value >> 8);
}

// Inject one message and let the driver take it.
static void inject(const uint8_t *m, uint32_t len)
{
  expect(vdm_console_ctrl_inject(&tc->m, m, len) == 0, "inject refused");
  steps(3);
}

static void inject_event(uint32_t id, uint16_t event, uint16_t value)
{
  uint8_t m[8];

  ctrl_msg(m, id, event, value);
  inject(m, 8);
}

// Read what port `port` received until `n` bytes are in or `limit` steps passed.
static uint32_t collect(uint32_t port, uint8_t *buf, uint32_t n, int limit)
{
  uint32_t got = 0;
  int r;

  while (got < n && limit-- > 0) {
    r = vcons_read(&vc, port, buf + got, n - got, 1);
    if (r < 0)
      break;
    got += (uint32_t)r;
    if (r == 0)
      steps(1);
  }
  return got;
}

// Bytes both ways on one port: what the wire sends arrives on this port
// only, and what we write leaves on this port's wire only.
static void roundtrip(uint32_t port, const char *what)
{
  char in[64], out[64];
  uint8_t buf[64];
  uint32_t n, i, got, shown, before[VDM_CONSOLE_MAX_PORTS];

  n = (uint32_t)snprintf(in, sizeof(in), "to port %u: %s\n", (unsigned)port, what);
  for (i = 0; i < VDM_CONSOLE_MAX_PORTS; i++)
    before[i] = tc->fc[i].out_len;
  fakechar_push(&tc->fc[port], in, n);
  got = collect(port, buf, n, 50);
  // The report shows what came, without the line's newline (one line per
  // FAIL: the lab grader reads them).
  shown = got > 0 && buf[got - 1] == '\n' ? got - 1 : got;
  expect(got == n && memcmp(buf, in, n) == 0,
         "port %u: %u of the %u bytes written to its wire came back to the driver: \"%.*s\"",
         (unsigned)port, (unsigned)got, (unsigned)n, (int)shown, (char *)buf);
  for (i = 0; i < VCONS_MAX_PORTS; i++) {
    if (i != port)
      expect(vcons_readable(&vc, i) == 0, "port %u's bytes showed up on port %u",
             (unsigned)port, (unsigned)i);
  }
  n = (uint32_t)snprintf(out, sizeof(out), "from port %u: %s\n", (unsigned)port, what);
  expect(vcons_write(&vc, port, out, n) == (int)n, "write on port %u", (unsigned)port);
  steps(3);
  for (i = 0; i < VDM_CONSOLE_MAX_PORTS; i++) {
    uint32_t want = before[i] + (i == port ? n : 0);
    expect(tc->fc[i].out_len == want, "port %u wire: %u bytes out, expected %u",
           (unsigned)i, tc->fc[i].out_len - before[i], want - before[i]);
  }
  expect(memcmp(tc->fc[port].out + before[port], out, n) == 0, "port %u sent other bytes",
         (unsigned)port);
}

static struct vcons_port_info info(uint32_t port)
{
  struct vcons_port_info pi;

  memset(&pi, 0, sizeof(pi));
  expect(vcons_port_info(&vc, port, &pi) == 0, "no info for port %u", (unsigned)port);
  return pi;
}

// ---- tests ----

// Three ports as `-device virtconsole,name=con -device virtserialport,
// name=org.test.one -device virtserialport` would give them, the third
// with nobody connected yet.
static void test_console_ports_announced(void)
{
  struct vcons_port_info pi;
  uint32_t i;

  tc = tcons_create_multiport(CONS_BASE, 2, 4);
  tcons_add_port(tc, 0, 1, "con");
  tcons_add_port(tc, 1, 0, "org.test.one");
  tcons_add_port(tc, 2, 0, 0);
  vdm_console_host_open(&tc->m, 2, 0);
  if (!start_driver())
    return;
  expect(vc.multiport && vc.max_nr_ports == 4 && vc.nports == 4,
         "multiport %d, max_nr_ports %u, nports %u", vc.multiport,
         (unsigned)vc.max_nr_ports, (unsigned)vc.nports);
  // What the device heard from us: DEVICE_READY, PORT_READY and PORT_OPEN
  // for each of its ports.
  expect(tc->m.device_ready, "no DEVICE_READY reached the device");
  for (i = 0; i < 3; i++)
    expect(tc->m.port[i].guest_ready && tc->m.port[i].guest_open,
           "port %u: guest_ready %d guest_open %d", (unsigned)i, tc->m.port[i].guest_ready,
           tc->m.port[i].guest_open);
  // What we heard from it.
  pi = info(0);
  expect(pi.present && pi.console && pi.host_open && strcmp(pi.name, "con") == 0,
         "port 0: present %d console %d host_open %d name '%s'", pi.present, pi.console,
         pi.host_open, pi.name);
  pi = info(1);
  expect(pi.present && !pi.console && pi.host_open && strcmp(pi.name, "org.test.one") == 0,
         "port 1: present %d console %d host_open %d name '%s'", pi.present, pi.console,
         pi.host_open, pi.name);
  pi = info(2);
  expect(pi.present && !pi.console && !pi.host_open && pi.name[0] == 0,
         "port 2: present %d console %d host_open %d name '%s'", pi.present, pi.console,
         pi.host_open, pi.name);
  pi = info(3);
  expect(!pi.present, "port 3 present, the device never added it");
  expect(vcons_pick_port(&vc) == 0, "shell port %d, not the console port 0",
         vcons_pick_port(&vc));
  roundtrip(0, "the console");
  roundtrip(1, "a serial port");
  // Nothing was wrong with what the device said.
  expect(vc.stats.ctrl_short + vc.stats.ctrl_unknown + vc.stats.ctrl_bad_id +
         vc.stats.ctrl_bad_state + vc.stats.ctrl_bad_value + vc.stats.ctrl_overflow == 0,
         "a good device's messages were counted as bad");
  // 3 DEVICE_ADD, CONSOLE_PORT, 2 PORT_NAME, 2 PORT_OPEN 1.
  expect(vc.stats.ctrl_in == 8 && tc->m.ctrl_out == 8, "%u control messages in, device sent %u",
         (unsigned)vc.stats.ctrl_in, (unsigned)tc->m.ctrl_out);
}

// The plain `-device virtserialport`: QEMU keeps port 0 for a console, so
// the only port is 1. The shell must go there, and bytes must flow.
static void test_console_serial_port_only(void)
{
  uint8_t b;

  tc = tcons_create_multiport(CONS_BASE, 2, 31);
  tcons_add_port(tc, 1, 0, 0);
  if (!start_driver())
    return;
  expect(vcons_pick_port(&vc) == 1, "shell port %d, want 1 (the only port)",
         vcons_pick_port(&vc));
  roundtrip(1, "the only port");
  // Port 0 does not exist: its I/O fails instead of going nowhere.
  expect(vcons_write(&vc, 0, "x", 1) == -1 && vcons_read(&vc, 0, &b, 1, 1) == -1,
         "I/O on port 0, which the device does not have");
  expect(vcons_write(&vc, VCONS_MAX_PORTS, "x", 1) == -1, "I/O on a port beyond the array");
}

// QEMU drops a control message that finds no receive buffer. With few
// buffers (a device offering queues of 4) and every port answering
// PORT_READY with up to three messages, a driver that let its answers
// pile up would lose some; one message at a time, none is lost.
static void test_console_ctrl_few_buffers(void)
{
  static const char *names[4] = { "zero", "one", "two", "three" };
  uint32_t i;

  tc = tcons_create_multiport(CONS_BASE, 2, 4);
  tc->m.ctrl_lossy = 1;
  tc->m.vdm.queue_max = 4;
  for (i = 0; i < 4; i++)
    tcons_add_port(tc, i, i == 0, names[i]);
  if (!start_driver())
    return;
  expect(vc.ncrx == 4, "%u control receive buffers, the device offers 4", (unsigned)vc.ncrx);
  expect(tc->m.ctrl_dropped == 0, "the device had to drop %u control messages",
         (unsigned)tc->m.ctrl_dropped);
  for (i = 0; i < 4; i++)
    expect(info(i).present && info(i).host_open && strcmp(info(i).name, names[i]) == 0 &&
           info(i).console == (i == 0), "port %u: present %d open %d console %d name '%s'",
           (unsigned)i, info(i).present, info(i).host_open, info(i).console, info(i).name);
  roundtrip(3, "four buffers were enough");
}

// A console port wins over a port that became ready before it.
static void test_console_pick_console_port(void)
{
  tc = tcons_create_multiport(CONS_BASE, 2, 4);
  tcons_add_port(tc, 1, 0, "first");
  tcons_add_port(tc, 3, 1, "console");
  if (!start_driver())
    return;
  expect(vc.port[1].ready_seq < vc.port[3].ready_seq, "port 1 was not ready first");
  expect(vcons_pick_port(&vc) == 3, "shell port %d, want the console port 3",
         vcons_pick_port(&vc));
  roundtrip(3, "the console");
}

// Without MULTIPORT nothing changes: port 0 on queues 0 and 1, no control
// queue, settled from the start.
static void test_console_one_port(void)
{
  tc = tcons_create(CONS_BASE, 2);
  if (!start_driver())
    return;
  expect(!vc.multiport && vc.nports == 1 && vcons_pick_port(&vc) == 0,
         "multiport %d, nports %u, shell port %d", vc.multiport, (unsigned)vc.nports,
         vcons_pick_port(&vc));
  expect(info(0).console && info(0).host_open, "port 0 is not an open console");
  roundtrip(0, "the one port");
  expect(vc.stats.ctrl_in == 0 && vc.stats.ctrl_out == 0 && !vc.crxq.mem,
         "control queue traffic on a device without MULTIPORT");
}

// A port whose other end is not connected: QEMU would throw away what
// the driver sends, so a writer waits, and PORT_OPEN 1 lets it go.
static void test_console_write_waits_for_listener(void)
{
  static const char msg[] = "waited for you\n";
  uint32_t n = sizeof(msg) - 1;

  tc = tcons_create_multiport(CONS_BASE, 2, 4);
  tcons_add_port(tc, 1, 0, 0);
  vdm_console_host_open(&tc->m, 1, 0);
  if (!start_driver())
    return;
  expect(!info(1).host_open, "port 1 says connected");
  arm_watchdog();
  expect(vcons_write(&vc, 1, msg, n) == -1, "a write with nobody listening did not wait");
  disarm_watchdog();
  expect(vc.port[1].stats.tx_waits > 0 && tc->fc[1].out_len == 0 &&
         tc->m.port[1].tx_discarded == 0,
         "waits %u, %u bytes out, %u buffers thrown away", (unsigned)vc.port[1].stats.tx_waits,
         tc->fc[1].out_len, (unsigned)tc->m.port[1].tx_discarded);
  vdm_console_host_open(&tc->m, 1, 1);
  steps(3);
  expect(info(1).host_open, "PORT_OPEN 1 did not reach the driver");
  expect(vcons_write(&vc, 1, msg, n) == (int)n, "write after PORT_OPEN 1");
  steps(3);
  expect(tc->fc[1].out_len == n && memcmp(tc->fc[1].out, msg, n) == 0, "%u bytes out",
         tc->fc[1].out_len);
  // The other end goes away again: the driver hears it.
  vdm_console_host_open(&tc->m, 1, 0);
  steps(3);
  expect(!info(1).host_open, "PORT_OPEN 0 did not reach the driver");
}

// More ports than the driver drives: port 5 of 6 is refused with
// PORT_READY 0 (the device learns it), ports 0 and 3 work.
static void test_console_ports_refused(void)
{
  tc = tcons_create_multiport(CONS_BASE, 2, 6);
  tcons_add_port(tc, 0, 1, 0);
  tcons_add_port(tc, 3, 0, 0);
  tcons_add_port(tc, 5, 0, "too.far");
  if (!start_driver())
    return;
  expect(vc.nports == VCONS_MAX_PORTS && VCONS_MAX_PORTS < 6, "the driver drives %u ports",
         (unsigned)vc.nports);
  expect(vc.stats.ports_refused == 1 && tc->m.ports_refused == 1 &&
         !tc->m.port[5].guest_ready && !tc->m.port[5].guest_open,
         "refused %u (device heard %u), port 5 guest_ready %d",
         (unsigned)vc.stats.ports_refused, (unsigned)tc->m.ports_refused,
         tc->m.port[5].guest_ready);
  roundtrip(0, "port 0 beside a refused port");
  roundtrip(3, "port 3 beside a refused port");
}

// Ports come and go: after DEVICE_REMOVE the port's reader gets what was
// already received, then -1; its writer -1. Added again, it works.
static void test_console_hotplug(void)
{
  uint8_t buf[16];
  int r;

  tc = tcons_create_multiport(CONS_BASE, 2, 4);
  tcons_add_port(tc, 0, 1, 0);
  tcons_add_port(tc, 2, 0, "plug");
  if (!start_driver())
    return;
  fakechar_push(&tc->fc[2], "left", 4);
  steps(3);
  expect(vdm_console_remove_port(&tc->m, 2) == 0, "unplug");
  steps(3);
  expect(!info(2).present && info(2).name[0] == 0, "port 2 still there after DEVICE_REMOVE");
  r = vcons_read(&vc, 2, buf, sizeof(buf), 1);
  expect(r == 4 && memcmp(buf, "left", 4) == 0, "the bytes received before removal: %d", r);
  expect(vcons_read(&vc, 2, buf, sizeof(buf), 1) == -1, "a removed port still reads");
  expect(vcons_write(&vc, 2, "x", 1) == -1, "a removed port still writes");
  expect(tcons_add_port(tc, 2, 0, "plug.again") == 0, "plug again");
  steps(5);
  expect(info(2).present && strcmp(info(2).name, "plug.again") == 0,
         "port 2 after DEVICE_ADD: present %d name '%s'", info(2).present, info(2).name);
  roundtrip(2, "plugged again");
  roundtrip(0, "the console, unaffected");
}

// Lies, one at a time, after a normal start. Each is dropped and counted
// under its reason; no port changes, no answer goes out, and the ports
// still work afterwards.
static void test_console_ctrl_malformed(void)
{
  struct vcons_stats before;
  uint8_t m[64];
  uint32_t sent;

  tc = tcons_create_multiport(CONS_BASE, 2, 4);
  tcons_add_port(tc, 0, 1, 0);
  tcons_add_port(tc, 1, 0, "one");
  if (!start_driver())
    return;
  before = vc.stats;
  sent = vc.stats.ctrl_out;

  ctrl_msg(m, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
  inject(m, 4);                                            // 4 of 8 bytes
  inject(m, 0);                                            // nothing at all
  expect(vc.stats.ctrl_short == before.ctrl_short + 2, "short: %u",
         (unsigned)vc.stats.ctrl_short);
  ctrl_msg(m, 1, VIRTIO_CONSOLE_RESIZE, 0);
  inject(m, 8);                                            // RESIZE without cols, rows
  expect(vc.stats.ctrl_short == before.ctrl_short + 3, "RESIZE without its size: short %u",
         (unsigned)vc.stats.ctrl_short);

  inject_event(1, 99, 1);                                  // no such event
  inject_event(0, VIRTIO_CONSOLE_DEVICE_READY, 1);        // the driver's event
  inject_event(1, VIRTIO_CONSOLE_PORT_READY, 1);          // the driver's event
  expect(vc.stats.ctrl_unknown == before.ctrl_unknown + 3, "unknown: %u",
         (unsigned)vc.stats.ctrl_unknown);

  inject_event(4, VIRTIO_CONSOLE_DEVICE_ADD, 1);          // max_nr_ports is 4
  inject_event(0xffffffffu, VIRTIO_CONSOLE_PORT_OPEN, 0);
  inject_event(1000, VIRTIO_CONSOLE_PORT_NAME, 1);
  expect(vc.stats.ctrl_bad_id == before.ctrl_bad_id + 3, "bad id: %u",
         (unsigned)vc.stats.ctrl_bad_id);

  inject_event(1, VIRTIO_CONSOLE_DEVICE_ADD, 1);          // port 1 exists (5.3.6.2.1)
  inject_event(3, VIRTIO_CONSOLE_CONSOLE_PORT, 1);        // port 3 was never added
  inject_event(2, VIRTIO_CONSOLE_DEVICE_REMOVE, 1);       // nor port 2
  inject_event(3, VIRTIO_CONSOLE_PORT_OPEN, 1);
  expect(vc.stats.ctrl_bad_state == before.ctrl_bad_state + 4, "bad state: %u",
         (unsigned)vc.stats.ctrl_bad_state);

  inject_event(1, VIRTIO_CONSOLE_PORT_OPEN, 7);           // open is 0 or 1
  expect(vc.stats.ctrl_bad_value == before.ctrl_bad_value + 1, "bad value: %u",
         (unsigned)vc.stats.ctrl_bad_value);

  // None of it changed a port, or made the driver answer.
  expect(info(1).present && info(1).host_open && !info(1).console && !info(2).present &&
         !info(3).present && !info(3).console, "a dropped message changed a port");
  expect(vc.stats.ctrl_out == sent, "the driver answered a dropped message (%u sent)",
         (unsigned)(vc.stats.ctrl_out - sent));
  expect(!vc.broken, "the driver gave up over a message it should drop");
  expect(vc.stats.ctrl_in == before.ctrl_in + 14, "%u messages arrived, 14 were sent",
         (unsigned)(vc.stats.ctrl_in - before.ctrl_in));

  // A name the device made up badly: control characters, no 0, too long.
  ctrl_msg(m, 1, VIRTIO_CONSOLE_PORT_NAME, 1);
  memcpy(m + 8, "bad\x1b[2Jname\x7f-and-then-much-too-long-for-us", 40);
  inject(m, 48);
  expect(strcmp(info(1).name, "bad?[2Jname?-and-then-much-too-") == 0 &&
         strlen(info(1).name) == VCONS_NAME_MAX - 1, "name '%s'", info(1).name);

  roundtrip(0, "after the lies");
  roundtrip(1, "after the lies");
}

// A device announcing port after port that the driver must refuse: it
// owes an answer for each, sends one at a time, and keeps at most
// VCONS_CTRL_OUT waiting. The rest are dropped and counted; memory does
// not grow, the driver does not stop.
static void test_console_ctrl_flood(void)
{
  uint8_t m[8];
  uint32_t id;
  int i;

  tc = tcons_create_multiport(CONS_BASE, 2, 200);
  tcons_add_port(tc, 0, 1, 0);
  if (!start_driver())
    return;
  // Two rounds of announcements, faster than answers can go out: the
  // driver takes each round in one interrupt (the model keeps up to
  // VDM_CONSOLE_CTRL_QUEUE for its buffers) and owes an answer for each,
  // but sends them one at a time and keeps VCONS_CTRL_OUT waiting.
  for (id = 10; id < 10 + 2 * VDM_CONSOLE_CTRL_QUEUE; id++) {
    ctrl_msg(m, id, VIRTIO_CONSOLE_DEVICE_ADD, 1);
    expect(vdm_console_ctrl_inject(&tc->m, m, 8) == 0, "inject %u", (unsigned)id);
    if (id == 10 + VDM_CONSOLE_CTRL_QUEUE - 1)
      steps(1);
  }
  steps(1);
  for (i = 0; i < 400 && !vcons_settled(&vc); i++)
    steps(1);
  expect(vcons_settled(&vc), "the answers never all went out");
  expect(vc.stats.ports_refused == 2 * VDM_CONSOLE_CTRL_QUEUE, "%u of %u announcements refused",
         (unsigned)vc.stats.ports_refused, 2u * VDM_CONSOLE_CTRL_QUEUE);
  expect(vc.stats.ctrl_overflow > 0, "the flood did not fill the answer queue "
         "(VCONS_CTRL_OUT %u)", (unsigned)VCONS_CTRL_OUT);
  // Every refusal that was not dropped reached the device.
  expect(tc->m.ports_refused == vc.stats.ports_refused - vc.stats.ctrl_overflow,
         "device heard %u refusals; %u refused, %u answers dropped",
         (unsigned)tc->m.ports_refused, (unsigned)vc.stats.ports_refused,
         (unsigned)vc.stats.ctrl_overflow);
  expect(!vc.broken, "the driver gave up");
  roundtrip(0, "after the flood");
}

// The control queue itself breaks: a used entry for a buffer that is not
// there, or a length beyond the buffer. virtq_get refuses to believe it,
// the driver gives up on the device (vio_give_up: reset, FAILED), and
// every caller gets -1.
static void ctrl_queue_fault(enum vdm_fault f)
{
  uint8_t b;

  tc = tcons_create_multiport(CONS_BASE, 2, 4);
  tcons_add_port(tc, 0, 1, 0);
  tcons_add_port(tc, 1, 0, 0);
  if (!start_driver())
    return;
  tc->m.vdm.fault = f;
  inject_event(1, VIRTIO_CONSOLE_PORT_OPEN, 1);  // completes a control receive buffer
  tc->m.vdm.fault = VDM_FAULT_NONE;
  expect(vc.broken && (tc->m.vdm.regs.status & VIRTIO_STATUS_FAILED),
         "%s on the control receiveq: broken %d, status 0x%x", vdm_fault_name(f), vc.broken,
         (unsigned)tc->m.vdm.regs.status);
  expect(!tc->m.vdm.q[2].ready && !tc->m.vdm.q[0].ready, "%s: device not reset",
         vdm_fault_name(f));
  expect(vcons_write(&vc, 1, "x", 1) == -1 && vcons_read(&vc, 0, &b, 1, 1) == -1 &&
         vcons_pick_port(&vc) == -1 && vcons_settled(&vc),
         "%s: a broken device still takes I/O", vdm_fault_name(f));
}

static void test_console_ctrl_bad_id(void)  { ctrl_queue_fault(VDM_FAULT_BAD_ID); }
static void test_console_ctrl_big_len(void) { ctrl_queue_fault(VDM_FAULT_BIG_LEN); }

// The same protocol over the legacy transport (queues by page number,
// 4.2.4); QEMU offers MULTIPORT there too.
static void test_console_legacy_multiport(void)
{
  tc = tcons_create_multiport(CONS_BASE, 1, 31);
  tcons_add_port(tc, 1, 0, "legacy");
  if (!start_driver())
    return;
  expect(vc.multiport && vcons_pick_port(&vc) == 1 && strcmp(info(1).name, "legacy") == 0,
         "multiport %d, shell port %d, name '%s'", vc.multiport, vcons_pick_port(&vc),
         info(1).name);
  roundtrip(1, "legacy");
}

// MULTIPORT with max_nr_ports 0 is a lie (port 0 always exists): refused.
static void test_console_zero_ports(void)
{
  tc = tcons_create_multiport(CONS_BASE, 2, 1);
  tc->m.max_nr_ports = 0;
  vdm_config_changed(&tc->m.vdm, 0);
  expect(vio_probe(&dcons, CONS_BASE) == 1, "probe");
  vc_up = 1;
  expect(vcons_init(&vc, &dcons) == -1, "init accepted max_nr_ports 0");
  expect(tc->m.vdm.regs.status & VIRTIO_STATUS_FAILED, "FAILED not set");
  expect(vcons_pick_port(&vc) == -1 && vcons_write(&vc, 0, "x", 1) == -1, "I/O after refusal");
}

// ---- runner ----

static void setup(void)
{
  memset(&vc, 0, sizeof(vc));
  vc_up = 0;
  timed_out = 0;
  tc = 0;
}

static void cleanup(int aborted)
{
  if (aborted) {
    vc_up = 0;  // its DMA memory is gone already: only forget it ran
  } else {
    if (tc)
      fix_check_model(&tc->m.vdm, "console");
    stop_driver();
  }
  disarm_watchdog();
  if (tc)
    tcons_destroy(tc);
  tc = 0;
}

int main(int argc, char **argv)
{
  host_tests_begin(argc, argv, setup, cleanup);
  host_run("console_ports_announced", test_console_ports_announced);
  host_run("console_serial_port_only", test_console_serial_port_only);
  host_run("console_ctrl_few_buffers", test_console_ctrl_few_buffers);
  host_run("console_pick_console_port", test_console_pick_console_port);
  host_run("console_one_port", test_console_one_port);
  host_run("console_write_waits_for_listener", test_console_write_waits_for_listener);
  host_run("console_ports_refused", test_console_ports_refused);
  host_run("console_hotplug", test_console_hotplug);
  host_run("console_ctrl_malformed", test_console_ctrl_malformed);
  host_run("console_ctrl_flood", test_console_ctrl_flood);
  host_run("console_ctrl_bad_id", test_console_ctrl_bad_id);
  host_run("console_ctrl_big_len", test_console_ctrl_big_len);
  host_run_split("console_legacy_multiport", test_console_legacy_multiport);
  host_run("console_zero_ports", test_console_zero_ports);
  return host_tests_done();
}
