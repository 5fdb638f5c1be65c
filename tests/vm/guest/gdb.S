/* A kernel for the monitor's gdb stub (tests/vm/gdb_test.py). It first tells
   the monitor where "the program" starts (the DebugProgram hypercall, as the
   mote kernel does under --gdb), with an initial stack holding argc, argv,
   envp and an auxiliary vector, then jumps there. The program sums 1..10
   into %rbx with a loop (something to step through), stores it at `result`
   (at `counted`, where gdb breaks), loads it back and exits with it, so
   what gdb changes shows in the exit status.
   Identity-linked; only mov/add/cmp/jcc/jmp/out, as in hypercall.inc. */
#define KERNEL_OFFSET 0
#define HC_DEBUG_PROGRAM 3
#include "hypercall.inc"

  .data
  .balign 8
  .globl result
result:
  .quad 0
exit_call:
  .long 0, 0
debug_call:
  .quad program, initial_stack     /* HcDebugProgram: rip, rsp */
initial_stack:
  .quad 1, argv0, 0                /* argc, argv[0], end of argv */
  .quad 0                          /* end of envp */
  .quad 9, program                 /* AT_ENTRY */
  .quad 6, 4096                    /* AT_PAGESZ */
  .quad 0, 0                       /* AT_NULL */
argv0:
  .asciz "gdb-test-program"

  .text
  .globl _start
_start:
  HYPERCALL HC_DEBUG_PROGRAM, debug_call
  jmp program

  .globl program
program:
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
