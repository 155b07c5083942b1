// icmp.c: ICMP echo: answers pings sent to us, and sends pings for a ping
// program and hands it the replies.
//
// Specs: RFC 792, "Echo or Echo Reply Message" (type 8 request, type 0
// reply, code 0; identifier and sequence number to match replies with
// requests; the data must come back unchanged; checksum over the whole ICMP
// message, RFC 1071); RFC 1122 3.2.2.6 (every host answers echo requests;
// one sent to a broadcast address may be silently dropped, as here).
// Other ICMP types are counted and ignored.
//
// Message: 0 type  1 code  2 checksum  4 identifier  6 sequence  8 data
//
// A ping: icmp_ping() claims a slot keyed by (id, seq) and sends the request;
// icmp_wait_reply() sleeps on that slot until the reply fills it or the
// deadline passes. net_tick() wakes sleepers so they notice the deadline.
// A reply nobody waits for (too late, or for another program) is counted
// in rx_icmp_unmatched. Slots never waited for are taken back, oldest
// first, when a new ping needs one.
//
// See it run: make -C tests/host/net check
#include "netpriv.h"

#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8

enum { PING_FREE, PING_WAITING, PING_DONE };

struct ping_slot {
  uint8_t  state;        // PING_*
  uint8_t  sleeping;     // an icmp_wait_reply is waiting on it
  uint16_t id, seq;
  uint32_t from;         // DONE: who replied
  uint32_t len;          // DONE: reply data length (may exceed NET_PING_COPY)
  uint64_t sent, got;    // vos_time_ms() of request and reply
  uint8_t  data[NET_PING_COPY];
};

static struct ping_slot pings[NET_PING_SLOTS];

void icmp_init(void)
{
  net_zero(pings, sizeof(pings));
}

static struct ping_slot *ping_find(uint16_t id, uint16_t seq)
{
  int i;

  for (i = 0; i < NET_PING_SLOTS; i++) {
    if (pings[i].state != PING_FREE && pings[i].id == id && pings[i].seq == seq)
      return &pings[i];
  }
  return 0;
}

// A slot for a new ping: free, else the oldest nobody is waiting on.
static struct ping_slot *ping_claim(void)
{
  struct ping_slot *best = 0;
  int i;

  for (i = 0; i < NET_PING_SLOTS; i++) {
    struct ping_slot *p = &pings[i];
    if (p->state == PING_FREE)
      return p;
    if (!p->sleeping && (best == 0 || p->sent < best->sent))
      best = p;
  }
  return best;
}

static void icmp_answer(uint32_t src, const uint8_t *p, uint32_t len)
{
  struct net_tx *t;
  uint8_t *q;

  // Cannot happen for frames within NET_FRAME_MAX, but the copy below
  // must never run past the slot.
  if (len > NET_FRAME_MAX - FRAME_L4) {
    net_count(NS_TX_TOO_BIG);
    return;
  }
  t = tx_alloc();
  if (t == 0)
    return;
  q = t->frame + FRAME_L4;
  net_copy(q, p, len);
  q[0] = ICMP_ECHO_REPLY;
  q[1] = 0;
  wr16(q + 2, 0);
  wr16(q + 2, net_fold(net_sum(0, q, len)));
  if (ip_send(t, src, IP_PROTO_ICMP, len) == 0)
    net_count(NS_ICMP_ECHO_REPLIES_SENT);
}

static void icmp_got_reply(uint32_t src, const uint8_t *p, uint32_t len)
{
  struct ping_slot *s = ping_find(rd16(p + 4), rd16(p + 6));
  uint32_t n = len - ICMP_HLEN;

  if (s == 0 || s->state != PING_WAITING) {
    net_count(NS_RX_ICMP_UNMATCHED);
    return;
  }
  s->from = src;
  s->len = n;
  s->got = vos_time_ms();
  net_copy(s->data, p + ICMP_HLEN, n < NET_PING_COPY ? n : NET_PING_COPY);
  s->state = PING_DONE;
  net_count(NS_RX_ICMP_ECHO_REPLY);
  vos_wakeup(s);
}

