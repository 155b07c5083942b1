// udp.c: UDP sockets: bind a local port, send datagrams, and queue received
// datagrams per socket until a reader takes them.
//
// Specs: RFC 768 (header: source port, destination port, length of header
// plus data, checksum over a pseudo-header of source and destination
// address, protocol and UDP length followed by the header and data; a
// computed checksum of 0 is sent as 0xffff, and 0 received means "none");
// RFC 1122 4.1.3.4 (a datagram with a wrong checksum is discarded
// silently); RFC 6335 section 6 (ephemeral ports 49152..65535).
//
// Checks on input, each with its own counter (net.h): at least 8 bytes of
// IP payload, 8 <= UDP length <= IP payload (bytes past the UDP length are
// ignored), checksum if present, a socket on the port, room in its queue
// (NET_UDP_QLEN) and in the shared buffer pool (NET_UDP_BUFS).
//
// Sockets live in a fixed table. A socket closed while a reader sleeps on
// it becomes CLOSING: unbound at once, its slot reused only after the last
// sleeper has woken and left.
//
// See it run: make -C tests/host/net check
#include "netpriv.h"

#define EPHEMERAL_FIRST 49152u
#define EPHEMERAL_COUNT 16384u

enum { SOCK_FREE, SOCK_OPEN, SOCK_CLOSING };

struct udp_dgram {
  struct udp_dgram *next;
  uint32_t ip;             // sender
  uint16_t port;
  uint16_t len;
  uint8_t  data[NET_UDP_MAX];
};

struct udp_sock {
  uint8_t  state;          // SOCK_*
  uint16_t sleepers;       // readers in udp_recvfrom's sleep
  uint16_t port;           // bound local port; 0 when not OPEN
  uint16_t qlen;
  struct udp_dgram *head, *tail;
};

static struct udp_sock  socks[NET_UDP_SOCKETS];
static struct udp_dgram dgrams[NET_UDP_BUFS];
static struct udp_dgram *dgram_free;
static uint16_t next_ephemeral;

void udp_init(void)
{
  int i;

  net_zero(socks, sizeof(socks));
  dgram_free = 0;
  for (i = 0; i < NET_UDP_BUFS; i++) {
    dgrams[i].next = dgram_free;
    dgram_free = &dgrams[i];
  }
  next_ephemeral = 0;
}

// Only pointers udp_open returned, and only while open.
static int sock_open(struct udp_sock *s)
{
  int i;

  for (i = 0; i < NET_UDP_SOCKETS; i++) {
    if (s == &socks[i])
      return s->state == SOCK_OPEN;
  }
  return 0;
}

static struct udp_sock *sock_bound(uint16_t port)
{
  int i;

  for (i = 0; i < NET_UDP_SOCKETS; i++) {
    if (socks[i].state == SOCK_OPEN && socks[i].port == port)
      return &socks[i];
  }
  return 0;
}

void udp_input(uint32_t src, uint32_t dst, const uint8_t *p, uint32_t len)
{
  struct udp_sock *s;
  struct udp_dgram *d;
  uint32_t ulen, n;

  if (len < UDP_HLEN) {
    net_count(NS_RX_UDP_SHORT);
    return;
  }
  ulen = rd16(p + 4);
  if (ulen < UDP_HLEN || ulen > len) {
    net_count(NS_RX_UDP_BAD_LEN);
    return;
  }
  if (rd16(p + 6) != 0) {
    uint32_t sum = net_pseudo_sum(src, dst, IP_PROTO_UDP, (uint16_t)ulen);
    if (net_fold(net_sum(sum, p, ulen)) != 0) {
      net_count(NS_RX_UDP_BAD_CSUM);
      return;
    }
  }
  n = ulen - UDP_HLEN;
  // Only a frame beyond NET_FRAME_MAX could carry more; never copy past
  // a buffer on the strength of a length field.
  if (n > NET_UDP_MAX) {
    net_count(NS_RX_UDP_BAD_LEN);
    return;
  }
  s = sock_bound(rd16(p + 2));
  if (s == 0) {
    net_count(NS_RX_UDP_NO_SOCKET);
    return;
  }
  if (s->qlen >= NET_UDP_QLEN) {
    net_count(NS_RX_UDP_QUEUE_FULL);
    return;
  }
  d = dgram_free;
  if (d == 0) {
    net_count(NS_RX_UDP_NO_BUFFER);
    return;
  }
  dgram_free = d->next;
  d->next = 0;
  d->ip = src;
  d->port = rd16(p);
  d->len = (uint16_t)n;
  net_copy(d->data, p + UDP_HLEN, n);
  if (s->tail)
    s->tail->next = d;
  else
    s->head = d;
  s->tail = d;
  s->qlen++;
  net_count(NS_RX_UDP_DELIVERED);
  vos_wakeup(s);
}

struct udp_sock *udp_open(uint16_t port)
{
  struct udp_sock *s = 0;
  uint32_t i;

