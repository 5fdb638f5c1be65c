// Context switches of the VM platform's scheduler (sched.cc).
        .text

// void mote_vm_switch(u64* save_rsp, u64 new_rsp): saves the callee-saved
// registers on the current kernel stack, records it, and continues on the
// other thread's kernel stack where it switched out (or its start frame).
        .globl  mote_vm_switch
mote_vm_switch:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, (%rdi)
        mov     %rsi, %rsp
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

// A new thread's first instruction in the kernel: %rsp is at its syscall
// register frame (a copy of its creator's); the syscall return path takes
// it to the program.
        .globl  mote_vm_thread_start
mote_vm_thread_start:
        call    mote_vm_thread_first
        jmp     mote_vm_return_to_program

// An idle thread's first instruction (sched.cc make_idle): straight into
// its loop, on its own stack.
        .globl  mote_vm_idle_start
mote_vm_idle_start:
        call    mote_vm_idle_first
        ud2

// void mote_vm_trap_on(u64 frame, void (*fn)(TrapFrame*)): continues on
// the thread's kernel stack, where its trap frame (struct TrapFrame) was
// copied, runs fn(frame) there (it may switch threads, and nested faults
// no longer land on the IST stack in use), then returns to the program
// from that frame.
        .globl  mote_vm_trap_on
mote_vm_trap_on:
        mov     %rdi, %rsp
        call    *%rsi
        jmp     mote_trap_return            // vectors.S: registers from the frame, iretq

        .section .note.GNU-stack, "", @progbits
