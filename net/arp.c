// arp.c: the Address Resolution Protocol for IPv4 over Ethernet: answers
// requests for our address, learns addresses, and resolves the next hop of
// every IPv4 packet we send.
//
// Specs: RFC 826 ("Packet format" and "Packet Reception": check hardware
// and protocol types, merge the sender into the cache if it is already
// there, and only if the target is us add it and, for a request, reply);
// RFC 1122 2.3.2.1 (entries must time out: NET_ARP_TTL_MS) and 2.3.2.2
// (keep at least one packet per unresolved address: `held`, sent when the
// reply arrives, dropped and counted after NET_ARP_TRIES requests).
//
// Packet (28 bytes after the Ethernet header):
//   0 hardware type (1 = Ethernet)   2 protocol type (0x0800)
//   4 hardware len (6)  5 proto len (4)   6 opcode (1 request, 2 reply)
//   8 sender MAC  14 sender IP  18 target MAC  24 target IP
//
// Time: entries carry a vos_time_ms() stamp. net_tick() ages them all;
// a lookup also ages the entry it finds, so the cache stays right even if
// the OS ticks slowly.
//
// See it run: make -C tests/host/net check
#include "netpriv.h"

#define ARP_LEN       28
#define ARP_HW_ETHER  1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY   2
// At most this many slots wait for ARP, so the others stay free for ARP
// requests and replies themselves.
#define ARP_HOLD_MAX  (NET_TX_SLOTS / 2)

enum { ARP_FREE, ARP_PENDING, ARP_RESOLVED };

struct arp_entry {
  uint32_t       ip;
  uint8_t        mac[6];     // valid when RESOLVED
  uint8_t        state;      // ARP_*
  uint8_t        tries;      // requests sent while PENDING
  struct net_tx *held;       // packet waiting for this address, or NULL
  uint64_t       stamp;      // RESOLVED: learned; PENDING: last request sent
};

static struct arp_entry arp_table[NET_ARP_ENTRIES];
static int arp_nheld;
static int arp_conflict_logged;

static const uint8_t zero_mac[6];

void arp_init(void)
{
  net_zero(arp_table, sizeof(arp_table));
  arp_nheld = 0;
  arp_conflict_logged = 0;
}

static struct arp_entry *arp_find(uint32_t ip)
{
  int i;

  for (i = 0; i < NET_ARP_ENTRIES; i++) {
    if (arp_table[i].state != ARP_FREE && arp_table[i].ip == ip)
      return &arp_table[i];
  }
  return 0;
}

static void arp_drop_held(struct arp_entry *e, enum net_stat why)
{
  if (e->held) {
    tx_free(e->held);
    e->held = 0;
    arp_nheld--;
    net_count(why);
  }
}

static void arp_release(struct arp_entry *e, enum net_stat why)
{
  arp_drop_held(e, why);
  e->state = ARP_FREE;
}

// Builds an ARP packet and queues it. 0 if queued, -1 if no slot.
static int arp_send(uint16_t op, const uint8_t eth_dst[6], const uint8_t tha[6],
                    uint32_t tpa)
{
  struct net_tx *t = tx_alloc();
  uint8_t *a;

  if (t == 0)
    return -1;
  a = t->frame + NET_ETH_HLEN;
  wr16(a + 0, ARP_HW_ETHER);
  wr16(a + 2, ETH_TYPE_IP);
  a[4] = 6;
  a[5] = 4;
  wr16(a + 6, op);
  net_copy(a + 8, net_if->mac, 6);
  wr32(a + 14, net_if->ip);
  net_copy(a + 18, tha, 6);
  wr32(a + 24, tpa);
  t->len = NET_ETH_HLEN + ARP_LEN;
  eth_send(t, eth_dst, ETH_TYPE_ARP);
  return 0;
}

static void arp_request(struct arp_entry *e, uint64_t now)
{
  // A try counts even if no slot was free, so a full pool cannot keep an
  // entry pending forever.
  e->tries++;
  e->stamp = now;
  if (arp_send(ARP_OP_REQUEST, eth_broadcast, zero_mac, e->ip) == 0)
    net_count(NS_ARP_REQUESTS_SENT);
}

// Applies the clock to one entry: expiry, retry, or giving up.
static void arp_age(struct arp_entry *e, uint64_t now)
{
  uint64_t age = now - e->stamp;

  if (e->state == ARP_RESOLVED && age >= NET_ARP_TTL_MS) {
    net_count(NS_ARP_EXPIRED);
    arp_release(e, NS_ARP_HOLD_DROPPED);
  } else if (e->state == ARP_PENDING && age >= NET_ARP_RETRY_MS) {
    if (e->tries >= NET_ARP_TRIES)
      arp_release(e, NS_ARP_TIMEOUTS);
    else
      arp_request(e, now);
  }
}

// A fresh PENDING entry for ip: a free one, else the one whose stamp is
// oldest, preferring resolved entries (they can be learned again) over
// pending ones (which hold a packet).
static struct arp_entry *arp_new(uint32_t ip, uint64_t now)
{
  struct arp_entry *e = 0;
  int i;

