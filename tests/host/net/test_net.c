// test_net.c: host unit tests of the network stack in net/.
//
// The stack runs on a fake interface whose xmit copies every frame into
// `caps` (and checks the stack's lock is not held). Tests build frames with
// their own builders and their own checksum code (not the stack's), feed
// them to net_input from an exactly-sized heap block (so AddressSanitizer
// sees any read past the end), and look at three things: which counter
// moved, what reached the socket, and what was transmitted. Every frame
// the stack ever transmits is checked by parse_frame() (lengths, padding,
// all checksums); after every test the runner also checks that each
// received frame landed in exactly one outcome counter (net.h).
//
// Output: one line per test, "PASS: net_<name>" or "FAIL: net_<name>: why".
// Run: make -C tests/host/net check
//      NET_FUZZ_SEED=n NET_FUZZ_ITERS=n make -C tests/host/net check
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "net.h"
#include "nethost.h"

#define BUF 2048

static const uint8_t OUR_MAC[6]   = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t GW_MAC[6]    = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t PEER_MAC[6]  = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
static const uint8_t OTHER_MAC[6] = { 0x52, 0x54, 0x00, 0x99, 0x99, 0x99 };
static const uint8_t BCAST_MAC[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t ZERO_MAC[6];

#define OUR_IP       NET_QEMU_GUEST_IP
#define GW_IP        NET_QEMU_GATEWAY
#define PEER_IP      NET_IP(10, 0, 2, 20)
#define REMOTE_IP    NET_IP(192, 0, 2, 7)
#define SUBNET_BCAST NET_IP(10, 0, 2, 255)

static struct netif nif;

// ---- failing a test ----

static jmp_buf test_jmp;
static char fail_msg[512];

void nh_fail(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
  va_end(ap);
  longjmp(test_jmp, 1);
}

static void expect(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expect(int ok, const char *fmt, ...)
{
  va_list ap;

  if (ok)
    return;
  va_start(ap, fmt);
  vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
  va_end(ap);
  longjmp(test_jmp, 1);
}

// ---- the test's own wire helpers and checksum ----

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }

// Independent of the stack's net_sum: byte at a time into 64 bits, even
// offsets as high bytes, folded once at the end.
static uint16_t t_csum(uint64_t acc, const uint8_t *p, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    acc += (i % 2 == 0) ? (uint64_t)p[i] << 8 : p[i];
  while (acc > 0xffff)
    acc = (acc >> 16) + (acc & 0xffff);
  return (uint16_t)(~acc & 0xffff);
}

static uint64_t t_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len)
{
  uint8_t ph[12];
  uint64_t acc = 0;
  int i;

  put32(ph, src);
  put32(ph + 4, dst);
  ph[8] = 0;
  ph[9] = proto;
  put16(ph + 10, len);
  for (i = 0; i < 12; i += 2)
    acc += get16(ph + i);
  return acc;
}

// ---- frame builders (frames to us, from the gateway's MAC by default) ----

static size_t mk_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
  memcpy(f, dst, 6);
  memcpy(f + 6, src, 6);
  put16(f + 12, type);
  return 14;
}

static void fix_ip_csum(uint8_t *f)
{
  uint8_t *h = f + 14;
  size_t ihl = (size_t)(h[0] & 15) * 4;

  put16(h + 10, 0);
  put16(h + 10, t_csum(0, h, ihl));
}

static void mk_iphdr(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, size_t plen)
{
  uint8_t *h = f + 14;

  h[0] = 0x45;
  h[1] = 0;
  put16(h + 2, 20 + plen);
  put16(h + 4, 0x4242);
  put16(h + 6, 0);
  h[8] = 64;
  h[9] = proto;
  put32(h + 12, src);
  put32(h + 16, dst);
  fix_ip_csum(f);
}

// Recomputes the UDP checksum from the IP header's addresses and the UDP
// length field, if that stays inside the test buffer.
static void fix_udp_csum(uint8_t *f)
{
  uint8_t *h = f + 14;
  size_t ihl = (size_t)(h[0] & 15) * 4;
  uint8_t *u = h + ihl;
  size_t ulen = get16(u + 4);
  uint16_t c;

  if (ihl < 20 || ulen < 8 || 14 + ihl + ulen > BUF)
    return;
  put16(u + 6, 0);
  c = t_csum(t_pseudo(get32(h + 12), get32(h + 16), 17, ulen), u, ulen);
  put16(u + 6, c ? c : 0xffff);
}

static void fix_icmp_csum(uint8_t *f)
{
  uint8_t *h = f + 14;
  size_t ihl = (size_t)(h[0] & 15) * 4, total = get16(h + 2);
  uint8_t *q = h + ihl;

  if (ihl < 20 || total < ihl + 4 || 14 + total > BUF)
    return;
  put16(q + 2, 0);
  put16(q + 2, t_csum(0, q, total - ihl));
}

static size_t mk_udp(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport,
                     uint16_t dport, const void *data, size_t n)
{
  uint8_t *u = f + 34;

  mk_eth(f, OUR_MAC, GW_MAC, 0x0800);
  put16(u, sport);
  put16(u + 2, dport);
  put16(u + 4, 8 + n);
  put16(u + 6, 0);
  memcpy(u + 8, data, n);
  mk_iphdr(f, src, dst, 17, 8 + n);
  fix_udp_csum(f);
  return 42 + n;
}

static size_t mk_icmp(uint8_t *f, uint32_t src, uint32_t dst, uint8_t type, uint8_t code,
                      uint16_t id, uint16_t seq, const void *data, size_t n)
{
  uint8_t *q = f + 34;

  mk_eth(f, OUR_MAC, GW_MAC, 0x0800);
  q[0] = type;
  q[1] = code;
  put16(q + 4, id);
  put16(q + 6, seq);
  memcpy(q + 8, data, n);
  mk_iphdr(f, src, dst, 1, 8 + n);
  fix_icmp_csum(f);
  return 42 + n;
}

static size_t mk_arp(uint8_t *f, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha,
                     uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
  uint8_t *a = f + 14;

  mk_eth(f, eth_dst, sha, 0x0806);
  put16(a, 1);
  put16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, op);
  memcpy(a + 8, sha, 6);
  put32(a + 14, spa);
  memcpy(a + 18, tha, 6);
  put32(a + 24, tpa);
  return 42;
}

// ---- the fake driver ----

#define MAXCAPS 64

struct cap {
  size_t len;
  uint8_t data[BUF];
};

static struct cap caps[MAXCAPS];
static int ncaps;
static int xmit_result;

// Runs inside xmit after the frame is captured, like a driver that
// handles received frames while it sends; NULL: nothing.
static void (*xmit_hook)(const uint8_t *frame, uint32_t len);
static int in_xmit;

static int cap_xmit(struct netif *n, const void *frame, uint32_t len)
{
  if (n != &nif)
    nh_fail("xmit: wrong netif");
  if (nh_locks_held != 0)
    nh_fail("xmit called with the stack lock held");
  if (in_xmit)
    nh_fail("xmit entered again while still sending");
  if (len > BUF || ncaps == MAXCAPS)
    nh_fail("xmit: frame of %u bytes or too many frames", len);
  memcpy(caps[ncaps].data, frame, len);
  caps[ncaps].len = len;
  ncaps++;
  if (xmit_hook) {
    in_xmit = 1;
    xmit_hook(caps[ncaps - 1].data, len);
    in_xmit = 0;
  }
  return xmit_result;
}

// What parse_frame found in a transmitted frame.
struct pkt {
  int kind;                  // 'A' ARP, 'I' ICMP, 'U' UDP
  uint8_t dst_mac[6];
  uint16_t op;               // ARP
  uint8_t tha[6];
  uint32_t tpa;
  uint32_t dst;              // IP
  uint8_t type, code;        // ICMP
  uint16_t id, seq;
  uint16_t sport, dport, ucsum;  // UDP
  const uint8_t *data;       // ICMP or UDP data
  size_t dlen;
};

static char parse_err[256];

static const char *bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *bad(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(parse_err, sizeof(parse_err), fmt, ap);
  va_end(ap);
  return parse_err;
}

static int all_zero(const uint8_t *p, size_t n)
{
  while (n-- > 0) {
    if (*p++ != 0)
      return 0;
  }
  return 1;
}

