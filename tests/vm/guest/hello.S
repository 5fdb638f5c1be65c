/* The hello test kernel, linked higher-half (entered at 0xffffffff801000xx
   through the monitor's alias of low memory). Checks the direct-entry
   contract, says hello on stdout and stderr through ConsoleWrite, checks each
   call's OUT field, then Exit(42). Any failed check exits with its own status:
   3 wrong %rsi, 4 bad boot info, 5 a ConsoleWrite returned the wrong count,
   7 the entry stack (%rsp) is unusable (7 is never reached: a push to an
   unmapped stack is a triple fault). */
#define KERNEL_OFFSET 0xffffffff80000000
#include "hypercall.inc"

  .section .rodata
hello:
  .ascii "hello from the guest\n"
hello_end:
hello_err:
  .ascii "hello from the guest on stderr\n"
hello_err_end:

  .data
  .balign 8
write_out:
  .quad hello - KERNEL_OFFSET, hello_end - hello
  .long 1, 0
  .quad -1
write_err:
  .quad hello_err - KERNEL_OFFSET, hello_err_end - hello_err
  .long 2, 0
  .quad -1
exit_call:
  .long 0, 0

  .text
  .globl _start
_start:
  mov $MOTE_ENTRY_MAGIC, %eax
  cmp %rax, %rsi
  jne bad_entry_magic
  movabs $BOOT_MAGIC, %rax
  cmp (%rdi), %rax                 /* %rdi: GPA of the boot info, identity-mapped */
  jne bad_boot_info
  cmpq $0, BOOT_RAM_BYTES(%rdi)
  je bad_boot_info
  pushq $0x1234                    /* the monitor's boot stack works */
  pop %rax
  cmp $0x1234, %rax
  jne bad_stack

  HYPERCALL HC_CONSOLE_WRITE, write_out
  cmpq $(hello_end - hello), write_out + CW_RET(%rip)
  jne bad_write
  HYPERCALL HC_CONSOLE_WRITE, write_err
  cmpq $(hello_err_end - hello_err), write_err + CW_RET(%rip)
  jne bad_write
  EXIT_WITH 42, exit_call

bad_entry_magic:
  EXIT_WITH 3, exit_call
bad_boot_info:
  EXIT_WITH 4, exit_call
bad_write:
  EXIT_WITH 5, exit_call
bad_stack:
  EXIT_WITH 7, exit_call
