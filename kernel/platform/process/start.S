// Process-platform entry: the Linux kernel starts the hosted core here, with
// %rsp at argc (psABI initial stack). The core is a static PIE with no
// dynamic loader, so process_start relocates it before anything else.
#include "kernel/platform/entry_macros.inc"

        .text
        .globl  _start
        .type   _start, @function
_start:
        xor     %ebp, %ebp
        mov     %rsp, %rdi                  // argc, argv..., envp..., auxv
        lea     __ehdr_start(%rip), %rsi    // load base (linked at 0)
        lea     _DYNAMIC(%rip), %rdx
        and     $-16, %rsp
        call    mote_process_start
        ud2
        .size   _start, .-_start

// void mote_switch_stack(u64 new_top, void (*fn)(void)): runs fn on a new stack.
        .globl  mote_switch_stack
        .type   mote_switch_stack, @function
mote_switch_stack:
        mov     %rdi, %rsp
        xor     %ebp, %ebp
        call    *%rsi
        ud2
        .size   mote_switch_stack, .-mote_switch_stack

// void mote_enter_user(u64 rip, u64 rsp, u64 rdx): the program's first
// instruction, with every other register zero (psABI: only %rsp and %rdx
// carry meaning at process entry).
        .globl  mote_enter_user
        .type   mote_enter_user, @function
mote_enter_user:
        mov     %rsi, %rsp
        push    %rdi                        // consumed by ret below
        ZERO_GPRS rdx                       // %rdx: the atexit function (0)
        cld
        ret
        .size   mote_enter_user, .-mote_enter_user

// void mote_enter_user_traced(u64 rip, u64 rsp, u64 rdx): the same with the
// trap flag set by the popf just before the ret, so the CPU raises a
// single-step trap (host SIGTRAP, TRAP_TRACE) with %rip at the program's
// first instruction, before it runs (--gdb: gdb's first stop).
        .globl  mote_enter_user_traced
        .type   mote_enter_user_traced, @function
mote_enter_user_traced:
        mov     %rsi, %rsp
        push    %rdi                        // consumed by ret below
        ZERO_GPRS rdx
        cld
        push    $0x302                      // IF, TF and the reserved bit 1
        popf
        ret
        .size   mote_enter_user_traced, .-mote_enter_user_traced

// Signal return trampoline (SA_RESTORER): must live in the core's text, the
// region Syscall User Dispatch allows.
        .globl  mote_sigreturn
        .type   mote_sigreturn, @function
mote_sigreturn:
        mov     $15, %eax                   // __NR_rt_sigreturn
        syscall
        ud2
        .size   mote_sigreturn, .-mote_sigreturn

// long mote_host_clone(u64 flags, u64 stack, u32* ctid, Cpu* cpu): a new
// host thread (threads.cc) that runs mote_thread_main(cpu) on `stack`.
// Returns the new thread's host tid, or -errno, in the caller.
        .globl  mote_host_clone
        .type   mote_host_clone, @function
mote_host_clone:
        mov     %rdx, %r10                  // child_tid
        xor     %edx, %edx                  // parent_tid
        xor     %r8d, %r8d                  // tls
        mov     %rcx, %r9                   // cpu: the child has the same registers
        mov     $56, %eax                   // __NR_clone
        syscall
        test    %rax, %rax
        jnz     1f
        xor     %ebp, %ebp                  // the child, on its own stack
        mov     %r9, %rdi
        call    mote_thread_main
        ud2
1:      ret
        .size   mote_host_clone, .-mote_host_clone

// void mote_sigreturn_at(u64 rsp): a host rt_sigreturn on the frame whose
// ucontext is at rsp (the frame itself starts at rsp - 8).
        .globl  mote_sigreturn_at
        .type   mote_sigreturn_at, @function
mote_sigreturn_at:
        mov     %rdi, %rsp
        mov     $15, %eax                   // __NR_rt_sigreturn
        syscall
        ud2
        .size   mote_sigreturn_at, .-mote_sigreturn_at

        .section .note.GNU-stack, "", @progbits
