// The vDSO data page and, right after it, the vDSO image (vdso.cc), page
// aligned in the kernel's data: a program maps both in place (zero-copy),
// the data page read-only (platform::Image::Vdso).
        .section .data.vdso, "aw"
        .balign 4096
        .globl  mote_vvar_page
mote_vvar_page:
        .skip   4096
        .globl  mote_vdso_image
mote_vdso_image:
        .incbin MOTE_VDSO_PATH
        .globl  mote_vdso_image_end
mote_vdso_image_end:
        .balign 4096

        .section .note.GNU-stack, "", @progbits
