/* A misbehaving guest: ConsoleWrite of a buffer far outside guest RAM. The
   monitor must stop it with one "mote: VM stopped: ..." line and status 125.
   If the monitor resumed it instead, it exits with 6. Identity-linked. */
#define KERNEL_OFFSET 0
#include "hypercall.inc"

  .data
  .balign 8
bad_write:
  .quad 0x7f0000000000, 16         /* buf_gpa, len */
  .long 1, 0
  .quad -1
exit_call:
  .long 0, 0

  .text
  .globl _start
_start:
  HYPERCALL HC_CONSOLE_WRITE, bad_write
  EXIT_WITH 6, exit_call
