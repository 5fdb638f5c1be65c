// The vDSO data page and, right after it, the vDSO image (vdso.cc), page
// aligned in the kernel's data (platform::Image::Vdso): a program maps both,
// the data page read-only -- in place on the VM (zero-copy), a copy on the
// process platform.
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
