// net.h: the public interface of the portable IPv4 network stack.
//
// The stack speaks Ethernet II, ARP, IPv4, ICMP echo and UDP on one network
// interface. It is portable C: it includes only <stdint.h>, <stddef.h>,
// virtio_os.h (locks, sleep/wakeup, time, log) and its own headers, has no
// dynamic allocation (fixed pools, sizes below) and builds for the RISC-V
// kernel, for host unit tests and for 32-bit microcontrollers.
//
// Specs: RFC 894 (IP over Ethernet), RFC 826 (ARP), RFC 791 (IPv4),
// RFC 792 (ICMP), RFC 768 (UDP), RFC 1071 (checksum), RFC 1122 (host
// requirements: what a host may drop, ARP cache timeouts).
//
// See it run: make -C tests/host/net check   (host unit tests and fuzzing)
//
// Conventions of this interface:
//   - IPv4 addresses and ports are plain numbers in host byte order:
//     10.0.2.15 is NET_IP(10, 0, 2, 15) == 0x0a00020f. Only bytes on the
//     wire are big-endian, and the stack converts at the edge.
//   - Functions return -1 for every failure (bad argument, no route, no
//     buffer, timeout), so a system call can pass the result straight on.
//
// What the operating system provides and calls (see also net.c):
//   - uint64_t vos_time_ms(void) in its virtio_os.h port.
//   - the driver fills a struct netif, calls net_init(nif) once, then
//     net_input(nif, frame, len) for every received Ethernet frame (without
//     any virtio_net_hdr; from interrupt context is fine).
//   - net_tick() every 10..200 ms (from the timer interrupt is fine): ARP
//     retries and expiry, and the clock that ends ping timeouts.
//   - optionally net_set_intr_check(fn): blocked callers give up (-1) when
//     fn() returns non-zero, e.g. when their process was killed.
#ifndef NET_H
#define NET_H
#include <stdint.h>
#include <stddef.h>

// ---- sizes: override with -D on a small machine ----
#ifndef NET_TX_SLOTS
#define NET_TX_SLOTS     8      // frames being built, queued, sent or held for ARP
#endif
#ifndef NET_ARP_ENTRIES
#define NET_ARP_ENTRIES  8      // ARP cache entries
#endif
#ifndef NET_UDP_SOCKETS
#define NET_UDP_SOCKETS  8      // open UDP sockets
#endif
#ifndef NET_UDP_BUFS
#define NET_UDP_BUFS     16     // received datagrams waiting, all sockets together
#endif
#ifndef NET_UDP_QLEN
#define NET_UDP_QLEN     4      // received datagrams waiting, per socket
#endif
#ifndef NET_PING_SLOTS
#define NET_PING_SLOTS   4      // echo requests awaiting their reply
#endif
#ifndef NET_PING_COPY
#define NET_PING_COPY    256    // bytes of echo reply data kept for the caller
#endif

// ---- timers (milliseconds) ----
#ifndef NET_ARP_TTL_MS
#define NET_ARP_TTL_MS   60000  // a learned address is trusted this long (RFC 1122 2.3.2.1)
#endif
#ifndef NET_ARP_RETRY_MS
#define NET_ARP_RETRY_MS 1000   // between ARP requests for one address
#endif
#ifndef NET_ARP_TRIES
#define NET_ARP_TRIES    3      // requests before the held packet is dropped
#endif

// ---- wire sizes ----
#define NET_ETH_HLEN     14     // destination MAC, source MAC, ethertype
#define NET_ETH_MTU      1500   // largest IPv4 packet in one Ethernet frame
#define NET_FRAME_MAX    1514   // largest frame (no FCS, no VLAN tag)
#define NET_FRAME_MIN    60     // shorter frames are padded (no FCS)
#define NET_UDP_MAX      1472   // UDP payload that fits: 1500 - 20 (IP) - 8 (UDP)
#define NET_PING_MAX     1472   // echo data that fits: 1500 - 20 (IP) - 8 (ICMP)

