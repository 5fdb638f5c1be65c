// The first link's empty symbol table (see gen_ksyms.py).
        .section .ksyms, "a"
        .balign 8
        .globl  mote_ksyms_count
mote_ksyms_count:
        .quad   0
        .globl  mote_ksyms
mote_ksyms:
        .section .note.GNU-stack, "", @progbits