// Checks a frame the stack sent, as a strict receiver would. NULL if good.
static const char *parse_frame(const uint8_t *f, size_t len, struct pkt *pk)
{
  const uint8_t *h = f + 14, *l4;
  size_t total, l4len, ulen;

  memset(pk, 0, sizeof(*pk));
  if (len < 60 || len > 1514)
    return bad("frame length %zu", len);
  if (memcmp(f + 6, OUR_MAC, 6) != 0)
    return bad("source MAC is not ours");
  memcpy(pk->dst_mac, f, 6);
  if (get16(f + 12) == 0x0806) {
    pk->kind = 'A';
    if (get16(h) != 1 || get16(h + 2) != 0x0800 || h[4] != 6 || h[5] != 4)
      return bad("ARP: bad hardware/protocol fields");
    pk->op = get16(h + 6);
    if (pk->op != 1 && pk->op != 2)
      return bad("ARP: opcode %u", pk->op);
    if (memcmp(h + 8, OUR_MAC, 6) != 0 || get32(h + 14) != OUR_IP)
      return bad("ARP: sender is not us");
    memcpy(pk->tha, h + 18, 6);
    pk->tpa = get32(h + 24);
    if (!all_zero(f + 42, len - 42))
      return bad("ARP: padding not zero");
    return 0;
  }
  if (get16(f + 12) != 0x0800)
    return bad("ethertype 0x%x", get16(f + 12));
  if (h[0] != 0x45)
    return bad("IP: version/IHL 0x%x", h[0]);
  total = get16(h + 2);
  if (total < 20 || total > len - 14)
    return bad("IP: total length %zu in a %zu-byte frame", total, len);
  if (len > 60 && total != len - 14)
    return bad("IP: total length %zu but frame %zu (only short frames are padded)", total, len);
  if (!all_zero(f + 14 + total, len - 14 - total))
    return bad("IP: padding not zero");
  if (t_csum(0, h, 20) != 0)
    return bad("IP: header checksum wrong");
  if ((get16(h + 6) & 0x3fff) != 0)
    return bad("IP: fragment");
  if (h[8] != 64)
    return bad("IP: TTL %u", h[8]);
  if (get32(h + 12) != OUR_IP)
    return bad("IP: source is not us");
  pk->dst = get32(h + 16);
  l4 = h + 20;
  l4len = total - 20;
  if (h[9] == 1) {
    pk->kind = 'I';
    if (l4len < 8)
      return bad("ICMP: %zu bytes", l4len);
    if (t_csum(0, l4, l4len) != 0)
      return bad("ICMP: checksum wrong");
    pk->type = l4[0];
    pk->code = l4[1];
    pk->id = get16(l4 + 4);
    pk->seq = get16(l4 + 6);
    pk->data = l4 + 8;
    pk->dlen = l4len - 8;
    return 0;
  }
  if (h[9] == 17) {
    pk->kind = 'U';
    if (l4len < 8)
      return bad("UDP: %zu bytes", l4len);
    ulen = get16(l4 + 4);
    if (ulen != l4len)
      return bad("UDP: length %zu, IP payload %zu", ulen, l4len);
    pk->ucsum = get16(l4 + 6);
    if (pk->ucsum == 0)
      return bad("UDP: no checksum");
    if (t_csum(t_pseudo(OUR_IP, pk->dst, 17, ulen), l4, ulen) != 0)
      return bad("UDP: checksum wrong");
    pk->sport = get16(l4);
    pk->dport = get16(l4 + 2);
    pk->data = l4 + 8;
    pk->dlen = ulen - 8;
    return 0;
  }
  return bad("IP: protocol %u", h[9]);
}

static struct pkt cap_pkt(int i)
{
  struct pkt pk;
  const char *err;

  expect(i >= 0 && i < ncaps, "expected a frame #%d, %d sent", i, ncaps);
  err = parse_frame(caps[i].data, caps[i].len, &pk);
  expect(err == 0, "transmitted frame #%d: %s", i, err);
  return pk;
}

// Every frame sent so far must be well-formed; then forget them.
static void caps_clear(void)
{
  int i;

  for (i = 0; i < ncaps; i++)
    cap_pkt(i);
  ncaps = 0;
}

// ---- statistics helpers ----

static struct net_stats mark_stats;

static uint32_t stat(int i)
{
  struct net_stats s;

  net_get_stats(&s);
  return s.n[i];
}

static void mark(void)
{
  net_get_stats(&mark_stats);
}

static uint32_t delta(int i)
{
  return stat(i) - mark_stats.n[i];
}

// The one outcome counter that moved since mark(); fails if not exactly one.
static int outcome(void)
{
  struct net_stats s;
  int i, found = -1;

  net_get_stats(&s);
  for (i = NS_RX_FIRST_OUTCOME; i <= NS_RX_LAST_OUTCOME; i++) {
    uint32_t d = s.n[i] - mark_stats.n[i];
    if (d == 0)
      continue;
    expect(d == 1 && found < 0, "outcome counters: %s moved by %u (and %s)",
           net_stat_name(i), d, found >= 0 ? net_stat_name(found) : "-");
    found = i;
  }
  expect(found >= 0, "no outcome counter moved");
  return found;
}

static void expect_outcome(int want, const char *what)
{
  int got = outcome();

  expect(got == want, "%s: counted in %s, expected %s", what, net_stat_name(got),
         net_stat_name(want));
}

// ---- input helpers ----

// net_input from a heap block of exactly len bytes.
static void inject(const uint8_t *f, size_t len)
{
  uint8_t *p = malloc(len ? len : 1);

  expect(p != 0, "malloc");
  memcpy(p, f, len);
  net_input(&nif, p, (uint32_t)len);
  free(p);
}

// Inject a frame that must be counted in exactly the outcome `want`.
static void inject_expect(const uint8_t *f, size_t len, int want, const char *what)
{
  mark();
  inject(f, len);
  expect_outcome(want, what);
}

static int inject_outcome(const uint8_t *f, size_t len)
{
  mark();
  inject(f, len);
  return outcome();
}

// Teach the stack ip is at mac (an ARP request from it), and drop the reply.
static void learn(uint32_t ip, const uint8_t *mac)
{
  uint8_t f[BUF];
  size_t n = mk_arp(f, BCAST_MAC, 1, mac, ip, ZERO_MAC, OUR_IP);

  inject_expect(f, n, NS_RX_ARP_REQUEST, "learn");
  caps_clear();
}

static void arp_reply_from(uint32_t ip, const uint8_t *mac)
{
  uint8_t f[BUF];
  size_t n = mk_arp(f, OUR_MAC, 2, mac, ip, OUR_MAC, OUR_IP);

  inject_expect(f, n, NS_RX_ARP_REPLY, "ARP reply");
}

static int recv_nb(struct udp_sock *s, void *buf, uint32_t max, uint32_t *ip, uint16_t *port)
{
  return udp_recvfrom(s, buf, max, ip, port, 1);
}

static void expect_empty(struct udp_sock *s, const char *what)
{
  uint8_t b[BUF];

  expect(recv_nb(s, b, sizeof(b), 0, 0) == -1, "%s: a datagram was delivered", what);
}

// ---- tests: set-up and statistics ----

static void test_stat_names(void)
{
  int i, j;
  uint16_t s = net_htons(0x1234);
  uint32_t l = net_htonl(0x0a00020f);

  expect(net_stat_count() == NET_NSTATS, "net_stat_count");
  for (i = 0; i < NET_NSTATS; i++) {
    const char *n = net_stat_name(i);
    expect(n != 0 && n[0] != 0, "stat %d has no name", i);
    for (j = 0; j < i; j++)
      expect(strcmp(n, net_stat_name(j)) != 0, "stat name %s twice", n);
  }
  expect(net_stat_name(-1) == 0 && net_stat_name(NET_NSTATS) == 0, "out of range names");
  expect(nif.ip == 0x0a00020f && nif.gateway == 0x0a000202 && nif.netmask == 0xffffff00,
         "QEMU defaults");
  expect(memcmp(&s, "\x12\x34", 2) == 0 && memcmp(&l, "\x0a\x00\x02\x0f", 4) == 0,
         "htons/htonl do not give network byte order");
  expect(net_ntohs(s) == 0x1234 && net_ntohl(l) == 0x0a00020f, "ntohs/ntohl");
}

// ---- tests: ARP ----

static void test_arp_reply(void)
{
  uint8_t f[BUF], mac[6];
  size_t n = mk_arp(f, BCAST_MAC, 1, GW_MAC, GW_IP, ZERO_MAC, OUR_IP);
  struct pkt pk;

  inject_expect(f, n, NS_RX_ARP_REQUEST, "request");
  expect(ncaps == 1, "%d frames sent, expected one reply", ncaps);
  pk = cap_pkt(0);
  expect(pk.kind == 'A' && pk.op == 2, "not an ARP reply");
  expect(memcmp(pk.dst_mac, GW_MAC, 6) == 0 && memcmp(pk.tha, GW_MAC, 6) == 0 &&
         pk.tpa == GW_IP, "reply not addressed to the requester");
  expect(delta(NS_ARP_REPLIES_SENT) == 1 && delta(NS_TX_FRAMES) == 1 &&
         delta(NS_TX_BYTES) == 60, "counters");
  expect(arp_lookup(GW_IP, mac) && memcmp(mac, GW_MAC, 6) == 0, "requester not learned");
}

