// The program's `syscall` on the VM platform. The program runs in ring 0, so
// `syscall` lands here (IA32_LSTAR) without a privilege change: %rcx holds
// the return address, %r11 the flags, FMASK has cleared IF/DF/TF/AC, and %rsp
// is still the program's stack, whose red zone we must not touch. So: switch
// to the per-CPU kernel stack first (%gs: struct Cpu, state.h), save what
// Linux preserves, call the core, restore, and return with popfq + jmp *%rcx
// (sysret would drop to ring 3). SDM 3B 5.8.8 "Fast System Calls in 64-Bit
// Mode".
#include "kernel/platform/entry_macros.inc"

        .text
        .globl  mote_vm_syscall_entry
mote_vm_syscall_entry:
        mov     %rsp, %gs:16                // the program's %rsp
        mov     %gs:8, %rsp                 // kernel stack top
        push    %gs:16
        push    %r11                        // program rflags
        push    %rcx                        // return address
        SYSCALL_ARGS_SAVE
        SYSCALL_FRAME_PUSH %rcx
        mov     %rsp, %rdi
        call    mote_vm_syscall
        SYSCALL_FRAME_POP
        SYSCALL_ARGS_RESTORE
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
        ZERO_GPRS rcx
        pushq   $0x202                      // IF, reserved bit 1
        popfq
        jmp     *%rcx

        .section .note.GNU-stack, "", @progbits
