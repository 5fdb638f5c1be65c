// Kernel continuations for fork (kernel/core/fork.cc): setjmp/longjmp of the
// callee-saved registers, and running a function on another stack. x86-64
// SysV; used by every platform's build of the core.

// int mote_ctx_save(struct KCtx* c): saves rbx rbp r12-r15, the stack
// pointer after return and the return address; returns 0 (and 1 when
// resumed by mote_ctx_resume).
        .text
        .globl  mote_ctx_save
        .type   mote_ctx_save, @function
mote_ctx_save:
        mov     %rbx, 0(%rdi)
        mov     %rbp, 8(%rdi)
        mov     %r12, 16(%rdi)
        mov     %r13, 24(%rdi)
        mov     %r14, 32(%rdi)
        mov     %r15, 40(%rdi)
        lea     8(%rsp), %rax               // the caller's %rsp after `ret`
        mov     %rax, 48(%rdi)
        mov     (%rsp), %rax                // the return address
        mov     %rax, 56(%rdi)
        xor     %eax, %eax
        ret
        .size   mote_ctx_save, . - mote_ctx_save

// void mote_ctx_resume(const struct KCtx* c): returns 1 from the
// mote_ctx_save that filled c (whose stack the caller has put back).
        .globl  mote_ctx_resume
        .type   mote_ctx_resume, @function
mote_ctx_resume:
        mov     0(%rdi), %rbx
        mov     8(%rdi), %rbp
        mov     16(%rdi), %r12
        mov     24(%rdi), %r13
        mov     32(%rdi), %r14
        mov     40(%rdi), %r15
        mov     48(%rdi), %rsp
        mov     $1, %eax
        jmp     *56(%rdi)
        .size   mote_ctx_resume, . - mote_ctx_resume

// void mote_call_on_stack(u64 top, void (*fn)(void*), void* arg): calls
// fn(arg) with %rsp = top (16-byte aligned); fn must not return.
        .globl  mote_call_on_stack
        .type   mote_call_on_stack, @function
mote_call_on_stack:
        mov     %rdi, %rsp
        mov     %rdx, %rdi
        call    *%rsi
        ud2
        .size   mote_call_on_stack, . - mote_call_on_stack

        .section .note.GNU-stack, "", @progbits
