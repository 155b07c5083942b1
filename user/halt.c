// halt.c: power the machine off (QEMU exits). The kernel asks the SBI
// firmware to shut down; data already written to the disk is safe because
// every file-system call commits its log before it returns.
//
//   $ halt
#include "kernel/types.h"
#include "user/user.h"

int
main(void)
{
  halt();
  fprintf(2, "halt: failed\n");
  return 1;
}
