/* ConsoleRead then ConsoleWrite of what was read (stdin -> stdout), then
   Exit(0); Exit(9) if the read failed. Identity-linked. */
#define KERNEL_OFFSET 0
#include "hypercall.inc"

  .data
  .balign 8
read_call:
  .quad buffer, 64, -1             /* buf_gpa, len, ret */
write_call:
  .quad buffer, 0
  .long 1, 0
  .quad -1
exit_call:
  .long 0, 0

  .bss
buffer:
  .skip 64

  .text
  .globl _start
_start:
  HYPERCALL HC_CONSOLE_READ, read_call
  mov read_call + CR_RET(%rip), %rax
  cmp $0, %rax
  jl read_failed
  mov %rax, write_call + CW_LEN(%rip)
  HYPERCALL HC_CONSOLE_WRITE, write_call
  EXIT_WITH 0, exit_call
read_failed:
  EXIT_WITH 9, exit_call