static void test_arp_not_for_us(void)
{
  uint8_t f[BUF], mac[6];
  size_t n;

  n = mk_arp(f, BCAST_MAC, 1, GW_MAC, GW_IP, ZERO_MAC, NET_IP(10, 0, 2, 99));
  expect(inject_outcome(f, n) == NS_RX_ARP_NOT_FOR_US, "request for another host");
  expect(ncaps == 0, "answered a request for another host");
  expect(!arp_lookup(GW_IP, mac), "learned from a packet not for us");

  // RFC 826: an entry we already have is updated whoever the target is.
  learn(GW_IP, GW_MAC);
  n = mk_arp(f, BCAST_MAC, 2, PEER_MAC, GW_IP, ZERO_MAC, NET_IP(10, 0, 2, 99));
  expect(inject_outcome(f, n) == NS_RX_ARP_NOT_FOR_US, "reply for another host");
  expect(arp_lookup(GW_IP, mac) && memcmp(mac, PEER_MAC, 6) == 0, "entry not merged");

  // Someone else using our address.
  n = mk_arp(f, BCAST_MAC, 1, OTHER_MAC, OUR_IP, ZERO_MAC, OUR_IP);
  expect(inject_outcome(f, n) == NS_RX_ARP_CONFLICT, "conflict");
  expect(ncaps == 0, "answered a conflicting request");
}

static void test_arp_bad(void)
{
  uint8_t f[BUF];
  size_t n;
  int i;

  for (i = 0; i < 7; i++) {
    n = mk_arp(f, BCAST_MAC, 1, GW_MAC, GW_IP, ZERO_MAC, OUR_IP);
    if (i == 0) put16(f + 14, 6);          // hardware type: IEEE 802
    if (i == 1) put16(f + 16, 0x86dd);     // protocol: IPv6
    if (i == 2) f[18] = 8;                 // hardware length
    if (i == 3) f[19] = 16;                // protocol length
    if (i == 4) put16(f + 20, 3);          // opcode: RARP request
    if (i == 5) f[22] |= 1;                // sender MAC multicast
    if (i == 6) memset(f + 22, 0, 6);      // sender MAC zero
    expect(inject_outcome(f, n) == NS_RX_ARP_BAD, "malformed ARP case %d", i);
  }
  expect(ncaps == 0, "answered a malformed request");
}

static void test_arp_expiry(void)
{
  uint8_t mac[6];

  learn(GW_IP, GW_MAC);
  nh_now += NET_ARP_TTL_MS - 1;
  net_tick();
  expect(arp_lookup(GW_IP, mac), "expired too early");
  nh_now += 1;
  mark();
  expect(!arp_lookup(GW_IP, mac), "did not expire (lookup)");
  expect(delta(NS_ARP_EXPIRED) == 1, "arp_expired not counted");

  learn(GW_IP, GW_MAC);
  nh_now += NET_ARP_TTL_MS;
  mark();
  net_tick();
  expect(delta(NS_ARP_EXPIRED) == 1, "did not expire (tick)");
  expect(!arp_lookup(GW_IP, mac), "still there after the tick");
  expect(ncaps == 0, "expiry sent something");
}

static void test_arp_resolve_hold(void)
{
  struct udp_sock *s = udp_open(0);
  uint16_t port = udp_port(s);
  struct pkt pk;

  expect(s != 0 && port >= 49152, "udp_open(0) gave port %u", port);
  expect(udp_sendto(s, PEER_IP, 53, "hello", 5) == 5, "sendto");
  expect(ncaps == 1, "%d frames, expected an ARP request", ncaps);
  pk = cap_pkt(0);
  expect(pk.kind == 'A' && pk.op == 1 && memcmp(pk.dst_mac, BCAST_MAC, 6) == 0 &&
         memcmp(pk.tha, ZERO_MAC, 6) == 0 && pk.tpa == PEER_IP, "bad ARP request");
  arp_reply_from(PEER_IP, PEER_MAC);
  expect(ncaps == 2, "held datagram not sent after the reply");
  pk = cap_pkt(1);
  expect(pk.kind == 'U' && memcmp(pk.dst_mac, PEER_MAC, 6) == 0 && pk.dst == PEER_IP &&
         pk.sport == port && pk.dport == 53 && pk.dlen == 5 &&
         memcmp(pk.data, "hello", 5) == 0, "wrong datagram");
  expect(udp_sendto(s, PEER_IP, 53, "again", 5) == 5 && ncaps == 3 && cap_pkt(2).kind == 'U',
         "resolved address not used directly");
  expect(stat(NS_ARP_LEARNED) == 1 && stat(NS_ARP_REQUESTS_SENT) == 1, "counters");
}

static void test_arp_hold_replace(void)
{
  struct udp_sock *s = udp_open(1234);
  struct pkt pk;

  expect(udp_sendto(s, PEER_IP, 7, "one", 3) == 3, "sendto one");
  expect(udp_sendto(s, PEER_IP, 7, "two", 3) == 3, "sendto two");
  expect(ncaps == 1 && stat(NS_ARP_REQUESTS_SENT) == 1, "one ARP request expected");
  expect(stat(NS_ARP_HOLD_DROPPED) == 1, "older held packet not dropped");
  arp_reply_from(PEER_IP, PEER_MAC);
  expect(ncaps == 2, "%d frames", ncaps);
  pk = cap_pkt(1);
  expect(pk.kind == 'U' && pk.dlen == 3 && memcmp(pk.data, "two", 3) == 0,
         "the newest packet should be the one kept");
}

static void test_arp_timeout(void)
{
  struct udp_sock *s = udp_open(1234);
  int i;

  expect(udp_sendto(s, PEER_IP, 7, "x", 1) == 1 && ncaps == 1, "first request");
  for (i = 1; i < NET_ARP_TRIES; i++) {
    nh_now += NET_ARP_RETRY_MS - 1;
    net_tick();
    expect(ncaps == i, "retried too early");
    nh_now += 1;
    net_tick();
    expect(ncaps == i + 1 && cap_pkt(i).kind == 'A' && cap_pkt(i).tpa == PEER_IP,
           "retry %d not sent", i);
  }
  nh_now += NET_ARP_RETRY_MS;
  net_tick();
  expect(ncaps == NET_ARP_TRIES, "more requests than NET_ARP_TRIES");
  expect(stat(NS_ARP_TIMEOUTS) == 1, "arp_timeouts not counted");
  nh_now += 10 * NET_ARP_RETRY_MS;
  net_tick();
  expect(ncaps == NET_ARP_TRIES, "requests after giving up");
  // A late answer is still learned, but nothing is waiting any more.
  arp_reply_from(PEER_IP, PEER_MAC);
  expect(ncaps == NET_ARP_TRIES, "dropped packet sent anyway");
}

static void test_arp_hold_cap(void)
{
  struct udp_sock *s = udp_open(1234);
  int i, udp = 0, hold = NET_TX_SLOTS / 2;
  uint8_t mac[6];

  for (i = 0; i <= hold; i++)
    expect(udp_sendto(s, NET_IP(10, 0, 2, 30 + i), 7, "x", 1) == 1, "sendto %d", i);
  expect(ncaps == hold + 1, "every address should get an ARP request");
  expect(stat(NS_ARP_HOLD_DROPPED) == 1, "hold limit not applied");
  for (i = 0; i <= hold; i++) {
    memcpy(mac, PEER_MAC, 6);
    mac[5] = (uint8_t)i;
    arp_reply_from(NET_IP(10, 0, 2, 30 + i), mac);
  }
  for (i = 0; i < ncaps; i++)
    udp += cap_pkt(i).kind == 'U';
  expect(udp == hold, "%d datagrams sent, expected %d", udp, hold);
}

static void test_arp_evict(void)
{
  uint8_t mac[6];
  int i;

  for (i = 0; i <= NET_ARP_ENTRIES; i++) {
    memcpy(mac, PEER_MAC, 6);
    mac[5] = (uint8_t)i;
    nh_now += 100;
    learn(NET_IP(10, 0, 2, 100 + i), mac);
  }
  expect(stat(NS_ARP_EVICTED) == 1, "arp_evicted %u", stat(NS_ARP_EVICTED));
  expect(!arp_lookup(NET_IP(10, 0, 2, 100), mac), "oldest entry kept");
  for (i = 1; i <= NET_ARP_ENTRIES; i++)
    expect(arp_lookup(NET_IP(10, 0, 2, 100 + i), mac) && mac[5] == i, "entry %d lost", i);
}

// ---- tests: IP routing ----

static void test_route_gateway(void)
{
  struct udp_sock *s = udp_open(1234);
  struct pkt pk;

  expect(udp_sendto(s, REMOTE_IP, 7, "far", 3) == 3, "sendto");
  pk = cap_pkt(0);
  expect(ncaps == 1 && pk.kind == 'A' && pk.tpa == GW_IP, "should ARP for the gateway");
  arp_reply_from(GW_IP, GW_MAC);
  pk = cap_pkt(1);
  expect(pk.kind == 'U' && pk.dst == REMOTE_IP && memcmp(pk.dst_mac, GW_MAC, 6) == 0,
         "not sent to the gateway");
}

static void test_route_broadcast(void)
{
  struct udp_sock *s = udp_open(68);
  struct pkt pk;

  expect(udp_sendto(s, 0xffffffffu, 67, "hi", 2) == 2, "limited broadcast");
  expect(udp_sendto(s, SUBNET_BCAST, 67, "hi", 2) == 2, "subnet broadcast");
  expect(ncaps == 2, "ARP used for a broadcast?");
  pk = cap_pkt(0);
  expect(pk.kind == 'U' && pk.dst == 0xffffffffu && memcmp(pk.dst_mac, BCAST_MAC, 6) == 0,
         "limited broadcast frame");
  pk = cap_pkt(1);
  expect(pk.kind == 'U' && pk.dst == SUBNET_BCAST && memcmp(pk.dst_mac, BCAST_MAC, 6) == 0,
         "subnet broadcast frame");
}

