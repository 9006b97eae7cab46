/* SPDX-License-Identifier: MIT */
/*
 * VM entry and the VM-exit landing point of the hypervisor image (hyp.c).
 *
 * int vmx_run(struct guest_regs *g, int launched)
 *
 * Saves the host's callee-saved registers and @g on the stack, writes the
 * stack pointer to the VMCS's HOST_RSP, loads the guest's general registers
 * from @g and executes VMLAUNCH (@launched == 0) or VMRESUME. A VM exit
 * lands in vmx_exit with that stack: the guest's registers go back to @g
 * and vmx_run returns 0. A VMfail falls through: it returns 1 (the caller
 * reads the VM-instruction error). Called with interrupts disabled.
 */
#define HOST_RSP 0x6c14

/* struct guest_regs: rax rbx rcx rdx rsi rdi rbp r8..r15, 8 bytes each */
#define G_RAX 0
#define G_RBX 8
#define G_RCX 16
#define G_RDX 24
#define G_RSI 32
#define G_RDI 40
#define G_RBP 48
#define G_R8 56
#define G_R9 64
#define G_R10 72
#define G_R11 80
#define G_R12 88
#define G_R13 96
#define G_R14 104
#define G_R15 112

/* Drop @g and restore what vmx_run saved; return @rc from vmx_run. */
.macro host_return rc
	popq %rdi
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	movl $\rc, %eax
	ret
.endm

	.text
	.code64
	.globl vmx_run
vmx_run:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushq %rdi                      /* @g, for vmx_exit */
	movq $HOST_RSP, %rax
	vmwrite %rsp, %rax
	testl %esi, %esi                /* the movs below keep the flags */
	movq G_RAX(%rdi), %rax
	movq G_RBX(%rdi), %rbx
	movq G_RCX(%rdi), %rcx
	movq G_RDX(%rdi), %rdx
	movq G_RSI(%rdi), %rsi
	movq G_RBP(%rdi), %rbp
	movq G_R8(%rdi), %r8
	movq G_R9(%rdi), %r9
	movq G_R10(%rdi), %r10
	movq G_R11(%rdi), %r11
	movq G_R12(%rdi), %r12
	movq G_R13(%rdi), %r13
	movq G_R14(%rdi), %r14
	movq G_R15(%rdi), %r15
	movq G_RDI(%rdi), %rdi
	jnz 1f
	vmlaunch
	jmp 2f
1:	vmresume
2:	/* VMfail: still the host, registers are the guest's */
	host_return 1

	.globl vmx_exit
vmx_exit:                               /* HOST_RIP; %rsp = HOST_RSP: [%rsp] = @g */
	pushq %rdi
	movq 8(%rsp), %rdi
	movq %rax, G_RAX(%rdi)
	movq %rbx, G_RBX(%rdi)
	movq %rcx, G_RCX(%rdi)
	movq %rdx, G_RDX(%rdi)
	movq %rsi, G_RSI(%rdi)
	movq %rbp, G_RBP(%rdi)
	movq %r8, G_R8(%rdi)
	movq %r9, G_R9(%rdi)
	movq %r10, G_R10(%rdi)
	movq %r11, G_R11(%rdi)
	movq %r12, G_R12(%rdi)
	movq %r13, G_R13(%rdi)
	movq %r14, G_R14(%rdi)
	movq %r15, G_R15(%rdi)
	popq %rax                       /* the guest's %rdi */
	movq %rax, G_RDI(%rdi)
	host_return 0
	.section .note.GNU-stack,"",@progbits
