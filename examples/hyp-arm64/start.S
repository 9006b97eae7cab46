/* SPDX-License-Identifier: MIT */
/*
 * Entry points, the EL2 vectors and the guest's probe load of the EL2
 * hypervisor image. qemu-system-aarch64 -M virt,virtualization=on starts the
 * ELF at EL2 on CPU 0; CPUs 1-3 are started at EL2 by PSCI CPU_ON (SMC) at
 * secondary_entry and enter the guest at EL1 through enter_guest.
 */
	.section .text.boot, "ax"
	.global _start
_start:
	/* CPU 0: stack, clear .bss, vectors, then C. */
	ldr	x0, =kstack		/* kstack[0] + 16 KiB (hyp.c STACK_SIZE) */
	add	x0, x0, #4, lsl #12
	mov	sp, x0
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	ldr	x0, =hyp_vectors
	msr	vbar_el2, x0
	isb
	bl	hyp_main
3:	wfe
	b	3b

	.global secondary_entry
secondary_entry:
	/* x0 = context id from CPU_ON = this CPU's EL2 stack top. */
	mov	sp, x0
	ldr	x0, =hyp_vectors
	msr	vbar_el2, x0
	isb
	bl	hyp_secondary
4:	wfe
	b	4b

/*
 * void enter_guest(uint64_t entry, uint64_t sp_el1, uint64_t arg)
 * ERET to EL1h (interrupts masked) at @entry with SP_EL1 = @sp_el1 and
 * x0 = @arg. Stage 2 (HCR_EL2.VM) and VTTBR_EL2 are set up by the caller.
 */
	.text
	.global enter_guest
enter_guest:
	msr	elr_el2, x0
	msr	sp_el1, x1
	mov	x0, #0x3c5		/* SPSR: D A I F masked, EL1h */
	msr	spsr_el2, x0
	mov	x0, x2
	isb
	eret

/*
 * uint64_t probe_read(const volatile uint64_t *p)   (guest, EL1)
 * A load through the window. The balloon clears a stage-2 entry before it
 * installs the new frame, so a guest load may take a stage-2 translation
 * fault to EL2: the EL2 handler below turns a fault at probe_ld into the
 * return value PROBE_FAULT, like a hypervisor that resolves the fault and
 * lets the guest retry.
 */
	.global probe_read
probe_read:
	.global probe_ld
probe_ld:
	ldr	x0, [x0]
	ret

/* EL2 vector table: "lower EL, AArch64, synchronous" is the guest's stage-2
 * fault; everything else is fatal. */
	.balign 2048
hyp_vectors:
	.rept 8			/* current EL (SP_EL0, SP_ELx): unexpected */
	.balign 128
	b	fatal_entry
	.endr
	.balign 128		/* lower EL, AArch64: synchronous */
	b	guest_sync
	.rept 7			/* everything else: unexpected */
	.balign 128
	b	fatal_entry
	.endr

guest_sync:
	/* Only x9..x12 are touched: the guest's probe_read is a call, so its C
	 * caller already treats them (caller-saved temporaries) as clobbered. */
	mrs	x9, elr_el2
	ldr	x10, =probe_ld
	cmp	x9, x10
	b.ne	fatal_entry
	mrs	x11, esr_el2
	lsr	x12, x11, #26
	cmp	x12, #0x24		/* EC: data abort from a lower EL */
	b.ne	fatal_entry
	and	x12, x11, #0x3c
	cmp	x12, #0x04		/* DFSC 0b0001xx: translation fault, any level */
	b.ne	fatal_entry
	movz	x0, #0xfa17
	movk	x0, #0xfa17, lsl #48	/* PROBE_FAULT */
	add	x9, x9, #4
	msr	elr_el2, x9
	eret

fatal_entry:
	mrs	x0, esr_el2
	mrs	x1, elr_el2
	mrs	x2, far_el2
	mrs	x3, hpfar_el2
	bl	fatal_exception
5:	wfe
	b	5b
