// vm.h: the second argument of the sbrk system call, shared by the kernel
// (sysproc.c) and the user library (user/ulib.c). The names and values are
// xv6-riscv's, so programs built for its newer user ABI mean the same thing.
//
//   sbrk(n)      = sys_sbrk(n, SBRK_EAGER): every new page is allocated now;
//                  sbrk fails (returns -1) if memory runs out.
//   sbrklazy(n)  = sys_sbrk(n, SBRK_LAZY): only the size grows; a page gets
//                  its memory at the first access (a page fault, trap.c, or
//                  a system call copying into it, vm.c). Growth then fails
//                  only if it would reach the trapframe.
//
// Any value other than SBRK_LAZY means eager. Our sbrk() always passes
// SBRK_EAGER; a foreign caller that passes only n (a hand-written ecall,
// whatever is left in a1) gets the classic behaviour too, unless a1 happens
// to hold exactly 2, and even then only the allocation is postponed.
// Shrinking (n < 0) always frees the pages at once, in either mode.
//
// See it run: `usertests lazysbrk` (user/usertests.c) reserves 1 GB lazily
// on a 128 MB machine and touches a few pages of it.
#ifndef VM_H
#define VM_H
#define SBRK_EAGER 1
#define SBRK_LAZY  2
#endif
