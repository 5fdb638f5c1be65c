// The program's `syscall` on the VM platform. The program runs in ring 0, so
// `syscall` lands here (IA32_LSTAR) without a privilege change: %rcx holds
// the return address, %r11 the flags, FMASK has cleared IF/DF/TF/AC, and %rsp
// is still the program's stack, whose red zone we must not touch. So: switch
// to the per-CPU kernel stack first (%gs: struct Cpu, platform.cc), save every
// register as Linux's mcontext gregs (the core may start a signal handler or
// return from one: it rewrites them), call the core, and return with all of
// them from that frame: flags with popfq, then %rsp and %rip through per-CPU
// slots (sysret would drop to ring 3). SDM 3B 5.8.8 "Fast System Calls in
// 64-Bit Mode".
//
// gregs (REG_* of ucontext_t): r8 r9 r10 r11 r12 r13 r14 r15 rdi rsi rbp rbx
// rdx rax rcx rsp rip eflags csgsfs err trapno oldmask cr2 = 23 x 8 = 184.
#include "kernel/platform/entry_macros.inc"

        .set    G_R8, 0
        .set    G_R9, 8
        .set    G_R10, 16
        .set    G_R11, 24
        .set    G_R12, 32
        .set    G_R13, 40
        .set    G_R14, 48
        .set    G_R15, 56
        .set    G_RDI, 64
        .set    G_RSI, 72
        .set    G_RBP, 80
        .set    G_RBX, 88
        .set    G_RDX, 96
        .set    G_RAX, 104
        .set    G_RCX, 112
        .set    G_RSP, 120
        .set    G_RIP, 128
        .set    G_EFL, 136
        .set    G_CSGSFS, 144
        .set    G_SIZE, 184

        .text
        .globl  mote_vm_syscall_entry
mote_vm_syscall_entry:
        mov     %rsp, %gs:16                // the program's %rsp
        mov     %gs:8, %rsp                 // kernel stack top
        sub     $G_SIZE + 8, %rsp           // gregs (+8: 16-byte alignment below)
        mov     %r8, G_R8(%rsp)
        mov     %r9, G_R9(%rsp)
        mov     %r10, G_R10(%rsp)
        mov     %r12, G_R12(%rsp)
        mov     %r13, G_R13(%rsp)
        mov     %r14, G_R14(%rsp)
        mov     %r15, G_R15(%rsp)
        mov     %rdi, G_RDI(%rsp)
        mov     %rsi, G_RSI(%rsp)
        mov     %rbp, G_RBP(%rsp)
        mov     %rbx, G_RBX(%rsp)
        mov     %rdx, G_RDX(%rsp)
        mov     %rax, G_RAX(%rsp)
        mov     %rcx, G_RIP(%rsp)
        mov     %r11, G_EFL(%rsp)
        // rcx and r11 (copies of rip and eflags), csgsfs, err, trapno,
        // oldmask, cr2: filled in by platform.cc only when the core asks for
        // the context (signals, clone), off the fast path.
        mov     %gs:16, %r11                // r11 is `syscall`'s (= rflags, saved)
        mov     %r11, G_RSP(%rsp)
        SYSCALL_FRAME_PUSH %rcx
        mov     %rsp, %rdi                  // struct SyscallFrame
        lea     80(%rsp), %rsi              // gregs
        call    mote_vm_syscall
        add     $80, %rsp                   // the SyscallFrame
        test    %rax, %rax
        jnz     mote_vm_return_to_program
        // The frame is as the entry saved it: the C code preserved the
        // callee-saved registers; reload the result, the arguments (which
        // Linux preserves) and rcx/r11 (as `syscall` set them).
        // (%gs:16 again from the frame: the thread may have slept in the
        // call while others used this CPU's slot.)
        mov     G_RSP(%rsp), %rcx
        mov     %rcx, %gs:16
        mov     G_RIP(%rsp), %rcx
        mov     G_R8(%rsp), %r8
        mov     G_R9(%rsp), %r9
        mov     G_R10(%rsp), %r10
        mov     G_EFL(%rsp), %r11
        mov     G_RDI(%rsp), %rdi
        mov     G_RSI(%rsp), %rsi
        mov     G_RDX(%rsp), %rdx
        mov     G_RAX(%rsp), %rax
        push    %r11
        popfq
        mov     %gs:16, %rsp
        jmp     *%rcx
        .globl  mote_vm_return_to_program
mote_vm_return_to_program:
        // %rsp points at gregs (also the entry of a new thread's first run).
        mov     G_RIP(%rsp), %rax
        mov     %rax, %gs:24
        mov     G_RSP(%rsp), %rax
        mov     %rax, %gs:16
        mov     G_R8(%rsp), %r8
        mov     G_R9(%rsp), %r9
        mov     G_R10(%rsp), %r10
        mov     G_R11(%rsp), %r11
        mov     G_R12(%rsp), %r12
        mov     G_R13(%rsp), %r13
        mov     G_R14(%rsp), %r14
        mov     G_R15(%rsp), %r15
        mov     G_RDI(%rsp), %rdi
        mov     G_RSI(%rsp), %rsi
        mov     G_RBP(%rsp), %rbp
        mov     G_RBX(%rsp), %rbx
        mov     G_RDX(%rsp), %rdx
        mov     G_RCX(%rsp), %rcx
        mov     G_RAX(%rsp), %rax
        // Flags last (they may enable interrupts: those run on IST1, never
        // on this stack or the program's), then the program's stack and pc.
        pushq   G_EFL(%rsp)
        popfq
        mov     %gs:16, %rsp
        jmp     *%gs:24

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
