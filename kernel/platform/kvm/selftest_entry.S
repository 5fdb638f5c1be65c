// LSTAR target of the ring-0 syscall self-test: %rax += 1, then return the
// way the kernel's real syscall entry will: restore rflags from %r11 and
// jump to %rcx (sysret would drop to ring 3).
        .text
        .globl  mote_selftest_syscall_entry
mote_selftest_syscall_entry:
        inc     %rax
        push    %r11
        popfq
        jmp     *%rcx

        .section .note.GNU-stack, "", @progbits