  if (net_if == 0)
    return 0;
  vos_lock(&net_lock);
  for (i = 0; i < NET_UDP_SOCKETS && s == 0; i++) {
    if (socks[i].state == SOCK_FREE)
      s = &socks[i];
  }
  if (s != 0 && port == 0) {
    // Walk the ephemeral range from where the last search stopped, so a
    // port just closed is not handed out again at once.
    for (i = 0; i < EPHEMERAL_COUNT && port == 0; i++) {
      uint16_t cand = (uint16_t)(EPHEMERAL_FIRST + next_ephemeral);
      next_ephemeral = (uint16_t)((next_ephemeral + 1) % EPHEMERAL_COUNT);
      if (sock_bound(cand) == 0)
        port = cand;
    }
  }
  if (s == 0 || port == 0 || sock_bound(port) != 0) {
    vos_unlock(&net_lock);
    return 0;
  }
  s->state = SOCK_OPEN;
  s->port = port;
  s->sleepers = 0;
  s->qlen = 0;
  s->head = s->tail = 0;
  vos_unlock(&net_lock);
  return s;
}

uint16_t udp_port(struct udp_sock *s)
{
  uint16_t port = 0;

  if (net_if == 0)
    return 0;
  vos_lock(&net_lock);
  if (sock_open(s))
    port = s->port;
  vos_unlock(&net_lock);
  return port;
}

int udp_sendto(struct udp_sock *s, uint32_t ip, uint16_t port,
               const void *buf, uint32_t len)
{
  struct net_tx *t;
  uint8_t *u;
  uint16_t csum;
  uint32_t ulen = UDP_HLEN + len;

  if (net_if == 0 || (buf == 0 && len > 0) || port == 0)
    return -1;
  vos_lock(&net_lock);
  if (!sock_open(s)) {
    vos_unlock(&net_lock);
    return -1;
  }
  if (len > NET_UDP_MAX) {
    net_count(NS_TX_TOO_BIG);
    vos_unlock(&net_lock);
    return -1;
  }
  t = tx_alloc();
  if (t == 0) {
    vos_unlock(&net_lock);
    return -1;
  }
  u = t->frame + FRAME_L4;
  wr16(u + 0, s->port);
  wr16(u + 2, port);
  wr16(u + 4, (uint16_t)ulen);
  wr16(u + 6, 0);
  if (len > 0)
    net_copy(u + UDP_HLEN, buf, len);
  csum = net_fold(net_sum(net_pseudo_sum(net_if->ip, ip, IP_PROTO_UDP, (uint16_t)ulen),
                          u, ulen));
  wr16(u + 6, csum == 0 ? 0xffff : csum);
  if (ip_send(t, ip, IP_PROTO_UDP, ulen) < 0) {
    vos_unlock(&net_lock);
    return -1;
  }
  net_count(NS_UDP_SENT);
  vos_unlock(&net_lock);
  net_flush();
  return (int)len;
}

// The last one out of a CLOSING socket frees it.
static void sock_leave(struct udp_sock *s)
{
  s->sleepers--;
  if (s->state == SOCK_CLOSING && s->sleepers == 0)
    s->state = SOCK_FREE;
}

int udp_recvfrom(struct udp_sock *s, void *buf, uint32_t max,
                 uint32_t *ip, uint16_t *port, int nonblock)
{
  struct udp_dgram *d;
  uint32_t n;

  if (net_if == 0 || (buf == 0 && max > 0))
    return -1;
  vos_lock(&net_lock);
  if (!sock_open(s)) {
    vos_unlock(&net_lock);
    return -1;
  }
  while (s->head == 0) {
    if (nonblock || net_interrupted()) {
      vos_unlock(&net_lock);
      return -1;
    }
    s->sleepers++;
    vos_sleep(s, &net_lock);
    sock_leave(s);
    if (s->state != SOCK_OPEN) {
      vos_unlock(&net_lock);
      return -1;
    }
  }
  d = s->head;
  s->head = d->next;
  if (s->head == 0)
    s->tail = 0;
  s->qlen--;
  n = d->len < max ? d->len : max;
  if (n > 0)
    net_copy(buf, d->data, n);
  if (ip)
    *ip = d->ip;
  if (port)
    *port = d->port;
  d->next = dgram_free;
  dgram_free = d;
  vos_unlock(&net_lock);
  return (int)n;
}

void udp_close(struct udp_sock *s)
{
  struct udp_dgram *d;

  if (net_if == 0)
    return;
  vos_lock(&net_lock);
  if (!sock_open(s)) {
    vos_unlock(&net_lock);
    return;
  }
  while ((d = s->head) != 0) {
    s->head = d->next;
    d->next = dgram_free;
    dgram_free = d;
  }
  s->tail = 0;
  s->qlen = 0;
  s->port = 0;
  s->state = s->sleepers > 0 ? SOCK_CLOSING : SOCK_FREE;
  vos_wakeup(s);
  vos_unlock(&net_lock);
}

void udp_tick(void)
{
  int i;

  for (i = 0; i < NET_UDP_SOCKETS; i++) {
    if (socks[i].sleepers > 0)
      vos_wakeup(&socks[i]);
  }
}
