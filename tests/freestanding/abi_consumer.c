/* SPDX-License-Identifier: MIT */
/*
 * An object of a program that uses the library: built with the library's
 * TLBB_MAX_CPUS it links, built with another it must not (tlbbatch.h's ABI
 * guard), since its struct tlbb_space and masks would have other sizes.
 */
#include <tlbbatch/tlbbatch.h>

int main(void)
{
	struct tlbb_batch b;

	tlbb_batch_init(&b);
	return tlbb_batch_pending(&b) ? 1 : 0;
}
