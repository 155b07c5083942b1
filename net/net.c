// net.c: the network stack's common parts: the way in for received frames
// (net_input), start-up, the timer tick, the pool of transmit slots and
// the queue that feeds the driver, the Internet checksum, and the
// statistics names.
//
// Specs: RFC 1071 sections 1 and 2 (one's complement sum: add 16-bit words
// with end-around carry, complement the result; byte order independent,
// odd byte padded with zero); RFC 768 (the UDP pseudo-header).
//
// Transmit path: a sender takes a slot (tx_alloc) under net_lock, writes
// the frame into it, and queues it (tx_queue) or parks it on an ARP entry.
// After dropping the lock it calls net_flush(), which hands queued frames to
// the driver's xmit one at a time with the lock released. Only one caller
// flushes at a time (tx_flushing): a frame queued meanwhile by another CPU
// or an interrupt is sent by the flusher already running, so frames leave
// in queue order and xmit is never entered twice at once.
//
// See it run: make -C tests/host/net check
#include "netpriv.h"

vos_lock_t    net_lock;
struct netif *net_if;

static struct net_tx  tx_pool[NET_TX_SLOTS];
static struct net_tx *txq_head, *txq_tail;
static int            tx_flushing;
static int          (*intr_check)(void);

// ---- checksum ----

uint32_t net_sum(uint32_t sum, const uint8_t *p, uint32_t len)
{
  uint32_t i;

  // At most 32768 words of 0xffff fit in 32 bits before folding, more than
  // any IPv4 packet holds, so the carries can wait until net_fold.
  for (i = 0; i + 1 < len; i += 2)
    sum += rd16(p + i);
  if (len & 1)
    sum += (uint32_t)p[len - 1] << 8;
  return sum;
}

