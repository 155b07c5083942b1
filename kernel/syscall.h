// syscall.h: system call numbers. 1..21 are xv6-riscv's, so xv6 binaries and
// sources keep working; ours start at 22. The user stubs (user/usys.py) and the
// kernel dispatch table (kernel/syscall.c) both read this file.
#ifndef SYSCALL_H
#define SYSCALL_H
#define SYS_fork    1
#define SYS_exit    2
#define SYS_wait    3
#define SYS_pipe    4
#define SYS_read    5
#define SYS_kill    6
#define SYS_exec    7
#define SYS_fstat   8
#define SYS_chdir   9
#define SYS_dup    10
#define SYS_getpid 11
#define SYS_sbrk   12
#define SYS_sleep  13
#define SYS_pause  SYS_sleep  // newer xv6's name for call 13
#define SYS_uptime 14
#define SYS_open   15
#define SYS_write  16
#define SYS_mknod  17
#define SYS_unlink 18
#define SYS_link   19
#define SYS_mkdir  20
#define SYS_close  21
// ours
#define SYS_devinfo 22  // one row of the virtio device table (lsdev)
#define SYS_halt    23  // power the machine off through SBI SRST (tests)
#define SYS_udpbind  24  // UDP socket bound to a port, as an fd (kernel/glue/sysnet.c)
#define SYS_sendto   25  // one datagram to ip:port
#define SYS_recvfrom 26  // one datagram, with the sender's ip:port, optional timeout
#define SYS_icmpecho 27  // one ICMP echo request and its reply (ping)
#define SYS_netstat  28  // the network counters, one per call
#define SYS_diskmode 30  // disk driver: baseline (1) or full (0) mode (bench/kblkbench.c)
#define SYS_blkbench 31  // raw block device benchmark (bench/kblkbench.c)
#define SYS_fsync    40  // make everything written so far durable (kernel/log.c)
#define SYS_sync     41  // the same, without a file descriptor
#define SYS_rename   42  // rename a file in one transaction (kernel/sysfile.c)
#define SYS_dropcache 43 // sync, then forget cached blocks (benchmarks)
#define SYS_rtime    44  // the time CSR: 10 MHz ticks since boot (benchmarks)
#endif
