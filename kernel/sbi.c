// sbi.c: calls into the firmware below us (OpenSBI) through the RISC-V
// Supervisor Binary Interface.
//
// Follows the RISC-V SBI specification v1.0: chapter 3 (calling convention),
// 6 (Timer, "TIME"), 7 (IPI, "sPI"), 9 (Hart State Management, "HSM"), 10
// (System Reset, "SRST"), and 5.2 (legacy console putchar, used only before
// the UART works).
//
// An SBI call is an `ecall` from S-mode: a7 names the extension (EID), a6 the
// function within it (FID), a0..a5 carry arguments. The firmware answers with
// an error code in a0 (0 = success) and a value in a1.
//
// See it run: every boot uses HSM to start the other harts (`make qemu
// CPUS=3`), the timer drives scheduling, and the `halt` program powers QEMU
// off through SRST.
#include "types.h"
#include "defs.h"

#define SBI_EXT_LEGACY_PUTCHAR 0x01
#define SBI_EXT_TIME   0x54494D45   // "TIME"
#define SBI_EXT_IPI    0x735049     // "sPI"
#define SBI_EXT_HSM    0x48534D     // "HSM"
#define SBI_EXT_SRST   0x53525354   // "SRST"

#define SBI_HSM_HART_START      0
#define SBI_HSM_HART_GET_STATUS 2
#define SBI_HSM_STATE_STOPPED   1

#define SBI_SRST_SHUTDOWN       0
#define SBI_SRST_REASON_NONE    0

struct sbiret {
  long error;
  long value;
};

static struct sbiret
sbi_call(uint64 ext, uint64 fid, uint64 arg0, uint64 arg1, uint64 arg2)
{
  // The SBI calling convention pins each value to a register, so bind the
  // C variables to those registers and let the ecall read and write them.
  register uint64 a0 asm("a0") = arg0;
  register uint64 a1 asm("a1") = arg1;
  register uint64 a2 asm("a2") = arg2;
  register uint64 a6 asm("a6") = fid;
  register uint64 a7 asm("a7") = ext;
  asm volatile("ecall"
               : "+r"(a0), "+r"(a1)
               : "r"(a2), "r"(a6), "r"(a7)
               : "memory");
  struct sbiret r = { (long)a0, (long)a1 };
  return r;
}

// The legacy putchar call works before our UART driver is set up; it is
// only a fallback.
void
sbi_console_putchar(int c)
{
  sbi_call(SBI_EXT_LEGACY_PUTCHAR, 0, c, 0, 0);
}

// Ask for a supervisor timer interrupt when the `time` CSR reaches `when`.
// Setting a new deadline also clears the pending interrupt (SBI spec 6.1).
long
sbi_set_timer(uint64 when)
{
  return sbi_call(SBI_EXT_TIME, 0, when, 0, 0).error;
}

// Raise a supervisor software interrupt on hart `hartid` (proc.c wakeup
// uses it to rouse an idle hart from wfi). The arguments are a bit mask of
// harts and the hart id its bit 0 stands for.
void
sbi_send_ipi(uint64 hartid)
{
  sbi_call(SBI_EXT_IPI, 0, 1, hartid, 0);
}

// Start a stopped hart at physical address `start` in S-mode with
// a0 = hartid and a1 = opaque. Returns 0 or an SBI error code.
long
sbi_hart_start(uint64 hartid, uint64 start, uint64 opaque)
{
  return sbi_call(SBI_EXT_HSM, SBI_HSM_HART_START, hartid, start, opaque).error;
}

int
sbi_hart_is_stopped(uint64 hartid)
{
  struct sbiret r = sbi_call(SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS, hartid, 0, 0);
  return r.error == 0 && r.value == SBI_HSM_STATE_STOPPED;
}

// Power the machine off. QEMU exits with status 0, which is how the tests
// end a run cleanly.
void
sbi_shutdown(void)
{
  sbi_call(SBI_EXT_SRST, 0, SBI_SRST_SHUTDOWN, SBI_SRST_REASON_NONE, 0);
  // Only reached if the firmware lacks SRST. Nothing sensible is left to do.
  for(;;)
    asm volatile("wfi");
}