#define NET_IP(a, b, c, d) \
  (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

// QEMU user networking ("-netdev user"): its built-in router and DHCP
// server hand the guest these addresses.
#define NET_QEMU_GUEST_IP  NET_IP(10, 0, 2, 15)
#define NET_QEMU_GATEWAY   NET_IP(10, 0, 2, 2)
#define NET_QEMU_NETMASK   NET_IP(255, 255, 255, 0)
#define NET_QEMU_DNS       NET_IP(10, 0, 2, 3)

// ---- statistics ----
//
// Every frame given to net_input counts once in NS_RX_FRAMES and exactly
// once in one "outcome" counter, NS_RX_FIRST_OUTCOME..NS_RX_LAST_OUTCOME,
// which says what became of it (the host tests check this for every frame).
// The counters after the outcomes are events that go alongside.
enum net_stat {
  NS_RX_FRAMES,
  NS_RX_BYTES,

  // outcomes: Ethernet
  NS_RX_ETH_SHORT,          // shorter than the 14-byte Ethernet header
  NS_RX_ETH_TOO_LONG,       // longer than NET_FRAME_MAX
  NS_RX_ETH_NOT_FOR_US,     // destination MAC neither ours nor broadcast
  NS_RX_ETH_UNKNOWN_TYPE,   // ethertype neither IPv4 nor ARP
  // outcomes: ARP
  NS_RX_ARP_BAD,            // short, not Ethernet/IPv4 ARP, bad opcode or sender MAC
  NS_RX_ARP_CONFLICT,       // someone else claims our IP address
  NS_RX_ARP_NOT_FOR_US,     // target IP is not ours
  NS_RX_ARP_REQUEST,        // a request for our address (answered)
  NS_RX_ARP_REPLY,          // a reply to us
  // outcomes: IPv4
  NS_RX_IP_SHORT,           // header (20 bytes, or IHL*4) longer than the frame
  NS_RX_IP_BAD_VERSION,     // version is not 4
  NS_RX_IP_BAD_HDR_LEN,     // IHL below 5
  NS_RX_IP_BAD_CSUM,        // header checksum wrong
  NS_RX_IP_BAD_LEN,         // total length below IHL*4 or beyond the frame
  NS_RX_IP_FRAG,            // a fragment (MF set or offset non-zero): no reassembly
  NS_RX_IP_BAD_SRC,         // source is broadcast or multicast
  NS_RX_IP_NOT_FOR_US,      // destination neither ours nor broadcast
  NS_RX_IP_UNKNOWN_PROTO,   // neither ICMP nor UDP
  // outcomes: ICMP
  NS_RX_ICMP_SHORT,         // shorter than the 8-byte ICMP header
  NS_RX_ICMP_BAD_CSUM,
  NS_RX_ICMP_ECHO_REQUEST,  // echo request to us (answered if a buffer was free)
  NS_RX_ICMP_ECHO_BCAST,    // echo request to a broadcast address: ignored
  NS_RX_ICMP_ECHO_REPLY,    // echo reply handed to a waiting icmp_wait_reply
  NS_RX_ICMP_UNMATCHED,     // echo reply nobody waits for (late, or not ours)
  NS_RX_ICMP_OTHER,         // any other type: ignored
  // outcomes: UDP
  NS_RX_UDP_SHORT,          // IP payload shorter than the 8-byte UDP header
  NS_RX_UDP_BAD_LEN,        // UDP length below 8 or beyond the IP payload
  NS_RX_UDP_BAD_CSUM,       // checksum present and wrong
  NS_RX_UDP_NO_SOCKET,      // nobody bound to the destination port
  NS_RX_UDP_QUEUE_FULL,     // the socket already has NET_UDP_QLEN datagrams
  NS_RX_UDP_NO_BUFFER,      // all NET_UDP_BUFS buffers hold unread datagrams
  NS_RX_UDP_DELIVERED,      // queued on a socket

  // events: ARP
  NS_ARP_LEARNED,           // an address resolved or refreshed
  NS_ARP_REQUESTS_SENT,
  NS_ARP_REPLIES_SENT,
  NS_ARP_EXPIRED,           // a learned address grew too old
  NS_ARP_TIMEOUTS,          // no answer after NET_ARP_TRIES: held packet dropped
  NS_ARP_HOLD_DROPPED,      // held packet dropped for a newer one or for room
  NS_ARP_EVICTED,           // a live cache entry reused for another address
  // events: transmit
  NS_TX_FRAMES,             // handed to the driver, which took them
  NS_TX_BYTES,
  NS_TX_ERRORS,             // the driver's xmit failed (or there is none)
  NS_TX_NO_BUFFER,          // all NET_TX_SLOTS in use: packet not sent
  NS_TX_NO_ROUTE,           // destination unreachable (0.0.0.0, ourselves, no gateway ...)
  NS_TX_TOO_BIG,            // would need fragmentation: refused
  NS_ICMP_ECHO_REPLIES_SENT,
  NS_ICMP_ECHO_REQUESTS_SENT,
  NS_UDP_SENT,

  NET_NSTATS,
  NS_RX_FIRST_OUTCOME = NS_RX_ETH_SHORT,
  NS_RX_LAST_OUTCOME = NS_RX_UDP_DELIVERED,
};

struct net_stats {
  uint32_t n[NET_NSTATS];   // indexed by enum net_stat; they wrap around
};

// ---- the network interface: filled in by the driver ----
struct netif {
  uint8_t  mac[6];          // our Ethernet address (unicast)
  uint32_t ip;              // our address; 0 = none yet (only broadcasts reach us)
  uint32_t netmask;         // e.g. NET_IP(255,255,255,0)
  uint32_t gateway;         // router for off-link destinations; 0 = none
  // Send one complete Ethernet frame (header included, no virtio_net_hdr,
  // already padded to NET_FRAME_MIN). The driver must copy the frame
  // before returning: the buffer is reused at once. Returns 0, or -1 if
  // the frame was not sent (ring full, device broken).
  // It is called WITHOUT the stack's lock held, from process context or
  // from interrupt context (inside net_input or net_tick), so it must never
  // sleep; and never while the driver holds a lock that xmit takes itself.
  int    (*xmit)(struct netif *nif, const void *frame, uint32_t len);
  void    *driver;          // the driver's own state; the stack never touches it
  struct net_stats stats;   // read with net_get_stats()
};

// ---- set-up and input (net.c, eth.c) ----

// Sets ip, netmask and gateway to QEMU user networking's defaults.
void net_set_qemu_defaults(struct netif *nif);
// Starts (or restarts, dropping all state) the stack on nif, which must
// stay valid. Zeroes nif->stats. Call before any other function here.
void net_init(struct netif *nif);
// One received Ethernet frame; never sleeps; the stack copies what it keeps.
void net_input(struct netif *nif, const void *frame, uint32_t len);
// Periodic timer work; see the top of this file.
void net_tick(void);
// Blocked callers (udp_recvfrom, icmp_wait_reply) return -1 once fn()
// returns non-zero; they look at least every net_tick. NULL: never.
// Set it after net_init, which clears it.
void net_set_intr_check(int (*fn)(void));

// ---- statistics (net.c) ----
void        net_get_stats(struct net_stats *out);  // a consistent snapshot
int         net_stat_count(void);                  // NET_NSTATS
const char *net_stat_name(int i);                  // "rx_frames" ...; NULL if out of range

// ---- ARP (arp.c) ----
// 1 and the MAC if ip is in the cache and not expired, else 0.
int arp_lookup(uint32_t ip, uint8_t mac[6]);

// ---- ICMP echo, for a ping program (icmp.c) ----
// Sends an echo request with `len` bytes of data (at most NET_PING_MAX) and
// registers (id, seq) so the reply is kept. 0 if sent (or waiting for ARP),
// -1 if not (bad argument, no route, no buffer, NET_PING_SLOTS all waited on).
int icmp_ping(struct netif *nif, uint32_t dst_ip, uint16_t id, uint16_t seq,
              const void *data, uint32_t len);
// Waits up to timeout_ms for the reply to an icmp_ping(id, seq). Returns the
// reply's data length (copying min(that, max, NET_PING_COPY) bytes to buf),
// with the replier's address in *from_ip and the round trip in *rtt_ms
// (either pointer may be NULL); -1 on timeout, interruption, or if no such
// ping is outstanding. Sleeps: process context only.
int icmp_wait_reply(uint16_t id, uint16_t seq, uint32_t timeout_ms,
                    void *buf, uint32_t max, uint32_t *from_ip, uint32_t *rtt_ms);

// ---- UDP sockets (udp.c) ----
struct udp_sock;
// Binds a local port (0: pick a free one in 49152..65535, RFC 6335).
// NULL if the port is taken or no socket is free.
struct udp_sock *udp_open(uint16_t port);
// The socket's local port, or 0 if s is not an open socket.
uint16_t udp_port(struct udp_sock *s);
// Sends one datagram of len <= NET_UDP_MAX bytes from our address. Returns
// len once the datagram is queued (possibly waiting for ARP), -1 otherwise.
int udp_sendto(struct udp_sock *s, uint32_t ip, uint16_t port,
               const void *buf, uint32_t len);
// Takes the oldest received datagram: copies min(its length, max) bytes to
// buf (the rest of a longer datagram is lost) and returns that count; the
// sender in *ip, *port (either may be NULL). If none is queued: -1 at once
// if nonblock, else sleeps until one arrives (process context only); -1 if
// the socket is closed meanwhile or the wait is interrupted.
int udp_recvfrom(struct udp_sock *s, void *buf, uint32_t max,
                 uint32_t *ip, uint16_t *port, int nonblock);
// Unbinds the port and drops queued datagrams; wakes any sleeper (-1).
void udp_close(struct udp_sock *s);

// ---- byte order for callers that handle wire-format fields ----
static inline uint16_t net_bswap16(uint16_t x)
{
  return (uint16_t)((x >> 8) | (x << 8));
}

static inline uint32_t net_bswap32(uint32_t x)
{
  return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
static inline uint16_t net_htons(uint16_t x) { return x; }
static inline uint32_t net_htonl(uint32_t x) { return x; }
#else
static inline uint16_t net_htons(uint16_t x) { return net_bswap16(x); }
static inline uint32_t net_htonl(uint32_t x) { return net_bswap32(x); }
#endif
static inline uint16_t net_ntohs(uint16_t x) { return net_htons(x); }
static inline uint32_t net_ntohl(uint32_t x) { return net_htonl(x); }

#endif