void icmp_input(uint32_t src, int to_broadcast, const uint8_t *p, uint32_t len)
{
  if (len < ICMP_HLEN) {
    net_count(NS_RX_ICMP_SHORT);
    return;
  }
  if (net_fold(net_sum(0, p, len)) != 0) {
    net_count(NS_RX_ICMP_BAD_CSUM);
    return;
  }
  if (p[0] == ICMP_ECHO_REQUEST && p[1] == 0) {
    if (to_broadcast) {
      net_count(NS_RX_ICMP_ECHO_BCAST);
      return;
    }
    net_count(NS_RX_ICMP_ECHO_REQUEST);
    icmp_answer(src, p, len);
  } else if (p[0] == ICMP_ECHO_REPLY && p[1] == 0) {
    icmp_got_reply(src, p, len);
  } else {
    net_count(NS_RX_ICMP_OTHER);
  }
}

int icmp_ping(struct netif *nif, uint32_t dst_ip, uint16_t id, uint16_t seq,
              const void *data, uint32_t len)
{
  struct ping_slot *s;
  struct net_tx *t;
  uint8_t *q;

  if (nif == 0 || nif != net_if || len > NET_PING_MAX || (data == 0 && len > 0))
    return -1;
  vos_lock(&net_lock);
  // The same (id, seq) again is a retransmission: it keeps its slot.
  s = ping_find(id, seq);
  if (s == 0)
    s = ping_claim();
  t = s ? tx_alloc() : 0;
  if (t == 0) {
    vos_unlock(&net_lock);
    return -1;
  }
  q = t->frame + FRAME_L4;
  q[0] = ICMP_ECHO_REQUEST;
  q[1] = 0;
  wr16(q + 2, 0);
  wr16(q + 4, id);
  wr16(q + 6, seq);
  if (len > 0)
    net_copy(q + ICMP_HLEN, data, len);
  wr16(q + 2, net_fold(net_sum(0, q, ICMP_HLEN + len)));
  if (ip_send(t, dst_ip, IP_PROTO_ICMP, ICMP_HLEN + len) < 0) {
    vos_unlock(&net_lock);
    return -1;
  }
  s->state = PING_WAITING;
  s->id = id;
  s->seq = seq;
  s->len = 0;
  s->sent = vos_time_ms();
  net_count(NS_ICMP_ECHO_REQUESTS_SENT);
  vos_unlock(&net_lock);
  net_flush();
  return 0;
}

int icmp_wait_reply(uint16_t id, uint16_t seq, uint32_t timeout_ms,
                    void *buf, uint32_t max, uint32_t *from_ip, uint32_t *rtt_ms)
{
  struct ping_slot *s;
  uint64_t deadline;
  uint32_t n;
  int r = -1;

  if (net_if == 0 || (buf == 0 && max > 0))
    return -1;
  vos_lock(&net_lock);
  s = ping_find(id, seq);
  if (s == 0 || s->sleeping) {
    vos_unlock(&net_lock);
    return -1;
  }
  deadline = vos_time_ms() + timeout_ms;
  s->sleeping = 1;
  while (s->state == PING_WAITING && vos_time_ms() < deadline && !net_interrupted())
    vos_sleep(s, &net_lock);
  s->sleeping = 0;
  if (s->state == PING_DONE) {
    n = s->len;
    if (n > max)
      n = max;
    if (n > NET_PING_COPY)
      n = NET_PING_COPY;
    if (n > 0)
      net_copy(buf, s->data, n);
    if (from_ip)
      *from_ip = s->from;
    if (rtt_ms)
      *rtt_ms = (uint32_t)(s->got - s->sent);
    r = (int)s->len;
  }
  s->state = PING_FREE;
  vos_unlock(&net_lock);
  return r;
}

void icmp_tick(void)
{
  int i;

  for (i = 0; i < NET_PING_SLOTS; i++) {
    if (pings[i].sleeping)
      vos_wakeup(&pings[i]);
  }
}
