// Interrupt and exception entry stubs. Every gate runs on an IST stack (the
// TSS's IST1): the interrupted code may be the program in ring 0 using the
// red zone below its %rsp, so the CPU must never push onto that stack
// (SDM 3A 6.14.5 "Interrupt Stack Table").
//
// Each stub makes the frame uniform (a zero error code where the CPU pushes
// none, then the vector) and jumps to the common path, which saves the
// general registers as struct TrapFrame (traps.h) and calls trap_dispatch.
        .text
        .code64

        .macro  stub vec, has_error
        .globl  mote_vector_\vec
mote_vector_\vec:
        .if \has_error == 0
        pushq   $0
        .endif
        pushq   $\vec
        jmp     trap_common
        .endm

        // SDM 3A table 6-1: error codes for 8, 10-14, 17, 21, 29, 30.
        stub 0,0;  stub 1,0;  stub 2,0;  stub 3,0;  stub 4,0;  stub 5,0;  stub 6,0;  stub 7,0
        stub 8,1;  stub 9,0;  stub 10,1; stub 11,1; stub 12,1; stub 13,1; stub 14,1; stub 15,0
        stub 16,0; stub 17,1; stub 18,0; stub 19,0; stub 20,0; stub 21,1; stub 22,0; stub 23,0
        stub 24,0; stub 25,0; stub 26,0; stub 27,0; stub 28,0; stub 29,1; stub 30,1; stub 31,0
        stub 48,0                           // LAPIC timer
        stub 255,0                          // LAPIC spurious
        stub 240,0                          // IPI: reschedule / signal kick
        stub 241,0                          // IPI: TLB flush
        stub 64,0;  stub 65,0;  stub 66,0;  stub 67,0   // devices (kDeviceVectorBase)

trap_common:
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, %rdi
        cld
        call    mote_trap_dispatch
        // Back to the trapped code from the TrapFrame at %rsp (also the way
        // out of a trap handled on a thread's kernel stack, sched.S).
        .globl  mote_trap_return
mote_trap_return:
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $16, %rsp                   // vector, error code
        iretq

        // The table the IDT is built from: address of each stub by vector.
        .section .rodata
        .balign 8
        .globl  mote_vector_table
mote_vector_table:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad   mote_vector_\v
        .endr
        .globl  mote_vector_timer
mote_vector_timer:
        .quad   mote_vector_48
        .quad   mote_vector_255
        .quad   mote_vector_240
        .quad   mote_vector_241
        .globl  mote_vector_device
mote_vector_device:
        .irp v, 64,65,66,67
        .quad   mote_vector_\v
        .endr

        .section .note.GNU-stack, "", @progbits