static void test_no_route(void)
{
  struct udp_sock *s = udp_open(1234);
  uint32_t bad[] = { 0, OUR_IP, NET_IP(127, 0, 0, 1), NET_IP(224, 0, 0, 1) };
  unsigned i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    mark();
    expect(udp_sendto(s, bad[i], 7, "x", 1) == -1, "sendto %08x accepted", bad[i]);
    expect(delta(NS_TX_NO_ROUTE) == 1, "tx_no_route for %08x", bad[i]);
  }
  expect(udp_sendto(s, GW_IP, 0, "x", 1) == -1, "port 0 accepted");
  expect(udp_sendto(s, GW_IP, 7, 0, 1) == -1, "NULL buffer accepted");
  nif.gateway = 0;
  expect(udp_sendto(s, REMOTE_IP, 7, "x", 1) == -1, "off-link without a gateway");
  expect(udp_sendto(s, PEER_IP, 7, "x", 1) == 1, "on-link without a gateway");
  expect(icmp_ping(&nif, REMOTE_IP, 1, 1, "x", 1) == -1, "ping without a route");
}

static void test_tx_errors(void)
{
  struct udp_sock *s = udp_open(1234);

  learn(GW_IP, GW_MAC);
  xmit_result = -1;
  mark();
  expect(udp_sendto(s, GW_IP, 7, "x", 1) == 1, "sendto");
  expect(delta(NS_TX_ERRORS) == 1 && delta(NS_TX_FRAMES) == 0, "driver error not counted");
  xmit_result = 0;
  nif.xmit = 0;
  mark();
  expect(udp_sendto(s, GW_IP, 7, "x", 1) == 1, "sendto without xmit");
  expect(delta(NS_TX_ERRORS) == 1, "missing xmit not counted");
}

// ---- tests: ICMP ----

static void test_ping_reply(void)
{
  static const size_t sizes[] = { 56, 37, 0, 1, NET_PING_MAX };
  uint8_t f[BUF], data[NET_PING_MAX];
  struct pkt pk;
  size_t n, i;

  for (i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i * 7 + 3);
  learn(GW_IP, GW_MAC);
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    n = mk_icmp(f, GW_IP, OUR_IP, 8, 0, 0x4321, (uint16_t)i, data, sizes[i]);
    expect(inject_outcome(f, n) == NS_RX_ICMP_ECHO_REQUEST, "echo request %zu", sizes[i]);
    expect(ncaps == 1, "%d frames for echo of %zu bytes", ncaps, sizes[i]);
    pk = cap_pkt(0);
    expect(pk.kind == 'I' && pk.type == 0 && pk.code == 0 && pk.id == 0x4321 &&
           pk.seq == i && pk.dst == GW_IP && memcmp(pk.dst_mac, GW_MAC, 6) == 0,
           "bad echo reply header (%zu bytes)", sizes[i]);
    expect(pk.dlen == sizes[i] && memcmp(pk.data, data, sizes[i]) == 0,
           "echo reply data differs (%zu bytes)", sizes[i]);
    caps_clear();
  }
  expect(stat(NS_ICMP_ECHO_REPLIES_SENT) == 5, "icmp_echo_replies_sent");

  // To the broadcast address: ignored (RFC 1122 3.2.2.6 allows it).
  n = mk_icmp(f, GW_IP, SUBNET_BCAST, 8, 0, 1, 1, data, 8);
  memcpy(f, BCAST_MAC, 6);
  expect(inject_outcome(f, n) == NS_RX_ICMP_ECHO_BCAST && ncaps == 0, "broadcast echo");

  // From a host not in the ARP cache: the reply waits for ARP.
  n = mk_icmp(f, PEER_IP, OUR_IP, 8, 0, 9, 9, data, 8);
  memcpy(f + 6, PEER_MAC, 6);
  expect(inject_outcome(f, n) == NS_RX_ICMP_ECHO_REQUEST, "echo from peer");
  expect(ncaps == 1 && cap_pkt(0).kind == 'A' && cap_pkt(0).tpa == PEER_IP, "no ARP request");
  arp_reply_from(PEER_IP, PEER_MAC);
  pk = cap_pkt(1);
  expect(pk.kind == 'I' && pk.type == 0 && pk.dst == PEER_IP, "held echo reply");
}

static int reply_sent;
static uint32_t reply_delay;

// Sleep hook: the peer answers the newest echo request, reply_delay ms later.
static void hook_echo_reply(void *chan)
{
  uint8_t f[BUF];
  struct pkt pk;
  size_t n;

  (void)chan;
  nh_now += reply_delay;
  if (reply_sent)
    return;
  pk = cap_pkt(ncaps - 1);
  expect(pk.kind == 'I' && pk.type == 8, "no echo request to answer");
  n = mk_icmp(f, pk.dst, OUR_IP, 0, 0, pk.id, pk.seq, pk.data, pk.dlen);
  inject(f, n);
  reply_sent = 1;
}

static void test_ping_client(void)
{
  uint8_t data[56], buf[100];
  uint32_t from = 0, rtt = 0;
  struct pkt pk;
  int r, i;

  for (i = 0; i < 56; i++)
    data[i] = (uint8_t)(0xa0 + i);
  learn(GW_IP, GW_MAC);
  expect(icmp_ping(&nif, GW_IP, 0x1234, 1, data, 56) == 0, "icmp_ping");
  expect(ncaps == 1, "%d frames", ncaps);
  pk = cap_pkt(0);
  expect(pk.kind == 'I' && pk.type == 8 && pk.code == 0 && pk.id == 0x1234 && pk.seq == 1 &&
         pk.dst == GW_IP && pk.dlen == 56 && memcmp(pk.data, data, 56) == 0,
         "bad echo request");
  reply_sent = 0;
  reply_delay = 7;
  nh_set_sleep_hook(hook_echo_reply);
  r = icmp_wait_reply(0x1234, 1, 1000, buf, sizeof(buf), &from, &rtt);
  expect(r == 56, "icmp_wait_reply returned %d", r);
  expect(memcmp(buf, data, 56) == 0 && from == GW_IP && rtt == 7, "reply data/from/rtt");
  expect(icmp_wait_reply(0x1234, 1, 10, buf, sizeof(buf), 0, 0) == -1,
         "a finished ping can be waited for again");

  // The reply arrives before anyone waits: no sleep needed.
  expect(icmp_ping(&nif, GW_IP, 0x1234, 2, data, 10) == 0, "second ping");
  reply_sent = 0;
  reply_delay = 0;
  hook_echo_reply(0);
  i = nh_sleeps;
  r = icmp_wait_reply(0x1234, 2, 1000, buf, 4, 0, 0);
  expect(r == 10 && nh_sleeps == i && memcmp(buf, data, 4) == 0, "early reply: %d", r);

  expect(icmp_ping(0, GW_IP, 1, 1, data, 1) == -1, "NULL netif accepted");
  expect(icmp_ping(&nif, GW_IP, 1, 1, data, NET_PING_MAX + 1) == -1, "oversized ping");
  expect(icmp_ping(&nif, GW_IP, 1, 1, 0, 5) == -1, "NULL data accepted");
}

static void test_ping_timeout(void)
{
  uint8_t f[BUF], buf[8];
  uint64_t start;
  size_t n;

  learn(GW_IP, GW_MAC);
  expect(icmp_ping(&nif, GW_IP, 77, 1, "abcd", 4) == 0, "icmp_ping");
  start = nh_now;
  expect(icmp_wait_reply(77, 1, 500, buf, sizeof(buf), 0, 0) == -1, "no timeout");
  expect(nh_now - start >= 500 && nh_now - start <= 520, "timed out after %llu ms",
         (unsigned long long)(nh_now - start));
  n = mk_icmp(f, GW_IP, OUR_IP, 0, 0, 77, 1, "abcd", 4);
  expect(inject_outcome(f, n) == NS_RX_ICMP_UNMATCHED, "late reply");

  // Unreachable on-link host: ARP gives up while the caller waits.
  expect(icmp_ping(&nif, PEER_IP, 77, 2, "abcd", 4) == 0, "ping peer");
  expect(icmp_wait_reply(77, 2, (NET_ARP_TRIES + 1) * NET_ARP_RETRY_MS, buf, 8, 0, 0) == -1,
         "reply from nowhere");
  expect(stat(NS_ARP_TIMEOUTS) == 1 && stat(NS_ARP_REQUESTS_SENT) == NET_ARP_TRIES,
         "ARP retries while waiting: %u timeouts, %u requests", stat(NS_ARP_TIMEOUTS),
         stat(NS_ARP_REQUESTS_SENT));
}

