/* The compatibility paths a kernel uses under QEMU: bytes to the 16550 UART
   at 0x3f8 (after checking its line status says "transmitter empty"), then
   isa-debug-exit at 0xf4 with the status (7). Identity-linked. */
  .text
  .globl _start
_start:
  mov $0x3fd, %dx                  /* line status register */
  inb %dx, %al
  test $0x20, %al                  /* THR empty */
  jz no_uart
  lea message(%rip), %rsi
  mov $(message_end - message), %ecx
  mov $0x3f8, %dx
next:
  movb (%rsi), %al
  outb %al, %dx
  inc %rsi
  dec %ecx
  jnz next
  mov $7, %al
  mov $0xf4, %dx
  outb %al, %dx
  ud2
no_uart:
  mov $8, %al
  mov $0xf4, %dx
  outb %al, %dx
  ud2

  .section .rodata
message:
  .ascii "uart: hello\n"
message_end:
