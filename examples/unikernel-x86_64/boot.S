/* SPDX-License-Identifier: MIT */
/*
 * Boot and low-level entry points of the x86-64 poison-test unikernel.
 *
 * QEMU's -kernel finds the PVH note (XEN_ELFNOTE_PHYS32_ENTRY) in this
 * 64-bit ELF and enters pvh_start in 32-bit protected mode, paging off,
 * %ebx = physical address of struct hvm_start_info. We build an identity
 * map of the first 4 GiB with 2 MiB pages (the local APIC sits at
 * 0xFEE00000), enter long mode and call kmain().
 *
 * Application processors start in real mode at the 4 KiB page given by the
 * SIPI vector; ap_tramp_* is copied there (AP_TRAMP_BASE) by the C side and
 * climbs real -> protected -> long mode on the same page tables.
 */
#define AP_TRAMP_BASE 0x8000
#define TRAMP(sym) (AP_TRAMP_BASE + (sym) - ap_tramp_start)

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18

#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100

/* ---- the PVH entry note ---------------------------------------------- */
	.pushsection .note.Xen, "a", @note
	.balign 4
	.long 4                 /* name size: "Xen\0" */
	.long 4                 /* descriptor size */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long pvh_start
	.balign 4
	.popsection

/* ---- 32-bit entry (BSP) ----------------------------------------------- */

/*
 * 32-bit protected mode -> long mode on the shared page tables: PAE,
 * CR3 = pml4, EFER.LME, then paging. Used by the BSP at boot and by every AP
 * in its trampoline; the caller far-jumps to 64-bit code right after.
 */
	.macro ENTER_LONG_MODE
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	.endm

	.section .text.boot, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	movl %ebx, pvh_start_info
	movl $boot_stack_top, %esp

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; 2048 x 2 MiB identity. */
	movl $pdpt, %eax
	orl $0x3, %eax
	movl %eax, pml4
	movl $0, %ecx
1:	movl %ecx, %eax
	shll $12, %eax
	addl $pd, %eax
	orl $0x3, %eax
	movl %eax, pdpt(,%ecx,8)
	incl %ecx
	cmpl $4, %ecx
	jne 1b
	movl $0, %ecx
2:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax                 /* present, writable, 2 MiB */
	movl %eax, pd(,%ecx,8)
	movl %ecx, %eax
	shrl $11, %eax                  /* bits 32+ of the address */
	movl %eax, pd+4(,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jne 2b

	lgdt gdt_ptr
	ENTER_LONG_MODE
	ljmp $SEL_CODE64, $long_entry

	.code64
long_entry:
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movabsq $boot_stack_top, %rsp
	call kmain
3:	cli
	hlt
	jmp 3b

/* ---- AP trampoline (copied to AP_TRAMP_BASE) -------------------------- */
	.code16
	.globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl TRAMP(tramp_gdt_ptr)
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $TRAMP(tramp32)

	.code32
tramp32:
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	ENTER_LONG_MODE
	ljmp $SEL_CODE64, $ap_long_entry

	.balign 8
tramp_gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt
ap_tramp_end:

	.code64
ap_long_entry:
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movq ap_stack_top(%rip), %rsp
	call ap_main
4:	cli
	hlt
	jmp 4b

/* ---- interrupt entry points -------------------------------------------- */

/* Caller-saved registers only: the C handlers save the rest. */
.macro SAVE_SCRATCH
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
.endm
.macro RESTORE_SCRATCH
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
.endm

	/* 5-word frame + 9 saved = 112 bytes: %rsp is 16-aligned at the call. */
	.globl flush_ipi_entry
flush_ipi_entry:
	SAVE_SCRATCH
	cld
	call flush_ipi_vector
	RESTORE_SCRATCH
	iretq

	.globl done_ipi_entry
done_ipi_entry:
	SAVE_SCRATCH
	cld
	call done_ipi_vector
	RESTORE_SCRATCH
	iretq

	.globl spurious_entry
spurious_entry:
	iretq

/* Exceptions: report the vector and stop (the test fails). */
.macro EXC vec
	.globl exc_entry_\vec
exc_entry_\vec:
	cli
	movq $\vec, %rdi
	movq %rsp, %rsi
	andq $-16, %rsp
	call exception
.endm
	EXC 0
	EXC 6
	EXC 8
	EXC 13
	EXC 14

/* ---- data ----------------------------------------------------------------- */
	.section .rodata
	.balign 16
gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF        /* 0x08: 64-bit code */
	.quad 0x00CF92000000FFFF        /* 0x10: data */
	.quad 0x00CF9A000000FFFF        /* 0x18: 32-bit code (AP trampoline) */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.section .bss
	.balign 4096
	.globl pml4, pdpt, pd
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4 * 4096
	.balign 16
	.skip 16384
boot_stack_top:
	.globl pvh_start_info
	.balign 8
pvh_start_info:	.skip 8
	.section .note.GNU-stack,"",@progbits