static void test_ping_slots(void)
{
  uint8_t f[BUF], buf[8];
  size_t n;
  int i;

  learn(GW_IP, GW_MAC);
  for (i = 0; i <= NET_PING_SLOTS; i++) {
    nh_now += 1;
    expect(icmp_ping(&nif, GW_IP, 5, (uint16_t)i, "x", 1) == 0, "ping %d", i);
  }
  // The oldest was taken back for the newest.
  expect(icmp_wait_reply(5, 0, 0, buf, 8, 0, 0) == -1, "oldest ping still waiting");
  n = mk_icmp(f, GW_IP, OUR_IP, 0, 0, 5, NET_PING_SLOTS, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_ICMP_ECHO_REPLY, "reply to the newest");
  expect(icmp_wait_reply(5, NET_PING_SLOTS, 0, buf, 8, 0, 0) == 1, "newest reply lost");
  n = mk_icmp(f, GW_IP, OUR_IP, 0, 0, 6, 0, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_ICMP_UNMATCHED, "reply to an unknown id");
  n = mk_icmp(f, GW_IP, OUR_IP, 13, 0, 0, 0, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_ICMP_OTHER, "timestamp request");
  n = mk_icmp(f, GW_IP, OUR_IP, 8, 1, 0, 0, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_ICMP_OTHER, "echo request with code 1");
}

// Echo data longer than NET_PING_COPY: the length is reported, only the
// start is kept. The reply for the last slot is the one that would run off
// the end of the slot table if the copy were not bounded.
static void test_ping_big(void)
{
  static uint8_t data[1400], buf[1400];
  uint8_t f[BUF];
  size_t n;
  int i;

  for (i = 0; i < (int)sizeof(data); i++)
    data[i] = (uint8_t)(i * 31 + 5);
  learn(GW_IP, GW_MAC);
  for (i = 0; i < NET_PING_SLOTS; i++)
    expect(icmp_ping(&nif, GW_IP, 9, (uint16_t)i, data, sizeof(data)) == 0, "ping %d", i);
  for (i = NET_PING_SLOTS - 1; i >= 0; i--) {
    n = mk_icmp(f, GW_IP, OUR_IP, 0, 0, 9, (uint16_t)i, data, sizeof(data));
    expect(inject_outcome(f, n) == NS_RX_ICMP_ECHO_REPLY, "reply %d", i);
  }
  for (i = 0; i < NET_PING_SLOTS; i++) {
    memset(buf, 0, sizeof(buf));
    expect(icmp_wait_reply(9, (uint16_t)i, 0, buf, sizeof(buf), 0, 0) == (int)sizeof(data),
           "reply %d length", i);
    expect(memcmp(buf, data, NET_PING_COPY) == 0 && buf[NET_PING_COPY] == 0,
           "reply %d: expected the first %d bytes", i, NET_PING_COPY);
  }
}

// ---- tests: the transmit path ----

static void hook_answer_arp(const uint8_t *frame, uint32_t len)
{
  uint8_t f[BUF];

  if (get16(frame + 12) == 0x0806 && get16(frame + 20) == 1)
    inject(f, mk_arp(f, OUR_MAC, 2, PEER_MAC, get32(frame + 38), OUR_MAC, OUR_IP));
}

// The driver takes a received frame while inside xmit: net_input runs
// nested in the stack's own flush. Nothing may deadlock, and the datagram
// released by the ARP reply goes out from the flush already running.
static void test_xmit_reentry(void)
{
  struct udp_sock *s = udp_open(1234);
  struct pkt pk;

  xmit_hook = hook_answer_arp;
  expect(udp_sendto(s, PEER_IP, 7, "nested", 6) == 6, "sendto");
  xmit_hook = 0;
  expect(ncaps == 2, "%d frames, expected ARP request and datagram", ncaps);
  expect(cap_pkt(0).kind == 'A', "first frame");
  pk = cap_pkt(1);
  expect(pk.kind == 'U' && memcmp(pk.dst_mac, PEER_MAC, 6) == 0 && pk.dlen == 6,
         "datagram after the nested ARP reply");
  expect(stat(NS_RX_ARP_REPLY) == 1, "nested input not counted");
}

// ---- tests: UDP ----

static void test_udp_deliver(void)
{
  struct udp_sock *s = udp_open(7000);
  uint8_t f[BUF], buf[BUF], big[NET_UDP_MAX];
  uint32_t ip = 0;
  uint16_t port = 0;
  size_t n, i;

  expect(s != 0 && udp_port(s) == 7000, "udp_open(7000)");
  n = mk_udp(f, GW_IP, OUR_IP, 5555, 7000, "payload!", 8);
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "datagram");
  expect(recv_nb(s, buf, sizeof(buf), &ip, &port) == 8, "recvfrom");
  expect(memcmp(buf, "payload!", 8) == 0 && ip == GW_IP && port == 5555, "data/sender");
  expect_empty(s, "second read");

  n = mk_udp(f, GW_IP, SUBNET_BCAST, 5555, 7000, "b1", 2);
  memcpy(f, BCAST_MAC, 6);
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "subnet broadcast");
  n = mk_udp(f, GW_IP, 0xffffffffu, 5555, 7000, "b2", 2);
  memcpy(f, BCAST_MAC, 6);
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "limited broadcast");
  expect(recv_nb(s, buf, sizeof(buf), 0, 0) == 2 && memcmp(buf, "b1", 2) == 0, "b1");
  expect(recv_nb(s, buf, sizeof(buf), 0, 0) == 2 && memcmp(buf, "b2", 2) == 0, "b2");

  n = mk_udp(f, GW_IP, OUR_IP, 5555, 7000, "nocsum", 6);
  put16(f + 40, 0);
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "checksum 0 means none");
  expect(recv_nb(s, buf, 3, 0, 0) == 3 && memcmp(buf, "noc", 3) == 0, "truncated read");
  expect_empty(s, "rest of a truncated datagram");

  n = mk_udp(f, GW_IP, OUR_IP, 5555, 7001, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_UDP_NO_SOCKET, "unbound port");

  for (i = 0; i < sizeof(big); i++)
    big[i] = (uint8_t)(i ^ (i >> 8));
  n = mk_udp(f, GW_IP, OUR_IP, 5555, 7000, big, sizeof(big));
  expect(n == NET_FRAME_MAX, "largest frame is %zu bytes", n);
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "largest datagram");
  expect(recv_nb(s, buf, sizeof(buf), 0, 0) == NET_UDP_MAX && memcmp(buf, big, sizeof(big)) == 0,
         "largest datagram data");
  expect(udp_recvfrom(s, 0, 5, 0, 0, 1) == -1, "NULL buffer accepted");
}

static void test_udp_padding(void)
{
  struct udp_sock *s = udp_open(7000);
  uint8_t f[BUF], buf[64];
  size_t n = mk_udp(f, GW_IP, OUR_IP, 5555, 7000, "ab", 2);

  // Ethernet pads a 44-byte frame to 60 bytes; the padding is not data.
  memset(f + n, 0xee, 60 - n);
  expect(inject_outcome(f, 60) == NS_RX_UDP_DELIVERED, "padded frame");
  expect(recv_nb(s, buf, sizeof(buf), 0, 0) == 2 && memcmp(buf, "ab", 2) == 0,
         "padding taken as data");

  // A UDP length shorter than the IP payload: the rest is ignored.
  n = mk_udp(f, GW_IP, OUR_IP, 5555, 7000, "abcdefgh", 8);
  put16(f + 38, 8 + 3);
  fix_udp_csum(f);
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "short UDP length");
  expect(recv_nb(s, buf, sizeof(buf), 0, 0) == 3 && memcmp(buf, "abc", 3) == 0,
         "UDP length not honoured");
}

static void test_udp_send(void)
{
  static const uint32_t sizes[] = { 0, 1, 2, 17, 99, 100, 1000, NET_UDP_MAX };
  struct udp_sock *s = udp_open(4000);
  uint8_t data[NET_UDP_MAX], two[2] = { 0, 0 };
  struct pkt pk;
  unsigned i;

  for (i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i * 13 + 1);
  learn(GW_IP, GW_MAC);
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    expect(udp_sendto(s, REMOTE_IP, 9, data, sizes[i]) == (int)sizes[i], "sendto %u", sizes[i]);
    expect(ncaps == 1, "%d frames for %u bytes", ncaps, sizes[i]);
    expect(caps[0].len == (42 + sizes[i] < 60 ? 60 : 42 + sizes[i]), "frame length %zu",
           caps[0].len);
    pk = cap_pkt(0);
    expect(pk.kind == 'U' && pk.sport == 4000 && pk.dport == 9 && pk.dst == REMOTE_IP &&
           memcmp(pk.dst_mac, GW_MAC, 6) == 0 && pk.dlen == sizes[i] &&
           memcmp(pk.data, data, sizes[i]) == 0, "datagram of %u bytes", sizes[i]);
    caps_clear();
  }
  mark();
  expect(udp_sendto(s, REMOTE_IP, 9, data, NET_UDP_MAX + 1) == -1, "oversized datagram sent");
  expect(delta(NS_TX_TOO_BIG) == 1 && ncaps == 0, "tx_too_big");

  // Data chosen so the computed checksum is 0: it must go out as 0xffff.
  expect(udp_sendto(s, REMOTE_IP, 9, two, 2) == 2, "sendto");
  pk = cap_pkt(0);
  put16(two, pk.ucsum);
  caps_clear();
  expect(udp_sendto(s, REMOTE_IP, 9, two, 2) == 2, "sendto");
  pk = cap_pkt(0);
  expect(pk.ucsum == 0xffff, "checksum 0 sent as 0x%x", pk.ucsum);
  expect(stat(NS_UDP_SENT) == 10, "udp_sent %u", stat(NS_UDP_SENT));
}