uint16_t net_fold(uint32_t sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

uint32_t net_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

// ---- transmit slots ----

struct net_tx *tx_alloc(void)
{
  int i;

  for (i = 0; i < NET_TX_SLOTS; i++) {
    if (tx_pool[i].state == TX_FREE) {
      tx_pool[i].state = TX_BUILDING;
      tx_pool[i].next = 0;
      tx_pool[i].len = 0;
      return &tx_pool[i];
    }
  }
  net_count(NS_TX_NO_BUFFER);
  return 0;
}

void tx_free(struct net_tx *t)
{
  t->state = TX_FREE;
  t->next = 0;
}

void tx_queue(struct net_tx *t)
{
  t->state = TX_QUEUED;
  t->next = 0;
  if (txq_tail)
    txq_tail->next = t;
  else
    txq_head = t;
  txq_tail = t;
}

static struct net_tx *txq_pop(void)
{
  struct net_tx *t = txq_head;

  if (t) {
    txq_head = t->next;
    if (txq_head == 0)
      txq_tail = 0;
    t->next = 0;
  }
  return t;
}

void net_flush(void)
{
  struct netif *nif = net_if;
  struct net_tx *t;
  int r;

  if (nif == 0)
    return;
  vos_lock(&net_lock);
  if (tx_flushing) {
    // Someone (another CPU, or the code this interrupt interrupted) is in
    // the loop below and will pick up what we queued before it stops.
    vos_unlock(&net_lock);
    return;
  }
  tx_flushing = 1;
  while ((t = txq_pop()) != 0) {
    // SENDING keeps the slot from being reused while the lock is down.
    t->state = TX_SENDING;
    vos_unlock(&net_lock);
    r = nif->xmit ? nif->xmit(nif, t->frame, t->len) : -1;
    vos_lock(&net_lock);
    if (r < 0) {
      net_count(NS_TX_ERRORS);
    } else {
      net_count(NS_TX_FRAMES);
      net_count_n(NS_TX_BYTES, t->len);
    }
    tx_free(t);
  }
  tx_flushing = 0;
  vos_unlock(&net_lock);
}

// ---- the way in: a received frame ----

// The driver hands us every frame it receives (virtio_net.c through the
// netif it was attached to), in interrupt context. The whole stack runs
// under net_lock: eth_input -> ip_input / arp_input -> icmp_input /
// udp_input, each checking what it reads and counting what it drops.
void net_input(struct netif *nif, const void *frame, uint32_t len)
{
  // Frames for an interface the stack does not run on have nowhere to go
  // and no counters to land in.
  if (nif == 0 || nif != net_if)
    return;
  vos_lock(&net_lock);
  net_count(NS_RX_FRAMES);
  net_count_n(NS_RX_BYTES, len);
  eth_input(frame, len);
  vos_unlock(&net_lock);
  // Answers (ARP replies, echo replies, packets that waited for ARP).
  net_flush();
}

// ---- start-up, tick, interruption ----

void net_set_qemu_defaults(struct netif *nif)
{
  nif->ip = NET_QEMU_GUEST_IP;
  nif->netmask = NET_QEMU_NETMASK;
  nif->gateway = NET_QEMU_GATEWAY;
}

void net_init(struct netif *nif)
{
  int i;

  vos_lock_init(&net_lock, "net");
  for (i = 0; i < NET_TX_SLOTS; i++)
    tx_free(&tx_pool[i]);
  txq_head = txq_tail = 0;
  tx_flushing = 0;
  intr_check = 0;
  net_zero(&nif->stats, sizeof(nif->stats));
  net_if = nif;
  arp_init();
  ip_init();
  icmp_init();
  udp_init();
}

void net_tick(void)
{
  if (net_if == 0)
    return;
  vos_lock(&net_lock);
  arp_tick(vos_time_ms());
  // Sleepers re-check their deadlines and net_interrupted().
  icmp_tick();
  udp_tick();
  vos_unlock(&net_lock);
  net_flush();
}

void net_set_intr_check(int (*fn)(void))
{
  intr_check = fn;
}

int net_interrupted(void)
{
  return intr_check != 0 && intr_check() != 0;
}

// ---- statistics ----

static const char *const stat_names[NET_NSTATS] = {
  [NS_RX_FRAMES]               = "rx_frames",
  [NS_RX_BYTES]                = "rx_bytes",
  [NS_RX_ETH_SHORT]            = "rx_eth_short",
  [NS_RX_ETH_TOO_LONG]         = "rx_eth_too_long",
  [NS_RX_ETH_NOT_FOR_US]       = "rx_eth_not_for_us",
  [NS_RX_ETH_UNKNOWN_TYPE]     = "rx_eth_unknown_type",
  [NS_RX_ARP_BAD]              = "rx_arp_bad",
  [NS_RX_ARP_CONFLICT]         = "rx_arp_conflict",
  [NS_RX_ARP_NOT_FOR_US]       = "rx_arp_not_for_us",
  [NS_RX_ARP_REQUEST]          = "rx_arp_request",
  [NS_RX_ARP_REPLY]            = "rx_arp_reply",
  [NS_RX_IP_SHORT]             = "rx_ip_short",
  [NS_RX_IP_BAD_VERSION]       = "rx_ip_bad_version",
  [NS_RX_IP_BAD_HDR_LEN]       = "rx_ip_bad_hdr_len",
  [NS_RX_IP_BAD_CSUM]          = "rx_ip_bad_csum",
  [NS_RX_IP_BAD_LEN]           = "rx_ip_bad_len",
  [NS_RX_IP_FRAG]              = "rx_ip_frag",
  [NS_RX_IP_BAD_SRC]           = "rx_ip_bad_src",
  [NS_RX_IP_NOT_FOR_US]        = "rx_ip_not_for_us",
  [NS_RX_IP_UNKNOWN_PROTO]     = "rx_ip_unknown_proto",
  [NS_RX_ICMP_SHORT]           = "rx_icmp_short",
  [NS_RX_ICMP_BAD_CSUM]        = "rx_icmp_bad_csum",
  [NS_RX_ICMP_ECHO_REQUEST]    = "rx_icmp_echo_request",
  [NS_RX_ICMP_ECHO_BCAST]      = "rx_icmp_echo_bcast",
  [NS_RX_ICMP_ECHO_REPLY]      = "rx_icmp_echo_reply",
  [NS_RX_ICMP_UNMATCHED]       = "rx_icmp_unmatched",
  [NS_RX_ICMP_OTHER]           = "rx_icmp_other",
  [NS_RX_UDP_SHORT]            = "rx_udp_short",
  [NS_RX_UDP_BAD_LEN]          = "rx_udp_bad_len",
  [NS_RX_UDP_BAD_CSUM]         = "rx_udp_bad_csum",
  [NS_RX_UDP_NO_SOCKET]        = "rx_udp_no_socket",
  [NS_RX_UDP_QUEUE_FULL]       = "rx_udp_queue_full",
  [NS_RX_UDP_NO_BUFFER]        = "rx_udp_no_buffer",
  [NS_RX_UDP_DELIVERED]        = "rx_udp_delivered",
  [NS_ARP_LEARNED]             = "arp_learned",
  [NS_ARP_REQUESTS_SENT]       = "arp_requests_sent",
  [NS_ARP_REPLIES_SENT]        = "arp_replies_sent",
  [NS_ARP_EXPIRED]             = "arp_expired",
  [NS_ARP_TIMEOUTS]            = "arp_timeouts",
  [NS_ARP_HOLD_DROPPED]        = "arp_hold_dropped",
  [NS_ARP_EVICTED]             = "arp_evicted",
  [NS_TX_FRAMES]               = "tx_frames",
  [NS_TX_BYTES]                = "tx_bytes",
  [NS_TX_ERRORS]               = "tx_errors",
  [NS_TX_NO_BUFFER]            = "tx_no_buffer",
  [NS_TX_NO_ROUTE]             = "tx_no_route",
  [NS_TX_TOO_BIG]              = "tx_too_big",
  [NS_ICMP_ECHO_REPLIES_SENT]  = "icmp_echo_replies_sent",
  [NS_ICMP_ECHO_REQUESTS_SENT] = "icmp_echo_requests_sent",
  [NS_UDP_SENT]                = "udp_sent",
};

int net_stat_count(void)
{
  return NET_NSTATS;
}

const char *net_stat_name(int i)
{
  if (i < 0 || i >= NET_NSTATS)
    return 0;
  return stat_names[i];
}

void net_get_stats(struct net_stats *out)
{
  if (net_if == 0) {
    net_zero(out, sizeof(*out));
    return;
  }
  vos_lock(&net_lock);
  *out = net_if->stats;
  vos_unlock(&net_lock);
}
