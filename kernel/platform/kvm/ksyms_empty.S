// The first link's empty symbol table (see gen_ksyms.py).
        .section .ksyms, "a"
        .balign 8
        .globl  mote_ksyms_count
mote_ksyms_count:
        .quad   0
        .globl  mote_ksyms
mote_ksyms:
        .globl  mote_ksym_scope_offsets
mote_ksym_scope_offsets:
        .globl  mote_ksym_scopes
mote_ksym_scopes:
        .globl  mote_ksym_names
mote_ksym_names:
        .section .note.GNU-stack, "", @progbits