static void test_udp_ports(void)
{
  struct udp_sock *a = udp_open(7000), *s[NET_UDP_SOCKETS];
  uint16_t ports[NET_UDP_SOCKETS];
  int i, j, k;
  char junk[64];

  expect(a != 0, "udp_open(7000)");
  expect(udp_open(7000) == 0, "port 7000 bound twice");
  for (k = 0; k < NET_UDP_SOCKETS; k++) {
    s[k] = udp_open(0);
    if (s[k] == 0)
      break;
    ports[k] = udp_port(s[k]);
    expect(ports[k] >= 49152, "ephemeral port %u", ports[k]);
    for (j = 0; j < k; j++)
      expect(ports[j] != ports[k], "port %u twice", ports[k]);
  }
  expect(k == NET_UDP_SOCKETS - 1, "%d ephemeral sockets, expected %d", k, NET_UDP_SOCKETS - 1);
  expect(udp_open(0) == 0 && udp_open(9999) == 0, "more sockets than NET_UDP_SOCKETS");
  udp_close(a);
  expect(udp_port(a) == 0, "closed socket still has a port");
  expect(udp_sendto(a, GW_IP, 7, "x", 1) == -1, "sendto on a closed socket");
  expect(udp_recvfrom(a, junk, sizeof(junk), 0, 0, 0) == -1, "recvfrom on a closed socket");
  udp_close(a);
  udp_close(0);
  udp_close((struct udp_sock *)junk);
  expect(udp_sendto((struct udp_sock *)junk, GW_IP, 7, "x", 1) == -1, "sendto on junk");
  a = udp_open(7000);
  expect(a != 0, "port 7000 not reusable after close");
  for (i = 0; i < k; i++)
    udp_close(s[i]);
  expect(udp_open(ports[0]) != 0, "ephemeral port not reusable");
}

static void test_udp_queue_full(void)
{
  struct udp_sock *s = udp_open(7000);
  uint8_t f[BUF], buf[8];
  size_t n;
  int i;

  for (i = 0; i <= NET_UDP_QLEN; i++) {
    uint8_t d = (uint8_t)i;
    n = mk_udp(f, GW_IP, OUR_IP, 5555, 7000, &d, 1);
    expect(inject_outcome(f, n) == (i < NET_UDP_QLEN ? NS_RX_UDP_DELIVERED : NS_RX_UDP_QUEUE_FULL),
           "datagram %d", i);
  }
  for (i = 0; i < NET_UDP_QLEN; i++)
    expect(recv_nb(s, buf, sizeof(buf), 0, 0) == 1 && buf[0] == i, "datagram %d out of order", i);
  expect_empty(s, "dropped datagram");
}

static void test_udp_no_buffer(void)
{
  struct udp_sock *s[NET_UDP_SOCKETS];
  uint8_t f[BUF], buf[8];
  size_t n;
  int i;

  for (i = 0; i < NET_UDP_SOCKETS; i++)
    s[i] = udp_open((uint16_t)(7000 + i));
  for (i = 0; i < NET_UDP_BUFS; i++) {
    n = mk_udp(f, GW_IP, OUR_IP, 5555, (uint16_t)(7000 + i % NET_UDP_SOCKETS), "x", 1);
    expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "datagram %d", i);
  }
  n = mk_udp(f, GW_IP, OUR_IP, 5555, (uint16_t)(7000 + i % NET_UDP_SOCKETS), "x", 1);
  expect(inject_outcome(f, n) == NS_RX_UDP_NO_BUFFER, "pool should be empty");
  expect(recv_nb(s[0], buf, sizeof(buf), 0, 0) == 1, "read");
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "buffer not returned to the pool");
  udp_close(s[1]);   // its queued datagrams go back to the pool too
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "close did not free buffers");
}

static struct udp_sock *hook_sock;
static int hook_calls, hook_at, intr_flag;

static void hook_deliver(void *chan)
{
  uint8_t f[BUF];

  (void)chan;
  nh_now += 10;
  if (++hook_calls == hook_at)
    inject(f, mk_udp(f, GW_IP, OUR_IP, 4444, 7000, "late", 4));
}

static void hook_close(void *chan)
{
  (void)chan;
  nh_now += 10;
  if (++hook_calls == hook_at)
    udp_close(hook_sock);
}

static void hook_interrupt(void *chan)
{
  nh_default_sleep(chan);
  if (++hook_calls == hook_at)
    intr_flag = 1;
}

static int intr_check(void)
{
  return intr_flag;
}

static void test_udp_blocking(void)
{
  struct udp_sock *s = udp_open(7000), *t[NET_UDP_SOCKETS];
  uint8_t buf[16];
  uint16_t port = 0;
  int i, k;

  hook_calls = 0;
  hook_at = 3;
  nh_set_sleep_hook(hook_deliver);
  expect(udp_recvfrom(s, buf, sizeof(buf), 0, &port, 0) == 4, "blocking read");
  expect(memcmp(buf, "late", 4) == 0 && port == 4444 && hook_calls == 3, "woke wrongly");

  // Closed while a reader sleeps: the reader gets -1 and the slot comes back.
  hook_calls = 0;
  hook_at = 2;
  hook_sock = s;
  nh_set_sleep_hook(hook_close);
  expect(udp_recvfrom(s, buf, sizeof(buf), 0, 0, 0) == -1, "read on a socket closed meanwhile");
  for (k = 0; k < NET_UDP_SOCKETS && (t[k] = udp_open(0)) != 0; k++)
    ;
  expect(k == NET_UDP_SOCKETS, "closed socket's slot not freed (%d sockets)", k);
  for (i = 0; i < k; i++)
    udp_close(t[i]);

  // Interrupted (a killed process): -1 within a tick.
  s = udp_open(7000);
  hook_calls = 0;
  hook_at = 5;
  intr_flag = 0;
  net_set_intr_check(intr_check);
  nh_set_sleep_hook(hook_interrupt);
  expect(udp_recvfrom(s, buf, sizeof(buf), 0, 0, 0) == -1 && hook_calls == 5,
         "interrupted read");
  learn(GW_IP, GW_MAC);
  expect(icmp_ping(&nif, GW_IP, 1, 1, "x", 1) == 0, "ping");
  hook_calls = 0;
  intr_flag = 0;
  expect(icmp_wait_reply(1, 1, 100000, buf, sizeof(buf), 0, 0) == -1 && hook_calls == 5,
         "interrupted ping wait");
}

// ---- tests: malformed input ----

// A valid frame of each kind we parse, addressed to a bound socket.
static size_t tmpl_udp(uint8_t *f)
{
  return mk_udp(f, GW_IP, OUR_IP, 5555, 7000, "0123456789abcdefghij", 20);
}

static size_t tmpl_icmp(uint8_t *f)
{
  return mk_icmp(f, GW_IP, OUR_IP, 8, 0, 0x99, 3, "ping data 0123456789", 20);
}

static size_t tmpl_arp(uint8_t *f)
{
  return mk_arp(f, BCAST_MAC, 1, GW_MAC, GW_IP, ZERO_MAC, OUR_IP);
}

static void test_truncations(void)
{
  struct udp_sock *s = udp_open(7000);
  size_t (*tmpl[3])(uint8_t *) = { tmpl_udp, tmpl_icmp, tmpl_arp };
  uint8_t f[BUF];
  size_t n, k;
  int t, want;

  for (t = 0; t < 3; t++) {
    n = tmpl[t](f);
    for (k = 0; k < n; k++) {
      if (k < 14)
        want = NS_RX_ETH_SHORT;
      else if (t == 2)
        want = NS_RX_ARP_BAD;
      else if (k < 34)
        want = NS_RX_IP_SHORT;
      else
        want = NS_RX_IP_BAD_LEN;
      inject_expect(f, k, want, "truncated frame");
      expect(ncaps == 0, "template %d cut to %zu bytes: something was sent", t, k);
      expect_empty(s, "truncated frame");
    }
    // The whole frame is fine (a check that the templates are valid).
    expect(inject_outcome(f, n) != NS_RX_ETH_SHORT, "template");
    caps_clear();
    recv_nb(s, f, sizeof(f), 0, 0);
  }
  // net_input(NULL, ...) from a confused driver.
  mark();
  net_input(&nif, 0, 100);
  expect_outcome(NS_RX_ETH_SHORT, "NULL frame");
  net_input(0, f, 100);
  net_input((struct netif *)f, f, 100);
}

