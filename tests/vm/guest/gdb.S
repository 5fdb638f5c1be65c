/* A kernel for the monitor's gdb stub (tests/vm/gdb_test.py): gdb breaks at
   `counted`, reads and writes registers and memory, single-steps and lets it
   exit with the status in `result` (which gdb may have changed). Sums
   1..10 into %rbx with a loop, so stepping has something to see.
   Identity-linked; only mov/add/cmp/jcc/out, as in hypercall.inc. */
#define KERNEL_OFFSET 0
#include "hypercall.inc"

  .data
  .balign 8
  .globl result
result:
  .quad 0
exit_call:
  .long 0, 0

  .text
  .globl _start
_start:
  mov $0, %rbx
  mov $1, %rcx
  .globl loop
loop:
  add %rcx, %rbx
  add $1, %rcx
  cmp $11, %rcx
  jne loop
  .globl counted
counted:
  mov %rbx, result(%rip)
  .globl store_exit
store_exit:
  mov result(%rip), %rax
  mov %eax, exit_call + EXIT_STATUS(%rip)
  HYPERCALL HC_EXIT, exit_call
  ud2
