/* SPDX-License-Identifier: MIT */
/*
 * Entry, secondary entry, exception vectors and the fault-tolerant probe
 * load of the arm64 unikernel. QEMU -M virt starts the ELF at EL1 on CPU 0;
 * the others are started by PSCI CPU_ON at secondary_entry.
 */
	.section .text.boot, "ax"
	.global _start
_start:
	/* CPU 0: stack, clear .bss, vectors, then C. */
	ldr	x0, =kstack		/* kstack[0] + 16 KiB (kernel.c STACK_SIZE) */
	add	x0, x0, #4, lsl #12
	mov	sp, x0
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	ldr	x0, =vectors
	msr	vbar_el1, x0
	isb
	bl	kernel_main
3:	wfe
	b	3b

	.global secondary_entry
secondary_entry:
	/* x0 = context id from CPU_ON = this CPU's stack top. */
	mov	sp, x0
	ldr	x0, =vectors
	msr	vbar_el1, x0
	isb
	bl	secondary_main
4:	wfe
	b	4b

/*
 * uint64_t probe_read(const volatile uint64_t *p)
 * A load that may hit an invalid PTE (a reader racing the retarget, which
 * clears the PTE before installing the new frame). The sync handler turns a
 * translation fault at probe_ld into the return value PROBE_FAULT, like a
 * kernel's exception fixup table; every other exception is fatal.
 */
	.text
	.global probe_read
probe_read:
	.global probe_ld
probe_ld:
	ldr	x0, [x0]
	ret

/* Vector table: only "current EL with SP_ELx, synchronous" is expected. */
	.balign 2048
vectors:
	.rept 4			/* current EL, SP_EL0: unexpected */
	.balign 128
	b	fatal_entry
	.endr
	.balign 128		/* current EL, SP_ELx: synchronous */
	b	sync_spx
	.rept 11		/* everything else: unexpected */
	.balign 128
	b	fatal_entry
	.endr

sync_spx:
	/* Only x9..x12 are touched: probe_read is a call, so the C caller
	 * already treats them (caller-saved temporaries) as clobbered. */
	mrs	x9, elr_el1
	ldr	x10, =probe_ld
	cmp	x9, x10
	b.ne	fatal_entry
	mrs	x11, esr_el1
	lsr	x12, x11, #26
	cmp	x12, #0x25		/* EC: data abort, same EL */
	b.ne	fatal_entry
	and	x12, x11, #0x3c
	cmp	x12, #0x04		/* DFSC 0b0001xx: translation fault, any level */
	b.ne	fatal_entry
	movz	x0, #0xfa17
	movk	x0, #0xfa17, lsl #48	/* PROBE_FAULT */
	add	x9, x9, #4
	msr	elr_el1, x9
	eret

fatal_entry:
	mrs	x0, esr_el1
	mrs	x1, elr_el1
	mrs	x2, far_el1
	bl	fatal_exception
5:	wfe
	b	5b