// Which outcomes a single bit flip at byte b, bit k of a template may give.
static int flip_allowed(int kind, size_t b, int k, int got)
{
  if (b < 6)
    return got == NS_RX_ETH_NOT_FOR_US;
  if (b < 12)     // the source MAC is not checked: still valid
    return got == (kind == 'U' ? NS_RX_UDP_DELIVERED : NS_RX_ICMP_ECHO_REQUEST);
  if (b < 14)
    return got == NS_RX_ETH_UNKNOWN_TYPE;
  if (b == 14 && k >= 4)
    return got == NS_RX_IP_BAD_VERSION;
  if (b == 14)    // IHL: too small, or more header than there is or than sums up
    return got == NS_RX_IP_BAD_HDR_LEN || got == NS_RX_IP_BAD_CSUM || got == NS_RX_IP_SHORT;
  if (b < 34)
    return got == NS_RX_IP_BAD_CSUM;
  if (kind == 'I')
    return got == NS_RX_ICMP_BAD_CSUM;
  if (b == 38 || b == 39)   // UDP length: beyond the payload, or sums differently
    return got == NS_RX_UDP_BAD_LEN || got == NS_RX_UDP_BAD_CSUM;
  if (b == 40 || b == 41)   // a checksum flipped to 0 means "no checksum"
    return got == NS_RX_UDP_BAD_CSUM || got == NS_RX_UDP_DELIVERED;
  return got == NS_RX_UDP_BAD_CSUM;
}

static void test_bitflips(void)
{
  struct udp_sock *s = udp_open(7000);
  uint8_t f[BUF], g[BUF], buf[BUF];
  uint32_t ip;
  uint16_t port;
  size_t n, b;
  int k, got, kind, r, flips = 0;

  learn(GW_IP, GW_MAC);
  for (kind = 'I'; kind; kind = (kind == 'I' ? 'U' : 0)) {
    n = kind == 'U' ? tmpl_udp(f) : tmpl_icmp(f);
    for (b = 0; b < n; b++) {
      for (k = 0; k < 8; k++) {
        memcpy(g, f, n);
        g[b] ^= (uint8_t)(1 << k);
        got = inject_outcome(g, n);
        flips++;
        expect(flip_allowed(kind, b, k, got), "%c frame, bit %d of byte %zu: counted in %s",
               kind, k, b, net_stat_name(got));
        if (got == NS_RX_UDP_DELIVERED) {
          if (b == 40 || b == 41)
            expect(get16(g + 40) == 0, "flipped checksum accepted");
          r = recv_nb(s, buf, sizeof(buf), &ip, &port);
          expect(r == 20 && memcmp(buf, "0123456789abcdefghij", 20) == 0 && ip == GW_IP &&
                 port == 5555, "bit %d of byte %zu: delivered something else", k, b);
        }
        expect_empty(s, "bit flip");
        if (got == NS_RX_ICMP_ECHO_REQUEST)
          expect(ncaps == 1 && cap_pkt(0).kind == 'I', "echo not answered");
        else
          expect(ncaps == 0, "bit %d of byte %zu: something was sent", k, b);
        caps_clear();
      }
    }
  }
  expect(flips == 8 * (62 + 62), "%d flips", flips);
}

static void test_lying_lengths(void)
{
  struct udp_sock *s = udp_open(7000);
  uint8_t f[BUF];
  size_t n;

  n = tmpl_udp(f);
  put16(f + 16, get16(f + 16) + 1);      // IP total length one past the frame
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_IP_BAD_LEN, "IP length > frame");

  n = tmpl_udp(f);
  put16(f + 16, 19);                     // IP total length shorter than its header
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_IP_BAD_LEN, "IP length < header");

  n = tmpl_udp(f);
  f[14] = 0x4f;                          // 60-byte header in a 62-byte frame: fine;
  expect(inject_outcome(f, 40) == NS_RX_IP_SHORT, "IHL beyond the frame");  // cut: short
  f[14] = 0x44;
  expect(inject_outcome(f, n) == NS_RX_IP_BAD_HDR_LEN, "IHL 4");

  n = tmpl_udp(f);
  put16(f + 38, 8 + 21);                 // UDP length one past the IP payload
  fix_udp_csum(f);
  expect(inject_outcome(f, n) == NS_RX_UDP_BAD_LEN, "UDP length > IP payload");
  put16(f + 38, 7);
  fix_udp_csum(f);
  expect(inject_outcome(f, n) == NS_RX_UDP_BAD_LEN, "UDP length < 8");

  n = tmpl_udp(f);
  put16(f + 16, 20 + 7);                 // 7 bytes of IP payload: no room for UDP
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_UDP_SHORT, "UDP header cut by IP length");

  n = tmpl_icmp(f);
  put16(f + 16, 20 + 4);
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_ICMP_SHORT, "ICMP header cut by IP length");

  // A header with options (IHL 6): skipped, and the payload still found.
  n = tmpl_udp(f);
  memmove(f + 38, f + 34, n - 34);
  memset(f + 34, 1, 4);                  // four no-op options
  f[14] = 0x46;
  put16(f + 16, get16(f + 16) + 4);
  fix_ip_csum(f);
  fix_udp_csum(f);
  expect(inject_outcome(f, n + 4) == NS_RX_UDP_DELIVERED, "IP options");
  expect(recv_nb(s, f, sizeof(f), 0, 0) == 20, "datagram after options");

  memset(f, 0, sizeof(f));
  n = tmpl_udp(f);
  expect(inject_outcome(f, NET_FRAME_MAX + 1) == NS_RX_ETH_TOO_LONG, "1515-byte frame");
  expect_empty(s, "lying lengths");
  expect(ncaps == 0, "lying lengths: something was sent");
}

static void test_fragments(void)
{
  struct udp_sock *s = udp_open(7000);
  uint8_t f[BUF];
  size_t n;

  n = tmpl_udp(f);
  put16(f + 20, 0x2000);                 // more fragments
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_IP_FRAG, "MF set");
  put16(f + 20, 0x0001);                 // offset 8
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_IP_FRAG, "offset 1");
  put16(f + 20, 0x1fff);
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_IP_FRAG, "last fragment");
  expect_empty(s, "fragment");
  put16(f + 20, 0x4000);                 // don't fragment: a whole datagram
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_UDP_DELIVERED, "DF set");
}

static void test_unknown(void)
{
  uint8_t f[BUF];
  size_t n;

  n = tmpl_udp(f);
  put16(f + 12, 0x86dd);
  expect(inject_outcome(f, n) == NS_RX_ETH_UNKNOWN_TYPE, "IPv6 ethertype");
  put16(f + 12, 0x8100);
  expect(inject_outcome(f, n) == NS_RX_ETH_UNKNOWN_TYPE, "VLAN tag");

  n = tmpl_udp(f);
  f[23] = 6;                             // TCP
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_IP_UNKNOWN_PROTO, "TCP");

  n = tmpl_udp(f);
  f[14] = 0x65;
  expect(inject_outcome(f, n) == NS_RX_IP_BAD_VERSION, "IPv6 in an IPv4 frame");

  n = tmpl_udp(f);
  memcpy(f, OTHER_MAC, 6);
  expect(inject_outcome(f, n) == NS_RX_ETH_NOT_FOR_US, "another host's MAC");
  memcpy(f, "\x01\x00\x5e\x00\x00\x01", 6);
  expect(inject_outcome(f, n) == NS_RX_ETH_NOT_FOR_US, "multicast MAC");

  n = mk_udp(f, GW_IP, NET_IP(10, 0, 2, 99), 5555, 7000, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_IP_NOT_FOR_US, "another host's IP");
  n = mk_udp(f, GW_IP, NET_IP(224, 0, 0, 1), 5555, 7000, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_IP_NOT_FOR_US, "multicast IP");
  n = mk_udp(f, 0xffffffffu, OUR_IP, 5555, 7000, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_IP_BAD_SRC, "broadcast source");
  n = mk_udp(f, SUBNET_BCAST, OUR_IP, 5555, 7000, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_IP_BAD_SRC, "subnet broadcast source");
  n = mk_icmp(f, NET_IP(224, 1, 2, 3), OUR_IP, 8, 0, 1, 1, "x", 1);
  expect(inject_outcome(f, n) == NS_RX_IP_BAD_SRC, "multicast source");
  expect(ncaps == 0, "something was sent");

  n = tmpl_udp(f);
  f[22] = 0;                             // TTL 0 at its destination: still delivered
  fix_ip_csum(f);
  expect(inject_outcome(f, n) == NS_RX_UDP_NO_SOCKET, "TTL 0");
}

// ---- the fuzz loop ----

static uint32_t rng;

