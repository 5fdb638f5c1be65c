// The application processors' way from the SIPI to 64-bit kernel code
// (SDM 3A 9.4 "Multiple-Processor (MP) Initialization", 9.8.5 "Initializing
// IA-32e Mode"). smp.cc copies [mote_ap_trampoline, mote_ap_trampoline_end)
// to physical kApBase (below 1 MiB, page-aligned) and sends INIT-SIPI-SIPI
// with vector kApBase >> 12: the AP starts in real mode at CS = kApBase >> 4,
// IP = 0. Addresses inside are kApBase + offset (assemble-time constants).
// With the boot page tables (identity 0-4 GiB and the higher half,
// entry.S) it reaches long mode and jumps to mote_ap_entry64 in the kernel.
#define KAP_BASE 0x8000
#define AT(x) (KAP_BASE + (x) - mote_ap_trampoline)

        .section .rodata
        .balign 16
        .globl  mote_ap_trampoline, mote_ap_trampoline_end, mote_ap_trampoline_efer
        .code16
mote_ap_trampoline:
        cli
        cld
        mov     %cs, %ax
        mov     %ax, %ds
        lgdtl   ap_gdt_desc - mote_ap_trampoline
        mov     %cr0, %eax
        or      $1, %eax                        // PE
        mov     %eax, %cr0
        ljmpl   $0x08, $AT(ap_pm32)

        .code32
ap_pm32:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     %cr4, %eax
        or      $0x20, %eax                     // PAE
        mov     %eax, %cr4
        mov     $boot_pml4, %eax                // linked at its physical address
        mov     %eax, %cr3
        mov     $0xc0000080, %ecx               // EFER: LME (+ NXE as the BSP has it)
        mov     AT(mote_ap_trampoline_efer), %eax
        xor     %edx, %edx
        wrmsr
        mov     %cr0, %eax
        or      $0x80000000, %eax               // PG
        mov     %eax, %cr0
        ljmpl   $0x18, $AT(ap_lm64)

        .code64
ap_lm64:
        movabs  $mote_ap_entry64, %rax          // the higher half, mapped by the boot tables
        jmp     *%rax

        .balign 8
mote_ap_trampoline_efer:
        .long   0x100                           // patched by smp.cc
        .balign 8
ap_gdt:
        .quad   0
        .quad   0x00cf9a000000ffff              // 0x08: 32-bit code
        .quad   0x00cf92000000ffff              // 0x10: data
        .quad   0x00af9a000000ffff              // 0x18: 64-bit code
ap_gdt_end:
ap_gdt_desc:
        .word   ap_gdt_end - ap_gdt - 1
        .long   AT(ap_gdt)
mote_ap_trampoline_end:

// 64-bit, higher half, still on the boot page tables: a stack, then C.
        .text
        .globl  mote_ap_entry64
mote_ap_entry64:
        mov     $0x10, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     mote_ap_cr3(%rip), %rax         // the kernel's own tables, once they exist
        test    %rax, %rax
        jz      2f
        mov     %rax, %cr3
2:      mov     mote_ap_stack(%rip), %rsp
        xor     %ebp, %ebp
        call    mote_ap_main
1:      cli
        hlt
        jmp     1b

        .section .note.GNU-stack, "", @progbits
