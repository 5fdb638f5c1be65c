/* A misbehaving guest: the hypercall struct's own address is past the end of
   guest RAM (inside the 3-4 GiB MMIO hole). Expect a stop, status 125. */
#define KERNEL_OFFSET 0
#include "hypercall.inc"

  .data
  .balign 8
exit_call:
  .long 0, 0

  .text
  .globl _start
_start:
  mov $0xfffff000, %eax
  mov $(HC_PORT_BASE + HC_CONSOLE_WRITE), %dx
  outl %eax, %dx
  EXIT_WITH 6, exit_call