  for (i = 0; i < NET_ARP_ENTRIES && e == 0; i++) {
    if (arp_table[i].state == ARP_FREE)
      e = &arp_table[i];
  }
  if (e == 0) {
    e = &arp_table[0];
    for (i = 1; i < NET_ARP_ENTRIES; i++) {
      struct arp_entry *c = &arp_table[i];
      if ((c->state == ARP_RESOLVED && e->state == ARP_PENDING) ||
          (c->state == e->state && c->stamp < e->stamp))
        e = c;
    }
    net_count(NS_ARP_EVICTED);
    arp_release(e, NS_ARP_HOLD_DROPPED);
  }
  e->ip = ip;
  e->state = ARP_PENDING;
  e->tries = 0;
  e->held = 0;
  e->stamp = now;
  return e;
}

// ip is at mac: record it and send what waited for it.
static void arp_resolved(struct arp_entry *e, const uint8_t mac[6], uint64_t now)
{
  struct net_tx *t = e->held;

  net_copy(e->mac, mac, 6);
  e->state = ARP_RESOLVED;
  e->stamp = now;
  net_count(NS_ARP_LEARNED);
  if (t) {
    e->held = 0;
    arp_nheld--;
    eth_send(t, mac, ETH_TYPE_IP);
  }
}

// Addresses worth remembering: a real host's, not "nobody" or a group.
static int arp_learnable(uint32_t ip)
{
  return ip != 0 && !ip_is_broadcast(ip) && !ip_is_multicast(ip);
}

void arp_input(const uint8_t *a, uint32_t len)
{
  uint64_t now = vos_time_ms();
  struct arp_entry *e;
  uint32_t spa, tpa, our = net_if->ip;
  uint16_t op;
  int merged = 0;

  if (len < ARP_LEN || rd16(a) != ARP_HW_ETHER || rd16(a + 2) != ETH_TYPE_IP ||
      a[4] != 6 || a[5] != 4) {
    net_count(NS_RX_ARP_BAD);
    return;
  }
  op = rd16(a + 6);
  // A group or all-zero sender address can never be a unicast destination.
  if ((op != ARP_OP_REQUEST && op != ARP_OP_REPLY) || mac_is_group(a + 8) ||
      mac_equal(a + 8, zero_mac)) {
    net_count(NS_RX_ARP_BAD);
    return;
  }
  spa = rd32(a + 14);
  tpa = rd32(a + 24);
  if (our != 0 && spa == our) {
    if (!arp_conflict_logged) {
      arp_conflict_logged = 1;
      vos_log("net: another host claims our IP address\n");
    }
    net_count(NS_RX_ARP_CONFLICT);
    return;
  }
  // RFC 826: update an entry we already have, whoever the target is.
  if (arp_learnable(spa)) {
    e = arp_find(spa);
    if (e) {
      arp_resolved(e, a + 8, now);
      merged = 1;
    }
  }
  if (our == 0 || tpa != our) {
    net_count(NS_RX_ARP_NOT_FOR_US);
    return;
  }
  // The sender is about to talk to us: remember it.
  if (!merged && arp_learnable(spa))
    arp_resolved(arp_new(spa, now), a + 8, now);
  if (op == ARP_OP_REQUEST) {
    net_count(NS_RX_ARP_REQUEST);
    if (arp_send(ARP_OP_REPLY, a + 8, a + 8, spa) == 0)
      net_count(NS_ARP_REPLIES_SENT);
  } else {
    net_count(NS_RX_ARP_REPLY);
  }
}

static void arp_hold(struct arp_entry *e, struct net_tx *t)
{
  // One packet per address (RFC 1122 2.3.2.2 asks for the latest).
  arp_drop_held(e, NS_ARP_HOLD_DROPPED);
  if (arp_nheld >= ARP_HOLD_MAX) {
    tx_free(t);
    net_count(NS_ARP_HOLD_DROPPED);
    return;
  }
  t->state = TX_HELD;
  e->held = t;
  arp_nheld++;
}

void arp_output(struct net_tx *t, uint32_t next_hop)
{
  uint64_t now = vos_time_ms();
  struct arp_entry *e = arp_find(next_hop);

  if (e)
    arp_age(e, now);
  if (e && e->state == ARP_RESOLVED) {
    eth_send(t, e->mac, ETH_TYPE_IP);
    return;
  }
  if (e == 0 || e->state == ARP_FREE)
    e = arp_new(next_hop, now);
  arp_hold(e, t);
  if (e->tries == 0)
    arp_request(e, now);
}

void arp_tick(uint64_t now)
{
  int i;

  for (i = 0; i < NET_ARP_ENTRIES; i++) {
    if (arp_table[i].state != ARP_FREE)
      arp_age(&arp_table[i], now);
  }
}

int arp_lookup(uint32_t ip, uint8_t mac[6])
{
  struct arp_entry *e;
  int found = 0;

  if (net_if == 0)
    return 0;
  vos_lock(&net_lock);
  e = arp_find(ip);
  if (e)
    arp_age(e, vos_time_ms());
  if (e && e->state == ARP_RESOLVED) {
    net_copy(mac, e->mac, 6);
    found = 1;
  }
  vos_unlock(&net_lock);
  net_flush();    // arp_age may have queued a retry
  return found;
}
