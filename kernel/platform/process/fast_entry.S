// The fast system-call path of the process platform. A rewritten call site
// jumps to its stub (rewrite.cc), which steps over the red zone, loads the
// syscall number and calls here. Linux preserves every register across a
// syscall except rax (result), rcx and r11; so does this path, including
// rflags and the SSE/x87 state (the core never touches vector registers: it
// is built with -mgeneral-regs-only).
//
// Per-CPU data at %gs (state.h, struct Cpu): 8 = kernel stack top,
// 16 = the program's %rsp while the core runs.
#include "kernel/platform/entry_macros.inc"

        .text
        .globl  mote_fast_syscall
        .type   mote_fast_syscall, @function
mote_fast_syscall:
        mov     %rsp, %gs:16
        mov     %gs:8, %rsp
        pushfq
        SYSCALL_ARGS_SAVE
        mov     %gs:16, %rcx                // rcx is free (syscall clobbers it)
        mov     (%rcx), %rcx                // return address into the stub
        SYSCALL_FRAME_PUSH %rcx
        mov     %rsp, %rdi
        cld
        call    mote_fast_syscall_c
        SYSCALL_FRAME_POP
        SYSCALL_ARGS_RESTORE
        // Signals to deliver (Cpu::sig_ready, %gs:32): leave through the
        // trap below, whose handler has the full register state. Another
        // CPU may set the flag and kick us at any point: signals.cc (on_kick)
        // restarts this sequence at mote_fast_check when the kick lands
        // between the check and the popfq, and completes the return itself
        // when it lands after.
        .globl  mote_fast_check, mote_fast_popf, mote_fast_mov, mote_fast_ret
mote_fast_check:
        cmpq    $0, %gs:32
        jne     1f
mote_fast_popf:
        popfq
mote_fast_mov:
        mov     %gs:16, %rsp
mote_fast_ret:
        ret
1:      popfq
        mov     %gs:16, %rsp
        .globl  mote_fast_deliver_trap
mote_fast_deliver_trap:
        ud2                                 // SIGILL: signals.cc delivers
        .size   mote_fast_syscall, .-mote_fast_syscall

        .section .note.GNU-stack, "", @progbits
