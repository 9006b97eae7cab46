/* SPDX-License-Identifier: MIT */
/*
 * Entry points of the riscv64 S-mode image (OpenSBI fw_dynamic):
 *   _start           the boot hart: a0 = hart ID, a1 = device tree.
 *   secondary_entry  harts started with SBI HSM hart_start: a0 = hart ID,
 *                    a1 = opaque (here: the top of the hart's stack).
 * Both arrive in S-mode with the MMU off (satp = 0), interrupts off.
 * trap_entry saves the registers a C function may clobber, calls
 * trap(scause, sepc, stval) and returns with sret.
 */
	.section .text.boot, "ax"
	.globl _start
_start:
	/*
	 * Only the first hart here boots. OpenSBI 1.1's hart_start marks the
	 * hart START_PENDING before it writes the new start address, so a
	 * stopped hart that wakes in between (seen here about once in 15
	 * runs under MTTCG) leaves for the firmware's old next address: this
	 * one. It is a secondary all the same: it must not clear .bss again.
	 */
	la	t0, boot_claimed
	li	t1, 1
	amoswap.w t1, t1, (t0)
	bnez	t1, early_secondary
	la	sp, boot_stack_top
	mv	s0, a0
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	la	t0, trap_entry
	csrw	stvec, t0
	mv	a0, s0
	call	kmain
3:	wfi
	j	3b

early_secondary:
	andi	t0, a0, 7
	addi	t0, t0, 1
	slli	t0, t0, 14
	la	sp, spare_stacks
	add	sp, sp, t0
	j	1f

	.globl secondary_entry
secondary_entry:
	mv	sp, a1
1:	la	t0, trap_entry
	csrw	stvec, t0
	call	ap_main
4:	wfi
	j	4b

	.align	4
trap_entry:
	addi	sp, sp, -144
	sd	ra, 0(sp)
	sd	t0, 8(sp)
	sd	t1, 16(sp)
	sd	t2, 24(sp)
	sd	t3, 32(sp)
	sd	t4, 40(sp)
	sd	t5, 48(sp)
	sd	t6, 56(sp)
	sd	a0, 64(sp)
	sd	a1, 72(sp)
	sd	a2, 80(sp)
	sd	a3, 88(sp)
	sd	a4, 96(sp)
	sd	a5, 104(sp)
	sd	a6, 112(sp)
	sd	a7, 120(sp)
	csrr	a0, scause
	csrr	a1, sepc
	csrr	a2, stval
	call	trap
	ld	ra, 0(sp)
	ld	t0, 8(sp)
	ld	t1, 16(sp)
	ld	t2, 24(sp)
	ld	t3, 32(sp)
	ld	t4, 40(sp)
	ld	t5, 48(sp)
	ld	t6, 56(sp)
	ld	a0, 64(sp)
	ld	a1, 72(sp)
	ld	a2, 80(sp)
	ld	a3, 88(sp)
	ld	a4, 96(sp)
	ld	a5, 104(sp)
	ld	a6, 112(sp)
	ld	a7, 120(sp)
	addi	sp, sp, 144
	sret

	.section .data
	.align	2
boot_claimed:
	.word	0

	.section .bss
	.align	4
	.space	16384
boot_stack_top:
	.align	4
spare_stacks:	/* 16 KiB for each hart ID 0..7 that arrives at _start late */
	.space	16384 * 8
