/* SPDX-License-Identifier: MIT */
/* Prints the instruction words riscv_insn.h builds, for check-encodings.sh. */
#include <stdio.h>

#include "riscv_insn.h"

int main(void)
{
	printf("%08x sfence.vma a0, a1\n", (unsigned)RV_SFENCE_VMA_VA_ASID);
	printf("%08x sfence.vma zero, a1\n", (unsigned)RV_SFENCE_VMA_ASID);
	printf("%08x sfence.vma a0, zero\n", (unsigned)RV_SFENCE_VMA_VA);
	printf("%08x sfence.vma zero, zero\n", (unsigned)RV_SFENCE_VMA_ALL);
	printf("%08x sinval.vma a0, a1\n", (unsigned)RV_SINVAL_VMA_VA_ASID);
	printf("%08x sinval.vma a0, zero\n", (unsigned)RV_SINVAL_VMA_VA);
	printf("%08x sfence.w.inval\n", (unsigned)RV_SFENCE_W_INVAL);
	printf("%08x sfence.inval.ir\n", (unsigned)RV_SFENCE_INVAL_IR);
	printf("%08x fence rw, rw\n", (unsigned)RV_FENCE_RW_RW);
	return 0;
}
