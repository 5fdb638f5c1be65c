// The program's `syscall` on the VM platform. The program runs in ring 0, so
// `syscall` lands here (IA32_LSTAR) without a privilege change: %rcx holds
// the return address, %r11 the flags, FMASK has cleared IF/DF/TF/AC, and %rsp
// is still the program's stack, whose red zone we must not touch. So: switch
// to the per-CPU kernel stack first (%gs: struct Cpu, state.h), save what
// Linux preserves, call the core, restore, and return with popfq + jmp *%rcx
// (sysret would drop to ring 3). SDM 3B 5.8.8 "Fast System Calls in 64-Bit
// Mode".
#include "kernel/platform/syscall_frame.inc"

        .text
        .globl  mote_vm_syscall_entry
mote_vm_syscall_entry:
        mov     %rsp, %gs:16                // the program's %rsp
        mov     %gs:8, %rsp                 // kernel stack top
        push    %gs:16
        push    %r11                        // program rflags
        push    %rcx                        // return address
        push    %rdi
        push    %rsi
        push    %rdx
        push    %r10
        push    %r8
        push    %r9
        SYSCALL_FRAME_PUSH %rcx
        mov     %rsp, %rdi
        call    mote_vm_syscall
        SYSCALL_FRAME_POP
        pop     %r9
        pop     %r8
        pop     %r10
        pop     %rdx
        pop     %rsi
        pop     %rdi
        pop     %rcx
        pop     %r11
        // Flags first, still on the kernel stack; then back to the program's
        // stack without writing to it.
        push    %r11
        popfq
        mov     (%rsp), %rsp                // the saved program %rsp
        jmp     *%rcx

// void mote_vm_enter(u64 rip, u64 rsp): the program's first instruction,
// general registers zero (psABI 3.4.1), interrupts on.
        .globl  mote_vm_enter
mote_vm_enter:
        mov     %rdi, %rcx
        mov     %rsi, %rsp
        xor     %eax, %eax
        xor     %ebx, %ebx
        xor     %edx, %edx
        xor     %esi, %esi
        xor     %edi, %edi
        xor     %ebp, %ebp
        xor     %r8d, %r8d
        xor     %r9d, %r9d
        xor     %r10d, %r10d
        xor     %r11d, %r11d
        xor     %r12d, %r12d
        xor     %r13d, %r13d
        xor     %r14d, %r14d
        xor     %r15d, %r15d
        pushq   $0x202                      // IF, reserved bit 1
        popfq
        jmp     *%rcx

        .section .note.GNU-stack, "", @progbits
