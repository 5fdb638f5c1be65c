// VM-platform entry: PVH (32-bit) and direct 64-bit entry from mote's
// monitor both end in mote_kernel_entry64 on the kernel's own page tables
// and stack. Intel SDM vol. 3A, 9.8.5 "Initializing IA-32e Mode".
#define KERNEL_VMA 0xffffffff80000000
#define PHYS(x) ((x) - KERNEL_VMA)

        .section .note.Xen, "a"
        .balign 4
        .long   4                   // namesz: "Xen\0"
        .long   4                   // descsz
        .long   18                  // XEN_ELFNOTE_PHYS32_ENTRY
        .asciz  "Xen"
        .long   pvh_start32

// ---- 32-bit PVH entry (identity, no paging) --------------------------------
        .section .boot.text, "ax"
        .code32
        .globl  pvh_start32
pvh_start32:
        cli
        cld
        rdtsc                                   // boot statistics (bootstats)
        mov     %eax, boot_tsc
        mov     %edx, boot_tsc + 4
        mov     %ebx, boot_info_phys            // struct hvm_start_info *
        movl    $0x48565000, boot_magic         // "\0PVH"
        // A guest too small for the kernel and its initrd gets the initrd
        // loaded over the kernel image (QEMU does not check): say so on COM1
        // and stop (isa-debug-exit status 125, else a triple fault) before
        // running overwritten code. hvm_start_info: nr_modules at 12,
        // modlist_paddr at 16; a module: paddr at 0, size at 8.
        mov     12(%ebx), %ecx
        test    %ecx, %ecx
        jz      2f
        mov     16(%ebx), %eax
        mov     (%eax), %edx                    // module 0's start
        cmp     $PHYS(__kernel_end), %edx
        jae     2f
        add     8(%eax), %edx                   // its end
        cmp     $0x100000, %edx
        jbe     2f
        mov     $overlap_msg, %esi
1:      movb    (%esi), %al
        test    %al, %al
        jz      3f
        mov     $0x3f8, %dx
        outb    %al, %dx
        inc     %esi
        jmp     1b
3:      mov     $125, %eax                      // status 125, as the kernel's other exits
        mov     $0xf4, %dx
        outl    %eax, %dx
        ud2                                     // no IDT yet: a triple fault ends the VM
2:
        // CR4.PAE, EFER.LME, CR3, then CR0.PG (SDM 9.8.5).
        mov     %cr4, %eax
        or      $0x20, %eax
        mov     %eax, %cr4
        mov     $boot_pml4, %eax
        mov     %eax, %cr3
        mov     $0xc0000080, %ecx
        rdmsr
        or      $0x100, %eax                    // LME
        wrmsr
        mov     %cr0, %eax
        or      $0x80000001, %eax               // PG | PE
        mov     %eax, %cr0
        lgdt    boot_gdt_desc
        ljmp    $0x08, $1f
        .code64
1:      mov     $0x10, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        xor     %eax, %eax
        mov     %eax, %fs
        mov     %eax, %gs
        mov     boot_info_phys, %edi
        mov     boot_magic, %esi
        movabs  $mote_kernel_entry64, %rax
        jmp     *%rax

        .section .boot.data, "aw"
        .balign 8
boot_info_phys: .long 0
boot_magic:     .long 0
overlap_msg:    .asciz "mote kernel: the initrd overlaps the kernel image: give the VM more memory (qemu -m)\n"
        .globl  boot_tsc
boot_tsc:       .quad 0
        .balign 16
boot_gdt:
        .quad   0
        .quad   0x00af9a000000ffff              // 0x08: 64-bit code, DPL 0
        .quad   0x00cf92000000ffff              // 0x10: data
boot_gdt_end:
boot_gdt_desc:
        .word   boot_gdt_end - boot_gdt - 1
        .quad   boot_gdt

// Boot page tables: identity 0-4 GiB and the higher half
// 0xffffffff80000000 -> 0-1 GiB, 2 MiB pages (SDM 4.5, "4-Level Paging").
// The last GiB (LAPIC, IOAPIC) is mapped uncached (PCD|PWT).
        .balign 4096
        .globl  boot_pml4
boot_pml4:
        .quad   boot_pdpt + 0x3
        .fill   510, 8, 0
        .quad   boot_pdpt_hi + 0x3
boot_pdpt:
        .quad   boot_pd0 + 0x3
        .quad   boot_pd1 + 0x3
        .quad   boot_pd2 + 0x3
        .quad   boot_pd3 + 0x3
        .fill   508, 8, 0
boot_pdpt_hi:
        .fill   510, 8, 0
        .quad   boot_pd0 + 0x3
        .quad   0
        .macro  pd base, flags
        .set    i, 0
        .rept   512
        .quad   \base + i * 0x200000 + \flags
        .set    i, i + 1
        .endr
        .endm
boot_pd0: pd 0x00000000, 0x83
boot_pd1: pd 0x40000000, 0x83
boot_pd2: pd 0x80000000, 0x83
boot_pd3: pd 0xc0000000, 0x9b            // PS | PCD | PWT | RW | P

// ---- 64-bit entries (higher half) ------------------------------------------
        .text
        .code64
        // Direct entry from mote's KVM monitor: long mode is on with the
        // monitor's tables (which alias the higher half); switch to ours.
        .globl  mote_start64
mote_start64:
        cli
        cld
        movabs  $boot_stack_top, %rsp           // ours before anything is pushed
        rdtsc
        mov     %eax, boot_tsc
        mov     %edx, boot_tsc + 4
        mov     $boot_pml4, %rax               // linked at its physical address
        mov     %rax, %cr3
        lgdt    boot_gdt_desc
        pushq   $0x08
        movabs  $1f, %rax
        pushq   %rax
        lretq
1:      mov     $0x10, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        // %rdi (boot info) and %rsi ("MOTE") come from the monitor.
        .globl  mote_kernel_entry64
mote_kernel_entry64:
        movabs  $boot_stack_top, %rsp
        xor     %ebp, %ebp
        mov     %rdi, %r12
        mov     %rsi, %r13
        // Zero .bss (loaders zero-fill it too; this makes it certain), eight
        // bytes a step (kernel.ld aligns both ends): under QEMU's -icount
        // every step of a rep counts as an instruction.
        movabs  $__bss_start, %rdi
        movabs  $__bss_end, %rcx
        sub     %rdi, %rcx
        shr     $3, %rcx
        xor     %eax, %eax
        rep stosq
        mov     %r12, %rdi
        mov     %r13, %rsi
        call    mote_kernel_main
2:      cli
        hlt
        jmp     2b

        .bss
        .balign 16
boot_stack:
        .skip   32768
boot_stack_top:

        .section .note.GNU-stack, "", @progbits
