// netpriv.h: what the files of the network stack share among themselves
// (never included from outside net/).
//
// The stack is one state machine guarded by one lock, net_lock. Every entry
// point (net_input, net_tick, the icmp_ and udp_ calls) takes it, does its
// work on fixed pools, and releases it; frames to send are queued while the
// lock is held and handed to the driver afterwards by net_flush(), so the
// driver's xmit never runs under net_lock.
//
// Wire fields are read and written a byte at a time (rd16/wr16 ...): frames
// sit at any alignment in the driver's buffers, and byte access is correct
// on every CPU and in either byte order.
//
// See it run: make -C tests/host/net check
#ifndef NETPRIV_H
#define NETPRIV_H
#include <stdint.h>
#include <stddef.h>
#include "virtio_os.h"
#include "net.h"

// ---- wire constants ----
#define ETH_TYPE_IP   0x0800
#define ETH_TYPE_ARP  0x0806
#define IP_HLEN       20          // header without options
#define IP_PROTO_ICMP 1
#define IP_PROTO_UDP  17
#define IP_TTL        64          // RFC 1122 3.2.1.7 suggests 64 (RFC 1700)
#define UDP_HLEN      8
#define ICMP_HLEN     8
#define IP_BROADCAST  0xffffffffu
// Offsets of the IPv4 header and of what follows it (no options) in a
// frame we build.
#define FRAME_IP      NET_ETH_HLEN
#define FRAME_L4      (NET_ETH_HLEN + IP_HLEN)

// ---- shared state (net.c) ----
extern vos_lock_t    net_lock;
extern struct netif *net_if;    // NULL until net_init

static inline void net_count(enum net_stat s)
{
  net_if->stats.n[s]++;
}

static inline void net_count_n(enum net_stat s, uint32_t n)
{
  net_if->stats.n[s] += n;
}

// ---- big-endian field access ----
static inline uint16_t rd16(const uint8_t *p)
{
  return (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline void net_copy(void *dst, const void *src, uint32_t n)
{
  __builtin_memcpy(dst, src, n);
}

static inline void net_zero(void *dst, uint32_t n)
{
  __builtin_memset(dst, 0, n);
}

static inline int mac_equal(const uint8_t *a, const uint8_t *b)
{
  int i;

  for (i = 0; i < 6; i++) {
    if (a[i] != b[i])
      return 0;
  }
  return 1;
}

// The group bit (first bit on the wire) marks multicast and broadcast.
static inline int mac_is_group(const uint8_t *m)
{
  return m[0] & 1;
}

static inline int ip_is_multicast(uint32_t ip)
{
  return (ip >> 28) == 0xe;   // 224.0.0.0/4
}

// ---- Internet checksum, RFC 1071 (net.c) ----
// Adds len bytes as big-endian 16-bit words to a running sum. Only the last
// piece of a checksummed area may have an odd length.
uint32_t net_sum(uint32_t sum, const uint8_t *p, uint32_t len);
// Folds the carries back in and complements: the value for a checksum
// field, or 0 when checking an area that contains a correct checksum.
uint16_t net_fold(uint32_t sum);
// The UDP pseudo-header sum (RFC 768): addresses, protocol, UDP length.
uint32_t net_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

// ---- transmit slots (net.c) ----
enum { TX_FREE, TX_BUILDING, TX_QUEUED, TX_HELD, TX_SENDING };

struct net_tx {
  struct net_tx *next;        // in the send queue
  uint16_t len;               // bytes of frame in use
  uint8_t  state;             // TX_*
  uint8_t  frame[NET_FRAME_MAX];
};

struct net_tx *tx_alloc(void);      // TX_BUILDING, or NULL (counted)
void           tx_free(struct net_tx *t);
void           tx_queue(struct net_tx *t);
// Hands queued frames to the driver. Call WITHOUT net_lock held.
void           net_flush(void);
// 1 if the caller should stop waiting (see net_set_intr_check).
int            net_interrupted(void);

// ---- the layers (lock held in all of these) ----
// eth.c: fills in the Ethernet header, pads, queues.
extern const uint8_t eth_broadcast[6];
void eth_input(const uint8_t *f, uint32_t len);   // a received frame, net_lock held
void eth_send(struct net_tx *t, const uint8_t dst[6], uint16_t type);
// arp.c
void arp_init(void);
void arp_input(const uint8_t *p, uint32_t len);
void arp_output(struct net_tx *t, uint32_t next_hop);   // IPv4 frame in t
void arp_tick(uint64_t now);
// ip.c
void ip_init(void);
void ip_input(const uint8_t *p, uint32_t len);
// Sends the `plen` bytes already at t->frame + FRAME_L4 as one IPv4 packet.
// Returns 0 if queued or waiting for ARP, -1 if not (t is freed, counted).
int  ip_send(struct net_tx *t, uint32_t dst, uint8_t proto, uint32_t plen);
int  ip_is_broadcast(uint32_t ip);
// icmp.c
void icmp_init(void);
void icmp_input(uint32_t src, int to_broadcast, const uint8_t *p, uint32_t len);
void icmp_tick(void);
// udp.c
void udp_init(void);
void udp_input(uint32_t src, uint32_t dst, const uint8_t *p, uint32_t len);
void udp_tick(void);
#endif