static uint32_t rnd(void)
{
  // xorshift32: the same sequence for a seed on every libc.
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static size_t fuzz_frame(uint8_t *f)
{
  uint8_t data[NET_UDP_MAX];
  size_t n, i, dl = rnd() % 3 == 0 ? rnd() % (NET_UDP_MAX + 1) : rnd() % 64;
  int muts, fix;
  uint32_t src = rnd() % 4 ? GW_IP : rnd();

  for (i = 0; i < dl; i++)
    data[i] = (uint8_t)rnd();
  switch (rnd() % 9) {
  case 0:   // noise
    n = rnd() % 1600;
    for (i = 0; i < n; i++)
      f[i] = (uint8_t)rnd();
    if (n >= 14 && rnd() % 2) {
      memcpy(f, rnd() % 2 ? OUR_MAC : BCAST_MAC, 6);
      put16(f + 12, rnd() % 2 ? 0x0800 : 0x0806);
    }
    return n;
  case 1:
    n = mk_udp(f, src, OUR_IP, (uint16_t)rnd(), 7000, data, dl);
    break;
  case 2:
    n = mk_udp(f, src, rnd() % 2 ? SUBNET_BCAST : OUR_IP, (uint16_t)rnd(),
               (uint16_t)(rnd() % 2 ? 7001 : rnd()), data, dl);
    break;
  case 3:
    n = mk_icmp(f, src, OUR_IP, 8, 0, (uint16_t)rnd(), (uint16_t)rnd(), data, dl);
    break;
  case 4:
    n = mk_icmp(f, src, OUR_IP, 0, 0, 42, (uint16_t)(rnd() % 4), data, dl % 64);
    break;
  case 5:
    n = mk_arp(f, BCAST_MAC, (uint16_t)(1 + rnd() % 2), PEER_MAC,
               rnd() % 2 ? NET_IP(10, 0, 2, rnd() % 256) : rnd(), ZERO_MAC,
               rnd() % 4 ? OUR_IP : rnd());
    f[27] = (uint8_t)rnd();   // vary the sender MAC a little
    break;
  case 6:   // IP with options
    n = mk_udp(f, src, OUR_IP, 1, 7000, data, dl % 200);
    memmove(f + 14 + 20 + 40, f + 34, n - 34);
    for (i = 0; i < 40; i++)
      f[34 + i] = (uint8_t)rnd();
    f[14] = 0x4f;
    put16(f + 16, get16(f + 16) + 40);
    n += 40;
    fix_ip_csum(f);
    fix_udp_csum(f);
    break;
  case 7:
    n = mk_icmp(f, src, OUR_IP, (uint8_t)rnd(), (uint8_t)(rnd() % 2), 1, 1, data, dl % 64);
    break;
  default:
    n = mk_udp(f, src, OUR_IP, 5, 7000, data, dl % 30);
    memset(f + n, (int)rnd(), 60 + rnd() % 8);
    n += rnd() % 30;
    break;
  }
  // Mutations, then (usually) checksums fixed so the frame gets deeper.
  muts = (int)(rnd() % 5);
  while (muts-- > 0 && n > 0) {
    switch (rnd() % 6) {
    case 0: f[rnd() % n] = (uint8_t)rnd(); break;
    case 1: f[rnd() % n] ^= (uint8_t)(1 << (rnd() % 8)); break;
    case 2: put16(f + 16, rnd() % 3 ? rnd() % (n + 8) : rnd()); break;   // IP total length
    case 3: f[14] = (uint8_t)(0x40 | (rnd() % 16)); break;               // IHL
    case 4: put16(f + 34 + 4, rnd() % 3 ? rnd() % (n + 8) : rnd()); break;  // UDP length
    default: n = rnd() % (n + 1); break;                                 // truncate
    }
  }
  fix = (int)(rnd() % 10);
  if (fix < 7) {
    fix_ip_csum(f);
    if (f[14 + 9] == 17)
      fix_udp_csum(f);
    else
      fix_icmp_csum(f);
  }
  return n;
}

static void test_fuzz(void)
{
  const char *seed_env = getenv("NET_FUZZ_SEED"), *iters_env = getenv("NET_FUZZ_ITERS");
  uint32_t seed = seed_env ? (uint32_t)strtoul(seed_env, 0, 0)
                           : (uint32_t)time(0) ^ ((uint32_t)getpid() << 16);
  long iters = iters_env ? strtol(iters_env, 0, 0) : 20000, it;
  struct udp_sock *s = udp_open(7000), *s2 = udp_open(7001);
  uint8_t f[BUF + 64], buf[BUF];
  struct net_stats st;
  uint32_t sum;
  int i, r;

  if (seed == 0)
    seed = 1;
  memset(buf, 0x5a, sizeof(buf));
  rng = seed;
  printf("    net_fuzz: seed %u, %ld frames (repeat: NET_FUZZ_SEED=%u)\n", seed, iters, seed);
  fflush(stdout);
  learn(GW_IP, GW_MAC);
  for (it = 0; it < iters; it++) {
    memset(f, 0, sizeof(f));
    inject(f, fuzz_frame(f));
    if (rnd() % 64 == 0)
      icmp_ping(&nif, rnd() % 2 ? GW_IP : rnd(), 42, (uint16_t)(rnd() % 4), "fuzz", 4);
    if (rnd() % 64 == 0)
      udp_sendto(s, rnd() % 2 ? GW_IP : rnd(), 9, buf, rnd() % (NET_UDP_MAX + 2));
    if (rnd() % 16 == 0) {
      nh_now += rnd() % 3000;
      net_tick();
      while ((r = recv_nb(rnd() % 2 ? s : s2, buf, sizeof(buf), 0, 0)) >= 0)
        expect(r <= NET_UDP_MAX, "read %d bytes", r);
    }
    if (rnd() % 512 == 0)
      icmp_wait_reply(42, (uint16_t)(rnd() % 4), 0, buf, sizeof(buf), 0, 0);
    net_get_stats(&st);
    for (sum = 0, i = NS_RX_FIRST_OUTCOME; i <= NS_RX_LAST_OUTCOME; i++)
      sum += st.n[i];
    expect(sum == st.n[NS_RX_FRAMES], "frame %ld: %u outcomes for %u frames", it, sum,
           st.n[NS_RX_FRAMES]);
    if (ncaps > MAXCAPS / 2)
      caps_clear();
  }
  caps_clear();
  net_get_stats(&st);
  printf("    net_fuzz: delivered %u, echo answered %u, ARP answered %u, bad IP csum %u\n",
         st.n[NS_RX_UDP_DELIVERED], st.n[NS_RX_ICMP_ECHO_REQUEST], st.n[NS_RX_ARP_REQUEST],
         st.n[NS_RX_IP_BAD_CSUM]);
}

// ---- the runner ----

struct test {
  const char *name;
  void (*fn)(void);
};

static const struct test tests[] = {
  { "stat_names", test_stat_names },
  { "arp_reply", test_arp_reply },
  { "arp_not_for_us", test_arp_not_for_us },
  { "arp_bad", test_arp_bad },
  { "arp_expiry", test_arp_expiry },
  { "arp_resolve_hold", test_arp_resolve_hold },
  { "arp_hold_replace", test_arp_hold_replace },
  { "arp_timeout", test_arp_timeout },
  { "arp_hold_cap", test_arp_hold_cap },
  { "arp_evict", test_arp_evict },
  { "route_gateway", test_route_gateway },
  { "route_broadcast", test_route_broadcast },
  { "no_route", test_no_route },
  { "tx_errors", test_tx_errors },
  { "ping_reply", test_ping_reply },
  { "ping_client", test_ping_client },
  { "ping_timeout", test_ping_timeout },
  { "ping_slots", test_ping_slots },
  { "ping_big", test_ping_big },
  { "xmit_reentry", test_xmit_reentry },
  { "udp_deliver", test_udp_deliver },
  { "udp_padding", test_udp_padding },
  { "udp_send", test_udp_send },
  { "udp_ports", test_udp_ports },
  { "udp_queue_full", test_udp_queue_full },
  { "udp_no_buffer", test_udp_no_buffer },
  { "udp_blocking", test_udp_blocking },
  { "truncations", test_truncations },
  { "bitflips", test_bitflips },
  { "lying_lengths", test_lying_lengths },
  { "fragments", test_fragments },
  { "unknown", test_unknown },
  { "fuzz", test_fuzz },
};

static void setup(void)
{
  nh_reset();
  nh_now = 1000000;
  ncaps = 0;
  xmit_result = 0;
  xmit_hook = 0;
  in_xmit = 0;
  memset(&nif, 0, sizeof(nif));
  memcpy(nif.mac, OUR_MAC, 6);
  net_set_qemu_defaults(&nif);
  nif.xmit = cap_xmit;
  net_init(&nif);
}

// What holds after any test: locks released, every frame sent well-formed,
// every frame received counted in exactly one outcome.
static void after(void)
{
  struct net_stats st;
  uint32_t sum = 0;
  int i;

  expect(nh_locks_held == 0, "%d locks still held", nh_locks_held);
  caps_clear();
  net_get_stats(&st);
  for (i = NS_RX_FIRST_OUTCOME; i <= NS_RX_LAST_OUTCOME; i++)
    sum += st.n[i];
  expect(sum == st.n[NS_RX_FRAMES], "%u outcomes for %u frames", sum, st.n[NS_RX_FRAMES]);
}

// 1 if the test passed. The setjmp lives here, away from main's loop
// variables, so nothing longjmp could clobber is used after it returns.
static int run_one(const struct test *t)
{
  setup();
  if (setjmp(test_jmp) != 0) {
    printf("FAIL: net_%s: %s\n", t->name, fail_msg);
    return 0;
  }
  t->fn();
  after();
  printf("PASS: net_%s\n", t->name);
  return 1;
}

int main(int argc, char **argv)
{
  int failed = 0;
  size_t i;

  setvbuf(stdout, 0, _IOLBF, 0);
  for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
    if (argc > 1 && strstr(tests[i].name, argv[1]) == 0)
      continue;
    if (!run_one(&tests[i]))
      failed++;
  }
  return failed ? 1 : 0;
}
